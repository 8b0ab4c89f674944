//! `proclab grade`'s platform contract: in the Gradescope and PrairieLearn formats a
//! results file is always written (`gradable: false` or the reason in `output` when it
//! cannot grade) and the exit status is 0; `--writable-fs` as `trace` has it; JUnit with
//! the message in the `<failure>` body and a limit as an `<error>`.

mod grade_common;
mod platform_common;

use std::path::Path;
use std::process::{Command, Output};

use grade_common::proclab;
use platform_common::*;
use serde_json::Value;

fn grade_cmd(args: &[&str]) -> Output {
    run(Command::new(proclab()).arg("grade").args(args))
}

#[test]
fn grade_in_platform_formats_always_leaves_results_and_exits_0() {
    let good = fixtures().join("python/start_target/good.py");
    let wrong = fixtures().join("python/start_target/run_not_start.py");
    let good = good.to_str().unwrap();
    let wrong = wrong.to_str().unwrap();
    // A verdict, pass or fail: the report, exit 0 so the partial score is kept.
    let out = grade_cmd(&[
        "start-target",
        "--format",
        "prairielearn",
        "--",
        "python3",
        wrong,
    ]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_valid(&schema("prairielearn.schema.json"), &json);
    assert_eq!(json["gradable"], true);
    let score = json["score"].as_f64().unwrap();
    assert!(score > 0.0 && score < 1.0, "{json:#}");

    // Could not grade: PrairieLearn gets gradable: false with the reason.
    let out = grade_cmd(&[
        "start-target",
        "--format",
        "prairielearn",
        "--",
        "python-not-installed",
        good,
    ]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_valid(&schema("prairielearn.schema.json"), &json);
    assert_eq!(json["gradable"], false);
    assert!(
        json["message"]
            .as_str()
            .unwrap()
            .contains("python-not-installed"),
        "{json:#}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("python-not-installed"));

    // Gradescope, to a file: the reason in `output`.
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("results.json");
    let results_arg = results.to_str().unwrap();
    let out = grade_cmd(&[
        "start-target",
        "--format",
        "gradescope",
        "-o",
        results_arg,
        "--",
        "python-not-installed",
        good,
    ]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let json = read_json(&results);
    assert_valid(&schema("gradescope.schema.json"), &json);
    assert_eq!(json["output_format"], "text");
    assert!(
        json["output"]
            .as_str()
            .unwrap()
            .contains("python-not-installed"),
        "{json:#}"
    );

    // And a pass in Gradescope's format: test names carry the exercise.
    let out = grade_cmd(&[
        "start-target",
        "--format",
        "gradescope",
        "--",
        "python3",
        good,
    ]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_valid(&schema("gradescope.schema.json"), &json);
    assert!(
        json["tests"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["name"].as_str().unwrap().starts_with("start-target: "))
    );
}

#[test]
fn writable_fs_turns_the_read_only_layer_off() {
    let good = fixtures().join("python/start_target/good.py");
    let layer = |extra: &[&str]| -> Value {
        let mut args = vec!["start-target", "--format", "json"];
        args.extend_from_slice(extra);
        args.extend(["--", "python3", good.to_str().unwrap()]);
        let out = grade_cmd(&args);
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        let json: Value = serde_json::from_slice(&out.stdout).unwrap();
        json["ledger"]["layers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["name"] == "fs-readonly")
            .cloned()
            .expect("the fs-readonly layer is reported")
    };
    let writable = layer(&["--writable-fs"]);
    assert_eq!(writable["active"], false, "{writable}");
    assert!(
        writable["detail"].as_str().unwrap().contains("option"),
        "{writable}"
    );
}

#[test]
fn junit_puts_the_message_in_the_failure_body_and_a_limit_as_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let xml = dir.path().join("r.xml");
    let json = dir.path().join("r.json");
    let good = fixtures().join("python/start_target/good.py");
    // Stopped by a time limit far below what the program sleeps.
    let out = grade_cmd(&[
        "start-target",
        "--time-limit",
        "300ms",
        "--report",
        &format!("junit={}", xml.display()),
        "--report",
        &format!("json={}", json.display()),
        "--",
        "python3",
        good.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let text = std::fs::read_to_string(&xml).unwrap();
    assert!(
        text.contains(r#"<error message="The time limit fired and the run was stopped." type="limit">The time limit fired"#),
        "{text}"
    );
    let failure = text.find("<failure message=\"").expect("a failed check");
    let rest = &text[failure..];
    let message = &rest["<failure message=\"".len()..rest.find("\" type=").unwrap()];
    assert!(
        rest.contains(&format!(">{message}</failure>")),
        "body repeats the message: {rest}"
    );
    let lint = Command::new("xmllint")
        .args(["--noout", "--schema"])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/junit.xsd"))
        .arg(&xml)
        .output();
    if let Ok(lint) = lint {
        assert!(
            lint.status.success(),
            "{}",
            String::from_utf8_lossy(&lint.stderr)
        );
    }
    assert_eq!(read_json(&json)["verdict"], "fail");
}
