"""SIGCHLD dispositions through fork and exec, for the tracer's tests. Each step waits
for its children deterministically: while SIGCHLD is ignored, waitpid(-1) blocks until
every child has ended and then fails with ECHILD (wait(2))."""
import os
import signal
import sys

GRANDCHILD = """
import os, signal, sys
ignored = signal.getsignal(signal.SIGCHLD) == signal.SIG_IGN
kid = os.fork()
if kid == 0:
    os._exit(0)
try:
    os.waitpid(kid, 0)
    print(f'exec ignored={ignored} waited', flush=True)
except ChildProcessError:
    print(f'exec ignored={ignored} kernel-reaped', flush=True)
"""


def wait_all():
    try:
        while True:
            os.waitpid(-1, 0)
    except ChildProcessError:
        pass


def spawn_exec():
    pid = os.fork()
    if pid == 0:
        os.execv(sys.executable, [sys.executable, '-c', GRANDCHILD])
    return pid


start = 'SIG_DFL' if signal.getsignal(signal.SIGCHLD) == signal.SIG_DFL else 'not SIG_DFL'
print(f'started with {start}', flush=True)

# 1. SIG_IGN: the kernel reaps both children; the exec'd child keeps SIG_IGN, so the
#    kernel reaps its own child too.
signal.signal(signal.SIGCHLD, signal.SIG_IGN)
for _ in range(2):
    if os.fork() == 0:
        os._exit(0)
spawn_exec()
wait_all()

# 2. A handler: exec resets it to SIG_DFL, so the exec'd child must wait for its child.
signal.signal(signal.SIGCHLD, lambda signum, frame: None)
os.waitpid(spawn_exec(), 0)

# 3. Back to SIG_DFL (no change from a handler): a wait reaps.
signal.signal(signal.SIGCHLD, signal.SIG_DFL)
pid = os.fork()
if pid == 0:
    os._exit(3)
os.waitpid(pid, 0)
print('done', flush=True)
