# proclab's tasks. `just --list` shows them.

set shell := ["bash", "-euo", "pipefail", "-c"]

# Grade the bundled example submissions (the main job, on built-in defaults).
demo: build
    ./demo.sh

# Build every binary (scenarios, fixtures, proclab) in release mode.
build:
    cargo build --workspace --bins --release --quiet

# Format check, clippy with warnings as errors, and every test in the workspace.
test:
    cargo fmt --all --check
    cargo clippy --workspace --all-targets --quiet -- -D warnings
    cargo build --workspace --bins --quiet
    cargo test --workspace --quiet

# The slow tests: determinism under load (both cores saturated).
test-slow:
    PROCLAB_SLOW_TESTS=1 cargo test --quiet -p proclab-tests --test hardening_determinism -- --nocapture

# Grade one run: `just grade start-target -- python3 my.py`.
grade *ARGS:
    cargo run --release --quiet -p proclab -- grade {{ARGS}}

# Trace one run: `just trace -- python3 my.py`.
trace *ARGS:
    cargo run --release --quiet -p proclab -- trace {{ARGS}}

# Every benchmark (under 15 minutes on 2 cores); tables and charts into docs/bench/.
bench:
    cargo build --release -p pool-server -p proclab -p proclab-benches
    rm -rf "${CARGO_TARGET_DIR:-target}/criterion" "${CARGO_TARGET_DIR:-target}/proclab-bench"
    rc=0; cargo bench --no-fail-fast -p proclab-benches || rc=$?; cargo run --release -q -p proclab-benches --bin bench-report; exit $rc

# A quick pass over every benchmark (about 2 minutes); its report stays under target/.
bench-quick:
    cargo build --release -p pool-server -p proclab -p proclab-benches
    rm -rf "${CARGO_TARGET_DIR:-target}/criterion" "${CARGO_TARGET_DIR:-target}/proclab-bench"
    rc=0; PROCLAB_BENCH_QUICK=1 cargo bench --no-fail-fast -p proclab-benches || rc=$?; cargo run --release -q -p proclab-benches --bin bench-report -- --out "${CARGO_TARGET_DIR:-target}/proclab-bench/docs"; exit $rc
