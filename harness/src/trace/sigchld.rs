//! Each traced process's SIGCHLD disposition and real parent, so that a child the
//! kernel reaps (its parent ignores SIGCHLD) is recorded as reaped, not as a zombie.
//!
//! The kernel discards a child's status at its exit when the parent's SIGCHLD action is
//! SIG_IGN or carries SA_NOCLDWAIT (sigaction(2), wait(2) NOTES). Under ptrace the child
//! first stays a zombie for the tracer; when the tracer consumes its exit the kernel
//! notifies the real parent and, if that parent ignores SIGCHLD, releases the child
//! (kernel/exit.c, wait_task_zombie). So the reap happens at the `Exit` the tracer
//! records, and `KernelReap` follows it.
//!
//! Dispositions are per thread group (threads share their signal handlers). Only two
//! facts matter: SIG_IGN, and SA_NOCLDWAIT. A handler and SIG_DFL both keep zombies and
//! both are SIG_DFL after exec, so they are one state here, and a shell that swaps its
//! SIGCHLD handler around every fork changes nothing (and costs one stop per call, no
//! exit stop). Only calls are seen (rt_sigaction with SIGCHLD); the rest follows the
//! kernel: fork copies the parent's, exec keeps SIG_IGN and clears the flags
//! (execve(2); flush_signal_handlers in the kernel). The root starts at SIG_DFL because
//! the tracer resets SIGCHLD in its child before exec (see `spawn.rs`).
//!
//! Not modelled: clone(CLONE_PARENT) (the child's parent is the creator's parent),
//! clone(CLONE_SIGHAND) without CLONE_THREAD, and children with an exit signal other
//! than SIGCHLD (the kernel never autoreaps those). Two races are judged by the
//! tracer's order of events, not the kernel's: a disposition that changes while a
//! child's exit is being consumed, and a child that exits while its parent is dying
//! (already reparented to init by the kernel, not yet seen dead by the tracer).

use std::collections::HashMap;

use nix::unistd::Pid;

/// What a process does with its finished children.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Disposition {
    /// SIGCHLD is SIG_IGN.
    pub ignore: bool,
    /// SA_NOCLDWAIT is set.
    pub nocldwait: bool,
}

impl Disposition {
    /// `struct sigaction`'s handler value for SIG_IGN (signal.h; SIG_DFL is 0).
    const SIG_IGN: u64 = 1;

    /// From a kernel `struct sigaction`'s handler and flags.
    pub(crate) fn from_raw(handler: u64, flags: u64) -> Self {
        Disposition {
            ignore: handler == Self::SIG_IGN,
            nocldwait: flags & libc::SA_NOCLDWAIT as u64 != 0,
        }
    }

    /// The kernel reaps the children of a process with this disposition.
    pub(crate) fn autoreaps(self) -> bool {
        self.ignore || self.nocldwait
    }
}

/// One process's SIGCHLD state.
#[derive(Debug, Clone, Copy)]
struct Entry {
    /// The real parent while it lives; None once it exited (the child was reparented
    /// outside the traced tree, to init or a subreaper).
    parent: Option<Pid>,
    disposition: Disposition,
}

/// Live processes by thread-group id.
#[derive(Debug, Default)]
pub(crate) struct Dispositions {
    procs: HashMap<Pid, Entry>,
}

impl Dispositions {
    /// The root process, at SIG_DFL.
    pub(crate) fn root(&mut self, pid: Pid) {
        self.procs.insert(
            pid,
            Entry {
                parent: None,
                disposition: Disposition::default(),
            },
        );
    }

    /// `child` forked from `parent`: a copy of the parent's disposition.
    pub(crate) fn fork(&mut self, parent: Pid, child: Pid) {
        let disposition = self.get(parent);
        self.procs.insert(
            child,
            Entry {
                parent: Some(parent),
                disposition,
            },
        );
    }

    /// `pid` exec'd: SIG_IGN stays, flags are cleared.
    pub(crate) fn exec(&mut self, pid: Pid) {
        if let Some(e) = self.procs.get_mut(&pid) {
            e.disposition.nocldwait = false;
        }
    }

    /// `pid`'s current disposition (SIG_DFL for a process not followed).
    pub(crate) fn get(&self, pid: Pid) -> Disposition {
        self.procs
            .get(&pid)
            .map_or_else(Disposition::default, |e| e.disposition)
    }

    /// `pid` set its disposition (a successful rt_sigaction).
    pub(crate) fn set(&mut self, pid: Pid, disposition: Disposition) {
        if let Some(e) = self.procs.get_mut(&pid) {
            e.disposition = disposition;
        }
    }

    /// `pid` exited. Returns its parent when that parent ignores SIGCHLD, i.e. the
    /// kernel reaped `pid`. Its own children lose their traced parent.
    pub(crate) fn exited(&mut self, pid: Pid) -> Option<Pid> {
        let entry = self.procs.remove(&pid)?;
        for e in self.procs.values_mut() {
            if e.parent == Some(pid) {
                e.parent = None;
            }
        }
        let parent = entry.parent?;
        self.procs
            .get(&parent)
            .filter(|p| p.disposition.autoreaps())
            .map(|_| parent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pid(n: i32) -> Pid {
        Pid::from_raw(n)
    }

    const DFL: Disposition = Disposition {
        ignore: false,
        nocldwait: false,
    };
    const IGN: Disposition = Disposition {
        ignore: true,
        nocldwait: false,
    };
    const NOCLDWAIT: Disposition = Disposition {
        ignore: false,
        nocldwait: true,
    };

    #[test]
    fn ignoring_parents_have_their_children_reaped_by_the_kernel() {
        let mut d = Dispositions::default();
        d.root(pid(1));
        d.fork(pid(1), pid(2));
        assert_eq!(d.exited(pid(2)), None, "SIG_DFL keeps zombies");
        d.set(pid(1), IGN);
        d.fork(pid(1), pid(3));
        assert_eq!(d.exited(pid(3)), Some(pid(1)));
        d.set(pid(1), DFL);
        d.fork(pid(1), pid(4));
        assert_eq!(d.exited(pid(4)), None, "back to SIG_DFL (or a handler)");
        d.set(pid(1), NOCLDWAIT);
        d.fork(pid(1), pid(5));
        assert_eq!(d.exited(pid(5)), Some(pid(1)), "SA_NOCLDWAIT");
    }

    #[test]
    fn fork_inherits_and_exec_keeps_only_sig_ign() {
        let mut d = Dispositions::default();
        d.root(pid(1));
        d.set(
            pid(1),
            Disposition {
                ignore: true,
                nocldwait: true,
            },
        );
        // The child inherits SIG_IGN and keeps it across exec; the flag goes.
        d.fork(pid(1), pid(2));
        d.exec(pid(2));
        assert_eq!(d.get(pid(2)), IGN);
        d.fork(pid(2), pid(3));
        assert_eq!(d.exited(pid(3)), Some(pid(2)));
        // SIG_DFL (or a handler) with SA_NOCLDWAIT: exec clears the flag.
        d.set(pid(2), NOCLDWAIT);
        d.exec(pid(2));
        d.fork(pid(2), pid(4));
        assert_eq!(d.exited(pid(4)), None);
    }

    #[test]
    fn orphans_are_not_reaped_by_their_dead_parent() {
        let mut d = Dispositions::default();
        d.root(pid(1));
        d.fork(pid(1), pid(2));
        d.set(pid(2), IGN);
        d.fork(pid(2), pid(3));
        assert_eq!(d.exited(pid(2)), None);
        // Reparented outside the tree: no traced parent, no kernel reap recorded.
        assert_eq!(d.exited(pid(3)), None);
        assert_eq!(d.exited(pid(9)), None, "an unknown pid");
    }

    #[test]
    fn raw_sigaction_values() {
        assert_eq!(Disposition::from_raw(0, 0), DFL);
        assert_eq!(Disposition::from_raw(1, 0x1000_0000), IGN, "SA_RESTART");
        assert_eq!(Disposition::from_raw(0x5555_0000, 0), DFL, "a handler");
        assert_eq!(
            Disposition::from_raw(0, libc::SA_NOCLDWAIT as u64),
            NOCLDWAIT
        );
    }
}
