#!/usr/bin/env python3
"""An independent oracle of Kubernetes NetworkPolicy (networking.k8s.io/v1) semantics.

Given the cluster (namespaces with labels, pods with labels, IP and named container ports) and
a set of NetworkPolicy objects, `expected_matrix` says for every source pod, destination pod,
protocol and port whether a new connection is allowed. It shares no code with weir: it reads the
policies as the API documents them, one rule at a time, so a disagreement with the datapath
points at one of the two.

    allowed(src -> dst, proto/port) = egress_allows(src, dst, proto/port)
                                      and ingress_allows(dst, src, proto/port)

A direction allows everything when no policy in the pod's namespace selects the pod for that
policy type; otherwise some rule of a selecting policy must match the peer and the port.
A pod talking to its own IP never leaves its network namespace, so that is always allowed.

weir's stated semantics, beyond what the API leaves open: an ipBlock matches a pod of the
cluster when the pod's IP is inside `cidr` and outside every `except`.

Run `python3 model.py --selftest` for hand-computed checks.
"""

import ipaddress
import sys

# The four services every pod of the test layout serves.
PROBES = (("TCP", 80), ("TCP", 81), ("UDP", 80), ("UDP", 81))


class Pod:
    def __init__(self, namespace, name, labels, ip, ports=()):
        self.namespace = namespace
        self.name = name
        self.labels = dict(labels)
        self.ip = ip
        # Named container ports: [{"name": ..., "containerPort": N, "protocol": "TCP"}]
        self.ports = list(ports)

    @property
    def key(self):
        return f"{self.namespace}/{self.name}"


def selector_matches(selector, labels):
    """A metav1.LabelSelector: matchLabels AND every matchExpression; {} matches everything."""
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator = expression["key"], expression["operator"]
        values = expression.get("values") or []
        if operator == "In":
            ok = key in labels and labels[key] in values
        elif operator == "NotIn":
            ok = key not in labels or labels[key] not in values
        elif operator == "Exists":
            ok = key in labels
        elif operator == "DoesNotExist":
            ok = key not in labels
        else:
            raise ValueError(f"unknown selector operator {operator!r}")
        if not ok:
            return False
    return True


def policy_types(policy):
    """spec.policyTypes, or the API's default: Ingress, plus Egress when there are egress rules."""
    spec = policy["spec"]
    types = spec.get("policyTypes") or []
    if types:
        return set(types)
    return {"Ingress", "Egress"} if spec.get("egress") else {"Ingress"}


def policy_selects(policy, pod):
    return (policy["metadata"].get("namespace", "default") == pod.namespace
            and selector_matches(policy["spec"].get("podSelector") or {}, pod.labels))


def ip_block_matches(block, ip):
    address = ipaddress.ip_address(ip)
    if address not in ipaddress.ip_network(block["cidr"], strict=False):
        return False
    return not any(address in ipaddress.ip_network(hole, strict=False)
                   for hole in block.get("except") or [])


def peer_matches(peer, policy_namespace, pod, namespace_labels):
    """One NetworkPolicyPeer against a cluster pod. podSelector and namespaceSelector in one
    peer are ANDed; a podSelector alone means pods of the policy's own namespace."""
    if "ipBlock" in peer:
        return ip_block_matches(peer["ipBlock"], pod.ip)
    if "podSelector" not in peer and "namespaceSelector" not in peer:
        raise ValueError(f"a peer needs ipBlock, podSelector or namespaceSelector: {peer}")
    if "namespaceSelector" in peer:
        namespace_ok = selector_matches(peer["namespaceSelector"] or {},
                                        namespace_labels[pod.namespace])
    else:
        namespace_ok = pod.namespace == policy_namespace
    pod_ok = selector_matches(peer.get("podSelector") or {}, pod.labels)
    return namespace_ok and pod_ok


def port_matches(rule_port, protocol, port, destination):
    """One NetworkPolicyPort against protocol/port at the destination pod. A named port is
    looked up among the destination's container ports of the same protocol."""
    if rule_port.get("protocol", "TCP") != protocol:
        return False
    wanted = rule_port.get("port")
    if wanted is None:
        return True
    if isinstance(wanted, str) and not wanted.isdigit():
        return any(p.get("name") == wanted and p.get("protocol", "TCP") == protocol
                   and p["containerPort"] == port for p in destination.ports)
    first = int(wanted)
    last = rule_port.get("endPort", first)
    return first <= port <= last


def ports_match(rule, protocol, port, destination):
    ports = rule.get("ports") or []
    return not ports or any(port_matches(p, protocol, port, destination) for p in ports)


def rule_matches(rule, peers_key, policy_namespace, peer, protocol, port, destination,
                 namespace_labels):
    peers = rule.get(peers_key) or []
    peer_ok = not peers or any(peer_matches(p, policy_namespace, peer, namespace_labels)
                               for p in peers)
    return peer_ok and ports_match(rule, protocol, port, destination)


def direction_allows(policies, pod, peer, direction, protocol, port, namespace_labels):
    """direction "Ingress": pod receives from peer; "Egress": pod sends to peer."""
    rules_key, peers_key = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
    destination = pod if direction == "Ingress" else peer
    isolated = False
    for policy in policies:
        if direction not in policy_types(policy) or not policy_selects(policy, pod):
            continue
        isolated = True
        policy_namespace = policy["metadata"].get("namespace", "default")
        for rule in policy["spec"].get(rules_key) or []:
            if rule_matches(rule, peers_key, policy_namespace, peer, protocol, port, destination,
                            namespace_labels):
                return True
    return not isolated


def allowed(policies, source, destination, protocol, port, namespace_labels):
    if source.key == destination.key:
        return True
    return (direction_allows(policies, source, destination, "Egress", protocol, port,
                             namespace_labels)
            and direction_allows(policies, destination, source, "Ingress", protocol, port,
                                 namespace_labels))


def expected_matrix(namespace_labels, pods, policies, probes=PROBES):
    """{(protocol, port): {(source key, destination key): bool}}"""
    return {(protocol, port): {(s.key, d.key): allowed(policies, s, d, protocol, port,
                                                       namespace_labels)
                               for s in pods for d in pods}
            for protocol, port in probes}


def format_truth_table(keys, verdicts, mismatches=frozenset()):
    """Upstream-style truth table: a row per source, a column per destination, '.' allowed,
    'X' denied, and '!' after a cell that disagrees with the other table."""
    width = max(len(k) for k in keys) + 1
    lines = [" " * width + " ".join(k.rjust(4) for k in keys)]
    for source in keys:
        cells = [("." if verdicts[(source, d)] else "X") + ("!" if (source, d) in mismatches
                                                           else " ")
                 for d in keys]
        lines.append(source.ljust(width) + " ".join(c.rjust(4) for c in cells))
    return "\n".join(lines)


# --- self-test: small hand-computed cases ---------------------------------------------------

def _layout():
    named = [{"name": f"serve-{n}-{proto.lower()}", "containerPort": n, "protocol": proto}
             for n in (80, 81) for proto in ("TCP", "UDP")]
    namespace_labels = {ns: {"ns": ns, "kubernetes.io/metadata.name": ns} for ns in "xyz"}
    pods = [Pod(ns, name, {"pod": name}, f"10.0.{i}.{j + 1}", named)
            for i, ns in enumerate("xyz") for j, name in enumerate("abc")]
    return namespace_labels, pods


def _policy(namespace, spec, name="p"):
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def model_selftest():
    namespace_labels, pods = _layout()
    pod = {p.key: p for p in pods}
    checks = 0

    def check(policies, source, destination, protocol, port, want, what):
        nonlocal checks
        got = allowed(policies, pod[source], pod[destination], protocol, port, namespace_labels)
        assert got == want, f"{what}: {source} -> {destination} {protocol}/{port}: " \
                            f"expected {want}, got {got}"
        checks += 1

    # Selectors.
    assert selector_matches({}, {})
    assert selector_matches({"matchExpressions": [{"key": "a", "operator": "NotIn",
                                                   "values": ["1"]}]}, {})
    assert not selector_matches({"matchExpressions": [{"key": "a", "operator": "In",
                                                       "values": ["1"]}]}, {})
    assert not selector_matches({"matchLabels": {"a": "1"},
                                 "matchExpressions": [{"key": "b", "operator": "Exists"}]},
                                {"a": "1"})
    assert selector_matches({"matchExpressions": [{"key": "b", "operator": "DoesNotExist"}]},
                            {"a": "1"})

    # No policy: everything allowed.
    check([], "x/a", "y/b", "UDP", 81, True, "no policy")
    # Default deny ingress in x; self always allowed; egress of x untouched.
    deny = [_policy("x", {"podSelector": {}, "policyTypes": ["Ingress"]})]
    check(deny, "y/a", "x/a", "TCP", 80, False, "deny-all ingress")
    check(deny, "x/b", "x/a", "TCP", 80, False, "deny-all ingress, same namespace")
    check(deny, "x/a", "x/a", "TCP", 80, True, "self")
    check(deny, "x/a", "y/a", "TCP", 80, True, "egress unaffected")
    # ingress: [{}] allows all; ingress: [] denies all.
    check([_policy("x", {"podSelector": {}, "ingress": [{}]})], "z/c", "x/b", "UDP", 80, True,
          "allow-all")
    check([_policy("x", {"podSelector": {}, "ingress": []})], "z/c", "x/b", "UDP", 80, False,
          "empty ingress list")
    # policyTypes omitted: egress rules make it an egress policy, `egress: []` does not.
    omitted = [_policy("x", {"podSelector": {"matchLabels": {"pod": "a"}},
                             "egress": [{"to": [{"podSelector": {"matchLabels": {"pod": "b"}}}]}]})]
    check(omitted, "x/a", "x/b", "TCP", 80, True, "omitted types, egress to b")
    check(omitted, "x/a", "x/c", "TCP", 80, False, "omitted types, egress to c")
    check(omitted, "x/b", "x/a", "TCP", 80, False, "omitted types still isolate ingress")
    check([_policy("x", {"podSelector": {}, "egress": []})], "x/a", "x/c", "TCP", 80, False,
          "egress: [] with omitted types is an ingress-only deny")
    check([_policy("x", {"podSelector": {}, "egress": []})], "x/a", "y/c", "TCP", 80, True,
          "egress: [] with omitted types leaves egress open")
    # Peers: namespaceSelector AND podSelector in one peer vs two peers (OR).
    both = {"namespaceSelector": {"matchLabels": {"ns": "y"}},
            "podSelector": {"matchLabels": {"pod": "b"}}}
    and_policy = [_policy("x", {"podSelector": {}, "ingress": [{"from": [both]}]})]
    check(and_policy, "y/b", "x/a", "TCP", 80, True, "AND: y/b")
    check(and_policy, "y/a", "x/a", "TCP", 80, False, "AND: y/a")
    check(and_policy, "x/b", "x/a", "TCP", 80, False, "AND: x/b")
    or_policy = [_policy("x", {"podSelector": {}, "ingress": [{"from": [
        {"namespaceSelector": both["namespaceSelector"]}, {"podSelector": both["podSelector"]}]}]})]
    check(or_policy, "y/a", "x/a", "TCP", 80, True, "OR: y/a by namespace")
    check(or_policy, "x/b", "x/a", "TCP", 80, True, "OR: x/b by pod in own namespace")
    check(or_policy, "z/b", "x/a", "TCP", 80, False, "OR: z/b neither")
    # Ports: named, numeric range, protocol default TCP.
    named = [_policy("x", {"podSelector": {}, "ingress": [{"ports": [{"port": "serve-81-udp",
                                                                        "protocol": "UDP"}]}]})]
    check(named, "y/a", "x/a", "UDP", 81, True, "named UDP port")
    check(named, "y/a", "x/a", "TCP", 81, False, "named UDP port, TCP")
    wrong_protocol = [_policy("x", {"podSelector": {}, "ingress": [{"ports": [
        {"port": "serve-81-udp"}]}]})]  # defaults to TCP: no TCP port with that name
    check(wrong_protocol, "y/a", "x/a", "TCP", 81, False, "named port with the wrong protocol")
    check(wrong_protocol, "y/a", "x/a", "UDP", 81, False, "named port defaults to TCP")
    ranged = [_policy("x", {"podSelector": {}, "ingress": [{"ports": [{"port": 79,
                                                                         "endPort": 80}]}]})]
    check(ranged, "y/a", "x/a", "TCP", 80, True, "endPort range")
    check(ranged, "y/a", "x/a", "TCP", 81, False, "above endPort")
    check(ranged, "y/a", "x/a", "UDP", 80, False, "range is TCP only")
    # ipBlock with except, matching pods of the cluster.
    block = [_policy("x", {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"to": [
        {"ipBlock": {"cidr": "10.0.1.0/24", "except": ["10.0.1.2/32"]}}]}]})]
    check(block, "x/a", "y/a", "TCP", 80, True, "ipBlock")
    check(block, "x/a", "y/b", "TCP", 80, False, "ipBlock except")
    check(block, "x/a", "z/a", "TCP", 80, False, "outside ipBlock")
    # Union of two policies on one pod.
    union = [_policy("x", {"podSelector": {}, "ingress": [{"from": [{"namespaceSelector": {
                 "matchLabels": {"kubernetes.io/metadata.name": "y"}}}]}]}, "p1"),
             _policy("x", {"podSelector": {"matchLabels": {"pod": "a"}}, "ingress": [{"from": [
                 {"namespaceSelector": {"matchLabels": {"ns": "z"}}}]}]}, "p2")]
    check(union, "z/a", "x/a", "TCP", 80, True, "union: second policy")
    check(union, "y/a", "x/a", "TCP", 80, True, "union: first policy")
    check(union, "z/a", "x/b", "TCP", 80, False, "union: b only in first policy")
    # Egress and ingress both required.
    both_ways = [_policy("x", {"podSelector": {"matchLabels": {"pod": "a"}},
                               "policyTypes": ["Egress"], "egress": []}),
                 _policy("y", {"podSelector": {}, "ingress": [{}]})]
    check(both_ways, "x/a", "y/a", "TCP", 80, False, "egress deny wins over ingress allow")
    matrix = expected_matrix(namespace_labels, pods, deny)
    assert sum(matrix[("TCP", 80)].values()) == 81 - 9 * 3 + 3, "deny x: 27 cells, 3 of them self"
    print(f"model self-test: {checks} checks passed")


if __name__ == "__main__":
    if sys.argv[1:] == ["--selftest"]:
        model_selftest()
    else:
        sys.exit("usage: model.py --selftest")
