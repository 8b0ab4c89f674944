#!/usr/bin/env bash
# The floor that Python's flush semantics set under issue 15's fork target (BENCHMARKS.md,
# "Fork start+join, 7 Dec: the floor the flush sets").
#
# Builds `mp-start-join` from HEAD three ways, in a scratch worktree:
#   as-is           the library as committed;
#   no-child-flush  without the fork child's flush at its exit;
#   no-flush        without that one nor the parent's flush before the fork.
# Then, for each build, counts page faults per start+join and times `raw N` against
# `fork N` as whole programs (launch to exit, stdout to /dev/null), both orders shuffled
# round by round, first unpinned, then with everything on one CPU.
#
# Last, it measures what one page fault of each kind adds to a bare fork + `_exit` +
# `waitpid` on this machine (`fault-cost`, pinned, the four ways interleaved): a copy, a
# fault in code, and a write to a page the fork write-protected.
#
# The two edited builds break Python's semantics (a `print!` without a newline is lost,
# or written twice): they exist only to measure what the flush costs, never to ship.
#
# Usage: benches/experiments/flush-floor.sh [ROUNDS [N]]   (default 120 rounds, N = 200)
set -euo pipefail
rounds=${1:-120}
n=${2:-200}
repo=$(git rev-parse --show-toplevel)
work=$(mktemp -d)
cleanup() {
    git -C "$repo" worktree remove --force "$work/src" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
git -C "$repo" worktree add --quiet --detach "$work/src" HEAD

build() { # binary, name of the copy
    (cd "$work/src" && cargo build --quiet --release --target-dir "$repo/target/flush-floor" \
        -p proclab-benches --bin "$1")
    cp "$repo/target/flush-floor/release/$1" "$work/$2"
}

# Comments out the one `sys::flush_stdio();` matched by the sed address, or fails.
drop_flush() { # file, sed address, label
    sed -i "$2 s|^    sys::flush_stdio();|    // flush-floor: $3|" "$work/src/$1"
    grep -q "flush-floor: $3" "$work/src/$1" || { echo "flush-floor: no flush found in $1" >&2; exit 1; }
}

build fault-cost fault-cost
build mp-start-join as-is
drop_flush multiprocessing/src/child/mod.rs '/^fn finish/,/^}/' "no flush at the child's exit"
build mp-start-join no-child-flush
drop_flush multiprocessing/src/start_method/fork.rs '' "no flush before the fork"
build mp-start-join no-flush

python3 - "$rounds" "$n" "$work/fault-cost" "$work/as-is" "$work/no-child-flush" "$work/no-flush" <<'PY'
import os, random, resource, statistics, subprocess, sys, time

rounds, n, probe, builds = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4:]
null = os.open("/dev/null", os.O_WRONLY)

def faults(b, way, ops=2000):
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_minflt
    subprocess.run([b, way, str(ops)], stdout=null, check=True)
    return (resource.getrusage(resource.RUSAGE_CHILDREN).ru_minflt - before) / ops

def wall(b, way):
    start = time.perf_counter()
    pid = os.posix_spawn(b, [b, way, n], os.environ, file_actions=[(os.POSIX_SPAWN_DUP2, null, 1)])
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, (b, way)
    return time.perf_counter() - start

def compare(label):
    runs = {(b, w): [] for b in builds for w in ("raw", "fork")}
    for _ in range(rounds):
        order = list(runs)
        random.shuffle(order)
        for key in order:
            runs[key].append(wall(*key))
    print(f"\n{label}: median over {rounds} rounds of fork/raw in the same round [quartiles]")
    for b in builds:
        r = sorted(f / w for f, w in zip(runs[(b, "fork")], runs[(b, "raw")]))
        q = lambda p: r[round(p * (len(r) - 1))]
        raw_us = statistics.median(runs[(b, "raw")]) / int(n) * 1e6
        print(f"  {os.path.basename(b):15s} {statistics.median(r):.3f}x [{q(.25):.3f}-{q(.75):.3f}]  raw {raw_us:.0f} us a start+join")

print("page faults per start+join (raw, fork):")
for b in builds:
    print(f"  {os.path.basename(b):15s} {faults(b, 'raw'):.2f} {faults(b, 'fork'):.2f}")
compare("unpinned")
os.sched_setaffinity(0, {max(os.sched_getaffinity(0))})
compare(f"pinned to CPU {max(os.sched_getaffinity(0))}")

out = subprocess.run([probe, "4000", "8"], capture_output=True, text=True, check=True).stdout
print("\nfault-cost 4000 8, pinned: median µs a fork + _exit + waitpid, and what one fault adds")
for line in out.splitlines():
    way, us, *per = line.split()
    extra = f"  {float(per[0]):.2f} µs a fault, {float(per[0]) / base * 100:.1f} % of a fork" if per else ""
    if not per:
        base = float(us)
    print(f"  {way:4s} {float(us):6.1f}{extra}")
PY
