//! Each exercise's parameters, as an instructor may set them in an exercise file's
//! `[params]` table. Defaults follow the lesson; the built-in files state them in full.

use serde::{Deserialize, Serialize};

use super::pattern::{PatternList, Patterns};

/// `start-target`, `start-subclass` and `join-order`: children that each print a start
/// and an end line carrying their name; the parent prints a line starting with `主`.
///
/// Lines are [patterns](super::pattern). Names are read from the children's own lines
/// unless `names` pins them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StartParams {
    /// How many children; defaults to the number of pinned names, else 4.
    pub children: Option<usize>,
    /// Pinned names, one child per name. Empty: any distinct names the children print.
    pub names: Vec<String>,
    /// A child's first line; must capture `{name}`.
    pub start_line: PatternList,
    /// A child's last line; must capture `{name}`.
    pub end_line: PatternList,
    /// The parent's line.
    pub parent_line: PatternList,
}

impl Default for StartParams {
    fn default() -> Self {
        StartParams {
            children: None,
            names: Vec::new(),
            start_line: ["{name} piaoing", "{name} is piaoing"].into(),
            end_line: ["{name} piao end", "{name} is piao end"].into(),
            parent_line: r"re:^\s*(主|(?i:main)\b)".into(),
        }
    }
}

impl StartParams {
    /// The number of children expected.
    pub fn count(&self) -> usize {
        self.children.unwrap_or(match self.names.len() {
            0 => 4,
            pinned => pinned,
        })
    }

    /// The compiled start-line patterns (validated when the spec was loaded).
    pub fn start_patterns(&self) -> Patterns {
        compiled(&self.start_line)
    }

    /// The compiled end-line patterns.
    pub fn end_patterns(&self) -> Patterns {
        compiled(&self.end_line)
    }

    /// The compiled parent-line patterns.
    pub fn parent_patterns(&self) -> Patterns {
        compiled(&self.parent_line)
    }
}

/// Patterns a loaded spec has already validated; an invalid list (impossible after
/// loading) matches nothing rather than panicking.
pub fn compiled(list: &PatternList) -> Patterns {
    list.compile().unwrap_or_else(|_| Patterns::nothing())
}

/// `isolation`: a global starts at `initial`; the child sets it to `child_value`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IsolationParams {
    pub initial: i64,
    pub child_value: i64,
    /// The child's line; `{value}` captures the number it prints.
    pub child_line: PatternList,
    /// The parent's line; `{value}` captures the number it prints.
    pub parent_line: PatternList,
}

impl Default for IsolationParams {
    fn default() -> Self {
        IsolationParams {
            initial: 100,
            child_value: 0,
            child_line: ["子进程内: {value}", "子进程中: {value}"].into(),
            parent_line: ["主进程内: {value}", "主进程中: {value}"].into(),
        }
    }
}

/// `daemon`: one daemon child and one normal child.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DaemonParams {
    /// A child's end line (`egon piao end`, `guard end`, `end456`).
    pub end_line: PatternList,
}

impl Default for DaemonParams {
    fn default() -> Self {
        DaemonParams {
            end_line: r"re:(?i)\bend|结束".into(),
        }
    }
}

/// `terminate`: one child, terminated with SIGTERM.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TerminateParams {
    /// The signal `terminate()` sends (SIGTERM).
    pub signal: i32,
}

impl Default for TerminateParams {
    fn default() -> Self {
        TerminateParams {
            signal: libc::SIGTERM,
        }
    }
}

/// `socket-server` and `pool-server`: what the grader's clients do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerParams {
    /// Clients per wave. For the socket server they are all connected at once; keep it
    /// below the lesson's listen backlog of 5.
    pub clients: u32,
    /// Waves of clients, one after the other (the second proves the server goes on).
    pub waves: u32,
    /// Messages each client sends, each answered before the next.
    pub messages: u32,
    /// A message; `{client}`, `{wave}` and `{n}` are replaced. ASCII only.
    pub message: String,
    /// Clients held connected at once to prove two workers serve in parallel (pool).
    pub parallel_clients: u32,
    /// How long a client waits for each reply.
    pub reply_timeout_ms: u64,
    /// How long the server may take to call listen().
    pub startup_timeout_ms: u64,
    /// After SIGTERM, how long the server has to end before SIGKILL.
    pub teardown_grace_ms: u64,
    /// How long a process serving one client may run on after that client closed
    /// (socket-server's `children-exit`).
    pub child_exit_ms: u64,
}

impl ServerParams {
    fn defaults(clients: u32) -> Self {
        ServerParams {
            clients,
            waves: 2,
            messages: 2,
            message: "hello from client {client} wave {wave} message {n}".into(),
            parallel_clients: 2,
            reply_timeout_ms: 3_000,
            startup_timeout_ms: 15_000,
            teardown_grace_ms: 10_000,
            child_exit_ms: 2_000,
        }
    }

    /// The socket server's defaults: 4 clients at once.
    pub fn socket_default() -> Self {
        Self::defaults(4)
    }

    /// The pool server's defaults: 6 clients per wave, more than a pool of 4 workers.
    pub fn pool_default() -> Self {
        Self::defaults(6)
    }

    /// The text client `client` sends as message `n` of wave `wave` (all from 1).
    pub fn message_for(&self, wave: u32, client: u32, n: u32) -> String {
        self.message
            .replace("{client}", &client.to_string())
            .replace("{wave}", &wave.to_string())
            .replace("{n}", &n.to_string())
    }
}

impl Default for ServerParams {
    fn default() -> Self {
        Self::socket_default()
    }
}

/// The parameters of one exercise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Params {
    Start(StartParams),
    Isolation(IsolationParams),
    Daemon(DaemonParams),
    Terminate(TerminateParams),
    Server(ServerParams),
}

/// `[params]` of a server exercise as written: what is left out keeps the exercise's
/// default (the two servers default to different client counts).
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerFileParams {
    clients: Option<u32>,
    waves: Option<u32>,
    messages: Option<u32>,
    message: Option<String>,
    parallel_clients: Option<u32>,
    reply_timeout_ms: Option<u64>,
    startup_timeout_ms: Option<u64>,
    teardown_grace_ms: Option<u64>,
    child_exit_ms: Option<u64>,
}

impl ServerFileParams {
    /// These settings over `base`.
    pub fn apply(self, base: ServerParams) -> ServerParams {
        ServerParams {
            clients: self.clients.unwrap_or(base.clients),
            waves: self.waves.unwrap_or(base.waves),
            messages: self.messages.unwrap_or(base.messages),
            message: self.message.unwrap_or(base.message),
            parallel_clients: self.parallel_clients.unwrap_or(base.parallel_clients),
            reply_timeout_ms: self.reply_timeout_ms.unwrap_or(base.reply_timeout_ms),
            startup_timeout_ms: self.startup_timeout_ms.unwrap_or(base.startup_timeout_ms),
            teardown_grace_ms: self.teardown_grace_ms.unwrap_or(base.teardown_grace_ms),
            child_exit_ms: self.child_exit_ms.unwrap_or(base.child_exit_ms),
        }
    }
}
