//! Rootless containment: a user namespace owning the run's network namespace, the way
//! bubblewrap contains a program without privileges (user_namespaces(7)).
//!
//! Where an ordinary user (or a container's root without CAP_SYS_ADMIN) may create user
//! namespaces, a new user namespace gives its creator every capability *inside* it:
//! enough for a private network namespace (only loopback, brought up) and a private
//! mount namespace (`fsview.rs`: everything read-only but the working directory).
//!
//! unshare(CLONE_NEWUSER) refuses a multithreaded caller, and the grader has threads, so
//! a single-threaded *holder* process is forked (it makes only raw syscalls on data
//! built before fork, as the run's own child does): it unshares a user and a network
//! namespace, maps the grader's uid and gid to one unprivileged id inside, brings `lo`
//! up, tries a read-only mount namespace once (the answer decides the `fs-readonly`
//! layer before the run starts), and then serves sockets.
//!
//! Why it serves sockets: the grader's clients must connect *inside* the run's network
//! namespace, and an unprivileged thread can enter neither that namespace (setns needs
//! CAP_SYS_ADMIN in the grader's own user namespace too) nor the user namespace (a
//! multithreaded process cannot). A socket keeps the namespace it was created in, so
//! the holder creates one per request and passes it back over a socketpair
//! (SCM_RIGHTS, unix(7)); the grader connects it from any thread.
//!
//! The run's child joins both namespaces by setns(2) on the holder's namespace files
//! (the grader's euid owns the user namespace, so its child may), then enters its fs
//! view and execs as the inner uid, which is not 0: execve clears every capability
//! (capabilities(7)). ptrace and /proc work across the boundary: tracer and tracee have
//! the same uid outside, and the tracer's uid owns the namespace.

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Mutex;

use nix::errno::Errno;
use nix::sys::socket::{
    AddressFamily, ControlMessageOwned, MsgFlags, SockFlag, SockType, recvmsg, socketpair,
};
use nix::unistd::{ForkResult, Pid, fork};

/// The id the submission has inside when the grader is root outside (an inner 0 would
/// keep every capability across exec).
const INNER_ID_FOR_ROOT: u32 = 1000;

/// Why the holder could not make the namespaces: (step, errno).
const STEPS: &[&str] = &[
    "",
    "unshare(CLONE_NEWUSER | CLONE_NEWNET)",
    "writing /proc/self/setgroups",
    "writing /proc/self/uid_map",
    "writing /proc/self/gid_map",
    "bringing loopback up",
];

/// A user namespace and the network namespace it owns, held by a holder process.
#[derive(Debug)]
pub(crate) struct Sandbox {
    holder: Pid,
    ctl: Mutex<OwnedFd>,
    user: OwnedFd,
    net: OwnedFd,
    /// Can a read-only mount namespace be made inside (`Err`: why not)?
    pub mounts: Result<(), String>,
    /// Can a pid namespace be made inside (`Err`: why not)?
    pub pids: Result<(), String>,
    pub inner_uid: u32,
    pub outer_uid: u32,
}

/// Paths and texts the holder writes, built before fork.
struct HolderData {
    setgroups: CString,
    uid_map: CString,
    gid_map: CString,
    deny: CString,
    uid_line: CString,
    gid_line: CString,
    root: CString,
    shm: CString,
    tmpfs: CString,
    tmpfs_options: CString,
}

impl Sandbox {
    /// Fork the holder and wait for its namespaces (a few ms). `Err` says why they
    /// cannot be had here (e.g. `unshare(CLONE_NEWUSER | CLONE_NEWNET): EPERM` under
    /// Docker's default seccomp profile).
    pub(crate) fn create() -> io::Result<Sandbox> {
        let outer_uid = nix::unistd::geteuid().as_raw();
        let outer_gid = nix::unistd::getegid().as_raw();
        let inner = |id: u32| if id == 0 { INNER_ID_FOR_ROOT } else { id };
        let c = |s: &str| CString::new(s).map_err(io::Error::other);
        let data = HolderData {
            setgroups: c("/proc/self/setgroups")?,
            uid_map: c("/proc/self/uid_map")?,
            gid_map: c("/proc/self/gid_map")?,
            deny: c("deny")?,
            uid_line: c(&format!("{} {outer_uid} 1\n", inner(outer_uid)))?,
            gid_line: c(&format!("{} {outer_gid} 1\n", inner(outer_gid)))?,
            root: c("/")?,
            shm: c("/dev/shm")?,
            tmpfs: c("tmpfs")?,
            tmpfs_options: c("size=1m")?,
        };
        let (ours, theirs) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )?;
        // SAFETY: the child only makes async-signal-safe calls on data built above and
        // ends with _exit.
        let holder = match unsafe { fork() }? {
            ForkResult::Child => {
                drop(ours);
                let code = holder_main(&data, theirs.as_raw_fd());
                // SAFETY: _exit is async-signal-safe.
                unsafe { libc::_exit(code) }
            }
            ForkResult::Parent { child } => child,
        };
        drop(theirs);
        let mut sandbox = PartialSandbox {
            holder,
            ctl: Some(ours),
        };
        let mut report = [0u8; 13];
        let n = nix::unistd::read(sandbox.ctl()?, &mut report)?;
        if n != report.len() {
            return Err(io::Error::other("the namespace holder ended early"));
        }
        let errno = |b: &[u8]| Errno::from_raw(i32::from_ne_bytes([b[0], b[1], b[2], b[3]]));
        if report[0] != 0 {
            let step = STEPS
                .get(usize::from(report[0]))
                .copied()
                .unwrap_or("setup");
            return Err(io::Error::other(format!(
                "{step}: {}",
                errno(&report[1..5])
            )));
        }
        let fs = errno(&report[5..9]);
        let pids = errno(&report[9..13]);
        let ns = |kind: &str| -> io::Result<OwnedFd> {
            Ok(File::open(format!("/proc/{holder}/ns/{kind}"))?.into())
        };
        let (user, net) = (ns("user")?, ns("net")?);
        Ok(Sandbox {
            holder,
            ctl: Mutex::new(sandbox.ctl.take().ok_or(io::ErrorKind::BrokenPipe)?),
            user,
            net,
            mounts: match fs as i32 {
                0 => Ok(()),
                _ => Err(format!("mount namespace in a user namespace: {fs}")),
            },
            pids: match pids as i32 {
                0 => Ok(()),
                _ => Err(format!("pid namespace in a user namespace: {pids}")),
            },
            inner_uid: inner(outer_uid),
            outer_uid,
        })
    }

    pub(crate) fn user_fd(&self) -> BorrowedFd<'_> {
        self.user.as_fd()
    }

    pub(crate) fn net_fd(&self) -> BorrowedFd<'_> {
        self.net.as_fd()
    }

    /// A new TCP socket (IPv4 or IPv6) that lives in the run's network namespace.
    pub(crate) fn tcp_socket(&self, ipv6: bool) -> io::Result<OwnedFd> {
        let ctl = self.ctl.lock().unwrap_or_else(|e| e.into_inner());
        nix::unistd::write(&*ctl, if ipv6 { b"6" } else { b"4" })?;
        let mut errno = [0u8; 4];
        let mut iov = [io::IoSliceMut::new(&mut errno)];
        let mut space = nix::cmsg_space!(RawFd);
        let msg = recvmsg::<()>(
            ctl.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::MSG_CMSG_CLOEXEC,
        )?;
        for cmsg in msg.cmsgs()? {
            if let ControlMessageOwned::ScmRights(fds) = cmsg
                && let Some(&fd) = fds.first()
            {
                // SAFETY: the kernel just installed this descriptor for us.
                return Ok(unsafe { OwnedFd::from_raw_fd(fd) });
            }
        }
        if msg.bytes == 0 {
            return Err(io::Error::other("the namespace holder is gone"));
        }
        Err(Errno::from_raw(i32::from_ne_bytes(errno)).into())
    }
}

impl Drop for Sandbox {
    /// The holder ends when its socket closes; it is killed too, in case a copy of the
    /// socket lingers in a child between fork and exec, and reaped.
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(self.holder, nix::sys::signal::Signal::SIGKILL);
        let _ = nix::sys::wait::waitpid(self.holder, None);
    }
}

/// The holder before it reported: killed and reaped if the report never comes.
struct PartialSandbox {
    holder: Pid,
    ctl: Option<OwnedFd>,
}

impl PartialSandbox {
    fn ctl(&self) -> io::Result<BorrowedFd<'_>> {
        self.ctl
            .as_ref()
            .map(AsFd::as_fd)
            .ok_or_else(|| io::ErrorKind::BrokenPipe.into())
    }
}

impl Drop for PartialSandbox {
    fn drop(&mut self) {
        if self.ctl.is_some() {
            let _ = nix::sys::signal::kill(self.holder, nix::sys::signal::Signal::SIGKILL);
            let _ = nix::sys::wait::waitpid(self.holder, None);
        }
    }
}

/// The holder's life (after fork: raw syscalls only, no allocation). Returns the exit code.
fn holder_main(data: &HolderData, ctl: RawFd) -> i32 {
    // Keep nothing of the grader's open (another run's pipe held open here would keep
    // that run's output from ending), and no terminal signals.
    // SAFETY: close_range(2) on descriptor ranges; `ctl` is kept.
    unsafe {
        if ctl > 0 {
            libc::syscall(libc::SYS_close_range, 0u32, (ctl - 1) as u32, 0u32);
        }
        libc::syscall(libc::SYS_close_range, (ctl + 1) as u32, u32::MAX, 0u32);
    }
    let _ = nix::unistd::setsid();
    // SAFETY: an fd number we keep open for the life of this process.
    let ctl = unsafe { BorrowedFd::borrow_raw(ctl) };
    let mut report = [0u8; 13];
    match make_namespaces(data) {
        Ok(()) => {
            let fs = probe_mounts(data).err().map_or(0, |e| e as i32);
            report[5..9].copy_from_slice(&fs.to_ne_bytes());
            // Harmless here: it only decides where this holder's children would go,
            // and it has none.
            let pids = nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWPID)
                .err()
                .map_or(0, |e| e as i32);
            report[9..13].copy_from_slice(&pids.to_ne_bytes());
        }
        Err((step, errno)) => {
            report[0] = step;
            report[1..5].copy_from_slice(&(errno as i32).to_ne_bytes());
        }
    }
    if nix::unistd::write(ctl, &report).is_err() || report[0] != 0 {
        return 1;
    }
    serve(ctl);
    0
}

fn make_namespaces(data: &HolderData) -> Result<(), (u8, Errno)> {
    use nix::sched::{CloneFlags, unshare};
    unshare(CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNET).map_err(|e| (1, e))?;
    // An unprivileged process may map only its own ids, and its gid only once
    // setgroups(2) is denied (user_namespaces(7), "Interaction with system calls").
    write_file(&data.setgroups, &data.deny).map_err(|e| (2, e))?;
    write_file(&data.uid_map, &data.uid_line).map_err(|e| (3, e))?;
    write_file(&data.gid_map, &data.gid_line).map_err(|e| (4, e))?;
    super::netns::loopback_up().map_err(|e| (5, Errno::from_raw(e.raw_os_error().unwrap_or(0))))
}

/// What `fsview.rs` does in the run's child, tried once here.
fn probe_mounts(data: &HolderData) -> Result<(), Errno> {
    use nix::mount::{MsFlags, mount};
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS)?;
    let none: Option<&std::ffi::CStr> = None;
    mount(
        none,
        data.root.as_c_str(),
        none,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        none,
    )?;
    mount(
        Some(data.tmpfs.as_c_str()),
        data.shm.as_c_str(),
        Some(data.tmpfs.as_c_str()),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some(data.tmpfs_options.as_c_str()),
    )?;
    super::fsview::mount_setattr(&data.root, libc::MOUNT_ATTR_RDONLY, 0)
}

fn write_file(path: &CString, text: &CString) -> Result<(), Errno> {
    let fd = nix::fcntl::open(
        path.as_c_str(),
        nix::fcntl::OFlag::O_WRONLY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )?;
    let bytes = text.as_bytes();
    match nix::unistd::write(&fd, bytes)? {
        n if n == bytes.len() => Ok(()),
        _ => Err(Errno::EIO),
    }
}

/// Answer each request byte (`4` or `6`) with a new TCP socket of that family, until the
/// grader's end closes. nix's sendmsg builds its control buffer on the heap, so the
/// message is built here on the stack with libc's CMSG helpers.
fn serve(ctl: BorrowedFd<'_>) {
    loop {
        let mut request = [0u8; 1];
        match nix::unistd::read(ctl, &mut request) {
            Ok(1) => {}
            Err(Errno::EINTR) => continue,
            _ => return,
        }
        let family = if request[0] == b'6' {
            libc::AF_INET6
        } else {
            libc::AF_INET
        };
        // SAFETY: plain socket(2).
        let fd = unsafe { libc::socket(family, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
        let errno = if fd < 0 { Errno::last() as i32 } else { 0 };
        let mut payload = errno.to_ne_bytes();
        let mut iov = libc::iovec {
            iov_base: payload.as_mut_ptr().cast(),
            iov_len: payload.len(),
        };
        // Room for one cmsghdr carrying one int, 8-byte aligned (CMSG_SPACE(4) = 24).
        let mut control = [0u64; 4];
        // SAFETY: msghdr is plain data; the pointers it holds outlive the sendmsg call,
        // and CMSG_FIRSTHDR/CMSG_DATA point into `control`, which is large enough.
        unsafe {
            let mut msg: libc::msghdr = std::mem::zeroed();
            msg.msg_iov = &mut iov;
            msg.msg_iovlen = 1;
            if fd >= 0 {
                let space = libc::CMSG_SPACE(std::mem::size_of::<libc::c_int>() as u32);
                msg.msg_control = control.as_mut_ptr().cast();
                msg.msg_controllen = space as usize;
                let cmsg = libc::CMSG_FIRSTHDR(&msg);
                (*cmsg).cmsg_level = libc::SOL_SOCKET;
                (*cmsg).cmsg_type = libc::SCM_RIGHTS;
                (*cmsg).cmsg_len =
                    libc::CMSG_LEN(std::mem::size_of::<libc::c_int>() as u32) as usize;
                std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<libc::c_int>(), fd);
            }
            let sent = libc::sendmsg(ctl.as_raw_fd(), &msg, libc::MSG_NOSIGNAL);
            if fd >= 0 {
                libc::close(fd);
            }
            if sent < 0 {
                return;
            }
        }
    }
}

#[cfg(test)]
#[path = "userns_tests.rs"]
mod tests;
