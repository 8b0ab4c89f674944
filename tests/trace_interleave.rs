//! The ledger's writes are the bytes the streams received, in order, even with several
//! processes writing at once (TRACING.md: recording in stop order differed 20 of 20 times).

#[path = "trace_common.rs"]
mod common;

use common::*;
use proclab::ledger::{EventKind, Stream};

fn ledger_text(ledger: &proclab::ledger::Ledger, stream: Stream) -> String {
    ledger
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Write {
                stream: s, text, ..
            } if *s == stream => Some(text.as_str()),
            _ => None,
        })
        .collect()
}

#[test]
fn concurrent_writers_are_recorded_byte_exact_20_times() {
    for round in 0..20 {
        let dir = tempfile::tempdir().unwrap();
        let capture = dir.path().display().to_string();
        let (ledger, _) = trace_json(
            &["--capture", &capture],
            &["python3", &program("writers.py"), "4", "150"],
        );
        for (stream, file) in [(Stream::Stdout, "stdout"), (Stream::Stderr, "stderr")] {
            let piped = std::fs::read_to_string(dir.path().join(file)).unwrap();
            let recorded = ledger_text(&ledger, stream);
            assert!(
                piped.len() > 1000,
                "round {round}: {file} got {} bytes",
                piped.len()
            );
            assert!(
                recorded == piped,
                "round {round}: the ledger's {file} differs from the pipe's bytes"
            );
        }
        assert_nothing_left(&ledger);
    }
}

#[test]
fn shell_writers_too() {
    let script =
        "for w in 1 2 3; do (for i in $(seq 1 100); do echo \"w$w line $i\"; done) & done; wait";
    let dir = tempfile::tempdir().unwrap();
    let capture = dir.path().display().to_string();
    let (ledger, _) = trace_json(&["--capture", &capture], &["bash", "-c", script]);
    let piped = std::fs::read_to_string(dir.path().join("stdout")).unwrap();
    assert_eq!(piped.lines().count(), 300);
    assert_eq!(ledger_text(&ledger, Stream::Stdout), piped);
}
