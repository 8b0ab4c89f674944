//! `--format gradescope`: Gradescope's `results.json` — `score`, `max_score`,
//! `execution_time` (seconds, a number), `output` as plain text (`output_format`: its
//! default renders HTML, and check messages quote `<`), and one entry per check in
//! `tests`, named `exercise: check` like the autograder bundle's.

use serde::Serialize;

use super::model::{GradeReport, Verdict};

#[derive(Serialize)]
struct Results {
    score: f64,
    max_score: f64,
    execution_time: f64,
    output: String,
    output_format: &'static str,
    test_output_format: &'static str,
    tests: Vec<Test>,
}

#[derive(Serialize)]
struct Test {
    name: String,
    score: f64,
    max_score: f64,
    status: &'static str,
    output: String,
}

/// The summary `output` of a graded run: verdict, the limit that fired, crashes.
pub fn summary(report: &GradeReport) -> String {
    let mut output = format!(
        "{}: {} ({}/{})",
        report.exercise,
        match report.verdict {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::Error => "could not grade",
        },
        report.score,
        report.max_score
    );
    if let Some(error) = &report.error {
        output.push_str(&format!("\ncould not grade: {error}"));
    }
    if let Some(limit) = &report.ledger.limit_hit {
        output.push_str(&format!("\nThe {limit} fired and the run was stopped."));
    }
    for crash in &report.crashes {
        output.push_str(&format!(
            "\nCrash: pid {} ended with {}",
            crash.pid, crash.status
        ));
        for line in &crash.stderr_tail {
            output.push_str(&format!("\n  {line}"));
        }
    }
    output
}

/// Render `report` as Gradescope results JSON.
pub fn render(report: &GradeReport) -> Result<String, serde_json::Error> {
    let results = Results {
        score: f64::from(report.score),
        max_score: f64::from(report.max_score),
        execution_time: (report.execution_time * 1000.0).round() / 1000.0,
        output: summary(report),
        output_format: "text",
        test_output_format: "text",
        tests: report
            .checks
            .iter()
            .map(|c| Test {
                name: format!("{}: {}", report.exercise, c.id),
                score: f64::from(c.points),
                max_score: f64::from(c.max_points),
                status: if c.passed { "passed" } else { "failed" },
                output: c.message.clone(),
            })
            .collect(),
    };
    serde_json::to_string_pretty(&results)
}

/// The results of a run that could not be graded: no score earned, the reason shown.
pub fn could_not_grade(exercise: &str, reason: &str) -> Result<String, serde_json::Error> {
    serde_json::to_string_pretty(&serde_json::json!({
        "score": 0.0,
        "execution_time": 0.0,
        "output": format!("{exercise}: could not be graded: {reason}"),
        "output_format": "text",
        "tests": [],
    }))
}
