"""Class fixture, correct start-target (short sleep so tests stay fast)."""
import time
from multiprocessing import Process


def roam(name):
    print(f'{name} piaoing')
    time.sleep(0.3)
    print(f'{name} piao end')


if __name__ == '__main__':
    for name in ('egon', 'alex', 'wupeiqi', 'yuanhao'):
        Process(target=roam, args=(name,)).start()
    print('主')
