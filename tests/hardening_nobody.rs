//! Running proclab as `nobody`: copies every user can reach, and `setpriv`.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::common::proclab;

/// A temp dir every user can enter holding copies of proclab and the good Rust
/// start-target fixture (the target dir may be out of `nobody`'s reach).
pub fn world_readable_copies() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let copy = |from: &Path, name: &str| {
        let to = dir.path().join(name);
        std::fs::copy(from, &to).unwrap();
        std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o755)).unwrap();
        to
    };
    let proclab = copy(&proclab(), "proclab");
    let good = copy(
        Path::new(env!("CARGO_BIN_EXE_fx-start-target-good")),
        "start-target-good",
    );
    (dir, proclab, good)
}

/// `cmd args…` as `nobody` through `setpriv`, or None where there is no `setpriv`.
pub fn as_nobody(program: &Path, args: &[&str], cwd: &Path) -> Option<Command> {
    if Path::new("/usr/bin/setpriv").exists() || Path::new("/bin/setpriv").exists() {
        let mut cmd = Command::new("setpriv");
        cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(program)
            .args(args)
            .current_dir(cwd)
            .env("HOME", cwd)
            .env_remove("PYTHONUNBUFFERED");
        return Some(cmd);
    }
    None
}
