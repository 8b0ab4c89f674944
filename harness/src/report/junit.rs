//! `--format junit`: one test suite per graded run, one test case per check (a failed
//! check is a `<failure>` whose message teaches, in its attribute and its body: CI
//! viewers show one or the other), a limit that stopped the run as an `<error>` test
//! case of its own, the process tree as the suite's system-out.

use std::time::Duration;

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use super::model::GradeReport;
use crate::ledger::Role;

/// Render `report` as JUnit XML.
pub fn render(report: &GradeReport) -> Result<String, quick_junit::SerializeError> {
    let mut junit = Report::new("proclab");
    let mut suite = TestSuite::new(report.exercise.as_str());
    suite.set_time(Duration::from_secs_f64(report.execution_time.max(0.0)));
    suite.add_property(("score", report.score.to_string().as_str()));
    suite.add_property(("max_score", report.max_score.to_string().as_str()));
    suite.add_property(("command", report.command.join(" ").as_str()));
    if let Some(error) = &report.error {
        let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
        status.set_message(format!("could not grade: {error}"));
        status.set_type("could not grade");
        let mut case = TestCase::new("could-not-grade", status);
        case.set_classname(format!("proclab.{}", report.exercise));
        suite.add_test_case(case);
    }
    for check in &report.checks {
        let status = if check.passed {
            TestCaseStatus::success()
        } else {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
            status.set_message(check.message.as_str());
            status.set_type("check failed");
            status.set_description(check.message.as_str());
            status
        };
        let mut case = TestCase::new(check.id.as_str(), status);
        case.set_classname(format!("proclab.{}", report.exercise));
        case.set_system_out(check.message.as_str());
        suite.add_test_case(case);
    }
    if let Some(limit) = &report.ledger.limit_hit {
        // Not a wrong answer but a run that was cut short: an error, as test runners
        // report a test that timed out or crashed.
        let message = format!("The {limit} fired and the run was stopped.");
        let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
        status.set_message(message.as_str());
        status.set_type("limit");
        status.set_description(message.as_str());
        let mut case = TestCase::new("limit", status);
        case.set_classname(format!("proclab.{}", report.exercise));
        suite.add_test_case(case);
    }
    let mut out = String::new();
    let launchers = report
        .tree
        .iter()
        .skip(1)
        .filter(|r| r.role == Role::Launcher)
        .count();
    for (i, row) in report.tree.iter().enumerate() {
        if i > 0 && row.role == Role::Launcher {
            continue;
        }
        out.push_str(&format!(
            "{}pid {} {} {} — {}\n",
            "  ".repeat(row.depth),
            row.pid,
            row.role,
            row.argv.join(" "),
            row.exit
        ));
    }
    if launchers > 0 {
        out.push_str(&format!("(+{launchers} launcher process(es) not shown)\n"));
    }
    for crash in &report.crashes {
        out.push_str(&format!(
            "crash: pid {} ended with {}\n",
            crash.pid, crash.status
        ));
        for line in &crash.stderr_tail {
            out.push_str(&format!("  {line}\n"));
        }
    }
    suite.set_system_out(out);
    junit.add_test_suite(suite);
    junit.to_string()
}
