//! The holder's namespaces, through real processes: a socket it makes lives in the run's
//! network (its loopback is up, and the grader reaches a server listening there), and
//! dropping the sandbox ends the holder.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use super::Sandbox;
use crate::trace::netns::Netns;

fn sandbox_or_skip() -> Option<Sandbox> {
    match Sandbox::create() {
        Ok(s) => Some(s),
        Err(e) => {
            println!("SKIPPED: no user namespace here: {e}");
            None
        }
    }
}

#[test]
fn a_server_inside_is_reached_through_the_holders_sockets_only() {
    let Some(sandbox) = sandbox_or_skip() else {
        return;
    };
    let sandbox = Arc::new(sandbox);
    // A listener made inside the namespace, as the submission's would be.
    let listener = TcpListener::from(sandbox.tcp_socket(false).unwrap());
    let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
    nix::sys::socket::bind(
        std::os::fd::AsRawFd::as_raw_fd(&listener),
        &nix::sys::socket::SockaddrIn::from(match addr {
            SocketAddr::V4(a) => a,
            SocketAddr::V6(_) => unreachable!(),
        }),
    )
    .unwrap();
    nix::sys::socket::listen(&listener, nix::sys::socket::Backlog::new(4).unwrap()).unwrap();
    let port = listener.local_addr().unwrap().port();
    let inside: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();

    let netns = Netns::InUserns(Arc::clone(&sandbox));
    let mut client = netns.connect_tcp(inside, Duration::from_secs(5)).unwrap();
    let (mut served, _) = listener.accept().unwrap();
    client.write_all(b"ping").unwrap();
    let mut got = [0u8; 4];
    served.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"ping");
    // The host's loopback is another network: nothing listens there on that port
    // (unless something else happens to, which the test cannot rule out).
    if let Ok(s) = std::net::TcpStream::connect_timeout(&inside, Duration::from_millis(200)) {
        let local = s.local_addr().unwrap();
        assert!(listener.set_nonblocking(true).is_ok());
        assert!(
            listener.accept().is_err(),
            "a host connection from {local} reached the private listener"
        );
    }
}

#[test]
fn dropping_the_sandbox_ends_its_holder() {
    let Some(sandbox) = sandbox_or_skip() else {
        return;
    };
    let holder = sandbox.holder;
    assert!(nix::sys::signal::kill(holder, None).is_ok());
    drop(sandbox);
    assert_eq!(
        nix::sys::signal::kill(holder, None),
        Err(nix::errno::Errno::ESRCH),
        "the holder was killed and reaped"
    );
}
