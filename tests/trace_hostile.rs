//! Hostile programs are contained: each limit is reported as such, and nothing the
//! program created is left running afterwards (checked in /proc), whatever it tried.
//! Fork bombs and memory hogs run only inside an outer safety net of the test's own
//! (pids and memory cgroups with hard caps); without one they are skipped, saying why.

#[path = "trace_common.rs"]
mod common;

use std::fs::File;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use proclab::ledger::{EventKind, ExitStatus, Ledger, LimitKind};
use proclab_tests::SafetyNet;

/// Run `proclab trace --format json opts -- command` from `cmd`; the ledger, exit code
/// and the peak RSS of proclab itself (KiB).
fn run_measured(mut cmd: Command, opts: &[&str], command: &[&str]) -> (Ledger, Option<i32>, i64) {
    let out = tempfile::NamedTempFile::new().unwrap();
    cmd.arg("trace")
        .args(["--format", "json"])
        .args(opts)
        .arg("--")
        .args(command)
        .stdout(Stdio::from(File::create(out.path()).unwrap()))
        .stderr(Stdio::inherit());
    // Reaped below with wait4, which also gives the peak RSS.
    #[allow(clippy::zombie_processes)]
    let child = cmd.spawn().expect("spawn proclab");
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value.
    let mut usage: nix::libc::rusage = unsafe { std::mem::zeroed() };
    // nix has no wait4 with resource usage.
    // SAFETY: valid out-pointers; the pid is our own child.
    let rc = unsafe { nix::libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert!(rc > 0, "wait4 failed");
    let code = nix::libc::WIFEXITED(status).then(|| nix::libc::WEXITSTATUS(status));
    let ledger: Ledger = serde_json::from_slice(&std::fs::read(out.path()).unwrap())
        .unwrap_or_else(|e| panic!("proclab printed no ledger ({e}), status {status:#x}"));
    (ledger, code, usage.ru_maxrss)
}

fn proclab_cmd() -> Command {
    proclab_command()
}

fn net_or_skip(max_pids: u32, memory: u64) -> Option<SafetyNet> {
    match SafetyNet::new(max_pids, memory) {
        Ok(net) => Some(net),
        Err(why) => {
            eprintln!("SKIPPED: no safety net can be made here: {why}");
            None
        }
    }
}

#[test]
fn a_fork_bomb_is_stopped_at_the_process_cap() {
    // With the run's pids cgroup, and with ptrace's count alone (--no-cgroup).
    for extra in [&[][..], &["--no-cgroup"][..]] {
        let Some(net) = net_or_skip(300, 2 << 30) else {
            return;
        };
        let bin = proclab(); // built on first use: not part of the timing
        let started = Instant::now();
        let mut opts = vec!["--max-procs", "32", "--time-limit", "20s"];
        opts.extend_from_slice(extra);
        let (ledger, code, _) = run_measured(
            net.command(bin),
            &opts,
            &[env!("CARGO_BIN_EXE_fx-hostile-fork-bomb")],
        );
        assert_eq!(code, Some(0));
        assert_eq!(ledger.limit_hit, Some(LimitKind::Processes), "{extra:?}");
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "stopped at the cap, not by the clock"
        );
        assert!(
            process_spawns(&ledger).len() <= 80,
            "{} processes",
            process_spawns(&ledger).len()
        );
        assert_nothing_left(&ledger);
        assert!(
            net.pids().is_empty(),
            "left in the safety net: {:?}",
            net.pids()
        );
    }
}

#[test]
fn a_memory_hog_is_stopped_at_the_memory_cap() {
    // With the run's memory cgroup, and with RSS sampling alone (--no-cgroup).
    for extra in [&[][..], &["--no-cgroup"][..]] {
        let Some(net) = net_or_skip(300, 1 << 30) else {
            return;
        };
        let mut opts = vec!["--memory", "96M", "--time-limit", "30s"];
        opts.extend_from_slice(extra);
        let (ledger, code, _) = run_measured(
            net.command(proclab()),
            &opts,
            &["python3", &fixture("hostile/memory_hog.py")],
        );
        assert_eq!(code, Some(0));
        let active = |name: &str| ledger.layers.iter().any(|l| l.name == name && l.active);
        assert!(
            active("memory-cgroup") || active("memory-poll"),
            "{:?}",
            ledger.layers
        );
        assert_eq!(
            ledger.limit_hit,
            Some(LimitKind::Memory),
            "{extra:?}: {:?}",
            ledger.layers
        );
        assert_nothing_left(&ledger);
        assert!(net.pids().is_empty());
    }
}

/// The orphan is observed for the linger (here 1 s; 5 s by default), then killed: the run
/// does not wait out its hour, and no limit fires.
#[test]
fn a_double_forked_setsid_orphan_is_killed() {
    let started = Instant::now();
    let (ledger, _) = trace_json(
        &["--linger", "1s"],
        &["python3", &fixture("hostile/double_fork_setsid.py")],
    );
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(8),
        "{took:?}"
    );
    assert_eq!(ledger.limit_hit, None);
    assert_eq!(ledger.root_status, Some(ExitStatus::Code { code: 0 }));
    assert_eq!(
        ledger.leftovers.len(),
        1,
        "the grandchild: {:?}",
        ledger.leftovers
    );
    let orphan = ledger.leftovers[0];
    assert!(ledger.events.iter().any(
        |e| matches!(e.kind, EventKind::Exit { pid, status: ExitStatus::Killed } if pid == orphan)
    ));
    assert_nothing_left(&ledger);
}

#[test]
fn sigterm_ignorers_and_sleepers_hit_the_time_limit() {
    for prog in ["hostile/ignore_signals.py", "hostile/children_never_end.py"] {
        let started = Instant::now();
        let (ledger, _) = trace_json(&["--time-limit", "3s"], &["python3", &fixture(prog)]);
        assert_eq!(ledger.limit_hit, Some(LimitKind::Time), "{prog}");
        assert!(started.elapsed() < Duration::from_secs(10), "{prog}");
        assert!(!ledger.leftovers.is_empty(), "{prog}");
        assert_nothing_left(&ledger);
    }
}

#[test]
fn endless_output_hits_the_output_cap_with_bounded_memory() {
    let (ledger, code, maxrss_kib) = run_measured(
        proclab_cmd(),
        &["--max-output", "2M"],
        &["python3", &fixture("hostile/endless_stdout.py")],
    );
    assert_eq!(code, Some(0));
    assert_eq!(ledger.limit_hit, Some(LimitKind::Output));
    assert!(ledger.output_truncated);
    let recorded: usize = ledger
        .events
        .iter()
        .map(|e| match &e.kind {
            EventKind::Write { text, .. } => text.len(),
            _ => 0,
        })
        .sum();
    assert_eq!(recorded, 2 << 20);
    assert!(maxrss_kib < 128 * 1024, "proclab used {maxrss_kib} KiB");
    assert_nothing_left(&ledger);
}

#[test]
fn a_program_cannot_kill_the_grader() {
    let (ledger, out) = trace_json(
        &["--time-limit", "1500ms"],
        &["python3", &fixture("hostile/kill_parent.py")],
    );
    assert_eq!(ledger.limit_hit, Some(LimitKind::Time));
    let text: String = ledger
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Write { text, .. } => Some(text.clone()),
            _ => None,
        })
        .collect();
    assert!(text.contains("could not kill my parent"), "{text}");
    assert!(out.status.success());
    assert_nothing_left(&ledger);
}

#[test]
fn ctrl_c_to_the_grader_ends_the_run_cleanly() {
    let out = tempfile::NamedTempFile::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let capture = dir.path().display().to_string();
    let child = proclab_command()
        .args(["trace", "--format", "json", "--capture", &capture, "--"])
        .args(["python3", &fixture("hostile/ignore_signals.py")])
        .stdout(Stdio::from(File::create(out.path()).unwrap()))
        .spawn()
        .unwrap();
    // Wait until the main process and its three children all said they run.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = std::fs::read_to_string(dir.path().join("stdout")).unwrap_or_default();
        if text.matches("ignoring SIGTERM").count() >= 4 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the program did not start: {text:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    kill(Pid::from_raw(child.id() as i32), Signal::SIGINT).unwrap();
    let status = child.wait_with_output().unwrap().status;
    assert_eq!(status.code(), Some(130));
    let ledger: Ledger = serde_json::from_slice(&std::fs::read(out.path()).unwrap()).unwrap();
    assert!(ledger.leftovers.len() >= 4, "{:?}", ledger.leftovers);
    assert_nothing_left(&ledger);
}

#[test]
fn killing_the_grader_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let capture = dir.path().display().to_string();
    let mut child = proclab_command()
        .args(["trace", "--capture", &capture, "--"])
        .args(["python3", &program("pids_then_hide.py")])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let pids = loop {
        let text = std::fs::read_to_string(dir.path().join("stdout")).unwrap_or_default();
        let pids: Vec<i32> = text
            .lines()
            .filter_map(|l| l.split_whitespace().nth(1)?.parse().ok())
            .collect();
        if pids.len() == 2 {
            break pids;
        }
        assert!(
            Instant::now() < deadline,
            "the program never printed its pids: {text:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(
        ours_still_running(&pids),
        pids,
        "the printed pids are the run's"
    );
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !ours_still_running(&pids).is_empty() {
        assert!(
            Instant::now() < deadline,
            "still running: {:?}",
            ours_still_running(&pids)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
