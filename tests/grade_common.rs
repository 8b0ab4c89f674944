//! Shared by the grader's end-to-end tests: the `proclab`, scenario and fixture binaries
//! (built on first use into this test's target dir), the fixture manifest, and running
//! `proclab grade` the way an instructor's machine would (no `PYTHONUNBUFFERED`).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, OnceLock};

pub use proclab_tests::SCENARIOS;
#[allow(unused_imports)] // each test file uses its own subset
pub use proclab_tests::bins::{build_once, proclab, profile_dir, root};
use serde::Deserialize;
use serde_json::Value;

/// A scenario binary.
pub fn scenario(name: &str) -> PathBuf {
    build_once(&SCENARIOS);
    profile_dir().join(name)
}

/// A Rust fixture binary of this package (cargo builds them for integration tests).
pub fn fixture_bin(name: &str) -> PathBuf {
    build_once(&["proclab-tests"]);
    profile_dir().join(name)
}

/// The fixtures folder.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// One graded run.
#[derive(Debug)]
pub struct Graded {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Graded {
    /// The JSON report (for `--format json` runs).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}): stdout={}\nstderr={}",
                self.stdout, self.stderr
            )
        })
    }

    /// `id: message` of each failed check, for error reports.
    pub fn failure_messages(&self) -> String {
        self.json()["checks"]
            .as_array()
            .map(|checks| {
                checks
                    .iter()
                    .filter(|c| c["passed"] == Value::Bool(false))
                    .map(|c| format!("{}: {}", c["id"], c["message"]))
                    .collect::<Vec<_>>()
                    .join(" | ")
            })
            .unwrap_or_default()
    }

    /// Ids of the failed checks in the JSON report.
    pub fn failed_checks(&self) -> Vec<String> {
        self.json()["checks"]
            .as_array()
            .map(|checks| {
                checks
                    .iter()
                    .filter(|c| c["passed"] == Value::Bool(false))
                    .filter_map(|c| c["id"].as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// `proclab grade <args…>`, without `PYTHONUNBUFFERED` in the environment.
pub fn grade_raw(args: &[String], env: &[(&str, &str)]) -> Graded {
    let mut cmd = Command::new(proclab());
    cmd.arg("grade").args(args).env_remove("PYTHONUNBUFFERED");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out: Output = cmd.output().expect("running proclab grade");
    Graded {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `proclab grade EXERCISE --format json [extra…] -- COMMAND…`.
pub fn grade_json(exercise: &str, extra: &[&str], command: &[String]) -> Graded {
    let mut args: Vec<String> = vec![exercise.into(), "--format".into(), "json".into()];
    args.extend(extra.iter().map(|s| s.to_string()));
    args.push("--".into());
    args.extend(command.iter().cloned());
    grade_raw(&args, &[])
}

/// A fixture of `manifest.toml`.
#[derive(Debug, Clone, Deserialize)]
pub struct Fixture {
    pub id: String,
    pub exercise: String,
    pub kind: String,
    pub path: Option<String>,
    pub bin: Option<String>,
    #[serde(default)]
    pub args: Vec<String>,
    pub verdict: String,
    #[serde(default)]
    pub failing_checks: Vec<String>,
    /// Extra arguments to `proclab grade`.
    #[serde(default)]
    pub grade_args: Vec<String>,
    pub limit: Option<String>,
    #[serde(default)]
    pub needs_safety_net: Vec<String>,
    pub exit_code: Option<i32>,
    pub description: String,
}

#[derive(Deserialize)]
struct Manifest {
    fixture: Vec<Fixture>,
}

/// Every fixture of the manifest.
pub fn manifest() -> Vec<Fixture> {
    static MANIFEST: OnceLock<Vec<Fixture>> = OnceLock::new();
    MANIFEST
        .get_or_init(|| {
            let text = std::fs::read_to_string(fixtures().join("manifest.toml"))
                .expect("reading the fixture manifest");
            toml::from_str::<Manifest>(&text)
                .expect("parsing the fixture manifest")
                .fixture
        })
        .clone()
}

/// The fixture of the manifest with this id.
pub fn fixture(id: &str) -> Fixture {
    manifest()
        .into_iter()
        .find(|f| f.id == id)
        .unwrap_or_else(|| panic!("no fixture {id} in the manifest"))
}

/// The fixtures graded against an exercise (not the trace-only hostile programs).
pub fn graded_fixtures() -> Vec<Fixture> {
    manifest()
        .into_iter()
        .filter(|f| f.exercise != "trace-only")
        .collect()
}

impl Fixture {
    /// The command that runs it.
    pub fn command(&self) -> Vec<String> {
        let dir = fixtures();
        match self.kind.as_str() {
            "python" => vec![
                "python3".into(),
                dir.join(self.path.as_deref().unwrap_or_default())
                    .display()
                    .to_string(),
            ],
            "rust-bin" => vec![
                fixture_bin(self.bin.as_deref().unwrap_or_default())
                    .display()
                    .to_string(),
            ],
            _ => {
                let mut cmd = vec![
                    dir.join(self.path.as_deref().unwrap_or_default())
                        .display()
                        .to_string(),
                ];
                for arg in &self.args {
                    let mut arg = arg.replace("{fixtures}", &dir.display().to_string());
                    if let Some(name) = arg.strip_prefix("{bin:").and_then(|r| r.strip_suffix('}'))
                    {
                        arg = fixture_bin(name).display().to_string();
                    }
                    cmd.push(arg);
                }
                cmd
            }
        }
    }

    /// Does `graded` agree with the manifest? `Err` says how it does not.
    pub fn judge(&self, graded: &Graded) -> Result<(), String> {
        let failed = graded.failed_checks();
        let expect_code = if self.verdict == "pass" { 0 } else { 1 };
        if graded.code != expect_code {
            return Err(format!(
                "{}: exit status {} (expected {expect_code}); failed checks {failed:?}; stderr: {}",
                self.id, graded.code, graded.stderr
            ));
        }
        // Exactly these checks fail: a right verdict for the wrong reason is an error.
        let mut expected: Vec<&String> = self.failing_checks.iter().collect();
        let mut got: Vec<&String> = failed.iter().collect();
        expected.sort();
        got.sort();
        if expected != got {
            return Err(format!(
                "{}: failed checks {got:?}, the table says exactly {expected:?}; messages: {}",
                self.id,
                graded.failure_messages()
            ));
        }
        Ok(())
    }
}

/// Run `f` over `items` on `threads` threads; results in input order.
pub fn parallel<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: Mutex<Vec<Option<R>>> = Mutex::new((0..items.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..threads.max(1) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    if i >= items.len() {
                        break;
                    }
                    let r = f(&items[i]);
                    results.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(r);
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .into_iter()
        .map(|r| r.expect("every item ran"))
        .collect()
}

/// The `--time-limit` for grading a hostile fixture: short for those the time limit
/// stops, generous for those another cap must stop first.
pub fn time_limit_for(f: &Fixture) -> &'static str {
    if f.limit.as_deref() == Some("time") {
        "3s"
    } else {
        "60s"
    }
}
