//! This process's zygote, if it started one (the forkserver start method launches it):
//! kept with the children, since it is stopped and forgotten with them.

use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use nix::errno::Errno;
use nix::sys::socket::{MsgFlags, send};
use nix::sys::wait::waitpid;
use nix::unistd::Pid;

/// A running zygote: its pid and the control socket requests go through.
pub(crate) struct Zygote {
    pub(crate) pid: Pid,
    pub(crate) control: OwnedFd,
}

static ZYGOTE: Mutex<Option<Zygote>> = Mutex::new(None);
/// Whether ZYGOTE may hold a zygote, readable without the lock (a fork child of a program
/// that never used the forkserver then writes nothing here).
static LAUNCHED: AtomicBool = AtomicBool::new(false);

/// The zygote slot, locked (the forkserver's start fills it).
pub(crate) fn lock() -> MutexGuard<'static, Option<Zygote>> {
    ZYGOTE.lock().unwrap_or_else(|p| p.into_inner())
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

/// In a new child: the parent's zygote is not ours; forget it. Inlined: a fork child
/// whose parent never launched one runs no code page more for it.
#[inline(always)]
pub(crate) fn forget_inherited() {
    if LAUNCHED.load(Ordering::Relaxed) {
        forget_launched();
    }
}

#[cold]
#[inline(never)]
fn forget_launched() {
    if let Ok(mut slot) = ZYGOTE.try_lock()
        && let Some(z) = slot.take()
    {
        // Not closed: a close is a syscall and a code page the fork child would not touch
        // otherwise; the parent's `stop` does not rely on our copy's EOF.
        std::mem::forget(z.control);
    }
}
