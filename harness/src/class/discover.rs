//! Discovery: one subfolder per student, and in it one file (or crate folder) per exercise.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::config::{ClassConfig, expand};

/// What kind of submission a student handed in for one exercise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubmissionKind {
    /// A file run through an interpreter: argv from the extension's rule.
    Script { file: PathBuf, argv: Vec<String> },
    /// An executable file, run directly.
    Executable { file: PathBuf },
    /// A Cargo crate folder, built first.
    Crate { dir: PathBuf },
    /// Nothing usable; the reason says what was (not) found.
    Missing { reason: String },
}

/// One student × exercise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submission {
    pub student: String,
    pub exercise: String,
    pub kind: SubmissionKind,
}

/// Why the class folder could not be read.
#[derive(Debug, thiserror::Error)]
#[error("cannot read class folder {path}: {source}")]
pub struct DiscoverError {
    pub path: PathBuf,
    pub source: std::io::Error,
}

/// The students of a class folder: its subfolders, sorted by name (byte order), hidden
/// ones and `exclude` (the output folder, when it lies inside the class folder) skipped.
pub fn students(dir: &Path, exclude: Option<&Path>) -> Result<Vec<String>, DiscoverError> {
    let error = |source| DiscoverError {
        path: dir.to_path_buf(),
        source,
    };
    let exclude = exclude.and_then(|p| p.canonicalize().ok());
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(error)? {
        let entry = entry.map_err(error)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || !entry.path().is_dir() {
            continue;
        }
        if exclude.is_some() && entry.path().canonicalize().ok() == exclude {
            continue;
        }
        names.push(name);
    }
    names.sort();
    Ok(names)
}

/// Find `student`'s submission for `exercise` in `student_dir`.
///
/// For each candidate name, in order: a folder with a `Cargo.toml` (a crate), a file
/// `NAME.EXT` for every extension with a run rule (in the config's order), then a file
/// `NAME` with an execute bit. A candidate that is an exact configured name with an
/// extension is matched as is.
pub fn find(config: &ClassConfig, student: &str, student_dir: &Path, exercise: &str) -> Submission {
    let kind = find_kind(config, student_dir, exercise);
    Submission {
        student: student.to_string(),
        exercise: exercise.to_string(),
        kind,
    }
}

fn find_kind(config: &ClassConfig, dir: &Path, exercise: &str) -> SubmissionKind {
    let candidates = config.candidates(exercise);
    let mut not_runnable = Vec::new();
    for name in &candidates {
        let path = dir.join(name);
        if path.is_dir() {
            if path.join("Cargo.toml").is_file() {
                return SubmissionKind::Crate {
                    dir: absolute(&path),
                };
            }
            not_runnable.push(format!("{name}/ (no Cargo.toml)"));
            continue;
        }
        // An exact name with an extension that has a run rule.
        if path.is_file()
            && let Some(argv) = path
                .extension()
                .and_then(|e| config.run.get(e.to_string_lossy().as_ref()))
        {
            let file = absolute(&path);
            return SubmissionKind::Script {
                argv: expand(argv, &file),
                file,
            };
        }
        for (ext, argv) in &config.run {
            let file = dir.join(format!("{name}.{ext}"));
            if file.is_file() {
                let file = absolute(&file);
                return SubmissionKind::Script {
                    argv: expand(argv, &file),
                    file,
                };
            }
        }
        if path.is_file() {
            if is_executable(&path) {
                return SubmissionKind::Executable {
                    file: absolute(&path),
                };
            }
            not_runnable.push(format!("{name} (not executable, no run rule for it)"));
        }
    }
    let reason = if not_runnable.is_empty() {
        format!("no file named {}", describe(config, &candidates))
    } else {
        format!("found {} but cannot run it", not_runnable.join(", "))
    };
    SubmissionKind::Missing { reason }
}

fn describe(config: &ClassConfig, candidates: &[String]) -> String {
    let mut names: Vec<String> = Vec::new();
    for name in candidates {
        names.extend(config.run.keys().map(|ext| format!("{name}.{ext}")));
        names.push(format!("{name}/ (crate)"));
        names.push(name.clone());
    }
    names.join(", ")
}

fn is_executable(path: &Path) -> bool {
    path.metadata()
        .is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn class() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for s in ["zoe", "adam", ".git", "out"] {
            fs::create_dir(root.join(s)).unwrap();
        }
        fs::write(root.join("notes.txt"), "not a student").unwrap();
        fs::write(root.join("adam/start_target.py"), "print(1)").unwrap();
        fs::write(root.join("adam/isolation"), "#!/bin/sh\n").unwrap();
        fs::set_permissions(
            root.join("adam/isolation"),
            fs::Permissions::from_mode(0o755),
        )
        .unwrap();
        fs::create_dir(root.join("adam/socket-server")).unwrap();
        fs::write(root.join("adam/socket-server/Cargo.toml"), "[package]").unwrap();
        fs::write(root.join("zoe/isolation"), "not executable").unwrap();
        dir
    }

    #[test]
    fn students_are_sorted_subfolders_without_hidden_or_output() {
        let dir = class();
        let out = dir.path().join("out");
        assert_eq!(
            students(dir.path(), Some(&out)).unwrap(),
            vec!["adam", "zoe"]
        );
        assert_eq!(
            students(dir.path(), None).unwrap(),
            vec!["adam", "out", "zoe"]
        );
    }

    #[test]
    fn finds_scripts_executables_and_crates() {
        let dir = class();
        let config = ClassConfig::default();
        let adam = dir.path().join("adam");
        match find(&config, "adam", &adam, "start-target").kind {
            SubmissionKind::Script { argv, .. } => {
                assert_eq!(argv[0], "python3");
                assert!(argv[1].ends_with("adam/start_target.py"));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            find(&config, "adam", &adam, "isolation").kind,
            SubmissionKind::Executable { .. }
        ));
        assert!(matches!(
            find(&config, "adam", &adam, "socket-server").kind,
            SubmissionKind::Crate { .. }
        ));
        match find(&config, "adam", &adam, "daemon").kind {
            SubmissionKind::Missing { reason } => assert!(reason.contains("daemon.py"), "{reason}"),
            other => panic!("{other:?}"),
        }
        let zoe = dir.path().join("zoe");
        match find(&config, "zoe", &zoe, "isolation").kind {
            SubmissionKind::Missing { reason } => {
                assert!(reason.contains("not executable"), "{reason}")
            }
            other => panic!("{other:?}"),
        }
    }
}
