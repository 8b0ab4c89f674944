//! The child's side: becoming a child (state reset, parent-death signal) and leaving it
//! (run the body under `catch_unwind`, report, flush, `_exit`, never return into `main`).

use std::os::fd::{BorrowedFd, RawFd};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, Ordering};

use nix::sys::signal::{Signal, kill};
use nix::unistd::{Pid, getpid, getppid};

use crate::body::Produced;
use crate::report::{self, PanicReport};
use crate::{guard, sys};

static IN_CHILD: AtomicBool = AtomicBool::new(false);
/// How many times this address space became a child: a `Process` started in another
/// generation was inherited from an ancestor and is not ours to wait for.
static GENERATION: AtomicU32 = AtomicU32::new(0);
static DAEMON: AtomicBool = AtomicBool::new(false);
/// Where this child's final frame goes (-1 in the main process).
static REPORT_FD: AtomicI32 = AtomicI32::new(-1);
/// Whether REPORT_FD is a socket (spawn, forkserver) rather than a pipe (fork).
static REPORT_IS_SOCKET: AtomicBool = AtomicBool::new(false);
static NAME: Mutex<Option<String>> = Mutex::new(None);
/// Prefix of the names of this process's children (`"1:"` in `Process-1`, as in Python).
static IDENTITY: Mutex<String> = Mutex::new(String::new());
static PANIC_AT: Mutex<Option<String>> = Mutex::new(None);

/// See [`GENERATION`].
pub(crate) fn generation() -> u32 {
    GENERATION.load(Ordering::Relaxed)
}

/// Is the calling process a daemonic child started by this library?
pub(crate) fn is_daemon() -> bool {
    DAEMON.load(Ordering::Relaxed)
}

/// The calling process's name (`MainProcess` outside children).
pub(crate) fn name() -> String {
    lock(&NAME)
        .clone()
        .unwrap_or_else(|| "MainProcess".to_string())
}

/// The identity prefix for names of processes created here.
pub(crate) fn identity() -> String {
    lock(&IDENTITY).clone()
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// What a new child needs to know about itself.
pub(crate) struct Becoming<'a> {
    pub(crate) name: &'a str,
    pub(crate) identity: String,
    pub(crate) daemon: bool,
    /// The process that must be our parent (for the parent-death race check).
    pub(crate) parent: Pid,
    pub(crate) report_fd: RawFd,
    /// The channel is a socket (spawn, forkserver), not a pipe (fork).
    pub(crate) socket: bool,
}

/// Resets the inherited library state and arms the parent-death signal of a daemon.
pub(crate) fn become_child(b: Becoming<'_>) {
    let old = REPORT_FD.swap(b.report_fd, Ordering::Relaxed);
    if old >= 0 && old != b.report_fd {
        // Our parent's report channel: holding it would delay our parent's EOF.
        let _ = nix::unistd::close(old);
    }
    REPORT_IS_SOCKET.store(b.socket, Ordering::Relaxed);
    IN_CHILD.store(true, Ordering::Relaxed);
    GENERATION.fetch_add(1, Ordering::Relaxed);
    DAEMON.store(b.daemon, Ordering::Relaxed);
    *lock(&NAME) = Some(b.name.to_string());
    *lock(&IDENTITY) = b.identity;
    crate::process::reset_counter();
    guard::forget_inherited();
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

/// Runs the body and leaves the process. Exit code 0, or 1 after a panic or a failure (as
/// Python's child exits 1 after an uncaught exception).
pub(crate) fn execute(body: impl FnOnce() -> Produced) -> ! {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        *lock(&PANIC_AT) = info.location().map(|l| l.to_string());
        previous(info);
    }));
    let (frame, code) = match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(value)) => (report::frame(report::RETURNED, &value), 0),
        Ok(Err(why)) => {
            eprintln!("multiprocessing: {why}");
            (report::frame(report::FAILED, why.as_bytes()), 1)
        }
        Err(payload) => {
            let panic = PanicReport {
                message: panic_message(&*payload),
                location: lock(&PANIC_AT).take(),
            };
            std::mem::forget(payload); // its destructor could panic again
            let json = serde_json::to_vec(&panic).unwrap_or_default();
            (report::frame(report::PANICKED, &json), 1)
        }
    };
    finish(&frame, code)
}

/// Joins our own children, flushes, sends the final frame and `_exit`s.
fn finish(frame: &[u8], code: i32) -> ! {
    guard::shutdown();
    sys::flush_stdio();
    let fd = REPORT_FD.load(Ordering::Relaxed);
    if fd >= 0 {
        // SAFETY: REPORT_FD is owned by this module and stays open until _exit.
        let fd = unsafe { BorrowedFd::borrow_raw(fd) };
        // A parent that dropped its Process no longer listens: EPIPE is fine (a socket
        // is written with send, which never raises SIGPIPE).
        let _ = if REPORT_IS_SOCKET.load(Ordering::Relaxed) {
            sys::send_all(fd, frame)
        } else {
            sys::write_all(fd, frame)
        };
    }
    // _exit: no atexit handlers or destructors of state copied from the parent.
    sys::exit_now(code)
}

/// See [`crate::exit`].
pub(crate) fn exit(code: i32) -> ! {
    if IN_CHILD.load(Ordering::Relaxed) {
        finish(&report::frame(report::EXITED, &[]), code)
    }
    guard::shutdown();
    sys::flush_stdio();
    std::process::exit(code)
}
