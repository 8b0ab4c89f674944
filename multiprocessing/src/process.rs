//! [`Process`]: the type, its settings and `start`. Construction is in `construct.rs`,
//! signals in `signal.rs`, waiting in `wait.rs`, `close` and results in `outcome.rs`.

use std::fmt;
use std::marker::PhantomData;
use std::os::fd::OwnedFd;

use nix::errno::Errno;
use nix::unistd::Pid;

use crate::body::Body;
use crate::error::{Context, Error, Result};
use crate::inline::Str;
use crate::report::Inbox;
use crate::start_method::{Spec, StartMethod, fork};
use crate::start_method::{forkserver, spawn};
use crate::{child, children};

/// Markers telling, at compile time, which start methods a [`Process`] can use.
pub mod kind {
    mod sealed {
        pub trait Sealed {}
    }
    /// Implemented by [`Portable`] and [`ForkOnly`].
    pub trait Kind: sealed::Sealed {}
    /// A `fn` with serializable arguments, or a serializable [`Run`](crate::Run) object:
    /// any start method.
    #[derive(Debug)]
    pub enum Portable {}
    /// A closure, or a [`Run`](crate::Run) object that is not serializable: it can only be
    /// forked, so a `ForkOnly` process has no `set_start_method`. Asking for spawn does
    /// not compile:
    ///
    /// ```compile_fail
    /// use multiprocessing::{Process, StartMethod};
    /// let name = String::from("egon");
    /// let mut p = Process::new(move || println!("{name}"));
    /// p.set_start_method(StartMethod::Spawn); // no such method: a closure cannot cross exec
    /// ```
    #[derive(Debug)]
    pub enum ForkOnly {}
    impl sealed::Sealed for Portable {}
    impl sealed::Sealed for ForkOnly {}
    impl Kind for Portable {}
    impl Kind for ForkOnly {}
}

use kind::{Kind, Portable};

/// A child process, as Python's `multiprocessing.Process`.
///
/// Create it with [`Process::new`] (a closure), [`Process::with_args`] (a `fn` and its
/// arguments) or [`Process::from_run`] (a [`Run`](crate::Run) object, the "subclass" way); then
/// [`start`](Process::start) it and [`join`](Process::join) it.
///
/// The lesson's first program, with a `fn` and its argument:
///
/// ```
/// use multiprocessing::Process;
///
/// fn piao(name: String) {
///     println!("{name} piaoing");
///     std::thread::sleep(std::time::Duration::from_millis(10));
///     println!("{name} piao end");
/// }
///
/// # fn main() -> Result<(), multiprocessing::Error> {
/// let _guard = multiprocessing::init();
/// let mut p1 = Process::with_args(piao, "egon".to_string());
/// let mut p2 = Process::with_args(piao, "alex".to_string());
/// p1.start()?;
/// p2.start()?;
/// println!("主");
/// p1.join()?;
/// p2.join()?;
/// # Ok(()) }
/// ```
pub struct Process<K: Kind = Portable> {
    /// Inline when short: no allocation (see `inline`).
    pub(crate) name: Str,
    pub(crate) ident: usize,
    pub(crate) daemon: bool,
    pub(crate) method: StartMethod,
    pub(crate) allow_threads: bool,
    pub(crate) body: Option<Body>,
    pub(crate) started: bool,
    pub(crate) closed: bool,
    pub(crate) pid: Option<Pid>,
    /// The child is the zygote's: its status arrives on the channel.
    pub(crate) relayed: bool,
    /// The target returns `()` (see `Spec::bounded`).
    pub(crate) unit_result: bool,
    /// The child's final frame fits one pipe write: `join` reaps before reading.
    pub(crate) bounded: bool,
    pub(crate) inbox: Option<Inbox>,
    /// The sentinel (see `sentinel.rs`): a pidfd, or a ready eventfd once ended.
    pub(crate) sentinel: std::cell::OnceCell<OwnedFd>,
    pub(crate) exitcode: Option<i32>,
    /// `child::generation()` at start.
    pub(crate) generation: u32,
    /// The child's entry in the list of children (`children::register`).
    pub(crate) key: u64,
    pub(crate) _kind: PhantomData<fn() -> K>,
}

impl<K: Kind> Process<K> {
    pub(crate) fn build(prefix: &str, body: Body, unit_result: bool) -> Self {
        let ident = child::next_ident();
        Process {
            name: child::with_identity(|id| {
                let mut digits = [0u8; 20];
                Str::concat(&[prefix, "-", id, decimal(ident, &mut digits)])
            }),
            ident,
            daemon: false,
            method: StartMethod::Fork,
            allow_threads: false,
            body: Some(body),
            started: false,
            closed: false,
            pid: None,
            relayed: false,
            unit_result,
            bounded: false,
            inbox: None,
            sentinel: std::cell::OnceCell::new(),
            exitcode: None,
            generation: 0,
            key: 0,
            _kind: PhantomData,
        }
    }

    /// The name: `Process-N` (or `TypeName-N` for a [`Run`](crate::Run) object) unless set.
    /// In a child, names carry the parent's number too: `Process-1:1`, as in Python.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Sets the name (Python: `p.name = ...`); allowed at any time, as in Python.
    ///
    /// ```
    /// use multiprocessing::Process;
    /// # fn piao(_: String) {}
    /// let _guard = multiprocessing::init();
    /// let mut p = Process::with_args(piao, "egon".to_string());
    /// assert!(p.name().starts_with("Process-")); // Process-N by default
    /// p.set_name("egon");
    /// assert_eq!(p.name(), "egon");
    /// ```
    pub fn set_name(&mut self, name: impl Into<String>) {
        self.name = Str::from(name.into());
    }

    /// Builder form of [`set_name`](Process::set_name).
    #[must_use]
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = Str::from(name.into());
        self
    }

    /// Whether the process is daemonic (default `false`).
    pub fn daemon(&self) -> bool {
        self.daemon
    }

    /// Makes the process daemonic or not; only before `start` ("process has already
    /// started" after). A daemon is terminated when the program ends (see
    /// [`init`](crate::init)), dies if its parent is killed, and may not start children.
    ///
    /// The lesson's daemon: `p.daemon = True` before `p.start()`; the main program ends,
    /// and so does the daemon, whatever it was doing.
    ///
    /// ```
    /// use multiprocessing::Process;
    ///
    /// fn foo(_: ()) {
    ///     println!("start");
    ///     std::thread::sleep(std::time::Duration::from_secs(30));
    ///     println!("end"); // never printed
    /// }
    ///
    /// # fn main() -> Result<(), multiprocessing::Error> {
    /// let guard = multiprocessing::init();
    /// let mut p = Process::with_args(foo, ());
    /// p.set_daemon(true)?;
    /// p.start()?;
    /// assert!(p.set_daemon(false).is_err()); // "process has already started"
    /// println!("主");
    /// drop(guard); // the end of main: the daemon is terminated, not waited for
    /// # Ok(()) }
    /// ```
    pub fn set_daemon(&mut self, daemon: bool) -> Result<()> {
        if self.started || self.closed {
            return Err(Error::AlreadyStarted);
        }
        self.daemon = daemon;
        Ok(())
    }

    /// The child's pid; `None` before `start` (Python: `p.pid`).
    ///
    /// ```
    /// use multiprocessing::Process;
    /// # fn main() -> Result<(), multiprocessing::Error> {
    /// let _guard = multiprocessing::init();
    /// let mut p = Process::with_args(|_: ()| std::process::id(), ());
    /// assert_eq!(p.pid(), None);
    /// p.start()?;
    /// p.join()?;
    /// assert_eq!(p.pid().map(|pid| pid.as_raw() as u32), Some(p.result::<u32>()?));
    /// # Ok(()) }
    /// ```
    pub fn pid(&self) -> Option<Pid> {
        self.pid
    }

    /// The start method this process uses (always `Fork` for a [`ForkOnly`](kind::ForkOnly) process).
    pub fn start_method(&self) -> StartMethod {
        self.method
    }

    /// Allows the fork start method in a multi-threaded process. Off by default, because
    /// after such a fork only async-signal-safe work is sound in the child (no allocation,
    /// no locking, no printing through std's locked stdout).
    ///
    /// ```
    /// use multiprocessing::{Error, Process};
    /// # fn main() -> Result<(), multiprocessing::Error> {
    /// let _guard = multiprocessing::init();
    /// let worker = std::thread::spawn(|| std::thread::park());
    /// let mut p = Process::new(|| ());
    /// assert!(matches!(p.start(), Err(Error::Threads { count: 2.. })));
    /// p.set_allow_threads(true); // the target does nothing unsound after fork
    /// p.start()?;
    /// p.join()?;
    /// worker.thread().unpark();
    /// # Ok(()) }
    /// ```
    pub fn set_allow_threads(&mut self, allow: bool) {
        self.allow_threads = allow;
    }

    /// Starts the child, which runs the target (Python: `p.start()`).
    ///
    /// Errors: started twice ("cannot start a process twice"), closed, called in a daemonic
    /// process ("daemonic processes are not allowed to have children"), fork in a
    /// multi-threaded process ([`Error::Threads`]), spawn/forkserver without
    /// [`init`](crate::init), arguments that fail to serialize, or a failing system call.
    ///
    /// ```
    /// use multiprocessing::{Error, Process};
    /// # fn piao(_: String) {}
    /// # fn main() -> Result<(), multiprocessing::Error> {
    /// let _guard = multiprocessing::init();
    /// let mut p1 = Process::with_args(piao, "egon".to_string()).named("egon");
    /// p1.start()?; // returns at once: the child runs on its own
    /// assert!(matches!(p1.start(), Err(Error::StartedTwice)));
    /// assert_eq!(p1.name(), "egon");
    /// assert!(!p1.daemon());
    /// p1.join()?;
    /// # Ok(()) }
    /// ```
    pub fn start(&mut self) -> Result<()> {
        if self.closed {
            return Err(Error::Closed);
        }
        if self.started {
            return Err(Error::StartedTwice);
        }
        if child::is_daemon() {
            return Err(Error::DaemonChildren);
        }
        // Python's `_cleanup()`: reap the children whose `Process` was dropped.
        children::reap(false);
        let spec = Spec {
            name: &self.name,
            ident: self.ident,
            daemon: self.daemon,
            allow_threads: self.allow_threads,
            bounded: self.unit_result,
        };
        let started = match (self.method, &mut self.body) {
            (StartMethod::Spawn, Some(Body::Portable(p))) => spawn::start(&**p, &spec)?,
            (StartMethod::ForkServer, Some(Body::Portable(p))) => forkserver::start(&**p, &spec)?,
            (_, body) => fork::start(body, &spec)?,
        };
        self.body = None;
        // A forkserver child's channel, duplicated for `active_children()` to poll.
        let channel = match started.relayed {
            true => started.channel.as_ref().and_then(|c| c.try_clone().ok()),
            false => None,
        };
        self.key = children::register(started.pid, self.daemon, started.relayed, channel);
        child::note_started();
        self.started = true;
        self.generation = child::generation();
        self.pid = Some(started.pid);
        self.relayed = started.relayed;
        self.bounded = started.bounded;
        self.inbox = Some(Inbox::new(
            started.channel,
            started.nonblocking,
            started.slot,
        ));
        Ok(())
    }
}

/// Dropping the `Process` of a running child neither waits for it nor kills it (as in
/// Python): the child is reaped later, by the next `start`, by
/// [`active_children`](crate::active_children), or at the end of the program.
impl<K: Kind> Drop for Process<K> {
    fn drop(&mut self) {
        if self.started
            && self.exitcode.is_none()
            && !self.closed
            && self.generation == child::generation()
        {
            children::orphan(self.key);
        }
    }
}

impl<K: Kind> fmt::Debug for Process<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Process")
            .field("name", &self.name)
            .field("pid", &self.pid)
            .field("daemon", &self.daemon)
            .field("start_method", &self.method)
            .field("exitcode", &self.exitcode)
            .finish_non_exhaustive()
    }
}

/// `n` in decimal, written into `buf` (no allocation).
fn decimal(mut n: usize, buf: &mut [u8; 20]) -> &str {
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    std::str::from_utf8(&buf[at..]).unwrap_or("?")
}

/// Maps `waitpid` errors to the crate's errors.
pub(crate) fn wait_error(errno: Errno) -> Error {
    match errno {
        Errno::ECHILD => Error::NotAChild,
        errno => Err::<(), _>(errno).ctx("waitpid").unwrap_err(),
    }
}
