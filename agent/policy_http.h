/* The HTTP part of a WeirNetworkPolicy: the `http` list of an ingress port rule read into
 * datapath matchers, and merged sets made canonical so equal sets get one rule id. Pure. */
#ifndef WEIR_AGENT_POLICY_HTTP_H
#define WEIR_AGENT_POLICY_HTTP_H

#include <stddef.h>

#include <cJSON.h>

#include "abi.h"

struct http_matchers {
	struct weir_http_rule rules[WEIR_HTTP_RULES_PER_SET];
	size_t count;
};

/* Reads a port rule's `http` value (non-NULL, not null): a non-empty list of objects with
 * optional string fields method, path and host, nothing else. Returns 0, or -1 with errbuf
 * naming the item and field ("http[1].path ..."). */
int http_matchers_parse(const cJSON *http, struct http_matchers *out, char *errbuf, size_t errlen);

/* Sorts matchers by their words and drops duplicates; returns the new count. */
size_t http_rules_canonical(struct weir_http_rule *rules, size_t count);

#endif
