"""socketserver.ForkingTCPServer with the upper-case echo protocol.

Usage: forking_server.py PORT [--backlog N]
Binds 127.0.0.1:PORT (0 picks a free port), prints `listening on ADDR`, and
serves each connection in a forked child: every message received is sent
back upper-cased until the client closes. --backlog overrides
socketserver's default listen backlog (request_queue_size, 5).
"""

import socketserver
import sys


class Upper(socketserver.BaseRequestHandler):
    def handle(self):
        while True:
            data = self.request.recv(4096)
            if not data:
                return
            self.request.sendall(data.upper())


def main():
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    port = int(sys.argv[1])
    if "--backlog" in sys.argv:
        socketserver.ForkingTCPServer.request_queue_size = int(
            sys.argv[sys.argv.index("--backlog") + 1])
    socketserver.ForkingTCPServer.allow_reuse_address = True
    with socketserver.ForkingTCPServer(("127.0.0.1", port), Upper) as srv:
        host, port = srv.server_address[:2]
        print(f"listening on {host}:{port}", flush=True)
        srv.serve_forever()


if __name__ == "__main__":
    main()
