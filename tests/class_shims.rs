//! `grade-class` runs the interpreter a version manager's shim would run (asked once, in
//! the class folder), not the shim itself, unless `--keep-shims`.

#[path = "class_common.rs"]
mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use common::*;

/// A folder with a `python3` shim (a shell script that execs the interpreter).
fn shim_dir(root: &Path, python: &str) -> std::path::PathBuf {
    let bin = root.join("shims");
    std::fs::create_dir_all(&bin).unwrap();
    let shim = bin.join("python3");
    std::fs::write(&shim, format!("#!/bin/sh\nexec {python} \"$@\"\n")).unwrap();
    std::fs::set_permissions(&shim, std::fs::Permissions::from_mode(0o755)).unwrap();
    bin
}

fn grade(root: &Path, bin: &Path, out: &str, extra: &[&str]) -> (String, String) {
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let output = Command::new(proclab())
        .env("PATH", path)
        .arg("grade-class")
        .arg(root.join("class"))
        .arg("--out")
        .arg(root.join(out))
        .args(["--exercises", "start-target", "--clock", "virtual"])
        .args(extra)
        .output()
        .expect("running proclab grade-class");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let html = std::fs::read_to_string(
        root.join(out)
            .join("students")
            .join("alice")
            .join("start-target.html"),
    )
    .expect("alice's report");
    (stderr(&output), html)
}

#[test]
fn a_shim_on_path_is_resolved_once_unless_kept() {
    let class = fixture_class();
    let root = class.path();
    let python = proclab_tests::python_executable();
    let bin = shim_dir(root, &python);
    let shim = bin.join("python3").display().to_string();

    let (notice, html) = grade(root, &bin, "resolved", &[]);
    assert!(
        notice.contains(&format!(
            "{shim}, a version manager's shim): running {python} directly"
        )),
        "{notice}"
    );
    let ran = format!(
        "{python} {}",
        root.join("class/alice/start_target.py").display()
    );
    assert!(html.contains(&ran), "the report shows `{ran}`");

    let (notice, html) = grade(root, &bin, "kept", &["--keep-shims"]);
    assert!(!notice.contains("version manager"), "{notice}");
    assert!(!html.contains(&ran), "with --keep-shims the shim runs");
    assert!(
        html.contains("/bin/sh") || html.contains(&shim),
        "the shim's shell is traced"
    );
}
