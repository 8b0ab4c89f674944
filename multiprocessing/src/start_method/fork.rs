//! The fork start method.

use std::os::fd::IntoRawFd;

use nix::fcntl::OFlag;
use nix::unistd::{ForkResult, fork, pipe2};

use super::{Spec, StartMethod, Started};
use crate::body::Body;
use crate::child::{self, Becoming};
use crate::error::{Context, Error, Result};
use crate::{slots, sys};

/// Forks; the child runs `body` and never returns from here.
///
/// Refused in a multi-threaded process unless allowed: the child would hold copies of locks
/// (the allocator's, stdout's) that other threads may have held at the fork.
///
/// `#[inline]`, so that this code is emitted in the crate that calls `Process::start` (a
/// generic), next to the target's: a fork copies no page tables of the program's code, so
/// each 64 KiB stretch of code the child runs costs it a page fault, and the child's part
/// of this function and the target then tend to share one.
#[inline]
pub(crate) fn start(body: &mut Option<Body>, spec: &Spec<'_>) -> Result<Started> {
    if !spec.allow_threads
        && let Some(count) = sys::other_threads()?
    {
        return Err(Error::Threads { count });
    }
    // Before the fork, so the child does not swap hooks before its target runs.
    child::ensure_panic_hook();
    sys::flush_stdio();
    // A bounded frame goes into a report slot (shared memory, no syscalls); otherwise, or
    // if no slot can be had, into a pipe. Non-blocking: after reaping, the parent reads
    // without polling first (the child's writer waits with poll when the pipe is full).
    let slot = if spec.bounded {
        slots::take(child::generation())
    } else {
        None
    };
    let (read_end, write_end) = match slot {
        Some(_) => (None, None),
        None => {
            let (r, w) = pipe2(OFlag::O_CLOEXEC | OFlag::O_NONBLOCK).ctx("pipe2")?;
            (Some(sys::above_stdio(r)), Some(sys::above_stdio(w)))
        }
    };
    // Asked of the kernel once per process: the child's parent-death check and
    // `parent_process()` need it.
    let parent = child::self_pid();
    // SAFETY: the process is single-threaded (checked above) or the caller explicitly
    // allowed fork with threads, taking responsibility for the child's work.
    match unsafe { fork() }.ctx("fork")? {
        ForkResult::Child => {
            // The read end stays open (unused) until _exit: closing it is a syscall and
            // a code page the bare child does not touch.
            std::mem::forget(read_end);
            child::become_child(Becoming {
                // The name lives in the forking `Process`, whose `start` never returns here.
                name: spec.name,
                identity: None,
                ident: spec.ident,
                daemon: spec.daemon,
                parent,
                parent_pid: parent,
                parent_name: None,
                method: StartMethod::Fork.code(),
                report_fd: write_end.map_or(-1, |w| w.into_raw_fd()),
                report_slot: slot.as_ref().map_or(std::ptr::null_mut(), |s| s.as_ptr()),
                socket: false,
                bounded: spec.bounded,
            });
            // Run where it lies, in the forking `Process` (the caller's frame, or the heap),
            // never taken out of it nor dropped: the child `_exit`s, and taking it would
            // write `None` into that `Process`, a page the child has not touched otherwise.
            child::execute(move || match body {
                // SAFETY: run once; the child never returns to the `Process`, so the body
                // is neither used nor dropped afterwards.
                Some(b) => unsafe { b.run_in_place() },
                None => Err("the process has no target".to_string()),
            })
        }
        ForkResult::Parent { child } => {
            drop(write_end); // `Process::start` drops the body
            Ok(Started {
                pid: child,
                channel: read_end,
                slot,
                relayed: false,
                bounded: spec.bounded,
                nonblocking: true,
            })
        }
    }
}
