//! The tracer-overhead workloads, each a self-contained program run untraced, under
//! `proclab trace`, and under strace:
//! - `tree`: the lesson's start-target shape: 4 children each print two lines, the parent
//!   prints `主` right after starting them, then waits for them;
//! - `tcp`: a fork-per-connection server and a client process in one tree, CONNS
//!   connections of TRIPS upper-case echo round trips each;
//! - `writes`: COUNT small writes to stdout, one syscall each;
//! - `cpu`: a CPU loop with no syscalls.

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, fork};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

#[derive(Parser)]
#[command(about = "Workloads for measuring a tracer's overhead")]
struct Args {
    #[command(subcommand)]
    work: Work,
}

#[derive(Subcommand)]
enum Work {
    /// Start N children that each print two lines (start-target's shape).
    Tree {
        #[arg(long, default_value_t = 4)]
        children: usize,
        /// Each child sleeps this long between its two lines.
        #[arg(long, default_value_t = 0)]
        sleep_ms: u64,
    },
    /// Fork-per-connection echo server plus a client process.
    Tcp {
        #[arg(long, default_value_t = 200)]
        conns: usize,
        #[arg(long, default_value_t = 10)]
        trips: usize,
    },
    /// Small writes to stdout, one write(2) each.
    Writes {
        #[arg(long, default_value_t = 100_000)]
        count: usize,
    },
    /// A CPU loop.
    Cpu {
        #[arg(long, default_value_t = 200_000_000)]
        iters: u64,
    },
}

const NAMES: [&str; 4] = ["egon", "alex", "wupeiqi", "yuanhao"];

fn main() -> Result<()> {
    match Args::parse().work {
        Work::Tree { children, sleep_ms } => tree(children, sleep_ms),
        Work::Tcp { conns, trips } => tcp(conns, trips),
        Work::Writes { count } => writes(count),
        Work::Cpu { iters } => {
            println!("{}", cpu(iters));
            Ok(())
        }
    }
}

/// Runs `body` in a forked child that exits with its result (0 for Ok, 1 for Err).
fn fork_child(body: impl FnOnce() -> Result<()>) -> Result<Pid> {
    // SAFETY: this program is single-threaded, so the child may do anything.
    match unsafe { fork() }.context("fork")? {
        ForkResult::Child => {
            let code = match body() {
                Ok(()) => 0,
                Err(e) => {
                    eprintln!("child: {e:#}");
                    1
                }
            };
            let _ = std::io::stdout().flush();
            // SAFETY: ends the child without running the parent's exit handlers.
            unsafe { libc::_exit(code) }
        }
        ForkResult::Parent { child } => Ok(child),
    }
}

fn wait_ok(pid: Pid) -> Result<()> {
    match waitpid(pid, None).context("waitpid")? {
        WaitStatus::Exited(_, 0) => Ok(()),
        other => bail!("child {pid} ended with {other:?}"),
    }
}

fn tree(children: usize, sleep_ms: u64) -> Result<()> {
    let mut pids = Vec::with_capacity(children);
    for i in 0..children {
        let name = NAMES[i % NAMES.len()];
        pids.push(fork_child(|| {
            println!("{name} piaoing");
            std::thread::sleep(Duration::from_millis(sleep_ms));
            println!("{name} piao end");
            Ok(())
        })?);
    }
    println!("主");
    pids.into_iter().try_for_each(wait_ok)
}

fn tcp(conns: usize, trips: usize) -> Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").context("bind")?;
    let addr = listener.local_addr()?;
    // The client is forked first: its connects queue in the backlog until accepted.
    let client = fork_child(|| {
        let msg = b"round trip\n";
        let mut reply = [0u8; 11];
        for _ in 0..conns {
            let mut s = TcpStream::connect(addr).context("connect")?;
            for _ in 0..trips {
                s.write_all(msg)?;
                s.read_exact(&mut reply)?;
                if reply != *msg.to_ascii_uppercase() {
                    bail!("wrong reply");
                }
            }
        }
        Ok(())
    })?;
    let mut handlers = Vec::with_capacity(conns);
    let mut client_status = None;
    for _ in 0..conns {
        let (conn, _) = listener.accept().context("accept")?;
        handlers.push(fork_child(|| Ok(proclab_benches::echo::serve(conn)?))?);
        // Reap whatever finished, like a real forking server; that may be the client.
        loop {
            match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(status @ WaitStatus::Exited(pid, _)) if pid == client => {
                    client_status = Some(status)
                }
                Ok(WaitStatus::Exited(pid, _)) => handlers.retain(|p| *p != pid),
                _ => break,
            }
        }
    }
    match client_status {
        None => wait_ok(client)?,
        Some(WaitStatus::Exited(_, 0)) => {}
        Some(other) => bail!("client {client} ended with {other:?}"),
    }
    handlers.into_iter().try_for_each(wait_ok)
}

fn writes(count: usize) -> Result<()> {
    let out = std::io::stdout();
    for _ in 0..count {
        nix::unistd::write(&out, b"w\n").context("write")?;
    }
    Ok(())
}

fn cpu(iters: u64) -> u64 {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..iters {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    std::hint::black_box(x)
}
