//! The spawn start method: execute this program again and hand the child its payload.
//!
//! The child end of a socket pair survives the exec (posix_spawn's dup2 onto itself
//! clears its `FD_CLOEXEC` in the child); its number and the parent's pid travel in an environment variable that
//! [`init`](crate::init) looks for. The parent writes the payload, the child writes its
//! final frame back on the same socket.

use std::os::fd::{AsFd, AsRawFd};

use crate::body::{Payload, Portable};
use crate::child;
use crate::error::{Error, Result};
use crate::exec::{channel_pair, exec_self, run_child, take_env};
use crate::start_method::{Spec, StartMethod, Started};
use crate::sys;

const ENV: &str = "MULTIPROCESSING_SPAWN";

/// Starts a spawned child.
pub(crate) fn start(portable: &dyn Portable, spec: &Spec<'_>) -> Result<Started> {
    if !child::initialized() {
        return Err(Error::NotInitialized { method: "spawn" });
    }
    let payload =
        Payload::encode(portable, &spec.meta(StartMethod::Spawn)).map_err(Error::Serialize)?;
    let (ours, theirs) = channel_pair()?;
    let value = format!("{}:{}", theirs.as_raw_fd(), nix::unistd::getpid());
    let pid = exec_self(&theirs, ENV, &value, None)?;
    drop(theirs);
    // If the child died already, it reports nothing and `join` shows how it ended.
    let _ = sys::send_all(ours.as_fd(), &payload);
    Ok(Started {
        pid,
        channel: Some(ours),
        slot: None,
        relayed: false,
        bounded: false,
        nonblocking: false,
    })
}

pub(crate) fn run_if_spawned() {
    if let Some((fd, parent)) = take_env(ENV) {
        // A fresh program: no hook yet (a fork child's came from its parent).
        child::ensure_panic_hook();
        run_child(fd, parent)
    }
}
