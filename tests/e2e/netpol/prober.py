#!/usr/bin/env python3
"""Probes from inside one source pod (`ip netns exec POD prober.py ...`).

A target is {"ip": "10.1.2.3", "protocol": "TCP"|"UDP", "port": 80}. Every target is probed
at once, each on a fresh socket (so a fresh 5-tuple, decided anew by policy):
  TCP: connect, send a token, read the echo back;
  UDP: send a token on a connected socket, wait for the echo.
Each gives "ok", "denied" (nothing came back within the timeout, the datapath's drop),
"refused" (reset or ICMP unreachable: the packet got through but nothing listened) or
"error: ..." for anything else.

Modes:
  prober.py [--timeout S] TARGETS_JSON     one batch, prints the JSON list of results
  prober.py [--timeout S] --serve          one JSON batch per stdin line, one result line each
  prober.py --stream IP PORT --seconds S   one TCP connection exchanging a message every
                                           20 ms for S seconds; prints {"result": "ok" |
                                           "broken: ...", "exchanges": N, "longestGapMs": G}
"""

import argparse
import concurrent.futures
import json
import os
import socket
import sys
import time


def probe_tcp(ip, port, timeout):
    token = os.urandom(8).hex().encode() + b"\n"
    deadline = time.monotonic() + timeout
    try:
        with socket.create_connection((ip, port), timeout=timeout) as sock:
            sock.sendall(token)
            received = b""
            while len(received) < len(token):
                sock.settimeout(max(deadline - time.monotonic(), 0.05))
                chunk = sock.recv(64)
                if not chunk:
                    return "error: closed before the echo"
                received += chunk
            return "ok" if received == token else "error: bad echo"
    except (socket.timeout, TimeoutError):
        return "denied"
    except ConnectionRefusedError:
        return "refused"
    except ConnectionResetError:
        return "refused"
    except OSError as error:
        return f"error: {error}"


def probe_udp(ip, port, timeout):
    token = os.urandom(8).hex().encode()
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.connect((ip, port))
            sock.settimeout(timeout)
            sock.send(token)
            while True:
                data = sock.recv(64)
                if data == token:
                    return "ok"
    except (socket.timeout, TimeoutError):
        return "denied"
    except ConnectionRefusedError:
        return "refused"
    except OSError as error:
        return f"error: {error}"


def probe(target, timeout):
    if target["protocol"] == "TCP":
        return probe_tcp(target["ip"], int(target["port"]), timeout)
    if target["protocol"] == "UDP":
        return probe_udp(target["ip"], int(target["port"]), timeout)
    return f"error: cannot probe {target['protocol']}"


def probe_all(targets, timeout, pool):
    return list(pool.map(lambda t: probe(t, timeout), targets))


def stream(ip, port, seconds):
    exchanges, longest_gap, last = 0, 0.0, time.monotonic()
    end = last + seconds
    try:
        with socket.create_connection((ip, port), timeout=2) as sock:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            while time.monotonic() < end:
                message = f"{exchanges:08d}\n".encode()
                sock.sendall(message)
                received = b""
                while len(received) < len(message):
                    chunk = sock.recv(64)
                    if not chunk:
                        raise ConnectionError("closed by the peer")
                    received += chunk
                if received != message:
                    raise ConnectionError(f"bad echo {received!r}")
                exchanges += 1
                now = time.monotonic()
                longest_gap = max(longest_gap, now - last)
                last = now
                time.sleep(0.02)
        result = "ok"
    except (OSError, ConnectionError) as error:
        result = f"broken: {type(error).__name__}: {error}"
    return {"result": result, "exchanges": exchanges, "longestGapMs": int(longest_gap * 1000)}


def main():
    parser = argparse.ArgumentParser(usage=__doc__)
    parser.add_argument("--timeout", type=float, default=0.5)
    parser.add_argument("--serve", action="store_true")
    parser.add_argument("--stream", nargs=2, metavar=("IP", "PORT"))
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("targets", nargs="?")
    args = parser.parse_args()

    if args.stream:
        print(json.dumps(stream(args.stream[0], int(args.stream[1]), args.seconds)), flush=True)
        return
    with concurrent.futures.ThreadPoolExecutor(max_workers=64) as pool:
        if args.serve:
            for line in sys.stdin:
                if line.strip():
                    print(json.dumps(probe_all(json.loads(line), args.timeout, pool)),
                          flush=True)
            return
        targets = json.loads(args.targets if args.targets else sys.stdin.read())
        print(json.dumps(probe_all(targets, args.timeout, pool)))


if __name__ == "__main__":
    main()
