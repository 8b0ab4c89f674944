//! Connections of a traced server: who listened, who accepted each connection, and
//! which processes read from or wrote to it (the serving processes).
//!
//! A connection is identified by its peer address (the client's `ip:port`) from its
//! `Accept`; `SocketIo` events on that peer belong to the latest connection accepted
//! from it. Addresses are normalised (`[::ffff:127.0.0.1]:5` → `127.0.0.1:5`) so a
//! client's own local address can be matched against them.

use std::net::SocketAddr;

use serde::Serialize;

use super::event::{Event, EventKind, IoDir, Ledger};
use super::tree::{ProcId, ProcessTree};

/// A listening socket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Listener {
    pub process: ProcId,
    pub addr: String,
    pub seq: u64,
}

/// One accepted connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Connection {
    /// The client's address, normalised.
    pub peer: String,
    /// Who accepted it, and when (None: traffic seen without an accept).
    pub accepted_by: Option<(ProcId, u64)>,
    /// Each read/write on it: process, direction, seq, bytes.
    pub io: Vec<(ProcId, IoDir, u64, usize)>,
}

impl Connection {
    /// The processes that read from or wrote to it, in order of first use.
    pub fn servers(&self) -> Vec<ProcId> {
        let mut out = Vec::new();
        for &(process, ..) in &self.io {
            if !out.contains(&process) {
                out.push(process);
            }
        }
        out
    }

    /// Sequence numbers of its first and last traffic.
    pub fn service_span(&self) -> Option<(u64, u64)> {
        let first = self.io.iter().map(|io| io.2).min()?;
        let last = self.io.iter().map(|io| io.2).max()?;
        Some((first, last))
    }
}

/// `addr` in a canonical form: IPv4-mapped IPv6 as IPv4; unparsable text unchanged.
pub fn normalize_addr(addr: &str) -> String {
    match addr.parse::<SocketAddr>() {
        Ok(SocketAddr::V6(v6)) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::from((v4, v6.port())).to_string(),
            None => SocketAddr::V6(v6).to_string(),
        },
        Ok(other) => other.to_string(),
        Err(_) => addr.to_string(),
    }
}

/// Every listen() of the run, in order.
pub fn listeners(ledger: &Ledger, tree: &ProcessTree) -> Vec<Listener> {
    listeners_in(&ledger.events, tree)
}

/// Every listen() among `events` (a running trace's events so far), in order.
pub fn listeners_in(events: &[Event], tree: &ProcessTree) -> Vec<Listener> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Listen { pid, addr } => tree.at(*pid, e.seq).map(|process| Listener {
                process,
                addr: addr.clone(),
                seq: e.seq,
            }),
            _ => None,
        })
        .collect()
}

/// Every connection of the run, in order of acceptance (or of first traffic).
pub fn connections(ledger: &Ledger, tree: &ProcessTree) -> Vec<Connection> {
    connections_in(&ledger.events, tree)
}

/// Every connection among `events` (a running trace's events so far).
pub fn connections_in(events: &[Event], tree: &ProcessTree) -> Vec<Connection> {
    let mut out: Vec<Connection> = Vec::new();
    for event in events {
        match &event.kind {
            EventKind::Accept { pid, peer, .. } => out.push(Connection {
                peer: normalize_addr(peer),
                accepted_by: tree.at(*pid, event.seq).map(|p| (p, event.seq)),
                io: Vec::new(),
            }),
            EventKind::SocketIo {
                pid,
                peer,
                dir,
                len,
            } => {
                let peer = normalize_addr(peer);
                let Some(process) = tree.at(*pid, event.seq) else {
                    continue;
                };
                let index = match out.iter().rposition(|c| c.peer == peer) {
                    Some(i) => i,
                    None => {
                        out.push(Connection {
                            peer,
                            accepted_by: None,
                            io: Vec::new(),
                        });
                        out.len() - 1
                    }
                };
                out[index].io.push((process, *dir, event.seq, *len));
            }
            _ => {}
        }
    }
    out
}

/// The connection whose peer is `peer` (normalised), the latest one.
pub fn connection_from<'c>(connections: &'c [Connection], peer: &str) -> Option<&'c Connection> {
    let peer = normalize_addr(peer);
    connections.iter().rev().find(|c| c.peer == peer)
}
