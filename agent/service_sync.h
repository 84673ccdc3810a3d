/* The service compiler and writer: Services and their EndpointSlices in, VIP entries, backends
 * and Maglev tables out, written as differences. */
#ifndef WEIR_AGENT_SERVICE_SYNC_H
#define WEIR_AGENT_SERVICE_SYNC_H

#include <stddef.h>
#include <stdint.h>

#include "datapath.h"
#include "object_store.h"

struct service_sync;

/* node_name: NodePorts are served on this node's addresses; "Local" traffic policies keep
 * the endpoints on this node. */
struct service_sync *service_sync_new(const char *state_dir, const char *node_name,
				      struct datapath *datapath, char *errbuf, size_t errlen);
void service_sync_free(struct service_sync *sync);

/* Compiles every Service and writes what changed. Returns 0 or -1 with errbuf. */
int service_sync_apply(struct service_sync *sync, struct object_store *store, char *errbuf,
		       size_t errlen);

size_t service_sync_count(const struct service_sync *sync);

#endif
