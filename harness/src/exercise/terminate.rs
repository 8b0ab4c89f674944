//! `terminate`: the parent sends SIGTERM to its child, which dies of it, is reaped, and
//! whose exit code (-15) the parent prints.

use crate::ledger::{EventKind, ExitStatus, ProcId, Role};

use super::check::{Outcome, Run, describe_status, last_int, signal_name};
use super::common;
use super::params::TerminateParams;

/// `child-count`: exactly one child.
pub fn child_count(run: &Run) -> Outcome {
    common::child_count(run, 1, &|_| false)
}

/// The child the exercise is about: the one the main process signalled; else the one
/// that died of a signal; else the first. With two children where the second is
/// terminated, the second is judged (`child-count` reports the extra one).
pub fn target(run: &Run) -> Option<ProcId> {
    let kids = run.children();
    let main = run.main()?;
    let signalled = run.ledger.events.iter().find_map(|e| match e.kind {
        EventKind::Signal { from, to, .. } if run.tree.at(from, e.seq) == Some(main) => kids
            .iter()
            .copied()
            .find(|&k| run.tree.processes[k].pid == to.abs()),
        _ => None,
    });
    let died = || {
        kids.iter().copied().find(|&k| {
            matches!(
                run.tree.processes[k].exited,
                Some((_, ExitStatus::Signal { .. }))
            )
        })
    };
    signalled.or_else(died).or(kids.first().copied())
}

/// `sigterm-sent`: the main process sent the signal to its child.
pub fn sigterm_sent(run: &Run, p: &TerminateParams) -> Outcome {
    let (Some(main), Some(child)) = (run.main(), target(run)) else {
        return Outcome::fail("expected a child for the main process to terminate; there is none");
    };
    let pid = run.tree.processes[child].pid;
    let name = signal_name(p.signal);
    let sent: Vec<(usize, i32)> = run
        .ledger
        .events
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::Signal { from, to, signal } if to == pid || to == -pid => {
                run.tree.at(from, e.seq).map(|sender| (sender, signal))
            }
            _ => None,
        })
        .collect();
    if sent
        .iter()
        .any(|&(from, sig)| from == main && sig == p.signal)
    {
        return Outcome::pass(format!(
            "the main process sent {name} to its child (pid {pid})"
        ));
    }
    let expected = format!("expected the main process to send {name} to its child (pid {pid})");
    if let Some(&(_, sig)) = sent.iter().find(|&&(from, _)| from == main) {
        let hint = if sig == libc::SIGKILL {
            ": `kill()` sends SIGKILL; `terminate()` sends SIGTERM"
        } else {
            ""
        };
        return Outcome::fail(format!(
            "{expected}; it sent {} instead{hint}",
            signal_name(sig)
        ));
    }
    if let Some(&(from, sig)) = sent.first() {
        return Outcome::fail(format!(
            "{expected}; the only signal to the child was {} from {}",
            signal_name(sig),
            run.who(from)
        ));
    }
    Outcome::fail(format!(
        "{expected}; the child was never sent a signal: call `p.terminate()` while it runs"
    ))
}

/// `child-died-sigterm`: the child was killed by the signal.
pub fn child_died(run: &Run, p: &TerminateParams) -> Outcome {
    let Some(child) = target(run) else {
        return Outcome::fail("expected a child to die of SIGTERM; there is no child process");
    };
    let status = run.tree.processes[child].exited.map(|(_, s)| s);
    let name = signal_name(p.signal);
    match status {
        Some(ExitStatus::Signal { signal, .. }) if signal == p.signal => {
            Outcome::pass(format!("the child ({}) died of {name}", run.who(child)))
        }
        Some(ExitStatus::Code { code }) => Outcome::fail(format!(
            "expected the child to die of {name}; it exited on its own with code {code}: it \
             was never terminated (or it caught the signal)"
        )),
        other => Outcome::fail(format!(
            "expected the child to die of {name}; it ended with: {}",
            describe_status(other)
        )),
    }
}

/// `exitcode-printed`: the main process printed the child's exit code, -15.
pub fn exitcode_printed(run: &Run, p: &TerminateParams) -> Outcome {
    let Some(main) = run.main() else {
        return Outcome::fail("the program never started (no main process in the ledger)");
    };
    let want = -i64::from(p.signal);
    let printed: Vec<i64> = run
        .lines_of(main)
        .filter_map(|l| last_int(&l.text))
        .collect();
    if printed.contains(&want) {
        return Outcome::pass(format!("the main process printed the exit code {want}"));
    }
    let expected = format!(
        "expected the main process to print the child's exit code {want} (Python's exitcode \
         is -N for a child killed by signal N)"
    );
    match printed.last() {
        Some(v) => Outcome::fail(format!("{expected}; the last number it printed was {v}")),
        None => Outcome::fail(format!("{expected}; it printed no number")),
    }
}

/// `child-reaped`: the main process collected the child's exit status (join()).
pub fn child_reaped(run: &Run) -> Outcome {
    let (Some(main), Some(child)) = (run.main(), target(run)) else {
        return Outcome::fail("expected a child to be reaped; there is no child process");
    };
    let p = &run.tree.processes[child];
    match p.reaped_by {
        // SIG_IGN or SA_NOCLDWAIT: no zombie to collect; join() then finds no child.
        Some(_) if p.reaped_by_kernel => {
            Outcome::pass("the child was reaped by the kernel (the parent ignores SIGCHLD)")
        }
        Some((by, _)) if by == main => {
            Outcome::pass("the main process reaped its child (join() collected its status)")
        }
        // A forkserver (Python's, or the library's zygote) reaps the children it forked
        // and hands their status to the main process's join().
        Some((by, _)) if run.tree.processes[by].role == Role::Helper => Outcome::pass(format!(
            "the child was reaped by the forkserver ({}) on the main process's behalf",
            run.who(by)
        )),
        Some((by, _)) => Outcome::fail(format!(
            "expected the main process to reap its child; {} did",
            run.who(by)
        )),
        None => Outcome::fail(
            "expected the main process to reap its child; nobody collected its exit status, so \
             it stayed a zombie: call `p.join()` after terminate()",
        ),
    }
}
