//! What a task of the run is doing, read from `/proc/<tid>/`: its state letter, its CPU
//! time, whether a signal waits for it, and what a task asleep in the kernel waits for.
//! The probes `quiescence.rs` decides idleness with; each is one small read.

use nix::unistd::Pid;

use crate::trace::fds::OurPipes;
use crate::trace::procfs::read_small;

/// A task's state letter (proc(5) `stat`), or None if it is gone.
pub(super) fn task_state(tid: Pid) -> Option<char> {
    let stat = read_small(format!("/proc/{tid}/stat"))?;
    stat.get(stat.rfind(')')? + 2..)?.chars().next()
}

/// A task's CPU time in ns (`schedstat`), or None if it is gone.
pub(super) fn cpu_time(tid: Pid) -> Option<u64> {
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
pub(super) enum Wait {
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

pub(super) fn kernel_wait(tid: Pid, pipes: &OurPipes) -> Wait {
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
pub(super) fn debug_why(tid: Pid, state: char) {
    if std::env::var_os("PROCLAB_VCLOCK_DEBUG").is_some() {
        let call = std::fs::read_to_string(format!("/proc/{tid}/syscall")).unwrap_or_default();
        eprintln!("vclock: {tid} busy ({state}) in {}", call.trim());
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
