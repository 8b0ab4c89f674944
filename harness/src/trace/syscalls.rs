//! Decoding a seccomp stop into the call the ledger cares about.
//!
//! Arguments come from PTRACE_GET_SYSCALL_INFO (ptrace(2)), which gives the syscall
//! number and the six raw arguments at a seccomp stop and the return value at the
//! syscall-exit stop, independent of the architecture's register layout.

use nix::unistd::Pid;

use crate::ledger::IoDir;

/// A traced call, decoded at its seccomp stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Call {
    /// write(fd, buf, count)
    Write {
        fd: u64,
        buf: u64,
        count: u64,
    },
    /// writev(fd, iov, iovcnt)
    Writev {
        fd: u64,
        iov: u64,
        iovcnt: u64,
    },
    /// Traffic on a descriptor whose bytes are not recorded (socket reads and sends).
    Io {
        fd: u64,
        dir: IoDir,
    },
    /// kill/tkill/tgkill/pidfd_send_signal; `target` already resolved where possible.
    Signal {
        target: SignalTarget,
        signal: i32,
    },
    /// wait4 (reaped pid is the return value) or waitid (in `siginfo.si_pid`).
    Wait {
        waitid_info: Option<u64>,
        /// It sleeps until a child exits: no WNOHANG, and no stopped or continued
        /// child can end it either.
        blocking: bool,
    },
    /// waitid with WNOWAIT: looks, does not reap.
    Peek,
    /// bind(fd, addr, addrlen)
    Bind {
        addr: u64,
        len: u64,
    },
    Listen {
        fd: u64,
    },
    Accept {
        fd: u64,
    },
    /// rt_sigaction(SIGCHLD, act, …) with a new action at `act` (the filter stops only
    /// for SIGCHLD; a query with `act == NULL` decodes as `Other`).
    SigchldAction {
        act: u64,
    },
    Other,
}

/// Whom a signal was sent to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SignalTarget {
    /// kill(2)'s pid argument: a process, `0` own group, `-1` everyone, `< -1` a group.
    Process(i32),
    /// tkill/tgkill: a thread id (mapped to its process by the tracer).
    Thread(i32),
    /// pidfd_send_signal: a pidfd in the sender's table.
    Pidfd(u64),
}

/// Decode syscall `nr` with `args` (a seccomp stop's data).
pub(crate) fn decode(nr: u64, args: [u64; 6]) -> Call {
    let nr = nr as libc::c_long;
    let [a0, a1, a2, a3, ..] = args;
    match nr {
        libc::SYS_write => Call::Write {
            fd: a0,
            buf: a1,
            count: a2,
        },
        libc::SYS_writev => Call::Writev {
            fd: a0,
            iov: a1,
            iovcnt: a2,
        },
        libc::SYS_sendto | libc::SYS_sendmsg => Call::Io {
            fd: a0,
            dir: IoDir::Write,
        },
        libc::SYS_recvfrom | libc::SYS_recvmsg => Call::Io {
            fd: a0,
            dir: IoDir::Read,
        },
        libc::SYS_kill => Call::Signal {
            target: SignalTarget::Process(a0 as i32),
            signal: a1 as i32,
        },
        libc::SYS_tkill => Call::Signal {
            target: SignalTarget::Thread(a0 as i32),
            signal: a1 as i32,
        },
        libc::SYS_tgkill => Call::Signal {
            target: SignalTarget::Thread(a1 as i32),
            signal: a2 as i32,
        },
        libc::SYS_pidfd_send_signal => Call::Signal {
            target: SignalTarget::Pidfd(a0),
            signal: a1 as i32,
        },
        libc::SYS_wait4 => Call::Wait {
            waitid_info: None,
            blocking: a2 as i32 & (libc::WNOHANG | libc::WUNTRACED | libc::WCONTINUED) == 0,
        },
        libc::SYS_waitid if a3 as i32 & libc::WNOWAIT != 0 => Call::Peek,
        libc::SYS_waitid => Call::Wait {
            waitid_info: Some(a2),
            blocking: a3 as i32 & (libc::WNOHANG | libc::WSTOPPED | libc::WCONTINUED) == 0,
        },
        libc::SYS_bind => Call::Bind { addr: a1, len: a2 },
        libc::SYS_listen => Call::Listen { fd: a0 },
        libc::SYS_accept | libc::SYS_accept4 => Call::Accept { fd: a0 },
        libc::SYS_rt_sigaction if a0 as i32 == libc::SIGCHLD && a1 != 0 => {
            Call::SigchldAction { act: a1 }
        }
        _ => Call::Other,
    }
}

/// An IPv4 or IPv6 socket address from the bytes of a `struct sockaddr` (ip(7), ipv6(7));
/// `None` for other families (a Unix socket's bind is of no interest).
pub(crate) fn inet_sockaddr(bytes: &[u8]) -> Option<std::net::SocketAddr> {
    use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
    let family = i32::from(u16::from_ne_bytes(bytes.get(..2)?.try_into().ok()?));
    let port = u16::from_be_bytes(bytes.get(2..4)?.try_into().ok()?);
    match family {
        libc::AF_INET => {
            let ip: [u8; 4] = bytes.get(4..8)?.try_into().ok()?;
            Some(SocketAddr::from((Ipv4Addr::from(ip), port)))
        }
        libc::AF_INET6 => {
            let ip: [u8; 16] = bytes.get(8..24)?.try_into().ok()?;
            Some(SocketAddr::from((Ipv6Addr::from(ip), port)))
        }
        _ => None,
    }
}

/// The pid behind a pidfd of `tid` (the `Pid:` line of /proc/<tid>/fdinfo/<fd>).
pub(crate) fn pidfd_target(tid: Pid, fd: u64) -> Option<i32> {
    let info = std::fs::read_to_string(format!("/proc/{tid}/fdinfo/{fd}")).ok()?;
    info.lines()
        .find_map(|l| l.strip_prefix("Pid:"))
        .and_then(|v| v.trim().parse().ok())
}

/// Offset of `si_pid` in `siginfo_t` for SIGCHLD on 64-bit Linux: three ints, padding,
/// then the union (sigaction(2)).
pub(crate) const SIGINFO_PID_OFFSET: u64 = 16;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_signals_and_waits() {
        let kill = decode(libc::SYS_kill as u64, [42, 15, 0, 0, 0, 0]);
        assert_eq!(
            kill,
            Call::Signal {
                target: SignalTarget::Process(42),
                signal: 15
            }
        );
        let neg = decode(libc::SYS_kill as u64, [(-7i64) as u64, 9, 0, 0, 0, 0]);
        assert_eq!(
            neg,
            Call::Signal {
                target: SignalTarget::Process(-7),
                signal: 9
            }
        );
        let peek = decode(
            libc::SYS_waitid as u64,
            [0, 0, 0, libc::WNOWAIT as u64, 0, 0],
        );
        assert_eq!(peek, Call::Peek);
        assert_eq!(
            decode(libc::SYS_wait4 as u64, [0; 6]),
            Call::Wait {
                waitid_info: None,
                blocking: true
            }
        );
        let polled = [0, 0, libc::WNOHANG as u64, 0, 0, 0];
        assert_eq!(
            decode(libc::SYS_wait4 as u64, polled),
            Call::Wait {
                waitid_info: None,
                blocking: false
            }
        );
    }

    #[test]
    fn reads_inet_socket_addresses() {
        let mut v4 = vec![0u8; 16];
        v4[..2].copy_from_slice(&(libc::AF_INET as u16).to_ne_bytes());
        v4[2..4].copy_from_slice(&8080u16.to_be_bytes());
        v4[4..8].copy_from_slice(&[127, 0, 0, 1]);
        assert_eq!(inet_sockaddr(&v4), Some("127.0.0.1:8080".parse().unwrap()));
        let mut v6 = vec![0u8; 28];
        v6[..2].copy_from_slice(&(libc::AF_INET6 as u16).to_ne_bytes());
        v6[2..4].copy_from_slice(&9000u16.to_be_bytes());
        v6[23] = 1;
        assert_eq!(inet_sockaddr(&v6), Some("[::1]:9000".parse().unwrap()));
        let mut unix = vec![0u8; 16];
        unix[..2].copy_from_slice(&(libc::AF_UNIX as u16).to_ne_bytes());
        assert_eq!(inet_sockaddr(&unix), None);
        assert_eq!(inet_sockaddr(&v4[..3]), None);
    }
}
