//! Gathers every bench's results (criterion's estimates and the JSON files under
//! `<target>/proclab-bench/`), computes the target ratios, and renders them as
//! Markdown tables.

use crate::peers::PythonTiming;
use crate::results::{ServerRecord, TracerRecord};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Everything measured in one run.
pub struct Measured {
    /// `<target>/criterion`.
    pub criterion_dir: PathBuf,
    /// Python's start+join timings.
    pub python: Vec<PythonTiming>,
    /// Server results.
    pub servers: Vec<ServerRecord>,
    /// Tracer results.
    pub tracer: Vec<TracerRecord>,
    /// The interleaved Rust/Python measurement behind the spawn/join ratio targets.
    pub paired: crate::paired::Paired,
    /// The same ratios between whole programs.
    pub whole: crate::whole::Whole,
}

/// One target of the issue, with its measured ratio.
#[derive(Debug, Clone, Serialize)]
pub struct Target {
    /// What is claimed.
    pub claim: String,
    /// The measured ratio, if both sides were measured.
    pub ratio: Option<f64>,
    /// The threshold.
    pub threshold: f64,
    /// `true`: the ratio must be at least the threshold; `false`: at most.
    pub at_least: bool,
    /// How the ratio was computed.
    pub how: String,
}

impl Target {
    /// Met, not met, or not measured.
    pub fn met(&self) -> Option<bool> {
        self.ratio.map(|r| {
            if self.at_least {
                r >= self.threshold
            } else {
                r <= self.threshold
            }
        })
    }
}

impl Measured {
    /// Loads everything from `target_dir`; missing parts are empty.
    pub fn load(target_dir: &Path) -> Measured {
        let read = |name: &str| -> Option<String> {
            std::fs::read_to_string(
                target_dir
                    .join("proclab-bench")
                    .join(format!("{name}.json")),
            )
            .ok()
        };
        Measured {
            criterion_dir: target_dir.join("criterion"),
            python: read("python_spawn_join")
                .and_then(|t| serde_json::from_str(&t).ok())
                .unwrap_or_default(),
            servers: read("servers")
                .and_then(|t| serde_json::from_str(&t).ok())
                .unwrap_or_default(),
            tracer: read("tracer")
                .and_then(|t| serde_json::from_str(&t).ok())
                .unwrap_or_default(),
            paired: read("paired_spawn_join")
                .and_then(|t| serde_json::from_str(&t).ok())
                .unwrap_or_default(),
            whole: read("whole_spawn_join")
                .and_then(|t| serde_json::from_str(&t).ok())
                .unwrap_or_default(),
        }
    }

    /// Criterion's median time per iteration, in ns, for `group/id`.
    pub fn crit(&self, group: &str, id: &str) -> Option<f64> {
        let path = self
            .criterion_dir
            .join(group)
            .join(id)
            .join("new/estimates.json");
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
        v["median"]["point_estimate"].as_f64()
    }

    /// Python's median start+join for `method`, in ns.
    pub fn python_ns(&self, method: &str) -> Option<f64> {
        self.python
            .iter()
            .find(|t| t.method == method)
            .map(|t| t.median_ns)
    }

    /// The server named `name`.
    pub fn server(&self, name: &str) -> Option<&ServerRecord> {
        self.servers.iter().find(|s| s.name == name)
    }

    /// The best pool server (by conns/s at C = 8).
    pub fn best_pool(&self) -> Option<&ServerRecord> {
        self.servers
            .iter()
            .filter(|s| s.name.starts_with("pool-"))
            .max_by(|a, b| {
                a.rate(8)
                    .unwrap_or(0.0)
                    .total_cmp(&b.rate(8).unwrap_or(0.0))
            })
    }

    /// The tracer workload named `name`.
    pub fn workload(&self, name: &str) -> Option<&TracerRecord> {
        self.tracer.iter().find(|w| w.workload == name)
    }

    /// The targets, each with its measured ratio.
    pub fn targets(&self) -> Vec<Target> {
        let pr = |a: &str, b: &str| self.paired.ratio(a, b);
        let how = |a: &str, b: &str| format!("paired rounds: median of per-round {a} / {b}");
        let mut t = vec![
            target(
                "fork start+join ≤ 1.1× raw nix fork+waitpid",
                pr("mp_fork", "raw_nix_fork"),
                1.1,
                false,
                &how("mp_fork", "raw_nix_fork"),
            ),
            target(
                "fork ≥ 12× faster than Python's fork method",
                pr("py_fork", "mp_fork"),
                12.0,
                true,
                &how("py_fork", "mp_fork"),
            ),
            target(
                "spawn ≥ 40× faster than Python's spawn",
                pr("py_spawn", "mp_spawn"),
                40.0,
                true,
                &how("py_spawn", "mp_spawn"),
            ),
            target(
                "forkserver ≥ 30× faster than Python's forkserver",
                pr("py_forkserver", "mp_forkserver"),
                30.0,
                true,
                &how("py_forkserver", "mp_forkserver"),
            ),
        ];
        // The same two ratios between whole programs (launch to exit, see `whole`).
        let whole = |prefix: &str| {
            self.whole
                .ways
                .iter()
                .find(|w| w.name.starts_with(prefix))
                .map(|w| (w.name.clone(), w.n))
        };
        let wr = |a: &str, b: &str| self.whole.ratio(a, b);
        let whow = |a: &str, b: &str| {
            format!("whole programs, paired runs: median of per-round wall time {a} / {b}")
        };
        if let Some((_, n)) = whole("mp_fork_") {
            let (a, b) = (format!("mp_fork_{n}"), format!("raw_fork_{n}"));
            t.push(target(
                &format!("fork start+join ≤ 1.1× raw fork+waitpid, whole program (N = {n})"),
                wr(&a, &b),
                1.1,
                false,
                &whow(&a, &b),
            ));
        }
        for w in self
            .whole
            .ways
            .iter()
            .filter(|w| w.name.starts_with("mp_forkserver_"))
        {
            let py = format!("py_forkserver_{}", w.n);
            t.push(target(
                &format!(
                    "forkserver ≥ 30× faster than Python's forkserver, whole program (N = {})",
                    w.n
                ),
                wr(&py, &w.name),
                30.0,
                true,
                &whow(&py, &w.name),
            ));
        }
        let div = |a: Option<f64>, b: Option<f64>| Some(a? / b?);
        let paired = |a: &str, b: &str| {
            let (a, b) = (self.server(a)?, self.server(b)?);
            a.paired_ratio(b, 8)
        };
        t.push(target(
            "per-client server ≥ 7× Python's ForkingTCPServer at C=8",
            paired("per-client", "py-forking"),
            7.0,
            true,
            "paired rounds: median of per-round conns/s per-client / py-forking (socketserver defaults)",
        ));
        t.push(target(
            "per-client server ≥ 7× ForkingTCPServer (backlog 128) at C=8",
            paired("per-client", "py-forking-b128"),
            7.0,
            true,
            "paired rounds: median of per-round conns/s per-client / py-forking-b128",
        ));
        let pool = self.best_pool();
        t.push(target(
            "pool server ≥ 5× per-client at C=8",
            pool.and_then(|p| paired(&p.name, "per-client")),
            5.0,
            true,
            &format!(
                "paired rounds: median of per-round conns/s {} / per-client",
                pool.map_or("pool-?", |p| p.name.as_str())
            ),
        ));
        for w in &self.tracer {
            let Some(limit) = w.target else { continue };
            t.push(target(
                &format!("proclab trace ≤ {limit}× untraced on {}", w.workload),
                w.ratio("proclab"),
                limit,
                false,
                "median wall time traced / untraced",
            ));
        }
        for w in &self.tracer {
            t.push(target(
                &format!(
                    "proclab trace below strace -f --seccomp-bpf on {}",
                    w.workload
                ),
                div(w.ratio("proclab"), w.ratio("strace-bpf")),
                1.0,
                false,
                "median wall time proclab / strace-bpf",
            ));
        }
        t
    }
}

fn target(claim: &str, ratio: Option<f64>, threshold: f64, at_least: bool, how: &str) -> Target {
    Target {
        claim: claim.into(),
        ratio: ratio.filter(|r| r.is_finite()),
        threshold,
        at_least,
        how: how.into(),
    }
}

/// The Rust ways measured by criterion in the spawn/join bench, in table and chart order.
pub const SPAWN_JOIN_WAYS: [&str; 7] = [
    "thread",
    "raw_nix_fork",
    "mp_fork",
    "mp_forkserver",
    "posix_spawn_true",
    "command_true",
    "mp_spawn",
];
/// The ways measured in the growth bench, in chart order.
pub const GROWTH_WAYS: [&str; 5] = [
    "thread",
    "raw_nix_fork",
    "mp_fork",
    "mp_forkserver",
    "mp_spawn",
];
/// The ways measured in the fork-vs-memory bench, in chart order.
pub const MEMORY_WAYS: [&str; 5] = [
    "raw_nix_fork",
    "mp_fork",
    "mp_spawn",
    "mp_forkserver",
    "posix_spawn_true",
];
/// The parent's touched memory sizes, in MiB.
pub const MEMORY_MIB: [u32; 4] = [0, 64, 256, 1024];
