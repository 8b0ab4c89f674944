//! Building a student's Cargo crate before grading it.
//!
//! The crate's sources are first copied to a staging folder under the output folder, so a
//! build never writes into the class folder (a `Cargo.lock` appearing there would change
//! the submission's content key). The build runs there with its own `CARGO_TARGET_DIR`
//! (students never share or pollute each other's build), and the executable is taken
//! from Cargo's JSON messages rather than guessed from the package name.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use super::child::{End, Target, supervise, tail};
use super::hash::crate_files;

/// Why a crate produced no executable.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The student's fault: the crate does not compile, or builds no binary.
    #[error("{0}")]
    Failed(String),
    /// The batch was stopped during the build.
    #[error("build interrupted")]
    Stopped,
    /// The build command could not be started at all.
    #[error("cannot run {program}: {source}")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
}

/// Copy the crate's source files (see [`crate_files`]) to `staging`, replacing what was there.
pub fn stage(crate_dir: &Path, staging: &Path) -> std::io::Result<()> {
    if staging.exists() {
        std::fs::remove_dir_all(staging)?;
    }
    for file in crate_files(crate_dir) {
        let relative = file.strip_prefix(crate_dir).unwrap_or(&file);
        let to = staging.join(relative);
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::copy(&file, &to)?;
    }
    Ok(())
}

/// Build `crate_dir` with `command` (argv) into `target_dir`; the path of the binary built.
pub fn build(
    crate_dir: &Path,
    command: &[String],
    target_dir: &Path,
    timeout: Duration,
    stop: &AtomicBool,
) -> Result<PathBuf, BuildError> {
    let Some((program, args)) = command.split_first() else {
        return Err(BuildError::Failed("empty build command".into()));
    };
    let mut cmd = Command::new(program);
    cmd.args(args)
        .current_dir(crate_dir)
        .env("CARGO_TARGET_DIR", target_dir)
        .env("CARGO_TERM_COLOR", "never");
    let done =
        supervise(cmd, timeout, stop, Target::Group).map_err(|source| BuildError::Spawn {
            program: program.clone(),
            source,
        })?;
    let diagnostics = tail(&done.stderr, 30);
    match done.end {
        End::Stopped => return Err(BuildError::Stopped),
        End::TimedOut => {
            return Err(BuildError::Failed(format!(
                "build did not finish within {} s\n{diagnostics}",
                timeout.as_secs()
            )));
        }
        End::Exited(status) if !status.success() => {
            return Err(BuildError::Failed(format!(
                "`{}` failed ({status})\n{diagnostics}",
                command.join(" ")
            )));
        }
        End::Exited(_) => {}
    }
    executables(&done.stdout)
        .pop()
        .ok_or_else(|| BuildError::Failed("the crate built no binary (no src/main.rs?)".into()))
}

/// Executables named by Cargo's `compiler-artifact` JSON messages, in order.
fn executables(stdout: &[u8]) -> Vec<PathBuf> {
    String::from_utf8_lossy(stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter_map(|msg| msg.get("executable")?.as_str().map(PathBuf::from))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_executable_from_cargo_messages() {
        let out = br#"{"reason":"compiler-artifact","executable":null}
{"reason":"compiler-artifact","executable":"/t/release/server"}
{"reason":"build-finished","success":true}
"#;
        assert_eq!(executables(out), vec![PathBuf::from("/t/release/server")]);
    }
}
