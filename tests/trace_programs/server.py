"""Fork-per-connection TCP server on 127.0.0.1:8080, or on the port given as the first
argument (0: the kernel picks one, and the only way to find it is from the trace). Each
client is served by its own child, which upper-cases what it receives until it closes."""
import os
import socket
import sys

srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(('127.0.0.1', int(sys.argv[1]) if len(sys.argv) > 1 else 8080))
srv.listen(16)
while True:
    conn, peer = srv.accept()
    if os.fork() == 0:
        srv.close()
        while True:
            data = conn.recv(1024)
            if not data:
                break
            conn.sendall(data.upper())
        os._exit(0)
    conn.close()
    try:
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass
    except ChildProcessError:
        pass
