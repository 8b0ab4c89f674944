//! Python's `multiprocessing.Process` for Rust, on Linux.
//!
//! Every line of the lesson's API section has its counterpart here:
//!
//! | Python | Rust |
//! |---|---|
//! | `Process(target=f, args=(a,))` | [`Process::with_args(f, a)`](Process::with_args), [`Process::new(closure)`](Process::new) |
//! | `class P(Process): def run(self)` | `impl` [`Run`] `for P`, [`Process::from_run(p)`](Process::from_run) |
//! | `p.start()`, `p.join()`, `p.join(t)` | [`start`](Process::start), [`join`](Process::join), [`join_timeout`](Process::join_timeout) |
//! | `p.is_alive()`, `p.exitcode` | [`is_alive`](Process::is_alive), [`exitcode`](Process::exitcode) |
//! | `p.terminate()`, `p.kill()`, `p.close()` | [`terminate`](Process::terminate), [`kill`](Process::kill), [`close`](Process::close) |
//! | `p.daemon = True`, `p.name`, `p.pid` | [`set_daemon`](Process::set_daemon), [`name`](Process::name), [`pid`](Process::pid) |
//! | `set_start_method('spawn')` | [`Process::set_start_method`] with [`StartMethod`] |
//! | `if __name__ == '__main__':` | `let _guard = multiprocessing::init();` first in `main` ([`init`]) |
//! | `sys.exit(n)` in a child | [`exit(n)`](exit) |
//!
//! ```
//! use multiprocessing::Process;
//!
//! fn work(n: i64) -> i64 {
//!     println!("子进程内:  0");
//!     n - 100
//! }
//!
//! # fn main() -> Result<(), multiprocessing::Error> {
//! let _guard = multiprocessing::init();
//! let mut p = Process::with_args(work, 100);
//! p.start()?;
//! p.join()?;
//! assert_eq!(p.exitcode(), Some(0));
//! assert_eq!(p.result::<i64>()?, 0);
//! # Ok(()) }
//! ```
//!
//! Beyond Python: a child's panic is reported with its message and location
//! ([`Process::panic_report`]) and kept apart from an exit code; a return value reaches the
//! parent ([`Process::result`]); a daemon also dies when its parent is SIGKILLed; fork is
//! refused in a multi-threaded process ([`Error::Threads`]).

#![warn(missing_docs)]

mod body;
mod child;
mod construct;
mod error;
mod forkserver;
mod guard;
mod process;
mod report;
mod spawn;
mod start_method;
mod sys;
mod wait;
mod zygote;

pub use error::{Error, Result};
pub use guard::{Guard, init};
pub use nix::sys::signal::Signal;
pub use nix::unistd::Pid;
pub use process::{Process, kind};
pub use report::PanicReport;
pub use start_method::{StartMethod, UnknownStartMethod};

/// The body of a process defined as a type, the "subclass" way of the lesson
/// (`class Piao(Process): def run(self): …`). See [`Process::from_run`].
pub trait Run {
    /// What the child does; `start` calls it in the child.
    fn run(&mut self);
}

/// Ends the calling process with `code` (Python: `sys.exit(code)`).
///
/// In a child started by this library, the parent then sees `exitcode == code` and no
/// result; the child's own children are joined first and stdout is flushed. In the main
/// program, it runs the [`Guard`]'s cleanup and exits.
///
/// ```
/// use multiprocessing::Process;
///
/// fn work(code: i32) {
///     multiprocessing::exit(code) // sys.exit(code)
/// }
///
/// # fn main() -> Result<(), multiprocessing::Error> {
/// let _guard = multiprocessing::init();
/// let mut p = Process::with_args(work, 3);
/// p.start()?;
/// assert_eq!(p.join()?, 3);
/// # Ok(()) }
/// ```
pub fn exit(code: i32) -> ! {
    child::exit(code)
}

/// What the calling process knows about itself (Python: `current_process()`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentProcess {
    /// `MainProcess` in the main program, the [`Process`]'s name in a child.
    pub name: String,
    /// The calling process's pid.
    pub pid: Pid,
    /// Whether it is a daemonic child.
    pub daemon: bool,
}

/// The calling process (Python: `multiprocessing.current_process()`).
///
/// ```
/// let _guard = multiprocessing::init();
/// assert_eq!(multiprocessing::current_process().name, "MainProcess");
/// ```
pub fn current_process() -> CurrentProcess {
    CurrentProcess {
        name: child::name(),
        pid: nix::unistd::getpid(),
        daemon: child::is_daemon(),
    }
}

/// Pids of the children started by this process and not yet joined
/// (Python: `active_children()`, without its reaping).
pub fn active_children() -> Vec<Pid> {
    guard::active()
}
