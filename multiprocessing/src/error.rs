//! Typed errors. Lifecycle misuse carries Python's own messages, so a student who knows
//! `multiprocessing` recognises them.

use std::fmt;

use nix::errno::Errno;
use serde::{Deserialize, Serialize};

/// Everything that can go wrong while creating, starting, waiting for or reading a process.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `start()` called on a process that was already started (Python: `AssertionError`).
    #[error("cannot start a process twice")]
    StartedTwice,
    /// `join()` (or `terminate()`, …) before `start()`.
    #[error("can only {action} a started process")]
    NotStarted {
        /// What the caller tried to do: `join`, `terminate`, …
        action: &'static str,
    },
    /// The process object is not a child of the calling process (it was inherited through fork).
    #[error("can only join a child process")]
    NotAChild,
    /// A daemonic process tried to start a process of its own.
    #[error("daemonic processes are not allowed to have children")]
    DaemonChildren,
    /// `set_daemon` (or another setting) after `start()`.
    #[error("process has already started")]
    AlreadyStarted,
    /// `close()` while the child still runs.
    #[error(
        "Cannot close a process while it is still running. You should first call join() or terminate()."
    )]
    CloseRunning,
    /// `set_start_method` after the process-wide method was set (or fixed by
    /// `get_start_method`).
    #[error("context has already been set")]
    ContextAlreadySet,
    /// Any use of a process after `close()`.
    #[error("process object is closed")]
    Closed,
    /// Fork refused: the calling process has more than one thread.
    #[error(
        "refusing to fork: this process has {count} threads, and after fork only async-signal-safe \
         work is sound in the child; use the spawn or forkserver start method, or \
         Process::set_allow_threads(true) if you know the target is safe"
    )]
    Threads {
        /// The number of threads the process had.
        count: usize,
    },
    /// The spawn or forkserver start method needs `multiprocessing::init()` first in `main`.
    #[error(
        "the {method} start method re-executes this program: call multiprocessing::init() first in main"
    )]
    NotInitialized {
        /// `spawn` or `forkserver`.
        method: &'static str,
    },
    /// The arguments could not be serialized for a spawn/forkserver child.
    #[error("cannot send the arguments to the child: {0}")]
    Serialize(String),
    /// `result()` before the process finished.
    #[error("the process has not finished yet (join it first)")]
    NotFinished,
    /// The child panicked; `result()` reports it (the exit code alone would say 1).
    #[error("the child process panicked: {0}")]
    Panicked(PanicReport),
    /// The child ended without returning a value (`exit()`, a signal, or `std::process::exit`).
    /// A target of `()` sends nothing when it returns: for it, exit code 0 is `Ok(())`.
    #[error("the child returned no value (exit code {exitcode})")]
    NoResult {
        /// How the child ended.
        exitcode: i32,
    },
    /// The child could not run its target or encode its value (bad arguments, bad layout, …).
    #[error("the child failed before or after its target: {0}")]
    Child(String),
    /// The returned value did not decode as the requested type.
    #[error("cannot decode the child's return value: {0}")]
    Decode(String),
    /// A system call failed.
    #[error("{call} failed: {errno}")]
    Sys {
        /// The failing call.
        call: &'static str,
        /// Its errno.
        errno: Errno,
    },
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Attaches the name of the failing call to an errno.
pub(crate) trait Context<T> {
    fn ctx(self, call: &'static str) -> Result<T>;
}

impl<T> Context<T> for nix::Result<T> {
    fn ctx(self, call: &'static str) -> Result<T> {
        self.map_err(|errno| Error::Sys { call, errno })
    }
}

impl<T> Context<T> for std::io::Result<T> {
    fn ctx(self, call: &'static str) -> Result<T> {
        self.map_err(|e| Error::Sys {
            call,
            errno: Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)),
        })
    }
}

/// A panic in a child process: its message and where it happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PanicReport {
    /// The panic message (`"boom"` for `panic!("boom")`).
    pub message: String,
    /// `file:line:column` of the panic, when known.
    pub location: Option<String>,
}

impl fmt::Display for PanicReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.location {
            Some(at) => write!(f, "'{}' at {at}", self.message),
            None => write!(f, "'{}'", self.message),
        }
    }
}
