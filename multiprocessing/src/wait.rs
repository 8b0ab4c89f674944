//! Waiting for a child: `join`, `join_timeout`, `is_alive`, `exitcode`.
//!
//! A direct child (fork, spawn, forkserver) is waited for with `waitpid`; `join` first
//! reads the child's final frame (so a large return value never blocks the child on a full
//! pipe), then reaps. `join_timeout` polls a pidfd and the channel together. A relayed
//! forkserver child's exit status (a zygote's own child, see `start_method::forkserver`)
//! arrives on its channel from the zygote.

use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use std::os::fd::AsFd;

use crate::error::{Error, Result};
use crate::process::{Process, kind::Kind, wait_error};
use crate::{children, sys};

/// The exit code of a forkserver child whose zygote died before reporting it (Python's
/// forkserver says 255 too): the child has ended (its channel is closed), how is unknown.
const LOST: i32 = 255;

impl<K: Kind> Process<K> {
    fn finished(&mut self, code: i32) -> i32 {
        self.exitcode = Some(code);
        children::unregister(self.key);
        if let Some(inbox) = &mut self.inbox {
            inbox.reaped();
            inbox.close();
        }
        code
    }

    /// `active_children()` reaped the child: everything it wrote is in the channel.
    fn reaped_for_us(&mut self, code: i32) -> i32 {
        if let Some(inbox) = &mut self.inbox {
            inbox.drain();
            inbox.take_final();
        }
        self.finished(code)
    }

    fn started_pid(&self, action: &'static str) -> Result<nix::unistd::Pid> {
        if self.closed {
            return Err(Error::Closed);
        }
        let pid = self.pid.ok_or(Error::NotStarted { action })?;
        if self.generation != crate::child::generation() {
            return Err(Error::NotAChild);
        }
        Ok(pid)
    }

    /// Waits until the child ends and returns its exit code (Python: `p.join()`); `-N`
    /// if a signal N killed it. Joining again returns the same code.
    ///
    /// Errors: "can only join a started process" before `start`; "can only join a child
    /// process" when the object was inherited from a parent; closed.
    ///
    /// The lesson's `p.join()`: the parent waits, the child runs.
    ///
    /// ```
    /// use multiprocessing::{Error, Process};
    ///
    /// fn work(code: i32) {
    ///     multiprocessing::exit(code)
    /// }
    ///
    /// # fn main() -> Result<(), multiprocessing::Error> {
    /// let _guard = multiprocessing::init();
    /// let mut p = Process::with_args(work, 4);
    /// assert!(matches!(p.join(), Err(Error::NotStarted { .. }))); // "can only join a started process"
    /// p.start()?;
    /// assert_eq!(p.join()?, 4);
    /// assert_eq!(p.join()?, 4);
    /// # Ok(()) }
    /// ```
    pub fn join(&mut self) -> Result<i32> {
        let pid = self.started_pid("join")?;
        if let Some(code) = self.exitcode {
            return Ok(code);
        }
        if self.relayed {
            let status = self.inbox.as_mut().and_then(|i| i.wait_status());
            return Ok(self.finished(status.unwrap_or(LOST)));
        }
        // A bounded frame never waits for us: reap first, then take the frame (one wake-up).
        // Otherwise read first, so a large value never blocks the child on a full pipe.
        if !self.bounded
            && let Some(inbox) = &mut self.inbox
        {
            inbox.wait_final();
        }
        loop {
            if let Some(code) = children::claim(self.key) {
                return Ok(self.reaped_for_us(code));
            }
            match waitpid(pid, None) {
                Err(Errno::EINTR) => {}
                Err(Errno::ECHILD) if children::claim_pending(self.key) => {}
                Err(errno) => return Err(wait_error(errno)),
                Ok(status) => {
                    if let Some(code) = sys::exitcode_of(status) {
                        if self.bounded
                            && let Some(inbox) = &mut self.inbox
                        {
                            inbox.take_final(); // the child is gone: its frame is in the pipe
                        }
                        return Ok(self.finished(code));
                    }
                }
            }
        }
    }

    /// Waits at most `timeout` (Python: `p.join(timeout)`); returns the exit code if the
    /// child ended in time, `None` otherwise. It never signals the child.
    ///
    /// ```
    /// use multiprocessing::Process;
    /// use std::time::Duration;
    /// # fn main() -> Result<(), multiprocessing::Error> {
    /// let _guard = multiprocessing::init();
    /// let mut p = Process::with_args(std::thread::sleep, Duration::from_millis(300));
    /// p.start()?;
    /// assert_eq!(p.join_timeout(Duration::from_millis(10))?, None); // still running
    /// assert!(p.is_alive());
    /// assert_eq!(p.join_timeout(Duration::from_secs(10))?, Some(0));
    /// # Ok(()) }
    /// ```
    pub fn join_timeout(&mut self, timeout: Duration) -> Result<Option<i32>> {
        self.started_pid("join")?;
        let deadline = Instant::now() + timeout;
        loop {
            if !self.is_alive_checked()? {
                return Ok(self.exitcode);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            self.wait_event(left);
        }
    }

    /// Blocks until the child may have changed state or `left` passed, reading whatever
    /// the channel delivers meanwhile.
    fn wait_event(&mut self, left: Duration) {
        // Round up, so a sub-millisecond remainder does not become a busy loop.
        let ms = left.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32;
        let timeout = PollTimeout::try_from(ms).unwrap_or(PollTimeout::NONE);
        // A direct child's death is signalled by its pidfd; a forkserver child's by the
        // zygote's status frame on the channel.
        let pidfd = match self.relayed {
            true => None,
            false => self.pidfd(),
        };
        // Without a pidfd (kernel < 5.3) nothing signals a direct child's death: poll in
        // short slices and let `waitpid(WNOHANG)` tell.
        let slice = if pidfd.is_none() && !self.relayed {
            PollTimeout::try_from(ms.min(10)).unwrap_or(timeout)
        } else {
            timeout
        };
        let inbox_fd = self.inbox.as_ref().and_then(|i| i.fd()).map(|f| f.as_fd());
        let pid_fd = pidfd;
        let polled = match (pid_fd, inbox_fd) {
            (Some(a), Some(b)) => poll(
                &mut [
                    PollFd::new(a, PollFlags::POLLIN),
                    PollFd::new(b, PollFlags::POLLIN),
                ],
                slice,
            ),
            (Some(a), None) | (None, Some(a)) => {
                poll(&mut [PollFd::new(a, PollFlags::POLLIN)], slice)
            }
            (None, None) => {
                std::thread::sleep(left.min(Duration::from_millis(10)));
                Ok(0)
            }
        };
        let _ = polled;
        if let Some(inbox) = &mut self.inbox {
            inbox.pump(false);
        }
    }

    /// Python: `p.is_alive()`; false before `start`, after the child ended, and after
    /// `close`. Reaps the child when it has ended.
    ///
    /// ```
    /// # use multiprocessing::Process;
    /// # fn main() -> Result<(), multiprocessing::Error> {
    /// # let _guard = multiprocessing::init();
    /// let mut p = Process::with_args(std::thread::sleep, std::time::Duration::from_millis(100));
    /// assert!(!p.is_alive());
    /// p.start()?;
    /// assert!(p.is_alive());
    /// p.join()?;
    /// assert!(!p.is_alive());
    /// # Ok(()) }
    /// ```
    pub fn is_alive(&mut self) -> bool {
        self.is_alive_checked().unwrap_or(false)
    }

    fn is_alive_checked(&mut self) -> Result<bool> {
        if self.closed || self.pid.is_none() || self.exitcode.is_some() {
            return Ok(false);
        }
        if self.generation != crate::child::generation() {
            return Ok(false); // inherited from an ancestor: its channel is not ours to read
        }
        let pid = self.started_pid("join")?;
        if self.relayed {
            let Some(inbox) = &mut self.inbox else {
                return Ok(false);
            };
            inbox.drain();
            if inbox.status().is_none()
                && !inbox.at_eof()
                && let Some(fd) = self.sentinel.get()
                && sys::readable(fd, 0).unwrap_or(false)
            {
                // The child is gone (its pidfd says so): the zygote's status is on its way.
                // Wait for it, so that a ready sentinel always means `is_alive() == false`.
                let _ = inbox.wait_status();
            }
            return match inbox.status() {
                Some(code) => {
                    self.finished(code);
                    Ok(false)
                }
                None if inbox.at_eof() => {
                    self.finished(LOST);
                    Ok(false)
                }
                None => Ok(true),
            };
        }
        loop {
            if let Some(code) = children::claim(self.key) {
                self.reaped_for_us(code);
                return Ok(false);
            }
            match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
                Err(Errno::EINTR) => {}
                Err(Errno::ECHILD) if children::claim_pending(self.key) => {}
                Err(errno) => return Err(wait_error(errno)),
                Ok(WaitStatus::StillAlive) => return Ok(true),
                Ok(status) => {
                    if let Some(code) = sys::exitcode_of(status) {
                        // Dead, so everything it wrote is already in the channel.
                        if let Some(inbox) = &mut self.inbox {
                            inbox.drain();
                        }
                        self.finished(code);
                        return Ok(false);
                    }
                }
            }
        }
    }

    /// Python: `p.exitcode`; `None` while the child runs (or before `start`), the exit
    /// code once it ended, `-N` if signal N killed it.
    ///
    /// ```
    /// # use multiprocessing::Process;
    /// # fn main() -> Result<(), multiprocessing::Error> {
    /// # let _guard = multiprocessing::init();
    /// let mut p = Process::with_args(std::thread::sleep, std::time::Duration::from_secs(30));
    /// assert_eq!(p.exitcode(), None);
    /// p.start()?;
    /// assert_eq!(p.exitcode(), None);
    /// p.terminate()?;
    /// p.join()?;
    /// assert_eq!(p.exitcode(), Some(-15));
    /// # Ok(()) }
    /// ```
    pub fn exitcode(&mut self) -> Option<i32> {
        if self.exitcode.is_none() {
            self.is_alive();
        }
        self.exitcode
    }
}
