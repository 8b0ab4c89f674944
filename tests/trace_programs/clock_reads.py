"""Every way of reading the clock, before and after the virtual clock's first jump, in
a process exec'd before it, a child forked before it, and a program exec'd after it.
Each line: who, how far monotonic, time.time and gettimeofday(2) moved, and whether
time(2) (whole seconds) agrees with time.time."""
import ctypes
import os
import subprocess
import sys
import time

libc = ctypes.CDLL(None)


class Timeval(ctypes.Structure):
    _fields_ = [("sec", ctypes.c_long), ("usec", ctypes.c_long)]


def clocks():
    tv = Timeval()
    libc.gettimeofday(ctypes.byref(tv), None)
    return (time.monotonic(), time.time(), tv.sec + tv.usec / 1e6)


def show(who, before):
    moved = [after - was for after, was in zip(clocks(), before)]
    skew = libc.time(None) - time.time()
    agrees = "agrees" if -1.01 < skew < 0.01 else f"skew {skew:.0f}"
    print(who, *(round(m) for m in moved), agrees, flush=True)


before = clocks()
if os.fork() == 0:
    time.sleep(20)
    show("forked-before", before)
    os._exit(0)
time.sleep(10)
show("parent", before)
os.wait()
show("parent-after-wait", before)
# A program exec'd after the jumps prints its wall clock; the parent's must agree.
out = subprocess.run(
    [sys.executable, "-c", "import time; print(time.time())"],
    capture_output=True, text=True, check=True,
).stdout
print("exec-after-skew", round(abs(float(out) - time.time())), flush=True)
