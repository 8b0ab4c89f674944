//! `isolation`: a child's change to a global does not reach the parent.

use super::check::{Outcome, Run, last_int};
use super::common;
use super::params::{IsolationParams, compiled};
use super::pattern::PatternList;

/// `child-count`: exactly one child.
pub fn child_count(run: &Run, p: &IsolationParams) -> Outcome {
    let child_line = compiled(&p.child_line);
    common::child_count(run, 1, &|text| child_line.is_match(text))
}

/// Lines that match `patterns`, with their writer and value (the `{value}` group, else
/// the line's last integer).
fn labelled<'r>(run: &'r Run, patterns: &PatternList) -> Vec<(usize, Option<i64>, &'r str)> {
    let patterns = compiled(patterns);
    run.lines
        .iter()
        .filter_map(|l| {
            let matched = patterns.matches(&l.text)?;
            let value = matched.value.or_else(|| last_int(&l.text));
            Some((l.process, value, l.text.as_str()))
        })
        .collect()
}

/// `` `子进程内: {value}` `` for messages.
fn shown(patterns: &PatternList) -> String {
    compiled(patterns).describe()
}

/// `child-value`: the child's line, written by the child, shows the value it set.
pub fn child_value(run: &Run, p: &IsolationParams) -> Outcome {
    let kids = run.children();
    let found = labelled(run, &p.child_line);
    let expected = format!(
        "expected a child process to print its line ({}) with {}",
        shown(&p.child_line),
        p.child_value
    );
    let Some(&(writer, value, text)) = found
        .iter()
        .find(|(w, _, _)| kids.contains(w))
        .or(found.first())
    else {
        return Outcome::fail(format!("{expected}; no process wrote such a line"));
    };
    if !kids.contains(&writer) {
        let why = if Some(writer) == run.main() {
            " — the child's code ran in the parent: `run()` called instead of `start()`?"
        } else {
            ""
        };
        return Outcome::fail(format!(
            "{expected}; `{text}` was written by {}, not by a child{why}",
            run.who(writer)
        ));
    }
    match value {
        Some(v) if v == p.child_value => Outcome::pass(format!(
            "the child ({}) printed its own value {v}",
            run.who(writer)
        )),
        Some(v) if v == p.initial => Outcome::fail(format!(
            "{expected}; it printed {v}, the initial value: the child printed before it \
             assigned the global (or assigned a local instead: `global n`?)"
        )),
        Some(v) => Outcome::fail(format!("{expected}; {} printed {v}", run.who(writer))),
        None => Outcome::fail(format!("{expected}; its line `{text}` has no number")),
    }
}

/// `parent-value`: the parent's line, written by the main process, still shows the
/// initial value.
pub fn parent_value(run: &Run, p: &IsolationParams) -> Outcome {
    let Some(main) = run.main() else {
        return Outcome::fail("the program never started (no main process in the ledger)");
    };
    let found = labelled(run, &p.parent_line);
    let expected = format!(
        "expected the main process to print its line ({}) with {}, the initial value",
        shown(&p.parent_line),
        p.initial
    );
    let Some(&(writer, value, text)) = found.iter().find(|(w, _, _)| *w == main).or(found.first())
    else {
        return Outcome::fail(format!("{expected}; no process wrote such a line"));
    };
    if writer != main {
        return Outcome::fail(format!(
            "{expected}; `{text}` was written by {}, not by the main process",
            run.who(writer)
        ));
    }
    match value {
        Some(v) if v == p.initial => Outcome::pass(format!(
            "the main process still saw {v}: the child's assignment stayed in the child"
        )),
        Some(v) if v == p.child_value => Outcome::fail(format!(
            "{expected}; it printed {v}, the child's value: the change reached the parent, so \
             the assignment ran in the parent (`run()` instead of `start()`) or the value was \
             shared on purpose (multiprocessing.Value, a Manager) — processes do not share \
             globals"
        )),
        Some(v) => Outcome::fail(format!("{expected}; the main process printed {v}")),
        None => Outcome::fail(format!("{expected}; its line `{text}` has no number")),
    }
}
