//! `--format prairielearn`: PrairieLearn's external grading `results.json` — `gradable`,
//! `score` as a fraction in 0..1, `message`, and one entry per check in `tests` with
//! `name`, `points`, `max_points`, `output`.

use serde::Serialize;

use super::model::GradeReport;

/// PrairieLearn's results object.
#[derive(Debug, Clone, Serialize)]
pub struct Results {
    pub gradable: bool,
    pub score: f64,
    pub message: String,
    /// Why the submission could not be graded (only when `gradable` is false).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format_errors: Option<Vec<String>>,
    pub tests: Vec<Test>,
}

/// One test as PrairieLearn's `<pl-external-grader-results>` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Test {
    pub name: String,
    pub points: f64,
    pub max_points: f64,
    pub output: String,
}

/// `score / max` clamped to 0..1 (0 when there is nothing to earn).
pub fn fraction(score: f64, max: f64) -> f64 {
    if max > 0.0 {
        (score / max).clamp(0.0, 1.0)
    } else {
        0.0
    }
}

impl Results {
    /// Not gradable: PrairieLearn awards nothing and does not count the attempt.
    pub fn not_gradable(message: String) -> Self {
        Results {
            gradable: false,
            score: 0.0,
            format_errors: Some(vec![message.clone()]),
            message,
            tests: Vec::new(),
        }
    }
}

/// Render `report` as PrairieLearn results JSON.
pub fn render(report: &GradeReport) -> Result<String, serde_json::Error> {
    let results = Results {
        gradable: true,
        score: fraction(f64::from(report.score), f64::from(report.max_score)),
        message: super::gradescope::summary(report),
        format_errors: None,
        tests: report
            .checks
            .iter()
            .map(|c| Test {
                name: format!("{}: {}", report.exercise, c.id),
                points: f64::from(c.points),
                max_points: f64::from(c.max_points),
                output: c.message.clone(),
            })
            .collect(),
    };
    serde_json::to_string_pretty(&results)
}

/// The results of a run that could not be graded.
pub fn could_not_grade(exercise: &str, reason: &str) -> Result<String, serde_json::Error> {
    serde_json::to_string_pretty(&Results::not_gradable(format!(
        "{exercise}: could not be graded: {reason}"
    )))
}
