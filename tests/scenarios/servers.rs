//! The two servers: several concurrent clients, a process per client (reaped) or a fixed
//! pool (no process created while serving), and a clean SIGTERM shutdown.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{bin, gone};

/// A running server: the child process and the address it printed.
struct Server {
    child: Child,
    addr: String,
}

impl Server {
    fn start(name: &str, args: &[&str]) -> Server {
        let mut child = Command::new(bin(name))
            .args(args)
            .args(["--port", "0"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("starting the server");
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        let addr = first
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
            .to_string();
        Server { child, addr }
    }

    /// Pids whose parent is the server.
    fn children(&self) -> BTreeSet<u32> {
        let me = self.child.id();
        let path = format!("/proc/{me}/task/{me}/children");
        match std::fs::read_to_string(path) {
            Ok(s) => s
                .split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect(),
            Err(_) => BTreeSet::new(),
        }
    }

    /// Children that are zombies.
    fn zombies(&self) -> usize {
        self.children().into_iter().filter(|p| gone(*p)).count()
    }

    fn stop(mut self) {
        let kids = self.children();
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        )
        .unwrap();
        let status = wait_timeout(&mut self.child, Duration::from_secs(10));
        assert_eq!(status, Some(0), "the server did not exit 0 after SIGTERM");
        for pid in kids {
            assert!(gone(pid), "child {pid} left behind");
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait_timeout(child: &mut Child, limit: Duration) -> Option<i32> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

fn poll_until(limit: Duration, mut ok: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if ok() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Connects `n` clients at once, then has each send and check three messages.
fn wave(addr: &str, n: usize, tag: &str) -> Vec<TcpStream> {
    let mut conns: Vec<TcpStream> = (0..n).map(|_| TcpStream::connect(addr).unwrap()).collect();
    for round in 0..3 {
        for (i, c) in conns.iter_mut().enumerate() {
            c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let msg = format!("{tag}-{i}-{round} hello");
            c.write_all(msg.as_bytes()).unwrap();
            let mut reply = vec![0u8; msg.len()];
            c.read_exact(&mut reply).unwrap();
            assert_eq!(String::from_utf8(reply).unwrap(), msg.to_ascii_uppercase());
        }
    }
    conns
}

#[test]
fn socket_server_serves_concurrent_clients_each_in_its_own_process() {
    let server = Server::start("socket-server", &[]);
    assert!(server.children().is_empty());
    let conns = wave(&server.addr, 5, "first");
    // All five are connected at once: five serving children.
    assert!(poll_until(Duration::from_secs(5), || server
        .children()
        .len()
        == 5));
    drop(conns);
    // Finished children are reaped: no zombies pile up.
    assert!(
        poll_until(Duration::from_secs(5), || server.children().is_empty()),
        "children left: {:?} ({} zombies)",
        server.children(),
        server.zombies()
    );
    let second = wave(&server.addr, 4, "second");
    let out = Command::new(bin("socket-client"))
        .args(["--addr", &server.addr, "--message", "abc", "--count", "2"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "ABC\nABC\n");
    assert!(server.children().len() >= 4);
    // SIGTERM with clients still connected: children terminated and reaped, exit 0.
    server.stop();
    drop(second);
}

#[test]
fn pool_server_serves_more_clients_than_workers_without_new_processes() {
    let server = Server::start("pool-server", &["--workers", "3"]);
    let workers = server.children();
    assert_eq!(workers.len(), 3, "{workers:?}");
    // Three at once: served concurrently by different workers.
    let conns = wave(&server.addr, 3, "a");
    drop(conns);
    for round in 0..3 {
        drop(wave(&server.addr, 2, &format!("b{round}")));
    }
    let mut counts = BTreeMap::new();
    for _ in 0..7 {
        let out = Command::new(bin("socket-client"))
            .args(["--addr", &server.addr, "--message", "xyz"])
            .output()
            .unwrap();
        *counts
            .entry(String::from_utf8_lossy(&out.stdout).to_string())
            .or_insert(0) += 1;
    }
    assert_eq!(counts.get("XYZ\n"), Some(&7));
    assert_eq!(
        server.children(),
        workers,
        "a process was created while serving"
    );
    server.stop();
}
