//! What a traced run is given: the command, its limits and its containment choices.

use std::path::PathBuf;
use std::time::Duration;

use crate::ledger::Limits;

/// Whether the run gets a private network namespace (only loopback, brought up).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NetnsMode {
    /// A private namespace when the tracer may create one (CAP_SYS_ADMIN, or a user
    /// namespace of the run's own), else the host's.
    #[default]
    Auto,
    /// A private namespace, or fail the run if one cannot be made.
    On,
    /// The host's network namespace.
    Off,
}

/// Whether the run is put in cgroups of its own (pids, memory, kill).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CgroupMode {
    /// Every controller that is mounted and writable; the others fall back to ptrace.
    #[default]
    Auto,
    /// No cgroups: the process cap is enforced through ptrace only, memory by sampling
    /// the tree's resident memory.
    Off,
}

/// Which user the command runs as when the tracer runs as root.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum RunAs {
    /// As root: `nobody` in a private working directory, unless the command's file is
    /// out of `nobody`'s reach (e.g. an interpreter installed under `/root`), in which
    /// case the run stays root and the `uid` layer says why. Not root: the current user.
    #[default]
    Auto,
    /// This user (name or numeric uid); fail if the command is out of its reach.
    User(String),
    /// The tracer's own user, whatever it is.
    Current,
}

/// Everything a traced run needs. [`TraceOptions::new`] gives the defaults.
#[derive(Debug, Clone)]
pub struct TraceOptions {
    /// argv of the command; `command[0]` is looked up in `PATH` unless it has a `/`.
    pub command: Vec<String>,
    /// Time, process, memory and output limits.
    pub limits: Limits,
    /// Working directory; `None`: a private directory when the run drops to another
    /// user, else the tracer's current directory.
    pub cwd: Option<PathBuf>,
    pub run_as: RunAs,
    pub netns: NetnsMode,
    pub cgroup: CgroupMode,
    /// Where the grader cannot make namespaces itself (no CAP_SYS_ADMIN), give the run a
    /// user namespace of its own for its network and mount namespaces (`userns.rs`).
    pub userns: bool,
    /// Pin the tracer and the traced tree to one CPU (default on: on a VM whose idle vCPUs
    /// halt, every cross-CPU ptrace stop is slow; measured 1.7x faster on a write-heavy
    /// run). Successive runs take the allowed CPUs in turn.
    pub pin_cpu: bool,
    /// Which of the allowed CPUs to pin to, counted in turn (a class worker's pool slot);
    /// `None`: this process's pid picks, so separate graders spread.
    pub cpu_turn: Option<usize>,
    /// Extra environment for the command (after `PYTHONUNBUFFERED=1`, so it can override).
    pub extra_env: Vec<(String, String)>,
    /// How long the run may go on after the root process exited, for the processes left
    /// to end on their own (orphaned children finishing their work; Python's
    /// `resource_tracker` exits when its pipe closes), before containment kills them and
    /// lists them as leftovers. The run ends as soon as nothing is left, and never later
    /// than the time limit. Default [`DEFAULT_LINGER`].
    pub linger: Duration,
    /// Cap on the number of events (bounds the tracer's memory under a flood of tiny
    /// writes); hitting it is reported as the output cap.
    pub max_events: usize,
    /// Write the raw bytes the command's stdout and stderr received (up to the output
    /// cap) to `DIR/stdout` and `DIR/stderr`.
    pub capture_dir: Option<PathBuf>,
    /// Give the program a file system that is read-only but for its working directory
    /// and a private `/dev/shm` (a mount namespace; see `fsview.rs`), where the grader or
    /// the run's user namespace can make one.
    pub readonly_fs: bool,
    /// With `readonly_fs`: directories the program cannot even read (other students'
    /// folders, the grader's output), covered by an empty file system…
    pub hide: Vec<PathBuf>,
    /// …except these directories inside them (the submission's own folder).
    pub expose: Vec<PathBuf>,
    /// The clock the program and the ledger run on (default: real).
    pub clock: super::ClockMode,
    /// Run the program in a pid namespace of its own (`pidns.rs`), where the grader or
    /// the run's user namespace can make one (default on).
    pub pidns: bool,
}

/// How long orphans may run on after the root exited, by default (`proclab trace
/// --linger`, `proclab grade --orphan-grace`, an exercise's `[limits] orphan_grace_ms`):
/// long enough for a child that sleeps a few seconds to write its end line and exit.
pub const DEFAULT_LINGER: Duration = Duration::from_secs(5);

/// Default limits: 30 s, 64 processes, 512 MiB, 8 MiB of output.
pub const DEFAULT_LIMITS: Limits = Limits {
    time_ms: 30_000,
    max_processes: 64,
    memory_bytes: 512 << 20,
    output_bytes: 8 << 20,
};

impl TraceOptions {
    /// Options with the default limits and containment for `command`.
    pub fn new<S: Into<String>>(command: impl IntoIterator<Item = S>) -> Self {
        TraceOptions {
            command: command.into_iter().map(Into::into).collect(),
            limits: DEFAULT_LIMITS,
            cwd: None,
            run_as: RunAs::Auto,
            netns: NetnsMode::Auto,
            cgroup: CgroupMode::Auto,
            userns: true,
            pin_cpu: true,
            cpu_turn: None,
            extra_env: Vec::new(),
            linger: DEFAULT_LINGER,
            max_events: 500_000,
            capture_dir: None,
            readonly_fs: true,
            hide: Vec::new(),
            expose: Vec::new(),
            clock: super::ClockMode::Real,
            pidns: true,
        }
    }
}
