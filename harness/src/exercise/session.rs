//! What the grader's clients saw while a server was traced: the data the server checks
//! read next to the ledger. Produced by [`super::clients`]; plain data, so checks can be
//! unit-tested with hand-made sessions.

use serde::Serialize;

/// The whole client session against one server run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ServerSession {
    /// The address the server listened on, from the trace.
    pub listen: Option<String>,
    /// Why no client could run (the server never listened, exited early, …).
    pub startup_error: Option<String>,
    /// Ledger positions the checks compare against.
    pub marks: Marks,
    /// Clients held connected together to show parallel service (pool-server).
    pub parallel: Option<Wave>,
    /// The waves of clients, in order.
    pub waves: Vec<Wave>,
}

/// Sequence numbers: every event with `seq <= mark` was recorded before the moment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Marks {
    /// Just before the first client connected (the server had settled).
    pub before_clients: u64,
    /// After each wave's clients closed and its serving processes ended (or a timeout).
    pub after_wave: Vec<u64>,
    /// Just before teardown (SIGTERM).
    pub before_teardown: u64,
}

/// One wave of clients.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Wave {
    /// 1-based.
    pub number: u32,
    /// All clients were connected at once and none closed before every one had its
    /// replies or gave up.
    pub held: bool,
    pub clients: Vec<ClientRun>,
}

/// One client connection.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ClientRun {
    /// 1-based within its wave.
    pub client: u32,
    /// The client's own address (the server's peer address for this connection).
    pub local: Option<String>,
    pub connect_error: Option<String>,
    pub exchanges: Vec<Exchange>,
    /// When the client closed the connection, on the run's clock (events' `t_ns`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub closed_ns: Option<u64>,
}

/// One message and what came back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Exchange {
    pub sent: String,
    pub reply: Reply,
}

/// What came back for one message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reply {
    /// The same bytes, upper-cased.
    Correct,
    /// Something else arrived.
    Wrong { got: String },
    /// Nothing (or not all of it) within the reply timeout.
    Timeout { got: String },
    /// The server closed the connection first.
    Closed { got: String },
    /// A socket error.
    Error { error: String },
}

impl Reply {
    /// Did any reply arrive (right or wrong)?
    pub fn answered(&self) -> bool {
        matches!(self, Reply::Correct | Reply::Wrong { .. })
    }
}

impl ClientRun {
    /// Was every message answered (right or wrong)?
    pub fn all_answered(&self) -> bool {
        self.connect_error.is_none()
            && !self.exchanges.is_empty()
            && self.exchanges.iter().all(|e| e.reply.answered())
    }

    /// Was every message answered correctly?
    pub fn all_correct(&self) -> bool {
        self.connect_error.is_none()
            && !self.exchanges.is_empty()
            && self.exchanges.iter().all(|e| e.reply == Reply::Correct)
    }

    /// Why it was not (fully) answered, for messages.
    pub fn problem(&self) -> Option<String> {
        if let Some(error) = &self.connect_error {
            return Some(format!("could not connect: {error}"));
        }
        self.exchanges.iter().find_map(|e| match &e.reply {
            Reply::Correct => None,
            Reply::Wrong { got } => Some(format!("sent `{}`, got `{got}`", e.sent)),
            Reply::Timeout { got } if got.is_empty() => {
                Some(format!("sent `{}`, got no reply in time", e.sent))
            }
            Reply::Timeout { got } => Some(format!("sent `{}`, got only `{got}` in time", e.sent)),
            Reply::Closed { got } => Some(format!(
                "sent `{}`, the server closed the connection (after `{got}`)",
                e.sent
            )),
            Reply::Error { error } => Some(format!("sent `{}`: {error}", e.sent)),
        })
    }
}

/// How messages name a client: `wave 2 client 3`, or `parallel client 1` for the
/// held pair of the pool server (wave 0).
pub fn client_label(wave: u32, client: u32) -> String {
    if wave == 0 {
        format!("parallel client {client}")
    } else {
        format!("wave {wave} client {client}")
    }
}

impl ServerSession {
    /// Every client of every phase.
    pub fn all_clients(&self) -> impl Iterator<Item = (&Wave, &ClientRun)> {
        self.parallel
            .iter()
            .chain(self.waves.iter())
            .flat_map(|w| w.clients.iter().map(move |c| (w, c)))
    }
}
