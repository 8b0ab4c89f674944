"""SA_NOCLDWAIT (Python's signal module cannot set flags, so through glibc's sigaction):
the kernel reaps the child; after exec the flag is gone and the new image must wait."""
import ctypes
import os
import signal
import sys

AFTER_EXEC = """
import os
kid = os.fork()
if kid == 0:
    os._exit(0)
try:
    os.waitpid(kid, 0)
    print('after exec: waited', flush=True)
except ChildProcessError:
    print('after exec: kernel-reaped', flush=True)
"""


class Sigaction(ctypes.Structure):
    # glibc's struct sigaction on Linux: handler, a 1024-bit mask, int flags, restorer.
    _fields_ = [
        ('handler', ctypes.c_void_p),
        ('mask', ctypes.c_ulong * 16),
        ('flags', ctypes.c_int),
        ('restorer', ctypes.c_void_p),
    ]


SA_NOCLDWAIT = 2
libc = ctypes.CDLL(None, use_errno=True)
act = Sigaction(handler=0, flags=SA_NOCLDWAIT)  # SIG_DFL with SA_NOCLDWAIT
if libc.sigaction(signal.SIGCHLD, ctypes.byref(act), None) != 0:
    sys.exit(f'sigaction failed: {os.strerror(ctypes.get_errno())}')
kid = os.fork()
if kid == 0:
    os._exit(0)
try:
    os.waitpid(kid, 0)
    print('before exec: waited', flush=True)
except ChildProcessError:
    print('before exec: kernel-reaped', flush=True)
os.execv(sys.executable, [sys.executable, '-c', AFTER_EXEC])
