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

/// One server's results in `servers.json`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ServerRecord {
    /// Short name (`per-client`, `pool-2`, `py-forking`…).
    pub name: String,
    /// How it was started.
    pub argv: Vec<String>,
    /// Per concurrency: every round's load report.
    pub runs: Vec<(usize, Vec<crate::load::LoadReport>)>,
    /// The sampled C = 64 run.
    pub peak_run: Option<crate::load::LoadReport>,
    /// The server's peak footprint during the sampled run.
    pub peak: crate::procstat::GroupStats,
    /// Why the server dropped out of the run, if it did (e.g. it crashed).
    #[serde(default)]
    pub failure: Option<String>,
}

impl ServerRecord {
    /// Median connections/s at concurrency `c`, if measured.
    pub fn rate(&self, c: usize) -> Option<f64> {
        let (_, reports) = self.runs.iter().find(|(k, _)| *k == c)?;
        let rates: Vec<f64> = reports.iter().map(|r| r.conns_per_s).collect();
        crate::stats::median(&rates)
    }

    /// Median over rounds of this server's rate divided by `other`'s in the same round, at
    /// concurrency `c`: rounds interleave the servers, so drift in the machine's speed
    /// cancels out of each round's ratio.
    pub fn paired_ratio(&self, other: &ServerRecord, c: usize) -> Option<f64> {
        let rates = |r: &ServerRecord| -> Option<Vec<f64>> {
            let (_, reports) = r.runs.iter().find(|(k, _)| *k == c)?;
            Some(reports.iter().map(|x| x.conns_per_s).collect())
        };
        let (a, b) = (rates(self)?, rates(other)?);
        crate::stats::median_ratio(&a, &b)
    }

    /// Median p99 latency (µs) at concurrency `c`, if measured.
    pub fn p99_us(&self, c: usize) -> Option<f64> {
        let (_, reports) = self.runs.iter().find(|(k, _)| *k == c)?;
        let v: Vec<f64> = reports.iter().filter_map(|r| r.p99_us).collect();
        crate::stats::median(&v)
    }

    /// Failed connections over every run.
    pub fn errors(&self) -> usize {
        self.runs
            .iter()
            .flat_map(|(_, v)| v)
            .map(|r| r.errors)
            .sum::<usize>()
            + self.peak_run.as_ref().map_or(0, |p| p.errors)
    }
}

/// One workload's results in `tracer.json`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct TracerRecord {
    /// Workload name (`start-target`, `tcp`, `writes`, `cpu`…).
    pub workload: String,
    /// The target ratio for `proclab trace`, if any.
    pub target: Option<f64>,
    /// Every variant's samples; the first is untraced.
    pub variants: Vec<crate::runs::Samples>,
    /// Each variant's median over the untraced median.
    pub ratios: Vec<(String, f64)>,
}

impl TracerRecord {
    /// The ratio of variant `name` to untraced, if measured.
    pub fn ratio(&self, name: &str) -> Option<f64> {
        self.ratios.iter().find(|(n, _)| n == name).map(|(_, r)| *r)
    }
}
