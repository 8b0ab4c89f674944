//! CPU load for the tests that must hold "with both cores loaded".

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};

/// One busy-looping process per core, killed by pid when dropped.
///
/// Each hog runs in a session of its own, as the load on an instructor's machine does
/// (another program, another terminal). With the kernel's autogroups
/// (`/proc/sys/kernel/sched_autogroup_enabled`, on by default), hogs in the grader's own
/// session share its scheduling group with the tracer thread, and on this machine's
/// kernel (6.18, EEVDF) a run's process pinned to a hog's CPU then starved for seconds
/// while the tracer ticked every millisecond (virtual clock): measured 5 stalls of
/// 1.4-4.9 s in 25 runs, none with the hogs in sessions of their own or autogroups off.
pub struct Hogs(Vec<Child>);

impl Hogs {
    pub fn start() -> Hogs {
        Self::spawn(true)
    }

    /// Hogs in the caller's own session (so in the grader's scheduling group), as a
    /// test runner's other tests are: the harshest load for the tracer thread.
    pub fn start_in_this_session() -> Hogs {
        Self::spawn(false)
    }

    fn spawn(own_session: bool) -> Hogs {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Hogs(
            (0..cores)
                .map(|_| {
                    let mut cmd = Command::new("sh");
                    cmd.args(["-c", "while :; do :; done"])
                        .stdin(Stdio::null())
                        .stdout(Stdio::null());
                    if own_session {
                        // SAFETY: setsid(2) is async-signal-safe; nothing else runs here.
                        unsafe {
                            cmd.pre_exec(|| nix::unistd::setsid().map(drop).map_err(Into::into));
                        }
                    }
                    cmd.spawn().expect("a CPU hog")
                })
                .collect(),
        )
    }
}

impl Drop for Hogs {
    fn drop(&mut self) {
        for hog in &mut self.0 {
            let _ = hog.kill();
            let _ = hog.wait();
        }
    }
}
