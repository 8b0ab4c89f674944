//! Start the four children of `start-target`, join them all, then print `主`: the parent
//! waits, and the children still run at the same time (all are started before the first
//! join).
//!
//! CLI: `--names`, `--sleep-ms`, `--start-method`, `--verbose`, as `start-target`.

use std::time::Duration;

use clap::Parser;
use multiprocessing::{Process, StartMethod};
use rand::Rng;
use serde::{Deserialize, Serialize};

#[derive(Parser)]
#[command(about = "Start four processes, join them all, then print 主")]
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
    let _guard = multiprocessing::init();
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
    for p in &mut children {
        p.join()?;
    }
    say(cli.verbose, "主");
    Ok(())
}
