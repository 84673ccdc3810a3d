/* NetworkPolicy v1 compiled per local endpoint. For the pod of an endpoint, every policy of its
 * namespace whose podSelector matches isolates the directions of its policyTypes; each rule
 * becomes allow entries {peer identity, protocol, port prefix}. Peers: podSelector and/or
 * namespaceSelector (ANDed within one peer, ORed across peers) resolve to the identities of the
 * pods they select; ipBlock resolves to the CIDR identities inside it and outside its excepts,
 * plus the pods and nodes whose addresses it covers, plus world for 0.0.0.0/0. Named ports
 * resolve against the destination pod's container ports. */
#include "policy_compiler.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cidr.h"
#include "datapath.h"
#include "label_selector.h"

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

uint32_t pod_identity(struct object_store *store, struct id_table *identities, const cJSON *pod)
{
	size_t bucket = ((uintptr_t)pod >> 4) % IDENTITY_CACHE_BUCKETS;
	struct cached_identity *cached;
	char *key;
	uint32_t identity;

	for (cached = identity_cache[bucket]; cached; cached = cached->next) {
		if (cached->pod == pod && cached->table == identities)
			return cached->identity;
	}
	key = pod_identity_key(store, pod);
	identity = key ? id_table_use(identities, key) : 0;
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
};

static void mark_cidr_text(struct cidr_marking *marking, const char *text)
{
	struct ipv4_prefix prefix;
	char errbuf[128], canonical[24], address[16];

	if (!text || ipv4_prefix_parse(text, &prefix, errbuf, sizeof(errbuf)) < 0 ||
	    prefix.length == 0)
		return; /* 0.0.0.0/0 is the ipcache's default, never an entry */
	snprintf(canonical, sizeof(canonical), "%s/%u", ipv4_address_format(prefix.network, address),
		 prefix.length);
	marking->digest = (marking->digest ^ id_table_use(marking->table, canonical)) * 1099511628211ull +
			  prefix.network + prefix.length;
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
				mark_cidr_text(opaque, object_string(block, "cidr"));
				cJSON_ArrayForEach(except, cJSON_GetObjectItemCaseSensitive(block, "except"))
					mark_cidr_text(opaque, cJSON_IsString(except)
								       ? except->valuestring
								       : NULL);
			}
		}
	}
}

uint64_t compiler_mark_cidrs(struct object_store *store, struct id_table *cidr_identities)
{
	struct cidr_marking marking = { cidr_identities, 1469598103934665603ull };

	object_store_for_each(store, KIND_NETWORKPOLICY, mark_policy_cidrs, &marking);
	return marking.digest;
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
	bool failed;
};

static void target_add(struct target_list *list, uint32_t identity, const cJSON *pod)
{
	if (list->count == list->capacity) {
		size_t capacity = list->capacity ? list->capacity * 2 : 16;
		struct target *grown = realloc(list->items, capacity * sizeof(*grown));
		if (!grown) {
			list->failed = true;
			return;
		}
		list->items = grown;
		list->capacity = capacity;
	}
	list->items[list->count].identity = identity;
	list->items[list->count].pod = pod;
	list->count++;
}

struct compile_context {
	struct object_store *store;
	struct compiler_tables *tables;
	const char *node_name;
	const cJSON *endpoint_pod;
	const char *endpoint_namespace;
	struct compiled_endpoint *out;
	char *ingress_isolators; /* "ns/a, ns/b" */
	char *egress_isolators;
	bool failed;
	char *errbuf;
	size_t errlen;
};

struct ip_block {
	struct ipv4_prefix cidr;
	struct ipv4_prefix except[32];
	size_t except_count;
};

static bool block_covers(const struct ip_block *block, uint32_t address)
{
	if (!ipv4_prefix_contains(&block->cidr, address))
		return false;
	for (size_t i = 0; i < block->except_count; i++) {
		if (ipv4_prefix_contains(&block->except[i], address))
			return false;
	}
	return true;
}

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

static void block_pod(cJSON *pod, void *opaque)
{
	struct block_scan *scan = opaque;
	uint32_t addresses[4];
	size_t count = pod_addresses(pod, addresses, 4);

	for (size_t i = 0; i < count; i++) {
		if (block_covers(scan->block, addresses[i])) {
			target_add(scan->targets,
				   pod_identity(scan->context->store, scan->context->tables->identities,
						pod),
				   pod);
			return;
		}
	}
}

static void block_node(cJSON *node, void *opaque)
{
	struct block_scan *scan = opaque;
	const cJSON *address;

	cJSON_ArrayForEach(address, object_child(node, "status.addresses"))
	{
		const char *text = object_string(address, "address");
		uint32_t value;
		if (text && ipv4_address_parse(text, &value) == 0 &&
		    block_covers(scan->block, value)) {
			const char *name = object_name(node);
			target_add(scan->targets,
				   name && strcmp(name, scan->context->node_name) == 0
					   ? WEIR_IDENTITY_HOST
					   : WEIR_IDENTITY_REMOTE_NODE,
				   NULL);
			return;
		}
	}
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
	id_table_for_each(context->tables->cidr_identities, block_cidr_identity, &scan);
	if (block.cidr.length == 0)
		target_add(targets, WEIR_IDENTITY_WORLD, NULL);
	object_store_for_each(context->store, KIND_POD, block_pod, &scan);
	object_store_for_each(context->store, KIND_NODE, block_node, &scan);
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
	target_add(scan->targets,
		   pod_identity(scan->context->store, scan->context->tables->identities, pod), pod);
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

static void entry_add(struct compile_context *context, uint8_t direction, uint32_t identity,
		      uint8_t protocol, uint16_t first_port, uint16_t last_port, uint32_t rule_id)
{
	struct compiled_endpoint *out = context->out;
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
		struct policy_map_entry *entry;
		if (out->count == out->capacity) {
			size_t capacity = out->capacity ? out->capacity * 2 : 32;
			struct policy_map_entry *grown =
				realloc(out->entries, capacity * sizeof(*grown));
			if (!grown) {
				context->failed = true;
				return;
			}
			out->entries = grown;
			out->capacity = capacity;
		}
		entry = &out->entries[out->count++];
		memset(entry, 0, sizeof(*entry));
		entry->key.prefix_length = WEIR_POLICY_PREFIX_FIXED + prefixes[i].length;
		entry->key.endpoint_id = out->endpoint_id;
		entry->key.identity = identity;
		entry->key.direction = direction;
		entry->key.protocol = protocol;
		entry->key.port = htons(prefixes[i].port);
		entry->value.verdict = WEIR_VERDICT_ALLOW;
		entry->value.rule_id = rule_id;
	}
}

struct named_everywhere {
	struct compile_context *context;
	uint8_t direction;
	const char *name;
	uint8_t protocol;
	uint32_t rule_id;
};

static void named_port_of_every_pod(cJSON *pod, void *opaque)
{
	struct named_everywhere *scan = opaque;
	uint16_t number = named_port(pod, scan->name, scan->protocol);

	if (number)
		entry_add(scan->context, scan->direction,
			  pod_identity(scan->context->store, scan->context->tables->identities, pod),
			  scan->protocol, number, number, scan->rule_id);
}

static void compile_rule(struct compile_context *context, uint8_t direction, const cJSON *rule,
			 uint32_t rule_id)
{
	const cJSON *peers = cJSON_GetObjectItemCaseSensitive(
		rule, direction == WEIR_DIRECTION_INGRESS ? "from" : "to");
	const cJSON *ports = cJSON_GetObjectItemCaseSensitive(rule, "ports"), *port;
	struct target_list targets = { 0 };

	if (resolve_peers(context, peers, &targets) < 0 || targets.failed) {
		/* A rule weir cannot read allows nothing: the pod stays isolated (fail closed). */
		free(targets.items);
		return;
	}
	if (!ports || cJSON_GetArraySize(ports) == 0) {
		for (size_t t = 0; t < targets.count; t++)
			entry_add(context, direction, targets.items[t].identity, 0, 0, 0, rule_id);
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

		if (!known)
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
					  rule_id);
				continue;
			}
			/* Named: resolved against the destination pod of the traffic. */
			const cJSON *destination =
				direction == WEIR_DIRECTION_INGRESS ? context->endpoint_pod : target->pod;
			if (destination) {
				uint16_t resolved = named_port(destination, number->valuestring, protocol);
				if (resolved)
					entry_add(context, direction, target->identity, protocol,
						  resolved, resolved, rule_id);
			} else if (target->identity == WEIR_IDENTITY_ANY) {
				struct named_everywhere scan = { context, direction, number->valuestring,
								 protocol, rule_id };
				object_store_for_each(context->store, KIND_POD, named_port_of_every_pod,
						      &scan);
			}
		}
	}
	free(targets.items);
}

static void append_name(char **list, const char *name)
{
	size_t old = *list ? strlen(*list) : 0;
	char *grown = realloc(*list, old + strlen(name) + 3);

	if (!grown)
		return;
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

	if (strcmp(object_namespace(policy), context->endpoint_namespace) != 0)
		return;
	if (!selector) {
		empty_selector = cJSON_CreateObject();
		selector = empty_selector;
	}
	if (!label_selector_matches(selector, object_child(context->endpoint_pod, "metadata.labels"),
				    NULL)) {
		cJSON_Delete((cJSON *)empty_selector);
		return;
	}
	cJSON_Delete((cJSON *)empty_selector);
	snprintf(name, sizeof(name), "%s/%s", object_namespace(policy), object_name(policy));
	{
		char key[640];
		snprintf(key, sizeof(key), "policy %s", name);
		rule_id = id_table_use(context->tables->rules, key);
	}
	if (policy_has_type(policy, "Ingress")) {
		append_name(&context->ingress_isolators, name);
		cJSON_ArrayForEach(rule, object_child(policy, "spec.ingress"))
			compile_rule(context, WEIR_DIRECTION_INGRESS, rule, rule_id);
	}
	if (policy_has_type(policy, "Egress")) {
		append_name(&context->egress_isolators, name);
		cJSON_ArrayForEach(rule, object_child(policy, "spec.egress"))
			compile_rule(context, WEIR_DIRECTION_EGRESS, rule, rule_id);
	}
}

static int compare_entries(const void *left, const void *right)
{
	return memcmp(&((const struct policy_map_entry *)left)->key,
		      &((const struct policy_map_entry *)right)->key,
		      sizeof(struct weir_policy_key));
}

static void sort_and_unique(struct compiled_endpoint *out)
{
	size_t kept = 0;

	if (out->count == 0)
		return;
	qsort(out->entries, out->count, sizeof(*out->entries), compare_entries);
	for (size_t i = 0; i < out->count; i++) {
		if (kept > 0 && compare_entries(&out->entries[kept - 1], &out->entries[i]) == 0) {
			/* Several policies allow the same: keep the lowest rule id, stably. */
			if (out->entries[i].value.rule_id < out->entries[kept - 1].value.rule_id)
				out->entries[kept - 1].value.rule_id = out->entries[i].value.rule_id;
			continue;
		}
		out->entries[kept++] = out->entries[i];
	}
	out->count = kept;
}

/* "isolated by ns/a, ns/b" with the names sorted. */
static uint32_t isolation_rule(struct id_table *rules, char *names)
{
	char *parts[256], *saveptr = NULL, *token;
	size_t count = 0, length = 32;
	char *key;
	uint32_t id;

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
		return 0;
	strcpy(key, "isolated by ");
	for (size_t i = 0; i < count; i++) {
		if (i)
			strcat(key, ", ");
		strcat(key, parts[i]);
	}
	id = id_table_use(rules, key);
	free(key);
	return id;
}

void compiled_endpoint_reset(struct compiled_endpoint *compiled)
{
	free(compiled->entries);
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

	compiled_endpoint_reset(out);
	out->endpoint_id = endpoint_id;
	if (!pod)
		return 0;
	context.endpoint_namespace = object_namespace(pod);
	object_store_for_each(store, KIND_NETWORKPOLICY, compile_policy, &context);
	out->ingress_isolation_rule = isolation_rule(tables->rules, context.ingress_isolators);
	out->egress_isolation_rule = isolation_rule(tables->rules, context.egress_isolators);
	free(context.ingress_isolators);
	free(context.egress_isolators);
	if (context.failed) {
		snprintf(errbuf, errlen, "compile endpoint %u: out of memory", endpoint_id);
		return -1;
	}
	sort_and_unique(out);
	return 0;
}
