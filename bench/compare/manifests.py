#!/usr/bin/env python3
"""The objects a weir node of bench/compare.sh runs with (one List for --standalone).

  manifests.py NODE_NAME CLIENT_IP SERVER_IP VIP PORTS SERVICES POLICY > objects.json

Namespace "bench"; Pods "client" (role=client) and "server" (role=server) on NODE_NAME with
the addresses weir-cni gave them; SERVICES Services (SERVICES-1 others, then the measured one
at VIP with PORTS, NAME:PORT:TARGET,..., pointing at the server; bench/services/gen.py makes
them, as for bench/services_scale.sh); and the policy:

  l4   NetworkPolicy: the server admits the client on the target ports only, and the client
       may only reach the server (both pods isolated, every connection judged).
  l7   the same client egress; the server's ingress is a WeirNetworkPolicy (weir.dev/v1alpha1)
       admitting the client on the HTTP target port for GET /hello only.
"""

import json
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "services"))
import gen  # noqa: E402  (bench/services/gen.py)

NAMESPACE = gen.NAMESPACE


def pod(name, node_name, ip):
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"namespace": NAMESPACE, "name": name, "labels": {"role": name},
                         "uid": f"bench-{node_name}-{name}"},
            "spec": {"nodeName": node_name, "containers": [{"name": name, "image": "bench"}]},
            "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}]}}


def selector(role):
    return {"podSelector": {"matchLabels": {"role": role}}}


def policies(kind, ports):
    target_ports = [target for _, _, target in ports]
    client_egress = {
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"namespace": NAMESPACE, "name": "client-egress"},
        "spec": {"podSelector": {"matchLabels": {"role": "client"}}, "policyTypes": ["Egress"],
                 "egress": [{"to": [selector("server")]}]}}
    if kind == "l4":
        server_ingress = {
            "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"namespace": NAMESPACE, "name": "server-ingress"},
            "spec": {"podSelector": {"matchLabels": {"role": "server"}},
                     "policyTypes": ["Ingress"],
                     "ingress": [{"from": [selector("client")],
                                  "ports": [{"protocol": "TCP", "port": port}
                                            for port in target_ports]}]}}
    else:
        http_target = [target for name, _, target in ports if name == "http"][0]
        server_ingress = {
            "apiVersion": "weir.dev/v1alpha1", "kind": "WeirNetworkPolicy",
            "metadata": {"namespace": NAMESPACE, "name": "server-http"},
            "spec": {"podSelector": {"matchLabels": {"role": "server"}},
                     "policyTypes": ["Ingress"],
                     "ingress": [{"from": [selector("client")],
                                  "ports": [{"protocol": "TCP", "port": http_target,
                                             "http": [{"method": "GET", "path": "/hello"}]}]}]}}
    return [client_egress, server_ingress]


def main(argv):
    if len(argv) != 8 or argv[7] not in ("l4", "l7"):
        sys.exit(__doc__)
    node_name, client_ip, server_ip, vip, ports_text, services, kind = argv[1:]
    ports = gen.parse_ports(ports_text)
    items = [{"apiVersion": "v1", "kind": "Namespace",
              "metadata": {"name": NAMESPACE, "labels": {"kubernetes.io/metadata.name": NAMESPACE}}},
             pod("client", node_name, client_ip), pod("server", node_name, server_ip)]
    items += gen.service_list(int(services), vip, server_ip, ports)
    items += policies(kind, ports)
    json.dump({"apiVersion": "v1", "kind": "List", "items": items}, sys.stdout,
              separators=(",", ":"))
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(sys.argv)
