//! socket-server over hand-built ledgers and client sessions (the pool: `tests_pool`).

use crate::ledger::builder::LedgerBuilder;
use crate::ledger::{EventKind, IoDir};

use super::session::{ClientRun, Exchange, Marks, Reply, ServerSession, Wave};
use super::tests_common::*;

pub(super) fn last(b: &LedgerBuilder) -> u64 {
    b.build().events.last().map_or(0, |e| e.seq)
}

fn peer(wave: u32, client: u32) -> String {
    format!("127.0.0.1:{}", 40000 + wave * 10 + client)
}

pub(super) fn client(wave: u32, client: u32, reply: Reply) -> ClientRun {
    ClientRun {
        client,
        local: Some(peer(wave, client)),
        connect_error: None,
        exchanges: vec![Exchange {
            sent: format!("hello {client}"),
            reply,
        }],
        closed_ns: None,
    }
}

pub(super) fn io(b: &mut LedgerBuilder, pid: i32, wave: u32, c: u32) {
    for dir in [IoDir::Read, IoDir::Write] {
        b.push(EventKind::SocketIo {
            pid,
            peer: peer(wave, c),
            dir,
            len: 7,
        });
    }
}

/// How the server under test behaves.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Server {
    /// A process per client, reaped at the next accept (multiprocessing's way).
    PerClient,
    /// A process per client, never reaped.
    Zombies,
    /// A process per client, SIGCHLD ignored: the kernel reaps each at its exit.
    IgnoresSigchld,
    /// Serves in the listening process, one client at a time.
    Iterative,
    /// A process per client whose loop never ends when the client leaves: the children
    /// run until teardown's SIGTERM.
    Spinning,
}

/// Two waves of 4 clients against `server`, then SIGTERM.
pub(super) fn socket_run(server: Server) -> (crate::ledger::Ledger, ServerSession) {
    let mut b = LedgerBuilder::new(1, &[PY, "srv.py"]);
    b.push(EventKind::Listen {
        pid: 1,
        addr: "127.0.0.1:8080".into(),
    });
    let mut session = ServerSession {
        listen: Some("127.0.0.1:8080".into()),
        marks: Marks {
            before_clients: last(&b),
            ..Marks::default()
        },
        ..ServerSession::default()
    };
    if server == Server::IgnoresSigchld {
        b.sigchld(1, true, false);
    }
    let mut unreaped: Vec<i32> = Vec::new();
    for wave in 1..=2u32 {
        let mut clients = Vec::new();
        for c in 1..=4u32 {
            b.push(EventKind::Accept {
                pid: 1,
                local: "127.0.0.1:8080".into(),
                peer: peer(wave, c),
            });
            let reply = if server == Server::Iterative && c > 1 {
                Reply::Timeout { got: String::new() }
            } else {
                Reply::Correct
            };
            if server == Server::Iterative {
                if c == 1 {
                    io(&mut b, 1, wave, c);
                }
            } else {
                let pid = (wave * 10 + c) as i32;
                if server == Server::PerClient {
                    for z in unreaped.drain(..) {
                        b.reap(1, z);
                    }
                }
                b.fork(1, pid);
                io(&mut b, pid, wave, c);
            }
            clients.push(client(wave, c, reply));
        }
        // The clients close here, on the builder's clock (1 ms per event).
        let closed = last(&b) * 1_000_000;
        for c in &mut clients {
            c.closed_ns = Some(closed);
        }
        if server != Server::Iterative && server != Server::Spinning {
            for c in 1..=4u32 {
                let pid = (wave * 10 + c) as i32;
                b.exit(pid, 0);
                if server == Server::IgnoresSigchld {
                    b.kernel_reap(1, pid);
                } else {
                    unreaped.push(pid);
                }
            }
        }
        session.marks.after_wave.push(last(&b));
        session.waves.push(Wave {
            number: wave,
            held: true,
            clients,
        });
    }
    session.marks.before_teardown = last(&b);
    b.signal(0, 1, 15).killed(1, 15);
    if server == Server::Spinning {
        for pid in [11, 12, 13, 14, 21, 22, 23, 24] {
            b.killed(pid, 15);
        }
    }
    (b.build(), session)
}

#[test]
fn a_process_per_client_server_passes() {
    let (ledger, session) = socket_run(Server::PerClient);
    assert_failed(&grade_with("socket-server", &ledger, Some(&session)), &[]);
}

#[test]
fn an_iterative_server_answers_one_client_at_a_time() {
    let (ledger, session) = socket_run(Server::Iterative);
    let results = grade_with("socket-server", &ledger, Some(&session));
    assert_failed(&results, &["concurrent-clients", "process-per-client"]);
    assert_says(
        &results,
        "concurrent-clients",
        &[
            "client 1 was answered while the others waited",
            "one client at a time",
        ],
    );
    assert_says(
        &results,
        "process-per-client",
        &[
            "served by the listening process",
            "one client at a time in its listening",
        ],
    );
}

#[test]
fn zombies_that_pile_up_are_named() {
    let (ledger, session) = socket_run(Server::Zombies);
    let results = grade_with("socket-server", &ledger, Some(&session));
    assert_failed(&results, &["zombies-bounded"]);
    assert_says(
        &results,
        "zombies-bounded",
        &["after wave 1: 4, after wave 2: 8", "pile up as zombies"],
    );
}

#[test]
fn children_the_kernel_reaps_are_no_zombies() {
    let (ledger, session) = socket_run(Server::IgnoresSigchld);
    let results = grade_with("socket-server", &ledger, Some(&session));
    assert_failed(&results, &[]);
    assert_says(
        &results,
        "zombies-bounded",
        &[
            "after wave 1: 0, after wave 2: 0",
            "8 children were reaped by the kernel (the parent ignores SIGCHLD)",
        ],
    );
}

#[test]
fn unchanged_echo_is_named() {
    let (ledger, mut session) = socket_run(Server::PerClient);
    for wave in &mut session.waves {
        for c in &mut wave.clients {
            let sent = c.exchanges[0].sent.clone();
            c.exchanges[0].reply = Reply::Wrong { got: sent };
        }
    }
    let results = grade_with("socket-server", &ledger, Some(&session));
    assert_failed(&results, &["answers"]);
    assert_says(
        &results,
        "answers",
        &["expected `HELLO 1`, got `hello 1`", "upper-case them"],
    );
}

#[test]
fn a_server_that_never_listens_fails_every_client_check() {
    let mut b = LedgerBuilder::new(1, &[PY, "srv.py"]);
    b.exit(1, 1);
    let session = ServerSession {
        startup_error: Some("the program ended without ever calling listen()".into()),
        marks: Marks {
            before_teardown: last(&b),
            ..Marks::default()
        },
        ..ServerSession::default()
    };
    let results = grade_with("socket-server", &b.build(), Some(&session));
    assert_failed(
        &results,
        &[
            "answers",
            "concurrent-clients",
            "process-per-client",
            "second-wave",
            "zombies-bounded",
            "children-exit",
        ],
    );
    assert_says(
        &results,
        "answers",
        &["ever calling listen()", "exit code 1"],
    );
}

#[test]
fn teardown_fails_when_a_worker_outlives_sigterm() {
    let (mut ledger, session) = socket_run(Server::PerClient);
    // A worker still running at teardown, killed by SIGKILL at the end.
    ledger.events.push(crate::ledger::Event {
        seq: 10_000,
        t_ns: 0,
        kind: EventKind::Spawn {
            parent: 1,
            creator_tid: 1,
            child: 99,
            thread: false,
            via: crate::ledger::SpawnVia::Fork,
        },
    });
    ledger.events.push(crate::ledger::Event {
        seq: 10_001,
        t_ns: 0,
        kind: EventKind::Exit {
            pid: 99,
            status: crate::ledger::ExitStatus::Signal {
                signal: 9,
                core: false,
            },
        },
    });
    let results = grade_with("socket-server", &ledger, Some(&session));
    assert!(failed(&results).contains(&"teardown"));
    assert_says(&results, "teardown", &["pid 99", "SIGKILL"]);
}

#[test]
fn a_server_that_stops_after_the_first_wave_fails_second_wave() {
    let (mut ledger, mut session) = socket_run(Server::PerClient);
    for c in &mut session.waves[1].clients {
        c.exchanges[0].reply = Reply::Error {
            error: "connection refused".into(),
        };
    }
    // The main process exited on its own before teardown.
    let end = session.marks.after_wave[0];
    ledger.events.retain(|e| e.seq <= end);
    ledger.events.push(crate::ledger::Event {
        seq: end + 1,
        t_ns: 0,
        kind: EventKind::Exit {
            pid: 1,
            status: crate::ledger::ExitStatus::Code { code: 0 },
        },
    });
    session.marks.before_teardown = end + 2;
    let results = grade_with("socket-server", &ledger, Some(&session));
    assert!(failed(&results).contains(&"second-wave"));
    assert_says(
        &results,
        "second-wave",
        &["connection refused", "had exited", "accept() forever"],
    );
}
