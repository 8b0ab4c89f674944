//! The process tree of a run, derived from its events: who created whom, what each
//! process ran, when it lived and who reaped it, and which processes are the program's
//! own (see [`Role`]).
//!
//! Pids can be reused within a run (a fork bomb cycles through them), so processes are
//! identified by [`ProcId`], their index in creation order; an event's pid refers to the
//! process that held that pid when the event happened.

use std::collections::HashMap;

use serde::Serialize;

use super::event::{Event, EventKind, ExitStatus, Ledger, Pid, SpawnVia};
use super::roles;

/// Index of a process in [`ProcessTree::processes`] (creation order).
pub type ProcId = usize;

/// Whose process it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Runs before the program's own final exec: a shell wrapper, a version-manager shim
    /// (pyenv's `python3` is a bash script) and the helpers such a launcher forks.
    Launcher,
    /// The student's program: its main process and every process it created.
    Program,
    /// A process an interpreter starts for itself (Python's `resource_tracker`,
    /// `forkserver`): shown, never counted as the student's.
    Helper,
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Role::Launcher => "launcher",
            Role::Program => "program",
            Role::Helper => "helper",
        })
    }
}

/// An exec a process made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExecRecord {
    pub seq: u64,
    pub path: String,
    pub argv: Vec<String>,
}

/// A point in the ledger: sequence number and time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Moment {
    pub seq: u64,
    pub t_ns: u64,
}

impl Moment {
    fn of(event: &Event) -> Self {
        Moment {
            seq: event.seq,
            t_ns: event.t_ns,
        }
    }
}

/// One process (thread group) of the run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Process {
    pub id: ProcId,
    pub pid: Pid,
    /// The process that created it (None for the root).
    pub parent: Option<ProcId>,
    pub via: Option<SpawnVia>,
    pub started: Moment,
    pub execs: Vec<ExecRecord>,
    pub exited: Option<(Moment, ExitStatus)>,
    /// Which process collected its exit status, and when. When the kernel reaped it
    /// (its parent ignored SIGCHLD), the parent, at the kernel's reap.
    pub reaped_by: Option<(ProcId, Moment)>,
    /// The kernel reaped it because its parent ignored SIGCHLD (no wait call).
    pub reaped_by_kernel: bool,
    /// Thread ids of its non-leader threads.
    pub threads: Vec<Pid>,
    pub children: Vec<ProcId>,
    pub role: Role,
    /// For program processes: the nearest program ancestor, skipping interpreter
    /// helpers (a child made by Python's forkserver belongs to the main process).
    pub logical_parent: Option<ProcId>,
}

impl Process {
    /// The argv of its last exec, or, when it never exec'd, the image its parent ran
    /// when it forked it (not whatever the parent exec'd later).
    pub fn argv<'a>(&'a self, tree: &'a ProcessTree) -> &'a [String] {
        let mut current = self;
        let mut before = u64::MAX;
        loop {
            if let Some(exec) = current.execs.iter().rev().find(|e| e.seq < before) {
                return &exec.argv;
            }
            before = current.started.seq;
            match current.parent {
                Some(parent) => current = &tree.processes[parent],
                None => return &[],
            }
        }
    }

    /// Was this process alive at `seq` (created at or before, not yet exited)?
    pub fn alive_at(&self, seq: u64) -> bool {
        self.started.seq <= seq && self.exited.is_none_or(|(end, _)| end.seq > seq)
    }
}

/// The process tree of a whole run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProcessTree {
    pub processes: Vec<Process>,
    pub root: Option<ProcId>,
    /// The program's main process: the root after its final exec, or, when the root
    /// stays a launcher (a shell that does not exec), the process it ran the program in.
    pub main: Option<ProcId>,
}

impl ProcessTree {
    /// Build the tree from a ledger's events.
    pub fn from_ledger(ledger: &Ledger) -> Self {
        Self::from_events(&ledger.events)
    }

    /// Build the tree from events in `seq` order.
    pub fn from_events(events: &[Event]) -> Self {
        let mut builder = Builder::default();
        for event in events {
            builder.apply(event);
        }
        let mut tree = ProcessTree {
            processes: builder.processes,
            root: builder.root,
            main: None,
        };
        roles::assign(&mut tree);
        tree
    }

    /// The process that held `pid` at `seq` (pids may be reused within a run).
    pub fn at(&self, pid: Pid, seq: u64) -> Option<ProcId> {
        self.processes
            .iter()
            .rev()
            .find(|p| p.pid == pid && p.started.seq <= seq)
            .map(|p| p.id)
    }

    /// Processes with the given role, in creation order.
    pub fn with_role(&self, role: Role) -> impl Iterator<Item = &Process> {
        self.processes.iter().filter(move |p| p.role == role)
    }

    /// The program's processes whose logical parent is `parent`, in creation order.
    pub fn program_children(&self, parent: ProcId) -> Vec<ProcId> {
        self.processes
            .iter()
            .filter(|p| p.role == Role::Program && p.logical_parent == Some(parent))
            .map(|p| p.id)
            .collect()
    }

    /// All program processes except the main one.
    pub fn program_descendants(&self) -> Vec<ProcId> {
        self.with_role(Role::Program)
            .filter(|p| Some(p.id) != self.main)
            .map(|p| p.id)
            .collect()
    }

    /// Were all of `ids` alive at one common moment?
    pub fn alive_together(&self, ids: &[ProcId]) -> bool {
        let latest_start = ids.iter().map(|&id| self.processes[id].started.seq).max();
        let earliest_end = ids
            .iter()
            .map(|&id| self.processes[id].exited.map_or(u64::MAX, |(m, _)| m.seq))
            .min();
        match (latest_start, earliest_end) {
            (Some(start), Some(end)) => start < end,
            _ => true,
        }
    }

    /// `id` and its ancestors, nearest first.
    pub fn ancestors(&self, id: ProcId) -> impl Iterator<Item = ProcId> + '_ {
        std::iter::successors(Some(id), move |&p| self.processes[p].parent)
    }
}

#[derive(Default)]
struct Builder {
    processes: Vec<Process>,
    root: Option<ProcId>,
    /// pid (thread-group id) → current process.
    by_pid: HashMap<Pid, ProcId>,
    /// thread id → its thread group's process.
    by_tid: HashMap<Pid, ProcId>,
}

impl Builder {
    fn new_process(&mut self, pid: Pid, parent: Option<ProcId>, via: Option<SpawnVia>, at: Moment) {
        let id = self.processes.len();
        self.processes.push(Process {
            id,
            pid,
            parent,
            via,
            started: at,
            execs: Vec::new(),
            exited: None,
            reaped_by: None,
            reaped_by_kernel: false,
            threads: Vec::new(),
            children: Vec::new(),
            role: Role::Program,
            logical_parent: None,
        });
        if let Some(parent) = parent {
            self.processes[parent].children.push(id);
        }
        self.by_pid.insert(pid, id);
        self.by_tid.insert(pid, id);
    }

    /// The process an event's pid (or tid) refers to now.
    fn lookup(&self, pid: Pid) -> Option<ProcId> {
        self.by_pid
            .get(&pid)
            .or_else(|| self.by_tid.get(&pid))
            .copied()
    }

    fn apply(&mut self, event: &Event) {
        let at = Moment::of(event);
        match &event.kind {
            EventKind::Root { pid } => {
                self.new_process(*pid, None, None, at);
                self.root = self.by_pid.get(pid).copied();
            }
            EventKind::Spawn {
                parent,
                child,
                thread,
                via,
                ..
            } => {
                let parent = self.lookup(*parent);
                if *thread {
                    if let Some(owner) = parent {
                        self.processes[owner].threads.push(*child);
                        self.by_tid.insert(*child, owner);
                    }
                } else {
                    self.new_process(*child, parent, Some(*via), at);
                }
            }
            EventKind::Exec { pid, path, argv } => {
                if let Some(id) = self.lookup(*pid) {
                    self.processes[id].execs.push(ExecRecord {
                        seq: event.seq,
                        path: path.clone(),
                        argv: argv.clone(),
                    });
                }
            }
            EventKind::Exit { pid, status } => {
                if let Some(id) = self.lookup(*pid) {
                    let process = &mut self.processes[id];
                    if process.exited.is_none() {
                        process.exited = Some((at, *status));
                    }
                }
            }
            EventKind::ThreadExit { tid, .. } => {
                self.by_tid.remove(tid);
            }
            EventKind::Reap { reaper, reaped } => {
                let reaper = self.lookup(*reaper);
                // The reaped pid belongs to an exited process not yet reaped.
                let reaped = self
                    .processes
                    .iter()
                    .rev()
                    .find(|p| p.pid == *reaped && p.reaped_by.is_none())
                    .map(|p| p.id);
                if let (Some(reaper), Some(reaped)) = (reaper, reaped) {
                    self.processes[reaped].reaped_by = Some((reaper, at));
                }
            }
            EventKind::KernelReap { parent, reaped } => {
                let parent = self.lookup(*parent);
                // Recorded right after the child's exit, while its pid is still its own.
                if let (Some(parent), Some(reaped)) = (parent, self.lookup(*reaped)) {
                    let process = &mut self.processes[reaped];
                    if process.reaped_by.is_none() {
                        process.reaped_by = Some((parent, at));
                        process.reaped_by_kernel = true;
                    }
                }
            }
            _ => {}
        }
    }
}
