//! The grader as the server's clients: learn the listening address from the trace,
//! connect over loopback only, send messages, check the upper-cased replies, in waves.
//!
//! Socket server: each wave's clients all connect, then each sends its messages (each
//! answered before the next), and none closes before every client has its replies or
//! has given up — so a server that serves one client at a time leaves the others
//! unanswered until their reply timeout. Pool server: first a few clients held the same
//! way (parallel service), then waves of more clients than a pool has workers, each
//! connecting, talking and leaving on its own.

use std::cell::Cell;
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use crate::ledger::{Event, EventKind, ProcessTree, net};

use super::id::ExerciseId;
use super::params::ServerParams;
use super::session::{ClientRun, Exchange, Marks, Reply, ServerSession, Wave};

/// A traced server the clients talk to (implemented over the tracer's running trace).
pub trait ServerUnderTest: Sync {
    /// Events recorded so far, in `seq` order.
    fn events(&self) -> Vec<Event>;
    /// Wait until `pred(events so far)` holds (true), or `timeout` passes or the run
    /// ends without it holding (false).
    fn wait_for(&self, timeout: Duration, pred: &dyn Fn(&[Event]) -> bool) -> bool;
    /// Has the traced command ended?
    fn is_finished(&self) -> bool;
    /// Now on the run's clock (the `t_ns` of events recorded at this moment).
    fn clock_ns(&self) -> u64;
    /// Connect to `addr` from where the server can be reached (its network namespace).
    fn connect(&self, addr: SocketAddr, timeout: Duration) -> io::Result<TcpStream>;
}

/// How long the server must create no process before the clients start: its pool (or
/// its start-up) is then in place.
const SETTLE: Duration = Duration::from_millis(500);

/// Drive a whole client session against `server`.
pub fn drive(
    server: &dyn ServerUnderTest,
    exercise: ExerciseId,
    p: &ServerParams,
) -> ServerSession {
    let mut session = ServerSession::default();
    let listen = match await_listen(server, Duration::from_millis(p.startup_timeout_ms)) {
        Ok(addr) => addr,
        Err(reason) => {
            session.startup_error = Some(reason);
            session.marks.before_teardown = last_seq(&server.events());
            return session;
        }
    };
    session.listen = Some(listen.clone());
    let addr = match loopback_target(&listen) {
        Ok(addr) => addr,
        Err(reason) => {
            session.startup_error = Some(reason);
            session.marks.before_teardown = last_seq(&server.events());
            return session;
        }
    };
    settle(server, Duration::from_millis(p.startup_timeout_ms));
    let mut marks = Marks {
        before_clients: last_seq(&server.events()),
        ..Marks::default()
    };
    if exercise == ExerciseId::PoolServer {
        session.parallel = Some(held_wave(server, addr, 0, p.parallel_clients, p));
    }
    for number in 1..=p.waves {
        let wave = if exercise == ExerciseId::PoolServer {
            free_wave(server, addr, number, p)
        } else {
            held_wave(server, addr, number, p.clients, p)
        };
        if exercise == ExerciseId::SocketServer {
            // At least `child_exit_ms`: a serving process still running at teardown has
            // then certainly outlived its client by more than that.
            let wait = p.reply_timeout_ms.max(p.child_exit_ms);
            await_servers_ended(server, &wave, Duration::from_millis(wait));
        }
        marks.after_wave.push(last_seq(&server.events()));
        session.waves.push(wave);
    }
    marks.before_teardown = last_seq(&server.events());
    session.marks = marks;
    session
}

fn last_seq(events: &[Event]) -> u64 {
    events.last().map_or(0, |e| e.seq)
}

/// Wait for the first listen() and return its address.
fn await_listen(server: &dyn ServerUnderTest, timeout: Duration) -> Result<String, String> {
    let listen = |events: &[Event]| {
        events.iter().find_map(|e| match &e.kind {
            EventKind::Listen { addr, .. } => Some(addr.clone()),
            _ => None,
        })
    };
    // The predicate runs under the tracer's lock at every new event: look only at the
    // events it has not seen yet.
    let checked = Cell::new(0);
    let heard = server.wait_for(timeout, &|events| {
        let new = events.get(checked.get()..).unwrap_or_default();
        checked.set(events.len());
        listen(new).is_some()
    });
    if heard && let Some(addr) = listen(&server.events()) {
        return Ok(addr);
    }
    if server.is_finished() {
        Err("the program ended without ever calling listen()".into())
    } else {
        Err(format!(
            "the server did not call listen() within {:.1} s",
            timeout.as_secs_f64()
        ))
    }
}

/// Where a client connects for a server listening on `listen`: the same port on
/// loopback (an unspecified address is reached through loopback; others are refused).
pub fn loopback_target(listen: &str) -> Result<SocketAddr, String> {
    let addr: SocketAddr = listen
        .parse()
        .map_err(|_| format!("cannot use the listening address `{listen}`"))?;
    let ip = match addr.ip() {
        IpAddr::V4(v4) if v4.is_unspecified() || v4.is_loopback() => {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        }
        IpAddr::V6(v6) if v6.is_unspecified() || v6.is_loopback() => {
            IpAddr::V6(Ipv6Addr::LOCALHOST)
        }
        other => {
            return Err(format!(
                "the server listens on {other}, not on loopback or all addresses; the grader's \
                 clients connect only to loopback"
            ));
        }
    };
    Ok(SocketAddr::new(ip, addr.port()))
}

/// Is this event a process being created or exec'd?
fn activity(event: &Event) -> bool {
    matches!(event.kind, EventKind::Spawn { .. } | EventKind::Exec { .. })
}

/// Wait until no process has been created or exec'd for [`SETTLE`] (bounded).
fn settle(server: &dyn ServerUnderTest, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    let checked = Cell::new(server.events().len());
    while Instant::now() < deadline {
        let busy = server.wait_for(SETTLE, &|events| {
            let new = events.get(checked.get()..).unwrap_or_default();
            checked.set(events.len());
            new.iter().any(activity)
        });
        if !busy {
            return;
        }
    }
}

/// Wait until every process (other than a listener) that served `wave`'s connections
/// has exited, so zombies can be counted; bounded by `timeout`.
fn await_servers_ended(server: &dyn ServerUnderTest, wave: &Wave, timeout: Duration) {
    let locals: Vec<&String> = wave
        .clients
        .iter()
        .filter_map(|c| c.local.as_ref())
        .collect();
    let all_ended = |events: &[Event]| {
        let tree = ProcessTree::from_events(events);
        let listeners: Vec<usize> = net::listeners_in(events, &tree)
            .into_iter()
            .map(|l| l.process)
            .collect();
        let conns = net::connections_in(events, &tree);
        locals.iter().all(|local| {
            net::connection_from(&conns, local).is_some_and(|c| {
                c.servers()
                    .iter()
                    .filter(|s| !listeners.contains(s))
                    .all(|&s| tree.processes[s].exited.is_some())
            })
        })
    };
    if all_ended(&server.events()) {
        return;
    }
    // Rebuild the tree only when a process has exited since the last look.
    let checked = Cell::new(0);
    server.wait_for(timeout, &|events| {
        let new = events.get(checked.get()..).unwrap_or_default();
        checked.set(events.len());
        new.iter().any(|e| matches!(e.kind, EventKind::Exit { .. })) && all_ended(events)
    });
}

/// `count` clients all connected at once; none closes before all are done.
pub fn held_wave(
    server: &dyn ServerUnderTest,
    addr: SocketAddr,
    number: u32,
    count: u32,
    p: &ServerParams,
) -> Wave {
    let connected = Barrier::new(count as usize);
    let done = Barrier::new(count as usize);
    let clients = std::thread::scope(|scope| {
        let handles: Vec<_> = (1..=count)
            .map(|client| {
                let (connected, done) = (&connected, &done);
                scope.spawn(move || {
                    let (mut run, stream) = connect(server, addr, client, p);
                    connected.wait();
                    if let Some(mut stream) = stream {
                        run.exchanges = talk(&mut stream, number, client, p);
                        done.wait();
                        drop(stream);
                        run.closed_ns = Some(server.clock_ns());
                    } else {
                        done.wait();
                    }
                    run
                })
            })
            .collect();
        collect(handles)
    });
    Wave {
        number,
        held: true,
        clients,
    }
}

/// `p.clients` clients started together, each connecting, talking and closing on its own.
pub fn free_wave(
    server: &dyn ServerUnderTest,
    addr: SocketAddr,
    number: u32,
    p: &ServerParams,
) -> Wave {
    let clients = std::thread::scope(|scope| {
        let handles: Vec<_> = (1..=p.clients)
            .map(|client| {
                scope.spawn(move || {
                    let (mut run, stream) = connect(server, addr, client, p);
                    if let Some(mut stream) = stream {
                        run.exchanges = talk(&mut stream, number, client, p);
                        drop(stream);
                        run.closed_ns = Some(server.clock_ns());
                    }
                    run
                })
            })
            .collect();
        collect(handles)
    });
    Wave {
        number,
        held: false,
        clients,
    }
}

fn collect(handles: Vec<std::thread::ScopedJoinHandle<'_, ClientRun>>) -> Vec<ClientRun> {
    handles
        .into_iter()
        .enumerate()
        .map(|(i, h)| {
            h.join().unwrap_or_else(|_| ClientRun {
                client: i as u32 + 1,
                connect_error: Some("internal error: the client thread panicked".into()),
                ..ClientRun::default()
            })
        })
        .collect()
}

fn connect(
    server: &dyn ServerUnderTest,
    addr: SocketAddr,
    client: u32,
    p: &ServerParams,
) -> (ClientRun, Option<TcpStream>) {
    let mut run = ClientRun {
        client,
        ..ClientRun::default()
    };
    match server.connect(addr, Duration::from_millis(p.reply_timeout_ms)) {
        Ok(stream) => {
            run.local = stream
                .local_addr()
                .ok()
                .map(|a| net::normalize_addr(&a.to_string()));
            (run, Some(stream))
        }
        Err(error) => {
            run.connect_error = Some(error.to_string());
            (run, None)
        }
    }
}

/// Send each message and wait for its reply; stop at the first missing reply.
fn talk(stream: &mut TcpStream, wave: u32, client: u32, p: &ServerParams) -> Vec<Exchange> {
    let timeout = Duration::from_millis(p.reply_timeout_ms);
    let mut out = Vec::new();
    for n in 1..=p.messages {
        let sent = p.message_for(wave, client, n);
        let reply = exchange(stream, &sent, timeout);
        let stop = !reply.answered();
        out.push(Exchange { sent, reply });
        if stop {
            break;
        }
    }
    out
}

/// Send `message`; read until as many bytes as it has arrived, or the timeout.
pub fn exchange(stream: &mut TcpStream, message: &str, timeout: Duration) -> Reply {
    if let Err(error) = stream.write_all(message.as_bytes()) {
        return Reply::Error {
            error: format!("send failed: {error}"),
        };
    }
    let expected = message.to_ascii_uppercase();
    let deadline = Instant::now() + timeout;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while got.len() < expected.len() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Reply::Timeout {
                got: String::from_utf8_lossy(&got).into_owned(),
            };
        }
        if let Err(error) = stream.set_read_timeout(Some(left)) {
            return Reply::Error {
                error: error.to_string(),
            };
        }
        match stream.read(&mut buf) {
            Ok(0) => {
                return Reply::Closed {
                    got: String::from_utf8_lossy(&got).into_owned(),
                };
            }
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Reply::Timeout {
                    got: String::from_utf8_lossy(&got).into_owned(),
                };
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => {
                return Reply::Error {
                    error: error.to_string(),
                };
            }
        }
    }
    if got == expected.as_bytes() {
        Reply::Correct
    } else {
        Reply::Wrong {
            got: String::from_utf8_lossy(&got).into_owned(),
        }
    }
}
