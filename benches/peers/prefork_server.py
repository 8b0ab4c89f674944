"""A pre-fork server: N worker processes share one listening socket.

Usage: prefork_server.py PORT [WORKERS]
Binds 127.0.0.1:PORT (0 picks a free port), forks WORKERS (default 4)
workers before the first client, prints `listening on ADDR`, and each worker
loops accept() -> serve the upper-case echo protocol until the client
closes. The parent waits for its workers; SIGTERM to the parent ends them
all.
"""

import os
import signal
import socket
import sys


def serve(listener):
    while True:
        conn, _ = listener.accept()
        with conn:
            while True:
                data = conn.recv(4096)
                if not data:
                    break
                conn.sendall(data.upper())


def main():
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    port = int(sys.argv[1])
    workers = int(sys.argv[2]) if len(sys.argv) > 2 else 4
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(128)
    pids = []
    for _ in range(workers):
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            try:
                serve(listener)
            finally:
                os._exit(0)
        pids.append(pid)

    def stop(_signum, _frame):
        for pid in pids:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, stop)
    host, port = listener.getsockname()[:2]
    print(f"listening on {host}:{port}", flush=True)
    for pid in pids:
        while True:
            try:
                os.waitpid(pid, 0)
                break
            except InterruptedError:
                continue


if __name__ == "__main__":
    main()
