//! proclab: trace a submission's process tree and grade what its processes really did.
//!
//! Data flows one way: [`trace`] runs a command under ptrace and records a [`ledger`];
//! `exercise` checks read the ledger; `report` renders verdicts.

pub mod cannot_grade;
pub mod class;
pub mod cli_class;
pub mod cli_grade;
pub mod cli_platform;
pub mod cli_trace;
pub mod exercise;
pub mod grade;
pub mod interrupts;
pub mod ledger;
pub mod platform;
pub mod report;
pub mod trace;
