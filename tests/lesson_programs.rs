//! The lesson's own Python programs, graded as they stand: each must pass its exercise.
//!
//! They are read from `../shared/seed/lesson.txt` at test time (the project keeps no copy
//! of them); when that file is absent the test says so and skips. The lesson's first
//! program spells a name `wupeqi`, its second `wupeiqi`: both must pass, because names are
//! read from the children's own lines. The first program with its children joined before
//! `主` is graded as `join-order` too.

mod grade_common;

use std::path::PathBuf;

use grade_common::*;

/// The lesson file, if this checkout has the shared folder beside it.
fn lesson() -> Option<String> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/seed/lesson.txt");
    match std::fs::read_to_string(&path) {
        Ok(text) => Some(text),
        Err(e) => {
            println!("skipped: the lesson is not at {} ({e})", path.display());
            None
        }
    }
}

/// The fenced code blocks that use `multiprocessing.Process`.
fn programs(lesson: &str) -> Vec<String> {
    lesson
        .split("```")
        .skip(1)
        .step_by(2)
        .map(|block| block.trim_start_matches(|c: char| c != '\n').to_string())
        .filter(|block| block.contains("from multiprocessing import Process"))
        .collect()
}

/// The exercise a program of the lesson answers.
fn exercise_of(program: &str) -> Option<&'static str> {
    if program.contains("(Process)") {
        Some("start-subclass")
    } else if program.contains("global n") {
        Some("isolation")
    } else if program.contains("target=") {
        Some("start-target")
    } else {
        None
    }
}

/// The start-target program with every started child joined before the parent's line.
fn joined(program: &str) -> Option<String> {
    let starts: Vec<&str> = program
        .lines()
        .filter_map(|l| l.trim().strip_suffix(".start()"))
        .collect();
    let (at, line) = program
        .lines()
        .enumerate()
        .find(|(_, l)| l.trim_start().starts_with("print('主')"))?;
    let indent: String = line.chars().take_while(|c| c.is_whitespace()).collect();
    let mut lines: Vec<String> = program.lines().map(String::from).collect();
    let joins = starts.iter().map(|p| format!("{indent}{p}.join()"));
    lines.splice(at..at, joins);
    Some(lines.join("\n"))
}

#[test]
fn every_program_of_the_lesson_passes_its_exercise() {
    let Some(lesson) = lesson() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut graded = Vec::new();
    for (i, program) in programs(&lesson).iter().enumerate() {
        let Some(exercise) = exercise_of(program) else {
            continue;
        };
        let mut runs = vec![(exercise, program.clone())];
        if exercise == "start-target" {
            runs.push((
                "join-order",
                joined(program).expect("a print('主') to join before"),
            ));
        }
        for (j, (exercise, text)) in runs.into_iter().enumerate() {
            let path = dir.path().join(format!("lesson_{i}_{j}.py"));
            std::fs::write(&path, text).unwrap();
            graded.push((exercise, path));
        }
    }
    let found: Vec<&str> = graded.iter().map(|(e, _)| *e).collect();
    for exercise in ["start-target", "start-subclass", "isolation", "join-order"] {
        assert!(
            found.contains(&exercise),
            "no lesson program for {exercise}: {found:?}"
        );
    }
    let results = parallel(&graded, 2, |(exercise, path)| {
        let command = vec!["python3".to_string(), path.display().to_string()];
        let run = grade_json(exercise, &[], &command);
        (run.code == 0).then_some(()).ok_or_else(|| {
            format!(
                "{exercise} ({}): exit {}; {}",
                path.display(),
                run.code,
                run.failure_messages()
            )
        })
    });
    let errors: Vec<String> = results.into_iter().filter_map(Result::err).collect();
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}
