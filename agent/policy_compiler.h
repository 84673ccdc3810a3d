/* The NetworkPolicy compiler: Kubernetes objects in, flat datapath entries out. Pure: it reads
 * the object store and id tables and writes nothing to the kernel, so it is unit-testable.
 * WeirNetworkPolicy is compiled by the same code; its HTTP matchers become rule sets that
 * policy entries flagged WEIR_POLICY_FLAG_HTTP name by rule id. */
#ifndef WEIR_AGENT_POLICY_COMPILER_H
#define WEIR_AGENT_POLICY_COMPILER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "abi.h"
#include "cidr.h"
#include "id_table.h"
#include "object_store.h"

struct policy_map_entry {
	struct weir_policy_key key;
	struct weir_policy_entry value;
};

/* One HTTP rule set: the http_rules entries {rule_id, 0..count-1}. */
struct http_rule_set {
	uint32_t rule_id; /* its key in the rule table: "policy ns/a, ns/b (HTTP: ...)" */
	uint32_t count;
	struct weir_http_rule rules[WEIR_HTTP_RULES_PER_SET];
};

/* What one local endpoint should have in the maps. */
struct compiled_endpoint {
	uint32_t endpoint_id;
	uint32_t ingress_isolation_rule; /* 0: not isolated */
	uint32_t egress_isolation_rule;
	struct policy_map_entry *entries; /* sorted by key, unique */
	size_t count;
	size_t capacity;
	struct http_rule_set *http_sets; /* the sets its HTTP entries name; sorted by rule id */
	size_t http_set_count;
	size_t http_set_capacity;
	/* Input the compiler refused, in words naming the policy ("WeirNetworkPolicy ns/name:
	 * spec.ingress[0].ports[0].http[1]: ..."). What was refused allows nothing. */
	char **problems;
	size_t problem_count;
};

struct compiler_tables {
	struct id_table *identities;	  /* label sets -> identities */
	struct id_table *cidr_identities; /* CIDRs -> CIDR identities */
	struct id_table *rules;		  /* "policy ns/name" and isolation sets -> rule ids */
	/* CIDRs the ipcache refused this pass (full): an ipBlock naming one (as cidr or except)
	 * would lean on a prefix the datapath lacks, so it allows nothing. */
	const struct ipv4_prefix *refused_cidrs;
	size_t refused_cidr_count;
};

/* The identity key of a pod: its namespace, the namespace's labels and its own labels,
 * canonical (sorted), so equal sets share one identity. */
char *pod_identity_key(struct object_store *store, const cJSON *pod);
/* Forgets the identities remembered during a pass (objects may change between passes). */
void pod_identity_cache_reset(void);
/* The pod's identity, allocating it in this pass; 0 when the table is full. Remembered per
 * pod object until pod_identity_cache_reset, since every peer lookup asks again. */
uint32_t pod_identity(struct object_store *store, struct id_table *identities, const cJSON *pod);
/* The same; *out_of_memory says whether a 0 came from a failed allocation rather than a full
 * table (the caller then fails instead of compiling "nobody"). */
uint32_t pod_identity_checked(struct object_store *store, struct id_table *identities,
			      const cJSON *pod, bool *out_of_memory);

/* The pod's IPv4 addresses from status.podIPs / status.podIP (host byte order). */
size_t pod_addresses(const cJSON *pod, uint32_t *addresses, size_t capacity);

/* Marks every ipBlock CIDR (and except) of every policy (of both kinds) in the CIDR table, and
 * the /32 of every pod and node address inside an ipBlock (pods' status and local_addresses,
 * the CNI's records of local pods), so the ipcache and all rules see the same set of known
 * CIDRs. *digest changes when the set does. -1 when out of memory: addresses may then lack
 * their /32, which ipBlocks then simply do not match (fail closed). */
int compiler_mark_cidrs(struct object_store *store, struct id_table *cidr_identities,
			const uint32_t *local_addresses, size_t local_count, uint64_t *digest);

/* The first policy whose ipBlock names prefix (as cidr or except), as "Kind ns/name". */
bool compiler_policy_naming_cidr(struct object_store *store, const struct ipv4_prefix *prefix,
				 char *name, size_t size);

/* Compiles the endpoint of pod (NULL: unknown pod, nothing selects it). */
int compile_endpoint(struct object_store *store, struct compiler_tables *tables,
		     const char *node_name, uint32_t endpoint_id, const cJSON *pod,
		     struct compiled_endpoint *out, char *errbuf, size_t errlen);
void compiled_endpoint_reset(struct compiled_endpoint *compiled);
/* Whether any policy selects the pod (an isolated pod is affected by every pod change). */
bool compiled_endpoint_isolated(const struct compiled_endpoint *compiled);

#endif
