#!/usr/bin/python3
"""A fault-injecting HTTPS proxy in front of tests/fixtures/k8s_api_server.py.

It forwards every request unchanged (method, path, query, Authorization, body) to the test API
server and relays the answers; watch streams are relayed event by event. On demand it corrupts
ONE watch event on its way to the client, which the fixture itself cannot do:

    echo '{"match": "allow-client", "mode": "garbage"}' > DIR/corrupt.tmp && mv DIR/corrupt.tmp DIR/corrupt

The next watch event line that contains "match" is replaced (mode "garbage": a line that is not
JSON at all; mode "truncate": the event cut in the middle of its JSON, then the newline), the
rule file is removed and DIR/corrupted is written with what was done. Standard library only.

    watch_corrupter.py --dir DIR --upstream API_DIR

Uses API_DIR's CA (to trust the fixture) and API_DIR's server certificate and key (SAN
127.0.0.1, so the agent's kubeconfig keeps the fixture's CA). Writes DIR/kubeconfig and
DIR/kubeconfig-tokenfile (the fixture's, pointing at the proxy), DIR/port, then DIR/ready.
"""

import argparse
import http.client
import http.server
import json
import os
import re
import socket
import ssl
import sys
import threading
import urllib.parse

sys.dont_write_bytecode = True

FORWARDED_REQUEST_HEADERS = ("Authorization", "Accept", "Content-Type")
FORWARDED_RESPONSE_HEADERS = ("Content-Type", "Retry-After", "Cache-Control", "Audit-Id")


def write_file(path, text):
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


class Corrupter:
    """The one-shot corruption rule, read from DIR/corrupt."""

    def __init__(self, directory):
        self.directory = directory
        self.lock = threading.Lock()

    def apply(self, line):
        rule_path = os.path.join(self.directory, "corrupt")
        with self.lock:
            try:
                with open(rule_path) as f:
                    rule = json.load(f)
            except (FileNotFoundError, ValueError):
                return line
            if rule.get("match", "").encode() not in line:
                return line
            mode = rule.get("mode", "garbage")
            if mode == "truncate":
                body = line.rstrip(b"\n")
                out = body[:max(1, len(body) // 2)] + b"\n"
            else:
                out = b"}}not json at all: \x00\xff{{\n"
            os.unlink(rule_path)
            write_file(os.path.join(self.directory, "corrupted"),
                       json.dumps({"mode": mode, "match": rule.get("match"),
                                   "original_length": len(line), "sent": out[:80].decode(
                                       "utf-8", "replace")}) + "\n")
            return out


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def do_GET(self):
        self.forward("GET")

    def do_POST(self):
        self.forward("POST")

    def do_PUT(self):
        self.forward("PUT")

    def do_PATCH(self):
        self.forward("PATCH")

    def do_DELETE(self):
        self.forward("DELETE")

    def forward(self, method):
        server = self.server
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else None
        headers = {k: self.headers[k] for k in FORWARDED_REQUEST_HEADERS if self.headers.get(k)}
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        watch = query.get("watch", [""])[-1] in ("1", "true") or "/watch/" in self.path
        upstream = http.client.HTTPSConnection("127.0.0.1", server.upstream_port,
                                               context=server.client_context, timeout=None)
        try:
            upstream.request(method, self.path, body=body, headers=headers)
            response = upstream.getresponse()
            if not watch or response.status != 200:
                data = response.read()
                self.send_response(response.status)
                for key in FORWARDED_RESPONSE_HEADERS:
                    if response.getheader(key):
                        self.send_header(key, response.getheader(key))
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                return
            self.send_response(200)
            self.send_header("Content-Type", response.getheader("Content-Type") or
                             "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.flush()
            while True:
                line = response.readline()
                if not line:
                    break
                if not line.endswith(b"\n"):  # the upstream stream broke mid-event
                    self.close_connection = True
                    return
                line = server.corrupter.apply(line)
                self.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (OSError, http.client.HTTPException, ssl.SSLError):
            # Upstream cut the stream (or the client went away): cut the client too, abruptly.
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        finally:
            upstream.close()


class Proxy(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def get_request(self):
        sock, address = super().get_request()
        return self.server_context.wrap_socket(sock, server_side=True,
                                               do_handshake_on_connect=False), address


class TlsHandler(Handler):
    def setup(self):
        self.request.settimeout(15)
        try:
            self.request.do_handshake()
        finally:
            self.request.settimeout(None)
        super().setup()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", required=True)
    parser.add_argument("--upstream", required=True, help="the test API server's --dir")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    upstream_dir = os.path.abspath(args.upstream)
    with open(os.path.join(upstream_dir, "port")) as f:
        upstream_port = int(f.read().strip())

    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(os.path.join(upstream_dir, "server.crt"),
                                   os.path.join(upstream_dir, "server.key"))
    server_context.set_alpn_protocols(["http/1.1"])
    client_context = ssl.create_default_context(cafile=os.path.join(upstream_dir, "ca.crt"))

    proxy = Proxy(("127.0.0.1", args.port), TlsHandler)
    proxy.server_context = server_context
    proxy.client_context = client_context
    proxy.upstream_port = upstream_port
    proxy.corrupter = Corrupter(os.path.abspath(args.dir))
    port = proxy.server_address[1]

    for name in ("kubeconfig", "kubeconfig-tokenfile"):
        with open(os.path.join(upstream_dir, name)) as f:
            text = f.read()
        text = re.sub(r"(server:\s*\"?https://127\.0\.0\.1:)\d+", r"\g<1>%d" % port, text)
        write_file(os.path.join(args.dir, name), text)
    write_file(os.path.join(args.dir, "port"), f"{port}\n")
    write_file(os.path.join(args.dir, "ready"), f"https://127.0.0.1:{port}\n")
    try:
        proxy.serve_forever()
    finally:
        try:
            os.unlink(os.path.join(args.dir, "ready"))
        except FileNotFoundError:
            pass


if __name__ == "__main__":
    main()
