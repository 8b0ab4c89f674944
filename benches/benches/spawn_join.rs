//! Start+join of one process: `multiprocessing` with fork, spawn and forkserver against
//! raw `nix` fork + `_exit` + waitpid, `posix_spawn` of `/bin/true`,
//! `std::process::Command` of `/bin/true` and a thread (the floor), measured by criterion;
//! then Python's `multiprocessing` fork/spawn/forkserver and `os.fork`, timed by
//! `peers/mp_start_join.py` (criterion cannot time Python's inner loop) and recorded in
//! `<target>/proclab-bench/python_spawn_join.json`; then the paired measurement behind the
//! ratio targets (`paired_spawn_join.json`, see `proclab_benches::paired`); then the same
//! ratios between whole programs (`whole_spawn_join.json`, see `proclab_benches::whole`).

mod common;

use common::{check, criterion};
use criterion::Criterion;
use multiprocessing::StartMethod;
use proclab_benches::env::{filter_allows, pick};
use proclab_benches::peers::{
    PythonTiming, TinySpawn, command_true, mp_start_join, python_start_join, raw_fork_join,
    thread_join,
};

fn main() {
    // First: a spawned or forkserver child is this program executed again.
    let _guard = multiprocessing::init();
    let mut c = criterion();
    bench(&mut c);
    c.final_summary();
    if filter_allows("spawn_join/python") {
        check(python());
    }
    if filter_allows("spawn_join/paired") {
        check(paired());
    }
    if filter_allows("spawn_join/fork_pairs") {
        check(fork_pairs());
    }
    if filter_allows("spawn_join/whole_paired") {
        check(whole());
    }
}

/// The same comparisons between whole programs (launch to exit), see
/// `proclab_benches::whole`.
fn whole() -> anyhow::Result<()> {
    let n_fork = pick(200, 50);
    // The fork pair is cheap (two runs of ~20 ms a round): more rounds for its median.
    let w = proclab_benches::whole::run(pick(61, 5), pick(21, 3), n_fork, &[1, 30])?;
    for (a, b) in [
        (format!("mp_fork_{n_fork}"), format!("raw_fork_{n_fork}")),
        (
            format!("mp_fork_{n_fork}_pinned"),
            format!("raw_fork_{n_fork}_pinned"),
        ),
        ("py_forkserver_1".into(), "mp_forkserver_1".into()),
        ("py_forkserver_30".into(), "mp_forkserver_30".into()),
    ] {
        let r = w.ratio(&a, &b).unwrap_or(f64::NAN);
        println!("spawn_join/whole {a} / {b}: {r:.2}x (median of per-round ratios)");
    }
    println!(
        "spawn_join/whole load average before, after: {:?}",
        w.loadavg
    );
    let path = proclab_benches::results::write("whole_spawn_join", &w)?;
    println!("spawn_join: whole-program figures in {}", path.display());
    Ok(())
}

/// The fork target's op-by-op pairs (see `proclab_benches::paired::fork_pairs`).
fn fork_pairs() -> anyhow::Result<()> {
    let f = proclab_benches::paired::fork_pairs(pick(6000, 1500))?;
    println!(
        "spawn_join/fork_pairs mp_fork / raw_nix_fork: {:.3}x (medians), {:.3}x (median of pair ratios), {} pairs",
        f.ratio_of_medians(),
        f.median_pair_ratio(),
        f.pairs
    );
    let path = proclab_benches::results::write("fork_pairs_spawn_join", &f)?;
    println!("spawn_join: fork pairs in {}", path.display());
    Ok(())
}

/// The ratio targets' measurement: Rust and Python interleaved round by round.
fn paired() -> anyhow::Result<()> {
    let p = proclab_benches::paired::run(pick(7, 3), pick(1, 4))?;
    for (a, b) in [
        ("mp_fork", "raw_nix_fork"),
        ("py_fork", "mp_fork"),
        ("py_spawn", "mp_spawn"),
        ("py_forkserver", "mp_forkserver"),
    ] {
        let r = p.ratio(a, b).unwrap_or(f64::NAN);
        println!("spawn_join/paired {a} / {b}: {r:.2}x (median of per-round ratios)");
    }
    let path = proclab_benches::results::write("paired_spawn_join", &p)?;
    println!("spawn_join: paired figures in {}", path.display());
    Ok(())
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("spawn_join");
    g.bench_function("raw_nix_fork", |b| b.iter(|| check(raw_fork_join())));
    for method in StartMethod::ALL {
        g.bench_function(format!("mp_{method}"), |b| {
            b.iter(|| check(mp_start_join(method)))
        });
    }
    let tiny = check(TinySpawn::new());
    g.bench_function("posix_spawn_true", |b| b.iter(|| check(tiny.spawn_join())));
    g.bench_function("command_true", |b| b.iter(|| check(command_true())));
    // Last: a thread leaves the process briefly multi-threaded, where fork is refused.
    g.bench_function("thread", |b| b.iter(|| check(thread_join())));
    g.finish();
}

fn python() -> anyhow::Result<()> {
    let runs: [(&str, u64); 4] = [
        ("os_fork", pick(300, 40)),
        ("fork", pick(300, 40)),
        ("forkserver", pick(150, 20)),
        ("spawn", pick(40, 8)),
    ];
    let mut timings: Vec<PythonTiming> = Vec::new();
    for (method, n) in runs {
        let t = python_start_join(method, n)?;
        println!(
            "spawn_join/python_{:<12} median {:>10.1} µs  (n = {}, Python {})",
            t.method,
            t.median_ns / 1e3,
            t.n,
            t.python
        );
        timings.push(t);
    }
    let path = proclab_benches::results::write("python_spawn_join", &timings)?;
    println!("spawn_join: Python figures in {}", path.display());
    Ok(())
}
