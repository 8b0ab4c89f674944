//! `_TestProcess`: the life of one process, its attributes, and many processes.

use std::time::Duration;

use multiprocessing::{Error, Process, StartMethod, active_children, current_process};

use crate::support::{self, ALMOST_ZERO, TempDir, event_set, event_wait, timed};
use crate::{ALL, Case};

pub fn cases() -> Vec<Case> {
    let case = |name, run| Case {
        name,
        methods: ALL,
        no_init: false,
        run,
    };
    let mut v = vec![
        case("test_current", test_current),
        case("test_args_argument", test_args_argument),
        case("test_daemon_argument", test_daemon_argument),
        case(
            "test_parent_process_attributes",
            test_parent_process_attributes,
        ),
        case("test_parent_process", test_parent_process),
        case("test_process", test_process),
        case(
            "test_process_mainthread_native_id",
            test_process_mainthread_native_id,
        ),
        case("test_active_children", test_active_children),
        case("test_recursion", test_recursion),
        case("test_sentinel", test_sentinel),
        case("test_close", test_close),
        case("test_many_processes", test_many_processes),
        case("test_lose_target_ref", test_lose_target_ref),
    ];
    v.extend(crate::process_end::cases());
    v
}

fn pid_of(p: &Process) -> i32 {
    p.pid().expect("started").as_raw()
}

fn child_identity(_: ()) -> (String, i32, bool) {
    let me = current_process();
    (me.name, me.pid.as_raw(), me.daemon)
}

/// Mirrors `_TestProcess.test_current`: the calling process's name, pid and daemon flag,
/// in the main program and in a child (`authkey`, `ident` and `exitcode` of the current
/// process have no counterpart: no authentication, the pid is the ident, and a running
/// process has no exit code to ask for).
fn test_current(_: StartMethod) {
    let current = current_process();
    assert_eq!(current.name, "MainProcess");
    assert!(!current.daemon);
    assert_eq!(current.pid.as_raw() as u32, std::process::id());
    let mut p = Process::with_args(child_identity, ()).named("Current");
    p.start().unwrap();
    p.join().unwrap();
    let (name, pid, daemon) = p.result::<(String, i32, bool)>().unwrap();
    assert_eq!((name.as_str(), pid, daemon), ("Current", pid_of(&p), false));
}

type Args = (i64, String, Vec<i64>, (i64,));

fn echo_args(args: Args) -> Args {
    args
}

/// Mirrors `_TestProcess.test_args_argument`: the arguments reach the child unchanged
/// (Python's list-or-tuple `args` is one tuple here, serialized for spawn and forkserver).
fn test_args_argument(_: StartMethod) {
    let args: Args = (1, "str".into(), vec![1], (1,));
    let mut p = Process::with_args(echo_args, args.clone());
    p.set_daemon(true).unwrap();
    p.start().unwrap();
    p.join().unwrap();
    assert_eq!(p.result::<Args>().unwrap(), args);
}

fn nothing(_: ()) {}

/// Mirrors `_TestProcess.test_daemon_argument`: the default is the current process's
/// daemon flag; set either way before start.
fn test_daemon_argument(_: StartMethod) {
    let proc0 = Process::with_args(nothing, ());
    assert_eq!(proc0.daemon(), current_process().daemon);
    let mut proc1 = Process::with_args(nothing, ());
    proc1.set_daemon(true).unwrap();
    assert!(proc1.daemon());
    let mut proc2 = Process::with_args(nothing, ());
    proc2.set_daemon(false).unwrap();
    assert!(!proc2.daemon());
}

fn send_parent_process(_: ()) -> (i32, String) {
    let parent = multiprocessing::parent_process().expect("a child has a parent");
    (parent.pid.as_raw(), parent.name)
}

/// Mirrors `_TestProcess.test_parent_process_attributes`.
fn test_parent_process_attributes(_: StartMethod) {
    assert!(multiprocessing::parent_process().is_none());
    let mut p = Process::with_args(send_parent_process, ());
    p.start().unwrap();
    p.join().unwrap();
    let (pid, name) = p.result::<(i32, String)>().unwrap();
    assert_eq!(pid, current_process().pid.as_raw());
    assert_eq!(pid as u32, std::process::id());
    assert_eq!(name, current_process().name);
}

fn status(alive: bool) -> &'static str {
    if alive { "alive" } else { "not alive" }
}

fn create_grandchild_process(path: String) {
    let mut p = Process::with_args(report_parent_status, path);
    p.start().unwrap();
    std::thread::sleep(Duration::from_secs(300));
}

fn report_parent_status(path: String) {
    let parent = multiprocessing::parent_process().expect("a parent");
    support::append_line(&path, status(parent.is_alive()));
    parent.join_timeout(Duration::from_secs(60));
    support::append_line(&path, status(parent.is_alive()));
}

/// Mirrors `_TestProcess.test_parent_process`: a grandchild sees its parent alive, then
/// sees it die when the test terminates it.
fn test_parent_process(_: StartMethod) {
    let dir = TempDir::new("parent");
    let path = dir.file("status");
    let mut p = Process::with_args(create_grandchild_process, path.clone());
    p.start().unwrap();
    let first = support::wait_lines(&path, 1, Duration::from_secs(60));
    assert_eq!(
        first,
        ["alive"],
        "could not communicate with the grandchild"
    );
    p.terminate().unwrap();
    p.join().unwrap();
    let both = support::wait_lines(&path, 2, Duration::from_secs(60));
    assert_eq!(both, ["alive", "not alive"]);
}

fn report_self(event: String) -> (String, i32) {
    event_wait(&event, Duration::from_secs(60));
    let me = current_process();
    (me.name, me.pid.as_raw())
}

/// Mirrors `_TestProcess.test_process`: attributes before, during and after the run (the
/// child's view arrives as its return value instead of through a queue).
fn test_process(_: StartMethod) {
    let dir = TempDir::new("process");
    let event = dir.file("event");
    let mut p = Process::with_args(report_self, event.clone()).named("SomeProcess");
    p.set_daemon(true).unwrap();
    assert!(!p.is_alive());
    assert!(p.daemon());
    assert_eq!(p.exitcode(), None);
    p.start().unwrap();
    assert_eq!(p.exitcode(), None);
    assert!(p.is_alive());
    assert!(active_children().contains(&p.pid().unwrap()));
    event_set(&event);
    p.join().unwrap();
    assert_eq!(
        p.result::<(String, i32)>().unwrap(),
        ("SomeProcess".to_string(), pid_of(&p))
    );
    assert_eq!(p.exitcode(), Some(0));
    assert!(!p.is_alive());
    assert!(!active_children().contains(&p.pid().unwrap()));
}

fn gettid(_: ()) -> i32 {
    nix::unistd::gettid().as_raw()
}

/// Mirrors `_TestProcess.test_process_mainthread_native_id`: the child's main thread is
/// not the parent's.
fn test_process_mainthread_native_id(_: StartMethod) {
    let mut p = Process::with_args(gettid, ());
    p.start().unwrap();
    p.join().unwrap();
    assert_ne!(p.result::<i32>().unwrap(), gettid(()));
}

fn wait_event(event: String) {
    event_wait(&event, Duration::from_secs(60));
}

/// Mirrors `_TestProcess.test_active_children`.
fn test_active_children(_: StartMethod) {
    let dir = TempDir::new("active");
    let event = dir.file("event");
    let mut p = Process::with_args(wait_event, event.clone());
    assert!(active_children().is_empty());
    p.set_daemon(true).unwrap();
    p.start().unwrap();
    assert!(active_children().contains(&p.pid().unwrap()));
    event_set(&event);
    p.join().unwrap();
    assert!(!active_children().contains(&p.pid().unwrap()));
}

fn recursion((path, id): (String, Vec<u8>)) {
    support::append_line(&path, &format!("{id:?}"));
    if id.len() < 2 {
        for i in 0..2 {
            let mut next = id.clone();
            next.push(i);
            let mut p = Process::with_args(recursion, (path.clone(), next));
            p.start().unwrap();
            p.join().unwrap();
        }
    }
}

/// Mirrors `_TestProcess.test_recursion`: children start children (under the same method).
fn test_recursion(_: StartMethod) {
    let dir = TempDir::new("recursion");
    let path = dir.file("ids");
    recursion((path.clone(), Vec::new()));
    let want = ["[]", "[0]", "[0, 0]", "[0, 1]", "[1]", "[1, 0]", "[1, 1]"];
    assert_eq!(support::lines(&path), want);
}

/// Mirrors `_TestProcess.test_sentinel`.
fn test_sentinel(_: StartMethod) {
    let dir = TempDir::new("sentinel");
    let event = dir.file("event");
    let mut p = Process::with_args(wait_event, event.clone());
    assert!(matches!(p.sentinel(), Err(Error::NotStarted { .. })));
    p.start().unwrap();
    assert!(p.sentinel().is_ok());
    assert!(
        multiprocessing::wait(&[&p], Some(Duration::ZERO))
            .unwrap()
            .is_empty()
    );
    event_set(&event);
    p.join().unwrap();
    let ready = multiprocessing::wait(&[&p], Some(Duration::from_secs(1))).unwrap();
    assert_eq!(ready.len(), 1);
}

fn close_target(event: String) {
    event_wait(&event, Duration::from_secs(60));
    multiprocessing::exit(0)
}

/// Mirrors `_TestProcess.test_close`. After `close`, `is_alive` returns false where Python
/// raises `ValueError` (it returns a plain `bool`); `join` and `terminate` fail as in Python.
fn test_close(_: StartMethod) {
    let dir = TempDir::new("close");
    let event = dir.file("event");
    let mut p = Process::with_args(close_target, event.clone());
    p.set_daemon(true).unwrap();
    p.start().unwrap();
    assert!(p.is_alive());
    assert!(matches!(p.close(), Err(Error::CloseRunning)));
    event_set(&event);
    p.join().unwrap();
    assert!(!p.is_alive());
    assert_eq!(p.exitcode(), Some(0));
    p.close().unwrap();
    assert!(!p.is_alive());
    assert!(matches!(p.join(), Err(Error::Closed)));
    assert!(matches!(p.terminate(), Err(Error::Closed)));
    p.close().unwrap();
    drop(p); // Python checks the object is freed; here ownership says so
}

fn sleep_secs(s: f64) {
    std::thread::sleep(Duration::from_secs_f64(s));
}

/// Mirrors `_TestProcess.test_many_processes`: 100 processes (5 with spawn) that end, then
/// 100 terminated right after their start.
fn test_many_processes(m: StartMethod) {
    let n = if m == StartMethod::Spawn { 5 } else { 100 };
    let mut procs: Vec<Process> = (0..n)
        .map(|_| Process::with_args(sleep_secs, 0.01))
        .collect();
    for p in &mut procs {
        p.start().unwrap();
    }
    for p in &mut procs {
        assert_eq!(p.join().unwrap(), 0);
    }
    let mut procs: Vec<Process> = (0..n)
        .map(|_| Process::with_args(sleep_secs, 100.0))
        .collect();
    for p in &mut procs {
        p.start().unwrap();
    }
    std::thread::sleep(Duration::from_millis(1)); // let the children start...
    for p in &mut procs {
        p.terminate().unwrap();
    }
    for p in &mut procs {
        let code = p.join().unwrap();
        assert!(code == -15 || code == -9, "{code}");
    }
}

static DROPPED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

#[derive(serde::Serialize, serde::Deserialize)]
struct Tracked(u8);

impl Drop for Tracked {
    fn drop(&mut self) {
        DROPPED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

fn five(t: Tracked) -> u8 {
    std::mem::forget(t);
    5
}

/// Mirrors `_TestProcess.test_lose_target_ref`: `start` lets go of the target and its
/// arguments in the parent.
fn test_lose_target_ref(_: StartMethod) {
    let mut p = Process::with_args(five, Tracked(0));
    assert_eq!(DROPPED.load(std::sync::atomic::Ordering::Relaxed), 0);
    p.start().unwrap();
    assert_eq!(DROPPED.load(std::sync::atomic::Ordering::Relaxed), 1);
    p.join().unwrap();
    assert_eq!(p.result::<u8>().unwrap(), 5);
}

/// `assertTimingAlmostEqual(elapsed, 0)`.
pub fn almost_zero(d: Duration) {
    assert!(d < ALMOST_ZERO, "took {d:?}");
}

pub fn timed_join(p: &mut Process) -> (i32, Duration) {
    let (code, took) = timed(|| p.join());
    (code.unwrap(), took)
}
