//! What the main process left running. After it exits, the tracer observes the rest for
//! the orphan grace (`[limits] orphan_grace_ms`) and kills what is still running then;
//! that is one finding, `no-leftovers`, and other checks judge what the orphans did.

use crate::ledger::{ExitStatus, Moment, ProcId};

use super::check::{Outcome, Run, describe_status};

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

/// How an orphan ended.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Fate {
    /// Exited by itself after the main process, with this status.
    Ended(String),
    /// Still running when the grace ran out (or the run ended): killed by containment.
    Killed,
    /// The ledger never saw it exit.
    Running,
}

/// Orphans of one fate, to read as one finding.
struct Group {
    fate: Fate,
    /// `child 2 (pid 14)`, … (`Run::who`).
    who: Vec<String>,
    /// The longest time any of them outlived the main process.
    most_ns: u64,
}

/// `no-leftovers`: every program process ended by the time the main process did, and
/// containment had nothing left to kill. An orphan that finishes during the grace still
/// fails it (and only it); one still running at the end of the grace is killed and named.
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
            matches!(
                run.tree.processes[id].exited,
                None | Some((_, ExitStatus::Killed))
            ) || run.exit_seq(id) > main_end
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
    let mut found: Vec<String> = group(run, main_exit, &late).iter().map(describe).collect();
    if !untraced.is_empty() {
        found.push(format!(
            "containment had to kill pid(s) {untraced:?} at the end of the run"
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

/// `late` grouped by fate, in order of first appearance.
fn group(run: &Run, main_exit: Option<Moment>, late: &[ProcId]) -> Vec<Group> {
    let after = |at: Moment| main_exit.map_or(0, |m| at.t_ns.saturating_sub(m.t_ns));
    let mut groups: Vec<Group> = Vec::new();
    for &id in late {
        let (fate, late_ns) = match run.tree.processes[id].exited {
            Some((at, ExitStatus::Killed)) => (Fate::Killed, after(at)),
            Some((at, status)) => (Fate::Ended(describe_status(Some(status))), after(at)),
            None => (Fate::Running, 0),
        };
        match groups.iter_mut().find(|g| g.fate == fate) {
            Some(g) => {
                g.who.push(run.who(id));
                g.most_ns = g.most_ns.max(late_ns);
            }
            None => groups.push(Group {
                fate,
                who: vec![run.who(id)],
                most_ns: late_ns,
            }),
        }
    }
    groups
}

/// `child 1 (pid 12), child 2 (pid 13) ended by themselves up to 1.0 s after …`.
fn describe(g: &Group) -> String {
    let many = g.who.len() > 1;
    let who = g.who.join(", ");
    let secs = g.most_ns as f64 / 1e9;
    let was = if many { "were" } else { "was" };
    match &g.fate {
        Fate::Ended(status) => format!(
            "{who} ended by {} {}{secs:.1} s after the main process exited ({status})",
            if many { "themselves" } else { "itself" },
            if many { "up to " } else { "" },
        ),
        Fate::Killed => format!(
            "{who} {was} still running {secs:.1} s after the main process exited and killed \
             by containment"
        ),
        Fate::Running => format!("{who} {was} still running at the end of the run"),
    }
}
