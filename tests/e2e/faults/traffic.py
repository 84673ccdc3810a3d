#!/usr/bin/python3
"""Steady TCP traffic for fault tests: many short-lived connections, counted exactly.

    traffic.py server PORT                      echo one line per connection, then close
    traffic.py allowed ADDRESS PORT RATE STOP OUT
        connects RATE times a second (one at a time, 1 s timeout each): connect, send, read the
        echo, close. Every failure is counted with its time and error.
    traffic.py denied ADDRESS PORT RATE STOP OUT
        opens RATE connections a second in batches of non-blocking connects, each given 100 ms
        to complete; a completed one is a policy breach and is counted with its time.
Clients run until the file STOP exists, then write a JSON summary to OUT (atomically):
{"attempts", "ok", "failed", "failures": [[time, error]...], "ok_times": {decisecond: count}}.
Standard library only; meant to run inside a pod's network namespace.
"""

import errno
import json
import os
import select
import socket
import sys
import time


def summary_write(path, summary):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(summary, f)
    os.replace(tmp, path)


def server(port):
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("0.0.0.0", port))
    listener.listen(4096)
    while True:
        conn, _ = listener.accept()
        try:
            conn.settimeout(1)
            data = conn.recv(64)
            if data:
                conn.sendall(data)
        except OSError:
            pass
        finally:
            conn.close()


def allowed(address, port, rate, stop, out):
    summary = {"attempts": 0, "ok": 0, "failed": 0, "failures": [], "ok_times": {}}
    interval = 1.0 / rate
    next_at = time.monotonic()
    while not os.path.exists(stop):
        summary["attempts"] += 1
        try:
            with socket.create_connection((address, port), timeout=1.0) as s:
                s.sendall(b"hello\n")
                data = b""
                while len(data) < 6:
                    chunk = s.recv(64)
                    if not chunk:
                        break
                    data += chunk
                if data != b"hello\n":
                    raise OSError(f"bad echo {data!r}")
            summary["ok"] += 1
            bucket = str(int(time.time() * 10))
            summary["ok_times"][bucket] = summary["ok_times"].get(bucket, 0) + 1
        except OSError as error:
            summary["failed"] += 1
            if len(summary["failures"]) < 20:
                summary["failures"].append([round(time.time(), 3), repr(error)])
        next_at += interval
        delay = next_at - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        else:
            next_at = time.monotonic()
    summary_write(out, summary)


def denied(address, port, rate, stop, out):
    summary = {"attempts": 0, "ok": 0, "failed": 0, "failures": [], "ok_times": {}}
    batch = max(1, rate // 10)
    while not os.path.exists(stop):
        started = time.monotonic()
        sockets = []
        for _ in range(batch):
            s = socket.socket()
            s.setblocking(False)
            code = s.connect_ex((address, port))
            summary["attempts"] += 1
            if code not in (errno.EINPROGRESS, 0):
                summary["failed"] += 1  # refused at once: fine, not a breach
                s.close()
                continue
            sockets.append(s)
        deadline = started + 0.1
        pending = list(sockets)
        while pending:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            _, writable, _ = select.select([], pending, [], left)
            for s in writable:
                pending.remove(s)
                if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                    summary["ok"] += 1  # a denied peer got through
                    if len(summary["failures"]) < 20:
                        summary["failures"].append([round(time.time(), 3), "connected"])
                else:
                    summary["failed"] += 1
        summary["failed"] += len(pending)
        for s in sockets:
            s.close()
        rest = started + 0.1 - time.monotonic()
        if rest > 0:
            time.sleep(rest)
    summary_write(out, summary)


def main():
    mode = sys.argv[1]
    if mode == "server":
        server(int(sys.argv[2]))
    elif mode in ("allowed", "denied"):
        address, port, rate, stop, out = sys.argv[2:7]
        (allowed if mode == "allowed" else denied)(address, int(port), int(rate), stop, out)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
