//! The eight reference scenarios, run as real programs: what they print, from which pids,
//! their exit codes, and what they leave behind.
//!
//! The scenario binaries belong to other packages, so `cargo test` does not build them for
//! this one; the first test to need them runs `cargo build --bins -p <scenarios>` into this
//! test's own target directory and profile (a no-op when they are fresh). A clean checkout
//! therefore needs nothing beyond `cargo test --workspace` (or `-p proclab-tests`).

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const SCENARIOS: [&str; 8] = [
    "start-target",
    "start-subclass",
    "isolation",
    "join-order",
    "daemon",
    "terminate",
    "socket-server",
    "pool-server",
];
const METHODS: [&str; 3] = ["fork", "spawn", "forkserver"];

/// The directory holding this test's binaries (`<target>/<profile>`).
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    // <target>/<profile>/deps/scenarios-<hash>
    exe.parent()
        .and_then(|d| d.parent())
        .expect("target layout")
        .to_path_buf()
}

/// Path of a scenario binary, built on first use.
fn bin(name: &str) -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let dir = profile_dir();
        let target = dir.parent().expect("target dir");
        let profile = match dir.file_name().and_then(|n| n.to_str()) {
            Some("debug") | None => "dev".to_string(),
            Some(other) => other.to_string(),
        };
        let mut cmd = Command::new(env!("CARGO"));
        cmd.args(["build", "--quiet", "--bins", "--profile", &profile]);
        for s in SCENARIOS {
            cmd.args(["-p", s]);
        }
        let status = cmd
            .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
            .env("CARGO_TARGET_DIR", target)
            .status()
            .expect("running cargo build for the scenarios");
        assert!(status.success(), "building the scenario binaries failed");
    });
    profile_dir().join(name)
}

fn run(name: &str, args: &[&str]) -> Output {
    let out = Command::new(bin(name))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("running a scenario");
    assert!(
        out.status.success(),
        "{name} {args:?} failed: {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn lines(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

/// `[<pid>] text` lines as (pid, text).
fn verbose_lines(out: &Output) -> Vec<(u32, String)> {
    lines(out)
        .iter()
        .map(|l| {
            let (pid, text) = l
                .strip_prefix('[')
                .and_then(|r| r.split_once("] "))
                .unwrap_or_else(|| panic!("not a verbose line: {l:?}"));
            (pid.parse().expect("pid"), text.to_string())
        })
        .collect()
}

fn position(lines: &[(u32, String)], text: &str) -> usize {
    lines
        .iter()
        .position(|(_, t)| t == text)
        .unwrap_or_else(|| panic!("{text:?} missing in {lines:?}"))
}

/// Checks the start-target family: each name's two lines from one child, distinct children,
/// `主` from the parent; returns the lines.
fn check_piao(name: &str, method: &str, extra: &[&str]) -> Vec<(u32, String)> {
    let mut args = vec!["--sleep-ms", "600", "--verbose", "--start-method", method];
    args.extend_from_slice(extra);
    let out = run(name, &args);
    let got = verbose_lines(&out);
    assert_eq!(got.len(), 9, "{got:?}");
    let (parent, _) = got[position(&got, "主")];
    let mut children = BTreeSet::new();
    for n in ["egon", "alex", "wupeiqi", "yuanhao"] {
        let a = position(&got, &format!("{n} piaoing"));
        let b = position(&got, &format!("{n} piao end"));
        assert!(a < b, "{n}: end before start in {got:?}");
        assert_eq!(got[a].0, got[b].0, "{n}: two pids");
        assert_ne!(got[a].0, parent, "{n} printed by the parent");
        children.insert(got[a].0);
    }
    assert_eq!(children.len(), 4, "four distinct children: {got:?}");
    got
}

#[test]
fn start_target_and_subclass_start_four_children_and_do_not_wait() {
    for name in ["start-target", "start-subclass"] {
        for m in METHODS {
            let got = check_piao(name, m, &[]);
            let main = position(&got, "主");
            let first_end = got
                .iter()
                .position(|(_, t)| t.ends_with("piao end"))
                .unwrap();
            assert!(
                main < first_end,
                "{name}/{m}: 主 after a child ended: {got:?}"
            );
        }
    }
}

#[test]
fn join_order_prints_main_last() {
    for m in METHODS {
        let got = check_piao("join-order", m, &[]);
        assert_eq!(
            got.last().map(|(_, t)| t.as_str()),
            Some("主"),
            "{m}: {got:?}"
        );
        // All four started before the first ended: they ran at the same time.
        let last_start = got
            .iter()
            .rposition(|(_, t)| t.ends_with("piaoing"))
            .unwrap();
        let first_end = got
            .iter()
            .position(|(_, t)| t.ends_with("piao end"))
            .unwrap();
        assert!(last_start < first_end, "{m}: {got:?}");
    }
}

#[test]
fn names_flag_and_plain_output() {
    let out = run("start-target", &["--names", "a,b", "--sleep-ms", "50"]);
    let got: BTreeSet<String> = lines(&out).into_iter().collect();
    let want: BTreeSet<String> = ["a piaoing", "a piao end", "b piaoing", "b piao end", "主"]
        .map(String::from)
        .into();
    assert_eq!(got, want);
}

#[test]
fn isolation_child_sees_zero_parent_keeps_initial() {
    for m in METHODS {
        for (args, initial) in [(vec![], "100"), (vec!["--initial", "-7"], "-7")] {
            let mut all = vec!["--verbose", "--start-method", m];
            all.extend(args);
            let got = verbose_lines(&run("isolation", &all));
            assert_eq!(got.len(), 2, "{got:?}");
            let child = &got[position(&got, "子进程内:  0")];
            let parent = &got[position(&got, &format!("主进程内:  {initial}"))];
            assert_ne!(child.0, parent.0, "{m}: same pid for both lines");
        }
    }
    let plain = run("isolation", &[]);
    let mut got = lines(&plain);
    got.sort();
    assert_eq!(got, ["主进程内:  100", "子进程内:  0"]);
}

fn gone(pid: u32) -> bool {
    // Gone, or a zombie whose parent (init in a container) has not reaped it yet.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z')),
    }
}

#[test]
fn daemon_is_terminated_at_exit_and_normal_child_completes() {
    bin("daemon"); // build first: the timing below is the program's alone
    for m in METHODS {
        let t0 = Instant::now();
        let args = [
            "--sleep-ms",
            "300",
            "--daemon-sleep-ms",
            "20000",
            "--verbose",
            "--start-method",
            m,
        ];
        let got = verbose_lines(&run("daemon", &args));
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "{m}: waited for the daemon"
        );
        let texts: Vec<&str> = got.iter().map(|(_, t)| t.as_str()).collect();
        assert!(!texts.contains(&"daemon end"), "{m}: {texts:?}");
        let start = position(&got, "normal start");
        let end = position(&got, "normal end");
        assert_eq!(got[start].0, got[end].0);
        let main = position(&got, "主");
        assert_ne!(got[main].0, got[start].0);
        if let Some((pid, _)) = got.iter().find(|(_, t)| t == "daemon start") {
            assert!(gone(*pid), "{m}: daemon {pid} still running");
        }
    }
}

#[test]
fn terminate_prints_alive_then_dead_then_minus_15() {
    for m in METHODS {
        let out = run("terminate", &["--start-method", m]);
        let got = lines(&out);
        assert_eq!(got.len(), 3, "{got:?}");
        // Right after SIGTERM the child may or may not have died yet (as in Python).
        assert!(
            got[0] == "p.is_alive(): True" || got[0] == "p.is_alive(): False",
            "{got:?}"
        );
        assert_eq!(got[1..], ["p.is_alive(): False", "p.exitcode: -15"], "{m}");
    }
}

#[test]
fn bad_start_method_is_a_usage_error() {
    let out = Command::new(bin("start-target"))
        .args(["--start-method", "vfork"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("vfork"));
}

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
