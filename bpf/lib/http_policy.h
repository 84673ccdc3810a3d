/* Layer-7 rules: does any matcher of a connection's rule set allow this request? Paths compare
 * as eight masked 64-bit words, so prefix and exact rules cost the same few instructions; a
 * set that is missing or empty allows nothing (fail closed). */
#ifndef WEIR_BPF_HTTP_POLICY_H
#define WEIR_BPF_HTTP_POLICY_H

#include "maps.h"

static __always_inline int http_rule_matches(const struct weir_http_rule *rule,
					     const struct weir_http_request *request)
{
	const __u64 *path = (const __u64 *)request->path;
	const __u64 *host = (const __u64 *)request->host;

	if ((rule->match & WEIR_HTTP_MATCH_METHOD) && rule->method != request->method)
		return 0;
	if (rule->match & WEIR_HTTP_MATCH_PATH) {
#pragma unroll
		for (int i = 0; i < WEIR_HTTP_PATH_BYTES / 8; i++)
			if ((path[i] & rule->path_mask[i]) != rule->path[i])
				return 0;
		if (!(rule->match & WEIR_HTTP_MATCH_PATH_PREFIX) &&
		    (request->path_length != rule->path_length ||
		     (request->flags & WEIR_HTTP_FLAG_PATH_TRUNCATED)))
			return 0;
		if ((rule->match & WEIR_HTTP_MATCH_PATH_PREFIX) &&
		    request->path_length < rule->path_length)
			return 0;
	}
	if (rule->match & WEIR_HTTP_MATCH_HOST) {
		if (request->host_length != rule->host_length ||
		    (request->flags & WEIR_HTTP_FLAG_HOST_TRUNCATED))
			return 0;
#pragma unroll
		for (int i = 0; i < WEIR_HTTP_HOST_BYTES / 8; i++)
			if (host[i] != rule->host[i])
				return 0;
	}
	return 1;
}

static __always_inline int http_request_allowed(__u32 rule_id,
						const struct weir_http_request *request)
{
#pragma unroll
	for (__u32 index = 0; index < WEIR_HTTP_RULES_PER_SET; index++) {
		struct weir_http_rule_key key = { .rule_id = rule_id, .index = index };
		struct weir_http_rule *rule = bpf_map_lookup_elem(&http_rules, &key);

		if (!rule)
			return 0;
		if (http_rule_matches(rule, request))
			return 1;
	}
	return 0;
}

#endif
