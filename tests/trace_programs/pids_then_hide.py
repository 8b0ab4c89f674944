"""Escape attempt: a double-forked, setsid'd grandchild that ignores SIGTERM and sleeps;
prints its pid on the host (/proc is the host's; in the run's pid namespace getpid() is
not) so a test can look for it after the grader is gone (os.write: one write per line,
whatever the buffering)."""
import os
import signal
import time

middle = os.fork()
if middle == 0:
    os.setsid()
    if os.fork() == 0:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        os.write(1, f"hidden {os.readlink('/proc/self')}\n".encode())
        time.sleep(3600)
        os._exit(0)
    os._exit(0)
os.waitpid(middle, 0)
os.write(1, f"main {os.readlink('/proc/self')}\n".encode())
time.sleep(3600)
