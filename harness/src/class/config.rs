//! How a class folder is read: which file is a student's submission for an exercise and
//! how each kind of file is run. Defaults fit the course; `--config class.toml` changes
//! them without recompiling.
//!
//! ```toml
//! # Candidate names, tried in order; {id} is the exercise id (start-target),
//! # {snake} the id with underscores (start_target).
//! names = ["{snake}", "{id}"]
//! build_timeout_secs = 300
//!
//! [run]
//! # argv templates by file extension; {file} is the absolute path of the submission.
//! py = ["python3", "{file}"]
//! sh = ["sh", "{file}"]
//!
//! [crate]
//! build = ["cargo", "build", "--release", "--quiet", "--message-format=json-render-diagnostics"]
//!
//! [exercises.start-target]
//! file = "start_target.py"       # an exact name instead of the candidates
//! spec = "short-start-target.toml"  # exercise file given to the grader (relative to this file)
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Why a class configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read class config {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("class config {path}: {message}")]
    Parse { path: PathBuf, message: String },
}

/// Per-exercise overrides.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExerciseRule {
    /// Exact file or folder name in each student's folder.
    pub file: Option<String>,
    /// Exercise file (TOML) passed to the grader; relative paths are relative to the config.
    pub spec: Option<PathBuf>,
}

/// How Cargo crates are built.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrateRule {
    /// The build command, run in the crate folder with a per-student `CARGO_TARGET_DIR`.
    /// JSON messages on stdout name the executable built.
    pub build: Vec<String>,
}

impl Default for CrateRule {
    fn default() -> Self {
        CrateRule {
            build: [
                "cargo",
                "build",
                "--release",
                "--quiet",
                "--message-format=json-render-diagnostics",
            ]
            .map(String::from)
            .to_vec(),
        }
    }
}

/// The whole class configuration.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClassConfig {
    /// Candidate base names, tried in order.
    pub names: Vec<String>,
    /// argv templates by extension (`{file}` is replaced by the submission's path).
    pub run: BTreeMap<String, Vec<String>>,
    #[serde(rename = "crate")]
    pub crate_rule: CrateRule,
    /// Longest a crate build may take.
    pub build_timeout_secs: u64,
    pub exercises: BTreeMap<String, ExerciseRule>,
}

impl Default for ClassConfig {
    fn default() -> Self {
        let mut run = BTreeMap::new();
        run.insert("py".to_string(), vec!["python3".into(), "{file}".into()]);
        run.insert("sh".to_string(), vec!["sh".into(), "{file}".into()]);
        ClassConfig {
            names: vec!["{snake}".into(), "{id}".into()],
            run,
            crate_rule: CrateRule::default(),
            build_timeout_secs: 300,
            exercises: BTreeMap::new(),
        }
    }
}

impl ClassConfig {
    /// Read a config file; relative `spec` paths become relative to its folder.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mut config: ClassConfig = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        // Extensions the file does not mention keep their default rule.
        for (ext, argv) in ClassConfig::default().run {
            config.run.entry(ext).or_insert(argv);
        }
        // Absolute, because workers run in a working directory of their own.
        let parent = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let base = std::path::absolute(parent).unwrap_or_else(|_| parent.to_path_buf());
        for rule in config.exercises.values_mut() {
            if let Some(spec) = rule.spec.as_mut()
                && spec.is_relative()
            {
                *spec = base.join(&*spec);
            }
        }
        Ok(config)
    }

    /// The candidate base names for an exercise, in order, without duplicates.
    pub fn candidates(&self, exercise: &str) -> Vec<String> {
        if let Some(file) = self.exercises.get(exercise).and_then(|r| r.file.clone()) {
            return vec![file];
        }
        let snake = exercise.replace('-', "_");
        let mut out: Vec<String> = Vec::new();
        for pattern in &self.names {
            let name = pattern.replace("{snake}", &snake).replace("{id}", exercise);
            if !out.contains(&name) {
                out.push(name);
            }
        }
        out
    }

    /// The exercise file to grade `exercise` with, if the config overrides it.
    pub fn spec(&self, exercise: &str) -> Option<&Path> {
        self.exercises.get(exercise)?.spec.as_deref()
    }

    /// Is an explicit file name configured for this exercise?
    pub fn has_exact_name(&self, exercise: &str) -> bool {
        self.exercises
            .get(exercise)
            .is_some_and(|r| r.file.is_some())
    }
}

/// Replace `{file}` in an argv template.
pub fn expand(template: &[String], file: &Path) -> Vec<String> {
    let file = file.to_string_lossy();
    template
        .iter()
        .map(|a| a.replace("{file}", &file))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_candidates_try_snake_then_id() {
        let config = ClassConfig::default();
        assert_eq!(
            config.candidates("start-target"),
            vec!["start_target", "start-target"]
        );
        assert_eq!(config.candidates("isolation"), vec!["isolation"]);
    }

    #[test]
    fn config_file_overrides_and_resolves_spec() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("class.toml");
        std::fs::write(
            &path,
            "[run]\nrb = [\"ruby\", \"{file}\"]\n[exercises.isolation]\nfile = \"iso.py\"\nspec = \"iso.toml\"\n",
        )
        .unwrap();
        let config = ClassConfig::load(&path).unwrap();
        assert_eq!(config.candidates("isolation"), vec!["iso.py"]);
        assert_eq!(
            config.spec("isolation"),
            Some(dir.path().join("iso.toml").as_path())
        );
        assert!(config.run.contains_key("py"), "defaults kept");
        assert!(config.run.contains_key("rb"));
    }

    #[test]
    fn unknown_field_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("class.toml");
        std::fs::write(&path, "nmaes = []\n").unwrap();
        let err = ClassConfig::load(&path).unwrap_err().to_string();
        assert!(err.contains("class.toml") && err.contains("nmaes"), "{err}");
    }
}
