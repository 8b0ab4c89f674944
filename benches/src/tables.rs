//! The Markdown tables of `docs/bench/results.md`: targets, spawn/join (paired and
//! criterion), growth, fork against memory, servers, tracer.

use crate::report::{GROWTH_WAYS, MEMORY_MIB, MEMORY_WAYS, Measured, SPAWN_JOIN_WAYS};
use std::fmt::Write;

fn mark(met: Option<bool>) -> &'static str {
    match met {
        Some(true) => "met",
        Some(false) => "**not met**",
        None => "not measured",
    }
}

fn us(ns: Option<f64>) -> String {
    ns.map_or("–".into(), |v| format!("{:.0}", v / 1e3))
}

/// The Markdown tables: targets, spawn/join, growth, fork vs memory, servers, tracer.
pub fn markdown(m: &Measured) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "### Targets\n\n| target | measured | threshold | verdict | how |\n|---|---|---|---|---|"
    );
    for t in m.targets() {
        let r = t.ratio.map_or("–".into(), |r| format!("{r:.2}×"));
        let op = if t.at_least { "≥" } else { "≤" };
        let _ = writeln!(
            s,
            "| {} | {r} | {op} {}× | {} | {} |",
            t.claim,
            t.threshold,
            mark(t.met()),
            t.how
        );
    }
    let _ = writeln!(
        s,
        "\n### Start + join, paired rounds (median over rounds of each round's median, µs)\n\n| way | per round | µs | × raw fork (median of per-round ratios) |\n|---|---|---|---|"
    );
    for w in &m.paired.ways {
        let x = m
            .paired
            .ratio(&w.name, "raw_nix_fork")
            .map_or("–".into(), |r| format!("{r:.2}"));
        let _ = writeln!(
            s,
            "| {} | {} | {} | {x} |",
            w.name,
            w.per_round,
            us(m.paired.median_ns(&w.name))
        );
    }
    let _ = writeln!(
        s,
        "\n### Start + join, whole programs (launch to exit; paired runs, median wall time)\n\n| program | command | runs | start+joins | ms | per start+join, µs (all included) |\n|---|---|---|---|---|---|"
    );
    for w in &m.whole.ways {
        let ms = m.whole.median_s(&w.name).unwrap_or(f64::NAN) * 1e3;
        let _ = writeln!(
            s,
            "| {} | `{}` | {} | {} | {ms:.1} | {:.0} |",
            w.name,
            w.command,
            w.secs.len(),
            w.n,
            ms * 1e3 / w.n as f64
        );
    }
    let _ = writeln!(
        s,
        "\n### Start + join of one process, criterion (median, µs)\n\n| way | µs | × raw fork |\n|---|---|---|"
    );
    let raw = m.crit("spawn_join", "raw_nix_fork");
    for id in SPAWN_JOIN_WAYS {
        let v = m.crit("spawn_join", id);
        let x = v
            .zip(raw)
            .map_or("–".into(), |(a, b)| format!("{:.2}", a / b));
        let _ = writeln!(s, "| {id} | {} | {x} |", us(v));
    }
    for t in &m.python {
        let x = raw.map_or("–".into(), |b| format!("{:.2}", t.median_ns / b));
        let _ = writeln!(
            s,
            "| Python {} (n = {}) | {:.0} | {x} |",
            t.method,
            t.n,
            t.median_ns / 1e3
        );
    }
    let _ = writeln!(
        s,
        "\n### Growth: start N then join N (median µs per process)\n"
    );
    let sizes = [1usize, 4, 16, 64, 256];
    let _ = writeln!(
        s,
        "| way | {} |\n|---|{}",
        sizes.map(|n| format!("N={n}")).join(" | "),
        "---|".repeat(sizes.len())
    );
    for way in GROWTH_WAYS {
        let cells: Vec<String> = sizes
            .iter()
            .map(|&n| {
                us(m.crit("growth", &format!("{way}/{n}"))
                    .map(|v| v / n as f64))
            })
            .collect();
        let _ = writeln!(s, "| {way} | {} |", cells.join(" | "));
    }
    let _ = writeln!(
        s,
        "\n### Start + join against the parent's touched memory (median µs)\n"
    );
    let _ = writeln!(
        s,
        "| way | {} |\n|---|{}",
        MEMORY_MIB.map(|m| format!("{m} MiB")).join(" | "),
        "---|".repeat(MEMORY_MIB.len())
    );
    for way in MEMORY_WAYS {
        let cells: Vec<String> = MEMORY_MIB
            .iter()
            .map(|mib| us(m.crit("fork_memory", &format!("{way}/{mib}MiB"))))
            .collect();
        let _ = writeln!(s, "| {way} | {} |", cells.join(" | "));
    }
    let _ = writeln!(
        s,
        "\n### Servers (median connections/s; p99 latency at C=8; footprint during a C=64 run)\n\n| server | C=1 | C=8 | C=64 | p99 C=8 (ms) | peak processes | peak threads | peak RSS sum (MiB) | failed conns |\n|---|---|---|---|---|---|---|---|---|"
    );
    for r in &m.servers {
        let c = |k: usize| r.rate(k).map_or("–".into(), |v| format!("{v:.0}"));
        let p99 = r
            .p99_us(8)
            .map_or("–".into(), |v| format!("{:.1}", v / 1e3));
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {p99} | {} | {} | {:.1} | {} |",
            r.name,
            c(1),
            c(8),
            c(64),
            r.peak.processes,
            r.peak.threads,
            r.peak.rss_bytes as f64 / (1u64 << 20) as f64,
            r.errors()
        );
        if let Some(f) = &r.failure {
            let _ = writeln!(
                s,
                "| {} FAILED: {} | | | | | | | | |",
                r.name,
                f.replace('|', "/")
            );
        }
    }
    let _ = writeln!(
        s,
        "\n### Tracer overhead (median wall time; ratio to untraced)\n\n| workload | untraced (ms) | proclab trace | proclab trace, no containment | strace -f | strace -f --seccomp-bpf |\n|---|---|---|---|---|---|"
    );
    for w in &m.tracer {
        let base = w.variants.first().map_or(f64::NAN, |v| v.median_s * 1e3);
        let r = |n: &str| w.ratio(n).map_or("–".into(), |v| format!("{v:.2}×"));
        let _ = writeln!(
            s,
            "| {} | {base:.1} | {} | {} | {} | {} |",
            w.workload,
            r("proclab"),
            r("proclab-bare"),
            r("strace"),
            r("strace-bpf")
        );
    }
    s
}
