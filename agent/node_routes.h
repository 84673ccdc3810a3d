/* Routes to the other nodes' pod CIDRs via their InternalIP (direct routing: kind's nodes
 * share one L2), kept in step with the Node objects. */
#ifndef WEIR_AGENT_NODE_ROUTES_H
#define WEIR_AGENT_NODE_ROUTES_H

#include <stddef.h>

#include "object_store.h"

/* Adds, replaces and removes weir's routes (and only weir's) in the agent's network namespace.
 * Returns 0 or -1 with errbuf. */
int node_routes_sync(struct object_store *store, const char *node_name, char *errbuf,
		     size_t errlen);

#endif
