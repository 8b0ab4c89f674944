"""Timed kernel waits: join(timeout) polls the sentinel, Event.wait is a futex wait with
an absolute deadline, select a timeval; each times out while the child sleeps 3 s."""
import multiprocessing, time, threading, select
def child():
    time.sleep(3)
if __name__ == '__main__':
    t0 = time.monotonic()
    p = multiprocessing.Process(target=child); p.start()
    p.join(timeout=1)
    print('after join(1)', p.is_alive(), round(time.monotonic()-t0, 1))
    e = threading.Event()
    e.wait(1)
    print('after wait(1)', round(time.monotonic()-t0, 1))
    select.select([], [], [], 0.5)
    print('after select', round(time.monotonic()-t0, 1))
    p.join()
    print('joined', p.exitcode, round(time.monotonic()-t0, 1))
