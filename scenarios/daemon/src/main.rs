//! A daemon child ends with the main program; a normal child runs to completion.
//!
//! The daemon prints `<daemon-name> start`, would sleep `--daemon-sleep-ms` (default 10000)
//! and print `<daemon-name> end`, but the main program prints `主` and returns first, and the
//! guard returned by `init()` terminates it (as Python does at exit) — so `… end` never
//! appears; it may not even print `start`. The normal child prints `<normal-name> start`,
//! sleeps `--sleep-ms` (default 1000), prints `<normal-name> end`, and is joined.
//!
//! CLI: `--daemon-name daemon` `--normal-name normal` `--daemon-sleep-ms 10000`
//! `--sleep-ms 1000` `--start-method fork|spawn|forkserver` `--verbose`.

use std::time::Duration;

use clap::Parser;
use multiprocessing::{Process, StartMethod};

#[derive(Parser)]
#[command(about = "A daemonic child dies with the main program, a normal one is joined")]
struct Cli {
    /// The daemonic child's name.
    #[arg(long, default_value = "daemon")]
    daemon_name: String,
    /// The normal child's name.
    #[arg(long, default_value = "normal")]
    normal_name: String,
    /// How long the daemon would sleep.
    #[arg(long, default_value_t = 10_000)]
    daemon_sleep_ms: u64,
    /// How long the normal child sleeps.
    #[arg(long, default_value_t = 1_000)]
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

fn foo((name, sleep_ms, verbose): (String, u64, bool)) {
    say(verbose, &format!("{name} start"));
    std::thread::sleep(Duration::from_millis(sleep_ms));
    say(verbose, &format!("{name} end"));
}

fn main() -> anyhow::Result<()> {
    let _guard = multiprocessing::init();
    let cli = Cli::parse();
    multiprocessing::set_start_method(cli.start_method)?; // set_start_method('spawn')
    let mut d = Process::with_args(foo, (cli.daemon_name, cli.daemon_sleep_ms, cli.verbose));
    d.set_daemon(true)?; // before start, as in Python
    let mut p = Process::with_args(foo, (cli.normal_name, cli.sleep_ms, cli.verbose));
    d.start()?;
    p.start()?;
    say(cli.verbose, "主");
    Ok(()) // the guard terminates the daemon and joins the normal child
}
