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

use super::cgroup_paths::{make_run_dir, mounts, own_path};
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
    /// Which of the directories above are in v1 hierarchies (the others are v2).
    v1: Vec<PathBuf>,
    pub layers: Vec<Layer>,
}

/// How the child enters the run's cgroups itself, so that no migration takes the
/// kernel's global `cgroup_threadgroup_rwsem` for writing: that waits for an RCU grace
/// period, measured 5–31 ms per run here (the parent writing the child's pid to
/// `cgroup.procs`). A v2 cgroup is entered at birth (clone3 with CLONE_INTO_CGROUP); a
/// v1 cgroup by the child writing `0` to its `tasks` file (a single thread moving
/// itself skips that lock). Built before fork.
pub(crate) struct Joins {
    /// v1 `tasks` files, bit `i` of the child's report is `tasks[i]`.
    pub tasks: Vec<std::ffi::CString>,
    /// The v2 directory, opened for clone3.
    pub v2: Option<std::os::fd::OwnedFd>,
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
            Some(Ok(dir)) => {
                cg.v1.push(dir.clone());
                Some(dir)
            }
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
            Some(Ok(dir)) => {
                cg.v1.push(dir.clone());
                Some((dir, false))
            }
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

    /// What the child needs to join the run's cgroups itself (see [`Joins`]).
    pub(crate) fn joins(&self) -> Joins {
        let tasks = self
            .dirs()
            .into_iter()
            .filter(|d| self.v1.iter().any(|v| v == d))
            .filter_map(|d| {
                std::ffi::CString::new(d.join("tasks").as_os_str().as_encoded_bytes()).ok()
            })
            .collect();
        let v2 = self
            .dirs()
            .into_iter()
            .find(|d| !self.v1.iter().any(|v| v == d))
            .and_then(|d| {
                nix::fcntl::open(
                    d,
                    nix::fcntl::OFlag::O_PATH
                        | nix::fcntl::OFlag::O_DIRECTORY
                        | nix::fcntl::OFlag::O_CLOEXEC,
                    nix::sys::stat::Mode::empty(),
                )
                .ok()
            });
        Joins { tasks, v2 }
    }

    /// Move `pid` (the stopped child, before exec) into every cgroup of the run it did
    /// not join itself (`joined`: bit `i` for `Joins::tasks[i]`; `in_v2`: born in the
    /// v2 cgroup). A cgroup it cannot join is dropped and its layer marked inactive.
    pub(crate) fn add(&mut self, pid: Pid, joined: u64, in_v2: bool) {
        let v1_dirs: Vec<PathBuf> = self
            .dirs()
            .into_iter()
            .filter(|d| self.v1.iter().any(|v| v == d))
            .map(Path::to_path_buf)
            .collect();
        for dir in self
            .dirs()
            .into_iter()
            .map(Path::to_path_buf)
            .collect::<Vec<_>>()
        {
            let done = match v1_dirs.iter().position(|d| *d == dir) {
                Some(i) => i < 64 && joined & (1 << i) != 0,
                None => in_v2,
            };
            if done {
                continue;
            }
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

/// In the forked child (async-signal-safe): enter the v1 cgroups of [`Joins`] and reports which it joined
/// (bit `i`: `tasks[i]`); a cgroup it cannot join is left to the tracer.
pub(crate) fn join_v1(tasks: &[std::ffi::CString], report: std::os::fd::BorrowedFd<'_>) {
    let mut joined = 0u64;
    for (i, file) in tasks.iter().enumerate().take(64) {
        let fd = nix::fcntl::open(
            file.as_c_str(),
            nix::fcntl::OFlag::O_WRONLY | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        );
        if let Ok(fd) = fd
            && nix::unistd::write(&fd, b"0") == Ok(1)
        {
            joined |= 1 << i;
        }
    }
    let _ = nix::unistd::write(report, &joined.to_ne_bytes());
}
