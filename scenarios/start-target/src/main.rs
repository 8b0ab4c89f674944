//! The lesson's first way to start processes: `Process(target=piao, args=('egon',))`.
//!
//! Four children each print `<name> piaoing`, sleep, print `<name> piao end`; the parent
//! prints `主` right after starting them (start does not wait).
//!
//! CLI: `--names egon,alex,wupeiqi,yuanhao` `--sleep-ms N` (default: random 1–4 s per
//! child, like `random.randrange(1,5)`) `--start-method fork|spawn|forkserver`
//! `--verbose` (prefix every line with `[<pid>] `).

use std::time::Duration;

use clap::Parser;
use multiprocessing::{Process, StartMethod};
use rand::Rng;
use serde::{Deserialize, Serialize};

#[derive(Parser)]
#[command(about = "Start four processes with a target function (the lesson's way one)")]
struct Cli {
    /// The children's names.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "egon,alex,wupeiqi,yuanhao"
    )]
    names: Vec<String>,
    /// How long each child sleeps; random 1000..=4000 ms (whole seconds) when absent.
    #[arg(long)]
    sleep_ms: Option<u64>,
    /// fork, spawn or forkserver.
    #[arg(long, default_value = "fork")]
    start_method: StartMethod,
    /// Prefix every printed line with `[<pid>] `.
    #[arg(long)]
    verbose: bool,
}

/// What `piao` gets: Python's `args=('egon',)`, plus the test knobs.
#[derive(Serialize, Deserialize)]
struct Piao {
    name: String,
    sleep_ms: u64,
    verbose: bool,
}

fn say(verbose: bool, line: &str) {
    if verbose {
        println!("[{}] {line}", std::process::id());
    } else {
        println!("{line}");
    }
}

fn piao(args: Piao) {
    say(args.verbose, &format!("{} piaoing", args.name));
    std::thread::sleep(Duration::from_millis(args.sleep_ms));
    say(args.verbose, &format!("{} piao end", args.name));
}

fn main() -> anyhow::Result<()> {
    let _guard = multiprocessing::init(); // if __name__ == '__main__':
    let cli = Cli::parse();
    multiprocessing::set_start_method(cli.start_method)?; // set_start_method('spawn')
    let mut rng = rand::rng();
    let mut children = Vec::new();
    for name in cli.names {
        let sleep_ms = cli
            .sleep_ms
            .unwrap_or_else(|| rng.random_range(1..=4) * 1000);
        let args = Piao {
            name,
            sleep_ms,
            verbose: cli.verbose,
        };
        children.push(Process::with_args(piao, args));
    }
    for p in &mut children {
        p.start()?;
    }
    say(cli.verbose, "主");
    Ok(()) // the guard joins the children, as Python does at exit
}
