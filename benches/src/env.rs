//! Where things are: the target directory, the results directory, the real Python
//! interpreter, the peer scripts and the workspace's release binaries; and quick mode.

use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

/// True when `PROCLAB_BENCH_QUICK` is set to anything but `0` or empty: benches then use
/// shorter measurement times and smaller sizes (the `just bench-quick` mode).
pub fn quick() -> bool {
    std::env::var("PROCLAB_BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// Picks `full` or `quick` according to [`quick`].
pub fn pick<T>(full: T, quick_value: T) -> T {
    if quick() { quick_value } else { full }
}

/// Criterion's warm-up and measurement times for this mode.
pub fn criterion_times() -> (Duration, Duration) {
    pick(
        (Duration::from_millis(800), Duration::from_secs(3)),
        (Duration::from_millis(200), Duration::from_millis(600)),
    )
}

/// The cargo target directory: `$CARGO_TARGET_DIR`, else derived from the running
/// executable (`<target>/<profile>/deps/<bench>` or `<target>/<profile>/<bin>`).
pub fn target_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return Ok(PathBuf::from(dir));
    }
    Ok(profile_dir()?
        .parent()
        .context("profile directory has no parent")?
        .to_path_buf())
}

/// The directory holding the release binaries of the workspace (`<target>/release` when
/// run by `cargo bench`). `PROCLAB_BIN_DIR` overrides it.
pub fn profile_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("PROCLAB_BIN_DIR") {
        return Ok(PathBuf::from(dir));
    }
    let exe = std::env::current_exe().context("cannot locate the running executable")?;
    let mut dir = exe.parent().context("executable has no parent")?;
    if dir.file_name().is_some_and(|n| n == "deps") {
        dir = dir.parent().context("deps directory has no parent")?;
    }
    Ok(dir.to_path_buf())
}

/// `<target>/proclab-bench`, created if missing: the JSON results of every bench.
pub fn results_dir() -> Result<PathBuf> {
    let dir = target_dir()?.join("proclab-bench");
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(dir)
}

/// A workspace binary (`per-client-server`, `pool-server`, `proclab`…),
/// which `just bench` builds with `cargo build --release` before the benches run.
pub fn workspace_bin(name: &str) -> Result<PathBuf> {
    let path = profile_dir()?.join(name);
    if !path.is_file() {
        bail!(
            "{} is missing: build the workspace binaries first: `cargo build --release --workspace --bins`",
            path.display()
        );
    }
    Ok(path)
}

/// The folder of the Python peer scripts.
pub fn peers_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("peers")
}

/// The real Python interpreter, not the pyenv shim on `PATH` (a bash script that forks
/// helpers on every launch): `$PROCLAB_PYTHON`, else what `python3` reports as
/// `sys.executable`, with symlinks resolved.
pub fn python() -> Result<PathBuf> {
    static PYTHON: OnceLock<std::result::Result<PathBuf, String>> = OnceLock::new();
    PYTHON
        .get_or_init(|| find_python().map_err(|e| format!("{e:#}")))
        .clone()
        .map_err(anyhow::Error::msg)
}

fn find_python() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("PROCLAB_PYTHON") {
        return Ok(PathBuf::from(p));
    }
    let out = Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .context("cannot run python3")?;
    if !out.status.success() {
        bail!(
            "python3 -c 'import sys; print(sys.executable)' failed: {}",
            out.status
        );
    }
    let path = String::from_utf8(out.stdout).context("sys.executable is not UTF-8")?;
    let path = PathBuf::from(path.trim());
    std::fs::canonicalize(&path).with_context(|| format!("cannot resolve {}", path.display()))
}

/// Whether a bench (or one of its parts) named `name` should run, given the positional
/// arguments `cargo bench -- FILTER…` passed: with no filter everything runs, otherwise
/// only names containing one of the filters. Criterion's own flags (`--bench`…) are
/// ignored.
pub fn filter_allows(name: &str) -> bool {
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    filters.is_empty() || filters.iter().any(|f| name.contains(f.as_str()))
}

/// `/proc/loadavg` as read now (empty if unreadable): recorded with measurements taken on
/// a shared machine.
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}
