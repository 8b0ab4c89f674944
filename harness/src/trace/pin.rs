//! Where the traced tree runs: the tracer thread pins itself (and so the child it forks)
//! to one CPU, so the tree and the tracer share a cache and parallel runs spread out.

use std::sync::atomic::{AtomicUsize, Ordering};

use nix::unistd::Pid;

/// Pin this thread (and so the child it forks) to one CPU it may run on: the `turn`-th
/// allowed one (modulo their number) when given. Otherwise runs started one after
/// another take the allowed CPUs in turn, so parallel runs of one grader spread over the
/// machine instead of sharing a CPU. Returns the CPU and the affinity to restore once
/// the tree is gone.
pub(super) fn pin_cpu(
    turn: Option<usize>,
) -> Result<(usize, nix::sched::CpuSet), nix::errno::Errno> {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let allowed = nix::sched::sched_getaffinity(Pid::from_raw(0))?;
    let cpus: Vec<usize> = (0..nix::sched::CpuSet::count())
        .filter(|&c| allowed.is_set(c).unwrap_or(false))
        .collect();
    if cpus.is_empty() {
        return Err(nix::errno::Errno::EINVAL);
    }
    // Start from the pid, so that separate graders (grade-class workers) spread over the
    // CPUs instead of all taking the first; successive runs in one process take turns.
    let turn =
        turn.unwrap_or_else(|| std::process::id() as usize + NEXT.fetch_add(1, Ordering::Relaxed));
    let cpu = cpus[turn % cpus.len()];
    let mut set = nix::sched::CpuSet::new();
    set.set(cpu)?;
    nix::sched::sched_setaffinity(Pid::from_raw(0), &set)?;
    Ok((cpu, allowed))
}
