//! The grade formats over a hand-built run.

use crate::exercise::{evaluate, spec};
use crate::ledger::Stream;
use crate::ledger::builder::LedgerBuilder;

use super::{Format, GradeReport, Verdict, render};

fn report(child_code: i32) -> GradeReport {
    let mut b = LedgerBuilder::new(1, &["/bin/sh", "-c", "python3 iso.py"]);
    b.exec(1, &["/usr/bin/python3", "iso.py"])
        .fork(1, 2)
        .out(2, "子进程内:  0\n")
        .write(
            2,
            Stream::Stderr,
            "Traceback (most recent call last):\nValueError: boom\n",
        )
        .exit(2, child_code)
        .reap(1, 2)
        .out(1, "主进程内:  100\n")
        .exit(1, 0);
    let ledger = b.build();
    let spec = spec::builtin("isolation").expect("built-in");
    let checks = evaluate(&spec, &ledger, None);
    GradeReport::new(&spec, &ledger, checks, None, 1.25)
}

#[test]
fn the_model_sums_points_and_records_crashes() {
    let pass = report(0);
    assert_eq!(
        (pass.verdict, pass.score, pass.max_score),
        (Verdict::Pass, 5, 5)
    );
    assert!(pass.crashes.is_empty());
    let fail = report(1);
    assert_eq!((fail.verdict, fail.score), (Verdict::Fail, 4));
    assert_eq!(fail.crashes.len(), 1);
    assert_eq!(fail.crashes[0].status, "exit code 1");
    assert_eq!(
        fail.crashes[0].stderr_tail.last().map(String::as_str),
        Some("ValueError: boom")
    );
    assert_eq!(fail.exit_code(), 1);
    let pids: Vec<i32> = fail.tree.iter().map(|r| r.pid).collect();
    assert_eq!(pids, [1, 2]);
}

#[test]
fn every_format_renders() {
    let r = report(1);
    let text = render(&r, Format::Text).expect("text");
    assert!(
        text.contains("isolation") && text.contains("Crash:") && text.contains("ValueError: boom")
    );
    let json: serde_json::Value =
        serde_json::from_str(&render(&r, Format::Json).expect("json")).expect("valid");
    assert_eq!(json["verdict"], "fail");
    assert_eq!(json["checks"][3]["id"], "exit-codes");
    let junit = render(&r, Format::Junit).expect("junit");
    assert_eq!(junit.matches("<testcase ").count(), 5);
    assert!(junit.contains("failures=\"1\""));
    let gs: serde_json::Value =
        serde_json::from_str(&render(&r, Format::Gradescope).expect("gs")).expect("valid");
    assert_eq!(gs["score"], 4.0);
    assert_eq!(gs["execution_time"], 1.25);
    assert_eq!(gs["tests"][3]["status"], "failed");
    assert!(gs["output"].as_str().unwrap_or("").contains("exit code 1"));
}
