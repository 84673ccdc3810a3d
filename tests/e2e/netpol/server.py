#!/usr/bin/env python3
"""Echo servers of one test pod: TCP and UDP on each port given (default 80 and 81), on every
address of the pod's network namespace. Run it inside the pod (`ip netns exec POD server.py
--ready FILE`); FILE is written once every socket listens, so a caller can wait for it. TCP
connections are echoed until the peer closes, which also serves long-running streams.
"""

import argparse
import os
import socket
import socketserver
import threading


class EchoHandler(socketserver.BaseRequestHandler):
    def handle(self):
        connection = self.request
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            while True:
                data = connection.recv(65536)
                if not data:
                    return
                connection.sendall(data)
        except OSError:
            return


class TCPServer(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
    request_queue_size = 256


def serve_udp(sock):
    while True:
        try:
            data, peer = sock.recvfrom(65536)
            sock.sendto(data, peer)
        except OSError:
            continue


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ports", default="80,81")
    parser.add_argument("--ready", required=True, help="file written once all sockets listen")
    args = parser.parse_args()

    threads = []
    for number in (int(p) for p in args.ports.split(",")):
        tcp = TCPServer(("0.0.0.0", number), EchoHandler)
        threads.append(threading.Thread(target=tcp.serve_forever, daemon=True))
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        udp.bind(("0.0.0.0", number))
        threads.append(threading.Thread(target=serve_udp, args=(udp,), daemon=True))
    for thread in threads:
        thread.start()
    temporary = f"{args.ready}.tmp"
    with open(temporary, "w") as ready:
        ready.write(f"{os.getpid()}\n")
    os.rename(temporary, args.ready)
    threading.Event().wait()


if __name__ == "__main__":
    main()
