//! Load generator: `loadgen --addr A --concurrency C --count N --timeout-s T`.
//! C concurrent connections to a loopback server speaking the upper-case echo protocol,
//! each a short request/response then close, N in total, within T seconds; prints one
//! JSON object (connections/s, p50/p99 latency, errors). Exit status 1 if any failed.

use anyhow::Result;
use clap::Parser;
use proclab_benches::load::{LoadConfig, run};
use std::time::Duration;

#[derive(Parser)]
#[command(about = "Loopback load generator for the upper-case echo servers")]
struct Args {
    /// Server address, host:port (loopback only).
    #[arg(long)]
    addr: String,
    /// Concurrent connections.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Total connections.
    #[arg(long, default_value_t = 1000)]
    count: usize,
    /// Give up after this many seconds (connections in flight then count as failed).
    #[arg(long, default_value_t = 30.0)]
    timeout_s: f64,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let cfg = LoadConfig {
        addr: proclab_benches::server::parse_addr(&args.addr)?,
        concurrency: args.concurrency,
        count: args.count,
        timeout: Duration::try_from_secs_f64(args.timeout_s)?,
    };
    let report = run(&cfg)?;
    println!("{}", serde_json::to_string(&report)?);
    if report.errors > 0 {
        std::process::exit(1);
    }
    Ok(())
}
