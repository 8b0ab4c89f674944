//! The eight exercises by id, and the check ids each one runs.

use serde::Serialize;

/// One of the built-in exercises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExerciseId {
    StartTarget,
    StartSubclass,
    Isolation,
    JoinOrder,
    Daemon,
    Terminate,
    SocketServer,
    PoolServer,
}

/// The common check every exercise runs: no containment limit fired.
pub const LIMITS: &str = "limits";

impl ExerciseId {
    /// Every exercise, in the lesson's order.
    pub const ALL: [ExerciseId; 8] = [
        ExerciseId::StartTarget,
        ExerciseId::StartSubclass,
        ExerciseId::Isolation,
        ExerciseId::JoinOrder,
        ExerciseId::Daemon,
        ExerciseId::Terminate,
        ExerciseId::SocketServer,
        ExerciseId::PoolServer,
    ];

    /// The id as written on the command line and in exercise files.
    pub fn as_str(self) -> &'static str {
        match self {
            ExerciseId::StartTarget => "start-target",
            ExerciseId::StartSubclass => "start-subclass",
            ExerciseId::Isolation => "isolation",
            ExerciseId::JoinOrder => "join-order",
            ExerciseId::Daemon => "daemon",
            ExerciseId::Terminate => "terminate",
            ExerciseId::SocketServer => "socket-server",
            ExerciseId::PoolServer => "pool-server",
        }
    }

    /// Parse an id; `None` when it names no exercise.
    pub fn parse(id: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.as_str() == id)
    }

    /// Does grading it need the grader to act as the server's clients?
    pub fn is_server(self) -> bool {
        matches!(self, ExerciseId::SocketServer | ExerciseId::PoolServer)
    }

    /// The exercise's check ids in report order, `limits` last.
    pub fn check_ids(self) -> &'static [&'static str] {
        match self {
            ExerciseId::StartTarget | ExerciseId::StartSubclass => &[
                "child-count",
                "child-lines",
                "parent-line",
                "concurrent",
                "start-nonblocking",
                "exit-codes",
                "no-leftovers",
                LIMITS,
            ],
            ExerciseId::Isolation => &[
                "child-count",
                "child-value",
                "parent-value",
                "exit-codes",
                LIMITS,
            ],
            ExerciseId::JoinOrder => &[
                "child-count",
                "child-lines",
                "concurrent",
                "main-after-children",
                "exit-codes",
                LIMITS,
            ],
            ExerciseId::Daemon => &[
                "child-count",
                "daemon-ended",
                "daemon-no-end-line",
                "normal-completes",
                "no-leftovers",
                LIMITS,
            ],
            ExerciseId::Terminate => &[
                "child-count",
                "sigterm-sent",
                "child-died-sigterm",
                "exitcode-printed",
                "child-reaped",
                LIMITS,
            ],
            ExerciseId::SocketServer => &[
                "answers",
                "concurrent-clients",
                "process-per-client",
                "second-wave",
                "zombies-bounded",
                "children-exit",
                "teardown",
                LIMITS,
            ],
            ExerciseId::PoolServer => &[
                "answers",
                "no-spawn-while-serving",
                "parallel-workers",
                "teardown",
                LIMITS,
            ],
        }
    }
}

impl std::fmt::Display for ExerciseId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
