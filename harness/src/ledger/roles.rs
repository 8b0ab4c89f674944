//! Which processes are the program's own.
//!
//! A submission is often started through a launcher: `python3` here is pyenv's shim (a
//! bash script that forks helpers, then execs the real interpreter), an instructor may
//! wrap a program in `sh -c` or a script that does not exec. And interpreters start
//! helpers of their own (Python's `resource_tracker` and `forkserver`). Neither is the
//! student's process, and counting them would fail a correct submission.
//!
//! Rules, in order:
//! 1. The main process is found by following the root: while a process's final image
//!    is a launcher (a shell, `env`, a shim) and it ran commands in children after that
//!    exec, the main process is the child with the largest subtree (the first on a tie);
//!    otherwise it is this process.
//! 2. Launchers: the main process's ancestors, and every process created before the
//!    main process's final exec that is not the main process (or one of its ancestors'
//!    later children), with their descendants.
//! 3. Helpers: processes whose exec runs an interpreter's helper module.
//! 4. Program: the main process and its other descendants. A program process's
//!    logical parent is its nearest program ancestor (forkserver children belong to the
//!    process that asked the forkserver for them).

use super::tree::{ProcId, ProcessTree, Role};

/// Executable basenames that only launch another program.
const LAUNCHERS: &[&str] = &[
    "sh",
    "bash",
    "dash",
    "zsh",
    "ksh",
    "busybox",
    "env",
    "nice",
    "nohup",
    "timeout",
    "stdbuf",
    "pyenv",
    "pyenv-exec",
    "asdf",
    "mise",
    "uv",
    "poetry",
    "pipenv",
    "time",
];

/// Substrings of an interpreter helper's argv.
const HELPER_MARKERS: &[&str] = &[
    "multiprocessing.resource_tracker",
    "multiprocessing.semaphore_tracker",
    "multiprocessing.forkserver",
];

/// Is this argv0/path a launcher?
pub fn is_launcher_image(path: &str) -> bool {
    let base = path.rsplit('/').next().unwrap_or(path);
    LAUNCHERS.contains(&base)
}

/// Is this argv an interpreter's helper process?
pub fn is_helper_argv(argv: &[String]) -> bool {
    argv.iter()
        .any(|arg| HELPER_MARKERS.iter().any(|marker| arg.contains(marker)))
}

/// Fill in `role`, `logical_parent` and `main` for every process of `tree`.
pub(crate) fn assign(tree: &mut ProcessTree) {
    let Some(root) = tree.root else { return };
    let main = find_main(tree, root);
    tree.main = Some(main);
    let main_exec_seq = tree.processes[main]
        .execs
        .last()
        .map_or(tree.processes[main].started.seq, |e| e.seq);

    let ancestors: Vec<ProcId> = tree.ancestors(main).skip(1).collect();
    // Processes in creation order, so a parent's role is known before its children's.
    for id in 0..tree.processes.len() {
        let process = &tree.processes[id];
        let parent_role = process.parent.map(|p| tree.processes[p].role);
        let role = if id == main {
            Role::Program
        } else if ancestors.contains(&id) {
            Role::Launcher
        } else if process
            .execs
            .last()
            .is_some_and(|e| is_helper_argv(&e.argv))
        {
            Role::Helper
        } else {
            match (process.parent, parent_role) {
                // What the main process forked before its final exec belongs to the
                // launcher it was then (pyenv's shim forks helpers, then execs Python).
                (Some(p), _) if p == main && process.started.seq < main_exec_seq => Role::Launcher,
                // A helper's fork without exec serves the program (forkserver children).
                (_, Some(Role::Helper | Role::Program)) => Role::Program,
                _ => Role::Launcher,
            }
        };
        tree.processes[id].role = role;
    }
    for id in 0..tree.processes.len() {
        if tree.processes[id].role != Role::Program || id == main {
            continue;
        }
        let logical = tree
            .ancestors(id)
            .skip(1)
            .find(|&a| tree.processes[a].role == Role::Program);
        tree.processes[id].logical_parent = logical;
    }
}

/// Follow the root through launchers to the program's main process.
fn find_main(tree: &ProcessTree, root: ProcId) -> ProcId {
    let mut current = root;
    loop {
        let process = &tree.processes[current];
        let Some(image) = process.execs.last() else {
            return current;
        };
        let launcher = is_launcher_image(&image.path)
            || image.argv.first().is_some_and(|a| is_launcher_image(a));
        if !launcher {
            return current;
        }
        // The launcher ran the program in a child created after its final exec, one that
        // exec'd (a shell's command line forks then execs). Of several (a wrapper that
        // also runs `basename` or `echo`), the program is the one with the largest
        // process subtree; on a tie, the one that lived across the most ledger events
        // (a threaded program with no child is still longer-lived than `basename`).
        let next = process
            .children
            .iter()
            .copied()
            .filter(|&c| {
                tree.processes[c].started.seq > image.seq && !tree.processes[c].execs.is_empty()
            })
            .max_by_key(|&c| {
                (
                    subtree_size(tree, c),
                    lifetime(tree, c),
                    std::cmp::Reverse(c),
                )
            });
        match next {
            Some(child) => current = child,
            None => return current,
        }
    }
}

/// How many ledger events `id` lived across (up to the end when it never exited).
fn lifetime(tree: &ProcessTree, id: ProcId) -> u64 {
    let process = &tree.processes[id];
    let end = process.exited.map_or(u64::MAX, |(moment, _)| moment.seq);
    end.saturating_sub(process.started.seq)
}

/// Number of processes in the subtree rooted at `id`.
fn subtree_size(tree: &ProcessTree, id: ProcId) -> usize {
    1 + tree.processes[id]
        .children
        .iter()
        .map(|&c| subtree_size(tree, c))
        .sum::<usize>()
}
