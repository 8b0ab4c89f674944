//! The virtual clock (`--clock virtual`): the run's time jumps over its sleeps.
//!
//! Virtual time is real time plus an offset that only grows, and only when no task of
//! the run can run: every live task is either held by the tracer in a timed sleep or
//! asleep in the kernel (`quiescence.rs`). The offset then jumps to the earliest thing
//! that would happen next (a held sleep's deadline, the linger's end, the time limit).
//! Computing never jumps the clock, so a program that computes while another sleeps
//! sees the sleeper wake on the real clock (`on_tick` releases due sleeps).
//!
//! - `vdso.rs`: the program's clock reads reach the tracer from the first jump on (until
//!   then virtual time is real time): the vDSO's clock entries are rewritten into system
//!   calls at that jump, and hidden from images exec'd after it (`auxv.rs`);
//!   `clock_calls.rs` adds the offset to their result.
//! - `sleeps.rs`: nanosleep and clock_nanosleep are held at their seccomp stop and
//!   completed (skipped, returning 0) when their virtual deadline comes.
//! - `tick.rs`: a per-thread timer interrupts the tracer's waitpid every millisecond, so
//!   the loop can look for quiescence while every tracee sleeps.
//!
//! - `dice.rs`: getrandom is answered from a fixed stream per process.
//! - `gate.rs`: new tasks and due sleeps start one at a time, when the run is idle, so
//!   the order of events is the same on every run.
//! - `timed_waits.rs`: the timeouts of poll/select/epoll waits and timed futex waits are
//!   taken over the same way (the call waits without one; interrupted at the deadline).
//!
//! Not virtual (they still run on the real clock): rt_sigtimedwait and semtimedop
//! timeouts; servers are graded on the real clock (the grader's clients live outside
//! the traced world; docs/virtual-clock.md).

mod auxv;
mod clock_calls;
mod dice;
mod gate;
mod quiescence;
mod sleeps;
mod task_probe;
mod tick;
mod timed_waits;
mod vdso;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use nix::unistd::Pid;

pub(crate) use clock_calls::ClockFix;
use timed_waits::TimedWait;
pub(crate) use timed_waits::is_timed_wait;

use super::recorder::Shared;

/// Which clock a run's program and ledger live on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ClockMode {
    /// The machine's clock: sleeps take their real time.
    #[default]
    Real,
    /// Time jumps over sleeps while nothing of the run can run.
    Virtual,
}

/// The syscalls the seccomp filter stops in virtual mode.
pub(crate) const TRACED: &[libc::c_long] = &[
    libc::SYS_clock_gettime,
    libc::SYS_gettimeofday,
    libc::SYS_time,
    libc::SYS_nanosleep,
    libc::SYS_clock_nanosleep,
    libc::SYS_getrandom,
];

/// A task held in a timed sleep.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Held {
    /// Virtual ns since the run's start.
    pub deadline: u64,
    /// Order in which sleeps began (ties of equal deadlines release in this order).
    pub seq: u64,
    /// The relative sleep's `rem` pointer (0: none, or an absolute sleep).
    pub rem: u64,
}

/// The clock of one run (tracer thread only; the offset is also published in `Shared`).
pub(crate) struct VClock {
    start: Instant,
    offset_ns: u64,
    shared: Arc<Shared>,
    pub held: BTreeMap<Pid, Held>,
    /// Tasks in a kernel wait whose timeout the clock took over (`timed_waits.rs`).
    pub timed: BTreeMap<Pid, TimedWait>,
    /// The run's randomness (`dice.rs`).
    pub dice: dice::Dice,
    /// New tasks waiting to start, one at a time (`gate.rs`).
    pub gate: gate::Gate,
    /// The processes whose vDSO reads the clock unseen until the first jump (`vdso.rs`).
    pub vdso: vdso::Vdsos,
    next_seq: u64,
    last_tick: Instant,
    /// How often the ticker runs.
    pace: Pace,
    /// The task of the last stop handled (probed first when looking for idleness), and
    /// when it was resumed.
    pub last_stopped: Option<(Pid, Instant)>,
    /// Virtual time the root exited at.
    pub root_exit: Option<u64>,
    linger_ns: u64,
    time_limit_ns: u64,
    _tick: Option<tick::Ticker>,
}

/// How often the loop looks for quiescence and due sleeps.
pub(crate) const TICK: Duration = Duration::from_millis(1);
/// How often while something waits to start (`gate.rs`): that wait is the run's latency
/// (a tree that forks without sleeping waited ~1.5 ms per new process at `TICK`).
pub(crate) const FAST_TICK: Duration = Duration::from_micros(200);
/// How often while nothing is held, gated or timed.
pub(crate) const CALM_TICK: Duration = Duration::from_millis(10);

/// How often the loop looks for quiescence, by what there is to start or jump to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Pace {
    /// Nothing held, gated or timed: the only jump left is a deadlocked run's to its time
    /// limit or linger's end, and a tick costs a program that computes ~50 µs of its CPU
    /// (the tracer shares it): 5 % of a CPU loop at `TICK`.
    Calm,
    /// A sleep is held or a wait timed: at `TICK`.
    Normal,
    /// Something waits to start: at `FAST_TICK`.
    Fast,
}

impl Pace {
    fn period(self) -> Duration {
        match self {
            Pace::Calm => CALM_TICK,
            Pace::Normal => TICK,
            Pace::Fast => FAST_TICK,
        }
    }
}

impl VClock {
    /// The clock of a run started at `start`; arms this thread's ticker.
    pub(crate) fn new(start: Instant, shared: Arc<Shared>, linger: Duration, time_ms: u64) -> Self {
        VClock {
            start,
            offset_ns: 0,
            shared,
            held: BTreeMap::new(),
            timed: BTreeMap::new(),
            gate: gate::Gate::default(),
            dice: dice::Dice::default(),
            vdso: vdso::Vdsos::default(),
            next_seq: 0,
            last_tick: Instant::now(),
            pace: Pace::Normal,
            last_stopped: None,
            root_exit: None,
            linger_ns: u64::try_from(linger.as_nanos()).unwrap_or(u64::MAX),
            time_limit_ns: time_ms.saturating_mul(1_000_000),
            _tick: tick::Ticker::arm(TICK),
        }
    }

    /// Did arming the ticker work? (Without it, jumps wait for the next ptrace stop.)
    pub(crate) fn ticking(&self) -> bool {
        self._tick.is_some()
    }

    /// Now, in virtual ns since the run's start.
    pub(crate) fn now(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_nanos())
            .unwrap_or(u64::MAX)
            .saturating_add(self.offset_ns)
    }

    pub(crate) fn offset(&self) -> u64 {
        self.offset_ns
    }

    /// Move virtual time forward to `to` (never back).
    fn advance_to(&mut self, to: u64) {
        let now = self.now();
        if to > now {
            self.vdso.trap_all();
            self.offset_ns += to - now;
            self.shared
                .clock_offset_ns
                .store(self.offset_ns, Ordering::Release);
        }
    }

    fn next_seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq - 1
    }

    fn hold(&mut self, tid: Pid, deadline: u64, rem: u64) {
        let seq = self.next_seq();
        self.held.insert(tid, Held { deadline, seq, rem });
        self.quicken(Pace::Normal);
    }

    /// What comes first: a held sleep's or a timed wait's deadline (then the earlier
    /// begun). `Ok`: a sleep to release, `Err`: a wait to expire; with its deadline.
    fn next_due(&self) -> Option<(Result<Pid, Pid>, u64)> {
        let sleeps = self
            .held
            .iter()
            .map(|(tid, h)| ((h.deadline, h.seq), Ok(*tid)));
        let waits = self
            .timed
            .iter()
            .filter(|(_, w)| !w.expired())
            .map(|(tid, w)| ((w.deadline, w.seq), Err(*tid)));
        sleeps
            .chain(waits)
            .min_by_key(|(key, _)| *key)
            .map(|((deadline, _), which)| (which, deadline))
    }

    /// The end of the linger after the root exited, within the time limit.
    fn linger_end(&self) -> Option<u64> {
        self.root_exit
            .map(|t| t.saturating_add(self.linger_ns).min(self.time_limit_ns))
    }

    /// Stop ticking (the run is over: the teardown's own waits need no interruptions).
    pub(crate) fn stop_ticking(&mut self) {
        self._tick = None;
    }

    /// Is a tick due (the loop also runs one between stops while stops keep coming)?
    pub(crate) fn tick_due(&self) -> bool {
        self.last_tick.elapsed() >= self.pace.period()
    }

    /// Tick at `pace` from now on.
    pub(crate) fn pace(&mut self, pace: Pace) {
        if self.pace != pace
            && let Some(ticker) = self._tick.as_mut()
            && ticker.every(pace.period())
        {
            self.pace = pace;
        }
    }

    /// Tick at least as often as `pace` (a sleep held or a wait timed while calm).
    pub(crate) fn quicken(&mut self, pace: Pace) {
        if self.pace < pace {
            self.pace(pace);
        }
    }

    /// The pace for what there is now: something to start, a deadline, or neither.
    pub(crate) fn pace_for(&self, ready: bool) -> Pace {
        if ready {
            Pace::Fast
        } else if self.held.is_empty() && self.timed.is_empty() {
            Pace::Calm
        } else {
            Pace::Normal
        }
    }
}
