//! Small system helpers: thread count, stdio flushing, EINTR-safe I/O, pidfd.

use std::io::{Read, Write};
use std::os::fd::{AsFd, BorrowedFd, FromRawFd, OwnedFd};

use nix::errno::Errno;
use nix::sys::wait::WaitStatus;
use nix::unistd::Pid;

use crate::error::{Context, Result};

/// The number of threads of the calling process if it has more than one, else `None`.
///
/// One `unshare(CLONE_THREAD)`: it unshares nothing, and the kernel refuses it (`EINVAL`)
/// exactly when the thread group holds other threads. No path to copy or walk, so it
/// costs about a `getpid` (0.11 µs here, against 0.77 µs for the `stat` of
/// `/proc/self/task` below). The count itself (for the error) and any other refusal (a
/// seccomp filter returning `EPERM`, say) go to [`thread_count`].
pub(crate) fn other_threads() -> Result<Option<usize>> {
    match nix::sched::unshare(nix::sched::CloneFlags::CLONE_THREAD) {
        Ok(()) => Ok(None),
        Err(_) => counted_threads(),
    }
}

/// `other_threads` by counting (cold: only when `unshare` refused).
#[inline(never)]
#[cold]
fn counted_threads() -> Result<Option<usize>> {
    let count = thread_count()?;
    Ok((count > 1).then_some(count))
}

/// Number of threads of the calling process. One `stat` of `/proc/self/task`: procfs
/// reports its link count as 2 + the number of threads. Falls back to `/proc/self/stat`
/// when that does not look right.
///
/// Never inlined: nix copies the path into a 1 KiB stack buffer, which inlined into the
/// fork start would put the `fork` call a kilobyte deeper, so that the pages written
/// after the fork (by parent and child alike, each a copy) span one more stack page.
#[inline(never)]
pub(crate) fn thread_count() -> Result<usize> {
    match nix::sys::stat::stat("/proc/self/task") {
        Ok(st) if st.st_nlink >= 3 => Ok(st.st_nlink as usize - 2),
        _ => thread_count_from_stat(),
    }
}

/// Field 20 of `/proc/self/stat`, read into a stack buffer (no allocation). Not inlined:
/// its buffer would deepen every start's stack frame by a page.
#[inline(never)]
#[cold]
fn thread_count_from_stat() -> Result<usize> {
    let mut file = std::fs::File::open("/proc/self/stat").ctx("open(/proc/self/stat)")?;
    let mut buf = [0u8; 1024];
    let mut len = 0;
    // One read normally holds it all; read on only if the field is not there yet.
    while len < buf.len() {
        match file.read(&mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e).ctx("read(/proc/self/stat)"),
        }
        if let Some(count) = num_threads(&buf[..len]) {
            return Ok(count);
        }
    }
    num_threads(&buf[..len]).ok_or(crate::error::Error::Sys {
        call: "parse(/proc/self/stat)",
        errno: Errno::EINVAL,
    })
}

/// Field 20 of a `stat` line. The fields after the command name start after the *last*
/// `)`, since the name (field 2) may itself contain spaces and parentheses; the line must
/// run past field 20 (a space after it) for the value to be complete.
fn num_threads(text: &[u8]) -> Option<usize> {
    let after = text.iter().rposition(|&b| b == b')')? + 1;
    let mut fields = text[after..]
        .split(|&b| b == b' ')
        .filter(|f| !f.is_empty());
    // Field 3 (state) is the first after the name: num_threads is the 18th.
    let value = fields.nth(17)?;
    fields.next()?;
    std::str::from_utf8(value).ok()?.parse().ok()
}

/// Stdout's handle, got once (the parent flushes before every fork, so a fork child finds
/// it there): a child's flush then runs only `<&Stdout as Write>::flush`, not also
/// `std::io::stdout()`, which may lie in another 64 KiB stretch of std's code — one more
/// page fault in every fork child, since a fork does not copy the page tables of code.
static STDOUT: std::sync::OnceLock<std::io::Stdout> = std::sync::OnceLock::new();

/// Flushes Rust's stdout so no buffered line is printed twice (by parent and child).
/// (Rust's stderr is unbuffered: nothing to flush.)
#[inline] // into the fork child's code (see `start_method::fork::start`)
pub(crate) fn flush_stdio() {
    let mut stdout: &std::io::Stdout = STDOUT.get_or_init(std::io::stdout);
    let _ = stdout.flush();
}

/// Writes a frame (`header` then `data`) with one vectored write, so a small frame is one
/// atomic pipe write; finishes a short write piece by piece. Sockets are written with
/// `MSG_NOSIGNAL`.
pub(crate) fn write_frame(
    fd: BorrowedFd<'_>,
    header: &[u8],
    data: &[u8],
    socket: bool,
) -> nix::Result<()> {
    use nix::sys::socket::{MsgFlags, sendmsg};
    use std::io::IoSlice;
    use std::os::fd::AsRawFd;
    let iov = [IoSlice::new(header), IoSlice::new(data)];
    let sent = loop {
        let r = if socket {
            sendmsg::<()>(fd.as_raw_fd(), &iov, &[], MsgFlags::MSG_NOSIGNAL, None)
        } else {
            nix::sys::uio::writev(fd, &iov)
        };
        match r {
            Err(Errno::EINTR) => {}
            Err(Errno::EAGAIN) => break 0, // a full non-blocking pipe: write_all waits
            other => break other?,
        }
    };
    let rest = |buf: &[u8], skip: usize| buf.get(skip..).unwrap_or(&[]).to_vec();
    if sent < header.len() + data.len() {
        let mut tail = rest(header, sent);
        tail.extend_from_slice(&rest(data, sent.saturating_sub(header.len())));
        if socket {
            send_all(fd, &tail)?;
        } else {
            write_all(fd, &tail)?;
        }
    }
    Ok(())
}

/// `read` retried on EINTR.
pub(crate) fn read(fd: BorrowedFd<'_>, buf: &mut [u8]) -> nix::Result<usize> {
    loop {
        match nix::unistd::read(fd, buf) {
            Err(Errno::EINTR) => {}
            other => return other,
        }
    }
}

/// Writes the whole buffer, retrying on EINTR and short writes; on a non-blocking fd,
/// waits with poll while the pipe is full.
pub(crate) fn write_all(fd: BorrowedFd<'_>, mut buf: &[u8]) -> nix::Result<()> {
    while !buf.is_empty() {
        match nix::unistd::write(fd, buf) {
            Ok(n) => buf = &buf[n..],
            Err(Errno::EINTR) => {}
            Err(Errno::EAGAIN) => wait_writable(fd),
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Blocks until `fd` is writable (or poll fails: the caller's next write tells).
fn wait_writable(fd: BorrowedFd<'_>) {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    let _ = poll(
        &mut [PollFd::new(fd, PollFlags::POLLOUT)],
        PollTimeout::NONE,
    );
}

/// Sends the whole buffer on a socket with `MSG_NOSIGNAL`: a peer that is gone gives
/// `EPIPE`, never a SIGPIPE, whatever the program's SIGPIPE disposition.
pub(crate) fn send_all(fd: BorrowedFd<'_>, mut buf: &[u8]) -> nix::Result<()> {
    use nix::sys::socket::{MsgFlags, send};
    use std::os::fd::AsRawFd;
    while !buf.is_empty() {
        match send(fd.as_raw_fd(), buf, MsgFlags::MSG_NOSIGNAL) {
            Ok(n) => buf = &buf[n..],
            Err(Errno::EINTR) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Sends what the socket takes without blocking (`MSG_DONTWAIT`); returns how many bytes
/// were sent (0 on any error: the caller sends the rest the blocking way).
pub(crate) fn send_ready(fd: BorrowedFd<'_>, buf: &[u8]) -> usize {
    use nix::sys::socket::{MsgFlags, send};
    use std::os::fd::AsRawFd;
    let flags = MsgFlags::MSG_NOSIGNAL | MsgFlags::MSG_DONTWAIT;
    let mut done = 0;
    while done < buf.len() {
        match send(fd.as_raw_fd(), &buf[done..], flags) {
            Ok(n) => done += n,
            Err(Errno::EINTR) => {}
            Err(_) => break,
        }
    }
    done
}

/// Reads exactly `buf.len()` bytes; `UnexpectedEof` is reported as `EPIPE`.
pub(crate) fn read_exact(fd: BorrowedFd<'_>, buf: &mut [u8]) -> nix::Result<()> {
    let mut done = 0;
    while done < buf.len() {
        match read(fd, &mut buf[done..])? {
            0 => return Err(Errno::EPIPE),
            n => done += n,
        }
    }
    Ok(())
}

/// Python's `exitcode` for a wait status: the exit code, or `-N` for death by signal N.
pub(crate) fn exitcode_of(status: WaitStatus) -> Option<i32> {
    match status {
        WaitStatus::Exited(_, code) => Some(code),
        WaitStatus::Signaled(_, sig, _) => Some(-(sig as i32)),
        _ => None,
    }
}

/// `fd` renumbered to 3 or above if it took the place of a closed stdin, stdout or stderr:
/// a process whose standard stream is closed would otherwise print into (or read from) the
/// library's channel. Best effort: the fd is returned as is if it cannot be moved.
pub(crate) fn above_stdio(fd: OwnedFd) -> OwnedFd {
    use nix::fcntl::{FcntlArg, fcntl};
    use std::os::fd::AsRawFd;
    if fd.as_raw_fd() > 2 {
        return fd;
    }
    match fcntl(&fd, FcntlArg::F_DUPFD_CLOEXEC(3)) {
        // SAFETY: the kernel just returned this new fd to us; `fd` is closed on return.
        Ok(raw) => unsafe { OwnedFd::from_raw_fd(raw) },
        Err(_) => fd,
    }
}

/// `pidfd_open(2)`. nix 0.31 has no wrapper, hence the raw syscall; `None` on kernels
/// without it (before 5.3), and the caller falls back to polling with `WNOHANG`.
pub(crate) fn pidfd_open(pid: Pid) -> Option<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid.as_raw(), 0) };
    if fd < 0 {
        return None;
    }
    // SAFETY: the kernel just returned this fd to us, nobody else owns it.
    Some(above_stdio(unsafe { OwnedFd::from_raw_fd(fd as i32) }))
}

/// Is `fd` readable within `timeout_ms` (`-1` waits forever)? EINTR counts as "not yet".
pub(crate) fn readable(fd: impl AsFd, timeout_ms: i32) -> nix::Result<bool> {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
    let timeout = PollTimeout::try_from(timeout_ms).unwrap_or(PollTimeout::NONE);
    match poll(&mut fds, timeout) {
        Ok(n) => Ok(n > 0),
        Err(Errno::EINTR) => Ok(false),
        Err(e) => Err(e),
    }
}

/// `fork` whose child is a child of the caller's parent (`clone(CLONE_PARENT | SIGCHLD)`,
/// no new stack: like `fork`, the child continues on its copy of the caller's stack).
/// The zygote makes its children this way, so they are children of the program that
/// asked for them: it reaps them itself, as it does fork children, and their exit
/// status needs no relay. nix's `clone` runs a callback on a separate stack, hence the
/// raw system call. Unlike glibc's `fork`, no `atfork` handler runs and the thread's
/// cached tid is not updated: only for a single-threaded caller that registered no
/// handlers (the zygote). `EINVAL` when the caller is an init process.
///
/// # Safety
/// As `fork` in a single-threaded process: the child gets a copy of the address space.
pub(crate) unsafe fn fork_sibling() -> nix::Result<nix::unistd::ForkResult> {
    use nix::unistd::ForkResult;
    let flags = (libc::CLONE_PARENT | libc::SIGCHLD) as libc::c_ulong;
    // SAFETY: clone without CLONE_VM copies the address space, as fork does; a null
    // stack keeps the child on its copy of ours; no tid pointers, no TLS.
    let r = unsafe { libc::syscall(libc::SYS_clone, flags, 0usize, 0usize, 0usize, 0usize) };
    match r {
        -1 => Err(Errno::last()),
        0 => Ok(ForkResult::Child),
        pid => Ok(ForkResult::Parent {
            child: Pid::from_raw(pid as i32),
        }),
    }
}

/// `_exit(2)`: leaves at once, without atexit handlers or destructors (which, after a
/// fork, belong to the parent's state). nix 0.31 has no wrapper.
#[inline]
pub(crate) fn exit_now(code: i32) -> ! {
    // SAFETY: _exit is always safe to call; it does not return.
    unsafe { libc::_exit(code) }
}

#[cfg(test)]
mod tests {
    use super::num_threads;

    #[test]
    fn parses_num_threads_after_a_tricky_command_name() {
        let line = b"42 (a) b (c)) S 1 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 3 0 5 100 200";
        assert_eq!(num_threads(line), Some(3));
        assert_eq!(
            num_threads(b"42 (x) S 1 42 42 0 -1 1 1 0 0 0 1 2 0 0 20 0 1"),
            None
        );
    }

    #[test]
    fn this_test_process_has_threads() {
        assert!(super::thread_count().unwrap() >= 1);
        let before = super::thread_count().unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let t = std::thread::spawn(move || rx.recv());
        // Other tests run threads too: at least one more than before, and the two ways agree
        // when nothing else changes in between (retried: the test harness's threads come
        // and go).
        assert!(super::thread_count().unwrap() >= 2);
        assert!(matches!(super::other_threads(), Ok(Some(n)) if n >= 2));
        let agree =
            (0..50).any(|_| super::thread_count().ok() == super::thread_count_from_stat().ok());
        assert!(
            agree,
            "stat(/proc/self/task) and /proc/self/stat disagree (before: {before})"
        );
        drop(tx);
        let _ = t.join();
    }
}
