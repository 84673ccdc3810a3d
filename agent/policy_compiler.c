/* NetworkPolicy v1 compiled per local endpoint. For the pod of an endpoint, every policy of its
 * namespace whose podSelector matches isolates the directions of its policyTypes; each rule
 * becomes allow entries {peer identity, protocol, port prefix}. Peers: podSelector and/or
 * namespaceSelector (ANDed within one peer, ORed across peers) resolve to the identities of the
 * pods they select; ipBlock resolves to the CIDR identities inside it and outside its excepts,
 * the /32 identities of the pod and node addresses among them (by address, never by label),
 * plus world for 0.0.0.0/0. Named ports
 * resolve against the destination pod's container ports.
 *
 * WeirNetworkPolicy is the same, plus `http` matchers on ingress port rules. Policies add up:
 * traffic any rule allows plainly is allowed plainly, traffic only HTTP rules allow must pass
 * one of all their matchers. Entries are first collected as pending (plain, or a list of HTTP
 * sources), then merged so the one entry the datapath's lookup picks for a packet carries that
 * union (see http_union below), and only then turned into map entries and rule sets. */
#include "policy_compiler.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cidr.h"
#include "datapath.h"
#include "http_rules.h"
#include "label_selector.h"
#include "policy_http.h"

/* ---- identities ---------------------------------------------------------------------------- */

static int compare_strings(const void *left, const void *right)
{
	return strcmp(*(char *const *)left, *(char *const *)right);
}

/* Appends "prefix key=value\n" for every label, sorted. */
static int append_labels(char **buffer, size_t *length, size_t *capacity, const cJSON *labels,
			 const char *prefix)
{
	size_t count = (size_t)cJSON_GetArraySize(labels), index = 0;
	char **lines;
	const cJSON *label;
	int result = 0;

	if (!cJSON_IsObject(labels) || count == 0)
		return 0; /* labels that are not a map (hostile input) are no labels */
	lines = calloc(count, sizeof(*lines));
	if (!lines)
		return -1;
	cJSON_ArrayForEach(label, labels)
	{
		if (!cJSON_IsString(label) || index >= count)
			continue;
		size_t size = strlen(prefix) + strlen(label->string) + strlen(label->valuestring) + 3;
		lines[index] = malloc(size);
		if (!lines[index]) {
			result = -1;
			break;
		}
		snprintf(lines[index], size, "%s%s=%s\n", prefix, label->string, label->valuestring);
		index++;
	}
	qsort(lines, index, sizeof(*lines), compare_strings);
	for (size_t i = 0; i < index && result == 0; i++) {
		size_t add = strlen(lines[i]);
		if (*length + add + 1 > *capacity) {
			size_t grown_size = (*capacity + add + 1) * 2;
			char *grown = realloc(*buffer, grown_size);
			if (!grown) {
				result = -1;
				break;
			}
			*buffer = grown;
			*capacity = grown_size;
		}
		memcpy(*buffer + *length, lines[i], add + 1);
		*length += add;
	}
	for (size_t i = 0; i < count; i++)
		free(lines[i]);
	free(lines);
	return result;
}

char *pod_identity_key(struct object_store *store, const cJSON *pod)
{
	const char *name_space = object_namespace(pod);
	cJSON *namespace_object = object_store_get(store, KIND_NAMESPACE, "", name_space);
	size_t capacity = strlen(name_space) + 64, length;
	char *key = malloc(capacity);

	if (!key)
		return NULL;
	length = (size_t)snprintf(key, capacity, "namespace=%s\n", name_space);
	if (append_labels(&key, &length, &capacity,
			  namespace_object ? object_child(namespace_object, "metadata.labels")
					   : NULL,
			  "namespace-label:") < 0 ||
	    append_labels(&key, &length, &capacity, object_child(pod, "metadata.labels"), "") < 0) {
		free(key);
		return NULL;
	}
	return key;
}

#define IDENTITY_CACHE_BUCKETS 16384

struct cached_identity {
	struct cached_identity *next;
	const cJSON *pod;
	const struct id_table *table;
	uint32_t identity;
};

static struct cached_identity *identity_cache[IDENTITY_CACHE_BUCKETS];

void pod_identity_cache_reset(void)
{
	for (size_t i = 0; i < IDENTITY_CACHE_BUCKETS; i++) {
		while (identity_cache[i]) {
			struct cached_identity *next = identity_cache[i]->next;
			free(identity_cache[i]);
			identity_cache[i] = next;
		}
	}
}

uint32_t pod_identity_checked(struct object_store *store, struct id_table *identities,
			      const cJSON *pod, bool *out_of_memory)
{
	size_t bucket = ((uintptr_t)pod >> 4) % IDENTITY_CACHE_BUCKETS;
	struct cached_identity *cached;
	char *key;
	uint32_t identity;

	*out_of_memory = false;
	for (cached = identity_cache[bucket]; cached; cached = cached->next) {
		if (cached->pod == pod && cached->table == identities)
			return cached->identity;
	}
	key = pod_identity_key(store, pod);
	identity = key ? id_table_use(identities, key) : 0;
	if (!identity && (!key || id_table_has_room(identities)))
		*out_of_memory = true;
	free(key);
	cached = malloc(sizeof(*cached));
	if (cached && identity) {
		cached->pod = pod;
		cached->table = identities;
		cached->identity = identity;
		cached->next = identity_cache[bucket];
		identity_cache[bucket] = cached;
	} else {
		free(cached);
	}
	return identity;
}

uint32_t pod_identity(struct object_store *store, struct id_table *identities, const cJSON *pod)
{
	bool out_of_memory;

	return pod_identity_checked(store, identities, pod, &out_of_memory);
}

size_t pod_addresses(const cJSON *pod, uint32_t *addresses, size_t capacity)
{
	const cJSON *pod_ips = object_child(pod, "status.podIPs"), *item;
	const char *single = object_string(pod, "status.podIP");
	size_t count = 0;

	cJSON_ArrayForEach(item, pod_ips)
	{
		const cJSON *ip = cJSON_GetObjectItemCaseSensitive(item, "ip");
		uint32_t address;
		if (count < capacity && cJSON_IsString(ip) &&
		    ipv4_address_parse(ip->valuestring, &address) == 0)
			addresses[count++] = address;
	}
	if (count == 0 && single && capacity > 0 && ipv4_address_parse(single, &addresses[0]) == 0)
		count = 1;
	return count;
}

/* ---- CIDRs ----------------------------------------------------------------------------------- */

struct cidr_marking {
	struct id_table *table;
	uint64_t digest;
	struct ipv4_prefix *blocks; /* every ipBlock cidr (not except): what covers addresses */
	size_t block_count, block_capacity;
	bool out_of_memory;
};

static void mark_prefix(struct cidr_marking *marking, const struct ipv4_prefix *prefix)
{
	char canonical[24], address[16];

	snprintf(canonical, sizeof(canonical), "%s/%u",
		 ipv4_address_format(prefix->network, address), prefix->length);
	marking->digest = (marking->digest ^ id_table_use(marking->table, canonical)) * 1099511628211ull +
			  prefix->network + prefix->length;
}

static void mark_cidr_text(struct cidr_marking *marking, const char *text, bool block)
{
	struct ipv4_prefix prefix;
	char errbuf[128];

	if (!text || ipv4_prefix_parse(text, &prefix, errbuf, sizeof(errbuf)) < 0)
		return;
	if (block) {
		if (marking->block_count == marking->block_capacity) {
			size_t capacity = marking->block_capacity ? marking->block_capacity * 2 : 16;
			struct ipv4_prefix *grown =
				realloc(marking->blocks, capacity * sizeof(*grown));
			if (!grown) {
				marking->out_of_memory = true;
				return;
			}
			marking->blocks = grown;
			marking->block_capacity = capacity;
		}
		marking->blocks[marking->block_count++] = prefix;
	}
	if (prefix.length > 0) /* 0.0.0.0/0 is the ipcache's default, never an entry */
		mark_prefix(marking, &prefix);
}

/* An address of a pod or node inside some ipBlock gets a /32 CIDR identity of its own: an
 * ipBlock matches it by that address, never by the label identity it shares with others. */
static void mark_address(struct cidr_marking *marking, uint32_t address)
{
	for (size_t i = 0; i < marking->block_count; i++) {
		if (ipv4_prefix_contains(&marking->blocks[i], address)) {
			struct ipv4_prefix single = { .network = address, .length = 32 };
			mark_prefix(marking, &single);
			return;
		}
	}
}

static void mark_pod_addresses(cJSON *pod, void *opaque)
{
	uint32_t addresses[4];
	size_t count = pod_addresses(pod, addresses, 4);

	for (size_t i = 0; i < count; i++)
		mark_address(opaque, addresses[i]);
}

static void mark_node_addresses(cJSON *node, void *opaque)
{
	const cJSON *address;

	cJSON_ArrayForEach(address, object_child(node, "status.addresses"))
	{
		const char *text = object_string(address, "address");
		uint32_t value;
		if (text && ipv4_address_parse(text, &value) == 0)
			mark_address(opaque, value);
	}
}

static void mark_policy_cidrs(cJSON *policy, void *opaque)
{
	const char *directions[2] = { "spec.ingress", "spec.egress" };
	const char *peer_fields[2] = { "from", "to" };

	for (int d = 0; d < 2; d++) {
		const cJSON *rule;
		cJSON_ArrayForEach(rule, object_child(policy, directions[d]))
		{
			const cJSON *peer;
			cJSON_ArrayForEach(peer, cJSON_GetObjectItemCaseSensitive(rule, peer_fields[d]))
			{
				const cJSON *block = cJSON_GetObjectItemCaseSensitive(peer, "ipBlock");
				const cJSON *except;
				if (!block)
					continue;
				mark_cidr_text(opaque, object_string(block, "cidr"), true);
				cJSON_ArrayForEach(except, cJSON_GetObjectItemCaseSensitive(block, "except"))
					mark_cidr_text(opaque,
						       cJSON_IsString(except) ? except->valuestring
									      : NULL,
						       false);
			}
		}
	}
}

int compiler_mark_cidrs(struct object_store *store, struct id_table *cidr_identities,
			const uint32_t *local_addresses, size_t local_count, uint64_t *digest)
{
	struct cidr_marking marking = { .table = cidr_identities,
					.digest = 1469598103934665603ull };

	object_store_for_each(store, KIND_NETWORKPOLICY, mark_policy_cidrs, &marking);
	object_store_for_each(store, KIND_WEIRNETWORKPOLICY, mark_policy_cidrs, &marking);
	object_store_for_each(store, KIND_POD, mark_pod_addresses, &marking);
	object_store_for_each(store, KIND_NODE, mark_node_addresses, &marking);
	for (size_t i = 0; i < local_count; i++)
		mark_address(&marking, local_addresses[i]);
	free(marking.blocks);
	*digest = marking.digest;
	return marking.out_of_memory ? -1 : 0;
}

struct cidr_naming {
	const struct ipv4_prefix *prefix;
	char *name;
	size_t size;
	bool found;
};

static bool text_names_prefix(const char *text, const struct ipv4_prefix *prefix)
{
	struct ipv4_prefix parsed;
	char errbuf[64];

	return text && ipv4_prefix_parse(text, &parsed, errbuf, sizeof(errbuf)) == 0 &&
	       parsed.network == prefix->network && parsed.length == prefix->length;
}

static void find_policy_naming(cJSON *policy, void *opaque)
{
	struct cidr_naming *naming = opaque;
	const char *directions[2] = { "spec.ingress", "spec.egress" };
	const char *peer_fields[2] = { "from", "to" };

	for (int d = 0; d < 2 && !naming->found; d++) {
		const cJSON *rule, *peer, *except;
		cJSON_ArrayForEach(rule, object_child(policy, directions[d]))
		{
			cJSON_ArrayForEach(peer, cJSON_GetObjectItemCaseSensitive(rule, peer_fields[d]))
			{
				const cJSON *block = cJSON_GetObjectItemCaseSensitive(peer, "ipBlock");
				bool named = block && text_names_prefix(object_string(block, "cidr"),
									naming->prefix);
				cJSON_ArrayForEach(except,
						   cJSON_GetObjectItemCaseSensitive(block, "except"))
					named |= cJSON_IsString(except) &&
						 text_names_prefix(except->valuestring, naming->prefix);
				if (named && !naming->found) {
					naming->found = true;
					snprintf(naming->name, naming->size, "%s %s/%s",
						 object_string(policy, "kind") ? object_string(policy, "kind")
									       : "policy",
						 object_namespace(policy), object_name(policy));
				}
			}
		}
	}
}

bool compiler_policy_naming_cidr(struct object_store *store, const struct ipv4_prefix *prefix,
				 char *name, size_t size)
{
	struct cidr_naming naming = { prefix, name, size, false };

	object_store_for_each(store, KIND_NETWORKPOLICY, find_policy_naming, &naming);
	if (!naming.found)
		object_store_for_each(store, KIND_WEIRNETWORKPOLICY, find_policy_naming, &naming);
	return naming.found;
}

static bool prefix_within(const struct ipv4_prefix *inner, const struct ipv4_prefix *outer)
{
	return inner->length >= outer->length && ipv4_prefix_contains(outer, inner->network);
}

/* ---- compilation ------------------------------------------------------------------------- */

struct target {
	uint32_t identity;
	const cJSON *pod; /* the selected pod, for named ports; NULL for CIDRs and wildcards */
};

struct target_list {
	struct target *items;
	size_t count, capacity;
	bool failed;	    /* a peer could not be resolved: the rule allows nothing */
	bool out_of_memory; /* ... for want of memory: the compilation fails */
};

static void target_add(struct target_list *list, uint32_t identity, const cJSON *pod)
{
	if (list->count == list->capacity) {
		size_t capacity = list->capacity ? list->capacity * 2 : 16;
		struct target *grown = realloc(list->items, capacity * sizeof(*grown));
		if (!grown) {
			list->failed = list->out_of_memory = true;
			return;
		}
		list->items = grown;
		list->capacity = capacity;
	}
	list->items[list->count].identity = identity;
	list->items[list->count].pod = pod;
	list->count++;
}

/* A selected pod as a peer. A pod without an identity (the table is exhausted) must never
 * become WEIR_IDENTITY_ANY, "every peer": the rule then allows nothing (fail closed). */
static void target_add_pod(struct target_list *list, struct object_store *store,
			   struct id_table *identities, const cJSON *pod)
{
	bool out_of_memory;
	uint32_t identity = pod_identity_checked(store, identities, pod, &out_of_memory);

	if (identity == WEIR_IDENTITY_ANY) {
		list->failed = true;
		list->out_of_memory |= out_of_memory;
		return;
	}
	target_add(list, identity, pod);
}

#define NO_HTTP SIZE_MAX

/* The http list of one port rule of one policy. */
struct http_source {
	char policy[600]; /* "ns/name" */
	struct http_matchers matchers;
};

/* An allow entry before the union of policies is settled. */
struct pending_entry {
	struct weir_policy_key key;
	bool plain;	  /* some rule allows it at L4 alone */
	uint32_t rule_id; /* plain: the lowest such rule id */
	size_t *sources;  /* not plain: the http sources any of which may allow a request */
	size_t source_count, source_capacity;
};

struct compile_context {
	struct object_store *store;
	struct compiler_tables *tables;
	const char *node_name;
	const cJSON *endpoint_pod;
	const char *endpoint_namespace;
	struct compiled_endpoint *out;
	char *ingress_isolators; /* "ns/a, ns/b" */
	char *egress_isolators;
	enum kube_kind policy_kind; /* of the policies being visited */
	const char *policy_name;    /* "ns/name" of the policy being compiled */
	struct pending_entry *pending;
	size_t pending_count, pending_capacity;
	struct http_source *sources;
	size_t source_count, source_capacity;
	bool failed;
	char *errbuf;
	size_t errlen;
};

/* Records refused input once; the reconciler logs it. */
static void problem_add(struct compile_context *context, const char *format, ...)
	__attribute__((format(printf, 2, 3)));

static void problem_add(struct compile_context *context, const char *format, ...)
{
	struct compiled_endpoint *out = context->out;
	char text[1024], **grown;
	va_list arguments;

	va_start(arguments, format);
	vsnprintf(text, sizeof(text), format, arguments);
	va_end(arguments);
	for (size_t i = 0; i < out->problem_count; i++) {
		if (strcmp(out->problems[i], text) == 0)
			return;
	}
	grown = realloc(out->problems, (out->problem_count + 1) * sizeof(*grown));
	if (!grown || !(grown[out->problem_count] = strdup(text))) {
		if (grown)
			out->problems = grown;
		context->failed = true;
		return;
	}
	out->problems = grown;
	out->problem_count++;
}

struct ip_block {
	struct ipv4_prefix cidr;
	struct ipv4_prefix except[32];
	size_t except_count;
};

struct block_scan {
	const struct ip_block *block;
	struct target_list *targets;
	struct compile_context *context;
};

static void block_cidr_identity(const char *key, uint32_t id, void *opaque)
{
	struct block_scan *scan = opaque;
	struct ipv4_prefix known;
	char errbuf[64];

	if (ipv4_prefix_parse(key, &known, errbuf, sizeof(errbuf)) < 0 ||
	    !prefix_within(&known, &scan->block->cidr))
		return;
	for (size_t i = 0; i < scan->block->except_count; i++) {
		if (prefix_within(&known, &scan->block->except[i]))
			return;
	}
	target_add(scan->targets, id, NULL);
}

static int resolve_ip_block(struct compile_context *context, const cJSON *json_block,
			    struct target_list *targets)
{
	struct ip_block block = { 0 };
	struct block_scan scan = { &block, targets, context };
	const cJSON *except;
	const char *cidr = object_string(json_block, "cidr");

	if (!cidr || ipv4_prefix_parse(cidr, &block.cidr, context->errbuf, context->errlen) < 0)
		return -1;
	cJSON_ArrayForEach(except, cJSON_GetObjectItemCaseSensitive(json_block, "except"))
	{
		if (!cJSON_IsString(except) || block.except_count >= 32 ||
		    ipv4_prefix_parse(except->valuestring, &block.except[block.except_count],
				      context->errbuf, context->errlen) < 0)
			return -1;
		block.except_count++;
	}
	/* The known prefixes inside the block and outside its excepts: CIDRs, and the /32 of
	 * every pod and node address inside it (compiler_mark_cidrs). Never a label identity. */
	for (size_t i = 0; i < context->tables->refused_cidr_count; i++) {
		const struct ipv4_prefix *refused = &context->tables->refused_cidrs[i];
		bool named = refused->network == block.cidr.network &&
			     refused->length == block.cidr.length;
		for (size_t e = 0; e < block.except_count && !named; e++)
			named = refused->network == block.except[e].network &&
				refused->length == block.except[e].length;
		if (named) {
			char address[16];
			problem_add(context,
				    "%s %s: ipBlock %s: the ipcache is full and refused %s/%u; this "
				    "peer allows nothing until it fits",
				    context->policy_kind == KIND_WEIRNETWORKPOLICY
					    ? "WeirNetworkPolicy"
					    : "NetworkPolicy",
				    context->policy_name, cidr,
				    ipv4_address_format(refused->network, address), refused->length);
			return 0;
		}
	}
	id_table_for_each(context->tables->cidr_identities, block_cidr_identity, &scan);
	if (block.cidr.length == 0)
		target_add(targets, WEIR_IDENTITY_WORLD, NULL);
	return 0;
}

struct selector_scan {
	struct compile_context *context;
	const cJSON *namespace_selector; /* NULL: only the policy's namespace */
	const cJSON *pod_selector;	 /* NULL: every pod of the selected namespaces */
	struct target_list *targets;
};

static void selector_pod(cJSON *pod, void *opaque)
{
	struct selector_scan *scan = opaque;
	const char *name_space = object_namespace(pod);

	if (scan->namespace_selector) {
		cJSON *namespace_object =
			object_store_get(scan->context->store, KIND_NAMESPACE, "", name_space);
		if (!namespace_object ||
		    !label_selector_matches(scan->namespace_selector,
					    object_child(namespace_object, "metadata.labels"), NULL))
			return;
	} else if (strcmp(name_space, scan->context->endpoint_namespace) != 0) {
		return;
	}
	if (scan->pod_selector &&
	    !label_selector_matches(scan->pod_selector, object_child(pod, "metadata.labels"), NULL))
		return;
	target_add_pod(scan->targets, scan->context->store, scan->context->tables->identities,
		       pod);
}

/* Peers of one rule; missing or empty: everyone. */
static int resolve_peers(struct compile_context *context, const cJSON *peers,
			 struct target_list *targets)
{
	const cJSON *peer;

	if (!peers || cJSON_GetArraySize(peers) == 0) {
		target_add(targets, WEIR_IDENTITY_ANY, NULL);
		return 0;
	}
	cJSON_ArrayForEach(peer, peers)
	{
		const cJSON *block = cJSON_GetObjectItemCaseSensitive(peer, "ipBlock");
		struct selector_scan scan = {
			context, cJSON_GetObjectItemCaseSensitive(peer, "namespaceSelector"),
			cJSON_GetObjectItemCaseSensitive(peer, "podSelector"), targets
		};

		if (block) {
			if (resolve_ip_block(context, block, targets) < 0)
				return -1;
			continue;
		}
		if (!scan.namespace_selector && !scan.pod_selector)
			continue; /* an empty peer selects nothing */
		object_store_for_each(context->store, KIND_POD, selector_pod, &scan);
	}
	return 0;
}

static uint8_t protocol_number(const cJSON *protocol, bool *known)
{
	*known = true;
	if (!protocol || !cJSON_IsString(protocol) || strcmp(protocol->valuestring, "TCP") == 0)
		return IPPROTO_TCP;
	if (strcmp(protocol->valuestring, "UDP") == 0)
		return IPPROTO_UDP;
	if (strcmp(protocol->valuestring, "SCTP") == 0)
		return IPPROTO_SCTP;
	*known = false;
	return 0;
}

/* The number of a named container port with the given protocol; 0 when the pod has none. */
static uint16_t named_port(const cJSON *pod, const char *name, uint8_t protocol)
{
	const cJSON *container, *port;

	cJSON_ArrayForEach(container, object_child(pod, "spec.containers"))
	{
		cJSON_ArrayForEach(port, cJSON_GetObjectItemCaseSensitive(container, "ports"))
		{
			const char *port_name = object_string(port, "name");
			const cJSON *number = cJSON_GetObjectItemCaseSensitive(port, "containerPort");
			bool known;
			if (port_name && strcmp(port_name, name) == 0 && cJSON_IsNumber(number) &&
			    protocol_number(cJSON_GetObjectItemCaseSensitive(port, "protocol"),
					    &known) == protocol &&
			    number->valueint > 0 && number->valueint < 65536)
				return (uint16_t)number->valueint;
		}
	}
	return 0;
}

/* ---- pending entries ------------------------------------------------------------------------ */

static void source_of_pending_add(struct compile_context *context, struct pending_entry *entry,
				  size_t source)
{
	for (size_t i = 0; i < entry->source_count; i++) {
		if (entry->sources[i] == source)
			return;
	}
	if (entry->source_count == entry->source_capacity) {
		size_t capacity = entry->source_capacity ? entry->source_capacity * 2 : 4;
		size_t *grown = realloc(entry->sources, capacity * sizeof(*grown));
		if (!grown) {
			context->failed = true;
			return;
		}
		entry->sources = grown;
		entry->source_capacity = capacity;
	}
	entry->sources[entry->source_count++] = source;
}

/* Appends a pending entry; returns its index, or SIZE_MAX when out of memory. */
static size_t pending_add(struct compile_context *context, const struct weir_policy_key *key,
			  bool plain, uint32_t rule_id)
{
	struct pending_entry *entry;

	if (context->pending_count == context->pending_capacity) {
		size_t capacity = context->pending_capacity ? context->pending_capacity * 2 : 32;
		struct pending_entry *grown = realloc(context->pending, capacity * sizeof(*grown));
		if (!grown) {
			context->failed = true;
			return SIZE_MAX;
		}
		context->pending = grown;
		context->pending_capacity = capacity;
	}
	entry = &context->pending[context->pending_count];
	memset(entry, 0, sizeof(*entry));
	entry->key = *key;
	entry->plain = plain;
	entry->rule_id = plain ? rule_id : 0;
	return context->pending_count++;
}

/* http_source: NO_HTTP for a plain allow, else an index into context->sources. */
static void entry_add(struct compile_context *context, uint8_t direction, uint32_t identity,
		      uint8_t protocol, uint16_t first_port, uint16_t last_port, uint32_t rule_id,
		      size_t http_source)
{
	struct port_prefix prefixes[WEIR_MAX_PORT_PREFIXES];
	int count;

	if (first_port == 0) {
		prefixes[0].port = 0;
		prefixes[0].length = 0;
		count = 1;
	} else {
		count = port_range_prefixes(first_port, last_port >= first_port ? last_port : first_port,
					    prefixes);
	}
	for (int i = 0; i < count; i++) {
		struct weir_policy_key key;
		size_t index;

		memset(&key, 0, sizeof(key));
		key.prefix_length = WEIR_POLICY_PREFIX_FIXED + prefixes[i].length;
		key.endpoint_id = context->out->endpoint_id;
		key.identity = identity;
		key.direction = direction;
		key.protocol = protocol;
		key.port = htons(prefixes[i].port);
		index = pending_add(context, &key, http_source == NO_HTTP, rule_id);
		if (index != SIZE_MAX && http_source != NO_HTTP)
			source_of_pending_add(context, &context->pending[index], http_source);
	}
}

struct named_everywhere {
	struct compile_context *context;
	uint8_t direction;
	const char *name;
	uint8_t protocol;
	uint32_t rule_id;
	size_t http_source;
};

static void named_port_of_every_pod(cJSON *pod, void *opaque)
{
	struct named_everywhere *scan = opaque;
	uint16_t number = named_port(pod, scan->name, scan->protocol);
	uint32_t identity;

	if (!number)
		return;
	identity = pod_identity(scan->context->store, scan->context->tables->identities, pod);
	if (identity != WEIR_IDENTITY_ANY) /* none left: this peer is not allowed (fail closed) */
		entry_add(scan->context, scan->direction, identity, scan->protocol, number, number,
			  scan->rule_id, scan->http_source);
}

/* The http list of a port rule, as a source; NO_HTTP when it has none. Returns -1 when the port
 * rule must allow nothing (what is wrong is recorded as a problem naming the policy). */
static int port_http_source(struct compile_context *context, uint8_t direction, int rule_index,
			    int port_index, const cJSON *port, uint8_t protocol, size_t *source)
{
	const cJSON *http = cJSON_GetObjectItemCaseSensitive(port, "http");
	const char *direction_name = direction == WEIR_DIRECTION_INGRESS ? "ingress" : "egress";
	const char *kind = kube_kind_name(context->policy_kind);
	struct http_source *entry;
	char problem[512];

	*source = NO_HTTP;
	if (!http || cJSON_IsNull(http))
		return 0;
	if (context->policy_kind != KIND_WEIRNETWORKPOLICY) {
		problem_add(context,
			    "%s %s: spec.%s[%d].ports[%d].http: only WeirNetworkPolicy "
			    "(weir.dev/v1alpha1) has HTTP matchers; this port rule allows nothing",
			    kind, context->policy_name, direction_name, rule_index, port_index);
		return -1;
	}
	if (direction != WEIR_DIRECTION_INGRESS) {
		problem_add(context,
			    "%s %s: spec.egress[%d].ports[%d].http: HTTP matchers are only supported "
			    "on ingress rules; this port rule allows nothing",
			    kind, context->policy_name, rule_index, port_index);
		return -1;
	}
	if (protocol != IPPROTO_TCP) {
		problem_add(context,
			    "%s %s: spec.ingress[%d].ports[%d].http: HTTP needs protocol TCP; this "
			    "port rule allows nothing",
			    kind, context->policy_name, rule_index, port_index);
		return -1;
	}
	if (context->source_count == context->source_capacity) {
		size_t capacity = context->source_capacity ? context->source_capacity * 2 : 4;
		struct http_source *grown = realloc(context->sources, capacity * sizeof(*grown));
		if (!grown) {
			context->failed = true;
			return -1;
		}
		context->sources = grown;
		context->source_capacity = capacity;
	}
	entry = &context->sources[context->source_count];
	if (http_matchers_parse(http, &entry->matchers, problem, sizeof(problem)) < 0) {
		problem_add(context, "%s %s: spec.ingress[%d].ports[%d].%s; this port rule allows "
				     "nothing",
			    kind, context->policy_name, rule_index, port_index, problem);
		return -1;
	}
	snprintf(entry->policy, sizeof(entry->policy), "%s", context->policy_name);
	*source = context->source_count++;
	return 0;
}

static void compile_rule(struct compile_context *context, uint8_t direction, int rule_index,
			 const cJSON *rule, uint32_t rule_id)
{
	const cJSON *peers = cJSON_GetObjectItemCaseSensitive(
		rule, direction == WEIR_DIRECTION_INGRESS ? "from" : "to");
	const cJSON *ports = cJSON_GetObjectItemCaseSensitive(rule, "ports"), *port;
	struct target_list targets = { 0 };
	int port_index = -1;

	if (resolve_peers(context, peers, &targets) < 0 || targets.failed) {
		/* A rule weir cannot read allows nothing: the pod stays isolated (fail closed). */
		if (targets.out_of_memory)
			context->failed = true;
		free(targets.items);
		return;
	}
	if (!ports || cJSON_GetArraySize(ports) == 0) {
		for (size_t t = 0; t < targets.count; t++)
			entry_add(context, direction, targets.items[t].identity, 0, 0, 0, rule_id,
				  NO_HTTP);
		free(targets.items);
		return;
	}
	cJSON_ArrayForEach(port, ports)
	{
		bool known;
		uint8_t protocol =
			protocol_number(cJSON_GetObjectItemCaseSensitive(port, "protocol"), &known);
		const cJSON *number = cJSON_GetObjectItemCaseSensitive(port, "port");
		const cJSON *end = cJSON_GetObjectItemCaseSensitive(port, "endPort");
		uint16_t first = 0, last = 0;
		size_t http_source;

		port_index++;
		if (!known)
			continue;
		if (port_http_source(context, direction, rule_index, port_index, port, protocol,
				     &http_source) < 0)
			continue;
		if (cJSON_IsNumber(number)) {
			if (number->valueint < 1 || number->valueint > 65535)
				continue;
			first = (uint16_t)number->valueint;
			last = first;
			if (cJSON_IsNumber(end) && end->valueint >= first && end->valueint <= 65535)
				last = (uint16_t)end->valueint;
		}
		for (size_t t = 0; t < targets.count; t++) {
			const struct target *target = &targets.items[t];
			if (!cJSON_IsString(number)) {
				entry_add(context, direction, target->identity, protocol, first, last,
					  rule_id, http_source);
				continue;
			}
			/* Named: resolved against the destination pod of the traffic. */
			const cJSON *destination =
				direction == WEIR_DIRECTION_INGRESS ? context->endpoint_pod : target->pod;
			if (destination) {
				uint16_t resolved = named_port(destination, number->valuestring, protocol);
				if (resolved)
					entry_add(context, direction, target->identity, protocol,
						  resolved, resolved, rule_id, http_source);
			} else if (target->identity == WEIR_IDENTITY_ANY) {
				struct named_everywhere scan = { context,	   direction,
								 number->valuestring, protocol,
								 rule_id,	   http_source };
				object_store_for_each(context->store, KIND_POD, named_port_of_every_pod,
						      &scan);
			}
		}
	}
	free(targets.items);
}

/* A name lost to a failed allocation would leave the pod less isolated: the compilation
 * fails instead. */
static void append_name(struct compile_context *context, char **list, const char *name)
{
	size_t old = *list ? strlen(*list) : 0;
	char *grown = realloc(*list, old + strlen(name) + 3);

	if (!grown) {
		context->failed = true;
		return;
	}
	if (old)
		strcpy(grown + old, ", ");
	else
		grown[0] = '\0';
	strcat(grown, name);
	*list = grown;
}

static bool policy_has_type(const cJSON *policy, const char *type)
{
	const cJSON *types = object_child(policy, "spec.policyTypes"), *item;

	if (!types || cJSON_GetArraySize(types) == 0) {
		/* The API's defaulting: Ingress always, Egress when there are egress rules. */
		if (strcmp(type, "Ingress") == 0)
			return true;
		return cJSON_GetArraySize(object_child(policy, "spec.egress")) > 0;
	}
	cJSON_ArrayForEach(item, types)
	{
		if (cJSON_IsString(item) && strcmp(item->valuestring, type) == 0)
			return true;
	}
	return false;
}

/* Policies are visited in table order; names are sorted later, so the result is stable. */
static void compile_policy(cJSON *policy, void *opaque)
{
	struct compile_context *context = opaque;
	const cJSON *selector = object_child(policy, "spec.podSelector"), *rule;
	const cJSON *empty_selector = NULL;
	char name[600];
	uint32_t rule_id;
	int rule_index;

	if (strcmp(object_namespace(policy), context->endpoint_namespace) != 0)
		return;
	if (!selector) {
		empty_selector = cJSON_CreateObject();
		if (!empty_selector) {
			context->failed = true; /* unknown whether it selects the pod: fail */
			return;
		}
		selector = empty_selector;
	}
	if (!label_selector_matches(selector, object_child(context->endpoint_pod, "metadata.labels"),
				    NULL)) {
		cJSON_Delete((cJSON *)empty_selector);
		return;
	}
	cJSON_Delete((cJSON *)empty_selector);
	snprintf(name, sizeof(name), "%s/%s", object_namespace(policy), object_name(policy));
	context->policy_name = name;
	{
		char key[640];
		snprintf(key, sizeof(key), "policy %s", name);
		rule_id = id_table_use(context->tables->rules, key);
	}
	if (!rule_id) {
		/* Entries must name their policy; isolation must not be lost: fail. */
		context->failed = true;
		context->policy_name = NULL;
		return;
	}
	if (policy_has_type(policy, "Ingress")) {
		append_name(context, &context->ingress_isolators, name);
		rule_index = 0;
		cJSON_ArrayForEach(rule, object_child(policy, "spec.ingress"))
			compile_rule(context, WEIR_DIRECTION_INGRESS, rule_index++, rule, rule_id);
	}
	if (policy_has_type(policy, "Egress")) {
		append_name(context, &context->egress_isolators, name);
		rule_index = 0;
		cJSON_ArrayForEach(rule, object_child(policy, "spec.egress"))
			compile_rule(context, WEIR_DIRECTION_EGRESS, rule_index++, rule, rule_id);
	}
	context->policy_name = NULL;
}

/* ---- the union of policies ------------------------------------------------------------------ */

static int compare_keys(const void *left, const void *right)
{
	return memcmp(left, right, sizeof(struct weir_policy_key));
}

/* Folds `from` into `into` (same key): plain wins, with the lowest rule id; else the sources
 * add up. */
static void pending_fold(struct compile_context *context, struct pending_entry *into,
			 const struct pending_entry *from)
{
	if (from->plain) {
		if (!into->plain || from->rule_id < into->rule_id)
			into->rule_id = from->rule_id;
		into->plain = true;
		return;
	}
	if (into->plain)
		return;
	for (size_t i = 0; i < from->source_count; i++)
		source_of_pending_add(context, into, from->sources[i]);
}

/* Sorts by key and folds entries of equal keys into one. */
static void pending_unique(struct compile_context *context)
{
	size_t kept = 0;

	if (context->pending_count == 0)
		return;
	qsort(context->pending, context->pending_count, sizeof(*context->pending), compare_keys);
	for (size_t i = 0; i < context->pending_count; i++) {
		struct pending_entry *entry = &context->pending[i];
		if (kept > 0 && compare_keys(&context->pending[kept - 1].key, &entry->key) == 0) {
			pending_fold(context, &context->pending[kept - 1], entry);
			free(entry->sources);
			continue;
		}
		context->pending[kept++] = *entry;
	}
	context->pending_count = kept;
}

static unsigned port_bits(const struct weir_policy_key *key)
{
	return key->prefix_length - WEIR_POLICY_PREFIX_FIXED;
}

/* Whether the port prefix of outer holds every port of inner's. */
static bool prefix_holds(const struct weir_policy_key *outer, const struct weir_policy_key *inner)
{
	unsigned bits = port_bits(outer);

	if (bits > port_bits(inner))
		return false;
	return bits == 0 || (ntohs(outer->port) >> (16 - bits)) == (ntohs(inner->port) >> (16 - bits));
}

/* Whether every packet inner's entry could match is also allowed by outer's. */
static bool entry_covers(const struct weir_policy_key *outer, const struct weir_policy_key *inner)
{
	if (outer->direction != inner->direction)
		return false;
	if (outer->identity != inner->identity && outer->identity != WEIR_IDENTITY_ANY)
		return false;
	if (outer->protocol == 0)
		return true;
	return outer->protocol == inner->protocol && prefix_holds(outer, inner);
}

/* Step 1: an HTTP entry takes in every entry covering it. The datapath's lookup picks the most
 * specific entry (named peer before any peer, longest port prefix, a protocol before any), so
 * a broader rule that also allows the packet would otherwise be shadowed: plain beats HTTP,
 * and HTTP sources add up. In place is safe: covering is transitive, so what a coverer took in
 * from its own coverers, the entry takes in directly anyway. */
static void http_take_in_coverers(struct compile_context *context)
{
	struct pending_entry *entries = context->pending;

	for (size_t w = 0; w < context->pending_count; w++) {
		if (entries[w].plain)
			continue;
		for (size_t e = 0; e < context->pending_count; e++) {
			if (e != w && entry_covers(&entries[e].key, &entries[w].key))
				pending_fold(context, &entries[w], &entries[e]);
		}
	}
}

static int compare_identities(const void *left, const void *right)
{
	uint32_t a = *(const uint32_t *)left, b = *(const uint32_t *)right;

	return a < b ? -1 : a > b;
}

/* Step 2: an any-peer TCP entry W is looked up only after the named peer's own TCP entries. A
 * named peer X whose longest TCP entry L broader than W is HTTP would miss W's part of the
 * union, and X's any-protocol plain allow would lose to an HTTP W: X gets an entry of its own
 * at W's prefix holding the union. */
static void http_split_any_peer(struct compile_context *context)
{
	size_t original = context->pending_count, identity_count = 0;
	uint32_t *identities = malloc((original + 1) * sizeof(*identities));

	if (!identities) {
		context->failed = true;
		return;
	}
	for (size_t i = 0; i < original; i++) {
		if (context->pending[i].key.identity != WEIR_IDENTITY_ANY)
			identities[identity_count++] = context->pending[i].key.identity;
	}
	qsort(identities, identity_count, sizeof(*identities), compare_identities);
	for (size_t w = 0; w < original; w++) {
		if (context->pending[w].key.identity != WEIR_IDENTITY_ANY ||
		    context->pending[w].key.protocol != IPPROTO_TCP)
			continue;
		for (size_t x = 0; x < identity_count; x++) {
			struct weir_policy_key own = context->pending[w].key;
			size_t longer = SIZE_MAX, any_protocol = SIZE_MAX, exact = SIZE_MAX, added;

			if (x > 0 && identities[x] == identities[x - 1])
				continue;
			own.identity = identities[x];
			for (size_t e = 0; e < original; e++) {
				const struct weir_policy_key *key = &context->pending[e].key;
				if (key->identity != own.identity || key->direction != own.direction)
					continue;
				if (key->protocol == 0)
					any_protocol = e;
				else if (compare_keys(key, &own) == 0)
					exact = e;
				else if (key->protocol == IPPROTO_TCP && prefix_holds(key, &own) &&
					 (longer == SIZE_MAX ||
					  port_bits(key) > port_bits(&context->pending[longer].key)))
					longer = e;
			}
			if (exact != SIZE_MAX)
				continue; /* it took in W in step 1 */
			if (longer != SIZE_MAX) {
				if (context->pending[longer].plain)
					continue; /* the lookup finds a plain allow: right already */
				added = pending_add(context, &own, false, 0);
				if (added == SIZE_MAX)
					break;
				pending_fold(context, &context->pending[added], &context->pending[longer]);
				pending_fold(context, &context->pending[added], &context->pending[w]);
			} else if (!context->pending[w].plain && any_protocol != SIZE_MAX) {
				added = pending_add(context, &own, true,
						    context->pending[any_protocol].rule_id);
				if (added == SIZE_MAX)
					break;
			}
		}
	}
	free(identities);
	pending_unique(context);
}

static bool any_http(const struct compile_context *context)
{
	for (size_t i = 0; i < context->pending_count; i++) {
		if (!context->pending[i].plain)
			return true;
	}
	return false;
}

static int compare_strings_plain(const void *left, const void *right)
{
	return strcmp(*(char *const *)left, *(char *const *)right);
}

static struct http_rule_set *http_set_add(struct compile_context *context, uint32_t rule_id)
{
	struct compiled_endpoint *out = context->out;

	for (size_t i = 0; i < out->http_set_count; i++) {
		if (out->http_sets[i].rule_id == rule_id)
			return NULL; /* already there: equal ids are equal sets */
	}
	if (out->http_set_count == out->http_set_capacity) {
		size_t capacity = out->http_set_capacity ? out->http_set_capacity * 2 : 4;
		struct http_rule_set *grown = realloc(out->http_sets, capacity * sizeof(*grown));
		if (!grown) {
			context->failed = true;
			return NULL;
		}
		out->http_sets = grown;
		out->http_set_capacity = capacity;
	}
	memset(&out->http_sets[out->http_set_count], 0, sizeof(out->http_sets[0]));
	out->http_sets[out->http_set_count].rule_id = rule_id;
	return &out->http_sets[out->http_set_count++];
}

/* The rule set of an HTTP entry: the matchers of all its sources, canonical, named by a rule
 * id whose key names the policies and the matchers. Returns 0 (and records why) when the
 * entry must allow nothing. */
static uint32_t http_set_of(struct compile_context *context, const struct pending_entry *entry)
{
	size_t total = 0, count, name_count = 0, length = 64;
	struct weir_http_rule *rules;
	const char **names;
	char *key = NULL, words[4096];
	uint32_t rule_id = 0;

	for (size_t i = 0; i < entry->source_count; i++)
		total += context->sources[entry->sources[i]].matchers.count;
	rules = malloc((total + 1) * sizeof(*rules));
	names = malloc((entry->source_count + 1) * sizeof(*names));
	if (!rules || !names) {
		context->failed = true;
		goto out;
	}
	total = 0;
	for (size_t i = 0; i < entry->source_count; i++) {
		const struct http_source *source = &context->sources[entry->sources[i]];
		memcpy(&rules[total], source->matchers.rules,
		       source->matchers.count * sizeof(*rules));
		total += source->matchers.count;
		names[name_count++] = source->policy;
	}
	count = http_rules_canonical(rules, total);
	qsort(names, name_count, sizeof(*names), compare_strings_plain);
	for (size_t i = 0; i < name_count; i++)
		length += strlen(names[i]) + 2;
	key = malloc(length + sizeof(words));
	if (!key) {
		context->failed = true;
		goto out;
	}
	key[0] = '\0';
	for (size_t i = 0; i < name_count; i++) {
		if (i > 0 && strcmp(names[i], names[i - 1]) == 0)
			continue;
		if (key[0])
			strcat(key, ", ");
		strcat(key, names[i]);
	}
	if (count > WEIR_HTTP_RULES_PER_SET) {
		problem_add(context,
			    "WeirNetworkPolicy %s: %zu different HTTP matchers apply to one peer on "
			    "TCP port %u/%u; at most %d fit in one rule set, so that peer and port "
			    "allow nothing",
			    key, count, ntohs(entry->key.port), port_bits(&entry->key),
			    WEIR_HTTP_RULES_PER_SET);
		goto out;
	}
	http_rule_set_words(rules, count, words, sizeof(words));
	{
		/* "policy ns/a, ns/b (HTTP: GET /hello)": names the policies as plain ids do. */
		size_t names_length = strlen(key);
		memmove(key + 7, key, names_length + 1);
		memcpy(key, "policy ", 7);
		snprintf(key + 7 + names_length, length + sizeof(words) - 7 - names_length, " (%s)",
			 words);
	}
	rule_id = id_table_use(context->tables->rules, key);
	if (!rule_id) {
		problem_add(context, "%s: no rule id left for the HTTP rule set; it allows nothing",
			    key + 7);
		goto out;
	}
	{
		struct http_rule_set *set = http_set_add(context, rule_id);
		if (set) {
			memcpy(set->rules, rules, count * sizeof(*rules));
			set->count = (uint32_t)count;
		}
	}
out:
	free(rules);
	free(names);
	free(key);
	return rule_id;
}

static int compare_sets(const void *left, const void *right)
{
	uint32_t a = ((const struct http_rule_set *)left)->rule_id;
	uint32_t b = ((const struct http_rule_set *)right)->rule_id;

	return a < b ? -1 : a > b;
}

/* Settles the union and writes the map entries (sorted, unique) and rule sets. */
static void pending_emit(struct compile_context *context)
{
	struct compiled_endpoint *out = context->out;

	pending_unique(context);
	if (any_http(context)) {
		http_take_in_coverers(context);
		http_split_any_peer(context);
	}
	if (context->failed)
		return;
	out->entries = calloc(context->pending_count + 1, sizeof(*out->entries));
	if (!out->entries) {
		context->failed = true;
		return;
	}
	out->capacity = context->pending_count + 1;
	for (size_t i = 0; i < context->pending_count; i++) {
		const struct pending_entry *entry = &context->pending[i];
		struct policy_map_entry *written = &out->entries[out->count];

		written->key = entry->key;
		written->value.verdict = WEIR_VERDICT_ALLOW;
		if (entry->plain) {
			written->value.rule_id = entry->rule_id;
		} else {
			written->value.rule_id = http_set_of(context, entry);
			written->value.flags = WEIR_POLICY_FLAG_HTTP;
			if (!written->value.rule_id)
				continue; /* fail closed: the entry is left out */
		}
		out->count++;
	}
	if (out->http_set_count > 1)
		qsort(out->http_sets, out->http_set_count, sizeof(*out->http_sets), compare_sets);
}

/* "isolated by ns/a, ns/b" with the names sorted, each once (a NetworkPolicy and a
 * WeirNetworkPolicy may share a name). 0 when names is NULL (not isolated); -1 when the rule
 * cannot be had (no memory, or no rule id left): never "not isolated" by accident. */
static int isolation_rule(struct id_table *rules, char *names, uint32_t *rule)
{
	char *parts[256], *saveptr = NULL, *token;
	size_t count = 0, length = 32;
	char *key;

	*rule = 0;
	if (!names)
		return 0;
	for (token = strtok_r(names, ",", &saveptr); token && count < 256;
	     token = strtok_r(NULL, ",", &saveptr)) {
		while (*token == ' ')
			token++;
		parts[count++] = token;
		length += strlen(token) + 2;
	}
	qsort(parts, count, sizeof(*parts), compare_strings);
	key = malloc(length);
	if (!key)
		return -1;
	strcpy(key, "isolated by ");
	for (size_t i = 0; i < count; i++) {
		if (i > 0 && strcmp(parts[i], parts[i - 1]) == 0)
			continue;
		if (i)
			strcat(key, ", ");
		strcat(key, parts[i]);
	}
	*rule = id_table_use(rules, key);
	free(key);
	return *rule ? 0 : -1;
}

void compiled_endpoint_reset(struct compiled_endpoint *compiled)
{
	free(compiled->entries);
	free(compiled->http_sets);
	for (size_t i = 0; i < compiled->problem_count; i++)
		free(compiled->problems[i]);
	free(compiled->problems);
	memset(compiled, 0, sizeof(*compiled));
}

bool compiled_endpoint_isolated(const struct compiled_endpoint *compiled)
{
	return compiled->ingress_isolation_rule || compiled->egress_isolation_rule;
}

int compile_endpoint(struct object_store *store, struct compiler_tables *tables,
		     const char *node_name, uint32_t endpoint_id, const cJSON *pod,
		     struct compiled_endpoint *out, char *errbuf, size_t errlen)
{
	struct compile_context context = { .store = store, .tables = tables,
					   .node_name = node_name, .endpoint_pod = pod,
					   .out = out, .errbuf = errbuf, .errlen = errlen };
	static const enum kube_kind policy_kinds[] = { KIND_NETWORKPOLICY, KIND_WEIRNETWORKPOLICY };

	compiled_endpoint_reset(out);
	out->endpoint_id = endpoint_id;
	if (!pod)
		return 0;
	context.endpoint_namespace = object_namespace(pod);
	for (size_t i = 0; i < sizeof(policy_kinds) / sizeof(policy_kinds[0]); i++) {
		context.policy_kind = policy_kinds[i];
		object_store_for_each(store, policy_kinds[i], compile_policy, &context);
	}
	if (isolation_rule(tables->rules, context.ingress_isolators,
			   &out->ingress_isolation_rule) < 0 ||
	    isolation_rule(tables->rules, context.egress_isolators, &out->egress_isolation_rule) <
		    0)
		context.failed = true;
	free(context.ingress_isolators);
	free(context.egress_isolators);
	pending_emit(&context);
	for (size_t i = 0; i < context.pending_count; i++)
		free(context.pending[i].sources);
	free(context.pending);
	free(context.sources);
	if (context.failed) {
		snprintf(errbuf, errlen,
			 "compile endpoint %u: out of memory (or out of rule ids); the maps keep "
			 "what they hold",
			 endpoint_id);
		return -1;
	}
	return 0;
}
