//! The list of children started here and not yet seen to end: `active_children()`,
//! the reaping of children whose `Process` was dropped (Python's `_cleanup`), and the end
//! of the program, which terminates the daemons and joins the others (Python's `atexit`).

use std::os::fd::{BorrowedFd, IntoRawFd, OwnedFd};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

mod list;
pub(crate) mod zygote;

use list::{Entry, INLINE, List, NONE, Owner, close_channel};

use crate::forklocal::ForkLocal;

/// The registry: the list, its length and the count of unowned entries readable without
/// the lock, and the keys. Fork-local (see `forklocal`): registering and unregistering a
/// child write no page that the fork has write-protected, and a fork child starts with an
/// empty registry, since its parent's children are not its own.
struct Registry {
    list: Mutex<List>,
    /// `list.len()`, readable without the lock: `shutdown` in a process without children
    /// skips the lock.
    len: AtomicUsize,
    /// Entries whose owner is not their `Process` (dropped, or reaped for it): `start` and
    /// `join` look at the list for them only when there are some.
    unowned: AtomicUsize,
    keys: AtomicU64,
}

static CHILDREN: ForkLocal<Registry> = ForkLocal::new(|| Registry {
    list: Mutex::new(List {
        head: [NONE; INLINE],
        head_len: 0,
        rest: Vec::new(),
        unowned: 0,
    }),
    len: AtomicUsize::new(0),
    unowned: AtomicUsize::new(0),
    keys: AtomicU64::new(1),
});

fn children() -> std::sync::MutexGuard<'static, List> {
    CHILDREN
        .get()
        .list
        .lock()
        .unwrap_or_else(|p| p.into_inner())
}

fn unowned() -> usize {
    CHILDREN.get().unowned.load(Ordering::Relaxed)
}

fn set_len(list: &List) {
    let r = CHILDREN.get();
    r.len.store(list.len(), Ordering::Relaxed);
    r.unowned.store(list.unowned, Ordering::Relaxed);
}

/// Lists a started child; returns the key its `Process` names it by. `channel`: a
/// duplicate of a forkserver child's channel.
pub(crate) fn register(pid: Pid, daemon: bool, relayed: bool, channel: Option<OwnedFd>) -> u64 {
    let key = CHILDREN.get().keys.fetch_add(1, Ordering::Relaxed);
    let mut list = children();
    list.push(Entry {
        pid,
        key,
        daemon,
        relayed,
        channel: channel.map_or(-1, IntoRawFd::into_raw_fd),
        owner: Owner::Process,
    });
    CHILDREN.get().len.store(list.len(), Ordering::Relaxed);
    key
}

/// The `Process` saw its child end.
pub(crate) fn unregister(key: u64) {
    let mut list = children();
    list.remove(key);
    set_len(&list);
}

/// The exit code `active_children()` reaped for this `Process`, if it did (the entry goes).
pub(crate) fn claim(key: u64) -> Option<i32> {
    if unowned() == 0 {
        return None;
    }
    let mut list = children();
    let code = match list.get_mut(key)?.owner {
        Owner::Reaped { code } => code,
        _ => return None,
    };
    list.remove(key);
    set_len(&list);
    Some(code)
}

/// After `waitpid` said ECHILD: has `active_children()` (in another thread) reaped this
/// child for its `Process`? Then `claim` gives the code.
pub(crate) fn claim_pending(key: u64) -> bool {
    children()
        .iter()
        .any(|e| e.key == key && matches!(e.owner, Owner::Reaped { .. }))
}

/// The `Process` of a running child is dropped: we reap the child from now on.
pub(crate) fn orphan(key: u64) {
    let mut list = children();
    match list.get_mut(key).map(|e| e.owner) {
        Some(Owner::Reaped { .. }) => list.remove(key),
        Some(_) => list.set_owner(key, Owner::Dropped),
        None => {}
    }
    set_len(&list);
}

/// `poll_end`'s code for a child that is gone without an exit code we could learn.
const GONE: i32 = i32::MIN;

/// Has this child ended? Reaps a direct child (`waitpid(WNOHANG)`); a forkserver child
/// has ended when its channel hangs up (the child exited, the zygote sent the status and
/// closed its copy). `None`: still running.
fn poll_end(e: &Entry) -> Option<i32> {
    if e.relayed {
        if e.channel < 0 {
            return None; // no duplicate could be made: its `Process` will tell
        }
        // SAFETY: the entry's own duplicate, open until the entry is removed.
        let fd = unsafe { BorrowedFd::borrow_raw(e.channel) };
        let mut fds = [PollFd::new(fd, PollFlags::empty())];
        let hung_up = poll(&mut fds, PollTimeout::ZERO).is_ok()
            && fds[0]
                .revents()
                .is_some_and(|r| r.contains(PollFlags::POLLHUP));
        // The exit code is the `Process`'s to read from its own channel.
        return hung_up.then_some(0);
    }
    loop {
        match waitpid(e.pid, Some(WaitPidFlag::WNOHANG)) {
            Err(Errno::EINTR) => {}
            Ok(WaitStatus::StillAlive) => return None,
            Ok(status) => {
                if let Some(code) = crate::sys::exitcode_of(status) {
                    return Some(code);
                }
            }
            // Not our child any more (reaped behind the library's back): nothing to wait
            // for; its `Process`, if any, gets the same error from its own `waitpid`.
            Err(_) => return Some(GONE),
        }
    }
}

/// Reaps the children that ended: all of them (`active_children`), or only those whose
/// `Process` was dropped (`start`, as Python's `_cleanup`).
pub(crate) fn reap(all: bool) {
    if !all && unowned() == 0 {
        return;
    }
    let mut list = children();
    let mut gone = Vec::new();
    let mut reaped = Vec::new();
    for e in list.iter_mut() {
        let candidate = match e.owner {
            Owner::Process => all,
            Owner::Dropped => true,
            Owner::Reaped { .. } => false,
        };
        if !candidate {
            continue;
        }
        let Some(code) = poll_end(e) else { continue };
        // A forkserver child's `Process` reads its status itself; nobody waits for a
        // dropped one.
        if e.owner == Owner::Dropped || e.relayed || code == GONE {
            gone.push(e.key);
        } else {
            reaped.push((e.key, code));
        }
    }
    for key in gone {
        list.remove(key);
    }
    for (key, code) in reaped {
        list.set_owner(key, Owner::Reaped { code });
    }
    set_len(&list);
}

/// Pids of the children started here that still run (Python's `active_children`, which
/// reaps those that ended).
pub(crate) fn active() -> Vec<Pid> {
    reap(true);
    children()
        .iter()
        .filter(|e| !matches!(e.owner, Owner::Reaped { .. }))
        .map(|e| e.pid)
        .collect()
}

/// Terminates daemonic children, then waits for the others and stops the zygote.
pub(crate) fn shutdown() {
    if CHILDREN.get().len.load(Ordering::Relaxed) == 0 {
        zygote::stop();
        return;
    }
    let list = {
        let mut list = children();
        let all = list.take();
        set_len(&list);
        all
    };
    let running = |e: &&Entry| !matches!(e.owner, Owner::Reaped { .. });
    for e in list.iter().filter(running).filter(|e| e.daemon) {
        let _ = kill(e.pid, Signal::SIGTERM);
    }
    for e in &list {
        close_channel(e.channel);
    }
    for e in list.iter().filter(running) {
        if !e.relayed {
            while let Err(Errno::EINTR) = waitpid(e.pid, None) {}
        }
    }
    zygote::stop();
}
