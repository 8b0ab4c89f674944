//! How a child comes to exist: [`StartMethod`] and the parent-side start of each method.

pub(crate) mod fork;
pub(crate) mod forkserver;
pub(crate) mod spawn;

use std::fmt;
use std::os::fd::OwnedFd;
use std::str::FromStr;

use nix::unistd::Pid;

/// How [`Process::start`](crate::Process::start) creates the child, as Python's
/// `multiprocessing.set_start_method`.
///
/// Parsed from Python's names, so a `--start-method` flag can take it directly:
///
/// ```
/// use multiprocessing::StartMethod;
/// assert_eq!("forkserver".parse::<StartMethod>(), Ok(StartMethod::ForkServer));
/// assert_eq!(StartMethod::Spawn.to_string(), "spawn");
/// assert!("vfork".parse::<StartMethod>().is_err());
/// assert_eq!(StartMethod::default(), StartMethod::Fork);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum StartMethod {
    /// `fork()` the calling process: the child is a copy of the parent, globals included,
    /// and runs the target right away. Fastest; refused when the process has several
    /// threads (see [`Error::Threads`](crate::Error::Threads)). Python's default on Linux
    /// before 3.14.
    #[default]
    Fork,
    /// Execute this same program again; [`init`](crate::init) in the new process receives
    /// the target (a `fn`) and its serialized arguments and runs it. The child starts from
    /// fresh globals, like Python's `spawn`.
    Spawn,
    /// Ask a zygote to fork the child. The zygote is this program executed again when the
    /// first forkserver process starts; it stays single-threaded, so its forks are sound
    /// even when the parent runs threads. Children start from the zygote's fresh globals.
    ForkServer,
}

impl StartMethod {
    /// Python's name for the method: `fork`, `spawn` or `forkserver`.
    pub fn as_str(self) -> &'static str {
        match self {
            StartMethod::Fork => "fork",
            StartMethod::Spawn => "spawn",
            StartMethod::ForkServer => "forkserver",
        }
    }

    /// A small code for storing the method in an atomic (never 0, which means "not set").
    pub(crate) fn code(self) -> u8 {
        match self {
            StartMethod::Fork => 1,
            StartMethod::Spawn => 2,
            StartMethod::ForkServer => 3,
        }
    }

    /// The method of a [`code`](StartMethod::code); `None` for 0 (not set) or garbage.
    pub(crate) fn from_code(code: u8) -> Option<StartMethod> {
        match code {
            1 => Some(StartMethod::Fork),
            2 => Some(StartMethod::Spawn),
            3 => Some(StartMethod::ForkServer),
            _ => None,
        }
    }

    /// All three methods.
    pub const ALL: [StartMethod; 3] = [
        StartMethod::Fork,
        StartMethod::Spawn,
        StartMethod::ForkServer,
    ];
}

impl fmt::Display for StartMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error of parsing an unknown start method name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot find context for {0:?} (expected fork, spawn or forkserver)")]
pub struct UnknownStartMethod(pub String);

impl FromStr for StartMethod {
    type Err = UnknownStartMethod;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "fork" => Ok(StartMethod::Fork),
            "spawn" => Ok(StartMethod::Spawn),
            "forkserver" => Ok(StartMethod::ForkServer),
            other => Err(UnknownStartMethod(other.to_string())),
        }
    }
}

/// The method new portable processes use: the one set, or fork.
pub(crate) fn default_method() -> StartMethod {
    StartMethod::from_code(crate::child::start_method_code()).unwrap_or_default()
}

/// What the parent holds after a successful start.
pub(crate) struct Started {
    pub(crate) pid: Pid,
    /// Where the child's report (and, under the forkserver, its exit status) arrives.
    pub(crate) channel: Option<OwnedFd>,
    /// Where a fork child with a bounded frame leaves it (then there is no channel).
    pub(crate) slot: Option<crate::slots::Slot>,
    /// The child is the zygote's child: its status arrives on `channel`, not from `waitpid`.
    pub(crate) relayed: bool,
    /// `Spec::bounded` applied: the parent may reap before reading.
    pub(crate) bounded: bool,
    /// The channel is `O_NONBLOCK`.
    pub(crate) nonblocking: bool,
}

/// The settings of the process being started.
pub(crate) struct Spec<'a> {
    pub(crate) name: &'a str,
    /// The counter value given at construction (for the child's own identity).
    pub(crate) ident: usize,
    pub(crate) daemon: bool,
    pub(crate) allow_threads: bool,
    /// The target returns `()`: the child's final frame is cut to fit one atomic pipe
    /// write, so the parent of a fork child can reap it before reading (one wake-up per
    /// join instead of two: the frame's arrival, then the exit).
    pub(crate) bounded: bool,
}

impl Spec<'_> {
    /// The prefix of the names of the child's own children (`"1:"` for `Process-1`).
    pub(crate) fn child_identity(&self) -> String {
        crate::child::with_identity(|id| format!("{id}{}:", self.ident))
    }

    /// Who a spawned or forkserver child is (see `body::Meta`).
    pub(crate) fn meta(&self, method: StartMethod) -> crate::body::Meta {
        crate::body::Meta {
            daemon: self.daemon,
            bounded: self.bounded,
            method: method.code(),
            parent_pid: crate::child::self_pid().as_raw(),
            name: self.name.to_string(),
            identity: self.child_identity(),
            parent_name: crate::child::name(),
        }
    }
}
