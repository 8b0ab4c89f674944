//! `TestWait`, `TestStartMethod`, `TestNoForkBomb`, `TestIgnoreEINTR`, and the default
//! names of `Lib/multiprocessing/process.py`.

use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use multiprocessing::{Error, Process, StartMethod};

use crate::support::{TempDir, event_set, event_wait, timed};
use crate::{ALL, Case};

pub fn cases() -> Vec<Case> {
    let case = |name, run| Case {
        name,
        methods: ALL,
        no_init: false,
        run,
    };
    vec![
        case("test_wait", test_wait),
        case("test_wait_integer", test_wait_integer),
        case("test_wait_timeout", test_wait_timeout),
        case("test_neg_timeout", test_neg_timeout),
        case("test_context", test_context),
        case("test_set_get", test_set_get),
        case("test_get_all", test_get_all),
        Case {
            name: "test_noforkbomb",
            methods: ALL,
            no_init: true,
            run: test_noforkbomb,
        },
        case("test_ignore", test_ignore),
        case("test_default_names", test_default_names),
    ]
}

fn sleep_then_return(i: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(20 * i));
    i
}

/// Mirrors `TestWait.test_wait`: wait on several processes until all have ended,
/// collecting each one's result as it ends (results instead of connections).
fn test_wait(_: StartMethod) {
    let mut procs: Vec<Process> = (0..4)
        .map(|i| Process::with_args(sleep_then_return, 3 - i))
        .collect();
    for p in &mut procs {
        p.start().unwrap();
    }
    let mut results = Vec::new();
    while !procs.is_empty() {
        let refs: Vec<&Process> = procs.iter().collect();
        let ended: Vec<usize> = multiprocessing::wait(&refs, None)
            .unwrap()
            .into_iter()
            .map(|e| procs.iter().position(|p| std::ptr::eq(p, e)).unwrap())
            .collect();
        assert!(!ended.is_empty());
        for &i in ended.iter().rev() {
            let mut p = procs.swap_remove(i);
            p.join().unwrap();
            results.push(p.result::<u64>().unwrap());
        }
    }
    results.sort();
    assert_eq!(results, [0, 1, 2, 3]);
}

fn signal_and_sleep((event, secs): (String, u64)) {
    event_set(&event);
    std::thread::sleep(Duration::from_secs(secs));
}

fn names<'a>(ready: &[&'a dyn AsFd], all: &[(&'a dyn AsFd, &'static str)]) -> Vec<&'static str> {
    let mut v: Vec<&str> = ready
        .iter()
        .map(|r| {
            all.iter()
                .find(|(o, _)| std::ptr::addr_eq(*o, *r))
                .unwrap()
                .1
        })
        .collect();
    v.sort();
    v
}

/// Mirrors `TestWait.test_wait_integer`: a process's sentinel mixed with the two ends of a
/// connection (`expected` is 1 s here, not 3).
fn test_wait_integer(_: StartMethod) {
    let expected = 1u64;
    let dir = TempDir::new("wait-int");
    let event = dir.file("event");
    let (a, b) = UnixStream::pair().unwrap();
    let mut p = Process::with_args(signal_and_sleep, (event.clone(), expected));
    p.start().unwrap();
    assert!(p.sentinel().is_ok());
    assert!(event_wait(&event, Duration::from_secs(20)));
    let all: [(&dyn AsFd, &str); 3] = [(&a, "a"), (&p, "p"), (&b, "b")];
    let objects: Vec<&dyn AsFd> = all.iter().map(|(o, _)| *o).collect();
    let timeout = Some(Duration::from_secs(expected + 20));
    let (res, delta) = timed(|| multiprocessing::wait(&objects, timeout).unwrap());
    assert_eq!(names(&res, &all), ["p"]);
    assert!(delta < Duration::from_secs(expected + 2), "{delta:?}");
    assert!(
        delta > Duration::from_millis(expected * 1000 / 2),
        "{delta:?}"
    );
    (&a).write_all(b"x").unwrap();
    let (res, delta) =
        timed(|| multiprocessing::wait(&objects, Some(Duration::from_secs(20))).unwrap());
    assert_eq!(names(&res, &all), ["b", "p"]);
    assert!(delta < Duration::from_millis(400), "{delta:?}");
    (&b).write_all(b"x").unwrap();
    let (res, delta) =
        timed(|| multiprocessing::wait(&objects, Some(Duration::from_secs(20))).unwrap());
    assert_eq!(names(&res, &all), ["a", "b", "p"]);
    assert!(delta < Duration::from_millis(400), "{delta:?}");
    drop(objects);
    p.terminate().unwrap();
    p.join().unwrap();
}

/// Mirrors `TestWait.test_wait_timeout`: nothing ready, `wait` returns nothing after the
/// timeout; then what becomes ready is returned at once.
fn test_wait_timeout(_: StartMethod) {
    let expected = Duration::from_millis(500);
    let (a, b) = UnixStream::pair().unwrap();
    let (res, delta) = timed(|| multiprocessing::wait(&[&b], Some(expected)).unwrap());
    assert!(res.is_empty());
    assert!(delta >= expected - Duration::from_millis(50), "{delta:?}");
    assert!(delta < expected + Duration::from_secs(2), "{delta:?}");
    (&a).write_all(b"x").unwrap();
    let (res, delta) = timed(|| multiprocessing::wait(&[&b], Some(expected)).unwrap());
    assert_eq!(res.len(), 1);
    assert!(delta < Duration::from_millis(400), "{delta:?}");
}

/// Mirrors `TestWait.test_neg_timeout`: a `Duration` cannot be negative; a zero timeout
/// (one that has already passed) returns nothing at once.
fn test_neg_timeout(_: StartMethod) {
    let (_a, b) = UnixStream::pair().unwrap();
    let (res, delta) = timed(|| multiprocessing::wait(&[&b], Some(Duration::ZERO)).unwrap());
    assert!(res.is_empty());
    assert!(delta < Duration::from_secs(1));
}

fn child_start_method(_: ()) -> String {
    multiprocessing::get_start_method().to_string()
}

/// CPython's `check_context`: a child started in `ctx` sees `ctx`'s method as its own.
fn check_context(mut p: Process, method: StartMethod) {
    p.start().unwrap();
    p.join().unwrap();
    assert_eq!(p.result::<String>().unwrap(), method.as_str());
}

/// Mirrors `TestStartMethod.test_context` (a `Context` has no `set_start_method` to refuse:
/// that part does not compile here).
fn test_context(_: StartMethod) {
    for method in ["fork", "spawn", "forkserver"] {
        let ctx = multiprocessing::get_context(method).unwrap();
        assert_eq!(ctx.get_start_method().as_str(), method);
        check_context(ctx.process(child_start_method, ()), ctx.get_start_method());
    }
}

/// Mirrors `TestStartMethod.test_set_get`, and the refusal to set the method twice.
fn test_set_get(old: StartMethod) {
    assert!(matches!(
        multiprocessing::set_start_method(StartMethod::Fork),
        Err(Error::ContextAlreadySet)
    ));
    for method in StartMethod::ALL {
        multiprocessing::force_start_method(method);
        assert_eq!(multiprocessing::get_start_method(), method);
        let p = Process::with_args(child_start_method, ());
        assert_eq!(p.start_method(), method);
        check_context(p, method);
    }
    multiprocessing::force_start_method(old);
}

/// Mirrors `TestStartMethod.test_get_all`.
fn test_get_all(_: StartMethod) {
    assert_eq!(
        multiprocessing::get_all_start_methods(),
        [
            StartMethod::Fork,
            StartMethod::Spawn,
            StartMethod::ForkServer
        ]
    );
}

fn print_123(_: ()) {
    println!("123");
}

/// Mirrors `TestNoForkBomb.test_noforkbomb`: without the `__main__` guard (`init()` here),
/// spawn and forkserver refuse to start (a child would run the whole program again);
/// fork works.
fn test_noforkbomb(m: StartMethod) {
    let mut p = Process::with_args(print_123, ());
    let started = p.start();
    if m == StartMethod::Fork {
        started.unwrap();
        assert_eq!(p.join().unwrap(), 0);
    } else {
        let err = started.unwrap_err();
        assert!(matches!(err, Error::NotInitialized { .. }), "{err}");
        assert!(err.to_string().contains("multiprocessing::init()"), "{err}");
    }
}

extern "C" fn ignore(_: i32) {}

fn signal_parent(times: u32) -> u32 {
    let parent = multiprocessing::parent_process().unwrap().pid;
    for _ in 0..times {
        std::thread::sleep(Duration::from_millis(50));
        nix::sys::signal::kill(parent, nix::sys::signal::Signal::SIGUSR1).unwrap();
    }
    std::thread::sleep(Duration::from_millis(50));
    1234
}

/// Mirrors `TestIgnoreEINTR.test_ignore`: signals handled by the parent (without
/// `SA_RESTART`, so its system calls fail with EINTR) do not disturb `join` and
/// `join_timeout`.
fn test_ignore(_: StartMethod) {
    use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};
    let action = SigAction::new(
        SigHandler::Handler(ignore),
        SaFlags::empty(),
        SigSet::empty(),
    );
    // SAFETY: the handler does nothing.
    unsafe { sigaction(Signal::SIGUSR1, &action) }.unwrap();
    let mut p = Process::with_args(signal_parent, 3);
    p.set_daemon(true).unwrap();
    p.start().unwrap();
    assert_eq!(p.join().unwrap(), 0);
    assert_eq!(p.result::<u32>().unwrap(), 1234);
    let mut q = Process::with_args(signal_parent, 3);
    q.start().unwrap();
    assert_eq!(q.join_timeout(Duration::from_secs(60)).unwrap(), Some(0));
    assert_eq!(q.result::<u32>().unwrap(), 1234);
}

fn grandchild_names(_: ()) -> (String, String) {
    let mut p = Process::with_args(print_123, ());
    let name = p.name().to_string();
    p.start().unwrap();
    p.join().unwrap();
    (multiprocessing::current_process().name, name)
}

/// `Lib/multiprocessing/process.py` (`_identity`, `_process_counter`; no CPython test of
/// its own): `Process-N` in the main program, `Process-N:M` for a child's children, the
/// counter advanced by every construction.
fn test_default_names(_: StartMethod) {
    let a = Process::with_args(print_123, ());
    let b = Process::with_args(print_123, ());
    assert_eq!((a.name(), b.name()), ("Process-1", "Process-2"));
    let mut c = Process::with_args(grandchild_names, ());
    c.start().unwrap();
    c.join().unwrap();
    let (child, grandchild) = c.result::<(String, String)>().unwrap();
    assert_eq!(
        (child.as_str(), grandchild.as_str()),
        ("Process-3", "Process-3:1")
    );
}
