"""A keep-alive HTTPS client for the test API server (tests/fixtures/k8s_api_server.py):
server address, token and CA from the server's --dir. Standard library only."""

import http.client
import json
import os
import ssl


class Client:
    def __init__(self, api_dir):
        self.port = int(open(os.path.join(api_dir, "port")).read().strip())
        self.token = open(os.path.join(api_dir, "token")).read().strip()
        self.context = ssl.create_default_context(cafile=os.path.join(api_dir, "ca.crt"))
        self.connection = None
        self.headers = {"Authorization": "Bearer " + self.token,
                        "Content-Type": "application/json", "Accept": "application/json"}

    def connect(self):
        if self.connection is None:
            self.connection = http.client.HTTPSConnection("127.0.0.1", self.port,
                                                          context=self.context, timeout=30)
            self.connection.connect()
        return self.connection

    def send(self, method, path, body=None):
        """Sends a request without reading the answer (see receive)."""
        data = json.dumps(body).encode() if body is not None else None
        self.connect().request(method, path, body=data, headers=self.headers)

    def receive(self):
        response = self.connection.getresponse()
        data = response.read()
        if response.getheader("Connection", "").lower() == "close":
            self.close()
        return response.status, data

    def call(self, method, path, body=None):
        self.send(method, path, body)
        status, data = self.receive()
        return status, (json.loads(data) if data else None)

    def must(self, method, path, body=None, ok=(200, 201)):
        status, answer = self.call(method, path, body)
        if status not in ok:
            message = answer.get("message") if isinstance(answer, dict) else answer
            raise SystemExit(f"bench: {method} {path}: HTTP {status}: {message}")
        return answer

    def close(self):
        if self.connection is not None:
            self.connection.close()
            self.connection = None
