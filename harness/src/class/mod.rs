//! Grading a whole class: discovery of students and submissions, a parallel job pool,
//! a resume cache keyed by content, shards, and the gradebook with its reports.
//!
//! Knows nothing of ptrace: each submission is graded by a worker process running the
//! ordinary grader.

pub mod batch;
pub mod build;
pub mod child;
pub mod config;
pub mod counts;
pub mod discover;
pub mod gradebook;
pub mod hash;
pub mod job;
pub mod merge;
pub mod outcome;
pub mod pool;
pub mod progress;
pub mod shard;
pub mod shims;
pub mod spec;
pub mod store;
pub mod worker;
