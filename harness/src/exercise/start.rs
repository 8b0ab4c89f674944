//! `start-target`, `start-subclass` and `join-order`: named children that each print a
//! start and an end line, and a parent that prints `主`.

use crate::ledger::ProcId;

use super::check::{Outcome, Run};
use super::common;
use super::orphans;
use super::params::StartParams;

/// Every line the children should write.
fn expected_child_lines(p: &StartParams) -> Vec<String> {
    p.names
        .iter()
        .flat_map(|n| [p.start_for(n), p.end_for(n)])
        .collect()
}

/// `child-count`.
pub fn child_count(run: &Run, p: &StartParams) -> Outcome {
    common::child_count(run, p.names.len(), &expected_child_lines(p))
}

/// `child-lines`: for each name, one child process wrote its start line and then its end
/// line, and no child wrote the lines of two names.
pub fn child_lines(run: &Run, p: &StartParams) -> Outcome {
    let kids = run.children();
    let mut problems = Vec::new();
    let mut owner_of: Vec<(ProcId, &str)> = Vec::new();
    let mut by_main = false;
    // Killed at the end of the orphan grace before their end line: no-leftovers' finding.
    let mut cut_short: Vec<ProcId> = Vec::new();
    for name in &p.names {
        let start = p.start_for(name);
        let end = p.end_for(name);
        let starts = run.lines_equal(&start);
        let Some(first) = starts.first() else {
            problems.push(format!("no process wrote `{start}`"));
            continue;
        };
        let writer = first.process;
        if !kids.contains(&writer) {
            by_main |= Some(writer) == run.main();
            problems.push(format!(
                "`{start}` was written by {}, not by a child process",
                run.who(writer)
            ));
            continue;
        }
        if let Some((_, other)) = owner_of.iter().find(|(id, _)| *id == writer) {
            problems.push(format!(
                "{} wrote the lines of both `{other}` and `{name}`: one child per name",
                run.who(writer)
            ));
            continue;
        }
        owner_of.push((writer, name));
        match run.line_by(writer, &end) {
            None => {
                let elsewhere = run.lines_equal(&end);
                match elsewhere.first() {
                    Some(line) => problems.push(format!(
                        "`{start}` came from {} but `{end}` from {}: each child writes its own two lines",
                        run.who(writer),
                        run.who(line.process)
                    )),
                    None if orphans::contained_orphan(run, writer) => cut_short.push(writer),
                    None => problems.push(format!(
                        "{} wrote `{start}` but never `{end}`",
                        run.who(writer)
                    )),
                }
            }
            Some(line) if line.at.seq < first.at.seq => problems.push(format!(
                "{} wrote `{end}` before `{start}`",
                run.who(writer)
            )),
            Some(_) => {}
        }
    }
    if problems.is_empty() && !cut_short.is_empty() {
        Outcome::pass(format!(
            "each of the {} children wrote its own start line, and its end line unless it was \
             still running when the orphan grace ran out (pid(s) {}, killed by containment: see \
             no-leftovers)",
            p.names.len(),
            run.pids(&cut_short)
        ))
    } else if problems.is_empty() {
        Outcome::pass(format!(
            "each of the {} children wrote its own start and end line, in order",
            p.names.len()
        ))
    } else {
        let mut message = format!(
            "expected each named child to write `{}` then `{}` from its own process; {}",
            p.start_line.replace("{name}", "<name>"),
            p.end_line.replace("{name}", "<name>"),
            problems.join("; ")
        );
        if by_main
            && let Some(why) = common::diagnose_missing_children(run, &expected_child_lines(p))
        {
            message.push_str(&format!(". Likely mistake: {why}"));
        }
        Outcome::fail(message)
    }
}

/// `parent-line`: the main process wrote `主`.
pub fn parent_line(run: &Run, p: &StartParams) -> Outcome {
    let Some(main) = run.main() else {
        return Outcome::fail("the program never started (no main process in the ledger)");
    };
    if run.line_by(main, &p.parent_line).is_some() {
        return Outcome::pass(format!("the main process wrote `{}`", p.parent_line));
    }
    match run.lines_equal(&p.parent_line).first() {
        Some(line) => Outcome::fail(format!(
            "expected the main process to write `{}`; it was written by {} instead",
            p.parent_line,
            run.who(line.process)
        )),
        None => Outcome::fail(format!(
            "expected the main process to write `{}`; no process wrote it",
            p.parent_line
        )),
    }
}

/// `concurrent`: all children were alive at one moment (their lifetimes overlap).
pub fn concurrent(run: &Run, p: &StartParams) -> Outcome {
    let kids = run.children();
    if p.names.len() < 2 && kids.len() == 1 {
        return Outcome::pass("only one child is expected, so it overlaps with itself");
    }
    if kids.len() < 2 {
        let mut message = format!(
            "expected {} children alive at the same time; the ledger shows {} child process(es)",
            p.names.len(),
            kids.len()
        );
        if let Some(why) = common::diagnose_missing_children(run, &expected_child_lines(p)) {
            message.push_str(&format!(". Likely mistake: {why}"));
        }
        return Outcome::fail(message);
    }
    if run.tree.alive_together(&kids) {
        return Outcome::pass(format!(
            "all {} children were alive at the same time",
            kids.len()
        ));
    }
    Outcome::fail(format!(
        "expected all children alive at the same time; {}",
        describe_sequence(run, &kids)
    ))
}

/// Explain how a set of children failed to overlap.
fn describe_sequence(run: &Run, kids: &[ProcId]) -> String {
    let one_by_one = kids
        .windows(2)
        .all(|w| run.tree.processes[w[1]].started.seq > run.exit_seq(w[0]));
    if one_by_one {
        return format!(
            "each of the {} children was started only after the previous one had exited: \
             children started and joined one at a time (start() every child first, then join() \
             them)",
            kids.len()
        );
    }
    let first_end = kids
        .iter()
        .copied()
        .min_by_key(|&k| run.exit_seq(k))
        .unwrap_or(kids[0]);
    let last_start = kids
        .iter()
        .copied()
        .max_by_key(|&k| run.tree.processes[k].started.seq)
        .unwrap_or(kids[0]);
    format!(
        "{} had already exited when {} was started: some children were joined (or waited for) \
         before the others were started",
        run.who(first_end),
        run.who(last_start)
    )
}

/// `start-nonblocking`: `主` was written before any child exited.
pub fn start_nonblocking(run: &Run, p: &StartParams) -> Outcome {
    let Some(main) = run.main() else {
        return Outcome::fail("the program never started (no main process in the ledger)");
    };
    let kids = run.children();
    let Some(line) = run.line_by(main, &p.parent_line) else {
        return Outcome::fail(format!(
            "expected `{}` from the main process before any child exits; the main process never wrote it",
            p.parent_line
        ));
    };
    let Some(first_exit) = kids.iter().copied().min_by_key(|&k| run.exit_seq(k)) else {
        let mut message = format!(
            "expected `{}` before any child exits; there are no child processes",
            p.parent_line
        );
        if let Some(why) = common::diagnose_missing_children(run, &expected_child_lines(p)) {
            message.push_str(&format!(". Likely mistake: {why}"));
        }
        return Outcome::fail(message);
    };
    if line.at.seq < run.exit_seq(first_exit) {
        Outcome::pass(format!(
            "`{}` was written while every child was still running: start() did not block",
            p.parent_line
        ))
    } else {
        Outcome::fail(format!(
            "expected `{}` right after the children were started, before any of them ended; it \
             was written after {} had exited (start() returns at once: was join() called before \
             printing?)",
            p.parent_line,
            run.who(first_exit)
        ))
    }
}

/// `main-after-children` (join-order): `主` was written after every child exited.
pub fn main_after_children(run: &Run, p: &StartParams) -> Outcome {
    let Some(main) = run.main() else {
        return Outcome::fail("the program never started (no main process in the ledger)");
    };
    let kids = run.children();
    let Some(line) = run.line_by(main, &p.parent_line) else {
        return Outcome::fail(format!(
            "expected `{}` from the main process after every child ended; it never wrote it",
            p.parent_line
        ));
    };
    if kids.is_empty() {
        return Outcome::fail(format!(
            "expected `{}` after the children ended; there are no child processes",
            p.parent_line
        ));
    }
    let running: Vec<ProcId> = kids
        .iter()
        .copied()
        .filter(|&k| run.exit_seq(k) > line.at.seq)
        .collect();
    if running.is_empty() {
        Outcome::pass(format!(
            "`{}` was written after all {} children had exited",
            p.parent_line,
            kids.len()
        ))
    } else {
        Outcome::fail(format!(
            "expected `{}` after every child ended; it was written while {} of {} children were \
             still running (pids {}): `主` printed before the children ended — join() every \
             child before printing it",
            p.parent_line,
            running.len(),
            kids.len(),
            run.pids(&running)
        ))
    }
}
