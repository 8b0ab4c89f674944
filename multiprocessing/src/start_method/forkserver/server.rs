//! The zygote's loop. It runs in a fresh exec of the program, single-threaded, so every
//! fork it makes is sound. On request it makes a child of its parent (`clone` with
//! `CLONE_PARENT`), which the parent reaps as it reaps a fork child. Where that is refused
//! it forks a child of its own, reaps it on `SIGCHLD` and sends its exit status on that
//! child's socket. When the parent closes the control socket it waits for its remaining
//! children (if any) and exits.

use std::io::IoSliceMut;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{SigHandler, SigSet, Signal, signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg, send};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, fork, getpid, getppid};

use crate::{exec, report, sys};

/// Serves fork requests until the parent closes `control`; never returns.
pub(crate) fn serve(control: OwnedFd, parent: Pid) -> ! {
    let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL);
    if getppid() != parent {
        sys::exit_now(0);
    }
    // SAFETY: setting SIGPIPE to ignored installs no handler code.
    let _ = unsafe { signal(Signal::SIGPIPE, SigHandler::SigIgn) };
    let mut mask = SigSet::empty();
    mask.add(Signal::SIGCHLD);
    let sigfd = match mask
        .thread_block()
        .and_then(|()| SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK))
    {
        Ok(fd) => fd,
        Err(_) => sys::exit_now(1),
    };
    // Once here rather than in every child (a lock, an allocation and pages written).
    crate::child::ensure_panic_hook();
    let me = getpid();
    let mut kids: Vec<(Pid, OwnedFd)> = Vec::new();
    loop {
        let mut fds = [
            PollFd::new(control.as_fd(), PollFlags::POLLIN),
            PollFd::new(sigfd.as_fd(), PollFlags::POLLIN),
        ];
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) | Err(Errno::EINTR) => {}
            Err(_) => break,
        }
        let request = fds[0].any().unwrap_or(false);
        let reaped = fds[1].any().unwrap_or(false);
        if reaped {
            while let Ok(Some(_)) = sigfd.read_signal() {}
            reap(&mut kids, WaitPidFlag::WNOHANG);
        }
        if request {
            let Some(child_end) = receive(control.as_raw_fd()) else {
                break; // a stop request (no fd) or EOF: the parent is done
            };
            // A child of our parent (see `sys::fork_sibling`): it reaps the child itself,
            // and is woken once, when the child ends. Where the kernel refuses (we are an
            // init process), our own child, whose status we relay.
            // SAFETY: the zygote is single-threaded and registers no atfork handler.
            let (made, direct) = match unsafe { sys::fork_sibling() } {
                Err(_) => (unsafe { fork() }, false),
                made => (made, true),
            };
            match made {
                Ok(ForkResult::Child) => {
                    let _ = mask.thread_unblock();
                    drop(sigfd);
                    drop(control);
                    drop(kids);
                    exec::run_child(child_end, if direct { parent } else { me })
                }
                Ok(ForkResult::Parent { child }) => {
                    if !direct {
                        kids.push((child, child_end));
                    }
                    // (A direct child's socket is dropped here: the child and the
                    // parent hold the only ends left.)
                    let _ = send(
                        control.as_raw_fd(),
                        &reply(child.as_raw(), direct),
                        MsgFlags::empty(),
                    );
                }
                Err(_) => {
                    // Answer with pid 0: the parent reads it as a failure of the child.
                    let _ = send(control.as_raw_fd(), &reply(0, false), MsgFlags::empty());
                }
            }
        }
    }
    while !kids.is_empty() && reap(&mut kids, WaitPidFlag::empty()) {}
    sys::exit_now(0)
}

/// The answer to a request: the child's pid (0: it could not be made), then 1 if it is a
/// child of the requester (`fork_sibling`), 0 if it is ours (its status relayed).
pub(super) fn reply(pid: i32, direct: bool) -> [u8; 5] {
    let mut out = [0u8; 5];
    out[..4].copy_from_slice(&pid.to_le_bytes());
    out[4] = u8::from(direct);
    out
}

/// One request: a byte and the child's socket. `None` at EOF or on error.
fn receive(control: RawFd) -> Option<OwnedFd> {
    let mut byte = [0u8; 1];
    let mut iov = [IoSliceMut::new(&mut byte)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let msg = loop {
        match recvmsg::<()>(
            control,
            &mut iov,
            Some(&mut space),
            MsgFlags::MSG_CMSG_CLOEXEC,
        ) {
            Err(Errno::EINTR) => {}
            other => break other.ok()?,
        }
    };
    if msg.bytes == 0 {
        return None;
    }
    for cmsg in msg.cmsgs().ok()? {
        if let ControlMessageOwned::ScmRights(fds) = cmsg {
            // SAFETY: SCM_RIGHTS just installed these fds in our table.
            let mut owned = fds
                .into_iter()
                .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) });
            return owned.next().map(sys::above_stdio);
        }
    }
    None
}

/// Reaps finished children and sends each one's status on its socket. With blocking
/// `flags`, reaps one; returns false when there is no child left to wait for.
fn reap(kids: &mut Vec<(Pid, OwnedFd)>, flags: WaitPidFlag) -> bool {
    loop {
        let status = match waitpid(Pid::from_raw(-1), Some(flags)) {
            Err(Errno::EINTR) => continue,
            Ok(WaitStatus::StillAlive) => return true,
            Err(_) => return false,
            Ok(status) => status,
        };
        let (Some(pid), Some(code)) = (status.pid(), sys::exitcode_of(status)) else {
            continue;
        };
        if let Some(i) = kids.iter().position(|(p, _)| *p == pid) {
            let (_, fd) = kids.swap_remove(i);
            let _ = sys::send_all(fd.as_fd(), &report::status_frame(code));
        }
        if flags.is_empty() {
            return true;
        }
    }
}
