//! The ledger: what a traced run did, as data. Pure functions over a finished ledger;
//! knows nothing of ptrace or of exercises.

pub mod event;

pub use event::*;
