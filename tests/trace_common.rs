//! Shared by the tracer's tests: the `proclab` binary (built on first use: it belongs to
//! another package), paths of the test programs, and ledger helpers.

#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

use proclab::ledger::{Event, EventKind, Ledger, Pid};
#[allow(unused_imports)] // each test file uses its own subset
pub use proclab_tests::bins::proclab;
#[allow(unused_imports)] // each test file uses its own subset
pub use proclab_tests::fixture;

/// The environment marker every traced program of this test binary carries, so a pid
/// reused by an unrelated process after the run is never mistaken for a leak.
pub const MARK_VAR: &str = "PROCLAB_TEST_MARK";

pub fn mark() -> String {
    format!("trace-tests-{}", std::process::id())
}

/// `proclab` with the marker in its environment (traced programs inherit it).
pub fn proclab_command() -> Command {
    let mut cmd = Command::new(proclab());
    cmd.env(MARK_VAR, mark());
    cmd
}

/// Of `pids`, those alive (not zombies) that belong to a traced run of this test binary.
pub fn ours_still_running(pids: &[Pid]) -> Vec<Pid> {
    let needle = format!("{MARK_VAR}={}", mark());
    proclab_tests::still_running(pids)
        .into_iter()
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .map(|env| env.split(|&b| b == 0).any(|kv| kv == needle.as_bytes()))
                .unwrap_or(false)
        })
        .collect()
}

/// A program under tests/trace_programs/.
pub fn program(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("trace_programs")
        .join(name)
        .display()
        .to_string()
}

/// `proclab trace --format json <opts> -- <command>`: the ledger and the raw output.
pub fn trace_json(opts: &[&str], command: &[&str]) -> (Ledger, Output) {
    let out = proclab_command()
        .arg("trace")
        .args(["--format", "json"])
        .args(opts)
        .arg("--")
        .args(command)
        .output()
        .expect("running proclab");
    assert_eq!(
        out.status.code(),
        Some(0),
        "proclab trace failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ledger: Ledger = serde_json::from_slice(&out.stdout).expect("the ledger is valid JSON");
    (ledger, out)
}

/// Every process id the ledger mentions.
pub fn all_pids(ledger: &Ledger) -> Vec<Pid> {
    let mut pids = vec![ledger.root];
    for e in &ledger.events {
        if let EventKind::Spawn { child, .. } = e.kind {
            pids.push(child);
        }
    }
    pids.extend(ledger.leftovers.iter().copied());
    pids.sort_unstable();
    pids.dedup();
    pids
}

/// Assert that no process of the run is still alive.
pub fn assert_nothing_left(ledger: &Ledger) {
    let alive = ours_still_running(&all_pids(ledger));
    assert!(alive.is_empty(), "left running: {alive:?}");
}

/// Processes (not threads) created during the run.
pub fn process_spawns(ledger: &Ledger) -> Vec<(Pid, Pid)> {
    ledger
        .events
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::Spawn {
                parent,
                child,
                thread: false,
                ..
            } => Some((parent, child)),
            _ => None,
        })
        .collect()
}

/// Concatenated text a process wrote to stdout.
pub fn stdout_of(ledger: &Ledger, pid: Pid) -> String {
    ledger
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Write {
                pid: p,
                stream: proclab::ledger::Stream::Stdout,
                text,
                ..
            } if *p == pid => Some(text.as_str()),
            _ => None,
        })
        .collect()
}

/// The first event matching `pred`.
pub fn find(ledger: &Ledger, pred: impl Fn(&EventKind) -> bool) -> Option<&Event> {
    ledger.events.iter().find(|e| pred(&e.kind))
}
