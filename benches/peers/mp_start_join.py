"""Time Python's process start+join, for comparison with the Rust library.

Usage: mp_start_join.py METHOD N [WARMUP]
METHOD is one of fork, spawn, forkserver (multiprocessing start methods) or
os_fork (bare os.fork + os._exit + os.waitpid). Prints one JSON object with
the per-operation median and mean in nanoseconds. The target function does
nothing, so the figure is the cost of starting and joining a process.
"""

import json
import multiprocessing as mp
import os
import statistics
import sys
import time


def noop():
    pass


def one_mp(ctx):
    p = ctx.Process(target=noop)
    p.start()
    p.join()
    if p.exitcode != 0:
        raise SystemExit(f"child exited with {p.exitcode}")


def one_os_fork():
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    if status != 0:
        raise SystemExit(f"child exited with status {status}")


def main():
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    method, n = sys.argv[1], int(sys.argv[2])
    warmup = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    if method == "os_fork":
        op = one_os_fork
    else:
        ctx = mp.get_context(method)
        op = lambda: one_mp(ctx)  # noqa: E731
    # Warm-up also starts the forkserver and resource tracker, which are
    # one-off costs, not per-process ones.
    for _ in range(warmup):
        op()
    samples = []
    for _ in range(n):
        t0 = time.perf_counter_ns()
        op()
        samples.append(time.perf_counter_ns() - t0)
    print(json.dumps({
        "method": method,
        "n": n,
        "median_ns": statistics.median(samples),
        "mean_ns": statistics.fmean(samples),
        "min_ns": min(samples),
        "python": sys.version.split()[0],
        "executable": sys.executable,
    }))


if __name__ == "__main__":
    main()
