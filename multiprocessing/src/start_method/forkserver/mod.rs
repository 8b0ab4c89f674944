//! The forkserver start method, parent side: one zygote per process, started on first use
//! by executing this program again; each child is requested by passing the child's end of a
//! fresh socket pair over the zygote's control socket (`SCM_RIGHTS`); the zygote answers
//! with the child's pid.
//!
//! The zygote makes the child a child of ours (`clone` with `CLONE_PARENT`): we reap it
//! with `waitpid` as a fork child, and a start+join wakes us twice (the zygote's answer,
//! the child's end) instead of four times (the answer, the child's report, the zygote's
//! relay of the exit status after its own `SIGCHLD`). Where the kernel refuses that (the
//! zygote would be an init process), the child is the zygote's: the zygote reaps it and
//! appends its exit status to the child's socket ("relayed"). The parent signals a
//! relayed child by pid; like Python's forkserver, a pid could be reused in the short
//! window between the zygote's reap and our reading the status, which is why
//! `terminate` is a no-op once the status has arrived.

use std::io::IoSlice;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use nix::errno::Errno;
use nix::sys::socket::{
    AddressFamily, ControlMessage, MsgFlags, SockFlag, SockType, recv, sendmsg, socketpair,
};
use nix::unistd::Pid;

use crate::body::{Payload, Portable};
use crate::children::zygote::{self, Zygote, shut};
use crate::error::{Context, Error, Result};
use crate::exec::{channel_pair, exec_self, take_env};
use crate::start_method::{Spec, StartMethod, Started};
use crate::{child, sys};

mod server;

const ENV: &str = "MULTIPROCESSING_FORKSERVER";

fn launch() -> Result<Zygote> {
    let (ours, theirs) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .ctx("socketpair")?;
    let (ours, theirs) = (sys::above_stdio(ours), sys::above_stdio(theirs));
    let value = format!("{}:{}", theirs.as_raw_fd(), nix::unistd::getpid());
    let pid = exec_self(&theirs, ENV, &value, Some("--multiprocessing.forkserver"))?;
    Ok(Zygote { pid, control: ours })
}

/// Asks the zygote for a child; returns its pid and whether it is our child (else the
/// zygote's, its status relayed).
fn request(zygote: &Zygote, child_end: &OwnedFd) -> Result<(Pid, bool)> {
    let fds = [child_end.as_raw_fd()];
    let iov = [IoSlice::new(&[1u8])];
    let control = zygote.control.as_raw_fd();
    sendmsg::<()>(
        control,
        &iov,
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::MSG_NOSIGNAL, // a dead zygote gives EPIPE, never SIGPIPE
        None,
    )
    .ctx("sendmsg(forkserver)")?;
    let mut reply = [0u8; 5];
    let n = loop {
        match recv(control, &mut reply, MsgFlags::empty()) {
            Err(Errno::EINTR) => {}
            other => break other.ctx("recv(forkserver)")?,
        }
    };
    let pid = i32::from_le_bytes([reply[0], reply[1], reply[2], reply[3]]);
    if n != 5 || pid <= 0 {
        return Err(Error::Sys {
            call: "recv(forkserver)",
            errno: Errno::EPIPE,
        });
    }
    Ok((Pid::from_raw(pid), reply[4] == 1))
}

/// Starts a child through the zygote (launching the zygote first if needed).
pub(crate) fn start(portable: &dyn Portable, spec: &Spec<'_>) -> Result<Started> {
    if !child::initialized() {
        return Err(Error::NotInitialized {
            method: "forkserver",
        });
    }
    let payload =
        Payload::encode(portable, &spec.meta(StartMethod::ForkServer)).map_err(Error::Serialize)?;
    let (ours, theirs) = channel_pair()?;
    // The payload goes into the child's socket before the request (as much as the socket
    // buffer takes without blocking: nobody reads it yet), so the new child finds it there
    // and runs at once instead of waiting for us to learn its pid (one wake-up less).
    let early = sys::send_ready(ours.as_fd(), &payload);
    let mut slot = zygote::lock();
    // A zygote that died (killed, say) is replaced once, as Python's forkserver restarts.
    let mut tries = 2;
    let (pid, direct) = loop {
        tries -= 1;
        if slot.is_none() {
            *slot = Some(launch()?);
            zygote::launched();
        }
        let Some(zygote) = slot.as_ref() else {
            unreachable!("the zygote was launched just above")
        };
        match request(zygote, &theirs) {
            Ok(made) => break made,
            Err(e) => {
                // The zygote is gone or broken: forget it, the next start launches a new one.
                if let Some(z) = slot.take() {
                    shut(z);
                }
                if tries == 0 {
                    return Err(e);
                }
            }
        }
    };
    drop(slot);
    drop(theirs);
    if early < payload.len() {
        let _ = sys::send_all(ours.as_fd(), &payload[early..]);
    }
    Ok(Started {
        pid,
        channel: Some(ours),
        slot: None,
        // Our own child (the usual case): reaped like a fork child; a bounded frame
        // never waits for us, so `join` reaps first (one wake-up), then reads it.
        relayed: !direct,
        bounded: direct && spec.bounded,
        nonblocking: false,
    })
}

pub(crate) fn run_if_zygote() {
    if let Some((control, parent)) = take_env(ENV) {
        server::serve(control, parent)
    }
}
