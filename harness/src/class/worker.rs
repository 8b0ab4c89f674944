//! The worker side: `proclab grade-class --worker JOB` grades one submission with the
//! ordinary grader and writes its record and HTML report.

use std::path::Path;

use super::job::WorkerJob;
use super::outcome::{CheckOutcome, Outcome, RECORD_VERSION, Status};
use super::store::write_atomic;
use crate::exercise::spec;
use crate::interrupts::Interrupts;
use crate::ledger::Ledger;
use crate::report::html;

/// A graded run, as the worker needs it.
#[derive(Debug, Clone)]
pub struct Graded {
    pub checks: Vec<CheckOutcome>,
    pub score: f64,
    pub max_score: f64,
    /// The containment limit that stopped the run, if one did.
    pub limit: Option<String>,
    pub ledger: Ledger,
}

/// Run the job in `job_path`; the process exit status: 0 when a record was written, 130
/// when stopped by SIGTERM or SIGINT (nothing written), 2 on error.
pub fn main(job_path: &Path) -> i32 {
    let job: WorkerJob = match std::fs::read(job_path)
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
    {
        Ok(job) => job,
        Err(e) => {
            eprintln!(
                "proclab: cannot read worker job {}: {e}",
                job_path.display()
            );
            return 2;
        }
    };
    let outcome = match grade(&job) {
        // Stopped: no record, so the next run grades it again.
        Ok(None) => return 130,
        Ok(Some(graded)) => record(&job, graded),
        Err(e) => Outcome::without_checks(&job.student, &job.exercise, Status::Error, e, &job.key),
    };
    let written = serde_json::to_vec_pretty(&outcome)
        .map_err(std::io::Error::other)
        .and_then(|json| write_atomic(&job.outcome_path, &json));
    match written {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("proclab: {e}");
            2
        }
    }
}

/// Turn a graded run into a record, writing its report.
fn record(job: &WorkerJob, graded: Graded) -> Outcome {
    let passed = graded.checks.iter().all(|c| c.passed);
    let status = match (&graded.limit, passed) {
        (Some(_), _) => Status::Limit,
        (None, true) => Status::Pass,
        (None, false) => Status::Fail,
    };
    let detail = graded
        .limit
        .as_ref()
        .map(|l| format!("stopped by the {l}"))
        .unwrap_or_default();
    let title = format!("{} — {}", job.exercise, job.student);
    let checks: Vec<html::Check<'_>> = graded
        .checks
        .iter()
        .map(|c| html::Check {
            id: &c.id,
            passed: c.passed,
            message: &c.message,
            points: c.points,
            max_points: c.max_points,
        })
        .collect();
    let page = html::render(&html::Page {
        title: &title,
        exercise: &job.exercise,
        verdict: status.as_str(),
        score: graded.score,
        max_score: graded.max_score,
        detail: &detail,
        checks: &checks,
        ledger: Some(&graded.ledger),
    });
    let mut outcome = Outcome {
        version: RECORD_VERSION,
        student: job.student.clone(),
        exercise: job.exercise.clone(),
        status,
        score: graded.score,
        max_score: graded.max_score,
        checks: graded.checks.clone(),
        detail,
        key: job.key.clone(),
        seconds: graded.ledger.wall_ns as f64 / 1e9,
        report: None,
        attempts: 1,
    };
    match write_atomic(&job.report_path, page.as_bytes()) {
        Ok(()) => outcome.report = super::batch::file_name(&job.report_path),
        Err(e) => eprintln!("proclab: {e}"),
    }
    outcome
}

/// Grade the job's command with the ordinary grader.
fn grade(job: &WorkerJob) -> Result<Option<Graded>, String> {
    let spec = match &job.spec {
        Some(path) => spec::load(path),
        None => spec::builtin(&job.exercise),
    }
    .map_err(|e| e.to_string())?;
    let mut opts = crate::grade::trace_options(&spec, job.command.clone());
    opts.hide = job.hide.clone();
    opts.expose = job.expose.clone();
    opts.cpu_turn = job.cpu_turn;
    if job.virtual_clock {
        opts.clock = crate::trace::ClockMode::Virtual;
    }
    // The batch stops a worker with SIGTERM: end the run cleanly (every process of the
    // submission killed and reaped, its cgroups removed) rather than die mid-trace.
    let interrupts = Interrupts::install();
    let graded = crate::grade::grade_with_stop(&spec, opts, |run| interrupts.connect(run));
    if interrupts.raised() {
        return Ok(None);
    }
    // Could not grade (the grader's environment, not the submission): an error record.
    let cmd = job.command.join(" ");
    let (report, ledger) = graded.map_err(|e| {
        let why = crate::cannot_grade::trace_error(&e, &job.command);
        format!("could not grade `{cmd}`: {why}")
    })?;
    if let Some(error) = &report.error {
        return Err(format!("could not grade `{cmd}`: {error}"));
    }
    Ok(Some(Graded {
        checks: report
            .checks
            .iter()
            .map(|c| CheckOutcome {
                id: c.id.clone(),
                passed: c.passed,
                message: c.message.clone(),
                points: f64::from(c.points),
                max_points: f64::from(c.max_points),
            })
            .collect(),
        score: f64::from(report.score),
        max_score: f64::from(report.max_score),
        limit: report.ledger.limit_hit.clone(),
        ledger,
    }))
}
