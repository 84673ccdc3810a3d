/* Building and tearing down one pod attachment: veth, addresses, routes, neighbours, TC
 * programs, endpoint map entry and record. ADD, DEL and GC share these so a pod is always
 * wired and unwired the same way. */
#ifndef WEIR_CNI_POD_WIRING_H
#define WEIR_CNI_POD_WIRING_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "endpoint_record.h"
#include "ipam.h"

#define WEIR_POD_GATEWAY 0xa9fe0101u /* 169.254.1.1, the same link-local gateway in every pod */
#define WEIR_HOST_VETH_PREFIX "weir"

/* "weir" + 11 hex digits of a hash of container id and ifname: 15 characters, stable. */
void host_veth_name(const char *container_id, const char *ifname, char name[16]);

/* Wires the pod at address; fills record. On failure everything it made is removed again. */
int pod_wiring_create(const struct cni_config *config, const struct cni_environment *env,
		      const struct ipv4_prefix *subnet, uint32_t address,
		      struct endpoint_record *record, struct cni_error *err);

/* Removes the wiring of container_id/ifname and releases its address. known_address (0: none)
 * is the address the runtime's prevResult names. Everything already gone is skipped; ipam must
 * be locked by the caller. */
int pod_wiring_remove(const struct cni_config *config, struct ipam *ipam, const char *container_id,
		      const char *ifname, uint32_t known_address, struct cni_error *err);

/* Test hook: SIGKILLs the plugin when WEIR_CNI_TEST_KILL_AT names this step. */
void pod_wiring_test_kill_point(const char *step);

/* The pod CIDR: the config's subnet, or the one the agent published in <stateDir>/node.json. */
int pod_subnet_resolve(const struct cni_config *config, struct ipv4_prefix *subnet,
		       struct cni_error *err);

#endif
