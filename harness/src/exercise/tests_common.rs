//! Test helpers: build a spec, evaluate it, and look at the outcome.

use crate::ledger::Ledger;

use super::{CheckResult, ServerSession, evaluate, spec};

pub const PY: &str = "/usr/bin/python3.11";

/// Evaluate the built-in spec of `exercise` over `ledger`.
pub fn grade(exercise: &str, ledger: &Ledger) -> Vec<CheckResult> {
    grade_with(exercise, ledger, None)
}

/// Evaluate with a client session (servers).
pub fn grade_with(
    exercise: &str,
    ledger: &Ledger,
    session: Option<&ServerSession>,
) -> Vec<CheckResult> {
    let spec = spec::builtin(exercise).expect("built-in spec");
    evaluate(&spec, ledger, session)
}

/// Ids of the failed checks.
pub fn failed(results: &[CheckResult]) -> Vec<&str> {
    results
        .iter()
        .filter(|r| !r.passed)
        .map(|r| r.id.as_str())
        .collect()
}

/// The message of check `id`.
pub fn message<'r>(results: &'r [CheckResult], id: &str) -> &'r str {
    &results
        .iter()
        .find(|r| r.id == id)
        .unwrap_or_else(|| panic!("no check {id}"))
        .message
}

/// Assert exactly these checks failed.
#[track_caller]
pub fn assert_failed(results: &[CheckResult], expected: &[&str]) {
    let got = failed(results);
    assert_eq!(got, expected, "failed checks; results: {results:#?}");
}

/// Assert check `id`'s message contains every one of `parts`.
#[track_caller]
pub fn assert_says(results: &[CheckResult], id: &str, parts: &[&str]) {
    let text = message(results, id);
    for part in parts {
        assert!(
            text.contains(part),
            "check {id}: expected `{part}` in: {text}"
        );
    }
}
