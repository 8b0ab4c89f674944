//! Syscalls of interest: their seccomp stop (entry) and, when the result matters, their
//! exit stop. After a seccomp stop the tracee is resumed with PTRACE_SYSCALL only when
//! the result is needed, so it stops once more at that syscall's exit and then goes on
//! with PTRACE_CONT (seccomp(2), "SECCOMP_RET_TRACE"; ptrace(2), "Syscall-stops").

use nix::unistd::Pid;

use super::fds::{self, FdKind};
use super::fence;
use super::memory;
use super::sigchld::Disposition;
use super::sockets;
use super::stops;
use super::syscalls::{self, Call, SignalTarget};
use super::tracer_loop::Tracer;
use crate::ledger::{EventKind, IoDir, LimitKind, Stream};

/// What to do at a task's next syscall-exit stop.
#[derive(Debug)]
pub(crate) enum ExitWait {
    /// A write to our stdout/stderr pipe, bytes read at entry; committed with the
    /// return value (a partial write commits only what was written).
    Write {
        stream: Stream,
        bytes: Vec<u8>,
    },
    SocketIo {
        inode: u64,
        dir: IoDir,
    },
    Reap {
        waitid_info: Option<u64>,
        /// Sleeps until a child exits (see `Call::Wait`).
        blocking: bool,
    },
    Bind {
        addr: String,
    },
    Listen {
        fd: u64,
        inode: u64,
    },
    Accept,
    /// rt_sigaction(SIGCHLD) that changes the disposition: the new one, read at
    /// entry (the kernel copies it then), recorded if the call succeeds.
    Sigchld(Disposition),
    /// A clock read on the virtual clock: add the offset to its result.
    Clock(super::vclock::ClockFix),
    /// A kernel wait whose timeout the virtual clock took over (`vclock/timed_waits.rs`).
    TimedWait,
    /// A signal sent on the virtual clock: its target acts on it before the sender goes
    /// on (`vclock/gate.rs`).
    SignalSent,
}

/// Most iovecs a gathered write is read from (IOV_MAX).
const MAX_IOV: usize = 1024;

impl Tracer {
    /// PTRACE_EVENT_SECCOMP: one of the filtered syscalls is about to run.
    pub(crate) fn on_seccomp(&mut self, tid: Pid) {
        let info = match nix::sys::ptrace::syscall_info(tid) {
            Ok(info) if info.op == libc::PTRACE_SYSCALL_INFO_SECCOMP => info,
            _ => return stops::resume(tid, 0),
        };
        // SAFETY: `op` says the seccomp member of the union is the valid one.
        let (nr, args) = unsafe { (info.u.seccomp.nr, info.u.seccomp.args) };
        if self.vclock.is_some() && self.on_clock_syscall(tid, nr, args) {
            return;
        }
        let call = syscalls::decode(nr, args);
        if self.stopping {
            return stops::resume(tid, 0);
        }
        let tgid = self.tasks.get(&tid).map_or(tid, |t| t.tgid);
        match call {
            Call::Write { fd, .. } | Call::Writev { fd, .. } => {
                match fds::classify(tid, fd, &self.pipes, &mut self.pidfds) {
                    FdKind::Stream(stream) => {
                        if self.gates.enter(stream, tid, call) {
                            self.start_write(tid, stream, call);
                        }
                        // else: held at this stop until the write in flight returns.
                    }
                    FdKind::Socket(inode) => self.sample_io(tid, tgid, inode, IoDir::Write),
                    FdKind::Other => stops::resume(tid, 0),
                }
            }
            Call::Io { fd, dir } => match fds::lookup(tid, fd, &self.pipes, &mut self.pidfds) {
                FdKind::Socket(inode) => self.sample_io(tid, tgid, inode, dir),
                _ => stops::resume(tid, 0),
            },
            Call::Signal { target, signal } => {
                let target = self.outer_target(target);
                let resolved = match target {
                    SignalTarget::Pidfd(fd) => syscalls::pidfd_target(tid, fd),
                    _ => None,
                };
                let to = match target {
                    SignalTarget::Process(pid) => Some(pid),
                    SignalTarget::Thread(t) => Some(
                        self.tasks
                            .get(&Pid::from_raw(t))
                            .map_or(t, |task| task.tgid.as_raw()),
                    ),
                    SignalTarget::Pidfd(_) => resolved,
                };
                // Recorded at entry, so it precedes the target's death in the ledger.
                if let Some(to) = to.filter(|_| signal != 0) {
                    self.rec.push(EventKind::Signal {
                        from: tgid.as_raw(),
                        to,
                        signal,
                    });
                    self.check_event_cap();
                }
                if !fence::allowed(target, resolved, &self.seen) {
                    fence::deny(tid, libc::EPERM);
                    stops::resume(tid, 0);
                } else if self.vclock.is_some() && signal != 0 {
                    self.wait_exit(tid, ExitWait::SignalSent);
                } else {
                    stops::resume(tid, 0);
                }
            }
            Call::Wait {
                waitid_info,
                blocking,
            } => {
                self.wait_exit(
                    tid,
                    ExitWait::Reap {
                        waitid_info,
                        blocking,
                    },
                );
                if blocking {
                    self.on_blocking_wait(tid);
                }
            }
            Call::Bind { addr, len } => {
                let bytes = memory::read_bytes(tid, addr, (len as usize).min(128));
                match syscalls::inet_sockaddr(&bytes) {
                    Some(addr) => self.wait_exit(
                        tid,
                        ExitWait::Bind {
                            addr: addr.to_string(),
                        },
                    ),
                    None => stops::resume(tid, 0),
                }
            }
            Call::Listen { fd } => match fds::lookup(tid, fd, &self.pipes, &mut self.pidfds) {
                FdKind::Socket(inode) => self.wait_exit(tid, ExitWait::Listen { fd, inode }),
                _ => stops::resume(tid, 0),
            },
            Call::Accept { .. } => self.wait_exit(tid, ExitWait::Accept),
            // No exit stop for a call that changes nothing (a shell swaps its
            // SIGCHLD handler around every fork).
            Call::SigchldAction { act } => match read_sigaction(tid, act) {
                Some(new) if new != self.sigchld.get(tgid) => {
                    self.wait_exit(tid, ExitWait::Sigchld(new))
                }
                _ => stops::resume(tid, 0),
            },
            Call::Peek | Call::Other => stops::resume(tid, 0),
        }
    }

    fn wait_exit(&mut self, tid: Pid, wait: ExitWait) {
        if let Some(task) = self.tasks.get_mut(&tid) {
            task.exit_wait = Some(wait);
            stops::resume_to_exit(tid);
        } else {
            stops::resume(tid, 0);
        }
    }

    /// First use of a connection by a process in a direction: catch the result.
    fn sample_io(&mut self, tid: Pid, tgid: Pid, inode: u64, dir: IoDir) {
        if self.sockets.unsampled(tgid.as_raw(), inode, dir).is_some() {
            self.wait_exit(tid, ExitWait::SocketIo { inode, dir });
        } else {
            stops::resume(tid, 0);
        }
    }

    /// The writer `tid` holds the gate of `stream`: read its bytes and let it write.
    pub(crate) fn start_write(&mut self, tid: Pid, stream: Stream, call: Call) {
        let room = self.limits.output_bytes.saturating_sub(self.output_bytes) as usize;
        let bytes = match call {
            Call::Write { buf, count, .. } => {
                memory::read_bytes(tid, buf, (count as usize).min(room))
            }
            Call::Writev { iov, iovcnt, .. } => {
                let iov = memory::read_iovecs(tid, iov, iovcnt, MAX_IOV);
                memory::gather(tid, &iov, room)
            }
            _ => Vec::new(),
        };
        match self.tasks.get_mut(&tid) {
            Some(task) if !self.stopping => {
                task.exit_wait = Some(ExitWait::Write { stream, bytes });
                stops::resume_to_exit(tid);
            }
            _ => {
                self.gates.forget(tid);
                stops::resume(tid, 0);
            }
        }
    }

    /// A syscall-exit stop we asked for.
    pub(crate) fn on_syscall_exit(&mut self, tid: Pid) {
        let Some(task) = self.tasks.get_mut(&tid) else {
            return stops::resume(tid, 0);
        };
        let tgid = task.tgid;
        let wait = task.exit_wait.take();
        let ret = match nix::sys::ptrace::syscall_info(tid) {
            // SAFETY: `op` says the exit member of the union is the valid one.
            Ok(info) if info.op == libc::PTRACE_SYSCALL_INFO_EXIT => unsafe { info.u.exit.sval },
            _ => -1,
        };
        match wait {
            Some(ExitWait::SignalSent) => return self.after_signal_sent(tid),
            Some(ExitWait::Write { stream, bytes }) => {
                if ret > 0 && !self.stopping {
                    self.commit_write(tid, tgid, stream, bytes, ret as usize);
                }
                let next = self.gates.leave(stream, tid);
                stops::resume(tid, 0);
                if let Some(next) = next {
                    self.start_write(next.tid, stream, next.call);
                }
                return;
            }
            Some(ExitWait::SocketIo { inode, dir }) if ret > 0 => {
                if let Some(conn) = self.sockets.unsampled(tgid.as_raw(), inode, dir) {
                    let peer = conn.peer.clone();
                    self.sockets.mark_sampled(tgid.as_raw(), inode, dir);
                    self.rec.push(EventKind::SocketIo {
                        pid: tgid.as_raw(),
                        peer,
                        dir,
                        len: ret as usize,
                    });
                }
            }
            Some(ExitWait::Reap { waitid_info, .. }) => {
                let reaped = match waitid_info {
                    None => ret,
                    Some(info) if ret == 0 => {
                        memory::read_u32(tid, info + syscalls::SIGINFO_PID_OFFSET)
                            .map_or(0, |p| p as i32 as i64)
                    }
                    Some(_) => 0,
                };
                if reaped > 0 {
                    let reaped = self.outer_pid(reaped as i32);
                    // wait4 reaps; a waitid may have been WNOHANG-less WNOWAIT: left in.
                    if waitid_info.is_none()
                        && let Some(vc) = self.vclock.as_mut()
                    {
                        vc.gate.zombies.remove(&Pid::from_raw(reaped));
                    }
                    self.rec.push(EventKind::Reap {
                        reaper: tgid.as_raw(),
                        reaped,
                    });
                }
            }
            Some(ExitWait::Bind { addr }) if ret < 0 => {
                self.rec.push(EventKind::BindFailed {
                    pid: tgid.as_raw(),
                    addr,
                    errno: -ret as i32,
                });
            }
            Some(ExitWait::Listen { fd, inode }) if ret == 0 => {
                if let Some((local, _)) = sockets::endpoints(tgid.as_raw(), fd, inode) {
                    self.rec.push(EventKind::Listen {
                        pid: tgid.as_raw(),
                        addr: local.to_string(),
                    });
                }
            }
            Some(ExitWait::Accept) if ret >= 0 => {
                if let FdKind::Socket(inode) =
                    fds::lookup(tid, ret as u64, &self.pipes, &mut self.pidfds)
                    && let Some((local, Some(peer))) =
                        sockets::endpoints(tgid.as_raw(), ret as u64, inode)
                {
                    self.sockets.add_conn(inode, peer.to_string());
                    self.rec.push(EventKind::Accept {
                        pid: tgid.as_raw(),
                        local: local.to_string(),
                        peer: peer.to_string(),
                    });
                }
            }
            Some(ExitWait::Clock(fix)) => self.fix_clock_read(tid, fix, ret),
            Some(ExitWait::TimedWait) => self.end_timed_wait(tid, ret),
            Some(ExitWait::Sigchld(new)) if ret == 0 => {
                self.sigchld.set(tgid, new);
                self.rec.push(EventKind::SigchldDisposition {
                    pid: tgid.as_raw(),
                    ignore: new.ignore,
                    nocldwait: new.nocldwait,
                });
            }
            _ => {}
        }
        stops::resume(tid, 0);
        self.check_event_cap();
    }

    fn commit_write(
        &mut self,
        tid: Pid,
        tgid: Pid,
        stream: Stream,
        mut bytes: Vec<u8>,
        written: usize,
    ) {
        bytes.truncate(written);
        let room = self.limits.output_bytes.saturating_sub(self.output_bytes) as usize;
        let over = written > room;
        bytes.truncate(room);
        self.output_bytes += bytes.len() as u64;
        if !bytes.is_empty() {
            self.rec.push(EventKind::Write {
                pid: tgid.as_raw(),
                tid: tid.as_raw(),
                stream,
                text: String::from_utf8_lossy(&bytes).into_owned(),
                len: written,
            });
        }
        if over {
            self.output_truncated = true;
            let detail = format!("more than {} bytes of output", self.limits.output_bytes);
            self.limit(LimitKind::Output, detail);
        } else {
            self.check_event_cap();
        }
    }
}

/// The disposition in the kernel `struct sigaction` at `act`: the handler, then
/// `unsigned long sa_flags` (the kernel's layout on x86_64 and aarch64, not glibc's).
/// None if unreadable (the call then fails with EFAULT).
fn read_sigaction(tid: Pid, act: u64) -> Option<Disposition> {
    let raw = memory::read_bytes(tid, act, 16);
    let handler = u64::from_ne_bytes(raw.get(..8)?.try_into().ok()?);
    let flags = u64::from_ne_bytes(raw.get(8..16)?.try_into().ok()?);
    Some(Disposition::from_raw(handler, flags))
}

impl Tracer {
    /// The grader's pid for a pid the program passed or got (they differ in the run's
    /// own pid namespace, `pidns.rs`); unchanged when unknown or without one.
    fn outer_pid(&self, pid: i32) -> i32 {
        self.pidns
            .as_ref()
            .and_then(|ns| ns.outer_pid(pid))
            .unwrap_or(pid)
    }

    /// `target` with its pid or group id in the grader's terms.
    fn outer_target(&self, target: SignalTarget) -> SignalTarget {
        match target {
            SignalTarget::Process(pid) if pid > 0 => SignalTarget::Process(self.outer_pid(pid)),
            SignalTarget::Process(group) if group < -1 => {
                SignalTarget::Process(-self.outer_pid(-group))
            }
            SignalTarget::Thread(tid) => SignalTarget::Thread(self.outer_pid(tid)),
            other => other,
        }
    }
}
