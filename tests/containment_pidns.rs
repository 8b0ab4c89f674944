//! The run's own pid namespace: the program sees its own pids (from 2 up), the ledger
//! keeps the grader's, and the pids the program hands to the kernel (kill's target, the
//! pid a wait returns) are translated, so the verdicts do not depend on the layer.

mod trace_common;

use proclab::ledger::{EventKind, ExitStatus, Ledger};
use trace_common::{assert_nothing_left, process_spawns, program, stdout_of, trace_json};

fn pidns_layer(ledger: &Ledger) -> (bool, String) {
    let layer = ledger
        .layers
        .iter()
        .find(|l| l.name == "pidns")
        .expect("the pidns layer is listed");
    (layer.active, layer.detail.clone())
}

/// The parent kills its child by pid and reaps it; returns (printed line, child pid).
fn kill_by_pid(opts: &[&str]) -> (Ledger, String, i32) {
    let (ledger, _) = trace_json(opts, &["python3", &program("kill_by_pid.py")]);
    assert_nothing_left(&ledger);
    let root = ledger.root;
    let children: Vec<i32> = process_spawns(&ledger)
        .into_iter()
        .filter(|&(parent, _)| parent == root)
        .map(|(_, child)| child)
        .collect();
    // The Python child is the last process the root made (launchers come first).
    let child = *children.last().expect("the root forked");
    let signal = ledger.events.iter().find_map(|e| match e.kind {
        EventKind::Signal { from, to, signal } if from == root => Some((to, signal)),
        _ => None,
    });
    assert_eq!(
        signal,
        Some((child, 15)),
        "the kill names the child: {opts:?}"
    );
    let reaped = ledger.events.iter().find_map(|e| match e.kind {
        EventKind::Reap { reaper, reaped } if reaper == root && reaped == child => Some(()),
        _ => None,
    });
    assert!(reaped.is_some(), "the reap names the child: {opts:?}");
    let status = ledger.events.iter().find_map(|e| match &e.kind {
        EventKind::Exit { pid, status } if *pid == child => Some(*status),
        _ => None,
    });
    assert!(
        matches!(status, Some(ExitStatus::Signal { signal: 15, .. })),
        "{status:?}"
    );
    let out = stdout_of(&ledger, root);
    (ledger, out, child)
}

#[test]
fn pids_the_program_uses_are_translated_to_the_ledgers() {
    let (ledger, out, child) = kill_by_pid(&[]);
    let (on, detail) = pidns_layer(&ledger);
    if !on {
        eprintln!("no pid namespace here ({detail}): only the host's pids are checked");
        return;
    }
    let first = out.lines().next().unwrap_or_default();
    assert!(first.starts_with("me 2 child "), "pid 2 inside: {out}");
    let inner: i32 = first
        .rsplit(' ')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap();
    assert_ne!(inner, child, "the program saw its inner pid: {out}");
    assert!(
        out.contains(&format!("reaped {inner} by signal 15")),
        "{out}"
    );
}

#[test]
fn without_a_pid_namespace_the_program_sees_the_ledgers_pids() {
    let (ledger, out, child) = kill_by_pid(&["--no-pidns"]);
    assert_eq!(
        pidns_layer(&ledger),
        (false, "the host's pids (option)".to_string())
    );
    let me = format!("me {} child {child}", ledger.root);
    assert!(out.starts_with(&me), "{out}");
}

#[test]
fn grade_without_a_pid_namespace_keeps_the_verdict_and_says_so() {
    let good = trace_common::fixture("python/start_target/good.py");
    for opts in [&[][..], &["--no-pidns"][..]] {
        let out = trace_common::proclab_command()
            .args(["grade", "start-target", "--format", "json"])
            .args(opts)
            .args(["--", "python3", &good])
            .output()
            .expect("running proclab");
        let report: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
        assert_eq!(report["verdict"], "pass", "{opts:?}: {report:#}");
        let layers = proclab_tests::layers(&report);
        if opts.is_empty() {
            assert!(layers.contains_key("pidns"), "{layers:?}");
        } else {
            assert_eq!(layers["pidns"], (false, "the host's pids (option)".into()));
        }
    }
}
