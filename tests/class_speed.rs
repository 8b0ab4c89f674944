//! The class speed measurement (run when `PROCLAB_CLASS_SPEED=1`: it takes minutes). A class of 60
//! start-target submissions generated from one correct solution, whose children sleep
//! 1–4 s, graded with `--jobs 1` and with the default jobs; prints both wall times and the
//! speed-up, and asserts identical verdicts. Run it with
//! `PROCLAB_CLASS_SPEED=1 cargo test -p proclab-tests --release --test class_speed -- --nocapture`.
//! On the real clock (the sleeps take their time), unless `CLASS_SPEED_CLOCK=virtual`.

#[path = "class_common.rs"]
mod common;

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use common::*;

fn generate(root: &Path, students: usize) {
    let good = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("class_fixtures/class/alice/start_target.py"),
    )
    .unwrap();
    for i in 0..students {
        let dir = root.join("class").join(format!("student{i:02}"));
        std::fs::create_dir_all(&dir).unwrap();
        let sleep = 1 + i % 4;
        std::fs::write(
            dir.join("start_target.py"),
            good.replace("time.sleep(0.3)", &format!("time.sleep({sleep})")),
        )
        .unwrap();
    }
}

fn timed(root: &Path, out: &str, jobs: Option<&str>) -> f64 {
    let mut cmd = Command::new(proclab());
    cmd.arg("grade-class")
        .arg(root.join("class"))
        .arg("--out")
        .arg(root.join(out))
        .args(["--exercises", "start-target"]);
    let clock = std::env::var("CLASS_SPEED_CLOCK").unwrap_or_else(|_| "real".into());
    cmd.args(["--clock", &clock]);
    if let Some(jobs) = jobs {
        cmd.args(["--jobs", jobs]);
    }
    let start = Instant::now();
    let output = cmd.output().unwrap();
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    secs
}

#[test]
fn sixty_start_target_submissions() {
    if std::env::var_os("PROCLAB_CLASS_SPEED").is_none() {
        println!(
            "skipped: set PROCLAB_CLASS_SPEED=1 to measure (takes minutes; figures in docs/class.md)"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    generate(root, 60);
    let jobs = std::env::var("CLASS_SPEED_JOBS").ok();
    let parallel = timed(root, "parallel", jobs.as_deref());
    let sequential = timed(root, "sequential", Some("1"));
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "60 start-target submissions on {cpus} CPUs: --jobs 1 {sequential:.1} s, \
         --jobs {} {parallel:.1} s, speed-up {:.2}x",
        jobs.as_deref().unwrap_or("default"),
        sequential / parallel
    );
    assert_eq!(
        verdicts(&root.join("sequential")),
        verdicts(&root.join("parallel"))
    );
    let book = gradebook(&root.join("parallel"));
    assert_eq!(book.len(), 60);
    assert!(
        book.values()
            .all(|row| row["start-target status"] == "pass"),
        "{book:?}"
    );
}
