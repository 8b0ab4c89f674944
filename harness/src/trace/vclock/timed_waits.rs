//! Timeouts of kernel waits on the virtual clock: poll, ppoll, select, pselect6,
//! epoll_wait, epoll_pwait, epoll_pwait2 and timed futex waits (Python's
//! `join(timeout)` polls its sentinel; `lock.acquire(timeout=…)`, `Event.wait(t)` and
//! a thread waiting for the GIL make FUTEX_WAIT_BITSET with an absolute deadline, read
//! on the program's virtual clock).
//!
//! At the seccomp stop the tracer notes the virtual deadline, takes the timeout away
//! (the call then waits without one, so while it waits its task counts as quiescent,
//! `quiescence.rs`) and follows the call to its exit. When the deadline comes (the clock
//! jumped to it, or real time reached it), the task is interrupted (PTRACE_INTERRUPT);
//! at the exit the interrupted call returns what a timeout returns: 0 (select's sets
//! emptied), or ETIMEDOUT for a futex. A call that ends by itself keeps its result. A
//! call that a signal interrupts gets its timeout argument back before the kernel
//! restarts it, and so waits its whole timeout again (the kernel would wait what was
//! left): a small over-wait, only with signals.

use nix::unistd::Pid;

use super::clock_calls::{read_time, real_ns, set_result};
use crate::trace::calls::ExitWait;
use crate::trace::memory;
use crate::trace::stops;
use crate::trace::tracer_loop::Tracer;

/// What a timed-out call returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Timeout {
    /// 0 (poll, ppoll, epoll_wait, epoll_pwait, epoll_pwait2).
    Zero,
    /// 0 with the three fd sets emptied: select and pselect6 (`nfds`, set addresses).
    Select { nfds: u64, sets: [u64; 3] },
    /// -ETIMEDOUT (futex).
    TimedOut,
}

/// A task in a kernel wait whose timeout the tracer took over.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TimedWait {
    /// Virtual ns since the run's start.
    pub deadline: u64,
    /// Shares the held sleeps' sequence: ties release in the order the waits began.
    pub seq: u64,
    timeout: Timeout,
    /// The timeout argument's index and the value the program passed.
    arg: usize,
    original: u64,
    /// The tracer interrupted it at its deadline.
    expired: bool,
}

/// Restart codes a syscall interrupted by a signal (or by PTRACE_INTERRUPT) returns,
/// which the program never sees (errno.h in the kernel: ERESTARTSYS…RESTART_RESTARTBLOCK).
fn interrupted(ret: i64) -> bool {
    matches!(-ret, 512 | 513 | 514 | 516) || ret == -i64::from(libc::EINTR)
}

/// Set argument `i` of the syscall a stopped task is in (x86_64 registers).
#[cfg(target_arch = "x86_64")]
fn set_arg(tid: Pid, i: usize, value: u64) -> bool {
    let Ok(mut regs) = nix::sys::ptrace::getregs(tid) else {
        return false;
    };
    match i {
        0 => regs.rdi = value,
        1 => regs.rsi = value,
        2 => regs.rdx = value,
        3 => regs.r10 = value,
        4 => regs.r8 = value,
        _ => regs.r9 = value,
    }
    nix::sys::ptrace::setregs(tid, regs).is_ok()
}

#[cfg(not(target_arch = "x86_64"))]
fn set_arg(_tid: Pid, _i: usize, _value: u64) -> bool {
    false
}

/// The call's timeout: (argument index, what "no timeout" is there, what a timeout
/// returns, the time left in ns, or None to leave the call alone).
/// `offset`: the virtual clock's offset over real time.
fn decode(tid: Pid, nr: i64, args: [u64; 6], offset: u64) -> Option<(usize, u64, Timeout, u64)> {
    let ms = |v: u64| (v as i32 > 0).then(|| u64::from(v as i32 as u32) * 1_000_000);
    let select = Timeout::Select {
        nfds: args[0],
        sets: [args[1], args[2], args[3]],
    };
    match nr {
        libc::SYS_poll => Some((2, u64::MAX, Timeout::Zero, ms(args[2])?)),
        libc::SYS_epoll_wait | libc::SYS_epoll_pwait => {
            Some((3, u64::MAX, Timeout::Zero, ms(args[3])?))
        }
        libc::SYS_ppoll => Some((2, 0, Timeout::Zero, read_time(tid, args[2], false)?)),
        libc::SYS_epoll_pwait2 => Some((4, 0, Timeout::Zero, read_time(tid, args[4], false)?)),
        libc::SYS_select => Some((4, 0, select, read_time(tid, args[4], true)?)),
        libc::SYS_pselect6 => Some((4, 0, select, read_time(tid, args[4], false)?)),
        libc::SYS_futex => {
            let op = args[1] as i32;
            let time = read_time(tid, args[3], false)?;
            match op & libc::FUTEX_CMD_MASK {
                libc::FUTEX_WAIT => Some((3, 0, Timeout::TimedOut, time)),
                libc::FUTEX_WAIT_BITSET => {
                    let clock = if op & libc::FUTEX_CLOCK_REALTIME != 0 {
                        libc::CLOCK_REALTIME
                    } else {
                        libc::CLOCK_MONOTONIC
                    };
                    // The deadline is on the program's virtual reading of `clock`.
                    let virtual_now = real_ns(i64::from(clock))?.saturating_add(offset);
                    Some((3, 0, Timeout::TimedOut, time.saturating_sub(virtual_now)))
                }
                _ => None,
            }
        }
        _ => None,
    }
}

/// Syscalls whose timeouts this module takes over.
pub(crate) fn is_timed_wait(nr: i64) -> bool {
    matches!(
        nr,
        libc::SYS_poll
            | libc::SYS_epoll_wait
            | libc::SYS_epoll_pwait
            | libc::SYS_ppoll
            | libc::SYS_epoll_pwait2
            | libc::SYS_select
            | libc::SYS_pselect6
            | libc::SYS_futex
    )
}

impl TimedWait {
    pub(crate) fn expired(&self) -> bool {
        self.expired
    }
}

impl Tracer {
    /// A timed kernel wait at its seccomp stop (virtual mode).
    pub(crate) fn on_timed_wait(&mut self, tid: Pid, nr: i64, args: [u64; 6]) {
        let Some(vc) = self.vclock.as_ref() else {
            return stops::resume(tid, 0);
        };
        if self.stopping {
            return stops::resume(tid, 0);
        }
        let (now, offset) = (vc.now(), vc.offset());
        let Some((arg, untimed, timeout, left)) = decode(tid, nr, args, offset) else {
            return stops::resume(tid, 0);
        };
        if left == 0 && timeout == Timeout::TimedOut {
            // An absolute deadline already past: the kernel would time out at once.
            set_result(tid, true, -i64::from(libc::ETIMEDOUT));
            return stops::resume(tid, 0);
        }
        if left == 0 || !set_arg(tid, arg, untimed) {
            return stops::resume(tid, 0);
        }
        let Some(task) = self.tasks.get_mut(&tid) else {
            return stops::resume(tid, 0);
        };
        task.exit_wait = Some(ExitWait::TimedWait);
        let Some(vc) = self.vclock.as_mut() else {
            return stops::resume(tid, 0);
        };
        let seq = vc.next_seq();
        vc.timed.insert(
            tid,
            TimedWait {
                deadline: now.saturating_add(left),
                seq,
                timeout,
                arg,
                original: args[arg],
                expired: false,
            },
        );
        vc.quicken(super::Pace::Normal);
        stops::resume_to_exit(tid);
    }

    /// The exit of a timed wait: a timeout's result if the tracer interrupted it.
    pub(crate) fn end_timed_wait(&mut self, tid: Pid, ret: i64) {
        let Some(wait) = self.vclock.as_mut().and_then(|vc| vc.timed.remove(&tid)) else {
            return;
        };
        if !interrupted(ret) {
            return;
        }
        if !wait.expired {
            // A signal: the kernel may restart the call; give it its timeout back.
            set_arg(tid, wait.arg, wait.original);
            return;
        }
        match wait.timeout {
            Timeout::Zero => {
                set_result(tid, false, 0);
            }
            Timeout::TimedOut => {
                set_result(tid, false, -i64::from(libc::ETIMEDOUT));
            }
            Timeout::Select { nfds, sets } => {
                let bytes = vec![0u8; (nfds.min(1 << 16) as usize).div_ceil(64) * 8];
                for set in sets.into_iter().filter(|&s| s != 0) {
                    memory::write_bytes(tid, set, &bytes);
                }
                set_result(tid, false, 0);
            }
        }
    }

    /// Interrupt a timed wait at its deadline (its exit then gives the timeout result).
    pub(crate) fn expire_timed_wait(&mut self, tid: Pid) {
        let Some(vc) = self.vclock.as_mut() else {
            return;
        };
        if let Some(wait) = vc.timed.get_mut(&tid)
            && !wait.expired
        {
            wait.expired = true;
            let _ = nix::sys::ptrace::interrupt(tid);
        }
    }
}
