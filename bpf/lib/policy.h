/* Policy decisions for one endpoint and direction. The lookup order is the ABI's (abi.h):
 * peer-specific before wildcard peer, protocol-specific before any protocol, and within those
 * the longest port prefix. A direction no policy selects allows everything; an isolated
 * direction denies what no entry allows and names the isolating rule. */
#ifndef WEIR_BPF_POLICY_H
#define WEIR_BPF_POLICY_H

#include "identity.h"
#include "maps.h"

struct policy_verdict {
	__u8 allowed;
	__u8 http; /* allowed at L4, with HTTP matchers for every request (rule_id names them) */
	__u32 rule_id;
};

static __always_inline struct weir_policy_entry *policy_lookup(__u32 endpoint_id, __u8 direction,
							       __u32 identity, __u8 protocol,
							       __u16 port)
{
	struct weir_policy_key key = {
		.prefix_length = WEIR_POLICY_PREFIX_FIXED + 16,
		.endpoint_id = endpoint_id,
		.identity = identity,
		.direction = direction,
		.protocol = protocol,
		.port = port,
	};

	return bpf_map_lookup_elem(&policy, &key);
}

/* The entry that decides for one peer identity, in the ABI's lookup order; NULL: none. */
static __always_inline struct weir_policy_entry *policy_find(__u32 endpoint_id, __u8 direction,
							     __u32 identity, __u8 protocol,
							     __u16 port)
{
	struct weir_policy_entry *entry;

	entry = policy_lookup(endpoint_id, direction, identity, protocol, port);
	if (!entry)
		entry = policy_lookup(endpoint_id, direction, WEIR_IDENTITY_ANY, protocol, port);
	if (!entry)
		entry = policy_lookup(endpoint_id, direction, identity, 0, 0);
	if (!entry)
		entry = policy_lookup(endpoint_id, direction, WEIR_IDENTITY_ANY, 0, 0);
	return entry;
}

static __always_inline int policy_entry_plain_allow(const struct weir_policy_entry *entry)
{
	return entry && entry->verdict == WEIR_VERDICT_ALLOW && !(entry->flags & WEIR_POLICY_FLAG_HTTP);
}

/* A peer is judged by its identity and, when an ipBlock names its address, by its address
 * identity too: allowed when either is, a plain allow before an HTTP one. (Two HTTP allows are
 * not merged: the identity's rule set judges, which can only allow less.) */
static __always_inline struct policy_verdict policy_judge(__u32 endpoint_id, __u8 direction,
							  struct peer peer, __u8 protocol,
							  __u16 port)
{
	struct policy_verdict verdict = { .allowed = 1 };
	struct weir_endpoint_policy *mode = bpf_map_lookup_elem(&endpoint_policy, &endpoint_id);
	struct weir_policy_entry *entry, *by_address;
	__u32 isolation_rule;

	if (!mode)
		return verdict;
	isolation_rule = direction == WEIR_DIRECTION_INGRESS ? mode->ingress_isolation_rule
							     : mode->egress_isolation_rule;
	if (!isolation_rule)
		return verdict;

	entry = policy_find(endpoint_id, direction, peer.identity, protocol, port);
	if (peer.address_identity && !policy_entry_plain_allow(entry)) {
		by_address =
			policy_find(endpoint_id, direction, peer.address_identity, protocol, port);
		if (by_address && by_address->verdict == WEIR_VERDICT_ALLOW &&
		    (!entry || entry->verdict != WEIR_VERDICT_ALLOW ||
		     policy_entry_plain_allow(by_address)))
			entry = by_address;
	}
	if (!entry) {
		verdict.allowed = 0;
		verdict.rule_id = isolation_rule;
		return verdict;
	}
	verdict.allowed = entry->verdict == WEIR_VERDICT_ALLOW;
	verdict.http = verdict.allowed && (entry->flags & WEIR_POLICY_FLAG_HTTP);
	verdict.rule_id = entry->rule_id;
	return verdict;
}

static __always_inline __u32 policy_current_revision(void)
{
	__u32 zero = 0;
	__u32 *revision = bpf_map_lookup_elem(&policy_revision, &zero);

	return revision ? *revision : 0;
}

#endif
