//! `proclab merge`: combine the outputs of shards (`grade-class --shard I/N`) into one
//! output folder with one gradebook.

use std::path::{Path, PathBuf};

use super::gradebook::{self, ClassView, Records};
use super::store::{Manifest, Store, write_atomic};

/// Why shard outputs could not be merged.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("{path} is not a grade-class output: {reason}")]
    NotAnOutput { path: PathBuf, reason: String },
    #[error("{a} and {b} grade different exercises ({ea} vs {eb})")]
    Exercises {
        a: PathBuf,
        b: PathBuf,
        ea: String,
        eb: String,
    },
    #[error("student {student} appears in both {a} and {b}")]
    Duplicate {
        student: String,
        a: PathBuf,
        b: PathBuf,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// What a merge produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeSummary {
    pub students: usize,
    /// Students with a full row in the merged gradebook.
    pub complete: usize,
    pub warnings: Vec<String>,
}

/// Merge `sources` into `dest` (which may be one of them).
pub fn merge(sources: &[PathBuf], dest: &Path) -> Result<MergeSummary, MergeError> {
    let mut manifests: Vec<(PathBuf, Manifest)> = Vec::new();
    for source in sources {
        let manifest =
            Store::new(source)
                .read_manifest()
                .map_err(|reason| MergeError::NotAnOutput {
                    path: source.clone(),
                    reason,
                })?;
        if let Some((first, m)) = manifests.first()
            && m.exercises != manifest.exercises
        {
            return Err(MergeError::Exercises {
                a: first.clone(),
                b: source.clone(),
                ea: m.exercises.join(","),
                eb: manifest.exercises.join(","),
            });
        }
        for (other, m) in &manifests {
            if let Some(student) = m.students.iter().find(|s| manifest.students.contains(s)) {
                return Err(MergeError::Duplicate {
                    student: student.clone(),
                    a: other.clone(),
                    b: source.clone(),
                });
            }
        }
        manifests.push((source.clone(), manifest));
    }
    let exercises = manifests
        .first()
        .map(|(_, m)| m.exercises.clone())
        .unwrap_or_default();
    let dest_store = Store::new(dest);
    let write_error = |path: &Path, source| MergeError::Write {
        path: path.to_path_buf(),
        source,
    };
    let same = |a: &Path| match (a.canonicalize(), dest.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    let mut students = Vec::new();
    for (source, manifest) in &manifests {
        let store = Store::new(source);
        for student in &manifest.students {
            students.push(student.clone());
            if same(source) {
                continue;
            }
            copy_dir(
                &store.student_dir(student),
                &dest_store.student_dir(student),
            )
            .map_err(|e| write_error(&dest_store.student_dir(student), e))?;
        }
    }
    students.sort();
    let mut warnings = Vec::new();
    let mut records = Records::new();
    for student in &students {
        for exercise in &exercises {
            match dest_store.read_record(student, exercise) {
                Ok(Some(record)) => {
                    records.insert((student.clone(), exercise.clone()), record);
                }
                Ok(None) => {}
                Err(corrupt) => warnings.push(corrupt.to_string()),
            }
        }
    }
    dest_store
        .write_manifest(&Manifest {
            version: 1,
            exercises: exercises.clone(),
            students: students.clone(),
            shard: None,
        })
        .map_err(|e| write_error(&dest_store.manifest_path(), e))?;
    let view = ClassView {
        exercises: &exercises,
        students: &students,
        records: &records,
    };
    gradebook::write_all(&dest_store, &view).map_err(|e| write_error(dest, e))?;
    let complete = students
        .iter()
        .filter(|s| view.complete_row(s).is_some())
        .count();
    Ok(MergeSummary {
        students: students.len(),
        complete,
        warnings,
    })
}

/// Copy the files of a student's output folder (not recursive: it holds files only).
fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    let entries = match std::fs::read_dir(from) {
        Ok(entries) => entries,
        // A student of the shard with nothing graded yet.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') || !entry.path().is_file() {
            continue;
        }
        write_atomic(&to.join(&name), &std::fs::read(entry.path())?)?;
    }
    Ok(())
}
