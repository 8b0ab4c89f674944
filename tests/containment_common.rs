//! The privilege modes a course grades in, and a world-readable copy of proclab and the
//! fixtures to grade in each (issue 13). Used by `containment_modes.rs`.

#![allow(dead_code)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use proclab_tests::bins::proclab;

/// Docker's default capability set (moby's `oci/caps/defaults.go`), for setpriv.
pub const DOCKER_CAPS: &str = "-all,+chown,+dac_override,+fowner,+fsetid,+kill,+setgid,+setuid,\
     +setpcap,+net_bind_service,+net_raw,+sys_chroot,+mknod,+audit_write,+setfcap";

/// Where grading runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Root with every capability, on a bare machine.
    Root,
    /// Root with Docker's default capability bounding set (no CAP_SYS_ADMIN, no
    /// CAP_SYS_PTRACE), user namespaces allowed.
    DockerCaps,
    /// Docker for real: its capabilities and no user namespaces (its seccomp profile).
    DockerCapsNoUserns,
    /// An ordinary user (`nobody`).
    Nobody,
    /// An ordinary user where user namespaces are denied.
    NobodyNoUserns,
}

pub const MODES: [Mode; 5] = [
    Mode::Root,
    Mode::DockerCaps,
    Mode::DockerCapsNoUserns,
    Mode::Nobody,
    Mode::NobodyNoUserns,
];

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Root => "root",
            Mode::DockerCaps => "root, Docker's capabilities",
            Mode::DockerCapsNoUserns => "root, Docker's capabilities, no user namespaces",
            Mode::Nobody => "ordinary user",
            Mode::NobodyNoUserns => "ordinary user, no user namespaces",
        }
    }

    pub fn is_nobody(self) -> bool {
        matches!(self, Mode::Nobody | Mode::NobodyNoUserns)
    }

    pub fn denies_userns(self) -> bool {
        matches!(self, Mode::DockerCapsNoUserns | Mode::NobodyNoUserns)
    }
}

/// Can this machine provide every mode? `Err`: why not (the test then skips).
pub fn modes_available() -> Result<(), String> {
    if !nix::unistd::Uid::effective().is_root() {
        return Err("needs root (to become nobody and to drop capabilities)".into());
    }
    if !Path::new("/usr/bin/setpriv").exists() && !Path::new("/bin/setpriv").exists() {
        return Err("no setpriv here".into());
    }
    if !Path::new("/usr/bin/python3").exists() {
        return Err("no /usr/bin/python3 (an interpreter nobody can run)".into());
    }
    Ok(())
}

/// Does the kernel let unprivileged users make user namespaces?
pub fn userns_allowed() -> bool {
    std::fs::read_to_string("/proc/sys/user/max_user_namespaces")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .is_some_and(|n| n > 0)
        && std::fs::read_to_string("/proc/sys/kernel/unprivileged_userns_clone")
            .map_or(true, |s| s.trim() != "0")
}

/// A temp dir every user can read, holding proclab, the seccomp helper and the files
/// to grade.
pub struct Setup {
    pub dir: tempfile::TempDir,
    pub proclab: PathBuf,
    pub deny_userns: PathBuf,
}

impl Setup {
    pub fn new() -> Setup {
        let dir = tempfile::tempdir().expect("tempdir");
        set_mode(dir.path(), 0o755);
        let exe = |from: &Path, name: &str| {
            let to = dir.path().join(name);
            std::fs::copy(from, &to).expect("copying a binary");
            set_mode(&to, 0o755);
            to
        };
        let proclab = exe(&proclab(), "proclab");
        let deny_userns = exe(Path::new(env!("CARGO_BIN_EXE_deny_userns")), "deny_userns");
        Setup {
            dir,
            proclab,
            deny_userns,
        }
    }

    /// Copy `tests/fixtures/REL` to `NAME` in the setup (mode 0644), creating folders.
    pub fn file(&self, rel: &str, name: &str) -> PathBuf {
        let to = self.dir.path().join(name);
        let mut dir = to.parent().expect("a parent");
        let mut made = Vec::new();
        while !dir.exists() {
            made.push(dir.to_path_buf());
            dir = dir.parent().expect("a parent");
        }
        std::fs::create_dir_all(to.parent().expect("a parent")).expect("mkdir");
        for d in made {
            set_mode(&d, 0o755);
        }
        std::fs::copy(proclab_tests::fixture(rel), &to).expect("copying a fixture");
        set_mode(&to, 0o644);
        to
    }

    /// A folder `name` the mode's user may write.
    pub fn writable_dir(&self, name: &str, mode: Mode) -> PathBuf {
        let dir = self.dir.path().join(name);
        std::fs::create_dir_all(&dir).expect("mkdir");
        if mode.is_nobody() {
            nix::unistd::chown(
                &dir,
                Some(nix::unistd::Uid::from_raw(65534)),
                Some(nix::unistd::Gid::from_raw(65534)),
            )
            .expect("chown");
        }
        dir
    }

    /// `proclab ARGS…` as `mode` runs it.
    pub fn proclab(&self, mode: Mode, args: &[&str]) -> Command {
        let mut cmd = match mode {
            Mode::Root => Command::new(&self.proclab),
            _ => {
                let mut cmd = Command::new("setpriv");
                if mode.is_nobody() {
                    cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups"]);
                } else {
                    cmd.args(["--bounding-set", DOCKER_CAPS, "--inh-caps=-all"]);
                }
                cmd.arg("--");
                if mode.denies_userns() {
                    cmd.arg(&self.deny_userns);
                }
                cmd.arg(&self.proclab);
                cmd
            }
        };
        cmd.args(args)
            .current_dir(self.dir.path())
            .env("HOME", self.dir.path())
            .env("PATH", "/usr/bin:/bin")
            .env("NO_COLOR", "1")
            .env_remove("PYTHONUNBUFFERED");
        cmd
    }
}

fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// A graded submission as the test compares it across modes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub verdict: String,
    pub failing: Vec<String>,
}

/// Verdict and failing checks of a `--format json` report.
pub fn verdict_of(report: &serde_json::Value) -> Verdict {
    let failing = report["checks"]
        .as_array()
        .map(|checks| {
            checks
                .iter()
                .filter(|c| c["passed"] != true)
                .filter_map(|c| c["id"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    Verdict {
        verdict: report["verdict"].as_str().unwrap_or_default().to_string(),
        failing,
    }
}
