//! Fault injection: the submission's stdout closed early, proclab's own stdout closed,
//! a full disk for the output folder, a missing, unreadable or malformed exercise file, a
//! corrupt resume cache. Each is a clear error (or a plain failing grade), the exit status
//! is the contract's (0 pass, 1 fail, 2 could not grade; grade-class 0 / 2 / 130), no
//! gradebook row is lost, and nothing panics.

#[path = "hardening_common.rs"]
mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::*;

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn no_panic(stderr: &str) {
    assert!(!stderr.contains("panicked at"), "panicked: {stderr}");
}

fn grade(args: &[&str]) -> Output {
    Command::new(proclab())
        .arg("grade")
        .args(args)
        .env_remove("PYTHONUNBUFFERED")
        .output()
        .expect("running proclab")
}

#[test]
fn a_submission_that_closes_its_stdout_is_graded_not_crashed_on() {
    let dir = tempfile::tempdir().unwrap();
    let sh = dir.path().join("closed.sh");
    std::fs::write(&sh, "exec 1>&-\necho lost\necho still here >&2\nexit 0\n").unwrap();
    let py = dir.path().join("closed.py");
    std::fs::write(
        &py,
        "import os\nprint('before', flush=True)\nos.close(1)\nprint('after')\n",
    )
    .unwrap();
    for command in [
        vec!["sh".to_string(), sh.display().to_string()],
        vec!["python3".to_string(), py.display().to_string()],
    ] {
        let mut args = vec!["isolation", "--format", "json", "--"];
        args.extend(command.iter().map(String::as_str));
        let out = grade(&args);
        let (stdout, stderr) = text(&out);
        no_panic(&stderr);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{command:?}: a failing grade: {stderr}"
        );
        let report: serde_json::Value = serde_json::from_str(&stdout).expect("JSON report");
        assert_eq!(report["verdict"], "fail");
        assert!(!failed_checks(&report).is_empty());
    }
}

/// proclab's own stdout a pipe whose reader left (`proclab grade … | head -1`): by the
/// grader's design (commit "a reader closing the pipe early is not a grading error") the
/// exit status stays the verdict's, with no panic and no error message. A report file
/// that cannot be written (`-o` naming a folder; a full disk below) is exit 2. (A
/// *closed* fd 1 is not tested: Rust's runtime reopens a closed 0/1/2 as /dev/null at
/// start-up, so `proclab … >&-` behaves like `>/dev/null`.)
#[test]
fn a_broken_stdout_keeps_the_verdicts_status_and_an_unwritable_report_is_exit_2() {
    let good = env!("CARGO_BIN_EXE_fx-isolation-good");
    let three = env!("CARGO_BIN_EXE_fx-start-target-three");
    for (exercise, program, status) in [("isolation", good, 0), ("start-target", three, 1)] {
        let mut child = Command::new(proclab())
            .args(["grade", exercise, "--format", "json", "--", program])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let (_, stderr) = text(&out);
        no_panic(&stderr);
        assert_eq!(out.status.code(), Some(status), "broken pipe: {stderr}");
    }
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().display().to_string();
    let out = grade(&["isolation", "-o", &folder, "--", good]);
    let (_, stderr) = text(&out);
    no_panic(&stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("cannot write"), "{stderr}");
}

#[test]
fn missing_unreadable_and_malformed_exercise_files_are_clear_errors() {
    let good = env!("CARGO_BIN_EXE_fx-isolation-good");
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.toml");
    let folder = dir.path().join("a-folder.toml");
    std::fs::create_dir(&folder).unwrap();
    let malformed = dir.path().join("bad.toml");
    std::fs::write(
        &malformed,
        "exercise = \"isolation\"\n[limits]\ntime_ms = \"soon\"\n",
    )
    .unwrap();
    let unknown = dir.path().join("unknown.toml");
    std::fs::write(&unknown, "exercise = \"isolation\"\n[limits]\nwall = 3\n").unwrap();
    let cases: [(&Path, &str); 4] = [
        (&missing, "nope.toml"),
        (&folder, "a-folder.toml"),
        (&malformed, "bad.toml:3"),
        (&unknown, "unknown.toml:3"),
    ];
    for (file, names) in cases {
        let file = file.display().to_string();
        let out = grade(&["isolation", "--exercise-file", &file, "--", good]);
        let (stdout, stderr) = text(&out);
        no_panic(&stderr);
        assert_eq!(out.status.code(), Some(2), "{file}: {stderr}");
        assert!(stderr.starts_with("proclab grade: "), "{file}: {stderr}");
        assert!(
            stderr.contains(names),
            "{file}: the error names it: {stderr}"
        );
        assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
        assert!(stdout.is_empty(), "no report: {stdout}");
    }
}

#[test]
fn an_exercise_file_unreadable_to_an_ordinary_user_is_a_clear_error() {
    if !nix::unistd::Uid::effective().is_root() {
        println!("SKIPPED: needs root to become nobody");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let copy = |from: &Path, name: &str, mode: u32| {
        let to = dir.path().join(name);
        std::fs::copy(from, &to).unwrap();
        std::fs::set_permissions(&to, std::fs::Permissions::from_mode(mode)).unwrap();
        to
    };
    let proclab = copy(&proclab(), "proclab", 0o755);
    let good = copy(
        Path::new(env!("CARGO_BIN_EXE_fx-isolation-good")),
        "good",
        0o755,
    );
    let spec = dir.path().join("secret.toml");
    std::fs::write(&spec, "exercise = \"isolation\"\n").unwrap();
    std::fs::set_permissions(&spec, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(&proclab)
        .args(["grade", "isolation", "--exercise-file"])
        .arg(&spec)
        .arg("--")
        .arg(&good)
        .current_dir(dir.path())
        .output();
    let Ok(out) = out else {
        println!("SKIPPED: no setpriv here");
        return;
    };
    let (_, stderr) = text(&out);
    no_panic(&stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("secret.toml") && stderr.contains("Permission denied"),
        "{stderr}"
    );
}

/// A tmpfs of `size` at `dir`, unmounted when dropped; None (after saying why) if it
/// cannot be mounted here.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(dir).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            println!("SKIPPED: cannot mount a small tmpfs here (needs root)");
            return None;
        }
        Some(Tmpfs(dir.to_path_buf()))
    }

    /// Fill it up: a file as large as the free space allows.
    fn fill(&self) {
        let filler = self.0.join("filler");
        let mut file = std::fs::File::create(&filler).unwrap();
        let block = vec![0u8; 4096];
        while std::io::Write::write_all(&mut file, &block).is_ok() {}
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_for_the_report_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let Some(disk) = Tmpfs::mount(&dir.path().join("out"), "64k") else {
        return;
    };
    disk.fill();
    let report = dir.path().join("out/results.json").display().to_string();
    let good = env!("CARGO_BIN_EXE_fx-isolation-good");
    let out = grade(&[
        "isolation",
        "--format",
        "gradescope",
        "-o",
        &report,
        "--",
        good,
    ]);
    let (_, stderr) = text(&out);
    no_panic(&stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("results.json") && stderr.contains("No space left on device"),
        "the error names the file and the cause: {stderr}"
    );
}

/// A class of `n` students with a correct, quick start-target.
fn small_class(root: &Path, n: usize) -> PathBuf {
    let good = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("class_fixtures/class/alice/start_target.py"),
    )
    .unwrap();
    let class = root.join("class");
    for i in 0..n {
        let d = class.join(format!("s{i}"));
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("start_target.py"), &good).unwrap();
    }
    class
}

fn grade_class(class: &Path, out: &Path, extra: &[&str]) -> Output {
    Command::new(proclab())
        .arg("grade-class")
        .arg(class)
        .arg("--out")
        .arg(out)
        .args(["-e", "start-target", "--jobs", "3"])
        .args(extra)
        .env_remove("PYTHONUNBUFFERED")
        .output()
        .unwrap()
}

fn gradebook_rows(out: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(out.join("gradebook.csv")).unwrap_or_default();
    let mut lines = text.lines();
    let width = lines.next().map_or(0, |h| h.split(',').count());
    lines
        .map(|l| {
            assert_eq!(l.split(',').count(), width, "a complete row: {l}");
            l.split(',').next().unwrap_or_default().to_string()
        })
        .collect()
}

#[test]
fn a_full_disk_during_a_rerun_keeps_every_gradebook_row() {
    let dir = tempfile::tempdir().unwrap();
    let class = small_class(dir.path(), 3);
    let out = dir.path().join("out");
    let Some(disk) = Tmpfs::mount(&out, "2m") else {
        return;
    };
    let first = grade_class(&class, &out, &[]);
    let (_, stderr) = text(&first);
    assert_eq!(first.status.code(), Some(0), "{stderr}");
    assert_eq!(gradebook_rows(&out), ["s0", "s1", "s2"]);
    let book = std::fs::read(out.join("gradebook.csv")).unwrap();
    disk.fill();
    let rerun = grade_class(&class, &out, &["--force"]);
    let (_, stderr) = text(&rerun);
    no_panic(&stderr);
    assert_eq!(rerun.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("No space left on device"), "{stderr}");
    assert_eq!(
        std::fs::read(out.join("gradebook.csv")).unwrap(),
        book,
        "the previous gradebook is kept whole"
    );
}

#[test]
fn a_corrupt_resume_cache_is_warned_about_and_regraded() {
    let dir = tempfile::tempdir().unwrap();
    let class = small_class(dir.path(), 3);
    let out = dir.path().join("out");
    let first = grade_class(&class, &out, &[]);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first).1);
    let record = out.join("students/s1/start-target.json");
    let whole = std::fs::read(&record).unwrap();
    let corruptions: [&[u8]; 3] = [&whole[..whole.len() / 2], b"\0\0garbage\xff", b""];
    for corrupt in corruptions {
        std::fs::write(&record, corrupt).unwrap();
        let rerun = grade_class(&class, &out, &[]);
        let (_, stderr) = text(&rerun);
        no_panic(&stderr);
        assert_eq!(rerun.status.code(), Some(0), "{stderr}");
        assert!(
            stderr.contains("start-target.json"),
            "the warning names the record: {stderr}"
        );
        assert!(
            stderr.contains("1 checked now, 2 unchanged"),
            "only s1 regraded: {stderr}"
        );
        assert_eq!(gradebook_rows(&out), ["s0", "s1", "s2"]);
        let fresh: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&record).unwrap()).expect("rewritten");
        assert_eq!(fresh["status"], "pass");
    }
    // A corrupt gradebook is rebuilt from the records.
    std::fs::write(out.join("gradebook.csv"), "student,garb\u{0}age\n,,,,\n").unwrap();
    let rerun = grade_class(&class, &out, &[]);
    let (_, stderr) = text(&rerun);
    no_panic(&stderr);
    assert_eq!(rerun.status.code(), Some(0), "{stderr}");
    assert_eq!(gradebook_rows(&out), ["s0", "s1", "s2"]);
}

#[test]
fn a_missing_spec_in_the_class_config_is_a_clear_error_and_keeps_the_gradebook() {
    let dir = tempfile::tempdir().unwrap();
    let class = small_class(dir.path(), 2);
    let out = dir.path().join("out");
    let first = grade_class(&class, &out, &[]);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first).1);
    let book = std::fs::read(out.join("gradebook.csv")).unwrap();
    let config = dir.path().join("class.toml");
    std::fs::write(&config, "[exercises.start-target]\nspec = \"gone.toml\"\n").unwrap();
    let config_arg = config.display().to_string();
    let rerun = grade_class(&class, &out, &["--config", &config_arg]);
    let (_, stderr) = text(&rerun);
    no_panic(&stderr);
    assert_eq!(rerun.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("gone.toml"), "names the file: {stderr}");
    assert_eq!(std::fs::read(out.join("gradebook.csv")).unwrap(), book);
}
