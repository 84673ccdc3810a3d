/* Writing policy and ipcache state. Port ranges become LPM prefixes here (a pure
 * computation, unit-tested); every write names the entry it failed on. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "datapath.h"

int datapath_ipcache_upsert(struct datapath *datapath, uint32_t ipv4, unsigned prefix_length,
			    uint32_t identity, char *errbuf, size_t errlen)
{
	return datapath_ipcache_upsert_address(datapath, ipv4, prefix_length, identity, 0, errbuf,
					       errlen);
}

int datapath_ipcache_upsert_address(struct datapath *datapath, uint32_t ipv4,
				    unsigned prefix_length, uint32_t identity,
				    uint32_t address_identity, char *errbuf, size_t errlen)
{
	struct weir_ipcache_key key = { .prefix_length = prefix_length, .ipv4 = htonl(ipv4) };
	struct weir_ipcache_entry entry = { .identity = identity,
					    .address_identity = address_identity };
	char text[16];

	if (prefix_length > 32) {
		snprintf(errbuf, errlen, "ipcache prefix length %u is over 32", prefix_length);
		return -EINVAL;
	}
	if (bpf_map_update_elem(datapath->ipcache_fd, &key, &entry, BPF_ANY) < 0) {
		int err = -errno;
		snprintf(errbuf, errlen, "write ipcache %s/%u -> %u: %s",
			 inet_ntop(AF_INET, &key.ipv4, text, sizeof(text)), prefix_length, identity,
			 strerror(errno));
		return err;
	}
	return 0;
}

int datapath_ipcache_delete(struct datapath *datapath, uint32_t ipv4, unsigned prefix_length)
{
	struct weir_ipcache_key key = { .prefix_length = prefix_length, .ipv4 = htonl(ipv4) };

	if (bpf_map_delete_elem(datapath->ipcache_fd, &key) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

int port_range_prefixes(uint16_t first, uint16_t last, struct port_prefix *prefixes)
{
	uint32_t start = first, end = last;
	int count = 0;

	/* Greedy: at each start take the largest aligned block that stays inside the range. */
	while (start <= end && count < WEIR_MAX_PORT_PREFIXES) {
		uint32_t size = 1;
		uint8_t length = 16;

		while (length > 0 && (start & (size * 2 - 1)) == 0 && start + size * 2 - 1 <= end) {
			size *= 2;
			length--;
		}
		prefixes[count].port = (uint16_t)start;
		prefixes[count].length = length;
		count++;
		start += size;
	}
	return count;
}

static int rule_prefixes(const struct policy_rule *rule, struct port_prefix *prefixes,
			 char *errbuf, size_t errlen)
{
	bool any_port = rule->first_port == 0 && (rule->last_port == 0 || rule->last_port == 65535);

	if (rule->direction != WEIR_DIRECTION_INGRESS && rule->direction != WEIR_DIRECTION_EGRESS) {
		snprintf(errbuf, errlen, "policy rule %u: direction %u is neither ingress nor egress",
			 rule->rule_id, rule->direction);
		return -EINVAL;
	}
	if (rule->verdict != WEIR_VERDICT_ALLOW && rule->verdict != WEIR_VERDICT_DENY) {
		snprintf(errbuf, errlen, "policy rule %u: verdict %u is neither allow nor deny",
			 rule->rule_id, rule->verdict);
		return -EINVAL;
	}
	if (any_port) {
		prefixes[0].port = 0;
		prefixes[0].length = 0;
		return 1;
	}
	if (rule->protocol == 0) {
		snprintf(errbuf, errlen, "policy rule %u: ports %u-%u need a protocol", rule->rule_id,
			 rule->first_port, rule->last_port);
		return -EINVAL;
	}
	if (rule->first_port == 0 || (rule->last_port && rule->last_port < rule->first_port)) {
		snprintf(errbuf, errlen, "policy rule %u: port range %u-%u is empty or starts at 0",
			 rule->rule_id, rule->first_port, rule->last_port);
		return -EINVAL;
	}
	return port_range_prefixes(rule->first_port,
				   rule->last_port ? rule->last_port : rule->first_port, prefixes);
}

static void policy_key_of(const struct policy_rule *rule, const struct port_prefix *prefix,
			  struct weir_policy_key *key)
{
	memset(key, 0, sizeof(*key));
	key->prefix_length = WEIR_POLICY_PREFIX_FIXED + prefix->length;
	key->endpoint_id = rule->endpoint_id;
	key->identity = rule->identity;
	key->direction = rule->direction;
	key->protocol = rule->protocol;
	key->port = htons(prefix->port);
}

int datapath_policy_write(struct datapath *datapath, const struct policy_rule *rule, char *errbuf,
			  size_t errlen)
{
	struct port_prefix prefixes[WEIR_MAX_PORT_PREFIXES];
	struct weir_policy_entry entry = { .verdict = rule->verdict, .rule_id = rule->rule_id };
	int count = rule_prefixes(rule, prefixes, errbuf, errlen);

	if (count < 0)
		return count;
	for (int i = 0; i < count; i++) {
		struct weir_policy_key key;

		policy_key_of(rule, &prefixes[i], &key);
		if (bpf_map_update_elem(datapath->policy_fd, &key, &entry, BPF_ANY) < 0) {
			int err = -errno;
			snprintf(errbuf, errlen,
				 "write policy entry of rule %u (endpoint %u, port %u/%u): %s",
				 rule->rule_id, rule->endpoint_id, prefixes[i].port,
				 prefixes[i].length, strerror(errno));
			return err;
		}
	}
	return 0;
}

int datapath_policy_delete(struct datapath *datapath, const struct policy_rule *rule, char *errbuf,
			   size_t errlen)
{
	struct port_prefix prefixes[WEIR_MAX_PORT_PREFIXES];
	int count = rule_prefixes(rule, prefixes, errbuf, errlen);

	if (count < 0)
		return count;
	for (int i = 0; i < count; i++) {
		struct weir_policy_key key;

		policy_key_of(rule, &prefixes[i], &key);
		if (bpf_map_delete_elem(datapath->policy_fd, &key) < 0 && errno != ENOENT) {
			int err = -errno;
			snprintf(errbuf, errlen, "delete policy entry of rule %u: %s", rule->rule_id,
				 strerror(errno));
			return err;
		}
	}
	return 0;
}

int datapath_endpoint_policy_set(struct datapath *datapath, uint32_t endpoint_id,
				 uint32_t ingress_isolation_rule, uint32_t egress_isolation_rule,
				 char *errbuf, size_t errlen)
{
	struct weir_endpoint_policy value = { .ingress_isolation_rule = ingress_isolation_rule,
					      .egress_isolation_rule = egress_isolation_rule };

	if (!ingress_isolation_rule && !egress_isolation_rule) {
		if (bpf_map_delete_elem(datapath->endpoint_policy_fd, &endpoint_id) < 0 &&
		    errno != ENOENT) {
			int err = -errno;
			snprintf(errbuf, errlen, "clear policy of endpoint %u: %s", endpoint_id,
				 strerror(errno));
			return err;
		}
		return 0;
	}
	if (bpf_map_update_elem(datapath->endpoint_policy_fd, &endpoint_id, &value, BPF_ANY) < 0) {
		int err = -errno;
		snprintf(errbuf, errlen, "isolate endpoint %u: %s", endpoint_id, strerror(errno));
		return err;
	}
	return 0;
}

int64_t datapath_policy_revision_bump(struct datapath *datapath)
{
	uint32_t zero = 0, revision = 0;

	if (bpf_map_lookup_elem(datapath->policy_revision_fd, &zero, &revision) < 0)
		return -errno;
	revision++;
	if (revision == 0)
		revision = 1; /* never back to the revision of a never-judged entry */
	if (bpf_map_update_elem(datapath->policy_revision_fd, &zero, &revision, BPF_ANY) < 0)
		return -errno;
	return revision;
}

int datapath_ct_count(struct datapath *datapath, uint32_t *count)
{
	struct weir_ct_key key, next;
	void *previous = NULL;

	*count = 0;
	while (bpf_map_get_next_key(datapath->ct_fd, previous, &next) == 0) {
		(*count)++;
		key = next;
		previous = &key;
	}
	return 0;
}

static bool address_listed(uint32_t address_be, const uint32_t *addresses, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		if (htonl(addresses[i]) == address_be)
			return true;
	}
	return false;
}

int datapath_ct_forget_addresses(struct datapath *datapath, const uint32_t *addresses,
				 size_t count, char *errbuf, size_t errlen)
{
	struct weir_ct_key key, next, *doomed = NULL;
	size_t doomed_count = 0, doomed_capacity = 0;
	void *previous = NULL;
	int removed = 0;

	/* Collected first: deleting under get_next_key would restart the walk. */
	while (bpf_map_get_next_key(datapath->ct_fd, previous, &next) == 0) {
		key = next;
		previous = &key;
		if (!address_listed(key.source, addresses, count) &&
		    !address_listed(key.destination, addresses, count))
			continue;
		if (doomed_count == doomed_capacity) {
			size_t capacity = doomed_capacity ? doomed_capacity * 2 : 64;
			struct weir_ct_key *grown = realloc(doomed, capacity * sizeof(*grown));
			if (!grown) {
				free(doomed);
				snprintf(errbuf, errlen, "forget conntrack entries: out of memory");
				return -ENOMEM;
			}
			doomed = grown;
			doomed_capacity = capacity;
		}
		doomed[doomed_count++] = key;
	}
	for (size_t i = 0; i < doomed_count; i++) {
		if (bpf_map_delete_elem(datapath->ct_fd, &doomed[i]) == 0)
			removed++;
	}
	free(doomed);
	return removed;
}
