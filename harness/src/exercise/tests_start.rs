//! start-target, start-subclass and join-order over hand-built ledgers.

use crate::ledger::builder::LedgerBuilder;
use crate::ledger::{EventKind, LimitKind, Stream};

use super::tests_common::*;

pub(super) const NAMES: [&str; 4] = ["egon", "alex", "wupeiqi", "yuanhao"];

/// Main (pid 1) starts one child per name (pids 10..), each prints its start line;
/// then `between` runs; then each child prints its end line and exits; main joins all.
fn four(between: impl Fn(&mut LedgerBuilder)) -> LedgerBuilder {
    let mut b = LedgerBuilder::new(1, &[PY, "s.py"]);
    for (i, name) in NAMES.iter().enumerate() {
        let pid = 10 + i as i32;
        b.fork(1, pid).out(pid, &format!("{name} piaoing\n"));
    }
    between(&mut b);
    for (i, name) in NAMES.iter().enumerate() {
        let pid = 10 + i as i32;
        b.out(pid, &format!("{name} piao end\n")).exit(pid, 0);
    }
    for i in 0..4 {
        b.reap(1, 10 + i);
    }
    b
}

#[test]
fn a_correct_start_target_passes_every_check() {
    let mut b = four(|b| {
        b.out(1, "主\n");
    });
    b.exit(1, 0);
    for exercise in ["start-target", "start-subclass"] {
        let results = grade(exercise, &b.build());
        assert_failed(&results, &[]);
        assert_eq!(results.iter().map(|r| r.points).sum::<u32>(), 8);
    }
}

#[test]
fn run_instead_of_start_is_named() {
    let mut b = LedgerBuilder::new(1, &[PY, "s.py"]);
    for name in NAMES {
        b.out(1, &format!("{name} piaoing\n"))
            .out(1, &format!("{name} piao end\n"));
    }
    b.out(1, "主\n").exit(1, 0);
    let results = grade("start-target", &b.build());
    assert_failed(
        &results,
        &[
            "child-count",
            "child-lines",
            "concurrent",
            "start-nonblocking",
        ],
    );
    assert_says(
        &results,
        "child-count",
        &[
            "expected 4",
            "shows 0",
            "`run()` called instead of `start()`",
        ],
    );
    assert_says(&results, "child-lines", &["the main process", "run()"]);
}

#[test]
fn threads_instead_of_processes_is_named() {
    let mut b = LedgerBuilder::new(1, &[PY, "s.py"]);
    for (i, name) in NAMES.iter().enumerate() {
        let tid = 20 + i as i32;
        b.thread(1, tid).push(EventKind::Write {
            pid: 1,
            tid,
            stream: Stream::Stdout,
            text: format!("{name} piaoing\n"),
            len: 0,
        });
    }
    b.out(1, "主\n");
    for (i, name) in NAMES.iter().enumerate() {
        let tid = 20 + i as i32;
        b.push(EventKind::Write {
            pid: 1,
            tid,
            stream: Stream::Stdout,
            text: format!("{name} piao end\n"),
            len: 0,
        })
        .push(EventKind::ThreadExit { pid: 1, tid });
    }
    b.exit(1, 0);
    let results = grade("start-target", &b.build());
    assert_failed(
        &results,
        &[
            "child-count",
            "child-lines",
            "concurrent",
            "start-nonblocking",
        ],
    );
    assert_says(&results, "child-count", &["threads instead of processes"]);
}

#[test]
fn three_children_fail_only_the_count() {
    let mut b = LedgerBuilder::new(1, &[PY, "s.py"]);
    for (i, name) in NAMES[..3].iter().enumerate() {
        b.fork(1, 10 + i as i32)
            .out(10 + i as i32, &format!("{name} piaoing\n"));
    }
    b.out(1, "主\n");
    for (i, name) in NAMES[..3].iter().enumerate() {
        b.out(10 + i as i32, &format!("{name} piao end\n"))
            .exit(10 + i as i32, 0);
    }
    b.exit(1, 0);
    let results = grade("start-target", &b.build());
    // One mistake, one failed check: the three children wrote their lines right.
    assert_failed(&results, &["child-count"]);
    assert_says(&results, "child-count", &["expected 4", "shows 3"]);
    assert_says(&results, "child-lines", &["`egon`, `alex`, `wupeiqi`"]);
}

/// Each child started, run and reaped before the next.
fn one_at_a_time(parent_last: bool) -> LedgerBuilder {
    let mut b = LedgerBuilder::new(1, &[PY, "s.py"]);
    if !parent_last {
        b.out(1, "主\n");
    }
    for (i, name) in NAMES.iter().enumerate() {
        let pid = 10 + i as i32;
        b.fork(1, pid)
            .out(pid, &format!("{name} piaoing\n"))
            .out(pid, &format!("{name} piao end\n"))
            .exit(pid, 0)
            .reap(1, pid);
    }
    if parent_last {
        b.out(1, "主\n");
    }
    b.exit(1, 0);
    b
}

#[test]
fn children_started_and_joined_one_at_a_time_fail_concurrent() {
    let results = grade("join-order", &one_at_a_time(true).build());
    assert_failed(&results, &["concurrent"]);
    assert_says(
        &results,
        "concurrent",
        &["one at a time", "start() every child first"],
    );
    let results = grade("start-target", &one_at_a_time(false).build());
    assert_failed(&results, &["concurrent"]);
}

#[test]
fn joining_before_printing_fails_start_nonblocking() {
    let mut b = four(|_| {});
    b.out(1, "主\n").exit(1, 0);
    let results = grade("start-target", &b.build());
    assert_failed(&results, &["start-nonblocking"]);
    assert_says(&results, "start-nonblocking", &["after", "join()"]);
    // …which is exactly what join-order wants.
    assert_failed(&grade("join-order", &b.build()), &[]);
}

#[test]
fn printing_main_before_the_children_end_fails_join_order() {
    let mut b = four(|b| {
        b.out(1, "主\n");
    });
    b.exit(1, 0);
    let results = grade("join-order", &b.build());
    assert_failed(&results, &["main-after-children"]);
    assert_says(
        &results,
        "main-after-children",
        &[
            "4 of 4 children were still running",
            "printed before the children ended",
        ],
    );
}

#[test]
fn a_child_that_writes_another_childs_line_is_caught() {
    let mut b = LedgerBuilder::new(1, &[PY, "s.py"]);
    for (i, name) in NAMES.iter().enumerate() {
        b.fork(1, 10 + i as i32)
            .out(10 + i as i32, &format!("{name} piaoing\n"));
    }
    b.out(1, "主\n");
    // egon's end line comes from alex's process.
    b.out(11, "egon piao end\n").out(11, "alex piao end\n");
    b.out(12, "wupeiqi piao end\n")
        .out(13, "yuanhao piao end\n");
    for i in 0..4 {
        b.exit(10 + i, 0);
    }
    b.exit(1, 0);
    let results = grade("start-target", &b.build());
    assert_failed(&results, &["child-lines"]);
    assert_says(
        &results,
        "child-lines",
        &[
            "child 1 (pid 10) wrote `egon piaoing` but never its end line",
            "child 2 (pid 11) started as `alex` (`alex piaoing`) but ended as `egon`",
        ],
    );
}

#[test]
fn a_failing_child_and_an_orphan_are_reported() {
    let mut b = LedgerBuilder::new(1, &[PY, "s.py"]);
    for (i, name) in NAMES.iter().enumerate() {
        b.fork(1, 10 + i as i32)
            .out(10 + i as i32, &format!("{name} piaoing\n"));
    }
    b.out(1, "主\n");
    for (i, name) in NAMES.iter().enumerate().take(3) {
        b.out(10 + i as i32, &format!("{name} piao end\n"));
    }
    b.exit(10, 0).exit(11, 0).exit(12, 1);
    b.exit(1, 0);
    b.out(13, "yuanhao piao end\n").exit(13, 0);
    let results = grade("start-target", &b.build());
    assert_failed(&results, &["exit-codes", "no-leftovers"]);
    assert_says(&results, "exit-codes", &["child 3 (pid 12) exit code 1"]);
    assert_says(&results, "no-leftovers", &["pid 13"]);
}

#[test]
fn a_limit_that_fires_fails_limits_with_its_name() {
    let mut b = four(|b| {
        b.out(1, "主\n");
    });
    b.push(EventKind::Limit {
        limit: LimitKind::Time,
        detail: "30 s".into(),
    });
    let mut ledger = b.build();
    ledger.limit_hit = Some(LimitKind::Time);
    let results = grade("start-target", &ledger);
    assert!(failed(&results).contains(&"limits"));
    assert_says(
        &results,
        "limits",
        &["time limit fired (30 s)", "did not finish within 30 s"],
    );
}

#[test]
fn the_parent_line_written_by_a_child_is_caught() {
    let mut b = four(|b| {
        b.out(10, "主\n");
    });
    b.exit(1, 0);
    let results = grade("start-target", &b.build());
    assert_failed(&results, &["parent-line", "start-nonblocking"]);
    assert_says(
        &results,
        "parent-line",
        &["`主` was written by child 1 (pid 10) instead"],
    );
}

#[test]
fn a_lingering_interpreter_helper_is_not_a_leftover() {
    let mut b = four(|b| {
        b.out(1, "主\n");
    });
    b.fork(1, 30).exec(
        30,
        &[
            PY,
            "-c",
            "from multiprocessing.resource_tracker import main;main(5)",
        ],
    );
    b.exit(1, 0);
    let mut ledger = b.build();
    ledger.leftovers = vec![30];
    assert_failed(&grade("start-target", &ledger), &[]);
    ledger.leftovers = vec![30, 13];
    let results = grade("start-target", &ledger);
    assert_failed(&results, &["no-leftovers"]);
    assert_says(&results, "no-leftovers", &["[13]"]);
}
