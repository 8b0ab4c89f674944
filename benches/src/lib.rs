//! Shared helpers for the proclab benchmarks: where the peers and results live, the
//! servers under test, the load generator's core, `/proc` sampling and statistics.
//!
//! The benches themselves live in `benches/benches/*.rs` (criterion, `harness = false`);
//! the peer programs they compare against are the binaries of this package and the Python
//! scripts under `benches/peers/`.

pub mod echo;
pub mod env;
pub mod load;
pub mod paired;
pub mod peers;
pub mod procstat;
pub mod report;
pub mod results;
pub mod runs;
pub mod safety;
pub mod server;
pub mod stats;
pub mod svg;
pub mod tables;
pub mod whole;
