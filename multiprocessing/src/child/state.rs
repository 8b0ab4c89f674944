//! This process's state as the library sees it: its name, its place among the processes
//! (generation, identity, parent), its start method, and where its final report goes.
//! Written by `become_child`, read everywhere.

use std::sync::Mutex;
use std::sync::atomic::{
    AtomicBool, AtomicI32, AtomicPtr, AtomicU8, AtomicU32, AtomicUsize, Ordering,
};

use nix::unistd::{Pid, getpid};

use crate::forklocal::ForkLocal;

/// The library's state in this process. The fork child's start writes only this (no
/// allocation, no lock), so it stays async-signal-safe; one static, and not all zero (so
/// it sits in `.data` with the other statics the child writes, such as stdout's lock): the
/// child copies as few pages as possible.
pub(super) struct State {
    pub(super) in_child: AtomicBool,
    /// How many times this address space became a child: a `Process` started in another
    /// generation was inherited from an ancestor and is not ours to wait for.
    pub(super) generation: AtomicU32,
    pub(super) daemon: AtomicBool,
    /// Where this child's final frame goes (-1 in the main process, or with a slot).
    pub(super) report_fd: AtomicI32,
    /// Or the report slot it goes into (null: none).
    pub(super) report_slot: AtomicPtr<u8>,
    /// Whether `report_fd` is a socket (spawn, forkserver) rather than a pipe (fork).
    pub(super) report_is_socket: AtomicBool,
    /// The parent reaps before it reads (see `Spec::bounded`): the final frame must fit
    /// in one atomic pipe write, so that writing it never waits for the parent.
    pub(super) report_bounded: AtomicBool,
    /// The name: bytes that live as long as the process (null: `MainProcess`).
    pub(super) name_ptr: AtomicPtr<u8>,
    pub(super) name_len: AtomicUsize,
    /// Our number in the parent, not yet appended to IDENTITY (0: none); appended on
    /// first use.
    pub(super) pending_ident: AtomicUsize,
    /// This process's pid once asked for (0: not yet); a fork child inherits its parent's
    /// until `become_child` clears it, which is how it learns its parent's pid for free.
    pub(super) pid: AtomicI32,
    /// The parent's pid (0 in the main process) and name (null: `MainProcess`).
    pub(super) parent_pid: AtomicI32,
    pub(super) parent_name_ptr: AtomicPtr<u8>,
    pub(super) parent_name_len: AtomicUsize,
    /// What `getppid()` returns while the parent lives: the parent, or the zygote of a
    /// forkserver child (which dies with the parent).
    pub(super) parent_watch: AtomicI32,
    /// The process-wide start method: 0 not set yet (fork is used), else
    /// `StartMethod::code`.
    pub(super) start_method: AtomicU8,
    /// This process has started children (set once, on the first start; cleared by
    /// `become_child`): a child that started none skips the end-of-program shutdown,
    /// which would otherwise read the fork-local registry (a page the child never touched).
    pub(super) started: AtomicBool,
}

pub(super) static STATE: State = State {
    in_child: AtomicBool::new(false),
    generation: AtomicU32::new(0),
    daemon: AtomicBool::new(false),
    report_fd: AtomicI32::new(-1),
    report_slot: AtomicPtr::new(std::ptr::null_mut()),
    report_is_socket: AtomicBool::new(false),
    report_bounded: AtomicBool::new(false),
    name_ptr: AtomicPtr::new(std::ptr::null_mut()),
    name_len: AtomicUsize::new(0),
    pending_ident: AtomicUsize::new(0),
    pid: AtomicI32::new(0),
    parent_pid: AtomicI32::new(0),
    parent_name_ptr: AtomicPtr::new(std::ptr::null_mut()),
    parent_name_len: AtomicUsize::new(0),
    parent_watch: AtomicI32::new(0),
    start_method: AtomicU8::new(0),
    started: AtomicBool::new(false),
};
/// Prefix of the names of this process's children (`"1:"` in `Process-1`, as in Python).
pub(super) static IDENTITY: Mutex<String> = Mutex::new(String::new());
/// Python's `_process_counter`: advanced by every construction, fresh in each child.
/// Fork-local (see `forklocal`): counting writes no page that a fork write-protected.
static COUNTER: ForkLocal<AtomicUsize> = ForkLocal::new(|| AtomicUsize::new(1));
/// `init()` was called (spawn and forkserver need it).
static INITIALIZED: AtomicBool = AtomicBool::new(false);

/// The next number for a `Process` made here (`Process-N`).
pub(crate) fn next_ident() -> usize {
    COUNTER.get().fetch_add(1, Ordering::Relaxed)
}

/// Notes that this process started a child (one write, the first time).
pub(crate) fn note_started() {
    if !STATE.started.load(Ordering::Relaxed) {
        STATE.started.store(true, Ordering::Relaxed);
    }
}

/// Whether this process started children (see `State::started`).
#[inline]
pub(crate) fn started_children() -> bool {
    STATE.started.load(Ordering::Relaxed)
}

/// Whether `init()` was called.
pub(crate) fn initialized() -> bool {
    INITIALIZED.load(Ordering::Relaxed)
}

pub(crate) fn set_initialized() {
    INITIALIZED.store(true, Ordering::Relaxed);
}

/// See `State::generation`.
pub(crate) fn generation() -> u32 {
    STATE.generation.load(Ordering::Relaxed)
}

/// Is the calling process a daemonic child started by this library?
pub(crate) fn is_daemon() -> bool {
    STATE.daemon.load(Ordering::Relaxed)
}

/// The calling process's name (`MainProcess` outside children).
pub(crate) fn name() -> String {
    stored_name(&STATE.name_ptr, &STATE.name_len)
}

fn stored_name(ptr: &AtomicPtr<u8>, len: &AtomicUsize) -> String {
    let ptr = ptr.load(Ordering::Relaxed);
    if ptr.is_null() {
        return "MainProcess".to_string();
    }
    // SAFETY: a name pointer and its length are only set together by `become_child`, from
    // a `&str` that stays valid and unchanged until the process ends (see `Becoming::name`).
    let bytes = unsafe { std::slice::from_raw_parts(ptr, len.load(Ordering::Relaxed)) };
    String::from_utf8_lossy(bytes).into_owned()
}

/// This process's pid, asked of the kernel once.
pub(crate) fn self_pid() -> Pid {
    match STATE.pid.load(Ordering::Relaxed) {
        0 => {
            let pid = getpid();
            STATE.pid.store(pid.as_raw(), Ordering::Relaxed);
            pid
        }
        pid => Pid::from_raw(pid),
    }
}

/// The parent's pid and name, and the pid `getppid()` gives while it lives; `None` in the
/// main process.
pub(crate) fn parent() -> Option<(Pid, String, Pid)> {
    match STATE.parent_pid.load(Ordering::Relaxed) {
        0 => None,
        pid => Some((
            Pid::from_raw(pid),
            stored_name(&STATE.parent_name_ptr, &STATE.parent_name_len),
            Pid::from_raw(STATE.parent_watch.load(Ordering::Relaxed)),
        )),
    }
}

/// The process-wide start method's code (0: not set).
pub(crate) fn start_method_code() -> u8 {
    STATE.start_method.load(Ordering::Relaxed)
}

/// Sets the process-wide start method's code unless one is set (or always, if `force`);
/// returns whether it was set.
pub(crate) fn set_start_method_code(code: u8, force: bool) -> bool {
    if force {
        STATE.start_method.store(code, Ordering::Relaxed);
        return true;
    }
    STATE
        .start_method
        .compare_exchange(0, code, Ordering::Relaxed, Ordering::Relaxed)
        .is_ok()
}

/// Calls `f` with the identity prefix for names of processes created here.
pub(crate) fn with_identity<T>(f: impl FnOnce(&str) -> T) -> T {
    if !STATE.in_child.load(Ordering::Relaxed) {
        return f(""); // the main process's identity: no lock (a write) needed
    }
    let mut id = lock(&IDENTITY);
    if STATE.pending_ident.load(Ordering::Relaxed) != 0 {
        let pending = STATE.pending_ident.swap(0, Ordering::Relaxed);
        id.push_str(&pending.to_string());
        id.push(':');
    }
    f(&id)
}

pub(super) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
