//! Shared by the class and HTML tests: the `proclab` binary (built on first use), a copy
//! of the fixture class in a temp dir, and readers for the outputs.

#![allow(dead_code)]

#[allow(unused_imports)] // each test file uses its own subset
pub use proclab_tests::{bins::proclab, processes_mentioning};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

/// A private copy of `tests/class_fixtures` (class/, class.toml, specs/).
pub fn fixture_class() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_tree(
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/class_fixtures")),
        dir.path(),
    );
    dir
}

/// Copy a folder recursively.
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// `proclab grade-class <root>/class --config <root>/class.toml --out OUT ARGS…`
pub fn grade_class(root: &Path, out: &Path, args: &[&str]) -> Output {
    Command::new(proclab())
        .arg("grade-class")
        .arg(root.join("class"))
        .arg("--config")
        .arg(root.join("class.toml"))
        .arg("--out")
        .arg(out)
        .args(["--exercises", "start-target,isolation"])
        .args(args)
        .output()
        .expect("running proclab grade-class")
}

/// stderr of an output, for messages.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The gradebook as rows of `column → value`, by student.
pub fn gradebook(out: &Path) -> BTreeMap<String, BTreeMap<String, String>> {
    let text = std::fs::read_to_string(out.join("gradebook.csv")).expect("gradebook.csv");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    lines
        .map(|line| {
            let cells: Vec<&str> = line.split(',').collect();
            assert_eq!(cells.len(), header.len(), "a complete row: {line}");
            let row: BTreeMap<String, String> = header
                .iter()
                .zip(&cells)
                .map(|(h, c)| (h.to_string(), c.to_string()))
                .collect();
            (cells[0].to_string(), row)
        })
        .collect()
}

/// A stored per-submission record.
pub fn record(out: &Path, student: &str, exercise: &str) -> serde_json::Value {
    let path = out
        .join("students")
        .join(student)
        .join(format!("{exercise}.json"));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&bytes).expect("record JSON")
}

/// Each record's status and the ids of its passed checks, for comparing two runs.
pub fn verdicts(out: &Path) -> BTreeMap<(String, String), (String, Vec<String>)> {
    let mut all = BTreeMap::new();
    for student in std::fs::read_dir(out.join("students")).expect("students") {
        let student = student.expect("entry");
        for file in std::fs::read_dir(student.path()).expect("student dir") {
            let path = file.expect("entry").path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if name == "results.json" || !name.ends_with(".json") {
                continue;
            }
            let r: serde_json::Value =
                serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            let passed = r["checks"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|c| c["passed"] == true)
                .map(|c| c["id"].as_str().unwrap().to_string())
                .collect();
            all.insert(
                (
                    r["student"].as_str().unwrap().to_string(),
                    r["exercise"].as_str().unwrap().to_string(),
                ),
                (r["status"].as_str().unwrap().to_string(), passed),
            );
        }
    }
    all
}
