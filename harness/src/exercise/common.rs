//! Checks and diagnoses shared by several exercises.

use crate::ledger::{EventKind, ExitStatus, LimitKind, ProcId, Role};

use super::check::{Outcome, Run, describe_status};

/// Why there may be fewer child processes than expected, in the lesson's terms, judged
/// from who wrote the lines the children should have written.
pub fn diagnose_missing_children(run: &Run, child_lines: &[String]) -> Option<String> {
    let main = run.main()?;
    let main_wrote = child_lines
        .iter()
        .filter(|text| run.line_by(main, text).is_some())
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
pub fn child_count(run: &Run, expected: usize, child_lines: &[String]) -> Outcome {
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
        && let Some(why) = diagnose_missing_children(run, child_lines)
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
            .filter(|&id| contained_orphan(run, id))
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

/// A program process other than the main one, killed by containment after the main
/// process had exited on its own: an orphan still running at the end of the grace.
pub fn contained_orphan(run: &Run, id: ProcId) -> bool {
    let Some(main) = run.main() else {
        return false;
    };
    let main_exit = match run.tree.processes[main].exited {
        Some((at, status)) if status != ExitStatus::Killed => at.seq,
        _ => return false,
    };
    id != main
        && matches!(run.tree.processes[id].exited, Some((at, ExitStatus::Killed)) if at.seq > main_exit)
}

/// `no-leftovers`: every program process ended by the time the main process did, and
/// containment had nothing left to kill. After the main process exits, what it left
/// running is observed for the orphan grace (`[limits] orphan_grace_ms`): an orphan that
/// finishes on its own still fails this check (and only this one); one still running at
/// the end of the grace is killed and named here.
pub fn no_leftovers(run: &Run) -> Outcome {
    let Some(main) = run.main() else {
        return Outcome::fail("the program never started (no main process in the ledger)");
    };
    let main_exit = match run.tree.processes[main].exited {
        Some((at, status)) if status != ExitStatus::Killed => Some(at),
        _ => None,
    };
    if main_exit.is_none()
        && let Some(kind) = run.ledger.limit_hit
    {
        // Everything was stopped together: no process outlived the main one.
        return Outcome::pass(format!(
            "the {kind} stopped the whole run (see `limits`); no process outlived the main process"
        ));
    }
    let main_end = run.exit_seq(main);
    let late: Vec<ProcId> = run
        .program()
        .into_iter()
        .filter(|&id| id != main)
        .filter(|&id| {
            let process = &run.tree.processes[id];
            matches!(process.exited, None | Some((_, ExitStatus::Killed)))
                || run.exit_seq(id) > main_end
        })
        .collect();
    let untraced: Vec<i32> = run
        .program_leftovers()
        .into_iter()
        .filter(|pid| !late.iter().any(|&id| run.tree.processes[id].pid == *pid))
        .collect();
    if late.is_empty() && untraced.is_empty() {
        return Outcome::pass("every process had ended when the main process exited");
    }
    // Grouped by role and fate, so four orphans read as one finding.
    let mut groups: Vec<((&str, String), Vec<i32>, u64)> = Vec::new();
    for &id in &late {
        let process = &run.tree.processes[id];
        let after =
            |at: crate::ledger::Moment| main_exit.map_or(0, |m| at.t_ns.saturating_sub(m.t_ns));
        let (fate, late_ns) = match process.exited {
            Some((at, ExitStatus::Killed)) => ("killed".to_string(), after(at)),
            Some((at, status)) if at.seq > main_end => (
                format!("ended:{}", describe_status(Some(status))),
                after(at),
            ),
            Some((_, status)) => (format!("other:{}", describe_status(Some(status))), 0),
            None => ("running".to_string(), 0),
        };
        let key = (role_of(run, main, id), fate);
        match groups.iter_mut().find(|(k, ..)| *k == key) {
            Some((_, pids, most)) => {
                pids.push(process.pid);
                *most = (*most).max(late_ns);
            }
            None => groups.push((key, vec![process.pid], late_ns)),
        }
    }
    let mut found: Vec<String> = groups
        .iter()
        .map(|((role, fate), pids, most)| {
            let many = pids.len() > 1;
            let who = format!(
                "{} pid{} {}",
                if many { plural(role) } else { role },
                if many { "s" } else { "" },
                pids.iter()
                    .map(i32::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            let secs = *most as f64 / 1e9;
            match fate.split_once(':') {
                Some(("ended", status)) => format!(
                    "{who} ended by {} {}{secs:.1} s after the main process exited ({status})",
                    if many { "themselves" } else { "itself" },
                    if many { "up to " } else { "" },
                ),
                Some((_, status)) => format!("{who} ({status})"),
                None if fate == "killed" => format!(
                    "{who} {} still running {secs:.1} s after the main process exited and \
                     killed by containment",
                    if many { "were" } else { "was" }
                ),
                None => format!(
                    "{who} {} still running at the end of the run",
                    if many { "were" } else { "was" }
                ),
            }
        })
        .collect();
    if !untraced.is_empty() {
        found.push(format!(
            "containment had to kill pid(s) {:?} at the end of the run",
            untraced
        ));
    }
    let main_who = match main_exit {
        Some(_) => format!("{} exited while", run.who(main)),
        None => format!("{} did not end on its own;", run.who(main)),
    };
    Outcome::fail(format!(
        "expected nothing left running after the main process exits; {main_who} these were \
         still running: {}. Likely mistake: the parent never waited for its children — \
         join() each Process before the main program ends (multiprocessing joins non-daemon \
         Processes at exit; a bare fork does not): os.wait() or os.waitpid(pid, 0) for each \
         os.fork() child in Python, waitpid(child, None) in Rust",
        found.join("; ")
    ))
}

fn plural(role: &str) -> &'static str {
    match role {
        "child" => "children",
        "grandchild" => "grandchildren",
        _ => "descendants",
    }
}

/// How `id` is related to the main process: `child`, `grandchild` or `descendant`.
fn role_of(run: &Run, main: ProcId, id: ProcId) -> &'static str {
    let parent = run.tree.processes[id].logical_parent;
    if parent == Some(main) {
        return "child";
    }
    let grandparent = parent.and_then(|p| run.tree.processes[p].logical_parent);
    if grandparent == Some(main) {
        "grandchild"
    } else {
        "descendant"
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
