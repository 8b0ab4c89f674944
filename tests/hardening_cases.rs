//! The hostile cases' machinery, shared by tests/hardening_hostile.rs: one case graded
//! through `proclab grade` inside a safety net, and every check the suite makes on it.

use std::path::PathBuf;
use std::time::Duration;

use crate::common::*;

/// Slack over the run's own time limit: interpreter start-up, teardown, the report.
pub const MARGIN: Duration = Duration::from_secs(4);
/// proclab's own peak RSS (VmHWM) in every case.
pub const PEAK_KIB: u64 = 64 * 1024;

/// One hostile case.
pub struct Case<'a> {
    pub name: &'a str,
    pub exercise: &'a str,
    /// `[limits]` lines of the exercise file (`time_ms` is required: it bounds the run).
    pub limits: &'a str,
    pub params: &'a str,
    pub time_limit: Duration,
    pub command: Vec<String>,
    /// The `limit_hit` the report must give (`None`: no limit may fire).
    pub limit: Option<&'a str>,
    /// Checks that must fail, with a word their message must contain.
    pub must_fail: &'a [(&'a str, &'a str)],
    pub env: Vec<(String, String)>,
}

/// Run one case and check everything; its JSON report (None: skipped, no net here).
pub fn run_case(case: &Case) -> Option<serde_json::Value> {
    let net = net_or_skip(case.name)?;
    let sandbox = Sandbox::new();
    let spec = exercise_file(&sandbox.root, case.exercise, case.limits, case.params);
    let before = snapshot(&sandbox.root, &[&sandbox.student]);
    let spec_arg = spec.display().to_string();
    let command: Vec<&str> = case.command.iter().map(String::as_str).collect();
    let mut cmd = grade_command(
        Some(&net),
        case.exercise,
        &["--exercise-file", &spec_arg],
        &command,
    );
    cmd.current_dir(&sandbox.student);
    for (k, v) in &case.env {
        cmd.env(k, v.replace("{out}", &sandbox.out.display().to_string()));
    }
    let deadline = case.time_limit + MARGIN;
    let run = run_measured(cmd, deadline + Duration::from_secs(30));
    run.assert_no_panic();
    let report = run.json();
    println!(
        "{}: exit {:?} in {:.2?}, proclab peak {} KiB, limit {}, {} processes",
        case.name,
        run.code,
        run.elapsed,
        run.peak_kib,
        report["ledger"]["limit_hit"],
        report["tree"].as_array().map_or(0, Vec::len),
    );
    assert_eq!(
        run.code,
        Some(1),
        "{}: a failing grade: {}",
        case.name,
        run.stderr
    );
    assert_eq!(report["verdict"], "fail", "{}", case.name);
    let failed = failed_checks(&report);
    match case.limit {
        Some(limit) => {
            assert_eq!(
                report["ledger"]["limit_hit"], limit,
                "{}: the limit is named; failed checks {failed:?}",
                case.name
            );
            let message = failed.get("limits").map(String::as_str).unwrap_or("");
            assert!(
                message.contains(limit),
                "{}: the `limits` check names the {limit}: {message:?}",
                case.name
            );
        }
        None => assert!(
            report["ledger"]["limit_hit"].is_null(),
            "{}: no limit: {}",
            case.name,
            report["ledger"]["limit_hit"]
        ),
    }
    for (check, word) in case.must_fail {
        let message = failed
            .get(*check)
            .unwrap_or_else(|| panic!("{}: `{check}` must fail; failed: {failed:?}", case.name));
        assert!(
            message.to_lowercase().contains(word),
            "{}: `{check}` says why ({word}): {message}",
            case.name
        );
    }
    assert!(
        run.elapsed <= deadline,
        "{}: took {:?}, limit {:?} + {MARGIN:?}",
        case.name,
        run.elapsed,
        case.time_limit
    );
    let pids = report_pids(&report);
    assert!(
        !pids.is_empty(),
        "{}: the report has a process tree",
        case.name
    );
    let alive = survivors_after(&pids, Duration::from_millis(500));
    assert!(alive.is_empty(), "{}: still running: {alive:?}", case.name);
    assert!(
        net.pids().is_empty(),
        "{}: left in the safety net: {:?}",
        case.name,
        net.pids()
    );
    let after = snapshot(&sandbox.root, &[&sandbox.student]);
    assert_eq!(
        changed(&before, &after),
        Vec::<PathBuf>::new(),
        "{}: files outside the run's working directory changed",
        case.name
    );
    assert!(
        run.peak_kib <= PEAK_KIB,
        "{}: proclab peaked at {} KiB",
        case.name,
        run.peak_kib
    );
    assert!(sandbox.other.join("x").exists());
    Some(report)
}
