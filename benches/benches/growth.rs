//! Growth: start N processes, then join all N, for N = 1, 4, 16, 64, 256 — the
//! `multiprocessing` start methods against raw `nix` fork and threads. Criterion reports
//! per-batch times; the throughput is set to N so its reports show processes per second.

mod common;

use common::{check, criterion};
use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput};
use multiprocessing::{Process, StartMethod};
use proclab_benches::env::pick;
use proclab_benches::peers::{mp_process, raw_fork, wait_ok};
use proclab_benches::safety::SafetyNet;

fn main() {
    let guard = multiprocessing::init();
    // Up to 256 children at once (each a copy of this program under spawn): cap the tree.
    let net = check(SafetyNet::enter("growth", 1024, 4 << 30));
    let mut c = criterion();
    bench(&mut c);
    c.final_summary();
    // The guard stops the forkserver's zygote; only then is the cgroup empty.
    drop(guard);
    drop(net);
}

fn sizes() -> Vec<usize> {
    pick(vec![1, 4, 16, 64, 256], vec![1, 16, 64])
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("growth");
    g.sampling_mode(SamplingMode::Flat).sample_size(10);
    for n in sizes() {
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::new("raw_nix_fork", n), &n, |b, &n| {
            b.iter(|| {
                let pids: Vec<_> = (0..n).map(|_| check(raw_fork())).collect();
                pids.into_iter().for_each(|p| check(wait_ok(p)));
            })
        });
        for method in StartMethod::ALL {
            g.bench_with_input(BenchmarkId::new(format!("mp_{method}"), n), &n, |b, &n| {
                b.iter(|| start_then_join(method, n))
            });
        }
    }
    // Threads last: while they run, the process is multi-threaded and fork is refused.
    for n in sizes() {
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::new("thread", n), &n, |b, &n| {
            b.iter(|| {
                let handles: Vec<_> = (0..n).map(|_| std::thread::spawn(|| {})).collect();
                handles
                    .into_iter()
                    .for_each(|h| check(h.join().map_err(|_| anyhow::anyhow!("panic"))));
            })
        });
    }
    g.finish();
}

fn start_then_join(method: StartMethod, n: usize) {
    let mut procs: Vec<Process> = (0..n).map(|_| mp_process(method)).collect();
    for p in &mut procs {
        check(p.start().map_err(anyhow::Error::from));
    }
    for p in &mut procs {
        let code = check(p.join().map_err(anyhow::Error::from));
        if code != 0 {
            check::<()>(Err(anyhow::anyhow!("{method} child exited with {code}")));
        }
    }
}
