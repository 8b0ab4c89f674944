//! Version-manager shims (pyenv, asdf): `python3` on PATH may be a shell script that picks
//! an interpreter and execs it. Run under the tracer, the pyenv shim costs a dozen bash
//! processes and ~100 ms of CPU per run (measured: 170 ms of CPU to grade `start-target`
//! on the virtual clock through the shim, 70 ms with the interpreter itself), more than
//! the lesson's program. `grade-class` asks the shim once, in the class folder, which
//! interpreter it runs, and runs that one directly for every submission
//! (`--keep-shims` keeps the shim).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A run rule whose program was a shim, and the interpreter it now names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub name: String,
    pub shim: PathBuf,
    pub interpreter: PathBuf,
}

/// Longest the shim may take to say which interpreter it runs.
const ASK_TIMEOUT: Duration = Duration::from_secs(10);

/// Replace each Python run rule's program that is a script on PATH by the interpreter
/// it runs, asked in `class_dir` (where a `.python-version` file would choose it).
/// Rules that are already a path, or name a binary, stay as they are.
pub fn resolve(run: &mut BTreeMap<String, Vec<String>>, class_dir: &Path) -> Vec<Resolved> {
    let mut done = Vec::new();
    for argv in run.values_mut() {
        let Some(name) = argv.first().cloned() else {
            continue;
        };
        if name.contains('/') || !name.starts_with("python") {
            continue;
        }
        let Some(shim) = on_path(&name).filter(|p| is_script(p)) else {
            continue;
        };
        if let Some(interpreter) = ask(&shim, class_dir) {
            argv[0] = interpreter.display().to_string();
            done.push(Resolved {
                name,
                shim,
                interpreter,
            });
        }
    }
    done
}

/// The first executable file called `name` in PATH.
fn on_path(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| {
            p.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// Does the file start with `#!` (a script, not a binary)?
fn is_script(path: &Path) -> bool {
    let mut head = [0u8; 2];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok()
        && &head == b"#!"
}

/// The interpreter the shim runs: `sys.executable`, if it is an existing binary.
fn ask(shim: &Path, dir: &Path) -> Option<PathBuf> {
    let mut child = Command::new(shim)
        .args(["-c", "import sys; print(sys.executable)"])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let started = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => break,
            Ok(None) if started.elapsed() < ASK_TIMEOUT => {
                std::thread::sleep(Duration::from_millis(5))
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
    let mut out = String::new();
    child.stdout.take()?.read_to_string(&mut out).ok()?;
    let exe = PathBuf::from(out.trim());
    (exe.is_absolute() && exe.is_file() && !is_script(&exe)).then_some(exe)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_or_a_non_python_rule_is_left_alone() {
        let mut run = BTreeMap::new();
        run.insert("sh".to_string(), vec!["sh".into(), "{file}".into()]);
        run.insert(
            "py".to_string(),
            vec!["/usr/bin/python3".into(), "{file}".into()],
        );
        let before = run.clone();
        assert!(resolve(&mut run, Path::new("/")).is_empty());
        assert_eq!(run, before);
    }
}
