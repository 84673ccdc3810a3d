/* Userspace access to the pinned datapath: the one library through which the CNI, the agent,
 * weirctl and the tests read and write the maps, so entries are always written the same way. */
#ifndef WEIR_DATAPATH_H
#define WEIR_DATAPATH_H

#include <stddef.h>
#include <stdint.h>

#include "abi.h"

struct datapath {
	char root[256];
	int endpoints_fd;
	int endpoint_stats_fd;
	int metrics_fd;
};

/* Makes sure path is a bpffs mount, creating and mounting it when it is not. */
int bpffs_ensure_mounted(const char *path, char *errbuf, size_t errlen);
int bpffs_is_mounted(const char *path);

/* Opens the pinned maps under root. Returns 0, -ENOENT when they are not there (the agent has
 * not loaded the datapath), or another -errno; errbuf names the missing or failing pin. */
int datapath_open(struct datapath *datapath, const char *root, char *errbuf, size_t errlen);
void datapath_close(struct datapath *datapath);

/* Opens a pinned program (WEIR_PROG_*) under root. Returns an fd or -errno. */
int datapath_program_open(const char *root, const char *name, char *errbuf, size_t errlen);

/* Writes the endpoint for ipv4 (host byte order), creating its zeroed counters first so the
 * datapath never counts into a missing slot. */
int datapath_endpoint_upsert(struct datapath *datapath, uint32_t ipv4,
			     const struct weir_endpoint *endpoint, char *errbuf, size_t errlen);
/* Returns 0 and fills *endpoint, or -ENOENT. */
int datapath_endpoint_lookup(struct datapath *datapath, uint32_t ipv4,
			     struct weir_endpoint *endpoint);
/* Removes the endpoint and its counters, but only when it still belongs to host_ifindex (0:
 * any), so a late DEL never removes an address that was already handed to a new pod. Absent
 * entries are not an error. */
int datapath_endpoint_delete(struct datapath *datapath, uint32_t ipv4, uint32_t host_ifindex,
			     char *errbuf, size_t errlen);
/* Sums the per-CPU counters of one endpoint. */
int datapath_endpoint_stats(struct datapath *datapath, uint32_t endpoint_id,
			    struct weir_endpoint_stats *total);
/* Sums one global counter over all CPUs. */
int datapath_counter_read(struct datapath *datapath, enum weir_counter counter, uint64_t *total);

#endif
