//! The tracer: runs a command under ptrace and records what its processes did as a
//! [`Ledger`], inside containment (time, process, memory and
//! output limits; cgroups; a private network namespace; an unprivileged user).
//!
//! ```no_run
//! use proclab::trace::{self, TraceOptions};
//! let ledger = trace::run(TraceOptions::new(["python3", "server.py"])).unwrap();
//! ```
//!
//! For servers, [`start`] returns a [`RunningTrace`]: the grader waits for the `Listen`
//! event, connects clients inside the run's namespace with
//! [`RunningTrace::connect_tcp`], then ends the run with [`RunningTrace::terminate`].
//!
//! How it works (facts measured on the target machine are in `TRACING.md`):
//! - ptrace options report fork/vfork/clone/exec/exit without syscall stops
//!   (`tracer_loop.rs`); a seccomp filter stops only the syscalls of interest
//!   (`seccomp.rs`, decoded in `syscalls.rs`, handled in `calls.rs`); a stopped syscall
//!   is followed to its exit only when its result matters, so every process stays on
//!   the filter's fast path.
//! - Writes to one stream are serialised so the ledger's byte order is the pipe's
//!   (`writes.rs`); the bytes are read from the writer's memory (`memory.rs`).
//! - Python's output: `PYTHONUNBUFFERED=1` is injected (`prepare.rs` says why). A
//!   `print(x)` is then two writes (`x`, then the newline); `ledger::lines` joins a
//!   process's pieces into lines.
//! - Containment, each recorded as a [`Layer`](crate::ledger::Layer): cgroups below the
//!   tracer's own (`cgroup.rs`: pids.max, memory cap, cgroup.kill), the process cap also
//!   through ptrace, memory by RSS sampling without a memory cgroup (`watchdog.rs`), a
//!   private network namespace (`netns.rs`) and pid namespace under an init of ours
//!   (`pidns.rs`, which also translates the program's pids), made by the grader or, without
//!   CAP_SYS_ADMIN, in a user namespace of the run's own (`userns.rs`; each layer is
//!   decided from the effective capabilities and probes, `caps.rs`), an unprivileged
//!   user and private directory,
//!   or, when the program must stay root, no capabilities (`privileges.rs`, `spawn.rs`),
//!   a signal fence (`fence.rs`), a read-only file system but for the working directory
//!   (`fsview.rs`), and teardown by cgroup.kill, the pid namespace's init, SIGKILL per
//!   traced task and PTRACE_O_EXITKILL (`teardown.rs`); a grader's SIGTERM reaches the
//!   run as a group kill would (`group_signal.rs`).
//! - The fixed cost of a run is kept off the critical path: the namespace and cgroups are
//!   made on helper threads (`prepare.rs`), and the child is born in its v2 cgroup with
//!   clone3 and joins its v1 cgroups itself (`rawsys.rs`, `spawn.rs`): a tracer writing
//!   the pid to `cgroup.procs` waits for an RCU grace period (5–31 ms measured).
//!   `PROCLAB_TRACE_TIMINGS=1` prints each phase's µs (`timings.rs`).
//! - `--clock virtual` ([`ClockMode`], `vclock/`): the run's time jumps over its sleeps
//!   while none of its tasks can run; the program's clock reads and the ledger's `t_ns`
//!   are in that virtual time (docs/virtual-clock.md).
//! - Tracer and tree share one CPU by default: measured here, a run with 22 000
//!   captured writes took 438 ms pinned, 738 ms unpinned (strace -f --seccomp-bpf:
//!   588 ms; untraced: 83 ms).
//!
//! Not recorded: output written with sendfile/splice/copy_file_range (no user buffer to
//! read), reads of a connection with read(2) (its replies still name the serving
//! process), x32-ABI syscalls.

mod calls;
mod caps;
mod cgroup;
mod cgroup_paths;
mod child_spec;
mod drain;
mod error;
mod fds;
mod fence;
mod fsview;
mod group_signal;
mod memory;
mod netns;
mod options;
mod pidns;
mod pin;
mod prepare;
mod privileges;
mod procfs;
mod rawsys;
mod recorder;
mod seccomp;
mod session;
mod sigchld;
mod sockets;
mod spawn;
mod stops;
mod syscalls;
mod teardown;
mod timings;
mod tracer_loop;
mod userns;
mod vclock;
mod watchdog;
mod writes;

use std::io;
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub use error::TraceError;
pub use options::{CgroupMode, DEFAULT_LIMITS, DEFAULT_LINGER, NetnsMode, RunAs, TraceOptions};
pub use teardown::StopHandle;
pub use timings::{enabled as timings_enabled, now_ns, print as print_timing};
pub use vclock::ClockMode;

use crate::ledger::{Event, Ledger, Pid, SCHEMA_VERSION};
use netns::Netns;
use recorder::{Shared, StopReason};
use session::Outcome;

/// Can runs on this machine, as this user, get a private network namespace (so that
/// servers graded at once may all bind the same port)? `Err` says why not.
pub fn private_network() -> Result<(), String> {
    netns::available()
}

/// Run `opts.command` to completion (or a limit) and return its ledger.
pub fn run(opts: TraceOptions) -> Result<Ledger, TraceError> {
    start(opts)?.wait()
}

/// Start tracing `opts.command` in the background. Returns once the command's process
/// exists (setup errors, such as a missing command, are returned here).
pub fn start(opts: TraceOptions) -> Result<RunningTrace, TraceError> {
    let command = opts.command.clone();
    let limits = opts.limits.clone();
    let prepared = prepare::prepare(opts, timings::Timings::start())?;
    let netns = prepared.netns.clone();
    let shared = Arc::new(Shared::default());
    let (tx, rx) = std::sync::mpsc::channel();
    let thread_shared = Arc::clone(&shared);
    // ptrace requests must come from the thread that seized the tracee, so this thread
    // forks the child and does all tracing.
    let thread = std::thread::Builder::new()
        .name("proclab-tracer".into())
        .spawn(move || session::tracer_main(prepared, thread_shared, tx))
        .map_err(TraceError::setup("starting the tracer thread"))?;
    match rx.recv() {
        Ok(Ok(started)) => Ok(RunningTrace {
            shared,
            thread: Some(thread),
            netns,
            stopper: started.stopper,
            start: started.start,
            root: started.root.as_raw(),
            command,
            limits,
        }),
        Ok(Err(e)) => {
            let _ = thread.join();
            Err(e)
        }
        Err(_) => Err(match thread.join() {
            Ok(Err(e)) => e,
            _ => TraceError::TracerPanicked,
        }),
    }
}

/// A run in progress. Dropping it ends the run (everything is killed).
pub struct RunningTrace {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<Result<Outcome, TraceError>>>,
    netns: Option<Arc<Netns>>,
    stopper: StopHandle,
    /// The clock origin of the events' `t_ns`.
    start: Instant,
    root: Pid,
    command: Vec<String>,
    limits: crate::ledger::Limits,
}

impl RunningTrace {
    /// Pid of the root process.
    pub fn root(&self) -> Pid {
        self.root
    }

    /// Now on the run's clock: nanoseconds since the run started, as events' `t_ns`.
    pub fn clock_ns(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_nanos())
            .unwrap_or(u64::MAX)
            .saturating_add(
                self.shared
                    .clock_offset_ns
                    .load(std::sync::atomic::Ordering::Acquire),
            )
    }

    /// The events recorded so far.
    pub fn events(&self) -> Vec<Event> {
        self.shared.lock().events.clone()
    }

    /// Wait until `pred(events so far)` holds (true) or `timeout` passes or the run ends
    /// without it holding (false). Woken by each new event; no polling.
    pub fn wait_for(&self, timeout: Duration, pred: impl Fn(&[Event]) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        let mut state = self.shared.lock();
        loop {
            if pred(&state.events) {
                return true;
            }
            let now = Instant::now();
            if state.finished || now >= deadline {
                return false;
            }
            state.waiters += 1;
            state = self
                .shared
                .events_cv
                .wait_timeout(state, deadline - now)
                .map(|(guard, _)| guard)
                .unwrap_or_else(|e| e.into_inner().0);
            state.waiters -= 1;
        }
    }

    /// Connect to `addr` from inside the run's network namespace (or the host's, when
    /// the run has none), so a server that bound 127.0.0.1:8080 privately is reachable.
    pub fn connect_tcp(&self, addr: SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
        match &self.netns {
            Some(ns) => ns.connect_tcp(addr, timeout),
            None => TcpStream::connect_timeout(&addr, timeout),
        }
    }

    /// Has the run ended (every process gone)?
    pub fn is_finished(&self) -> bool {
        self.shared.lock().finished
    }

    /// A handle that ends the run from any thread (e.g. a signal handler thread).
    pub fn stop_handle(&self) -> StopHandle {
        self.stopper.clone()
    }

    /// Wait until the root exits (or a limit fires), let the remaining processes end on
    /// their own for `linger`, kill what is left, and return the ledger.
    pub fn wait(mut self) -> Result<Ledger, TraceError> {
        self.finish()
    }

    /// End the run now: SIGTERM to every process of the command, up to `grace` for them
    /// to exit, then SIGKILL to everything; returns the ledger.
    pub fn terminate(mut self, grace: Duration) -> Result<Ledger, TraceError> {
        self.stopper.signal_all(nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + grace;
        let mut state = self.shared.lock();
        while !state.finished && Instant::now() < deadline {
            state.waiters += 1;
            state = self
                .shared
                .events_cv
                .wait_timeout(state, deadline.saturating_duration_since(Instant::now()))
                .map(|(guard, _)| guard)
                .unwrap_or_else(|e| e.into_inner().0);
            state.waiters -= 1;
        }
        drop(state);
        self.stopper.stop(StopReason::Terminate);
        self.finish()
    }

    fn finish(&mut self) -> Result<Ledger, TraceError> {
        let thread = self.thread.take().ok_or(TraceError::TracerPanicked)?;
        let outcome = thread.join().map_err(|_| TraceError::TracerPanicked)??;
        let events = std::mem::take(&mut self.shared.lock().events);
        Ok(Ledger {
            schema_version: SCHEMA_VERSION,
            command: self.command.clone(),
            root: outcome.root,
            limits: self.limits.clone(),
            layers: outcome.layers,
            events,
            root_status: outcome.root_status,
            limit_hit: outcome.limit_hit,
            output_truncated: outcome.output_truncated,
            wall_ns: outcome.wall_ns,
            leftovers: outcome.leftovers,
        })
    }
}

impl Drop for RunningTrace {
    fn drop(&mut self) {
        if let Some(thread) = self.thread.take() {
            self.stopper.stop(StopReason::Terminate);
            let _ = thread.join();
        }
    }
}
