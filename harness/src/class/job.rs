//! Grading one submission from the batch's side: build it if it is a crate, then hand it
//! to a worker process (`proclab grade-class --worker JOB`) and collect its record.
//!
//! Each grading runs in its own worker process, not a thread: a tracer waits for its
//! tracees with wait-family calls that would see another thread's tracees in the same
//! process, a worker that crashes takes no other grading with it, and stopping the batch
//! is a SIGTERM to each worker, which tears its run down itself.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::build::{BuildError, build, stage};
use super::child::{End, Target, supervise, tail};
use super::config::ClassConfig;
use super::discover::{Submission, SubmissionKind};
use super::outcome::{Outcome, Status};
use super::store::{Store, write_atomic};

/// What a worker process is asked to do (written as JSON to a job file).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkerJob {
    pub student: String,
    pub exercise: String,
    /// The submission's command line.
    pub command: Vec<String>,
    /// The exercise file, when the class config overrides the built-in one.
    pub spec: Option<PathBuf>,
    /// Content key to stamp on the record.
    pub key: String,
    /// Where the worker writes its [`Outcome`] (JSON).
    pub outcome_path: PathBuf,
    /// Where the worker writes the HTML report.
    pub report_path: PathBuf,
    /// Directories the submission cannot read (the class and output folders)…
    #[serde(default)]
    pub hide: Vec<PathBuf>,
    /// …except its own folder.
    #[serde(default)]
    pub expose: Vec<PathBuf>,
    /// Grade on the virtual clock (`--clock virtual`).
    #[serde(default)]
    pub virtual_clock: bool,
    /// The pool slot that runs it: the run is pinned to the allowed CPUs in slot order,
    /// so parallel workers spread evenly (by pid, as a lone grader does, they doubled up
    /// on one CPU as often as not and left the other idle).
    #[serde(default)]
    pub cpu_turn: Option<usize>,
}

/// Shared, read-only context of every job.
#[derive(Debug)]
pub struct JobContext<'a> {
    pub store: &'a Store,
    pub config: &'a ClassConfig,
    pub stop: &'a AtomicBool,
    /// The `proclab` executable that runs workers.
    pub worker_exe: &'a Path,
    /// A worker that takes longer than this is killed (the tracer's own limits should
    /// end every run long before).
    pub worker_deadline: Duration,
    pub clock: crate::trace::ClockMode,
}

/// A job's result: a record, or nothing because the batch was stopped.
#[derive(Debug)]
pub enum JobResult {
    Done(Outcome),
    Interrupted { student: String, exercise: String },
}

/// Build (if needed) and grade one submission whose content key is `key`.
pub fn run(sub: &Submission, key: &str, slot: usize, ctx: &JobContext<'_>) -> JobResult {
    let started = Instant::now();
    let interrupted = || JobResult::Interrupted {
        student: sub.student.clone(),
        exercise: sub.exercise.clone(),
    };
    let command = match &sub.kind {
        SubmissionKind::Missing { reason } => {
            return JobResult::Done(Outcome::without_checks(
                &sub.student,
                &sub.exercise,
                Status::Missing,
                reason.clone(),
                key,
            ));
        }
        SubmissionKind::Script { argv, .. } => argv.clone(),
        SubmissionKind::Executable { file } => vec![file.to_string_lossy().into_owned()],
        SubmissionKind::Crate { dir } => {
            let work = ctx
                .store
                .work_dir()
                .join("build")
                .join(&sub.student)
                .join(&sub.exercise);
            let staging = work.join("src");
            if let Err(e) = stage(dir, &staging) {
                let msg = format!("cannot copy the crate to {}: {e}", staging.display());
                return JobResult::Done(error(sub, key, msg, started));
            }
            let target = work.join("target");
            let timeout = Duration::from_secs(ctx.config.build_timeout_secs);
            match build(
                &staging,
                &ctx.config.crate_rule.build,
                &target,
                timeout,
                ctx.stop,
            ) {
                Ok(exe) => vec![exe.to_string_lossy().into_owned()],
                Err(BuildError::Stopped) => return interrupted(),
                Err(e @ BuildError::Failed(_)) => {
                    let mut outcome = Outcome::without_checks(
                        &sub.student,
                        &sub.exercise,
                        Status::BuildError,
                        e.to_string(),
                        key,
                    );
                    outcome.seconds = started.elapsed().as_secs_f64();
                    return JobResult::Done(outcome);
                }
                Err(e @ BuildError::Spawn { .. }) => {
                    return JobResult::Done(error(sub, key, e.to_string(), started));
                }
            }
        }
    };
    let first = match attempt(sub, key, command.clone(), slot, ctx, started) {
        JobResult::Done(outcome) if outcome.status == Status::Error => outcome,
        other => return other,
    };
    // Could not grade: a fault of the grader's side (a port held for a moment, a
    // resource exhausted under load) may be gone a moment later; try once more before
    // recording an error, never a fail.
    match attempt(sub, key, command, slot, ctx, started) {
        JobResult::Done(mut second) => {
            second.attempts = 2;
            if second.status == Status::Error && second.detail != first.detail {
                second.detail = format!("{}\n(first attempt: {})", second.detail, first.detail);
            }
            JobResult::Done(second)
        }
        interrupted => interrupted,
    }
}

/// One grading of `command` by a worker process.
fn attempt(
    sub: &Submission,
    key: &str,
    command: Vec<String>,
    slot: usize,
    ctx: &JobContext<'_>,
    started: Instant,
) -> JobResult {
    let interrupted = || JobResult::Interrupted {
        student: sub.student.clone(),
        exercise: sub.exercise.clone(),
    };
    let (hide, expose) = privacy(sub, &command, ctx);
    let jobs_dir = ctx.store.work_dir().join("jobs");
    let stem = format!("{}--{}", sub.student, sub.exercise);
    let job = WorkerJob {
        student: sub.student.clone(),
        exercise: sub.exercise.clone(),
        command,
        spec: ctx.config.spec(&sub.exercise).map(Path::to_path_buf),
        key: key.to_string(),
        outcome_path: jobs_dir.join(format!("{stem}.outcome.json")),
        report_path: ctx.store.report_path(&sub.student, &sub.exercise),
        hide,
        expose,
        virtual_clock: ctx.clock == crate::trace::ClockMode::Virtual,
        cpu_turn: Some(slot),
    };
    let job_path = jobs_dir.join(format!("{stem}.job.json"));
    let written = serde_json::to_vec(&job)
        .map_err(std::io::Error::other)
        .and_then(|json| write_atomic(&job_path, &json));
    if let Err(e) = written {
        return JobResult::Done(error(
            sub,
            key,
            format!("cannot write job file: {e}"),
            started,
        ));
    }
    let _ = std::fs::remove_file(&job.outcome_path);
    // A fresh working directory per grading: what a submission writes to relative paths
    // lands there, never in the instructor's current directory or another grading's.
    let scratch = ctx.store.work_dir().join("run").join(&stem);
    let _ = std::fs::remove_dir_all(&scratch);
    if let Err(e) = std::fs::create_dir_all(&scratch) {
        let msg = format!("cannot create {}: {e}", scratch.display());
        return JobResult::Done(error(sub, key, msg, started));
    }
    let mut cmd = Command::new(ctx.worker_exe);
    cmd.arg("grade-class")
        .arg("--worker")
        .arg(&job_path)
        .current_dir(&scratch);
    die_with_parent(&mut cmd);
    let done = match supervise(cmd, ctx.worker_deadline, ctx.stop, Target::Child) {
        Ok(done) => done,
        Err(e) => {
            let msg = format!("cannot start worker {}: {e}", ctx.worker_exe.display());
            return JobResult::Done(error(sub, key, msg, started));
        }
    };
    let _ = std::fs::remove_file(&job_path);
    let _ = std::fs::remove_dir_all(&scratch);
    let result = match done.end {
        End::Stopped => return interrupted(),
        End::TimedOut => Err(format!(
            "the grader did not finish within {} s",
            ctx.worker_deadline.as_secs()
        )),
        End::Exited(status) => read_outcome(&job.outcome_path).map_err(|e| {
            format!(
                "the grader failed ({status}): {e}\n{}",
                tail(&done.stderr, 20)
            )
        }),
    };
    let _ = std::fs::remove_file(&job.outcome_path);
    JobResult::Done(match result {
        Ok(mut outcome) => {
            outcome.seconds = started.elapsed().as_secs_f64();
            outcome
        }
        Err(msg) => error(sub, key, msg, started),
    })
}

fn read_outcome(path: &Path) -> Result<Outcome, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("no result ({e})"))?;
    serde_json::from_slice(&bytes).map_err(|e| format!("unreadable result ({e})"))
}

fn error(sub: &Submission, key: &str, detail: String, started: Instant) -> Outcome {
    let mut outcome =
        Outcome::without_checks(&sub.student, &sub.exercise, Status::Error, detail, key);
    outcome.seconds = started.elapsed().as_secs_f64();
    outcome
}

/// The worker gets SIGKILL when the batch process dies, even by SIGKILL (which no
/// handler sees): its tracer then dies too and PTRACE_O_EXITKILL takes the submission
/// with it. Without this a killed batch leaves every running grading behind.
fn die_with_parent(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    let parent = nix::unistd::getpid();
    // SAFETY: between fork and exec the closure makes only async-signal-safe syscalls
    // (prctl, getppid) and allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)?;
            // The batch died before the prctl took effect.
            if nix::unistd::getppid() != parent {
                return Err(nix::errno::Errno::ESRCH.into());
            }
            Ok(())
        });
    }
}

/// What a submission may not read: the class folder (the other students' submissions)
/// and the output folder; what stays visible inside them: the student's own folder and
/// the built program's folder.
fn privacy(
    sub: &Submission,
    command: &[String],
    ctx: &JobContext<'_>,
) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let own = match &sub.kind {
        SubmissionKind::Script { file, .. } | SubmissionKind::Executable { file } => file.parent(),
        SubmissionKind::Crate { dir } => dir.parent(),
        SubmissionKind::Missing { .. } => None,
    };
    let Some(student_dir) = own.and_then(|d| std::path::absolute(d).ok()) else {
        return (Vec::new(), Vec::new());
    };
    let mut hide = Vec::new();
    if let Some(class_dir) = student_dir.parent() {
        hide.push(class_dir.to_path_buf());
    }
    hide.extend(std::path::absolute(&ctx.store.root).ok());
    let mut expose = vec![student_dir];
    if let SubmissionKind::Crate { .. } = sub.kind {
        expose.extend(
            command
                .first()
                .and_then(|exe| Path::new(exe).parent())
                .and_then(|d| std::path::absolute(d).ok()),
        );
    }
    (hide, expose)
}
