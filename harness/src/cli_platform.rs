//! `proclab package PLATFORM …` and `proclab autograde PLATFORM …`: the command-line side
//! of [`crate::platform`].
//!
//! Exit status of `autograde`: 0 when the results file was written (whatever the
//! verdicts, and also when nothing could be graded: the file says why), 2 when it could
//! not be written. `package`: 0 written, 2 could not.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};

use crate::class::config::ClassConfig;
use crate::class::spec;
use crate::class::store::write_atomic;
use crate::platform::autograde::{self, Request};
use crate::platform::bundle::{self, ExerciseInfo, Shipped};
use crate::platform::results;

/// `proclab package PLATFORM …`
#[derive(Debug, Clone, Args)]
pub struct PackageArgs {
    #[command(subcommand)]
    pub platform: PackagePlatform,
}

/// What every bundle needs.
#[derive(Debug, Clone, Args)]
pub struct BundleArgs {
    /// Exercises to grade, comma-separated (default: all).
    #[arg(long, short = 'e', value_delimiter = ',')]
    pub exercises: Vec<String>,
    /// The proclab binary to ship (default: this one). A static build
    /// (`--target x86_64-unknown-linux-musl`) runs on any image.
    #[arg(long, value_name = "FILE")]
    pub binary: Option<PathBuf>,
    /// A class configuration to ship and grade with (file names, run rules, exercise
    /// files: these must lie in the configuration's folder).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// The platforms.
#[derive(Debug, Clone, Subcommand)]
pub enum PackagePlatform {
    /// Gradescope's autograder zip (setup.sh, run_autograder, proclab).
    Gradescope {
        #[command(flatten)]
        bundle: BundleArgs,
        /// The zip to write.
        #[arg(long, short, default_value = "autograder.zip")]
        output: PathBuf,
        /// When students see the results (visible, after_due_date, after_published, hidden).
        #[arg(long, default_value = "visible", value_parser = ["visible", "after_due_date", "after_published", "hidden"])]
        visibility: String,
        /// Install Cargo in the image, for submissions that are Cargo crates.
        #[arg(long)]
        rust: bool,
    },
    /// PrairieLearn's external grader (serverFilesCourse/proclab/ and info.json options).
    Prairielearn {
        #[command(flatten)]
        bundle: BundleArgs,
        /// The folder to write (merge it into the course repository).
        #[arg(long, short, default_value = "prairielearn")]
        output: PathBuf,
        /// The grading image: any image with python3.
        #[arg(long, default_value = "prairielearn/grader-python")]
        image: String,
    },
    /// GitHub Classroom's autograding workflow (.github/workflows/classroom.yml).
    GithubClassroom {
        #[command(flatten)]
        bundle: BundleArgs,
        /// The template repository to write .github/ into.
        #[arg(long, short, default_value = ".")]
        output: PathBuf,
    },
}

/// `proclab autograde PLATFORM …`: what the bundles run on the platform.
#[derive(Debug, Clone, Args)]
pub struct AutogradeArgs {
    #[command(subcommand)]
    pub platform: AutogradePlatform,
}

/// What every platform run needs.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Exercises to grade, comma-separated (default: all).
    #[arg(long, short = 'e', value_delimiter = ',')]
    pub exercises: Vec<String>,
    /// Class configuration (file naming, run rules, per-exercise spec files).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Gradings at once (default 1: servers with hard-coded ports must not clash).
    #[arg(long, short = 'j', default_value_t = 1)]
    pub jobs: usize,
}

/// The platforms that run `autograde`.
#[derive(Debug, Clone, Subcommand)]
pub enum AutogradePlatform {
    /// Grade ROOT/submission, write ROOT/results/results.json.
    Gradescope {
        #[command(flatten)]
        run: RunArgs,
        /// The autograder tree.
        #[arg(long, env = "PROCLAB_AUTOGRADER_ROOT", default_value = "/autograder")]
        root: PathBuf,
        /// When students see the results.
        #[arg(long, default_value = "visible", value_parser = ["visible", "after_due_date", "after_published", "hidden"])]
        visibility: String,
    },
    /// Grade ROOT/student, write ROOT/results/results.json.
    Prairielearn {
        #[command(flatten)]
        run: RunArgs,
        /// The grading job's tree.
        #[arg(long, env = "PROCLAB_GRADE_ROOT", default_value = "/grade")]
        root: PathBuf,
    },
}

/// The exercises asked for (all by default), each resolved.
fn exercises(wanted: &[String], config: &ClassConfig) -> Result<Vec<ExerciseInfo>, String> {
    let wanted = if wanted.is_empty() {
        spec::all_ids()
    } else {
        wanted.to_vec()
    };
    let mut out: Vec<ExerciseInfo> = Vec::new();
    for id in wanted {
        let id = id.trim();
        if id.is_empty() || out.iter().any(|e| e.id == id) {
            continue;
        }
        let info = spec::resolve(id, config.spec(id))?;
        out.push(ExerciseInfo {
            id: info.id,
            max_score: info.max_score,
            time_ms: info.time_ms,
        });
    }
    Ok(out)
}

/// Run `package`.
pub fn run_package(args: PackageArgs) -> ExitCode {
    match package(&args.platform) {
        Ok(message) => {
            eprintln!("{message}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("proclab package: {e}");
            ExitCode::from(2)
        }
    }
}

/// What the bundle ships: the binary (with a warning when it is dynamically linked) and
/// the class configuration.
fn shipped(bundle: &BundleArgs) -> Result<(Shipped, Option<String>), String> {
    let binary = match &bundle.binary {
        Some(path) => path.clone(),
        None => std::env::current_exe().map_err(|e| format!("cannot find proclab itself: {e}"))?,
    };
    let warning = match bundle::is_dynamic(&binary) {
        None => {
            return Err(format!(
                "{} is not a Linux x86-64 program",
                binary.display()
            ));
        }
        Some(true) => Some(format!(
            "warning: {} is dynamically linked: it runs only on images whose glibc is as new \
             as this machine's. A static build runs anywhere: rustup target add \
             x86_64-unknown-linux-musl && cargo build --release -p proclab --target \
             x86_64-unknown-linux-musl, then --binary \
             target/x86_64-unknown-linux-musl/release/proclab",
            binary.display()
        )),
        Some(false) => None,
    };
    let config = bundle
        .config
        .as_deref()
        .map(bundle::config_files)
        .transpose()?;
    Ok((Shipped { binary, config }, warning))
}

fn package(platform: &PackagePlatform) -> Result<String, String> {
    let b = match platform {
        PackagePlatform::Gradescope { bundle, .. }
        | PackagePlatform::Prairielearn { bundle, .. }
        | PackagePlatform::GithubClassroom { bundle, .. } => bundle,
    };
    let (shipped, warning) = shipped(b)?;
    let ex = exercises(&b.exercises, &shipped.class_config())?;
    let (files, output, is_zip) = match platform {
        PackagePlatform::Gradescope {
            output,
            visibility,
            rust,
            ..
        } => (
            bundle::gradescope(&ex, &shipped, visibility, *rust)?,
            output,
            true,
        ),
        PackagePlatform::Prairielearn { output, image, .. } => {
            (bundle::prairielearn(&ex, &shipped, image)?, output, false)
        }
        PackagePlatform::GithubClassroom { output, .. } => {
            (bundle::github_classroom(&ex, &shipped)?, output, false)
        }
    };
    if let Some(warning) = warning {
        eprintln!("{warning}");
    }
    if is_zip {
        bundle::write_zip(&files, output)?;
    } else {
        bundle::write_dir(&files, output)?;
    }
    let names: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
    Ok(format!("wrote {} ({})", output.display(), names.join(", ")))
}

/// Run `autograde`.
pub fn run_autograde(args: AutogradeArgs) -> ExitCode {
    let (run, root, student_dir) = match &args.platform {
        AutogradePlatform::Gradescope { run, root, .. } => (run, root, "submission"),
        AutogradePlatform::Prairielearn { run, root } => (run, root, "student"),
    };
    let graded = request(run, &root.join(student_dir)).and_then(|r| autograde::grade(&r));
    if let Err(e) = &graded {
        eprintln!("proclab autograde: could not grade: {e}");
    }
    let json = match &args.platform {
        AutogradePlatform::Gradescope { visibility, .. } => {
            serde_json::to_vec_pretty(&results::gradescope(&graded, visibility))
        }
        AutogradePlatform::Prairielearn { .. } => {
            serde_json::to_vec_pretty(&results::prairielearn(&graded))
        }
    };
    let path = root.join("results").join("results.json");
    match json
        .map_err(|e| e.to_string())
        .and_then(|json| write_results(&path, &json))
    {
        Ok(()) => {
            if let Ok(g) = &graded {
                eprint!("{}", results::summary(g));
            }
            eprintln!("wrote {}", path.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("proclab autograde: {e}");
            ExitCode::from(2)
        }
    }
}

fn request(run: &RunArgs, submission: &Path) -> Result<Request, String> {
    let config = match &run.config {
        Some(path) => ClassConfig::load(path).map_err(|e| e.to_string())?,
        None => ClassConfig::default(),
    };
    let exercises = exercises(&run.exercises, &config)?
        .into_iter()
        .map(|e| e.id)
        .collect();
    Ok(Request {
        submission: submission.to_path_buf(),
        exercises,
        config,
        jobs: run.jobs,
    })
}

fn write_results(path: &Path, json: &[u8]) -> Result<(), String> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    write_atomic(path, json).map_err(|e| format!("cannot write {}: {e}", path.display()))
}
