//! The top: `init()`, which dispatches a re-executed program to its role (spawned child or
//! zygote), and the [`Guard`] whose drop ends the program as Python's `atexit` hook does.

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
    crate::child::set_initialized();
    crate::start_method::spawn::run_if_spawned();
    crate::start_method::forkserver::run_if_zygote();
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
        crate::children::shutdown();
    }
}
