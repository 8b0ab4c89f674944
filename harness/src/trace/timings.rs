//! Phase timings of a run, for finding the tracer's fixed cost: with
//! `PROCLAB_TRACE_TIMINGS=1` in the environment, each run prints one line per phase
//! (`proclab-timing <phase> <µs>`) to stderr when it ends. Off, a mark costs one branch.
//!
//! Times are CLOCK_MONOTONIC nanoseconds (system-wide), so marks taken in the forked
//! child before exec, and by a benchmark script outside, line up with the tracer's.

use std::sync::OnceLock;

/// Is `PROCLAB_TRACE_TIMINGS=1` set? (Read once.)
pub fn enabled() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("PROCLAB_TRACE_TIMINGS").is_some_and(|v| v == "1"))
}

/// CLOCK_MONOTONIC in nanoseconds. Async-signal-safe (one vDSO call, clock_gettime(2)).
pub fn now_ns() -> u64 {
    use nix::time::{ClockId, clock_gettime};
    clock_gettime(ClockId::CLOCK_MONOTONIC).map_or(0, |ts| {
        (ts.tv_sec() as u64)
            .saturating_mul(1_000_000_000)
            .saturating_add(ts.tv_nsec() as u64)
    })
}

/// Print one phase line (when enabled).
pub fn print(phase: &str, micros: u64) {
    if enabled() {
        eprintln!("proclab-timing {phase} {micros}");
    }
}

/// Consecutive phases of one run: each mark closes the phase that began at the last one.
#[derive(Debug)]
pub(crate) struct Timings {
    on: bool,
    last: u64,
    phases: Vec<(&'static str, u64)>,
}

impl Timings {
    pub(crate) fn start() -> Timings {
        let on = enabled();
        Timings {
            on,
            last: if on { now_ns() } else { 0 },
            phases: Vec::new(),
        }
    }

    /// A placeholder that records nothing.
    pub(crate) fn off() -> Timings {
        Timings {
            on: false,
            last: 0,
            phases: Vec::new(),
        }
    }

    /// Is timing on for this run?
    pub(crate) fn on(&self) -> bool {
        self.on
    }

    /// The phase `name` ended now.
    pub(crate) fn mark(&mut self, name: &'static str) {
        if self.on {
            let now = now_ns();
            self.phases.push((name, now.saturating_sub(self.last)));
            self.last = now;
        }
    }

    /// The phase `name` ended at `at` (a mark taken elsewhere, e.g. in the child).
    pub(crate) fn mark_at(&mut self, name: &'static str, at: u64) {
        if self.on && at != 0 {
            self.phases.push((name, at.saturating_sub(self.last)));
            self.last = at;
        }
    }

    /// Print every phase (when on).
    pub(crate) fn print(&self) {
        if self.on {
            let mut text = String::new();
            for (name, ns) in &self.phases {
                text.push_str(&format!("proclab-timing {name} {}\n", ns / 1000));
            }
            eprint!("{text}");
        }
    }
}
