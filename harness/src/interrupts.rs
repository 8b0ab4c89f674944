//! Ctrl-C and SIGTERM for the commands that run a submission (`trace`, `grade`, a
//! `grade-class` worker): the run is ended cleanly (every process killed and reaped, its
//! cgroups removed) and the command exits 130.
//!
//! The handler is installed before the submission is started, not once it runs: a
//! signal that arrived while the run was being set up used to kill the grader with the
//! default action, before it could stop anything (a worker stopped mid-start left the
//! pid namespace's helpers behind). Such a signal is remembered, and the run is stopped
//! as soon as its [`StopHandle`] is connected.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use crate::trace::StopHandle;

/// The process's SIGINT/SIGTERM handling while it runs one submission.
#[derive(Debug, Clone, Default)]
pub struct Interrupts {
    raised: Arc<AtomicBool>,
    run: Arc<Mutex<Option<StopHandle>>>,
}

impl Interrupts {
    /// Catch SIGINT and SIGTERM from now on. If the handler cannot be installed the
    /// signals keep their default action (the process dies, as it did before).
    pub fn install() -> Self {
        let interrupts = Self::default();
        if let Ok(mut signals) = Signals::new([SIGINT, SIGTERM]) {
            let handler = interrupts.clone();
            std::thread::spawn(move || {
                if signals.forever().next().is_some() {
                    handler.raised.store(true, Ordering::SeqCst);
                    if let Some(run) = lock(&handler.run).as_ref() {
                        run.interrupt();
                    }
                }
            });
        }
        interrupts
    }

    /// The run to stop on a signal; stopped at once if one came already.
    pub fn connect(&self, run: StopHandle) {
        let mut slot = lock(&self.run);
        // Checked under the lock the handler takes after raising the flag: a signal is
        // either seen here or finds the run in the slot.
        if self.raised.load(Ordering::SeqCst) {
            run.interrupt();
        }
        *slot = Some(run);
    }

    /// Whether SIGINT or SIGTERM arrived.
    pub fn raised(&self) -> bool {
        self.raised.load(Ordering::SeqCst)
    }
}

fn lock(run: &Mutex<Option<StopHandle>>) -> std::sync::MutexGuard<'_, Option<StopHandle>> {
    run.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
