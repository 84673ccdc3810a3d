#!/usr/bin/python3
"""The test API server (tests/fixtures/k8s_api_server.py, unchanged) started with a synthetic
cluster already in its store, for bench/agent_scale.sh.

    scale_api_server.py --cluster SPEC.json <the fixture's own flags>

SPEC.json: {"pods", "namespaces", "policies", "services", "nodes", "local_node", "local_pods",
"local_cidr", "local_ips": [[namespace, name, ip], ...]}. The objects are created through the
fixture's own Store.create (the code path a POST takes, without HTTP), right after its seed
namespaces and before it listens, so generating 10,000 objects takes seconds rather than the
minutes thousands of HTTPS POSTs to a Python server would. The time it took is written to
DIR/preload.json."""

import json
import os
import sys
import time

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "fixtures"))
sys.path.insert(0, HERE)
import k8s_api_server as fixture  # noqa: E402
from synthetic import Cluster  # noqa: E402


def main():
    argv = sys.argv[1:]
    if "--cluster" not in argv or argv.index("--cluster") + 1 >= len(argv):
        sys.exit("scale_api_server: --cluster SPEC.json is required")
    at = argv.index("--cluster")
    spec = json.load(open(argv[at + 1]))
    del argv[at:at + 2]
    directory = argv[argv.index("--dir") + 1]
    sys.argv = [sys.argv[0]] + argv

    cluster = Cluster(spec["pods"], spec["namespaces"], spec["policies"], spec["services"],
                      spec["nodes"], spec["local_node"], spec["local_pods"], spec["local_cidr"])
    local_ips = {(ns, name): ip for ns, name, ip in spec["local_ips"]}
    missing = set(cluster.local_pod_names()) - set(local_ips)
    if missing:
        sys.exit(f"scale_api_server: no address for local pods {sorted(missing)[:3]}")
    original_seed = fixture.seed

    def seed(store):
        original_seed(store)
        started = time.monotonic()
        counts = {}
        resources = {r.plural: r for r in fixture.RESOURCES}
        for plural, namespace, body in cluster.objects(local_ips):
            store.create(resources[plural], namespace, body)
            counts[plural] = counts.get(plural, 0) + 1
        fixture.write_file(os.path.join(os.path.abspath(directory), "preload.json"),
                           json.dumps({"seconds": time.monotonic() - started,
                                       "counts": counts, "resourceVersion": store.rv}))

    fixture.seed = seed
    fixture.main()


if __name__ == "__main__":
    main()
