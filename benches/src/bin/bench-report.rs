//! `bench-report [--out DIR]`: reads the results of the last `cargo bench` run (criterion's
//! estimates and `<target>/proclab-bench/*.json`), writes the target table and the other
//! tables as Markdown (`DIR/results.md`), the charts as SVG (`DIR/*.svg`) and the targets
//! as JSON (`<target>/proclab-bench/summary.json`), and prints the targets.

use anyhow::{Context, Result};
use clap::Parser;
use proclab_benches::report::{GROWTH_WAYS, MEMORY_MIB, MEMORY_WAYS, Measured, SPAWN_JOIN_WAYS};
use proclab_benches::svg::{BarChart, LineChart};
use proclab_benches::tables::markdown;
use std::path::{Path, PathBuf};

#[derive(Parser)]
#[command(about = "Summarise the benchmark results into tables and SVG charts")]
struct Args {
    /// Where to write results.md and the charts.
    #[arg(long, default_value_os_t = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/bench"))]
    out: PathBuf,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let target = proclab_benches::env::target_dir()?;
    let m = Measured::load(&target);
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let md = markdown(&m);
    write(&args.out.join("results.md"), &md)?;
    proclab_benches::results::write("summary", &m.targets())?;
    for (name, svg) in charts(&m) {
        write(&args.out.join(name), &svg)?;
    }
    for t in m.targets() {
        let verdict = match t.met() {
            Some(true) => "met",
            Some(false) => "NOT MET",
            None => "not measured",
        };
        let r = t.ratio.map_or("–".to_string(), |r| format!("{r:.2}x"));
        println!("{verdict:>12}  {r:>8}  {}", t.claim);
    }
    println!("tables: {}", args.out.join("results.md").display());
    Ok(())
}

fn write(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

fn charts(m: &Measured) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    // One process: every way, Rust and Python, on one log axis.
    let mut ways: Vec<(String, Option<f64>)> = SPAWN_JOIN_WAYS
        .iter()
        .map(|id| (id.to_string(), m.crit("spawn_join", id)))
        .collect();
    ways.extend(
        m.python
            .iter()
            .map(|t| (format!("py_{}", t.method), Some(t.median_ns))),
    );
    out.push((
        "spawn_join.svg",
        BarChart {
            title: "Start + join of one process (median)".into(),
            y_label: "µs (log)".into(),
            y_log: true,
            groups: vec![String::new()],
            series: ways
                .into_iter()
                .map(|(n, v)| (n, vec![v.map(|ns| ns / 1e3)]))
                .collect(),
            reference: None,
        }
        .render(),
    ));
    let sizes = [1.0, 4.0, 16.0, 64.0, 256.0];
    out.push((
        "growth.svg",
        LineChart {
            title: "Start N, then join N: time per process".into(),
            x_label: "N (processes started before the first join)".into(),
            y_label: "µs per process (log)".into(),
            x_log: true,
            y_log: true,
            series: GROWTH_WAYS
                .iter()
                .map(|way| {
                    let pts = sizes
                        .iter()
                        .filter_map(|&n| {
                            Some((n, m.crit("growth", &format!("{way}/{n}"))? / n / 1e3))
                        })
                        .collect();
                    (way.to_string(), pts)
                })
                .collect(),
        }
        .render(),
    ));
    out.push((
        "fork_memory.svg",
        LineChart {
            title: "Start + join against the parent's touched memory".into(),
            x_label: "parent's touched memory (MiB; 0 drawn at 1)".into(),
            y_label: "µs per start+join (log)".into(),
            x_log: true,
            y_log: true,
            series: MEMORY_WAYS
                .iter()
                .map(|way| {
                    let pts = MEMORY_MIB
                        .iter()
                        .filter_map(|&mib| {
                            let v = m.crit("fork_memory", &format!("{way}/{mib}MiB"))?;
                            Some((f64::from(mib.max(1)), v / 1e3))
                        })
                        .collect();
                    (way.to_string(), pts)
                })
                .collect(),
        }
        .render(),
    ));
    out.push((
        "servers.svg",
        BarChart {
            title: "Servers: connections per second by concurrency (median)".into(),
            y_label: "connections/s (log)".into(),
            y_log: true,
            groups: ["C=1", "C=8", "C=64"].map(String::from).to_vec(),
            series: m
                .servers
                .iter()
                .map(|s| {
                    (
                        s.name.clone(),
                        [1, 8, 64].iter().map(|&c| s.rate(c)).collect(),
                    )
                })
                .collect(),
            reference: None,
        }
        .render(),
    ));
    let tracers = ["proclab", "proclab-bare", "strace", "strace-bpf"];
    out.push((
        "tracer.svg",
        BarChart {
            title: "Tracer overhead: wall time / untraced (median)".into(),
            y_label: "× untraced (log)".into(),
            y_log: true,
            groups: m.tracer.iter().map(|w| w.workload.clone()).collect(),
            series: tracers
                .iter()
                .map(|t| (t.to_string(), m.tracer.iter().map(|w| w.ratio(t)).collect()))
                .collect(),
            reference: Some((1.05, "1.05×".into())),
        }
        .render(),
    ));
    out
}
