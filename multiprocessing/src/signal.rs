//! Signalling a child: `terminate`, `kill`, `interrupt`, `send_signal`.

use nix::errno::Errno;
use nix::sys::signal::{Signal, kill};

use crate::error::{Error, Result};
use crate::process::{Process, kind::Kind};

impl<K: Kind> Process<K> {
    /// Sends `signal` to the running child; a no-op once it has ended.
    ///
    /// ```
    /// use multiprocessing::{Process, Signal};
    /// # fn main() -> Result<(), multiprocessing::Error> {
    /// let _guard = multiprocessing::init();
    /// let mut p = Process::with_args(std::thread::sleep, std::time::Duration::from_secs(30));
    /// p.start()?;
    /// p.send_signal(Signal::SIGUSR1)?;
    /// assert_eq!(p.join()?, -10);
    /// # Ok(()) }
    /// ```
    pub fn send_signal(&mut self, signal: Signal) -> Result<()> {
        self.signal_as(signal, "signal")
    }

    fn signal_as(&mut self, signal: Signal, action: &'static str) -> Result<()> {
        if self.closed {
            return Err(Error::Closed);
        }
        let pid = self.pid.ok_or(Error::NotStarted { action })?;
        // Not yet reaped means the pid is still ours (a zombie at worst), never reused.
        if self.exitcode.is_some() {
            return Ok(());
        }
        match kill(pid, signal) {
            Ok(()) | Err(Errno::ESRCH) => Ok(()),
            Err(errno) => Err(Error::Sys {
                call: "kill",
                errno,
            }),
        }
    }

    /// Sends SIGTERM (Python: `p.terminate()`); the child, unless it handles SIGTERM, dies
    /// without any cleanup and `exitcode` becomes `-15`. Returns at once: `join` to wait.
    ///
    /// The lesson: `p.terminate()`, then `p.is_alive()` may still say `True` — the signal
    /// was sent, the child has not died yet.
    ///
    /// ```
    /// use multiprocessing::Process;
    /// use std::time::Duration;
    /// # fn main() -> Result<(), multiprocessing::Error> {
    /// let _guard = multiprocessing::init();
    /// let mut p = Process::with_args(std::thread::sleep, Duration::from_secs(30));
    /// p.start()?;
    /// p.terminate()?;
    /// println!("{}", p.is_alive()); // usually true
    /// p.join()?;
    /// assert!(!p.is_alive());
    /// assert_eq!(p.exitcode(), Some(-15));
    /// # Ok(()) }
    /// ```
    pub fn terminate(&mut self) -> Result<()> {
        self.signal_as(Signal::SIGTERM, "terminate")
    }

    /// Sends SIGKILL (Python: `p.kill()`); `exitcode` becomes `-9`.
    ///
    /// ```
    /// # use multiprocessing::Process;
    /// # fn main() -> Result<(), multiprocessing::Error> {
    /// # let _guard = multiprocessing::init();
    /// let mut p = Process::with_args(std::thread::sleep, std::time::Duration::from_secs(30));
    /// p.start()?;
    /// p.kill()?;
    /// assert_eq!(p.join()?, -9);
    /// # Ok(()) }
    /// ```
    pub fn kill(&mut self) -> Result<()> {
        self.signal_as(Signal::SIGKILL, "kill")
    }

    /// Sends SIGINT (Python 3.14: `p.interrupt()`); `exitcode` becomes `-2` unless handled.
    ///
    /// ```
    /// # use multiprocessing::Process;
    /// # fn main() -> Result<(), multiprocessing::Error> {
    /// # let _guard = multiprocessing::init();
    /// let mut p = Process::with_args(std::thread::sleep, std::time::Duration::from_secs(30));
    /// p.start()?;
    /// p.interrupt()?;
    /// assert_eq!(p.join()?, -2);
    /// # Ok(()) }
    /// ```
    pub fn interrupt(&mut self) -> Result<()> {
        self.signal_as(Signal::SIGINT, "interrupt")
    }
}
