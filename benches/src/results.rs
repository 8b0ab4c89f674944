//! Reading and writing the benches' JSON results under `<target>/proclab-bench/`.

use anyhow::{Context, Result};
use serde::{Serialize, de::DeserializeOwned};
use std::path::PathBuf;

/// Writes `value` as pretty JSON to `<results_dir>/<name>.json` and returns the path.
pub fn write<T: Serialize>(name: &str, value: &T) -> Result<PathBuf> {
    let path = crate::env::results_dir()?.join(format!("{name}.json"));
    let text = serde_json::to_string_pretty(value).context("cannot serialise results")?;
    std::fs::write(&path, text + "\n")
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

/// Reads `<results_dir>/<name>.json`.
pub fn read<T: DeserializeOwned>(name: &str) -> Result<T> {
    let path = crate::env::results_dir()?.join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("cannot parse {}", path.display()))
}
