use super::*;
use crate::class::outcome::CheckOutcome;

fn outcome(student: &str, exercise: &str, status: Status, score: f64) -> Outcome {
    let mut o = Outcome::without_checks(student, exercise, status, "", "k");
    if status != Status::Missing {
        o.max_score = 5.0;
        o.score = score;
        o.checks = vec![
            CheckOutcome {
                id: "a".into(),
                passed: true,
                message: "ok".into(),
                points: score,
                max_points: 3.0,
            },
            CheckOutcome {
                id: "b".into(),
                passed: status == Status::Pass,
                message: "b <msg>".into(),
                points: 0.0,
                max_points: 2.0,
            },
        ];
        o.report = Some(format!("{exercise}.html"));
    } else {
        o.detail = "no file named isolation.py".into();
    }
    o
}

fn records() -> Records {
    let mut r = Records::new();
    for o in [
        outcome("ann", "start-target", Status::Pass, 5.0),
        outcome("ann", "isolation", Status::Fail, 3.0),
        outcome("bob", "start-target", Status::Pass, 5.0),
        outcome("bob", "isolation", Status::Missing, 0.0),
        outcome("cy", "start-target", Status::Fail, 3.0),
    ] {
        r.insert((o.student.clone(), o.exercise.clone()), o);
    }
    r
}

#[test]
fn gradebook_lists_complete_students_only() {
    let records = records();
    let exercises = vec!["start-target".to_string(), "isolation".to_string()];
    let students = vec!["ann".to_string(), "bob".to_string(), "cy".to_string()];
    let view = ClassView {
        exercises: &exercises,
        students: &students,
        records: &records,
    };
    let text = String::from_utf8(csv(&view).unwrap()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "student,start-target,isolation,total,max_total,start-target status,isolation status"
    );
    assert_eq!(lines[1], "ann,5,3,8,10,pass,fail");
    assert_eq!(lines[2], "bob,5,0,5,10,pass,missing");
    assert_eq!(lines.len(), 3, "cy is not complete: {text}");
}

#[test]
fn gradescope_and_junit_and_index() {
    let records = records();
    let exercises = vec!["start-target".to_string(), "isolation".to_string()];
    let students = vec!["bob".to_string()];
    let view = ClassView {
        exercises: &exercises,
        students: &students,
        records: &records,
    };
    let gs = gradescope(&view, "bob");
    assert_eq!(gs["score"], 5.0);
    let tests = gs["tests"].as_array().unwrap();
    assert_eq!(tests.len(), 3);
    assert_eq!(tests[2]["name"], "isolation: missing");
    assert_eq!(
        tests[2]["max_score"], 5.0,
        "missing is worth the exercise's max"
    );
    assert!(gs["execution_time"].is_number());
    let xml = junit(&view).unwrap();
    assert!(xml.contains("<testsuite name=\"bob\""), "{xml}");
    assert!(xml.contains("type=\"missing\""), "{xml}");
    let html = index_html(&view, "class");
    assert!(html.contains("href=\"students/bob/start-target.html\""));
    assert!(html.contains("<td class=\"missing\">missing 0</td>"));
}

#[test]
fn odd_student_names_are_escaped_and_quoted() {
    let name = "o'brien, <b>& co";
    let mut r = Records::new();
    let o = outcome(name, "start-target", Status::Pass, 5.0);
    r.insert((name.to_string(), "start-target".to_string()), o);
    let exercises = vec!["start-target".to_string()];
    let students = vec![name.to_string()];
    let view = ClassView {
        exercises: &exercises,
        students: &students,
        records: &r,
    };
    let html = index_html(&view, "class");
    assert!(!html.contains("<b>&"), "escaped");
    assert!(html.contains("href=\"students/o%27brien%2C%20%3Cb%3E%26%20co/start-target.html\""));
    let text = String::from_utf8(csv(&view).unwrap()).unwrap();
    assert!(text.contains("\"o'brien, <b>& co\",5"), "{text}");
    let xml = junit(&view).unwrap();
    assert!(
        xml.contains("o&apos;brien, &lt;b&gt;&amp; co")
            || xml.contains("o'brien, &lt;b&gt;&amp; co"),
        "{xml}"
    );
}
