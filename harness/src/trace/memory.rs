//! Reading a stopped tracee's memory (process_vm_readv(2): one syscall per buffer, no
//! word-at-a-time PTRACE_PEEKDATA).

use std::io::{IoSlice, IoSliceMut};

use nix::sys::uio::{RemoteIoVec, process_vm_readv, process_vm_writev};
use nix::unistd::Pid;

/// Up to `len` bytes at `addr` in `tid`'s memory. Fewer if the range runs into unmapped
/// memory (the syscall then stops at the last readable piece).
pub(crate) fn read_bytes(tid: Pid, addr: u64, len: usize) -> Vec<u8> {
    let mut buf = vec![0u8; len];
    if len == 0 || addr == 0 {
        buf.clear();
        return buf;
    }
    let mut done = 0;
    // process_vm_readv stops at the first failing page; go on page by page from there.
    while done < len {
        let remote = [RemoteIoVec {
            base: addr as usize + done,
            len: len - done,
        }];
        match process_vm_readv(tid, &mut [IoSliceMut::new(&mut buf[done..])], &remote) {
            Ok(0) | Err(_) => break,
            Ok(n) => done += n,
        }
    }
    buf.truncate(done);
    buf
}

/// Write `bytes` at `addr` in `tid`'s memory (process_vm_writev(2)); true if all of
/// them were written.
pub(crate) fn write_bytes(tid: Pid, addr: u64, bytes: &[u8]) -> bool {
    let remote = [RemoteIoVec {
        base: addr as usize,
        len: bytes.len(),
    }];
    matches!(process_vm_writev(tid, &[IoSlice::new(bytes)], &remote), Ok(n) if n == bytes.len())
}

/// A u64 at `addr`, if fully readable.
pub(crate) fn read_u64(tid: Pid, addr: u64) -> Option<u64> {
    let b = read_bytes(tid, addr, 8);
    Some(u64::from_ne_bytes(b.get(..8)?.try_into().ok()?))
}

/// A plain value (u32, u64, a C struct of integers) at `addr`, if fully readable.
pub(crate) fn read_u32(tid: Pid, addr: u64) -> Option<u32> {
    let b = read_bytes(tid, addr, 4);
    Some(u32::from_ne_bytes(b.get(..4)?.try_into().ok()?))
}

/// An array of `struct iovec` (writev/readv) as (base, len) pairs, at most `max` of them.
pub(crate) fn read_iovecs(tid: Pid, addr: u64, count: u64, max: usize) -> Vec<(u64, u64)> {
    let count = (count as usize).min(max);
    let raw = read_bytes(tid, addr, count * 16);
    raw.chunks_exact(16)
        .map(|c| {
            let base = u64::from_ne_bytes(c[..8].try_into().unwrap_or([0; 8]));
            let len = u64::from_ne_bytes(c[8..].try_into().unwrap_or([0; 8]));
            (base, len)
        })
        .collect()
}

/// The bytes a writev/sendmsg gathers from `iov`, up to `limit` bytes.
pub(crate) fn gather(tid: Pid, iov: &[(u64, u64)], limit: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for &(base, len) in iov {
        let want = (len as usize).min(limit - out.len());
        if want == 0 {
            break;
        }
        out.extend(read_bytes(tid, base, want));
    }
    out
}
