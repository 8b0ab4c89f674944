//! The per-submission HTML report, rendered by a real browser (headless Chromium): the
//! page must show one lane per process, the fork arrows and the check results.
//! Skipped, with the reason printed, when Chromium is not installed.
//! `PROCLAB_UPDATE_SCREENSHOT=1` also refreshes `docs/report-screenshot.png`.

#[path = "class_common.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|name| {
            std::env::var_os("PATH")?
                .to_str()?
                .split(':')
                .map(|dir| Path::new(dir).join(name))
                .find(|p| p.is_file())
        })
}

fn browser(exe: &Path, profile: &Path) -> Command {
    let mut cmd = Command::new(exe);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    cmd
}

#[test]
fn chromium_renders_lanes_arrows_and_checks() {
    let Some(exe) = chromium() else {
        eprintln!("skipped: chromium is not installed (apt-get install -y chromium)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let student = root.join("class/alice");
    std::fs::create_dir_all(&student).unwrap();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("class_fixtures/class");
    std::fs::copy(
        fixtures.join("alice/start_target.py"),
        student.join("start_target.py"),
    )
    .unwrap();
    let out = root.join("out");
    let run = Command::new(proclab())
        .arg("grade-class")
        .arg(root.join("class"))
        .arg("--out")
        .arg(&out)
        .args(["--exercises", "start-target"])
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    let report = out.join("students/alice/start-target.html");
    assert!(report.is_file());
    let url = format!("file://{}", report.display());

    let dom = browser(&exe, &root.join("profile"))
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .unwrap();
    assert!(dom.status.success(), "{}", stderr(&dom));
    let dom = String::from_utf8_lossy(&dom.stdout);
    let lanes = dom.matches("class=\"lane ").count();
    assert!(lanes >= 5, "main + 4 children as lanes, found {lanes}");
    assert!(
        dom.matches("class=\"fork-arrow\"").count() >= 4,
        "fork arrows"
    );
    assert!(dom.contains("class=\"check pass\""), "passed checks shown");
    assert!(
        !dom.contains("class=\"check fail\""),
        "a correct submission fails nothing"
    );
    for name in ["egon piaoing", "yuanhao piao end", "主"] {
        assert!(dom.contains(name), "{name} on the timeline");
    }

    let png = root.join("report.png");
    let shot = browser(&exe, &root.join("profile"))
        .arg("--window-size=1280,1700")
        .arg(format!("--screenshot={}", png.display()))
        .arg(&url)
        .output()
        .unwrap();
    assert!(shot.status.success(), "{}", stderr(&shot));
    let bytes = std::fs::read(&png).unwrap();
    assert!(
        bytes.starts_with(b"\x89PNG") && bytes.len() > 20_000,
        "a real screenshot"
    );
    if std::env::var_os("PROCLAB_UPDATE_SCREENSHOT").is_some() {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/report-screenshot.png");
        std::fs::write(docs, bytes).unwrap();
    }
}

#[test]
fn grade_format_html_writes_the_report_of_one_run() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/python/terminate/good.py");
    let run = Command::new(proclab())
        .args(["grade", "terminate", "--format", "html", "--", "python3"])
        .arg(&fixture)
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    let html = String::from_utf8(run.stdout).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(
        html.matches("class=\"lane ").count() >= 2,
        "parent and child lanes"
    );
    assert_eq!(
        html.matches("class=\"signal-arrow\"").count(),
        1,
        "the SIGTERM"
    );
    assert!(html.contains("killed by SIGTERM"));
    assert!(
        html.contains("class=\"reap-arrow\""),
        "join() reaped the child"
    );
    assert!(html.contains("class=\"check pass\"") && !html.contains("class=\"check fail\""));
    assert!(!html.contains("<script"), "no script");
}
