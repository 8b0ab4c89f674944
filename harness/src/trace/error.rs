//! Why a run could not be traced.

use std::io;
use std::path::PathBuf;

/// A failure of the tracer itself (never of the traced program: a program that crashes
/// or hits a limit still gives a [`crate::ledger::Ledger`]).
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    #[error("no command given")]
    EmptyCommand,
    #[error("command not found: {0}")]
    CommandNotFound(String),
    #[error("not executable: {path}: {reason}")]
    NotExecutable { path: PathBuf, reason: String },
    #[error("unknown user: {0}")]
    UnknownUser(String),
    #[error("{path} is out of reach of user {user}: {reason}")]
    OutOfReach {
        path: PathBuf,
        user: String,
        reason: String,
    },
    /// Setting up containment or the child failed before the command ran.
    #[error("cannot set up the run ({stage}): {source}")]
    Setup {
        stage: &'static str,
        #[source]
        source: io::Error,
    },
    /// The child failed between fork and exec.
    #[error("cannot start {command}: {stage}: {errno}")]
    Start {
        command: String,
        stage: &'static str,
        errno: nix::errno::Errno,
    },
    /// A ptrace request that must not fail did.
    #[error("ptrace failed ({what}): {errno}")]
    Ptrace {
        what: &'static str,
        errno: nix::errno::Errno,
    },
    #[error("the tracer thread panicked")]
    TracerPanicked,
}

impl TraceError {
    /// The command line was wrong (missing or non-executable command, unknown user):
    /// the CLI exits with status 2 for these.
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            TraceError::EmptyCommand
                | TraceError::CommandNotFound(_)
                | TraceError::NotExecutable { .. }
                | TraceError::UnknownUser(_)
                | TraceError::OutOfReach { .. }
        ) || matches!(self, TraceError::Start { errno, .. }
            if matches!(errno, nix::errno::Errno::ENOENT | nix::errno::Errno::EACCES
                | nix::errno::Errno::ENOEXEC))
    }

    pub(crate) fn setup(stage: &'static str) -> impl FnOnce(io::Error) -> TraceError {
        move |source| TraceError::Setup { stage, source }
    }
}
