//! The benchmarks' process-per-client server: the lesson's exercise 3 (whose reference
//! solution, written for reading, is `scenarios/socket-server`), tuned for throughput.
//!
//! For every accepted client a new process (fork) serves it: every chunk received is sent
//! back upper-cased (ASCII) until the client closes. The parent keeps accepting, reaps
//! finished children as they end (SIGCHLD), so zombies do not accumulate, and on
//! SIGTERM/SIGINT terminates and reaps every child and exits 0.
//!
//! Prints `listening on <addr>` (the bound address) once listening. CLI: `--host 127.0.0.1`
//! `--port 8080` (`--port 0` picks a free port). Tuning: one poll loop over the listener and
//! a signalfd (SIGCHLD, SIGTERM, SIGINT), accepts in batches, reaps only after a SIGCHLD.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsFd;

use anyhow::Context;
use clap::Parser;
use multiprocessing::Process;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
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

/// Clients accepted in a row before finished children are reaped again.
const ACCEPT_BATCH: usize = 32;

fn signals() -> SigSet {
    let mut set = SigSet::empty();
    for s in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGCHLD] {
        set.add(s);
    }
    set
}

/// The child: serve one client until it closes.
fn talk(mut conn: TcpStream) {
    // The parent blocks these to read them from a signalfd; the child must die of them.
    let _ = signals().thread_unblock();
    // recv(1024) as in the lesson; small, so the child copies few stack pages after fork.
    let mut buf = [0u8; 1024];
    loop {
        let n = match conn.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        buf[..n].make_ascii_uppercase();
        if conn.write_all(&buf[..n]).is_err() {
            break;
        }
    }
}

fn main() -> anyhow::Result<()> {
    let _guard = multiprocessing::init();
    let cli = Cli::parse();
    // One poll loop for clients, finished children and shutdown: signals arrive as reads.
    let mask = signals();
    mask.thread_block().context("blocking signals")?;
    let sigfd = SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
        .context("signalfd")?;
    // std listens with a backlog of at least 128.
    let server = TcpListener::bind((cli.host.as_str(), cli.port))
        .with_context(|| format!("binding {}:{}", cli.host, cli.port))?;
    server.set_nonblocking(true)?;
    println!("listening on {}", server.local_addr()?);

    let mut children = Vec::new();
    let mut stop = false;
    let mut ended = false;
    while !stop {
        // Clients first: a wake-up that finds more clients serves them before polling again.
        for _ in 0..ACCEPT_BATCH {
            match server.accept() {
                Ok((conn, _addr)) => {
                    // On Linux the accepted socket does not inherit the listener's
                    // O_NONBLOCK: it is already blocking, as `talk` wants.
                    let mut p = Process::new(move || talk(conn));
                    // A client that cannot get a process (EAGAIN at a process cap) is
                    // closed; the server keeps serving the others.
                    match p.start() {
                        Ok(()) => children.push(p), // the parent's copy of conn is closed
                        Err(e) => eprintln!("per-client-server: cannot serve a client: {e}"),
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::ConnectionAborted => {}
                Err(e) => return Err(e).context("accept"),
            }
        }
        // Reap whoever finished, only when a child ended (SIGCHLD): is_alive waits for
        // ended children without blocking. Bounded batches above keep this from starving
        // under a steady stream of clients (zombies would pile up).
        if ended {
            children.retain_mut(|p: &mut Process<_>| p.is_alive());
            ended = false;
        }
        let mut fds = [
            PollFd::new(server.as_fd(), PollFlags::POLLIN),
            PollFd::new(sigfd.as_fd(), PollFlags::POLLIN),
        ];
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(e).context("poll"),
        }
        if fds[1].any().unwrap_or(true) {
            while let Ok(Some(info)) = sigfd.read_signal() {
                let signo = info.ssi_signo as i32;
                stop |= signo == Signal::SIGTERM as i32 || signo == Signal::SIGINT as i32;
                ended |= signo == Signal::SIGCHLD as i32;
            }
        }
    }
    for p in &mut children {
        p.terminate()?;
    }
    for p in &mut children {
        p.join()?;
    }
    Ok(())
}
