//! One start+join of each way to make a process (or thread) that the benches compare:
//! raw `nix` fork, `posix_spawn` and `std::process::Command` of `/bin/true`, a thread,
//! the `multiprocessing` library with each start method, and Python's scripts.

use anyhow::{Context, Result, bail};
use multiprocessing::{Process, StartMethod};
use nix::spawn::{PosixSpawnAttr, PosixSpawnFileActions, posix_spawn};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, fork};
use serde::{Deserialize, Serialize};
use std::ffi::CString;
use std::process::Command;

/// The child's target for the library benches: nothing, so what is timed is the start
/// and the join.
pub fn noop(_: ()) {}

/// A library process for `method`, not started.
pub fn mp_process(method: StartMethod) -> Process {
    Process::with_args(noop, ()).with_start_method(method)
}

/// `multiprocessing` start + join with `method`.
pub fn mp_start_join(method: StartMethod) -> Result<()> {
    let mut p = mp_process(method);
    p.start().with_context(|| format!("start ({method})"))?;
    let code = p.join().with_context(|| format!("join ({method})"))?;
    if code != 0 {
        bail!("{method} child exited with {code}");
    }
    Ok(())
}

/// Raw `fork` + `_exit(0)` in the child, `waitpid` in the parent.
pub fn raw_fork() -> Result<Pid> {
    // SAFETY: the child only calls _exit, which is async-signal-safe.
    match unsafe { fork() }.context("fork")? {
        // SAFETY: _exit ends the child at once; nix has no wrapper.
        ForkResult::Child => unsafe { libc::_exit(0) },
        ForkResult::Parent { child } => Ok(child),
    }
}

/// Waits for `pid` and checks that it exited 0.
pub fn wait_ok(pid: Pid) -> Result<()> {
    match waitpid(pid, None).context("waitpid")? {
        WaitStatus::Exited(_, 0) => Ok(()),
        other => bail!("child {pid} ended with {other:?}"),
    }
}

/// Raw fork + waitpid.
pub fn raw_fork_join() -> Result<()> {
    wait_ok(raw_fork()?)
}

/// A ready-to-use `posix_spawn` of `/bin/true` (glibc implements it with
/// `clone(CLONE_VM | CLONE_VFORK)`: the vfork way, no page-table copy).
pub struct TinySpawn {
    path: CString,
    args: [CString; 1],
    actions: PosixSpawnFileActions,
    attr: PosixSpawnAttr,
}

impl TinySpawn {
    /// Prepares the spawn of `/bin/true`.
    pub fn new() -> Result<TinySpawn> {
        Ok(TinySpawn {
            path: CString::new("/bin/true")?,
            args: [CString::new("true")?],
            actions: PosixSpawnFileActions::init().context("posix_spawn_file_actions_init")?,
            attr: PosixSpawnAttr::init().context("posix_spawnattr_init")?,
        })
    }

    /// Spawns `/bin/true` and returns its pid.
    pub fn spawn(&self) -> Result<Pid> {
        let env: [CString; 0] = [];
        posix_spawn(
            self.path.as_c_str(),
            &self.actions,
            &self.attr,
            &self.args,
            &env,
        )
        .context("posix_spawn(/bin/true)")
    }

    /// Spawns `/bin/true` and waits for it.
    pub fn spawn_join(&self) -> Result<()> {
        wait_ok(self.spawn()?)
    }
}

/// `std::process::Command::new("/bin/true").status()`.
pub fn command_true() -> Result<()> {
    let status = Command::new("/bin/true")
        .status()
        .context("cannot run /bin/true")?;
    if !status.success() {
        bail!("/bin/true failed: {status}");
    }
    Ok(())
}

/// `std::thread::spawn` + join of an empty closure: the floor.
pub fn thread_join() -> Result<()> {
    std::thread::spawn(|| {})
        .join()
        .map_err(|_| anyhow::anyhow!("thread panicked"))
}

/// What `peers/mp_start_join.py` prints.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PythonTiming {
    /// `fork`, `spawn`, `forkserver` or `os_fork`.
    pub method: String,
    /// Timed start+joins.
    pub n: u64,
    /// Median per start+join, in nanoseconds.
    pub median_ns: f64,
    /// Mean per start+join, in nanoseconds.
    pub mean_ns: f64,
    /// Fastest start+join, in nanoseconds.
    pub min_ns: f64,
    /// Python version.
    pub python: String,
    /// The interpreter that ran the script.
    pub executable: String,
}

/// Runs `peers/mp_start_join.py METHOD N` with the real interpreter and parses its JSON.
pub fn python_start_join(method: &str, n: u64) -> Result<PythonTiming> {
    python_start_join_warm(method, n, 3)
}

/// [`python_start_join`] with `warmup` untimed start+joins first.
pub fn python_start_join_warm(method: &str, n: u64, warmup: u64) -> Result<PythonTiming> {
    let py = crate::env::python()?;
    let script = crate::env::peers_dir().join("mp_start_join.py");
    let out = Command::new(&py)
        .arg(&script)
        .args([method, &n.to_string(), &warmup.to_string()])
        .output()
        .with_context(|| format!("cannot run {} {}", py.display(), script.display()))?;
    if !out.status.success() {
        bail!(
            "{} {method} failed: {}",
            script.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.trim()).with_context(|| format!("bad output {text:?}"))
}
