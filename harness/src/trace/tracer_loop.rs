//! The stop state machine: what the tracer does at each ptrace stop.
//!
//! Tree events come from ptrace options, not from syscall stops (ptrace(2)):
//! PTRACE_EVENT_FORK/VFORK/CLONE in the parent, PTRACE_EVENT_EXEC, PTRACE_EVENT_EXIT, and
//! the final wait status. A new child is auto-attached and starts in a PTRACE_EVENT_STOP
//! (we SEIZE, so no SIGSTOP); its stop and the parent's event arrive in either order, and
//! the child is held until both are seen, so its `Spawn` always precedes its own events.
//! Syscalls of interest arrive as PTRACE_EVENT_SECCOMP stops (see `calls.rs`).

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use nix::unistd::Pid;

use super::calls::ExitWait;
use super::cgroup::Cgroups;
use super::error::TraceError;
use super::fds::{OurPipes, Pidfds};
use super::pidns::PidNs;
use super::recorder::{Recorder, Shared};
use super::sigchld::Dispositions;
use super::sockets::SocketTable;
use super::stops::{self, Stop};
use super::syscalls::Call;
use super::vclock::VClock;
use super::writes::Gates;
use crate::ledger::{EventKind, ExitStatus, LimitKind, Limits, SpawnVia};

/// A traced task (thread or process leader).
#[derive(Debug)]
pub(crate) struct Task {
    pub tgid: Pid,
    /// Set between a seccomp stop resumed with PTRACE_SYSCALL and its exit stop.
    pub exit_wait: Option<ExitWait>,
    /// Containment sent it SIGKILL.
    pub killed: bool,
}

/// The tracer thread's state for one run.
pub(crate) struct Tracer {
    pub rec: Recorder,
    /// Where the stops come from, handed out in turn (`stops.rs`).
    pub stops: stops::Stops,
    pub shared: Arc<Shared>,
    pub tasks: HashMap<Pid, Task>,
    /// Children announced by their parent's event, whose first stop has not come yet.
    pub expected: HashSet<Pid>,
    /// Children whose first stop came before their parent's event: held.
    pub early: HashSet<Pid>,
    pub gates: Gates<Call>,
    pub sockets: SocketTable,
    pub pipes: OurPipes,
    pub pidfds: Pidfds,
    pub limits: Limits,
    pub max_events: usize,
    pub cgroups: Arc<Cgroups>,
    pub root: Pid,
    pub root_execd: bool,
    pub root_status: Option<ExitStatus>,
    /// Live thread groups.
    pub live_procs: u32,
    pub output_bytes: u64,
    pub output_truncated: bool,
    pub limit_hit: Option<LimitKind>,
    /// Containment is killing everything; stops are answered with SIGKILL.
    pub stopping: bool,
    pub leftovers: Vec<i32>,
    /// Every task id the run ever had (for the signal fence).
    pub seen: HashSet<Pid>,
    /// When the root exec'd and exited (timings on only).
    pub marks: RunMarks,
    /// SIGCHLD dispositions and real parents, for kernel reaps.
    pub sigchld: Dispositions,
    /// The virtual clock (`--clock virtual`), None on the real clock.
    pub vclock: Option<VClock>,
    /// The run's pid namespace, when it has one (pid translation, its init's pidfd).
    pub pidns: Option<PidNs>,
}

/// Moments of a run, for `PROCLAB_TRACE_TIMINGS` (CLOCK_MONOTONIC ns; 0: not seen).
#[derive(Debug, Default)]
pub(crate) struct RunMarks {
    pub root_exec: u64,
    pub root_exit: u64,
}

impl Tracer {
    /// Run the loop until no tracee is left. Returns an error only for a tracer fault.
    pub(crate) fn run(&mut self) -> Result<(), TraceError> {
        if self.vclock.is_some() {
            return self.run_virtual();
        }
        loop {
            let stop = match self.stops.next() {
                Ok(Some(stop)) => stop,
                Ok(None) => return Ok(()),
                Err(errno) => {
                    return Err(TraceError::Ptrace {
                        what: "waitpid",
                        errno,
                    });
                }
            };
            if !self.stopping && self.shared.stop_requested() {
                let reason = self.shared.lock().stop.clone();
                self.begin_teardown(reason);
            }
            self.handle(stop);
        }
    }

    pub(crate) fn handle(&mut self, stop: Stop) {
        match stop {
            Stop::Exited(tid, code) => self.task_gone(tid, ExitStatus::Code { code }),
            Stop::Signaled(tid, signal, core) => {
                self.task_gone(tid, ExitStatus::Signal { signal, core })
            }
            Stop::Syscall(tid) => self.on_syscall_exit(tid),
            Stop::Signal(tid, sig) => {
                if self.stopping {
                    self.kill_task(tid);
                }
                // Deliver the signal the tracee was about to get (signal-delivery-stop).
                stops::resume(tid, sig);
            }
            Stop::Event(tid, sig, event) => match event {
                libc::PTRACE_EVENT_FORK => self.on_spawn(tid, SpawnVia::Fork),
                libc::PTRACE_EVENT_VFORK => self.on_spawn(tid, SpawnVia::Vfork),
                libc::PTRACE_EVENT_CLONE => self.on_spawn(tid, SpawnVia::Clone),
                libc::PTRACE_EVENT_EXEC => self.on_exec(tid),
                libc::PTRACE_EVENT_EXIT => {
                    self.release_gates(tid);
                    stops::resume(tid, 0);
                }
                libc::PTRACE_EVENT_SECCOMP => self.on_seccomp(tid),
                libc::PTRACE_EVENT_STOP => self.on_event_stop(tid, sig),
                _ => stops::resume(tid, 0),
            },
        }
    }

    /// A new task created by `parent_tid` (its PTRACE_EVENT_FORK/VFORK/CLONE stop).
    fn on_spawn(&mut self, parent_tid: Pid, via: SpawnVia) {
        let child = match nix::sys::ptrace::getevent(parent_tid) {
            Ok(msg) => Pid::from_raw(msg as i32),
            Err(_) => return stops::resume(parent_tid, 0),
        };
        let parent = self.tasks.get(&parent_tid).map_or(parent_tid, |t| t.tgid);
        // A thread joins its creator's thread group (CLONE_THREAD); tell by membership,
        // not by which syscall made it.
        let thread =
            via == SpawnVia::Clone && Path::new(&format!("/proc/{parent}/task/{child}")).exists();
        let tgid = if thread { parent } else { child };
        self.rec.push(EventKind::Spawn {
            parent: parent.as_raw(),
            creator_tid: parent_tid.as_raw(),
            child: child.as_raw(),
            thread,
            via,
        });
        self.add_task(child, tgid);
        if !thread {
            self.live_procs += 1;
            self.sigchld.fork(parent, child);
            if let Some(vc) = self.vclock.as_mut() {
                vc.dice.born(child);
                vc.vdso.born(parent, child);
            }
        }
        if self.stopping {
            self.kill_task(child);
        } else if self.early.remove(&child) {
            if !self.gate_new_task(child, via == SpawnVia::Vfork, true) {
                stops::resume(child, 0);
            }
        } else {
            self.gate_new_task(child, via == SpawnVia::Vfork, false);
            self.expected.insert(child);
        }
        stops::resume(parent_tid, 0);
        if !thread && !self.stopping && self.live_procs > self.limits.max_processes {
            let detail = format!("more than {} live processes", self.limits.max_processes);
            self.limit(LimitKind::Processes, detail);
        }
        self.check_event_cap();
    }

    pub(crate) fn add_task(&mut self, tid: Pid, tgid: Pid) {
        self.tasks.insert(
            tid,
            Task {
                tgid,
                exit_wait: None,
                killed: false,
            },
        );
        self.seen.insert(tid);
        self.shared.lock().live.insert(tid.as_raw(), tgid.as_raw());
        if let Some(ns) = &mut self.pidns {
            ns.learn(tid);
        }
    }

    /// PTRACE_EVENT_STOP: a new child's first stop, or a group-stop.
    fn on_event_stop(&mut self, tid: Pid, sig: i32) {
        if self.expected.remove(&tid) {
            if self.stopping || !self.gate_at_first_stop(tid) {
                stops::resume(tid, 0);
            }
            return;
        }
        if !self.tasks.contains_key(&tid) {
            // Before its parent's event: hold it, but count it as live for killing.
            self.early.insert(tid);
            self.seen.insert(tid);
            self.shared.lock().live.insert(tid.as_raw(), tid.as_raw());
            if self.stopping {
                self.kill_task(tid);
                stops::resume(tid, 0);
            }
            return;
        }
        if self.stopping {
            self.kill_task(tid);
            return stops::resume(tid, 0);
        }
        if matches!(
            sig,
            libc::SIGSTOP | libc::SIGTSTP | libc::SIGTTIN | libc::SIGTTOU
        ) {
            // Group-stop: stay stopped as the program asked, until SIGCONT.
            stops::listen(tid);
        } else {
            stops::resume(tid, 0);
        }
    }

    /// PTRACE_EVENT_EXEC: record the new image as the kernel runs it: /proc/<pid>/exe
    /// (a `#!` script shows its interpreter) and the argv the kernel built (a script's
    /// argv starts with the interpreter line), read before the new image runs.
    fn on_exec(&mut self, tid: Pid) {
        // A non-leader thread that execs takes over the leader's pid (ptrace(2),
        // "execve(2) under ptrace"); the old tid is gone without an exit report.
        if let Ok(former) = nix::sys::ptrace::getevent(tid) {
            let former = Pid::from_raw(former as i32);
            if former != tid && self.tasks.remove(&former).is_some() {
                self.pidfds.forget(former);
                self.shared.lock().live.remove(&former.as_raw());
                self.release_gates(former);
            }
        }
        let tgid = self.tasks.get(&tid).map_or(tid, |t| t.tgid);
        let path = std::fs::read_link(format!("/proc/{tid}/exe"))
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        let argv = std::fs::read(format!("/proc/{tid}/cmdline"))
            .map(|raw| {
                raw.split(|&b| b == 0)
                    .map(|a| String::from_utf8_lossy(a).into_owned())
                    .collect::<Vec<_>>()
            })
            .map(|mut v| {
                if v.last().is_some_and(String::is_empty) {
                    v.pop();
                }
                v
            })
            .unwrap_or_default();
        self.rec.push(EventKind::Exec {
            pid: tgid.as_raw(),
            path,
            argv,
        });
        self.sigchld.exec(tgid);
        if let Some(vc) = self.vclock.as_mut() {
            let jumped = vc.offset() > 0;
            vc.vdso.exec(tgid, jumped);
        }
        if !self.stopping && self.gate_at_exec(tid) {
            return; // a vfork child: it starts when the run is idle
        }
        if tgid == self.root {
            self.root_execd = true;
            if super::timings::enabled() && self.marks.root_exec == 0 {
                self.marks.root_exec = super::timings::now_ns();
            }
        }
        stops::resume(tid, 0);
    }

    /// The final wait status of a task.
    fn task_gone(&mut self, tid: Pid, status: ExitStatus) {
        self.release_gates(tid);
        self.pidfds.forget(tid);
        self.early.remove(&tid);
        self.expected.remove(&tid);
        self.shared.lock().live.remove(&tid.as_raw());
        if let Some(vc) = self.vclock.as_mut() {
            vc.held.remove(&tid);
            vc.timed.remove(&tid);
            vc.gate.forget(tid);
            vc.dice.gone(tid);
            vc.vdso.gone(tid);
            vc.gate.ended();
        }
        let Some(task) = self.tasks.remove(&tid) else {
            return;
        };
        if task.tgid != tid {
            self.rec.push(EventKind::ThreadExit {
                pid: task.tgid.as_raw(),
                tid: tid.as_raw(),
            });
            return;
        }
        let status = match status {
            ExitStatus::Signal {
                signal: libc::SIGKILL,
                ..
            } if task.killed => ExitStatus::Killed,
            other => other,
        };
        self.rec.push(EventKind::Exit {
            pid: tid.as_raw(),
            status,
        });
        // Consuming this exit released the child if its parent ignores SIGCHLD.
        if let Some(parent) = self.sigchld.exited(tid) {
            self.rec.push(EventKind::KernelReap {
                parent: parent.as_raw(),
                reaped: tid.as_raw(),
            });
        } else if let Some(vc) = self.vclock.as_mut() {
            vc.gate.zombies.insert(tid);
        }
        self.live_procs = self.live_procs.saturating_sub(1);
        if tid == self.root {
            if super::timings::enabled() {
                self.marks.root_exit = super::timings::now_ns();
            }
            self.root_status = Some(status);
            if let Some(vc) = self.vclock.as_mut() {
                vc.root_exit = Some(vc.now());
            }
            self.shared.lock().root_exited_at = Some(std::time::Instant::now());
            self.shared.control_cv.notify_all();
        }
        let oom_candidate = matches!(
            status,
            ExitStatus::Signal {
                signal: libc::SIGKILL,
                ..
            }
        );
        if oom_candidate && !self.stopping && self.cgroups.oom_kills() > 0 {
            self.limit(
                LimitKind::Memory,
                format!(
                    "the memory cap of {} bytes was reached",
                    self.limits.memory_bytes
                ),
            );
        }
    }

    /// A task left its gates (exited, or the write returned): start the next writers.
    pub(crate) fn release_gates(&mut self, tid: Pid) {
        for (stream, waiting) in self.gates.forget(tid) {
            self.start_write(waiting.tid, stream, waiting.call);
        }
    }
}
