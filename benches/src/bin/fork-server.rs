//! Peer server: the minimal C-style forking server, written with raw `nix` calls
//! (socket/bind/listen, accept, fork, read/write, `_exit`, waitpid) — what the lesson's
//! process-per-client server costs without any library in between.
//! `fork-server --host 127.0.0.1 --port 0` prints `listening on <addr>`.

use anyhow::{Context, Result};
use clap::Parser;
use nix::sys::socket::{
    AddressFamily, Backlog, SockFlag, SockType, SockaddrIn, accept, bind, getsockname, listen,
    setsockopt, socket, sockopt,
};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{ForkResult, fork};
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

#[derive(Parser)]
#[command(about = "C-style fork-per-client upper-case echo server (raw nix calls)")]
struct Args {
    /// IPv4 address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    host: Ipv4Addr,
    /// Port to bind (0 picks a free one).
    #[arg(long, default_value_t = 8080)]
    port: u16,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let listener = socket(
        AddressFamily::Inet,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .context("socket")?;
    setsockopt(&listener, sockopt::ReuseAddr, &true).context("SO_REUSEADDR")?;
    let [a, b, c, d] = args.host.octets();
    bind(
        listener.as_raw_fd(),
        &SockaddrIn::new(a, b, c, d, args.port),
    )
    .with_context(|| format!("cannot bind {}:{}", args.host, args.port))?;
    listen(&listener, Backlog::new(128).context("backlog")?).context("listen")?;
    let local: SockaddrIn = getsockname(listener.as_raw_fd()).context("getsockname")?;
    println!("listening on {local}");
    loop {
        let conn = match accept(listener.as_raw_fd()) {
            // SAFETY: accept just returned this descriptor; nothing else owns it.
            Ok(fd) => unsafe { OwnedFd::from_raw_fd(fd) },
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e).context("accept"),
        };
        // SAFETY: this program is single-threaded, and the child only reads, writes and
        // calls _exit.
        match unsafe { fork() }.context("fork")? {
            ForkResult::Child => {
                drop(listener);
                let code = i32::from(serve(&conn).is_err());
                // SAFETY: _exit (nix has no wrapper) ends the child without running the
                // parent's atexit handlers or flushing its buffers.
                unsafe { libc::_exit(code) };
            }
            ForkResult::Parent { .. } => drop(conn),
        }
        reap_finished();
    }
}

/// The upper-case echo protocol on a raw descriptor, until EOF.
fn serve(conn: &OwnedFd) -> nix::Result<()> {
    let mut buf = [0u8; 4096];
    loop {
        let n = nix::unistd::read(conn, &mut buf)?;
        if n == 0 {
            return Ok(());
        }
        buf[..n].make_ascii_uppercase();
        let mut sent = 0;
        while sent < n {
            sent += nix::unistd::write(conn, &buf[sent..n])?;
        }
    }
}

/// Reaps every child that has already exited, without blocking (the C idiom of a
/// `waitpid(-1, WNOHANG)` loop after each accept).
fn reap_finished() {
    while let Ok(status) = waitpid(None, Some(WaitPidFlag::WNOHANG)) {
        if status == WaitStatus::StillAlive {
            break;
        }
    }
}
