//! The answer to "what is wrong with a process per client": a fixed pool of worker
//! processes, started before the first client, each looping accept → serve. No process is
//! created while clients are served, however many come.
//!
//! Same protocol as `socket-server` (upper-case echo). Prints `listening on <addr>` once
//! the workers run. CLI: `--workers 4` `--host 127.0.0.1` `--port 8080` (`--port 0` picks
//! a free port). SIGTERM/SIGINT terminate and reap the workers, then exit 0.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};

use anyhow::Context;
use clap::Parser;
use multiprocessing::Process;
use nix::sys::signal::{SigSet, Signal};

#[derive(Parser)]
#[command(about = "TCP upper-case echo server with a fixed pool of worker processes")]
struct Cli {
    /// Number of worker processes.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=1024))]
    workers: u32,
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Port to bind; 0 picks a free one.
    #[arg(long, default_value_t = 8080)]
    port: u16,
}

fn signals() -> SigSet {
    let mut set = SigSet::empty();
    set.add(Signal::SIGTERM);
    set.add(Signal::SIGINT);
    set
}

fn talk(conn: &mut TcpStream) {
    let mut buf = [0u8; 8192];
    loop {
        let n = match conn.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        buf[..n].make_ascii_uppercase();
        if conn.write_all(&buf[..n]).is_err() {
            return;
        }
    }
}

/// A worker: accept a client, serve it, accept the next, until terminated.
fn worker(server: TcpListener) {
    let _ = signals().thread_unblock(); // the parent blocked them; a worker dies of SIGTERM
    loop {
        if let Ok((mut conn, _addr)) = server.accept() {
            talk(&mut conn);
        }
    }
}

fn main() -> anyhow::Result<()> {
    let _guard = multiprocessing::init();
    let cli = Cli::parse();
    let mask = signals();
    mask.thread_block().context("blocking signals")?;
    // The listening socket first (std's backlog is at least 128), then the workers.
    let server = TcpListener::bind((cli.host.as_str(), cli.port))
        .with_context(|| format!("binding {}:{}", cli.host, cli.port))?;
    let mut workers = Vec::new();
    for _ in 0..cli.workers {
        let listener = server.try_clone()?;
        let mut p = Process::new(move || worker(listener));
        p.start()?;
        workers.push(p);
    }
    println!("listening on {}", server.local_addr()?);
    // Wait for SIGTERM or SIGINT; the workers do all the serving.
    mask.wait().context("sigwait")?;
    for p in &mut workers {
        p.terminate()?;
    }
    for p in &mut workers {
        p.join()?;
    }
    Ok(())
}
