//! The batch's progress on stderr: an indicatif bar (done / total, failures so far, time
//! left) on a terminal; on anything else no bar, only warnings and a final summary line.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicUsize, Ordering};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::batch::BatchSummary;
use super::outcome::{Outcome, Status};

/// Progress reporting for one batch.
#[derive(Debug)]
pub struct Progress {
    bar: ProgressBar,
    failures: AtomicUsize,
    quiet: bool,
}

impl Progress {
    /// A bar on stderr when it is a terminal (and `quiet` is off).
    pub fn stderr(quiet: bool) -> Self {
        let target = if !quiet && std::io::stderr().is_terminal() {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        Progress {
            bar: ProgressBar::with_draw_target(None, target),
            failures: AtomicUsize::new(0),
            quiet,
        }
    }

    /// No output at all (tests, library use).
    pub fn silent() -> Self {
        Progress {
            bar: ProgressBar::hidden(),
            failures: AtomicUsize::new(0),
            quiet: true,
        }
    }

    /// Begin: `total` submissions to grade, `reused` kept from an earlier run.
    pub fn start(&self, total: u64, reused: usize, failures: usize) {
        self.failures.store(failures, Ordering::SeqCst);
        self.bar.set_length(total);
        let style = ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:24.cyan/blue} {pos}/{len} graded · {msg} · ETA {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        self.bar.set_style(style);
        self.bar
            .enable_steady_tick(std::time::Duration::from_millis(200));
        self.set_message();
        if reused > 0 {
            self.line(&format!(
                "{reused} submissions unchanged since the last run, kept"
            ));
        }
    }

    /// One submission finished.
    pub fn done(&self, outcome: &Outcome) {
        if outcome.status.is_not_passing() {
            self.failures.fetch_add(1, Ordering::SeqCst);
            self.set_message();
        }
        if outcome.status == Status::Error {
            let tries = if outcome.attempts > 1 {
                format!(" (tried {} times)", outcome.attempts)
            } else {
                String::new()
            };
            let why = outcome.detail.lines().next().unwrap_or("");
            self.line(&format!(
                "could not grade {} {}{tries}: {why}",
                outcome.student, outcome.exercise
            ));
        }
        self.bar.inc(1);
    }

    fn set_message(&self) {
        let failures = self.failures.load(Ordering::SeqCst);
        self.bar.set_message(format!("{failures} not passing"));
    }

    /// A warning, printed above the bar.
    pub fn warn(&self, text: &str) {
        self.line(&format!("warning: {text}"));
    }

    fn line(&self, text: &str) {
        if self.bar.is_hidden() {
            if !self.quiet {
                eprintln!("{text}");
            }
        } else {
            self.bar.println(text);
        }
    }

    /// The end: clear the bar, print the summary.
    pub fn finish(&self, summary: &BatchSummary) {
        self.bar.finish_and_clear();
        let mut text = format!(
            "{} students, {} submission slots: {}; {} checked now, {} unchanged since the last run",
            summary.students,
            summary.submissions,
            summary.counts.describe(),
            summary.ran,
            summary.reused
        );
        if summary.interrupted > 0 {
            text.push_str(&format!(
                "; stopped, {} not graded (rerun to resume)",
                summary.interrupted
            ));
        }
        if summary.write_errors > 0 {
            text.push_str(&format!(
                "; {} outputs could not be written",
                summary.write_errors
            ));
        }
        if !self.quiet {
            eprintln!("{text}");
        }
    }
}
