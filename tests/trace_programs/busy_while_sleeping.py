"""Virtual clock: one child sleeps 0.2 s while another computes for about 0.6 s of real
time. The clock never jumps while a process computes, so the sleeper ends first, as on
the real clock."""
import time
from multiprocessing import Process


def sleeper():
    time.sleep(0.2)
    print('sleeper end')


def worker():
    end = time.monotonic() + 0.6
    n = 0
    while time.monotonic() < end:
        n += 1
    print('worker end')


if __name__ == '__main__':
    kids = [Process(target=sleeper), Process(target=worker)]
    for k in kids:
        k.start()
    for k in kids:
        k.join()
