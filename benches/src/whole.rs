//! Whole-program measurement of start+join: each side is a program run from launch to
//! exit — `mp-start-join METHOD N` (the Rust peer) against `python3 mp_start_join.py
//! METHOD N 0` — so start-up, the forkserver's launch and shutdown, and every one of the
//! N start+joins (tails included) count, on both sides alike. Runs interleave round by
//! round; each ratio is the median over rounds of that round's ratio, as in `paired`.
//! A program's time runs from its `posix_spawn` to `waitpid`'s return, nothing else in
//! between (the deadline is a poll on a pidfd, not a watchdog thread started per run).

use crate::stats::median;
use anyhow::{Context, Result, bail};
use nix::fcntl::OFlag;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::spawn::{PosixSpawnAttr, PosixSpawnFileActions, posix_spawn};
use nix::sys::signal::{Signal, kill};
use nix::sys::stat::Mode;
use nix::sys::wait::{WaitStatus, waitpid};
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
}

impl Program {
    /// `argv` with stdin and stdout on /dev/null (stderr inherited) and our environment.
    fn new(argv: &[String]) -> Result<Program> {
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
        Ok(Program {
            path: argv.first().context("empty command")?.clone(),
            argv,
            env,
            actions,
            attr: PosixSpawnAttr::init().context("posix_spawnattr_init")?,
        })
    }

    /// Launches the program and waits for it: the wall time from the launch to its exit,
    /// with nothing else timed (no thread started, no argument built meanwhile). Fails
    /// if it does not exit 0 within `timeout` (it is killed then).
    fn time(&self, timeout: Duration) -> Result<Duration> {
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
        if status != WaitStatus::Exited(pid, 0) {
            bail!("{:?} failed: {status:?}", self.argv);
        }
        Ok(took)
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
    /// The programs, in run order within a round.
    pub ways: Vec<WholeWay>,
}

impl Whole {
    /// The median over rounds of `a`'s wall time divided by `b`'s in the same round.
    pub fn ratio(&self, a: &str, b: &str) -> Option<f64> {
        let wa = self.ways.iter().find(|w| w.name == a)?;
        let wb = self.ways.iter().find(|w| w.name == b)?;
        let r: Vec<f64> = wa.secs.iter().zip(&wb.secs).map(|(x, y)| x / y).collect();
        median(&r)
    }

    /// The median wall time of `name`, in seconds.
    pub fn median_s(&self, name: &str) -> Option<f64> {
        median(&self.ways.iter().find(|w| w.name == name)?.secs)
    }
}

/// Runs `rounds` rounds: fork against raw fork (`n_fork` start+joins a run) and the
/// forkserver against Python's for each of `n_forkserver`.
pub fn run(rounds: usize, n_fork: u64, n_forkserver: &[u64]) -> Result<Whole> {
    let rust = crate::env::workspace_bin("mp-start-join")?;
    let py = crate::env::python()?;
    let script = crate::env::peers_dir().join("mp_start_join.py");
    let s = |p: &std::path::Path| p.display().to_string();
    let mut plan: Vec<(String, u64, Vec<String>)> = vec![
        (
            format!("raw_fork_{n_fork}"),
            n_fork,
            vec![s(&rust), "raw".into(), n_fork.to_string()],
        ),
        (
            format!("mp_fork_{n_fork}"),
            n_fork,
            vec![s(&rust), "fork".into(), n_fork.to_string()],
        ),
    ];
    for &n in n_forkserver {
        plan.push((
            format!("mp_forkserver_{n}"),
            n,
            vec![s(&rust), "forkserver".into(), n.to_string()],
        ));
        plan.push((
            format!("py_forkserver_{n}"),
            n,
            vec![
                s(&py),
                s(&script),
                "forkserver".into(),
                n.to_string(),
                "0".into(),
            ],
        ));
    }
    let short = |argv: &[String]| {
        argv.iter()
            .map(|a| a.rsplit('/').next().unwrap_or(a).to_string())
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut out = Whole {
        ways: plan
            .iter()
            .map(|(name, n, argv)| WholeWay {
                name: name.clone(),
                n: *n,
                command: short(argv),
                secs: Vec::new(),
            })
            .collect(),
    };
    let timeout = Duration::from_secs(60);
    let programs: Vec<Program> = plan
        .iter()
        .map(|(_, _, argv)| Program::new(argv))
        .collect::<Result<_>>()?;
    for p in &programs {
        p.time(timeout)?; // warm-up: page cache, the interpreter's .pyc files
    }
    for _ in 0..rounds {
        for (i, p) in programs.iter().enumerate() {
            out.ways[i].secs.push(p.time(timeout)?.as_secs_f64());
        }
    }
    Ok(out)
}
