//! Fork cost against the parent's touched memory (0, 64 MiB, 256 MiB, 1 GiB): a fork
//! copies the parent's page tables, so its cost grows with the memory the parent has
//! touched; `posix_spawn` (vfork-style) and the forkserver (its zygote is a fresh
//! program) do not. The curve shows where fork stops being cheap. Runs inside a memory
//! cgroup (or after checking free memory) as a safety net.

mod common;

use common::{check, criterion};
use criterion::{BenchmarkId, Criterion, SamplingMode};
use multiprocessing::StartMethod;
use proclab_benches::env::pick;
use proclab_benches::peers::{TinySpawn, mp_start_join, raw_fork_join};
use proclab_benches::safety::SafetyNet;

const MIB: usize = 1 << 20;

fn main() {
    let guard = multiprocessing::init();
    let net = check(SafetyNet::enter("fork-memory", 1024, 3 << 30));
    let mut c = criterion();
    bench(&mut c);
    c.final_summary();
    // The guard stops the forkserver's zygote; only then is the cgroup empty.
    drop(guard);
    drop(net);
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("fork_memory");
    g.sampling_mode(SamplingMode::Flat)
        .sample_size(pick(15, 10));
    let tiny = check(TinySpawn::new());
    for mib in pick(vec![0usize, 64, 256, 1024], vec![0, 256, 1024]) {
        // Touch every page so it is mapped (and its page-table entry exists) in the parent.
        let ballast = vec![1u8; mib * MIB];
        std::hint::black_box(&ballast);
        let id = |name: &str| BenchmarkId::new(name, format!("{mib}MiB"));
        g.bench_function(id("raw_nix_fork"), |b| b.iter(|| check(raw_fork_join())));
        for method in StartMethod::ALL {
            g.bench_function(id(&format!("mp_{method}")), |b| {
                b.iter(|| check(mp_start_join(method)))
            });
        }
        g.bench_function(id("posix_spawn_true"), |b| {
            b.iter(|| check(tiny.spawn_join()))
        });
        drop(ballast);
    }
    g.finish();
}
