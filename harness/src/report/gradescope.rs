//! `--format gradescope`: Gradescope's `results.json` — `score`, `max_score`,
//! `execution_time` (seconds, a number), `output`, and one entry per check in `tests`.

use serde::Serialize;

use super::model::{GradeReport, Verdict};

#[derive(Serialize)]
struct Results<'a> {
    score: f64,
    max_score: f64,
    execution_time: f64,
    output: String,
    tests: Vec<Test<'a>>,
}

#[derive(Serialize)]
struct Test<'a> {
    name: &'a str,
    score: f64,
    max_score: f64,
    status: &'static str,
    output: &'a str,
}

/// Render `report` as Gradescope results JSON.
pub fn render(report: &GradeReport) -> Result<String, serde_json::Error> {
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
    let results = Results {
        score: f64::from(report.score),
        max_score: f64::from(report.max_score),
        execution_time: (report.execution_time * 1000.0).round() / 1000.0,
        output,
        tests: report
            .checks
            .iter()
            .map(|c| Test {
                name: &c.id,
                score: f64::from(c.points),
                max_score: f64::from(c.max_points),
                status: if c.passed { "passed" } else { "failed" },
                output: &c.message,
            })
            .collect(),
    };
    serde_json::to_string_pretty(&results)
}
