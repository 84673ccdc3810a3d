/* The policy map read the way the datapath reads it. policy_decide repeats bpf/lib/policy.h's
 * lookups in the same order ({peer, protocol, port}, {any peer, protocol, port}, {peer, any
 * protocol}, {any peer, any protocol}) and says which one decided, so `trace` can explain a
 * verdict and `policy` can list the entries in the same words. */
#ifndef WEIR_WEIRCTL_POLICY_VIEW_H
#define WEIR_WEIRCTL_POLICY_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

#include "datapath.h"

enum policy_step {
	POLICY_STEP_NOT_ISOLATED = 0, /* no policy selects the endpoint in this direction */
	POLICY_STEP_PEER_PORT,	      /* 1: {peer identity, protocol, port} */
	POLICY_STEP_ANY_PEER_PORT,    /* 2: {any identity, protocol, port} */
	POLICY_STEP_PEER_ANY,	      /* 3: {peer identity, any protocol} */
	POLICY_STEP_ANY_PEER_ANY,     /* 4: {any identity, any protocol} */
	POLICY_STEP_DEFAULT_DENY,     /* isolated and no entry matched */
};

struct policy_decision {
	bool allowed;
	enum policy_step step;
	uint32_t rule_id;	    /* the deciding entry's rule, or the isolation rule */
	uint32_t isolation_rule;    /* 0: not isolated */
	struct weir_policy_key key; /* the entry that matched (its real prefix), when one did */
	struct weir_policy_entry entry;
};

/* port: network byte order (0 for ICMP, as the datapath judges it). */
void policy_decide(struct datapath *datapath, uint32_t endpoint_id, uint8_t direction,
		   uint32_t peer_identity, uint8_t protocol, uint16_t port,
		   struct policy_decision *decision);

/* "TCP 8080", "TCP 8000-8063", "TCP any port", "any protocol, any port" */
void policy_ports_words(const struct weir_policy_key *key, char *out, size_t size);
/* Adds "protocol" (name or null) and "ports" ({"first","last"} or null for any port). */
void policy_ports_json(const struct weir_policy_key *key, cJSON *object);

/* Every entry of one endpoint and direction, sorted (peer, protocol, port). The caller frees
 * *keys and *entries. Returns the count (0 when out of memory too). */
size_t policy_entries_of(struct datapath *datapath, uint32_t endpoint_id, uint8_t direction,
			 struct weir_policy_key **keys, struct weir_policy_entry **entries);

#endif
