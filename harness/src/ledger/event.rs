//! The ledger's event model: what the tracer saw, in the order it happened.
//!
//! Every event carries a global sequence number (`seq`, strictly increasing, the
//! causal order the tracer observed) and a monotonic timestamp (`t_ns`, nanoseconds
//! since the traced command was started). Pids are the kernel's pids as seen from the
//! tracer; a thread's `tid` differs from its thread-group id `pid`.
//!
//! The schema is versioned ([`SCHEMA_VERSION`]); any change that removes or renames
//! a field or an event kind bumps it. New optional fields and new event kinds may be
//! added without a bump: every ledger an older proclab wrote still reads (an older
//! proclab rejects a ledger with an event kind it does not know). Added so:
//! `sigchld_disposition`, `kernel_reap`.

use serde::{Deserialize, Serialize};

/// Version of the serialized ledger (`proclab trace --format json`).
pub const SCHEMA_VERSION: u32 = 1;

/// Kernel process id (thread-group id for processes, thread id for threads).
pub type Pid = i32;

/// One recorded fact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Global sequence number: strictly increasing in ledger order.
    pub seq: u64,
    /// Nanoseconds since the root command was started (monotonic clock).
    pub t_ns: u64,
    #[serde(flatten)]
    pub kind: EventKind,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum EventKind {
    /// The root command's first process, before its first exec.
    Root { pid: Pid },
    /// A new process (`thread = false`: a new thread group) or a new thread in
    /// `parent`'s thread group (`thread = true`). `parent` is the creating process's
    /// thread-group id; `creator_tid` the thread that made the call.
    Spawn {
        parent: Pid,
        creator_tid: Pid,
        child: Pid,
        thread: bool,
        via: SpawnVia,
    },
    /// A successful execve: the process now runs `path` with `argv`.
    Exec {
        pid: Pid,
        path: String,
        argv: Vec<String>,
    },
    /// A write to the traced command's stdout or stderr (fd 1/2 or any dup of them).
    Write {
        pid: Pid,
        tid: Pid,
        stream: Stream,
        /// The bytes written, lossily decoded as UTF-8.
        text: String,
        /// Byte count actually written (the syscall's return value).
        len: usize,
    },
    /// A thread group ended (its last thread exited). For threads see `ThreadExit`.
    Exit { pid: Pid, status: ExitStatus },
    /// A non-leader thread ended.
    ThreadExit { pid: Pid, tid: Pid },
    /// `reaper` collected `reaped`'s exit status with a wait-family call.
    Reap { reaper: Pid, reaped: Pid },
    /// `pid` changed how it treats its finished children with a successful
    /// sigaction/signal call on SIGCHLD. A handler and SIG_DFL are the same here (both
    /// keep zombies until a wait; both are SIG_DFL after exec), so installing a handler
    /// over SIG_DFL records nothing. Only calls are recorded; the rest follows the
    /// kernel: a fork copies the parent's disposition, an exec keeps `ignore` and
    /// clears `nocldwait` (signal(7), execve(2)). The root starts at SIG_DFL (the
    /// tracer resets SIGCHLD before exec).
    SigchldDisposition {
        pid: Pid,
        /// SIGCHLD is SIG_IGN.
        ignore: bool,
        /// SA_NOCLDWAIT is set (sigaction(2)).
        nocldwait: bool,
    },
    /// `reaped` exited while its parent `parent` ignored SIGCHLD (SIG_IGN or
    /// SA_NOCLDWAIT), so the kernel discarded its status instead of keeping a zombie
    /// (wait(2), NOTES). Recorded right after `reaped`'s `Exit`.
    KernelReap { parent: Pid, reaped: Pid },
    /// `from` sent `signal` to `to` with kill/tgkill/tkill (to < 0: a process group).
    Signal { from: Pid, to: Pid, signal: i32 },
    /// `pid` called listen() on a TCP socket bound to `addr` (e.g. "127.0.0.1:8080").
    Listen { pid: Pid, addr: String },
    /// `pid`'s bind() of a TCP/UDP socket to `addr` failed with `errno` (e.g. 98,
    /// EADDRINUSE): a port taken by another program is the grader's environment, not
    /// the student's doing, when the run shares the host's network.
    BindFailed { pid: Pid, addr: String, errno: i32 },
    /// `pid` accepted a connection from `peer` on listening address `local`.
    Accept {
        pid: Pid,
        local: String,
        peer: String,
    },
    /// `pid` read or wrote `len` bytes on the accepted connection whose peer is `peer`.
    SocketIo {
        pid: Pid,
        peer: String,
        dir: IoDir,
        len: usize,
    },
    /// A containment limit fired; the run was stopped because of it.
    Limit { limit: LimitKind, detail: String },
}

/// How a new task was created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpawnVia {
    Fork,
    Vfork,
    Clone,
}

/// Standard stream of the traced command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stream {
    Stdout,
    Stderr,
}

/// Direction of socket traffic, from the traced process's side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IoDir {
    Read,
    Write,
}

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ExitStatus {
    /// exit(code)
    Code { code: i32 },
    /// Killed by `signal`; `core` if it dumped core.
    Signal { signal: i32, core: bool },
    /// Still running when the tracer stopped following it, then killed by containment.
    Killed,
}

impl ExitStatus {
    /// Python's `Process.exitcode` convention: the code, or `-N` for signal N.
    pub fn python_exitcode(self) -> Option<i32> {
        match self {
            ExitStatus::Code { code } => Some(code),
            ExitStatus::Signal { signal, .. } => Some(-signal),
            ExitStatus::Killed => None,
        }
    }
}

/// A containment limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitKind {
    /// Wall-clock time limit.
    Time,
    /// Cap on live processes.
    Processes,
    /// Memory limit of the whole tree.
    Memory,
    /// Cap on captured output bytes.
    Output,
}

impl std::fmt::Display for LimitKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LimitKind::Time => "time limit",
            LimitKind::Processes => "process cap",
            LimitKind::Memory => "memory limit",
            LimitKind::Output => "output cap",
        })
    }
}

/// A containment layer that was (or was not) active for a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Layer {
    /// e.g. "pids-cgroup", "memory-cgroup", "cgroup-kill", "netns", "uid", "workdir",
    /// "ptrace-process-cap", "exitkill".
    pub name: String,
    pub active: bool,
    /// Why it is inactive, or what it was set to.
    pub detail: String,
}

/// The limits a run was given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    pub time_ms: u64,
    pub max_processes: u32,
    pub memory_bytes: u64,
    pub output_bytes: u64,
}

/// A complete recording of one traced run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ledger {
    pub schema_version: u32,
    /// The command as given (argv).
    pub command: Vec<String>,
    /// Pid of the root process.
    pub root: Pid,
    pub limits: Limits,
    pub layers: Vec<Layer>,
    /// Events in `seq` order.
    pub events: Vec<Event>,
    /// How the root process ended (None if it never started).
    pub root_status: Option<ExitStatus>,
    /// The first limit that fired, if any.
    pub limit_hit: Option<LimitKind>,
    /// Captured output was cut at the output cap.
    pub output_truncated: bool,
    /// Wall time of the whole run, in nanoseconds.
    pub wall_ns: u64,
    /// Processes still alive when the run ended, that containment then killed.
    pub leftovers: Vec<Pid>,
}
