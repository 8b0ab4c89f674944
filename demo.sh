#!/usr/bin/env bash
# `just demo`: the main job on built-in defaults. Runs every reference scenario once,
# with short sleeps, so a newcomer sees what each exercise's program prints.
set -euo pipefail
cd "$(dirname "$0")"
bin=target/release
for scenario in start-target start-subclass join-order; do
    echo "== $scenario"
    "$bin/$scenario" --sleep-ms 300
done
echo "== isolation"; "$bin/isolation"
echo "== daemon"; "$bin/daemon" --sleep-ms 300 --daemon-sleep-ms 5000
echo "== terminate"; "$bin/terminate"
