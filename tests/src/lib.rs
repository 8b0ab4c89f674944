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

/// Live processes whose command line mentions `needle` (a test's temp dir), each as
/// "pid (state, parent ppid): command line", so a failure says what was left behind.
pub fn processes_mentioning(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in fs::read_dir("/proc").expect("/proc").flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(cmdline) = fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains(needle) {
            let stat = fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
            // The fields after the parenthesised command name: state, ppid, ...
            let rest: Vec<&str> = stat
                .rsplit_once(')')
                .map_or(vec![], |(_, r)| r.split_whitespace().collect());
            let state = rest.first().copied().unwrap_or("?");
            let ppid = rest.get(1).copied().unwrap_or("?");
            found.push(format!(
                "{pid} ({state}, parent {ppid}): {}",
                cmdline.trim_end()
            ));
        }
    }
    found
}

/// The path of a file under tests/fixtures/.
pub fn fixture(path: &str) -> String {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(path)
        .display()
        .to_string()
}

/// The eight scenario packages (each has a binary of the same name), in the lesson's order.
pub const SCENARIOS: [&str; 8] = [
    "start-target",
    "start-subclass",
    "isolation",
    "join-order",
    "daemon",
    "terminate",
    "socket-server",
    "pool-server",
];

/// The workspace's binaries, built on first use into the test's own target directory.
///
/// They belong to other packages (or are bins of this one that `cargo test --test X`
/// does not build), so a test builds what it runs, once per test process, with the same
/// profile and target directory as itself: a clean checkout needs no prior build step.
/// The layers of a JSON report (`proclab grade --format json`): name → (active, detail).
pub fn layers(report: &serde_json::Value) -> std::collections::BTreeMap<String, (bool, String)> {
    report["ledger"]["layers"]
        .as_array()
        .map(|layers| {
            layers
                .iter()
                .map(|l| {
                    (
                        l["name"].as_str().unwrap_or_default().to_string(),
                        (
                            l["active"].as_bool().unwrap_or(false),
                            l["detail"].as_str().unwrap_or_default().to_string(),
                        ),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

pub mod hogs;

/// The Python interpreter itself, as `python3` on PATH reports it (`sys.executable`),
/// not a version manager's shim (whose shell processes would add events of their own).
pub fn python_executable() -> String {
    let out = Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .expect("python3 runs");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

pub mod bins {
    use std::path::{Path, PathBuf};
    use std::process::Command;
    use std::sync::Mutex;

    /// `<target>/<profile>` of the running test binary.
    pub fn profile_dir() -> PathBuf {
        let exe = std::env::current_exe().expect("current_exe");
        exe.parent()
            .and_then(|deps| deps.parent())
            .expect("target layout <target>/<profile>/deps")
            .to_path_buf()
    }

    /// The workspace root.
    pub fn root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("workspace root")
            .to_path_buf()
    }

    /// Build `packages`' binaries (once per test process) into this target dir.
    pub fn build_once(packages: &[&str]) {
        static BUILT: Mutex<Vec<String>> = Mutex::new(Vec::new());
        let mut built = BUILT.lock().unwrap_or_else(|p| p.into_inner());
        let todo: Vec<&str> = packages
            .iter()
            .copied()
            .filter(|p| !built.iter().any(|b| b == p))
            .collect();
        if todo.is_empty() {
            return;
        }
        let dir = profile_dir();
        let profile = match dir.file_name().and_then(|n| n.to_str()) {
            Some("debug") | None => "dev".to_string(),
            Some(other) => other.to_string(),
        };
        let mut cmd = Command::new(env!("CARGO"));
        cmd.args(["build", "--quiet", "--bins", "--profile", &profile]);
        for p in &todo {
            cmd.args(["-p", p]);
        }
        let status = cmd
            .current_dir(root())
            .env("CARGO_TARGET_DIR", dir.parent().expect("target dir"))
            .status()
            .expect("running cargo build");
        assert!(status.success(), "building {todo:?} failed");
        built.extend(todo.iter().map(|s| s.to_string()));
    }

    /// The `proclab` binary.
    pub fn proclab() -> PathBuf {
        build_once(&["proclab"]);
        profile_dir().join("proclab")
    }
}
