//! Forking the root child (its side up to exec is in `child.rs`).
//!
//! The grader is multithreaded, so between fork and exec the child may only make
//! async-signal-safe calls (signal-safety(7)): no allocation, no locks. Everything is
//! prepared before fork (C strings, pointer arrays, pipes, the seccomp programs), and
//! the child only makes raw syscalls. nix's `execve` builds its pointer arrays on the
//! heap, so the child calls libc's `execve` with arrays built here beforehand.
//!
//! Handshake: the child blocks on a sync pipe until the tracer has seized it
//! (PTRACE_SEIZE, ptrace(2)) and moved it into the run's cgroups; only then does it
//! install the seccomp filters (a `SECCOMP_RET_TRACE` with no tracer would fail the
//! syscall with ENOSYS, seccomp(2)) and exec. A failure before exec is reported as
//! (stage, errno) on a close-on-exec error pipe, which exec closes unread on success.

use std::ffi::CString;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::unistd::{ForkResult, Gid, Pid, Uid, fork, pipe2};
use seccompiler::BpfProgram;

use super::error::TraceError;
use super::fsview::FsView;
use super::rawsys::fork_into;

mod child;

/// Steps of the child's setup, reported with errno when one fails.
const STAGES: &[&str] = &[
    "resetting signals",
    "starting a session",
    "redirecting stdin/stdout/stderr",
    "marking inherited descriptors close-on-exec",
    "joining the network namespace",
    "changing directory or limits",
    "switching user",
    "setting the parent-death signal",
    "waiting for the tracer",
    "installing the seccomp filter",
    "exec",
    "making the file system read-only",
    "joining the user namespace",
    "making the pid namespace",
    "starting the pid namespace's init",
];
const STAGE_EXEC: u8 = 10;

/// Everything the child needs, built before fork.
pub(crate) struct ChildSpec<'a> {
    pub program: CString,
    pub argv: Vec<CString>,
    pub envp: Vec<CString>,
    pub cwd: Option<CString>,
    pub identity: Option<(Uid, Gid)>,
    /// Clear the capability bounding set: a program that stays uid 0 then execs with no
    /// capabilities (capabilities(7), "Transformation of capabilities during execve").
    pub drop_caps: bool,
    /// Everything read-only but the working directory (see `fsview.rs`).
    pub fs_view: Option<&'a FsView>,
    pub netns: Option<BorrowedFd<'a>>,
    /// The run's user namespace (`userns.rs`), joined before the network namespace it
    /// owns and before the fs view, which it makes possible.
    pub userns: Option<BorrowedFd<'a>>,
    /// RLIMIT_NPROC (soft and hard), set in the run's user namespace only.
    pub nproc: Option<u64>,
    /// v1 cgroup `tasks` files the child writes `0` to (see `cgroup::Joins`).
    pub cgroup_tasks: &'a [CString],
    /// A v2 cgroup directory the child is born in (clone3, CLONE_INTO_CGROUP).
    pub into_cgroup: Option<BorrowedFd<'a>>,
    /// Run the program in a pid namespace of its own, under an init of ours
    /// (`pidns.rs`): the forked child then becomes that namespace's outer helper.
    pub pidns: bool,
    /// No address randomisation (personality(2)): the virtual clock's runs repeat, and
    /// CPython reaps its children in the order of their addresses.
    pub fixed_addresses: bool,
    pub filters: Vec<BpfProgram>,
    pub stdin: OwnedFd,
    pub stdout: OwnedFd,
    pub stderr: OwnedFd,
}

/// Marks the child takes (with `PROCLAB_TRACE_TIMINGS=1`), in this order.
pub(crate) const CHILD_MARKS: [&str; 5] = [
    "child:started",
    "child:netns-joined",
    "child:fs-view-entered",
    "child:ready",
    "child:released",
];

/// The forked child, stopped at the handshake.
pub(crate) struct Forked {
    pub pid: Pid,
    sync: OwnedFd,
    errors: OwnedFd,
    /// Read end of the child's timing marks (timings on only).
    timing: Option<OwnedFd>,
    /// Read end of the child's report on `ChildSpec::cgroup_tasks`.
    joined: OwnedFd,
    /// The child was born in `ChildSpec::into_cgroup`.
    pub in_cgroup: bool,
    /// Read end of the pid namespace's pid reports (`ChildSpec::pidns` only).
    pub pids: Option<OwnedFd>,
}

/// Build a C string, refusing interior NULs with a clear error.
pub(crate) fn cstring(
    what: &'static str,
    s: impl AsRef<std::ffi::OsStr>,
) -> Result<CString, TraceError> {
    CString::new(s.as_ref().as_bytes()).map_err(|_| TraceError::Setup {
        stage: what,
        source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "contains a NUL byte"),
    })
}

/// Fork the child. It runs its setup and then waits for [`Forked::release`].
pub(crate) fn fork_child(spec: ChildSpec<'_>) -> Result<Forked, TraceError> {
    let argv_ptrs: Vec<*const libc::c_char> = spec
        .argv
        .iter()
        .map(|a| a.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect();
    let envp_ptrs: Vec<*const libc::c_char> = spec
        .envp
        .iter()
        .map(|a| a.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect();
    let (sync_r, sync_w) = pipe2(OFlag::O_CLOEXEC).map_err(|e| TraceError::Setup {
        stage: "creating the sync pipe",
        source: e.into(),
    })?;
    let (err_r, err_w) = pipe2(OFlag::O_CLOEXEC).map_err(|e| TraceError::Setup {
        stage: "creating the error pipe",
        source: e.into(),
    })?;
    let timing = if super::timings::enabled() {
        pipe2(OFlag::O_CLOEXEC).ok()
    } else {
        None
    };
    let (joined_r, joined_w) = pipe2(OFlag::O_CLOEXEC).map_err(|e| TraceError::Setup {
        stage: "creating the cgroup report pipe",
        source: e.into(),
    })?;
    let pids = if spec.pidns {
        Some(pipe2(OFlag::O_CLOEXEC).map_err(|e| TraceError::Setup {
            stage: "creating the pid report pipe",
            source: e.into(),
        })?)
    } else {
        None
    };
    let parent = nix::unistd::getpid();

    // SAFETY: the child branch below makes only async-signal-safe calls and then execs
    // or _exits; every allocation happened above.
    let (forked, in_cgroup) = match spec.into_cgroup.map(|cg| unsafe { fork_into(cg) }) {
        Some(Ok(r)) => (Ok(r), true),
        // No clone3 or no CLONE_INTO_CGROUP here: the tracer moves the child instead.
        Some(Err(_)) | None => (unsafe { fork() }, false),
    };
    match forked {
        Err(e) => Err(TraceError::Setup {
            stage: "fork",
            source: e.into(),
        }),
        Ok(ForkResult::Child) => {
            // The grader's ends of the pipes: with the sync pipe's write end open here,
            // the child would wait for the release forever if the grader died first.
            drop((sync_w, err_r, joined_r));
            let timing_w = timing.as_ref().map(|(_, w)| w.as_fd());
            super::cgroup::join_v1(spec.cgroup_tasks, joined_w.as_fd());
            let (stage, errno) = child::setup(
                &spec,
                parent,
                sync_r.as_fd(),
                pids.as_ref().map(|(_, w)| w.as_fd()),
                timing_w,
                &argv_ptrs,
                &envp_ptrs,
            );
            let mut report = [0u8; 5];
            report[0] = stage;
            report[1..].copy_from_slice(&(errno as i32).to_ne_bytes());
            let _ = nix::unistd::write(&err_w, &report);
            // SAFETY: _exit is async-signal-safe and skips atexit handlers of the grader.
            unsafe { libc::_exit(127) }
        }
        Ok(ForkResult::Parent { child }) => {
            drop((sync_r, err_w, joined_w));
            Ok(Forked {
                joined: joined_r,
                in_cgroup,
                pid: child,
                sync: sync_w,
                errors: err_r,
                timing: timing.map(|(r, _)| r),
                pids: pids.map(|(r, _)| r),
            })
        }
    }
}

impl Forked {
    /// Let the child go on to exec (after it was seized and put in its cgroups).
    pub(crate) fn release(&self) -> Result<(), TraceError> {
        nix::unistd::write(&self.sync, b"g")
            .map(drop)
            .map_err(|e| TraceError::Setup {
                stage: "releasing the child",
                source: e.into(),
            })
    }

    /// Which of `ChildSpec::cgroup_tasks` the child joined (bit `i`). Blocks until the
    /// child reported (the first thing it does); 0 if it died first.
    pub(crate) fn joined(&self) -> u64 {
        let mut bytes = [0u8; 8];
        match nix::unistd::read(&self.joined, &mut bytes) {
            Ok(8) => u64::from_ne_bytes(bytes),
            _ => 0,
        }
    }

    /// The child's timing marks (CLOCK_MONOTONIC ns, in [`CHILD_MARKS`] order), once it
    /// was released; empty when timings are off.
    pub(crate) fn marks(&self) -> Vec<u64> {
        let Some(fd) = &self.timing else {
            return Vec::new();
        };
        let mut bytes = [0u8; 8 * CHILD_MARKS.len()];
        match nix::unistd::read(fd, &mut bytes) {
            Ok(n) if n == bytes.len() => bytes
                .chunks_exact(8)
                .map(|c| u64::from_ne_bytes(c.try_into().unwrap_or([0; 8])))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Why the child died before exec, if it reported a stage (call once it is dead).
    pub(crate) fn failure(&self) -> Option<(&'static str, Errno)> {
        let mut report = [0u8; 5];
        match nix::unistd::read(&self.errors, &mut report) {
            Ok(5) => {
                let stage = STAGES
                    .get(usize::from(report[0]))
                    .copied()
                    .unwrap_or("setup");
                let errno = i32::from_ne_bytes([report[1], report[2], report[3], report[4]]);
                Some((stage, Errno::from_raw(errno)))
            }
            _ => None,
        }
    }
}
