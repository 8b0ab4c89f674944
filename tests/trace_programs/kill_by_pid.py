"""Forks a child that sleeps; the parent prints both pids as it sees them, kills the
child by pid (SIGTERM) and reaps it: in a pid namespace those are inner pids, which the
ledger must translate to its own."""
import os
import signal
import time

r, w = os.pipe()
pid = os.fork()
if pid == 0:
    os.close(r)
    os.write(w, b'x')
    time.sleep(30)
    os._exit(0)
os.close(w)
os.read(r, 1)
print(f'me {os.getpid()} child {pid}', flush=True)
os.kill(pid, signal.SIGTERM)
got, status = os.waitpid(pid, 0)
print(f'reaped {got} by signal {os.WTERMSIG(status)}', flush=True)
