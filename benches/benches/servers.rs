//! Servers: the lesson's per-client server, the pool server (workers = cores and 4×
//! cores), and the peers (thread-per-client, a raw-nix forking server, Python's
//! `socketserver.ForkingTCPServer` and a Python pre-fork server) under the `loadgen`
//! binary at C = 1, 8, 64 concurrent connections; then each server's peak process count
//! and RSS sum at C = 64, sampled from /proc. Every server runs on port 0 in its own
//! process group and is stopped by that group's id afterwards.
//! Results: `<target>/proclab-bench/servers.json` and a table on stdout.

use anyhow::{Context, Result, bail};
use proclab_benches::env::{filter_allows, peers_dir, pick, python, workspace_bin};
use proclab_benches::load::LoadReport;
use proclab_benches::procstat::{GroupStats, peak_while};
use proclab_benches::results::ServerRecord;
use proclab_benches::safety::SafetyNet;
use proclab_benches::server::Server;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

const CONCURRENCY: [usize; 3] = [1, 8, 64];

/// One server under test and the concurrencies it is measured at.
struct Spec {
    name: String,
    argv: Vec<String>,
    concurrency: Vec<usize>,
}

fn main() -> Result<()> {
    if !filter_allows("servers") {
        return Ok(());
    }
    // The per-client servers fork once per connection: cap the tree (zombies count too:
    // a server that stops reaping hits the cap and its fork fails with EAGAIN).
    let _net = SafetyNet::enter("servers", 4096, 4 << 30)?;
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let count = pick(2000, 300);
    let rounds = pick(5, 1);
    let timeout_s = pick(40, 15);
    let specs = specs(cores)?;
    let mut servers = Vec::new();
    for spec in &specs {
        let mut cmd = Command::new(&spec.argv[0]);
        cmd.args(&spec.argv[1..]);
        servers
            .push(Server::start(cmd, Duration::from_secs(10)).with_context(|| spec.name.clone())?);
    }
    let mut results: Vec<ServerRecord> = specs
        .iter()
        .map(|s| ServerRecord {
            name: s.name.clone(),
            argv: s.argv.clone(),
            runs: s.concurrency.iter().map(|&c| (c, Vec::new())).collect(),
            peak_run: None,
            peak: GroupStats::default(),
            failure: None,
        })
        .collect();
    // Rounds interleave the servers so drift in the machine's speed hits them alike.
    // A server that fails (no connection succeeds: it crashed) is recorded as failed and
    // left out of the rest of the run; the others go on.
    for _ in 0..rounds {
        for (i, spec) in specs.iter().enumerate() {
            for (j, &c) in spec.concurrency.iter().enumerate() {
                if results[i].failure.is_some() {
                    break;
                }
                match loadgen(&servers[i], c, count, timeout_s) {
                    Ok(r) => results[i].runs[j].1.push(r),
                    Err(e) => results[i].failure = Some(format!("C={c}: {e:#}")),
                }
            }
        }
    }
    for (i, server) in servers.iter().enumerate() {
        if results[i].failure.is_some() {
            continue;
        }
        match sampled(server, 64, pick(1000, 200), timeout_s) {
            Ok((report, peak)) => {
                results[i].peak_run = Some(report);
                results[i].peak = peak;
            }
            Err(e) => results[i].failure = Some(format!("sampled C=64: {e:#}")),
        }
    }
    for server in servers {
        server.stop()?;
    }
    let failed: Vec<&ServerRecord> = results.iter().filter(|r| r.failure.is_some()).collect();
    for r in &failed {
        eprintln!(
            "servers: {} FAILED: {}",
            r.name,
            r.failure.as_deref().unwrap_or("")
        );
    }
    print_table(&results);
    let path = proclab_benches::results::write("servers", &results)?;
    println!("servers: results in {}", path.display());
    if !failed.is_empty() {
        bail!("{} server(s) failed", failed.len());
    }
    Ok(())
}

fn specs(cores: usize) -> Result<Vec<Spec>> {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let bin = |name: &str| -> Result<String> { Ok(workspace_bin(name)?.display().to_string()) };
    let py = python()?.display().to_string();
    let peer = |f: &str| peers_dir().join(f).display().to_string();
    let all = CONCURRENCY.to_vec();
    let mut specs = Vec::new();
    // The scenario servers come from other packages: missing ones are skipped loudly.
    let scenario = [
        ("per-client".to_string(), "per-client-server", vec![]),
        (
            format!("pool-{cores}"),
            "pool-server",
            vec!["--workers".to_string(), cores.to_string()],
        ),
        (
            format!("pool-{}", 4 * cores),
            "pool-server",
            vec!["--workers".to_string(), (4 * cores).to_string()],
        ),
    ];
    for (name, b, extra) in scenario {
        match bin(b) {
            Ok(path) => specs.push(Spec {
                name,
                argv: [vec![path], s(&["--port", "0"]), extra].concat(),
                concurrency: all.clone(),
            }),
            Err(e) => eprintln!("servers: SKIPPING {name}: {e:#}"),
        }
    }
    specs.extend([
        Spec {
            name: "rust-threads".into(),
            argv: s(&[env!("CARGO_BIN_EXE_thread-server"), "--port", "0"]),
            concurrency: all.clone(),
        },
        Spec {
            name: "rust-raw-fork".into(),
            argv: s(&[env!("CARGO_BIN_EXE_fork-server"), "--port", "0"]),
            concurrency: all.clone(),
        },
        // As users get it: socketserver's listen backlog of 5 overflows at C = 64 (SYN
        // retransmits of 1 s and more), so only its sampled C = 64 run is made.
        Spec {
            name: "py-forking".into(),
            argv: vec![py.clone(), peer("forking_server.py"), "0".into()],
            concurrency: vec![1, 8],
        },
        Spec {
            name: "py-forking-b128".into(),
            argv: vec![
                py.clone(),
                peer("forking_server.py"),
                "0".into(),
                "--backlog".into(),
                "128".into(),
            ],
            concurrency: all.clone(),
        },
        Spec {
            name: format!("py-prefork-{cores}"),
            argv: vec![py, peer("prefork_server.py"), "0".into(), cores.to_string()],
            concurrency: all,
        },
    ]);
    Ok(specs)
}

/// Runs the `loadgen` binary against `server`.
fn loadgen(server: &Server, c: usize, count: usize, timeout_s: u64) -> Result<LoadReport> {
    let out = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(["--addr", &server.addr().to_string()])
        .args([
            "--concurrency",
            &c.to_string(),
            "--count",
            &count.to_string(),
        ])
        .args(["--timeout-s", &timeout_s.to_string()])
        .output()
        .context("cannot run loadgen")?;
    let text = String::from_utf8_lossy(&out.stdout);
    let report: LoadReport = serde_json::from_str(text.trim()).with_context(|| {
        format!(
            "loadgen printed {text:?}, stderr {:?}",
            String::from_utf8_lossy(&out.stderr)
        )
    })?;
    if report.completed == 0 {
        bail!(
            "no connection to {} succeeded: {:?}",
            server.addr(),
            report.first_error
        );
    }
    Ok(report)
}

/// A loadgen run at concurrency `c` while /proc is sampled for the server's footprint.
fn sampled(
    server: &Server,
    c: usize,
    count: usize,
    timeout_s: u64,
) -> Result<(LoadReport, GroupStats)> {
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        let sampler = s.spawn(|| {
            peak_while(server.pid(), Duration::from_millis(2), || {
                done.load(Ordering::Relaxed)
            })
        });
        let report = loadgen(server, c, count, timeout_s);
        done.store(true, Ordering::Relaxed);
        let peak = sampler.join().unwrap_or_default();
        Ok((report?, peak))
    })
}

fn print_table(results: &[ServerRecord]) {
    println!(
        "{:<18} {:>10} {:>10} {:>10} {:>9} {:>11} {:>6}",
        "server", "C=1 c/s", "C=8 c/s", "C=64 c/s", "peak procs", "peak RSS MiB", "errors"
    );
    for r in results {
        let rate = |c: usize| r.rate(c).unwrap_or(f64::NAN);
        let errors = r.errors();
        println!(
            "{:<18} {:>10.0} {:>10.0} {:>10.0} {:>9} {:>11.1} {:>6}",
            r.name,
            rate(1),
            rate(8),
            rate(64),
            r.peak.processes,
            r.peak.rss_bytes as f64 / (1 << 20) as f64,
            errors
        );
    }
}
