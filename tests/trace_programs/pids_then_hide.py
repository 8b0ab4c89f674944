"""Escape attempt: a double-forked, setsid'd grandchild that ignores SIGTERM and sleeps;
prints its pid so a test can look for it after the grader is gone (os.write: one write
per line, whatever the buffering)."""
import os
import signal
import time

middle = os.fork()
if middle == 0:
    os.setsid()
    if os.fork() == 0:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        os.write(1, f'hidden {os.getpid()}\n'.encode())
        time.sleep(3600)
        os._exit(0)
    os._exit(0)
os.waitpid(middle, 0)
os.write(1, f'main {os.getpid()}\n'.encode())
time.sleep(3600)
