//! `_TestSubclassingProcess`: a process defined as a type (`Run`), and how a child's
//! errors and exit codes reach the parent.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::time::Duration;

use multiprocessing::{Process, Run, StartMethod};
use serde::{Deserialize, Serialize};

use crate::support::TempDir;
use crate::{ALL, Case};

pub fn cases() -> Vec<Case> {
    let case = |name, run| Case {
        name,
        methods: ALL,
        no_init: false,
        run,
    };
    vec![
        case("test_subclassing", test_subclassing),
        case("test_stderr_flush", test_stderr_flush),
        case("test_sys_exit", test_sys_exit),
    ]
}

/// CPython's `_UpperCaser`: a `Process` subclass that answers each string with its upper
/// case. Its connection is a Unix socket it connects to (a `Pipe` object cannot cross
/// spawn here; its path can).
#[derive(Serialize, Deserialize)]
struct UpperCaser {
    socket: String,
}

impl Run for UpperCaser {
    fn run(&mut self) {
        let conn = UnixStream::connect(&self.socket).expect("connecting to the parent");
        let mut out = conn.try_clone().unwrap();
        for line in BufReader::new(conn).lines() {
            let Ok(s) = line else { break };
            if s == "None" {
                break;
            }
            writeln!(out, "{}", s.to_uppercase()).unwrap();
        }
    }
}

fn submit(conn: &mut BufReader<UnixStream>, s: &str) -> String {
    writeln!(conn.get_mut(), "{s}").unwrap();
    let mut answer = String::new();
    conn.read_line(&mut answer).unwrap();
    answer.trim_end().to_string()
}

/// Mirrors `_TestSubclassingProcess.test_subclassing`.
fn test_subclassing(_: StartMethod) {
    let dir = TempDir::new("upper");
    let socket = dir.file("sock");
    let listener = UnixListener::bind(&socket).unwrap();
    let mut uppercaser = Process::from_run(UpperCaser { socket });
    uppercaser.set_daemon(true).unwrap();
    uppercaser.start().unwrap();
    let (conn, _) = listener.accept().unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut conn = BufReader::new(conn);
    assert_eq!(submit(&mut conn, "hello"), "HELLO");
    assert_eq!(submit(&mut conn, "world"), "WORLD");
    writeln!(conn.get_mut(), "None").unwrap(); // stop()
    assert_eq!(uppercaser.join().unwrap(), 0);
}

fn stderr_to(path: &str) {
    let file = std::fs::File::create(path).unwrap();
    nix::unistd::dup2_stderr(&file).unwrap();
}

fn stderr_flush_target(path: String) {
    stderr_to(&path);
    let zero = std::hint::black_box(0);
    let _ = 1 / zero; // MARKER
}

/// Mirrors `_TestSubclassingProcess.test_stderr_flush`: a child's uncaught error (a panic
/// here) is written whole to its stderr before it exits.
fn test_stderr_flush(_: StartMethod) {
    let dir = TempDir::new("stderr");
    let path = dir.file("err");
    let mut p = Process::with_args(stderr_flush_target, path.clone());
    p.start().unwrap();
    assert_eq!(p.join().unwrap(), 1);
    let err = std::fs::read_to_string(&path).unwrap();
    assert!(err.contains("attempt to divide by zero"), "{err}");
    assert!(err.contains("subclass.rs"), "{err}");
    let report = p.panic_report().expect("a panic report");
    assert_eq!(report.message, "attempt to divide by zero");
}

fn sys_exit_reason((reason, path): (String, String)) {
    stderr_to(&path);
    eprintln!("{reason}");
    multiprocessing::exit(1)
}

fn sys_exit(code: Option<i32>) {
    match code {
        Some(code) => multiprocessing::exit(code),
        None => multiprocessing::exit(0), // sys.exit() / sys.exit(None)
    }
}

/// Mirrors `_TestSubclassingProcess.test_sys_exit`. Python's `sys.exit(reason)` with a
/// non-integer reason prints it and exits 1; `exit` takes an integer, so the child prints
/// the reason itself. `True`/`False` are 1/0 here.
fn test_sys_exit(_: StartMethod) {
    let dir = TempDir::new("sysexit");
    for reason in ["[1, 2, 3]", "ignore this"] {
        let path = dir.file("err");
        let mut p = Process::with_args(sys_exit_reason, (reason.to_string(), path.clone()));
        p.set_daemon(true).unwrap();
        p.start().unwrap();
        assert_eq!(p.join().unwrap(), 1);
        assert_eq!(std::fs::read_to_string(&path).unwrap().trim_end(), reason);
        std::fs::remove_file(&path).unwrap();
    }
    for (arg, expected) in [(Some(1), 1), (Some(0), 0), (Some(8), 8), (None, 0)] {
        let mut p = Process::with_args(sys_exit, arg);
        p.set_daemon(true).unwrap();
        p.start().unwrap();
        assert_eq!(p.join().unwrap(), expected, "{arg:?}");
    }
}
