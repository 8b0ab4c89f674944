//! A safety net for benches that fork many processes or touch much memory: this process
//! (and so everything it starts) moves into fresh cgroup-v1 `pids` and `memory` groups
//! with limits, and back out when the guard drops. Each group is made *below the cgroup
//! this process is already in* (from /proc/self/cgroup), so any outer limit still holds.
//! Without writable cgroups it falls back to checking free memory.

use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};

const PIDS_ROOT: &str = "/sys/fs/cgroup/pids";
const MEMORY_ROOT: &str = "/sys/fs/cgroup/memory";
/// Every group made here starts with this; the pid that made it ends the name.
const PREFIX: &str = "proclab-bench-";

/// Keeps this process in its limited cgroups until dropped. Drop it after everything
/// it started has ended (after `multiprocessing`'s guard, which stops the forkserver).
#[derive(Debug)]
pub struct SafetyNet {
    groups: Vec<PathBuf>,
}

impl SafetyNet {
    /// Enters cgroups capping this process tree at `pids_max` tasks and `memory_max`
    /// bytes. If cgroups cannot be used, requires `memory_max` bytes of `MemAvailable`
    /// instead, and errors when there is less.
    pub fn enter(name: &str, pids_max: u64, memory_max: u64) -> Result<SafetyNet> {
        remove_stale();
        let leaf = format!("{PREFIX}{name}-{}", std::process::id());
        let mut net = SafetyNet { groups: Vec::new() };
        let entered = (|| -> Result<()> {
            net.join(&own_group(PIDS_ROOT, "pids")?, &leaf, "pids.max", pids_max)?;
            net.join(
                &own_group(MEMORY_ROOT, "memory")?,
                &leaf,
                "memory.limit_in_bytes",
                memory_max,
            )?;
            Ok(())
        })();
        if let Err(e) = entered {
            eprintln!("safety net: no cgroups ({e:#}); checking free memory instead");
            let avail = mem_available()?;
            if avail < memory_max {
                bail!("only {avail} bytes of memory available, this bench needs {memory_max}");
            }
        }
        Ok(net)
    }

    fn join(&mut self, root: &Path, leaf: &str, limit_file: &str, limit: u64) -> Result<()> {
        if !root.join("cgroup.procs").exists() {
            bail!("{} is not a cgroup-v1 hierarchy", root.display());
        }
        let dir = root.join(leaf);
        std::fs::create_dir(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        self.groups.push(dir.clone());
        write(&dir.join(limit_file), &limit.to_string())?;
        write(&dir.join("cgroup.procs"), &std::process::id().to_string())
    }
}

impl Drop for SafetyNet {
    fn drop(&mut self) {
        // Back to the group we came from (cgroup.procs moves every thread), then the
        // now-empty group can be removed.
        for dir in self.groups.drain(..).rev() {
            if let Some(root) = dir.parent() {
                let _ = write(&root.join("cgroup.procs"), &std::process::id().to_string());
            }
            if let Err(e) = std::fs::remove_dir(&dir) {
                eprintln!("safety net: cannot remove {}: {e}", dir.display());
            }
        }
    }
}

/// The directory of this process's own group in the v1 hierarchy of `controller`
/// mounted at `root` (a line `N:controller[,…]:/path` of /proc/self/cgroup).
fn own_group(root: &str, controller: &str) -> Result<PathBuf> {
    let text =
        std::fs::read_to_string("/proc/self/cgroup").context("cannot read /proc/self/cgroup")?;
    let path = text
        .lines()
        .filter_map(|l| {
            let mut parts = l.splitn(3, ':');
            parts.next();
            parts.next().zip(parts.next())
        })
        .find(|(ctrls, _)| ctrls.split(',').any(|c| c == controller))
        .map(|(_, p)| p.trim_start_matches('/').to_string())
        .with_context(|| format!("no {controller} controller in /proc/self/cgroup"))?;
    Ok(Path::new(root).join(path))
}

/// Removes groups left by a bench that exited without dropping its net (a failed bench
/// exits at once): only ours, and only empty ones (rmdir refuses a group with tasks).
fn remove_stale() {
    for root in [PIDS_ROOT, MEMORY_ROOT] {
        let Ok(dir) = std::fs::read_dir(root) else {
            continue;
        };
        for entry in dir.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let Some(pid) = name.strip_prefix(PREFIX).and_then(|r| r.rsplit('-').next()) else {
                continue;
            };
            let alive = pid
                .parse::<i32>()
                .is_ok_and(|p| Path::new(&format!("/proc/{p}")).exists());
            if !alive {
                let _ = std::fs::remove_dir(entry.path());
            }
        }
    }
}

fn write(path: &Path, value: &str) -> Result<()> {
    std::fs::write(path, value)
        .with_context(|| format!("cannot write {value} to {}", path.display()))
}

/// `MemAvailable` from `/proc/meminfo`, in bytes.
pub fn mem_available() -> Result<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").context("cannot read /proc/meminfo")?;
    info.lines()
        .find_map(|l| l.strip_prefix("MemAvailable:"))
        .and_then(|rest| rest.split_whitespace().next()?.parse::<u64>().ok())
        .map(|kib| kib * 1024)
        .context("no MemAvailable in /proc/meminfo")
}
