//! When may the clock jump? Only when no task of the run can run: each live task is held
//! by the tracer (a sleep, a writer waiting for its turn) or asleep in the kernel
//! (`/proc/<tid>/stat` state `S`: waiting for a child, a pipe, a connection), and stays
//! so: two samples a tick apart, no ptrace stop in between, and no task's CPU time
//! (`/proc/<tid>/schedstat`) changed. A task that is running, in uninterruptible sleep
//! (`D`), or at a stop the tracer has not handled yet (`t`) means not now.
//!
//! A poll/select/epoll or futex wait whose timeout the tracer took over
//! (`timed_waits.rs`) waits without one and so counts as asleep. A task asleep in a kernel
//! wait whose timeout the tracer does not own (rt_sigtimedwait, semtimedop, or one it
//! could not take over) is on the real clock: while one is, the clock does not jump (held
//! sleeps are still released when real time reaches them), so such a program runs at
//! real speed but in the right order.

use nix::unistd::Pid;

use crate::ledger::LimitKind;
use crate::trace::error::TraceError;
use crate::trace::recorder::StopReason;
use crate::trace::stops;
use crate::trace::tracer_loop::Tracer;

/// Samples equal to the one before it takes to call the run quiescent: one, so two
/// samples a tick apart.
const STEADY_TICKS: u8 = 1;

/// Each free (not held) live task and its CPU time, sorted by tid.
pub(crate) type Sample = Vec<(Pid, u64)>;

/// A task's state letter and CPU time in ns, or None if it is gone.
fn probe(tid: Pid) -> Option<(char, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{tid}/stat")).ok()?;
    let state = stat.get(stat.rfind(')')? + 2..)?.chars().next()?;
    let sched = std::fs::read_to_string(format!("/proc/{tid}/schedstat")).ok()?;
    let ran = sched.split_whitespace().next()?.parse().ok()?;
    Some((state, ran))
}

/// Does `tid` have a signal waiting that it would act on (proc(5): SigPnd, ShdPnd,
/// SigBlk, SigIgn, SigCgt)? A traced task is queued even the signals it ignores.
pub(crate) fn signal_waiting(tid: Pid) -> bool {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{tid}/status")) else {
        return false;
    };
    let mask = |key: &str| crate::trace::caps::status_mask(&status, key);
    let pending = mask("SigPnd:") | mask("ShdPnd:");
    let caught = mask("SigCgt:");
    // Signals whose default action is to ignore them (signal(7)), unless caught.
    let bit = |s: i32| 1u64 << (s - 1);
    let default_ignored =
        bit(libc::SIGCHLD) | bit(libc::SIGURG) | bit(libc::SIGWINCH) | bit(libc::SIGCONT);
    let acted = pending & !mask("SigBlk:") & !mask("SigIgn:") & !(default_ignored & !caught);
    acted != 0
}

/// Is `tid` asleep in a system call that ends by itself after a timeout
/// (`/proc/<tid>/syscall`: the number and the six arguments of the call it blocks in)?
fn timed_wait(tid: Pid) -> bool {
    let Ok(text) = std::fs::read_to_string(format!("/proc/{tid}/syscall")) else {
        return false;
    };
    let mut fields = text.split_whitespace();
    let Some(Ok(nr)) = fields.next().map(str::parse::<libc::c_long>) else {
        return false;
    };
    let args: Vec<u64> = fields
        .take(6)
        .filter_map(|a| u64::from_str_radix(a.trim_start_matches("0x"), 16).ok())
        .collect();
    let arg = |i: usize| args.get(i).copied().unwrap_or(0);
    // An int timeout in ms: negative waits forever.
    let ms = |i: usize| (arg(i) as i32) >= 0;
    match nr {
        libc::SYS_poll => ms(2),
        libc::SYS_epoll_wait | libc::SYS_epoll_pwait => ms(3),
        libc::SYS_ppoll | libc::SYS_rt_sigtimedwait => arg(2) != 0,
        libc::SYS_select | libc::SYS_pselect6 | libc::SYS_epoll_pwait2 => arg(4) != 0,
        libc::SYS_semtimedop => arg(3) != 0,
        libc::SYS_futex => {
            let cmd = arg(1) as i32 & libc::FUTEX_CMD_MASK;
            let waits = matches!(
                cmd,
                libc::FUTEX_WAIT
                    | libc::FUTEX_WAIT_BITSET
                    | libc::FUTEX_LOCK_PI
                    | libc::FUTEX_WAIT_REQUEUE_PI
            );
            waits && arg(3) != 0
        }
        // A sleep the tracer does not hold (a CPU-time clock).
        libc::SYS_nanosleep | libc::SYS_clock_nanosleep => true,
        _ => false,
    }
}

/// With `PROCLAB_VCLOCK_DEBUG` set: why a sample was not quiescent.
fn debug_why(tid: Pid, state: char) {
    if std::env::var_os("PROCLAB_VCLOCK_DEBUG").is_some() {
        let call = std::fs::read_to_string(format!("/proc/{tid}/syscall")).unwrap_or_default();
        eprintln!("vclock: {tid} busy ({state}) in {}", call.trim());
    }
}

impl Tracer {
    /// [`run`](Self::run) on the virtual clock: the wait is interrupted every tick, and
    /// a tick also runs between stops when stops keep coming.
    pub(crate) fn run_virtual(&mut self) -> Result<(), TraceError> {
        loop {
            let wake = stops::next_or_tick().map_err(|errno| TraceError::Ptrace {
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
                    if let Some(vc) = self.vclock.as_mut() {
                        vc.dirty = true;
                    }
                    self.handle(stop);
                    if self.vclock.as_ref().is_some_and(|vc| vc.tick_due()) {
                        self.on_tick();
                    }
                }
            }
        }
    }

    /// Sample the free tasks; None if one of them can run (or is at an unhandled stop).
    fn sample(&self) -> Option<Sample> {
        if !self.early.is_empty() {
            return None;
        }
        let vc = self.vclock.as_ref()?;
        let mut sample = Vec::new();
        for &tid in self.tasks.keys() {
            if vc.held.contains_key(&tid) || self.gates.is_held(tid) {
                continue;
            }
            match probe(tid) {
                Some(('S', _)) if timed_wait(tid) => {
                    debug_why(tid, 'S');
                    return None;
                }
                Some(('S' | 'Z' | 'X', ran)) => sample.push((tid, ran)),
                Some((state, _)) => {
                    debug_why(tid, state);
                    return None;
                }
                None => {} // gone: its exit is on its way
            }
        }
        sample.sort_unstable();
        Some(sample)
    }

    /// A tick: release what is due, then jump the clock if the run is quiescent.
    pub(crate) fn on_tick(&mut self) {
        let dirty = match self.vclock.as_mut() {
            Some(vc) => {
                vc.last_tick = std::time::Instant::now();
                std::mem::replace(&mut vc.dirty, false)
            }
            None => return,
        };
        if self.stopping {
            return;
        }
        self.release_signalled();
        self.release_due();
        if self.check_virtual_limits() {
            return;
        }
        let sample = self.sample();
        let Some(vc) = self.vclock.as_mut() else {
            return;
        };
        // A sleep released above is a change too.
        let dirty = dirty || std::mem::replace(&mut vc.dirty, false);
        if dirty || sample.is_none() || vc.prev != sample {
            vc.steady = 0;
        } else {
            vc.steady += 1;
        }
        vc.prev = sample;
        if vc.steady < STEADY_TICKS {
            return;
        }
        vc.steady = 0;
        if std::env::var_os("PROCLAB_VCLOCK_DEBUG").is_some() {
            eprintln!(
                "vclock: jump at {} from sample {:?}, held {:?}, tasks {:?}",
                vc.now(),
                vc.prev,
                vc.held,
                self.tasks.keys().collect::<Vec<_>>()
            );
        }
        vc.prev = None;
        // Quiescent: jump to what comes next.
        let limit = vc.linger_end().unwrap_or(vc.time_limit_ns);
        match vc.next_due() {
            Some((which, deadline)) if deadline <= limit => {
                vc.advance_to(deadline);
                match which {
                    Ok(tid) => self.release_sleep(tid, false),
                    Err(tid) => self.expire_timed_wait(tid),
                }
            }
            _ => {
                vc.advance_to(limit);
                self.check_virtual_limits();
            }
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
