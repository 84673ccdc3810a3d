#!/usr/bin/python3
"""The measuring harness of bench/agent_scale.sh (runs inside the node's network namespace).

Starts weir-agent --kubeconfig against the preloaded test API server and polls its control
socket every 10 ms from the moment the process is created: the time to `synced` (every kind
listed) and to the first applied change (`appliedChanges` >= 1: the maps written from the full
state), and peak RSS (VmHWM of /proc/PID/status) then and one second later. Phases come from
the agent's own log lines (wall-clock milliseconds). Then three single changes (an EndpointSlice
update, a Pod on another node, a NetworkPolicy), each timed from the request to appliedChanges
moving on, and VmHWM after them: the peak RSS reported covers the whole run. Last, for context,
a Python client lists the same kinds from the same server the way the agent does (pages of
500)."""

import argparse
import datetime
import json
import os
import re
import socket
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kclient import Client  # noqa: E402

KINDS = [("namespaces", "/api/v1/namespaces"), ("nodes", "/api/v1/nodes"),
         ("pods", "/api/v1/pods"), ("services", "/api/v1/services"),
         ("endpointslices", "/apis/discovery.k8s.io/v1/endpointslices"),
         ("networkpolicies", "/apis/networking.k8s.io/v1/networkpolicies")]
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def status(state_dir):
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(5)
            s.connect(os.path.join(state_dir, "weir.sock"))
            s.sendall(b"status\n")
            data = b""
            while not data.endswith(b"\n"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        return json.loads(data)
    except (OSError, ValueError):
        return None


def proc_status(pid, field):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])  # kB
    except OSError:
        return None
    return None


def cpu_seconds(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime
    except (OSError, IndexError, ValueError):
        return None


def log_phases(path, started_wall):
    """(seconds since start, message) of the agent's log lines."""
    out = []
    pattern = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})Z \S+ (\w+): (.*)$")
    with open(path, errors="replace") as f:
        for line in f:
            match = pattern.match(line.strip())
            if not match:
                continue
            when = datetime.datetime.strptime(match.group(1), "%Y-%m-%dT%H:%M:%S.%f").replace(
                tzinfo=datetime.timezone.utc).timestamp()
            out.append((when - started_wall, match.group(2), match.group(3)))
    return out


def steady_changes(args, pid):
    """After the sync: one change of each common kind, timed from sending the request to the
    agent's appliedChanges moving on (status polled every 2 ms), one after the other."""
    spec = json.load(open(args.spec))
    client = Client(args.api_dir)
    local = spec["local_ips"][0] if spec["local_ips"] else ["ns-0000", None, None]
    remote_node = "node-0001"
    node_cidr = client.must("GET", f"/api/v1/nodes/{remote_node}")["spec"]["podCIDR"]
    remote_ip = node_cidr.rsplit(".", 1)[0] + ".254"
    slices = client.must("GET", "/apis/discovery.k8s.io/v1/endpointslices?limit=1")["items"]

    def update_slice():
        item = slices[0]
        ns, name = item["metadata"]["namespace"], item["metadata"]["name"]
        item["endpoints"] = (item.get("endpoints") or []) + [{
            "addresses": [remote_ip], "conditions": {"ready": True}, "nodeName": remote_node}]
        item["metadata"].pop("resourceVersion", None)
        return "PUT", f"/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices/{name}", item

    def create_pod():
        return "POST", "/api/v1/namespaces/ns-0001/pods", {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"namespace": "ns-0001", "name": "bench-extra",
                         "labels": {"app": "app-0", "tier": "frontend", "version": "v9"}},
            "spec": {"nodeName": remote_node, "containers": [{"name": "c", "image": "x"}]},
            "status": {"phase": "Running", "podIP": remote_ip, "podIPs": [{"ip": remote_ip}]}}

    def create_policy():
        return "POST", f"/apis/networking.k8s.io/v1/namespaces/{local[0]}/networkpolicies", {
            "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"namespace": local[0], "name": "bench-extra-deny"},
            "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}}

    out = []
    for label, make in (("EndpointSlice update (+1 backend)", update_slice),
                        ("Pod created on another node", create_pod),
                        (f"NetworkPolicy created in {local[0]}"
                         + (" (has local pods)" if local[1] else ""), create_policy)):
        method, path, body = make()
        before = (status(args.state_dir) or {}).get("appliedChanges", 0)
        started = time.perf_counter()
        code, answer = client.call(method, path, body)
        if code not in (200, 201):
            raise SystemExit(f"bench: {method} {path}: HTTP {code}: {answer}")
        seconds = None
        while time.perf_counter() - started < 30:
            now = status(args.state_dir)
            if now and now.get("appliedChanges", 0) > before:
                seconds = time.perf_counter() - started
                break
            time.sleep(0.002)
        out.append((label, seconds))
        time.sleep(0.2)
    client.close()
    return out


def python_list_baseline(api_dir):
    client = Client(api_dir)
    started = time.perf_counter()
    total = 0
    size = 0
    for _, path in KINDS:
        token = ""
        while True:
            query = "limit=500" + (f"&continue={token}" if token else "")
            client.send("GET", f"{path}?{query}")
            code, data = client.receive()
            if code != 200:
                raise SystemExit(f"bench: list {path}: HTTP {code}")
            size += len(data)
            page = json.loads(data)
            total += len(page["items"])
            token = page["metadata"].get("continue") or ""
            if not token:
                break
    client.close()
    return time.perf_counter() - started, total, size


def main():
    parser = argparse.ArgumentParser()
    for flag in ("--agent", "--node-name", "--pod-cidr", "--bpffs", "--state-dir",
                 "--cni-conf-dir", "--api-dir", "--log", "--pid-file", "--api-pid",
                 "--result"):
        parser.add_argument(flag, required=True)
    parser.add_argument("--spec", required=True)
    parser.add_argument("--scaled-down", default="")
    parser.add_argument("--timeout", type=float, default=60)
    args = parser.parse_args()

    load_before = os.getloadavg()[0]
    server_cpu_before = cpu_seconds(args.api_pid)
    log = open(args.log, "ab")
    started_wall = time.time()
    started = time.perf_counter()
    agent = subprocess.Popen([args.agent, "--node-name", args.node_name, "--pod-cidr",
                              args.pod_cidr, "--bpffs", args.bpffs, "--state-dir",
                              args.state_dir, "--cni-conf-dir", args.cni_conf_dir,
                              "--kubeconfig", os.path.join(args.api_dir, "kubeconfig")],
                             stdout=log, stderr=subprocess.STDOUT)
    with open(args.pid_file, "w") as f:
        f.write(f"{agent.pid}\n")

    times = {}
    last = None
    rss_samples = []
    deadline = started + args.timeout
    while time.perf_counter() < deadline:
        if agent.poll() is not None:
            break
        now_status = status(args.state_dir)
        now = time.perf_counter() - started
        rss = proc_status(agent.pid, "VmRSS")
        if rss:
            rss_samples.append(rss)
        if now_status:
            last = now_status
            times.setdefault("socket", now)
            if now_status.get("synced"):
                times.setdefault("synced", now)
            if now_status.get("appliedChanges", 0) >= 1:
                times.setdefault("applied", now)
            if now_status.get("ready"):
                times.setdefault("ready", now)
            if "applied" in times and "synced" in times and "ready" in times:
                break
        time.sleep(0.01)
    result = {"times": times, "exited": agent.poll(), "load": load_before}
    if "applied" in times:
        result["hwm_at_sync_kib"] = proc_status(agent.pid, "VmHWM")
        result["agent_cpu_at_sync"] = cpu_seconds(agent.pid)
        server_cpu = cpu_seconds(args.api_pid)
        if server_cpu is not None and server_cpu_before is not None:
            result["server_cpu_at_sync"] = server_cpu - server_cpu_before
        settle_until = time.perf_counter() + 1.0
        while time.perf_counter() < settle_until and agent.poll() is None:
            rss = proc_status(agent.pid, "VmRSS")
            if rss:
                rss_samples.append(rss)
            time.sleep(0.05)
        result["hwm_after_kib"] = proc_status(agent.pid, "VmHWM")
        result["rss_after_kib"] = proc_status(agent.pid, "VmRSS")
        result["status"] = status(args.state_dir) or last
        if agent.poll() is None:
            result["changes"] = steady_changes(args, agent.pid)
            result["hwm_after_changes_kib"] = proc_status(agent.pid, "VmHWM")
    result["rss_max_sampled_kib"] = max(rss_samples) if rss_samples else None
    if agent.poll() is None:
        agent.terminate()
        try:
            result["exit_on_term"] = agent.wait(10)
        except subprocess.TimeoutExpired:
            agent.kill()
            result["exit_on_term"] = agent.wait()
    os.unlink(args.pid_file)
    log.close()
    result["phases"] = log_phases(args.log, started_wall)
    result["baseline"] = python_list_baseline(args.api_dir)
    with open(args.result, "w") as f:
        json.dump(result, f)
    report(args, result)


def report(args, result):
    spec = json.load(open(args.spec))
    preload = json.load(open(os.path.join(args.api_dir, "preload.json")))
    counts = preload["counts"]
    times = result["times"]
    total = sum(counts.values())
    print()
    print(f"Agent scale: initial sync of a synthetic cluster of {total} objects served by the "
          f"test API server")
    print(f"  {counts.get('pods', 0)} pods ({spec['local_pods']} on this node, wired by "
          f"weir-cni; the rest on {spec['nodes'] - 1} other nodes), "
          f"{counts.get('namespaces', 0)} namespaces, {counts.get('networkpolicies', 0)} "
          f"NetworkPolicies, {counts.get('services', 0)} Services, "
          f"{counts.get('endpointslices', 0)} EndpointSlices, {counts.get('nodes', 0)} Nodes")
    if args.scaled_down:
        print(f"  SCALED DOWN from the goal's cluster by {args.scaled_down}: the goals below "
              "do not apply to this size")
    sync = times.get("applied")
    synced = times.get("synced")
    hwm_sync = max(v for v in (result.get("hwm_at_sync_kib"), result.get("hwm_after_kib"), 0)
                   if v is not None)
    hwm = max(hwm_sync, result.get("hwm_after_changes_kib") or 0)
    print(f"  {'':44}{'measured':>12}{'goal':>12}")
    if sync is not None:
        verdict = "met" if sync < 3 else "NOT met"
        print(f"  {'agent start -> synced and first change applied':44}{sync:>10.2f} s"
              f"{'< 3 s':>12}  {verdict}")
    else:
        print(f"  {'agent start -> synced and first change applied':44}"
              f"{'> %.0f s' % args.timeout:>12}{'< 3 s':>12}  NOT met "
              f"(agent {'exited ' + str(result['exited']) if result['exited'] is not None else 'still not synced'})")
    if hwm:
        verdict = "met" if hwm / 1024 < 100 else "NOT met"
        print(f"  {'peak RSS (VmHWM over the whole run)':44}{hwm / 1024:>8.1f} MiB"
              f"{'< 100 MiB':>12}  {verdict}")
        print(f"  {'  of which: at sync and 1 s later':44}{hwm_sync / 1024:>8.1f} MiB")
        if result.get("hwm_after_changes_kib"):
            print(f"  {'  after the 3 changes below':44}"
                  f"{result['hwm_after_changes_kib'] / 1024:>8.1f} MiB")
    print("  timeline (seconds from process start; 10 ms status polls, log lines to 1 ms):")
    for label, key in (("control socket answers", "socket"), ("status synced", "synced"),
                       ("status appliedChanges >= 1", "applied"),
                       ("status ready (CNI config written)", "ready")):
        if key in times:
            print(f"    {times[key]:7.3f}  {label}")
    sync_end = (sync or args.timeout) + 0.05
    for when, level, message in result["phases"]:
        if when > sync_end and level not in ("warn", "error"):
            continue
        if re.search(r"listed \d+ objects|applied change 1:|^ready|datapath loaded|watching|"
                     r"services applied", message) or level in ("warn", "error"):
            text = f"log {level}: {message}"
            while text:
                print(f"    {when:7.3f}  {text[:100]}" if when is not None else
                      f"             {text[:100]}")
                text, when = text[100:], None
    if result.get("agent_cpu_at_sync") is not None:
        print(f"  CPU until synced: agent {result['agent_cpu_at_sync']:.2f} s, test API server "
              f"{result.get('server_cpu_at_sync', float('nan')):.2f} s "
              f"(wall {sync:.2f} s; {os.cpu_count()} CPUs, 1-min load average "
              f"{result['load']:.2f} at the start)")
    st = result.get("status") or {}
    if st:
        print(f"  agent after sync: {st.get('endpoints')} endpoints "
              f"({st.get('isolatedEndpoints')} isolated), {st.get('identities')} identities, "
              f"{st.get('ipcacheEntries')} ipcache entries, {st.get('policyEntries')} policy "
              f"entries, RSS {(result.get('rss_after_kib') or 0) / 1024:.1f} MiB; exit on "
              f"SIGTERM {result.get('exit_on_term')}")
    if result.get("changes"):
        print("  single changes after the sync (request sent -> appliedChanges moves on):")
        for label, seconds in result["changes"]:
            shown = f"{seconds * 1000:8.1f} ms" if seconds is not None else "  > 30 s"
            print(f"    {label:52}{shown}")
    seconds, items, size = result["baseline"]
    print(f"  context: a Python client lists the same {items} objects ({size / 1e6:.1f} MB of "
          f"JSON) from this server in {seconds:.2f} s (sequential, pages of 500); the test "
          f"server preloaded them in {preload['seconds']:.1f} s (before the agent started)")


if __name__ == "__main__":
    main()
