"""A deterministic synthetic cluster for bench/agent_scale.sh (standard library only).

    cluster = Cluster(pods=5000, namespaces=500, policies=1000, services=2000, nodes=100,
                      local_node="bench-node", local_pods=50, local_cidr="10.60.0.0/24")
    cluster.local_pod_names()         -> [(namespace, name)] of the pods on local_node
    cluster.objects(local_ips)        -> [(plural, namespace or None, object)], creation order

Pods are spread over the nodes (local_pods of them on local_node, the first node) and round-robin
over the namespaces; within a namespace they form deployments of REPLICAS pods sharing labels
from a small vocabulary (app, tier, version, pod-template-hash), so that selectors match some of
them and the pods of a deployment share an identity.
Namespaces carry team and env labels for namespaceSelectors. Policies mix podSelector,
namespaceSelector, ipBlock (with except), named and numbered ports and port ranges, ingress and
egress, and default-deny. Each Service selects an app of its namespace and has one
EndpointSlice listing the ready pods it selects. Remote pods get addresses inside their node's
spec.podCIDR; local pods get the addresses the CNI gave them (local_ips).
"""

import math

APPS = 4  # per namespace: app-0..3, each a deployment of REPLICAS pods
REPLICAS = 3
TIERS = ("frontend", "backend", "db")
ENVS = ("prod", "staging", "dev")
TEAMS = 20


def node_cidr(index):  # remote nodes: 10.64.0.0/24, 10.64.1.0/24, ... (never routed anywhere)
    return f"10.{64 + index // 250}.{index % 250}.0/24"


class Cluster:
    def __init__(self, pods, namespaces, policies, services, nodes, local_node, local_pods,
                 local_cidr):
        if nodes < 1 or namespaces < 1:
            raise ValueError("at least one node and one namespace")
        self.n_pods, self.n_namespaces = pods, namespaces
        self.n_policies, self.n_services = policies, services
        self.local_node, self.local_cidr = local_node, local_cidr
        self.nodes = [local_node] + [f"node-{i:04d}" for i in range(1, nodes)]
        # Pod j: namespace j % namespaces, node chosen so that exactly local_pods land locally
        # (spread over the pod indexes), the rest round-robin over the remote nodes.
        step = max(1, pods // local_pods) if local_pods else 0
        while step and math.gcd(step, namespaces) != 1 and (step + 1) * (local_pods - 1) < pods:
            step += 1  # local pods in as many namespaces as possible
        self.pod_nodes = []
        remote = 0
        for j in range(pods):
            if local_pods and j % step == 0 and j // step < local_pods:
                self.pod_nodes.append(0)
            else:
                self.pod_nodes.append(1 + remote % (nodes - 1) if nodes > 1 else 0)
                remote += 1

    # -- names and labels --

    def namespace(self, i):
        return f"ns-{i:04d}"

    def pod_namespace(self, j):
        return self.namespace(j % self.n_namespaces)

    def pod_name(self, j):
        return f"pod-{j:05d}"

    def pod_labels(self, j):
        k = j // self.n_namespaces  # index within its namespace
        d = k // REPLICAS  # its deployment: replicas share their labels (and identity)
        return {"app": f"app-{d % APPS}", "tier": TIERS[d % 3], "version": f"v{1 + d % 2}",
                "pod-template-hash": f"{(d * 7919) % 100000:05d}"}

    def local_pod_names(self):
        return [(self.pod_namespace(j), self.pod_name(j))
                for j in range(self.n_pods) if self.pod_nodes[j] == 0]

    # -- objects --

    def objects(self, local_ips):
        """local_ips: {(namespace, name): ip} for the local pods (wired ones)."""
        out = []
        node_addresses = {}
        for index, name in enumerate(self.nodes):
            address = f"172.31.{index // 250}.{1 + index % 250}"
            node_addresses[name] = address
            out.append(("nodes", None, {
                "apiVersion": "v1", "kind": "Node",
                "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
                "spec": {"podCIDR": self.local_cidr if index == 0 else node_cidr(index)},
                "status": {"addresses": [{"type": "InternalIP", "address": address},
                                         {"type": "Hostname", "address": name}]}}))
        for i in range(self.n_namespaces):
            out.append(("namespaces", None, {
                "apiVersion": "v1", "kind": "Namespace",
                "metadata": {"name": self.namespace(i),
                             "labels": {"team": f"team-{i % TEAMS}", "env": ENVS[i % 3]}}}))
        per_node = [0] * len(self.nodes)
        pods_by_namespace = {}
        for j in range(self.n_pods):
            ns, name, node = self.pod_namespace(j), self.pod_name(j), self.pod_nodes[j]
            if node == 0:
                ip = local_ips.get((ns, name))
            else:
                per_node[node] += 1
                host = per_node[node]
                if host > 250:
                    raise ValueError("more than 250 pods on a remote node")
                base = node_cidr(node).split("/")[0].rsplit(".", 1)[0]
                ip = f"{base}.{host + 1}"
            labels = self.pod_labels(j)
            status = {"phase": "Running"}
            if ip:
                status.update(podIP=ip, podIPs=[{"ip": ip}], hostIP=node_addresses[
                    self.nodes[node]])
            out.append(("pods", ns, {
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"namespace": ns, "name": name, "labels": labels},
                "spec": {"nodeName": self.nodes[node], "containers": [{
                    "name": "main", "image": "registry.example/app:1",
                    "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"},
                              {"name": "metrics", "containerPort": 9090, "protocol": "TCP"},
                              {"name": "dns", "containerPort": 53, "protocol": "UDP"}]}]},
                "status": status}))
            if ip:
                pods_by_namespace.setdefault(ns, []).append((name, ip, labels,
                                                             self.nodes[node]))
        for p in range(self.n_policies):
            ns_index = p % self.n_namespaces
            ns = self.namespace(ns_index)
            out.append(("networkpolicies", ns, {
                "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                "metadata": {"namespace": ns, "name": f"policy-{p:05d}"},
                "spec": self.policy_spec(p)}))
        for s in range(self.n_services):
            ns = self.namespace(s % self.n_namespaces)
            app = f"app-{(s // self.n_namespaces) % APPS}"
            name = f"svc-{s:05d}"
            ports = [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]
            if s % 4 == 0:
                ports.append({"name": "metrics", "port": 9090, "targetPort": 9090,
                              "protocol": "TCP"})
            out.append(("services", ns, {
                "apiVersion": "v1", "kind": "Service",
                "metadata": {"namespace": ns, "name": name, "labels": {"app": app}},
                "spec": {"selector": {"app": app}, "ports": ports, "type": "ClusterIP"}}))
            endpoints = [{"addresses": [ip], "conditions": {"ready": True, "serving": True,
                                                             "terminating": False},
                          "nodeName": node,
                          "targetRef": {"kind": "Pod", "namespace": ns, "name": pod}}
                         for pod, ip, labels, node in pods_by_namespace.get(ns, [])
                         if labels["app"] == app]
            slice_ports = [{"name": "http", "port": 8080, "protocol": "TCP"}]
            if s % 4 == 0:
                slice_ports.append({"name": "metrics", "port": 9090, "protocol": "TCP"})
            out.append(("endpointslices", ns, {
                "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                "metadata": {"namespace": ns, "name": f"{name}-abcde",
                             "labels": {"kubernetes.io/service-name": name,
                                        "endpointslice.kubernetes.io/managed-by":
                                            "endpointslice-controller.k8s.io"},
                             "ownerReferences": [{"apiVersion": "v1", "kind": "Service",
                                                  "name": name, "uid": f"svc-{s}"}]},
                "addressType": "IPv4", "endpoints": endpoints, "ports": slice_ports}))
        return out

    def policy_spec(self, p):
        kind = (p + 3 * (p // self.n_namespaces)) % 10  # a mix within each namespace
        app = f"app-{p % APPS}"
        peer_app = f"app-{(p + 1) % APPS}"
        if kind in (0, 1, 2):  # app -> app in the namespace, numbered port
            return {"podSelector": {"matchLabels": {"app": app}}, "policyTypes": ["Ingress"],
                    "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": peer_app}}}],
                                 "ports": [{"protocol": "TCP", "port": 8080}]}]}
        if kind == 3:  # db tier from backends of the team's namespaces, named port
            return {"podSelector": {"matchLabels": {"tier": "db"}}, "policyTypes": ["Ingress"],
                    "ingress": [{"from": [{
                        "namespaceSelector": {"matchLabels": {"team": f"team-{p % TEAMS}"}},
                        "podSelector": {"matchLabels": {"tier": "backend"}}}],
                        "ports": [{"protocol": "TCP", "port": "http"}]}]}
        if kind == 4:  # egress to CIDRs with excepts, and DNS anywhere in the cluster
            block = f"192.168.{p % 200}.0/24"
            return {"podSelector": {"matchLabels": {"tier": "frontend"}},
                    "policyTypes": ["Egress"],
                    "egress": [{"to": [{"ipBlock": {"cidr": block,
                                                    "except": [block.replace(".0/24",
                                                                             ".128/25")]}}],
                                "ports": [{"protocol": "TCP", "port": 443}]},
                               {"to": [{"namespaceSelector": {}}],
                                "ports": [{"protocol": "UDP", "port": 53}]}]}
        if kind == 5:  # default deny ingress of the namespace
            return {"podSelector": {}, "policyTypes": ["Ingress"]}
        if kind == 6:  # from prod namespaces, a port range
            return {"podSelector": {"matchExpressions": [
                        {"key": "tier", "operator": "In", "values": ["backend", "frontend"]}]},
                    "policyTypes": ["Ingress"],
                    "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"env": "prod"}}}],
                                 "ports": [{"protocol": "TCP", "port": 8000, "endPort": 8100}]}]}
        if kind == 7:  # external clients by CIDR
            return {"podSelector": {"matchLabels": {"tier": "frontend", "version": "v1"}},
                    "policyTypes": ["Ingress"],
                    "ingress": [{"from": [{"ipBlock": {"cidr": "0.0.0.0/0",
                                                       "except": ["10.0.0.0/8"]}}],
                                 "ports": [{"protocol": "TCP", "port": 80},
                                           {"protocol": "TCP", "port": 443}]}]}
        if kind == 8:  # metrics scraped from the monitoring team, any version
            return {"podSelector": {"matchExpressions": [
                        {"key": "version", "operator": "Exists"}]},
                    "policyTypes": ["Ingress"],
                    "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {
                        "team": "team-0"}}}], "ports": [{"protocol": "TCP",
                                                          "port": "metrics"}]}]}
        # 9: egress to same-namespace apps and to a remote node CIDR
        return {"podSelector": {"matchLabels": {"app": app}}, "policyTypes": ["Egress"],
                "egress": [{"to": [{"podSelector": {"matchLabels": {"app": peer_app}}}]},
                           {"to": [{"ipBlock": {"cidr": f"10.{64 + p % 2}.0.0/16"}}],
                            "ports": [{"protocol": "TCP", "port": 8080}]}]}
