//! The child→parent channel: a pipe or socket carrying frames (`tag`, `u32` length, bytes).
//!
//! The child writes one final frame (returned value, panic, `exit()` call, or failure) just
//! before `_exit`, except a target of `()` that returns: its exit code 0 says it. Under the
//! forkserver the zygote appends a `STATUS` frame (the child is its child, not ours, so it
//! reports the wait status). The parent reads into a small inline
//! buffer, so a unit-returning child costs no allocation.

use std::os::fd::{AsFd, OwnedFd};

pub(crate) use crate::error::PanicReport;
use crate::slots::{self, Slot};
use crate::sys;

pub(crate) const RETURNED: u8 = 1;
pub(crate) const PANICKED: u8 = 2;
pub(crate) const EXITED: u8 = 3;
pub(crate) const STATUS: u8 = 4;
pub(crate) const FAILED: u8 = 5;

pub(crate) const HEADER: usize = 5;
const INLINE: usize = 48;

/// The header of a frame of `len` bytes (sent with the bytes in one vectored write).
#[inline]
pub(crate) fn header(tag: u8, len: usize) -> [u8; HEADER] {
    let mut out = [0u8; HEADER];
    out[0] = tag;
    out[1..].copy_from_slice(&(len as u32).to_le_bytes());
    out
}

/// Encodes a `STATUS` frame without allocating (the zygote sends these).
pub(crate) fn status_frame(exitcode: i32) -> [u8; HEADER + 4] {
    let mut out = [0u8; HEADER + 4];
    out[0] = STATUS;
    out[1..5].copy_from_slice(&4u32.to_le_bytes());
    out[5..].copy_from_slice(&exitcode.to_le_bytes());
    out
}

/// Parent side of the channel: the fd and what arrived on it so far.
#[derive(Debug)]
pub(crate) struct Inbox {
    fd: Option<OwnedFd>,
    /// The fd is `O_NONBLOCK` (a fork pipe): read without polling first.
    nonblocking: bool,
    /// Or the report slot the child leaves its frame in (read once the child is reaped).
    slot: Option<Slot>,
    small: [u8; INLINE],
    small_len: usize,
    big: Vec<u8>,
}

impl Inbox {
    pub(crate) fn new(fd: Option<OwnedFd>, nonblocking: bool, slot: Option<Slot>) -> Self {
        Inbox {
            fd,
            nonblocking,
            slot,
            small: [0; INLINE],
            small_len: 0,
            big: Vec::new(),
        }
    }

    pub(crate) fn fd(&self) -> Option<&OwnedFd> {
        self.fd.as_ref()
    }

    pub(crate) fn at_eof(&self) -> bool {
        self.fd.is_none()
    }

    /// The child was reaped: takes its frame from the slot (if it has one) and gives the
    /// slot back. Only then: before, the child may still be writing it.
    pub(crate) fn reaped(&mut self) {
        if let Some(slot) = self.slot.take() {
            let frame = slot.frame();
            if frame.len() <= INLINE {
                self.small[..frame.len()].copy_from_slice(frame);
                self.small_len = frame.len();
            } else {
                self.big = frame.to_vec();
            }
            slots::release(slot);
        }
    }

    /// Drops the fd (EOF seen, or the process is closed).
    pub(crate) fn close(&mut self) {
        self.fd = None;
    }

    fn bytes(&self) -> &[u8] {
        if self.big.is_empty() {
            &self.small[..self.small_len]
        } else {
            &self.big
        }
    }

    /// One `read`: blocks when `block`, otherwise only reads what is ready. Returns whether
    /// anything happened (data or EOF). Read errors count as EOF: nothing more will come.
    pub(crate) fn pump(&mut self, block: bool) -> bool {
        if let Some(fd) = &self.fd
            && !self.nonblocking
        {
            // A blocking socket is waited on with poll, not in `read`: a sleeping `read`
            // is also woken when the peer consumes what we sent (the forkserver child
            // reading its payload), a spurious cross-CPU wake-up that poll's POLLIN
            // filter skips.
            let ready = sys::readable(fd, if block { -1 } else { 0 }).unwrap_or(true);
            if !ready && !block {
                return false;
            }
        }
        // Small frames (the usual case) are read straight into the inline buffer, larger
        // ones into `big` (no 4 KiB stack chunk: the parent touches no extra stack page).
        let Inbox {
            fd: Some(fd),
            small,
            small_len,
            big,
            ..
        } = self
        else {
            return false;
        };
        let read = if big.is_empty() && *small_len < INLINE {
            sys::read(fd.as_fd(), &mut small[*small_len..]).inspect(|n| *small_len += n)
        } else {
            if big.is_empty() {
                big.extend_from_slice(&small[..*small_len]);
            }
            let start = big.len();
            big.resize(start + 4096, 0);
            let read = sys::read(fd.as_fd(), &mut big[start..]);
            big.truncate(start + *read.as_ref().unwrap_or(&0));
            read
        };
        match read {
            Err(nix::errno::Errno::EAGAIN) => {
                // Nothing yet on a non-blocking fd: wait for it if asked to block.
                if !block {
                    return false;
                }
                let _ = self.fd.as_ref().map(|fd| sys::readable(fd, -1));
            }
            Ok(0) | Err(_) => self.close(),
            Ok(_) => {}
        }
        true
    }

    /// Reads everything that is ready without blocking.
    pub(crate) fn drain(&mut self) {
        while self.pump(false) {}
    }

    /// Reads what is ready until the child's final frame is complete (no read for the EOF
    /// after it: the fd is closed with the process).
    pub(crate) fn take_final(&mut self) {
        while self.last(|t| t != STATUS).is_none() && self.pump(false) {}
    }

    /// Blocks until the child's final frame (or EOF) arrived.
    pub(crate) fn wait_final(&mut self) {
        while self.last(|t| t != STATUS).is_none() && self.pump(true) {}
    }

    /// Blocks until the zygote's status frame (or EOF) arrived.
    pub(crate) fn wait_status(&mut self) -> Option<i32> {
        loop {
            if let Some(code) = self.status() {
                return Some(code);
            }
            if !self.pump(true) {
                return None;
            }
        }
    }

    /// The complete frames received so far.
    fn frames(&self) -> impl Iterator<Item = (u8, &[u8])> {
        let mut rest = self.bytes();
        std::iter::from_fn(move || {
            if rest.len() < HEADER {
                return None;
            }
            let len = u32::from_le_bytes([rest[1], rest[2], rest[3], rest[4]]) as usize;
            let body = rest.get(HEADER..HEADER + len)?;
            let tag = rest[0];
            rest = &rest[HEADER + len..];
            Some((tag, body))
        })
    }

    fn last(&self, want: impl Fn(u8) -> bool) -> Option<(u8, &[u8])> {
        self.frames().filter(|(t, _)| want(*t)).last()
    }

    /// The zygote's report of the child's exit code.
    pub(crate) fn status(&self) -> Option<i32> {
        let (_, body) = self.last(|t| t == STATUS)?;
        Some(i32::from_le_bytes(body.try_into().ok()?))
    }

    /// The child's final frame: tag and bytes.
    pub(crate) fn outcome(&self) -> Option<(u8, &[u8])> {
        self.last(|t| t != STATUS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::fcntl::OFlag;

    fn frame(tag: u8, data: &[u8]) -> Vec<u8> {
        let mut out = header(tag, data.len()).to_vec();
        out.extend_from_slice(data);
        out
    }

    /// An inbox fed with `chunks` by a writer thread (a pipe holds only 64 KiB).
    fn inbox_with(chunks: &[&[u8]]) -> Inbox {
        let (r, w) = nix::unistd::pipe2(OFlag::O_CLOEXEC).unwrap();
        let chunks: Vec<Vec<u8>> = chunks.iter().map(|c| c.to_vec()).collect();
        let writer = std::thread::spawn(move || {
            for c in chunks {
                sys::write_all(w.as_fd(), &c).unwrap();
            }
        });
        let mut inbox = Inbox::new(Some(r), false, None);
        while inbox.pump(true) {}
        writer.join().unwrap();
        inbox
    }

    #[test]
    fn a_nonblocking_pipe_is_read_to_the_end() {
        let (r, w) = nix::unistd::pipe2(OFlag::O_CLOEXEC).unwrap();
        nix::fcntl::fcntl(&r, nix::fcntl::FcntlArg::F_SETFL(OFlag::O_NONBLOCK)).unwrap();
        let mut inbox = Inbox::new(Some(r), true, None);
        assert!(!inbox.pump(false)); // nothing yet: no wait
        let value = vec![7u8; 200_000];
        let f = frame(RETURNED, &value);
        let writer = std::thread::spawn(move || sys::write_all(w.as_fd(), &f).unwrap());
        while inbox.pump(true) {}
        writer.join().unwrap();
        assert_eq!(inbox.outcome(), Some((RETURNED, &value[..])));
    }

    #[test]
    fn small_frames_stay_inline_and_parse() {
        let inbox = inbox_with(&[&frame(RETURNED, b"42")]);
        assert!(inbox.big.is_empty());
        assert_eq!(inbox.outcome(), Some((RETURNED, &b"42"[..])));
        assert_eq!(inbox.status(), None);
        assert!(inbox.at_eof());
    }

    #[test]
    fn large_frames_and_a_status_after_them() {
        let value = vec![b'x'; 100_000];
        let f = frame(RETURNED, &value);
        let (head, tail) = f.split_at(3); // a frame split across reads
        let inbox = inbox_with(&[head, tail, &status_frame(-15)]);
        assert_eq!(inbox.outcome(), Some((RETURNED, &value[..])));
        assert_eq!(inbox.status(), Some(-15));
    }

    #[test]
    fn a_truncated_frame_is_no_outcome() {
        let f = frame(PANICKED, b"{\"message\":\"x\"}");
        let inbox = inbox_with(&[&f[..f.len() - 1]]);
        assert_eq!(inbox.outcome(), None);
    }
}
