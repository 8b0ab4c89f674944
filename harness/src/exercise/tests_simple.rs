//! isolation, daemon and terminate over hand-built ledgers.

use crate::ledger::builder::LedgerBuilder;

use super::tests_common::*;

fn isolation(child_says: i64, parent_says: i64, child_writes: bool) -> LedgerBuilder {
    let mut b = LedgerBuilder::new(1, &[PY, "iso.py"]);
    b.fork(1, 2);
    let writer = if child_writes { 2 } else { 1 };
    b.out(writer, &format!("子进程内:  {child_says}\n"))
        .out(1, &format!("主进程内:  {parent_says}\n"))
        .exit(2, 0)
        .reap(1, 2)
        .exit(1, 0);
    b
}

#[test]
fn isolation_correct_passes() {
    assert_failed(&grade("isolation", &isolation(0, 100, true).build()), &[]);
}

#[test]
fn isolation_child_printing_before_assigning_is_named() {
    let results = grade("isolation", &isolation(100, 100, true).build());
    assert_failed(&results, &["child-value"]);
    assert_says(
        &results,
        "child-value",
        &["printed 100, the initial value", "before it assigned"],
    );
}

#[test]
fn isolation_parent_seeing_the_childs_value_is_named() {
    let results = grade("isolation", &isolation(0, 0, true).build());
    assert_failed(&results, &["parent-value"]);
    assert_says(
        &results,
        "parent-value",
        &["printed 0, the child's value", "do not share"],
    );
}

#[test]
fn isolation_child_line_from_the_parent_is_run_instead_of_start() {
    let results = grade("isolation", &isolation(0, 100, false).build());
    assert_failed(&results, &["child-value"]);
    assert_says(
        &results,
        "child-value",
        &["not by a child", "`run()` called instead of `start()`"],
    );
}

/// Daemon pid 2 (would run long), normal pid 3 (short).
fn daemon(daemonic: bool) -> LedgerBuilder {
    let mut b = LedgerBuilder::new(1, &[PY, "d.py"]);
    b.fork(1, 2)
        .fork(1, 3)
        .out(2, "guard start\n")
        .out(3, "helper start\n")
        .out(1, "主\n");
    if daemonic {
        b.signal(1, 2, 15).killed(2, 15).reap(1, 2);
        b.out(3, "helper end\n").exit(3, 0).reap(1, 3);
    } else {
        b.out(3, "helper end\n").exit(3, 0).reap(1, 3);
        b.out(2, "guard end\n").exit(2, 0).reap(1, 2);
    }
    b.exit(1, 0);
    b
}

#[test]
fn daemon_correct_passes() {
    assert_failed(&grade("daemon", &daemon(true).build()), &[]);
}

#[test]
fn daemon_flag_forgotten_is_named() {
    let results = grade("daemon", &daemon(false).build());
    assert_failed(&results, &["daemon-ended", "daemon-no-end-line"]);
    assert_says(
        &results,
        "daemon-ended",
        &["ran to completion", "`p.daemon = True` before `p.start()`"],
    );
    assert_says(
        &results,
        "daemon-no-end-line",
        &["child 1 (pid 2) wrote `guard end`"],
    );
}

#[test]
fn daemon_outliving_the_main_program_fails() {
    let mut b = LedgerBuilder::new(1, &[PY, "d.py"]);
    b.fork(1, 2)
        .fork(1, 3)
        .out(3, "helper end\n")
        .exit(3, 0)
        .reap(1, 3)
        .out(1, "主\n")
        .exit(1, 0);
    let mut ledger = b.build();
    ledger.leftovers = vec![2];
    let results = grade("daemon", &ledger);
    assert_failed(&results, &["daemon-ended", "no-leftovers"]);
    assert_says(&results, "daemon-ended", &["outlived the main process"]);
}

fn terminate(signal: Option<i32>, printed: &str, reaped: bool) -> LedgerBuilder {
    let mut b = LedgerBuilder::new(1, &[PY, "t.py"]);
    b.fork(1, 2);
    match signal {
        Some(sig) => {
            b.signal(1, 2, sig).out(1, "True\n").killed(2, sig);
        }
        None => {
            b.out(1, "True\n").exit(2, 0);
        }
    }
    if reaped {
        b.reap(1, 2);
    }
    b.out(1, "False\n")
        .out(1, &format!("{printed}\n"))
        .exit(1, 0);
    b
}

#[test]
fn terminate_correct_passes() {
    assert_failed(
        &grade("terminate", &terminate(Some(15), "-15", true).build()),
        &[],
    );
}

#[test]
fn terminate_with_kill_is_named() {
    let results = grade("terminate", &terminate(Some(9), "-9", true).build());
    assert_failed(
        &results,
        &["sigterm-sent", "child-died-sigterm", "exitcode-printed"],
    );
    assert_says(
        &results,
        "sigterm-sent",
        &["sent SIGKILL instead", "`kill()` sends SIGKILL"],
    );
    assert_says(&results, "child-died-sigterm", &["killed by SIGKILL"]);
    assert_says(&results, "exitcode-printed", &["expected", "-15", "was -9"]);
}

#[test]
fn terminate_never_called_is_named() {
    let results = grade("terminate", &terminate(None, "0", true).build());
    assert_failed(
        &results,
        &["sigterm-sent", "child-died-sigterm", "exitcode-printed"],
    );
    assert_says(
        &results,
        "sigterm-sent",
        &["never sent a signal", "p.terminate()"],
    );
    assert_says(
        &results,
        "child-died-sigterm",
        &["exited on its own with code 0"],
    );
}

#[test]
fn terminate_without_join_leaves_a_zombie() {
    let results = grade("terminate", &terminate(Some(15), "-15", false).build());
    assert_failed(&results, &["child-reaped"]);
    assert_says(&results, "child-reaped", &["zombie", "p.join()"]);
}

#[test]
fn daemon_both_children_killed_fails_normal_completes() {
    let mut b = LedgerBuilder::new(1, &[PY, "d.py"]);
    b.fork(1, 2).fork(1, 3).out(1, "主\n");
    b.signal(1, 2, 15)
        .killed(2, 15)
        .signal(1, 3, 15)
        .killed(3, 15);
    b.reap(1, 2).reap(1, 3).exit(1, 0);
    let results = grade("daemon", &b.build());
    assert_failed(&results, &["normal-completes"]);
    assert_says(
        &results,
        "normal-completes",
        &["killed by SIGTERM", "made a daemon too"],
    );
}

#[test]
fn daemon_with_one_child_fails_the_count_and_says_why() {
    let mut b = LedgerBuilder::new(1, &[PY, "d.py"]);
    b.fork(1, 2)
        .out(2, "guard start\n")
        .out(1, "主\n")
        .signal(1, 2, 15)
        .killed(2, 15)
        .exit(1, 0);
    let results = grade("daemon", &b.build());
    assert_failed(
        &results,
        &[
            "child-count",
            "daemon-ended",
            "daemon-no-end-line",
            "normal-completes",
        ],
    );
    assert_says(&results, "daemon-ended", &["has 1 child process(es)"]);
}

#[test]
fn terminate_without_a_child_fails_every_child_check() {
    let mut b = LedgerBuilder::new(1, &[PY, "t.py"]);
    b.out(1, "False\n").exit(1, 0);
    let results = grade("terminate", &b.build());
    assert_failed(
        &results,
        &[
            "child-count",
            "sigterm-sent",
            "child-died-sigterm",
            "exitcode-printed",
            "child-reaped",
        ],
    );
    assert_says(&results, "child-count", &["expected 1", "shows 0"]);
}

#[test]
fn terminate_with_sigchld_ignored_counts_the_kernel_reap() {
    let mut b = LedgerBuilder::new(1, &[PY, "t.py"]);
    b.sigchld(1, true, false)
        .fork(1, 2)
        .signal(1, 2, 15)
        .out(1, "True\n")
        .killed(2, 15)
        .kernel_reap(1, 2)
        .out(1, "False\n-15\n")
        .exit(1, 0);
    let results = grade("terminate", &b.build());
    assert_failed(&results, &[]);
    assert_says(
        &results,
        "child-reaped",
        &["reaped by the kernel (the parent ignores SIGCHLD)"],
    );
}

#[test]
fn terminate_reaped_by_a_forkserver_counts_as_joined() {
    let mut b = LedgerBuilder::new(1, &[PY, "t.py"]);
    b.fork(1, 5)
        .exec(
            5,
            &[
                PY,
                "-c",
                "from multiprocessing.forkserver import main; main()",
            ],
        )
        .fork(5, 2)
        .signal(1, 2, 15)
        .out(1, "True\n")
        .killed(2, 15)
        .reap(5, 2)
        .out(1, "False\n-15\n")
        .exit(5, 0)
        .exit(1, 0);
    let results = grade("terminate", &b.build());
    assert_failed(&results, &[]);
    assert_says(
        &results,
        "child-reaped",
        &["forkserver (the interpreter's helper process (pid 5))"],
    );
}
