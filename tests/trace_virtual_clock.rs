//! `--clock virtual`: sleeps jump, the program's clocks agree, the order of events is
//! the real clock's, limits are virtual, and computing never jumps the clock.
//! Slow (`PROCLAB_SLOW_TESTS=1`): the order of events is identical across 20 runs with
//! both cores loaded.

#[path = "trace_ledger_shape.rs"]
mod shapes;
mod trace_common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use proclab::ledger::{EventKind, Ledger, LimitKind, Pid};
use proclab_tests::hogs::Hogs;
use shapes::{first_difference, ledger_shape};
use trace_common::*;

fn python() -> String {
    proclab_tests::python_executable()
}

fn trace(clock: &str, extra: &[&str], command: &[&str]) -> (Ledger, Duration) {
    let mut opts = vec!["--clock", clock];
    opts.extend_from_slice(extra);
    let started = Instant::now();
    let (ledger, _) = trace_json(&opts, command);
    (ledger, started.elapsed())
}

/// The order of events that a program's timing decides: each output line and each
/// process exit, a process named by the first line it wrote (pids differ between runs).
fn event_order(ledger: &Ledger) -> Vec<String> {
    let mut names: BTreeMap<Pid, String> = BTreeMap::new();
    for e in &ledger.events {
        if let EventKind::Write { pid, text, .. } = &e.kind {
            names
                .entry(*pid)
                .or_insert_with(|| text.lines().next().unwrap_or("").to_string());
        }
    }
    let name = |pid: &Pid| {
        if *pid == ledger.root {
            "main".to_string()
        } else {
            names.get(pid).cloned().unwrap_or_else(|| "silent".into())
        }
    };
    // A line is complete at its newline; Python writes `print(x)` as two pieces.
    let mut pending: BTreeMap<Pid, String> = BTreeMap::new();
    let mut order = Vec::new();
    for e in &ledger.events {
        match &e.kind {
            EventKind::Write { pid, text, .. } => {
                let buf = pending.entry(*pid).or_default();
                buf.push_str(text);
                while let Some(end) = buf.find('\n') {
                    let line: String = buf.drain(..=end).collect();
                    order.push(format!("line {}", line.trim_end()));
                }
                // How long the parent waited includes starting its children: real
                // time that the load decides, on either clock.
                if let Some(last) = order.last_mut()
                    && last.starts_with("line waited ")
                {
                    *last = "line waited …".into();
                }
            }
            EventKind::Exit { pid, status } => order.push(format!("exit {} {status:?}", name(pid))),
            _ => {}
        }
    }
    order
}

/// The seconds in the `waited N` line the parent prints.
fn waited(ledger: &Ledger) -> f64 {
    let mut pending: BTreeMap<Pid, String> = BTreeMap::new();
    for e in &ledger.events {
        if let EventKind::Write { pid, text, .. } = &e.kind {
            pending.entry(*pid).or_default().push_str(text);
        }
    }
    pending
        .values()
        .flat_map(|t| t.lines())
        .find_map(|l| l.strip_prefix("waited "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(f64::NAN)
}

fn lines(ledger: &Ledger) -> Vec<String> {
    event_order(ledger)
        .into_iter()
        .filter_map(|e| e.strip_prefix("line ").map(str::to_string))
        .collect()
}

#[test]
fn the_programs_clocks_show_the_virtual_time_it_slept() {
    let py = python();
    let code = "import time\nt=time.monotonic(); w=time.time(); p=time.perf_counter()\n\
                time.sleep(3)\nprint(round(time.monotonic()-t,1), round(time.time()-w,1), \
                round(time.perf_counter()-p,1))";
    let (ledger, took) = trace("virtual", &[], &[&py, "-c", code]);
    assert_eq!(lines(&ledger), ["3.0 3.0 3.0"], "{ledger:?}");
    assert!(took < Duration::from_secs(2), "3 s of sleep took {took:?}");
    assert!(
        ledger.wall_ns >= 3_000_000_000,
        "virtual wall time {}",
        ledger.wall_ns
    );
}

/// The vDSO reads the clock unseen until the first jump and is rewritten into system
/// calls at it: every reader agrees after it, however it reads and whenever it started.
#[test]
fn every_clock_read_agrees_after_the_first_jump() {
    let py = python();
    let script = program("clock_reads.py");
    let (ledger, took) = trace("virtual", &[], &[&py, &script]);
    assert_eq!(
        lines(&ledger),
        [
            "parent 10 10 10 agrees",
            "forked-before 20 20 20 agrees",
            "parent-after-wait 20 20 20 agrees",
            "exec-after-skew 0",
        ],
        "monotonic, time.time and gettimeofday moved by, time(2): {ledger:?}"
    );
    assert!(took < Duration::from_secs(5), "20 s of sleep took {took:?}");
}

#[test]
fn sleeps_of_distinct_lengths_end_in_the_same_order_on_both_clocks() {
    let py = python();
    let script = program("distinct_sleeps.py");
    let shell = program("distinct_sleeps.sh");
    for command in [vec![py.as_str(), script.as_str()], vec![shell.as_str()]] {
        let (real, real_took) = trace("real", &[], &command);
        let (virt, virt_took) = trace("virtual", &[], &command);
        assert_eq!(
            event_order(&real),
            event_order(&virt),
            "{command:?}: the order of events differs"
        );
        let ends: Vec<String> = lines(&virt)
            .into_iter()
            .filter(|l| l.len() <= 5 || l.starts_with("waited"))
            .collect();
        assert!(
            ends.starts_with(&["b end".to_string()]) || ends.starts_with(&["b".to_string()]),
            "{command:?}: {ends:?}"
        );
        assert!(
            virt_took * 2 < real_took,
            "{command:?}: virtual {virt_took:?}, real {real_took:?}"
        );
    }
}

#[test]
fn the_parent_measures_the_longest_sleep_on_the_virtual_clock() {
    let py = python();
    let script = program("distinct_sleeps.py");
    let (ledger, _) = trace("virtual", &[], &[&py, &script]);
    assert_eq!(
        lines(&ledger)[..3],
        ["b end", "c end", "a end"],
        "{ledger:?}"
    );
    // 0.9 s of sleep plus the real time it took to start the children.
    let waited = waited(&ledger);
    assert!((0.9..1.5).contains(&waited), "waited {waited}: {ledger:?}");
}

#[test]
fn a_program_that_sleeps_forever_hits_its_time_limit_at_once() {
    let py = python();
    let (ledger, took) = trace(
        "virtual",
        &["--time-limit", "20s"],
        &[&py, "-c", "import time; time.sleep(1000)"],
    );
    assert_eq!(ledger.limit_hit, Some(LimitKind::Time), "{ledger:?}");
    assert!(took < Duration::from_secs(10), "took {took:?}");
    let limit = ledger
        .events
        .iter()
        .find(|e| matches!(e.kind, EventKind::Limit { .. }))
        .expect("a limit event");
    assert!(limit.t_ns >= 20_000_000_000, "at {} ns", limit.t_ns);
}

#[test]
fn a_deadlocked_program_hits_its_time_limit_at_once() {
    let py = python();
    let code = "import os\nr, w = os.pipe()\nos.read(r, 1)";
    let (ledger, took) = trace("virtual", &["--time-limit", "20s"], &[&py, "-c", code]);
    assert_eq!(ledger.limit_hit, Some(LimitKind::Time), "{ledger:?}");
    assert!(took < Duration::from_secs(10), "took {took:?}");
}

#[test]
fn the_clock_never_jumps_while_a_process_computes() {
    let py = python();
    let script = program("busy_while_sleeping.py");
    let (ledger, took) = trace("virtual", &[], &[&py, &script]);
    assert_eq!(lines(&ledger), ["sleeper end", "worker end"], "{ledger:?}");
    assert!(took >= Duration::from_millis(600), "took {took:?}");
}

#[test]
fn timed_kernel_waits_time_out_on_the_virtual_clock() {
    // A poll timeout (join with a timeout), a timed futex wait (Event.wait) and a select
    // timeout end when the virtual clock reaches them, as a sleep does.
    let py = python();
    let script = program("timed_waits.py");
    let (ledger, took) = trace("virtual", &["--time-limit", "20s"], &[&py, &script]);
    assert_eq!(ledger.limit_hit, None, "{ledger:?}");
    let lines = lines(&ledger);
    let at = |i: usize, prefix: &str| -> f64 {
        lines
            .get(i)
            .and_then(|l| l.strip_prefix(prefix))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("line {i} is not `{prefix} N`: {lines:?}"))
    };
    // Each wait's length, plus the real time it took to start the child (load-dependent).
    for (i, prefix, secs) in [
        (0, "after join(1) True", 1.0),
        (1, "after wait(1)", 2.0),
        (2, "after select", 2.5),
        (3, "joined 0", 3.0),
    ] {
        let got = at(i, prefix);
        assert!((secs..secs + 0.6).contains(&got), "{lines:?}");
    }
    assert!(took < Duration::from_secs(2), "3 s of waits took {took:?}");
}

#[test]
fn a_signal_ends_a_held_sleep_as_it_would_a_real_one() {
    // The child sleeps 30 s; the parent terminates it after 0.5 s of its own sleep.
    let py = python();
    let code = "import time\nfrom multiprocessing import Process\n\
                p = Process(target=time.sleep, args=(30,))\np.start()\ntime.sleep(0.5)\n\
                p.terminate()\np.join()\nprint(p.exitcode)";
    let (ledger, took) = trace("virtual", &[], &[&py, "-c", code]);
    assert_eq!(lines(&ledger), ["-15"], "{ledger:?}");
    assert!(took < Duration::from_secs(10), "took {took:?}");
}

#[test]
fn the_programs_randomness_is_the_same_on_every_run() {
    // getrandom is answered from a fixed stream per process (`vclock/dice.rs`): CPython's
    // string-hash seed, `random` (seeded from getrandom, reseeded in a forked child) and
    // os.urandom repeat, per process; two processes draw different bytes.
    let py = python();
    let code = "import os, random\nfrom multiprocessing import Process\n\
                def show(who): print(who, random.randint(1, 10**9), os.urandom(4).hex(), hash('abc'))\n\
                if __name__ == '__main__':\n    show('parent')\n    \
                p = Process(target=show, args=('child',)); p.start(); p.join()";
    let runs: Vec<Vec<String>> = (0..2)
        .map(|_| lines(&trace("virtual", &[], &[&py, "-c", code]).0))
        .collect();
    assert_eq!(runs[0].len(), 2, "{runs:?}");
    assert_eq!(runs[0], runs[1], "the same on both runs");
    let draws = |l: &str| l.split_once(' ').map(|(_, rest)| rest.to_string());
    assert_ne!(
        draws(&runs[0][0]),
        draws(&runs[0][1]),
        "parent and child differ"
    );
    let real: Vec<Vec<String>> = (0..2)
        .map(|_| lines(&trace("real", &[], &[&py, "-c", code]).0))
        .collect();
    assert_ne!(
        real[0], real[1],
        "on the real clock the program's randomness is its own"
    );
}

#[test]
fn rust_sleeps_and_instants_are_virtual() {
    let bin = fixture_bin("fx-start-target-good");
    let (real, _) = trace("real", &[], &[&bin]);
    let (virt, took) = trace("virtual", &[], &[&bin]);
    assert!(took < Duration::from_millis(800), "took {took:?}");
    let sorted = |l: &Ledger| lines(l).into_iter().collect::<BTreeSet<_>>();
    assert_eq!(sorted(&real), sorted(&virt));
}

/// How many different ledgers (`ledger_shape`) 20 runs of `command` give on `clock`.
fn orders_in_20_runs(clock: &str, command: &[String]) -> BTreeMap<Vec<String>, usize> {
    let args: Vec<&str> = command.iter().map(String::as_str).collect();
    let mut seen: BTreeMap<Vec<String>, usize> = BTreeMap::new();
    for _ in 0..20 {
        let (ledger, _) = trace(clock, &[], &args);
        *seen.entry(ledger_shape(&ledger)).or_default() += 1;
    }
    seen
}

/// Under the virtual clock every program below gives one ledger (every event in the same
/// order, pids aside) in 20 runs with both cores loaded: those whose sleeps decide it (distinct lengths, one child at a time)
/// and those whose children race for the CPU before their first sleep (four children
/// started at once print `piaoing`; equal sleeps end together). New tasks and due sleeps
/// start one at a time, when nothing else of the run can run (`vclock/gate.rs`), and
/// addresses are not randomised (CPython reaps its children in the order of their ids).
/// On the real clock the racing programs give several ledgers: those counts are printed,
/// as a measurement.
#[test]
fn the_order_of_events_is_identical_across_20_runs_under_load() {
    if std::env::var_os("PROCLAB_SLOW_TESTS").is_none() {
        println!("skipped: slow test (set PROCLAB_SLOW_TESTS=1 to run it)");
        return;
    }
    let py = python();
    let decided: Vec<Vec<String>> = vec![
        vec![py.clone(), program("distinct_sleeps.py")],
        vec![program("distinct_sleeps.sh")],
        vec![py.clone(), fixture("python/join_order/one_at_a_time.py")],
    ];
    let raced: Vec<Vec<String>> = vec![
        vec![fixture_bin("fx-join-order-good")],
        vec![py.clone(), fixture("python/start_target/good.py")],
        vec![py.clone(), fixture("python/daemon/good.py")],
    ];
    let _hogs = Hogs::start();
    let mut failures = Vec::new();
    for command in decided.iter().chain(&raced) {
        let seen = orders_in_20_runs("virtual", command);
        println!(
            "{command:?}: virtual clock, {} ledger(s) in 20 runs",
            seen.len()
        );
        if seen.len() != 1 {
            failures.push(format!(
                "{command:?}: {} different ledgers; the first two differ at:\n{}",
                seen.len(),
                first_difference(&seen)
            ));
        }
    }
    for command in &raced {
        let real = orders_in_20_runs("real", command).len();
        println!("{command:?}: real clock, {real} ledger(s) in 20 runs");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A Rust fixture binary of this package.
fn fixture_bin(name: &str) -> String {
    proclab_tests::bins::build_once(&["proclab-tests"]);
    proclab_tests::bins::profile_dir()
        .join(name)
        .display()
        .to_string()
}
