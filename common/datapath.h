/* Userspace access to the pinned datapath: the one library through which the CNI, the agent,
 * weirctl and the tests read and write the maps, so entries are always written the same way. */
#ifndef WEIR_DATAPATH_H
#define WEIR_DATAPATH_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

#include "abi.h"

struct datapath {
	char root[256];
	int endpoints_fd;
	int endpoint_stats_fd;
	int metrics_fd;
	int ipcache_fd;
	int policy_fd;
	int endpoint_policy_fd;
	int policy_revision_fd;
	int ct_fd;
	int fragments_fd;
	int drops_fd;
	int services_fd;
	int backends_fd;
	int maglev_fd;
	int http_rules_fd;
	int datapath_config_fd;
	int http_ports_fd;
};

/* A datapath with every fd closed (-1), for filling by hand (tests use skeleton maps). */
void datapath_init(struct datapath *datapath);

/* Makes sure path is a bpffs mount, creating and mounting it when it is not. */
int bpffs_ensure_mounted(const char *path, char *errbuf, size_t errlen);
int bpffs_is_mounted(const char *path);

/* Opens the pinned maps under root. Returns 0, -ENOENT when they are not there (the agent has
 * not loaded the datapath), or another -errno; errbuf names the missing or failing pin. */
/* Opens every pinned map under root, after datapath_abi_check. Returns 0 or -errno. */
int datapath_open(struct datapath *datapath, const char *root, char *errbuf, size_t errlen);
/* 0 when the maps pinned under root were made by this ABI (or nothing is pinned yet); -EPROTO,
 * with both versions named, when they were not. */
int datapath_abi_check(const char *root, char *errbuf, size_t errlen);
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

/* ---- ipcache ---- */
/* Maps prefix (host byte order) to identity. */
int datapath_ipcache_upsert(struct datapath *datapath, uint32_t ipv4, unsigned prefix_length,
			    uint32_t identity, char *errbuf, size_t errlen);
int datapath_ipcache_delete(struct datapath *datapath, uint32_t ipv4, unsigned prefix_length);

/* ---- policy ---- */
#define WEIR_MAX_PORT_PREFIXES 32

struct port_prefix {
	uint16_t port;	 /* host byte order, low bits zero */
	uint8_t length;	 /* bits of port that matter, 0-16 */
};

/* The fewest prefixes that cover first..last exactly (pure; first <= last). */
int port_range_prefixes(uint16_t first, uint16_t last, struct port_prefix *prefixes);

struct policy_rule {
	uint32_t endpoint_id;
	uint8_t direction; /* enum weir_direction */
	uint32_t identity; /* WEIR_IDENTITY_ANY for any peer */
	uint8_t protocol;  /* 0: any protocol (then any port) */
	uint16_t first_port; /* 0 and 0: any port */
	uint16_t last_port;
	uint8_t verdict;   /* enum weir_policy_verdict */
	uint32_t rule_id;
};

/* Writes (or deletes) the policy entries of one rule: one per port prefix. A rule whose port
 * range is invalid, or that has ports without a protocol, is refused with errbuf saying why. */
int datapath_policy_write(struct datapath *datapath, const struct policy_rule *rule, char *errbuf,
			  size_t errlen);
int datapath_policy_delete(struct datapath *datapath, const struct policy_rule *rule, char *errbuf,
			   size_t errlen);
/* Isolates (rule id != 0) or opens (0) an endpoint per direction. */
int datapath_endpoint_policy_set(struct datapath *datapath, uint32_t endpoint_id,
				 uint32_t ingress_isolation_rule, uint32_t egress_isolation_rule,
				 char *errbuf, size_t errlen);
/* Makes established connections be judged again; returns the new revision or -errno. */
int64_t datapath_policy_revision_bump(struct datapath *datapath);

/* ---- drops ---- */
/* Sums one drop counter over all CPUs; zeros when it never fired. */
int datapath_drop_read(struct datapath *datapath, uint32_t endpoint_id, uint8_t reason,
		       uint8_t direction, uint64_t *packets, uint64_t *bytes);
/* Calls visit for every drop counter that fired. */
int datapath_drop_for_each(struct datapath *datapath,
			   void (*visit)(const struct weir_drop_key *key, uint64_t packets,
					 uint64_t bytes, void *context),
			   void *context);
/* ---- services ---- */
struct service_backend {
	uint32_t address; /* host byte order */
	uint16_t port;	  /* host byte order */
	uint32_t backend_id;
};

/* The Maglev table: for each of WEIR_MAGLEV_SIZE slots, an index into backends (pure). Each
 * backend's permutation comes from its address and port, so the table depends only on the set
 * of backends, not their order, and a change moves few slots. */
void maglev_populate(const struct service_backend *backends, size_t count, uint32_t *table);

/* affinity_seconds > 0: sessionAffinity ClientIP with that timeout. Writes backends, then the Maglev table, then the service entry, so a packet never finds a
 * service whose table points nowhere. count 0 keeps the service (clients are refused at once). */
int datapath_service_write(struct datapath *datapath, uint32_t vip, uint16_t port, uint8_t protocol,
			   uint32_t service_id, const struct service_backend *backends,
			   size_t count, uint32_t affinity_seconds, char *errbuf, size_t errlen);
/* Removes the service entry first, then its table. */
int datapath_service_delete(struct datapath *datapath, uint32_t vip, uint16_t port,
			    uint8_t protocol, uint32_t service_id);
int datapath_backend_delete(struct datapath *datapath, uint32_t backend_id);

/* Counts ct entries. */
int datapath_ct_count(struct datapath *datapath, uint32_t *count);

#endif
