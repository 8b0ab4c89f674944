//! The sentinel: a file descriptor that becomes readable when the child ends (Python:
//! `p.sentinel`), and [`wait`] for several of them (Python: `multiprocessing.connection.wait`).
//!
//! The sentinel is a pidfd, opened on first use. For a direct child (fork, spawn) that is
//! safe while the child is not reaped (its pid cannot be reused); a forkserver child is
//! reaped by the zygote, so its pidfd is opened only if the zygote's status has not arrived
//! (the same window as `terminate`'s, see the crate's caveats). Once the child has ended
//! and no pidfd was opened, the sentinel is an eventfd that is always readable.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::eventfd::{EfdFlags, EventFd};

use crate::error::{Context, Error, Result};
use crate::process::{Process, kind::Kind};
use crate::sys;

impl<K: Kind> Process<K> {
    /// The pidfd of a direct, unreaped child (opened on first use), if the kernel has them.
    pub(crate) fn pidfd(&self) -> Option<BorrowedFd<'_>> {
        if let Some(fd) = self.sentinel.get() {
            return Some(fd.as_fd());
        }
        if self.exitcode.is_some() || self.generation != crate::child::generation() {
            return None;
        }
        let fd = sys::pidfd_open(self.pid?)?;
        Some(self.sentinel.get_or_init(|| fd).as_fd())
    }

    /// A file descriptor that becomes readable when the child ends, and stays readable
    /// (Python: `p.sentinel`). Poll it with others, or pass processes to [`wait`].
    ///
    /// Errors: before `start` ("can only wait for a started process"), after `close`, or
    /// on a kernel without pidfds (Linux < 5.3).
    ///
    /// ```
    /// use multiprocessing::Process;
    /// use std::time::Duration;
    /// # fn main() -> Result<(), multiprocessing::Error> {
    /// let _guard = multiprocessing::init();
    /// let mut p = Process::with_args(std::thread::sleep, Duration::from_millis(100));
    /// assert!(p.sentinel().is_err()); // not started
    /// p.start()?;
    /// let ready = multiprocessing::wait(&[&p], Some(Duration::ZERO))?;
    /// assert!(ready.is_empty()); // still running
    /// p.join()?;
    /// assert_eq!(multiprocessing::wait(&[&p], Some(Duration::ZERO))?.len(), 1);
    /// # Ok(()) }
    /// ```
    pub fn sentinel(&self) -> Result<BorrowedFd<'_>> {
        if self.closed {
            return Err(Error::Closed);
        }
        if self.pid.is_none() {
            return Err(Error::NotStarted { action: "wait for" });
        }
        if self.sentinel.get().is_none() {
            let ended = self.exitcode.is_some()
                || self.generation != crate::child::generation()
                || (self.relayed && self.inbox.as_ref().is_some_and(|i| i.status().is_some()));
            let fd = match ended {
                true => None,
                false => self.pidfd().map(|_| ()),
            };
            if fd.is_none() {
                if !ended && !self.relayed {
                    return Err(Error::Sys {
                        call: "pidfd_open",
                        errno: Errno::ENOSYS,
                    });
                }
                // Ended (or a forkserver child already reaped by the zygote): always ready.
                let ready =
                    EventFd::from_value_and_flags(1, EfdFlags::EFD_CLOEXEC).ctx("eventfd")?;
                let _ = self.sentinel.set(sys::above_stdio(OwnedFd::from(ready)));
            }
        }
        match self.sentinel.get() {
            Some(fd) => Ok(fd.as_fd()),
            None => Err(Error::Sys {
                call: "pidfd_open",
                errno: Errno::ENOSYS,
            }),
        }
    }
}

/// The sentinel, so that a process can be polled like any file descriptor.
///
/// # Panics
///
/// When [`Process::sentinel`] fails: before `start`, after `close` (Python raises
/// `ValueError` there too), or without pidfd support.
impl<K: Kind> AsFd for Process<K> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self.sentinel() {
            Ok(fd) => fd,
            Err(e) => panic!("no sentinel for process {}: {e}", self.name),
        }
    }
}

/// Waits until at least one of `objects` is ready, or `timeout` passed (`None`: no limit);
/// returns the ready ones, in their order (Python: `multiprocessing.connection.wait`).
/// A [`Process`] is ready when it has ended; any other file descriptor (a pipe, a socket)
/// when it is readable or closed by its peer. Mix them with `&dyn AsFd`.
///
/// The lesson's "whichever child ends first":
///
/// ```
/// use multiprocessing::Process;
/// use std::time::Duration;
/// # fn main() -> Result<(), multiprocessing::Error> {
/// let _guard = multiprocessing::init();
/// let mut slow = Process::with_args(std::thread::sleep, Duration::from_secs(5));
/// let mut fast = Process::with_args(std::thread::sleep, Duration::from_millis(10));
/// slow.start()?;
/// fast.start()?;
/// let ended = multiprocessing::wait(&[&slow, &fast], None)?;
/// assert!(ended.len() == 1 && std::ptr::eq(ended[0], &fast));
/// slow.terminate()?;
/// # Ok(()) }
/// ```
///
/// # Panics
///
/// As [`AsFd`] for a process that has no sentinel (not started, or closed).
pub fn wait<'a, T: AsFd + ?Sized>(
    objects: &[&'a T],
    timeout: Option<Duration>,
) -> Result<Vec<&'a T>> {
    let deadline = timeout.map(|t| Instant::now() + t);
    loop {
        let mut fds: Vec<PollFd<'_>> = objects
            .iter()
            .map(|o| PollFd::new(o.as_fd(), PollFlags::POLLIN))
            .collect();
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        let ms = match left {
            None => PollTimeout::NONE,
            // Round up, so a sub-millisecond remainder does not spin.
            Some(left) => {
                PollTimeout::try_from(left.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32)
                    .unwrap_or(PollTimeout::MAX)
            }
        };
        match poll(&mut fds, ms) {
            Err(Errno::EINTR) => {}
            Err(errno) => {
                return Err(Error::Sys {
                    call: "poll",
                    errno,
                });
            }
            Ok(_) => {
                let ready: Vec<&'a T> = objects
                    .iter()
                    .zip(&fds)
                    .filter(|(_, fd)| fd.revents().is_some_and(|r| !r.is_empty()))
                    .map(|(o, _)| *o)
                    .collect();
                if !ready.is_empty() {
                    return Ok(ready);
                }
            }
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Ok(Vec::new());
        }
    }
}
