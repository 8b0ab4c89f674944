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
use crate::trace::fds::OurPipes;
use crate::trace::procfs::read_small;
use crate::trace::recorder::StopReason;
use crate::trace::stops;
use crate::trace::tracer_loop::Tracer;

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

/// A task's state letter (proc(5) `stat`), or None if it is gone.
fn task_state(tid: Pid) -> Option<char> {
    let stat = read_small(format!("/proc/{tid}/stat"))?;
    stat.get(stat.rfind(')')? + 2..)?.chars().next()
}

/// A task's CPU time in ns (`schedstat`), or None if it is gone.
fn cpu_time(tid: Pid) -> Option<u64> {
    let sched = read_small(format!("/proc/{tid}/schedstat"))?;
    sched.split_whitespace().next()?.parse().ok()
}

/// Does `tid` have a signal waiting that it would act on (proc(5): SigPnd, ShdPnd,
/// SigBlk, SigIgn, SigCgt)? A traced task is queued even the signals it ignores.
pub(crate) fn signal_waiting(tid: Pid) -> bool {
    let Some(status) = read_small(format!("/proc/{tid}/status")) else {
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

/// What a task asleep in the kernel waits for, from `/proc/<tid>/syscall` (the number
/// and the six arguments of the call it blocks in).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wait {
    /// Something only the run can end (a child, a pipe between its processes, a
    /// connection), or nothing at all.
    OnTheRun,
    /// A call that ends by itself after a timeout the tracer does not own: the real clock.
    RealClock,
    /// A write to the run's stdout or stderr, which the grader's drain empties: the task
    /// runs again as soon as the drain reads, so it is not idle. (Counted as idle, an
    /// endless writer under load made the clock jump to the time limit instead of the
    /// output cap.)
    OnTheGrader,
}

fn kernel_wait(tid: Pid, pipes: &OurPipes) -> Wait {
    let Some(text) = read_small(format!("/proc/{tid}/syscall")) else {
        return Wait::OnTheRun;
    };
    let mut fields = text.split_whitespace();
    let Some(Ok(nr)) = fields.next().map(str::parse::<libc::c_long>) else {
        return Wait::OnTheRun;
    };
    let args: Vec<u64> = fields
        .take(6)
        .filter_map(|a| u64::from_str_radix(a.trim_start_matches("0x"), 16).ok())
        .collect();
    let arg = |i: usize| args.get(i).copied().unwrap_or(0);
    // An int timeout in ms: negative waits forever.
    let ms = |i: usize| (arg(i) as i32) >= 0;
    let timed = match nr {
        libc::SYS_write
        | libc::SYS_writev
        | libc::SYS_pwrite64
        | libc::SYS_pwritev
        | libc::SYS_pwritev2 => {
            return if pipes.is_ours(tid, arg(0)) {
                Wait::OnTheGrader
            } else {
                Wait::OnTheRun
            };
        }
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
    };
    if timed {
        Wait::RealClock
    } else {
        Wait::OnTheRun
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::File;
    use std::process::{Command, Stdio};

    /// `yes` writing into a pipe nobody reads, until it blocks in write(2).
    fn blocked_writer(into: std::os::fd::OwnedFd) -> std::process::Child {
        let child = Command::new("yes")
            .stdout(Stdio::from(into))
            .spawn()
            .unwrap();
        let tid = Pid::from_raw(child.id() as i32);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while task_state(tid) != Some('S') {
            assert!(std::time::Instant::now() < deadline, "yes never blocked");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        child
    }

    #[test]
    fn a_writer_blocked_on_the_graders_pipe_waits_on_the_grader_not_the_run() {
        // The read ends stay open (and unread) for the whole test.
        let (out_r, out_w) = nix::unistd::pipe().unwrap();
        let (err_r, err_w) = nix::unistd::pipe().unwrap();
        let (out_r, err_r) = (File::from(out_r), File::from(err_r));
        let pipes = OurPipes::of(&out_r, &err_r, [&out_w, &err_w]).unwrap();
        let mut ours = blocked_writer(out_w.try_clone().unwrap());
        let (other_r, other_w) = nix::unistd::pipe().unwrap();
        let mut theirs = blocked_writer(other_w);
        let wait = |c: &std::process::Child| kernel_wait(Pid::from_raw(c.id() as i32), &pipes);
        let seen = (wait(&ours), wait(&theirs));
        for child in [&mut ours, &mut theirs] {
            let _ = child.kill();
            let _ = child.wait();
        }
        drop((out_r, err_r, other_r));
        assert_eq!(seen, (Wait::OnTheGrader, Wait::OnTheRun));
    }
}
