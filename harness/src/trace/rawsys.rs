//! The forked child's raw system calls: the ones whose glibc wrappers must not run in it.
//!
//! The root child is made with clone3(2) (born in its cgroup), which skips glibc's fork
//! bookkeeping: the child's glibc still lists the grader's threads. Calls whose wrappers
//! touch that state (the set*id family, see below) are made as plain syscalls here.

use std::os::fd::BorrowedFd;

use nix::errno::Errno;
use nix::unistd::{ForkResult, Gid, Pid, Uid};

/// clone3(2)'s argument (CLONE_ARGS_SIZE_VER2); libc's copy is not on every target.
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// fork(2), but born in the cgroup v2 directory `cgroup` (clone3, Linux 5.7): no
/// migration afterwards, so no wait for the cgroup lock's RCU grace period.
///
/// # Safety
/// As for fork: the child may only make async-signal-safe calls. It also skips glibc's
/// fork bookkeeping (atfork handlers, the cached thread id), which the child never
/// needs: it makes raw syscalls and execs, as std's own clone3 path does.
pub(crate) unsafe fn fork_into(cgroup: BorrowedFd<'_>) -> Result<ForkResult, Errno> {
    use std::os::fd::AsRawFd;
    let args = CloneArgs {
        flags: CLONE_INTO_CGROUP,
        exit_signal: libc::SIGCHLD as u64,
        cgroup: cgroup.as_raw_fd() as u64,
        ..CloneArgs::default()
    };
    // SAFETY: a valid clone_args of the size given; no stack: the child continues on
    // a copy of this one, as after fork.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &args as *const CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    match Errno::result(rc)? {
        0 => Ok(ForkResult::Child),
        pid => Ok(ForkResult::Parent {
            child: Pid::from_raw(pid as i32),
        }),
    }
}

/// setgroups, setresgid, setresuid as raw syscalls. glibc's wrappers apply the change to
/// every thread of the process (a SIGSETXID round under a lock of its thread list); after
/// clone3 the child's glibc still lists the grader's threads and that lock may be held
/// by one of them, and the kernel's calls already act on the calling thread, which is
/// the whole child.
pub(crate) fn switch_user(uid: Uid, gid: Gid) -> Result<(), Errno> {
    let groups = [gid.as_raw()];
    // SAFETY: plain syscalls; `groups` outlives the call that reads it.
    unsafe {
        Errno::result(libc::syscall(libc::SYS_setgroups, 1usize, groups.as_ptr()))?;
        Errno::result(libc::syscall(
            libc::SYS_setresgid,
            gid.as_raw(),
            gid.as_raw(),
            gid.as_raw(),
        ))?;
        Errno::result(libc::syscall(
            libc::SYS_setresuid,
            uid.as_raw(),
            uid.as_raw(),
            uid.as_raw(),
        ))?;
    }
    Ok(())
}

/// fork(2) as a raw clone syscall (no glibc bookkeeping, as for [`fork_into`]): `None`
/// in the child, the child's pid in the parent.
///
/// # Safety
/// As for [`fork_into`]: the child may only make async-signal-safe calls.
pub(crate) unsafe fn fork_raw() -> Result<Option<Pid>, Errno> {
    // SAFETY: clone(2) with only an exit signal and no new stack behaves as fork.
    let rc = unsafe { libc::syscall(libc::SYS_clone, libc::SIGCHLD as libc::c_ulong, 0, 0, 0, 0) };
    match Errno::result(rc)? {
        0 => Ok(None),
        pid => Ok(Some(Pid::from_raw(pid as i32))),
    }
}

/// Empty the bounding set and the ambient set, so that a program that stays uid 0 execs
/// with no capability (capabilities(7), "Transformation of capabilities during execve").
/// nix has no wrapper for PR_CAPBSET_DROP. Numbers past the kernel's last capability
/// fail with EINVAL, which ends the loop.
pub(crate) fn drop_capabilities() -> Result<(), Errno> {
    for cap in 0..64 {
        // SAFETY: prctl with integer arguments.
        if unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0) } < 0 {
            if Errno::last() == Errno::EINVAL && cap > 0 {
                break;
            }
            return Err(Errno::last());
        }
    }
    // SAFETY: prctl with integer arguments.
    unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL,
            0,
            0,
            0,
        )
    };
    Ok(())
}

/// pidfd_open(2) (nix has no wrapper): a descriptor that stands for `pid` and cannot
/// come to mean another process once it ended.
pub(crate) fn pidfd_open(pid: i32, flags: libc::c_uint) -> Option<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    // SAFETY: pidfd_open takes integers; the result is owned at once.
    let rc = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, flags) };
    (rc >= 0).then(|| unsafe { std::os::fd::OwnedFd::from_raw_fd(rc as i32) })
}
