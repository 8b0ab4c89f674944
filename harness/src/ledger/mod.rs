//! The ledger: what a traced run did, as data. Pure functions over a finished ledger;
//! knows nothing of ptrace or of exercises.

pub mod builder;
pub mod event;
pub mod net;
pub mod output;
pub mod roles;
pub mod tree;

pub use event::*;
pub use output::{Line, lines};
pub use tree::{ExecRecord, Moment, ProcId, Process, ProcessTree, Role};

#[cfg(test)]
mod tests;
