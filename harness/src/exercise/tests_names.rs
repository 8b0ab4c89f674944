//! Patterns and names read from the children's own output, over hand-built ledgers.

use crate::ledger::builder::LedgerBuilder;

use super::pattern::{PatternList, near_miss, template_to_regex};
use super::spec;
use super::tests_common::*;
use super::{Params, evaluate};

/// Main (pid 1) starts one child per (start, end) line pair (pids 10..), prints
/// `parent` right after, then the children end and are joined.
fn program(lines: &[(&str, &str)], parent: &str) -> LedgerBuilder {
    let mut b = LedgerBuilder::new(1, &[PY, "s.py"]);
    for (i, (start, _)) in lines.iter().enumerate() {
        let pid = 10 + i as i32;
        b.fork(1, pid).out(pid, &format!("{start}\n"));
    }
    b.out(1, &format!("{parent}\n"));
    for (i, (_, end)) in lines.iter().enumerate() {
        let pid = 10 + i as i32;
        b.out(pid, &format!("{end}\n")).exit(pid, 0).reap(1, pid);
    }
    b.exit(1, 0);
    b
}

fn four_named(names: [&str; 4], start: &str, end: &str) -> Vec<(String, String)> {
    names
        .iter()
        .map(|n| (start.replace("{}", n), end.replace("{}", n)))
        .collect()
}

fn as_refs(lines: &[(String, String)]) -> Vec<(&str, &str)> {
    lines
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect()
}

#[test]
fn templates_accept_the_lessons_family_of_wordings() {
    let start = PatternList::from(["{name} piaoing", "{name} is piaoing"])
        .compile()
        .unwrap();
    for line in [
        "egon piaoing",
        "egon is piaoing",
        "egon  piaoing.",
        "egon is piaoing...",
        "  wupeqi piaoing ",
        "Egon PIAOING",
        "张三 piaoing",
    ] {
        assert!(start.is_match(line), "{line}");
    }
    for line in [
        "egon piao end",
        "egon piaoing now",
        "piaoing",
        "egon was piaoing",
    ] {
        assert!(!start.is_match(line), "{line}");
    }
    let matched = start.matches("alex is piaoing").unwrap();
    assert_eq!(matched.name.as_deref(), Some("alex"));
}

#[test]
fn a_colon_in_a_template_takes_any_spacing_and_the_full_width_colon() {
    let child = PatternList::from("子进程内: {value}").compile().unwrap();
    for (line, value) in [
        ("子进程内:  0", 0),
        ("子进程内: 0", 0),
        ("子进程内:0", 0),
        ("子进程内：0", 0),
        ("子进程内 -3", -3),
    ] {
        assert_eq!(
            child.matches(line).and_then(|m| m.value),
            Some(value),
            "{line}"
        );
    }
    assert!(!child.is_match("主进程内:  100"));
    assert_eq!(
        template_to_regex("a: {value}"),
        r"(?i)^\s*a\s*[:：]?\s*(?P<value>[-+]?\d+)[\s.。!！…]*$"
    );
}

#[test]
fn a_regex_pattern_is_searched_and_a_bad_one_is_an_error_naming_it() {
    let parent = PatternList::from(r"re:^\s*(主|(?i:main)\b)")
        .compile()
        .unwrap();
    for line in [
        "主",
        "主线程",
        "主进程",
        "主进程结束",
        "main",
        "Main process",
        "main-------",
    ] {
        assert!(parent.is_match(line), "{line}");
    }
    for line in ["egon piaoing", "remain", "子进程内: 0"] {
        assert!(!parent.is_match(line), "{line}");
    }
    let err = PatternList::from("re:(unclosed").compile().unwrap_err();
    assert!(err.contains("re:(unclosed"), "{err}");
}

#[test]
fn near_misses_are_typos_not_other_names() {
    assert!(near_miss("wupeiqi", "wupeqi"));
    assert!(near_miss("yuanhao", "yuanhoa"));
    assert!(!near_miss("egon", "alex"));
    assert!(!near_miss("egon", "egon"));
}

#[test]
fn the_lessons_own_spelling_and_common_wordings_pass() {
    let cases = [
        four_named(
            ["egon", "alex", "wupeqi", "yuanhao"],
            "{} piaoing",
            "{} piao end",
        ),
        four_named(
            ["egon", "alex", "wupeiqi", "yuanhao"],
            "{} is piaoing",
            "{} is piao end",
        ),
        four_named(["ann", "bob", "cy", "dee"], "{} piaoing", "{} piao end"),
    ];
    for lines in &cases {
        for parent in ["主", "主线程", "主进程"] {
            let ledger = program(&as_refs(lines), parent).build();
            for exercise in ["start-target", "start-subclass"] {
                let results = grade(exercise, &ledger);
                assert_failed(&results, &[]);
            }
        }
    }
}

#[test]
fn two_children_with_one_name_fail_child_lines_only() {
    let lines = four_named(
        ["egon", "alex", "egon", "yuanhao"],
        "{} piaoing",
        "{} piao end",
    );
    let results = grade("start-target", &program(&as_refs(&lines), "主").build());
    assert_failed(&results, &["child-lines"]);
    assert_says(
        &results,
        "child-lines",
        &["child 1 (pid 10) and child 3 (pid 12) both call themselves `egon`"],
    );
}

#[test]
fn a_child_whose_two_lines_carry_different_names_is_named() {
    let mut lines = four_named(
        ["egon", "alex", "wupeiqi", "yuanhao"],
        "{} piaoing",
        "{} piao end",
    );
    lines[1].1 = "alx piao end".into();
    let results = grade("start-target", &program(&as_refs(&lines), "主").build());
    assert_failed(&results, &["child-lines"]);
    assert_says(
        &results,
        "child-lines",
        &["child 2 (pid 11) started as `alex` (`alex piaoing`) but ended as `alx`"],
    );
}

#[test]
fn pinned_names_report_a_near_miss_with_the_line_seen() {
    let mut spec = spec::builtin("start-target").unwrap();
    let Params::Start(p) = &mut spec.params else {
        panic!("start params")
    };
    p.names = ["egon", "alex", "wupeiqi", "yuanhao"]
        .map(String::from)
        .to_vec();
    let lines = four_named(
        ["egon", "alex", "wupeqi", "yuanhao"],
        "{} piaoing",
        "{} piao end",
    );
    let results = evaluate(&spec, &program(&as_refs(&lines), "主").build(), None);
    assert_failed(&results, &["child-lines"]);
    assert_says(
        &results,
        "child-lines",
        &[
            "expected a child named `wupeiqi`; child 3 (pid 12) wrote `wupeqi piaoing`: `wupeqi` is a near miss of `wupeiqi`",
        ],
    );
    let message = message(&results, "child-lines");
    assert!(
        !message.contains("not one of the pinned names"),
        "{message}"
    );
}

#[test]
fn a_parent_that_prints_only_a_start_line_before_joining_passes_join_order() {
    // `主进程开始` before the joins, `主进程结束` after: the last parent line is judged.
    let mut b = LedgerBuilder::new(1, &[PY, "s.py"]);
    b.out(1, "主进程开始\n");
    for (i, name) in ["egon", "alex", "wupeiqi", "yuanhao"].iter().enumerate() {
        b.fork(1, 10 + i as i32)
            .out(10 + i as i32, &format!("{name} is piaoing\n"));
    }
    for (i, name) in ["egon", "alex", "wupeiqi", "yuanhao"].iter().enumerate() {
        let pid = 10 + i as i32;
        b.out(pid, &format!("{name} is piao end\n"))
            .exit(pid, 0)
            .reap(1, pid);
    }
    b.out(1, "主进程结束\n").exit(1, 0);
    let results = grade("join-order", &b.build());
    assert_failed(&results, &[]);
}
