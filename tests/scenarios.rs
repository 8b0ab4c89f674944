//! The eight reference scenarios, run as real programs: what they print, from which pids,
//! their exit codes, and what they leave behind.
//!
//! The scenario binaries belong to other packages, so `cargo test` does not build them for
//! this one; the first test to need them runs `cargo build --bins -p <scenarios>` into this
//! test's own target directory and profile (a no-op when they are fresh). A clean checkout
//! therefore needs nothing beyond `cargo test --workspace` (or `-p proclab-tests`).

use proclab_tests::bins::{build_once, profile_dir};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

#[path = "scenarios/servers.rs"]
mod servers;

use proclab_tests::SCENARIOS;
const METHODS: [&str; 3] = ["fork", "spawn", "forkserver"];

/// Path of a scenario binary, built on first use.
pub(crate) fn bin(name: &str) -> PathBuf {
    build_once(&SCENARIOS);
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

pub(crate) fn gone(pid: u32) -> bool {
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
