//! The load generator's core: C concurrent clients, each connection a short
//! request/response with the upper-case echo protocol then close, until a fixed total
//! count or a deadline. Loopback only.

use crate::stats::quantile;
use anyhow::{Context, Result, bail};
use nix::errno::Errno;
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use nix::sys::socket::{
    AddressFamily, SockFlag, SockType, SockaddrIn, connect, getsockopt, socket, sockopt,
};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

/// The request every connection sends; the reply must be its upper-case form.
pub const MESSAGE: &[u8] = b"hello proclab\n";

/// What to run.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// Server address (must be loopback).
    pub addr: SocketAddr,
    /// Concurrent connections.
    pub concurrency: usize,
    /// Total connections to make.
    pub count: usize,
    /// Whole-run deadline: connections still in flight then count as failed.
    pub timeout: Duration,
}

/// What happened: throughput and latency of the connections that succeeded.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoadReport {
    /// Server address.
    pub addr: String,
    /// Concurrent connections.
    pub concurrency: usize,
    /// Connections asked for.
    pub count: usize,
    /// Connections that got the right reply.
    pub completed: usize,
    /// Connections that failed (connect, I/O, wrong reply or timeout).
    pub errors: usize,
    /// The first failure, if any.
    pub first_error: Option<String>,
    /// Wall time of the whole run, in seconds.
    pub elapsed_s: f64,
    /// Completed connections per second.
    pub conns_per_s: f64,
    /// Median latency (connect to close) in microseconds; `None` if nothing completed.
    pub p50_us: Option<f64>,
    /// 99th-percentile latency in microseconds.
    pub p99_us: Option<f64>,
    /// Slowest connection in microseconds.
    pub max_us: Option<f64>,
}

/// Runs the load and reports. Errors only on a bad configuration or a failing epoll;
/// failed connections are counted in the report.
///
/// One thread drives all C connections through non-blocking sockets and epoll, so the
/// load generator takes at most one CPU however large C is (with a thread per connection,
/// 64 busy client threads would starve a server of CPU on a 2-core machine and the
/// figures would measure the scheduler).
pub fn run(cfg: &LoadConfig) -> Result<LoadReport> {
    if !cfg.addr.ip().is_loopback() {
        bail!(
            "{} is not a loopback address: the load generator only targets this machine",
            cfg.addr
        );
    }
    if cfg.concurrency == 0 || cfg.count == 0 {
        bail!("concurrency and count must be at least 1");
    }
    let SocketAddr::V4(v4) = cfg.addr else {
        bail!("only IPv4 loopback is supported");
    };
    let mut run = Run {
        epoll: Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC).context("epoll_create1")?,
        target: SockaddrIn::from(v4),
        slots: (0..cfg.concurrency.min(cfg.count)).map(|_| None).collect(),
        issued: 0,
        count: cfg.count,
        latencies: Vec::with_capacity(cfg.count),
        errors: 0,
        first_error: None,
    };
    let start = Instant::now();
    let deadline = start + cfg.timeout;
    for i in 0..run.slots.len() {
        run.refill(i);
    }
    let mut events = vec![EpollEvent::empty(); run.slots.len()];
    while run.slots.iter().any(Option::is_some) {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            for slot in run.slots.iter_mut().filter(|s| s.is_some()) {
                *slot = None;
                run.errors += 1;
                run.first_error
                    .get_or_insert_with(|| "timed out".to_string());
            }
            break;
        }
        let ms = u16::try_from(left.as_millis().clamp(1, 1000)).unwrap_or(1000);
        let n = match run.epoll.wait(&mut events, EpollTimeout::from(ms)) {
            Ok(n) => n,
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e).context("epoll_wait"),
        };
        for ev in &events[..n] {
            run.step(ev.data() as usize);
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    let lat = run.latencies;
    Ok(LoadReport {
        addr: cfg.addr.to_string(),
        concurrency: cfg.concurrency,
        count: cfg.count,
        completed: lat.len(),
        errors: cfg.count - lat.len(),
        first_error: run.first_error,
        elapsed_s: elapsed,
        conns_per_s: lat.len() as f64 / elapsed,
        p50_us: quantile(&lat, 0.5),
        p99_us: quantile(&lat, 0.99),
        max_us: quantile(&lat, 1.0),
    })
}

/// One connection in flight.
struct Conn {
    fd: OwnedFd,
    started: Instant,
    /// Bytes of the reply received so far; `None` while connecting.
    got: Option<usize>,
    reply: [u8; MESSAGE.len()],
}

struct Run {
    epoll: Epoll,
    target: SockaddrIn,
    slots: Vec<Option<Conn>>,
    issued: usize,
    count: usize,
    latencies: Vec<f64>,
    errors: usize,
    first_error: Option<String>,
}

impl Run {
    /// Starts the next connection in slot `i`, if any remain.
    fn refill(&mut self, i: usize) {
        while self.issued < self.count {
            self.issued += 1;
            match self.open(i) {
                Ok(conn) => {
                    self.slots[i] = Some(conn);
                    return;
                }
                Err(e) => self.fail(e),
            }
        }
        self.slots[i] = None;
    }

    fn open(&self, i: usize) -> std::result::Result<Conn, String> {
        let started = Instant::now();
        let flags = SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC;
        let fd = socket(AddressFamily::Inet, SockType::Stream, flags, None)
            .map_err(|e| format!("socket: {e}"))?;
        match connect(fd.as_raw_fd(), &self.target) {
            Ok(()) | Err(Errno::EINPROGRESS) => {}
            Err(e) => return Err(format!("connect: {e}")),
        }
        self.epoll
            .add(&fd, EpollEvent::new(EpollFlags::EPOLLOUT, i as u64))
            .map_err(|e| format!("epoll add: {e}"))?;
        Ok(Conn {
            fd,
            started,
            got: None,
            reply: [0; MESSAGE.len()],
        })
    }

    fn fail(&mut self, e: String) {
        self.errors += 1;
        self.first_error.get_or_insert(e);
    }

    /// Advances the connection in slot `i` after epoll said it is ready.
    fn step(&mut self, i: usize) {
        let Some(mut conn) = self.slots[i].take() else {
            return;
        };
        match self.advance(i, &mut conn) {
            Ok(false) => self.slots[i] = Some(conn),
            Ok(true) => {
                self.latencies
                    .push(conn.started.elapsed().as_secs_f64() * 1e6);
                drop(conn); // close: the client ends the session
                self.refill(i);
            }
            Err(e) => {
                drop(conn);
                self.fail(e);
                self.refill(i);
            }
        }
    }

    /// Returns Ok(true) when the reply is complete and correct.
    fn advance(&self, i: usize, conn: &mut Conn) -> std::result::Result<bool, String> {
        let Some(got) = conn.got else {
            let err =
                getsockopt(&conn.fd, sockopt::SocketError).map_err(|e| format!("SO_ERROR: {e}"))?;
            if err != 0 {
                return Err(format!("connect: {}", Errno::from_raw(err)));
            }
            // A 14-byte write to a fresh socket never blocks.
            let n = nix::unistd::write(&conn.fd, MESSAGE).map_err(|e| format!("write: {e}"))?;
            if n != MESSAGE.len() {
                return Err("short write".into());
            }
            conn.got = Some(0);
            let mut ev = EpollEvent::new(EpollFlags::EPOLLIN, i as u64);
            self.epoll
                .modify(&conn.fd, &mut ev)
                .map_err(|e| format!("epoll mod: {e}"))?;
            return Ok(false);
        };
        let n = match nix::unistd::read(&conn.fd, &mut conn.reply[got..]) {
            Ok(0) => return Err("connection closed before the reply".into()),
            Ok(n) => n,
            Err(Errno::EAGAIN) => return Ok(false),
            Err(e) => return Err(format!("read: {e}")),
        };
        let got = got + n;
        conn.got = Some(got);
        if got < MESSAGE.len() {
            return Ok(false);
        }
        if conn.reply[..] != MESSAGE.to_ascii_uppercase()[..] {
            return Err(format!(
                "wrong reply {:?}",
                String::from_utf8_lossy(&conn.reply)
            ));
        }
        Ok(true)
    }
}
