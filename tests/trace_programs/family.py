"""A known family: three children (exit 3; killed by the parent's SIGTERM; exec of echo),
one thread in the parent, every child reaped by the parent. Each process prints a line
naming itself."""
import os
import signal
import sys
import threading
import time

print('parent up', flush=True)
t = threading.Thread(target=lambda: print('thread says hi', flush=True))
t.start()
t.join()

a = os.fork()
if a == 0:
    print('child a exits 3', flush=True)
    os._exit(3)

b = os.fork()
if b == 0:
    print('child b waits for SIGTERM', flush=True)
    time.sleep(30)
    os._exit(0)

c = os.fork()
if c == 0:
    os.execv('/bin/echo', ['echo', 'child c', 'exec with  spaces'])

os.waitpid(a, 0)
time.sleep(0.2)
os.kill(b, signal.SIGTERM)
_, status = os.waitpid(b, 0)
os.waitpid(c, 0)
print(f'parent done, b ended by signal {os.WTERMSIG(status)}', flush=True)
sys.exit(5)
