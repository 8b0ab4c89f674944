//! Checks and diagnoses shared by several exercises.

use crate::ledger::{EventKind, ExitStatus, LimitKind, ProcId, Role};

use super::check::{Outcome, Run, describe_status};
use super::orphans;

/// Why there may be fewer child processes than expected, in the lesson's terms, judged
/// from who wrote the lines the children should have written.
pub fn diagnose_missing_children(
    run: &Run,
    is_child_line: &dyn Fn(&str) -> bool,
) -> Option<String> {
    let main = run.main()?;
    let main_wrote = run
        .lines_of(main)
        .filter(|l| is_child_line(&l.text))
        .count();
    let threads = run.main_threads();
    if main_wrote > 0 && !threads.is_empty() {
        let by_threads = run
            .ledger
            .events
            .iter()
            .any(|e| matches!(&e.kind, EventKind::Write { tid, .. } if threads.contains(tid)));
        if by_threads {
            return Some(format!(
                "the children's lines were written by {} thread(s) of the main process, not by \
                 child processes: threads instead of processes (use multiprocessing.Process, not \
                 threading.Thread)",
                threads.len()
            ));
        }
    }
    if main_wrote > 0 {
        return Some(format!(
            "the main process wrote {main_wrote} of the children's lines itself: `run()` called \
             instead of `start()` (run() executes the target in the calling process; start() \
             creates the child process)"
        ));
    }
    if !threads.is_empty() {
        return Some(format!(
            "the main process ran {} thread(s) but created no child process: threads instead of \
             processes",
            threads.len()
        ));
    }
    None
}

/// `child-count`: exactly `expected` child processes of the main process.
pub fn child_count(run: &Run, expected: usize, is_child_line: &dyn Fn(&str) -> bool) -> Outcome {
    let Some(_) = run.main() else {
        return Outcome::fail("the program never started (no main process in the ledger)");
    };
    let kids = run.children();
    if kids.len() == expected {
        return Outcome::pass(format!(
            "{expected} child process(es) of the main process (pids {})",
            run.pids(&kids)
        ));
    }
    let mut message = format!(
        "expected {expected} child process(es) of the main process; the ledger shows {}",
        kids.len()
    );
    if !kids.is_empty() {
        message.push_str(&format!(" (pids {})", run.pids(&kids)));
    }
    if kids.len() < expected
        && let Some(why) = diagnose_missing_children(run, is_child_line)
    {
        message.push_str(&format!(". Likely mistake: {why}"));
    }
    Outcome::fail(message)
}

/// `exit-codes`: every program process exited with code 0. With `orphans_elsewhere`
/// (the exercise runs `no-leftovers`), a process that outlived the main process and was
/// killed by containment at the end of the orphan grace is that check's finding, not
/// this one's: its exit code was never the program's.
pub fn exit_codes(run: &Run, orphans_elsewhere: bool) -> Outcome {
    let program = run.program();
    if program.is_empty() {
        return Outcome::fail("the program never started (no program process in the ledger)");
    }
    let contained: Vec<ProcId> = if orphans_elsewhere {
        program
            .iter()
            .copied()
            .filter(|&id| orphans::contained_orphan(run, id))
            .collect()
    } else {
        Vec::new()
    };
    let judged: Vec<ProcId> = program
        .iter()
        .copied()
        .filter(|id| !contained.contains(id))
        .collect();
    let bad: Vec<String> = judged
        .iter()
        .filter_map(|&id| {
            let status = run.tree.processes[id].exited.map(|(_, s)| s);
            (status != Some(ExitStatus::Code { code: 0 }))
                .then(|| format!("{} {}", run.who(id), describe_status(status)))
        })
        .collect();
    if bad.is_empty() {
        let mut message = format!(
            "all {} program process(es) exited with code 0",
            judged.len()
        );
        if !contained.is_empty() {
            message.push_str(&format!(
                " (not counted: pid(s) {}, still running after the main process exited and \
                 killed by containment — see no-leftovers)",
                run.pids(&contained)
            ));
        }
        Outcome::pass(message)
    } else {
        Outcome::fail(format!(
            "expected every process to exit with code 0; {}",
            bad.join("; ")
        ))
    }
}

/// `limits`: no containment limit fired.
pub fn limits(run: &Run) -> Outcome {
    let Some(kind) = run.ledger.limit_hit else {
        return Outcome::pass("no limit fired (time, processes, memory, output)");
    };
    let detail = run
        .ledger
        .events
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::Limit { limit, detail } if *limit == kind => Some(detail.clone()),
            _ => None,
        })
        .unwrap_or_default();
    let limits = &run.ledger.limits;
    let hint = match kind {
        LimitKind::Time => format!(
            "the run did not finish within {} s: a child that never ends, or a join() on one?",
            limits.time_ms as f64 / 1000.0
        ),
        LimitKind::Processes => format!(
            "more than {} processes at once: start() in an unbounded loop, or a fork bomb?",
            limits.max_processes
        ),
        LimitKind::Memory => format!(
            "the process tree used more than {} MiB",
            limits.memory_bytes >> 20
        ),
        LimitKind::Output => format!(
            "more than {} KiB of output: an endless print loop?",
            limits.output_bytes >> 10
        ),
    };
    let detail = if detail.is_empty() {
        String::new()
    } else {
        format!(" ({detail})")
    };
    Outcome::fail(format!(
        "the {kind} fired{detail} and the run was stopped: {hint}"
    ))
}

/// Is `id` a program process (not launcher, not helper)?
pub fn is_program(run: &Run, id: usize) -> bool {
    run.tree.processes[id].role == Role::Program
}
