//! The end of the program: `init()`, the [`Guard`] it returns, and the list of children
//! that the guard terminates (daemons) or joins (the others), as Python's `atexit` hook does.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use nix::errno::Errno;
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::waitpid;
use nix::unistd::Pid;

static INITIALIZED: AtomicBool = AtomicBool::new(false);

#[derive(Clone, Copy)]
struct Entry {
    pid: Pid,
    daemon: bool,
    /// A forkserver child: the zygote, not us, reaps it.
    relayed: bool,
}

/// The first entries live inline in the static, so that registering a child writes no
/// heap page (a fork has just made every page copy-on-write).
const INLINE: usize = 16;

const NONE: Entry = Entry {
    pid: Pid::from_raw(0),
    daemon: false,
    relayed: false,
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

    fn remove(&mut self, pid: Pid) {
        if let Some(i) = self.head[..self.head_len].iter().position(|e| e.pid == pid) {
            // Refill the hole from the end (the heap part first, keeping `head` full).
            let last = match self.rest.pop() {
                Some(e) => e,
                None => {
                    self.head_len -= 1;
                    self.head[self.head_len]
                }
            };
            self.head[i] = last;
        } else if let Some(i) = self.rest.iter().position(|e| e.pid == pid) {
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

pub(crate) fn register(pid: Pid, daemon: bool, relayed: bool) {
    let mut list = children();
    list.push(Entry {
        pid,
        daemon,
        relayed,
    });
    CHILDREN.len.store(list.len(), Ordering::Relaxed);
}

pub(crate) fn unregister(pid: Pid) {
    let mut list = children();
    list.remove(pid);
    CHILDREN.len.store(list.len(), Ordering::Relaxed);
}

/// Pids of the children started here and not yet joined (Python's `active_children`).
pub(crate) fn active() -> Vec<Pid> {
    children().iter().map(|e| e.pid).collect()
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
    for e in list.iter().filter(|e| e.daemon) {
        let _ = kill(e.pid, Signal::SIGTERM);
    }
    for e in list.iter().filter(|e| !e.relayed) {
        while let Err(Errno::EINTR) = waitpid(e.pid, None) {}
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
                daemon: false,
                relayed: false,
            });
        }
        assert_eq!(l.len(), pids.len());
        for &gone in &[pids[0], pids[INLINE + 2], pids[3], Pid::from_raw(999)] {
            l.remove(gone);
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
