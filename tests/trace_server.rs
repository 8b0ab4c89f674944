//! Servers through the library API, as the grader uses it: the tracer learns the address
//! the server listens on, the grader's clients connect inside the run's own network
//! namespace, and the ledger says which process served each client.

#[path = "trace_common.rs"]
mod common;

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::Duration;

use common::program;
use proclab::ledger::{EventKind, IoDir, Ledger};
use proclab::trace::{self, TraceOptions};

/// The options with the test marker in the program's environment.
fn marked(mut opts: TraceOptions) -> TraceOptions {
    opts.extra_env
        .push((common::MARK_VAR.into(), common::mark()));
    opts
}

fn listen_addr(events: &[proclab::ledger::Event]) -> Option<(i32, String)> {
    events.iter().find_map(|e| match &e.kind {
        EventKind::Listen { pid, addr } => Some((*pid, addr.clone())),
        _ => None,
    })
}

/// Send `message`, expect it back upper-cased; returns the client's own address.
fn exchange(
    run: &trace::RunningTrace,
    addr: SocketAddr,
    message: &str,
) -> (SocketAddr, std::net::TcpStream) {
    let mut stream = run
        .connect_tcp(addr, Duration::from_secs(5))
        .expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream.write_all(message.as_bytes()).unwrap();
    let mut buf = vec![0u8; message.len()];
    stream.read_exact(&mut buf).unwrap();
    assert_eq!(String::from_utf8(buf).unwrap(), message.to_uppercase());
    (stream.local_addr().unwrap(), stream)
}

fn serving_pid(ledger: &Ledger, peer: &SocketAddr, dir: IoDir) -> Vec<i32> {
    ledger
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::SocketIo {
                pid,
                peer: p,
                dir: d,
                ..
            } if *p == peer.to_string() && *d == dir => Some(*pid),
            _ => None,
        })
        .collect()
}

#[test]
fn each_client_is_served_by_its_own_process() {
    let run = trace::start(marked(TraceOptions::new([
        "python3".to_string(),
        program("server.py"),
    ])))
    .expect("start");
    assert!(
        run.wait_for(Duration::from_secs(10), |events| listen_addr(events)
            .is_some()),
        "the server listened"
    );
    let (listener, addr) = listen_addr(&run.events()).unwrap();
    assert_eq!(addr, "127.0.0.1:8080");
    let addr: SocketAddr = addr.parse().unwrap();

    // Three clients at once, then a second wave of two.
    let first: Vec<_> = (0..3)
        .map(|i| exchange(&run, addr, &format!("hello {i}")))
        .collect();
    let mut clients: Vec<SocketAddr> = first.iter().map(|(a, _)| *a).collect();
    drop(first);
    for i in 0..2 {
        let (local, stream) = exchange(&run, addr, &format!("again {i}"));
        clients.push(local);
        drop(stream);
    }
    let ledger = run.terminate(Duration::from_millis(500)).expect("ledger");

    let accepts: Vec<(i32, String)> = ledger
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Accept { pid, peer, local } => {
                assert_eq!(local, "127.0.0.1:8080");
                Some((*pid, peer.clone()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(accepts.len(), 5, "{accepts:?}");
    let mut servers = Vec::new();
    for client in &clients {
        assert!(
            accepts
                .iter()
                .any(|(pid, peer)| *pid == listener && *peer == client.to_string())
        );
        let readers = serving_pid(&ledger, client, IoDir::Read);
        let writers = serving_pid(&ledger, client, IoDir::Write);
        assert_eq!(
            readers.len(),
            1,
            "one process read from {client}: {readers:?}"
        );
        assert_eq!(readers, writers, "the same process answered {client}");
        assert_ne!(readers[0], listener, "not the listening process");
        servers.push(readers[0]);
    }
    servers.sort_unstable();
    servers.dedup();
    assert_eq!(servers.len(), 5, "a process per client");
    common::assert_nothing_left(&ledger);
}

#[test]
fn two_runs_both_bind_the_same_port() {
    let start = || {
        trace::start(marked(TraceOptions::new([
            "python3".to_string(),
            program("server.py"),
        ])))
        .expect("start")
    };
    let (one, two) = (start(), start());
    for run in [&one, &two] {
        assert!(run.wait_for(Duration::from_secs(10), |e| listen_addr(e).is_some()));
        let addr: SocketAddr = listen_addr(&run.events()).unwrap().1.parse().unwrap();
        exchange(run, addr, "mine");
    }
    let net_layer = |l: &Ledger| {
        l.layers
            .iter()
            .find(|l| l.name == "netns")
            .map(|l| l.active)
    };
    let (a, b) = (
        one.terminate(Duration::ZERO).unwrap(),
        two.terminate(Duration::ZERO).unwrap(),
    );
    assert_eq!(net_layer(&a), Some(true));
    assert_eq!(net_layer(&b), Some(true));
    common::assert_nothing_left(&a);
    common::assert_nothing_left(&b);
}

#[test]
fn terminate_sends_sigterm_then_kills_what_ignores_it() {
    let prog = common::fixture("hostile/ignore_signals.py");
    let run =
        trace::start(marked(TraceOptions::new(["python3".to_string(), prog]))).expect("start");
    let started = |events: &[proclab::ledger::Event]| {
        events
            .iter()
            .filter(
                |e| matches!(&e.kind, EventKind::Write { text, .. } if text.contains("ignoring")),
            )
            .count()
            >= 4
    };
    assert!(
        run.wait_for(Duration::from_secs(10), started),
        "the program started its children"
    );
    assert!(!run.is_finished());
    assert!(
        !run.wait_for(Duration::from_millis(50), |_| false),
        "a false predicate times out"
    );
    let t = std::time::Instant::now();
    let ledger = run.terminate(Duration::from_millis(300)).expect("ledger");
    assert!(
        t.elapsed() >= Duration::from_millis(300),
        "the grace was given"
    );
    assert!(t.elapsed() < Duration::from_secs(5));
    assert_eq!(ledger.limit_hit, None, "terminate is not a limit");
    assert!(ledger.leftovers.len() >= 4, "{:?}", ledger.leftovers);
    assert!(
        ledger
            .events
            .iter()
            .filter(|e| matches!(
                e.kind,
                EventKind::Exit {
                    status: proclab::ledger::ExitStatus::Killed,
                    ..
                }
            ))
            .count()
            >= 4
    );
    common::assert_nothing_left(&ledger);
}

#[test]
fn terminate_lets_a_cooperative_program_end_by_sigterm() {
    let run = trace::start(marked(TraceOptions::new(["sleep", "30"]))).expect("start");
    let ledger = run.terminate(Duration::from_secs(5)).expect("ledger");
    assert_eq!(
        ledger.root_status,
        Some(proclab::ledger::ExitStatus::Signal {
            signal: 15,
            core: false
        })
    );
    assert!(ledger.leftovers.is_empty());
}

#[test]
fn dropping_a_running_trace_kills_everything() {
    let run = trace::start(marked(TraceOptions::new([
        "python3".to_string(),
        program("pids_then_hide.py"),
    ])))
    .expect("start");
    let printed = |events: &[proclab::ledger::Event]| {
        events
            .iter()
            .filter(|e| matches!(&e.kind, EventKind::Write { .. }))
            .count()
            >= 2
    };
    assert!(run.wait_for(Duration::from_secs(10), printed));
    let pids: Vec<i32> = run
        .events()
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Write { text, .. } => text.split_whitespace().nth(1)?.parse().ok(),
            _ => None,
        })
        .collect();
    assert_eq!(pids.len(), 2);
    assert_eq!(
        common::ours_still_running(&pids),
        pids,
        "the printed pids are the run's"
    );
    drop(run);
    assert!(common::ours_still_running(&pids).is_empty());
}

#[test]
fn an_ephemeral_port_is_learned_from_the_trace_in_the_host_network_too() {
    let mut opts = marked(TraceOptions::new([
        "python3".to_string(),
        program("server.py"),
        "0".to_string(),
    ]));
    opts.netns = trace::NetnsMode::Off;
    let run = trace::start(opts).expect("start");
    assert!(run.wait_for(Duration::from_secs(10), |e| listen_addr(e).is_some()));
    let addr: SocketAddr = listen_addr(&run.events()).unwrap().1.parse().unwrap();
    assert_eq!(addr.ip().to_string(), "127.0.0.1");
    assert_ne!(
        addr.port(),
        0,
        "the real port, not the 0 that was asked for"
    );
    let (client, stream) = exchange(&run, addr, "host");
    drop(stream);
    let ledger = run.terminate(Duration::from_millis(300)).unwrap();
    let accepted = ledger.events.iter().any(|e| {
        matches!(&e.kind, EventKind::Accept { peer, local, .. }
            if *peer == client.to_string() && *local == addr.to_string())
    });
    assert!(
        accepted,
        "the accept names the client and the server's address"
    );
    assert_eq!(serving_pid(&ledger, &client, IoDir::Write).len(), 1);
    common::assert_nothing_left(&ledger);
}
