//! The seccomp filters installed in the root child just before exec (inherited by every
//! process it creates, across fork and exec: seccomp(2)).
//!
//! 1. The *trace* filter returns `SECCOMP_RET_TRACE` only for the syscalls the ledger
//!    needs, so every other syscall runs at full speed and creates no ptrace stop. A
//!    filter cannot tell which file a descriptor names, so every write/writev stops; the
//!    tracer classifies the descriptor (our stdout/stderr pipe, an accepted connection,
//!    anything else) and lets uninteresting ones go at once. Filtering on `fd <= 2`
//!    would miss `os.dup(1)` and sockets, which are never 0–2. Reads are traced only
//!    through the socket-only calls (recvfrom, recvmsg: Python's and Rust's `recv`):
//!    tracing read(2) would stop every file read (the dynamic loader, each Python
//!    import) for the rare server that reads a connection with read(2), and such a
//!    server's replies (write/send) still show which process served the client.
//! 2. The *guard* filter closes the ways out of tracing: `clone(CLONE_UNTRACED)` fails
//!    with EPERM (ptrace(2): CLONE_UNTRACED stops the tracer from auto-attaching), and
//!    `clone3` fails with ENOSYS (its flags live in memory a filter cannot read; libc
//!    then falls back to `clone`). `ptrace` fails with EPERM: a program staying uid 0
//!    could otherwise attach to the grader, which runs as the same user.
//!
//! `rt_sigaction` stops only when it sets SIGCHLD's action (rules on its first two
//! arguments): the ledger needs SIGCHLD's disposition to tell a kernel reap from a
//! zombie, while every other sigaction (Python sets a dozen at start-up) keeps the fast
//! path.
//!
//! Both are built before fork; the child only calls seccomp(2).

use std::collections::BTreeMap;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

/// Syscalls that stop the tracee with PTRACE_EVENT_SECCOMP.
pub(crate) const TRACED: &[libc::c_long] = &[
    // Output and connection traffic.
    libc::SYS_write,
    libc::SYS_writev,
    libc::SYS_sendto,
    libc::SYS_sendmsg,
    libc::SYS_recvfrom,
    libc::SYS_recvmsg,
    // Signals between processes.
    libc::SYS_kill,
    libc::SYS_tkill,
    libc::SYS_tgkill,
    libc::SYS_pidfd_send_signal,
    // Reaps.
    libc::SYS_wait4,
    libc::SYS_waitid,
    // Servers (bind: its failure, e.g. a port taken by another program).
    libc::SYS_bind,
    libc::SYS_listen,
    libc::SYS_accept,
    libc::SYS_accept4,
];

fn arch() -> Result<TargetArch, seccompiler::BackendError> {
    std::env::consts::ARCH.try_into()
}

/// The kernel waits with a timeout the virtual clock takes over (`vclock/timed_waits.rs`),
/// stopped only when they have one: a positive int of ms (poll, epoll_wait, epoll_pwait),
/// a timeout pointer (ppoll, select, pselect6, epoll_pwait2), or a futex wait with one
/// (futex is the hottest call of a threaded program: the rest never stop).
fn timed_wait_rules() -> Result<Vec<(i64, Vec<SeccompRule>)>, seccompiler::BackendError> {
    let positive_ms = |arg: u8| -> Result<Vec<SeccompRule>, seccompiler::BackendError> {
        Ok(vec![SeccompRule::new(vec![
            SeccompCondition::new(arg, SeccompCmpArgLen::Dword, SeccompCmpOp::Ne, 0)?,
            SeccompCondition::new(arg, SeccompCmpArgLen::Dword, SeccompCmpOp::Lt, 1 << 31)?,
        ])?])
    };
    let pointer = |arg: u8| -> Result<Vec<SeccompRule>, seccompiler::BackendError> {
        Ok(vec![SeccompRule::new(vec![SeccompCondition::new(
            arg,
            SeccompCmpArgLen::Qword,
            SeccompCmpOp::Ne,
            0,
        )?])?])
    };
    let futex_wait = |cmd: i32| -> Result<SeccompRule, seccompiler::BackendError> {
        SeccompRule::new(vec![
            SeccompCondition::new(
                1,
                SeccompCmpArgLen::Dword,
                SeccompCmpOp::MaskedEq(u64::from(libc::FUTEX_CMD_MASK as u32)),
                cmd as u64,
            )?,
            SeccompCondition::new(3, SeccompCmpArgLen::Qword, SeccompCmpOp::Ne, 0)?,
        ])
    };
    Ok(vec![
        (libc::SYS_poll, positive_ms(2)?),
        (libc::SYS_epoll_wait, positive_ms(3)?),
        (libc::SYS_epoll_pwait, positive_ms(3)?),
        (libc::SYS_ppoll, pointer(2)?),
        (libc::SYS_select, pointer(4)?),
        (libc::SYS_pselect6, pointer(4)?),
        (libc::SYS_epoll_pwait2, pointer(4)?),
        (
            libc::SYS_futex,
            vec![
                futex_wait(libc::FUTEX_WAIT)?,
                futex_wait(libc::FUTEX_WAIT_BITSET)?,
            ],
        ),
    ])
}

/// The two filters, in the order they are installed.
/// `virtual_clock`: also stop clock reads and sleeps (`vclock/`).
pub(crate) fn build(virtual_clock: bool) -> Result<Vec<BpfProgram>, seccompiler::BackendError> {
    let arch = arch()?;
    let clock_calls: &[libc::c_long] = if virtual_clock {
        super::vclock::TRACED
    } else {
        &[]
    };
    let mut trace_rules: BTreeMap<i64, Vec<SeccompRule>> = TRACED
        .iter()
        .chain(clock_calls)
        .map(|&nr| (nr, Vec::new()))
        .collect();
    // A query (act == NULL, as Python makes for every signal at start-up) changes nothing.
    let sigchld = SeccompRule::new(vec![
        SeccompCondition::new(
            0,
            SeccompCmpArgLen::Dword,
            SeccompCmpOp::Eq,
            libc::SIGCHLD as u64,
        )?,
        SeccompCondition::new(1, SeccompCmpArgLen::Qword, SeccompCmpOp::Ne, 0)?,
    ])?;
    trace_rules.insert(libc::SYS_rt_sigaction, vec![sigchld]);
    if virtual_clock {
        trace_rules.extend(timed_wait_rules()?);
    }
    let trace = SeccompFilter::new(
        trace_rules,
        SeccompAction::Allow,
        SeccompAction::Trace(0),
        arch,
    )?;

    let untraced = SeccompRule::new(vec![SeccompCondition::new(
        0,
        SeccompCmpArgLen::Qword,
        SeccompCmpOp::MaskedEq(libc::CLONE_UNTRACED as u64),
        libc::CLONE_UNTRACED as u64,
    )?])?;
    let guard_eperm = SeccompFilter::new(
        BTreeMap::from([
            (libc::SYS_clone, vec![untraced]),
            (libc::SYS_ptrace, Vec::new()),
        ]),
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EPERM as u32),
        arch,
    )?;
    let guard_enosys = SeccompFilter::new(
        BTreeMap::from([(libc::SYS_clone3, Vec::new())]),
        SeccompAction::Allow,
        SeccompAction::Errno(libc::ENOSYS as u32),
        arch,
    )?;
    Ok(vec![
        trace.try_into()?,
        guard_eperm.try_into()?,
        guard_enosys.try_into()?,
    ])
}
