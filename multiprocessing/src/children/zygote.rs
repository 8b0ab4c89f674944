//! This process's zygote, if it started one (the forkserver start method launches it):
//! kept with the children, since it is stopped and forgotten with them.

use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use nix::errno::Errno;
use nix::sys::socket::{MsgFlags, send};
use nix::sys::wait::waitpid;
use nix::unistd::Pid;

use crate::forklocal::ForkLocal;

/// A running zygote: its pid and the control socket requests go through.
pub(crate) struct Zygote {
    pub(crate) pid: Pid,
    pub(crate) control: OwnedFd,
}

/// Fork-local (see `forklocal`): a fork child finds no zygote, as its parent's is not its
/// own, without writing anything to forget it.
static ZYGOTE: ForkLocal<Mutex<Option<Zygote>>> = ForkLocal::new(|| Mutex::new(None));
/// Whether ZYGOTE may hold a zygote, readable without touching it (a program that never
/// used the forkserver does not make the slot at its end).
static LAUNCHED: AtomicBool = AtomicBool::new(false);

/// The zygote slot, locked (the forkserver's start fills it).
pub(crate) fn lock() -> MutexGuard<'static, Option<Zygote>> {
    ZYGOTE.get().lock().unwrap_or_else(|p| p.into_inner())
}

/// Called when a zygote is put in the slot.
pub(crate) fn launched() {
    LAUNCHED.store(true, Ordering::Relaxed);
}

/// Stops the zygote (it then waits for its children and exits) and reaps
/// the zygote.
pub(crate) fn stop() {
    if !LAUNCHED.load(Ordering::Relaxed) {
        return;
    }
    if let Some(z) = lock().take() {
        shut(z);
    }
}

/// Stops a zygote and reaps it. A request without an fd tells it to stop: fork children
/// may still hold copies of the control socket, so its EOF may come late.
pub(crate) fn shut(z: Zygote) {
    let _ = send(z.control.as_raw_fd(), &[0u8], MsgFlags::empty());
    drop(z.control);
    while let Err(Errno::EINTR) = waitpid(z.pid, None) {}
}
