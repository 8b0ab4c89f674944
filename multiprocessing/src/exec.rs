//! Executing this program again (spawn, and the forkserver's zygote): the parent's
//! `exec_self` with one end of a socket pair inherited, and the new process's side, which
//! finds that socket (`take_env`), reads its payload and becomes the child (`run_child`).
//! A forkserver child runs `run_child` too, in a fork of the zygote.

use std::os::fd::{AsFd, AsRawFd, FromRawFd, IntoRawFd, OwnedFd};

use nix::fcntl::{F_SETFD, FdFlag, fcntl};
use nix::sys::socket::{AddressFamily, SockFlag, SockType, socketpair};
use nix::unistd::Pid;

use crate::body::Payload;
use crate::child::{self, Becoming};
use crate::error::{Context, Error, Result};
use crate::sys;

/// A connected pair of close-on-exec Unix stream sockets.
pub(crate) fn channel_pair() -> Result<(OwnedFd, OwnedFd)> {
    let (a, b) = socketpair(
        AddressFamily::Unix,
        SockType::Stream,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .ctx("socketpair")?;
    Ok((sys::above_stdio(a), sys::above_stdio(b)))
}

/// Executes this program again with `fd` inherited and `env=value` set; returns the
/// child's pid. The child is reaped by `waitpid` on that pid, never through std's `Child`.
///
/// The program's path (so the child's command name is the program's, not `exe`), or
/// `/proc/self/exe` when the file is gone; were it replaced by another build, the payload's
/// layout check makes the child fail cleanly.
///
/// `marker`, when given, is passed as the only argument: the forkserver's zygote carries
/// `--multiprocessing.forkserver` so that tools reading argv (proclab's ledger) tell it
/// from the program's own processes, as they do Python's forkserver. The child never
/// parses its arguments: `init()` takes it over first.
pub(crate) fn exec_self(fd: &OwnedFd, env: &str, value: &str, marker: Option<&str>) -> Result<Pid> {
    use nix::spawn::{PosixSpawnAttr, PosixSpawnFileActions, PosixSpawnFlags, posix_spawn};
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;

    sys::flush_stdio();
    let raw = fd.as_raw_fd();
    let exe = std::env::current_exe()
        .ok()
        .filter(|p| p.exists())
        .unwrap_or_else(|| "/proc/self/exe".into());
    let cstr = |bytes: &[u8]| {
        CString::new(bytes).map_err(|_| Error::Sys {
            call: "spawn: an argument or variable holds a NUL byte",
            errno: nix::errno::Errno::EINVAL,
        })
    };
    let mut argv = vec![match std::env::args_os().next() {
        Some(arg0) => cstr(arg0.as_bytes())?,
        None => cstr(exe.as_os_str().as_bytes())?,
    }];
    if let Some(marker) = marker {
        argv.push(cstr(marker.as_bytes())?);
    }
    let mut envp = Vec::new();
    for (k, v) in std::env::vars_os().filter(|(k, _)| k.as_bytes() != env.as_bytes()) {
        envp.push(cstr(&[k.as_bytes(), b"=", v.as_bytes()].concat())?);
    }
    envp.push(cstr(format!("{env}={value}").as_bytes())?);
    // posix_spawn(3) creates the child with CLONE_VFORK in glibc: no copy of the parent's
    // page tables, so spawn's cost does not grow with the parent's memory (a plain fork,
    // which std's Command needs for a pre_exec hook, does). A dup2 of the channel onto
    // itself clears its FD_CLOEXEC in the child (glibc >= 2.29, POSIX issue 8).
    let mut actions = PosixSpawnFileActions::init().ctx("posix_spawn_file_actions_init")?;
    actions
        .add_dup2(raw, raw)
        .ctx("posix_spawn_file_actions_adddup2")?;
    // Like std's Command: the child starts with no blocked signal and SIGPIPE at its
    // default (the parent may block signals it reads from a signalfd, as the servers do).
    let mut attr = PosixSpawnAttr::init().ctx("posix_spawnattr_init")?;
    attr.set_sigmask(&nix::sys::signal::SigSet::empty())
        .ctx("posix_spawnattr_setsigmask")?;
    let mut sigpipe = nix::sys::signal::SigSet::empty();
    sigpipe.add(nix::sys::signal::Signal::SIGPIPE);
    attr.set_sigdefault(&sigpipe)
        .ctx("posix_spawnattr_setsigdefault")?;
    attr.set_flags(
        PosixSpawnFlags::POSIX_SPAWN_SETSIGMASK | PosixSpawnFlags::POSIX_SPAWN_SETSIGDEF,
    )
    .ctx("posix_spawnattr_setflags")?;
    posix_spawn(exe.as_path(), &actions, &attr, &argv, &envp).ctx("posix_spawn(this program)")
}

/// Reads `fd:pid` from `env`, if this process was started to be a child (or the zygote).
pub(crate) fn take_env(env: &str) -> Option<(OwnedFd, Pid)> {
    let value = std::env::var(env).ok()?;
    // SAFETY: init() runs first in main, before any other thread could read the environment.
    unsafe { std::env::remove_var(env) };
    let (fd, pid) = value.split_once(':')?;
    let fd: i32 = fd.parse().ok()?;
    let pid: i32 = pid.parse().ok()?;
    // SAFETY: the parent passed us this fd number; it is open and nobody else owns it.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // Keep it from leaking into programs this child may exec.
    let _ = fcntl(fd.as_fd(), F_SETFD(FdFlag::FD_CLOEXEC));
    Some((fd, Pid::from_raw(pid)))
}

fn read_payload(fd: &OwnedFd) -> std::result::Result<Payload, String> {
    let mut len = [0u8; 4];
    sys::read_exact(fd.as_fd(), &mut len).map_err(|e| format!("reading the payload: {e}"))?;
    let mut bytes = vec![0u8; u32::from_le_bytes(len) as usize];
    sys::read_exact(fd.as_fd(), &mut bytes).map_err(|e| format!("reading the payload: {e}"))?;
    Payload::decode(&bytes)
}

/// Becomes the child described by the payload on `channel`, runs it and exits. `watch` is
/// what `getppid()` gives while the parent lives (the parent, or the zygote).
pub(crate) fn run_child(channel: OwnedFd, watch: Pid) -> ! {
    let payload = read_payload(&channel);
    // Leaked: the names must live as long as the process.
    let leak = |s: &str| &*s.to_string().leak();
    let (name, parent_name, identity, daemon, method, parent_pid, bounded) = match &payload {
        Ok(p) => (
            leak(&p.meta.name),
            leak(&p.meta.parent_name),
            p.meta.identity.clone(),
            p.meta.daemon,
            p.meta.method,
            Pid::from_raw(p.meta.parent_pid),
            p.meta.bounded,
        ),
        Err(_) => ("Process-?", "?", String::new(), false, 0, watch, false),
    };
    child::become_child(Becoming {
        name,
        identity: Some(identity),
        ident: 0,
        daemon,
        parent: watch,
        parent_pid,
        parent_name: Some(parent_name),
        method,
        report_fd: channel.into_raw_fd(),
        report_slot: std::ptr::null_mut(),
        socket: true,
        bounded,
    });
    child::execute(move || {
        let p = payload?;
        (p.trampoline)(p.target, &p.args)
    })
}
