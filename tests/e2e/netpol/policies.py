#!/usr/bin/env python3
"""The NetworkPolicy cases of the matrix suite, modelled on upstream Kubernetes'
test/e2e/network/netpol: namespaces x, y, z (labels ns: x|y|z, plus the
kubernetes.io/metadata.name label the API server adds), pods a, b, c in each (label pod: a|b|c)
serving TCP and UDP on 80 and 81, with container ports named serve-80-tcp, serve-81-tcp,
serve-80-udp and serve-81-udp.

`cases(ip)` returns the cases; `ip("x/a")` gives a pod's address, because ipBlock cases are
written against the addresses the pods actually got. Each case is a name, one line saying
what it checks, and the NetworkPolicy objects to apply together. The expected verdicts come
from model.py, never from here.

`python3 policies.py --selftest` checks every case against the model on a made-up cluster:
unique names, no case that allows everything by accident (only the allow-all-* ones do), self
traffic always allowed, and every feature of the suite used at least once. `--list` prints the
cases. `scenario_sets()` holds the policy sets the life-cycle and relabel scenarios step through.
"""

import collections
import ipaddress
import sys

Case = collections.namedtuple("Case", "name description policies")

_MISSING = object()  # "leave the key out", as opposed to an empty list


# --- builders -------------------------------------------------------------------------------

def netpol(namespace, name, pod_selector=None, ingress=_MISSING, egress=_MISSING, types=None):
    spec = {"podSelector": pod_selector if pod_selector is not None else {}}
    if ingress is not _MISSING:
        spec["ingress"] = ingress
    if egress is not _MISSING:
        spec["egress"] = egress
    if types is not None:
        spec["policyTypes"] = types
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def labels(**pairs):
    return {"matchLabels": dict(pairs)}


def expressions(*items):
    """expressions(("pod", "In", ["a", "b"]), ("role", "Exists"))"""
    result = []
    for key, operator, *values in items:
        expression = {"key": key, "operator": operator}
        if values:
            expression["values"] = list(values[0])
        result.append(expression)
    return {"matchExpressions": result}


def pod_is(name):
    return labels(pod=name)


def ns_is(name):
    return labels(ns=name)


def ns_named(name):
    return labels(**{"kubernetes.io/metadata.name": name})


def peer(pods=None, namespaces=None):
    result = {}
    if pods is not None:
        result["podSelector"] = pods
    if namespaces is not None:
        result["namespaceSelector"] = namespaces
    return result


def ip_block(cidr, holes=()):
    block = {"cidr": cidr}
    if holes:
        block["except"] = list(holes)
    return {"ipBlock": block}


def port(number=None, protocol=None, end=None):
    result = {}
    if protocol is not None:
        result["protocol"] = protocol
    if number is not None:
        result["port"] = number
    if end is not None:
        result["endPort"] = end
    return result


def rule(peers_key, peers=_MISSING, ports=_MISSING):
    result = {}
    if peers is not _MISSING:
        result[peers_key] = peers
    if ports is not _MISSING:
        result["ports"] = ports
    return result


def from_(*peers, ports=_MISSING):
    return rule("from", list(peers) if peers else _MISSING, ports)


def to(*peers, ports=_MISSING):
    return rule("to", list(peers) if peers else _MISSING, ports)


def host(ip):
    return f"{ip}/32"


def covering(*ips):
    """The smallest prefix holding every address."""
    addresses = [int(ipaddress.ip_address(i)) for i in ips]
    length = 32
    while length > 0:
        network = ipaddress.ip_network((min(addresses), length), strict=False)
        if all(ipaddress.ip_address(a) in network for a in addresses):
            return str(network)
        length -= 1
    return "0.0.0.0/0"


# --- the cases ------------------------------------------------------------------------------

def cases(ip):
    all_pods = [f"{ns}/{p}" for ns in "xyz" for p in "abc"]
    cluster_cidr = covering(*(ip(k) for k in all_pods))
    c = []

    def case(name, description, *policies):
        c.append(Case(name, description, list(policies)))

    # Default deny and allow all.
    case("deny-ingress-x", "default-deny ingress in x (policyTypes: [Ingress], no rules)",
         netpol("x", "deny-ingress", {}, types=["Ingress"]))
    case("deny-ingress-types-omitted", "podSelector {} with nothing else: Ingress by default",
         netpol("y", "deny-ingress", {}))
    case("deny-ingress-empty-list", "ingress: [] on y/a denies all ingress to it",
         netpol("y", "deny-a", pod_is("a"), ingress=[], types=["Ingress"]))
    case("allow-all-ingress-over-deny", "default deny plus ingress: [{}] in x: union allows all",
         netpol("x", "deny-ingress", {}, types=["Ingress"]),
         netpol("x", "allow-all", {}, ingress=[{}]))
    case("deny-all-everywhere", "ingress and egress default deny in x, y and z",
         *[netpol(ns, "deny-all", {}, types=["Ingress", "Egress"]) for ns in "xyz"])
    case("allow-all-egress-over-deny", "egress default deny in z plus egress: [{}]",
         netpol("z", "deny-egress", {}, types=["Egress"]),
         netpol("z", "allow-egress", {}, egress=[{}], types=["Egress"]))

    # Ingress peers.
    case("allow-same-namespace", "x accepts only from pods of x (podSelector {} peer)",
         netpol("x", "same-ns", {}, ingress=[from_(peer(pods={}))]))
    case("ingress-pod-to-pod", "x/a accepts only from x/b",
         netpol("x", "a-from-b", pod_is("a"), ingress=[from_(peer(pods=pod_is("b")))]))
    case("ingress-namespace-by-label", "x/a accepts from every pod of namespace ns=y",
         netpol("x", "a-from-y", pod_is("a"), ingress=[from_(peer(namespaces=ns_is("y")))]))
    case("ingress-namespace-by-name", "x/b accepts from namespace named z "
         "(kubernetes.io/metadata.name)",
         netpol("x", "b-from-z", pod_is("b"), ingress=[from_(peer(namespaces=ns_named("z")))]))
    case("ingress-pod-and-namespace-and", "one peer with namespaceSelector ns=y AND "
         "podSelector pod=b: only y/b reaches x/a",
         netpol("x", "a-from-yb", pod_is("a"),
                ingress=[from_(peer(pods=pod_is("b"), namespaces=ns_is("y")))]))
    case("ingress-pod-or-namespace", "two peers, ns=y OR pod=b (in x): y/* and x/b reach x/a",
         netpol("x", "a-from-y-or-b", pod_is("a"),
                ingress=[from_(peer(namespaces=ns_is("y")), peer(pods=pod_is("b")))]))
    case("ingress-pod-in-any-namespace", "namespaceSelector {} AND pod=c: every c reaches y",
         netpol("y", "from-any-c", {}, ingress=[from_(peer(pods=pod_is("c"), namespaces={}))]))
    case("ingress-all-namespaces", "namespaceSelector {} alone: every pod reaches z/a; "
         "z/b is isolated with no rules",
         netpol("z", "a-from-all", pod_is("a"), ingress=[from_(peer(namespaces={}))]),
         netpol("z", "deny-b", pod_is("b"), types=["Ingress"]))

    # matchExpressions.
    case("expressions-in", "target pod In [a, b] of x, from namespaces In [x, y]",
         netpol("x", "ab-from-xy", expressions(("pod", "In", ["a", "b"])),
                ingress=[from_(peer(namespaces=expressions(("ns", "In", ["x", "y"]))))]))
    case("expressions-notin", "x/a accepts from namespaces NotIn [y] and pods NotIn [c]",
         netpol("x", "a-notin", pod_is("a"),
                ingress=[from_(peer(namespaces=expressions(("ns", "NotIn", ["y"])),
                                    pods=expressions(("pod", "NotIn", ["c"]))))]))
    case("expressions-exists-and-labels", "target: pod Exists AND matchLabels pod=c (y/c); "
         "from: ns Exists AND pod=a",
         netpol("y", "c-from-a", {"matchLabels": {"pod": "c"},
                                  "matchExpressions": [{"key": "pod", "operator": "Exists"}]},
                ingress=[from_(peer(namespaces=expressions(("ns", "Exists")), pods=pod_is("a")))]))
    case("expressions-doesnotexist", "target: role DoesNotExist AND pod NotIn [c] (x/a, x/b); "
         "from: pods of x without role; z/a: from namespaces without an ns label (none)",
         netpol("x", "no-role", expressions(("role", "DoesNotExist"), ("pod", "NotIn", ["c"])),
                ingress=[from_(peer(pods=expressions(("role", "DoesNotExist"))))]),
         netpol("z", "never", pod_is("a"),
                ingress=[from_(peer(namespaces=expressions(("ns", "DoesNotExist"))))]))

    # Ports and protocols.
    case("ports-tcp-80", "x accepts TCP 80 only (protocol left to its TCP default)",
         netpol("x", "tcp-80", {}, ingress=[from_(ports=[port(80)])]))
    case("ports-udp-any", "y/b accepts any UDP port and no TCP",
         netpol("y", "udp-only", pod_is("b"), ingress=[from_(ports=[port(protocol="UDP")])]))
    case("ports-udp-81-from-z", "x/c accepts UDP 81 from namespace z only",
         netpol("x", "udp-81", pod_is("c"),
                ingress=[from_(peer(namespaces=ns_is("z")), ports=[port(81, "UDP")])]))
    case("ports-end-port-range", "y accepts TCP 80-81 (endPort) and UDP 81-1000",
         netpol("y", "ranges", {}, ingress=[from_(ports=[port(80, "TCP", 81),
                                                         port(81, "UDP", 1000)])]))
    case("ports-end-port-excludes", "z/c accepts TCP 70-80: 81 is outside the range",
         netpol("z", "range-70-80", pod_is("c"), ingress=[from_(ports=[port(70, "TCP", 80)])]))
    case("ports-named-tcp", "x accepts the named port serve-81-tcp",
         netpol("x", "named-81", {}, ingress=[from_(ports=[port("serve-81-tcp")])]))
    case("ports-named-udp", "y/a accepts serve-80-udp (UDP) from x",
         netpol("y", "named-udp", pod_is("a"),
                ingress=[from_(peer(namespaces=ns_is("x")), ports=[port("serve-80-udp", "UDP")])]))
    case("ports-named-wrong-protocol", "z accepts serve-80-udp with protocol TCP: no such "
         "TCP port, so nothing",
         netpol("z", "named-mismatch", {}, ingress=[from_(ports=[port("serve-80-udp", "TCP")])]))
    case("ports-sctp-with-tcp", "x/a accepts SCTP 80 and TCP 81: TCP/UDP 80 stay denied",
         netpol("x", "sctp", pod_is("a"),
                ingress=[from_(ports=[port(80, "SCTP"), port(81, "TCP")])]))
    case("ports-sctp-only", "y/c accepts only SCTP: every TCP and UDP probe denied",
         netpol("y", "sctp-only", pod_is("c"), ingress=[from_(ports=[port(protocol="SCTP")])]))
    case("ports-mixed-rules", "x/b: rule 1 from pod=a (any port) OR rule 2 from z on TCP 81",
         netpol("x", "mixed", pod_is("b"),
                ingress=[from_(peer(pods=pod_is("a"), namespaces={})),
                         from_(peer(namespaces=ns_is("z")), ports=[port(81)])]))

    # Egress.
    case("egress-deny-all", "x egress default deny (policyTypes: [Egress], no rules)",
         netpol("x", "deny-egress", {}, types=["Egress"]))
    case("egress-deny-empty-list", "y/a egress: [] with policyTypes [Egress]",
         netpol("y", "deny-a-egress", pod_is("a"), egress=[], types=["Egress"]))
    case("egress-to-pod-and-port", "x/a may send to x/b on TCP 80 and to namespace z on "
         "any port",
         netpol("x", "a-egress", pod_is("a"), types=["Egress"],
                egress=[to(peer(pods=pod_is("b")), ports=[port(80, "TCP")]),
                        to(peer(namespaces=ns_is("z")))]))
    case("egress-types-omitted", "policyTypes omitted with egress rules: x/a is isolated "
         "for ingress too (no ingress rules) and sends only to y",
         netpol("x", "a-egress-y", pod_is("a"), egress=[to(peer(namespaces=ns_is("y")))]))
    case("egress-empty-list-types-omitted", "egress: [] and policyTypes omitted: only "
         "Ingress is isolated, egress stays open",
         netpol("z", "ingress-only", {}, egress=[]))
    case("egress-named-port-of-destination", "y/b sends only UDP serve-81-udp and TCP "
         "serve-80-tcp, resolved at each destination",
         netpol("y", "b-named", pod_is("b"), types=["Egress"],
                egress=[to(ports=[port("serve-81-udp", "UDP"), port("serve-80-tcp")])]))
    case("egress-and-ingress-both", "policyTypes [Ingress, Egress] on z/c: from y only, "
         "to x on TCP 80-81 only",
         netpol("z", "c-both", pod_is("c"), types=["Ingress", "Egress"],
                ingress=[from_(peer(namespaces=ns_is("y")))],
                egress=[to(peer(namespaces=ns_is("x")), ports=[port(80, "TCP", 81)])]))
    case("egress-deny-beats-ingress-allow", "x egress deny-all, y allows everything in: "
         "x -> y still denied",
         netpol("x", "deny-egress", {}, types=["Egress"]),
         netpol("y", "allow-all", {}, ingress=[{}]))

    # ipBlock, computed from the pods' addresses.
    case("ipblock-ingress-except", f"x/a accepts from {cluster_cidr} except y/b and z/c",
         netpol("x", "a-from-block", pod_is("a"),
                ingress=[from_(ip_block(cluster_cidr, [host(ip("y/b")), host(ip("z/c"))]))]))
    case("ipblock-egress-single-hosts", "y/c sends only to x/a's and z/b's /32",
         netpol("y", "c-to-hosts", pod_is("c"), types=["Egress"],
                egress=[to(ip_block(host(ip("x/a"))), ip_block(host(ip("z/b"))))]))
    case("ipblock-egress-covering-except", "z egress to the prefix covering x's pods, "
         "except x/b; plus pods of y by selector (OR)",
         netpol("z", "to-x-block", {}, types=["Egress"],
                egress=[to(ip_block(covering(ip("x/a"), ip("x/b"), ip("x/c")),
                                    [host(ip("x/b"))]),
                           peer(namespaces=ns_is("y")))]))
    case("ipblock-with-ports", f"x/c accepts UDP from {cluster_cidr} and TCP 81 from y/a only",
         netpol("x", "c-block-ports", pod_is("c"),
                ingress=[from_(ip_block(cluster_cidr), ports=[port(protocol="UDP")]),
                         from_(ip_block(host(ip("y/a"))), ports=[port(81)])]))

    # Several policies on one pod.
    case("union-of-policies", "x/a: one policy from y on TCP 80, another from z on UDP, a "
         "third selecting all of x from x",
         netpol("x", "a-from-y", pod_is("a"),
                ingress=[from_(peer(namespaces=ns_is("y")), ports=[port(80)])]),
         netpol("x", "a-from-z", pod_is("a"),
                ingress=[from_(peer(namespaces=ns_is("z")), ports=[port(protocol="UDP")])]),
         netpol("x", "all-from-x", {}, ingress=[from_(peer(pods={}))]))
    case("union-ingress-and-egress-policies", "y: ingress from x only; x/b: egress only to "
         "y/a; both must allow",
         netpol("y", "from-x", {}, ingress=[from_(peer(namespaces=ns_is("x")))]),
         netpol("x", "b-to-ya", pod_is("b"), types=["Egress"],
                egress=[to(peer(pods=pod_is("a"), namespaces=ns_is("y")))]))
    return c


# --- policy sets of the lifecycle scenarios (not matrix cases) -------------------------------

def scenario_sets():
    """Named policy sets the scenario tests step through; `web` keeps its name across the
    lifecycle steps, so each step is an update of the same object."""
    web_v1 = netpol("x", "web", pod_is("a"),
                    ingress=[from_(peer(pods=pod_is("b")), ports=[port(80)])])
    web_v2 = netpol("x", "web", pod_is("a"),
                    ingress=[from_(peer(namespaces=ns_is("y")),
                                   ports=[port(81, "UDP"), port(81, "TCP")])])
    web_v3 = netpol("x", "web", pod_is("c"), types=["Ingress", "Egress"],
                    ingress=[from_(peer(namespaces=ns_is("y")))],
                    egress=[to(peer(namespaces=ns_is("z")))])
    extra = netpol("x", "extra", pod_is("b"), types=["Ingress"])
    return {
        "lifecycle-add": [web_v1],
        "lifecycle-update-peers-and-ports": [web_v2],
        "lifecycle-update-selector-and-types": [web_v3],
        "lifecycle-add-second": [web_v3, extra],
        "lifecycle-delete-first": [extra],
        # Relabelling pods: x/a takes only pod=b of x; pods labelled pod=c in y may send
        # nowhere.
        "relabel-pods": [
            netpol("x", "a-from-b", pod_is("a"), ingress=[from_(peer(pods=pod_is("b")))]),
            netpol("y", "c-no-egress", pod_is("c"), types=["Egress"])],
        # Relabelling namespaces: x/a takes from namespaces ns In [y]; y/b sends only to
        # namespaces labelled team=blue.
        "relabel-namespaces": [
            netpol("x", "a-from-ns-y", pod_is("a"),
                   ingress=[from_(peer(namespaces=expressions(("ns", "In", ["y"]))))]),
            netpol("y", "b-to-blue", pod_is("b"), types=["Egress"],
                   egress=[to(peer(namespaces=labels(team="blue")))])],
    }


# --- self-test ------------------------------------------------------------------------------

FEATURES = {
    "podSelector matchLabels": lambda t: '"matchLabels": {"pod"' in t,
    "matchExpressions In": lambda t: '"operator": "In"' in t,
    "matchExpressions NotIn": lambda t: '"NotIn"' in t,
    "matchExpressions Exists": lambda t: '"Exists"' in t,
    "matchExpressions DoesNotExist": lambda t: '"DoesNotExist"' in t,
    "podSelector {}": lambda t: '"podSelector": {}' in t,
    "policyTypes Ingress": lambda t: '"policyTypes": ["Ingress"]' in t,
    "policyTypes Egress": lambda t: '"policyTypes": ["Egress"]' in t,
    "policyTypes both": lambda t: '"policyTypes": ["Ingress", "Egress"]' in t,
    "namespaceSelector": lambda t: '"namespaceSelector"' in t,
    "namespace by name": lambda t: "kubernetes.io/metadata.name" in t,
    "ipBlock except": lambda t: '"except"' in t,
    "UDP": lambda t: '"protocol": "UDP"' in t,
    "SCTP": lambda t: '"protocol": "SCTP"' in t,
    "named port": lambda t: '"port": "serve-' in t,
    "endPort": lambda t: '"endPort"' in t,
    "ingress: []": lambda t: '"ingress": []' in t,
    "egress: []": lambda t: '"egress": []' in t,
    "ingress: [{}]": lambda t: '"ingress": [{}]' in t,
    "egress: [{}]": lambda t: '"egress": [{}]' in t,
}


def selftest():
    import json
    import model

    namespace_labels, pods = model._layout()
    addresses = {p.key: p.ip for p in pods}
    all_cases = cases(addresses.__getitem__)
    assert len(all_cases) >= 32, f"only {len(all_cases)} cases"
    names = [c.name for c in all_cases]
    assert len(set(names)) == len(names), "duplicate case names"
    text = json.dumps([c.policies for c in all_cases])
    missing = [f for f, present in FEATURES.items() if not present(text)]
    assert not missing, f"features no case uses: {missing}"
    peers_used = {"and": False, "or": False}
    for c in all_cases:
        keys = set()
        for policy in c.policies:
            assert policy["metadata"]["name"] and policy["metadata"]["namespace"] in "xyz"
            keys.add((policy["metadata"]["namespace"], policy["metadata"]["name"]))
            for r in policy["spec"].get("ingress", []) + policy["spec"].get("egress", []):
                for p in r.get("from", []) + r.get("to", []):
                    peers_used["and"] |= "podSelector" in p and "namespaceSelector" in p
                if len(r.get("from", []) + r.get("to", [])) > 1:
                    peers_used["or"] = True
        assert len(keys) == len(c.policies), f"{c.name}: duplicate policy names"
        matrix = model.expected_matrix(namespace_labels, pods, c.policies)
        allowed = sum(sum(v.values()) for v in matrix.values())
        total = sum(len(v) for v in matrix.values())
        trivial = c.name.startswith("allow-all")
        assert trivial == (allowed == total), f"{c.name}: {allowed}/{total} allowed"
        assert allowed >= 9 * 4, f"{c.name}: self traffic must stay allowed"
        print(f"  {c.name:36} {allowed:3}/{total} allowed")
    assert all(peers_used.values()), peers_used
    for name, objects in scenario_sets().items():
        assert objects, name
        model.expected_matrix(namespace_labels, pods, objects)  # the model can read them
    print(f"policies self-test: {len(all_cases)} cases, {len(FEATURES)} features covered")


if __name__ == "__main__":
    if sys.argv[1:] == ["--selftest"]:
        selftest()
    elif sys.argv[1:] == ["--list"]:
        import model
        _, pods = model._layout()
        for c in cases({p.key: p.ip for p in pods}.__getitem__):
            print(f"{c.name:36} {c.description}")
    else:
        sys.exit("usage: policies.py --selftest | --list")
