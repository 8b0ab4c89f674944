//! The output folder's layout, atomic writes, and the per-submission records that double
//! as the resume cache.
//!
//! ```text
//! OUT/class.json                         manifest: exercises, students, shard
//! OUT/gradebook.csv  OUT/junit.xml  OUT/index.html
//! OUT/students/<student>/<exercise>.json one record per submission (the cache)
//! OUT/students/<student>/<exercise>.html the submission's report
//! OUT/students/<student>/results.json    Gradescope results
//! OUT/.work/                             builds and scratch space
//! ```
//!
//! Every file is written to a temporary name in the same folder, synced, then renamed
//! over the old one, so a reader (or an interrupted run) never sees half a file.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::outcome::{Outcome, RECORD_VERSION};

/// The output folder.
#[derive(Debug, Clone)]
pub struct Store {
    pub root: PathBuf,
}

/// Describes a (possibly partial, possibly sharded) class output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub version: u32,
    pub exercises: Vec<String>,
    /// Students this output is responsible for (this shard's).
    pub students: Vec<String>,
    /// `I/N` when sharded.
    pub shard: Option<String>,
}

/// A record that exists but cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("ignoring corrupt cache record {path}: {reason}")]
pub struct CorruptRecord {
    pub path: PathBuf,
    pub reason: String,
}

impl Store {
    /// A store rooted at `root` (created on first write).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Store { root: root.into() }
    }

    pub fn student_dir(&self, student: &str) -> PathBuf {
        self.root.join("students").join(student)
    }

    pub fn record_path(&self, student: &str, exercise: &str) -> PathBuf {
        self.student_dir(student).join(format!("{exercise}.json"))
    }

    pub fn report_path(&self, student: &str, exercise: &str) -> PathBuf {
        self.student_dir(student).join(format!("{exercise}.html"))
    }

    /// Scratch space (builds, worker job files).
    pub fn work_dir(&self) -> PathBuf {
        self.root.join(".work")
    }

    pub fn manifest_path(&self) -> PathBuf {
        self.root.join("class.json")
    }

    /// The stored record, `None` when there is none, an error when it is unreadable,
    /// not JSON, or of another version.
    pub fn read_record(
        &self,
        student: &str,
        exercise: &str,
    ) -> Result<Option<Outcome>, CorruptRecord> {
        let path = self.record_path(student, exercise);
        let corrupt = |reason: String| CorruptRecord {
            path: path.clone(),
            reason,
        };
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(corrupt(e.to_string())),
        };
        let outcome: Outcome =
            serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))?;
        if outcome.version != RECORD_VERSION {
            return Err(corrupt(format!("record version {}", outcome.version)));
        }
        if outcome.student != student || outcome.exercise != exercise {
            return Err(corrupt("record is for another submission".into()));
        }
        Ok(Some(outcome))
    }

    /// Store a record atomically.
    pub fn write_record(&self, outcome: &Outcome) -> std::io::Result<()> {
        let json = serde_json::to_vec_pretty(outcome).map_err(std::io::Error::other)?;
        write_atomic(
            &self.record_path(&outcome.student, &outcome.exercise),
            &json,
        )
    }

    pub fn read_manifest(&self) -> Result<Manifest, String> {
        let path = self.manifest_path();
        let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", path.display()))
    }

    pub fn write_manifest(&self, manifest: &Manifest) -> std::io::Result<()> {
        let json = serde_json::to_vec_pretty(manifest).map_err(std::io::Error::other)?;
        write_atomic(&self.manifest_path(), &json)
    }
}

/// Write `bytes` to `path` atomically: temp file in the same folder, fsync, rename.
/// On error the old file (if any) is untouched and the temp file removed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = dir.join(format!(
        ".{name}.tmp-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let result = (|| {
        let mut file = std::fs::File::create(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result.map_err(|e| std::io::Error::new(e.kind(), format!("writing {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::class::outcome::Status;

    #[test]
    fn records_round_trip_and_corruption_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        assert!(store.read_record("ann", "daemon").unwrap().is_none());
        let outcome = Outcome::without_checks("ann", "daemon", Status::Missing, "none", "k");
        store.write_record(&outcome).unwrap();
        assert_eq!(store.read_record("ann", "daemon").unwrap(), Some(outcome));
        std::fs::write(store.record_path("ann", "daemon"), "{\"version\": 1, trunc").unwrap();
        let err = store.read_record("ann", "daemon").unwrap_err();
        assert!(err.to_string().contains("daemon.json"), "{err}");
        let leftovers: Vec<_> = std::fs::read_dir(store.student_dir("ann"))
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
            .collect();
        assert!(leftovers.is_empty());
    }
}
