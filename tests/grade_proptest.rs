//! Property: over random exercise parameters (children's names and count, the initial
//! value, the number of clients), the reference scenario run with matching flags passes
//! an exercise file with the same parameters, and a deliberately wrong count fails it.
//! Few cases: each one is two real traced runs.

mod grade_common;

use grade_common::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

#[derive(Debug, Clone)]
enum Case {
    /// start-target / start-subclass / join-order with these names.
    Start(&'static str, Vec<String>),
    Isolation(i64),
    /// socket-server / pool-server with this many clients per wave.
    Server(&'static str, u32),
}

fn case() -> impl Strategy<Value = Case> {
    let names = prop::collection::btree_set("[a-z]{3,8}", 1..=5)
        .prop_map(|set| set.into_iter().collect::<Vec<_>>());
    prop_oneof![
        (
            prop::sample::select(vec!["start-target", "start-subclass", "join-order"]),
            names
        )
            .prop_map(|(e, n)| Case::Start(e, n)),
        (-1000i64..1000).prop_map(Case::Isolation),
        (
            prop::sample::select(vec!["socket-server", "pool-server"]),
            1u32..=4
        )
            .prop_map(|(e, c)| Case::Server(e, c)),
    ]
}

fn toml_list(names: &[String]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("\"{n}\"")).collect();
    format!("[{}]", quoted.join(", "))
}

/// (exercise, matching file, wrong file or None, scenario command).
fn setup(case: &Case) -> (&'static str, String, Option<String>, Vec<String>) {
    match case {
        Case::Start(exercise, names) => {
            let mut wrong = names.clone();
            wrong.push("extra-child".into());
            let file = |n: &[String]| {
                format!(
                    "exercise = \"{exercise}\"\n[params]\nnames = {}\n",
                    toml_list(n)
                )
            };
            let command = vec![
                scenario(exercise).display().to_string(),
                "--names".into(),
                names.join(","),
                "--sleep-ms".into(),
                "200".into(),
            ];
            (exercise, file(names), Some(file(&wrong)), command)
        }
        Case::Isolation(initial) => {
            let file = |v: i64| format!("exercise = \"isolation\"\n[params]\ninitial = {v}\n");
            let wrong = if *initial == 0 { 1 } else { -initial };
            let command = vec![
                scenario("isolation").display().to_string(),
                format!("--initial={initial}"),
            ];
            ("isolation", file(*initial), Some(file(wrong)), command)
        }
        Case::Server(exercise, clients) => {
            let file =
                format!("exercise = \"{exercise}\"\n[params]\nclients = {clients}\nmessages = 1\n");
            let command = vec![
                scenario(exercise).display().to_string(),
                "--port".into(),
                "0".into(),
            ];
            (exercise, file, None, command)
        }
    }
}

fn check(case: &Case) -> Result<(), TestCaseError> {
    let (exercise, matching, wrong, command) = setup(case);
    let dir = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
    let grade_with = |text: &str| {
        let file = dir.path().join("spec.toml");
        std::fs::write(&file, text).expect("writing the exercise file");
        grade_json(
            exercise,
            &["--exercise-file", &file.display().to_string()],
            &command,
        )
    };
    let graded = grade_with(&matching);
    prop_assert_eq!(graded.code, 0, "{:?} should pass: {}", case, graded.stdout);
    if let Some(wrong) = wrong {
        let graded = grade_with(&wrong);
        prop_assert_eq!(graded.code, 1, "{:?} with a wrong count should fail", case);
        let failed = graded.failed_checks();
        let expected = if exercise == "isolation" {
            "parent-value"
        } else {
            "child-count"
        };
        prop_assert!(
            failed.iter().any(|c| c == expected),
            "{:?}: failed {:?}",
            case,
            failed
        );
    }
    Ok(())
}

#[test]
fn matching_parameters_pass_and_a_wrong_count_fails() {
    let mut runner = TestRunner::new(Config {
        cases: 8,
        failure_persistence: None,
        ..Config::default()
    });
    if let Err(e) = runner.run(&case(), |c| check(&c)) {
        panic!("{e}");
    }
}
