"""Reaps through waitid (not wait4) and a signal through a pidfd: both must show in the
ledger like wait4 and kill do."""
import os
import signal
import time

a = os.fork()
if a == 0:
    os._exit(4)
info = os.waitid(os.P_PID, a, os.WEXITED)
print(f'waitid reaped {info.si_pid} status {info.si_status}', flush=True)

b = os.fork()
if b == 0:
    time.sleep(30)
    os._exit(0)
fd = os.pidfd_open(b)
signal.pidfd_send_signal(fd, signal.SIGUSR1)
_, status = os.waitpid(b, 0)
print(f'b ended by signal {os.WTERMSIG(status)}', flush=True)
