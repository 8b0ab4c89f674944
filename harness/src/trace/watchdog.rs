//! The run's clock and limit probes, on a thread of their own: the wall-clock limit, the
//! linger time after the root exited, and the cgroup counters (a fork refused at
//! `pids.max`, an OOM kill). It sleeps on a condition variable, woken by the tracer when
//! the root exits or the run ends; it checks cgroup counters every 100 ms.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::cgroup::Cgroups;
use super::recorder::StopReason;
use super::teardown::StopHandle;
use crate::ledger::{LimitKind, Limits};

const PROBE_EVERY: Duration = Duration::from_millis(100);

pub(crate) fn spawn(
    stopper: StopHandle,
    cgroups: Arc<Cgroups>,
    limits: Limits,
    start: Instant,
    linger: Duration,
) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("proclab-watchdog".into())
        .spawn(move || watch(&stopper, &cgroups, &limits, start, linger))
}

fn watch(
    stopper: &StopHandle,
    cgroups: &Cgroups,
    limits: &Limits,
    start: Instant,
    linger: Duration,
) {
    let deadline = start + Duration::from_millis(limits.time_ms);
    let shared = &stopper.shared;
    let mut state = shared.lock();
    loop {
        if state.finished {
            return;
        }
        let now = Instant::now();
        let stopping = state.stop.is_some();
        let linger_end = state.root_exited_at.map(|t| t + linger);
        if !stopping {
            let reason = if now >= deadline {
                Some(StopReason::Limit(
                    LimitKind::Time,
                    format!("still running after {} ms", limits.time_ms),
                ))
            } else if linger_end.is_some_and(|end| now >= end) {
                Some(StopReason::Linger)
            } else if cgroups.pids_cap_hit() {
                Some(StopReason::Limit(
                    LimitKind::Processes,
                    "the kernel refused a fork at the cgroup's pids.max".into(),
                ))
            } else if cgroups.oom_kills() > 0 {
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
                drop(state);
                stopper.stop(reason);
                state = shared.lock();
                continue;
            }
        }
        let mut wake = (now + PROBE_EVERY).min(deadline.max(now));
        if let Some(end) = linger_end {
            wake = wake.min(end.max(now));
        }
        if stopping {
            wake = now + PROBE_EVERY;
        }
        let timeout = wake
            .saturating_duration_since(now)
            .max(Duration::from_millis(1));
        state = shared
            .control_cv
            .wait_timeout(state, timeout)
            .map(|(guard, _)| guard)
            .unwrap_or_else(|e| e.into_inner().0);
    }
}
