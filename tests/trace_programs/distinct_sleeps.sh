#!/bin/sh
# Virtual clock: coreutils sleep (a relative nanosleep) in three children of a shell
# that waits for them; the lines come in the sleeps' order: b, c, a, then done.
(sleep 0.9; echo a) &
(sleep 0.3; echo b) &
(sleep 0.6; echo c) &
wait
echo done
