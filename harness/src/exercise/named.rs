//! The children's named lines (`start-target`, `start-subclass`, `join-order`): what each
//! child of the main process wrote as its start and end line, and the name each carries.
//!
//! Names come from the lines themselves, so `egon is piaoing` from one child and
//! `wupeqi piaoing` from another are both fine; the checks then ask that each child's two
//! lines carry one name and that the names are distinct. Pinned names are compared after.

use crate::ledger::{ExitStatus, Line, ProcId};

use super::check::Run;
use super::params::StartParams;
use super::pattern::{Patterns, near_miss};

/// A start or end line and the name it carries.
#[derive(Debug, Clone, Copy)]
pub struct NamedLine<'r> {
    pub line: &'r Line,
    pub name: &'r str,
}

/// One child's start and end lines, in the order it wrote them.
#[derive(Debug)]
pub struct ChildLines<'r> {
    pub id: ProcId,
    pub starts: Vec<NamedLine<'r>>,
    pub ends: Vec<NamedLine<'r>>,
}

impl<'r> ChildLines<'r> {
    /// The name it gave itself: that of its first start line, else of its first end line.
    pub fn name(&self) -> Option<&'r str> {
        self.starts.first().or(self.ends.first()).map(|l| l.name)
    }
}

/// The named lines of a run.
#[derive(Debug)]
pub struct Observed<'r> {
    /// One entry per child of the main process, in the order they were created.
    pub children: Vec<ChildLines<'r>>,
    /// Start or end lines written by a process that is not a child of the main process
    /// (the main process itself, when `run()` was called instead of `start()`).
    pub elsewhere: Vec<NamedLine<'r>>,
}

/// Read the named lines of `run` with the patterns of `p`.
pub fn observe<'r>(run: &'r Run, p: &StartParams) -> Observed<'r> {
    let (starts, ends) = (p.start_patterns(), p.end_patterns());
    let kids = run.children();
    let mut children: Vec<ChildLines> = kids
        .iter()
        .map(|&id| ChildLines {
            id,
            starts: Vec::new(),
            ends: Vec::new(),
        })
        .collect();
    let mut elsewhere = Vec::new();
    for line in &run.lines {
        let (named, is_start) = match (named(&starts, line), named(&ends, line)) {
            (Some(n), _) => (n, true),
            (None, Some(n)) => (n, false),
            (None, None) => continue,
        };
        match children.iter_mut().find(|c| c.id == line.process) {
            Some(child) if is_start => child.starts.push(named),
            Some(child) => child.ends.push(named),
            None => elsewhere.push(named),
        }
    }
    Observed {
        children,
        elsewhere,
    }
}

fn named<'r>(patterns: &Patterns, line: &'r Line) -> Option<NamedLine<'r>> {
    let name = patterns.matches(&line.text)?.name?;
    // Point into the line itself, so the result borrows the run, not the match.
    let start = line.text.find(name.as_str())?;
    Some(NamedLine {
        line,
        name: &line.text[start..start + name.len()],
    })
}

/// What is wrong with one child's lines, if anything.
pub fn child_problem(run: &Run, p: &StartParams, child: &ChildLines) -> Option<String> {
    let who = run.who(child.id);
    let Some(first) = child.starts.first() else {
        return Some(match child.ends.first() {
            Some(end) => format!(
                "{who} wrote its end line `{}` but no start line",
                end.line.text
            ),
            None => match run.lines_of(child.id).next() {
                Some(line) => format!(
                    "{who} wrote no start line ({}); its first line was `{}`",
                    p.start_patterns().describe(),
                    line.text
                ),
                None => format!("{who} wrote nothing"),
            },
        });
    };
    let name = first.name;
    if let Some(other) = child.starts.iter().find(|l| l.name != name) {
        return Some(format!(
            "{who} wrote the start lines of both `{name}` and `{}`: one child per name",
            other.name
        ));
    }
    let Some(end) = child.ends.first() else {
        let status = run.tree.processes[child.id].exited.map(|(_, s)| s);
        // A child that crashed, was killed or outlived the main program is the finding of
        // `exit-codes` or `no-leftovers`: one mistake, one failed check.
        if status != Some(ExitStatus::Code { code: 0 }) {
            return None;
        }
        return Some(format!(
            "{who} wrote `{}` but never its end line (such as `{}`); its end: {}",
            first.line.text,
            p.end_patterns().example(name),
            super::check::describe_status(status)
        ));
    };
    if end.name != name {
        return Some(format!(
            "{who} started as `{name}` (`{}`) but ended as `{}` (`{}`): a child's two lines \
             carry the same name",
            first.line.text, end.name, end.line.text
        ));
    }
    if end.line.at.seq < first.line.at.seq {
        return Some(format!(
            "{who} wrote `{}` before `{}`",
            end.line.text, first.line.text
        ));
    }
    None
}

/// Children that gave themselves a name another child has.
pub fn duplicate_names(run: &Run, observed: &Observed) -> Vec<String> {
    let mut problems = Vec::new();
    for (i, child) in observed.children.iter().enumerate() {
        let Some(name) = child.name() else { continue };
        let earlier = observed.children[..i]
            .iter()
            .find(|c| c.name() == Some(name));
        if let Some(first) = earlier {
            problems.push(format!(
                "{} and {} both call themselves `{name}`: each child has its own name",
                run.who(first.id),
                run.who(child.id)
            ));
        }
    }
    problems
}

/// The pinned names no child carries, each with the near miss seen instead, and the
/// names children carry that were not pinned.
pub fn pinned_name_problems(run: &Run, p: &StartParams, observed: &Observed) -> Vec<String> {
    if p.names.is_empty() {
        return Vec::new();
    }
    let carried: Vec<(&ChildLines, &str)> = observed
        .children
        .iter()
        .filter_map(|c| c.name().map(|n| (c, n)))
        .collect();
    let mut problems = Vec::new();
    let mut explained: Vec<&str> = Vec::new();
    for wanted in &p.names {
        if carried.iter().any(|(_, n)| n == wanted) {
            continue;
        }
        let near = carried
            .iter()
            .find(|(_, n)| !p.names.iter().any(|w| w == n) && near_miss(wanted, n));
        problems.push(match near {
            Some((child, seen)) => {
                explained.push(seen);
                let line = child.starts.first().or(child.ends.first());
                format!(
                    "expected a child named `{wanted}`; {} wrote `{}`: `{seen}` is a near miss \
                     of `{wanted}`",
                    run.who(child.id),
                    line.map_or("", |l| l.line.text.as_str())
                )
            }
            None => format!(
                "no child wrote `{}` (the names are pinned: {})",
                p.start_patterns().example(wanted),
                p.names.join(", ")
            ),
        });
    }
    for (child, seen) in &carried {
        if !p.names.iter().any(|w| w == seen) && !explained.contains(seen) {
            problems.push(format!(
                "{} calls itself `{seen}`, which is not one of the pinned names ({})",
                run.who(child.id),
                p.names.join(", ")
            ));
        }
    }
    problems
}
