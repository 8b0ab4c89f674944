"""Class fixture, broken start-target: run() instead of start(), no child process at all."""
import time
from multiprocessing import Process


def roam(name):
    print(f'{name} piaoing')
    time.sleep(0.1)
    print(f'{name} piao end')


if __name__ == '__main__':
    for name in ('egon', 'alex', 'wupeiqi', 'yuanhao'):
        Process(target=roam, args=(name,)).run()
    print('主')
