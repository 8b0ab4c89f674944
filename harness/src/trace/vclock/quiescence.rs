//! When is the run idle? Only when no task of the run can run: each live task is held
//! by the tracer (a sleep, a writer waiting for its turn, a task at the start gate) or
//! asleep in the kernel (`/proc/<tid>/stat` state `S`: waiting for a child, a pipe, a
//! connection), and stays so: two samples `CONFIRM` apart with the same CPU times
//! (`/proc/<tid>/schedstat`), and no stop or exit waiting to be collected. A task that is
//! running, in uninterruptible sleep (`D`), or at a stop the tracer has not handled yet
//! (`t`) means not now. Then one thing starts (`gate.rs`), or the clock jumps.
//!
//! A poll/select/epoll or futex wait whose timeout the tracer took over
//! (`timed_waits.rs`) waits without one and so counts as asleep. A task asleep in a kernel
//! wait whose timeout the tracer does not own (rt_sigtimedwait, semtimedop, or one it
//! could not take over) is on the real clock: while one is, the clock does not jump (gated
//! tasks and due sleeps still start when the run is idle), so such a program runs at
//! real speed but in the right order.

use nix::unistd::Pid;

use crate::ledger::LimitKind;
use crate::trace::error::TraceError;
use crate::trace::recorder::StopReason;
use crate::trace::stops;
use crate::trace::tracer_loop::Tracer;

use super::task_probe::{Wait, cpu_time, debug_why, kernel_wait, task_state};

/// How far apart the two samples that call the run idle are.
const CONFIRM: std::time::Duration = std::time::Duration::from_micros(30);
/// A task resumed this recently means the run is busy, without a look (`on_tick`).
const JUST_NOW: std::time::Duration = std::time::Duration::from_micros(100);

/// Each free (not held) live task and its CPU time, sorted by tid.
pub(crate) type Sample = Vec<(Pid, u64)>;

/// What the free tasks are doing.
#[derive(Default)]
struct Survey {
    /// None of them can run (each asleep in the kernel, or gone).
    idle: bool,
    /// One of them is in a kernel wait whose timeout runs on the real clock: the clock
    /// must not jump over it.
    real_clock_wait: bool,
    /// The tasks probed and their CPU time (every free task when surveyed in full).
    cpu: Sample,
}

impl Survey {
    fn busy() -> Survey {
        Survey::default()
    }
}

impl Tracer {
    /// [`run`](Self::run) on the virtual clock: the wait is interrupted every tick, and
    /// a tick also runs between stops when stops keep coming.
    pub(crate) fn run_virtual(&mut self) -> Result<(), TraceError> {
        loop {
            let wake = self
                .stops
                .next_or_tick()
                .map_err(|errno| TraceError::Ptrace {
                    what: "waitpid",
                    errno,
                })?;
            if !self.stopping && self.shared.stop_requested() {
                let reason = self.shared.lock().stop.clone();
                self.begin_teardown(reason);
            }
            match wake {
                stops::Wake::Done => return Ok(()),
                stops::Wake::Tick => self.on_tick(),
                stops::Wake::Stop(stop) => {
                    self.handle(stop);
                    if let Some(vc) = self.vclock.as_mut() {
                        vc.last_stopped = Some((stop.tid(), std::time::Instant::now()));
                    }
                    if self.vclock.as_ref().is_some_and(|vc| vc.tick_due()) {
                        self.on_tick();
                    }
                }
            }
        }
    }

    /// Probe the free tasks (neither held nor gated). Unless `full`, stop at the first
    /// one that can run (only the backstop needs every task's CPU time). The task that
    /// stopped last goes first: a busy run is mostly that one running, and a tick that
    /// finds it so costs one `/proc` read.
    fn survey(&self, full: bool) -> Survey {
        let mut out = Survey {
            idle: self.early.is_empty(),
            real_clock_wait: false,
            cpu: Vec::new(),
        };
        let Some(vc) = self.vclock.as_ref() else {
            out.idle = false;
            return out;
        };
        if !out.idle && !full {
            return out;
        }
        let free = |tid: &Pid| {
            self.tasks.contains_key(tid)
                && !(vc.held.contains_key(tid)
                    || vc.gate.is_gated(*tid)
                    || self.gates.is_held(*tid))
        };
        let first = vc.last_stopped.map(|(tid, _)| tid).filter(free);
        let rest = self.tasks.keys().copied().filter(|t| Some(*t) != first);
        for tid in first.into_iter().chain(rest) {
            if !free(&tid) {
                continue;
            }
            let Some(state) = task_state(tid) else {
                continue; // gone: its exit is on its way
            };
            let wait = match state {
                'S' => kernel_wait(tid, &self.pipes),
                _ => Wait::OnTheRun,
            };
            let busy = match (wait, state) {
                (Wait::RealClock, _) => {
                    debug_why(tid, state);
                    out.real_clock_wait = true;
                    false
                }
                (Wait::OnTheRun, 'S' | 'Z' | 'X') => false,
                _ => {
                    debug_why(tid, state);
                    true
                }
            };
            if busy {
                out.idle = false;
                if !full {
                    return out;
                }
            }
            // For the idle check's second sample and the backstops.
            if let Some(ran) = cpu_time(tid) {
                out.cpu.push((tid, ran));
            }
        }
        out.cpu.sort_unstable();
        out
    }

    /// What is ready to start: (a gated task, a sleep or wait whose deadline has come).
    fn ready(&self) -> (bool, bool) {
        self.vclock.as_ref().map_or((false, false), |vc| {
            let due = vc.next_due().is_some_and(|(_, d)| d <= vc.now());
            (!vc.gate.is_empty(), due)
        })
    }

    /// A tick: when the run is idle, start one thing: a gated task, else the first sleep
    /// or wait that is due, else jump the clock to the next deadline.
    pub(crate) fn on_tick(&mut self) {
        match self.vclock.as_mut() {
            Some(vc) => vc.last_tick = std::time::Instant::now(),
            None => return,
        }
        if self.stopping {
            return;
        }
        if self.check_virtual_limits() {
            return;
        }
        let (gated, due) = self.ready();
        if let Some(vc) = self.vclock.as_mut() {
            vc.pace(vc.pace_for(gated || due));
        }
        // Stop at the first task that can run: a tick that finds the run busy then costs
        // one or two /proc reads, not a sweep of every task (the tracer shares its CPU
        // with the tree, and fast ticks come every 200 µs while something is gated). A
        // task resumed from a stop less than `JUST_NOW` ago means busy without a look:
        // if the run is idle since, the next tick finds it (a tree whose children start
        // at their parent's `wait` stops every ~50 µs; its busy ticks were 40 /proc
        // reads, ~1 ms of the tracer's CPU on the program's CPU).
        let just_now = self.vclock.as_ref().is_some_and(|vc| {
            vc.last_stopped
                .is_some_and(|(_, at)| at.elapsed() < JUST_NOW)
        });
        let survey = if just_now {
            Survey::busy()
        } else {
            self.survey(false)
        };
        // Idle twice, `CONFIRM` apart, with the same CPU times: a task that ran in
        // between (woken from outside the run, or at a stop not yet handled, `t`) shows.
        // No stop or exit waiting to be collected either (a task whose exit is not
        // collected looks asleep, and so does the parent waiting for it).
        let idle = survey.idle && !self.stops.pending() && {
            std::thread::sleep(CONFIRM);
            let again = self.survey(false);
            again.idle && again.cpu == survey.cpu && !self.stops.pending()
        };
        let Some(vc) = self.vclock.as_mut() else {
            return;
        };
        if !idle {
            if vc.gate.signal_check_due() {
                let _ = self.release_signalled(true);
            }
            let Some(vc) = self.vclock.as_mut() else {
                return;
            };
            // The run computes (or waits on the real clock): what waited too long starts.
            // The backstops need every task's CPU time: sampled every few ms only.
            if !(gated || due) {
                vc.gate.backstops(&[], false); // nothing waits: the windows close
                return;
            }
            if !vc.gate.sample_due() {
                return;
            }
            let full = self.survey(true);
            let Some(vc) = self.vclock.as_mut() else {
                return;
            };
            let (start, release) = vc.gate.backstops(&full.cpu, due);
            if start {
                self.open_gate_all(|_| true);
            }
            if release {
                self.release_due();
            }
            return;
        }
        // Idle, unless a held task has a signal waiting: it is released and runs.
        if self.release_signalled(true) {
            return;
        }
        let Some(vc) = self.vclock.as_mut() else {
            return;
        };
        vc.gate.clear_windows();
        if self.open_gate_once() {
            return;
        }
        let Some(vc) = self.vclock.as_mut() else {
            return;
        };
        if std::env::var_os("PROCLAB_VCLOCK_DEBUG").is_some() {
            for (tid, _) in &survey.cpu {
                let wchan =
                    std::fs::read_to_string(format!("/proc/{tid}/wchan")).unwrap_or_default();
                let call =
                    std::fs::read_to_string(format!("/proc/{tid}/syscall")).unwrap_or_default();
                eprintln!("vclock: idle task {tid} in {wchan}: {}", call.trim());
            }
            eprintln!(
                "vclock: idle at {} ({:?}), held {:?}, tasks {:?}",
                vc.now(),
                survey.cpu,
                vc.held,
                self.tasks.keys().collect::<Vec<_>>()
            );
        }
        // What comes next; the clock jumps to it only if no task waits on the real clock.
        let now = vc.now();
        let limit = vc.linger_end().unwrap_or(vc.time_limit_ns);
        match vc.next_due() {
            Some((which, deadline)) if deadline <= limit => {
                if deadline > now && survey.real_clock_wait {
                    return;
                }
                vc.advance_to(deadline);
                match which {
                    Ok(tid) => self.release_sleep(tid, false),
                    Err(tid) => self.expire_timed_wait(tid),
                }
            }
            _ if !survey.real_clock_wait => {
                vc.advance_to(limit);
                self.check_virtual_limits();
            }
            _ => {}
        }
    }

    /// The linger and the time limit, on the virtual clock. True if one fired.
    fn check_virtual_limits(&mut self) -> bool {
        let Some(vc) = self.vclock.as_ref() else {
            return false;
        };
        let now = vc.now();
        let reason = if vc.linger_end().is_some_and(|end| now >= end) {
            StopReason::Linger
        } else if now >= vc.time_limit_ns {
            StopReason::Limit(
                LimitKind::Time,
                format!("still running after {} ms", self.limits.time_ms),
            )
        } else {
            return false;
        };
        self.shared.request_stop(reason.clone());
        self.begin_teardown(Some(reason));
        true
    }
}
