//! Least privilege: which containment layers a run had, as root and as an ordinary user,
//! and that the reports say so (docs/security.md describes each layer).
//!
//! As root, a submission every user can run (a binary under a world-readable path) drops
//! to `nobody` in a private working directory, in a network namespace with only loopback,
//! in pids and memory cgroups with `cgroup.kill`. As `nobody` (proclab copied to a
//! world-readable temp dir and started through `setpriv`), the same submission is still
//! graded, and the report marks the layers that need privileges as inactive.

#[path = "hardening_common.rs"]
mod common;
#[path = "hardening_nobody.rs"]
mod nobody;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::*;
use nix::unistd::Uid;
use nobody::{as_nobody, world_readable_copies};

fn active(report: &serde_json::Value, name: &str) -> bool {
    layers(report)
        .get(name)
        .unwrap_or_else(|| panic!("no `{name}` layer in {:?}", layers(report)))
        .0
}

#[test]
fn as_root_a_reachable_submission_gets_every_layer() {
    if !Uid::effective().is_root() {
        println!("SKIPPED: needs root");
        return;
    }
    let (_dir, _proclab, good) = world_readable_copies();
    let good = good.display().to_string();
    let run = run_measured(
        grade_command(None, "start-target", &[], &[&good]),
        Duration::from_secs(60),
    );
    run.assert_no_panic();
    let report = run.json();
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let layers = layers(&report);
    println!("layers as root: {layers:#?}");
    for name in [
        "uid",
        "workdir",
        "netns",
        "pids-cgroup",
        "memory-cgroup",
        "cgroup-kill",
    ] {
        assert!(active(&report, name), "`{name}` active as root: {layers:?}");
    }
    assert!(layers["uid"].1.contains("nobody"), "{layers:?}");
    assert!(layers["workdir"].1.contains("private"), "{layers:?}");
}

#[test]
fn as_root_an_interpreter_out_of_nobodys_reach_says_the_run_stays_root() {
    if !Uid::effective().is_root() {
        println!("SKIPPED: needs root");
        return;
    }
    // Where `python3` resolves into a folder `nobody` cannot enter (a pyenv shim under
    // /root here), the run cannot drop privileges; the report must say so and why.
    let run = run_measured(
        grade_command(
            None,
            "isolation",
            &[],
            &["python3", &fixture("python/isolation/good.py")],
        ),
        Duration::from_secs(60),
    );
    run.assert_no_panic();
    let report = run.json();
    let layers = layers(&report);
    let (uid_active, detail) = &layers["uid"];
    println!("uid layer for python3: active={uid_active} {detail}");
    if !*uid_active {
        assert!(
            detail.contains("stays root"),
            "an inactive uid layer says why: {detail}"
        );
        assert!(
            !layers["workdir"].0,
            "no private workdir without a uid: {layers:?}"
        );
    }
    assert_eq!(run.code, Some(0), "{}", run.stderr);
}

#[test]
fn as_nobody_proclab_still_grades_and_reports_the_inactive_layers() {
    if !Uid::effective().is_root() {
        println!("SKIPPED: needs root to become nobody");
        return;
    }
    let (dir, proclab, good) = world_readable_copies();
    let good = good.display().to_string();
    let Some(cmd) = as_nobody(
        &proclab,
        &["grade", "start-target", "--format", "json", "--", &good],
        dir.path(),
    ) else {
        println!("SKIPPED: no setpriv here");
        return;
    };
    let run = run_measured(cmd, Duration::from_secs(60));
    run.assert_no_panic();
    let report = run.json();
    let layers = layers(&report);
    println!("layers as nobody: {layers:#?}");
    assert_eq!(run.code, Some(0), "graded as nobody: {}", run.stderr);
    assert_eq!(report["verdict"], "pass");
    assert!(
        !active(&report, "uid"),
        "switching user needs root: {layers:?}"
    );
    // A private folder and network come from a user namespace of the run's own, where
    // the kernel allows unprivileged ones (containment_modes.rs covers both cases).
    let userns = layers.get("userns").is_some_and(|l| l.0);
    for name in ["uid", "workdir", "netns"] {
        assert!(!layers[name].1.is_empty(), "`{name}` says what it is");
    }
    for name in ["workdir", "netns", "fs-readonly"] {
        assert_eq!(active(&report, name), userns, "`{name}`: {layers:?}");
    }
    // Whatever the cgroups allow, the process cap is enforced somewhere.
    let capped =
        active(&report, "pids-cgroup") || layers.get("ptrace-process-cap").is_some_and(|l| l.0);
    assert!(capped, "a process cap is active as nobody: {layers:?}");
    assert!(active(&report, "exitkill"), "{layers:?}");
    let pids = report_pids(&report);
    assert!(survivors_after(&pids, Duration::from_millis(500)).is_empty());
}

#[test]
fn as_nobody_a_fork_bomb_is_still_capped() {
    if !Uid::effective().is_root() {
        println!("SKIPPED: needs root to become nobody");
        return;
    }
    let Some(net) = net_or_skip("fork bomb as nobody") else {
        return;
    };
    let (dir, proclab, _) = world_readable_copies();
    let bomb = dir.path().join("bomb");
    std::fs::copy(env!("CARGO_BIN_EXE_fx-hostile-fork-bomb"), &bomb).unwrap();
    std::fs::set_permissions(&bomb, std::fs::Permissions::from_mode(0o755)).unwrap();
    let spec = exercise_file(
        dir.path(),
        "start-target",
        "time_ms = 20000\nmax_processes = 32",
        "",
    );
    std::fs::set_permissions(&spec, std::fs::Permissions::from_mode(0o644)).unwrap();
    // setpriv inside the net: the net's cgroups hold the whole tree.
    let mut cmd = net.command("setpriv");
    cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(&proclab)
        .args([
            "grade",
            "start-target",
            "--format",
            "json",
            "--exercise-file",
        ])
        .arg(&spec)
        .arg("--")
        .arg(&bomb)
        .current_dir(dir.path());
    let run = run_measured(cmd, Duration::from_secs(60));
    run.assert_no_panic();
    let report = run.json();
    println!(
        "fork bomb as nobody: {:?}, limit {}, {} processes, layers {:?}",
        run.elapsed,
        report["ledger"]["limit_hit"],
        report["tree"].as_array().map_or(0, Vec::len),
        layers(&report)
    );
    assert_eq!(report["ledger"]["limit_hit"], "process cap");
    assert!(run.elapsed < Duration::from_secs(24), "{:?}", run.elapsed);
    let pids = report_pids(&report);
    assert!(survivors_after(&pids, Duration::from_millis(500)).is_empty());
    assert!(net.pids().is_empty(), "left in the net: {:?}", net.pids());
}

#[test]
fn proclab_trace_prints_the_layers() {
    let (_dir, _proclab, good) = world_readable_copies();
    let out = Command::new(proclab())
        .args(["trace", "--"])
        .arg(&good)
        .env_remove("PYTHONUNBUFFERED")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for name in ["uid", "netns", "pids-cgroup"] {
        assert!(text.contains(name), "`{name}` listed: {text}");
    }
}

/// Issue 3: "unable to … read other submissions". A class folder as `umask 022` leaves it
/// (folders 0755, files 0644), the submission run by an interpreter `nobody` can use (so
/// the run drops to `nobody`), reading a neighbour's submission by absolute path. The
/// submission exits 0 if it could read it, 3 if it was refused. A single `grade` cannot
/// know what the class folder is: the instructor says so with `--hide` (as `grade-class`
/// does by itself, see `class_batch.rs`).
#[test]
fn a_submission_cannot_read_another_students_submission() {
    if !Uid::effective().is_root() || !Path::new("/usr/bin/python3").exists() {
        println!("SKIPPED: needs root and /usr/bin/python3");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let class = dir.path().join("class");
    let mine = class.join("alice/start_target.py");
    let theirs = class.join("bob/start_target.py");
    for d in [dir.path(), &class, &class.join("alice"), &class.join("bob")] {
        std::fs::create_dir_all(d).unwrap();
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    std::fs::write(&theirs, "print('bob worked hard on this')\n").unwrap();
    std::fs::write(
        &mine,
        "import os, sys\ntry:\n    open(os.environ['HARDENING_VICTIM']).read()\n    \
         print('read it')\nexcept OSError as e:\n    print('refused:', e)\n    sys.exit(3)\n",
    )
    .unwrap();
    for f in [&mine, &theirs] {
        std::fs::set_permissions(f, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let mine = mine.display().to_string();
    let (hide, expose) = (
        class.display().to_string(),
        class.join("alice").display().to_string(),
    );
    let mut cmd = grade_command(
        None,
        "isolation",
        &["--hide", &hide, "--expose", &expose],
        &["/usr/bin/python3", &mine],
    );
    cmd.env("HARDENING_VICTIM", &theirs);
    let run = run_measured(cmd, Duration::from_secs(60));
    run.assert_no_panic();
    let report = run.json();
    assert!(
        active(&report, "uid"),
        "the run dropped to nobody: {:?}",
        layers(&report)
    );
    let root_exit = report["tree"]
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["depth"] == 0))
        .map(|r| r["exit"].to_string())
        .unwrap_or_default();
    assert!(
        root_exit.contains("exit code 3"),
        "the submission read another student's file (root exit: {root_exit})"
    );
}

/// The human-readable grade says which layers were off, with the reason.
#[test]
fn as_nobody_the_text_report_names_the_layers_that_were_off() {
    if !Uid::effective().is_root() {
        println!("SKIPPED: needs root to become nobody");
        return;
    }
    let (dir, proclab, good) = world_readable_copies();
    let good = good.display().to_string();
    let Some(mut cmd) = as_nobody(
        &proclab,
        &["grade", "start-target", "--", &good],
        dir.path(),
    ) else {
        println!("SKIPPED: no setpriv here");
        return;
    };
    let out = cmd.env("NO_COLOR", "1").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    let line = text
        .lines()
        .find(|l| l.starts_with("containment layers off:"))
        .unwrap_or_else(|| panic!("no layers line: {text}"));
    assert!(line.contains("uid ("), "`uid` in {line}");
    // Without a user namespace of its own the run shares the host's network, and says so.
    if line.contains("netns (") {
        assert!(line.contains("netns (host network: "), "`netns` in {line}");
    }
}

/// Insisting on a user who cannot run the program is a clear error, not a silent run as
/// root: the message names what is in the way.
#[test]
fn insisting_on_nobody_for_an_unreachable_program_is_a_clear_error() {
    if !Uid::effective().is_root() {
        println!("SKIPPED: needs root");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let program = dir.path().join("prog");
    std::fs::copy(env!("CARGO_BIN_EXE_fx-isolation-good"), &program).unwrap();
    let out = Command::new(proclab())
        .args(["grade", "isolation", "--user", "nobody", "--"])
        .arg(&program)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(!stderr.contains("panicked at"), "{stderr}");
    assert!(
        stderr.contains("out of reach of user nobody") && stderr.contains("not searchable"),
        "{stderr}"
    );
}

/// `grade-class` hides the class folder and the output folder from every submission but
/// its own folder, without being asked. Alice's isolation solution is correct unless it
/// can read Bob's submission (then it prints a wrong parent value and fails).
#[test]
fn grade_class_keeps_each_submission_from_reading_the_others() {
    if !Uid::effective().is_root() {
        println!("SKIPPED: needs root for a private mount namespace");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let class = dir.path().join("class");
    for student in ["alice", "bob"] {
        std::fs::create_dir_all(class.join(student)).unwrap();
    }
    std::fs::write(
        class.join("bob/isolation.py"),
        "print('子进程内:  0')\nprint('主进程内:  100')\n",
    )
    .unwrap();
    let snoop = format!(
        "import os\nfrom multiprocessing import Process\nn = 100\n\
         def work():\n    global n\n    n = 0\n    print('子进程内: ', n)\n\
         if __name__ == '__main__':\n    \
         for path in ['../bob/isolation.py', {bob:?}, {out:?}]:\n        \
         try:\n            open(path).read()\n            \
         n = 999\n        except OSError:\n            pass\n    \
         p = Process(target=work)\n    p.start()\n    p.join()\n    print('主进程内: ', n)\n",
        bob = class.join("bob/isolation.py").display().to_string(),
        out = dir.path().join("out/secret.txt").display().to_string(),
    );
    std::fs::write(class.join("alice/isolation.py"), snoop).unwrap();
    // Something of the grader's in the output folder, there before the run.
    std::fs::create_dir_all(dir.path().join("out")).unwrap();
    std::fs::write(dir.path().join("out/secret.txt"), "grader only\n").unwrap();
    let output = Command::new(proclab())
        .args([
            "grade-class",
            "--quiet",
            "--exercises",
            "isolation",
            "--out",
        ])
        .arg(dir.path().join("out"))
        .arg(&class)
        .env_remove("PYTHONUNBUFFERED")
        .output()
        .unwrap();
    let book = std::fs::read_to_string(dir.path().join("out/gradebook.csv")).unwrap();
    let alice = book
        .lines()
        .find(|l| l.starts_with("alice"))
        .unwrap_or_default();
    assert!(
        alice.contains("pass"),
        "alice's submission could read another student's folder or the output folder:\n{book}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
