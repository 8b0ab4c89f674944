"""Concurrent writers: WRITERS processes each write LINES lines to stdout and some to
stderr with raw os.write calls of varying sizes, all at the same time."""
import os
import sys

WRITERS = int(sys.argv[1]) if len(sys.argv) > 1 else 4
LINES = int(sys.argv[2]) if len(sys.argv) > 2 else 200

kids = []
for w in range(WRITERS):
    pid = os.fork()
    if pid == 0:
        for i in range(LINES):
            text = f'writer {w} line {i} ' + 'x' * ((i * 7 + w) % 50) + '\n'
            os.write(1, text.encode())
            if i % 10 == 0:
                os.write(2, f'writer {w} progress {i}\n'.encode())
        os._exit(0)
    kids.append(pid)
for pid in kids:
    os.waitpid(pid, 0)
os.write(1, b'all done\n')
