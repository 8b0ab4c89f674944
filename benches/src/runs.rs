//! Timing whole programs: run a command to completion and measure its wall time; run
//! several variants in interleaved rounds so that drift in the machine's speed hits them
//! all alike, and keep every sample.

use anyhow::{Context, Result, bail};
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{Id, WaitPidFlag, waitid};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Runs `argv` with stdin and stdout on /dev/null (stderr inherited) and returns its wall
/// time; fails if it does not exit 0 within `timeout`.
pub fn time_command(argv: &[String], timeout: Duration) -> Result<Duration> {
    let (prog, args) = argv.split_first().context("empty command")?;
    let t0 = Instant::now();
    let mut child = Command::new(prog)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .with_context(|| format!("cannot start {argv:?}"))?;
    let pid = Pid::from_raw(child.id() as i32);
    // A watchdog kills the child at the deadline; the main thread blocks in waitid
    // (no polling that would steal CPU from what is measured) with WNOWAIT, so the pid
    // stays reserved until the watchdog has been told to stand down.
    let (done, stood_down) = mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        if let Err(mpsc::RecvTimeoutError::Timeout) = stood_down.recv_timeout(timeout) {
            let _ = kill(pid, Signal::SIGKILL);
            return true;
        }
        false
    });
    let waited = waitid(Id::Pid(pid), WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT);
    let took = t0.elapsed();
    let _ = done.send(());
    let timed_out = watchdog.join().unwrap_or(false);
    let status = child.wait().context("cannot reap the child")?;
    waited.context("waitid")?;
    if timed_out {
        bail!("{argv:?} took longer than {timeout:?}");
    }
    if !status.success() {
        bail!("{argv:?} failed: {status}");
    }
    Ok(took)
}

/// The wall times of one variant, in seconds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Samples {
    /// Variant name.
    pub name: String,
    /// The command line.
    pub argv: Vec<String>,
    /// One wall time per round, in seconds.
    pub secs: Vec<f64>,
    /// Median of `secs`.
    pub median_s: f64,
}

/// Runs every variant once per round, `rounds` times, in interleaved order, after one
/// unmeasured warm-up run each.
pub fn interleaved(
    variants: &[(String, Vec<String>)],
    rounds: usize,
    timeout: Duration,
) -> Result<Vec<Samples>> {
    for (_, argv) in variants {
        time_command(argv, timeout)?;
    }
    let mut secs = vec![Vec::with_capacity(rounds); variants.len()];
    for _ in 0..rounds {
        for (i, (_, argv)) in variants.iter().enumerate() {
            secs[i].push(time_command(argv, timeout)?.as_secs_f64());
        }
    }
    Ok(variants
        .iter()
        .zip(secs)
        .map(|((name, argv), secs)| Samples {
            name: name.clone(),
            argv: argv.clone(),
            median_s: crate::stats::median(&secs).unwrap_or(f64::NAN),
            secs,
        })
        .collect())
}
