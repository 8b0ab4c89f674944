//! Paired measurement for the spawn/join ratio targets: every way (Rust and Python) runs
//! a batch in each round, rounds interleave them, and each ratio is the median over
//! rounds of the per-round ratio, so drift in the machine's speed (another job starting
//! on a shared 2-core VM) hits both sides of a ratio alike. Criterion's figures for the
//! same operations are measured one after the other and are kept for the record.

use crate::peers::{mp_start_join, python_start_join_warm, raw_fork_join};
use crate::stats::{median, median_ratio};
use anyhow::Result;
use multiprocessing::StartMethod;
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// One way's per-round medians.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PairedWay {
    /// `raw_nix_fork`, `mp_fork`… or `py_fork`, `py_spawn`…
    pub name: String,
    /// Start+joins per round.
    pub per_round: u64,
    /// Median ns per start+join in each round.
    pub rounds_ns: Vec<f64>,
}

/// All ways over all rounds.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Paired {
    /// The ways, in measurement order within a round.
    pub ways: Vec<PairedWay>,
}

impl Paired {
    /// The median over rounds of `a`'s time divided by `b`'s time in the same round.
    pub fn ratio(&self, a: &str, b: &str) -> Option<f64> {
        let wa = self.ways.iter().find(|w| w.name == a)?;
        let wb = self.ways.iter().find(|w| w.name == b)?;
        median_ratio(&wa.rounds_ns, &wb.rounds_ns)
    }

    /// The median over rounds of `name`'s per-round median, in ns.
    pub fn median_ns(&self, name: &str) -> Option<f64> {
        median(&self.ways.iter().find(|w| w.name == name)?.rounds_ns)
    }
}

/// Median ns per op of `n` timed runs of `op`.
fn time_ops(n: u64, mut op: impl FnMut() -> Result<()>) -> Result<f64> {
    let mut t = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let t0 = Instant::now();
        op()?;
        t.push(t0.elapsed().as_nanos() as f64);
    }
    Ok(median(&t).unwrap_or(f64::NAN))
}

/// Runs `rounds` rounds; `scale` divides the per-round counts (quick mode).
pub fn run(rounds: usize, scale: u64) -> Result<Paired> {
    let n = |full: u64| (full / scale).max(3);
    let plan: Vec<(&str, u64)> = vec![
        ("raw_nix_fork", n(100)),
        ("mp_fork", n(100)),
        ("mp_forkserver", n(100)),
        ("mp_spawn", n(20)),
        ("py_os_fork", n(100)),
        ("py_fork", n(100)),
        ("py_forkserver", n(30)),
        ("py_spawn", n(6)),
    ];
    let mut out = Paired {
        ways: plan
            .iter()
            .map(|(name, k)| PairedWay {
                name: name.to_string(),
                per_round: *k,
                rounds_ns: Vec::new(),
            })
            .collect(),
    };
    // Warm-up: the forkserver's zygote starts on first use, not in a timed batch.
    mp_start_join(StartMethod::ForkServer)?;
    for _ in 0..rounds {
        for (i, (name, k)) in plan.iter().enumerate() {
            let ns = match *name {
                "raw_nix_fork" => time_ops(*k, raw_fork_join)?,
                "mp_fork" => time_ops(*k, || mp_start_join(StartMethod::Fork))?,
                "mp_forkserver" => time_ops(*k, || mp_start_join(StartMethod::ForkServer))?,
                "mp_spawn" => time_ops(*k, || mp_start_join(StartMethod::Spawn))?,
                py => {
                    let method = py.trim_start_matches("py_");
                    python_start_join_warm(method, *k, 1)?.median_ns
                }
            };
            out.ways[i].rounds_ns.push(ns);
        }
    }
    Ok(out)
}

/// The fork target's pairs: raw fork and the library's fork start+join alternate op by
/// op (in ABBA order), so the two sides of every pair run within a few hundred
/// microseconds of each other and any drift of the machine hits both alike.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ForkPairs {
    /// Pairs measured.
    pub pairs: usize,
    /// ns of each raw fork + `_exit` + waitpid.
    pub raw_ns: Vec<f64>,
    /// ns of each library start+join (fork start method), in the same order.
    pub mp_ns: Vec<f64>,
}

impl ForkPairs {
    /// Median of the library's times over median of raw fork's.
    pub fn ratio_of_medians(&self) -> f64 {
        median(&self.mp_ns).unwrap_or(f64::NAN) / median(&self.raw_ns).unwrap_or(f64::NAN)
    }

    /// Median over pairs of the library's time over raw fork's in the same pair.
    pub fn median_pair_ratio(&self) -> f64 {
        median_ratio(&self.mp_ns, &self.raw_ns).unwrap_or(f64::NAN)
    }
}

/// Measures `pairs` pairs (see [`ForkPairs`]).
pub fn fork_pairs(pairs: usize) -> Result<ForkPairs> {
    let mut out = ForkPairs {
        pairs,
        raw_ns: Vec::with_capacity(pairs),
        mp_ns: Vec::with_capacity(pairs),
    };
    let time = |op: &dyn Fn() -> Result<()>| -> Result<f64> {
        let t0 = Instant::now();
        op()?;
        Ok(t0.elapsed().as_nanos() as f64)
    };
    let mp = || mp_start_join(StartMethod::Fork);
    for i in 0..pairs {
        if i % 2 == 0 {
            out.raw_ns.push(time(&raw_fork_join)?);
            out.mp_ns.push(time(&mp)?);
        } else {
            out.mp_ns.push(time(&mp)?);
            out.raw_ns.push(time(&raw_fork_join)?);
        }
    }
    Ok(out)
}
