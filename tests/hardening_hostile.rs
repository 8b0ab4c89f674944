//! Hostile submissions graded through `proclab grade`: each verdict names the limit or
//! the fault, the run ends within its time limit plus a small margin, nothing of the run
//! is left alive (pids from the JSON report's tree, scanned in /proc), no file outside
//! the run's working directory changed, and proclab's own peak memory stays bounded.
//!
//! Every case runs proclab inside an outer safety net of the test's own (pids cgroup
//! capped at 256 tasks, memory cgroup at 1 GiB): a containment bug fails the test instead
//! of taking the machine down. Without a net the case is skipped with a printed reason.

#[path = "hardening_cases.rs"]
mod cases;
#[path = "hardening_common.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use cases::*;
use common::*;

fn python(path: &str) -> Vec<String> {
    vec!["python3".into(), fixture(path)]
}

const SHORT: &str = "time_ms = 2000";

fn timed(name: &str, program: &str) {
    run_case(&Case {
        name,
        exercise: "start-target",
        limits: SHORT,
        params: "",
        time_limit: Duration::from_secs(2),
        command: python(program),
        limit: Some("time limit"),
        must_fail: &[],
        env: Vec::new(),
    });
}

#[test]
fn python_fork_bomb_stops_at_the_process_cap() {
    run_case(&Case {
        name: "fork bomb (Python)",
        exercise: "start-target",
        limits: "time_ms = 20000\nmax_processes = 32",
        params: "",
        time_limit: Duration::from_secs(20),
        command: python("hostile/fork_bomb.py"),
        limit: Some("process cap"),
        must_fail: &[],
        env: Vec::new(),
    });
}

#[test]
fn rust_fork_bomb_stops_at_the_process_cap() {
    run_case(&Case {
        name: "fork bomb (Rust)",
        exercise: "start-target",
        limits: "time_ms = 20000\nmax_processes = 32",
        params: "",
        time_limit: Duration::from_secs(20),
        command: vec![env!("CARGO_BIN_EXE_fx-hostile-fork-bomb").into()],
        limit: Some("process cap"),
        must_fail: &[],
        env: Vec::new(),
    });
}

/// The main program exits at once; the grader does not wait out the hour: the orphan
/// grace is cut at the 2 s time limit, the orphan is killed, and no-leftovers names it.
#[test]
fn a_setsid_daemon_sleeping_an_hour_is_killed_and_named() {
    run_case(&Case {
        name: "double fork + setsid",
        exercise: "start-target",
        limits: SHORT,
        params: "",
        time_limit: Duration::from_secs(2),
        command: python("hostile/double_fork_setsid.py"),
        limit: None,
        must_fail: &[("no-leftovers", "killed by containment")],
        env: Vec::new(),
    });
}

#[test]
fn processes_ignoring_sigterm_and_sigint_are_ended_at_the_time_limit() {
    timed("SIGTERM/SIGINT ignored", "hostile/ignore_signals.py");
}

#[test]
fn children_that_never_end_are_ended_at_the_time_limit() {
    timed("children never end", "hostile/children_never_end.py");
}

#[test]
fn a_program_that_kills_its_parent_cannot_kill_the_grader() {
    timed("kills its parent", "hostile/kill_parent.py");
}

#[test]
fn a_memory_hog_in_every_child_stops_at_the_memory_limit() {
    run_case(&Case {
        name: "memory hog",
        exercise: "start-target",
        limits: "time_ms = 20000\nmemory_mb = 96",
        params: "",
        time_limit: Duration::from_secs(20),
        command: python("hostile/memory_hog.py"),
        limit: Some("memory limit"),
        must_fail: &[],
        env: Vec::new(),
    });
}

#[test]
fn endless_stdout_stops_at_the_output_cap_with_bounded_grader_memory() {
    run_case(&Case {
        name: "endless stdout",
        exercise: "start-target",
        limits: "time_ms = 20000\noutput_kb = 4096",
        params: "",
        time_limit: Duration::from_secs(20),
        command: python("hostile/endless_stdout.py"),
        limit: Some("output cap"),
        must_fail: &[],
        env: Vec::new(),
    });
}

#[test]
fn endless_stderr_stops_at_the_output_cap_with_bounded_grader_memory() {
    run_case(&Case {
        name: "endless stderr",
        exercise: "start-target",
        limits: "time_ms = 20000\noutput_kb = 4096",
        params: "",
        time_limit: Duration::from_secs(20),
        command: python("hostile/endless_stderr.py"),
        limit: Some("output cap"),
        must_fail: &[],
        env: Vec::new(),
    });
}

/// Short client timeouts: a server that never answers or never listens is judged in
/// seconds, not in the default 15 s start-up wait.
const SERVER_PARAMS: &str =
    "startup_timeout_ms = 3000\nreply_timeout_ms = 1000\nteardown_grace_ms = 500";

#[test]
fn a_server_that_accepts_and_never_answers_fails_answers() {
    run_case(&Case {
        name: "server accepts, never answers",
        exercise: "socket-server",
        limits: "time_ms = 20000",
        params: SERVER_PARAMS,
        time_limit: Duration::from_secs(20),
        command: python("hostile/server_accepts_never_answers.py"),
        limit: None,
        must_fail: &[("answers", "")],
        env: Vec::new(),
    });
}

#[test]
fn a_server_that_never_listens_fails_answers() {
    run_case(&Case {
        name: "server never listens",
        exercise: "socket-server",
        limits: "time_ms = 20000",
        params: SERVER_PARAMS,
        time_limit: Duration::from_secs(20),
        command: python("hostile/server_never_listens.py"),
        limit: None,
        must_fail: &[("answers", "")],
        env: Vec::new(),
    });
}

/// The fixed /tmp victims of `write_other_folder.py`, made read-only for others before the
/// run (an unprivileged uid cannot write them; root can) and removed afterwards when this
/// test made them.
struct TmpVictims {
    made: Vec<PathBuf>,
    before: Vec<(PathBuf, Option<Vec<u8>>)>,
}

impl TmpVictims {
    const DIR: &'static str = "/tmp/proclab-fixture-escape";
    const FILE: &'static str = "/tmp/proclab-fixture-escape.txt";

    fn new() -> TmpVictims {
        let mut made = Vec::new();
        let dir = PathBuf::from(Self::DIR);
        if !dir.exists() {
            std::fs::create_dir(&dir).unwrap();
            made.push(dir.clone());
        }
        set_mode(&dir, 0o755);
        let file = PathBuf::from(Self::FILE);
        if !file.exists() {
            std::fs::write(&file, "a file of someone else's\n").unwrap();
            made.push(file.clone());
        }
        set_mode(&file, 0o644);
        let x = dir.join("x");
        let before = [x, file]
            .into_iter()
            .map(|p| {
                let content = std::fs::read(&p).ok();
                (p, content)
            })
            .collect();
        TmpVictims { made, before }
    }

    fn changed(&self) -> Vec<PathBuf> {
        self.before
            .iter()
            .filter(|(p, content)| std::fs::read(p).ok() != *content)
            .map(|(p, _)| p.clone())
            .collect()
    }
}

impl Drop for TmpVictims {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(PathBuf::from(Self::DIR).join("x"));
        for path in self.made.iter().rev() {
            let _ = std::fs::remove_file(path);
            let _ = std::fs::remove_dir(path);
        }
    }
}

fn write_case(name: &str, interpreter: &str) {
    // Both cases share the fixed /tmp victims.
    static TMP: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_at_a_time = TMP.lock().unwrap_or_else(|p| p.into_inner());
    let victims = TmpVictims::new();
    // `../other_student` is the neighbour of the caller's directory (the run's cwd when
    // the tracer keeps it); PROCLAB_VICTIM_DIR names the output folder.
    run_case(&Case {
        name,
        exercise: "start-target",
        limits: "time_ms = 10000",
        params: "",
        time_limit: Duration::from_secs(10),
        command: vec![interpreter.into(), fixture("hostile/write_other_folder.py")],
        limit: None,
        must_fail: &[("child-count", "")],
        env: vec![("PROCLAB_VICTIM_DIR".into(), "{out}".into())],
    });
    let changed = victims.changed();
    assert!(changed.is_empty(), "{name}: wrote into {changed:?}");
}

/// The instructor's usual command, `python3 …`: here a pyenv shim under /root.
#[test]
fn a_python3_submission_cannot_write_into_other_folders() {
    write_case("writes other folders (python3 on PATH)", "python3");
}

/// An interpreter every user can run: the run drops to `nobody`.
#[test]
fn a_submission_run_by_a_world_readable_interpreter_cannot_write_into_other_folders() {
    if !Path::new("/usr/bin/python3").exists() {
        println!("SKIPPED: no /usr/bin/python3 on this machine");
        return;
    }
    write_case(
        "writes other folders (/usr/bin/python3)",
        "/usr/bin/python3",
    );
}

/// The Python cases above run through `python3`, which here is out of `nobody`'s reach, so
/// they run as root. The same programs run by an interpreter every user can use drop to
/// `nobody`: contained the same way, with the uid layer on.
#[test]
fn hostile_python_run_as_nobody_is_contained_too() {
    let interpreter = "/usr/bin/python3";
    if !Path::new(interpreter).exists() || !nix::unistd::Uid::effective().is_root() {
        println!("SKIPPED: needs root and {interpreter}");
        return;
    }
    let cases: [(&str, &str, &str, Duration, &str); 5] = [
        (
            "fork bomb as nobody",
            "hostile/fork_bomb.py",
            "time_ms = 20000\nmax_processes = 32",
            Duration::from_secs(20),
            "process cap",
        ),
        (
            "SIGTERM/SIGINT ignored as nobody",
            "hostile/ignore_signals.py",
            SHORT,
            Duration::from_secs(2),
            "time limit",
        ),
        (
            "kills its parent as nobody",
            "hostile/kill_parent.py",
            SHORT,
            Duration::from_secs(2),
            "time limit",
        ),
        (
            "memory hog as nobody",
            "hostile/memory_hog.py",
            "time_ms = 20000\nmemory_mb = 96",
            Duration::from_secs(20),
            "memory limit",
        ),
        (
            "endless stdout as nobody",
            "hostile/endless_stdout.py",
            "time_ms = 20000\noutput_kb = 1024",
            Duration::from_secs(20),
            "output cap",
        ),
    ];
    std::thread::scope(|scope| {
        for (name, program, limits, time_limit, limit) in cases {
            scope.spawn(move || {
                let report = run_case(&Case {
                    name,
                    exercise: "start-target",
                    limits,
                    params: "",
                    time_limit,
                    command: vec![interpreter.into(), fixture(program)],
                    limit: Some(limit),
                    must_fail: &[],
                    env: Vec::new(),
                });
                if let Some(report) = report {
                    let (active, detail) = layers(&report)["uid"].clone();
                    assert!(active, "{name}: runs as nobody: {detail}");
                }
            });
        }
    });
}
