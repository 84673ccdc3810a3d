/* The pending gate. weir-cni writes a new pod's endpoint as pending; the agent clears the flag
 * only once the pod's identity, ipcache entry and policy are in the maps. Until then the pod is
 * closed: its own node may reach it (kubelet probes; weir always lets the node in) and it may
 * answer the node, nothing else, whatever conntrack remembers of its address. */
#ifndef WEIR_BPF_PENDING_H
#define WEIR_BPF_PENDING_H

#include "conntrack.h"
#include "identity.h"
#include "parse.h"

#define PENDING_SOURCE (1U << 0)
#define PENDING_DESTINATION (1U << 1)

static __always_inline __u8 endpoint_is_pending(const struct weir_endpoint *endpoint)
{
	return endpoint && (endpoint->flags & WEIR_ENDPOINT_FLAG_PENDING);
}

/* Whether a packet touching a pending endpoint may pass. node_hook: the packet comes from the
 * host stack (to_pod), the only place the node's own traffic arrives. */
static __always_inline int pending_gate_allows(const struct packet *packet, __u8 pending,
					       int node_hook, enum ct_status status)
{
	if ((pending & PENDING_DESTINATION) &&
	    (!node_hook || identity_of(packet->source) != WEIR_IDENTITY_HOST))
		return 0;
	if ((pending & PENDING_SOURCE) &&
	    (identity_of(packet->destination) != WEIR_IDENTITY_HOST ||
	     (status != CT_REPLY && status != CT_RELATED)))
		return 0;
	return 1;
}

#endif
