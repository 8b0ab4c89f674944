//! Properties and misuse errors of the `multiprocessing` library, driven through the
//! `mp_probe` binary (the test harness is multi-threaded, so the library's fork path is
//! exercised from a single-threaded program). Every test runs each start method.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use proptest::prelude::*;
use serde_json::Value;

const METHODS: [&str; 3] = ["fork", "spawn", "forkserver"];

fn probe(method: &str, args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_mp_probe"))
        .arg("--method")
        .arg(method)
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .expect("running mp_probe");
    assert!(
        out.status.success(),
        "mp_probe {method} {args:?}: {:?}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|e| panic!("bad JSON {last:?}: {e}"))
}

fn method() -> impl Strategy<Value = &'static str> {
    prop::sample::select(METHODS.to_vec())
}

/// Signals whose default action ends the process. Not SIGKILL/SIGSTOP (not catchable),
/// not SIGPIPE (Rust programs ignore it), not SIGSEGV/SIGBUS (Rust's stack-overflow
/// handler swallows one that `kill` sends instead of a fault).
const TERMINATING: [i32; 18] = [
    1, 2, 3, 4, 5, 6, 8, 10, 12, 14, 15, 16, 24, 25, 26, 27, 29, 30,
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn exit_code_round_trips(code in 0i32..=255, m in method()) {
        let v = probe(m, &["exit", "--code", &code.to_string()]);
        prop_assert_eq!(v["exitcode"].as_i64(), Some(i64::from(code)));
        let want = format!("the child returned no value (exit code {code})");
        prop_assert_eq!(v["result"].as_str(), Some(want.as_str()));
    }

    #[test]
    fn catchable_signal_gives_minus_n(sig in prop::sample::select(TERMINATING.to_vec()), m in method()) {
        let v = probe(m, &["signal", "--signal", &sig.to_string()]);
        prop_assert_eq!(v["exitcode"].as_i64(), Some(-i64::from(sig)));
    }
}

proptest! {
    // Each case waits for a child of 0.5–1 s: fewer cases.
    #![proptest_config(ProptestConfig { cases: 12, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn join_timeout_returns_in_time_and_never_kills(
        timeout_ms in 10u64..150, extra_ms in 500u64..800, m in method()
    ) {
        let child_ms = timeout_ms + extra_ms;
        let v = probe(m, &["timeout", "--child-ms", &child_ms.to_string(), "--timeout-ms", &timeout_ms.to_string()]);
        prop_assert!(v["first"].is_null(), "{}", v);
        let elapsed = v["elapsed_ms"].as_u64().unwrap();
        prop_assert!(elapsed >= timeout_ms && elapsed < timeout_ms + 500, "{}", v);
        prop_assert_eq!(v["alive_after"].as_bool(), Some(true));
        prop_assert_eq!(v["exitcode"].as_i64(), Some(0));
        prop_assert_eq!(v["result"].as_u64(), Some(7));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn children_report_their_own_results(n in 1usize..8, m in method()) {
        let v = probe(m, &["many", "--n", &n.to_string()]);
        let rows = v.as_array().unwrap();
        prop_assert_eq!(rows.len(), n);
        let mut pids = std::collections::BTreeSet::new();
        for row in rows {
            prop_assert_eq!(&row["index"], &row["result_index"]);
            prop_assert_eq!(&row["pid"], &row["result_pid"]);
            prop_assert_eq!(row["exitcode"].as_i64(), Some(0));
            pids.insert(row["pid"].as_i64().unwrap());
        }
        prop_assert_eq!(pids.len(), n);
    }

    #[test]
    fn parent_memory_is_unchanged_by_the_child(
        initial in any::<i64>(), writes in prop::collection::vec(any::<i64>(), 1..5), m in method()
    ) {
        let list: Vec<String> = writes.iter().map(i64::to_string).collect();
        let v = probe(m, &["isolation", &format!("--initial={initial}"), &format!("--writes={}", list.join(","))]);
        prop_assert_eq!(v["parent"].as_i64(), Some(initial));
        prop_assert_eq!(v["child"].as_i64(), writes.last().copied());
    }
}

#[test]
fn misuse_gives_typed_errors_with_pythons_messages() {
    for m in METHODS {
        let v = probe(m, &["errors"]);
        let s = |k: &str| v[k].as_str().map(str::to_string);
        assert_eq!(
            s("join_before_start").as_deref(),
            Some("can only join a started process")
        );
        assert_eq!(
            s("terminate_before_start").as_deref(),
            Some("can only terminate a started process")
        );
        assert!(v["exitcode_before_start"].is_null() && v["pid_before_start"].is_null());
        assert_eq!(v["is_alive_before_start"], false);
        assert_eq!(
            s("start_twice").as_deref(),
            Some("cannot start a process twice")
        );
        assert_eq!(
            s("set_daemon_after_start").as_deref(),
            Some("process has already started")
        );
        assert_eq!(
            s("set_start_method_after_start").as_deref(),
            Some("process has already started")
        );
        assert!(
            v["exitcode_while_running"].is_null(),
            "{m}: exitcode while running"
        );
        assert_eq!(
            s("result_while_running").as_deref(),
            Some("the process has not finished yet (join it first)")
        );
        assert_eq!(
            s("close_running").as_deref(),
            Some(
                "Cannot close a process while it is still running. You should first call join() or terminate()."
            )
        );
        assert!(v["close_after_join"].is_null());
        assert_eq!(v["kill_exitcode"], -9);
        assert_eq!(v["join_again"], -9);
        assert!(v["terminate_after_end"].is_null());
        assert_eq!(v["interrupt_exitcode"], -2);
        assert_eq!(
            v["join_inherited"],
            serde_json::json!(["can only join a child process", false])
        );
        assert_eq!(
            s("join_after_close").as_deref(),
            Some("process object is closed")
        );
        assert_eq!(
            s("start_after_close").as_deref(),
            Some("process object is closed")
        );
        assert_eq!(
            s("daemon_children").as_deref(),
            Some("daemonic processes are not allowed to have children")
        );
        // Fork with two threads is refused and names the count; allowed explicitly, it runs.
        let threads = s("threads").unwrap();
        assert!(
            threads.starts_with("refusing to fork: this process has 2 threads"),
            "{threads}"
        );
        assert_eq!(v["threads_allowed_exitcode"], 0);
        // Spawn and forkserver are sound with threads (fork is refused again).
        if m == "fork" {
            assert!(s("threads_other_method").unwrap().contains("2 threads"));
        } else {
            assert!(v["threads_other_method"].is_null(), "{m}: {v}");
        }
    }
}

#[test]
fn a_panic_is_reported_apart_from_an_exit_code() {
    for m in METHODS {
        let v = probe(m, &["panic"]);
        assert_eq!(v["exitcode"], 1);
        assert_eq!(v["panic"]["message"], "boom 42");
        let at = v["panic"]["location"].as_str().unwrap();
        assert!(at.starts_with("tests/src/bin/mp_probe.rs:"), "{at}");
        assert!(
            v["result"]
                .as_str()
                .unwrap()
                .starts_with("the child process panicked: 'boom 42' at ")
        );
        assert_eq!(v["exit1_exitcode"], 1);
        assert!(v["exit1_panic"].is_null());
        assert_eq!(
            v["exit1_result"],
            "the child returned no value (exit code 1)"
        );
    }
}

#[test]
fn default_names_follow_python() {
    for m in METHODS {
        let v = probe(m, &["names"]);
        assert_eq!(v["a"], "Process-1");
        assert_eq!(v["b"], "Piao-2");
        assert_eq!(v["c"], "Process-3");
        assert_eq!(v["child_sees"], "Process-4");
        assert_eq!(v["child_creates"], "Process-4:1");
        assert_eq!(v["main"], "MainProcess");
    }
}

#[test]
fn return_values_larger_than_a_pipe_arrive() {
    for m in METHODS {
        for how in [&[][..], &["--timeout"][..]] {
            let mut args = vec!["big", "--bytes", "300000"];
            args.extend_from_slice(how);
            let v = probe(m, &args);
            assert_eq!(v["exitcode"], 0, "{m} {how:?}");
            assert_eq!(v["len"], 300000);
        }
    }
}

fn gone(pid: i64) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z')),
    }
}

#[test]
fn daemon_child_is_gone_when_the_program_ends() {
    for m in METHODS {
        let v = probe(m, &["daemon-pid"]);
        let pid = v["daemon"].as_i64().unwrap();
        assert!(
            gone(pid),
            "{m}: daemon {pid} survived the end of the program"
        );
    }
}

#[test]
fn daemon_child_dies_when_the_parent_is_sigkilled() {
    use std::io::{BufRead, BufReader};
    for m in METHODS {
        let mut parent = Command::new(env!("CARGO_BIN_EXE_mp_probe"))
            .args(["--method", m, "daemon-pid", "--hang"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(parent.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let v: Value = serde_json::from_str(&line).unwrap();
        let pid = v["daemon"].as_i64().unwrap();
        assert!(!gone(pid));
        parent.kill().unwrap(); // SIGKILL: no guard runs
        parent.wait().unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while !gone(pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(gone(pid), "{m}: daemon {pid} outlived its SIGKILLed parent");
    }
}
