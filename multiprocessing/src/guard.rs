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

static CHILDREN: Mutex<Vec<Entry>> = Mutex::new(Vec::new());
/// `CHILDREN.len()`, readable without the lock: a fork child whose parent had no children
/// listed (and a child that started none) skips the lock (no write to a shared page).
static REGISTERED: AtomicUsize = AtomicUsize::new(0);

fn children() -> std::sync::MutexGuard<'static, Vec<Entry>> {
    CHILDREN.lock().unwrap_or_else(|p| p.into_inner())
}

pub(crate) fn register(pid: Pid, daemon: bool, relayed: bool) {
    let mut list = children();
    list.push(Entry {
        pid,
        daemon,
        relayed,
    });
    REGISTERED.store(list.len(), Ordering::Relaxed);
}

pub(crate) fn unregister(pid: Pid) {
    let mut list = children();
    if let Some(i) = list.iter().position(|e| e.pid == pid) {
        list.swap_remove(i);
        REGISTERED.store(list.len(), Ordering::Relaxed);
    }
}

/// Pids of the children started here and not yet joined (Python's `active_children`).
pub(crate) fn active() -> Vec<Pid> {
    children().iter().map(|e| e.pid).collect()
}

/// In a new child: the parent's children and zygote are not ours.
pub(crate) fn forget_inherited() {
    if REGISTERED.load(Ordering::Relaxed) != 0
        && let Ok(mut list) = CHILDREN.try_lock()
    {
        list.clear();
        REGISTERED.store(0, Ordering::Relaxed);
    }
    crate::forkserver::forget_inherited();
}

/// Terminates daemonic children, then waits for the others and stops the zygote.
pub(crate) fn shutdown() {
    if REGISTERED.load(Ordering::Relaxed) == 0 {
        crate::forkserver::stop();
        return;
    }
    let list = std::mem::take(&mut *children());
    REGISTERED.store(0, Ordering::Relaxed);
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
