//! `proclab grade-class` and `proclab merge`: the command-line side of [`crate::class`].
//!
//! Exit status of `grade-class`: 0 the batch finished (whatever the students' verdicts:
//! they are in the gradebook), 2 it could not run or some outputs could not be written,
//! 130 it was stopped by Ctrl-C or SIGTERM (finished rows are kept; rerun to resume).
//! `merge`: 0 merged, 2 could not.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use clap::Args;

use crate::class::batch::{self, BatchOptions};
use crate::class::config::ClassConfig;
use crate::class::merge;
use crate::class::progress::Progress;
use crate::class::shard::Shard;
use crate::class::{spec, worker};
use crate::exercise::ExerciseId;
use crate::trace::ClockMode;

/// `proclab grade-class DIR …`
#[derive(Debug, Clone, Args)]
pub struct GradeClassArgs {
    /// Class folder: one subfolder per student, holding files named after the exercises
    /// (start_target.py, isolation, a Cargo crate socket-server/, …).
    #[arg(required_unless_present = "worker")]
    pub dir: Option<PathBuf>,
    /// Exercises to grade, comma-separated (default: all).
    #[arg(long, short = 'e', value_delimiter = ',')]
    pub exercises: Vec<String>,
    /// Gradings run at once (default: four per available CPU, at most 32, as gradings
    /// mostly wait on the submissions' sleeps and sockets; two per CPU on the virtual
    /// clock when no exercise is a server, as gradings then compute).
    #[arg(long, short = 'j')]
    pub jobs: Option<usize>,
    /// Output folder (gradebook.csv, junit.xml, index.html, students/…).
    #[arg(long, short = 'o', default_value = "grades")]
    pub out: PathBuf,
    /// Regrade every submission, even those unchanged since the last run.
    #[arg(long)]
    pub force: bool,
    /// Grade only shard I of N (students sorted by name; student k goes to shard k % N).
    #[arg(long, value_name = "I/N")]
    pub shard: Option<Shard>,
    /// Class configuration (file naming, run rules, per-exercise spec files).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// No progress bar and no summary line.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// The clock the program runs on: `virtual` (time jumps over sleeps while nothing of
    /// the run can run; servers always run on the real clock), or `real`.
    #[arg(long, value_enum, default_value_t = crate::trace::ClockMode::Virtual)]
    pub clock: crate::trace::ClockMode,
    /// Run `python3` as PATH gives it, even when it is a version manager's shim (by
    /// default the shim is asked once which interpreter it runs, and that one runs).
    #[arg(long)]
    pub keep_shims: bool,
    /// Internal: grade one submission described by a job file.
    #[arg(long, hide = true, value_name = "JOB")]
    pub worker: Option<PathBuf>,
}

/// `proclab merge SHARD_OUT… --out OUT`
#[derive(Debug, Clone, Args)]
pub struct MergeArgs {
    /// Output folders of `grade-class --shard` runs.
    #[arg(required = true)]
    pub sources: Vec<PathBuf>,
    /// The merged output folder (may be one of the sources).
    #[arg(long, short = 'o')]
    pub out: PathBuf,
}

/// Run `grade-class`.
pub fn run_grade_class(args: GradeClassArgs) -> ExitCode {
    if let Some(job) = &args.worker {
        return ExitCode::from(worker::main(job) as u8);
    }
    match grade_class(&args) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("proclab grade-class: {message}");
            ExitCode::from(2)
        }
    }
}

fn grade_class(args: &GradeClassArgs) -> Result<ExitCode, String> {
    let dir = args.dir.clone().ok_or("missing class folder")?;
    if !dir.is_dir() {
        return Err(format!("{} is not a folder", dir.display()));
    }
    let mut config = match &args.config {
        Some(path) => ClassConfig::load(path).map_err(|e| e.to_string())?,
        None => ClassConfig::default(),
    };
    if !args.keep_shims {
        for r in crate::class::shims::resolve(&mut config.run, &dir) {
            if !args.quiet {
                eprintln!(
                    "proclab grade-class: {} is a script ({}, a version manager's shim): \
                     running {} directly (--keep-shims to run the shim)",
                    r.name,
                    r.shim.display(),
                    r.interpreter.display()
                );
            }
        }
    }
    let mut exercises: Vec<String> = Vec::new();
    let wanted = if args.exercises.is_empty() {
        spec::all_ids()
    } else {
        args.exercises.clone()
    };
    for exercise in wanted {
        let exercise = exercise.trim().to_string();
        if !exercise.is_empty() && !exercises.contains(&exercise) {
            exercises.push(exercise);
        }
    }
    let mut longest = 0;
    for exercise in &exercises {
        longest = longest.max(spec::resolve(exercise, config.spec(exercise))?.time_ms);
    }
    let jobs = match args.jobs {
        Some(0) => return Err("--jobs must be at least 1".into()),
        Some(n) => n,
        None => default_jobs(
            std::thread::available_parallelism().map_or(1, |n| n.get()),
            args.clock,
            &exercises,
        ),
    };
    let worker_exe =
        std::env::current_exe().map_err(|e| format!("cannot find proclab itself: {e}"))?;
    let options = BatchOptions {
        class_dir: dir,
        out: args.out.clone(),
        exercises,
        jobs,
        force: args.force,
        clock: args.clock,
        shard: args.shard,
        config,
        worker_exe,
        // The tracer ends every run at its time limit; this only catches a stuck grader.
        worker_deadline: Duration::from_millis(longest) + Duration::from_secs(120),
    };
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&stop))
            .map_err(|e| format!("cannot install the signal handler: {e}"))?;
    }
    let progress = Progress::stderr(args.quiet);
    let summary = batch::run(&options, &stop, &progress).map_err(|e| e.to_string())?;
    Ok(if stop.load(Ordering::SeqCst) || summary.interrupted > 0 {
        ExitCode::from(130)
    } else if summary.write_errors > 0 {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

/// Run `merge`.
pub fn run_merge(args: MergeArgs) -> ExitCode {
    match merge::merge(&args.sources, &args.out) {
        Ok(summary) => {
            for warning in &summary.warnings {
                eprintln!("warning: {warning}");
            }
            eprintln!(
                "merged {} shard outputs: {} students, {} complete rows in {}",
                args.sources.len(),
                summary.students,
                summary.complete,
                args.out.join("gradebook.csv").display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("proclab merge: {e}");
            ExitCode::from(2)
        }
    }
}

/// How many gradings run at once when `--jobs` is not given, on `cpus` CPUs.
fn default_jobs(cpus: usize, clock: ClockMode, exercises: &[String]) -> usize {
    // A server exercise, or one we cannot tell (a class config's own), may wait.
    let all_compute = clock == ClockMode::Virtual
        && exercises
            .iter()
            .all(|e| ExerciseId::parse(e).is_some_and(|id| !id.is_server()));
    if all_compute {
        // Nothing waits on a sleep: more jobs than two per CPU only compete for it
        // (measured on 2 CPUs, 60 start-target submissions, median of 3: 4 jobs 3.43 s,
        // 6 jobs 3.68 s, 8 jobs 3.80 s).
        (cpus * 2).clamp(2, 32)
    } else {
        // Gradings mostly wait (the exercises sleep, servers wait for clients): measured
        // on 2 CPUs, 60 start-target submissions took 200 s with 1 job, 48 s with 4, 28 s
        // with 8, 18 s with 16 (docs/class.md). Four per CPU, capped to bound memory.
        (cpus * 4).min(32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_jobs_per_cpu_only_when_every_grading_computes() {
        let ids = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let plain = ids(&["start-target", "join-order"]);
        assert_eq!(default_jobs(2, ClockMode::Virtual, &plain), 4);
        assert_eq!(default_jobs(2, ClockMode::Real, &plain), 8);
        let with_server = ids(&["start-target", "socket-server"]);
        assert_eq!(default_jobs(2, ClockMode::Virtual, &with_server), 8);
        assert_eq!(default_jobs(2, ClockMode::Virtual, &ids(&["my-own"])), 8);
        assert_eq!(default_jobs(64, ClockMode::Virtual, &plain), 32);
        assert_eq!(default_jobs(64, ClockMode::Real, &plain), 32);
    }
}
