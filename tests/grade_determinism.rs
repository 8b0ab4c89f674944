//! Slow (PROCLAB_SLOW_TESTS=1): every graded fixture, graded 20 times while a CPU hog
//! keeps each core busy, gets the same verdict and the same failed checks every time.
//! Checks judge structure, never scheduling luck. PROCLAB_DETERMINISM_RUNS changes 20;
//! PROCLAB_DETERMINISM_ONLY=a,b keeps only the fixtures whose id contains `a` or `b`.

mod grade_common;

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};

use grade_common::*;

/// One busy-looping process per core, killed (by pid) when dropped.
struct Hogs(Vec<Child>);

impl Hogs {
    fn start() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let hogs = (0..cores)
            .map(|_| {
                Command::new("sh")
                    .args(["-c", "while :; do :; done"])
                    .stdin(Stdio::null())
                    .spawn()
                    .expect("starting a CPU hog")
            })
            .collect();
        Hogs(hogs)
    }
}

impl Drop for Hogs {
    fn drop(&mut self) {
        for hog in &mut self.0 {
            let _ = hog.kill();
            let _ = hog.wait();
        }
    }
}

#[test]
fn verdicts_are_identical_under_load() {
    if std::env::var_os("PROCLAB_SLOW_TESTS").is_none() {
        println!("skipped: slow test (set PROCLAB_SLOW_TESTS=1 to run it)");
        return;
    }
    let runs: usize = std::env::var("PROCLAB_DETERMINISM_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let only: Vec<String> = std::env::var("PROCLAB_DETERMINISM_ONLY")
        .map(|v| v.split(',').map(String::from).collect())
        .unwrap_or_default();
    let fixtures: Vec<Fixture> = graded_fixtures()
        .into_iter()
        .filter(|f| only.is_empty() || only.iter().any(|o| f.id.contains(o.as_str())))
        .collect();
    // Build everything before the hogs start.
    let commands: Vec<Vec<String>> = fixtures.iter().map(Fixture::command).collect();
    let _ = proclab();
    let _hogs = Hogs::start();
    let jobs: Vec<(usize, usize)> = (0..fixtures.len())
        .flat_map(|f| (0..runs).map(move |r| (f, r)))
        .collect();
    let outcomes = parallel(&jobs, 2, |&(f, _)| {
        let graded = grade_json(&fixtures[f].exercise, &[], &commands[f]);
        (f, graded.code, graded.failed_checks())
    });
    let mut seen: BTreeMap<usize, BTreeMap<(i32, Vec<String>), usize>> = BTreeMap::new();
    for (f, code, failed) in outcomes {
        *seen
            .entry(f)
            .or_default()
            .entry((code, failed))
            .or_default() += 1;
    }
    let mut errors = Vec::new();
    for (f, verdicts) in &seen {
        if verdicts.len() > 1 {
            errors.push(format!("{}: {verdicts:?}", fixtures[*f].id));
        }
    }
    assert!(
        errors.is_empty(),
        "verdicts differed between runs:\n{}",
        errors.join("\n")
    );
    for (f, verdicts) in &seen {
        for (code, failed) in verdicts.keys() {
            let graded_ok = fixtures[*f].judge(&Graded {
                code: *code,
                stdout: serde_json::json!({"checks": failed.iter().map(|id| serde_json::json!({"id": id, "passed": false})).collect::<Vec<_>>()}).to_string(),
                stderr: String::new(),
            });
            assert!(graded_ok.is_ok(), "{graded_ok:?}");
        }
    }
}
