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
//! | `set_start_method('spawn')`, `get_start_method()` | [`set_start_method`], [`get_start_method`] with [`StartMethod`]; per process: [`Process::set_start_method`] |
//! | `ctx = get_context('spawn')`, `ctx.Process(...)` | [`get_context("spawn")`](get_context), [`ctx.process(f, a)`](Context::process) |
//! | `current_process()`, `parent_process()` | [`current_process`], [`parent_process`] |
//! | `active_children()` | [`active_children`] (reaps the children that ended) |
//! | `p.sentinel`, `multiprocessing.connection.wait([...])` | [`Process::sentinel`] (and `AsFd`), [`wait`] |
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
//! CPython's own tests of `Process` are ported and run under every start method: see
//! [`parity`] for the table.
//!
//! Beyond Python: a child's panic is reported with its message and location
//! ([`Process::panic_report`]) and kept apart from an exit code; a return value reaches the
//! parent ([`Process::result`]); a daemon also dies when its parent is SIGKILLed; fork is
//! refused in a multi-threaded process ([`Error::Threads`]).
//!
//! # How it works
//!
//! * **fork**: stdout and stderr are flushed (so no buffered line is printed twice), then
//!   `fork`. The child resets the library's state, runs the target under `catch_unwind`,
//!   joins its own children, flushes, leaves one final frame (return value, panic, or
//!   `exit()` call) for the parent and exits with `_exit`: it never returns into the
//!   parent's `main`. A target that returns `()` has a bounded frame: it goes into a slot of
//!   a shared anonymous mapping, and `join` reaps the child first, then reads the slot (one
//!   wake-up, no pipe); when such a target simply returns, it writes no frame at all (exit
//!   code 0 says it, and the child touches no shared page). A target that returns a value
//!   sends its frame on a close-on-exec pipe, which `join` reads before it reaps. The
//!   child's side is inlined into `Process::start`, a generic, so it is compiled into the
//!   calling crate beside the target: a fork copies no page tables of program code, and each
//!   64 KiB stretch of code a child runs costs it a page fault.
//! * **spawn**: this program is executed again with one end of a socket pair inherited;
//!   [`init`] in the new process finds it, reads the target (a `fn`, sent as its offset from
//!   a known function, since ASLR moves the whole image) and its serialized arguments, runs
//!   it like a forked child, and exits. That is why `init()` must come first in `main`.
//! * **forkserver**: the first forkserver start executes this program again as a zygote,
//!   which forks every forkserver child from then on. It is single-threaded whatever the
//!   parent does. It makes each child a child of the program (`clone` with
//!   `CLONE_PARENT`), so the program reaps it as it reaps a fork child (where the kernel
//!   refuses that, the zygote reaps its own child and sends the exit status on the child's
//!   socket); when the [`Guard`] drops, the zygote exits.
//!
//! # Layout
//!
//! For a reader of the source, downward: `sys` and `error` (system helpers, errors) →
//! `slots`, `report`, `body` (the parent/child channel: report slots, frames, the payload
//! a child runs) → `children`, `child` (this process: the children and zygote it started,
//! its own state as a child, a child's run and exit) → `exec` (executing this program
//! again, both sides) → `start_method/{fork, spawn, forkserver}` (each with its parent and
//! its child side) → `process` and the files that extend it, `context` → `guard`
//! (`init()` and the [`Guard`], which only dispatch). No module imports one above it; a
//! test in `layers.rs` checks it.
//!
//! # Caveats
//!
//! * Rust programs ignore SIGPIPE, and Rust's stack-overflow handler swallows one SIGSEGV or
//!   SIGBUS sent with `kill` (it is meant for faults): those three signals do not kill a
//!   child that has not restored their default actions. Every other terminating signal N
//!   gives `exitcode == -N`, as in Python.
//! * The parent-death signal of a daemon fires when the *thread* that started it exits (a
//!   Linux rule): start daemons from the main thread or a thread that lives as long.
//! * A forkserver child is the program's own child, not the zygote's as in Python:
//!   `getppid()` in it is the program. Only where the kernel refuses `CLONE_PARENT` is it
//!   the zygote's; then it is signalled by pid, and its pid could in principle be reused
//!   between the zygote's reap and the parent reading the status (the same window as in
//!   Python's forkserver).
//! * A grandchild made with a raw `fork` (not through this library) inherits the report
//!   channel; if the child is then killed before writing its final frame, `join` also waits
//!   for that grandchild. Grandchildren started through this library or `exec` do not.
//! * For a fork target that returns `()`, a panic message longer than ~4 KiB is cut (ending
//!   in "..."). The hook that records a child's panic location is installed once, before
//!   the first fork; a program that later replaces the panic hook without calling the
//!   previous one loses the location in its children's reports (the message stays).
//! * Exit codes are truncated to 0..=255 by the kernel; `std::process::exit` in a child works
//!   (the code arrives, no result), but skips the join of the child's own children.
//! * Python 3.14 made forkserver the default on Linux; here the default is fork, the method
//!   the lesson's programs assume (children see the parent's globals as they were).

#![warn(missing_docs)]

mod body;
mod child;
mod children;
mod construct;
mod context;
mod error;
mod exec;
mod forklocal;
mod guard;
mod inline;
mod layers;
mod outcome;
pub mod parity;
mod process;
mod report;
mod sentinel;
mod signal;
mod slots;
mod start_method;
mod sys;
mod wait;

pub use body::Run;
pub use context::{
    Context, ParentProcess, force_start_method, get_all_start_methods, get_context,
    get_start_method, parent_process, set_start_method,
};
pub use error::{Error, PanicReport, Result};
pub use guard::{Guard, init};
pub use nix::sys::signal::Signal;
pub use nix::unistd::Pid;
pub use process::{Process, kind};
pub use sentinel::wait;
pub use start_method::{StartMethod, UnknownStartMethod};

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

/// Pids of the children started by this process that still run (Python:
/// `active_children()`). As in Python it reaps the children that ended, so that a program
/// that starts a process per task and drops each [`Process`] leaves no zombie: call it now
/// and then (Python's servers call it in their accept loop). [`Process::start`] also reaps
/// the children whose `Process` was dropped.
///
/// ```
/// use multiprocessing::Process;
/// use std::time::Duration;
/// # fn main() -> Result<(), multiprocessing::Error> {
/// let _guard = multiprocessing::init();
/// let mut p = Process::with_args(std::thread::sleep, Duration::from_millis(50));
/// p.start()?;
/// assert_eq!(multiprocessing::active_children(), vec![p.pid().unwrap()]);
/// p.join()?;
/// assert!(multiprocessing::active_children().is_empty());
///
/// // A server's way: start, drop the Process, let active_children() reap.
/// for _ in 0..3 {
///     Process::with_args(std::thread::sleep, Duration::from_millis(10)).start()?;
/// }
/// std::thread::sleep(Duration::from_millis(300));
/// assert!(multiprocessing::active_children().is_empty()); // all three reaped
/// # Ok(()) }
/// ```
pub fn active_children() -> Vec<Pid> {
    children::active()
}
