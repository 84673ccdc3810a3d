/* Built-in host-local IPAM: one file per allocated address under <stateDir>/ipam, guarded by
 * an flock so concurrent ADDs never hand out the same address. */
#ifndef WEIR_CNI_IPAM_H
#define WEIR_CNI_IPAM_H

#include <stddef.h>
#include <stdint.h>

#include "cidr.h"

struct ipam {
	char directory[512];
	int lock_fd;
};

struct ipam_allocation {
	uint32_t address; /* host byte order */
	char container_id[256];
	char ifname[16];
};

/* Opens <state_dir>/ipam and takes its exclusive lock. Returns 0 or -errno (errbuf says). */
int ipam_open_locked(struct ipam *ipam, const char *state_dir, char *errbuf, size_t errlen);
/* Releases the lock. */
void ipam_close(struct ipam *ipam);

/* The address held by container_id/ifname: 0 and *address, or -ENOENT. */
int ipam_find(struct ipam *ipam, const char *container_id, const char *ifname, uint32_t *address);
/* Returns the held address, or reserves the next free one in subnet (never the network,
 * gateway (.1) or broadcast address). -ENOSPC when the subnet is full. */
int ipam_allocate(struct ipam *ipam, const struct ipv4_prefix *subnet, const char *container_id,
		  const char *ifname, uint32_t *address, char *errbuf, size_t errlen);
/* Releases whatever container_id/ifname holds; nothing held is not an error. */
int ipam_release(struct ipam *ipam, const char *container_id, const char *ifname);
/* Calls visit for every allocation; stops early when visit returns non-zero. */
int ipam_for_each(struct ipam *ipam, int (*visit)(const struct ipam_allocation *, void *),
		  void *context);
/* The first address that may go to a pod, and the last. */
uint32_t ipam_first_address(const struct ipv4_prefix *subnet);
uint32_t ipam_last_address(const struct ipv4_prefix *subnet);

#endif
