//! The class outputs, rebuilt from the per-submission records: `gradebook.csv`,
//! `junit.xml`, each student's Gradescope `results.json`, `index.html`, and
//! `summary.json` (the class's [`Counts`]).
//!
//! The gradebook has a row for every student whose every exercise has a record, so a
//! partial (interrupted) run lists finished students only, never half a row.

use std::collections::BTreeMap;
use std::time::Duration;

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
use serde_json::json;

use super::counts::Counts;
use super::outcome::{Outcome, Status};
use super::store::{Store, write_atomic};
use crate::report::html::escape;

/// Records by (student, exercise).
pub type Records = BTreeMap<(String, String), Outcome>;

/// A class's results: who, which exercises, and the records so far.
#[derive(Debug, Clone, Copy)]
pub struct ClassView<'a> {
    pub exercises: &'a [String],
    pub students: &'a [String],
    pub records: &'a Records,
}

impl<'a> ClassView<'a> {
    fn record(&self, student: &str, exercise: &str) -> Option<&'a Outcome> {
        self.records
            .get(&(student.to_string(), exercise.to_string()))
    }

    /// A student's records, in exercise order, if every exercise has one.
    pub fn complete_row(&self, student: &str) -> Option<Vec<&'a Outcome>> {
        self.exercises
            .iter()
            .map(|e| self.record(student, e))
            .collect()
    }

    /// Highest max score any record of `exercise` states (missing submissions know none).
    fn max_of(&self, exercise: &str) -> f64 {
        self.records
            .values()
            .filter(|o| o.exercise == exercise)
            .map(|o| o.max_score)
            .fold(0.0, f64::max)
    }
}

/// `3` or `2.5`.
pub fn points(value: f64) -> String {
    if value.fract() == 0.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.2}")
    }
}

/// `gradebook.csv`: student, one score column per exercise, total, max_total, then one
/// status column per exercise (`<exercise> status`).
pub fn csv(view: &ClassView<'_>) -> Result<Vec<u8>, csv::Error> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["student".to_string()];
    header.extend(view.exercises.iter().cloned());
    header.extend(["total".to_string(), "max_total".to_string()]);
    header.extend(view.exercises.iter().map(|e| format!("{e} status")));
    writer.write_record(&header)?;
    let max_total: f64 = view.exercises.iter().map(|e| view.max_of(e)).sum();
    for student in view.students {
        let Some(row) = view.complete_row(student) else {
            continue;
        };
        let mut record = vec![student.clone()];
        record.extend(row.iter().map(|o| points(o.score)));
        record.push(points(row.iter().map(|o| o.score).sum()));
        record.push(points(max_total));
        record.extend(row.iter().map(|o| o.status.to_string()));
        writer.write_record(&record)?;
    }
    writer.into_inner().map_err(|e| e.into_error().into())
}

/// A student's `results.json` in Gradescope's schema: one test per check (or one per
/// exercise that could not be graded).
pub fn gradescope(view: &ClassView<'_>, student: &str) -> serde_json::Value {
    let mut tests = Vec::new();
    let mut score = 0.0;
    let mut seconds = 0.0;
    for exercise in view.exercises {
        let Some(o) = view.record(student, exercise) else {
            continue;
        };
        score += o.score;
        seconds += o.seconds;
        if o.checks.is_empty() {
            // Not gradable (missing, build error, grader error): one test worth the exercise.
            tests.push(json!({
                "name": format!("{exercise}: {}", o.status),
                "score": o.score,
                "max_score": view.max_of(exercise),
                "status": if o.status == Status::Pass { "passed" } else { "failed" },
                "output": o.detail,
            }));
        } else if !o.detail.is_empty() {
            // Why a run with checks ended early (a limit): worth nothing, shown first.
            tests.push(json!({
                "name": format!("{exercise}: {}", o.status),
                "score": 0.0,
                "max_score": 0.0,
                "status": if o.status == Status::Pass { "passed" } else { "failed" },
                "output": o.detail,
            }));
        }
        for check in &o.checks {
            tests.push(json!({
                "name": format!("{exercise}: {}", check.id),
                "score": check.points,
                "max_score": check.max_points,
                "status": if check.passed { "passed" } else { "failed" },
                "output": check.message,
            }));
        }
    }
    json!({
        "score": score,
        "execution_time": seconds,
        "output": format!("Graded by proclab {}", env!("CARGO_PKG_VERSION")),
        // Gradescope renders output as HTML by default; check messages quote `<name>`.
        "output_format": "text",
        "test_output_format": "text",
        "tests": tests,
    })
}

/// One JUnit file for the class: a test suite per student, a test case per exercise.
pub fn junit(view: &ClassView<'_>) -> Result<String, quick_junit::SerializeError> {
    let mut report = Report::new("proclab-class");
    for student in view.students {
        let mut suite = TestSuite::new(student.as_str());
        for exercise in view.exercises {
            let Some(o) = view.record(student, exercise) else {
                continue;
            };
            let status = if o.status == Status::Pass {
                TestCaseStatus::success()
            } else {
                let kind = match o.status {
                    Status::Error => NonSuccessKind::Error,
                    _ => NonSuccessKind::Failure,
                };
                let mut status = TestCaseStatus::non_success(kind);
                status.set_type(o.status.as_str());
                status.set_message(summary(o));
                status.set_description(description(o));
                status
            };
            let mut case = TestCase::new(exercise.as_str(), status);
            case.set_classname(student.as_str());
            case.set_time(Duration::from_secs_f64(o.seconds.max(0.0)));
            suite.add_test_case(case);
        }
        report.add_test_suite(suite);
    }
    report.to_string()
}

fn summary(o: &Outcome) -> String {
    let failed: Vec<&str> = o
        .checks
        .iter()
        .filter(|c| !c.passed)
        .map(|c| c.id.as_str())
        .collect();
    match (o.status, failed.is_empty()) {
        (Status::Fail | Status::Limit, false) => format!(
            "{}: {} / {} points, failed: {}",
            o.status,
            points(o.score),
            points(o.max_score),
            failed.join(", ")
        ),
        _ => format!("{}: {}", o.status, o.detail.lines().next().unwrap_or("")),
    }
}

fn description(o: &Outcome) -> String {
    let mut text = o.detail.clone();
    for check in o.checks.iter().filter(|c| !c.passed) {
        text.push_str(&format!("\n[{}] {}", check.id, check.message));
    }
    text.trim().to_string()
}

/// `index.html`: a table of students × exercises linking every report.
pub fn index_html(view: &ClassView<'_>, title: &str) -> String {
    let mut html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{0}</title>\
         <style>{1}</style></head><body><h1>{0}</h1>",
        escape(title),
        include_str!("../report/html/style.css")
    );
    let done = view
        .students
        .iter()
        .filter(|s| view.complete_row(s).is_some())
        .count();
    let counts = Counts::of(view);
    html.push_str(&format!(
        "<p class=\"meta\">{done} of {} students complete; {} submission slots: {}.</p>\
         <table class=\"class\"><thead><tr><th>student</th>",
        view.students.len(),
        counts.slots,
        escape(&counts.describe())
    ));
    for e in view.exercises {
        html.push_str(&format!(
            "<th>{} <span class=\"meta\">/ {}</span></th>",
            escape(e),
            points(view.max_of(e))
        ));
    }
    let max_total: f64 = view.exercises.iter().map(|e| view.max_of(e)).sum();
    html.push_str(&format!(
        "<th>total <span class=\"meta\">/ {}</span></th></tr></thead><tbody>\n",
        points(max_total)
    ));
    for student in view.students {
        html.push_str(&format!("<tr><td>{}</td>", escape(student)));
        let mut total = 0.0;
        for exercise in view.exercises {
            match view.record(student, exercise) {
                Some(o) => {
                    total += o.score;
                    let text = format!("{} {}", o.status, points(o.score));
                    let cell = match &o.report {
                        Some(report) => format!(
                            "<a href=\"students/{}/{}\">{}</a>",
                            escape(&url_segment(student)),
                            escape(&url_segment(report)),
                            escape(&text)
                        ),
                        None => escape(&text),
                    };
                    html.push_str(&format!("<td class=\"{}\">{cell}</td>", o.status));
                }
                None => html.push_str("<td>not graded</td>"),
            }
        }
        html.push_str(&format!("<td>{}</td></tr>\n", points(total)));
    }
    html.push_str("</tbody></table></body></html>\n");
    html
}

/// Percent-encode a path segment for an href.
fn url_segment(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Write every class output atomically.
pub fn write_all(store: &Store, view: &ClassView<'_>) -> std::io::Result<()> {
    let csv = csv(view).map_err(std::io::Error::other)?;
    write_atomic(&store.root.join("gradebook.csv"), &csv)?;
    let junit = junit(view).map_err(std::io::Error::other)?;
    write_atomic(&store.root.join("junit.xml"), junit.as_bytes())?;
    for student in view.students {
        if view.complete_row(student).is_some() {
            let json = serde_json::to_vec_pretty(&gradescope(view, student))
                .map_err(std::io::Error::other)?;
            write_atomic(&store.student_dir(student).join("results.json"), &json)?;
        }
    }
    let summary = json!({
        "students": view.students.len(),
        "exercises": view.exercises,
        "counts": Counts::of(view),
    });
    let summary = serde_json::to_vec_pretty(&summary).map_err(std::io::Error::other)?;
    write_atomic(&store.root.join("summary.json"), &summary)?;
    let index = index_html(view, "proclab: class results");
    write_atomic(&store.root.join("index.html"), index.as_bytes())
}

#[cfg(test)]
mod tests;
