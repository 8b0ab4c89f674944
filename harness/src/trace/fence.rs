//! The signal fence: a traced process may signal only processes of its own run.
//!
//! When the run stays root (its interpreter is out of `nobody`'s reach) the uid layer
//! cannot stop `os.kill(os.getppid(), SIGKILL)` from killing the grader, nor `kill(-1)`
//! from killing every process on the machine. So at the seccomp stop of kill, tkill,
//! tgkill and pidfd_send_signal the tracer checks the target, and skips the syscall with
//! EPERM when it is not a process of this run (seccomp(2): a tracer may skip a syscall by
//! setting its number to -1; the return value is then whatever it leaves in the result
//! register). Targets are judged against every pid the run ever had, so signalling an
//! exited but unreaped child still works as the kernel would allow.

use std::collections::HashSet;

use nix::unistd::Pid;

use super::syscalls::SignalTarget;

/// May a process of the run send a signal to `target` (resolved pid for pidfds)?
pub(crate) fn allowed(target: SignalTarget, resolved: Option<i32>, ours: &HashSet<Pid>) -> bool {
    let ours = |pid: i32| ours.contains(&Pid::from_raw(pid));
    match target {
        // 0: the caller's own process group, which is inside the run's session.
        SignalTarget::Process(0) => true,
        // -1: every process the caller may signal, i.e. the whole machine for root.
        SignalTarget::Process(-1) => false,
        SignalTarget::Process(pid) if pid > 0 => ours(pid),
        // A process group: its id is the pid of a process of the run that led it.
        SignalTarget::Process(group) => group.checked_neg().is_some_and(ours),
        SignalTarget::Thread(tid) => ours(tid),
        SignalTarget::Pidfd(_) => resolved.is_some_and(ours),
    }
}

/// Skip the syscall `tid` is stopped at (a seccomp stop) and make it return `-errno`.
/// Returns false where this architecture is not supported (the call then goes ahead).
pub(crate) fn deny(tid: Pid, errno: i32) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        let Ok(mut regs) = nix::sys::ptrace::getregs(tid) else {
            return false;
        };
        regs.orig_rax = u64::MAX;
        regs.rax = (-i64::from(errno)) as u64;
        nix::sys::ptrace::setregs(tid, regs).is_ok()
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (tid, errno);
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_runs_own_processes_may_be_signalled() {
        let ours: HashSet<Pid> = [10, 11].into_iter().map(Pid::from_raw).collect();
        assert!(allowed(SignalTarget::Process(11), None, &ours));
        assert!(allowed(SignalTarget::Process(0), None, &ours));
        assert!(allowed(SignalTarget::Process(-10), None, &ours));
        assert!(!allowed(SignalTarget::Process(1), None, &ours));
        assert!(!allowed(SignalTarget::Process(-1), None, &ours));
        assert!(!allowed(SignalTarget::Process(-2), None, &ours));
        assert!(!allowed(SignalTarget::Process(i32::MIN), None, &ours));
        assert!(allowed(SignalTarget::Thread(10), None, &ours));
        assert!(!allowed(SignalTarget::Pidfd(3), Some(99), &ours));
        assert!(!allowed(SignalTarget::Pidfd(3), None, &ours));
    }
}
