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
