//! Waiting for the next ptrace stop of this thread's tracees, and resuming tracees.
//!
//! `waitpid(-1, __WALL | __WNOTHREAD)`: __WALL to see threads (clone children), and
//! __WNOTHREAD so that several runs traced by several threads of one grader never steal
//! each other's stops (ptrace(2): a tracee belongs to the tracer *thread*).
//!
//! nix's `WaitStatus` and `ptrace::cont` only know the classic signals; a real-time
//! signal in a status would make nix's waitpid fail *after* consuming the status, and
//! one could not be re-injected. So statuses are decoded here from the raw int, and
//! signal injection uses libc's ptrace with a plain number.

use nix::errno::Errno;
use nix::unistd::Pid;

/// One wait status of a tracee.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// The task is gone: exit code.
    Exited(Pid, i32),
    /// The task is gone: killed by a signal (core dumped?).
    Signaled(Pid, i32, bool),
    /// Signal-delivery-stop: the task is about to receive `sig`.
    Signal(Pid, i32),
    /// PTRACE_EVENT_* stop (`sig` is SIGTRAP, or the stop signal for group-stops).
    Event(Pid, i32, i32),
    /// Syscall-exit stop (PTRACE_O_TRACESYSGOOD marks it with 0x80).
    Syscall(Pid),
}

impl Stop {
    /// The task the status is about.
    pub(crate) fn tid(self) -> Pid {
        match self {
            Stop::Exited(tid, _)
            | Stop::Signaled(tid, ..)
            | Stop::Signal(tid, _)
            | Stop::Event(tid, ..)
            | Stop::Syscall(tid) => tid,
        }
    }
}

/// The statuses of this thread's tracees, handed out in turn.
///
/// One waitpid per stop is unfair: the kernel reports the tracees earliest in its list
/// first, so a few tracees that stop again as soon as they are resumed (a server's
/// children spinning on a recv() that returns b'' for ever) starved a new one for
/// seconds, and its client timed out. So each blocking wait is followed by a sweep with
/// WNOHANG that takes every status already waiting, and the next statuses are handed out
/// from that batch first. A stopped tracee is reported once until it is resumed, so a
/// batch holds each tracee at most once: every tracee stopped now is handled before any
/// of them is seen again.
#[derive(Debug, Default)]
pub(crate) struct Stops {
    batch: std::collections::VecDeque<(Pid, i32)>,
}

/// waitpid(-1) on this thread's tracees and children, with `flags` added.
fn wait_any(flags: libc::c_int) -> Result<Option<(Pid, i32)>, Errno> {
    let mut status = 0;
    // SAFETY: plain syscall with a valid out-pointer.
    let pid = unsafe { libc::waitpid(-1, &mut status, libc::__WALL | libc::__WNOTHREAD | flags) };
    match pid {
        0 => Ok(None),
        p if p < 0 => Err(Errno::last()),
        p => Ok(Some((Pid::from_raw(p), status))),
    }
}

impl Stops {
    /// The next status: from the batch, else block for one and sweep the rest in.
    fn next_status(&mut self) -> Result<(Pid, i32), Errno> {
        if let Some(status) = self.batch.pop_front() {
            return Ok(status);
        }
        let first = wait_any(0)?.ok_or(Errno::EAGAIN)?;
        while let Ok(Some(more)) = wait_any(libc::WNOHANG) {
            self.batch.push_back(more);
        }
        Ok(first)
    }

    /// Block until one of this thread's tracees (or its child) changes state.
    /// `Ok(None)`: no tracees and no children left (ECHILD).
    pub(crate) fn next(&mut self) -> Result<Option<Stop>, Errno> {
        loop {
            match self.next_status() {
                Ok((pid, status)) => {
                    if let Some(stop) = decode(pid, status) {
                        return Ok(Some(stop));
                    }
                }
                Err(Errno::EINTR | Errno::EAGAIN) => continue,
                Err(Errno::ECHILD) => return Ok(None),
                Err(e) => return Err(e),
            }
        }
    }

    /// [`next`](Self::next), but an interrupted wait returns [`Wake::Tick`].
    pub(crate) fn next_or_tick(&mut self) -> Result<Wake, Errno> {
        match self.next_status() {
            Ok((pid, status)) => Ok(decode(pid, status).map_or(Wake::Tick, Wake::Stop)),
            Err(Errno::EINTR | Errno::EAGAIN) => Ok(Wake::Tick),
            Err(Errno::ECHILD) => Ok(Wake::Done),
            Err(e) => Err(e),
        }
    }

    /// Is a stop or an exit of a tracee waiting to be handled: in the batch, or not yet
    /// collected (waitid(2) with WNOWAIT leaves it in place)? A task whose exit is not
    /// collected yet still shows as asleep or a zombie, and its parent sleeps in `wait`
    /// until the tracer collects it.
    pub(crate) fn pending(&self) -> bool {
        use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid};
        if !self.batch.is_empty() {
            return true;
        }
        let flags = WaitPidFlag::WEXITED
            | WaitPidFlag::WSTOPPED
            | WaitPidFlag::WNOHANG
            | WaitPidFlag::WNOWAIT
            | WaitPidFlag::__WALL
            | WaitPidFlag::__WNOTHREAD;
        !matches!(waitid(Id::All, flags), Ok(WaitStatus::StillAlive) | Err(_))
    }
}

/// What the loop wakes up for on the virtual clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wake {
    Stop(Stop),
    /// The ticker interrupted the wait (`vclock/tick.rs`).
    Tick,
    /// No tracees left.
    Done,
}

fn decode(pid: Pid, status: i32) -> Option<Stop> {
    if libc::WIFEXITED(status) {
        return Some(Stop::Exited(pid, libc::WEXITSTATUS(status)));
    }
    if libc::WIFSIGNALED(status) {
        return Some(Stop::Signaled(
            pid,
            libc::WTERMSIG(status),
            libc::WCOREDUMP(status),
        ));
    }
    if libc::WIFSTOPPED(status) {
        let sig = libc::WSTOPSIG(status);
        let event = status >> 16;
        if sig == libc::SIGTRAP | 0x80 {
            return Some(Stop::Syscall(pid));
        }
        if event != 0 {
            return Some(Stop::Event(pid, sig, event));
        }
        return Some(Stop::Signal(pid, sig));
    }
    None
}

/// Resume until the next filtered syscall or event (PTRACE_CONT), delivering `sig`.
/// A tracee that vanished meanwhile (killed) is not an error.
pub(crate) fn resume(tid: Pid, sig: i32) {
    // SAFETY: PTRACE_CONT with a signal number as data; no pointers involved.
    unsafe { libc::ptrace(libc::PTRACE_CONT, tid.as_raw(), 0usize, sig as usize) };
}

/// Resume to the current syscall's exit stop (PTRACE_SYSCALL). Used only right after a
/// seccomp stop, so the tracee goes back to PTRACE_CONT at once after that exit: the
/// seccomp fast path is kept (no stop at every syscall, unlike strace --seccomp-bpf
/// with new children).
pub(crate) fn resume_to_exit(tid: Pid) {
    let _ = nix::sys::ptrace::syscall(tid, None);
}

/// Leave a group-stopped tracee stopped but let it be continued by SIGCONT
/// (PTRACE_LISTEN, ptrace(2) "Group-stop"; nix has no wrapper).
pub(crate) fn listen(tid: Pid) {
    // SAFETY: PTRACE_LISTEN takes no pointers.
    unsafe { libc::ptrace(libc::PTRACE_LISTEN, tid.as_raw(), 0usize, 0usize) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_raw_statuses() {
        let pid = Pid::from_raw(7);
        assert_eq!(decode(pid, 3 << 8), Some(Stop::Exited(pid, 3)));
        assert_eq!(decode(pid, 9), Some(Stop::Signaled(pid, 9, false)));
        assert_eq!(
            decode(pid, 0x7f | ((libc::SIGTRAP | 0x80) << 8)),
            Some(Stop::Syscall(pid))
        );
        let seccomp = 0x7f | (libc::SIGTRAP << 8) | (libc::PTRACE_EVENT_SECCOMP << 16);
        assert_eq!(
            decode(pid, seccomp),
            Some(Stop::Event(pid, libc::SIGTRAP, libc::PTRACE_EVENT_SECCOMP))
        );
        // A real-time signal, which nix's WaitStatus cannot represent.
        assert_eq!(decode(pid, 0x7f | (40 << 8)), Some(Stop::Signal(pid, 40)));
    }
}
