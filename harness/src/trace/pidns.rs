//! The run's own pid namespace (pid_namespaces(7)): the program sees pids from 2 up,
//! cannot name any process outside its run, and the namespace's end kills whatever the
//! run left, even a process that escaped tracing.
//!
//! Shape: the grader's child C (in the grader's namespace) makes the namespace and forks
//! its init I (pid 1 inside); I forks the program's root S (pid 2) and then only reaps,
//! as an init does, until it has no child left; C waits for I. C and I are never traced:
//! the tracer seizes S. Why an init of our own rather than S as pid 1: an init ignores
//! every signal it has no handler for (a server's SIGTERM would do nothing), orphans
//! would become S's children, and S's exit would kill every orphan at once, before the
//! grace they are given.
//!
//! Pids the program hands to the kernel (kill's target, the pid wait returns) are inner
//! ones; the ledger keeps the grader's view, so the tracer translates them through each
//! task's `NSpid` (proc(5)), read when the task appears. `/proc` stays the host's (it is
//! not remounted), so the program's `/proc/self` still resolves.

use std::collections::HashMap;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::Signal;
use nix::unistd::Pid;

use super::rawsys::{fork_raw, pidfd_open};

/// Child stages reported on failure (indexes into `spawn::STAGES`).
pub(crate) const STAGE_UNSHARE: u8 = 13;
pub(crate) const STAGE_INIT: u8 = 14;

/// One report record on the pid pipe: a tag (`I`: the init, `S`: the program's root)
/// and that process's pid in the grader's namespace.
const RECORD: usize = 5;

/// In the child C, once it has the capability to (in the run's user namespace, or as
/// the grader's root): make the namespace and fork its init, which forks the program's
/// root. Returns only in that root (`Ok`) or on failure; C and the init live on here
/// until the namespace is empty and then `_exit`. Async-signal-safe: raw syscalls on
/// stack data only.
pub(crate) fn enter(report: BorrowedFd<'_>) -> Result<(), (u8, Errno)> {
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWPID).map_err(|e| (STAGE_UNSHARE, e))?;
    // SAFETY: C is single-threaded (a fresh child); only raw syscalls follow.
    let init = unsafe { fork_raw() }.map_err(|e| (STAGE_INIT, e))?;
    if let Some(init) = init {
        let _ = nix::unistd::write(report, &record(b'I', init.as_raw()));
        close_all();
        // C ends with the namespace: its exit is what tells the tracer the run is over.
        loop {
            match nix::sys::wait::waitpid(init, None) {
                Err(Errno::EINTR) => continue,
                _ => exit(0),
            }
        }
    }
    // The init, pid 1 inside; it ends with C (which only the tracer kills).
    nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(|e| (STAGE_INIT, e))?;
    // SAFETY: as above.
    match unsafe { fork_raw() }.map_err(|e| (STAGE_INIT, e))? {
        None => {
            let _ = nix::unistd::write(report, &record(b'S', own_outer_pid()));
            Ok(())
        }
        Some(_) => {
            close_all();
            loop {
                let mut status = 0;
                // SAFETY: waitpid(2) with a valid status pointer.
                if unsafe { libc::waitpid(-1, &mut status, 0) } < 0
                    && Errno::last() == Errno::ECHILD
                {
                    exit(0);
                }
            }
        }
    }
}

fn record(tag: u8, pid: i32) -> [u8; RECORD] {
    let mut r = [tag, 0, 0, 0, 0];
    r[1..].copy_from_slice(&pid.to_ne_bytes());
    r
}

/// This process's pid in the host's namespace: `/proc/self` resolves in the namespace
/// of the `/proc` mount, which is the host's. 0 if unreadable.
fn own_outer_pid() -> i32 {
    let mut buf = [0u8; 16];
    // SAFETY: readlink(2) into a stack buffer of the given length.
    let n = unsafe { libc::readlink(c"/proc/self".as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    let mut pid = 0i32;
    for &b in buf.iter().take(n.max(0) as usize) {
        if !b.is_ascii_digit() {
            return 0;
        }
        pid = pid.saturating_mul(10).saturating_add(i32::from(b - b'0'));
    }
    pid
}

/// Keep nothing of the grader's open (the output pipes, the sync pipe): the run's
/// output must end when its last program process ends.
fn close_all() {
    // SAFETY: close_range(2) on the whole table.
    unsafe { libc::syscall(libc::SYS_close_range, 0u32, u32::MAX, 0u32) };
}

fn exit(code: i32) -> ! {
    // SAFETY: _exit is async-signal-safe.
    unsafe { libc::_exit(code) }
}

/// The tracer's side: the helpers' pids, the init's pidfd and the pid translation.
#[derive(Debug)]
pub(crate) struct PidNs {
    /// C, the grader's child (reaped by the tracer loop when the namespace is empty).
    outer: Pid,
    init: Pid,
    /// A pidfd for the init: killing it by pid could hit a stranger once C reaped it.
    init_fd: Option<OwnedFd>,
    inner_to_outer: HashMap<i32, i32>,
}

impl PidNs {
    /// Read the init's and the root's pids from the pid pipe (C and S write them right
    /// after their forks). `Err` when C or the init died first (the error pipe says why).
    pub(crate) fn attach(outer: Pid, report: &OwnedFd) -> Result<(PidNs, Pid), Errno> {
        let (mut init, mut root) = (None, None);
        let mut buf = [0u8; RECORD];
        while init.is_none() || root.is_none() {
            let mut poll = [nix::poll::PollFd::new(
                // SAFETY: `report` outlives this borrow.
                unsafe { BorrowedFd::borrow_raw(report.as_raw_fd()) },
                nix::poll::PollFlags::POLLIN,
            )];
            // Bounded: a child that hangs before its fork must not hang the grader.
            if nix::poll::poll(&mut poll, nix::poll::PollTimeout::from(10_000u16))? == 0 {
                return Err(Errno::ETIMEDOUT);
            }
            match nix::unistd::read(report, &mut buf)? {
                RECORD => {}
                _ => return Err(Errno::ESRCH),
            }
            let pid = i32::from_ne_bytes([buf[1], buf[2], buf[3], buf[4]]);
            match buf[0] {
                b'I' => init = Some(Pid::from_raw(pid)),
                _ if pid > 0 => root = Some(Pid::from_raw(pid)),
                _ => return Err(Errno::ENOENT),
            }
        }
        let (init, root) = (init.unwrap_or(outer), root.unwrap_or(outer));
        let init_fd = pidfd_open(init.as_raw(), 0);
        let mut ns = PidNs {
            outer,
            init,
            init_fd,
            inner_to_outer: HashMap::new(),
        };
        ns.inner_to_outer.insert(1, init.as_raw());
        ns.learn(root);
        Ok((ns, root))
    }

    /// Note a new task's inner id (its `NSpid`'s last field).
    pub(crate) fn learn(&mut self, tid: Pid) {
        let Some(status) = super::procfs::read_small(format!("/proc/{tid}/status")) else {
            return;
        };
        if let Some(inner) = status
            .lines()
            .find_map(|l| l.strip_prefix("NSpid:"))
            .and_then(|v| v.split_whitespace().last())
            .and_then(|v| v.parse().ok())
        {
            self.inner_to_outer.insert(inner, tid.as_raw());
        }
    }

    /// The grader's pid for the program's `inner` pid, if it is a task of the run (or
    /// its init).
    pub(crate) fn outer_pid(&self, inner: i32) -> Option<i32> {
        self.inner_to_outer.get(&inner).copied()
    }

    /// Is `pid` one of the namespace's own processes (C or the init), not the program's?
    pub(crate) fn is_helper(&self, pid: i32) -> bool {
        pid == self.outer.as_raw() || pid == self.init.as_raw()
    }

    /// SIGKILL to the init: the kernel then kills every process of the namespace.
    pub(crate) fn kill_all(&self) {
        if let Some(fd) = &self.init_fd {
            // SAFETY: pidfd_send_signal(2) on our pidfd, no siginfo.
            unsafe {
                libc::syscall(
                    libc::SYS_pidfd_send_signal,
                    fd.as_raw_fd(),
                    Signal::SIGKILL as i32,
                    std::ptr::null::<libc::siginfo_t>(),
                    0u32,
                )
            };
        }
    }

    /// End the namespace and reap C, when the tracer loop did not (an error path).
    pub(crate) fn reap(&self) {
        self.kill_all();
        for _ in 0..1000 {
            match nix::sys::wait::waitpid(
                self.outer,
                Some(nix::sys::wait::WaitPidFlag::WNOHANG | nix::sys::wait::WaitPidFlag::__WALL),
            ) {
                Ok(nix::sys::wait::WaitStatus::StillAlive) => {
                    std::thread::sleep(Duration::from_millis(5))
                }
                _ => return,
            }
        }
    }
}
