//! What grading one submission produced, as a record that outlives the run: the resume
//! cache, the gradebook, the reports and `merge` all read these records.

use serde::{Deserialize, Serialize};

/// Version of the record format; a record of another version is regraded.
pub const RECORD_VERSION: u32 = 1;

/// The state of one student × exercise cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Every check passed.
    Pass,
    /// The submission ran and failed at least one check.
    Fail,
    /// A containment limit (time, processes, memory, output) stopped the run.
    Limit,
    /// A Cargo crate that did not build.
    BuildError,
    /// No file for this exercise in the student's folder.
    Missing,
    /// The grader could not grade it (grader fault, interrupted, unreadable input).
    Error,
}

impl Status {
    /// The status as written in the gradebook (`pass`, `build-error`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Limit => "limit",
            Status::BuildError => "build-error",
            Status::Missing => "missing",
            Status::Error => "error",
        }
    }

    /// Did the submission fail to earn full marks for a reason other than passing?
    pub fn is_failure(self) -> bool {
        self != Status::Pass
    }

    /// A submission that ran (or was built) and was judged, passing or not: not missing,
    /// and not a fault of the grader.
    pub fn is_graded(self) -> bool {
        !matches!(self, Status::Missing | Status::Error)
    }

    /// Graded and not passing (a failed check, a limit, a build error).
    pub fn is_not_passing(self) -> bool {
        self.is_graded() && self != Status::Pass
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One check's result, as the grader reported it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckOutcome {
    pub id: String,
    pub passed: bool,
    pub message: String,
    pub points: f64,
    pub max_points: f64,
}

/// The graded (or not gradable) result of one student's submission for one exercise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub version: u32,
    pub student: String,
    pub exercise: String,
    pub status: Status,
    pub score: f64,
    pub max_score: f64,
    pub checks: Vec<CheckOutcome>,
    /// Why it is not a plain pass/fail: the limit, the build error's tail, the fault.
    pub detail: String,
    /// Content hash of the submission files, the exercise spec and the run rule.
    pub key: String,
    /// Wall time spent grading it (build included), in seconds.
    pub seconds: f64,
    /// The per-submission HTML report, relative to the student's output folder.
    pub report: Option<String>,
    /// How many times the worker graded it: 2 when the first attempt could not grade
    /// and it was retried once.
    #[serde(default = "one")]
    pub attempts: u32,
}

fn one() -> u32 {
    1
}

impl Outcome {
    /// A record with no checks (missing, build error, grader error).
    pub fn without_checks(
        student: &str,
        exercise: &str,
        status: Status,
        detail: impl Into<String>,
        key: &str,
    ) -> Self {
        Outcome {
            version: RECORD_VERSION,
            student: student.to_string(),
            exercise: exercise.to_string(),
            status,
            score: 0.0,
            max_score: 0.0,
            checks: Vec::new(),
            detail: detail.into(),
            key: key.to_string(),
            seconds: 0.0,
            report: None,
            attempts: 1,
        }
    }
}
