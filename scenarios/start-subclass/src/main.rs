//! The lesson's second way: a type whose `run` is the child's body (`class Piao(Process)`).
//!
//! Same output and CLI as `start-target`: `--names`, `--sleep-ms`, `--start-method`,
//! `--verbose`.

use std::time::Duration;

use clap::Parser;
use multiprocessing::{Process, Run, StartMethod};
use rand::Rng;
use serde::{Deserialize, Serialize};

#[derive(Parser)]
#[command(about = "Start four processes defined as a type with `run` (the lesson's way two)")]
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

fn say(verbose: bool, line: &str) {
    if verbose {
        println!("[{}] {line}", std::process::id());
    } else {
        println!("{line}");
    }
}

/// `class Piao(Process)`: the fields are what `__init__` stores.
#[derive(Serialize, Deserialize)]
struct Piao {
    name: String,
    sleep_ms: u64,
    verbose: bool,
}

impl Run for Piao {
    fn run(&mut self) {
        say(self.verbose, &format!("{} piaoing", self.name));
        std::thread::sleep(Duration::from_millis(self.sleep_ms));
        say(self.verbose, &format!("{} piao end", self.name));
    }
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
        let piao = Piao {
            name: name.clone(),
            sleep_ms,
            verbose: cli.verbose,
        };
        // super().__init__(); self.name = name
        children.push(Process::from_run(piao).named(name));
    }
    for p in &mut children {
        p.start()?; // start calls run in the child
    }
    say(cli.verbose, "主");
    Ok(())
}
