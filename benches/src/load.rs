//! The load generator's core: C concurrent clients, each connection a short
//! request/response with the upper-case echo protocol then close, until a fixed total
//! count or a deadline. Loopback only.

use crate::stats::quantile;
use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
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
    /// Whole-run deadline; also each socket operation's timeout.
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
    /// Median latency (connect to close) in microseconds.
    pub p50_us: f64,
    /// 99th-percentile latency in microseconds.
    pub p99_us: f64,
    /// Slowest connection in microseconds.
    pub max_us: f64,
}

/// Runs the load and reports. Errors only on a bad configuration; failed connections are
/// counted in the report.
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
    let next = AtomicUsize::new(0);
    let latencies = Mutex::new(Vec::with_capacity(cfg.count));
    let errors = Mutex::new((0usize, None::<String>));
    let start = Instant::now();
    let deadline = start + cfg.timeout;
    std::thread::scope(|s| {
        for _ in 0..cfg.concurrency.min(cfg.count) {
            s.spawn(|| {
                let mut mine = Vec::new();
                while next.fetch_add(1, Ordering::Relaxed) < cfg.count && Instant::now() < deadline
                {
                    let t0 = Instant::now();
                    match one(cfg.addr, deadline) {
                        Ok(()) => mine.push(t0.elapsed().as_secs_f64() * 1e6),
                        Err(e) => {
                            let mut errs = errors.lock().unwrap_or_else(|p| p.into_inner());
                            errs.0 += 1;
                            errs.1.get_or_insert_with(|| e.to_string());
                        }
                    }
                }
                latencies
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .extend(mine);
            });
        }
    });
    let elapsed = start.elapsed().as_secs_f64();
    let lat = latencies.into_inner().unwrap_or_else(|p| p.into_inner());
    let (nerr, first_error) = errors.into_inner().unwrap_or_else(|p| p.into_inner());
    Ok(LoadReport {
        addr: cfg.addr.to_string(),
        concurrency: cfg.concurrency,
        count: cfg.count,
        completed: lat.len(),
        errors: nerr + cfg.count.saturating_sub(lat.len() + nerr),
        first_error,
        elapsed_s: elapsed,
        conns_per_s: lat.len() as f64 / elapsed,
        p50_us: quantile(&lat, 0.5).unwrap_or(f64::NAN),
        p99_us: quantile(&lat, 0.99).unwrap_or(f64::NAN),
        max_us: quantile(&lat, 1.0).unwrap_or(f64::NAN),
    })
}

/// One connection: connect, send [`MESSAGE`], read its upper-case echo, close.
fn one(addr: SocketAddr, deadline: Instant) -> std::io::Result<()> {
    let left = deadline
        .saturating_duration_since(Instant::now())
        .max(Duration::from_millis(1));
    let mut s = TcpStream::connect_timeout(&addr, left)?;
    s.set_read_timeout(Some(left))?;
    s.set_write_timeout(Some(left))?;
    s.set_nodelay(true)?;
    s.write_all(MESSAGE)?;
    let mut reply = [0u8; MESSAGE.len()];
    s.read_exact(&mut reply)?;
    if reply != *MESSAGE.to_ascii_uppercase() {
        return Err(std::io::Error::other(format!(
            "wrong reply {:?}",
            String::from_utf8_lossy(&reply)
        )));
    }
    Ok(())
}
