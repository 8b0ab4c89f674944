//! `_TestProcess`, continued: how a process ends (terminate, kill, interrupt), what it
//! inherits (descriptors), broken standard streams, and a forkserver that dies.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::Duration;

use multiprocessing::{Process, StartMethod, active_children};
use nix::unistd::{close, dup, dup2_stderr, dup2_stdout};

use crate::process::{almost_zero, timed_join};
use crate::support::{self, TempDir, event_is_set, event_set, event_wait, timed};
use crate::{ALL, Case};

pub fn cases() -> Vec<Case> {
    let case = |name, methods, run| Case {
        name,
        methods,
        no_init: false,
        run,
    };
    const NOT_FORK: &[StartMethod] = &[StartMethod::Spawn, StartMethod::ForkServer];
    const FORKSERVER: &[StartMethod] = &[StartMethod::ForkServer];
    vec![
        case("test_terminate", ALL, test_terminate),
        case("test_kill", ALL, test_kill),
        case("test_interrupt_no_handler", ALL, test_interrupt_no_handler),
        case("test_child_fd_inflation", NOT_FORK, test_child_fd_inflation),
        case(
            "test_error_on_stdio_flush_1",
            ALL,
            test_error_on_stdio_flush_1,
        ),
        case(
            "test_error_on_stdio_flush_2",
            ALL,
            test_error_on_stdio_flush_2,
        ),
        case("test_forkserver_sigint", FORKSERVER, test_forkserver_sigint),
        case(
            "test_forkserver_sigkill",
            FORKSERVER,
            test_forkserver_sigkill,
        ),
        case("test_flushing", ALL, test_flushing),
    ]
}

fn sleep_some_event(event: String) {
    event_set(&event);
    std::thread::sleep(Duration::from_secs(100));
}

/// CPython's `_sleep_no_int_handler`: SIGINT at its default action, whatever this program
/// inherited (a shell starts background jobs with SIGINT ignored).
fn sleep_no_int_handler(event: String) {
    use nix::sys::signal::{SigHandler, Signal, signal};
    // SAFETY: restoring the default action installs no handler code.
    unsafe { signal(Signal::SIGINT, SigHandler::SigDfl) }.unwrap();
    sleep_some_event(event);
}

/// CPython's `_kill_process`: a daemon that sets an event and sleeps; `join(0)` returns at
/// once; then `meth` ends it and `join` returns at once; returns the exit code.
fn kill_process(meth: fn(&mut Process) -> multiprocessing::Result<()>, target: fn(String)) -> i32 {
    let dir = TempDir::new("kill");
    let event = dir.file("event");
    let mut p = Process::with_args(target, event.clone());
    p.set_daemon(true).unwrap();
    p.start().unwrap();
    assert!(p.is_alive());
    assert!(active_children().contains(&p.pid().unwrap()));
    assert_eq!(p.exitcode(), None);
    let (first, took) = timed(|| p.join_timeout(Duration::ZERO).unwrap());
    assert_eq!(first, None);
    almost_zero(took);
    assert!(p.is_alive());
    // (CPython's `join(-1)`: a Duration cannot be negative.)
    assert!(event_wait(&event, Duration::from_secs(60)), "event not set");
    meth(&mut p).unwrap();
    let (code, took) = timed_join(&mut p);
    almost_zero(took);
    assert!(!p.is_alive());
    assert!(!active_children().contains(&p.pid().unwrap()));
    assert_eq!(p.join().unwrap(), code);
    code
}

/// Mirrors `_TestProcess.test_terminate`.
fn test_terminate(_: StartMethod) {
    assert_eq!(kill_process(Process::terminate, sleep_some_event), -15);
}

/// Mirrors `_TestProcess.test_kill`.
fn test_kill(_: StartMethod) {
    assert_eq!(kill_process(Process::kill, sleep_some_event), -9);
}

/// Mirrors `_TestProcess.test_interrupt_no_handler` (SIGINT at its default action).
fn test_interrupt_no_handler(_: StartMethod) {
    assert_eq!(kill_process(Process::interrupt, sleep_no_int_handler), -2);
}

fn count_fds(event: String) -> usize {
    let n = support::fd_count();
    event_wait(&event, Duration::from_secs(60));
    n
}

/// Mirrors `_TestProcess.test_child_fd_inflation`: a child's descriptors do not grow with
/// the number of running children (skipped under fork, as in CPython: a fork child
/// inherits everything by design).
fn test_child_fd_inflation(_: StartMethod) {
    let dir = TempDir::new("fds");
    let event = dir.file("event");
    let mut procs: Vec<Process> = (0..5)
        .map(|_| Process::with_args(count_fds, event.clone()))
        .collect();
    for p in &mut procs {
        p.start().unwrap();
    }
    // Each child counts right away; give them all time to, then release them.
    std::thread::sleep(Duration::from_millis(300));
    event_set(&event);
    let counts: Vec<usize> = procs
        .iter_mut()
        .map(|p| {
            p.join().unwrap();
            p.result::<usize>().unwrap()
        })
        .collect();
    assert!(counts.windows(2).all(|w| w[0] == w[1]), "{counts:?}");
}

fn set_event_and_print(event: String) -> u32 {
    use std::io::Write;
    // Errors ignored: the stream may be a pipe nobody reads (EPIPE) or closed.
    let _ = writeln!(std::io::stdout(), "printed with a broken stream");
    let _ = writeln!(std::io::stderr(), "printed with a broken stream");
    event_set(&event);
    7
}

/// Points standard stream `fd` (1 or 2) at `to`.
fn redirect(fd: i32, to: impl AsFd) {
    match fd {
        1 => dup2_stdout(to).unwrap(),
        _ => dup2_stderr(to).unwrap(),
    }
}

/// Breaks standard stream `fd` as Python's test does: `"close"` (a closed stream: here a
/// pipe nobody reads) or `"remove"` (no stream: here the descriptor closed). Returns a copy
/// of the stream for `redirect` to restore.
fn break_stream(fd: i32, how: &str) -> OwnedFd {
    // SAFETY: 1 and 2 are open for the whole test.
    let saved = dup(unsafe { BorrowedFd::borrow_raw(fd) }).unwrap();
    if how == "close" {
        let (r, w) = nix::unistd::pipe().unwrap();
        drop(r);
        redirect(fd, &w);
    } else {
        let _ = close(fd);
    }
    saved
}

/// Mirrors `_TestProcess.test_error_on_stdio_flush_1`: the parent's stdout or stderr is
/// broken (a pipe nobody reads, or closed) when it starts a child; the child still runs and
/// exits 0. Beyond CPython's test, the child prints (a closed stream's number must not be
/// reused for the library's channel, where the print would corrupt its report) and
/// returns a value.
fn test_error_on_stdio_flush_1(_: StartMethod) {
    let dir = TempDir::new("flush1");
    for fd in [1, 2] {
        for how in ["close", "remove"] {
            let event = dir.file(&format!("event-{fd}-{how}"));
            let saved = break_stream(fd, how);
            let mut p = Process::with_args(set_event_and_print, event.clone());
            let started = p.start();
            let code = started.and_then(|()| p.join());
            redirect(fd, &saved);
            assert_eq!(code.unwrap(), 0, "fd {fd} {how}");
            assert!(event_is_set(&event), "fd {fd} {how}");
            assert_eq!(p.result::<u32>().unwrap(), 7, "fd {fd} {how}");
        }
    }
}

fn break_own_stream((event, fd, how): (String, i32, String)) {
    if fd == 1 {
        print!("left in the buffer"); // no newline: flushed only at the exit
    }
    let _ = break_stream(fd, &how);
    event_set(&event);
}

/// Mirrors `_TestProcess.test_error_on_stdio_flush_2`: the child breaks its own stdout or
/// stderr (with output still buffered); flushing at its exit fails quietly, exit code 0.
fn test_error_on_stdio_flush_2(_: StartMethod) {
    let dir = TempDir::new("flush2");
    for fd in [1, 2] {
        for how in ["close", "remove"] {
            let event = dir.file(&format!("event-{fd}-{how}"));
            let mut p = Process::with_args(break_own_stream, (event.clone(), fd, how.to_string()));
            p.start().unwrap();
            assert_eq!(p.join().unwrap(), 0, "fd {fd} {how}");
            assert!(event_is_set(&event), "fd {fd} {how}");
        }
    }
}

fn sleep_and_set_event((event, delay): (String, f64)) {
    std::thread::sleep(Duration::from_secs_f64(delay));
    event_set(&event);
}

/// CPython's `check_forkserver_death`: after the zygote dies, new processes still start (a
/// new zygote), and the process started before ends with 0 or 255 (its status was lost).
fn check_forkserver_death(signal: nix::sys::signal::Signal) {
    let dir = TempDir::new("zygote");
    let (evt, evt2) = (dir.file("evt"), dir.file("evt2"));
    let mut proc1 = Process::with_args(sleep_and_set_event, (evt.clone(), 0.5));
    proc1.start().unwrap();
    let zygote = support::zygote_pid().expect("the zygote runs");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(zygote), signal).unwrap();
    std::thread::sleep(Duration::from_secs(1));
    let mut proc2 = Process::with_args(sleep_and_set_event, (evt2.clone(), 0.0));
    proc2.start().unwrap();
    assert_eq!(proc2.join().unwrap(), 0);
    assert!(event_is_set(&evt2));
    let code = proc1.join().unwrap();
    assert!(event_is_set(&evt));
    assert!(code == 0 || code == 255, "{code}");
}

/// Mirrors `_TestProcess.test_forkserver_sigint`.
fn test_forkserver_sigint(_: StartMethod) {
    check_forkserver_death(nix::sys::signal::Signal::SIGINT);
}

/// Mirrors `_TestProcess.test_forkserver_sigkill`.
fn test_forkserver_sigkill(_: StartMethod) {
    check_forkserver_death(nix::sys::signal::Signal::SIGKILL);
}

/// Mirrors `TestStdinBadfiledescriptor.test_flushing`: output buffered in the parent before
/// a start is written once, not once more by a forked copy of the buffer.
fn test_flushing(_: StartMethod) {
    use std::io::Write;
    let dir = TempDir::new("flushing");
    let path = dir.file("out");
    let file = std::fs::File::create(&path).unwrap();
    std::io::stdout().flush().unwrap();
    let saved = dup(std::io::stdout()).unwrap();
    redirect(1, &file);
    print!("foo"); // no newline: still in the buffer at the start
    let mut p = Process::with_args(nothing, ());
    p.start().unwrap();
    p.join().unwrap();
    std::io::stdout().flush().unwrap();
    redirect(1, &saved);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "foo");
}

fn nothing(_: ()) {}
