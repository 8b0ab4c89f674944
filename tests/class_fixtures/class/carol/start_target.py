"""Class fixture, crashing start-target: fails before starting anything."""
from multiprocessing import Process

NAMES = ('egon', 'alex', 'wupeiqi', 'yuanhao')

if __name__ == '__main__':
    print(NAMES[4])  # IndexError: the fifth name does not exist
