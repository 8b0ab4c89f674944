//! Servers seen through the trace: which address a process listens on, which
//! connections it accepted, and which processes used each connection.
//!
//! Addresses are asked of the socket itself: the tracer duplicates the tracee's
//! descriptor (pidfd_getfd(2), Linux 5.6; the tracer has the ptrace access it needs) and
//! calls getsockname/getpeername, which gives the real bound port even for
//! `bind(("127.0.0.1", 0))`. Without pidfd_getfd they come from
//! `/proc/<pid>/net/tcp{,6}` (proc(5)), found by the socket's inode; that file lists
//! every socket of the namespace, which in a busy host namespace (thousands of
//! TIME_WAIT sockets) takes milliseconds to read, hence the first way. Both are read at
//! the syscall's exit (a socket appears in /proc/net/tcp only after listen(2)).

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::ledger::{IoDir, Pid};

/// One accepted connection.
#[derive(Debug, Clone)]
pub(crate) struct Conn {
    pub peer: String,
}

/// What the tracer knows about the run's TCP sockets.
#[derive(Debug, Default)]
pub(crate) struct SocketTable {
    /// Accepted connections by socket inode.
    conns: HashMap<u64, Conn>,
    /// (process, connection inode, direction) already recorded as `SocketIo`.
    sampled: HashSet<(Pid, u64, bool)>,
}

impl SocketTable {
    pub(crate) fn add_conn(&mut self, inode: u64, peer: String) {
        self.conns.insert(inode, Conn { peer });
    }

    /// The connection on `inode`, if `pid` has not yet been recorded using it in `dir`.
    pub(crate) fn unsampled(&self, pid: Pid, inode: u64, dir: IoDir) -> Option<&Conn> {
        let conn = self.conns.get(&inode)?;
        (!self.sampled.contains(&(pid, inode, dir == IoDir::Read))).then_some(conn)
    }

    pub(crate) fn mark_sampled(&mut self, pid: Pid, inode: u64, dir: IoDir) {
        self.sampled.insert((pid, inode, dir == IoDir::Read));
    }
}

/// (local, peer) of descriptor `fd` of `pid` (a TCP socket with `inode`); `peer` is
/// None for a listening socket.
pub(crate) fn endpoints(pid: i32, fd: u64, inode: u64) -> Option<(SocketAddr, Option<SocketAddr>)> {
    if let Some(found) = via_pidfd(pid, fd) {
        return Some(found);
    }
    tcp_endpoints(pid, inode).map(|(local, peer)| (local, (peer.port() != 0).then_some(peer)))
}

/// getsockname/getpeername on a duplicate of the tracee's descriptor. nix has no
/// wrappers for pidfd_open(2) and pidfd_getfd(2), hence the raw syscalls.
fn via_pidfd(pid: i32, fd: u64) -> Option<(SocketAddr, Option<SocketAddr>)> {
    use nix::sys::socket::{SockaddrStorage, getpeername, getsockname};
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    let fd = i32::try_from(fd).ok()?;
    let pidfd = super::rawsys::pidfd_open(pid, 0)?;
    // SAFETY: a plain syscall; the returned descriptor is owned right away.
    let sock = unsafe { libc::syscall(libc::SYS_pidfd_getfd, pidfd.as_raw_fd(), fd, 0) };
    if sock < 0 {
        return None;
    }
    let sock = unsafe { OwnedFd::from_raw_fd(sock as i32) };
    let to_std = |addr: SockaddrStorage| -> Option<SocketAddr> {
        if let Some(v4) = addr.as_sockaddr_in() {
            return Some(SocketAddr::V4((*v4).into()));
        }
        let v6: std::net::SocketAddrV6 = (*addr.as_sockaddr_in6()?).into();
        Some(match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(IpAddr::V4(v4), v6.port()),
            None => SocketAddr::V6(v6),
        })
    };
    let local = getsockname::<SockaddrStorage>(sock.as_raw_fd())
        .ok()
        .and_then(to_std)?;
    let peer = getpeername::<SockaddrStorage>(sock.as_raw_fd())
        .ok()
        .and_then(to_std);
    Some((local, peer))
}

/// (local, remote) addresses of the TCP socket with `inode`, as `pid` sees them.
fn tcp_endpoints(pid: Pid, inode: u64) -> Option<(SocketAddr, SocketAddr)> {
    ["tcp", "tcp6"].iter().find_map(|table| {
        let text = std::fs::read_to_string(format!("/proc/{pid}/net/{table}")).ok()?;
        text.lines().skip(1).find_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.get(9)?.parse::<u64>().ok()? != inode {
                return None;
            }
            Some((parse_addr(fields.get(1)?)?, parse_addr(fields.get(2)?)?))
        })
    })
}

/// "0100007F:1F90" or a 32-hex-digit IPv6 address: each 32-bit word is printed in the
/// host's byte order, the port in plain hex.
fn parse_addr(field: &str) -> Option<SocketAddr> {
    let (ip, port) = field.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let words: Option<Vec<[u8; 4]>> = ip
        .as_bytes()
        .chunks(8)
        .map(|w| {
            let w = std::str::from_utf8(w).ok()?;
            Some(u32::from_str_radix(w, 16).ok()?.to_ne_bytes())
        })
        .collect();
    let bytes: Vec<u8> = words?.concat();
    let ip = match bytes.len() {
        4 => IpAddr::V4(Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3])),
        16 => {
            let octets: [u8; 16] = bytes.try_into().ok()?;
            let v6 = Ipv6Addr::from(octets);
            v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4)
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_net_tcp_addresses() {
        if cfg!(target_endian = "little") {
            assert_eq!(
                parse_addr("0100007F:1F90"),
                Some("127.0.0.1:8080".parse().unwrap())
            );
            assert_eq!(
                parse_addr("00000000000000000000000001000000:0050"),
                Some("[::1]:80".parse().unwrap())
            );
            assert_eq!(
                parse_addr("0000000000000000FFFF00000100007F:1F90"),
                Some("127.0.0.1:8080".parse().unwrap())
            );
        }
    }
}
