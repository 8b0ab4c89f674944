//! Peer server: one thread per client, upper-case echo protocol.
//! `thread-server --host 127.0.0.1 --port 0` prints `listening on <addr>`.

use anyhow::{Context, Result};
use clap::Parser;
use std::net::TcpListener;

#[derive(Parser)]
#[command(about = "Thread-per-client upper-case echo server")]
struct Args {
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Port to bind (0 picks a free one).
    #[arg(long, default_value_t = 8080)]
    port: u16,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let listener = TcpListener::bind((args.host.as_str(), args.port))
        .with_context(|| format!("cannot bind {}:{}", args.host, args.port))?;
    println!("listening on {}", listener.local_addr()?);
    for conn in listener.incoming() {
        match conn {
            Ok(conn) => {
                std::thread::spawn(move || {
                    let _ = proclab_benches::echo::serve(conn);
                });
            }
            Err(e) => eprintln!("accept: {e}"),
        }
    }
    Ok(())
}
