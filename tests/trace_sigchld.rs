//! SIGCHLD dispositions end to end: the ledger records SIG_IGN and its undoing, follows
//! them through fork and exec, and records a kernel reap for each child whose parent
//! ignores SIGCHLD; the program starts at SIG_DFL even when the grader ignores SIGCHLD.

#[path = "trace_common.rs"]
mod common;

use std::os::unix::process::CommandExt;
use std::process::Command;

use common::*;
use nix::sys::signal::{SigHandler, Signal, signal};
use proclab::ledger::{EventKind, Ledger, Pid, ProcessTree, Role};

/// `proclab trace` of sigchld.py, `proclab` itself started with SIGCHLD ignored.
fn trace_with_sigchld_ignored(format: &str) -> std::process::Output {
    let mut cmd: Command = proclab_command();
    cmd.args(["trace", "--format", format, "--", "python3"])
        .arg(program("sigchld.py"));
    // SAFETY: setting a disposition to SIG_IGN is async-signal-safe (signal-safety(7)).
    unsafe {
        cmd.pre_exec(|| {
            signal(Signal::SIGCHLD, SigHandler::SigIgn)
                .map(drop)
                .map_err(std::io::Error::from)
        })
    };
    let out = cmd.output().expect("running proclab");
    assert_eq!(
        out.status.code(),
        Some(0),
        "proclab trace failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn kernel_reaps(ledger: &Ledger) -> Vec<(Pid, Pid)> {
    ledger
        .events
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::KernelReap { parent, reaped } => Some((parent, reaped)),
            _ => None,
        })
        .collect()
}

#[test]
fn dispositions_and_kernel_reaps_follow_fork_and_exec() {
    let out = trace_with_sigchld_ignored("json");
    let ledger: Ledger = serde_json::from_slice(&out.stdout).expect("the ledger is valid JSON");
    let tree = ProcessTree::from_ledger(&ledger);
    let main = tree.main.expect("a main process");
    let main_pid = tree.processes[main].pid;
    let program: Vec<Pid> = tree.with_role(Role::Program).map(|p| p.pid).collect();

    // The grader's own SIG_IGN did not leak into the program.
    let printed = stdout_of(&ledger, main_pid);
    assert!(printed.starts_with("started with SIG_DFL\n"), "{printed}");

    // The main process's changes, and only its changes (a handler over SIG_IGN ends the
    // ignoring; SIG_DFL over a handler changes nothing).
    let changes: Vec<(Pid, bool, bool)> = ledger
        .events
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::SigchldDisposition {
                pid,
                ignore,
                nocldwait,
            } if program.contains(&pid) => Some((pid, ignore, nocldwait)),
            _ => None,
        })
        .collect();
    assert_eq!(
        changes,
        vec![(main_pid, true, false), (main_pid, false, false)]
    );

    // Step 1: three children of the main process and one grandchild (its exec'd parent
    // kept SIG_IGN) reaped by the kernel, each right after its exit.
    let reaps = kernel_reaps(&ledger);
    let by_main: Vec<Pid> = reaps
        .iter()
        .filter(|(p, _)| *p == main_pid)
        .map(|&(_, c)| c)
        .collect();
    assert_eq!(by_main.len(), 3, "{reaps:?}");
    let execd: Vec<&proclab::ledger::Process> = tree
        .with_role(Role::Program)
        .filter(|p| !p.execs.is_empty() && Some(p.id) != tree.main)
        .collect();
    assert_eq!(execd.len(), 2, "the two exec'd children");
    let (first, second) = (execd[0], execd[1]);
    assert!(by_main.contains(&first.pid));
    let grandchild = tree.processes[first.children[0]].pid;
    assert_eq!(
        reaps
            .iter()
            .filter(|(p, _)| *p == first.pid)
            .collect::<Vec<_>>(),
        vec![&(first.pid, grandchild)],
        "SIG_IGN survives exec"
    );
    for (_, reaped) in &reaps {
        let at = ledger.events.iter().position(
            |e| matches!(e.kind, EventKind::KernelReap { reaped: r, .. } if r == *reaped),
        );
        let exit = ledger
            .events
            .iter()
            .position(|e| matches!(e.kind, EventKind::Exit { pid, .. } if pid == *reaped));
        assert_eq!(
            at,
            exit.map(|i| i + 1),
            "{reaped}: the kernel reap follows its exit"
        );
    }

    // Step 2: the handler became SIG_DFL across exec, so the exec'd child waited.
    let second_kid = tree.processes[second.children[0]].pid;
    assert!(
        find(&ledger, |k| matches!(k, EventKind::Reap { reaper, reaped } if *reaper == second.pid && *reaped == second_kid)).is_some(),
        "a handler does not survive exec"
    );
    assert_eq!(
        stdout_of(&ledger, first.pid),
        "exec ignored=True kernel-reaped\n"
    );
    assert_eq!(
        stdout_of(&ledger, second.pid),
        "exec ignored=False waited\n"
    );

    // Every program process but the main one was reaped, by a wait or by the kernel.
    for p in tree
        .with_role(Role::Program)
        .filter(|p| Some(p.id) != tree.main)
    {
        assert!(p.reaped_by.is_some(), "pid {} never reaped", p.pid);
        assert_eq!(
            p.reaped_by_kernel,
            reaps.iter().any(|(_, c)| *c == p.pid),
            "pid {}",
            p.pid
        );
    }
    assert!(printed.ends_with("done\n"), "{printed}");
    assert_nothing_left(&ledger);
}

#[test]
fn the_text_timeline_names_kernel_reaps() {
    let out = trace_with_sigchld_ignored("text");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("ignores SIGCHLD (SIG_IGN): the kernel reaps its children"),
        "{text}"
    );
    assert_eq!(
        text.matches("reaped by the kernel (the parent ignores SIGCHLD)")
            .count(),
        4,
        "{text}"
    );
    assert!(
        text.contains("stops ignoring SIGCHLD: its children wait to be reaped"),
        "{text}"
    );
}

#[test]
fn sa_nocldwait_reaps_until_exec_clears_it() {
    let (ledger, _) = trace_json(&[], &["python3", &program("nocldwait.py")]);
    let tree = ProcessTree::from_ledger(&ledger);
    let main_pid = tree.processes[tree.main.expect("a main process")].pid;
    assert_eq!(
        stdout_of(&ledger, main_pid),
        "before exec: kernel-reaped\nafter exec: waited\n"
    );
    let set = find(&ledger, |k| {
        matches!(
            k,
            EventKind::SigchldDisposition {
                pid,
                ignore: false,
                nocldwait: true
            } if *pid == main_pid
        )
    })
    .expect("the SA_NOCLDWAIT call is recorded");
    // Children of the main process's pid after that call (the first one counts as a
    // launcher's: it was forked before the final exec).
    let main = tree.main.unwrap();
    let kids: Vec<&proclab::ledger::Process> = tree.processes[main]
        .children
        .iter()
        .map(|&id| &tree.processes[id])
        .filter(|p| p.started.seq > set.seq)
        .collect();
    assert_eq!(kids.len(), 2, "{kids:?}");
    assert!(kids[0].reaped_by_kernel, "before exec");
    assert!(
        !kids[1].reaped_by_kernel && kids[1].reaped_by.is_some(),
        "after exec: waited for"
    );
    assert_eq!(kernel_reaps(&ledger), vec![(main_pid, kids[0].pid)]);
}
