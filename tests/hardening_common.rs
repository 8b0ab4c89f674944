//! Shared by the hardening tests: the `proclab` binary, running `proclab grade` inside an
//! outer safety net while measuring its peak memory, the pids a run had (from the JSON
//! report), and snapshots of folders to prove a run changed nothing outside its own.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;
use proclab_tests::SafetyNet;
#[allow(unused_imports)] // each test file uses its own subset
pub use proclab_tests::{
    bins::{build_once, proclab, profile_dir, root},
    fixture, layers,
};
use serde_json::Value;

/// The outer net (pids cap 256, memory 1 GiB), or `None` after printing why none can
/// be made here (the caller then skips).
pub fn net_or_skip(case: &str) -> Option<SafetyNet> {
    match SafetyNet::new(256, 1 << 30) {
        Ok(net) => Some(net),
        Err(why) => {
            println!("SKIPPED {case}: no safety net can be made here: {why}");
            None
        }
    }
}

/// An exercise file for `exercise` with these `[limits]` / `[params]` lines.
pub fn exercise_file(dir: &Path, exercise: &str, limits: &str, params: &str) -> PathBuf {
    let path = dir.join(format!("{exercise}-hardening.toml"));
    let text = format!("exercise = \"{exercise}\"\n\n[limits]\n{limits}\n\n[params]\n{params}\n");
    std::fs::write(&path, text).expect("writing the exercise file");
    path
}

/// One `proclab` run, measured.
#[derive(Debug)]
pub struct Measured {
    /// Exit code (None: killed by a signal).
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
    /// proclab's own peak RSS (VmHWM, KiB), polled from /proc while it ran.
    pub peak_kib: u64,
}

impl Measured {
    /// The JSON report.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}); exit {:?}; stderr: {}\nstdout: {}",
                self.code, self.stderr, self.stdout
            )
        })
    }

    /// Assert the process did not panic.
    pub fn assert_no_panic(&self) {
        assert!(
            !self.stderr.contains("panicked at"),
            "proclab panicked: {}",
            self.stderr
        );
    }
}

fn vm_hwm_kib(pid: i32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Run `cmd` to its end with stdout/stderr in files, polling proclab's VmHWM; kill it
/// (and fail) after `deadline`. (Not wait4's ru_maxrss: a forked child inherits the
/// test process's high-water mark, ~57 MiB here, which would hide proclab's own.)
pub fn run_measured(mut cmd: Command, deadline: Duration) -> Measured {
    let dir = tempfile::tempdir().expect("tempdir");
    let out_path = dir.path().join("stdout");
    let err_path = dir.path().join("stderr");
    cmd.stdin(Stdio::null())
        .stdout(Stdio::from(File::create(&out_path).expect("stdout file")))
        .stderr(Stdio::from(File::create(&err_path).expect("stderr file")));
    let started = Instant::now();
    // Reaped below with waitpid.
    #[allow(clippy::zombie_processes)]
    let child = cmd.spawn().expect("spawn proclab");
    let pid = child.id() as i32;
    let mut peak_kib = 0;
    let code = loop {
        // Before exec the child is `sh` of the safety net: small, harmless to count.
        if let Some(hwm) = vm_hwm_kib(pid) {
            peak_kib = peak_kib.max(hwm);
        }
        match waitpid(Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG)).expect("waitpid") {
            WaitStatus::StillAlive => {}
            WaitStatus::Exited(_, code) => break Some(code),
            WaitStatus::Signaled(..) => break None,
            _ => continue,
        }
        if started.elapsed() > deadline {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            let _ = waitpid(Pid::from_raw(pid), None);
            panic!(
                "proclab did not end within {deadline:?}; stderr: {}",
                std::fs::read_to_string(&err_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let elapsed = started.elapsed();
    Measured {
        code,
        stdout: std::fs::read_to_string(&out_path).unwrap_or_default(),
        stderr: std::fs::read_to_string(&err_path).unwrap_or_default(),
        elapsed,
        peak_kib,
    }
}

/// `proclab grade EXERCISE --format json ARGS… -- COMMAND…` as a command, inside `net`
/// when given, without `PYTHONUNBUFFERED` (an instructor's machine has none).
pub fn grade_command(
    net: Option<&SafetyNet>,
    exercise: &str,
    args: &[&str],
    command: &[&str],
) -> Command {
    let mut cmd = match net {
        Some(net) => net.command(proclab()),
        None => Command::new(proclab()),
    };
    cmd.args(["grade", exercise, "--format", "json"])
        .args(args)
        .arg("--")
        .args(command)
        .env_remove("PYTHONUNBUFFERED");
    cmd
}

/// Every pid the JSON report names (its process tree and the leftovers).
pub fn report_pids(report: &Value) -> Vec<i32> {
    let mut pids: Vec<i32> = report["tree"]
        .as_array()
        .map(|rows| {
            rows.iter()
                .filter_map(|r| r["pid"].as_i64())
                .map(|p| p as i32)
                .collect()
        })
        .unwrap_or_default();
    if let Some(left) = report["ledger"]["leftovers"].as_array() {
        pids.extend(left.iter().filter_map(|p| p.as_i64()).map(|p| p as i32));
    }
    pids.sort_unstable();
    pids.dedup();
    pids
}

/// Poll until none of `pids` is alive (a kill in flight needs a moment); the survivors
/// after `grace`.
pub fn survivors_after(pids: &[i32], grace: Duration) -> Vec<i32> {
    let deadline = Instant::now() + grace;
    loop {
        let alive = proclab_tests::still_running(pids);
        if alive.is_empty() || Instant::now() > deadline {
            return alive;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The failed checks of a JSON report: id → message.
pub fn failed_checks(report: &Value) -> BTreeMap<String, String> {
    report["checks"]
        .as_array()
        .map(|checks| {
            checks
                .iter()
                .filter(|c| c["passed"] == Value::Bool(false))
                .map(|c| {
                    (
                        c["id"].as_str().unwrap_or_default().to_string(),
                        c["message"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Every file under `dir` (recursively) with its size and content, skipping `except`.
pub fn snapshot(dir: &Path, except: &[&Path]) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if except.iter().any(|e| path.starts_with(e)) {
                continue;
            }
            if path.is_dir() {
                files.insert(path.clone(), b"<dir>".to_vec());
                stack.push(path);
            } else {
                files.insert(path.clone(), std::fs::read(&path).unwrap_or_default());
            }
        }
    }
    files
}

/// Pids of `root`'s descendants (from /proc/*/stat).
pub fn descendants(root: i32) -> Vec<i32> {
    let mut parents = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    for entry in entries.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let ppid: Option<i32> = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse().ok());
        if let Some(ppid) = ppid {
            parents.push((pid, ppid));
        }
    }
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let p = found[i];
        found.extend(parents.iter().filter(|(_, pp)| *pp == p).map(|(c, _)| *c));
        i += 1;
    }
    found.remove(0);
    found
}

/// The run's sandbox: the submission runs with `student` as its current directory (the
/// run's working directory when the tracer keeps the caller's); everything else under
/// `root` (another student's folder, the output folder) must stay as it was.
pub struct Sandbox {
    _dir: tempfile::TempDir,
    pub root: PathBuf,
    pub student: PathBuf,
    pub other: PathBuf,
    pub out: PathBuf,
}

impl Sandbox {
    /// A fresh sandbox in a temp dir.
    pub fn new() -> Sandbox {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().to_path_buf();
        let student = root.join("class/student_a");
        let other = root.join("class/other_student");
        let out = root.join("out");
        for d in [&student, &other, &out] {
            std::fs::create_dir_all(d).unwrap();
        }
        std::fs::write(other.join("x"), "the neighbour's work\n").unwrap();
        std::fs::write(other.join("start_target.py"), "print('mine')\n").unwrap();
        std::fs::write(out.join("x"), "grades\n").unwrap();
        std::fs::write(out.join("gradebook.csv"), "student,total\nalice,7\n").unwrap();
        // Reachable, but not writable, by an unprivileged uid: only the uid layer (or a
        // private mount) is what stops a write here.
        for d in [dir.path(), &root.join("class"), &student, &other, &out] {
            set_mode(d, 0o755);
        }
        Sandbox {
            _dir: dir,
            root,
            student,
            other,
            out,
        }
    }
}

/// chmod.
pub fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Paths added, removed or modified between two snapshots.
pub fn changed(
    before: &std::collections::BTreeMap<PathBuf, Vec<u8>>,
    after: &std::collections::BTreeMap<PathBuf, Vec<u8>>,
) -> Vec<PathBuf> {
    let mut diff: Vec<PathBuf> = before
        .iter()
        .filter(|(p, content)| after.get(*p) != Some(content))
        .map(|(p, _)| p.clone())
        .collect();
    diff.extend(after.keys().filter(|p| !before.contains_key(*p)).cloned());
    diff
}
