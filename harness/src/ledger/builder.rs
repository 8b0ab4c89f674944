//! A builder for synthetic ledgers: checks are pure functions over a ledger, so unit
//! and property tests describe a run event by event instead of tracing a real one.

use super::event::*;

/// Appends events with consecutive sequence numbers, 1 ms apart.
#[derive(Debug, Clone)]
pub struct LedgerBuilder {
    ledger: Ledger,
}

impl LedgerBuilder {
    /// A run whose root process is `root`, exec'ing `argv`.
    pub fn new(root: Pid, argv: &[&str]) -> Self {
        let mut builder = LedgerBuilder {
            ledger: Ledger {
                schema_version: SCHEMA_VERSION,
                command: argv.iter().map(|s| s.to_string()).collect(),
                root,
                limits: Limits {
                    time_ms: 30_000,
                    max_processes: 64,
                    memory_bytes: 512 << 20,
                    output_bytes: 8 << 20,
                },
                layers: Vec::new(),
                events: Vec::new(),
                root_status: None,
                limit_hit: None,
                output_truncated: false,
                wall_ns: 0,
                leftovers: Vec::new(),
            },
        };
        builder.push(EventKind::Root { pid: root });
        builder.exec(root, argv);
        builder
    }

    /// Append any event.
    pub fn push(&mut self, kind: EventKind) -> &mut Self {
        let seq = self.ledger.events.len() as u64;
        self.ledger.events.push(Event {
            seq,
            t_ns: seq * 1_000_000,
            kind,
        });
        self
    }

    /// `parent` forks `child`.
    pub fn fork(&mut self, parent: Pid, child: Pid) -> &mut Self {
        self.push(EventKind::Spawn {
            parent,
            creator_tid: parent,
            child,
            thread: false,
            via: SpawnVia::Clone,
        })
    }

    /// `parent` starts thread `tid`.
    pub fn thread(&mut self, parent: Pid, tid: Pid) -> &mut Self {
        self.push(EventKind::Spawn {
            parent,
            creator_tid: parent,
            child: tid,
            thread: true,
            via: SpawnVia::Clone,
        })
    }

    /// `pid` execs `argv` (path = `argv[0]`).
    pub fn exec(&mut self, pid: Pid, argv: &[&str]) -> &mut Self {
        self.push(EventKind::Exec {
            pid,
            path: argv.first().copied().unwrap_or_default().to_string(),
            argv: argv.iter().map(|s| s.to_string()).collect(),
        })
    }

    /// `pid` writes `text` to stdout.
    pub fn out(&mut self, pid: Pid, text: &str) -> &mut Self {
        self.write(pid, Stream::Stdout, text)
    }

    /// `pid` writes `text` to `stream`.
    pub fn write(&mut self, pid: Pid, stream: Stream, text: &str) -> &mut Self {
        self.push(EventKind::Write {
            pid,
            tid: pid,
            stream,
            text: text.to_string(),
            len: text.len(),
        })
    }

    /// `pid` exits with `code`.
    pub fn exit(&mut self, pid: Pid, code: i32) -> &mut Self {
        self.push(EventKind::Exit {
            pid,
            status: ExitStatus::Code { code },
        })
    }

    /// `pid` is killed by `signal`.
    pub fn killed(&mut self, pid: Pid, signal: i32) -> &mut Self {
        self.push(EventKind::Exit {
            pid,
            status: ExitStatus::Signal {
                signal,
                core: false,
            },
        })
    }

    /// `reaper` reaps `reaped`.
    pub fn reap(&mut self, reaper: Pid, reaped: Pid) -> &mut Self {
        self.push(EventKind::Reap { reaper, reaped })
    }

    /// `pid` sets its SIGCHLD disposition.
    pub fn sigchld(&mut self, pid: Pid, ignore: bool, nocldwait: bool) -> &mut Self {
        self.push(EventKind::SigchldDisposition {
            pid,
            ignore,
            nocldwait,
        })
    }

    /// The kernel reaps `reaped`, whose parent `parent` ignores SIGCHLD.
    pub fn kernel_reap(&mut self, parent: Pid, reaped: Pid) -> &mut Self {
        self.push(EventKind::KernelReap { parent, reaped })
    }

    /// `from` sends `signal` to `to`.
    pub fn signal(&mut self, from: Pid, to: Pid, signal: i32) -> &mut Self {
        self.push(EventKind::Signal { from, to, signal })
    }

    /// The finished ledger; the root's status is taken from its exit event.
    pub fn build(&self) -> Ledger {
        let mut ledger = self.ledger.clone();
        ledger.root_status = ledger.events.iter().rev().find_map(|e| match e.kind {
            EventKind::Exit { pid, status } if pid == ledger.root => Some(status),
            _ => None,
        });
        ledger.wall_ns = ledger.events.last().map_or(0, |e| e.t_ns);
        ledger
    }
}
