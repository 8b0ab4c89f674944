//! `daemon`: a daemon child ends with the main program, before its end line; a normal
//! child runs to completion.
//!
//! Which child is the daemon is judged from what happened, not from names: the child
//! that died of a signal (Python terminates daemonic children at exit); when no child
//! did, the one that ended last (the would-be daemon that ran to completion).

use crate::ledger::{ExitStatus, ProcId};

use super::check::{Outcome, Run, describe_status};
use super::common;
use super::params::{DaemonParams, compiled};

/// `child-count`: exactly two children.
pub fn child_count(run: &Run) -> Outcome {
    common::child_count(run, 2, &|_| false)
}

/// The (daemon, normal) children.
pub fn roles(run: &Run) -> Option<(ProcId, ProcId)> {
    let kids = run.children();
    let [a, b] = kids[..] else { return None };
    let ended_early = |id: ProcId| {
        matches!(
            run.tree.processes[id].exited,
            None | Some((_, ExitStatus::Signal { .. } | ExitStatus::Killed))
        )
    };
    let daemon = match (ended_early(a), ended_early(b)) {
        (true, false) => a,
        (false, true) => b,
        _ if run.exit_seq(a) >= run.exit_seq(b) => a,
        _ => b,
    };
    Some((daemon, if daemon == a { b } else { a }))
}

fn no_pair(run: &Run) -> Outcome {
    Outcome::fail(format!(
        "expected a daemon child and a normal child; the main process has {} child process(es)",
        run.children().len()
    ))
}

/// Did `id` write an end line (one that matches `end_line`)?
fn end_line<'r>(run: &'r Run, id: ProcId, p: &DaemonParams) -> Option<&'r str> {
    let patterns = compiled(&p.end_line);
    run.lines_of(id)
        .map(|l| l.text.trim_end())
        .find(|t| patterns.is_match(t))
}

/// `daemon-ended`: the daemon child was killed (by a signal) before the main process
/// exited.
pub fn daemon_ended(run: &Run) -> Outcome {
    let (Some(main), Some((daemon, _))) = (run.main(), roles(run)) else {
        return no_pair(run);
    };
    let status = run.tree.processes[daemon].exited.map(|(_, s)| s);
    let expected = "expected the daemon child to be ended when the main program finishes";
    match status {
        Some(ExitStatus::Signal { .. }) if run.exit_seq(daemon) < run.exit_seq(main) => {
            Outcome::pass(format!(
                "the daemon child ({}) was {} as the main program finished",
                run.who(daemon),
                describe_status(status)
            ))
        }
        Some(ExitStatus::Code { code }) => Outcome::fail(format!(
            "{expected}; no child was ended early — the longer one ({}) ran to completion \
             (exit code {code}): it was not a daemon. Set `p.daemon = True` before `p.start()`",
            run.who(daemon)
        )),
        _ => Outcome::fail(format!(
            "{expected}; the daemon child ({}) outlived the main process: {}",
            run.who(daemon),
            describe_status(status)
        )),
    }
}

/// `daemon-no-end-line`: the daemon child never wrote its end line.
pub fn daemon_no_end_line(run: &Run, p: &DaemonParams) -> Outcome {
    let Some((daemon, _)) = roles(run) else {
        return no_pair(run);
    };
    match end_line(run, daemon, p) {
        None => Outcome::pass(format!(
            "the daemon child ({}) never wrote its end line",
            run.who(daemon)
        )),
        Some(text) => Outcome::fail(format!(
            "expected the daemon child to be ended before its end line; {} wrote `{text}`: it \
             ran to completion, so it was not a daemon (or the main program waited for it)",
            run.who(daemon)
        )),
    }
}

/// `normal-completes`: the normal child wrote its end line and exited 0.
pub fn normal_completes(run: &Run, p: &DaemonParams) -> Outcome {
    let Some((_, normal)) = roles(run) else {
        return no_pair(run);
    };
    let status = run.tree.processes[normal].exited.map(|(_, s)| s);
    let expected = "expected the normal child to run to completion";
    match (status, end_line(run, normal, p)) {
        (Some(ExitStatus::Code { code: 0 }), Some(text)) => Outcome::pass(format!(
            "the normal child ({}) wrote `{text}` and exited 0",
            run.who(normal)
        )),
        (Some(ExitStatus::Code { code: 0 }), None) => Outcome::fail(format!(
            "{expected}; {} exited 0 but never wrote an end line ({})",
            run.who(normal),
            compiled(&p.end_line).describe()
        )),
        (other, _) => Outcome::fail(format!(
            "{expected}; {} {}{}",
            run.who(normal),
            describe_status(other),
            if matches!(other, Some(ExitStatus::Signal { .. })) {
                " — only daemon children are terminated at exit; was it made a daemon too?"
            } else {
                ""
            }
        )),
    }
}
