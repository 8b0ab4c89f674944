//! Exercise specs: built-ins, overrides, and errors that name file, line and field.

use super::id::ExerciseId;
use super::params::*;
use super::spec::{self, SpecError};

#[test]
fn every_builtin_parses_with_the_documented_defaults() {
    let specs = spec::all_builtin().expect("built-ins parse");
    assert_eq!(specs.len(), 8);
    for s in &specs {
        assert!(!s.description.is_empty(), "{} has a description", s.id);
        assert_eq!(s.points.len(), s.id.check_ids().len());
        let expected = match s.id {
            ExerciseId::StartTarget | ExerciseId::StartSubclass | ExerciseId::JoinOrder => {
                Params::Start(StartParams::default())
            }
            ExerciseId::Isolation => Params::Isolation(IsolationParams::default()),
            ExerciseId::Daemon => Params::Daemon(DaemonParams::default()),
            ExerciseId::Terminate => Params::Terminate(TerminateParams::default()),
            ExerciseId::SocketServer => Params::Server(ServerParams::socket_default()),
            ExerciseId::PoolServer => Params::Server(ServerParams::pool_default()),
        };
        assert_eq!(s.params, expected, "{}: the file states the defaults", s.id);
    }
}

#[test]
fn a_partial_file_keeps_the_defaults_it_leaves_out() {
    let s = spec::parse(
        "exercise = \"pool-server\"\n[params]\nwaves = 3\n[points]\nanswers = 5\n",
        "my.toml",
    )
    .unwrap();
    let Params::Server(p) = &s.params else {
        panic!()
    };
    assert_eq!((p.clients, p.waves), (6, 3));
    assert_eq!(s.points["answers"], 5);
    assert_eq!(s.points["teardown"], 1);
    assert_eq!(s.limits.time_ms, 60_000);
    assert_eq!(s.source, "my.toml");
}

#[test]
fn the_orphan_grace_defaults_to_the_tracers_linger_and_can_be_set() {
    let grace = |text: &str| spec::parse(text, "my.toml").unwrap().limits.orphan_grace_ms;
    let default = crate::trace::DEFAULT_LINGER.as_millis() as u64;
    assert_eq!(grace("exercise = \"start-target\"\n"), default);
    for s in spec::all_builtin().unwrap() {
        assert_eq!(s.limits.orphan_grace_ms, default, "{}", s.id);
    }
    assert_eq!(
        grace("exercise = \"start-target\"\n[limits]\norphan_grace_ms = 800\n"),
        800
    );
}

fn error(text: &str) -> (usize, usize, String) {
    match spec::parse(text, "my.toml") {
        Err(SpecError::Invalid {
            path,
            line,
            column,
            message,
        }) => {
            assert_eq!(path, "my.toml");
            (line, column, message)
        }
        other => panic!("expected an Invalid error, got {other:?}"),
    }
}

#[test]
fn an_unknown_param_is_named_with_its_line() {
    let (line, column, message) =
        error("exercise = \"start-target\"\n\n[params]\nnamez = [\"a\"]\n");
    assert_eq!((line, column), (4, 1));
    assert!(message.contains("namez"), "{message}");
}

#[test]
fn a_wrong_type_is_named_with_its_line() {
    let (line, _, message) = error("exercise = \"isolation\"\n[params]\ninitial = \"a hundred\"\n");
    assert_eq!(line, 3);
    assert!(
        message.contains("initial") || message.contains("integer"),
        "{message}"
    );
}

#[test]
fn an_unknown_check_in_points_is_named() {
    let (line, _, message) =
        error("exercise = \"daemon\"\n[points]\ndaemon-ended = 2\nconcurrent = 1\n");
    assert_eq!(line, 4);
    assert!(
        message.contains("`points.concurrent`") && message.contains("daemon-ended"),
        "{message}"
    );
}

#[test]
fn an_unknown_exercise_is_named() {
    let (line, _, message) = error("# mine\nexercise = \"fork-bomb\"\n");
    assert_eq!(line, 2);
    assert!(
        message.contains("fork-bomb") && message.contains("start-target"),
        "{message}"
    );
    assert!(matches!(
        spec::builtin("nope"),
        Err(SpecError::UnknownExercise(_))
    ));
}

#[test]
fn an_invalid_value_points_at_its_key() {
    let (line, _, message) =
        error("exercise = \"join-order\"\n[params]\nnames = []\nstart_line = \"go\"\n");
    assert_eq!(line, 4);
    assert!(message.contains("params.start_line"), "{message}");
    assert!(message.contains("{name}"), "{message}");
}

#[test]
fn a_missing_file_is_a_read_error_naming_it() {
    let err = spec::load(std::path::Path::new("/nonexistent/ex.toml")).unwrap_err();
    assert!(err.to_string().contains("/nonexistent/ex.toml"), "{err}");
}

#[test]
fn line_col_counts_characters() {
    assert_eq!(spec::line_col("ab\n主x", 6), (2, 2));
}
