"""Class fixture, correct isolation: the child's change is its own."""
from multiprocessing import Process

n = 100


def reset():
    global n
    n = 0
    print('子进程内: ', n)


if __name__ == '__main__':
    p = Process(target=reset)
    p.start()
    p.join()
    print('主进程内: ', n)
