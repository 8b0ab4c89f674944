//! The run's own cgroups: a process cap (`pids.max`), a memory cap for the whole tree,
//! and `cgroup.kill` (cgroup v2) to empty it at the end in one write.
//!
//! Machines differ: here `pids` and `memory` are cgroup v1 controllers and `cgroup.kill`
//! lives in the v2 hierarchy mounted at `/sys/fs/cgroup/unified`; a pure-v2 machine has
//! all three in one directory. Mounts are found in /proc/self/mountinfo and the run's
//! cgroups are created *below the tracer's own* (/proc/self/cgroup), so an outer limit
//! (a test's safety net, a container) still applies to the run. What cannot be set up
//! is reported as an inactive layer; the process cap is then enforced through ptrace.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use super::options::CgroupMode;
use crate::ledger::{Layer, Limits, Pid};

/// The cgroups of one run.
#[derive(Debug, Default)]
pub(crate) struct Cgroups {
    /// Directory with `pids.max` (v1 `pids` or v2).
    pids: Option<PathBuf>,
    /// Directory with the memory cap (v1 `memory.limit_in_bytes` or v2 `memory.max`).
    memory: Option<(PathBuf, bool)>,
    /// v2 directory with `cgroup.kill`.
    unified: Option<PathBuf>,
    pub layers: Vec<Layer>,
}

struct Mount {
    point: PathBuf,
    v2: bool,
    options: String,
}

fn mounts() -> Vec<Mount> {
    let info = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    info.lines()
        .filter_map(|line| {
            // "36 25 0:31 / /sys/fs/cgroup/pids rw,relatime shared:12 - cgroup cgroup rw,pids"
            let (left, right) = line.split_once(" - ")?;
            let point = left.split(' ').nth(4)?;
            let mut right = right.split(' ');
            let fstype = right.next()?;
            let options = right.nth(1).unwrap_or("").to_string();
            (fstype == "cgroup" || fstype == "cgroup2").then(|| Mount {
                point: PathBuf::from(point.replace("\\040", " ")),
                v2: fstype == "cgroup2",
                options,
            })
        })
        .collect()
}

/// The tracer's own cgroup path in the hierarchy that has `controller` ("" for v2).
fn own_path(controller: &str) -> Option<String> {
    let text = fs::read_to_string("/proc/self/cgroup").ok()?;
    text.lines().find_map(|line| {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        let matches = if controller.is_empty() {
            controllers.is_empty()
        } else {
            controllers.split(',').any(|c| c == controller)
        };
        matches.then(|| path.trim_start_matches('/').to_string())
    })
}

static RUN_COUNTER: AtomicU32 = AtomicU32::new(0);

/// Create `<mount>/<own>/proclab/<run-id>`, removing empty leftovers of dead graders.
fn make_run_dir(mount: &Path, own: &str) -> std::io::Result<PathBuf> {
    let base = mount.join(own).join("proclab");
    let run = base.join(format!(
        "{}-{}",
        std::process::id(),
        RUN_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    if let Ok(entries) = fs::read_dir(&base) {
        for entry in entries.flatten() {
            let name = entry.file_name();
            let owner = name
                .to_string_lossy()
                .split('-')
                .next()
                .and_then(|p| p.parse::<u32>().ok());
            if owner.is_some_and(|pid| !Path::new(&format!("/proc/{pid}")).exists()) {
                let _ = fs::remove_dir(entry.path());
            }
        }
    }
    // Another run may remove `base` between our two calls (see `Cgroups::remove`).
    let mut tries = 0;
    loop {
        fs::create_dir_all(&base)?;
        match fs::create_dir(&run) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && tries < 10 => tries += 1,
            other => return other.map(|()| run),
        }
    }
}

fn layer(name: &str, active: bool, detail: impl Into<String>) -> Layer {
    Layer {
        name: name.into(),
        active,
        detail: detail.into(),
    }
}

impl Cgroups {
    /// Set up what this machine offers. Never fails: missing pieces become inactive layers.
    pub(crate) fn create(limits: &Limits, mode: CgroupMode) -> Cgroups {
        let mut cg = Cgroups::default();
        if mode == CgroupMode::Off {
            for name in ["pids-cgroup", "memory-cgroup", "cgroup-kill"] {
                cg.layers
                    .push(layer(name, false, "cgroups disabled (option)"));
            }
            return cg;
        }
        let mounts = mounts();
        // v2 first: it gives cgroup.kill, and on a pure-v2 machine pids and memory too.
        let v2_dir = mounts.iter().find(|m| m.v2).and_then(|m| {
            let own = own_path("")?;
            make_run_dir(&m.point, &own).ok()
        });
        let v1 = |controller: &str| {
            let mount = mounts
                .iter()
                .find(|m| !m.v2 && m.options.split(',').any(|o| o == controller))?;
            let own = own_path(controller)?;
            Some(make_run_dir(&mount.point, &own))
        };

        // Tasks (threads too) are capped at twice the process cap: the kernel holds a fork
        // bomb there, ptrace enforces the exact process cap (threads excluded).
        let task_cap = u64::from(limits.max_processes) * 2 + 8;
        let pids = match v1("pids") {
            Some(Ok(dir)) => Some(dir),
            Some(Err(e)) => {
                cg.layers
                    .push(layer("pids-cgroup", false, format!("cannot create: {e}")));
                None
            }
            None => v2_dir.clone().filter(|d| d.join("pids.max").exists()),
        };
        if let Some(dir) = pids {
            match fs::write(dir.join("pids.max"), task_cap.to_string()) {
                Ok(()) => {
                    cg.layers.push(layer(
                        "pids-cgroup",
                        true,
                        format!("{} (pids.max {task_cap})", dir.display()),
                    ));
                    cg.pids = Some(dir);
                }
                Err(e) => {
                    cg.layers.push(layer(
                        "pids-cgroup",
                        false,
                        format!("cannot set pids.max: {e}"),
                    ));
                    cg.rmdir_later(dir);
                }
            }
        } else if !cg.layers.iter().any(|l| l.name == "pids-cgroup") {
            cg.layers
                .push(layer("pids-cgroup", false, "no writable pids controller"));
        }

        let memory = match v1("memory") {
            Some(Ok(dir)) => Some((dir, false)),
            Some(Err(e)) => {
                cg.layers
                    .push(layer("memory-cgroup", false, format!("cannot create: {e}")));
                None
            }
            None => v2_dir
                .clone()
                .filter(|d| d.join("memory.max").exists())
                .map(|d| (d, true)),
        };
        if let Some((dir, v2)) = memory {
            let file = if v2 {
                "memory.max"
            } else {
                "memory.limit_in_bytes"
            };
            match fs::write(dir.join(file), limits.memory_bytes.to_string()) {
                Ok(()) => {
                    // Without swap accounting a hog could swap instead of hitting the cap.
                    if v2 {
                        let _ = fs::write(dir.join("memory.swap.max"), "0");
                    } else {
                        let _ = fs::write(
                            dir.join("memory.memsw.limit_in_bytes"),
                            limits.memory_bytes.to_string(),
                        );
                    }
                    let detail = format!("{} ({file} {})", dir.display(), limits.memory_bytes);
                    cg.layers.push(layer("memory-cgroup", true, detail));
                    cg.memory = Some((dir, v2));
                }
                Err(e) => {
                    cg.layers.push(layer(
                        "memory-cgroup",
                        false,
                        format!("cannot set {file}: {e}"),
                    ));
                    if !v2 {
                        cg.rmdir_later(dir);
                    }
                }
            }
        } else if !cg.layers.iter().any(|l| l.name == "memory-cgroup") {
            cg.layers.push(layer(
                "memory-cgroup",
                false,
                "no writable memory controller",
            ));
        }

        match v2_dir {
            Some(dir) if dir.join("cgroup.kill").exists() => {
                cg.layers
                    .push(layer("cgroup-kill", true, dir.display().to_string()));
                cg.unified = Some(dir);
            }
            Some(dir) => {
                cg.layers
                    .push(layer("cgroup-kill", false, "kernel has no cgroup.kill"));
                cg.rmdir_later(dir);
            }
            None => cg.layers.push(layer(
                "cgroup-kill",
                false,
                "no writable cgroup v2 hierarchy",
            )),
        }
        cg
    }

    fn rmdir_later(&mut self, dir: PathBuf) {
        let _ = fs::remove_dir(dir);
    }

    fn dirs(&self) -> Vec<&Path> {
        let mut dirs: Vec<&Path> = Vec::new();
        for dir in [
            self.pids.as_deref(),
            self.memory.as_ref().map(|(d, _)| d.as_path()),
            self.unified.as_deref(),
        ]
        .into_iter()
        .flatten()
        {
            if !dirs.contains(&dir) {
                dirs.push(dir);
            }
        }
        dirs
    }

    /// Move `pid` (the stopped child, before exec) into every cgroup of the run.
    /// A cgroup it cannot join is dropped and its layer marked inactive.
    pub(crate) fn add(&mut self, pid: Pid) {
        for dir in self
            .dirs()
            .into_iter()
            .map(Path::to_path_buf)
            .collect::<Vec<_>>()
        {
            if let Err(e) = fs::write(dir.join("cgroup.procs"), pid.to_string()) {
                for l in &mut self.layers {
                    if l.active && l.detail.starts_with(&dir.display().to_string()) {
                        l.active = false;
                        l.detail = format!("cannot join {}: {e}", dir.display());
                    }
                }
                if self.pids.as_deref() == Some(&dir) {
                    self.pids = None;
                }
                if self.memory.as_ref().is_some_and(|(d, _)| d == &dir) {
                    self.memory = None;
                }
                if self.unified.as_deref() == Some(&dir) {
                    self.unified = None;
                }
            }
        }
    }

    /// Path of `cgroup.kill`, if the run has one (used from other threads).
    pub(crate) fn kill_file(&self) -> Option<PathBuf> {
        self.unified.as_ref().map(|d| d.join("cgroup.kill"))
    }

    /// Did the kernel refuse a fork at `pids.max`?
    pub(crate) fn pids_cap_hit(&self) -> bool {
        let Some(dir) = &self.pids else { return false };
        read_counter(&dir.join("pids.events"), "max") > 0
    }

    /// How many processes the memory cgroup's OOM killer has killed.
    pub(crate) fn oom_kills(&self) -> u64 {
        match &self.memory {
            Some((dir, true)) => read_counter(&dir.join("memory.events"), "oom_kill"),
            Some((dir, false)) => read_counter(&dir.join("memory.oom_control"), "oom_kill"),
            None => 0,
        }
    }

    /// Pids still in the run's cgroups.
    pub(crate) fn members(&self) -> Vec<Pid> {
        let mut out = Vec::new();
        for dir in self.dirs() {
            let text = fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
            out.extend(text.lines().filter_map(|l| l.trim().parse::<Pid>().ok()));
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Remove the (empty) cgroups; retried briefly while the last tasks are released.
    /// The shared `proclab` parent goes too when no other run uses it, so a cgroup the
    /// tracer was started in (a test's safety net) can itself be removed afterwards.
    pub(crate) fn remove(&self) {
        for dir in self.dirs() {
            for _ in 0..50 {
                if fs::remove_dir(dir).is_ok() || !dir.exists() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            if let Some(base) = dir.parent() {
                let _ = fs::remove_dir(base);
            }
        }
    }
}

impl Drop for Cgroups {
    /// A run that failed before it started leaves no directories behind.
    fn drop(&mut self) {
        self.remove();
    }
}

/// `key N` in a flat keyed file (pids.events, memory.oom_control, memory.events).
fn read_counter(file: &Path, key: &str) -> u64 {
    fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .find_map(|line| {
            let (k, v) = line.split_once(' ')?;
            (k == key).then(|| v.trim().parse().ok()).flatten()
        })
        .unwrap_or(0)
}

/// Kill everything in a cgroup through its `cgroup.kill` file (SIGKILL to every member,
/// race-free against forks: see cgroups(7)).
pub(crate) fn kill_through(file: &Path) {
    let _ = fs::write(file, "1");
}
