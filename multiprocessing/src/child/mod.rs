//! The child's side: becoming a child (state reset, parent-death signal) and leaving it
//! (run the body under `catch_unwind`, report, flush, `_exit`, never return into `main`).
//! The state itself is in `state.rs`.

use std::os::fd::{BorrowedFd, RawFd};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::Ordering;
use std::sync::{Mutex, Once};

use nix::sys::signal::{Signal, kill};
use nix::unistd::{Pid, getpid, getppid};

use crate::body::Produced;
use crate::report::{self, PanicReport};
use crate::{children, slots, sys};

mod state;

use state::{IDENTITY, STATE, lock};
pub(crate) use state::{
    generation, initialized, is_daemon, name, next_ident, note_started, parent, self_pid,
    set_initialized, set_start_method_code, start_method_code, started_children, with_identity,
};

static PANIC_AT: Mutex<Option<String>> = Mutex::new(None);
static PANIC_HOOK: Once = Once::new();

/// Installs, once per process, the panic hook that records where a child panicked (then
/// runs the hook that was there before). Called before forking (by a fork parent, and once
/// by the forkserver's zygote) and first thing in a spawned child: a fork child neither
/// swaps hooks (a lock and an allocation) nor calls this (its code may lie in a 64 KiB
/// stretch the child would otherwise not touch: a page fault).
pub(crate) fn ensure_panic_hook() {
    if std::thread::panicking() {
        return; // set_hook would panic; the child then reports no location
    }
    PANIC_HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if STATE.in_child.load(Ordering::Relaxed) {
                *lock(&PANIC_AT) = info.location().map(|l| l.to_string());
            }
            previous(info);
        }));
    });
}

/// What a new child needs to know about itself.
pub(crate) struct Becoming<'a> {
    /// Must stay valid and unchanged until the process ends: the forking `Process`'s own
    /// name (its `start` never returns in the child) or a leaked string.
    pub(crate) name: &'a str,
    /// The full identity prefix (spawn, forkserver), or `None` for a fork child, whose
    /// prefix is the parent's plus `ident`.
    pub(crate) identity: Option<String>,
    pub(crate) ident: usize,
    pub(crate) daemon: bool,
    /// What `getppid()` must return while our parent lives: the parent, or the zygote
    /// (for the parent-death race check and `parent_process().is_alive()`).
    pub(crate) parent: Pid,
    /// The process that started us (the zygote's client for a forkserver child).
    pub(crate) parent_pid: Pid,
    /// Its name, living as long as the process (as `name`), or `None` for a fork child:
    /// the name this address space had before becoming a child.
    pub(crate) parent_name: Option<&'a str>,
    /// The start method that created us (`StartMethod::code`): a child's process-wide
    /// method, as in Python.
    pub(crate) method: u8,
    pub(crate) report_fd: RawFd,
    /// A report slot (see `slots`), or null.
    pub(crate) report_slot: *mut u8,
    /// The channel is a socket (spawn, forkserver), not a pipe (fork).
    pub(crate) socket: bool,
    /// See `State::report_bounded`.
    pub(crate) bounded: bool,
}

/// Resets the inherited library state and arms the parent-death signal of a daemon.
#[inline(always)] // into the fork child's start: one code page less to fault in
pub(crate) fn become_child(b: Becoming<'_>) {
    crate::forklocal::forget_in_child();
    let old = STATE.report_fd.swap(b.report_fd, Ordering::Relaxed);
    if old >= 0 && old != b.report_fd {
        // Our parent's report channel: holding it would delay our parent's EOF.
        let _ = nix::unistd::close(old);
    }
    STATE.report_slot.store(b.report_slot, Ordering::Relaxed);
    STATE.report_is_socket.store(b.socket, Ordering::Relaxed);
    STATE.report_bounded.store(b.bounded, Ordering::Relaxed);
    STATE.in_child.store(true, Ordering::Relaxed);
    STATE.started.store(false, Ordering::Relaxed);
    STATE.generation.fetch_add(1, Ordering::Relaxed);
    STATE.daemon.store(b.daemon, Ordering::Relaxed);
    STATE.pid.store(0, Ordering::Relaxed);
    STATE
        .parent_pid
        .store(b.parent_pid.as_raw(), Ordering::Relaxed);
    STATE
        .parent_watch
        .store(b.parent.as_raw(), Ordering::Relaxed);
    STATE.start_method.store(b.method, Ordering::Relaxed);
    match b.parent_name {
        Some(name) => {
            STATE
                .parent_name_ptr
                .store(name.as_ptr().cast_mut(), Ordering::Relaxed);
            STATE.parent_name_len.store(name.len(), Ordering::Relaxed);
        }
        None => {
            // Our own name until now: the parent's (it lives in this copy of its memory).
            let ptr = STATE.name_ptr.load(Ordering::Relaxed);
            STATE.parent_name_ptr.store(ptr, Ordering::Relaxed);
            let len = STATE.name_len.load(Ordering::Relaxed);
            STATE.parent_name_len.store(len, Ordering::Relaxed);
        }
    }
    STATE
        .name_ptr
        .store(b.name.as_ptr().cast_mut(), Ordering::Relaxed);
    STATE.name_len.store(b.name.len(), Ordering::Relaxed);
    match b.identity {
        Some(full) => *lock(&IDENTITY) = full,
        None => STATE.pending_ident.store(b.ident, Ordering::Relaxed),
    }
    if b.daemon {
        // Beyond Python: a daemon dies with its parent even if the parent is SIGKILLed.
        let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL);
        // The parent may have died before prctl: then we were already reparented.
        if getppid() != b.parent {
            let _ = kill(getpid(), Signal::SIGKILL);
        }
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "Box<dyn Any>".to_string()
    }
}

/// The largest frame body a bounded child sends (a frame then fits in `PIPE_BUF`).
const BOUNDED_BODY: usize = libc::PIPE_BUF - report::HEADER;

/// Cuts `text` to at most `max` bytes, at a character boundary.
fn cut(text: &mut String, max: usize) {
    if text.len() > max {
        let mut end = max.saturating_sub(3);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push_str("...");
    }
}

/// The panic report's JSON, shortened (message cut) to fit `max` bytes.
fn panic_json(mut panic: PanicReport, max: usize) -> Vec<u8> {
    loop {
        let json = serde_json::to_vec(&panic).unwrap_or_default();
        if json.len() <= max || panic.message.len() <= 16 {
            return json;
        }
        let half = panic.message.len() / 2;
        cut(&mut panic.message, half);
    }
}

/// Runs the body and leaves the process. Exit code 0, or 1 after a panic or a failure (as
/// Python's child exits 1 after an uncaught exception).
/// Inlined, as `finish`: a fork child then runs the library's code from one place (its
/// start), and every other 64 KiB stretch of code it runs is one more page fault, since
/// a fork does not copy the page tables of the program's code.
#[inline(always)]
pub(crate) fn execute(body: impl FnOnce() -> Produced) -> ! {
    let max = if STATE.report_bounded.load(Ordering::Relaxed) {
        BOUNDED_BODY
    } else {
        usize::MAX
    };
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(value)) => finish(report::RETURNED, &value, 0),
        Ok(Err(mut why)) => {
            eprintln!("multiprocessing: {why}");
            cut(&mut why, max);
            finish(report::FAILED, why.as_bytes(), 1)
        }
        Err(payload) => {
            let panic = PanicReport {
                message: panic_message(&*payload),
                location: lock(&PANIC_AT).take(),
            };
            std::mem::forget(payload); // its destructor could panic again
            finish(report::PANICKED, &panic_json(panic, max), 1)
        }
    }
}

/// Terminates our daemons, joins our other children and stops our zygote (if we started
/// any: a child that started none touches no more pages).
#[inline]
fn end_children() {
    if started_children() {
        children::shutdown();
    }
}

/// Joins our own children, flushes, sends the final frame and `_exit`s.
#[inline(always)]
fn finish(tag: u8, data: &[u8], code: i32) -> ! {
    end_children();
    sys::flush_stdio();
    // A target of `()` that returned says so by exit code 0 alone (see
    // `Process::result`): no frame, so a fork child touches no slot page (a page fault).
    if tag == report::RETURNED && data.is_empty() && STATE.report_bounded.load(Ordering::Relaxed) {
        sys::exit_now(code)
    }
    let slot = STATE.report_slot.load(Ordering::Relaxed);
    let fd = STATE.report_fd.load(Ordering::Relaxed);
    if !slot.is_null() {
        // SAFETY: our parent gave us this slot; only we write it.
        unsafe { slots::write(slot, &report::header(tag, data.len()), data) };
    } else if fd >= 0 {
        // SAFETY: report_fd is owned by this module and stays open until _exit.
        let fd = unsafe { BorrowedFd::borrow_raw(fd) };
        let header = report::header(tag, data.len());
        // One write: a bounded frame is a single atomic pipe write. A parent that dropped
        // its Process no longer listens: EPIPE is fine (a socket is written with
        // MSG_NOSIGNAL, which never raises SIGPIPE).
        let _ = sys::write_frame(
            fd,
            &header,
            data,
            STATE.report_is_socket.load(Ordering::Relaxed),
        );
    }
    // _exit: no atexit handlers or destructors of state copied from the parent.
    sys::exit_now(code)
}

/// See [`crate::exit`].
pub(crate) fn exit(code: i32) -> ! {
    if STATE.in_child.load(Ordering::Relaxed) {
        finish(report::EXITED, &[], code)
    }
    end_children();
    sys::flush_stdio();
    std::process::exit(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_panic_message_is_cut_to_fit_one_pipe_write() {
        let panic = PanicReport {
            message: "é\"".repeat(5000),
            location: Some("src/main.rs:1:1".into()),
        };
        let json = panic_json(panic, BOUNDED_BODY);
        assert!(json.len() <= BOUNDED_BODY, "{}", json.len());
        let back: PanicReport = serde_json::from_slice(&json).unwrap();
        assert!(back.message.ends_with("..."));
        assert_eq!(back.location.as_deref(), Some("src/main.rs:1:1"));
        let short = PanicReport {
            message: "boom".into(),
            location: None,
        };
        assert_eq!(
            panic_json(short.clone(), BOUNDED_BODY),
            serde_json::to_vec(&short).unwrap()
        );
    }
}
