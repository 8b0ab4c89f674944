//! Every fixture of `fixtures/manifest.toml` graded through the real `proclab` binary:
//! the verdict (exit status) and the checks that must fail. Hostile trace-only programs
//! are graded too, with a short time limit: the limit that fires is reported as such.
//! All on the real clock (`--clock real`): `grade_virtual_clock.rs` grades the same on
//! the virtual clock, the default, and the two together are the proof that both clocks
//! give every fixture the same verdict and failing checks.

mod grade_common;

use grade_common::*;
use serde_json::Value;

#[test]
fn every_fixture_gets_its_verdict_and_failing_checks() {
    let fixtures = graded_fixtures();
    assert!(fixtures.len() >= 40, "the manifest lists the fixtures");
    // Two at a time: two cores; each grading is mostly sleeping children.
    let results = parallel(&fixtures, 2, |f| {
        let mut extra: Vec<&str> = vec!["--clock", "real"];
        extra.extend(f.grade_args.iter().map(String::as_str));
        let graded = grade_json(&f.exercise, &extra, &f.command());
        f.judge(&graded)
    });
    let errors: Vec<String> = results.into_iter().filter_map(Result::err).collect();
    assert!(
        errors.is_empty(),
        "{} fixture(s) graded wrong:\n{}",
        errors.len(),
        errors.join("\n")
    );
}

#[test]
fn hostile_programs_hit_their_limit_and_say_so() {
    // Those that need an outer safety net (fork bomb, memory hog) belong to the
    // hardening suite; here the ones a time or output limit stops.
    let hostile: Vec<Fixture> = manifest()
        .into_iter()
        .filter(|f| f.verdict == "limit" && f.needs_safety_net.is_empty())
        .collect();
    assert!(!hostile.is_empty());
    let results = parallel(&hostile, 2, |f| {
        // A short limit for the programs that run out of time; a long one for those that
        // must hit another cap first (an 8 MiB writer takes 1.5 s quietly, over 3 s on a
        // loaded CI machine, where a 3 s limit then fired first).
        let limit = time_limit_for(f);
        let args = ["--clock", "real", "--time-limit", limit];
        let graded = grade_json("start-target", &args, &f.command());
        let json = graded.json();
        let expected = match f.limit.as_deref() {
            Some("time") => "time limit",
            Some("output") => "output cap",
            Some("processes") => "process cap",
            Some("memory") => "memory limit",
            other => return Err(format!("{}: unknown limit {other:?}", f.id)),
        };
        let limits = json["checks"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["id"] == "limits"))
            .cloned()
            .unwrap_or(Value::Null);
        if graded.code != 1
            || json["ledger"]["limit_hit"] != expected
            || limits["passed"] != false
            || !limits["message"].as_str().unwrap_or("").contains(expected)
        {
            return Err(format!(
                "{}: expected exit 1 and the {expected} reported; exit {}, limit_hit {}, limits check {limits}",
                f.id, graded.code, json["ledger"]["limit_hit"]
            ));
        }
        Ok(())
    });
    let errors: Vec<String> = results.into_iter().filter_map(Result::err).collect();
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

/// Orphans are observed for the grace, then killed: the run ends when the grace runs out
/// (or at the time limit, if sooner), never at the orphan's own pace, and no limit fires —
/// only no-leftovers names them.
#[test]
fn orphans_are_killed_when_the_grace_runs_out_and_only_no_leftovers_says_so() {
    let setsid = fixture("hostile-double-fork-setsid").command();
    let sleeper = fixture("py-start-target-fork-sleeps-past-grace").command();
    let cases: [(&[&str], &[String], u64); 3] = [
        // A 1 s grace: the hour-long setsid grandchild is killed after about 1 s.
        (
            &[
                "--clock",
                "real",
                "--time-limit",
                "20s",
                "--orphan-grace",
                "1s",
            ],
            &setsid,
            8,
        ),
        // The default 5 s grace, cut at a 2 s time limit: no time limit reported.
        (&["--clock", "real", "--time-limit", "2s"], &setsid, 8),
        // A child sleeping 30 s, 1 s grace: about 1 s, not 30.
        (&["--clock", "real", "--orphan-grace", "1s"], &sleeper, 8),
    ];
    let results = parallel(&cases, 2, |(args, command, most)| {
        let started = std::time::Instant::now();
        let graded = grade_json("start-target", args, command);
        let took = started.elapsed();
        let json = graded.json();
        let failed = graded.failed_checks();
        let leftover = json["ledger"]["leftovers"]
            .as_array()
            .is_some_and(|l| !l.is_empty());
        let no_leftovers = json["checks"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["id"] == "no-leftovers"))
            .map(|c| c["message"].to_string())
            .unwrap_or_default();
        let ok = graded.code == 1
            && failed.iter().any(|c| c == "no-leftovers")
            && !failed.iter().any(|c| c == "limits" || c == "exit-codes")
            && json["ledger"]["limit_hit"].is_null()
            && leftover
            && no_leftovers.contains("killed by containment")
            && took < std::time::Duration::from_secs(*most);
        ok.then_some(()).ok_or_else(|| {
            format!("{args:?}: took {took:?}, failed {failed:?}, no-leftovers: {no_leftovers}")
        })
    });
    let errors: Vec<String> = results.into_iter().filter_map(Result::err).collect();
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

#[test]
fn a_crash_shows_the_exit_status_and_the_tail_of_stderr() {
    let dir = tempfile::tempdir().expect("tempdir");
    let script = dir.path().join("crash.py");
    std::fs::write(
        &script,
        "from multiprocessing import Process\n\
         def boom(n):\n    raise ValueError(f'child {n} blew up')\n\
         if __name__ == '__main__':\n    p = Process(target=boom, args=(1,))\n    p.start()\n    p.join()\n    raise SystemExit(3)\n",
    )
    .expect("writing the script");
    let command = vec!["python3".to_string(), script.display().to_string()];
    let graded = grade_json("isolation", &[], &command);
    assert_eq!(graded.code, 1, "{}", graded.stderr);
    let json = graded.json();
    let crashes = json["crashes"].as_array().expect("crashes");
    let statuses: Vec<&str> = crashes
        .iter()
        .filter_map(|c| c["status"].as_str())
        .collect();
    assert!(
        statuses.contains(&"exit code 3") && statuses.contains(&"exit code 1"),
        "{crashes:?}"
    );
    let child = crashes
        .iter()
        .find(|c| c["status"] == "exit code 1")
        .expect("the child's crash");
    let tail = child["stderr_tail"].to_string();
    assert!(tail.contains("ValueError: child 1 blew up"), "{tail}");
    // The text report shows it too.
    let text = grade_raw(
        &[
            "isolation".into(),
            "--".into(),
            command[0].clone(),
            command[1].clone(),
        ],
        &[],
    );
    assert!(
        text.stdout.contains("Crash:") && text.stdout.contains("ValueError"),
        "{}",
        text.stdout
    );
}

#[test]
fn pinned_names_in_an_exercise_file_report_a_near_miss_with_the_line_seen() {
    // The lesson's first program spells `wupeqi`; an instructor who pins `wupeiqi` gets
    // exactly one failed check, which quotes the line the child wrote.
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("pinned.toml");
    std::fs::write(
        &spec,
        "exercise = \"start-target\"\n[params]\nnames = [\"egon\", \"alex\", \"wupeiqi\", \"yuanhao\"]\n",
    )
    .unwrap();
    let program = fixtures().join("python/styles/kwargs_main_process.py");
    let command = vec!["python3".to_string(), program.display().to_string()];
    let graded = grade_json(
        "start-target",
        &["--exercise-file", spec.to_str().unwrap()],
        &command,
    );
    assert_eq!(graded.code, 1, "{}", graded.stderr);
    assert_eq!(graded.failed_checks(), ["child-lines"]);
    let messages = graded.failure_messages();
    assert!(
        messages.contains("expected a child named `wupeiqi`")
            && messages.contains("wrote `wupeqi piaoing`: `wupeqi` is a near miss of `wupeiqi`"),
        "{messages}"
    );
    // Without pinned names the same program passes: the names are the student's.
    assert_eq!(grade_json("start-target", &[], &command).code, 0);
}

/// A server whose serving children spin for ever on a recv() that returns b'' (every
/// spin is a stop of the tracer's): with both cores loaded, the next wave's children
/// are still served in time, and only children-exit fails. When the tracer took one
/// stop per wait, the spinners (first in the kernel's list of tracees) were always
/// handed out first: with hogs in the grader's session (as in CI, where the other tests
/// run) every run also failed concurrent-clients (5 of 5).
#[test]
fn spinning_server_children_do_not_starve_the_next_wave_under_load() {
    let _hogs = proclab_tests::hogs::Hogs::start_in_this_session();
    let fixture = fixture("py-socket-server-no-break-on-close");
    for _ in 0..2 {
        let graded = grade_json("socket-server", &[], &fixture.command());
        if let Err(e) = fixture.judge(&graded) {
            panic!("{e}");
        }
    }
}
