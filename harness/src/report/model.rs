//! A grade as data: every format renders this, never the ledger directly.

use serde::Serialize;

use crate::exercise::check::describe_status;
use crate::exercise::{CheckResult, Run, ServerSession, Spec};
use crate::ledger::{ExitStatus, Layer, Ledger, Pid, Role, Stream};

/// Pass when every check passed; error when the run could not be graded (a fault of
/// the grader's environment, see [`crate::cannot_grade`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Pass,
    Fail,
    Error,
}

/// One graded run.
#[derive(Debug, Clone, Serialize)]
pub struct GradeReport {
    pub exercise: String,
    pub description: String,
    /// Where the spec came from (`built-in` or a path).
    pub spec_source: String,
    pub command: Vec<String>,
    pub verdict: Verdict,
    /// Why the run could not be graded, and what to do (verdict `error` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub score: u32,
    pub max_score: u32,
    pub checks: Vec<CheckResult>,
    /// Every process of the run, parents before children.
    pub tree: Vec<TreeRow>,
    pub ledger: LedgerSummary,
    /// Program processes that crashed (non-zero exit, or a fatal signal), with the tail
    /// of what they wrote to stderr.
    pub crashes: Vec<Crash>,
    /// What the grader's clients saw (servers only).
    pub clients: Option<ServerSession>,
    /// Seconds the grading took.
    pub execution_time: f64,
}

/// One process as the report shows it.
#[derive(Debug, Clone, Serialize)]
pub struct TreeRow {
    pub pid: Pid,
    pub parent: Option<Pid>,
    /// Depth below the root (for indentation).
    pub depth: usize,
    pub role: Role,
    pub argv: Vec<String>,
    pub threads: usize,
    pub started_ms: f64,
    pub ended_ms: Option<f64>,
    /// `exit code 0`, `killed by SIGTERM (signal 15)`, ….
    pub exit: String,
    pub reaped_by: Option<Pid>,
    /// Reaped by the kernel because the parent (`reaped_by`) ignores SIGCHLD.
    pub reaped_by_kernel: bool,
}

/// The ledger in a few numbers.
#[derive(Debug, Clone, Serialize)]
pub struct LedgerSummary {
    pub events: usize,
    pub processes: usize,
    pub program_processes: usize,
    pub threads: usize,
    pub output_lines: usize,
    pub wall_ms: f64,
    pub root_status: String,
    /// The limit that fired, if any (`time limit`, `process cap`, …).
    pub limit_hit: Option<String>,
    pub output_truncated: bool,
    pub leftovers: Vec<Pid>,
    pub layers: Vec<Layer>,
}

impl LedgerSummary {
    /// The summary of a run that never started.
    fn none() -> Self {
        LedgerSummary {
            events: 0,
            processes: 0,
            program_processes: 0,
            threads: 0,
            output_lines: 0,
            wall_ms: 0.0,
            root_status: "never started".into(),
            limit_hit: None,
            output_truncated: false,
            leftovers: Vec::new(),
            layers: Vec::new(),
        }
    }
}

/// A crashed process.
#[derive(Debug, Clone, Serialize)]
pub struct Crash {
    pub pid: Pid,
    pub status: String,
    pub stderr_tail: Vec<String>,
}

/// Lines of stderr kept per crash.
const STDERR_TAIL: usize = 12;

impl GradeReport {
    /// Assemble the report of a graded run.
    pub fn new(
        spec: &Spec,
        ledger: &Ledger,
        checks: Vec<CheckResult>,
        clients: Option<ServerSession>,
        execution_time: f64,
    ) -> Self {
        let run = Run::new(ledger);
        let score = checks.iter().map(|c| c.points).sum();
        let max_score = checks.iter().map(|c| c.max_points).sum();
        let verdict = if checks.iter().all(|c| c.passed) {
            Verdict::Pass
        } else {
            Verdict::Fail
        };
        GradeReport {
            exercise: spec.id.to_string(),
            description: spec.description.clone(),
            spec_source: spec.source.clone(),
            command: ledger.command.clone(),
            verdict,
            error: None,
            score,
            max_score,
            checks,
            tree: tree_rows(&run),
            ledger: summary(&run),
            crashes: crashes(&run),
            clients,
            execution_time,
        }
    }

    /// A run that could not be graded: no checks, no score, the `reason` (what went
    /// wrong and what to do); the process tree when the run got that far.
    pub fn could_not_grade(
        spec: &Spec,
        command: &[String],
        reason: String,
        ledger: Option<&Ledger>,
        execution_time: f64,
    ) -> Self {
        let run = ledger.map(Run::new);
        GradeReport {
            exercise: spec.id.to_string(),
            description: spec.description.clone(),
            spec_source: spec.source.clone(),
            command: command.to_vec(),
            verdict: Verdict::Error,
            error: Some(reason),
            score: 0,
            max_score: spec.points.values().sum(),
            checks: Vec::new(),
            tree: run.as_ref().map(tree_rows).unwrap_or_default(),
            ledger: run.as_ref().map_or_else(LedgerSummary::none, summary),
            crashes: Vec::new(),
            clients: None,
            execution_time,
        }
    }

    /// The process exit status for the CLI: 0 pass, 1 fail, 2 could not grade.
    pub fn exit_code(&self) -> u8 {
        match self.verdict {
            Verdict::Pass => 0,
            Verdict::Fail => 1,
            Verdict::Error => 2,
        }
    }
}

fn ms(ns: u64) -> f64 {
    (ns as f64 / 1e6 * 10.0).round() / 10.0
}

fn tree_rows(run: &Run) -> Vec<TreeRow> {
    let tree = &run.tree;
    let mut rows = Vec::new();
    let mut stack: Vec<(usize, usize)> = tree.root.map(|r| (r, 0)).into_iter().collect();
    // Orphans of a lost parent still get shown, at depth 0.
    let mut shown = vec![false; tree.processes.len()];
    let mut next_orphan = 0;
    while let Some((id, depth)) = stack.pop().or_else(|| {
        while next_orphan < shown.len() && shown[next_orphan] {
            next_orphan += 1;
        }
        (next_orphan < shown.len()).then_some((next_orphan, 0))
    }) {
        if shown[id] {
            continue;
        }
        shown[id] = true;
        let p = &tree.processes[id];
        rows.push(TreeRow {
            pid: p.pid,
            parent: p.parent.map(|q| tree.processes[q].pid),
            depth,
            role: p.role,
            argv: p.argv(tree).to_vec(),
            threads: p.threads.len(),
            started_ms: ms(p.started.t_ns),
            ended_ms: p.exited.map(|(m, _)| ms(m.t_ns)),
            exit: describe_status(p.exited.map(|(_, s)| s)),
            reaped_by: p.reaped_by.map(|(r, _)| tree.processes[r].pid),
            reaped_by_kernel: p.reaped_by_kernel,
        });
        for &child in p.children.iter().rev() {
            stack.push((child, depth + 1));
        }
    }
    rows
}

fn summary(run: &Run) -> LedgerSummary {
    let l = run.ledger;
    LedgerSummary {
        events: l.events.len(),
        processes: run.tree.processes.len(),
        program_processes: run.program().len(),
        threads: run.tree.processes.iter().map(|p| p.threads.len()).sum(),
        output_lines: run.lines.len(),
        wall_ms: ms(l.wall_ns),
        root_status: describe_status(l.root_status),
        limit_hit: l.limit_hit.map(|k| k.to_string()),
        output_truncated: l.output_truncated,
        leftovers: l.leftovers.clone(),
        layers: l.layers.clone(),
    }
}

/// Signals that mean the program itself failed (as opposed to being ended on purpose).
const FATAL: [i32; 6] = [
    libc::SIGSEGV,
    libc::SIGABRT,
    libc::SIGBUS,
    libc::SIGFPE,
    libc::SIGILL,
    libc::SIGSYS,
];

fn crashes(run: &Run) -> Vec<Crash> {
    run.program()
        .into_iter()
        .filter_map(|id| {
            let p = &run.tree.processes[id];
            let status = p.exited?.1;
            let crashed = match status {
                ExitStatus::Code { code } => code != 0,
                ExitStatus::Signal { signal, core } => core || FATAL.contains(&signal),
                ExitStatus::Killed => false,
            };
            if !crashed {
                return None;
            }
            let stderr: Vec<String> = run
                .lines_of(id)
                .filter(|l| l.stream == Stream::Stderr)
                .map(|l| l.text.clone())
                .collect();
            let tail = stderr[stderr.len().saturating_sub(STDERR_TAIL)..].to_vec();
            Some(Crash {
                pid: p.pid,
                status: describe_status(Some(status)),
                stderr_tail: tail,
            })
        })
        .collect()
}
