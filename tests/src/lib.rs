//! Helpers shared by the end-to-end tests: an outer safety net for hostile programs and
//! a /proc scan for processes left behind.
//!
//! Hostile fixtures (fork bombs, memory hogs) must never endanger the machine that runs
//! the tests: a containment bug in proclab should fail a test, not take the host down.
//! [`SafetyNet`] puts a command in cgroups of the test's own, with a hard process cap and
//! a memory cap, independent of anything proclab sets up itself.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

const PIDS_ROOT: &str = "/sys/fs/cgroup/pids";
const MEMORY_ROOT: &str = "/sys/fs/cgroup/memory";
const UNIFIED_PIDS_ROOT: &str = "/sys/fs/cgroup";

/// cgroups of the test's own that cap a command's processes and memory.
#[derive(Debug)]
pub struct SafetyNet {
    dirs: Vec<PathBuf>,
}

impl SafetyNet {
    /// A net with at most `max_pids` tasks and `memory_bytes` of memory, or an error
    /// saying why none can be made here (the caller then skips with that reason).
    pub fn new(max_pids: u32, memory_bytes: u64) -> Result<Self, String> {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "proclab-test-net-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let mut net = SafetyNet { dirs: Vec::new() };
        let pids_root = if Path::new(PIDS_ROOT).join("cgroup.procs").exists() {
            PIDS_ROOT
        } else if Path::new(UNIFIED_PIDS_ROOT)
            .join("cgroup.subtree_control")
            .exists()
        {
            UNIFIED_PIDS_ROOT
        } else {
            return Err("no pids cgroup controller is mounted".into());
        };
        let pids = Path::new(pids_root).join(&name);
        fs::create_dir(&pids).map_err(|e| format!("cannot create {}: {e}", pids.display()))?;
        net.dirs.push(pids.clone());
        fs::write(pids.join("pids.max"), max_pids.to_string())
            .map_err(|e| format!("cannot set pids.max in {}: {e}", pids.display()))?;
        let memory = Path::new(MEMORY_ROOT).join(&name);
        if Path::new(MEMORY_ROOT).join("cgroup.procs").exists() {
            fs::create_dir(&memory)
                .map_err(|e| format!("cannot create {}: {e}", memory.display()))?;
            net.dirs.push(memory.clone());
            fs::write(
                memory.join("memory.limit_in_bytes"),
                memory_bytes.to_string(),
            )
            .map_err(|e| format!("cannot set memory.limit_in_bytes: {e}"))?;
        } else if pids_root == UNIFIED_PIDS_ROOT {
            fs::write(pids.join("memory.max"), memory_bytes.to_string())
                .map_err(|e| format!("cannot set memory.max: {e}"))?;
        } else {
            return Err("no memory cgroup controller is mounted".into());
        }
        Ok(net)
    }

    /// `program args…` run inside the net: a shell joins the cgroups, then execs it,
    /// so every process it creates is capped from its first instruction.
    pub fn command<S: AsRef<std::ffi::OsStr>>(&self, program: S) -> Command {
        let mut join = String::new();
        for dir in &self.dirs {
            join.push_str(&format!("echo $$ > {}/cgroup.procs && ", dir.display()));
        }
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(format!("{join}exec \"$@\""))
            .arg("safety-net")
            .arg(program);
        command
    }

    /// Pids still in the net.
    pub fn pids(&self) -> Vec<i32> {
        fs::read_to_string(self.dirs[0].join("cgroup.procs"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    }

    /// Kill whatever is left in the net (a containment bug), repeatedly until empty.
    pub fn kill_all(&self) -> usize {
        let mut killed = 0;
        for _ in 0..50 {
            let pids = self.pids();
            if pids.is_empty() {
                break;
            }
            for pid in pids {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
                killed += 1;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        killed
    }
}

impl Drop for SafetyNet {
    fn drop(&mut self) {
        self.kill_all();
        for dir in &self.dirs {
            // proclab nests its run's cgroups inside the net (`<net>/proclab/<run>`) and
            // leaves the empty `proclab` folder: remove the children first, or the net's
            // own folder stays behind.
            remove_nested(dir);
            // An emptied cgroup can be removed once its last task is reaped.
            for _ in 0..100 {
                if fs::remove_dir(dir).is_ok() || !dir.exists() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        }
    }
}

/// Remove the (empty) cgroup folders below `dir`, deepest first.
fn remove_nested(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            remove_nested(&path);
            let _ = fs::remove_dir(&path);
        }
    }
}

/// Which of `pids` still exist as live (non-zombie) processes.
pub fn still_running(pids: &[i32]) -> Vec<i32> {
    pids.iter()
        .copied()
        .filter(|pid| {
            fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|stat| {
                    // The state follows the command's closing parenthesis.
                    let after = stat.rsplit_once(')')?.1.trim_start().chars().next()?;
                    Some(after != 'Z' && after != 'X')
                })
                .unwrap_or(false)
        })
        .collect()
}
