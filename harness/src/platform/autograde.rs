//! Grading one student's submission folder on a platform: `grade-class` with a class of
//! one. The folder is copied into a scratch class folder (the submission then cannot
//! change what the platform handed in, and privacy rules hide the scratch area as they
//! hide a class), graded by the ordinary batch — discovery by file name, crate builds,
//! one worker process per exercise — and the records read back.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use crate::class::batch::{self, BatchOptions};
use crate::class::config::ClassConfig;
use crate::class::outcome::{Outcome, Status};
use crate::class::progress::Progress;
use crate::class::spec;
use crate::class::store::Store;

/// The student's name in the scratch class (it shows in logs only).
const STUDENT: &str = "submission";

/// What to grade.
#[derive(Debug, Clone)]
pub struct Request {
    /// The folder the platform put the student's files in.
    pub submission: PathBuf,
    pub exercises: Vec<String>,
    pub config: ClassConfig,
    /// Gradings at once. One by default: a platform's container usually has no network
    /// namespace to give each server, and two servers on one hard-coded port would clash.
    pub jobs: usize,
}

/// A graded submission: one record per exercise, in the requested order.
#[derive(Debug, Clone)]
pub struct Graded {
    pub outcomes: Vec<Outcome>,
    /// The files the student handed in (top level), to name what matched nothing.
    pub files: Vec<String>,
    pub seconds: f64,
}

/// Grade `request`; an error says why nothing at all could be graded.
pub fn grade(request: &Request) -> Result<Graded, String> {
    let started = Instant::now();
    let source = submission_root(&request.submission)?;
    let files = listing(&source);
    if files.is_empty() {
        return Err(format!(
            "the submission is empty: no files were handed in (looked in {})",
            request.submission.display()
        ));
    }
    let mut longest = 0;
    for exercise in &request.exercises {
        longest = longest.max(spec::resolve(exercise, request.config.spec(exercise))?.time_ms);
    }
    let work = std::env::temp_dir().join(format!("proclab-autograde-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    let class = work.join("class");
    let result = copy_tree(&source, &class.join(STUDENT))
        .map_err(|e| format!("cannot copy the submission to {}: {e}", class.display()))
        .and_then(|()| run_batch(request, &class, &work.join("out"), longest));
    let _ = std::fs::remove_dir_all(&work);
    Ok(Graded {
        outcomes: result?,
        files,
        seconds: started.elapsed().as_secs_f64(),
    })
}

fn run_batch(
    request: &Request,
    class: &Path,
    out: &Path,
    longest_ms: u64,
) -> Result<Vec<Outcome>, String> {
    let options = BatchOptions {
        class_dir: class.to_path_buf(),
        out: out.to_path_buf(),
        exercises: request.exercises.clone(),
        jobs: request.jobs.max(1),
        force: true,
        clock: crate::trace::ClockMode::Real,
        shard: None,
        config: request.config.clone(),
        worker_exe: std::env::current_exe()
            .map_err(|e| format!("cannot find proclab itself: {e}"))?,
        worker_deadline: Duration::from_millis(longest_ms) + Duration::from_secs(120),
    };
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        let _ = signal_hook::flag::register(signal, Arc::clone(&stop));
    }
    batch::run(&options, &stop, &Progress::stderr(true)).map_err(|e| e.to_string())?;
    let store = Store::new(out);
    Ok(request
        .exercises
        .iter()
        .map(|exercise| match store.read_record(STUDENT, exercise) {
            Ok(Some(outcome)) => outcome,
            Ok(None) => not_graded(exercise, "the grading was stopped before it finished"),
            Err(e) => not_graded(exercise, &e.to_string()),
        })
        .collect())
}

fn not_graded(exercise: &str, why: &str) -> Outcome {
    Outcome::without_checks(STUDENT, exercise, Status::Error, why, "")
}

/// The folder to grade: the submission itself, or the one folder it holds (a student who
/// zipped the folder rather than its files).
fn submission_root(dir: &Path) -> Result<PathBuf, String> {
    if !dir.is_dir() {
        return Err(format!(
            "no submission folder at {}: nothing was handed in",
            dir.display()
        ));
    }
    let entries = listing(dir);
    if let [only] = entries.as_slice() {
        let inner = dir.join(only);
        if inner.is_dir() && !inner.join("Cargo.toml").is_file() {
            return Ok(inner);
        }
    }
    Ok(dir.to_path_buf())
}

/// Names in `dir`, hidden ones (`.git`, `.DS_Store`) and macOS zip debris left out, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !n.starts_with('.') && n != "__MACOSX")
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Copy files and folders (permissions kept, symbolic links not followed: a link could
/// point at the grader's own files).
fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let target = to.join(entry.file_name());
        if kind.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else if kind.is_file() {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}
