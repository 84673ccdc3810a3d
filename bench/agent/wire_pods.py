#!/usr/bin/python3
"""Wires pods on a benchmark node with the real weir-cni, as a container runtime does: one
network namespace per pod ("<id>-<prefix><i>"), then CNI ADD run inside the node's network
namespace with the CNI_* environment and the node's network config on stdin. The pods are
--count pods "<prefix><i>" of --namespace, or those of --list (a JSON list of [namespace, name]).
Writes a JSON list of {"namespace", "name", "netns", "ip"} to --out."""

import argparse
import ctypes
import json
import os
import subprocess
import sys
import time

CLONE_NEWNET = 0x40000000


def main():
    parser = argparse.ArgumentParser()
    for flag in ("--node", "--id", "--prefix", "--conflist", "--cni", "--out"):
        parser.add_argument(flag, required=True)
    parser.add_argument("--namespace")
    parser.add_argument("--count", type=int)
    parser.add_argument("--list")
    args = parser.parse_args()
    if args.list:
        wanted = [tuple(item) for item in json.load(open(args.list))]
    elif args.count is not None and args.namespace:
        wanted = [(args.namespace, f"{args.prefix}{i}") for i in range(args.count)]
    else:
        sys.exit("wire_pods: give --list, or --count and --namespace")

    conflist = json.load(open(args.conflist))
    config = dict(conflist["plugins"][0], cniVersion=conflist["cniVersion"],
                  name=conflist["name"])
    stdin = json.dumps(config).encode()
    started = time.monotonic()
    pods = []
    for i, (namespace, name) in enumerate(wanted):
        netns = f"{args.id}-{args.prefix}{i}"
        subprocess.run(["ip", "netns", "add", netns], check=True)
        subprocess.run(["ip", "-n", netns, "link", "set", "lo", "up"], check=True)
        pods.append({"namespace": namespace, "name": name, "netns": netns})

    libc = ctypes.CDLL(None, use_errno=True)
    node_fd = os.open(f"/var/run/netns/{args.node}", os.O_RDONLY | os.O_CLOEXEC)
    if libc.setns(node_fd, CLONE_NEWNET) != 0:
        sys.exit(f"wire_pods: setns into {args.node}: {os.strerror(ctypes.get_errno())}")
    for pod in pods:
        env = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
               "CNI_COMMAND": "ADD", "CNI_CONTAINERID": f"bench-{pod['netns']}",
               "CNI_NETNS": f"/var/run/netns/{pod['netns']}", "CNI_IFNAME": "eth0",
               "CNI_PATH": "/usr/lib/cni",
               "CNI_ARGS": f"IgnoreUnknown=1;K8S_POD_NAMESPACE={pod['namespace']};"
                           f"K8S_POD_NAME={pod['name']}"}
        proc = subprocess.run([args.cni], input=stdin, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)
        if proc.returncode != 0:
            sys.exit(f"wire_pods: ADD of {pod['netns']} exited {proc.returncode}: "
                     f"{proc.stdout.decode(errors='replace')} "
                     f"{proc.stderr.decode(errors='replace')}")
        pod["ip"] = json.loads(proc.stdout)["ips"][0]["address"].split("/")[0]
    tmp = args.out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(pods, f)
    os.replace(tmp, args.out)
    print(f"    wired {len(pods)} pods in {time.monotonic() - started:.1f} s")


if __name__ == "__main__":
    main()
