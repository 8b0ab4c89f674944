//! The end of the program: `init()`, the [`Guard`] it returns, and the list of children
//! that the guard terminates (daemons) or joins (the others), as Python's `atexit` hook does.

use std::os::fd::{FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use nix::errno::Errno;
use nix::sys::signal::{Signal, kill};
use nix::sys::socket::{MsgFlags, recv};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

static INITIALIZED: AtomicBool = AtomicBool::new(false);

#[derive(Clone, Copy)]
struct Entry {
    pid: Pid,
    /// Names the start, whatever pids are reused (see `register`).
    key: u64,
    daemon: bool,
    /// A forkserver child: the zygote, not us, reaps it.
    relayed: bool,
    owner: Owner,
}

/// Who learns how the child ended.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Owner {
    /// Its `Process` (by `join`, `is_alive`, …).
    Process,
    /// Nobody: its `Process` was dropped while it ran; we reap it. A forkserver child's
    /// channel is handed over here (its end of file says the child ended), or -1.
    Dropped { channel: RawFd },
    /// `active_children()` reaped it before its `Process` looked; the `Process` claims the
    /// exit code.
    Reaped { code: i32 },
}

/// The first entries live inline in the static, so that registering a child writes no
/// heap page (a fork has just made every page copy-on-write).
const INLINE: usize = 16;

const NONE: Entry = Entry {
    pid: Pid::from_raw(0),
    key: 0,
    daemon: false,
    relayed: false,
    owner: Owner::Process,
};

/// The children started here and not yet joined: `head[..head_len]`, then `rest`.
struct List {
    head: [Entry; INLINE],
    head_len: usize,
    rest: Vec<Entry>,
}

impl List {
    fn len(&self) -> usize {
        self.head_len + self.rest.len()
    }

    fn iter(&self) -> impl Iterator<Item = &Entry> {
        self.head[..self.head_len].iter().chain(&self.rest)
    }

    fn push(&mut self, e: Entry) {
        if self.head_len < INLINE {
            self.head[self.head_len] = e;
            self.head_len += 1;
        } else {
            self.rest.push(e);
        }
    }

    fn iter_mut(&mut self) -> impl Iterator<Item = &mut Entry> {
        self.head[..self.head_len].iter_mut().chain(&mut self.rest)
    }

    fn get_mut(&mut self, key: u64) -> Option<&mut Entry> {
        self.iter_mut().find(|e| e.key == key)
    }

    fn remove(&mut self, key: u64) {
        if let Some(i) = self.head[..self.head_len].iter().position(|e| e.key == key) {
            // Refill the hole from the end (the heap part first, keeping `head` full).
            let last = match self.rest.pop() {
                Some(e) => e,
                None => {
                    self.head_len -= 1;
                    self.head[self.head_len]
                }
            };
            self.head[i] = last;
        } else if let Some(i) = self.rest.iter().position(|e| e.key == key) {
            self.rest.swap_remove(i);
        }
    }

    fn take(&mut self) -> Vec<Entry> {
        let all = self.iter().copied().collect();
        self.head_len = 0;
        self.rest.clear();
        all
    }
}

/// The registry: the list, and its length readable without the lock.
struct Registry {
    list: Mutex<List>,
    /// `list.len()`, readable without the lock: a fork child whose parent had no children
    /// listed (and a child that started none) skips the lock. Next to the list, so that
    /// registering writes one page.
    len: AtomicUsize,
}

static CHILDREN: Registry = Registry {
    list: Mutex::new(List {
        head: [NONE; INLINE],
        head_len: 0,
        rest: Vec::new(),
    }),
    len: AtomicUsize::new(0),
};

fn children() -> std::sync::MutexGuard<'static, List> {
    CHILDREN.list.lock().unwrap_or_else(|p| p.into_inner())
}

/// Entries whose owner is not their `Process` (dropped, or reaped for it): `start` and
/// `join` look at the list for them only when there are some.
static UNOWNED: AtomicUsize = AtomicUsize::new(0);
static KEYS: AtomicU64 = AtomicU64::new(1);

fn set_len(list: &List) {
    CHILDREN.len.store(list.len(), Ordering::Relaxed);
    let unowned = list.iter().filter(|e| e.owner != Owner::Process).count();
    UNOWNED.store(unowned, Ordering::Relaxed);
}

/// Lists a started child; returns the key its `Process` names it by.
pub(crate) fn register(pid: Pid, daemon: bool, relayed: bool) -> u64 {
    let key = KEYS.fetch_add(1, Ordering::Relaxed);
    let mut list = children();
    list.push(Entry {
        pid,
        key,
        daemon,
        relayed,
        owner: Owner::Process,
    });
    CHILDREN.len.store(list.len(), Ordering::Relaxed);
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
    if UNOWNED.load(Ordering::Relaxed) == 0 {
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
pub(crate) fn orphan(key: u64, channel: Option<OwnedFd>) {
    let mut list = children();
    if let Some(e) = list.get_mut(key) {
        match e.owner {
            Owner::Reaped { .. } => list.remove(key),
            _ => {
                e.owner = Owner::Dropped {
                    channel: channel.map_or(-1, |fd| fd.into_raw_fd()),
                }
            }
        }
    }
    set_len(&list);
}

/// Has this child ended? Reaps a direct child (`waitpid(WNOHANG)`); a dropped forkserver
/// child has ended when its channel reaches end of file. `None`: still running, or not
/// ours to tell (a forkserver child whose `Process` reads its channel).
fn poll_end(e: &Entry) -> Option<i32> {
    match (e.relayed, e.owner) {
        (true, Owner::Dropped { channel }) if channel >= 0 => {
            let mut buf = [0u8; 256];
            loop {
                match recv(channel, &mut buf, MsgFlags::MSG_DONTWAIT) {
                    Ok(0) => return Some(0),
                    Ok(_) | Err(Errno::EINTR) => {}
                    Err(Errno::EAGAIN) => return None,
                    Err(_) => return Some(0),
                }
            }
        }
        (true, Owner::Dropped { .. }) => Some(0),
        (true, _) => None,
        (false, _) => loop {
            match waitpid(e.pid, Some(WaitPidFlag::WNOHANG)) {
                Err(Errno::EINTR) => {}
                Ok(WaitStatus::StillAlive) => return None,
                Ok(status) => {
                    if let Some(code) = crate::sys::exitcode_of(status) {
                        return Some(code);
                    }
                }
                Err(_) => return Some(0), // not ours any more: nothing to wait for
            }
        },
    }
}

/// Reaps the children that ended: all of them (`active_children`), or only those whose
/// `Process` was dropped (`start`, as Python's `_cleanup`).
pub(crate) fn reap(all: bool) {
    if !all && UNOWNED.load(Ordering::Relaxed) == 0 {
        return;
    }
    let mut list = children();
    let mut gone = Vec::new();
    for e in list.iter_mut() {
        let candidate = match e.owner {
            Owner::Process => all,
            Owner::Dropped { .. } => true,
            Owner::Reaped { .. } => false,
        };
        if !candidate {
            continue;
        }
        let Some(code) = poll_end(e) else { continue };
        match e.owner {
            Owner::Dropped { channel } => {
                if channel >= 0 {
                    // SAFETY: handed over to us by `orphan`; closed once, here.
                    drop(unsafe { OwnedFd::from_raw_fd(channel) });
                }
                gone.push(e.key);
            }
            // A forkserver child's `Process` reads its status itself.
            _ if e.relayed => gone.push(e.key),
            _ => e.owner = Owner::Reaped { code },
        }
    }
    for key in gone {
        list.remove(key);
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

/// In a new child: the parent's children and zygote are not ours.
pub(crate) fn forget_inherited() {
    if CHILDREN.len.load(Ordering::Relaxed) != 0
        && let Ok(mut list) = CHILDREN.list.try_lock()
    {
        // Not `take`: no allocation here (the fork child's start).
        list.head_len = 0;
        list.rest.clear();
        CHILDREN.len.store(0, Ordering::Relaxed);
        UNOWNED.store(0, Ordering::Relaxed);
    }
    crate::forkserver::forget_inherited();
}

/// Terminates daemonic children, then waits for the others and stops the zygote.
pub(crate) fn shutdown() {
    if CHILDREN.len.load(Ordering::Relaxed) == 0 {
        crate::forkserver::stop();
        return;
    }
    let list = children().take();
    CHILDREN.len.store(0, Ordering::Relaxed);
    UNOWNED.store(0, Ordering::Relaxed);
    let running = |e: &&Entry| !matches!(e.owner, Owner::Reaped { .. });
    for e in list.iter().filter(running).filter(|e| e.daemon) {
        let _ = kill(e.pid, Signal::SIGTERM);
    }
    for e in list.iter().filter(running) {
        match e.owner {
            Owner::Dropped { channel } if channel >= 0 => {
                // SAFETY: handed over by `orphan`; closed once, here.
                drop(unsafe { OwnedFd::from_raw_fd(channel) });
            }
            _ => {}
        }
        if !e.relayed {
            while let Err(Errno::EINTR) = waitpid(e.pid, None) {}
        }
    }
    crate::forkserver::stop();
}

pub(crate) fn initialized() -> bool {
    INITIALIZED.load(Ordering::Relaxed)
}

/// Call this first thing in `main`; keep the returned guard alive until `main` returns.
///
/// It plays the part of Python's `if __name__ == '__main__':` guard. The `spawn` and
/// `forkserver` start methods start a child by executing this same program again; in that
/// fresh process, `init()` recognises that it is a child, runs the target and exits, so the
/// child never runs the rest of `main` (which would start processes again, forever). Call it
/// before anything with side effects (printing, parsing arguments, opening sockets, starting
/// threads), since a spawned child executes all of that up to `init()`.
///
/// Dropping the guard at the end of `main` does what Python does at interpreter exit:
/// daemonic children are terminated, the others are joined. (`std::process::exit` skips
/// destructors; use [`exit`](crate::exit) instead.)
///
/// ```
/// // first line of main:
/// let _guard = multiprocessing::init();
/// // … the program; the guard is dropped when main returns
/// ```
#[must_use = "dropping the guard at once would run the end-of-program cleanup at once"]
pub fn init() -> Guard {
    INITIALIZED.store(true, Ordering::Relaxed);
    crate::spawn::run_if_spawned();
    crate::forkserver::run_if_zygote();
    Guard { _private: () }
}

/// Returned by [`init`]; when dropped, terminates daemonic children and joins the others.
///
/// Python does this at interpreter exit; here it happens where the guard is dropped, which
/// is the end of `main` when it is the first local there.
///
/// ```
/// use multiprocessing::Process;
/// use std::time::Duration;
/// # fn main() -> Result<(), multiprocessing::Error> {
/// let guard = multiprocessing::init();
/// let mut normal = Process::with_args(std::thread::sleep, Duration::from_millis(50));
/// let mut daemon = Process::with_args(std::thread::sleep, Duration::from_secs(60));
/// daemon.set_daemon(true)?;
/// normal.start()?;
/// daemon.start()?;
/// let started = std::time::Instant::now();
/// drop(guard); // waits for `normal` (50 ms), terminates `daemon` (no 60 s wait)
/// assert!(started.elapsed() < Duration::from_secs(30));
/// assert!(multiprocessing::active_children().is_empty());
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Guard {
    _private: (),
}

impl Drop for Guard {
    fn drop(&mut self) {
        shutdown();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_spills_to_the_heap_and_removes_anywhere() {
        let mut l = List {
            head: [NONE; INLINE],
            head_len: 0,
            rest: Vec::new(),
        };
        let pids: Vec<Pid> = (1..=INLINE as i32 + 5).map(Pid::from_raw).collect();
        for &pid in &pids {
            l.push(Entry {
                pid,
                key: pid.as_raw() as u64,
                ..NONE
            });
        }
        assert_eq!(l.len(), pids.len());
        for &gone in &[pids[0], pids[INLINE + 2], pids[3], Pid::from_raw(999)] {
            l.remove(gone.as_raw() as u64);
        }
        let mut left: Vec<i32> = l.iter().map(|e| e.pid.as_raw()).collect();
        left.sort();
        let want: Vec<i32> = (1..=INLINE as i32 + 5)
            .filter(|p| ![1, INLINE as i32 + 3, 4].contains(p))
            .collect();
        assert_eq!(left, want);
        assert_eq!(l.take().len(), want.len());
        assert_eq!(l.len(), 0);
    }
}
