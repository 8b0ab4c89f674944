"""Fork-per-connection TCP server on a port the kernel picks (bind to port 0): the only
way to find it is from the trace. Each client is served by its own child, which
upper-cases what it receives until the client closes."""
import os
import socket

srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0))
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
