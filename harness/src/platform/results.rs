//! A graded submission as each platform's results file.
//!
//! Gradescope: one test per check, named `exercise: check`; an exercise that could not
//! be run (missing, did not build, grader fault) is one failed test worth the exercise;
//! a limit that stopped a run is a 0-point test saying so. Plain text throughout
//! (`output_format`), only the keys of Gradescope's specification.
//! PrairieLearn: the same tests as `points`/`max_points`, the score as a fraction, and
//! `gradable: false` when nothing could be graded, so the student loses no attempt.

use serde::Serialize;

use super::autograde::Graded;
use crate::class::gradebook::points;
use crate::class::outcome::{Outcome, Status};
use crate::report::prairielearn::{self, Results as PlResults, Test as PlTest};

/// Gradescope's `results.json`.
#[derive(Debug, Clone, Serialize)]
pub struct GsResults {
    pub score: f64,
    pub execution_time: f64,
    pub output: String,
    pub output_format: &'static str,
    pub test_output_format: &'static str,
    pub visibility: String,
    pub tests: Vec<GsTest>,
}

/// One Gradescope test.
#[derive(Debug, Clone, Serialize)]
pub struct GsTest {
    pub name: String,
    pub score: f64,
    pub max_score: f64,
    pub status: &'static str,
    pub output: String,
}

/// One line per exercise: `start-target: pass (5/5)`, `daemon: missing — no file named …`.
fn line(o: &Outcome) -> String {
    let mut line = format!(
        "{}: {} ({}/{})",
        o.exercise,
        o.status,
        points(o.score),
        points(o.max_score)
    );
    if !o.detail.is_empty() {
        let first = o.detail.lines().next().unwrap_or_default();
        line.push_str(&format!(" — {first}"));
    }
    if o.status == Status::Error {
        line.push_str(" (a fault of the grader, not of the submission: ask for a regrade)");
    }
    line
}

/// The whole submission in a few lines, as both platforms show it on top.
pub fn summary(graded: &Graded) -> String {
    let score: f64 = graded.outcomes.iter().map(|o| o.score).sum();
    let max: f64 = graded.outcomes.iter().map(|o| o.max_score).sum();
    let mut text = format!(
        "proclab {}: {} of {} points\n",
        env!("CARGO_PKG_VERSION"),
        points(score),
        points(max)
    );
    for o in &graded.outcomes {
        text.push_str(&line(o));
        text.push('\n');
    }
    if graded.outcomes.iter().any(|o| o.status == Status::Missing) {
        text.push_str(&format!("Files handed in: {}\n", graded.files.join(", ")));
    }
    text
}

/// `(name, score, max, passed, output)` of every test of one exercise.
fn tests_of(o: &Outcome) -> Vec<(String, f64, f64, bool, String)> {
    let mut tests = Vec::new();
    if o.checks.is_empty() {
        tests.push((
            format!("{}: {}", o.exercise, o.status),
            o.score,
            o.max_score,
            o.status == Status::Pass,
            o.detail.clone(),
        ));
    } else if !o.detail.is_empty() {
        tests.push((
            format!("{}: {}", o.exercise, o.status),
            0.0,
            0.0,
            false,
            o.detail.clone(),
        ));
    }
    for c in &o.checks {
        tests.push((
            format!("{}: {}", o.exercise, c.id),
            c.points,
            c.max_points,
            c.passed,
            c.message.clone(),
        ));
    }
    tests
}

/// Gradescope results of a graded submission, or of one that could not be graded.
pub fn gradescope(graded: &Result<Graded, String>, visibility: &str) -> GsResults {
    let (score, seconds, output, tests) = match graded {
        Ok(g) => (
            g.outcomes.iter().map(|o| o.score).sum(),
            g.seconds,
            summary(g),
            g.outcomes
                .iter()
                .flat_map(tests_of)
                .map(|(name, score, max_score, passed, output)| GsTest {
                    name,
                    score,
                    max_score,
                    status: if passed { "passed" } else { "failed" },
                    output,
                })
                .collect(),
        ),
        Err(reason) => (
            0.0,
            0.0,
            format!("Could not be graded: {reason}"),
            Vec::new(),
        ),
    };
    GsResults {
        score,
        execution_time: (seconds * 1000.0).round() / 1000.0,
        output,
        output_format: "text",
        test_output_format: "text",
        visibility: visibility.to_string(),
        tests,
    }
}

/// Is there anything to give a score for? Not when no exercise was found, or when the
/// grader failed on one (never the student's fault: the attempt must not count).
fn gradable(g: &Graded) -> Result<(), String> {
    if let Some(o) = g.outcomes.iter().find(|o| o.status == Status::Error) {
        return Err(format!(
            "{} could not be graded (a fault of the grader, not of the submission): {}",
            o.exercise, o.detail
        ));
    }
    if g.outcomes.iter().all(|o| o.status == Status::Missing) {
        return Err(format!(
            "no file handed in is a submission for {}; files handed in: {}",
            g.outcomes
                .iter()
                .map(|o| o.exercise.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            g.files.join(", ")
        ));
    }
    Ok(())
}

/// PrairieLearn results of a graded submission, or of one that could not be graded.
pub fn prairielearn(graded: &Result<Graded, String>) -> PlResults {
    let g = match graded {
        Ok(g) => g,
        Err(reason) => return PlResults::not_gradable(format!("Could not be graded: {reason}")),
    };
    if let Err(reason) = gradable(g) {
        let mut results = PlResults::not_gradable(format!("Could not be graded: {reason}"));
        results.message = format!("{}\n{}", results.message, summary(g));
        return results;
    }
    let score: f64 = g.outcomes.iter().map(|o| o.score).sum();
    let max: f64 = g.outcomes.iter().map(|o| o.max_score).sum();
    PlResults {
        gradable: true,
        score: prairielearn::fraction(score, max),
        message: summary(g),
        format_errors: None,
        tests: g
            .outcomes
            .iter()
            .flat_map(tests_of)
            .map(|(name, points, max_points, _, output)| PlTest {
                name,
                points,
                max_points,
                output,
            })
            .collect(),
    }
}
