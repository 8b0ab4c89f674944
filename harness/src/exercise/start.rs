//! `start-target`, `start-subclass` and `join-order`: children that each print a start
//! and an end line carrying their name, and a parent that prints a line starting with `主`.

use crate::ledger::{Line, ProcId};

use super::check::{Outcome, Run};
use super::common;
use super::named::{self, Observed};
use super::params::StartParams;

/// Is `text` one of the children's lines (a start or an end line)?
fn child_line_matcher(p: &StartParams) -> impl Fn(&str) -> bool {
    let (starts, ends) = (p.start_patterns(), p.end_patterns());
    move |text: &str| starts.is_match(text) || ends.is_match(text)
}

/// `child-count`.
pub fn child_count(run: &Run, p: &StartParams) -> Outcome {
    common::child_count(run, p.count(), &child_line_matcher(p))
}

/// `child-lines`: every child wrote a start line and then an end line carrying one name
/// (its own: the names are distinct, and the pinned ones when the exercise pins them);
/// no other process wrote such lines.
pub fn child_lines(run: &Run, p: &StartParams) -> Outcome {
    let observed = named::observe(run, p);
    let mut problems: Vec<String> = Vec::new();
    let by_main = lines_elsewhere(run, &observed, &mut problems);
    problems.extend(
        observed
            .children
            .iter()
            .filter_map(|c| named::child_problem(run, p, c)),
    );
    problems.extend(named::duplicate_names(run, &observed));
    problems.extend(named::pinned_name_problems(run, p, &observed));
    if observed.children.is_empty() && problems.is_empty() {
        problems.push("there are no child processes to write them".into());
    }
    if problems.is_empty() {
        let names: Vec<String> = observed
            .children
            .iter()
            .filter_map(|c| c.name().map(|n| format!("`{n}`")))
            .collect();
        let cut_short: Vec<String> = observed
            .children
            .iter()
            .filter(|c| c.ends.is_empty())
            .map(|c| run.who(c.id))
            .collect();
        if cut_short.is_empty() {
            return Outcome::pass(format!(
                "each of the {} children wrote its own start and end line, in order ({})",
                observed.children.len(),
                names.join(", ")
            ));
        }
        return Outcome::pass(format!(
            "each of the {} children wrote its own start line ({}); {} ended before its end \
             line, which exit-codes or no-leftovers judges",
            observed.children.len(),
            names.join(", "),
            cut_short.join(", ")
        ));
    }
    let mut message = format!(
        "expected each child to write a start line ({}) then an end line ({}) with its own \
         name, from its own process; {}",
        p.start_patterns().describe(),
        p.end_patterns().describe(),
        problems.join("; ")
    );
    if by_main && let Some(why) = common::diagnose_missing_children(run, &child_line_matcher(p)) {
        message.push_str(&format!(". Likely mistake: {why}"));
    }
    Outcome::fail(message)
}

/// Report the children's lines written by other processes; true when the main process
/// wrote some.
fn lines_elsewhere(run: &Run, observed: &Observed, problems: &mut Vec<String>) -> bool {
    let mut writers: Vec<ProcId> = observed.elsewhere.iter().map(|l| l.line.process).collect();
    writers.dedup();
    for writer in &writers {
        let first = observed
            .elsewhere
            .iter()
            .find(|l| l.line.process == *writer)
            .map_or("", |l| l.line.text.as_str());
        problems.push(format!(
            "`{first}` was written by {}, not by a child of the main process",
            run.who(*writer)
        ));
    }
    writers.contains(&run.main().unwrap_or(usize::MAX))
}

/// The main process's first line that matches the parent-line patterns.
fn parent_line_of<'r>(run: &'r Run, p: &StartParams) -> Option<&'r Line> {
    let main = run.main()?;
    let patterns = p.parent_patterns();
    run.lines_of(main).find(|l| patterns.is_match(&l.text))
}

/// `parent-line`: the main process wrote a line starting with `主`.
pub fn parent_line(run: &Run, p: &StartParams) -> Outcome {
    if run.main().is_none() {
        return Outcome::fail("the program never started (no main process in the ledger)");
    }
    let patterns = p.parent_patterns();
    if let Some(line) = parent_line_of(run, p) {
        return Outcome::pass(format!("the main process wrote `{}`", line.text));
    }
    let expected = format!(
        "expected the main process to write its line ({})",
        patterns.describe()
    );
    match run.lines.iter().find(|l| patterns.is_match(&l.text)) {
        Some(line) => Outcome::fail(format!(
            "{expected}; `{}` was written by {} instead",
            line.text,
            run.who(line.process)
        )),
        None => Outcome::fail(format!("{expected}; no process wrote such a line")),
    }
}

/// `concurrent`: all children were alive at one moment (their lifetimes overlap).
pub fn concurrent(run: &Run, p: &StartParams) -> Outcome {
    let kids = run.children();
    if p.count() < 2 && kids.len() == 1 {
        return Outcome::pass("only one child is expected, so it overlaps with itself");
    }
    if kids.len() < 2 {
        let mut message = format!(
            "expected {} children alive at the same time; the ledger shows {} child process(es)",
            p.count(),
            kids.len()
        );
        if let Some(why) = common::diagnose_missing_children(run, &child_line_matcher(p)) {
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

/// `start-nonblocking`: the parent's line was written before any child exited.
pub fn start_nonblocking(run: &Run, p: &StartParams) -> Outcome {
    if run.main().is_none() {
        return Outcome::fail("the program never started (no main process in the ledger)");
    }
    let kids = run.children();
    let shown = p.parent_patterns().describe();
    let Some(line) = parent_line_of(run, p) else {
        return Outcome::fail(format!(
            "expected the main process's line ({shown}) before any child exits; the main \
             process never wrote it"
        ));
    };
    let text = &line.text;
    let Some(first_exit) = kids.iter().copied().min_by_key(|&k| run.exit_seq(k)) else {
        let mut message =
            format!("expected `{text}` before any child exits; there are no child processes");
        if let Some(why) = common::diagnose_missing_children(run, &child_line_matcher(p)) {
            message.push_str(&format!(". Likely mistake: {why}"));
        }
        return Outcome::fail(message);
    };
    if line.at.seq < run.exit_seq(first_exit) {
        Outcome::pass(format!(
            "`{text}` was written while every child was still running: start() did not block"
        ))
    } else {
        Outcome::fail(format!(
            "expected `{text}` right after the children were started, before any of them ended; \
             it was written after {} had exited (start() returns at once: was join() called \
             before printing?)",
            run.who(first_exit)
        ))
    }
}

/// `main-after-children` (join-order): the parent's last line was written after every
/// child exited (a `主进程开始` before the joins does not count against it).
pub fn main_after_children(run: &Run, p: &StartParams) -> Outcome {
    let Some(main) = run.main() else {
        return Outcome::fail("the program never started (no main process in the ledger)");
    };
    let kids = run.children();
    let patterns = p.parent_patterns();
    let Some(line) = run
        .lines_of(main)
        .filter(|l| patterns.is_match(&l.text))
        .last()
    else {
        return Outcome::fail(format!(
            "expected the main process's line ({}) after every child ended; it never wrote it",
            patterns.describe()
        ));
    };
    let text = &line.text;
    if kids.is_empty() {
        return Outcome::fail(format!(
            "expected `{text}` after the children ended; there are no child processes"
        ));
    }
    let running: Vec<ProcId> = kids
        .iter()
        .copied()
        .filter(|&k| run.exit_seq(k) > line.at.seq)
        .collect();
    if running.is_empty() {
        Outcome::pass(format!(
            "`{text}` was written after all {} children had exited",
            kids.len()
        ))
    } else {
        Outcome::fail(format!(
            "expected `{text}` after every child ended; it was written while {} of {} children \
             were still running (pids {}): printed before the children ended — join() every \
             child before printing it",
            running.len(),
            kids.len(),
            run.pids(&running)
        ))
    }
}
