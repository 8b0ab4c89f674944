//! Every reference scenario graded through the real `proclab` binary passes its
//! exercise, with each start method the library offers.

mod grade_common;

use grade_common::*;

/// (exercise, scenario flags) for one start method.
fn runs(method: &str) -> Vec<(&'static str, Vec<String>)> {
    let with = |flags: &[&str]| -> Vec<String> {
        flags
            .iter()
            .map(|s| s.to_string())
            .chain(["--start-method".to_string(), method.to_string()])
            .collect()
    };
    vec![
        ("start-target", with(&["--sleep-ms", "300"])),
        ("start-subclass", with(&["--sleep-ms", "300"])),
        ("join-order", with(&["--sleep-ms", "300"])),
        ("isolation", with(&[])),
        (
            "daemon",
            with(&["--daemon-sleep-ms", "5000", "--sleep-ms", "300"]),
        ),
        ("terminate", with(&[])),
    ]
}

fn grade_all(method: &str) {
    let runs = runs(method);
    let results = parallel(&runs, 2, |(exercise, flags)| {
        let mut command = vec![scenario(exercise).display().to_string()];
        command.extend(flags.iter().cloned());
        let graded = grade_json(exercise, &[], &command);
        if graded.code == 0 {
            Ok(())
        } else {
            Err(format!(
                "{exercise} --start-method {method}: exit {}, failed {:?}: {}",
                graded.code,
                graded.failed_checks(),
                graded.json()["checks"]
            ))
        }
    });
    let errors: Vec<String> = results.into_iter().filter_map(Result::err).collect();
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

#[test]
fn scenarios_pass_with_fork() {
    grade_all("fork");
}

#[test]
fn scenarios_pass_with_spawn() {
    grade_all("spawn");
}

/// The library's zygote carries `--multiprocessing.forkserver` in its argv, so it is an
/// interpreter helper like Python's forkserver and its children are the main process's.
#[test]
fn scenarios_pass_with_forkserver() {
    grade_all("forkserver");
}

#[test]
fn servers_pass_on_any_port_and_on_the_lessons_port() {
    let runs: Vec<(&str, Vec<String>)> = vec![
        ("socket-server", vec!["--port".into(), "0".into()]),
        (
            "pool-server",
            vec!["--port".into(), "0".into(), "--workers".into(), "3".into()],
        ),
        // Both hard-code 8080 at once: each run has its own network namespace.
        ("socket-server", vec![]),
        ("pool-server", vec![]),
    ];
    let results = parallel(&runs, 2, |(exercise, flags)| {
        let mut command = vec![scenario(exercise).display().to_string()];
        command.extend(flags.iter().cloned());
        let graded = grade_json(exercise, &[], &command);
        (graded.code == 0).then_some(()).ok_or_else(|| {
            format!(
                "{exercise} {flags:?}: exit {}: {}",
                graded.code, graded.stdout
            )
        })
    });
    let errors: Vec<String> = results.into_iter().filter_map(Result::err).collect();
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}
