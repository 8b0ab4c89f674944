//! The `proclab` command line.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use proclab::cli_trace::{self, TraceArgs};

#[derive(Debug, Parser)]
#[command(name = "proclab", version, about = "Trace and grade process-programming exercises")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a command under the tracer: its process tree and timeline, or the ledger.
    Trace(TraceArgs),
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Trace(args) => cli_trace::run(args),
    }
}
