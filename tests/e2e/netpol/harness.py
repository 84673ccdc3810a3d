#!/usr/bin/env python3
"""Drives the NetworkPolicy matrix suite against one running weir node.

The node is a network namespace running weir-agent (see tests/e2e/lib.sh). The harness
publishes the upstream netpol layout -- namespaces x, y, z with pods a, b, c each -- either
through the test API server (tests/fixtures/kapi.py) or as manifest files in the agent's
--standalone folder, wires every pod with the real weir-cni the way a runtime does, starts an
echo server in each, and then measures the 9x9 reachability matrix for TCP/80, TCP/81, UDP/80
and UDP/81 with real traffic, comparing it with model.py's verdicts.

Every call is one step and keeps the cluster in WORK/cluster.json, so a shell test can
interleave steps with its own actions (restarting the agent, for instance):

  init --mode api|standalone --source DIR --node-name N --pod-cidr C --node-ip IP
        publish namespaces, the Node and the (still pending) Pods; before the agent starts
  pods  wire the pods (CNI ADD), start their servers, publish their IPs, check all-allowed
  cases [NAME...]             run policy cases (all by default): apply, wait, measure, delete
  apply CASE... | set-policies JSON | clear-policies
  label-pod NS/NAME K=V|K- ...   label-namespace NS K=V|K- ...
  delete-pod NS/NAME             add-pod NS/NAME K=V ...
  check [--strict]               measure the matrix now and compare with the model
  ip NS/NAME | netns NS/NAME

Waiting for the agent: `weirctl status` reports "appliedChanges", a counter the agent bumps
after applying a batch of object changes to its maps. The harness reads it before a change,
then polls until it grows. A matrix that disagrees is re-probed once, 200 ms later, for the
disagreeing pairs only; an agent without the counter gets the whole matrix retried for 3 s.
`check --strict` allows neither: the verdicts must be right on the first measurement.
"""

import argparse
import concurrent.futures
import json
import os
import re
import subprocess
import sys
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import model  # noqa: E402
import policies  # noqa: E402

ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
NAMESPACES = ("x", "y", "z")
POD_NAMES = ("a", "b", "c")
CONTAINER_PORTS = [{"name": f"serve-{n}-{proto.lower()}", "containerPort": n, "protocol": proto}
                   for n in (80, 81) for proto in ("TCP", "UDP")]
SETTLE_SECONDS = 0.05      # quiet time after the counter grew, when several objects changed
APPLY_TIMEOUT = 5.0
POLL_INTERVAL = 0.02
REPROBE_DELAY = 0.2
FALLBACK_RETRY_SECONDS = 3.0


def log(message):
    print(message, flush=True)


class Failure(Exception):
    pass


# --- Kubernetes objects, shaped like `kubectl ... --dry-run=client -o json` -----------------

def namespace_object(name, labels):
    return {"kind": "Namespace", "apiVersion": "v1",
            "metadata": {"name": name, "labels": dict(labels)}, "spec": {}, "status": {}}


def node_object(name, pod_cidr, node_ip):
    return {"kind": "Node", "apiVersion": "v1",
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name,
                                                  "kubernetes.io/os": "linux"}},
            "spec": {"podCIDR": pod_cidr, "podCIDRs": [pod_cidr]},
            "status": {"addresses": [{"type": "InternalIP", "address": node_ip},
                                     {"type": "Hostname", "address": name}],
                       "conditions": [{"type": "Ready", "status": "True"}]}}


def pod_object(pod, node_name, node_ip):
    status = {"phase": "Pending"}
    if pod.get("ip"):
        status = {"phase": "Running", "hostIP": node_ip, "hostIPs": [{"ip": node_ip}],
                  "podIP": pod["ip"], "podIPs": [{"ip": pod["ip"]}]}
    return {"kind": "Pod", "apiVersion": "v1",
            "metadata": {"name": pod["name"], "namespace": pod["namespace"],
                         "labels": dict(pod["labels"]), "uid": pod["uid"]},
            "spec": {"nodeName": node_name,
                     "containers": [{"name": "server",
                                     "image": "registry.k8s.io/e2e-test-images/agnhost:2.47",
                                     "ports": [dict(p) for p in CONTAINER_PORTS],
                                     "resources": {}}],
                     "restartPolicy": "Always", "dnsPolicy": "ClusterFirst"},
            "status": status}


def object_key(obj):
    return (obj["kind"], obj["metadata"].get("namespace", ""), obj["metadata"]["name"])


def changed_objects(previous, current):
    before = {object_key(o): o for o in previous}
    after = {object_key(o): o for o in current}
    return sum(1 for k in before.keys() | after.keys() if before.get(k) != after.get(k))


# --- where objects are published --------------------------------------------------------------

def to_yaml(value, indent=0):
    """Block-style YAML for what Kubernetes objects hold; every string double-quoted so no
    YAML schema can read "y" or "80" as anything but a string."""
    pad = " " * indent

    def scalar(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if v is None:
            return "null"
        if isinstance(v, (int, float)):
            return str(v)
        return json.dumps(v)

    def key(k):
        return k if re.fullmatch(r"[A-Za-z0-9_./-]+", k) else json.dumps(k)

    lines = []
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(v, (dict, list)) and v:
                lines.append(f"{pad}{key(k)}:")
                lines.append(to_yaml(v, indent + 2))
            elif isinstance(v, (dict, list)):
                lines.append(f"{pad}{key(k)}: {'{}' if isinstance(v, dict) else '[]'}")
            else:
                lines.append(f"{pad}{key(k)}: {scalar(v)}")
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, (dict, list)) and item:
                nested = to_yaml(item, indent + 2)
                lines.append(f"{pad}- {nested.lstrip()}")
            elif isinstance(item, (dict, list)):
                lines.append(f"{pad}- {'{}' if isinstance(item, dict) else '[]'}")
            else:
                lines.append(f"{pad}- {scalar(item)}")
    else:
        lines.append(pad + scalar(value))
    return "\n".join(lines)


def write_atomically(path, text):
    temporary = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.tmp")
    with open(temporary, "w") as handle:
        handle.write(text)
    os.rename(temporary, path)


class StandaloneSource:
    """Manifests in the agent's --standalone folder: namespaces in one multi-document YAML
    file, the Node and each Pod in a JSON file of its own, the current policies in one
    multi-document YAML file (rewritten whole on every change, removed when there are none)."""

    def __init__(self, directory):
        self.directory = directory
        os.makedirs(directory, exist_ok=True)

    def file_for(self, obj):
        kind, namespace, name = object_key(obj)
        if kind == "Namespace":
            return "namespaces.yaml"
        if kind == "NetworkPolicy":
            return "networkpolicies.yaml"
        return f"{kind.lower()}-{namespace + '-' if namespace else ''}{name}.json"

    def publish(self, objects, previous=None):
        """Makes the folder hold exactly `objects`, touching only the files that change."""
        files = {}
        for obj in objects:
            files.setdefault(self.file_for(obj), []).append(obj)
        for name, group in files.items():
            if name.endswith(".yaml"):
                text = "".join(f"---\n{to_yaml(o)}\n" for o in group)
            else:
                assert len(group) == 1
                text = json.dumps(group[0], indent=2) + "\n"
            path = os.path.join(self.directory, name)
            if not os.path.exists(path) or open(path).read() != text:
                write_atomically(path, text)
        for name in os.listdir(self.directory):
            if not name.startswith(".") and name not in files:
                os.unlink(os.path.join(self.directory, name))
        return []


class ApiSource:
    """The test API server, through its client tests/fixtures/kapi.py, the way a user and the
    kubelet would change things: create, `kubectl label`-style label patches, the pod status
    subresource for IPs, replace for policies, delete."""

    CREATE_ORDER = ("Namespace", "Node", "Pod", "NetworkPolicy")

    def __init__(self, directory, node_netns):
        self.directory = directory
        self.node_netns = node_netns
        self.kapi = os.path.join(ROOT, "tests", "fixtures", "kapi.py")

    def run(self, *arguments, stdin=None):
        command = ["nsenter", f"--net=/var/run/netns/{self.node_netns}", sys.executable,
                   self.kapi, "--dir", self.directory, *arguments]
        result = subprocess.run(command, input=stdin, capture_output=True, text=True)
        if result.returncode != 0:
            raise Failure(f"kapi.py {' '.join(arguments)} failed: "
                          f"{(result.stderr or result.stdout).strip()}")
        return result.stdout

    @staticmethod
    def label_changes(before, after):
        before = before["metadata"].get("labels") or {}
        after = after["metadata"].get("labels") or {}
        return ([f"{k}={v}" for k, v in after.items() if before.get(k) != v] +
                [f"{k}-" for k in before if k not in after])

    def publish(self, objects, previous):
        """Creates, changes and deletes objects so the server holds `objects`; returns the
        created objects as the server answered them (with uids)."""
        wanted = {object_key(o): o for o in objects}
        before = {object_key(o): o for o in previous}
        rank = {kind: i for i, kind in enumerate(self.CREATE_ORDER)}
        for key in sorted(before.keys() - wanted.keys(), key=lambda k: -rank[k[0]]):
            kind, namespace, name = key
            self.run("delete", kind, namespace or "-", name)
        updates = []  # each object's own calls, in order; objects updated concurrently
        for key in sorted(before.keys() & wanted.keys(), key=lambda k: rank[k[0]]):
            old, new = before[key], wanted[key]
            if old == new:
                continue
            kind, namespace, name = key
            changes = self.label_changes(old, new)
            calls = []
            if kind in ("Pod", "Namespace"):
                if changes:
                    calls.append((("patch-labels", kind, namespace or "-", name, *changes),
                                  None))
                if kind == "Pod" and old["status"] != new["status"]:
                    status = new["status"]
                    calls.append((("set-pod-ip", namespace, name, status.get("podIP", ""),
                                   new["spec"]["nodeName"], "--phase", status["phase"],
                                   *(["--host-ip", status["hostIP"]] if "hostIP" in status
                                     else [])), None))
            else:
                calls.append((("replace", "-"), json.dumps(new)))
            updates.append(calls)
        with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
            for done in [pool.submit(lambda calls: [self.run(*a, stdin=s) for a, s in calls], c)
                         for c in updates]:
                done.result()
        created = [wanted[k] for k in sorted(wanted.keys() - before.keys(),
                                             key=lambda k: rank[k[0]])]
        if not created:
            return []
        output = self.run("create", "-o", "json", "-",
                          stdin=json.dumps({"apiVersion": "v1", "kind": "List",
                                            "items": created}))
        answers, decoder, index = [], json.JSONDecoder(), 0
        while index < len(output):
            if output[index].isspace():
                index += 1
                continue
            obj, index = decoder.raw_decode(output, index)
            answers.append(obj)
        return answers


# --- the cluster ------------------------------------------------------------------------------

class Cluster:
    def __init__(self, args):
        self.args = args
        self.path = os.path.join(args.work, "cluster.json")
        self.state = json.load(open(self.path)) if os.path.exists(self.path) else None
        self.probers = {}

    def save(self):
        write_atomically(self.path, json.dumps(self.state, indent=1))

    # objects
    def objects(self):
        s = self.state
        result = [namespace_object(name, labels) for name, labels in s["namespaces"].items()]
        result.append(node_object(s["nodeName"], s["podCIDR"], s["nodeIP"]))
        result += [pod_object(p, s["nodeName"], s["nodeIP"]) for p in s["pods"].values()]
        result += s["policies"]
        return result

    def source(self):
        if self.state["mode"] == "standalone":
            return StandaloneSource(self.state["source"])
        return ApiSource(self.state["source"], self.args.node_netns)

    def publish(self, previous, wait=True):
        """Publishes the state's objects (the source held `previous`) and, unless told not
        to, waits until the agent applied them. Returns whether it could tell."""
        current = self.objects()
        changed = changed_objects(previous, current)
        before = self.applied_changes() if wait and changed else None
        for answer in self.source().publish(current, previous):
            if answer.get("kind") == "Pod":   # the server's uid, as the kubelet would pass it
                key = f"{answer['metadata']['namespace']}/{answer['metadata']['name']}"
                self.state["pods"][key]["uid"] = answer["metadata"]["uid"]
        self.save()
        if not wait or not changed:
            return bool(wait)
        return self.wait_applied(before, several=changed > 1)

    def change(self, mutate):
        previous = self.objects()
        mutate()
        return self.publish(previous)

    # the agent's progress
    def weirctl_status(self):
        result = subprocess.run(
            ["nsenter", f"--net=/var/run/netns/{self.args.node_netns}", self.args.weirctl,
             "--state-dir", self.args.state_dir, "status"], capture_output=True, text=True)
        if result.returncode != 0:
            return None
        try:
            return json.loads(result.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            return None

    def applied_changes(self):
        status = self.weirctl_status()
        if status is None or "appliedChanges" not in status:
            return None
        return int(status["appliedChanges"])

    def wait_applied(self, before, several=True):
        """True once the agent applied a batch after `before`; False when it cannot tell."""
        if before is None:
            return False
        deadline = time.monotonic() + APPLY_TIMEOUT
        current = before
        while time.monotonic() < deadline:
            current = self.applied_changes()
            if current is not None and current > before:
                break
            time.sleep(POLL_INTERVAL)
        else:
            log(f"    warning: appliedChanges stayed at {current} for {APPLY_TIMEOUT} s")
            return False
        if several:  # a change of several objects may arrive in several batches
            quiet_since = time.monotonic()
            while time.monotonic() - quiet_since < SETTLE_SECONDS:
                time.sleep(POLL_INTERVAL)
                latest = self.applied_changes()
                if latest != current:
                    current, quiet_since = latest, time.monotonic()
        return True

    # pods
    def netns(self, key):
        return f"{self.args.test_id}-{key.replace('/', '-')}"

    def model_pods(self):
        return [model.Pod(p["namespace"], p["name"], p["labels"], p["ip"], CONTAINER_PORTS)
                for p in self.state["pods"].values() if p.get("ip")]

    def namespace_labels(self):
        return {name: dict(labels, **{"kubernetes.io/metadata.name": name})
                for name, labels in self.state["namespaces"].items()}

    def cni(self, command, pod):
        conflist = json.load(open(os.path.join(self.args.cni_conf_dir, "10-weir.conflist")))
        config = dict(conflist["plugins"][0], cniVersion=conflist["cniVersion"],
                      name=conflist["name"])
        cni_args = (f"IgnoreUnknown=1;K8S_POD_NAMESPACE={pod['namespace']};"
                    f"K8S_POD_NAME={pod['name']};K8S_POD_INFRA_CONTAINER_ID={pod['container']};"
                    f"K8S_POD_UID={pod['uid']}")
        environment = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
                       "CNI_COMMAND": command, "CNI_CONTAINERID": pod["container"],
                       "CNI_NETNS": f"/var/run/netns/{pod['netns']}", "CNI_IFNAME": "eth0",
                       "CNI_PATH": "/usr/lib/cni", "CNI_ARGS": cni_args}
        result = subprocess.run(
            ["nsenter", f"--net=/var/run/netns/{self.args.node_netns}", self.args.weir_cni],
            input=json.dumps(config), capture_output=True, text=True, env=environment)
        if result.returncode != 0:
            raise Failure(f"CNI {command} {pod['namespace']}/{pod['name']} failed: "
                          f"{result.stdout.strip()} {result.stderr.strip()}")
        return json.loads(result.stdout) if command == "ADD" else None

    def new_pod(self, namespace, name, labels):
        key = f"{namespace}/{name}"
        pod = {"namespace": namespace, "name": name, "labels": dict(labels), "ip": None,
               "uid": str(uuid.uuid4()), "netns": self.netns(key),
               "container": f"c-{self.args.test_id}-{namespace}-{name}"}
        self.state["pods"][key] = pod
        return pod

    def wire(self, keys):
        """CNI ADD, then the echo server; returns once every server listens."""
        ready_files = {}
        for key in keys:
            pod = self.state["pods"][key]
            if not os.path.exists(f"/var/run/netns/{pod['netns']}"):
                subprocess.run(["ip", "netns", "add", pod["netns"]], check=True)
                subprocess.run(["ip", "netns", "exec", pod["netns"], "ip", "link", "set", "lo",
                                "up"], check=True)
            result = self.cni("ADD", pod)
            pod["ip"] = result["ips"][0]["address"].split("/")[0]
            ready = os.path.join(self.args.work, f"ready-{pod['netns']}")
            if os.path.exists(ready):
                os.unlink(ready)
            with open(os.path.join(self.args.work, f"server-{pod['netns']}.log"), "w") as out:
                subprocess.Popen(["ip", "netns", "exec", pod["netns"], sys.executable,
                                  os.path.join(HERE, "server.py"), "--ready", ready],
                                 stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
            ready_files[key] = ready
        deadline = time.monotonic() + 10
        for key, ready in ready_files.items():
            while not os.path.exists(ready):
                if time.monotonic() > deadline:
                    raise Failure(f"echo server of {key} not ready after 10 s")
                time.sleep(0.02)

    # probing
    def prober(self, key):
        if key not in self.probers:
            self.probers[key] = subprocess.Popen(
                ["ip", "netns", "exec", self.state["pods"][key]["netns"], sys.executable,
                 os.path.join(HERE, "prober.py"), "--serve", "--timeout", "0.5"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        return self.probers[key]

    def probe(self, requests):
        """requests: {source key: [(destination key, protocol, port)]} -> {(s, d, proto,
        port): result}, every source probing at once."""
        for source, targets in requests.items():
            batch = [{"ip": self.state["pods"][d]["ip"], "protocol": proto, "port": port}
                     for d, proto, port in targets]
            self.prober(source).stdin.write(json.dumps(batch) + "\n")
        results = {}
        for source, targets in requests.items():
            line = self.prober(source).stdout.readline()
            if not line:
                raise Failure(f"the prober in {source} died")
            for (d, proto, port), outcome in zip(targets, json.loads(line)):
                results[(source, d, proto, port)] = outcome
        return results

    def expected(self):
        pods = self.model_pods()
        matrix = model.expected_matrix(self.namespace_labels(), pods, self.state["policies"])
        return {(s, d, proto, port): verdict for (proto, port), cells in matrix.items()
                for (s, d), verdict in cells.items()}

    def measure_all(self, expected):
        requests = {}
        for s, d, proto, port in expected:
            requests.setdefault(s, []).append((d, proto, port))
        return self.probe(requests)

    def mismatches(self, expected, measured):
        return sorted(k for k, outcome in measured.items()
                      if outcome != ("ok" if expected[k] else "denied"))

    def check(self, title, tolerant=True, waited=True):
        """Measures the matrix; returns the list of failure lines (empty when it matches)."""
        expected = self.expected()
        measured = self.measure_all(expected)
        wrong = self.mismatches(expected, measured)
        if wrong and tolerant and waited:
            time.sleep(REPROBE_DELAY)
            requests = {}
            for s, d, proto, port in wrong:
                requests.setdefault(s, []).append((d, proto, port))
            measured.update(self.probe(requests))
            wrong = self.mismatches(expected, measured)
        elif wrong and tolerant:
            deadline = time.monotonic() + FALLBACK_RETRY_SECONDS
            while wrong and time.monotonic() < deadline:
                time.sleep(REPROBE_DELAY)
                measured = self.measure_all(expected)
                wrong = self.mismatches(expected, measured)
        if not wrong:
            return []
        return self.report(title, expected, measured, wrong)

    def report(self, title, expected, measured, wrong):
        """Upstream-style truth tables, expected beside measured, one per group of probes that
        disagree the same way; then one line per disagreeing pair."""
        keys = [p.key for p in self.model_pods()]
        lines = [f"FAIL {title}: {len(wrong)} of {len(measured)} probes disagree with the model"]
        groups = {}  # (expected table, measured table) -> probes showing it
        for proto, port in model.PROBES:
            here = frozenset((s, d) for s, d, pr, po in wrong if (pr, po) == (proto, port))
            if not here:
                continue
            want = tuple(expected[(s, d, proto, port)] for s in keys for d in keys)
            got = tuple(measured[(s, d, proto, port)] == "ok" for s in keys for d in keys)
            groups.setdefault((want, got, here), []).append(f"{proto}/{port}")
        for (want, got, here), probes in groups.items():
            cells = [(s, d) for s in keys for d in keys]
            left = model.format_truth_table(keys, dict(zip(cells, want)), here).splitlines()
            right = model.format_truth_table(keys, dict(zip(cells, got)), here).splitlines()
            width = max(len(line) for line in left)
            lines.append(f"  {', '.join(probes)} (rows: from, columns: to; '.' allowed, "
                         f"'X' denied, '!' disagrees)")
            lines.append(f"  {'expected'.ljust(width)}    measured")
            lines += [f"  {a.ljust(width)}    {b}" for a, b in zip(left, right)]
        pairs = {}
        for s, d, proto, port in wrong:
            verdict = (f"expected {'allowed' if expected[(s, d, proto, port)] else 'denied'}, "
                       f"measured {measured[(s, d, proto, port)]}")
            pairs.setdefault((s, d, verdict), []).append(f"{proto}/{port}")
        for (s, d, verdict), probes in pairs.items():
            lines.append(f"  {s} -> {d} {' '.join(probes)}: {verdict}")
        return lines

    def close(self):
        for process in self.probers.values():
            process.stdin.close()
            process.wait()


# --- commands ---------------------------------------------------------------------------------

def parse_labels(pairs, labels):
    labels = dict(labels)
    for pair in pairs:
        if pair.endswith("-") and "=" not in pair:
            labels.pop(pair[:-1], None)
        else:
            key, _, value = pair.partition("=")
            labels[key] = value
    return labels


def case_list(cluster):
    def address(key):  # a deleted pod's cases keep naming the address it had
        pod = cluster.state["pods"].get(key)
        return pod["ip"] if pod else cluster.state["formerAddresses"][key]
    return policies.cases(address)


def find_case(cluster, name):
    for case in case_list(cluster):
        if case.name == name:
            return case
    sets = policies.scenario_sets()
    if name in sets:
        return policies.Case(name, "scenario step", sets[name])
    raise Failure(f"no policy case or scenario set {name!r}")


def command_init(cluster, args):
    os.makedirs(args.work, exist_ok=True)
    cluster.state = {"mode": args.mode, "source": os.path.abspath(args.source),
                     "nodeName": args.node_name, "podCIDR": args.pod_cidr,
                     "nodeIP": args.node_ip,
                     "namespaces": {ns: {"ns": ns} for ns in NAMESPACES},
                     "pods": {}, "policies": []}
    for namespace in NAMESPACES:
        for name in POD_NAMES:
            cluster.new_pod(namespace, name, {"pod": name})
    cluster.publish([], wait=False)


def command_pods(cluster, args):
    started = time.monotonic()
    keys = list(cluster.state["pods"])
    pending = cluster.objects()
    cluster.wire(keys)
    cluster.publish(pending)  # as the kubelet reports them: Running, with their IPs
    log(f"    9 pods wired and serving in {time.monotonic() - started:.1f} s: " +
        " ".join(f"{k}={cluster.state['pods'][k]['ip']}" for k in keys))
    failures = cluster.check("no policy: everything allowed")
    if failures:
        raise Failure("\n".join(failures))


def apply_policies(cluster, objects):
    return cluster.change(lambda: cluster.state.update(policies=list(objects)))


def command_cases(cluster, args):
    selected = case_list(cluster)
    if args.names:
        unknown = set(args.names) - {c.name for c in selected}
        if unknown:
            raise Failure(f"no policy case {sorted(unknown)}")
        selected = [c for c in selected if c.name in args.names]
    failed = []  # (case name, its disagreeing-pair lines)
    started = time.monotonic()
    for case in selected:
        case_started = time.monotonic()
        waited = apply_policies(cluster, case.policies)
        failures = cluster.check(f"case {case.name} ({case.description})", waited=waited)
        apply_policies(cluster, [])
        status = "ok" if not failures else "FAIL"
        log(f"    {status} {case.name} ({time.monotonic() - case_started:.2f} s)")
        if failures:
            failed.append((case.name, [f for f in failures if " -> " in f]))
            log("\n".join(failures))
            log("    policies: " + json.dumps(case.policies))
    log(f"    {len(selected) - len(failed)} of {len(selected)} policy cases matched the model "
        f"in {time.monotonic() - started:.1f} s")
    if failed:
        # Short, and last: a runner showing the end of the output shows this.
        summary = []
        for name, pairs in failed:
            summary.append(f"    case {name}: {len(pairs)} pairs disagree")
            summary += [f"    {p.strip()}" for p in pairs[:3]]
            if len(pairs) > 3:
                summary.append(f"      ... and {len(pairs) - 3} more (tables above)")
        raise Failure("\n".join(summary) + "\n    cases that disagree: " +
                      " ".join(name for name, _ in failed))
    # Everything allowed again once the last policies are gone.
    failures = cluster.check("after deleting every policy")
    if failures:
        raise Failure("\n".join(failures))


def checked(cluster, title, waited=True, strict=False):
    failures = cluster.check(title, tolerant=not strict, waited=waited)
    if failures:
        raise Failure("\n".join(failures))
    log(f"    ok {title}")


def command_apply(cluster, args):
    """The policies of one or more cases or scenario sets, together, replacing the current
    ones (a policy keeping its namespace and name is updated in place)."""
    chosen = [find_case(cluster, name) for name in args.cases]
    waited = apply_policies(cluster, [p for case in chosen for p in case.policies])
    if args.check:
        checked(cluster, "policies of " + " + ".join(args.cases), waited)


def command_set_policies(cluster, args):
    objects = json.loads(args.policies)
    waited = apply_policies(cluster, objects if isinstance(objects, list) else [objects])
    if args.check:
        checked(cluster, args.title or "policies set", waited)


def command_clear_policies(cluster, args):
    waited = apply_policies(cluster, [])
    if args.check:
        checked(cluster, "no policies", waited)


def command_label_pod(cluster, args):
    pod = cluster.state["pods"][args.pod]
    cluster.change(lambda: pod.update(labels=parse_labels(args.labels, pod["labels"])))
    if args.check:
        checked(cluster, f"pod {args.pod} labelled {pod['labels']}")


def command_label_namespace(cluster, args):
    namespaces = cluster.state["namespaces"]
    cluster.change(lambda: namespaces.update(
        {args.namespace: parse_labels(args.labels, namespaces[args.namespace])}))
    if args.check:
        checked(cluster, f"namespace {args.namespace} labelled {namespaces[args.namespace]}")


def command_delete_pod(cluster, args):
    pod = cluster.state["pods"][args.pod]
    # As the kubelet does: the sandbox's network goes first, then the object.
    cluster.cni("DEL", pod)
    subprocess.run(f"ip netns pids {pod['netns']} | xargs -r kill -9", shell=True)
    subprocess.run(["ip", "netns", "del", pod["netns"]])
    cluster.state.setdefault("formerAddresses", {})[args.pod] = pod["ip"]
    cluster.change(lambda: cluster.state["pods"].pop(args.pod))
    if args.check:
        checked(cluster, f"pod {args.pod} deleted")


def command_add_pod(cluster, args):
    namespace, name = args.pod.split("/")
    cluster.change(lambda: cluster.new_pod(namespace, name, parse_labels(args.labels, {})))
    pending = cluster.objects()
    cluster.wire([args.pod])
    cluster.publish(pending)  # Running, with its IP
    log(f"    pod {args.pod} added with IP {cluster.state['pods'][args.pod]['ip']}")
    if args.check:
        checked(cluster, f"pod {args.pod} added")


def command_check(cluster, args):
    checked(cluster, args.title or "current policies", waited=True, strict=args.strict)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", required=True, help="this suite's scratch folder")
    parser.add_argument("--test-id", required=True, help="prefix of the pods' netns names")
    parser.add_argument("--node-netns", required=True)
    parser.add_argument("--state-dir", required=True, help="the agent's --state-dir")
    parser.add_argument("--cni-conf-dir", required=True)
    parser.add_argument("--weir-cni", default=os.path.join(ROOT, "build", "weir-cni"))
    parser.add_argument("--weirctl", default=os.path.join(ROOT, "build", "weirctl"))
    commands = parser.add_subparsers(dest="command", required=True)

    init = commands.add_parser("init")
    init.add_argument("--mode", choices=("api", "standalone"), required=True)
    init.add_argument("--source", required=True, help="kapi.py --dir, or the standalone folder")
    init.add_argument("--node-name", required=True)
    init.add_argument("--pod-cidr", required=True)
    init.add_argument("--node-ip", required=True)
    commands.add_parser("pods")
    cases = commands.add_parser("cases")
    cases.add_argument("names", nargs="*")
    apply = commands.add_parser("apply")
    apply.add_argument("cases", nargs="+")
    apply.add_argument("--no-check", dest="check", action="store_false")
    set_policies = commands.add_parser("set-policies")
    set_policies.add_argument("policies", help="a JSON list of NetworkPolicy objects")
    set_policies.add_argument("--no-check", dest="check", action="store_false")
    set_policies.add_argument("--title")
    clear = commands.add_parser("clear-policies")
    clear.add_argument("--no-check", dest="check", action="store_false")
    for name, argument in (("label-pod", "pod"), ("label-namespace", "namespace"),
                           ("add-pod", "pod")):
        sub = commands.add_parser(name)
        sub.add_argument(argument)
        sub.add_argument("labels", nargs="*")
        sub.add_argument("--no-check", dest="check", action="store_false")
    delete = commands.add_parser("delete-pod")
    delete.add_argument("pod")
    delete.add_argument("--no-check", dest="check", action="store_false")
    check = commands.add_parser("check")
    check.add_argument("--strict", action="store_true", help="no waiting, no re-probe")
    check.add_argument("--title")
    for name in ("ip", "netns"):
        commands.add_parser(name).add_argument("pod")
    args = parser.parse_args()

    cluster = Cluster(args)
    if args.command != "init" and cluster.state is None:
        sys.exit("harness: no cluster yet; run init first")
    try:
        if args.command == "ip":
            print(cluster.state["pods"][args.pod]["ip"])
        elif args.command == "netns":
            print(cluster.state["pods"][args.pod]["netns"])
        else:
            handler = globals()["command_" + args.command.replace("-", "_")]
            handler(cluster, args)
    except Failure as failure:
        print(str(failure), file=sys.stderr, flush=True)
        sys.exit(1)
    finally:
        cluster.close()


if __name__ == "__main__":
    main()
