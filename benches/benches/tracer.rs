//! Tracer overhead: the same workloads untraced, under `proclab trace`, under `strace -f`
//! and under `strace -f --seccomp-bpf`, timed as whole programs in interleaved rounds.
//! Results: `<target>/proclab-bench/tracer.json` and a table on stdout.
//!
//! Both strace variants trace the facts the grader needs (`-e trace=%process,write,writev`)
//! into /dev/null, so they differ only in the seccomp filter; `proclab trace` prints its
//! tree and timeline to /dev/null too. `proclab-bare` is `proclab trace` without its
//! containment (no network namespace, cgroups, read-only file system or user switch): the
//! tracer alone, for reading where the grader's time goes; no target uses it.

use anyhow::{Context, Result};
use proclab_benches::env::{filter_allows, pick, workspace_bin};
use proclab_benches::results::TracerRecord;
use proclab_benches::runs::interleaved;
use std::process::Command;
use std::time::Duration;

fn main() -> Result<()> {
    if !filter_allows("tracer") {
        return Ok(());
    }
    let workload = env!("CARGO_BIN_EXE_workload").to_string();
    let timeout = Duration::from_secs(pick(60, 30));
    // (name, target ratio to untraced, workload arguments, rounds): short workloads get
    // more rounds, their medians move most from one run to the next.
    let workloads: Vec<(&str, Option<f64>, Vec<String>, usize)> = vec![
        (
            "start-target",
            Some(1.05),
            args(&["tree", "--sleep-ms", "100"]),
            pick(15, 5),
        ),
        (
            "tree-nosleep",
            None,
            args(&["tree", "--sleep-ms", "0"]),
            pick(31, 9),
        ),
        (
            "tcp",
            Some(1.6),
            args(&["tcp", "--conns", pick("200", "50"), "--trips", "10"]),
            pick(9, 3),
        ),
        (
            "writes",
            None,
            args(&["writes", "--count", pick("100000", "10000")]),
            pick(9, 3),
        ),
        (
            "cpu",
            Some(1.05),
            args(&["cpu", "--iters", pick("300000000", "100000000")]),
            pick(5, 3),
        ),
    ];
    let tracers = tracers();
    let mut results = Vec::new();
    for (name, target, wargs, rounds) in workloads {
        let mut cmd = vec![workload.clone()];
        cmd.extend(wargs);
        let variants: Vec<(String, Vec<String>)> = tracers
            .iter()
            .map(|(tname, prefix)| {
                let mut argv = prefix.clone();
                argv.extend(cmd.iter().cloned());
                (tname.clone(), argv)
            })
            .collect();
        let samples =
            interleaved(&variants, rounds, timeout).with_context(|| format!("workload {name}"))?;
        let base = samples[0].median_s;
        let ratios: Vec<(String, f64)> = samples
            .iter()
            .map(|s| (s.name.clone(), s.median_s / base))
            .collect();
        print!("tracer/{name:<13}");
        for (s, (_, r)) in samples.iter().zip(&ratios) {
            print!("  {}: {:8.2} ms ({r:5.2}x)", s.name, s.median_s * 1e3);
        }
        println!();
        results.push(TracerRecord {
            workload: name.into(),
            target,
            variants: samples,
            ratios,
        });
    }
    let path = proclab_benches::results::write("tracer", &results)?;
    println!("tracer: results in {}", path.display());
    Ok(())
}

fn args(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

/// The variants as command prefixes; a tracer that is missing is left out, with a note.
fn tracers() -> Vec<(String, Vec<String>)> {
    let mut t = vec![("untraced".to_string(), vec![])];
    match workspace_bin("proclab") {
        Ok(p) => {
            let p = p.display().to_string();
            t.push((
                "proclab".into(),
                vec![p.clone(), "trace".into(), "--".into()],
            ));
            t.push((
                "proclab-bare".into(),
                args(&[
                    &p,
                    "trace",
                    "--no-netns",
                    "--no-cgroup",
                    "--writable-fs",
                    "--user",
                    "root",
                    "--",
                ]),
            ));
        }
        Err(e) => eprintln!("tracer: skipping proclab trace: {e:#}"),
    }
    let strace_ok = Command::new("strace")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    if strace_ok {
        let common = args(&[
            "-f",
            "-qq",
            "-o",
            "/dev/null",
            "-e",
            "trace=%process,write,writev",
        ]);
        let mut plain = vec!["strace".to_string()];
        plain.extend(common.iter().cloned());
        let mut bpf = vec!["strace".to_string(), "--seccomp-bpf".into()];
        bpf.extend(common);
        t.push(("strace".into(), plain));
        t.push(("strace-bpf".into(), bpf));
    } else {
        eprintln!("tracer: skipping strace: not installed (apt-get install -y strace)");
    }
    t
}
