//! `proclab grade-class` end to end on the fixture class (`tests/class_fixtures`): every
//! status, the outputs, resume, `--force`, a corrupt cache, `--jobs 1` against parallel
//! runs, and shards merged back into one gradebook.

#[path = "class_common.rs"]
mod common;

use std::time::{Duration, Instant};

use common::*;

fn status<'a>(
    book: &'a std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>>,
    student: &str,
    exercise: &str,
) -> &'a str {
    book[student][&format!("{exercise} status")].as_str()
}

#[test]
fn statuses_outputs_resume_force_and_corrupt_cache() {
    let class = fixture_class();
    let out = class.path().join("out");
    let run = grade_class(class.path(), &out, &["--jobs", "4"]);
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    // The class in numbers: every slot counted once, missing apart from not passing.
    assert!(
        stderr(&run).contains(
            "4 students, 8 submission slots: 7 graded (3 passing, 4 not passing), 1 missing, \
             0 could not be graded; 8 checked now, 0 unchanged"
        ),
        "{}",
        stderr(&run)
    );
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(
        summary["counts"],
        serde_json::json!({"slots": 8, "graded": 7, "passing": 3, "not_passing": 4,
                           "missing": 1, "errors": 0, "pending": 0}),
        "{summary}"
    );
    let index = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(
        index.contains("8 submission slots: 7 graded (3 passing, 4 not passing), 1 missing"),
        "{index}"
    );
    let book = gradebook(&out);
    assert_eq!(
        book.keys().collect::<Vec<_>>(),
        ["alice", "bob", "carol", "dave"]
    );
    let expected = [
        ("alice", "start-target", "pass"),
        ("alice", "isolation", "pass"),
        ("bob", "start-target", "fail"),
        ("bob", "isolation", "missing"),
        ("carol", "start-target", "fail"),
        ("carol", "isolation", "pass"),
        ("dave", "start-target", "limit"),
        ("dave", "isolation", "build-error"),
    ];
    for (student, exercise, want) in expected {
        assert_eq!(
            status(&book, student, exercise),
            want,
            "{student} {exercise}: {}",
            record(&out, student, exercise)
        );
    }
    // Scores: a pass earns the exercise's maximum, a missing file nothing.
    let alice = &book["alice"];
    assert_eq!(alice["total"], alice["max_total"], "{alice:?}");
    assert_eq!(book["bob"]["isolation"], "0");
    assert!(
        record(&out, "dave", "isolation")["detail"]
            .as_str()
            .unwrap()
            .contains("expected `;`")
    );
    assert!(
        record(&out, "bob", "isolation")["detail"]
            .as_str()
            .unwrap()
            .contains("isolation.py")
    );

    // Outputs: Gradescope results per student, one JUnit file, an index linking reports.
    let results: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("students/bob/results.json")).unwrap())
            .unwrap();
    assert!(results["score"].is_number() && results["execution_time"].is_number());
    for test in results["tests"].as_array().unwrap() {
        assert!(test["name"].is_string() && test["score"].is_number());
        assert!(test["max_score"].is_number());
        assert!(["passed", "failed"].contains(&test["status"].as_str().unwrap()));
    }
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/gradescope.schema.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    for student in ["alice", "bob", "carol", "dave"] {
        let path = out.join("students").join(student).join("results.json");
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&json)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{student}: {errors:?}\n{json}");
    }
    let xsd = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/junit.xsd");
    match std::process::Command::new("xmllint")
        .args(["--noout", "--schema"])
        .arg(&xsd)
        .arg(out.join("junit.xml"))
        .output()
    {
        Ok(lint) => assert!(lint.status.success(), "junit.xml: {}", stderr(&lint)),
        Err(e) => eprintln!("skipped the JUnit schema check: no xmllint ({e})"),
    }
    let junit = std::fs::read_to_string(out.join("junit.xml")).unwrap();
    assert_eq!(junit.matches("<testcase ").count(), 8, "{junit}");
    assert_eq!(junit.matches("<testsuite ").count(), 4);
    let index = std::fs::read_to_string(out.join("index.html")).unwrap();
    for (student, exercise, _) in expected {
        let href = format!("students/{student}/{exercise}.html");
        assert!(index.contains(&href), "index links {href}");
        assert!(out.join(&href).is_file(), "{href} exists");
    }
    let report = std::fs::read_to_string(out.join("students/alice/start-target.html")).unwrap();
    assert!(
        report.matches("class=\"lane ").count() >= 5,
        "main + 4 children"
    );
    assert!(report.matches("class=\"fork-arrow\"").count() >= 4);

    // Resume: nothing changed, nothing regraded; records untouched.
    let before = std::fs::metadata(out.join("students/alice/start-target.json"))
        .unwrap()
        .modified()
        .unwrap();
    let started = Instant::now();
    let again = grade_class(class.path(), &out, &[]);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    assert!(
        stderr(&again).contains("0 checked now, 8 unchanged"),
        "{}",
        stderr(&again)
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let after = std::fs::metadata(out.join("students/alice/start-target.json"))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(before, after);
    assert_eq!(gradebook(&out), book);

    // A changed file is regraded, and only it.
    let file = class.path().join("class/bob/start_target.py");
    let mut text = std::fs::read_to_string(&file).unwrap();
    text.push_str("\n# resubmitted\n");
    std::fs::write(&file, text).unwrap();
    // A corrupt record is reported, ignored and regraded.
    let corrupt = out.join("students/alice/isolation.json");
    std::fs::write(&corrupt, b"{\"version\": 1, \"stud").unwrap();
    let third = grade_class(class.path(), &out, &[]);
    let err = stderr(&third);
    assert_eq!(third.status.code(), Some(0), "{err}");
    assert!(err.contains("2 checked now, 6 unchanged"), "{err}");
    assert!(
        err.contains("corrupt") && err.contains("isolation.json"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(gradebook(&out), book, "same verdicts after regrading");

    // --force regrades everything.
    let forced = grade_class(class.path(), &out, &["--force"]);
    assert_eq!(forced.status.code(), Some(0), "{}", stderr(&forced));
    assert!(
        stderr(&forced).contains("8 checked now, 0 unchanged"),
        "{}",
        stderr(&forced)
    );
    let leftovers: Vec<_> = walk(&out)
        .into_iter()
        .filter(|p| p.to_string_lossy().contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "no temp files left: {leftovers:?}");
}

#[test]
fn a_submission_that_cannot_be_graded_is_an_error_retried_once_never_a_fail() {
    let class = fixture_class();
    let root = class.path();
    for gone in ["bob", "carol", "dave"] {
        std::fs::remove_dir_all(root.join("class").join(gone)).unwrap();
    }
    // erin's program names an interpreter this machine does not have: the grader cannot
    // run it, which is not her mistake to be failed for.
    let erin = root.join("class/erin");
    std::fs::create_dir_all(&erin).unwrap();
    let program = erin.join("start_target");
    std::fs::write(
        &program,
        "#!/usr/bin/env python9-not-installed\nprint('egon piaoing')\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = root.join("out");
    let run = grade_class(root, &out, &["--jobs", "2"]);
    let err = stderr(&run);
    assert_eq!(run.status.code(), Some(0), "{err}");
    let book = gradebook(&out);
    assert_eq!(status(&book, "erin", "start-target"), "error", "{err}");
    assert_eq!(status(&book, "erin", "isolation"), "missing");
    assert_eq!(status(&book, "alice", "start-target"), "pass");
    let record = record(&out, "erin", "start-target");
    assert_eq!(record["attempts"], 2, "retried once: {record}");
    let detail = record["detail"].as_str().unwrap();
    assert!(detail.contains("python9-not-installed"), "{detail}");
    assert!(
        err.contains("could not grade erin start-target (tried 2 times)"),
        "the retry shows: {err}"
    );
    assert!(
        err.contains(
            "2 students, 4 submission slots: 2 graded (2 passing, 0 not passing), 1 missing, \
             1 could not be graded; 4 checked now, 0 unchanged"
        ),
        "{err}"
    );
    // An error is never kept as a result: the next run grades it again.
    let again = grade_class(root, &out, &[]);
    let err = stderr(&again);
    assert!(err.contains("1 checked now, 3 unchanged"), "{err}");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        if entry.path().is_dir() {
            all.extend(walk(&entry.path()));
        } else {
            all.push(entry.path());
        }
    }
    all
}

#[test]
fn parallel_verdicts_equal_sequential_and_shards_merge_to_the_full_run() {
    let class = fixture_class();
    let root = class.path();
    let sequential = root.join("seq");
    let parallel = root.join("par");
    let one = grade_class(root, &sequential, &["--jobs", "1"]);
    assert_eq!(one.status.code(), Some(0), "{}", stderr(&one));
    let many = grade_class(root, &parallel, &["--jobs", "6"]);
    assert_eq!(many.status.code(), Some(0), "{}", stderr(&many));
    assert_eq!(verdicts(&sequential), verdicts(&parallel));
    assert_eq!(gradebook(&sequential), gradebook(&parallel));

    // Shards: each grades its own students only; merged, they equal the full run.
    let shards: Vec<_> = (0..3).map(|i| root.join(format!("shard{i}"))).collect();
    for (i, shard) in shards.iter().enumerate() {
        let run = grade_class(root, shard, &["--shard", &format!("{i}/3")]);
        assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    }
    assert_eq!(
        gradebook(&shards[0]).keys().collect::<Vec<_>>(),
        ["alice", "dave"]
    );
    assert_eq!(gradebook(&shards[1]).keys().collect::<Vec<_>>(), ["bob"]);
    assert_eq!(gradebook(&shards[2]).keys().collect::<Vec<_>>(), ["carol"]);
    let merged = root.join("merged");
    let status = std::process::Command::new(proclab())
        .arg("merge")
        .args(&shards)
        .arg("--out")
        .arg(&merged)
        .output()
        .unwrap();
    assert_eq!(status.status.code(), Some(0), "{}", stderr(&status));
    assert_eq!(gradebook(&merged), gradebook(&parallel));
    assert_eq!(verdicts(&merged), verdicts(&parallel));
    assert!(merged.join("students/carol/isolation.html").is_file());
    // Merging a shard twice is refused.
    let twice = std::process::Command::new(proclab())
        .arg("merge")
        .arg(&shards[0])
        .arg(&shards[0])
        .arg("--out")
        .arg(root.join("bad"))
        .output()
        .unwrap();
    assert_eq!(twice.status.code(), Some(2));
    assert!(
        stderr(&twice).contains("appears in both"),
        "{}",
        stderr(&twice)
    );
}

#[test]
fn bad_arguments_are_clear_errors() {
    let class = fixture_class();
    let out = class.path().join("out");
    for (args, needle) in [
        (&["--exercises", "no-such"][..], "unknown exercise"),
        (&["--shard", "3/3"][..], "invalid shard"),
        (&["--jobs", "0"][..], "at least 1"),
    ] {
        let run = grade_class(class.path(), &out, args);
        assert_eq!(run.status.code(), Some(2), "{args:?}: {}", stderr(&run));
        assert!(stderr(&run).contains(needle), "{args:?}: {}", stderr(&run));
    }
}

#[test]
fn a_submission_the_grader_cannot_run_is_an_error_row() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let student = root.join("class/erin");
    std::fs::create_dir_all(&student).unwrap();
    std::fs::write(student.join("start_target.rb"), "puts 1\n").unwrap();
    std::fs::write(
        root.join("class.toml"),
        "[run]\nrb = [\"/nonexistent/ruby\", \"{file}\"]\n",
    )
    .unwrap();
    let out = root.join("out");
    let run = std::process::Command::new(proclab())
        .arg("grade-class")
        .arg(root.join("class"))
        .arg("--config")
        .arg(root.join("class.toml"))
        .arg("--out")
        .arg(&out)
        .args(["--exercises", "start-target"])
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    assert_eq!(gradebook(&out)["erin"]["start-target status"], "error");
    let detail = record(&out, "erin", "start-target")["detail"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(detail.contains("/nonexistent/ruby"), "{detail}");
}

#[test]
fn servers_hard_coding_one_port_are_graded_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let good = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/python/socket_server/good.py");
    for i in 0..4 {
        let student = root.join(format!("class/s{i}"));
        std::fs::create_dir_all(&student).unwrap();
        std::fs::copy(&good, student.join("socket_server.py")).unwrap();
    }
    let out = root.join("out");
    let run = std::process::Command::new(proclab())
        .arg("grade-class")
        .arg(root.join("class"))
        .arg("--out")
        .arg(&out)
        .args(["--exercises", "socket-server", "--jobs", "4"])
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    let book = gradebook(&out);
    assert_eq!(book.len(), 4);
    for (student, row) in &book {
        assert_eq!(
            row["socket-server status"],
            "pass",
            "{student}: {}",
            record(&out, student, "socket-server")
        );
    }
    // The report shows which process accepted and which served each connection.
    let report = std::fs::read_to_string(out.join("students/s0/socket-server.html")).unwrap();
    assert!(report.matches(">accepted :").count() >= 8, "accepts drawn");
    assert!(
        report.matches(">serves :").count() >= 8,
        "serving processes drawn"
    );
}
