//! The virtual clock (issue 14): the same gradings on the real and on the virtual clock,
//! in interleaved rounds (one run, same conditions), as ratios real / virtual:
//! - grading the lesson's start program (`start-target`, children sleep 1–4 s at random);
//! - a class of 60 `start-target` submissions (`grade-class --force`, default jobs), the
//!   class of `tests/class_speed.rs` (children sleep 1–4 s), with the machine's `python3`
//!   and again with a venv of it (no site-packages of the machine's);
//! - the tracer's cost on programs that never sleep (`trace`: a process tree without
//!   sleeps, a CPU loop): virtual / real, target ≤ 1.05.
//!
//! Results: `<target>/proclab-bench/vclock.json` and a table on stdout.

use anyhow::{Context, Result};
use proclab_benches::env::{filter_allows, pick, workspace_bin};
use proclab_benches::runs::{Samples, interleaved};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Serialize)]
struct Record {
    case: String,
    /// The target: real / virtual at least this (speed-ups), or virtual / real at most
    /// this (overhead).
    target: String,
    ratio: f64,
    variants: Vec<Samples>,
}

fn main() -> Result<()> {
    if !filter_allows("vclock") {
        return Ok(());
    }
    let proclab = workspace_bin("proclab")?.display().to_string();
    let start_target = workspace_bin("start-target")?.display().to_string();
    let workload = env!("CARGO_BIN_EXE_workload").to_string();
    let class = class_dir(60)?;
    let mut records = Vec::new();

    let grade = |clock: &str| -> Vec<String> {
        [&proclab, "grade", "start-target", "--clock", clock, "--"]
            .iter()
            .map(|s| s.to_string())
            .chain([start_target.clone()])
            .collect()
    };
    records.push(speedup(
        "grade the lesson's start program",
        8.0,
        &[("real", grade("real")), ("virtual", grade("virtual"))],
        pick(9, 3),
        Duration::from_secs(60),
    )?);

    let out = class.join("grades");
    // `path`: a PATH to run with (the class's `python3` is the first one on it).
    let grade_class = |clock: &str, path: Option<&Path>| -> Vec<String> {
        let mut argv = Vec::new();
        if let Some(dir) = path {
            let inherited = std::env::var("PATH").unwrap_or_default();
            argv.push("env".to_string());
            argv.push(format!("PATH={}:{inherited}", dir.display()));
        }
        argv.extend([
            proclab.clone(),
            "grade-class".into(),
            class.join("class").display().to_string(),
            "--exercises".into(),
            "start-target".into(),
            "--force".into(),
            "--quiet".into(),
            "--out".into(),
            out.display().to_string(),
            "--clock".into(),
            clock.into(),
        ]);
        argv
    };
    records.push(speedup(
        "grade a class of 60 start-target submissions",
        5.0,
        &[
            ("real", grade_class("real", None)),
            ("virtual", grade_class("virtual", None)),
        ],
        pick(3, 1),
        Duration::from_secs(600),
    )?);
    // The same class with a virtual environment of the same interpreter: only the
    // site-packages differ. The CPU a grading needs is mostly the interpreter's start,
    // and a machine's site-packages can make that start dear (a `.pth` file that imports
    // a package at every start: this VM's sandbox adds one importing certifi, ~33 ms of
    // CPU per start, which a grading machine need not have).
    let venv = class.join("venv");
    let made = std::process::Command::new(proclab_benches::env::python()?)
        .args(["-m", "venv", "--without-pip"])
        .arg(&venv)
        .status()
        .context("python3 -m venv")?;
    anyhow::ensure!(made.success(), "python3 -m venv failed: {made}");
    let venv_bin = venv.join("bin");
    records.push(speedup(
        "grade a class of 60 start-target submissions, interpreter in a venv",
        5.0,
        &[
            ("real", grade_class("real", Some(&venv_bin))),
            ("virtual", grade_class("virtual", Some(&venv_bin))),
        ],
        pick(3, 1),
        Duration::from_secs(600),
    )?);

    for (name, wargs) in [
        ("tree without sleeps", vec!["tree", "--sleep-ms", "0"]),
        (
            "cpu loop",
            vec!["cpu", "--iters", pick("300000000", "100000000")],
        ),
    ] {
        let traced = |clock: &str| -> Vec<String> {
            [&proclab, "trace", "--clock", clock, "--", &workload]
                .iter()
                .map(|s| s.to_string())
                .chain(wargs.iter().map(|s| s.to_string()))
                .collect()
        };
        let samples = interleaved(
            &[
                ("real".to_string(), traced("real")),
                ("virtual".to_string(), traced("virtual")),
            ],
            pick(15, 5),
            Duration::from_secs(60),
        )
        .with_context(|| name.to_string())?;
        let ratio = samples[1].median_s / samples[0].median_s;
        report(name, "virtual/real ≤ 1.05", ratio, &samples);
        records.push(Record {
            case: format!("tracer overhead: {name}"),
            target: "virtual / real ≤ 1.05".into(),
            ratio,
            variants: samples,
        });
    }
    let _ = std::fs::remove_dir_all(&class);
    let path = proclab_benches::results::write("vclock", &records)?;
    println!("vclock: results in {}", path.display());
    Ok(())
}

fn speedup(
    case: &str,
    target: f64,
    variants: &[(&str, Vec<String>)],
    rounds: usize,
    timeout: Duration,
) -> Result<Record> {
    let variants: Vec<(String, Vec<String>)> = variants
        .iter()
        .map(|(n, argv)| (n.to_string(), argv.clone()))
        .collect();
    let samples = interleaved(&variants, rounds, timeout).with_context(|| case.to_string())?;
    let ratio = samples[0].median_s / samples[1].median_s;
    report(case, &format!("real/virtual ≥ {target}"), ratio, &samples);
    Ok(Record {
        case: case.into(),
        target: format!("real / virtual ≥ {target}"),
        ratio,
        variants: samples,
    })
}

fn report(case: &str, target: &str, ratio: f64, samples: &[Samples]) {
    print!("vclock/{case}:");
    for s in samples {
        print!("  {}: {:8.1} ms", s.name, s.median_s * 1e3);
    }
    println!("  ratio {ratio:.2} (target {target})");
}

/// A class folder of `students` copies of the class fixture's correct start-target
/// submission, child sleeps 1–4 s (as `tests/class_speed.rs`).
fn class_dir(students: usize) -> Result<PathBuf> {
    let good = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/class_fixtures/class/alice/start_target.py");
    let good =
        std::fs::read_to_string(&good).with_context(|| format!("reading {}", good.display()))?;
    let root = std::env::temp_dir().join(format!("proclab-vclock-bench-{}", std::process::id()));
    for i in 0..students {
        let dir = root.join("class").join(format!("student{i:02}"));
        std::fs::create_dir_all(&dir)?;
        let sleep = 1 + i % 4;
        std::fs::write(
            dir.join("start_target.py"),
            good.replace("time.sleep(0.3)", &format!("time.sleep({sleep})")),
        )?;
    }
    Ok(root)
}
