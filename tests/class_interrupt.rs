//! Interrupting `proclab grade-class` and starving it of disk: finished rows are kept,
//! the gradebook stays consistent, nothing of the run is left running, a rerun resumes.

#[path = "class_common.rs"]
mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// A class of `n` students, each with the same correct start-target whose children sleep
/// `sleep` seconds.
fn sleepy_class(root: &Path, n: usize, sleep: f64) {
    let good = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("class_fixtures/class/alice/start_target.py"),
    )
    .unwrap()
    .replace("time.sleep(0.3)", &format!("time.sleep({sleep})"));
    for i in 0..n {
        let dir = root.join("class").join(format!("student{i:02}"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("start_target.py"), &good).unwrap();
    }
    std::fs::write(root.join("class.toml"), "").unwrap();
}

fn grade_sleepy(root: &Path, out: &Path) -> Command {
    let mut cmd = Command::new(proclab());
    cmd.arg("grade-class")
        .arg(root.join("class"))
        .arg("--config")
        .arg(root.join("class.toml"))
        .arg("--out")
        .arg(out)
        .args(["--exercises", "start-target", "--jobs", "2"])
        // The batch must still be running when it is interrupted: real sleeps.
        .args(["--clock", "real"]);
    cmd
}

fn rows(out: &Path) -> usize {
    std::fs::read_to_string(out.join("gradebook.csv"))
        .map(|t| t.lines().count().saturating_sub(1))
        .unwrap_or(0)
}

#[test]
fn sigint_and_sigterm_stop_the_batch_and_a_rerun_resumes() {
    for signal in [Signal::SIGINT, Signal::SIGTERM] {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        sleepy_class(root, 8, 1.5);
        let out = root.join("out");
        let child = grade_sleepy(root, &out)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Wait for the first finished row, then interrupt mid-batch.
        let deadline = Instant::now() + Duration::from_secs(60);
        while rows(&out) == 0 {
            assert!(Instant::now() < deadline, "no row graded in time");
            std::thread::sleep(Duration::from_millis(50));
        }
        kill(Pid::from_raw(child.id() as i32), signal).unwrap();
        let stopped = Instant::now();
        let output = child.wait_with_output().unwrap();
        assert!(
            stopped.elapsed() < Duration::from_secs(15),
            "stopped promptly: {:?}",
            stopped.elapsed()
        );
        let err = stderr(&output);
        assert_eq!(output.status.code(), Some(130), "{signal}: {err}");
        assert!(err.contains("rerun to resume"), "{err}");
        let kept = gradebook(&out);
        assert!(
            !kept.is_empty() && kept.len() < 8,
            "{signal}: partial gradebook {kept:?}"
        );
        for row in kept.values() {
            assert_eq!(row["start-target status"], "pass");
        }
        // Nothing of the run survives: no worker, no submission process.
        let deadline = Instant::now() + Duration::from_secs(10);
        let needle = root.to_string_lossy().into_owned();
        loop {
            let left = processes_mentioning(&needle);
            if left.is_empty() {
                break;
            }
            assert!(Instant::now() < deadline, "left running: {left:?}");
            std::thread::sleep(Duration::from_millis(100));
        }
        // The rerun keeps the finished rows and grades the rest.
        let rerun = grade_sleepy(root, &out).output().unwrap();
        let err = stderr(&rerun);
        assert_eq!(rerun.status.code(), Some(0), "{err}");
        assert!(
            err.contains(&format!("{} unchanged", kept.len())),
            "resumed from {} rows: {err}",
            kept.len()
        );
        assert_eq!(gradebook(&out).len(), 8);
    }
}

#[test]
fn a_full_disk_is_a_clear_error_and_the_gradebook_stays_consistent() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    sleepy_class(root, 6, 0.1);
    let out = root.join("out");
    std::fs::create_dir(&out).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=48k", "tmpfs"])
        .arg(&out)
        .status();
    if !mounted.is_ok_and(|s| s.success()) {
        eprintln!("skipped: cannot mount a small tmpfs here (needs root)");
        return;
    }
    let run = grade_sleepy(root, &out).output().unwrap();
    let err = stderr(&run);
    // Read what is there before unmounting.
    let book = std::fs::read_to_string(out.join("gradebook.csv"));
    let _ = Command::new("umount").arg(&out).status();
    assert_eq!(run.status.code(), Some(2), "{err}");
    assert!(err.contains("No space left on device"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    if let Ok(book) = book {
        let mut lines = book.lines();
        let width = lines.next().map_or(0, |h| h.split(',').count());
        for line in lines {
            assert_eq!(line.split(',').count(), width, "a complete row: {line}");
        }
    }
}
