//! Each exercise's parameters, as an instructor may set them in an exercise file's
//! `[params]` table. Defaults follow the lesson; the built-in files state them in full.

use serde::{Deserialize, Serialize};

/// `start-target`, `start-subclass` and `join-order`: children named after the lesson's
/// four, each printing a start and an end line; the parent prints `主`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StartParams {
    /// One child per name; the count of children is the number of names.
    pub names: Vec<String>,
    /// A child's first line; `{name}` is replaced by its name.
    pub start_line: String,
    /// A child's last line; `{name}` is replaced by its name.
    pub end_line: String,
    /// The parent's line.
    pub parent_line: String,
}

impl Default for StartParams {
    fn default() -> Self {
        StartParams {
            names: ["egon", "alex", "wupeiqi", "yuanhao"]
                .map(String::from)
                .to_vec(),
            start_line: "{name} piaoing".into(),
            end_line: "{name} piao end".into(),
            parent_line: "主".into(),
        }
    }
}

impl StartParams {
    /// The start line of the child called `name`.
    pub fn start_for(&self, name: &str) -> String {
        self.start_line.replace("{name}", name)
    }

    /// The end line of the child called `name`.
    pub fn end_for(&self, name: &str) -> String {
        self.end_line.replace("{name}", name)
    }
}

/// `isolation`: a global starts at `initial`; the child sets it to `child_value`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IsolationParams {
    pub initial: i64,
    pub child_value: i64,
    /// Start of the child's line (the value follows).
    pub child_label: String,
    /// Start of the parent's line (the value follows).
    pub parent_label: String,
}

impl Default for IsolationParams {
    fn default() -> Self {
        IsolationParams {
            initial: 100,
            child_value: 0,
            child_label: "子进程内".into(),
            parent_label: "主进程内".into(),
        }
    }
}

/// `daemon`: one daemon child and one normal child.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DaemonParams {
    /// A child's end line ends with this word (`egon piao end`, `guard end`).
    pub end_word: String,
}

impl Default for DaemonParams {
    fn default() -> Self {
        DaemonParams {
            end_word: "end".into(),
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
