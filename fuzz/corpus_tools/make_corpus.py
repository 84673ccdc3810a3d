#!/usr/bin/env python3
"""Writes the seed corpora under fuzz/corpus/<target>/ (run from anywhere; overwrites only the
files it names). Kubernetes objects have the shape `kubectl create ... --dry-run=client -o json`
gives (Namespace, Service and Deployment pod templates were taken from kubectl 1.32; Pods,
NetworkPolicies, EndpointSlices and Nodes follow the API as a server returns them). Frames for
the datapath target are built here with their checksums."""
import json
import os
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "corpus")


def write(target, name, content):
    folder = os.path.join(ROOT, target)
    os.makedirs(folder, exist_ok=True)
    if isinstance(content, (dict, list)):
        content = json.dumps(content, indent=2) + "\n"
    if isinstance(content, str):
        content = content.encode()
    with open(os.path.join(folder, name), "wb") as f:
        f.write(content)


# ---- CNI ---------------------------------------------------------------------------------------

PREV_RESULT = {
    "cniVersion": "1.1.0",
    "interfaces": [
        {"name": "weir1a2b3c4d", "mac": "02:ee:0a:f4:00:05"},
        {"name": "eth0", "mac": "02:aa:0a:f4:00:05", "sandbox": "/var/run/netns/cni-5f8e2a1b"},
    ],
    "ips": [{"address": "10.244.0.5/32", "gateway": "169.254.1.1", "interface": 1}],
    "routes": [{"dst": "0.0.0.0/0", "gw": "169.254.1.1"}],
    "dns": {},
}


def cni_config():
    t = "cni_config"
    write(t, "minimal.json", {"cniVersion": "1.0.0", "name": "weir", "type": "weir-cni"})
    # What the agent writes (agent/node_state.c cni_conflist_write), as the runtime passes one
    # plugin of the conflist: name and cniVersion copied in.
    write(t, "agent_written.json", {"cniVersion": "1.1.0", "name": "weir", "type": "weir-cni",
                                     "subnet": "10.244.0.0/24", "bpffs": "/sys/fs/bpf/weir",
                                     "stateDir": "/var/lib/weir", "mtu": 1500})
    write(t, "all_fields.json", {"cniVersion": "1.1.0", "name": "kind-net", "type": "weir-cni",
                                 "subnet": "10.244.3.0/24", "bpffs": "/run/weir/bpf",
                                 "stateDir": "/run/weir/state", "mtu": 9000,
                                 "logFile": "/var/log/weir-cni.log", "logLevel": "debug",
                                 "runtimeConfig": {"portMappings": []},
                                 "capabilities": {"portMappings": True}})
    write(t, "v040.json", {"cniVersion": "0.4.0", "name": "weir", "type": "weir-cni",
                           "subnet": "10.88.0.0/16", "logLevel": "warn"})
    write(t, "check_prev_result.json", {"cniVersion": "1.1.0", "name": "weir",
                                        "type": "weir-cni", "subnet": "10.244.0.0/24",
                                        "prevResult": PREV_RESULT})
    write(t, "gc_valid_attachments.json", {
        "cniVersion": "1.1.0", "name": "weir", "type": "weir-cni",
        "cni.dev/valid-attachments": [{"containerID": "0123456789abcdef", "ifname": "eth0"},
                                      {"containerID": "fedcba9876543210", "ifname": "eth0"}]})
    write(t, "bad_mtu.json", {"cniVersion": "1.0.0", "name": "weir", "type": "weir-cni",
                              "mtu": 70000})
    write(t, "bad_subnet.json", {"cniVersion": "1.0.0", "name": "weir", "type": "weir-cni",
                                 "subnet": "10.244.0.1/24"})
    write(t, "unsupported_version.json", {"cniVersion": "0.3.1", "name": "weir",
                                          "type": "weir-cni"})
    write(t, "relative_state_dir.json", {"cniVersion": "1.0.0", "name": "weir",
                                         "type": "weir-cni", "stateDir": "var/lib/weir"})
    write(t, "truncated.json", '{"cniVersion": "1.0.0", "name": "weir", "type": "weir-cn')


def cni_args():
    t = "cni_args"
    # containerd's CNI_ARGS for a pod sandbox, then the other variables line by line.
    write(t, "containerd.txt", "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-7d4b9c;"
          "K8S_POD_INFRA_CONTAINER_ID=4f2a9c1e8b7d6a5f;K8S_POD_UID=0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0")
    write(t, "cri_o.txt", "IgnoreUnknown=true;K8S_POD_NAMESPACE=kube-system;"
          "K8S_POD_NAME=coredns-5d78c9869d-abcde;K8S_POD_INFRA_CONTAINER_ID=9e8d7c6b5a49")
    write(t, "full_environment.txt", "K8S_POD_NAMESPACE=prod;K8S_POD_NAME=api-0\n"
          "3f9a2b7c1d0e4f5a\neth0\n/var/run/netns/cni-3f9a2b7c\n/opt/cni/bin\nADD\n")
    write(t, "del_without_netns.txt", "K8S_POD_NAMESPACE=prod;K8S_POD_NAME=api-0\n"
          "3f9a2b7c1d0e4f5a\neth0\n\n/opt/cni/bin\nDEL\n")
    write(t, "no_pod_identity.txt", "\nnerdctl-5c1e\neth1\n/proc/4242/ns/net\n/opt/cni/bin\nCHECK\n")
    write(t, "bad_ifname.txt", "K8S_POD_NAMESPACE=a;K8S_POD_NAME=b\nabc\neth0/../x\n"
          "/var/run/netns/x\n/opt/cni/bin\nADD\n")
    write(t, "bad_container_id.txt", "K8S_POD_NAMESPACE=a\n-rm -rf\neth0\n/run/netns/x\n/bin\nGC\n")
    write(t, "prefix_keys.txt", "K8S_POD_NAME=x;K8S_POD_NAMESPACE=;K8S_POD_NAMESPACEX=y;"
          "K8S_POD_NAME;=;;K8S_POD_NAME=last")
    write(t, "version.txt", "\n\n\n\n\nVERSION\n")


def prev_result():
    t = "prev_result"
    write(t, "v110.json", PREV_RESULT)
    v040 = dict(PREV_RESULT, cniVersion="0.4.0")
    v040["ips"] = [dict(PREV_RESULT["ips"][0], version="4")]
    write(t, "v040.json", v040)
    write(t, "other_ifname.json", {
        "interfaces": [{"name": "weirffee", "mac": "02:ee:00:00:00:01"},
                       {"name": "net1", "mac": "02:aa:00:00:00:01", "sandbox": "/proc/99/ns/net"}],
        "ips": [{"address": "10.244.0.9/32", "interface": 1, "gateway": "169.254.1.1"}],
        "routes": [{"dst": "0.0.0.0/0"}, {"dst": "10.96.0.0/12", "gw": "169.254.1.1"}]})
    write(t, "dual_stack.json", {
        "interfaces": [{"name": "eth0", "mac": "02:aa:00:00:00:02", "sandbox": "/run/netns/a"}],
        "ips": [{"address": "fd00::5/128", "interface": 0},
                {"address": "10.244.0.5/32", "interface": 0}],
        "routes": [{"dst": "::/0"}, {"dst": "0.0.0.0/0", "gw": "169.254.1.1"}]})
    write(t, "many_routes.json", {
        "interfaces": [{"name": "eth0", "mac": "02:aa:00:00:00:03", "sandbox": "/run/netns/b"}],
        "ips": [{"address": "10.244.0.6/24", "interface": 0}],
        "routes": [{"dst": "10.%d.0.0/16" % i, "gw": "10.244.0.1"} for i in range(20)]})
    write(t, "bad_mac.json", {
        "interfaces": [{"name": "eth0", "mac": "02:aa:00:00:00", "sandbox": "/run/netns/c"}],
        "ips": [{"address": "10.244.0.7/32", "interface": 0}]})
    write(t, "no_sandbox.json", {"interfaces": [{"name": "eth0", "mac": "02:aa:00:00:00:04"}],
                                 "ips": [{"address": "10.244.0.8/32", "interface": 0}]})


# ---- YAML and kubeconfig ------------------------------------------------------------------------

KUBECTL_MANIFEST = """---
apiVersion: apps/v1
kind: Deployment
metadata:
  creationTimestamp: null
  labels:
    app: api
  name: api
  namespace: prod
spec:
  replicas: 1
  selector:
    matchLabels:
      app: api
  strategy: {}
  template:
    metadata:
      creationTimestamp: null
      labels:
        app: api
    spec:
      containers:
      - image: registry.k8s.io/pause:3.9
        name: pause
        ports:
        - containerPort: 8080
        resources: {}
status: {}
---
# nothing here but a comment
---
apiVersion: v1
kind: Service
metadata:
  creationTimestamp: null
  labels:
    app: web
  name: web
spec:
  ports:
  - name: 80-8080
    port: 80
    protocol: TCP
    targetPort: 8080
  selector:
    app: web
  type: ClusterIP
status:
  loadBalancer: {}
"""


def yaml_target():
    t = "yaml"
    write(t, "kubectl_manifest.yaml", KUBECTL_MANIFEST)
    write(t, "scalars.yaml", """ints: [0, -17, +3, 0o17, 0x1F, 9007199254740993]
floats: [1.5, -.5, 6.02e23, .inf, -.Inf, .NaN]
bools: [true, False, TRUE, yes, no, on]
nulls: [~, null, Null, ]
strings: ["80", '0x10', !!str 42, "tab\\there", 'it''s', "\\u00e9"]
tagged: {a: !!int "12", b: !!float 3, c: !!bool "true", d: !!null "", e: !custom x}
80: port
true: yes
~: nothing
0.1: tenth
""")
    write(t, "anchors_merge.yaml", """defaults: &defaults
  protocol: TCP
  port: 80
extra: &extra {timeout: 30}
a:
  <<: *defaults
  port: 8080
b:
  <<: [*extra, *defaults]
  name: b
c: *defaults
""")
    write(t, "block_scalars.yaml", """literal: |
  line one
    indented
  line three
folded: >-
  folded
  text

  with a break
keep: |+
  kept

quoted: "multi
  line"
""")
    write(t, "flow.json", json.dumps({"kind": "List", "items": [
        {"a": [1, 2.5, None, True, "x"], "b": {"c": {"d": []}}, "": "empty key"}]}) + "\n")
    write(t, "alias_bomb.yaml", """a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
""")
    write(t, "duplicate_key.yaml", "a: 1\nb: 2\na: 3\n")
    write(t, "bad_indent.yaml", "a:\n  b: 1\n c: 2\n")
    write(t, "bad_utf8.yaml", b"name: \xff\xfe\n")
    write(t, "documents.yaml", "--- 1\n--- \"two\"\n---\n...\n--- [3]\n--- {four: 4}\n")


CA = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJmYWtlQ0EKLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo="
CLIENT = ("LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJmYWtlQ2xpZW50Ci0tLS0tRU5EIENFUlRJRklDQVRFLS0t"
          "LS0K")
KEY = ("LS0tLS1CRUdJTiBFQyBQUklWQVRFIEtFWS0tLS0tCk1IY0NBUUVFSXNlY3JldGtleW1hdGVyaWFsCi0tLS0tRU5E"
       "IEVDIFBSSVZBVEUgS0VZLS0tLS0K")


def kubeconfig(cluster, user, context_extra=""):
    return f"""apiVersion: v1
kind: Config
preferences: {{}}
current-context: kind-weir
contexts:
- name: kind-weir
  context:
    cluster: kind-weir
    user: kind-weir{context_extra}
clusters:
- name: kind-weir
  cluster:
{cluster}users:
- name: kind-weir
  user:
{user}"""


def kubeconfig_target():
    t = "kubeconfig"
    # The shape kind writes: data fields inline.
    write(t, "kind_data.yaml", kubeconfig(
        f"    certificate-authority-data: {CA}\n    server: https://127.0.0.1:36443\n",
        f"    client-certificate-data: {CLIENT}\n    client-key-data: {KEY}\n"))
    write(t, "files_relative.yaml", kubeconfig(
        "    certificate-authority: ca.crt\n    server: https://kind-control-plane:6443/\n",
        "    client-certificate: client.crt\n    client-key: client.key\n"))
    write(t, "token_file.yaml", kubeconfig(
        "    certificate-authority: ca.crt\n    server: https://10.96.0.1:443\n",
        "    tokenFile: token\n"))
    write(t, "static_token.yaml", kubeconfig(
        "    insecure-skip-tls-verify: true\n    server: https://192.168.49.2:8443\n",
        "    token: eyJhbGciOiJSUzI1NiJ9.c2VjcmV0LXRva2Vu.c2lnbmF0dXJl\n"))
    write(t, "http_proxy.yaml", kubeconfig("    server: http://127.0.0.1:8001\n", "    {}\n"))
    write(t, "exec_plugin.yaml", kubeconfig(
        "    server: https://eks.example.com\n",
        "    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n"
        "      command: aws\n      args: [eks, get-token]\n"))
    write(t, "two_contexts.json", json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "b",
        "contexts": [{"name": "a", "context": {"cluster": "c1", "user": "u1"}},
                     {"name": "b", "context": {"cluster": "c2"}}],
        "clusters": [{"name": "c1", "cluster": {"server": "https://one"}},
                     {"name": "c2", "cluster": {"server": "https://two:6443",
                                                "certificate-authority-data": CA}}],
        "users": [{"name": "u1", "user": {"token": "abc"}}]}, indent=2) + "\n")
    write(t, "bad_pem.yaml", kubeconfig(
        "    certificate-authority: bad.pem\n    server: https://127.0.0.1:6443\n",
        "    token: \"  padded-token\\n\"\n"))
    write(t, "bad_base64.yaml", kubeconfig(
        "    certificate-authority-data: not*base64==\n    server: https://127.0.0.1:6443\n",
        "    client-certificate-data: QQ=\n    client-key-data: QUJD\n"))
    write(t, "missing_context.yaml", "apiVersion: v1\nkind: Config\ncurrent-context: gone\n"
          "contexts: []\nclusters: []\nusers: []\n")


# ---- Kubernetes objects ---------------------------------------------------------------------

def namespace(name, labels=None):
    return {"kind": "Namespace", "apiVersion": "v1",
            "metadata": {"name": name, "creationTimestamp": None, "resourceVersion": "101",
                         "labels": dict({"kubernetes.io/metadata.name": name}, **(labels or {}))},
            "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}


def pod(ns, name, labels, ip, node="node-1", ports=None, phase="Running"):
    return {"kind": "Pod", "apiVersion": "v1",
            "metadata": {"name": name, "namespace": ns, "labels": labels,
                         "resourceVersion": "2048", "uid": "6c1e5f4a-1b2c-4d3e-8f9a-0b1c2d3e4f5a"},
            "spec": {"nodeName": node, "containers": [
                {"name": name, "image": "registry.k8s.io/pause:3.9", "resources": {},
                 "ports": ports or []}]},
            "status": {"phase": phase, "podIP": ip, "podIPs": [{"ip": ip}],
                       "hostIP": "172.18.0.2"}}


def node(name, address, cidr):
    return {"kind": "Node", "apiVersion": "v1",
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
            "spec": {"podCIDR": cidr, "podCIDRs": [cidr]},
            "status": {"addresses": [{"type": "InternalIP", "address": address},
                                     {"type": "Hostname", "address": name}]}}


def policy(ns, name, spec):
    return {"kind": "NetworkPolicy", "apiVersion": "networking.k8s.io/v1",
            "metadata": {"name": name, "namespace": ns, "generation": 1}, "spec": spec}


def service(ns, name, ip, ports, selector, type_="ClusterIP", **extra):
    spec = {"clusterIP": ip, "clusterIPs": [ip], "ports": ports, "selector": selector,
            "type": type_, "sessionAffinity": "None", "ipFamilies": ["IPv4"]}
    spec.update(extra)
    return {"kind": "Service", "apiVersion": "v1",
            "metadata": {"name": name, "namespace": ns, "labels": selector,
                         "creationTimestamp": None}, "spec": spec,
            "status": {"loadBalancer": {}}}


def slice_(ns, service_name, name, ports, endpoints):
    return {"kind": "EndpointSlice", "apiVersion": "discovery.k8s.io/v1",
            "metadata": {"name": name, "namespace": ns,
                         "labels": {"kubernetes.io/service-name": service_name,
                                    "endpointslice.kubernetes.io/managed-by":
                                        "endpointslice-controller.k8s.io"}},
            "addressType": "IPv4", "ports": ports, "endpoints": endpoints}


def endpoint(ip, node_name, ready=True, pod_name="web"):
    return {"addresses": [ip], "conditions": {"ready": ready, "serving": ready,
                                              "terminating": False},
            "nodeName": node_name, "targetRef": {"kind": "Pod", "name": pod_name}}


WEB = pod("default", "web", {"app": "web"}, "10.244.0.5",
          ports=[{"name": "http", "containerPort": 80, "protocol": "TCP"}])
CLIENT_POD = pod("default", "client", {"role": "client"}, "10.244.0.6")
API = pod("prod", "api", {"app": "api", "tier": "backend"}, "10.244.0.7",
          ports=[{"name": "grpc", "containerPort": 8080}])
REMOTE = pod("prod", "db", {"app": "db"}, "10.244.1.7", node="node-2",
             ports=[{"name": "pg", "containerPort": 5432}])

POLICIES = {
    "deny_all": policy("default", "deny-all", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}),
    "allow_web_from_clients": policy("default", "web-from-clients", {
        "podSelector": {"matchLabels": {"app": "web"}},
        "ingress": [{"from": [{"podSelector": {"matchLabels": {"role": "client"}}}],
                     "ports": [{"protocol": "TCP", "port": 80}, {"port": "http"}]}]}),
    "namespace_and_pod": policy("prod", "api-from-frontend", {
        "podSelector": {"matchExpressions": [{"key": "tier", "operator": "In",
                                              "values": ["backend"]}]},
        "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"env": "prod"}},
                               "podSelector": {"matchLabels": {"app": "web"}}},
                              {"namespaceSelector": {"matchExpressions": [
                                  {"key": "kubernetes.io/metadata.name", "operator": "NotIn",
                                   "values": ["kube-system"]}]}}],
                     "ports": [{"protocol": "TCP", "port": 8000, "endPort": 8100},
                               {"protocol": "UDP", "port": 53}, {"protocol": "SCTP", "port": 9000}]}],
        "policyTypes": ["Ingress"]}),
    "ip_block_egress": policy("default", "egress-internet", {
        "podSelector": {"matchLabels": {"role": "client"}},
        "egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0",
                                        "except": ["10.0.0.0/8", "192.168.0.0/16"]}}]},
                   {"to": [{"ipBlock": {"cidr": "172.18.0.0/16"}}],
                    "ports": [{"protocol": "TCP", "port": 6443}]},
                   {"to": [{"namespaceSelector": {}, "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
                    "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]}],
        "policyTypes": ["Egress"]}),
    "exists_operators": policy("prod", "exists", {
        "podSelector": {"matchExpressions": [{"key": "app", "operator": "Exists"},
                                             {"key": "legacy", "operator": "DoesNotExist"}]},
        "ingress": [{}], "egress": [{"ports": [{"port": "pg", "protocol": "TCP"}]}]}),
}


def k8s_objects():
    t = "k8s_objects"
    write(t, "pod.json", WEB)
    write(t, "namespace.json", namespace("prod", {"env": "prod"}))
    write(t, "node.json", node("node-2", "172.18.0.3", "10.244.1.0/24"))
    write(t, "service.json", service("default", "web", "10.96.12.34",
                                     [{"name": "http", "protocol": "TCP", "port": 80,
                                       "targetPort": 8080}], {"app": "web"}))
    write(t, "endpointslice.json", slice_("default", "web", "web-abc12",
                                          [{"name": "http", "protocol": "TCP", "port": 8080}],
                                          [endpoint("10.244.0.5", "node-1")]))
    for key, value in POLICIES.items():
        write(t, f"policy_{key}.json", value)
    write(t, "cluster_list.json", {"kind": "List", "apiVersion": "v1", "items": [
        namespace("default"), namespace("prod", {"env": "prod"}), WEB, CLIENT_POD, API, REMOTE,
        POLICIES["allow_web_from_clients"], POLICIES["namespace_and_pod"]]})
    write(t, "pod_list_from_api.json", {"kind": "PodList", "apiVersion": "v1",
                                        "metadata": {"resourceVersion": "4096"},
                                        "items": [{k: v for k, v in o.items() if k not in ("kind", "apiVersion")}
                                                  for o in (CLIENT_POD, API)]})
    write(t, "manifest.yaml", """apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: db-ingress
  namespace: prod
spec:
  podSelector:
    matchLabels:
      app: db
  policyTypes: [Ingress]
  ingress:
  - from:
    - podSelector: {matchLabels: {app: api}}
    ports:
    - {protocol: TCP, port: pg}
    - {protocol: TCP, port: 5432}
---
apiVersion: v1
kind: Pod
metadata: {name: api, namespace: prod, labels: {app: api}}
spec: {nodeName: node-1}
status: {podIP: 10.244.0.7}
""")


def watch_event():
    t = "watch_event"
    lines = lambda events: "".join(json.dumps(e, separators=(",", ":")) + "\n" for e in events)
    write(t, "pod_added.jsonl", lines([{"type": "ADDED", "object": CLIENT_POD}]))
    modified = json.loads(json.dumps(WEB))
    modified["metadata"]["labels"]["version"] = "v2"
    modified["metadata"]["resourceVersion"] = "2049"
    write(t, "pod_modified_deleted.jsonl", lines([
        {"type": "MODIFIED", "object": modified},
        {"type": "DELETED", "object": API}]))
    write(t, "namespace_events.jsonl", lines([
        {"type": "ADDED", "object": namespace("staging", {"env": "staging"})},
        {"type": "MODIFIED", "object": namespace("prod", {"env": "production"})}]))
    write(t, "node_added.jsonl", lines([{"type": "ADDED", "object": node("node-3", "172.18.0.4",
                                                                           "10.244.2.0/24")}]))
    write(t, "service_and_slice.jsonl", lines([
        {"type": "ADDED", "object": service("default", "web", "10.96.12.34",
                                            [{"name": "http", "protocol": "TCP", "port": 80,
                                              "targetPort": 8080}], {"app": "web"})},
        {"type": "ADDED", "object": slice_("default", "web", "web-abc12",
                                           [{"name": "http", "protocol": "TCP", "port": 8080}],
                                           [endpoint("10.244.0.5", "node-1")])}]))
    write(t, "policy_added.jsonl", lines([{"type": "ADDED", "object": POLICIES["deny_all"]},
                                          {"type": "ADDED",
                                           "object": POLICIES["allow_web_from_clients"]}]))
    write(t, "bookmark.jsonl", lines([{"type": "BOOKMARK", "object": {
        "kind": "Pod", "apiVersion": "v1",
        "metadata": {"resourceVersion": "12345",
                     "annotations": {"k8s.io/initial-events-end": "true"}}}}]))
    # A Status object, as an ERROR event carries one: 410 Gone (relist), then another code.
    write(t, "status_410.jsonl", lines([{"type": "ERROR", "object": {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": "too old resource version: 1000 (4096)", "reason": "Expired", "code": 410}}]))
    write(t, "status_500.jsonl", lines([{"type": "ERROR", "object": {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": "etcdserver: request timed out", "reason": "InternalError",
        "code": 500}}]))
    write(t, "mixed_stream.jsonl", lines([
        {"type": "ADDED", "object": REMOTE}, {"type": "BOOKMARK",
                                              "object": {"metadata": {"resourceVersion": "9"}}},
        {"type": "DELETED", "object": {"kind": "Pod", "metadata": {"namespace": "default"}}}])
          + "\n{not json}\n" + '{"type":"ADDED"}\n' + '{"type":"ADDED","object":{"kind":"Pod"')


def standalone():
    t = "standalone"
    write(t, "policies.yaml", """# pods on this node (records: default/web, default/client, prod/api) and policies
apiVersion: v1
kind: Pod
metadata: {name: api, namespace: prod, labels: {app: api, tier: backend}}
spec:
  nodeName: node-1
  containers:
  - name: api
    image: registry.k8s.io/pause:3.9
    ports: [{name: grpc, containerPort: 8080}]
status: {podIP: 10.244.0.7}
---
""" + "---\n".join(json.dumps(p) + "\n" for p in POLICIES.values()))
    write(t, "service.yaml", """apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  type: NodePort
  clusterIP: 10.96.12.34
  selector: {app: web}
  sessionAffinity: ClientIP
  sessionAffinityConfig: {clientIP: {timeoutSeconds: 600}}
  ports:
  - {name: http, protocol: TCP, port: 80, targetPort: 80, nodePort: 30080}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: web-x7k2p
  namespace: default
  labels: {kubernetes.io/service-name: web}
addressType: IPv4
ports: [{name: http, protocol: TCP, port: 80}]
endpoints:
- addresses: [10.244.0.5]
  conditions: {ready: true}
  nodeName: node-1
- addresses: [10.244.1.7]
  conditions: {ready: true}
  nodeName: node-2
- addresses: [10.244.1.8]
  conditions: {ready: false}
""")
    write(t, "local_traffic_policy.json", {"kind": "List", "items": [
        service("prod", "api", "10.96.0.20", [{"name": "grpc", "protocol": "TCP", "port": 8080,
                                                "targetPort": 8080, "nodePort": 31080}],
                {"app": "api"}, type_="NodePort", externalTrafficPolicy="Local",
                internalTrafficPolicy="Local"),
        slice_("prod", "api", "api-1", [{"name": "grpc", "protocol": "TCP", "port": 8080}],
               [endpoint("10.244.0.7", "node-1", pod_name="api"),
                endpoint("10.244.1.9", "node-2", pod_name="api-2")]),
        service("kube-system", "kube-dns", "10.96.0.10",
                [{"name": "dns", "protocol": "UDP", "port": 53, "targetPort": 53},
                 {"name": "dns-tcp", "protocol": "TCP", "port": 53, "targetPort": 53}],
                {"k8s-app": "kube-dns"}),
        slice_("kube-system", "kube-dns", "kube-dns-abc",
               [{"name": "dns", "protocol": "UDP", "port": 53},
                {"name": "dns-tcp", "protocol": "TCP", "port": 53}],
               [endpoint("10.244.0.2", "node-1", pod_name="coredns-a")])]})
    write(t, "node_and_namespace.yaml", """apiVersion: v1
kind: Node
metadata: {name: node-2}
spec: {podCIDR: 10.244.1.0/24}
status:
  addresses:
  - {type: InternalIP, address: 172.18.0.3}
---
apiVersion: v1
kind: Namespace
metadata:
  name: prod
  labels: {env: production}
""")
    write(t, "headless_and_empty.yaml", """apiVersion: v1
kind: Service
metadata: {name: headless, namespace: default}
spec: {clusterIP: None, ports: [{port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: nobody, namespace: default}
spec: {clusterIP: 10.96.7.7, ports: [{port: 443, protocol: TCP}]}
""")
    write(t, "broken.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: x\n")
    write(t, "empty.yaml", "# no objects yet\n")


# ---- frames ---------------------------------------------------------------------------------

POD_A, POD_B, POD_E = "10.0.0.2", "10.0.0.3", "10.0.0.9"
REMOTE_POD, NODE_HOST, WORLD = "10.1.0.5", "192.168.250.1", "8.8.8.8"
MAC_A, MAC_B = bytes([2, 0xaa, 0, 0, 0, 2]), bytes([2, 0xbb, 0, 0, 0, 3])
HOST_MAC_A = bytes([2, 0xee, 0, 0, 0, 2])


def ip4(text):
    return bytes(int(x) for x in text.split("."))


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xffff) + (total >> 16)
    return (~total) & 0xffff


def ipv4(source, destination, protocol, payload, ident=1, frag=0, ttl=64, options=b""):
    length = 20 + len(options)
    header = struct.pack("!BBHHHBBH4s4s", 0x40 | length // 4, 0, length + len(payload), ident,
                         frag, ttl, protocol, 0, ip4(source), ip4(destination)) + options
    header = header[:10] + struct.pack("!H", checksum(header)) + header[12:]
    return header + payload


def l4_checksum(source, destination, protocol, segment):
    pseudo = ip4(source) + ip4(destination) + struct.pack("!BBH", 0, protocol, len(segment))
    return checksum(pseudo + segment)


def tcp(source, destination, sport, dport, flags=0x02, payload=b""):
    segment = struct.pack("!HHIIBBHHH", sport, dport, 1000, 0, 5 << 4, flags, 65535, 0, 0)
    segment += payload
    value = l4_checksum(source, destination, 6, segment)
    return segment[:16] + struct.pack("!H", value) + segment[18:]


def udp(source, destination, sport, dport, payload=b"\0" * 8):
    segment = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    value = l4_checksum(source, destination, 17, segment)
    return segment[:6] + struct.pack("!H", value) + segment[8:]


def icmp(type_, code=0, rest=b"\0\0\0\0", payload=b""):
    message = struct.pack("!BBH", type_, code, 0) + rest + payload
    return message[:2] + struct.pack("!H", checksum(message)) + message[4:]


def ether(source_mac, payload, ethertype=0x0800, destination_mac=HOST_MAC_A):
    return destination_mac + source_mac + struct.pack("!H", ethertype) + payload


def frames():
    t = "datapath_packets"
    # from A (the pod behind the test veth) ...
    write(t, "a_tcp_syn_to_b_5432.bin", ether(MAC_A, ipv4(POD_A, POD_B, 6, tcp(POD_A, POD_B, 40000, 5432))))
    write(t, "a_tcp_syn_to_b_80_denied.bin", ether(MAC_A, ipv4(POD_A, POD_B, 6, tcp(POD_A, POD_B, 40000, 80))))
    write(t, "a_udp_dns_to_remote.bin", ether(MAC_A, ipv4(POD_A, REMOTE_POD, 17, udp(POD_A, REMOTE_POD, 5353, 53))))
    write(t, "a_tcp_to_world.bin", ether(MAC_A, ipv4(POD_A, WORLD, 6, tcp(POD_A, WORLD, 40002, 8443, 0x18, b"GET / HTTP/1.1\r\n\r\n"))))
    write(t, "a_tcp_to_vip_b.bin", ether(MAC_A, ipv4("10.0.0.2", "10.96.0.10", 6, tcp(POD_A, "10.96.0.10", 40003, 80))))
    write(t, "a_tcp_to_vip_e_denied.bin", ether(MAC_A, ipv4(POD_A, "10.96.0.12", 6, tcp(POD_A, "10.96.0.12", 40004, 80))))
    write(t, "a_udp_to_vip_dns.bin", ether(MAC_A, ipv4(POD_A, "10.96.0.11", 17, udp(POD_A, "10.96.0.11", 5353, 53))))
    write(t, "a_sctp_to_b_9000.bin", ether(MAC_A, ipv4(POD_A, POD_B, 132, struct.pack("!HHII", 5000, 9000, 0x1234, 0))))
    write(t, "a_icmp_echo_to_node.bin", ether(MAC_A, ipv4(POD_A, NODE_HOST, 1, icmp(8, 0, struct.pack("!HH", 77, 1), b"ping"))))
    # An ICMP error A sends to the world about a packet it got from there (allowed both ways).
    inner = ipv4(WORLD, POD_A, 17, udp(WORLD, POD_A, 53, 5353))[:28]
    write(t, "a_icmp_unreachable_to_world.bin", ether(MAC_A, ipv4(POD_A, WORLD, 1, icmp(3, 3, b"\0\0\0\0", inner))))
    write(t, "a_first_fragment.bin", ether(MAC_A, ipv4(POD_A, REMOTE_POD, 17, udp(POD_A, REMOTE_POD, 5353, 53, b"x" * 16), ident=7, frag=0x2000)))
    write(t, "a_later_fragment.bin", ether(MAC_A, ipv4(POD_A, REMOTE_POD, 17, b"y" * 16, ident=7, frag=3)))
    write(t, "spoofed_source_ip.bin", ether(MAC_A, ipv4("10.0.0.77", POD_B, 6, tcp("10.0.0.77", POD_B, 40000, 5432))))
    write(t, "spoofed_mac.bin", ether(MAC_B, ipv4(POD_A, WORLD, 6, tcp(POD_A, WORLD, 40000, 80))))
    # ... and to A or B from elsewhere (to_pod's view).
    write(t, "cidr_to_a_any.bin", ether(HOST_MAC_A, ipv4("192.168.10.10", POD_A, 6, tcp("192.168.10.10", POD_A, 40000, 22)), destination_mac=MAC_A))
    write(t, "remote_udp_to_a_1500.bin", ether(HOST_MAC_A, ipv4(REMOTE_POD, POD_A, 17, udp(REMOTE_POD, POD_A, 9999, 1500)), destination_mac=MAC_A))
    write(t, "tcp_with_options_ihl6.bin", ether(MAC_A, ipv4(POD_A, WORLD, 6, tcp(POD_A, WORLD, 1234, 80), options=b"\x01\x01\x01\x00")))
    write(t, "arp_request_a.bin", ether(MAC_A, struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + MAC_A + ip4(POD_A) + b"\0" * 6 + ip4("10.0.0.1"), ethertype=0x0806, destination_mac=b"\xff" * 6))
    write(t, "ipv6.bin", ether(MAC_A, bytes([0x60, 0, 0, 0, 0, 8, 17, 64]) + b"\0" * 32 + b"\0" * 8, ethertype=0x86dd))
    write(t, "truncated_ipv4.bin", ether(MAC_A, ipv4(POD_A, POD_B, 6, tcp(POD_A, POD_B, 1, 2))[:30]))


def regressions():
    """Reproducers of fixed bugs (fuzz/crashes/ until the fix, then here for good)."""
    # cni/config.c: an MTU beyond int was cast to int before its range was checked (UB).
    write("cni_config", "regression_mtu_double_to_int.json",
          '{"cniVersion":"1.0.0","name":"weir","type":"weir-cni","mtu":1e10}\n')
    # agent/policy_compiler.c append_labels: labels given as a list reached strlen(NULL).
    labels_list = ("apiVersion: v1\nkind: Pod\nmetadata: {name: x, namespace: default, "
                   "labels: [app]}\nstatus: {podIP: 10.244.0.9}\n")
    write("k8s_objects", "regression_labels_list.yaml", labels_list)
    write("standalone", "regression_pod_labels_list.yaml", labels_list)
    write("watch_event", "regression_namespace_labels_list.jsonl",
          '{"type":"ADDED","object":{"kind":"Namespace","metadata":{"name":"default",'
          '"labels":["x"]}}}\n')
    # bpf/lib/conntrack.h: an ICMP error whose inner tuple matched no connection was passed as
    # "related" (a policy bypass). A -> B destination unreachable quoting B -> A udp 53.
    write("datapath_packets", "regression_icmp_error_unrelated.bin", bytes.fromhex(
        "02ee0000000202aa0000000208004500003800010000400166bd0a0000020a010005"
        "030311260000000045000024000100004011 66c10a0100050a0000020035 14e90010d6a8".replace(" ", "")))
    # agent/reconciler.c: a local Pod without spec.nodeName was not recompiled when it changed.
    write("standalone", "regression_local_pod_without_nodename.yaml",
          "apiVersion: v1\nkind: Pod\nmetadata: {name: api, namespace: prod, labels: {app: api}}\n"
          "status: {podIP: 10.244.0.7}\n")
    # agent/reconciler.c: a Node route the kernel refused (unreachable InternalIP) failed a pass
    # whose maps were already written, leaving them neither before nor after.
    write("standalone", "regression_node_route_refused.yaml",
          "apiVersion: v1\nkind: Node\nmetadata: {name: node-3}\nspec: {podCIDR: 10.244.3.0/24}\n"
          "status:\n  addresses:\n  - {type: InternalIP, address: 192.168.77.3}\n")


if __name__ == "__main__":
    cni_config()
    cni_args()
    prev_result()
    yaml_target()
    kubeconfig_target()
    k8s_objects()
    watch_event()
    standalone()
    frames()
    regressions()
