//! The grader interrupted or killed mid-run, while a hostile submission runs (children
//! that ignore SIGTERM and SIGINT, one of them in its own session with a grandchild):
//! no submission process survives. The submission writes every pid it has to a FIFO
//! (named by `HARDENING_PIDS`, else `pids` beside the script: a run of `grade-class` has a
//! private `/tmp` and sees only its own folder there), so the test knows them without
//! trusting proclab.
//!
//! - `proclab grade` SIGKILLed, and stopped with SIGINT / SIGTERM (exit 130);
//! - `proclab grade-class` SIGKILLed, and stopped with SIGINT / SIGTERM: then the partial
//!   gradebook parses and is consistent, and a rerun resumes (the finished rows are kept).

#[path = "hardening_common.rs"]
mod common;
#[path = "hardening_scratch.rs"]
mod scratch;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use scratch::Scratch;

/// Ignores SIGTERM and SIGINT everywhere; main, two children, a setsid grandchild; all
/// sleep an hour. Each appends `PID TAG` (its pid on the host) to $HARDENING_PIDS, else to
/// `pids` beside it.
const STUBBORN: &str = r#"
import os, signal, time
PIDS = os.environ.get('HARDENING_PIDS') or os.path.join(os.path.dirname(os.path.abspath(__file__)), 'pids')
def note(tag):
    # The host's pid (/proc is the host's): in the run's pid namespace getpid() is not.
    with open(PIDS, 'a') as f:
        f.write(f"{os.readlink('/proc/self')} {tag}\n")
for s in (signal.SIGTERM, signal.SIGINT):
    signal.signal(s, signal.SIG_IGN)
note('main')
for i in range(2):
    if os.fork() == 0:
        note(f'child{i}')
        if i == 1:
            os.setsid()
            if os.fork() == 0:
                note('grandchild')
                time.sleep(3600)
                os._exit(0)
        time.sleep(3600)
        os._exit(0)
time.sleep(3600)
"#;

/// A correct start-target with 0.3 s children (graded in about a second).
const GOOD: &str = r#"
import time
from multiprocessing import Process
def roam(name):
    print(f'{name} piaoing')
    time.sleep(0.3)
    print(f'{name} piao end')
if __name__ == '__main__':
    for name in ('egon', 'alex', 'wupeiqi', 'yuanhao'):
        Process(target=roam, args=(name,)).start()
    print('主')
"#;

fn assert_all_gone(what: &str, pids: &[i32], net: &proclab_tests::SafetyNet) {
    let alive = survivors_after(pids, Duration::from_secs(5));
    assert!(
        alive.is_empty(),
        "{what}: submission processes survived: {alive:?}"
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while !net.pids().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        net.pids().is_empty(),
        "{what}: left in the safety net: {:?}",
        net.pids()
    );
}

#[test]
fn sigkill_to_proclab_grade_leaves_no_submission_process() {
    let Some(net) = net_or_skip("SIGKILL to proclab grade") else {
        return;
    };
    let scratch = Scratch::new();
    let program = scratch.path().join("stubborn.py");
    std::fs::write(&program, STUBBORN).unwrap();
    let program = program.display().to_string();
    let mut cmd = grade_command(
        Some(&net),
        "start-target",
        // The real clock: on the virtual clock the endless sleeps would hit the time
        // limit at once, and the run could end before the signal arrives.
        &["--time-limit", "120s", "--clock", "real"],
        &["python3", &program],
    );
    let mut child = cmd
        .env("HARDENING_PIDS", &scratch.pids)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pids = scratch.wait_for(4, &mut child);
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let killed = Instant::now();
    assert_all_gone("proclab grade", &pids, &net);
    println!(
        "all 4 submission processes gone {:?} after SIGKILL",
        killed.elapsed()
    );
}

#[test]
fn sigint_and_sigterm_to_proclab_grade_tear_everything_down() {
    for signal in [Signal::SIGINT, Signal::SIGTERM] {
        let Some(net) = net_or_skip("interrupting proclab grade") else {
            return;
        };
        let scratch = Scratch::new();
        let program = scratch.path().join("stubborn.py");
        std::fs::write(&program, STUBBORN).unwrap();
        let program = program.display().to_string();
        let mut child = grade_command(
            Some(&net),
            "start-target",
            &["--time-limit", "120s", "--clock", "real"], // as above
            &["python3", &program],
        )
        .env("HARDENING_PIDS", &scratch.pids)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
        let pids = scratch.wait_for(4, &mut child);
        kill(Pid::from_raw(child.id() as i32), signal).unwrap();
        let stopped = Instant::now();
        let output = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&output.stderr).into_owned();
        println!("proclab grade {signal}: ended in {:?}", stopped.elapsed());
        assert!(!err.contains("panicked at"), "{err}");
        assert_eq!(output.status.code(), Some(130), "{signal}: {err}");
        assert!(
            stopped.elapsed() < Duration::from_secs(10),
            "{signal}: prompt"
        );
        assert_all_gone(&format!("proclab grade {signal}"), &pids, &net);
    }
}

/// SIGKILL to `proclab trace` at every moment of its start, before the program is
/// released: the pid namespace's helper, its init and the waiting root end with the
/// grader (each has a parent-death signal). Before that fix, 8 of 60 such kills left
/// the three behind, blocked for ever.
#[test]
fn sigkill_while_proclab_starts_the_program_leaves_nothing() {
    let scratch = tempfile::tempdir().unwrap();
    // Named in every command line of the run, the helpers' included (they are forks of
    // proclab that never exec).
    let marker = scratch.path().join("marker").display().to_string();
    for step in 0..60u64 {
        let mut child = Command::new(proclab())
            .args(["trace", "--", "sh", "-c", "sleep 30"])
            .arg(&marker)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // 0 to 30 ms in 0.5 ms steps: the start takes a few ms, more on a loaded machine.
        std::thread::sleep(Duration::from_micros(500 * step));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    let left = loop {
        let left = proclab_tests::processes_mentioning(&marker);
        if left.is_empty() || Instant::now() > deadline {
            break left;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    // Clean up after a failure too, by pid: the leading field of each entry.
    for entry in &left {
        if let Some(pid) = entry.split(' ').next().and_then(|p| p.parse().ok()) {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
    }
    assert!(left.is_empty(), "left running: {left:#?}");
}

/// A class: `good` students (a-prefixed: graded first) with a quick correct submission,
/// then `stubborn` ones (z-prefixed); every run's pids go to the scratch file.
fn class(scratch: &Scratch, good: usize, stubborn: usize, time_ms: u64) -> PathBuf {
    let class = scratch.path().join("class");
    for i in 0..good {
        let dir = class.join(format!("a{i}"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("start_target.py"), GOOD).unwrap();
    }
    for i in 0..stubborn {
        let dir = class.join(format!("z{i}"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("start_target.py"), STUBBORN).unwrap();
        scratch.listen(&dir.join("pids"));
    }
    let spec = scratch.path().join("spec.toml");
    std::fs::write(
        &spec,
        format!("exercise = \"start-target\"\n[limits]\ntime_ms = {time_ms}\n"),
    )
    .unwrap();
    std::fs::write(
        scratch.path().join("class.toml"),
        "[exercises.start-target]\nspec = \"spec.toml\"\n",
    )
    .unwrap();
    class
}

fn grade_class(net: &proclab_tests::SafetyNet, scratch: &Scratch, out: &Path) -> Command {
    let mut cmd = net.command(proclab());
    cmd.arg("grade-class")
        .arg(scratch.path().join("class"))
        .arg("--config")
        .arg(scratch.path().join("class.toml"))
        .arg("--out")
        .arg(out)
        .args(["-e", "start-target", "--jobs", "2"])
        // The stubborn submissions must be up when the batch is interrupted: on the
        // virtual clock their endless sleep would hit the time limit at once.
        .args(["--clock", "real"])
        .env_remove("HARDENING_PIDS")
        .env_remove("PYTHONUNBUFFERED");
    cmd
}

/// gradebook.csv parsed: every row as wide as the header, scores adding up to the total.
fn parse_gradebook(out: &Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(out.join("gradebook.csv")).unwrap_or_default();
    let mut lines = text.lines();
    let Some(header) = lines.next() else {
        return Vec::new();
    };
    let header: Vec<&str> = header.split(',').collect();
    let score = header.iter().position(|h| *h == "start-target");
    let total = header.iter().position(|h| *h == "total");
    let status = header.iter().position(|h| *h == "start-target status");
    let rows: Vec<Vec<String>> = lines
        .map(|l| l.split(',').map(String::from).collect())
        .collect();
    for row in &rows {
        assert_eq!(
            row.len(),
            header.len(),
            "a complete row: {row:?} ({header:?})"
        );
        if let (Some(s), Some(t)) = (score, total) {
            assert_eq!(row[s], row[t], "total = the one exercise's score: {row:?}");
        }
        if let Some(st) = status {
            assert!(
                ["pass", "fail", "limit", "error", "missing", "build-error"]
                    .contains(&row[st].as_str()),
                "a known status: {row:?}"
            );
        }
    }
    rows
}

#[test]
fn sigint_and_sigterm_to_grade_class_tear_down_and_a_rerun_resumes() {
    for signal in [Signal::SIGINT, Signal::SIGTERM] {
        let Some(net) = net_or_skip("interrupting grade-class") else {
            return;
        };
        let scratch = Scratch::new();
        class(&scratch, 3, 2, 60_000);
        let out = scratch.path().join("out");
        let mut child = grade_class(&net, &scratch, &out)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Both stubborn students up: 2 × (main, 2 children, grandchild).
        let pids = scratch.wait_for(8, &mut child);
        kill(Pid::from_raw(child.id() as i32), signal).unwrap();
        let stopped = Instant::now();
        let output = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&output.stderr).into_owned();
        println!("{signal}: stopped in {:?}", stopped.elapsed());
        assert!(!err.contains("panicked at"), "{err}");
        assert_eq!(output.status.code(), Some(130), "{signal}: {err}");
        assert!(
            stopped.elapsed() < Duration::from_secs(15),
            "{signal}: prompt stop"
        );
        assert_all_gone(&format!("grade-class {signal}"), &pids, &net);
        let rows = parse_gradebook(&out);
        let names: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
        assert_eq!(
            names,
            ["a0", "a1", "a2"],
            "{signal}: the finished rows, only them"
        );
        // The stubborn students repent; the rerun grades only them.
        for i in 0..2 {
            std::fs::write(
                scratch.path().join(format!("class/z{i}/start_target.py")),
                GOOD,
            )
            .unwrap();
        }
        let rerun = grade_class(&net, &scratch, &out).output().unwrap();
        let err = String::from_utf8_lossy(&rerun.stderr).into_owned();
        assert_eq!(rerun.status.code(), Some(0), "{err}");
        assert!(
            err.contains("2 checked now, 3 unchanged"),
            "{signal}: resumed: {err}"
        );
        let rows = parse_gradebook(&out);
        assert_eq!(rows.len(), 5, "{signal}: {rows:?}");
    }
}

#[test]
fn sigkill_to_grade_class_leaves_no_submission_process() {
    let Some(net) = net_or_skip("SIGKILL to grade-class") else {
        return;
    };
    let scratch = Scratch::new();
    class(&scratch, 0, 2, 60_000);
    let out = scratch.path().join("out");
    let mut child = grade_class(&net, &scratch, &out)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pids = scratch.wait_for(8, &mut child);
    child.kill().unwrap();
    child.wait().unwrap();
    // Workers are separate processes: they must go with their parent.
    assert_all_gone("grade-class SIGKILL", &pids, &net);
    let rows = parse_gradebook(&out);
    assert!(rows.is_empty(), "no finished row: {rows:?}");
}
