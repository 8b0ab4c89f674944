//! `proclab trace` end to end: bad input, what the ledger records for a known family of
//! processes (counts, exits, signals, reaps, exec argv, line attribution), Python output
//! timing without PYTHONUNBUFFERED, launcher marking, the text format.

#[path = "trace_common.rs"]
mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use common::*;
use proclab::ledger::{EventKind, ExitStatus, ProcessTree, Role};

#[test]
fn a_missing_command_is_bad_input() {
    let out = proclab_command()
        .args(["trace", "--", "/no/such/program", "arg"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("command not found: /no/such/program"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let out = proclab_command()
        .args(["trace", "--", "no-such-program-anywhere"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        out.stderr.iter().filter(|&&b| b == b'\n').count(),
        1,
        "one line"
    );
}

#[test]
fn a_non_executable_file_is_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("prog.py");
    std::fs::write(&file, "print('hi')\n").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = proclab_command()
        .args(["trace", "--"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not executable"), "{err}");
    // A directory is not a program either.
    let out = proclab_command()
        .args(["trace", "--"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is a directory"));
}

#[test]
fn no_command_is_bad_input() {
    let out = proclab_command().args(["trace", "--"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_known_family_is_recorded_exactly() {
    let (ledger, _) = trace_json(&[], &["python3", &program("family.py")]);
    let tree = ProcessTree::from_ledger(&ledger);
    let main = tree.main.expect("a main process");
    let main_pid = tree.processes[main].pid;
    assert_eq!(ledger.root_status, Some(ExitStatus::Code { code: 5 }));

    // Three child processes of the main process; the thread is not one of them.
    let children: Vec<i32> = process_spawns(&ledger)
        .into_iter()
        .filter(|(parent, _)| *parent == main_pid)
        .map(|(_, child)| child)
        .filter(|c| tree.processes[tree.at(*c, u64::MAX).unwrap()].role == Role::Program)
        .collect();
    assert_eq!(children.len(), 3, "children: {children:?}");
    let threads = ledger
        .events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Spawn { thread: true, parent, .. } if parent == main_pid))
        .count();
    assert_eq!(threads, 1);
    let (a, b, c) = (children[0], children[1], children[2]);

    let exit_of = |pid| {
        ledger.events.iter().find_map(|e| match e.kind {
            EventKind::Exit { pid: p, status } if p == pid => Some(status),
            _ => None,
        })
    };
    assert_eq!(exit_of(a), Some(ExitStatus::Code { code: 3 }));
    assert_eq!(
        exit_of(b),
        Some(ExitStatus::Signal {
            signal: 15,
            core: false
        })
    );
    assert_eq!(exit_of(c), Some(ExitStatus::Code { code: 0 }));

    // The parent's SIGTERM to b, before b's death.
    let sent = find(&ledger, |k| matches!(k, EventKind::Signal { from, to, signal: 15 } if *from == main_pid && *to == b))
        .expect("SIGTERM recorded");
    let died = find(
        &ledger,
        |k| matches!(k, EventKind::Exit { pid, .. } if *pid == b),
    )
    .unwrap();
    assert!(sent.seq < died.seq);

    // Every child reaped by the parent, after its exit.
    for child in [a, b, c] {
        let reap = find(&ledger, |k| matches!(k, EventKind::Reap { reaper, reaped } if *reaper == main_pid && *reaped == child))
            .unwrap_or_else(|| panic!("{child} reaped"));
        let exit = find(
            &ledger,
            |k| matches!(k, EventKind::Exit { pid, .. } if *pid == child),
        )
        .unwrap();
        assert!(exit.seq < reap.seq);
    }

    // c's exec, argv exactly as given.
    let exec = find(
        &ledger,
        |k| matches!(k, EventKind::Exec { pid, .. } if *pid == c),
    )
    .unwrap();
    let EventKind::Exec { path, argv, .. } = &exec.kind else {
        unreachable!()
    };
    assert!(path.ends_with("/echo"), "{path}");
    assert_eq!(argv, &["echo", "child c", "exec with  spaces"]);

    // Every line from the process (and thread) that wrote it.
    assert_eq!(stdout_of(&ledger, a), "child a exits 3\n");
    assert_eq!(stdout_of(&ledger, b), "child b waits for SIGTERM\n");
    assert_eq!(stdout_of(&ledger, c), "child c exec with  spaces\n");
    assert_eq!(
        stdout_of(&ledger, main_pid),
        "parent up\nthread says hi\nparent done, b ended by signal 15\n"
    );
    let thread_write = find(
        &ledger,
        |k| matches!(k, EventKind::Write { text, .. } if text.starts_with("thread says")),
    );
    assert!(
        matches!(thread_write.unwrap().kind, EventKind::Write { pid, tid, .. } if pid == main_pid && tid != pid)
    );
    assert_nothing_left(&ledger);
}

#[test]
fn a_python_childs_print_is_seen_when_called_without_pythonunbuffered() {
    let out = proclab_command()
        .args([
            "trace",
            "--format",
            "json",
            "--",
            "python3",
            &program("slow_print.py"),
        ])
        .env_remove("PYTHONUNBUFFERED")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let ledger: proclab::ledger::Ledger = serde_json::from_slice(&out.stdout).unwrap();
    let at = |needle: &str| {
        ledger
            .events
            .iter()
            .find(|e| matches!(&e.kind, EventKind::Write { text, .. } if text.contains(needle)))
            .map(|e| e.t_ns)
            .unwrap_or_else(|| panic!("{needle} written"))
    };
    let gap = at("child second") - at("child first");
    assert!(
        gap >= 400_000_000,
        "the first print reached the pipe only {gap} ns before the second"
    );
}

#[test]
fn a_rust_program_has_exactly_its_four_children() {
    let (ledger, _) = trace_json(&[], &[env!("CARGO_BIN_EXE_fx-start-target-good")]);
    let spawns = process_spawns(&ledger);
    assert_eq!(spawns.len(), 4, "{spawns:?}");
    assert!(spawns.iter().all(|(parent, _)| *parent == ledger.root));
    for (_, child) in &spawns {
        let text = stdout_of(&ledger, *child);
        assert_eq!(text.lines().count(), 2, "child {child} wrote {text:?}");
        assert!(text.lines().next().unwrap().ends_with(" piaoing"));
    }
    assert_nothing_left(&ledger);
}

/// Orphans finish within the linger and the run ends with them, not when the linger
/// would run out: a 20 s linger, children that sleep 1 s.
#[test]
fn orphans_finish_within_the_linger_and_the_run_ends_with_them() {
    let started = std::time::Instant::now();
    let (ledger, _) = trace_json(
        &["--linger", "20s"],
        &[env!("CARGO_BIN_EXE_fx-start-target-fork-no-wait")],
    );
    let took = started.elapsed();
    assert!(took < std::time::Duration::from_secs(10), "{took:?}");
    assert_eq!(ledger.limit_hit, None);
    assert!(ledger.leftovers.is_empty(), "{:?}", ledger.leftovers);
    let tree = ProcessTree::from_ledger(&ledger);
    let root = tree.root.expect("a root");
    let root_exit = tree.processes[root].exited.expect("the root exited").0.seq;
    let kids: Vec<_> = tree
        .processes
        .iter()
        .filter(|p| p.parent == Some(root))
        .collect();
    assert_eq!(kids.len(), 4);
    for kid in kids {
        let (at, status) = kid.exited.expect("each orphan exited");
        assert_eq!(status, ExitStatus::Code { code: 0 });
        assert!(at.seq > root_exit, "pid {} outlived the root", kid.pid);
        assert_eq!(stdout_of(&ledger, kid.pid).lines().count(), 2);
    }
}

#[test]
fn a_wrapper_script_is_marked_as_launcher() {
    let (ledger, _) = trace_json(
        &[],
        &[&program("pyenv_like_wrapper.sh"), &program("slow_print.py")],
    );
    let tree = ProcessTree::from_ledger(&ledger);
    let main = &tree.processes[tree.main.unwrap()];
    let image = main.execs.last().unwrap();
    assert!(image.path.contains("python"), "main runs {}", image.path);
    assert!(image.argv.iter().any(|a| a.ends_with("slow_print.py")));
    let program: Vec<_> = tree.with_role(Role::Program).collect();
    assert_eq!(program.len(), 2, "main and its one child: {program:#?}");
    assert!(
        tree.with_role(Role::Launcher).count() >= 2,
        "the wrapper's helpers are launchers"
    );
}

#[test]
fn the_text_format_shows_tree_timeline_and_layers() {
    let out = proclab_command()
        .args(["trace", "--", "sh", "-c", "echo out; echo err >&2; exit 7"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "traced fine although the program failed"
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("exit 7"), "{text}");
    assert!(text.contains("processes (1):"), "{text}");
    assert!(text.contains("| out"), "{text}");
    assert!(text.contains("! err"), "{text}");
    assert!(text.contains("containment:"), "{text}");
}

#[test]
fn waitid_reaps_and_pidfd_signals_are_recorded() {
    let (ledger, _) = trace_json(&[], &["python3", &program("reap_variants.py")]);
    let tree = ProcessTree::from_ledger(&ledger);
    let main_pid = tree.processes[tree.main.unwrap()].pid;
    let kids: Vec<i32> = process_spawns(&ledger)
        .into_iter()
        .filter(|(p, c)| {
            *p == main_pid && tree.processes[tree.at(*c, u64::MAX).unwrap()].role == Role::Program
        })
        .map(|(_, c)| c)
        .collect();
    assert_eq!(kids.len(), 2, "{kids:?}");
    for kid in &kids {
        assert!(
            find(&ledger, |k| matches!(k, EventKind::Reap { reaper, reaped } if *reaper == main_pid && reaped == kid)).is_some(),
            "{kid} reaped"
        );
    }
    assert!(find(&ledger, |k| matches!(k, EventKind::Signal { from, to, signal: 10 } if *from == main_pid && *to == kids[1])).is_some());
    // In the run's pid namespace the program prints its own (inner) pid for the child.
    let pidns = ledger.layers.iter().any(|l| l.name == "pidns" && l.active);
    let out = stdout_of(&ledger, main_pid);
    let printed = out
        .strip_prefix("waitid reaped ")
        .and_then(|rest| rest.split_once(' '))
        .and_then(|(pid, _)| pid.parse::<i32>().ok())
        .unwrap_or_else(|| panic!("{out}"));
    let child = if pidns { printed } else { kids[0] };
    assert_eq!(
        out,
        format!("waitid reaped {child} status 4\nb ended by signal 10\n")
    );
}

#[test]
fn a_file_the_kernel_cannot_exec_is_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("garbage");
    std::fs::write(&file, [0u8, 1, 2, 3, 4, 5, 6, 7]).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = proclab_command()
        .args(["trace", "--user", "root", "--"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("exec") && err.contains("garbage"), "{err}");
}

#[test]
fn as_root_the_program_runs_as_nobody_in_a_private_directory() {
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("SKIPPED: not root");
        return;
    }
    let (ledger, _) = trace_json(&[], &["/bin/sh", "-c", "echo $(id -u); pwd; touch here"]);
    let text = stdout_of(&ledger, ledger.root);
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("65534"), "{text}");
    let dir = lines.next().unwrap();
    assert!(dir.contains("proclab-run-"), "{dir}");
    assert!(
        !std::path::Path::new(dir).exists(),
        "the private directory is removed afterwards"
    );
    let uid = ledger.layers.iter().find(|l| l.name == "uid").unwrap();
    assert!(uid.active, "{uid:?}");
}

#[test]
fn it_works_for_an_unprivileged_user_too() {
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("SKIPPED: not root (cannot switch to nobody)");
        return;
    }
    let bin = proclab();
    // proclab itself as nobody: no cgroups, ptrace on its own children.
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(&bin)
        .args([
            "trace",
            "--format",
            "json",
            "--",
            "/bin/sh",
            "-c",
            "echo hi; /bin/true",
        ])
        .current_dir("/tmp")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ledger: proclab::ledger::Ledger = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(stdout_of(&ledger, ledger.root), "hi\n");
    assert_eq!(process_spawns(&ledger).len(), 1);
    // A private network only from a user namespace of the run's own (issue 13).
    let netns = ledger.layers.iter().find(|l| l.name == "netns").unwrap();
    let userns = ledger.layers.iter().any(|l| l.name == "userns" && l.active);
    assert_eq!(netns.active, userns, "{:?}", ledger.layers);
    assert_nothing_left(&ledger);
}
