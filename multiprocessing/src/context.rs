//! The process-wide start method (`set_start_method`, `get_start_method`), a [`Context`]
//! that fixes one for a group of processes (`get_context`), and [`parent_process`].

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::body::Run;
use crate::child;
use crate::error::{Error, Result};
use crate::process::Process;
use crate::start_method::default_method;
use crate::start_method::{StartMethod, UnknownStartMethod};

/// Sets the start method of every portable process created from now on
/// (Python: `multiprocessing.set_start_method(method)`).
///
/// As in Python it may be set once: a second call, or a call after
/// [`get_start_method`] fixed the default, fails with "context has already been set"
/// (use [`force_start_method`] to change it anyway). A child's method is the one that
/// started it. Processes made from a closure always fork.
///
/// ```
/// use multiprocessing::{Process, StartMethod};
///
/// fn work(n: i64) -> i64 {
///     n + 1
/// }
///
/// # fn main() -> Result<(), multiprocessing::Error> {
/// let _guard = multiprocessing::init();
/// multiprocessing::set_start_method(StartMethod::Spawn)?;
/// assert!(multiprocessing::set_start_method(StartMethod::Fork).is_err());
/// let mut p = Process::with_args(work, 41);
/// assert_eq!(p.start_method(), StartMethod::Spawn);
/// p.start()?;
/// p.join()?;
/// assert_eq!(p.result::<i64>()?, 42);
/// # Ok(()) }
/// ```
pub fn set_start_method(method: StartMethod) -> Result<()> {
    if child::set_start_method_code(method.code(), false) {
        Ok(())
    } else {
        Err(Error::ContextAlreadySet)
    }
}

/// Sets the process-wide start method even if one was set
/// (Python: `set_start_method(method, force=True)`).
///
/// ```
/// use multiprocessing::StartMethod;
/// let _guard = multiprocessing::init();
/// multiprocessing::set_start_method(StartMethod::Spawn).unwrap();
/// multiprocessing::force_start_method(StartMethod::ForkServer);
/// assert_eq!(multiprocessing::get_start_method(), StartMethod::ForkServer);
/// ```
pub fn force_start_method(method: StartMethod) {
    child::set_start_method_code(method.code(), true);
}

/// The process-wide start method (Python: `multiprocessing.get_start_method()`).
///
/// As in Python, asking fixes it: when none was set, it becomes fork, and a later
/// [`set_start_method`] fails.
///
/// ```
/// use multiprocessing::StartMethod;
/// let _guard = multiprocessing::init();
/// assert_eq!(multiprocessing::get_start_method(), StartMethod::Fork);
/// assert!(multiprocessing::set_start_method(StartMethod::Spawn).is_err());
/// ```
pub fn get_start_method() -> StartMethod {
    child::set_start_method_code(StartMethod::default().code(), false);
    default_method()
}

/// The start methods this platform offers (Python: `get_all_start_methods()`): all three.
///
/// ```
/// use multiprocessing::StartMethod;
/// assert_eq!(
///     multiprocessing::get_all_start_methods(),
///     [StartMethod::Fork, StartMethod::Spawn, StartMethod::ForkServer]
/// );
/// ```
pub fn get_all_start_methods() -> [StartMethod; 3] {
    StartMethod::ALL
}

/// A start method fixed for a group of processes, whatever the process-wide one
/// (Python: `ctx = multiprocessing.get_context('spawn')`, then `ctx.Process(...)`).
///
/// ```
/// use multiprocessing::StartMethod;
///
/// fn square(n: u64) -> u64 {
///     n * n
/// }
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let _guard = multiprocessing::init();
/// let ctx = multiprocessing::get_context("spawn")?;
/// assert_eq!(ctx.get_start_method(), StartMethod::Spawn);
/// let mut p = ctx.process(square, 12);
/// p.start()?;
/// p.join()?;
/// assert_eq!(p.result::<u64>()?, 144);
/// assert!(multiprocessing::get_context("vfork").is_err());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Context {
    method: StartMethod,
}

/// The [`Context`] of the method named `method` (`fork`, `spawn` or `forkserver`).
pub fn get_context(method: &str) -> std::result::Result<Context, UnknownStartMethod> {
    Ok(method.parse::<StartMethod>()?.context())
}

impl StartMethod {
    /// The [`Context`] of this method.
    pub fn context(self) -> Context {
        Context { method: self }
    }
}

impl Context {
    /// This context's start method.
    pub fn get_start_method(&self) -> StartMethod {
        self.method
    }

    /// Python: `ctx.Process(target=target, args=args)`.
    pub fn process<A, R>(&self, target: fn(A) -> R, args: A) -> Process
    where
        A: Serialize + DeserializeOwned + Send + 'static,
        R: Serialize + 'static,
    {
        Process::with_args(target, args).with_start_method(self.method)
    }

    /// A process whose body is `obj.run()` ([`Process::from_run`]) with this method.
    pub fn from_run<T>(&self, obj: T) -> Process
    where
        T: Run + Serialize + DeserializeOwned + Send + 'static,
    {
        Process::from_run(obj).with_start_method(self.method)
    }
}

/// The process that started the calling one (Python: `multiprocessing.parent_process()`);
/// `None` in the main program.
///
/// ```
/// use multiprocessing::Process;
///
/// fn child(_: ()) -> (u32, String) {
///     let parent = multiprocessing::parent_process().expect("a child has a parent");
///     (parent.pid.as_raw() as u32, parent.name)
/// }
///
/// # fn main() -> Result<(), multiprocessing::Error> {
/// let _guard = multiprocessing::init();
/// assert!(multiprocessing::parent_process().is_none());
/// let mut p = Process::with_args(child, ());
/// p.start()?;
/// p.join()?;
/// assert_eq!(p.result::<(u32, String)>()?, (std::process::id(), "MainProcess".into()));
/// # Ok(()) }
/// ```
pub fn parent_process() -> Option<ParentProcess> {
    let (pid, name, watch) = child::parent()?;
    Some(ParentProcess { name, pid, watch })
}

/// The parent of the calling process, as [`parent_process`] returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParentProcess {
    /// The parent's name (`MainProcess` for the main program).
    pub name: String,
    /// The parent's pid.
    pub pid: nix::unistd::Pid,
    /// What `getppid()` returns while the parent lives: the parent, or the zygote of a
    /// forkserver child (which dies with the parent).
    watch: nix::unistd::Pid,
}

impl ParentProcess {
    /// Whether the parent still runs (Python: `parent_process().is_alive()`). A child whose
    /// parent died is adopted by another process, which is what this checks.
    ///
    /// ```
    /// use multiprocessing::Process;
    /// use std::time::Duration;
    ///
    /// fn watch(_: ()) -> (bool, bool) {
    ///     let parent = multiprocessing::parent_process().unwrap();
    ///     // The parent waits for us: it does not end within 100 ms.
    ///     (parent.is_alive(), parent.join_timeout(Duration::from_millis(100)))
    /// }
    ///
    /// # fn main() -> Result<(), multiprocessing::Error> {
    /// let _guard = multiprocessing::init();
    /// let mut p = Process::with_args(watch, ());
    /// p.start()?;
    /// p.join()?;
    /// assert_eq!(p.result::<(bool, bool)>()?, (true, false));
    /// # Ok(()) }
    /// ```
    pub fn is_alive(&self) -> bool {
        nix::unistd::getppid() == self.watch
    }

    /// Waits at most `timeout` for the parent to end; returns whether it ended
    /// (Python: `parent_process().join(timeout)`, then `is_alive()`).
    pub fn join_timeout(&self, timeout: Duration) -> bool {
        if !self.is_alive() {
            return true;
        }
        let Some(pidfd) = crate::sys::pidfd_open(self.watch) else {
            return !self.is_alive();
        };
        // Opened while it was our parent, so the fd names it (a pid is only reused once
        // the process is gone, and then we would have been adopted).
        if self.is_alive() {
            let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
            let _ = crate::sys::readable(&pidfd, ms);
        }
        !self.is_alive()
    }
}
