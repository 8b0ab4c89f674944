//! The `proclab` command line. (Minimal wiring of `grade-class` and `merge` by the class
//! helper; the lead wires the other subcommands.)

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use proclab::cli_class::{self, GradeClassArgs, MergeArgs};
use proclab::cli_grade::{self, ExercisesArgs, GradeArgs};
use proclab::cli_platform::{self, AutogradeArgs, PackageArgs};
use proclab::cli_trace::{self, TraceArgs};

#[derive(Debug, Parser)]
#[command(
    name = "proclab",
    version,
    about = "Trace and grade process-programming exercises"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Grade one run of a submission against an exercise (exit 0 pass, 1 fail, 2 error).
    Grade(GradeArgs),
    /// List the exercises with a one-line description each.
    Exercises(ExercisesArgs),
    /// Grade every student's submissions in a class folder.
    GradeClass(GradeClassArgs),
    /// Combine the outputs of `grade-class --shard` runs into one gradebook.
    Merge(MergeArgs),
    /// Run a command under the tracer: its process tree and timeline, or the ledger.
    Trace(TraceArgs),
    /// Generate what a grading platform runs (Gradescope, PrairieLearn, GitHub Classroom).
    Package(PackageArgs),
    /// Grade a platform's submission folder and write its results file (run by the bundles).
    Autograde(AutogradeArgs),
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Grade(args) => cli_grade::run_grade(args),
        Command::Exercises(args) => cli_grade::run_exercises(args),
        Command::GradeClass(args) => cli_class::run_grade_class(args),
        Command::Merge(args) => cli_class::run_merge(args),
        Command::Trace(args) => cli_trace::run(args),
        Command::Package(args) => cli_platform::run_package(args),
        Command::Autograde(args) => cli_platform::run_autograde(args),
    }
}
