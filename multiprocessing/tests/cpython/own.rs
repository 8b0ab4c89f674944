//! The crate's own tests of what CPython's suite does not check: `active_children()`
//! reaping for a `Process` that still exists or was dropped, and a sentinel polled by hand.

use std::time::Duration;

use multiprocessing::{Process, StartMethod, active_children};

use crate::{ALL, Case};

pub fn cases() -> Vec<Case> {
    let case = |name, run| Case {
        name,
        methods: ALL,
        no_init: false,
        run,
    };
    vec![
        case(
            "own_reaped_for_a_process_still_joins",
            own_reaped_for_a_process_still_joins,
        ),
        case(
            "own_dropped_processes_leave_no_zombie",
            own_dropped_processes_leave_no_zombie,
        ),
        case(
            "own_sentinel_polls_like_a_pipe",
            own_sentinel_polls_like_a_pipe,
        ),
        case(
            "own_closed_stdio_is_not_the_channel",
            own_closed_stdio_is_not_the_channel,
        ),
        case(
            "own_daemons_end_with_their_parent",
            own_daemons_end_with_their_parent,
        ),
        case(
            "own_unit_result_is_exit_code_zero",
            own_unit_result_is_exit_code_zero,
        ),
    ]
}

fn exit_after((ms, code): (u64, i32)) -> i32 {
    std::thread::sleep(Duration::from_millis(ms));
    if code != 0 {
        multiprocessing::exit(code);
    }
    42
}

/// A target of `()` that ends its child: 0 returns, `n > 0` is `multiprocessing::exit(n - 1)`,
/// `n < 0` is `std::process::exit(-n - 1)`.
fn unit_end(how: i32) {
    match how {
        0 => {}
        h if h > 0 => multiprocessing::exit(h - 1),
        h => std::process::exit(-h - 1),
    }
}

/// Children of this process that are zombies (ended, not reaped).
fn zombies() -> usize {
    let me = std::process::id().to_string();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0;
    };
    dir.flatten()
        .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
        .filter(|stat| {
            let Some((_, rest)) = stat.rsplit_once(") ") else {
                return false;
            };
            let mut f = rest.split(' ');
            f.next() == Some("Z") && f.next() == Some(me.as_str())
        })
        .count()
}

fn until(limit: Duration, mut ok: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + limit;
    while !ok() {
        if std::time::Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    true
}

/// `active_children()` reaps a child whose `Process` has not looked yet; that `Process`
/// then still reports the exit code and the result.
fn own_reaped_for_a_process_still_joins(_: StartMethod) {
    let mut code7 = Process::with_args(exit_after, (10, 7));
    let mut value = Process::with_args(exit_after, (10, 0));
    code7.start().unwrap();
    value.start().unwrap();
    assert!(until(Duration::from_secs(30), || active_children().is_empty()));
    assert_eq!(zombies(), 0);
    assert_eq!(code7.exitcode(), Some(7));
    assert_eq!(value.join().unwrap(), 0);
    assert_eq!(value.result::<i32>().unwrap(), 42);
    assert_eq!(code7.join().unwrap(), 7);
}

/// A `Process` dropped while its child runs: the next `start`, or `active_children()`,
/// reaps the child once it ends (Python's `_cleanup`), so none is left a zombie.
fn own_dropped_processes_leave_no_zombie(_: StartMethod) {
    for _ in 0..5 {
        Process::with_args(exit_after, (0, 0)).start().unwrap();
    }
    assert!(until(Duration::from_secs(30), || active_children().is_empty()));
    assert_eq!(zombies(), 0);
    for _ in 0..3 {
        Process::with_args(exit_after, (0, 3)).start().unwrap();
    }
    std::thread::sleep(Duration::from_millis(300));
    let mut last = Process::with_args(exit_after, (0, 0));
    last.start().unwrap(); // reaps the three dropped ones that ended
    last.join().unwrap();
    assert!(until(Duration::from_secs(30), || zombies() == 0));
    assert!(until(Duration::from_secs(30), || active_children().is_empty()));
}

/// The sentinel (`AsFd`) in a plain `poll`, as a program with its own event loop uses it.
fn own_sentinel_polls_like_a_pipe(_: StartMethod) {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    use std::os::fd::AsFd;
    let mut p = Process::with_args(exit_after, (200, 0));
    p.start().unwrap();
    let mut fds = [PollFd::new(p.as_fd(), PollFlags::POLLIN)];
    assert_eq!(poll(&mut fds, PollTimeout::ZERO).unwrap(), 0);
    let mut fds = [PollFd::new(p.as_fd(), PollFlags::POLLIN)];
    assert_eq!(poll(&mut fds, PollTimeout::from(30_000u16)).unwrap(), 1);
    assert!(!p.is_alive());
    assert_eq!(p.exitcode(), Some(0));
}

fn print_everywhere(_: ()) -> u32 {
    use std::io::Write;
    let _ = writeln!(std::io::stdout(), "to a closed stdout");
    let _ = writeln!(std::io::stderr(), "to a closed stderr");
    7
}

/// With stdout and stderr closed, the descriptors the library opens next would take their
/// numbers, and a child's prints would land in its report channel; they are moved above 2.
fn own_closed_stdio_is_not_the_channel(_: StartMethod) {
    use std::os::fd::BorrowedFd;
    // SAFETY: 1 and 2 are open until closed just below, and restored from these copies.
    let saved: Vec<_> = [1, 2]
        .map(|fd| nix::unistd::dup(unsafe { BorrowedFd::borrow_raw(fd) }).unwrap())
        .into();
    let _ = nix::unistd::close(1);
    let _ = nix::unistd::close(2);
    let mut p = Process::with_args(print_everywhere, ());
    let outcome = p.start().and_then(|()| p.join());
    let value = p.result::<u32>();
    nix::unistd::dup2_stdout(&saved[0]).unwrap();
    nix::unistd::dup2_stderr(&saved[1]).unwrap();
    assert_eq!(outcome.unwrap(), 0);
    assert_eq!(value.unwrap(), 7);
}

fn sleep_ms(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
}

/// Starts a daemon that would sleep a minute and a normal child of 200 ms, then returns:
/// its end (Python's `atexit`) terminates the daemon and joins the other.
fn parent_of_a_daemon(_: ()) -> (i32, i32) {
    let mut daemon = Process::with_args(sleep_ms, 60_000);
    daemon.set_daemon(true).unwrap();
    let mut normal = Process::with_args(sleep_ms, 200);
    daemon.start().unwrap();
    normal.start().unwrap();
    (
        daemon.pid().unwrap().as_raw(),
        normal.pid().unwrap().as_raw(),
    )
}

fn gone(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z')),
    }
}

/// Daemons: a child that ends terminates its daemonic children and joins the others, as
/// Python does at a process's exit (its `atexit` hook).
fn own_daemons_end_with_their_parent(_: StartMethod) {
    let mut p = Process::with_args(parent_of_a_daemon, ());
    p.start().unwrap();
    let (code, took) = crate::support::timed(|| p.join().unwrap());
    assert_eq!(code, 0);
    assert!(
        took < Duration::from_secs(30),
        "the daemon was waited for: {took:?}"
    );
    let (daemon, normal) = p.result::<(i32, i32)>().unwrap();
    assert!(
        until(Duration::from_secs(10), || gone(daemon)),
        "daemon {daemon} still runs"
    );
    assert!(gone(normal), "the normal child {normal} was not joined");
}

/// A target of `()` sends no value when it returns (a fork child then touches no report
/// page): its result is exit code 0. Every other ending is still told apart.
fn own_unit_result_is_exit_code_zero(_: StartMethod) {
    use multiprocessing::Error;
    let run = |how: i32| {
        let mut p = Process::with_args(unit_end, how);
        p.start().unwrap();
        let code = p.join().unwrap();
        (code, p.result::<()>())
    };
    let (code, result) = run(0);
    assert_eq!(code, 0);
    assert!(result.is_ok(), "{result:?}");
    let (code, result) = run(4);
    assert_eq!(code, 3);
    assert!(
        matches!(result, Err(Error::NoResult { exitcode: 3 })),
        "{result:?}"
    );
    // multiprocessing::exit(0) is an exit, not a return: it says so in its frame.
    let (code, result) = run(1);
    assert_eq!(code, 0);
    assert!(
        matches!(result, Err(Error::NoResult { exitcode: 0 })),
        "{result:?}"
    );
    // std::process::exit(4) bypasses the library: no frame, and not 0.
    let (code, result) = run(-5);
    assert_eq!(code, 4);
    assert!(
        matches!(result, Err(Error::NoResult { exitcode: 4 })),
        "{result:?}"
    );
}
