"""A child prints, sleeps, prints again: with buffering, both lines would reach the pipe
only when the child exits."""
import time
from multiprocessing import Process


def child():
    print('child first')
    time.sleep(0.5)
    print('child second')


if __name__ == '__main__':
    p = Process(target=child)
    p.start()
    p.join()
    print('parent done')
