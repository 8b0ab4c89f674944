//! Lifecycle over hand-built ledgers: orphans the main process leaves running are judged
//! once (no-leftovers), and serving children that outlive their client (children-exit).

use crate::ledger::builder::LedgerBuilder;
use crate::ledger::{EventKind, LimitKind};

use super::tests_common::*;
use super::tests_servers::{Server, socket_run};
use super::tests_start::NAMES;

/// Main (pid 1) forks four children and exits at once without waiting; `orphans` then
/// runs (the children's end lines and exits, as observed during the grace).
fn orphaned(orphans: impl Fn(&mut LedgerBuilder)) -> crate::ledger::Ledger {
    let mut b = LedgerBuilder::new(1, &[PY, "s.py"]);
    for (i, name) in NAMES.iter().enumerate() {
        let pid = 10 + i as i32;
        b.fork(1, pid).out(pid, &format!("{name} piaoing\n"));
    }
    b.out(1, "主\n").exit(1, 0);
    orphans(&mut b);
    b.build()
}

#[test]
fn orphans_that_finish_during_the_grace_fail_only_no_leftovers() {
    let ledger = orphaned(|b| {
        for (i, name) in NAMES.iter().enumerate() {
            let pid = 10 + i as i32;
            b.out(pid, &format!("{name} piao end\n")).exit(pid, 0);
        }
    });
    let results = grade("start-target", &ledger);
    assert_failed(&results, &["no-leftovers"]);
    assert_says(
        &results,
        "no-leftovers",
        &[
            "the main process (pid 1) exited while",
            "child 1 (pid 10), child 2 (pid 11), child 3 (pid 12), child 4 (pid 13) ended by themselves",
            "(exit code 0)",
            "os.wait()",
            "waitpid",
            "join()",
        ],
    );
}

#[test]
fn an_orphan_killed_at_the_end_of_the_grace_fails_only_no_leftovers() {
    let mut ledger = orphaned(|b| {
        for (i, name) in NAMES.iter().enumerate().take(3) {
            let pid = 10 + i as i32;
            b.out(pid, &format!("{name} piao end\n")).exit(pid, 0);
        }
        b.push(EventKind::Exit {
            pid: 13,
            status: crate::ledger::ExitStatus::Killed,
        });
    });
    ledger.leftovers = vec![13];
    let results = grade("start-target", &ledger);
    assert_failed(&results, &["no-leftovers"]);
    assert_says(
        &results,
        "no-leftovers",
        &[
            "child 4 (pid 13) was still running",
            "killed by containment",
        ],
    );
    assert_says(&results, "exit-codes", &["not counted: pid(s) 13"]);
}

#[test]
fn an_orphan_that_crashes_during_the_grace_also_fails_exit_codes() {
    let ledger = orphaned(|b| {
        for (i, name) in NAMES.iter().enumerate() {
            let pid = 10 + i as i32;
            b.out(pid, &format!("{name} piao end\n"))
                .exit(pid, if pid == 12 { 1 } else { 0 });
        }
    });
    let results = grade("start-target", &ledger);
    assert_failed(&results, &["exit-codes", "no-leftovers"]);
    assert_says(&results, "exit-codes", &["(pid 12) exit code 1"]);
}

#[test]
fn children_stopped_with_the_main_process_by_a_limit_are_not_leftovers() {
    let mut b = LedgerBuilder::new(1, &[PY, "s.py"]);
    for (i, name) in NAMES.iter().enumerate() {
        let pid = 10 + i as i32;
        b.fork(1, pid).out(pid, &format!("{name} piaoing\n"));
    }
    b.out(1, "主\n").push(EventKind::Limit {
        limit: LimitKind::Time,
        detail: "30 s".into(),
    });
    for pid in [10, 11, 12, 13, 1] {
        b.push(EventKind::Exit {
            pid,
            status: crate::ledger::ExitStatus::Killed,
        });
    }
    let mut ledger = b.build();
    ledger.limit_hit = Some(LimitKind::Time);
    ledger.leftovers = vec![1, 10, 11, 12, 13];
    let results = grade("start-target", &ledger);
    assert!(failed(&results).contains(&"limits"), "{results:#?}");
    assert!(!failed(&results).contains(&"no-leftovers"), "{results:#?}");
}

#[test]
fn serving_children_that_outlive_their_client_fail_children_exit_only() {
    let (ledger, session) = socket_run(Server::Spinning);
    let results = grade_with("socket-server", &ledger, Some(&session));
    assert_failed(&results, &["children-exit"]);
    assert_says(
        &results,
        "children-exit",
        &[
            "pid(s) 11, 12, 13, 14, 21, 22, 23, 24 kept running after their client left",
            "if not data: break",
        ],
    );
}

#[test]
fn a_serving_child_slower_than_the_bound_is_named_with_its_delay() {
    let (mut ledger, session) = socket_run(Server::PerClient);
    // pid 11 ends 2.5 s after its client closed (the bound is 2 s).
    let closed = session.waves[0].clients[0].closed_ns.unwrap();
    for e in &mut ledger.events {
        if matches!(e.kind, EventKind::Exit { pid: 11, .. }) {
            e.t_ns = closed + 2_500_000_000;
        }
    }
    let results = grade_with("socket-server", &ledger, Some(&session));
    assert_failed(&results, &["children-exit"]);
    assert_says(
        &results,
        "children-exit",
        &["(pid 11) ended 2.5 s after its client left"],
    );
    assert_says(
        &grade_with(
            "socket-server",
            &socket_run(Server::PerClient).0,
            Some(&session),
        ),
        "children-exit",
        &["all 8 serving process(es) ended"],
    );
}
