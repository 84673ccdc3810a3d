#!/usr/bin/env python3
"""Hands weir-agent a new set of Services and measures how long it takes to apply them.

  apply_weir.py STATE_DIR BPFFS AGENT_LOG NEW_FILE MANIFEST EXPECTED MEASURED_VIP PORT...

Notes the agent's applied changes, renames NEW_FILE (a hidden file in the agent's --standalone
folder) to MANIFEST, the clock starting at the rename, and polls until the agent's status (its
control socket, as `weirctl status` asks it) reports a change applied since, its services map
holds exactly EXPECTED entries, and each MEASURED_VIP:PORT/TCP entry has one backend. Prints

  applied_ms=<rename to done> services=<entries> loaded_ms=<rename to the "loaded" log line>

the last from AGENT_LOG: when the agent logged the manifests loaded (parsed and stored; what
follows is compiling and writing the maps). The rename happens here, not in the calling script,
so the clock does not include a Python start. Exits 1 after BENCH_SVC_APPLY_TIMEOUT seconds
(default 120) with what it last saw.
"""

import datetime
import json
import os
import re
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "agent"))
import bpfmap  # noqa: E402  (bench/agent/bpfmap.py: the bpf(2) syscall through ctypes)

SERVICE_KEY = struct.Struct("=4sHBB")     # struct weir_service_key (bpf/abi.h)
SERVICE_VALUE = struct.Struct("=IIII")    # struct weir_service
POLL_SECONDS = 0.005
LOADED = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+)Z .*manifests in .* loaded")


def applied_changes(state_dir):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as control:
        control.settimeout(1)
        control.connect(os.path.join(state_dir, "weir.sock"))
        control.sendall(b"status\n")
        reply = b""
        while not reply.endswith(b"\n"):
            chunk = control.recv(4096)
            if not chunk:
                break
            reply += chunk
    return int(json.loads(reply)["appliedChanges"])


def loaded_ms(agent_log, started_ns):
    """When the agent last logged its manifests loaded, in ms after started_ns; -1 if never."""
    latest = -1.0
    with open(agent_log, errors="replace") as log:
        for line in log:
            match = LOADED.match(line)
            if match:
                when = datetime.datetime.fromisoformat(match.group(1)).replace(
                    tzinfo=datetime.timezone.utc).timestamp() * 1e3
                latest = max(latest, when - started_ns / 1e6)
    return latest


def main(argv):
    if len(argv) < 9:
        sys.exit(__doc__)
    state_dir, bpffs, agent_log, new_file, manifest = argv[1:6]
    expected = int(argv[6])
    vip = socket.inet_aton(argv[7])
    ports = [int(p) for p in argv[8:]]
    timeout = float(os.environ.get("BENCH_SVC_APPLY_TIMEOUT", "120"))
    services = bpfmap.PinnedMap(os.path.join(bpffs, "services"), SERVICE_KEY.size,
                                SERVICE_VALUE.size)
    before = applied_changes(state_dir)
    started_ns = time.time_ns()
    os.rename(new_file, manifest)
    seen = "nothing"
    while True:
        try:
            changes = applied_changes(state_dir)
        except (OSError, ValueError, KeyError):
            # The agent answers between its passes: busy applying, it does not answer at all.
            changes = before
        if changes > before:
            backends = []
            for port in ports:
                value = services.lookup(SERVICE_KEY.pack(vip, socket.htons(port), 6, 0))
                backends.append(SERVICE_VALUE.unpack(value)[1] if value else None)
            # Counting walks the whole map: only once the measured entries look right.
            count = sum(1 for _ in services.keys()) if backends == [1] * len(ports) else -1
            seen = f"appliedChanges {changes}, measured backends {backends}, entries {count}"
            if count == expected:
                done_ns = time.time_ns()
                print(f"applied_ms={(done_ns - started_ns) / 1e6:.0f} services={count} "
                      f"loaded_ms={loaded_ms(agent_log, started_ns):.0f}")
                return 0
        if (time.time_ns() - started_ns) / 1e9 > timeout:
            print(f"not applied within {timeout:.0f} s: {seen}", file=sys.stderr)
            return 1
        time.sleep(POLL_SECONDS)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
