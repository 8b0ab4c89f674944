//! What a tracee's file descriptor refers to: the run's stdout/stderr pipe, a socket,
//! or something the ledger does not care about.
//!
//! Read from `/proc/<tid>/fd/<fd>` at each stop (readlink costs ~2 µs). Caching per
//! (process, fd) would need close/dup2/dup3/fcntl/exec traced too, to invalidate it.

use std::os::unix::fs::MetadataExt;

use nix::unistd::Pid;

use crate::ledger::Stream;

/// A classified descriptor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FdKind {
    Stream(Stream),
    /// A socket, by inode.
    Socket(u64),
    Other,
}

/// Inodes of the pipes the run's stdout and stderr write into.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OurPipes {
    pub stdout: u64,
    pub stderr: u64,
}

impl OurPipes {
    /// Inodes of the read ends (a pipe's two ends share one inode).
    pub(crate) fn of(stdout: &std::fs::File, stderr: &std::fs::File) -> std::io::Result<OurPipes> {
        Ok(OurPipes {
            stdout: stdout.metadata()?.ino(),
            stderr: stderr.metadata()?.ino(),
        })
    }
}

/// What `fd` of thread `tid` is.
pub(crate) fn classify(tid: Pid, fd: u64, pipes: &OurPipes) -> FdKind {
    if fd > i32::MAX as u64 {
        return FdKind::Other;
    }
    let Ok(target) = std::fs::read_link(format!("/proc/{tid}/fd/{fd}")) else {
        return FdKind::Other;
    };
    let target = target.as_os_str().as_encoded_bytes();
    let inode = |prefix: &[u8]| -> Option<u64> {
        let rest = target.strip_prefix(prefix)?.strip_suffix(b"]")?;
        std::str::from_utf8(rest).ok()?.parse().ok()
    };
    if let Some(ino) = inode(b"pipe:[") {
        if ino == pipes.stdout {
            return FdKind::Stream(Stream::Stdout);
        }
        if ino == pipes.stderr {
            return FdKind::Stream(Stream::Stderr);
        }
        return FdKind::Other;
    }
    match inode(b"socket:[") {
        Some(ino) => FdKind::Socket(ino),
        None => FdKind::Other,
    }
}
