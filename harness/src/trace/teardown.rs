//! Ending a run (a limit, the event cap, or the program's end): kill every process the
//! command created, however it tried to escape (double fork, setsid, ignoring SIGTERM,
//! reparenting), reap, and check nothing is left.
//!
//! Layers, each enough on its own for traced processes:
//! - `cgroup.kill` (cgroup v2): SIGKILL to every member in one write, race-free
//!   against concurrent forks (cgroups(7)).
//! - SIGKILL to every task we trace: their pids cannot be reused until the tracer has
//!   consumed their exit, so this never hits a stranger.
//! - PTRACE_O_EXITKILL: if the grader itself dies (even by SIGKILL), the kernel kills
//!   every tracee (ptrace(2)); the root also has a parent-death signal.

use std::path::PathBuf;
use std::sync::Arc;

use nix::errno::Errno;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::cgroup::kill_through;
use super::recorder::{Shared, StopReason};
use super::tracer_loop::Tracer;
use crate::ledger::{EventKind, LimitKind};

impl Tracer {
    /// Send SIGKILL to a task we trace (its pid cannot be reused before we consume its
    /// exit, so this cannot hit another process).
    pub(crate) fn kill_task(&mut self, tid: Pid) {
        if let Some(task) = self.tasks.get_mut(&tid) {
            task.killed = true;
        }
        match kill(tid, Signal::SIGKILL) {
            Ok(()) | Err(Errno::ESRCH) => {}
            Err(_) => {}
        }
    }

    /// A limit fired: record it and end the run.
    pub(crate) fn limit(&mut self, kind: LimitKind, detail: String) {
        self.shared
            .request_stop(StopReason::Limit(kind, detail.clone()));
        if !self.stopping {
            self.begin_teardown(Some(StopReason::Limit(kind, detail)));
        }
    }

    /// Bound the tracer's memory under a flood of tiny events.
    pub(crate) fn check_event_cap(&mut self) {
        if !self.stopping && self.rec.count() as usize >= self.max_events {
            self.output_truncated = true;
            self.limit(
                LimitKind::Output,
                format!("more than {} events", self.max_events),
            );
        }
    }

    /// Start killing everything. Stops that follow are answered with SIGKILL.
    pub(crate) fn begin_teardown(&mut self, reason: Option<StopReason>) {
        if self.stopping {
            return;
        }
        self.stopping = true;
        if let Some(StopReason::Limit(kind, detail)) = reason
            && self.limit_hit.is_none()
        {
            self.limit_hit = Some(kind);
            self.rec.push(EventKind::Limit {
                limit: kind,
                detail,
            });
        }
        let mut alive: Vec<i32> = self
            .tasks
            .iter()
            .filter(|(tid, task)| **tid == task.tgid)
            .map(|(tid, _)| tid.as_raw())
            .chain(self.early.iter().map(|p| p.as_raw()))
            .collect();
        alive.sort_unstable();
        self.leftovers = alive;
        if let Some(file) = self.cgroups.kill_file() {
            kill_through(&file);
        }
        if let Some(ns) = &self.pidns {
            ns.kill_all();
        }
        let tids: Vec<Pid> = self
            .tasks
            .keys()
            .chain(self.early.iter())
            .copied()
            .collect();
        for tid in tids {
            self.kill_task(tid);
        }
    }

    /// After the last tracee is gone: anything still in the run's cgroups escaped
    /// tracing; kill it too. Returns the pids found.
    pub(crate) fn sweep_cgroups(&mut self) -> Vec<i32> {
        let mut found = Vec::new();
        // The pid namespace's own C and init were reaped already (the tracer loop ends
        // with C's exit) but leave cgroup.procs asynchronously, as any task does: they
        // are neither the program's nor ours to kill by pid any more.
        let helper = |pid: &i32| self.pidns.as_ref().is_some_and(|ns| ns.is_helper(*pid));
        for _ in 0..100 {
            let members: Vec<i32> = self
                .cgroups
                .members()
                .into_iter()
                .filter(|p| !helper(p))
                .collect();
            if members.is_empty() {
                break;
            }
            if let Some(file) = self.cgroups.kill_file() {
                kill_through(&file);
            }
            for pid in &members {
                if !found.contains(pid) {
                    found.push(*pid);
                }
                let _ = kill(Pid::from_raw(*pid), Signal::SIGKILL);
            }
            // Released members leave cgroup.procs asynchronously.
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        found
    }
}

/// Ends a run from any thread (a deadline, the grader's Ctrl-C, `terminate`).
#[derive(Debug, Clone)]
pub struct StopHandle {
    pub(crate) shared: Arc<Shared>,
    pub(crate) kill_file: Option<PathBuf>,
}

impl StopHandle {
    /// Stop the run as if the grader was interrupted: everything is killed and the
    /// ledger lists what was still running.
    pub fn interrupt(&self) {
        self.stop(StopReason::Interrupted);
    }

    pub(crate) fn stop(&self, reason: StopReason) {
        if self.shared.lock().finished {
            return;
        }
        self.shared.request_stop(reason);
        if let Some(file) = &self.kill_file {
            kill_through(file);
        }
        // The tracer thread re-kills each task it still traces when it wakes; these
        // kills only make sure it wakes even if every tracee sleeps.
        let live: Vec<i32> = self.shared.lock().live.keys().copied().collect();
        for tid in live {
            let _ = kill(Pid::from_raw(tid), Signal::SIGKILL);
        }
    }

    /// Send `signal` to every live process of the run, as a group kill would
    /// (`group_signal.rs` says why the order matters under ptrace).
    pub(crate) fn signal_all(&self, signal: Signal) {
        super::group_signal::signal_all(&self.shared, signal);
    }
}
