"""Class fixture, hanging start-target: the children never end (stopped by the time limit)."""
import time
from multiprocessing import Process


def roam(name):
    print(f'{name} piaoing')
    while True:
        time.sleep(1)


if __name__ == '__main__':
    for name in ('egon', 'alex', 'wupeiqi', 'yuanhao'):
        Process(target=roam, args=(name,)).start()
    print('主')
