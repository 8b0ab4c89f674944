//! Whole-program measurement of start+join: each side is a program run from launch to
//! exit — `mp-start-join METHOD N` (the Rust peer) against `python3 mp_start_join.py
//! METHOD N 0`, or `mp-start-join raw N` — so start-up, the forkserver's launch and
//! shutdown, and every one of the N start+joins (tails included) count, on both sides
//! alike. Each ratio compares two programs run in the same round, and the order of the
//! two alternates from one round to the next (so neither side always runs right after
//! the other); each ratio is the median over rounds of that round's ratio, as in
//! `paired`. A program's time runs from its `posix_spawn` to `waitpid`'s return, nothing
//! else in between (the deadline is a poll on a pidfd, not a watchdog thread started per
//! run). Each program runs in a process group of its own, and whatever it leaves running
//! after its exit (Python's forkserver outlives its program) is waited for, untimed,
//! before the next program starts: no run shares the machine with the previous one's
//! leftovers.

use crate::stats::{median, median_ratio};
use anyhow::{Context, Result, bail};
use nix::fcntl::OFlag;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sched::{CpuSet, sched_getaffinity, sched_setaffinity};
use nix::spawn::{PosixSpawnAttr, PosixSpawnFileActions, PosixSpawnFlags, posix_spawn};
use nix::sys::signal::{Signal, kill};
use nix::sys::stat::Mode;
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};
use std::ffi::CString;
use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

/// A program ready to be launched: its arguments and environment already made.
struct Program {
    path: CString,
    argv: Vec<CString>,
    env: Vec<CString>,
    actions: PosixSpawnFileActions,
    attr: PosixSpawnAttr,
    /// Run on this CPU alone (the launcher moves itself there for the run; the program
    /// inherits its affinity), or wherever the scheduler puts it.
    cpu: Option<usize>,
}

impl Program {
    /// `argv` with stdin and stdout on /dev/null (stderr inherited) and our environment.
    fn new(argv: &[String], cpu: Option<usize>) -> Result<Program> {
        let argv: Vec<CString> = argv
            .iter()
            .map(|a| CString::new(a.as_bytes()))
            .collect::<Result<_, _>>()?;
        let env: Vec<CString> = std::env::vars_os()
            .map(|(k, v)| {
                use std::os::unix::ffi::OsStrExt;
                CString::new([k.as_bytes(), b"=", v.as_bytes()].concat())
            })
            .collect::<Result<_, _>>()?;
        let mut actions = PosixSpawnFileActions::init().context("posix_spawn_file_actions")?;
        for (fd, flags) in [(0, OFlag::O_RDONLY), (1, OFlag::O_WRONLY)] {
            actions
                .add_open(fd, c"/dev/null", flags, Mode::empty())
                .context("posix_spawn_file_actions_addopen")?;
        }
        // A process group of its own (pgid = its pid), so its leftovers can be found.
        let mut attr = PosixSpawnAttr::init().context("posix_spawnattr_init")?;
        attr.set_pgroup(Pid::from_raw(0))
            .context("posix_spawnattr_setpgroup")?;
        attr.set_flags(PosixSpawnFlags::POSIX_SPAWN_SETPGROUP)
            .context("posix_spawnattr_setflags")?;
        Ok(Program {
            path: argv.first().context("empty command")?.clone(),
            argv,
            env,
            actions,
            attr,
            cpu,
        })
    }

    /// Launches the program and waits for it: the wall time from the launch to its exit,
    /// with nothing else timed (no thread started, no argument built meanwhile). Fails
    /// if it does not exit 0 within `timeout` (it is killed then).
    fn time(&self, timeout: Duration) -> Result<Duration> {
        let Some(cpu) = self.cpu else {
            return self.time_here(timeout);
        };
        let me = Pid::from_raw(0);
        let before = sched_getaffinity(me).context("sched_getaffinity")?;
        let mut one = CpuSet::new();
        one.set(cpu).context("CpuSet::set")?;
        sched_setaffinity(me, &one).context("sched_setaffinity")?;
        let took = self.time_here(timeout);
        sched_setaffinity(me, &before).context("sched_setaffinity")?;
        took
    }

    /// `time` with the launcher's affinity as it is.
    fn time_here(&self, timeout: Duration) -> Result<Duration> {
        let t0 = Instant::now();
        let pid = posix_spawn(
            self.path.as_c_str(),
            &self.actions,
            &self.attr,
            &self.argv,
            &self.env,
        )
        .with_context(|| format!("cannot start {:?}", self.argv))?;
        // The deadline: poll a pidfd (readable at exit) rather than a watchdog thread.
        // SAFETY: pidfd_open takes a pid and flags; nix 0.31 has no wrapper.
        let raw = unsafe { libc::syscall(libc::SYS_pidfd_open, pid.as_raw(), 0) };
        if raw >= 0 {
            // SAFETY: the kernel just returned this fd to us.
            let pidfd = unsafe { OwnedFd::from_raw_fd(raw as i32) };
            let ms = u16::try_from(timeout.as_millis()).unwrap_or(u16::MAX);
            let mut fds = [PollFd::new(pidfd.as_fd(), PollFlags::POLLIN)];
            if let Ok(0) = poll(&mut fds, PollTimeout::from(ms)) {
                let _ = kill(pid, Signal::SIGKILL);
                let _ = waitpid(pid, None);
                bail!("{:?} took longer than {timeout:?}", self.argv);
            }
        }
        let status = waitpid(pid, None).context("waitpid")?;
        let took = t0.elapsed();
        settle(pid);
        if status != WaitStatus::Exited(pid, 0) {
            bail!("{:?} failed: {status:?}", self.argv);
        }
        Ok(took)
    }
}

/// Untimed, after a program's exit: waits until the processes it left in its group
/// (`pgid`) have exited too, reaping them (they are ours: `run` makes this process a
/// child subreaper). After 10 s the group is killed.
fn settle(pgid: Pid) {
    let group = Pid::from_raw(-pgid.as_raw());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match waitpid(group, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => {
                if Instant::now() > deadline {
                    let _ = kill(group, Signal::SIGKILL);
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(_) => return, // ECHILD: none left
        }
    }
}

/// One program's wall times.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WholeWay {
    /// `raw_fork`, `mp_fork`, `mp_forkserver`, `py_forkserver`, with `_N`.
    pub name: String,
    /// Start+joins in one run of the program.
    pub n: u64,
    /// The command line (the interpreter and binaries by their file names).
    pub command: String,
    /// Wall time of each round's run, in seconds.
    pub secs: Vec<f64>,
}

/// All programs over all rounds.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Whole {
    /// The programs, pair by pair (each pair runs its rounds; the two alternate order).
    pub ways: Vec<WholeWay>,
    /// `/proc/loadavg` before and after the measurement.
    #[serde(default)]
    pub loadavg: Vec<String>,
}

impl Whole {
    /// The median over rounds of `a`'s wall time divided by `b`'s in the same round.
    pub fn ratio(&self, a: &str, b: &str) -> Option<f64> {
        let wa = self.ways.iter().find(|w| w.name == a)?;
        let wb = self.ways.iter().find(|w| w.name == b)?;
        median_ratio(&wa.secs, &wb.secs)
    }

    /// The median wall time of `name`, in seconds.
    pub fn median_s(&self, name: &str) -> Option<f64> {
        median(&self.ways.iter().find(|w| w.name == name)?.secs)
    }
}

/// Runs `fork_rounds` rounds of fork against raw fork (`n_fork` start+joins a run) and
/// `forkserver_rounds` of the forkserver against Python's, for each of `n_forkserver`.
pub fn run(
    fork_rounds: usize,
    forkserver_rounds: usize,
    n_fork: u64,
    n_forkserver: &[u64],
) -> Result<Whole> {
    let rust = crate::env::workspace_bin("mp-start-join")?;
    let py = crate::env::python()?;
    let script = crate::env::peers_dir().join("mp_start_join.py");
    let s = |p: &std::path::Path| p.display().to_string();
    let rust_way = |name: &str, way: &str, n: u64| {
        let argv = vec![s(&rust), way.to_string(), n.to_string()];
        (format!("{name}_{n}"), n, argv, None)
    };
    // The last CPU we may use, for the pinned pair.
    let cpu = {
        let set = sched_getaffinity(Pid::from_raw(0)).context("sched_getaffinity")?;
        (0..CpuSet::count())
            .rev()
            .find(|&c| set.is_set(c).unwrap_or(false))
    };
    let pinned = |(name, n, argv, _): (String, u64, Vec<String>, Option<usize>)| {
        (format!("{name}_pinned"), n, argv, cpu)
    };
    // Pairs: (a, b, rounds); the ratio targets divide one by the other. The fork pair
    // also runs pinned, both programs on the same single CPU (see BENCHMARKS.md).
    let mut pairs = vec![
        (
            rust_way("raw_fork", "raw", n_fork),
            rust_way("mp_fork", "fork", n_fork),
            fork_rounds,
        ),
        (
            pinned(rust_way("raw_fork", "raw", n_fork)),
            pinned(rust_way("mp_fork", "fork", n_fork)),
            fork_rounds,
        ),
    ];
    for &n in n_forkserver {
        let py_argv = vec![
            s(&py),
            s(&script),
            "forkserver".into(),
            n.to_string(),
            "0".into(),
        ];
        pairs.push((
            rust_way("mp_forkserver", "forkserver", n),
            (format!("py_forkserver_{n}"), n, py_argv, None),
            forkserver_rounds,
        ));
    }
    let short = |argv: &[String]| {
        argv.iter()
            .map(|a| a.rsplit('/').next().unwrap_or(a).to_string())
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut out = Whole::default();
    let mut programs = Vec::new();
    for (a, b, _) in &pairs {
        for (name, n, argv, cpu) in [a, b] {
            out.ways.push(WholeWay {
                name: name.clone(),
                n: *n,
                command: short(argv),
                secs: Vec::new(),
            });
            programs.push(Program::new(argv, *cpu)?);
        }
    }
    // Leftovers of a program (orphans) become our children, to be reaped by `settle`.
    nix::sys::prctl::set_child_subreaper(true).context("PR_SET_CHILD_SUBREAPER")?;
    out.loadavg.push(crate::env::loadavg());
    let timeout = Duration::from_secs(60);
    for p in &programs {
        p.time(timeout)?; // warm-up: page cache, the interpreter's .pyc files
    }
    let most = pairs.iter().map(|(_, _, r)| *r).max().unwrap_or(0);
    for round in 0..most {
        for (i, (_, _, rounds)) in pairs.iter().enumerate() {
            if round >= *rounds {
                continue;
            }
            // a then b in even rounds, b then a in odd ones.
            let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
            for k in order {
                let w = 2 * i + k;
                let took = programs[w].time(timeout)?;
                out.ways[w].secs.push(took.as_secs_f64());
            }
        }
    }
    out.loadavg.push(crate::env::loadavg());
    Ok(out)
}
