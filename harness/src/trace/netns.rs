//! A private network namespace per run: only loopback, brought up. Two runs that both
//! bind 127.0.0.1:8080 then do not clash, and the grader's clients connect inside the
//! run's namespace ([`Netns::connect_tcp`]).
//!
//! The namespace is made before fork on a short-lived thread (network namespace
//! membership is per thread, unshare(2)), which also brings `lo` up; the namespace is
//! kept alive by a file descriptor, which the child joins with setns(2) before exec.

use std::fs::File;
use std::io;
use std::net::{SocketAddr, TcpStream};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::sync::Arc;
use std::time::Duration;

use nix::sched::{CloneFlags, setns, unshare};
use nix::sys::socket::{AddressFamily, SockFlag, SockType, socket};

use super::userns::Sandbox;

/// A network namespace held open by a file descriptor, or one owned by the run's user
/// namespace (`userns.rs`), which only its holder process can make sockets in.
#[derive(Debug)]
pub(crate) enum Netns {
    Own(OwnedFd),
    InUserns(Arc<Sandbox>),
}

impl Netns {
    /// Start making a new namespace with `lo` up (needs CAP_SYS_ADMIN) on a thread of
    /// its own, so the ~1 ms it takes overlaps the rest of the run's preparation.
    pub(crate) fn create_in_background() -> NetnsJob {
        NetnsJob(
            std::thread::Builder::new()
                .name("proclab-netns".into())
                .spawn(make),
        )
    }

    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        match self {
            Netns::Own(fd) => fd.as_fd(),
            Netns::InUserns(sandbox) => sandbox.net_fd(),
        }
    }

    /// Connect to `addr` from inside the namespace. The socket keeps the namespace it
    /// was created in, so the stream works from any thread afterwards.
    pub(crate) fn connect_tcp(&self, addr: SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
        let fd = match self {
            Netns::Own(fd) => fd.try_clone()?,
            Netns::InUserns(sandbox) => {
                let socket = sandbox.tcp_socket(addr.is_ipv6())?;
                return connect_timeout(TcpStream::from(socket), addr, timeout);
            }
        };
        std::thread::spawn(move || -> io::Result<TcpStream> {
            setns(&fd, CloneFlags::CLONE_NEWNET)?;
            TcpStream::connect_timeout(&addr, timeout)
        })
        .join()
        .map_err(|_| io::Error::other("connect thread panicked"))?
    }
}

/// `TcpStream::connect_timeout` for a socket made elsewhere: a non-blocking connect,
/// then poll(2) for writability and SO_ERROR for the result.
fn connect_timeout(
    stream: TcpStream,
    addr: SocketAddr,
    timeout: Duration,
) -> io::Result<TcpStream> {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    use nix::sys::socket::SockaddrStorage;
    stream.set_nonblocking(true)?;
    match nix::sys::socket::connect(stream.as_raw_fd(), &SockaddrStorage::from(addr)) {
        Ok(()) => {}
        Err(nix::errno::Errno::EINPROGRESS) => {
            let ms = u16::try_from(timeout.as_millis()).unwrap_or(u16::MAX);
            let mut fds = [PollFd::new(stream.as_fd(), PollFlags::POLLOUT)];
            if poll(&mut fds, PollTimeout::from(ms))? == 0 {
                return Err(io::ErrorKind::TimedOut.into());
            }
            if let Some(e) = stream.take_error()? {
                return Err(e);
            }
        }
        Err(e) => return Err(e.into()),
    }
    stream.set_nonblocking(false)?;
    Ok(stream)
}

/// Can runs here get a private network namespace, from the grader itself or from a user
/// namespace of their own (as `prepare.rs` decides)? Tried once per process. Without
/// one, two servers that bind the same port at once clash.
pub(crate) fn available() -> Result<(), String> {
    static PROBE: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    PROBE
        .get_or_init(|| {
            if super::caps::has(super::caps::CAP_SYS_ADMIN) {
                Netns::create_in_background()
                    .join()
                    .map(drop)
                    .map_err(|e| format!("cannot make a network namespace: {e}"))
            } else {
                Sandbox::create()
                    .map(drop)
                    .map_err(|e| format!("no CAP_SYS_ADMIN and no user namespace ({e})"))
            }
        })
        .clone()
}

/// A namespace being made; [`NetnsJob::join`] waits for it.
pub(crate) struct NetnsJob(io::Result<std::thread::JoinHandle<io::Result<Netns>>>);

impl NetnsJob {
    pub(crate) fn join(self) -> io::Result<Netns> {
        self.0?
            .join()
            .map_err(|_| io::Error::other("namespace thread panicked"))?
    }
}

/// Runs on a thread that ends right after: namespace membership is per thread.
fn make() -> io::Result<Netns> {
    unshare(CloneFlags::CLONE_NEWNET)?;
    loopback_up()?;
    let fd = OwnedFd::from(File::open("/proc/thread-self/ns/net")?);
    Ok(Netns::Own(fd))
}

/// `ip link set lo up`: SIOCGIFFLAGS then SIOCSIFFLAGS with IFF_UP (netdevice(7)).
/// nix has no wrapper for these interface ioctls, hence the minimal libc call.
pub(crate) fn loopback_up() -> io::Result<()> {
    let sock = socket(
        AddressFamily::Inet,
        SockType::Datagram,
        SockFlag::SOCK_CLOEXEC,
        None,
    )?;
    // SAFETY: ifreq is plain old data; zeroed is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *dst = *src as libc::c_char;
    }
    // SAFETY: valid socket fd and a properly initialised ifreq for these requests.
    unsafe {
        if libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) < 0 {
            return Err(io::Error::last_os_error());
        }
        req.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
        if libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &req) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}
