//! Could not grade is not fail: a fault of the grader's environment (a port held by
//! another program while the run shares the host's network, a missing interpreter)
//! gives exit status 2 and a reason in every format, never a failed check; the same
//! submission in a private network namespace is graded normally.

#[path = "grade_common.rs"]
mod common;

use std::net::TcpListener;

use common::*;

fn is_root() -> bool {
    nix::unistd::Uid::effective().is_root()
}

/// The port-argument server, told to use `port`.
fn server_on(port: u16) -> Vec<String> {
    let file = fixtures().join("python/socket_server/port_arg.py");
    vec![
        "python3".into(),
        file.display().to_string(),
        port.to_string(),
    ]
}

#[test]
fn a_port_held_by_another_program_cannot_be_graded_on_the_host_network() {
    // This test holds a free loopback port (no clash with other tests' ports), as any
    // other program on the grading machine could.
    let holder = TcpListener::bind("127.0.0.1:0").expect("a free loopback port");
    let port = holder.local_addr().unwrap().port();
    let command = server_on(port);

    let host = grade_json("socket-server", &["--no-netns"], &command);
    assert_eq!(host.code, 2, "{}\n{}", host.stdout, host.stderr);
    let report = host.json();
    assert_eq!(report["verdict"], "error", "{report}");
    let error = report["error"].as_str().unwrap_or_default();
    assert!(error.contains(&format!("127.0.0.1:{port}")), "{error}");
    assert!(
        error.contains("private network namespace"),
        "says what to do: {error}"
    );
    assert_eq!(
        report["checks"].as_array().map(Vec::len),
        Some(0),
        "no check judged"
    );
    assert!(host.stderr.contains("could not grade"), "{}", host.stderr);

    let text = grade_raw(
        &[
            "socket-server".into(),
            "--no-netns".into(),
            "--".into(),
            command[0].clone(),
            command[1].clone(),
            command[2].clone(),
        ],
        &[],
    );
    assert_eq!(text.code, 2, "{}", text.stderr);
    assert!(text.stdout.contains("COULD NOT GRADE"), "{}", text.stdout);
    assert!(!text.stdout.contains("FAIL"), "{}", text.stdout);

    if !is_root() {
        println!("SKIPPED the private-namespace half: needs root");
        return;
    }
    // In its own namespace the port is free: the same server passes.
    let private = grade_json("socket-server", &[], &command);
    assert_eq!(private.code, 0, "{}\n{}", private.stdout, private.stderr);
    assert_eq!(private.json()["verdict"], "pass");
    drop(holder);
}

#[test]
fn a_missing_interpreter_cannot_be_graded() {
    // On the command line.
    let missing = grade_json(
        "start-target",
        &[],
        &["python9-not-installed".into(), "x.py".into()],
    );
    assert_eq!(missing.code, 2, "{}", missing.stderr);
    let report = missing.json();
    assert_eq!(report["verdict"], "error");
    assert!(
        report["error"]
            .as_str()
            .unwrap()
            .contains("python9-not-installed"),
        "{report}"
    );

    let dir = tempfile::tempdir().unwrap();
    // In a #! line the kernel reads…
    let direct = dir.path().join("direct.py");
    std::fs::write(&direct, "#!/usr/bin/python9-not-installed\nprint('hi')\n").unwrap();
    // …and through env, which starts but finds nothing to run.
    let via_env = dir.path().join("via_env.py");
    std::fs::write(
        &via_env,
        "#!/usr/bin/env python9-not-installed\nprint('hi')\n",
    )
    .unwrap();
    for script in [&direct, &via_env] {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let run = grade_json("start-target", &[], &[script.display().to_string()]);
        assert_eq!(
            run.code,
            2,
            "{}: {}\n{}",
            script.display(),
            run.stdout,
            run.stderr
        );
        let report = run.json();
        assert_eq!(report["verdict"], "error", "{report}");
        assert!(
            report["error"]
                .as_str()
                .unwrap()
                .contains("python9-not-installed"),
            "names the interpreter: {report}"
        );
    }
}

#[test]
fn a_students_own_crash_stays_a_fail() {
    let dir = tempfile::tempdir().unwrap();
    let crash = dir.path().join("crash.py");
    std::fs::write(&crash, "import sys\nprint('egon piaoing')\nsys.exit(127)\n").unwrap();
    let run = grade_json(
        "start-target",
        &[],
        &["python3".into(), crash.display().to_string()],
    );
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(run.json()["verdict"], "fail");
}
