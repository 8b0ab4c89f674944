//! Forking the root child and everything it does before exec.
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
use nix::sys::signal::{SigSet, SigmaskHow, Signal, sigprocmask};
use nix::unistd::{ForkResult, Gid, Pid, Uid, fork, pipe2};
use seccompiler::BpfProgram;

use super::error::TraceError;
use super::fsview::FsView;
use super::rawsys::{drop_capabilities, fork_into, switch_user};

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
            let (stage, errno) = child_setup(
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

/// The child's side. Returns only on failure: (stage, errno).
fn child_setup(
    spec: &ChildSpec<'_>,
    parent: Pid,
    sync: BorrowedFd<'_>,
    pids: Option<BorrowedFd<'_>>,
    timing: Option<BorrowedFd<'_>>,
    argv: &[*const libc::c_char],
    envp: &[*const libc::c_char],
) -> (u8, Errno) {
    let mut marks = [0u64; CHILD_MARKS.len()];
    let mut mark = |i: usize| {
        if timing.is_some() {
            marks[i] = super::timings::now_ns();
        }
    };
    mark(0);
    macro_rules! step {
        ($stage:expr, $call:expr) => {
            if let Err(e) = $call {
                return ($stage, e);
            }
        };
    }
    // Rust ignores SIGPIPE and the grader may block signals: neither may leak into the
    // program (an ignored disposition survives exec, execve(2)).
    step!(
        0,
        sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None)
    );
    // SAFETY: resetting a disposition to SIG_DFL is async-signal-safe.
    step!(0, unsafe {
        nix::sys::signal::signal(Signal::SIGPIPE, nix::sys::signal::SigHandler::SigDfl)
    });
    // SIGCHLD too: whoever started the grader (a job runner, a container's init) may
    // ignore it, and an inherited SIG_IGN would make the kernel reap a server's children
    // for it. Resetting (rather than reading the inherited state) grades every
    // submission under the same start state, the one a login shell gives; the tracer's
    // SIGCHLD bookkeeping starts the root at SIG_DFL (`sigchld.rs`).
    // SAFETY: as above.
    step!(0, unsafe {
        nix::sys::signal::signal(Signal::SIGCHLD, nix::sys::signal::SigHandler::SigDfl)
    });
    // Own session: a Ctrl-C at the grader's terminal reaches the grader, which then ends
    // the run, instead of the program directly.
    step!(1, nix::unistd::setsid());
    step!(2, nix::unistd::dup2_stdin(&spec.stdin));
    step!(2, nix::unistd::dup2_stdout(&spec.stdout));
    step!(2, nix::unistd::dup2_stderr(&spec.stderr));
    // SAFETY: close_range(2) with CLOSE_RANGE_CLOEXEC only sets flags.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3u32,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    step!(3, Errno::result(rc));
    // No core files: a crashing submission would otherwise write one into its working
    // directory (the grader's own, when it stays root). The exit status still tells the
    // signal; `core` is then false.
    step!(
        5,
        nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_CORE, 0, 0)
    );
    if let Some(ns) = spec.userns {
        step!(
            12,
            nix::sched::setns(ns, nix::sched::CloneFlags::CLONE_NEWUSER)
        );
    }
    if let Some(n) = spec.nproc {
        step!(
            5,
            nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_NPROC, n, n)
        );
    }
    if let Some(ns) = spec.netns {
        step!(
            4,
            nix::sched::setns(ns, nix::sched::CloneFlags::CLONE_NEWNET)
        );
    }
    mark(1);
    // Before the uid change and the capability drop: it needs CAP_SYS_ADMIN.
    if let Some(view) = spec.fs_view {
        step!(11, view.enter());
    }
    mark(2);
    // After the user namespace (whose CAP_SYS_ADMIN it needs) and before the uid change
    // (the grader's own, as root). From here on this is the namespace's pid 2.
    let mut parent = parent;
    if let Some(report) = pids {
        // This process stays outside as the namespace's helper C, and the init and the
        // root end with it: it must end with the grader, or a grader killed before it
        // released the root (a worker's SIGTERM, a Ctrl-C) leaves all three behind.
        step!(7, nix::sys::prctl::set_pdeathsig(Signal::SIGKILL));
        if nix::unistd::getppid() != parent {
            return (7, Errno::ESRCH);
        }
        if let Err((stage, e)) = super::pidns::enter(report) {
            return (stage, e);
        }
        // Its own session and process group, whose ids it can see (C's are outside).
        step!(1, nix::unistd::setsid());
        parent = Pid::from_raw(1);
    }
    if let Some((uid, gid)) = spec.identity {
        step!(6, switch_user(uid, gid));
    }
    if let Some(cwd) = spec.cwd.as_deref().or(spec.fs_view.map(FsView::writable)) {
        step!(5, nix::unistd::chdir(cwd));
    }
    if spec.drop_caps {
        step!(6, drop_capabilities());
    }
    if spec.fixed_addresses {
        use nix::sys::personality::{Persona, get, set};
        let persona = get().unwrap_or(Persona::empty()) | Persona::ADDR_NO_RANDOMIZE;
        step!(5, set(persona).map(drop));
    }
    // After the uid change: changing credentials clears the parent-death signal
    // (prctl(2), PR_SET_PDEATHSIG). If the tracer died already, stop here.
    step!(7, nix::sys::prctl::set_pdeathsig(Signal::SIGKILL));
    if nix::unistd::getppid() != parent {
        return (7, Errno::ESRCH);
    }
    mark(3);
    let mut go = [0u8; 1];
    match nix::unistd::read(sync, &mut go) {
        Ok(1) if go[0] == b'g' => {}
        Ok(_) => return (8, Errno::ECANCELED),
        Err(e) => return (8, e),
    }
    mark(4);
    if let Some(fd) = timing {
        let mut bytes = [0u8; 8 * CHILD_MARKS.len()];
        for (chunk, m) in bytes.chunks_exact_mut(8).zip(marks) {
            chunk.copy_from_slice(&m.to_ne_bytes());
        }
        let _ = nix::unistd::write(fd, &bytes);
    }
    for filter in &spec.filters {
        if seccompiler::apply_filter(filter).is_err() {
            return (9, Errno::last());
        }
    }
    // SAFETY: NUL-terminated arrays of pointers to live C strings, built before fork.
    unsafe { libc::execve(spec.program.as_ptr(), argv.as_ptr(), envp.as_ptr()) };
    (STAGE_EXEC, Errno::last())
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
