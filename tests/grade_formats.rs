//! The four report formats and the exit-status contract of `proclab grade`: text (colour
//! only when asked, NO_COLOR wins), JSON fields, JUnit validated against
//! `schemas/junit.xsd` with xmllint, Gradescope validated against
//! `schemas/gradescope.schema.json`; 0 pass, 1 fail, 2 could not grade.

mod grade_common;

use std::path::Path;
use std::process::Command;

use grade_common::*;
use serde_json::Value;

fn good() -> Vec<String> {
    vec![
        "python3".into(),
        fixtures()
            .join("python/isolation/good.py")
            .display()
            .to_string(),
    ]
}

fn broken() -> Vec<String> {
    vec![
        "python3".into(),
        fixtures()
            .join("python/isolation/child_prints_initial.py")
            .display()
            .to_string(),
    ]
}

fn args(exercise: &str, format: &str, command: &[String]) -> Vec<String> {
    let mut a = vec![
        exercise.to_string(),
        "--format".into(),
        format.into(),
        "--".into(),
    ];
    a.extend(command.iter().cloned());
    a
}

#[test]
fn json_has_the_contract_fields() {
    for (command, verdict, code) in [(good(), "pass", 0), (broken(), "fail", 1)] {
        let graded = grade_raw(&args("isolation", "json", &command), &[]);
        assert_eq!(graded.code, code, "{}", graded.stderr);
        let json = graded.json();
        assert_eq!(json["exercise"], "isolation");
        assert_eq!(json["verdict"], verdict);
        assert_eq!(json["max_score"], 5);
        let checks = json["checks"].as_array().expect("checks");
        let ids: Vec<&str> = checks.iter().filter_map(|c| c["id"].as_str()).collect();
        assert_eq!(
            ids,
            [
                "child-count",
                "child-value",
                "parent-value",
                "exit-codes",
                "limits"
            ]
        );
        let score: u64 = checks.iter().filter_map(|c| c["points"].as_u64()).sum();
        assert_eq!(json["score"].as_u64(), Some(score));
        for c in checks {
            assert!(c["passed"].is_boolean() && c["message"].is_string() && c["max_points"] == 1);
        }
        let tree = json["tree"].as_array().expect("tree");
        let program = tree.iter().filter(|p| p["role"] == "program").count();
        assert_eq!(program, 2, "main and its one child");
        assert!(
            tree.iter()
                .all(|p| p["pid"].is_i64() && p["argv"].is_array() && p["exit"].is_string())
        );
        assert!(json["ledger"]["events"].as_u64().unwrap_or(0) > 0);
        assert_eq!(json["ledger"]["program_processes"], 2);
    }
    let json = grade_raw(&args("isolation", "json", &broken()), &[]).json();
    let child_value = &json["checks"][1];
    assert_eq!(child_value["passed"], false);
    assert!(
        child_value["message"]
            .as_str()
            .unwrap_or("")
            .contains("before it assigned")
    );
}

#[test]
fn text_is_plain_when_piped_coloured_when_forced_and_no_color_wins() {
    let a = args("isolation", "text", &broken());
    let plain = grade_raw(&a, &[]);
    assert_eq!(plain.code, 1);
    assert!(
        !plain.stdout.contains('\x1b'),
        "piped output has no ANSI codes"
    );
    for needle in [
        "isolation FAIL",
        "score 4/5",
        "✘ child-value",
        "Process tree",
        "program",
    ] {
        assert!(
            plain.stdout.contains(needle),
            "`{needle}` in:\n{}",
            plain.stdout
        );
    }
    let forced = grade_raw(&a, &[("CLICOLOR_FORCE", "1")]);
    assert!(
        forced.stdout.contains("\x1b["),
        "CLICOLOR_FORCE gives colours"
    );
    let no_color = grade_raw(&a, &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]);
    assert!(!no_color.stdout.contains('\x1b'), "NO_COLOR wins");
}

fn xmllint_validates(xml: &str) -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let file = dir.path().join("report.xml");
    std::fs::write(&file, xml).map_err(|e| e.to_string())?;
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/junit.xsd");
    let out = Command::new("xmllint")
        .args(["--noout", "--schema"])
        .arg(&schema)
        .arg(&file)
        .output()
        .map_err(|e| format!("xmllint is needed (apt-get install -y libxml2-utils): {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

#[test]
fn junit_validates_and_has_one_testcase_per_check() {
    for (command, failures) in [(good(), 0), (broken(), 1)] {
        let graded = grade_raw(&args("isolation", "junit", &command), &[]);
        xmllint_validates(&graded.stdout).unwrap_or_else(|e| panic!("{e}\n{}", graded.stdout));
        assert_eq!(graded.stdout.matches("<testcase ").count(), 5);
        assert_eq!(graded.stdout.matches("<failure ").count(), failures);
        assert!(graded.stdout.contains(&format!("failures=\"{failures}\"")));
    }
}

fn gradescope_schema() -> jsonschema::Validator {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/gradescope.schema.json"),
    )
    .expect("reading the schema");
    let schema: Value = serde_json::from_str(&text).expect("schema is JSON");
    jsonschema::validator_for(&schema).expect("a valid schema")
}

#[test]
fn gradescope_validates_against_the_schema() {
    let validator = gradescope_schema();
    for (command, score) in [(good(), 5.0), (broken(), 4.0)] {
        let graded = grade_raw(&args("isolation", "gradescope", &command), &[]);
        let json = graded.json();
        let errors: Vec<String> = validator
            .iter_errors(&json)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{errors:?}\n{json}");
        assert_eq!(json["score"].as_f64(), Some(score));
        assert_eq!(json["max_score"].as_f64(), Some(5.0));
        assert!(json["execution_time"].is_number());
        let tests = json["tests"].as_array().expect("tests");
        assert_eq!(tests.len(), 5);
        assert!(
            tests
                .iter()
                .all(|t| t["status"] == "passed" || t["status"] == "failed")
        );
    }
    // The schema rejects what Gradescope would: a string execution_time, an unknown status.
    let bad: Value = serde_json::json!({
        "score": 1, "execution_time": "3", "tests": [{"name": "x", "score": 1, "max_score": 1, "status": "ok"}]
    });
    assert!(validator.iter_errors(&bad).count() >= 2);
}

#[test]
fn output_file_gets_the_report_without_colour() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("results.json");
    let mut a = vec![
        "isolation".to_string(),
        "--format".into(),
        "gradescope".into(),
        "--output".into(),
        out.display().to_string(),
        "--".into(),
    ];
    a.extend(good());
    let graded = grade_raw(&a, &[]);
    assert_eq!(graded.code, 0, "{}", graded.stderr);
    assert!(graded.stdout.is_empty());
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(&out).expect("written")).expect("JSON");
    assert_eq!(json["score"].as_f64(), Some(5.0));
}

/// Exit 2 with a one-line error and no backtrace.
#[track_caller]
fn could_not_grade(a: &[String], says: &[&str]) {
    let graded = grade_raw(a, &[("RUST_BACKTRACE", "1")]);
    assert_eq!(
        graded.code, 2,
        "stdout: {}\nstderr: {}",
        graded.stdout, graded.stderr
    );
    let err = graded.stderr.trim_end();
    for s in says {
        assert!(err.contains(s), "`{s}` in: {err}");
    }
    assert!(
        !err.contains("panicked") && !err.contains("stack backtrace"),
        "{err}"
    );
}

#[test]
fn what_cannot_be_graded_exits_2_with_a_clear_error() {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    could_not_grade(
        &s(&["no-such-exercise", "--", "true"]),
        &["unknown exercise `no-such-exercise`"],
    );
    could_not_grade(
        &s(&["isolation", "--", "/no/such/command"]),
        &["/no/such/command"],
    );
    could_not_grade(
        &s(&[
            "isolation",
            "--exercise-file",
            "/no/such.toml",
            "--",
            "true",
        ]),
        &["cannot read exercise file /no/such.toml"],
    );
    could_not_grade(
        &s(&["isolation", "--format", "yaml", "--", "true"]),
        &["yaml"],
    );
    could_not_grade(&s(&["isolation"]), &["COMMAND"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "exercise = \"isolation\"\n[params]\ninitial = 100\nchild_valu = 0\n",
    )
    .expect("write");
    let bad = bad.display().to_string();
    could_not_grade(
        &s(&["isolation", "--exercise-file", &bad, "--", "true"]),
        &[&format!("{bad}:4:1"), "child_valu"],
    );
    let other = dir.path().join("other.toml");
    std::fs::write(&other, "exercise = \"daemon\"\n").expect("write");
    let other = other.display().to_string();
    could_not_grade(
        &s(&["isolation", "--exercise-file", &other, "--", "true"]),
        &["for exercise `daemon`, not `isolation`"],
    );
}

#[test]
fn an_exercise_file_changes_parameters_and_points() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("iso.toml");
    std::fs::write(
        &file,
        "exercise = \"isolation\"\n[params]\ninitial = 7\n[points]\nparent-value = 10\n",
    )
    .expect("write");
    let command = vec![
        scenario("isolation").display().to_string(),
        "--initial".into(),
        "7".into(),
    ];
    let graded = grade_json(
        "isolation",
        &["--exercise-file", &file.display().to_string()],
        &command,
    );
    assert_eq!(graded.code, 0, "{}", graded.stdout);
    assert_eq!(graded.json()["max_score"], 14);
    // The built-in spec expects 100: the same run fails parent-value, losing its points.
    let graded = grade_json("isolation", &[], &command);
    assert_eq!(graded.failed_checks(), ["parent-value"]);
}

#[test]
fn exercises_lists_every_exercise_with_a_description() {
    let out = Command::new(proclab())
        .arg("exercises")
        .output()
        .expect("run");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let ids: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(ids, SCENARIOS);
    assert!(text.lines().all(|l| l.split_whitespace().count() > 3));
    let show = Command::new(proclab())
        .args(["exercises", "--show", "daemon"])
        .output()
        .expect("run");
    assert!(String::from_utf8_lossy(&show.stdout).contains("exercise = \"daemon\""));
}
