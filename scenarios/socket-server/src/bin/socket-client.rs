//! The client for `socket-server` and `pool-server`: sends `--message` `--count` times and
//! prints each reply on its own line.
//!
//! CLI: `--addr 127.0.0.1:8080` `--message hello` `--count 1` `--delay-ms 0` (pause between
//! messages, to keep several clients connected at once).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;

#[derive(Parser)]
#[command(about = "Send messages to the upper-case echo server and print the replies")]
struct Cli {
    /// Server address.
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: String,
    /// What to send.
    #[arg(long, default_value = "hello")]
    message: String,
    /// How many times.
    #[arg(long, default_value_t = 1)]
    count: u32,
    /// Pause between messages, in milliseconds.
    #[arg(long, default_value_t = 0)]
    delay_ms: u64,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let mut conn =
        TcpStream::connect(&cli.addr).with_context(|| format!("connecting to {}", cli.addr))?;
    conn.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reply = vec![0u8; cli.message.len()];
    for i in 0..cli.count {
        if i > 0 && cli.delay_ms > 0 {
            std::thread::sleep(Duration::from_millis(cli.delay_ms));
        }
        conn.write_all(cli.message.as_bytes())?;
        conn.read_exact(&mut reply).context("reading the reply")?;
        println!("{}", String::from_utf8_lossy(&reply));
    }
    Ok(())
}
