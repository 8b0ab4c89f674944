//! Are processes' memories shared or isolated? A global `n = 100`; the child sets it to 0
//! and prints `子进程内:  0`; the parent still prints `主进程内:  100`.
//!
//! CLI: `--initial N` (default 100), `--start-method fork|spawn|forkserver`, `--verbose`.
//! The two spaces after the colon are Python's: `print('子进程内: ', n)` joins with a space.

use std::sync::atomic::{AtomicI64, Ordering};

use clap::Parser;
use multiprocessing::{Process, StartMethod};

#[derive(Parser)]
#[command(about = "Show that a child's write to a global does not reach the parent")]
struct Cli {
    /// The global's initial value.
    #[arg(long, default_value_t = 100, allow_negative_numbers = true)]
    initial: i64,
    /// fork, spawn or forkserver.
    #[arg(long, default_value = "fork")]
    start_method: StartMethod,
    /// Prefix every printed line with `[<pid>] `.
    #[arg(long)]
    verbose: bool,
}

/// `n = 100` (an atomic only because Rust wants shared statics to be thread-safe).
static N: AtomicI64 = AtomicI64::new(100);

fn say(verbose: bool, line: &str) {
    if verbose {
        println!("[{}] {line}", std::process::id());
    } else {
        println!("{line}");
    }
}

fn work(verbose: bool) {
    N.store(0, Ordering::SeqCst); // global n; n = 0
    say(verbose, &format!("子进程内:  {}", N.load(Ordering::SeqCst)));
}

fn main() -> anyhow::Result<()> {
    let _guard = multiprocessing::init();
    let cli = Cli::parse();
    multiprocessing::set_start_method(cli.start_method)?; // set_start_method('spawn')
    N.store(cli.initial, Ordering::SeqCst);
    let mut p = Process::with_args(work, cli.verbose);
    p.start()?;
    say(
        cli.verbose,
        &format!("主进程内:  {}", N.load(Ordering::SeqCst)),
    );
    p.join()?;
    Ok(())
}
