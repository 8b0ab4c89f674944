//! The run's clock and limit probes, on a thread of their own: the wall-clock limit, the
//! linger time after the root exited, and the cgroup counters (a fork refused at
//! `pids.max`, an OOM kill). It sleeps on a condition variable, woken by the tracer when
//! the root exits or the run ends; it checks cgroup counters every 100 ms.
//!
//! The thread is started before the child is forked, unpinned, and waits for [`Go`]: its
//! start-up then neither delays the child's exec nor takes the tree's CPU.

use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::cgroup::Cgroups;
use super::recorder::StopReason;
use super::teardown::StopHandle;
use crate::ledger::{LimitKind, Limits};

const PROBE_EVERY: Duration = Duration::from_millis(100);

/// What the watchdog needs once the child runs.
pub(crate) struct Go {
    /// No memory cgroup: sample the tree's resident memory instead.
    pub memory_poll: bool,
    pub stopper: StopHandle,
    pub cgroups: Arc<Cgroups>,
    /// The run's start (the time limit counts from here).
    pub start: Instant,
}

/// Start the watchdog thread; it watches once it gets [`Go`] (and ends if the sender is
/// dropped first: the run never started).
pub(crate) fn spawn(
    limits: Limits,
    linger: Duration,
) -> std::io::Result<(JoinHandle<()>, mpsc::Sender<Go>)> {
    let (tx, rx) = mpsc::channel::<Go>();
    let handle = std::thread::Builder::new()
        .name("proclab-watchdog".into())
        .spawn(move || {
            if let Ok(go) = rx.recv() {
                watch(
                    go.memory_poll,
                    &go.stopper,
                    &go.cgroups,
                    &limits,
                    go.start,
                    linger,
                );
            }
        })?;
    Ok((handle, tx))
}

fn watch(
    memory_poll: bool,
    stopper: &StopHandle,
    cgroups: &Cgroups,
    limits: &Limits,
    start: Instant,
    linger: Duration,
) {
    let deadline = start + Duration::from_millis(limits.time_ms);
    let shared = &stopper.shared;
    loop {
        // A snapshot, so the probes below (file reads) run without holding the lock.
        let (stopping, root_exited_at, live) = {
            let state = shared.lock();
            if state.finished {
                return;
            }
            let live: Vec<i32> = if memory_poll {
                state.live.values().copied().collect()
            } else {
                Vec::new()
            };
            (state.stop.is_some(), state.root_exited_at, live)
        };
        let now = Instant::now();
        // The linger counts inside the time limit; what the root left running at the
        // deadline is ended as leftovers (the program's own time was within the limit).
        let linger_end = root_exited_at.map(|t| (t + linger).min(deadline));
        if !stopping {
            let reason = if linger_end.is_some_and(|end| now >= end) {
                Some(StopReason::Linger)
            } else if now >= deadline {
                Some(StopReason::Limit(
                    LimitKind::Time,
                    format!("still running after {} ms", limits.time_ms),
                ))
            } else if cgroups.pids_cap_hit() {
                Some(StopReason::Limit(
                    LimitKind::Processes,
                    "the kernel refused a fork at the cgroup's pids.max".into(),
                ))
            } else if cgroups.oom_kills() > 0
                || (memory_poll && tree_rss(&live) > limits.memory_bytes)
            {
                Some(StopReason::Limit(
                    LimitKind::Memory,
                    format!(
                        "the memory cap of {} bytes was reached",
                        limits.memory_bytes
                    ),
                ))
            } else {
                None
            };
            if let Some(reason) = reason {
                stopper.stop(reason);
                continue;
            }
        }
        let mut wake = if stopping {
            now + PROBE_EVERY
        } else {
            (now + PROBE_EVERY).min(deadline)
        };
        if let Some(end) = linger_end {
            wake = wake.min(end);
        }
        let state = shared.lock();
        // Re-checked under the lock: the tracer may have finished, or the root exited,
        // since the snapshot, and its notification would otherwise be missed.
        if state.finished
            || state.root_exited_at != root_exited_at
            || state.stop.is_some() != stopping
        {
            continue;
        }
        let timeout = wake
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1));
        drop(shared.control_cv.wait_timeout(state, timeout));
    }
}

/// Resident memory of the given processes (thread-group ids, possibly repeated), from
/// /proc/<pid>/statm (proc(5)): the fallback when there is no memory cgroup. Shared
/// pages are counted in each process, so this overestimates forked children a little.
fn tree_rss(pids: &[i32]) -> u64 {
    let mut pids = pids.to_vec();
    pids.sort_unstable();
    pids.dedup();
    let page = nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
        .ok()
        .flatten()
        .unwrap_or(4096) as u64;
    pids.iter()
        .filter_map(|pid| {
            let statm = std::fs::read_to_string(format!("/proc/{pid}/statm")).ok()?;
            statm.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .sum::<u64>()
        * page
}
