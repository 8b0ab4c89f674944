//! The child's side of the fork: everything it does between fork and exec, with
//! async-signal-safe calls only (see the parent module).

use std::os::fd::BorrowedFd;

use nix::errno::Errno;
use nix::sys::signal::{SigSet, SigmaskHow, Signal, sigprocmask};
use nix::unistd::Pid;

use super::{CHILD_MARKS, ChildSpec, STAGE_EXEC};
use crate::trace::fsview::FsView;
use crate::trace::rawsys::{drop_capabilities, switch_user};

/// The child's side, from fork to exec. Returns only on failure: (stage, errno).
pub(super) fn setup(
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
            marks[i] = crate::trace::timings::now_ns();
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
        if let Err((stage, e)) = crate::trace::pidns::enter(report) {
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
