//! Tree, roles and lines over hand-built ledgers.

use super::builder::LedgerBuilder;
use super::*;

const PY: &str = "/root/.pyenv/versions/3.11.7/bin/python3.11";

/// pyenv's shim: env → bash (forks helpers) → pyenv → python, all in the root pid.
fn through_shim() -> LedgerBuilder {
    let mut b = LedgerBuilder::new(100, &["/usr/bin/env", "bash", "/root/.pyenv/shims/python3"]);
    b.exec(
        100,
        &["/usr/bin/bash", "/root/.pyenv/shims/python3", "s.py"],
    )
    .fork(100, 101)
    .exec(101, &["/usr/bin/cat", "version"])
    .exit(101, 0)
    .reap(100, 101)
    .exec(100, &[PY, "s.py"]);
    b
}

#[test]
fn shim_processes_are_launchers_and_the_final_exec_is_main() {
    let mut b = through_shim();
    b.fork(100, 102)
        .out(102, "egon piaoing\n")
        .exit(102, 0)
        .exit(100, 0);
    let tree = ProcessTree::from_ledger(&b.build());
    let main = tree.main.unwrap();
    assert_eq!(tree.processes[main].pid, 100);
    let roles: Vec<(Pid, Role)> = tree.processes.iter().map(|p| (p.pid, p.role)).collect();
    assert_eq!(
        roles,
        vec![
            (100, Role::Program),
            (101, Role::Launcher),
            (102, Role::Program)
        ]
    );
    assert_eq!(tree.program_children(main).len(), 1);
}

#[test]
fn a_shell_wrapper_that_does_not_exec_is_a_launcher() {
    let mut b = LedgerBuilder::new(10, &["/bin/sh", "run.sh"]);
    b.fork(10, 11)
        .exec(11, &[PY, "s.py"])
        .fork(11, 12)
        .exit(12, 0)
        .exit(11, 0)
        .fork(10, 13)
        .exec(13, &["/bin/echo", "done"])
        .exit(13, 0)
        .exit(10, 0);
    let tree = ProcessTree::from_ledger(&b.build());
    let main = tree.main.unwrap();
    // The wrapper also ran `echo` afterwards: the program is the bigger subtree.
    assert_eq!(tree.processes[main].pid, 11);
    assert_eq!(
        tree.processes[tree.at(13, u64::MAX).unwrap()].role,
        Role::Launcher
    );
    assert_eq!(tree.program_children(main).len(), 1);
    assert_eq!(tree.processes[tree.root.unwrap()].role, Role::Launcher);
}

#[test]
fn interpreter_helpers_are_not_the_programs_and_forkserver_children_belong_to_main() {
    let mut b = through_shim();
    b.fork(100, 200)
        .exec(
            200,
            &[
                PY,
                "-c",
                "from multiprocessing.forkserver import main; main(3)",
            ],
        )
        .fork(200, 201)
        .fork(200, 202)
        .thread(100, 150)
        .exit(201, 0)
        .exit(202, 0);
    let tree = ProcessTree::from_ledger(&b.build());
    let main = tree.main.unwrap();
    let server = tree.at(200, u64::MAX).unwrap();
    assert_eq!(tree.processes[server].role, Role::Helper);
    let children = tree.program_children(main);
    let pids: Vec<Pid> = children.iter().map(|&c| tree.processes[c].pid).collect();
    assert_eq!(
        pids,
        vec![201, 202],
        "threads are not processes, helpers are skipped"
    );
}

#[test]
fn reused_pids_are_distinct_processes() {
    let mut b = LedgerBuilder::new(1, &[PY, "s.py"]);
    b.fork(1, 2)
        .exit(2, 0)
        .reap(1, 2)
        .fork(1, 2)
        .exit(2, 3)
        .reap(1, 2);
    let tree = ProcessTree::from_ledger(&b.build());
    assert_eq!(tree.program_children(tree.main.unwrap()).len(), 2);
    assert!(tree.processes.iter().skip(1).all(|p| p.reaped_by.is_some()));
    let statuses: Vec<_> = tree
        .processes
        .iter()
        .skip(1)
        .map(|p| p.exited.unwrap().1)
        .collect();
    assert_eq!(statuses[1], ExitStatus::Code { code: 3 });
}

#[test]
fn lifetimes_overlap_only_when_all_alive_at_once() {
    let mut b = LedgerBuilder::new(1, &[PY]);
    b.fork(1, 2)
        .fork(1, 3)
        .exit(2, 0)
        .fork(1, 4)
        .exit(3, 0)
        .exit(4, 0);
    let tree = ProcessTree::from_ledger(&b.build());
    let ids = |pids: &[Pid]| -> Vec<ProcId> {
        pids.iter()
            .map(|&p| tree.at(p, u64::MAX).unwrap())
            .collect()
    };
    assert!(tree.alive_together(&ids(&[2, 3])));
    assert!(tree.alive_together(&ids(&[3, 4])));
    assert!(!tree.alive_together(&ids(&[2, 3, 4])));
}

#[test]
fn lines_are_attributed_per_process_even_when_writes_interleave() {
    let mut b = LedgerBuilder::new(1, &[PY]);
    b.fork(1, 2)
        .out(2, "egon pia")
        .out(1, "主\n")
        .out(2, "oing\nlast")
        .exit(2, 0);
    let ledger = b.build();
    let tree = ProcessTree::from_ledger(&ledger);
    let got: Vec<(Pid, String)> = lines(&ledger.events, &tree)
        .into_iter()
        .map(|l| (tree.processes[l.process].pid, l.text))
        .collect();
    assert_eq!(
        got,
        vec![
            (1, "主".to_string()),
            (2, "egon piaoing".to_string()),
            (2, "last".to_string())
        ]
    );
}

#[test]
fn ledger_json_round_trips() {
    let mut b = through_shim();
    b.signal(100, 101, 15).out(100, "x\n").exit(100, 0);
    let ledger = b.build();
    let json = serde_json::to_string(&ledger).unwrap();
    assert!(json.contains("\"event\":\"spawn\""));
    let back: Ledger = serde_json::from_str(&json).unwrap();
    assert_eq!(back, ledger);
}

#[test]
fn kernel_reaps_count_as_reaps_of_the_parent() {
    let mut b = LedgerBuilder::new(1, &[PY, "server.py"]);
    b.sigchld(1, true, false)
        .fork(1, 2)
        .exit(2, 0)
        .kernel_reap(1, 2)
        .fork(1, 3)
        .exit(3, 0)
        .reap(1, 3)
        // A reused pid after a kernel reap is a new process.
        .fork(1, 2)
        .exit(2, 0)
        .kernel_reap(1, 2);
    let tree = ProcessTree::from_ledger(&b.build());
    let kids: Vec<&Process> = tree.processes.iter().skip(1).collect();
    assert_eq!(kids.len(), 3);
    assert!(kids.iter().all(|p| p.reaped_by.map(|(r, _)| r) == Some(0)));
    let by_kernel: Vec<bool> = kids.iter().map(|p| p.reaped_by_kernel).collect();
    assert_eq!(by_kernel, vec![true, false, true]);
    // The kernel's reap comes right after the exit: no time as a zombie.
    for p in &kids {
        assert!(p.reaped_by.unwrap().1.seq > p.exited.unwrap().0.seq);
    }
}

#[test]
fn a_wait_after_a_kernel_reap_does_not_move_it() {
    let mut b = LedgerBuilder::new(1, &[PY, "server.py"]);
    b.fork(1, 2).exit(2, 0).kernel_reap(1, 2).reap(1, 2);
    let tree = ProcessTree::from_ledger(&b.build());
    assert!(tree.processes[1].reaped_by_kernel);
}

#[test]
fn disposition_events_round_trip_as_json() {
    let mut b = LedgerBuilder::new(1, &[PY, "server.py"]);
    b.sigchld(1, false, true).kernel_reap(1, 2);
    let ledger = b.build();
    let json = serde_json::to_string(&ledger).unwrap();
    assert!(
        json.contains(r#""event":"sigchld_disposition","pid":1,"ignore":false,"nocldwait":true"#),
        "{json}"
    );
    assert!(
        json.contains(r#""event":"kernel_reap","parent":1,"reaped":2"#),
        "{json}"
    );
    let back: Ledger = serde_json::from_str(&json).unwrap();
    assert_eq!(back, ledger);
}
