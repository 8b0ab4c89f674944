//! The grading table under `--clock virtual`: every fixture gets the verdict and the
//! exact failing checks the manifest gives (the same as on the real clock, which
//! `grade_fixtures.rs` proves). Server fixtures are graded too, but `grade` keeps servers
//! on the real clock whatever `--clock` says (the grader's clients live outside the
//! traced world), so for them this repeats the real-clock grading.

mod grade_common;

use grade_common::*;

#[test]
fn every_fixture_gets_its_verdict_and_failing_checks_on_the_virtual_clock() {
    let fixtures = graded_fixtures();
    assert!(fixtures.len() >= 40, "the manifest lists the fixtures");
    let results = parallel(&fixtures, 2, |f| {
        let mut extra: Vec<&str> = vec!["--clock", "virtual"];
        extra.extend(f.grade_args.iter().map(String::as_str));
        let graded = grade_json(&f.exercise, &extra, &f.command());
        f.judge(&graded)
    });
    let errors: Vec<String> = results.into_iter().filter_map(Result::err).collect();
    assert!(
        errors.is_empty(),
        "{} fixture(s) graded wrong on the virtual clock:\n{}",
        errors.len(),
        errors.join("\n")
    );
}

/// The hostile programs a time or output limit stops hit that limit, and say so, on the
/// virtual clock too (as `grade_fixtures.rs` checks on the real one).
#[test]
fn hostile_programs_hit_their_limit_on_the_virtual_clock() {
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
        let args = ["--clock", "virtual", "--time-limit", limit];
        let graded = grade_json("start-target", &args, &f.command());
        let json = graded.json();
        let expected = match f.limit.as_deref() {
            Some("time") => "time limit",
            Some("output") => "output cap",
            Some("processes") => "process cap",
            Some("memory") => "memory limit",
            other => return Err(format!("{}: unknown limit {other:?}", f.id)),
        };
        if graded.code != 1 || json["ledger"]["limit_hit"] != expected {
            return Err(format!(
                "{}: expected exit 1 and the {expected}; exit {}, limit_hit {}",
                f.id, graded.code, json["ledger"]["limit_hit"]
            ));
        }
        Ok(())
    });
    let errors: Vec<String> = results.into_iter().filter_map(Result::err).collect();
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

/// The orphan grace counts on the virtual clock: orphans that sleep past it are killed
/// when it runs out, with the verdict of the real clock (only no-leftovers names them, no
/// limit fires), at the grace's end in virtual time. (Real time varies with the pyenv
/// shim's start-up, seconds under load: speed is the benchmark's business.)
#[test]
fn orphans_are_killed_when_the_virtual_grace_runs_out() {
    let setsid = fixture("hostile-double-fork-setsid").command();
    let sleeper = fixture("py-start-target-fork-sleeps-past-grace").command();
    let cases: [(&[&str], &[String]); 3] = [
        (&["--time-limit", "20s", "--orphan-grace", "3s"], &setsid),
        (&["--time-limit", "4s"], &setsid),
        (&["--orphan-grace", "3s"], &sleeper),
    ];
    let results = parallel(&cases, 2, |(args, command)| {
        let mut args = args.to_vec();
        args.extend(["--clock", "virtual"]);
        let started = std::time::Instant::now();
        let graded = grade_json("start-target", &args, command);
        let took = started.elapsed();
        let json = graded.json();
        let failed = graded.failed_checks();
        let wall_ms = json["ledger"]["wall_ms"].as_f64().unwrap_or(0.0);
        let ok = graded.code == 1
            && failed.iter().any(|c| c == "no-leftovers")
            && !failed.iter().any(|c| c == "limits" || c == "exit-codes")
            && json["ledger"]["limit_hit"].is_null()
            && wall_ms >= 3000.0
            && took < std::time::Duration::from_secs(10);
        ok.then_some(()).ok_or_else(|| {
            format!("{args:?}: took {took:?}, virtual {wall_ms} ms, failed {failed:?}")
        })
    });
    let errors: Vec<String> = results.into_iter().filter_map(Result::err).collect();
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}
