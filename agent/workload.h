/* Workload names for metrics and traces: the stable name of what runs a pod, so series do not
 * multiply with every rollout. "namespace/web" for pod web-5d9c7b8f6-x2x7q of Deployment web
 * (its ReplicaSet's pod-template-hash trimmed), the owner's name for StatefulSets, DaemonSets
 * and Jobs, the pod's own name when nothing owns it. */
#ifndef WEIR_AGENT_WORKLOAD_H
#define WEIR_AGENT_WORKLOAD_H

#include <stddef.h>

#include <cJSON.h>

#include "object_store.h"

/* "namespace/workload" of a Pod object. */
void workload_of_pod(const cJSON *pod, char *out, size_t size);

/* The workload of the pod named "namespace/name" in the store; the name itself when the store
 * has no such pod (or store is NULL). */
void workload_of_pod_name(struct object_store *store, const char *namespaced_name, char *out,
			  size_t size);

#endif
