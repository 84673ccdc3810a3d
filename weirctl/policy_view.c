/* An LPM lookup from userspace returns the value of the longest match but not which prefix
 * matched; to name a port range the matching key is found again by scanning the endpoint's
 * entries for the longest prefix that covers the port. */
#include "policy_view.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>

#include "output.h"

static unsigned port_bits(const struct weir_policy_key *key)
{
	return key->prefix_length > WEIR_POLICY_PREFIX_FIXED
		   ? key->prefix_length - WEIR_POLICY_PREFIX_FIXED
		   : 0;
}

static uint32_t last_port(const struct weir_policy_key *key)
{
	return ntohs(key->port) + (1u << (16 - port_bits(key))) - 1;
}

void policy_ports_words(const struct weir_policy_key *key, char *out, size_t size)
{
	unsigned bits = port_bits(key);

	if (key->protocol == 0)
		snprintf(out, size, "any protocol, any port");
	else if (bits == 0)
		snprintf(out, size, "%s any port", protocol_name(key->protocol));
	else if (bits == 16)
		snprintf(out, size, "%s %u", protocol_name(key->protocol), ntohs(key->port));
	else
		snprintf(out, size, "%s %u-%u", protocol_name(key->protocol), ntohs(key->port),
			 last_port(key));
}

void policy_ports_json(const struct weir_policy_key *key, cJSON *object)
{
	cJSON *ports;

	if (key->protocol)
		cJSON_AddStringToObject(object, "protocol", protocol_name(key->protocol));
	else
		cJSON_AddNullToObject(object, "protocol");
	if (key->protocol == 0 || port_bits(key) == 0) {
		cJSON_AddNullToObject(object, "ports");
		return;
	}
	ports = cJSON_AddObjectToObject(object, "ports");
	cJSON_AddNumberToObject(ports, "first", ntohs(key->port));
	cJSON_AddNumberToObject(ports, "last", last_port(key));
}

/* The stored key that an exact lookup of {identity, protocol, port} would have matched. */
static bool matching_key(struct datapath *datapath, uint32_t endpoint_id, uint8_t direction,
			 uint32_t identity, uint8_t protocol, uint16_t port,
			 struct weir_policy_key *found)
{
	struct weir_policy_key key, next;
	void *previous = NULL;
	bool matched = false;

	while (bpf_map_get_next_key(datapath->policy_fd, previous, &next) == 0) {
		key = next;
		previous = &key;
		if (next.endpoint_id != endpoint_id || next.direction != direction ||
		    next.identity != identity || next.protocol != protocol)
			continue;
		if (port_bits(&next) &&
		    (ntohs(port) < ntohs(next.port) || ntohs(port) > last_port(&next)))
			continue;
		if (!matched || next.prefix_length > found->prefix_length)
			*found = next;
		matched = true;
	}
	return matched;
}

void policy_decide(struct datapath *datapath, uint32_t endpoint_id, uint8_t direction,
		   uint32_t peer_identity, uint8_t protocol, uint16_t port,
		   struct policy_decision *decision)
{
	struct {
		uint32_t identity;
		uint8_t protocol;
		uint16_t port;
	} lookups[4] = {
	    {peer_identity, protocol, port},
	    {WEIR_IDENTITY_ANY, protocol, port},
	    {peer_identity, 0, 0},
	    {WEIR_IDENTITY_ANY, 0, 0},
	};
	struct weir_endpoint_policy isolation = {0};

	memset(decision, 0, sizeof(*decision));
	decision->allowed = true;
	if (bpf_map_lookup_elem(datapath->endpoint_policy_fd, &endpoint_id, &isolation) < 0)
		return; /* no entry: not isolated */
	decision->isolation_rule = direction == WEIR_DIRECTION_INGRESS
				       ? isolation.ingress_isolation_rule
				       : isolation.egress_isolation_rule;
	if (!decision->isolation_rule)
		return;
	for (int i = 0; i < 4; i++) {
		struct weir_policy_key key = {
		    .prefix_length = WEIR_POLICY_PREFIX_FIXED + 16,
		    .endpoint_id = endpoint_id,
		    .identity = lookups[i].identity,
		    .direction = direction,
		    .protocol = lookups[i].protocol,
		    .port = lookups[i].port,
		};
		if (bpf_map_lookup_elem(datapath->policy_fd, &key, &decision->entry) < 0)
			continue;
		decision->step = (enum policy_step)(POLICY_STEP_PEER_PORT + i);
		decision->allowed = decision->entry.verdict == WEIR_VERDICT_ALLOW;
		decision->rule_id = decision->entry.rule_id;
		if (!matching_key(datapath, endpoint_id, direction, lookups[i].identity,
				  lookups[i].protocol, lookups[i].port, &decision->key))
			decision->key = key;
		return;
	}
	decision->step = POLICY_STEP_DEFAULT_DENY;
	decision->allowed = false;
	decision->rule_id = decision->isolation_rule;
}

struct policy_pair {
	struct weir_policy_key key;
	struct weir_policy_entry entry;
};

static int by_peer_protocol_port(const void *left, const void *right)
{
	const struct weir_policy_key *a = &((const struct policy_pair *)left)->key;
	const struct weir_policy_key *b = &((const struct policy_pair *)right)->key;

	if (a->identity != b->identity)
		return a->identity < b->identity ? -1 : 1;
	if (a->protocol != b->protocol)
		return a->protocol < b->protocol ? -1 : 1;
	if (a->port != b->port)
		return ntohs(a->port) < ntohs(b->port) ? -1 : 1;
	return (int)a->prefix_length - (int)b->prefix_length;
}

size_t policy_entries_of(struct datapath *datapath, uint32_t endpoint_id, uint8_t direction,
			 struct weir_policy_key **keys, struct weir_policy_entry **entries)
{
	struct policy_pair *pairs = NULL;
	struct weir_policy_key key, next;
	void *previous = NULL;
	size_t count = 0;

	*keys = NULL;
	*entries = NULL;
	while (bpf_map_get_next_key(datapath->policy_fd, previous, &next) == 0) {
		struct policy_pair pair = {.key = next};
		key = next;
		previous = &key;
		if (next.endpoint_id == endpoint_id && next.direction == direction &&
		    bpf_map_lookup_elem(datapath->policy_fd, &next, &pair.entry) == 0) {
			struct policy_pair *grown = realloc(pairs, (count + 1) * sizeof(*pairs));
			if (!grown)
				break;
			pairs = grown;
			pairs[count++] = pair;
		}
	}
	qsort(pairs, count, sizeof(*pairs), by_peer_protocol_port);
	*keys = calloc(count ? count : 1, sizeof(**keys));
	*entries = calloc(count ? count : 1, sizeof(**entries));
	if (!*keys || !*entries) {
		free(*keys);
		free(*entries);
		*keys = NULL;
		*entries = NULL;
		free(pairs);
		return 0;
	}
	for (size_t i = 0; i < count; i++) {
		(*keys)[i] = pairs[i].key;
		(*entries)[i] = pairs[i].entry;
	}
	free(pairs);
	return count;
}
