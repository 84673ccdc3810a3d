#!/usr/bin/env python3
"""The N Services of the services-scale benchmark, in the two forms it loads them.

  gen.py weir     N MEASURED_VIP SERVER_IP [PORTS]              > services.json   (a List for --standalone)
  gen.py iptables N MEASURED_VIP SERVER_IP CLUSTER_CIDR [PORTS] > rules        (for iptables-restore)

PORTS, optional, replaces the measured Service's ports: NAME:PORT:TARGET[,NAME:PORT:TARGET...]
(the last one is the last rule walked); bench/compare.sh uses it.

Both describe the same Services: N-1 "other" Services (one TCP port 80 each, a ClusterIP in
10.96.0.0/16, one EndpointSlice with one ready endpoint at an address nobody uses), then the
measured Service, created last, with a ClusterIP outside the others' range and two ports whose
only endpoint is the real server pod:

  port 81 "rr"      -> SERVER_IP:7101   (tcp_rr server)
  port 80 "connect" -> SERVER_IP:7100   (svc_connect server; the last Service rule walked)

The iptables form follows kube-proxy's iptables mode (pkg/proxy/iptables/proxier.go): nat
chains KUBE-SERVICES (jumped to from PREROUTING and OUTPUT, one rule per Service port matching
VIP/32, protocol and port, in creation order, then the KUBE-NODEPORTS rule last),
KUBE-SVC-<hash> per Service port (the masquerade rule for traffic from outside the cluster
CIDR, then a jump to each endpoint's chain), KUBE-SEP-<hash> per endpoint (hairpin masquerade
mark, DNAT), KUBE-MARK-MASQ and KUBE-POSTROUTING; chain hashes as kube-proxy computes them
(base32 of SHA-256, 16 characters). The filter table gets kube-proxy's chains too (all Services
have endpoints, so its KUBE-SERVICES stays empty). The whole ruleset is written at once, as a
full kube-proxy sync does.
"""

import base64
import hashlib
import ipaddress
import json
import sys

NAMESPACE = "bench"
MEASURED = "measured"
MEASURED_PORTS = [("rr", 81, 7101), ("connect", 80, 7100)]  # connect: the very last rule
OTHER_PORT, OTHER_TARGET = 80, 8080
VIP_BASE = int(ipaddress.IPv4Address("10.96.0.16"))      # others: 10.96.0.16 and up
BACKEND_BASE = int(ipaddress.IPv4Address("10.200.0.1"))  # others' endpoints: never contacted


def others(count):
    """(name, vip, backend) of the N-1 other Services."""
    for i in range(count):
        yield (f"svc-{i:05d}", str(ipaddress.IPv4Address(VIP_BASE + i)),
               str(ipaddress.IPv4Address(BACKEND_BASE + i)))


def service(name, vip, ports):
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"namespace": NAMESPACE, "name": name},
            "spec": {"type": "ClusterIP", "clusterIP": vip, "clusterIPs": [vip],
                     "ports": [{"name": port_name, "port": port, "targetPort": target,
                                "protocol": "TCP"} for port_name, port, target in ports]}}


def endpoint_slice(name, address, ports):
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
            "metadata": {"namespace": NAMESPACE, "name": f"{name}-abcde",
                         "labels": {"kubernetes.io/service-name": name}},
            "ports": [{"name": port_name, "port": target, "protocol": "TCP"}
                      for port_name, _, target in ports],
            "endpoints": [{"addresses": [address], "conditions": {"ready": True}}]}


def parse_ports(text):
    """NAME:PORT:TARGET,... -> [(name, port, target)]; None -> the default MEASURED_PORTS."""
    if not text:
        return MEASURED_PORTS
    ports = []
    for part in text.split(","):
        name, port, target = part.split(":")
        ports.append((name, int(port), int(target)))
    return ports


def service_list(count, measured_vip, server_ip, ports=MEASURED_PORTS):
    """The N Services (N-1 others, then the measured one) and their EndpointSlices."""
    items = []
    for name, vip, backend in others(count - 1):
        other_ports = [("http", OTHER_PORT, OTHER_TARGET)]
        items += [service(name, vip, other_ports), endpoint_slice(name, backend, other_ports)]
    items += [service(MEASURED, measured_vip, ports), endpoint_slice(MEASURED, server_ip, ports)]
    return items


def weir(count, measured_vip, server_ip, ports=MEASURED_PORTS):
    items = service_list(count, measured_vip, server_ip, ports)
    json.dump({"apiVersion": "v1", "kind": "List", "items": items}, sys.stdout,
              separators=(",", ":"))
    sys.stdout.write("\n")


def chain(prefix, *parts):
    digest = hashlib.sha256("".join(parts).encode()).digest()
    return prefix + base64.b32encode(digest).decode()[:16]


def iptables(count, measured_vip, server_ip, cluster_cidr, ports=MEASURED_PORTS):
    service_ports = []  # (port name, vip, port, endpoint ip, target), in creation order
    for name, vip, backend in others(count - 1):
        service_ports.append((f"{NAMESPACE}/{name}:http", vip, OTHER_PORT, backend, OTHER_TARGET))
    for port_name, port, target in ports:
        service_ports.append((f"{NAMESPACE}/{MEASURED}:{port_name}", measured_vip, port,
                              server_ip, target))

    chains = [":KUBE-SERVICES - [0:0]", ":KUBE-NODEPORTS - [0:0]", ":KUBE-POSTROUTING - [0:0]",
              ":KUBE-MARK-MASQ - [0:0]"]
    rules = [
        '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
        '-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
        '-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING',
        "-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000",
        "-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN",
        "-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000",
        '-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" '
        "-j MASQUERADE --random-fully",
    ]
    service_rules, per_service = [], []
    for port_name, vip, port, endpoint, target in service_ports:
        svc = chain("KUBE-SVC-", port_name, "tcp")
        sep = chain("KUBE-SEP-", port_name, "tcp", f"{endpoint}:{target}")
        chains += [f":{svc} - [0:0]", f":{sep} - [0:0]"]
        service_rules.append(
            f'-A KUBE-SERVICES -d {vip}/32 -p tcp -m comment --comment "{port_name} cluster IP" '
            f"-m tcp --dport {port} -j {svc}")
        per_service += [
            f'-A {svc} ! -s {cluster_cidr} -d {vip}/32 -p tcp -m comment --comment '
            f'"{port_name} cluster IP" -m tcp --dport {port} -j KUBE-MARK-MASQ',
            f'-A {svc} -m comment --comment "{port_name} -> {endpoint}:{target}" -j {sep}',
            f'-A {sep} -s {endpoint}/32 -m comment --comment "{port_name}" -j KUBE-MARK-MASQ',
            f'-A {sep} -p tcp -m comment --comment "{port_name}" -m tcp '
            f"-j DNAT --to-destination {endpoint}:{target}",
        ]
    service_rules.append(
        '-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be '
        'the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS')

    out = sys.stdout
    out.write("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n")
    for name in ("KUBE-SERVICES", "KUBE-EXTERNAL-SERVICES", "KUBE-FORWARD", "KUBE-NODEPORTS",
                 "KUBE-PROXY-FIREWALL", "KUBE-FIREWALL"):
        out.write(f":{name} - [0:0]\n")
    out.write(
        "-A INPUT -m conntrack --ctstate NEW -m comment --comment \"kubernetes load balancer "
        "firewall\" -j KUBE-PROXY-FIREWALL\n"
        "-A INPUT -m comment --comment \"kubernetes health check service ports\" "
        "-j KUBE-NODEPORTS\n"
        "-A INPUT -m conntrack --ctstate NEW -m comment --comment \"kubernetes externally-visible "
        "service portals\" -j KUBE-EXTERNAL-SERVICES\n"
        "-A INPUT -j KUBE-FIREWALL\n"
        "-A FORWARD -m conntrack --ctstate NEW -m comment --comment \"kubernetes load balancer "
        "firewall\" -j KUBE-PROXY-FIREWALL\n"
        "-A FORWARD -m comment --comment \"kubernetes forwarding rules\" -j KUBE-FORWARD\n"
        "-A FORWARD -m conntrack --ctstate NEW -m comment --comment \"kubernetes service "
        "portals\" -j KUBE-SERVICES\n"
        "-A FORWARD -m conntrack --ctstate NEW -m comment --comment \"kubernetes externally-"
        "visible service portals\" -j KUBE-EXTERNAL-SERVICES\n"
        "-A OUTPUT -m conntrack --ctstate NEW -m comment --comment \"kubernetes load balancer "
        "firewall\" -j KUBE-PROXY-FIREWALL\n"
        "-A OUTPUT -m conntrack --ctstate NEW -m comment --comment \"kubernetes service portals\" "
        "-j KUBE-SERVICES\n"
        "-A OUTPUT -j KUBE-FIREWALL\n"
        "-A KUBE-FIREWALL ! -s 127.0.0.0/8 -d 127.0.0.0/8 -m comment --comment \"block incoming "
        "localnet connections\" -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP\n"
        "-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP\n"
        "-A KUBE-FORWARD -m comment --comment \"kubernetes forwarding rules\" -m mark --mark "
        "0x4000/0x4000 -j ACCEPT\n"
        "-A KUBE-FORWARD -m comment --comment \"kubernetes forwarding conntrack rule\" "
        "-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n"
        "COMMIT\n")
    out.write("*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
              ":POSTROUTING ACCEPT [0:0]\n")
    out.write("\n".join(chains + rules + service_rules + per_service))
    out.write("\nCOMMIT\n")


def main(argv):
    if len(argv) in (5, 6) and argv[1] == "weir":
        weir(int(argv[2]), argv[3], argv[4], parse_ports(argv[5] if len(argv) == 6 else None))
    elif len(argv) in (6, 7) and argv[1] == "iptables":
        iptables(int(argv[2]), argv[3], argv[4], argv[5],
                 parse_ports(argv[6] if len(argv) == 7 else None))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
