"""Virtual clock: three children sleep distinct lengths (time.sleep: an absolute
clock_nanosleep on CLOCK_MONOTONIC) and print only after their sleep; the parent joins
them and prints how long it waited by its own clock. The end lines' order is the
sleeps' order: b, c, a."""
import time
from multiprocessing import Process


def nap(name, seconds):
    time.sleep(seconds)
    print(f'{name} end')


if __name__ == '__main__':
    t0 = time.monotonic()
    kids = [Process(target=nap, args=(n, s)) for n, s in (('a', 0.9), ('b', 0.3), ('c', 0.6))]
    for k in kids:
        k.start()
    for k in kids:
        k.join()
    print(f'waited {time.monotonic() - t0:.1f}')
