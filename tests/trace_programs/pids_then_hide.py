"""Escape attempt: a double-forked, setsid'd grandchild that ignores SIGTERM and sleeps;
prints its pid (flushed) so a test can look for it after the grader is gone."""
import os
import signal
import time

middle = os.fork()
if middle == 0:
    os.setsid()
    if os.fork() == 0:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print(f'hidden {os.getpid()}', flush=True)
        time.sleep(3600)
        os._exit(0)
    os._exit(0)
os.waitpid(middle, 0)
print(f'main {os.getpid()}', flush=True)
time.sleep(3600)
