//! State shared between the tracer thread and the rest of the grader: the events so far
//! (readable while the run goes on), the live tasks (for killing from other threads),
//! and stop requests.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Instant;

use crate::ledger::{Event, EventKind, LimitKind, Pid};

/// Why a run is being ended early.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StopReason {
    Limit(LimitKind, String),
    /// The grader asked for it (`RunningTrace::terminate`).
    Terminate,
    /// The root exited and the linger time for the remaining processes ran out.
    Linger,
    /// The grader itself got SIGINT/SIGTERM.
    Interrupted,
}

/// Mutable shared state, behind [`Shared::state`].
#[derive(Debug, Default)]
pub(crate) struct State {
    pub events: Vec<Event>,
    /// Threads blocked in `wait_for` (events are only signalled when someone waits).
    pub waiters: usize,
    pub finished: bool,
    /// Live traced tasks: tid → thread-group id.
    pub live: HashMap<Pid, Pid>,
    pub stop: Option<StopReason>,
    pub root_exited_at: Option<Instant>,
}

/// Shared between the tracer thread, the watchdog and `RunningTrace`.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    pub state: Mutex<State>,
    /// Signalled on new events (when someone waits) and at the end.
    pub events_cv: Condvar,
    /// Signalled when the root exits, on stop requests and at the end (the watchdog).
    pub control_cv: Condvar,
    /// Set with `state.stop`, read by the tracer without locking at every stop.
    pub stop_flag: AtomicBool,
    /// The virtual clock's offset over real time (0 on the real clock): events' `t_ns`
    /// are real time since the start plus this.
    pub clock_offset_ns: AtomicU64,
}

impl Shared {
    /// Lock the state; a panicked holder cannot leave it inconsistent in a way that
    /// matters here (plain data), so poisoning is ignored.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn stop_requested(&self) -> bool {
        self.stop_flag.load(Ordering::Acquire)
    }

    /// Record the first stop reason. Returns true if this call set it.
    pub(crate) fn request_stop(&self, reason: StopReason) -> bool {
        let mut state = self.lock();
        let first = state.stop.is_none();
        if first {
            state.stop = Some(reason);
        }
        self.stop_flag.store(true, Ordering::Release);
        drop(state);
        self.control_cv.notify_all();
        first
    }
}

/// Appends events with sequence numbers and timestamps (tracer thread only).
#[derive(Debug)]
pub(crate) struct Recorder {
    shared: Arc<Shared>,
    seq: u64,
    start: Instant,
}

impl Recorder {
    pub(crate) fn new(shared: Arc<Shared>, start: Instant) -> Self {
        Recorder {
            shared,
            seq: 0,
            start,
        }
    }

    pub(crate) fn push(&mut self, kind: EventKind) {
        let t_ns = u64::try_from(self.start.elapsed().as_nanos())
            .unwrap_or(u64::MAX)
            .saturating_add(self.shared.clock_offset_ns.load(Ordering::Acquire));
        let mut state = self.shared.lock();
        state.events.push(Event {
            seq: self.seq,
            t_ns,
            kind,
        });
        self.seq += 1;
        let notify = state.waiters > 0;
        drop(state);
        if notify {
            self.shared.events_cv.notify_all();
        }
    }

    pub(crate) fn count(&self) -> u64 {
        self.seq
    }
}
