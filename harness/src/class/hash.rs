//! Content keys for the resume cache: a submission is regraded only when its files, the
//! exercise spec, the run rule or the grader's version changed.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::discover::SubmissionKind;

/// Inputs that decide a grading besides the submission's files.
#[derive(Debug, Clone)]
pub struct KeyInputs<'a> {
    pub exercise: &'a str,
    /// The exercise spec's text (built-in or the instructor's file).
    pub spec: &'a [u8],
    /// The command template or build command that will run the submission.
    pub rule: &'a [String],
}

/// The hex SHA-256 key of a submission and what grades it. Unreadable files are folded in
/// as their error, so the key still changes when they become readable.
pub fn key(kind: &SubmissionKind, inputs: &KeyInputs<'_>) -> String {
    let mut hasher = Sha256::new();
    let mut field = |name: &str, bytes: &[u8]| {
        hasher.update(name.as_bytes());
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(bytes);
    };
    field("proclab", env!("CARGO_PKG_VERSION").as_bytes());
    field("exercise", inputs.exercise.as_bytes());
    field("spec", inputs.spec);
    for arg in inputs.rule {
        field("rule", arg.as_bytes());
    }
    match kind {
        SubmissionKind::Script { file, argv } => {
            for arg in argv {
                field("argv", arg.as_bytes());
            }
            file_field(&mut field, "file", file);
        }
        SubmissionKind::Executable { file } => file_field(&mut field, "file", file),
        SubmissionKind::Crate { dir } => {
            for file in crate_files(dir) {
                let relative = file.strip_prefix(dir).unwrap_or(&file);
                field("path", relative.to_string_lossy().as_bytes());
                file_field(&mut field, "file", &file);
            }
        }
        SubmissionKind::Missing { reason } => field("missing", reason.as_bytes()),
    }
    let digest = hasher.finalize();
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn file_field(field: &mut impl FnMut(&str, &[u8]), name: &str, path: &Path) {
    match std::fs::read(path) {
        Ok(bytes) => field(name, &bytes),
        Err(e) => field("unreadable", e.to_string().as_bytes()),
    }
}

/// A crate's source files, sorted: everything but `target/` and hidden entries.
pub fn crate_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&current) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') || (current == dir && name == "target") {
                continue;
            }
            let path = entry.path();
            // Symlinks are hashed by what they point to only when that is a file.
            if path.is_dir() && !entry.file_type().is_ok_and(|t| t.is_symlink()) {
                stack.push(path);
            } else if path.is_file() {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_changes_with_content_spec_and_rule_only() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.py");
        std::fs::write(&file, "print(1)").unwrap();
        let kind = SubmissionKind::Executable { file: file.clone() };
        let rule = vec!["{file}".to_string()];
        let inputs = KeyInputs {
            exercise: "isolation",
            spec: b"spec",
            rule: &rule,
        };
        let first = key(&kind, &inputs);
        assert_eq!(first, key(&kind, &inputs), "stable");
        assert_eq!(first.len(), 64);
        let other_spec = KeyInputs {
            spec: b"spec2",
            ..inputs.clone()
        };
        assert_ne!(first, key(&kind, &other_spec));
        std::fs::write(&file, "print(2)").unwrap();
        assert_ne!(first, key(&kind, &inputs));
    }

    #[test]
    fn crate_key_ignores_target_dir() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("src")).unwrap();
        std::fs::create_dir_all(dir.path().join("target")).unwrap();
        std::fs::write(dir.path().join("Cargo.toml"), "[package]").unwrap();
        std::fs::write(dir.path().join("src/main.rs"), "fn main(){}").unwrap();
        let kind = SubmissionKind::Crate {
            dir: dir.path().to_path_buf(),
        };
        let inputs = KeyInputs {
            exercise: "socket-server",
            spec: b"",
            rule: &[],
        };
        let before = key(&kind, &inputs);
        std::fs::write(dir.path().join("target/junk"), "x").unwrap();
        assert_eq!(before, key(&kind, &inputs));
        std::fs::write(dir.path().join("src/main.rs"), "fn main(){ }").unwrap();
        assert_ne!(before, key(&kind, &inputs));
    }
}
