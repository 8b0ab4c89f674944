//! Shared by the platform tests: the platforms' schemas, running proclab as an
//! instructor's machine would, and the fixture submissions handed in under the names
//! students use.

#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

pub use crate::grade_common::fixtures;

pub fn schema(name: &str) -> jsonschema::Validator {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("schemas")
            .join(name),
    )
    .expect("reading the schema");
    let schema: Value = serde_json::from_str(&text).expect("schema is JSON");
    jsonschema::validator_for(&schema).expect("a valid schema")
}

pub fn assert_valid(validator: &jsonschema::Validator, json: &Value) {
    let errors: Vec<String> = validator.iter_errors(json).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:?}\n{json:#}");
}

pub fn run(cmd: &mut Command) -> Output {
    // As on an instructor's machine (and a platform's image): Python buffers its output.
    let out = cmd
        .env_remove("PYTHONUNBUFFERED")
        .output()
        .expect("running");
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("panicked"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}
pub fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{} not written: {e}", path.display()));
    serde_json::from_str(&text).expect("results are JSON")
}

/// Put the good and the failing fixture into `dir` under the names students hand in.
pub fn hand_in(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::copy(
        fixtures().join("python/start_target/good.py"),
        dir.join("start_target.py"),
    )
    .unwrap();
    std::fs::copy(
        fixtures().join("python/isolation/child_prints_initial.py"),
        dir.join("isolation.py"),
    )
    .unwrap();
}

pub fn bash_syntax_ok(script: &Path) {
    let out = Command::new("bash").arg("-n").arg(script).output().unwrap();
    assert!(out.status.success(), "{}: {out:?}", script.display());
}
