//! pool-server over hand-built ledgers and client sessions.

use crate::ledger::EventKind;
use crate::ledger::builder::LedgerBuilder;

use super::session::{Marks, Reply, ServerSession, Wave};
use super::tests_common::*;
use super::tests_servers::{client, io, last};

/// Client `c` of `wave` served by one of the pool's `workers` (pids 2..), or with
/// `per_client` by a process forked for it (pid 50 + 10 × wave + c) that exits after.
fn serve(b: &mut LedgerBuilder, workers: i32, per_client: bool, wave: u32, c: u32) {
    let server = if per_client {
        let pid = 50 + 10 * wave as i32 + c as i32;
        b.fork(1, pid);
        pid
    } else {
        2 + (c as i32 - 1) % workers
    };
    io(b, server, wave, c);
    if per_client {
        b.exit(server, 0);
    }
}

/// A pool of `workers` (pids 2..) forked before the clients; with `per_client`, a
/// process spawned for each client instead.
fn pool_run(workers: i32, per_client: bool) -> (crate::ledger::Ledger, ServerSession) {
    let mut b = LedgerBuilder::new(1, &[PY, "pool.py"]);
    b.push(EventKind::Listen {
        pid: 1,
        addr: "127.0.0.1:8080".into(),
    });
    for w in 0..workers {
        b.fork(1, 2 + w);
    }
    let mut session = ServerSession {
        marks: Marks {
            before_clients: last(&b),
            ..Marks::default()
        },
        ..ServerSession::default()
    };
    let mut parallel = Wave {
        number: 0,
        held: true,
        clients: Vec::new(),
    };
    for c in 1..=2u32 {
        serve(&mut b, workers, per_client, 0, c);
        let reply = if workers == 1 && c == 2 {
            Reply::Timeout { got: String::new() }
        } else {
            Reply::Correct
        };
        parallel.clients.push(client(0, c, reply));
    }
    session.parallel = Some(parallel);
    let mut wave = Wave {
        number: 1,
        held: false,
        clients: Vec::new(),
    };
    for c in 1..=6u32 {
        serve(&mut b, workers, per_client, 1, c);
        wave.clients.push(client(1, c, Reply::Correct));
    }
    session.waves.push(wave);
    session.marks.after_wave.push(last(&b));
    session.marks.before_teardown = last(&b);
    b.signal(0, 1, 15);
    for w in 0..workers {
        b.signal(1, 2 + w, 15).killed(2 + w, 15);
    }
    b.exit(1, 0);
    (b.build(), session)
}

#[test]
fn a_pool_passes() {
    let (ledger, session) = pool_run(4, false);
    assert_failed(&grade_with("pool-server", &ledger, Some(&session)), &[]);
}

#[test]
fn a_pool_of_one_does_not_serve_in_parallel() {
    let (ledger, session) = pool_run(1, false);
    let results = grade_with("pool-server", &ledger, Some(&session));
    assert_failed(&results, &["parallel-workers"]);
    assert_says(
        &results,
        "parallel-workers",
        &["client 2 was not answered", "a pool of one"],
    );
}

#[test]
fn a_process_per_client_is_not_a_pool() {
    let (ledger, session) = pool_run(0, true);
    let results = grade_with("pool-server", &ledger, Some(&session));
    assert_failed(&results, &["no-spawn-while-serving"]);
    assert_says(
        &results,
        "no-spawn-while-serving",
        &[
            "8 process(es) were created",
            "a process per client is what a pool replaces",
        ],
    );
}

#[test]
fn a_pool_that_drops_a_client_fails_answers() {
    let (ledger, mut session) = pool_run(4, false);
    session.waves[0].clients[5].exchanges[0].reply = Reply::Closed { got: String::new() };
    let results = grade_with("pool-server", &ledger, Some(&session));
    assert_failed(&results, &["answers"]);
    assert_says(
        &results,
        "answers",
        &[
            "more clients than workers",
            "wave 1 client 6",
            "closed the connection",
        ],
    );
}
