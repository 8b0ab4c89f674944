//! Grading on the platforms courses use — Gradescope, PrairieLearn, GitHub Classroom.
//!
//! Packages, does not grade: `proclab package PLATFORM` generates what the platform
//! runs; on the platform that runs `proclab autograde PLATFORM`, which grades through
//! `grade-class`'s batch ([`autograde`]) and writes the platform's results file
//! ([`results`]). `grade --format gradescope|prairielearn` keeps the same contract for
//! one run ([`grade`]).

pub mod autograde;
pub mod bundle;
pub mod grade;
pub mod results;
pub mod templates;
