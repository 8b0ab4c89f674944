//! A run that could not be graded says so in every format, with no check judged.

use super::*;
use crate::exercise::spec;

fn report() -> GradeReport {
    let spec = spec::builtin("socket-server").expect("built-in spec");
    GradeReport::could_not_grade(
        &spec,
        &["python3".into(), "server.py".into()],
        "127.0.0.1:8080 is taken by another program".into(),
        None,
        0.1,
    )
}

#[test]
fn every_format_says_could_not_grade() {
    let r = report();
    assert_eq!((r.verdict, r.exit_code()), (Verdict::Error, 2));
    assert!(r.checks.is_empty() && r.max_score > 0);
    let json: serde_json::Value = serde_json::from_str(&render(&r, Format::Json).unwrap()).unwrap();
    assert_eq!(json["verdict"], "error");
    assert!(json["error"].as_str().unwrap().contains("127.0.0.1:8080"));
    for format in [
        Format::Text,
        Format::Junit,
        Format::Gradescope,
        Format::Html,
    ] {
        let text = render_unrun(&r, format).unwrap();
        assert!(text.contains("could not grade"), "{format:?}: {text}");
        assert!(text.contains("127.0.0.1:8080"), "{format:?}: {text}");
    }
    let junit = render(&r, Format::Junit).unwrap();
    assert!(
        junit.contains("<error"),
        "a JUnit error, not a failure: {junit}"
    );
}
