//! Criterion settings shared by the criterion benches (full and quick mode).

use criterion::Criterion;
use proclab_benches::env::{criterion_times, pick, quick};

/// Criterion configured for this mode; command-line flags still override.
pub fn criterion() -> Criterion {
    let (warm_up, measurement) = criterion_times();
    let c = Criterion::default()
        .warm_up_time(warm_up)
        .measurement_time(measurement)
        .sample_size(pick(30, 10))
        .nresamples(pick(20_000, 2_000));
    let c = if quick() { c.without_plots() } else { c };
    c.configure_from_args()
}

/// Unwraps a benched operation's result: a failure aborts the bench with its message
/// rather than producing a meaningless figure.
pub fn check<T>(r: anyhow::Result<T>) -> T {
    match r {
        Ok(v) => v,
        Err(e) => {
            eprintln!("bench failed: {e:#}");
            std::process::exit(1)
        }
    }
}
