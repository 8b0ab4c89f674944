//! The batch: discover the class, reuse what is already graded, grade the rest on a pool
//! of workers, and keep the class outputs up to date as records arrive.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use super::config::ClassConfig;
use super::counts::Counts;
use super::discover::{self, Submission, SubmissionKind};
use super::gradebook::{self, ClassView, Records};
use super::hash::{self, KeyInputs};
use super::job::{self, JobContext, JobResult};
use super::outcome::{Outcome, Status};
use super::progress::Progress;
use super::shard::Shard;
use super::spec::{self, SpecInfo};
use super::store::{Manifest, Store, write_atomic};
use crate::report::html;

/// Everything `grade-class` was asked to do.
#[derive(Debug, Clone)]
pub struct BatchOptions {
    pub class_dir: PathBuf,
    pub out: PathBuf,
    /// Exercise ids, in gradebook column order.
    pub exercises: Vec<String>,
    pub jobs: usize,
    pub force: bool,
    /// The clock each grading runs on (not part of the content key: `--force` to regrade
    /// under another clock).
    pub clock: crate::trace::ClockMode,
    pub shard: Option<Shard>,
    pub config: ClassConfig,
    /// The `proclab` executable that runs workers.
    pub worker_exe: PathBuf,
    pub worker_deadline: Duration,
}

/// What a batch did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct BatchSummary {
    pub students: usize,
    pub submissions: usize,
    /// Graded (or found missing) in this run.
    pub ran: usize,
    /// Unchanged since a previous run; its record was kept.
    pub reused: usize,
    /// The whole class at the end: passing, not passing, missing, could not grade.
    pub counts: Counts,
    /// Not graded because the batch was stopped.
    pub interrupted: usize,
    /// Outputs that could not be written.
    pub write_errors: usize,
}

/// Why a batch could not start.
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    #[error(transparent)]
    Discover(#[from] discover::DiscoverError),
    #[error("{0}")]
    Spec(String),
    #[error("cannot write to output folder {path}: {source}")]
    Output {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The rule that decides how a submission runs, part of its content key.
fn rule<'a>(config: &'a ClassConfig, kind: &'a SubmissionKind) -> &'a [String] {
    match kind {
        SubmissionKind::Crate { .. } => &config.crate_rule.build,
        _ => &[],
    }
}

/// Grade the class. Stops early (leaving consistent outputs) when `stop` is raised.
pub fn run(
    options: &BatchOptions,
    stop: &AtomicBool,
    progress: &Progress,
) -> Result<BatchSummary, BatchError> {
    // Absolute, because workers run in a working directory of their own.
    let store = Store::new(std::path::absolute(&options.out).unwrap_or(options.out.clone()));
    let output_error = |source| BatchError::Output {
        path: options.out.clone(),
        source,
    };
    std::fs::create_dir_all(&options.out).map_err(output_error)?;
    let mut all = discover::students(&options.class_dir, Some(&options.out))?;
    if let Some(shard) = options.shard {
        all = shard.select(&all);
    }
    let students = all;
    let specs: BTreeMap<String, SpecInfo> = options
        .exercises
        .iter()
        .map(|e| {
            spec::resolve(e, options.config.spec(e))
                .map(|info| (e.clone(), info))
                .map_err(BatchError::Spec)
        })
        .collect::<Result<_, _>>()?;
    store
        .write_manifest(&Manifest {
            version: 1,
            exercises: options.exercises.clone(),
            students: students.clone(),
            shard: options.shard.map(|s| s.to_string()),
        })
        .map_err(output_error)?;

    let mut summary = BatchSummary {
        students: students.len(),
        ..BatchSummary::default()
    };
    let mut records = Records::new();
    let mut pending: Vec<(Submission, String)> = Vec::new();
    for student in &students {
        let dir = options.class_dir.join(student);
        for exercise in &options.exercises {
            let sub = discover::find(&options.config, student, &dir, exercise);
            let info = &specs[exercise];
            let key = hash::key(
                &sub.kind,
                &KeyInputs {
                    exercise,
                    spec: &info.fingerprint,
                    rule: rule(&options.config, &sub.kind),
                },
            );
            summary.submissions += 1;
            let cached = if options.force {
                None
            } else {
                // A record the grader could not make is never kept: grade it again.
                match store.read_record(student, exercise) {
                    Ok(record) => record.filter(|r| r.key == key && r.status != Status::Error),
                    Err(corrupt) => {
                        progress.warn(&corrupt.to_string());
                        None
                    }
                }
            };
            match cached {
                Some(record) => {
                    summary.reused += 1;
                    records.insert((student.clone(), exercise.clone()), record);
                }
                None => pending.push((sub, key)),
            }
        }
    }

    let view_students = students.clone();
    let write_outputs = |records: &Records| {
        let view = ClassView {
            exercises: &options.exercises,
            students: &view_students,
            records,
        };
        gradebook::write_all(&store, &view)
    };
    if let Err(e) = write_outputs(&records) {
        progress.warn(&format!("cannot write the gradebook: {e}"));
        summary.write_errors += 1;
    }

    let not_passing = records
        .values()
        .filter(|r| r.status.is_not_passing())
        .count();
    progress.start(pending.len() as u64, summary.reused, not_passing);
    let ctx = JobContext {
        store: &store,
        config: &options.config,
        stop,
        worker_exe: &options.worker_exe,
        worker_deadline: options.worker_deadline,
        clock: options.clock,
    };
    let mut last_write = Instant::now();
    let (serial, parallel) = server_lane(pending, options.jobs, progress);
    let mut on_result = |result| match result {
        JobResult::Done(mut outcome) => {
            finish(&store, &specs, &mut outcome, progress, &mut summary);
            progress.done(&outcome);
            summary.ran += 1;
            records.insert((outcome.student.clone(), outcome.exercise.clone()), outcome);
            // Keep the outputs current, but not after every single record.
            if last_write.elapsed() >= Duration::from_secs(1) {
                if let Err(e) = write_outputs(&records) {
                    progress.warn(&format!("cannot write the gradebook: {e}"));
                    summary.write_errors += 1;
                }
                last_write = Instant::now();
            }
        }
        JobResult::Interrupted { .. } => summary.interrupted += 1,
    };
    let grade = |slot, (sub, key): (Submission, String)| job::run(&sub, &key, slot, &ctx);
    let mut skipped = super::pool::run(parallel, options.jobs, stop, grade, &mut on_result);
    skipped += super::pool::run(serial, 1, stop, grade, &mut on_result);
    summary.interrupted += skipped;
    if let Err(e) = write_outputs(&records) {
        progress.warn(&format!("cannot write the gradebook: {e}"));
        summary.write_errors += 1;
    }
    summary.counts = Counts::of(&ClassView {
        exercises: &options.exercises,
        students: &view_students,
        records: &records,
    });
    for scratch in ["jobs", "run"] {
        let _ = std::fs::remove_dir_all(store.work_dir().join(scratch));
    }
    progress.finish(&summary);
    Ok(summary)
}

/// A submission to grade and its content key.
type Job = (Submission, String);

/// Split off the server exercises' jobs when runs get no private network namespace
/// here: two servers graded at once would then share the host's ports, and the one that
/// cannot bind would be graded wrongly. Those are graded one at a time, after the rest.
/// Returns (serial, parallel).
fn server_lane(pending: Vec<Job>, jobs: usize, progress: &Progress) -> (Vec<Job>, Vec<Job>) {
    let is_server = |(sub, _): &Job| {
        crate::exercise::ExerciseId::parse(&sub.exercise).is_some_and(|e| e.is_server())
    };
    let servers = pending.iter().filter(|j| is_server(j)).count();
    if jobs <= 1 || servers <= 1 {
        return (Vec::new(), pending);
    }
    match crate::trace::private_network() {
        Ok(()) => (Vec::new(), pending),
        Err(why) => {
            progress.warn(&format!(
                "no private network for each run here ({why}): the {servers} server \
                 submissions are graded one at a time, so their ports cannot clash"
            ));
            pending.into_iter().partition(is_server)
        }
    }
}

/// Complete a record (maximum score, a report for what the worker did not grade) and
/// store it.
fn finish(
    store: &Store,
    specs: &BTreeMap<String, SpecInfo>,
    outcome: &mut Outcome,
    progress: &Progress,
    summary: &mut BatchSummary,
) {
    if outcome.checks.is_empty()
        && let Some(info) = specs.get(&outcome.exercise)
    {
        outcome.max_score = info.max_score;
    }
    if outcome.report.is_none() {
        let path = store.report_path(&outcome.student, &outcome.exercise);
        if let Err(e) = write_atomic(&path, plain_report(outcome).as_bytes()) {
            progress.warn(&e.to_string());
            summary.write_errors += 1;
        } else {
            outcome.report = file_name(&path);
        }
    }
    if let Err(e) = store.write_record(outcome) {
        progress.warn(&format!(
            "result not saved, it will be regraded next run: {e}"
        ));
        summary.write_errors += 1;
    }
}

/// The report of a submission that was not run (missing, build error, grader error).
pub fn plain_report(outcome: &Outcome) -> String {
    let title = format!("{} — {}", outcome.exercise, outcome.student);
    html::render(&html::Page {
        title: &title,
        exercise: &outcome.exercise,
        verdict: outcome.status.as_str(),
        score: outcome.score,
        max_score: outcome.max_score,
        detail: &outcome.detail,
        checks: &[],
        ledger: None,
    })
}

/// The last component of `path`, as stored in a record.
pub fn file_name(path: &Path) -> Option<String> {
    path.file_name().map(|n| n.to_string_lossy().into_owned())
}
