//! A server under test: started in its own process group, its address read from its
//! `listening on <addr>` line, and stopped by that group's id (never by name).

use anyhow::{Context, Result, bail};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A running server process (the leader of its own process group).
#[derive(Debug)]
pub struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Server {
    /// Starts `cmd` in a new process group and waits up to `timeout` for it to print
    /// `listening on <addr>` on stdout. The rest of its stdout is drained in the
    /// background so the server never blocks on a full pipe.
    pub fn start(mut cmd: Command, timeout: Duration) -> Result<Server> {
        cmd.stdin(Stdio::null()).stdout(Stdio::piped());
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let mut child = cmd
            .spawn()
            .with_context(|| format!("cannot start {cmd:?}"))?;
        let stdout = child.stdout.take().context("no stdout pipe")?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            for line in lines.by_ref() {
                let Ok(line) = line else { return };
                if let Some(addr) = line.trim().strip_prefix("listening on ") {
                    let _ = tx.send(addr.to_string());
                    break;
                }
            }
            for _ in lines {}
        });
        let addr = match rx.recv_timeout(timeout) {
            Ok(a) => a,
            Err(_) => {
                let mut server = Server {
                    child,
                    addr: SocketAddr::from(([127, 0, 0, 1], 0)),
                };
                let _ = server.stop_inner();
                bail!("{cmd:?} did not print `listening on <addr>` within {timeout:?}");
            }
        };
        let addr = parse_addr(&addr).with_context(|| format!("{cmd:?} printed a bad address"));
        let mut server = Server {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        };
        match addr {
            Ok(a) => {
                server.addr = a;
                Ok(server)
            }
            Err(e) => {
                let _ = server.stop_inner();
                Err(e)
            }
        }
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The server's pid, which is also its process group id.
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Stops the whole process group: SIGTERM, up to 3 s of grace, then SIGKILL. The
    /// leader is reaped last, so its pid (the group id) cannot be reused meanwhile.
    pub fn stop(mut self) -> Result<()> {
        self.stop_inner()
    }

    fn stop_inner(&mut self) -> Result<()> {
        let pgid = Pid::from_raw(self.pid());
        let _ = killpg(pgid, Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline && crate::procstat::group_stats(pgid.as_raw()).processes > 0
        {
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = killpg(pgid, Signal::SIGKILL);
        self.child.wait().context("cannot reap the server")?;
        Ok(())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.stop_inner();
        }
    }
}

/// Parses `host:port`, accepting `localhost` for the loopback address.
pub fn parse_addr(s: &str) -> Result<SocketAddr> {
    let s = s.trim();
    if let Ok(a) = s.parse() {
        return Ok(a);
    }
    let (host, port) = s.rsplit_once(':').context("expected host:port")?;
    let port: u16 = port.parse().context("bad port")?;
    match host {
        "localhost" => Ok(SocketAddr::from(([127, 0, 0, 1], port))),
        _ => bail!("unsupported host {host:?} (loopback only)"),
    }
}
