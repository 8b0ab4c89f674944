//! Issue 13: grading is right wherever a course runs it. The same submissions are graded
//! as root, as root with Docker's default capabilities (with and without user
//! namespaces, which Docker's seccomp profile denies), and as an ordinary user (with and
//! without user namespaces): the verdicts and the failing checks must not change, and
//! each report must say which containment layers it had. The layer table these tests
//! print is the one in docs/security.md.

#[path = "containment_common.rs"]
mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::*;

/// (exercise, fixture, verdict, failing checks), from tests/fixtures/manifest.toml.
const FIXTURES: [(&str, &str, &str, &[&str]); 6] = [
    ("start-target", "python/start_target/good.py", "pass", &[]),
    (
        "start-target",
        "python/start_target/run_not_start.py",
        "fail",
        &[
            "child-count",
            "child-lines",
            "concurrent",
            "start-nonblocking",
        ],
    ),
    (
        "isolation",
        "python/isolation/parent_shows_child_value.py",
        "fail",
        &["parent-value"],
    ),
    (
        "join-order",
        "python/join_order/one_at_a_time.py",
        "fail",
        &["concurrent"],
    ),
    ("socket-server", "python/socket_server/good.py", "pass", &[]),
    (
        "socket-server",
        "python/socket_server/no_upper.py",
        "fail",
        &["answers"],
    ),
];

/// The layers docs/security.md tabulates.
const LAYERS: [&str; 13] = [
    "uid",
    "workdir",
    "capabilities",
    "userns",
    "fs-readonly",
    "netns",
    "pidns",
    "pids-cgroup",
    "memory-cgroup",
    "cgroup-kill",
    "nproc-rlimit",
    "ptrace-process-cap",
    "memory-poll",
];

/// The two tests grade servers on the host's network in some modes: one at a time.
static HOST_PORTS: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Does `mode` get private namespaces here (from the grader's own privileges, or from a
/// user namespace of the run's own)?
fn expects_namespaces(mode: Mode) -> bool {
    mode == Mode::Root || (!mode.denies_userns() && userns_allowed())
}

fn grade(setup: &Setup, mode: Mode, exercise: &str, file: &Path) -> serde_json::Value {
    let file = file.display().to_string();
    let args = [
        "grade",
        exercise,
        "--format",
        "json",
        "--",
        "/usr/bin/python3",
        &file,
    ];
    let mut out = setup
        .proclab(mode, &args)
        .output()
        .expect("running proclab");
    // Without a private network, a program outside this test (another test binary, a
    // service) may hold the port for a while: proclab then rightly could not grade.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while out.status.code() == Some(2)
        && String::from_utf8_lossy(&out.stderr).contains("is taken by another program")
        && std::time::Instant::now() < deadline
    {
        println!("{exercise} in mode `{}`: port taken, again", mode.name());
        std::thread::sleep(std::time::Duration::from_secs(1));
        out = setup
            .proclab(mode, &args)
            .output()
            .expect("running proclab");
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked at"), "{stderr}");
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{} graded {file} in mode `{}`: {:?}\n{stderr}",
        exercise,
        mode.name(),
        out.status
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "JSON report in mode `{}`: {e}\n{}",
            mode.name(),
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

#[test]
fn every_mode_gives_the_same_verdicts_and_says_which_layers_it_had() {
    if let Err(why) = modes_available() {
        println!("SKIPPED: {why}");
        return;
    }
    let _ports = HOST_PORTS.lock().unwrap_or_else(|e| e.into_inner());
    let setup = Setup::new();
    let files: Vec<_> = FIXTURES
        .iter()
        .enumerate()
        .map(|(i, (_, rel, _, _))| setup.file(rel, &format!("sub{i}/submission.py")))
        .collect();
    let mut table: BTreeMap<&str, BTreeMap<String, (bool, String)>> = BTreeMap::new();
    for mode in MODES {
        for ((exercise, rel, verdict, failing), file) in FIXTURES.iter().zip(&files) {
            let report = grade(&setup, mode, exercise, file);
            let got = verdict_of(&report);
            let want = Verdict {
                verdict: verdict.to_string(),
                failing: failing.iter().map(|s| s.to_string()).collect(),
            };
            let layers = proclab_tests::layers(&report);
            assert_eq!(
                got,
                want,
                "{rel} in mode `{}` (layers {layers:#?})",
                mode.name()
            );
            for name in [
                "uid",
                "workdir",
                "fs-readonly",
                "netns",
                "pidns",
                "pids-cgroup",
            ] {
                assert!(layers.contains_key(name), "`{name}` listed: {layers:?}");
            }
            let private = expects_namespaces(mode);
            for name in ["netns", "fs-readonly", "pidns"] {
                assert_eq!(
                    layers[name].0,
                    private,
                    "`{name}` in mode `{}`: {:?}",
                    mode.name(),
                    layers[name]
                );
                assert!(!layers[name].1.is_empty(), "`{name}` says why");
            }
            assert_eq!(layers["uid"].0, mode == Mode::Root, "{layers:?}");
            table.insert(mode.name(), layers);
        }
        // The text report names every layer that was off, with its reason.
        let text = setup
            .proclab(mode, &["grade", "start-target", "--", "/usr/bin/python3"])
            .arg(&files[0])
            .output()
            .expect("running proclab");
        let text = String::from_utf8_lossy(&text.stdout);
        let off_line = text
            .lines()
            .find(|l| l.starts_with("containment layers off:"))
            .unwrap_or("");
        for (name, (on, _)) in &table[mode.name()] {
            if !on && name != "pin-cpu" {
                assert!(
                    off_line.contains(&format!("{name} (")),
                    "`{name}` named as off in mode `{}`: {text}",
                    mode.name()
                );
            }
        }
    }
    print_table(&table);
}

/// Mode × layer, as docs/security.md shows it.
fn print_table(table: &BTreeMap<&str, BTreeMap<String, (bool, String)>>) {
    println!("| mode | {} |", LAYERS.join(" | "));
    println!("|---|{}", "---|".repeat(LAYERS.len()));
    for mode in MODES {
        let layers = &table[mode.name()];
        let cells: Vec<&str> = LAYERS
            .iter()
            .map(|name| match layers.get(*name) {
                Some((true, _)) => "on",
                Some((false, _)) => "off",
                None => "–",
            })
            .collect();
        println!("| {} | {} |", mode.name(), cells.join(" | "));
    }
    for mode in MODES {
        println!("\n{}:", mode.name());
        for (name, (on, detail)) in &table[mode.name()] {
            println!(
                "  {name:<20} {:<3} {detail}",
                if *on { "on" } else { "off" }
            );
        }
    }
}

/// (student, fixture, failing checks): eight servers that all bind 127.0.0.1:8080.
const SERVERS: [(&str, &str, &[&str]); 8] = [
    ("s1", "good.py", &[]),
    ("s2", "good.py", &[]),
    ("s3", "good.py", &[]),
    ("s4", "good.py", &[]),
    ("s5", "good.py", &[]),
    (
        "s6",
        "iterative.py",
        &["concurrent-clients", "process-per-client"],
    ),
    ("s7", "zombies.py", &["zombies-bounded"]),
    ("s8", "no_upper.py", &["answers"]),
];

#[test]
fn eight_servers_on_one_port_graded_at_once_are_all_graded_right_in_every_mode() {
    if let Err(why) = modes_available() {
        println!("SKIPPED: {why}");
        return;
    }
    let _ports = HOST_PORTS.lock().unwrap_or_else(|e| e.into_inner());
    let setup = Setup::new();
    for (student, fixture, _) in SERVERS {
        setup.file(
            &format!("python/socket_server/{fixture}"),
            &format!("class/{student}/socket_server.py"),
        );
    }
    let config = setup.dir.path().join("class.toml");
    std::fs::write(&config, "[run]\npy = [\"/usr/bin/python3\", \"{file}\"]\n").unwrap();
    for (i, mode) in MODES.into_iter().enumerate() {
        let out = setup.writable_dir(&format!("out{i}"), mode);
        let started = std::time::Instant::now();
        let run = setup
            .proclab(
                mode,
                &[
                    "grade-class",
                    "class",
                    "--config",
                    "class.toml",
                    "--exercises",
                    "socket-server",
                    "--jobs",
                    "8",
                    "--out",
                ],
            )
            .arg(&out)
            .output()
            .expect("running grade-class");
        let stderr = String::from_utf8_lossy(&run.stderr);
        println!(
            "mode `{}`: {:?}, exit {:?}, {}",
            mode.name(),
            started.elapsed(),
            run.status.code(),
            stderr.trim()
        );
        assert!(!stderr.contains("panicked at"), "{stderr}");
        for (student, fixture, failing) in SERVERS {
            let path = out.join(format!("students/{student}/socket-server.json"));
            let record: serde_json::Value = serde_json::from_slice(
                &std::fs::read(&path)
                    .unwrap_or_else(|e| panic!("{}: {e}\n{stderr}", path.display())),
            )
            .expect("record JSON");
            let got = verdict_of(&serde_json::json!({
                "verdict": record["status"],
                "checks": record["checks"],
            }));
            let want = Verdict {
                verdict: if failing.is_empty() { "pass" } else { "fail" }.to_string(),
                failing: failing.iter().map(|s| s.to_string()).collect(),
            };
            assert_eq!(
                got,
                want,
                "{student} ({fixture}) in mode `{}`: {}\n{stderr}",
                mode.name(),
                record["detail"]
            );
        }
        if !expects_namespaces(mode) {
            assert!(
                stderr.contains("one at a time"),
                "without private networks the batch says it serialises servers: {stderr}"
            );
        }
    }
}

/// A run with a private mount namespace gets a private `/tmp`: a file another user left in
/// the host's `/tmp` is not there, what the run writes there does not reach the host, and
/// what the run needs from the host's `/tmp` (its script's folder, the files named on its
/// command line, its working directory) stays at the same path.
#[test]
fn a_run_with_namespaces_has_a_private_tmp() {
    if let Err(why) = modes_available() {
        println!("SKIPPED: {why}");
        return;
    }
    let setup = Setup::new();
    // The setup lives under the host's /tmp, like a class copied to a temporary folder.
    let script = setup.file("hostile/private_tmp.py", "sub/probe.py");
    let data = setup.dir.path().join("data.txt");
    std::fs::write(&data, "given data\n").expect("writing the data file");
    std::fs::set_permissions(&data, std::os::unix::fs::PermissionsExt::from_mode(0o644))
        .expect("chmod");
    let id = std::process::id();
    let planted = std::path::PathBuf::from(format!("/tmp/proclab-planted-{id}.txt"));
    std::fs::write(&planted, "planted secret\n").expect("planting a file in /tmp");
    std::fs::set_permissions(
        &planted,
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .expect("chmod");
    for mode in MODES {
        let written = std::path::PathBuf::from(format!("/tmp/proclab-written-{id}-{mode:?}.txt"));
        let _ = std::fs::remove_file(&written);
        let out = setup
            .proclab(mode, &["trace", "--", "/usr/bin/python3"])
            .arg(&script)
            .arg(&data)
            .env("PROCLAB_PLANTED", &planted)
            .env("PROCLAB_TMP_FILE", &written)
            .output()
            .expect("running proclab");
        let text = String::from_utf8_lossy(&out.stdout);
        let says = |line: String| text.lines().any(|l| l.ends_with(&line));
        assert_eq!(out.status.code(), Some(0), "mode `{}`: {text}", mode.name());
        // What the run needs is there in every mode.
        assert!(
            says(format!("read {}: given data", data.display())),
            "{text}"
        );
        assert!(
            says(format!(
                "read {}: written by private_tmp.py",
                written.display()
            )),
            "{text}"
        );
        let private = expects_namespaces(mode);
        let host_written = written.exists();
        let _ = std::fs::remove_file(&written);
        if private {
            assert!(
                !host_written,
                "mode `{}`: the host's /tmp written",
                mode.name()
            );
            assert!(
                says(format!(
                    "unreadable {}: [Errno 2] No such file or directory: '{}'",
                    planted.display(),
                    planted.display()
                )),
                "mode `{}`: the planted file seen: {text}",
                mode.name()
            );
            assert!(says("TMPDIR /tmp".into()), "{text}");
            assert!(text.contains("a private /tmp"), "the layer says so: {text}");
        } else {
            assert!(host_written, "mode `{}`: no private /tmp here", mode.name());
        }
    }
    let _ = std::fs::remove_file(&planted);
}
