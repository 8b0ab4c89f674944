//! Concurrent socket server, one process per client (the lesson's exercise 3).
//!
//! As the lesson's Python: accept a client, start a process that serves it, accept the
//! next. The child sends back every chunk it receives, upper-cased, until the client
//! closes. `active_children()` reaps the children that ended, so zombies do not pile up.
//! On SIGTERM or SIGINT the server returns from `main`, and the guard terminates its
//! (daemonic) children and reaps them.
//!
//! Prints `listening on <addr>` once listening. CLI: `--host 127.0.0.1` `--port 8080`
//! (`--port 0` picks a free port). The client is `socket-client`. The benchmarks' tuned
//! version is `benches/src/bin/per-client-server.rs`.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::time::Duration;

use clap::Parser;
use multiprocessing::Process;
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

#[derive(Parser)]
#[command(about = "TCP upper-case echo server, one process per client")]
struct Cli {
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Port to bind; 0 picks a free one.
    #[arg(long, default_value_t = 8080)]
    port: u16,
}

/// SIGTERM and SIGINT: the server reads them from a signalfd instead of dying of them.
fn stop_signals() -> SigSet {
    let mut set = SigSet::empty();
    set.add(Signal::SIGTERM);
    set.add(Signal::SIGINT);
    set
}

/// The child: serve one client until it closes.
fn talk(mut conn: TcpStream) {
    let _ = stop_signals().thread_unblock(); // blocked in the parent; a child dies of them
    let mut buf = [0u8; 1024]; // conn.recv(1024)
    loop {
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                buf[..n].make_ascii_uppercase();
                if conn.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
}

fn main() -> anyhow::Result<()> {
    let _guard = multiprocessing::init(); // if __name__ == '__main__':
    let cli = Cli::parse();
    stop_signals().thread_block()?;
    let stop = SignalFd::with_flags(&stop_signals(), SfdFlags::SFD_CLOEXEC)?;
    let server = TcpListener::bind((cli.host.as_str(), cli.port))?;
    println!("listening on {}", server.local_addr()?);
    loop {
        // A client, a stop signal, or a second without either (to reap all the same).
        let fds: [&dyn AsFd; 2] = [&server, &stop];
        let ready = multiprocessing::wait(&fds, Some(Duration::from_secs(1)))?;
        multiprocessing::active_children(); // reaps the children that ended
        if ready.iter().any(|fd| std::ptr::addr_eq(*fd, &stop)) {
            return Ok(()); // the guard terminates the children and reaps them
        }
        if !ready.is_empty() {
            let (conn, _addr) = server.accept()?;
            let mut p = Process::new(move || talk(conn));
            p.set_daemon(true)?; // ends with the server
            p.start()?; // the parent's copy of conn is closed with the closure
        }
    }
}
