//! A check's verdict, and the run a check looks at.

use serde::Serialize;

use crate::ledger::{ExitStatus, Ledger, Line, ProcId, ProcessTree, Role, lines};

/// What one check found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outcome {
    pub passed: bool,
    /// Passed: what was established. Failed: what was expected, what the ledger
    /// shows, and the likely mistake when the ledger makes it clear.
    pub message: String,
}

impl Outcome {
    /// A passed check.
    pub fn pass(message: impl Into<String>) -> Self {
        Outcome {
            passed: true,
            message: message.into(),
        }
    }

    /// A failed check.
    pub fn fail(message: impl Into<String>) -> Self {
        Outcome {
            passed: false,
            message: message.into(),
        }
    }
}

/// A check's verdict with its id and points, as reports show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckResult {
    pub id: String,
    pub passed: bool,
    pub message: String,
    /// Points earned: `max_points` when passed, else 0.
    pub points: u32,
    pub max_points: u32,
}

/// A finished run, with the tree and the attributed lines derived once.
pub struct Run<'a> {
    pub ledger: &'a Ledger,
    pub tree: ProcessTree,
    pub lines: Vec<Line>,
}

impl<'a> Run<'a> {
    /// Derive the tree and lines of `ledger`.
    pub fn new(ledger: &'a Ledger) -> Self {
        let tree = ProcessTree::from_ledger(ledger);
        let lines = lines(&ledger.events, &tree);
        Run {
            ledger,
            tree,
            lines,
        }
    }

    /// The program's main process.
    pub fn main(&self) -> Option<ProcId> {
        self.tree.main
    }

    /// The main process's child processes (program processes only, threads excluded).
    pub fn children(&self) -> Vec<ProcId> {
        self.main()
            .map(|m| self.tree.program_children(m))
            .unwrap_or_default()
    }

    /// Every program process, the main one first.
    pub fn program(&self) -> Vec<ProcId> {
        self.tree.with_role(Role::Program).map(|p| p.id).collect()
    }

    /// Lines written by `id`, in order (both streams).
    pub fn lines_of(&self, id: ProcId) -> impl Iterator<Item = &Line> {
        self.lines.iter().filter(move |l| l.process == id)
    }

    /// The first line by `id` equal to `text` (trailing whitespace ignored).
    pub fn line_by(&self, id: ProcId, text: &str) -> Option<&Line> {
        self.lines_of(id)
            .find(|l| l.text.trim_end() == text.trim_end())
    }

    /// Every line equal to `text` (trailing whitespace ignored), any writer.
    pub fn lines_equal(&self, text: &str) -> Vec<&Line> {
        self.lines
            .iter()
            .filter(|l| l.text.trim_end() == text.trim_end())
            .collect()
    }

    /// The process by its role and pid: `the main process (pid 12)`, `child 2 (pid 14)`,
    /// `a grandchild (pid 20)`, `the interpreter's helper (pid 13)`.
    pub fn who(&self, id: ProcId) -> String {
        let process = &self.tree.processes[id];
        let pid = process.pid;
        if Some(id) == self.main() {
            return format!("the main process (pid {pid})");
        }
        match process.role {
            Role::Launcher => format!("the launcher (pid {pid})"),
            Role::Helper => format!("the interpreter's helper process (pid {pid})"),
            Role::Program => match self.children().iter().position(|&k| k == id) {
                Some(i) => format!("child {} (pid {pid})", i + 1),
                None if process.logical_parent.is_some_and(|parent| {
                    self.tree.processes[parent].logical_parent == self.main()
                }) =>
                {
                    format!("a grandchild (pid {pid})")
                }
                None => format!("a descendant (pid {pid})"),
            },
        }
    }

    /// Pids of `ids`, comma-separated.
    pub fn pids(&self, ids: &[ProcId]) -> String {
        ids.iter()
            .map(|&id| self.tree.processes[id].pid.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Sequence number of `id`'s exit, `u64::MAX` while it never exited.
    pub fn exit_seq(&self, id: ProcId) -> u64 {
        self.tree.processes[id]
            .exited
            .map_or(u64::MAX, |(moment, _)| moment.seq)
    }

    /// Pids containment killed at the end that were the program's (or that the tracer
    /// never followed): an interpreter helper or a launcher that lingers is not the
    /// student's doing.
    pub fn program_leftovers(&self) -> Vec<i32> {
        self.ledger
            .leftovers
            .iter()
            .copied()
            .filter(|&pid| {
                self.tree
                    .at(pid, u64::MAX)
                    .is_none_or(|id| self.tree.processes[id].role == Role::Program)
            })
            .collect()
    }

    /// The main process's extra threads (tids).
    pub fn main_threads(&self) -> &[i32] {
        self.main()
            .map_or(&[][..], |m| &self.tree.processes[m].threads)
    }
}

/// `exit code 0`, `killed by SIGTERM (signal 15)`, ….
pub fn describe_status(status: Option<ExitStatus>) -> String {
    match status {
        None => "never exited".into(),
        Some(ExitStatus::Code { code }) => format!("exit code {code}"),
        Some(ExitStatus::Signal { signal, core }) => format!(
            "killed by {} (signal {signal}){}",
            signal_name(signal),
            if core { ", core dumped" } else { "" }
        ),
        Some(ExitStatus::Killed) => "still running at the end, killed by containment".into(),
    }
}

/// `SIGTERM` for 15.
pub fn signal_name(signal: i32) -> String {
    nix::sys::signal::Signal::try_from(signal)
        .map_or_else(|_| format!("signal {signal}"), |s| s.as_str().to_string())
}

/// The last integer on a line (`子进程内:  0` → 0, `exit code: -15` → -15).
pub fn last_int(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    let end = bytes.iter().rposition(u8::is_ascii_digit)? + 1;
    let mut start = end;
    while start > 0 && bytes[start - 1].is_ascii_digit() {
        start -= 1;
    }
    let negative = start > 0 && bytes[start - 1] == b'-';
    let value: i64 = text[start..end].parse().ok()?;
    Some(if negative { -value } else { value })
}
