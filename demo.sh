#!/usr/bin/env bash
# `just demo`: the main job on built-in defaults. Assembles a small example class from
# the bundled submissions in tests/fixtures (correct ones and classic mistakes, in Python),
# grades it with `proclab grade-class`, and shows the gradebook and where the reports are.
set -euo pipefail
cd "$(dirname "$0")"
proclab=target/release/proclab
fixtures=tests/fixtures/python
demo=target/demo
rm -rf "$demo/class"

# student exercise-file fixture
while read -r student file fixture; do
    mkdir -p "$demo/class/$student"
    cp "$fixtures/$fixture" "$demo/class/$student/$file"
done <<'CLASS'
ada   start_target.py   start_target/good.py
ada   isolation.py      isolation/good.py
ada   join_order.py     join_order/good.py
ada   terminate.py      terminate/good.py
ada   socket_server.py  socket_server/good.py
ben   start_target.py   start_target/run_not_start.py
ben   isolation.py      isolation/parent_shows_child_value.py
ben   join_order.py     join_order/one_at_a_time.py
ben   terminate.py      terminate/kill_not_terminate.py
ben   socket_server.py  socket_server/iterative.py
cy    start_target.py   start_target/threads.py
cy    start_subclass.py start_subclass/good.py
cy    daemon.py         daemon/good.py
cy    pool_server.py    pool_server/good.py
CLASS

# Exit status 1 means some submission failed a check: expected in this class.
"$proclab" grade-class "$demo/class" --out "$demo/grades" \
    --exercises start-target,start-subclass,isolation,join-order,daemon,terminate,socket-server,pool-server \
    || [ $? -eq 1 ]
echo
column -s, -t < "$demo/grades/gradebook.csv"
echo
echo "Reports: $demo/grades/index.html (one HTML timeline per submission)"
echo "One run: $proclab grade start-target -- python3 $fixtures/start_target/good.py"
