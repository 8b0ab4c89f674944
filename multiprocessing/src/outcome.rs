//! After the child: `close`, its panic report and its return value.

use serde::de::DeserializeOwned;

use crate::error::{Error, Result};
use crate::process::{Process, kind::Kind};
use crate::report::{self, Inbox, PanicReport};

impl<K: Kind> Process<K> {
    /// Releases the process's resources (Python: `p.close()`). Refused while the child
    /// runs; afterwards every other use returns [`Error::Closed`].
    ///
    /// ```
    /// use multiprocessing::{Error, Process};
    /// # fn main() -> Result<(), multiprocessing::Error> {
    /// let _guard = multiprocessing::init();
    /// let mut p = Process::with_args(std::thread::sleep, std::time::Duration::from_millis(200));
    /// p.start()?;
    /// assert!(matches!(p.close(), Err(Error::CloseRunning)));
    /// p.join()?;
    /// p.close()?;
    /// assert!(matches!(p.join(), Err(Error::Closed)));
    /// # Ok(()) }
    /// ```
    pub fn close(&mut self) -> Result<()> {
        if self.closed {
            return Ok(());
        }
        if self.started && self.exitcode.is_none() && self.is_alive() {
            return Err(Error::CloseRunning);
        }
        self.closed = true;
        self.body = None;
        self.inbox = None;
        self.sentinel = std::cell::OnceCell::new();
        Ok(())
    }

    /// The panic that ended the child, if it panicked (its exit code is then 1, like an
    /// uncaught exception in Python, but this tells the two apart).
    ///
    /// ```
    /// use multiprocessing::Process;
    ///
    /// fn boom(_: ()) {
    ///     panic!("boom");
    /// }
    ///
    /// # fn main() -> Result<(), multiprocessing::Error> {
    /// let _guard = multiprocessing::init();
    /// let mut p = Process::with_args(boom, ());
    /// p.start()?;
    /// assert_eq!(p.join()?, 1);
    /// let report = p.panic_report().expect("it panicked");
    /// assert_eq!(report.message, "boom");
    /// assert!(report.location.is_some_and(|at| at.contains(".rs:")));
    /// # Ok(()) }
    /// ```
    pub fn panic_report(&self) -> Option<PanicReport> {
        let (tag, data) = self.inbox.as_ref()?.outcome()?;
        (tag == report::PANICKED)
            .then(|| serde_json::from_slice(data).ok())
            .flatten()
    }

    /// The target's return value, once the child has been joined. A target of `()` sends
    /// no value (a fork child then touches no shared page to report): its exit code 0 is
    /// its result.
    ///
    /// ```
    /// use multiprocessing::Process;
    /// # fn main() -> Result<(), multiprocessing::Error> {
    /// let _guard = multiprocessing::init();
    /// let mut p = Process::with_args(|n: u64| n * n, 12);
    /// p.start()?;
    /// p.join()?;
    /// assert_eq!(p.result::<u64>()?, 144);
    /// # Ok(()) }
    /// ```
    pub fn result<T: DeserializeOwned>(&self) -> Result<T> {
        if self.closed {
            return Err(Error::Closed);
        }
        let exitcode = self.exitcode.ok_or(Error::NotFinished)?;
        let outcome = match self.inbox.as_ref().and_then(Inbox::outcome) {
            // A target of `()` that returns sends no frame: exit code 0 is its result.
            None if self.unit_result && exitcode == 0 => Some((report::RETURNED, &[][..])),
            other => other,
        };
        match outcome {
            Some((report::RETURNED, data)) => {
                let data = if data.is_empty() { &b"null"[..] } else { data };
                serde_json::from_slice(data).map_err(|e| Error::Decode(e.to_string()))
            }
            Some((report::PANICKED, _)) => match self.panic_report() {
                Some(p) => Err(Error::Panicked(p)),
                None => Err(Error::Child("undecodable panic report".into())),
            },
            Some((report::FAILED, why)) => Err(Error::Child(String::from_utf8_lossy(why).into())),
            _ => Err(Error::NoResult { exitcode }),
        }
    }
}
