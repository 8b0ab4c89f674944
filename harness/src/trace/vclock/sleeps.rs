//! Timed sleeps on the virtual clock: nanosleep and clock_nanosleep (relative, as Rust's
//! `thread::sleep`; absolute, as CPython 3.11's `time.sleep`, whose deadline comes from
//! the virtual CLOCK_MONOTONIC) are held at their seccomp stop, not resumed. When the
//! virtual deadline comes, the call is skipped with result 0 (as a completed sleep).
//! A held task that gets a signal it would act on is released at once with EINTR (and
//! the time left in `rem`, which Rust's loop sleeps again), as the kernel would do.

use nix::unistd::Pid;

use super::clock_calls::{follows_time, read_time, real_ns, set_result};
use crate::trace::memory;
use crate::trace::stops;
use crate::trace::tracer_loop::Tracer;

const NS: u64 = 1_000_000_000;

impl Tracer {
    /// A sleep at its seccomp stop: hold it until its virtual deadline.
    pub(crate) fn on_sleep(&mut self, tid: Pid, clock: i64, abs: bool, req: u64, rem: u64) {
        let Some(vc) = self.vclock.as_mut() else {
            return stops::resume(tid, 0);
        };
        let length = match read_time(tid, req, false) {
            Some(ns) if follows_time(clock) && !self.stopping => ns,
            _ => return stops::resume(tid, 0),
        };
        let now = vc.now();
        let left = if abs {
            // The deadline is on the program's (virtual) reading of `clock`.
            match real_ns(clock) {
                Some(real) => length.saturating_sub(real.saturating_add(vc.offset())),
                None => return stops::resume(tid, 0),
            }
        } else {
            length
        };
        if left == 0 {
            set_result(tid, true, 0);
            return stops::resume(tid, 0);
        }
        vc.hold(tid, now.saturating_add(left), if abs { 0 } else { rem });
        // Not resumed: the task stays at its seccomp stop.
    }

    /// Let a held sleep return: 0 at its deadline, or -EINTR (time left in `rem`).
    pub(crate) fn release_sleep(&mut self, tid: Pid, interrupted: bool) {
        let Some(vc) = self.vclock.as_mut() else {
            return;
        };
        let Some(held) = vc.held.remove(&tid) else {
            return;
        };
        if interrupted {
            if held.rem != 0 {
                let left = held.deadline.saturating_sub(vc.now());
                let mut ts = [0u8; 16];
                ts[..8].copy_from_slice(&(left / NS).to_ne_bytes());
                ts[8..].copy_from_slice(&(left % NS).to_ne_bytes());
                memory::write_bytes(tid, held.rem, &ts);
            }
            set_result(tid, true, -i64::from(libc::EINTR));
        } else {
            set_result(tid, true, 0);
        }
        stops::resume(tid, 0);
    }

    /// Release the held sleeps and expire the timed waits whose deadline has passed (on
    /// the clock as it is now), earliest first.
    pub(crate) fn release_due(&mut self) {
        loop {
            let Some(vc) = self.vclock.as_ref() else {
                return;
            };
            match vc.next_due() {
                Some((Ok(tid), deadline)) if deadline <= vc.now() => self.release_sleep(tid, false),
                Some((Err(tid), deadline)) if deadline <= vc.now() => self.expire_timed_wait(tid),
                _ => return,
            }
        }
    }

    /// Release with EINTR the held sleeps of tasks that have a signal waiting that they
    /// would act on (a handler, or a default action that is not to ignore), and start
    /// such tasks if they are gated (`gated_too`). True if it released or started one.
    /// (It reads each waiting task's `/proc/<tid>/status`: the tick calls it when the run
    /// is idle, and every few ms while it is busy, not at every tick.)
    pub(crate) fn release_signalled(&mut self, gated_too: bool) -> bool {
        let gated = self.vclock.as_ref().map_or(0, |vc| vc.gate.len());
        if gated_too {
            self.open_gate_all(super::task_probe::signal_waiting);
        }
        let Some(vc) = self.vclock.as_ref() else {
            return false;
        };
        let started = vc.gate.len() != gated;
        let signalled: Vec<Pid> = vc
            .held
            .keys()
            .copied()
            .filter(|&tid| super::task_probe::signal_waiting(tid))
            .collect();
        let released = !signalled.is_empty();
        for tid in signalled {
            self.release_sleep(tid, true);
        }
        started || released
    }
}
