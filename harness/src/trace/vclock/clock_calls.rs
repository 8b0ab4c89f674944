//! The program's clock reads in virtual time: clock_gettime, gettimeofday and time are
//! stopped by the filter (the vDSO is hidden, `auxv.rs`); at their exit the offset is
//! added to what the kernel wrote. CPU-time clocks are left alone. With no offset yet,
//! the call goes on without an exit stop.

use nix::unistd::Pid;

use crate::trace::calls::ExitWait;
use crate::trace::memory;
use crate::trace::stops;
use crate::trace::tracer_loop::Tracer;

/// What to correct at a clock read's exit.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ClockFix {
    /// A `struct timespec` at this address.
    Timespec(u64),
    /// A `struct timeval` at this address.
    Timeval(u64),
    /// time(2): the return value, and the `time_t` at this address (0: none).
    Time(u64),
}

/// Clocks that follow wall or monotonic time (clock_gettime(2)); the others count CPU
/// time, which the virtual clock does not change.
pub(crate) fn follows_time(clock: i64) -> bool {
    matches!(
        clock as libc::clockid_t,
        libc::CLOCK_REALTIME
            | libc::CLOCK_MONOTONIC
            | libc::CLOCK_MONOTONIC_RAW
            | libc::CLOCK_REALTIME_COARSE
            | libc::CLOCK_MONOTONIC_COARSE
            | libc::CLOCK_BOOTTIME
            | libc::CLOCK_REALTIME_ALARM
            | libc::CLOCK_BOOTTIME_ALARM
            | libc::CLOCK_TAI
    )
}

/// The real reading of `clock` in ns (the tracer's own, vDSO-backed).
pub(crate) fn real_ns(clock: i64) -> Option<u64> {
    let ts =
        nix::time::clock_gettime(nix::time::ClockId::from_raw(clock as libc::clockid_t)).ok()?;
    Some((ts.tv_sec() as u64).saturating_mul(1_000_000_000) + ts.tv_nsec() as u64)
}

/// A `struct timespec` (`micro`: a `struct timeval`) at `addr` as ns; None if
/// unreadable or invalid (the kernel then fails the call itself, e.g. EINVAL).
pub(crate) fn read_time(tid: Pid, addr: u64, micro: bool) -> Option<u64> {
    const NS: u64 = 1_000_000_000;
    let sec = memory::read_u64(tid, addr)? as i64;
    let sub = memory::read_u64(tid, addr + 8)? as i64;
    let per = if micro { 1_000_000 } else { NS as i64 };
    if sec < 0 || !(0..per).contains(&sub) {
        return None;
    }
    Some(
        (sec as u64)
            .saturating_mul(NS)
            .saturating_add(sub as u64 * (NS / per as u64)),
    )
}

/// Set the return register of a task at a syscall-exit stop, or skip the syscall at a
/// seccomp stop with this result (seccomp(2): nr -1 skips it, the return register is
/// what the call returns).
#[cfg(target_arch = "x86_64")]
pub(crate) fn set_result(tid: Pid, skip: bool, value: i64) -> bool {
    let Ok(mut regs) = nix::sys::ptrace::getregs(tid) else {
        return false;
    };
    if skip {
        regs.orig_rax = u64::MAX;
    }
    regs.rax = value as u64;
    nix::sys::ptrace::setregs(tid, regs).is_ok()
}

#[cfg(not(target_arch = "x86_64"))]
pub(crate) fn set_result(_tid: Pid, _skip: bool, _value: i64) -> bool {
    false
}

fn add_to(tid: Pid, addr: u64, offset_ns: u64, sub_per_sec: u64) {
    let (Some(sec), Some(sub)) = (memory::read_u64(tid, addr), memory::read_u64(tid, addr + 8))
    else {
        return;
    };
    let unit = 1_000_000_000 / sub_per_sec;
    let total = sub.saturating_add(offset_ns % 1_000_000_000 / unit);
    let sec = sec
        .wrapping_add(offset_ns / 1_000_000_000)
        .wrapping_add(total / sub_per_sec);
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&sec.to_ne_bytes());
    out[8..].copy_from_slice(&(total % sub_per_sec).to_ne_bytes());
    memory::write_bytes(tid, addr, &out);
}

impl Tracer {
    /// A clock read or a sleep at its seccomp stop (virtual mode). False: not one.
    pub(crate) fn on_clock_syscall(&mut self, tid: Pid, nr: u64, args: [u64; 6]) -> bool {
        let Some(clock) = self.vclock.as_ref() else {
            return false;
        };
        let offset = clock.offset();
        let fix = match nr as libc::c_long {
            libc::SYS_clock_gettime if follows_time(args[0] as i64) => {
                Some(ClockFix::Timespec(args[1]))
            }
            libc::SYS_clock_gettime => None,
            libc::SYS_gettimeofday if args[0] != 0 => Some(ClockFix::Timeval(args[0])),
            libc::SYS_gettimeofday => None,
            libc::SYS_time => Some(ClockFix::Time(args[0])),
            libc::SYS_nanosleep => {
                self.on_sleep(tid, libc::CLOCK_MONOTONIC as i64, false, args[0], args[1]);
                return true;
            }
            libc::SYS_clock_nanosleep => {
                let abs = args[1] as i32 & libc::TIMER_ABSTIME != 0;
                self.on_sleep(tid, args[0] as i64, abs, args[2], args[3]);
                return true;
            }
            libc::SYS_getrandom => {
                self.on_getrandom(tid, args[0], args[1]);
                return true;
            }
            nr if super::is_timed_wait(nr) => {
                self.on_timed_wait(tid, nr, args);
                return true;
            }
            _ => return false,
        };
        match (fix, self.tasks.get_mut(&tid)) {
            (Some(fix), Some(task)) if offset > 0 => {
                task.exit_wait = Some(ExitWait::Clock(fix));
                stops::resume_to_exit(tid);
            }
            _ => stops::resume(tid, 0),
        }
        true
    }

    /// The exit of a clock read: add the offset to what it returned.
    pub(crate) fn fix_clock_read(&mut self, tid: Pid, fix: ClockFix, ret: i64) {
        let offset = self.vclock.as_ref().map_or(0, |c| c.offset());
        match fix {
            ClockFix::Timespec(addr) if ret == 0 => add_to(tid, addr, offset, 1_000_000_000),
            ClockFix::Timeval(addr) if ret == 0 => add_to(tid, addr, offset, 1_000_000),
            ClockFix::Time(tloc) if ret >= 0 => {
                let now = real_ns(libc::CLOCK_REALTIME as i64).unwrap_or(0);
                let secs = (now.saturating_add(offset) / 1_000_000_000) as i64;
                set_result(tid, false, secs);
                if tloc != 0 {
                    memory::write_bytes(tid, tloc, &secs.to_ne_bytes());
                }
            }
            _ => {}
        }
    }
}
