//! The files of each platform's bundle, generated for a list of exercises, and how they
//! are written (a zip for Gradescope, a folder for the others).
//!
//! The `proclab` binary is shipped inside the bundle rather than built in the platform's
//! image: the source is not in the binary (a build would need the repository, a Rust
//! toolchain and network access at image build time, minutes per upload), and the
//! shipped file is exactly the grader the instructor ran locally. It must run on the
//! platform's image: a static (musl) build runs on any Linux image; a glibc build only
//! where the image's glibc is as new as the build machine's, so `setup.sh` runs
//! `proclab --version` to fail the image build with that reason rather than the first
//! submission.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

use super::templates;
use crate::class::config::ClassConfig;

/// Folder of the class configuration inside a bundle's proclab folder.
pub const CONFIG_DIR: &str = "proclab-config";

/// What every bundle ships besides its scripts: the grader, and the instructor's class
/// configuration with the exercise files it names, if any.
#[derive(Debug, Clone)]
pub struct Shipped {
    pub binary: PathBuf,
    pub config: Option<ShippedConfig>,
}

/// A class configuration to ship.
#[derive(Debug, Clone)]
pub struct ShippedConfig {
    /// As loaded: file names, run rules.
    pub config: ClassConfig,
    /// `class.toml` and the exercise files it names, paths relative to [`CONFIG_DIR`].
    pub files: Vec<BundleFile>,
    /// Exercise → its exercise file, relative to [`CONFIG_DIR`].
    pub specs: BTreeMap<String, String>,
}

impl Shipped {
    /// The class configuration in effect (the default one when none is shipped).
    pub fn class_config(&self) -> ClassConfig {
        self.config
            .as_ref()
            .map(|c| c.config.clone())
            .unwrap_or_default()
    }

    /// The grader and the configuration's files, under `dir` (`""` for the root).
    fn files(&self, dir: &str) -> Result<Vec<BundleFile>, String> {
        let mut files = vec![binary(&self.binary, &format!("{dir}proclab"))?];
        for f in self.config.iter().flat_map(|c| &c.files) {
            files.push(BundleFile {
                path: format!("{dir}{CONFIG_DIR}/{}", f.path),
                ..f.clone()
            });
        }
        Ok(files)
    }
}

/// A class configuration and the exercise files it names, to ship: each `spec` must be
/// a relative path inside the configuration's folder, where it is found again once
/// unpacked.
pub fn config_files(path: &Path) -> Result<ShippedConfig, String> {
    let config = ClassConfig::load(path).map_err(|e| e.to_string())?;
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read class config {}: {e}", path.display()))?;
    let table: toml::Table =
        toml::from_str(&text).map_err(|e| format!("class config {}: {e}", path.display()))?;
    let base = path.parent().unwrap_or(Path::new("."));
    let mut files = vec![BundleFile::text("class.toml", text, false)];
    let mut specs = BTreeMap::new();
    let rules = table.get("exercises").and_then(|e| e.as_table());
    for (exercise, rule) in rules.into_iter().flatten() {
        let Some(spec) = rule.get("spec").and_then(|s| s.as_str()) else {
            continue;
        };
        let relative = Path::new(spec);
        if !relative
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
        {
            return Err(format!(
                "class config {}: the exercise file of {exercise} ({spec}) must be a relative \
                 path inside the config's folder to be shipped with it",
                path.display()
            ));
        }
        let contents = std::fs::read(base.join(relative)).map_err(|e| {
            format!(
                "cannot read exercise file {}: {e}",
                base.join(relative).display()
            )
        })?;
        files.push(BundleFile {
            path: spec.to_string(),
            contents,
            executable: false,
        });
        specs.insert(exercise.clone(), spec.to_string());
    }
    Ok(ShippedConfig {
        config,
        files,
        specs,
    })
}

/// One file of a bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleFile {
    /// Path inside the bundle, `/`-separated.
    pub path: String,
    pub contents: Vec<u8>,
    pub executable: bool,
}

impl BundleFile {
    fn text(path: &str, contents: String, executable: bool) -> Self {
        BundleFile {
            path: path.to_string(),
            contents: contents.into_bytes(),
            executable,
        }
    }
}

/// An exercise as a bundle needs it.
#[derive(Debug, Clone)]
pub struct ExerciseInfo {
    pub id: String,
    pub max_score: f64,
    pub time_ms: u64,
}

/// The proclab binary to ship.
fn binary(path: &Path, at: &str) -> Result<BundleFile, String> {
    let contents = std::fs::read(path)
        .map_err(|e| format!("cannot read proclab binary {}: {e}", path.display()))?;
    Ok(BundleFile {
        path: at.to_string(),
        contents,
        executable: true,
    })
}

/// Gradescope's autograder zip: `setup.sh`, `run_autograder`, `proclab`.
pub fn gradescope(
    exercises: &[ExerciseInfo],
    shipped: &Shipped,
    visibility: &str,
    rust: bool,
) -> Result<Vec<BundleFile>, String> {
    let ids = ids(exercises);
    let mut files = vec![
        BundleFile::text("setup.sh", templates::gradescope_setup(rust), true),
        BundleFile::text(
            "run_autograder",
            templates::gradescope_run(&ids, visibility, shipped.config.is_some()),
            true,
        ),
    ];
    files.extend(shipped.files("")?);
    Ok(files)
}

/// PrairieLearn: `serverFilesCourse/proclab/{run.sh,proclab}` and the question's
/// `info.json` options to merge.
pub fn prairielearn(
    exercises: &[ExerciseInfo],
    shipped: &Shipped,
    image: &str,
) -> Result<Vec<BundleFile>, String> {
    let ids = ids(exercises);
    // PrairieLearn kills a job at its timeout (at most 600 s): every exercise's limit,
    // one after the other, plus room for starting and building.
    let total_ms: u64 = exercises.iter().map(|e| e.time_ms).sum();
    let timeout = (total_ms / 1000 + 60).min(600);
    let mut files = vec![
        BundleFile::text(
            "serverFilesCourse/proclab/run.sh",
            templates::prairielearn_run(&ids, shipped.config.is_some()),
            true,
        ),
        BundleFile::text(
            "info.json",
            templates::prairielearn_info(image, timeout),
            false,
        ),
    ];
    files.extend(shipped.files("serverFilesCourse/proclab/")?);
    Ok(files)
}

/// GitHub Classroom: `.github/workflows/classroom.yml` and `.github/proclab/proclab` (and
/// the class configuration's exercise files in `.github/proclab/proclab-config/`).
pub fn github_classroom(
    exercises: &[ExerciseInfo],
    shipped: &Shipped,
) -> Result<Vec<BundleFile>, String> {
    let commands: Vec<String> = exercises
        .iter()
        .map(|e| templates::classroom_command(&e.id, shipped))
        .collect();
    let mut files = vec![BundleFile::text(
        ".github/workflows/classroom.yml",
        templates::classroom_workflow(exercises, &commands),
        false,
    )];
    files.extend(shipped.files(".github/proclab/")?);
    Ok(files)
}

fn ids(exercises: &[ExerciseInfo]) -> String {
    exercises
        .iter()
        .map(|e| e.id.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

/// Write `files` as a zip archive at `out` (files at the archive's root, as Gradescope
/// requires, with their execute bits).
pub fn write_zip(files: &[BundleFile], out: &Path) -> Result<(), String> {
    let error = |e: &dyn std::fmt::Display| format!("cannot write {}: {e}", out.display());
    let file = std::fs::File::create(out).map_err(|e| error(&e))?;
    let mut zip = zip::ZipWriter::new(file);
    for f in files {
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .unix_permissions(if f.executable { 0o755 } else { 0o644 });
        zip.start_file(f.path.as_str(), options)
            .map_err(|e| error(&e))?;
        zip.write_all(&f.contents).map_err(|e| error(&e))?;
    }
    zip.finish().map_err(|e| error(&e))?;
    Ok(())
}

/// Write `files` under the folder `out`.
pub fn write_dir(files: &[BundleFile], out: &Path) -> Result<(), String> {
    for f in files {
        let path = out.join(&f.path);
        let error = |e: std::io::Error| format!("cannot write {}: {e}", path.display());
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(error)?;
        }
        std::fs::write(&path, &f.contents).map_err(error)?;
        let mode = if f.executable { 0o755 } else { 0o644 };
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).map_err(error)?;
    }
    Ok(())
}

/// Is the ELF file at `path` dynamically linked (has a program interpreter)? `None` when
/// it is not a 64-bit little-endian ELF file.
pub fn is_dynamic(path: &Path) -> Option<bool> {
    let bytes = std::fs::read(path).ok()?;
    let u16_at = |o: usize| Some(u16::from_le_bytes(bytes.get(o..o + 2)?.try_into().ok()?));
    let u32_at = |o: usize| Some(u32::from_le_bytes(bytes.get(o..o + 4)?.try_into().ok()?));
    let u64_at = |o: usize| Some(u64::from_le_bytes(bytes.get(o..o + 8)?.try_into().ok()?));
    // Magic, ELFCLASS64, ELFDATA2LSB.
    if bytes.get(..6)? != b"\x7fELF\x02\x01" {
        return None;
    }
    let phoff = usize::try_from(u64_at(0x20)?).ok()?;
    let phentsize = usize::from(u16_at(0x36)?);
    let phnum = usize::from(u16_at(0x38)?);
    const PT_INTERP: u32 = 3;
    Some((0..phnum).any(|i| u32_at(phoff + i * phentsize) == Some(PT_INTERP)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_test_binary_is_an_elf_file() {
        let exe = std::env::current_exe().unwrap();
        assert!(is_dynamic(&exe).is_some());
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("s.sh");
        std::fs::write(&script, "#!/bin/sh\n").unwrap();
        assert_eq!(is_dynamic(&script), None);
    }
}
