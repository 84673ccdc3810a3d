/* One reconciliation pass:
 *   1. local endpoints from the CNI's records;
 *   2. identities of every pod (mark-and-sweep), desired ipcache of pods, nodes and CIDRs;
 *   3. recompile the affected endpoints (dirty ones, every isolated one after a pod, namespace,
 *      node or CIDR change, every one of a namespace whose policies changed);
 *   4. write: ipcache additions, HTTP rule sets, policy additions, isolation, policy removals,
 *      rule sets no longer named, ipcache removals, then bump the policy revision so
 *      established connections are judged again (an entry never names a set not yet written);
 *   5. persist the id tables.
 * What was written is remembered, so the next pass writes only differences; at start-up it is
 * read back from the pinned maps, so a restarted agent changes nothing that is still right. */
#include "reconciler.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>

#include "cidr.h"
#include "datapath.h"
#include "endpoint_record.h"
#include "http_rules.h"
#include "id_table.h"
#include "log.h"
#include "policy_compiler.h"
#include "node_routes.h"
#include "service_sync.h"

struct ipcache_item {
	uint32_t address; /* host byte order */
	uint32_t length;
	uint32_t identity;
	uint32_t address_identity; /* a pod's or node's /32 inside an ipBlock: its CIDR identity */
	bool refused;		   /* the kernel refused it this pass (a full ipcache) */
};

struct ipcache_set {
	struct ipcache_item *items;
	size_t count, capacity;
};

struct local_endpoint {
	uint32_t endpoint_id;
	uint32_t address;
	uint32_t host_ifindex;
	uint32_t identity; /* 0: its Pod object is not known (or has no identity) */
	char pod_namespace[256];
	char pod_name[256];
};

struct dirty_namespace {
	struct dirty_namespace *next;
	char name[256];
};

struct address_name {
	struct address_name *next;
	uint32_t address;
	char name[256];
};

#define ADDRESS_BUCKETS 8192

/* HTTP rule sets by rule id, sorted: what the http_rules map holds, or should. */
struct http_set_list {
	struct http_rule_set *items;
	size_t count, capacity;
};

/* Problems the compiler reported, sorted: each is logged once, when it first appears. */
struct problem_list {
	char **items;
	size_t count;
};

struct reconciler {
	struct address_name *address_names[ADDRESS_BUCKETS]; /* for flow logs: IP -> ns/pod */
	struct object_store *store;
	char node_name[256];
	char state_dir[512];
	struct datapath datapath;
	struct compiler_tables tables;
	struct compiled_endpoint *written[WEIR_MAX_ENDPOINTS]; /* by endpoint id */
	/* The last pass could not write all of this endpoint's entries (a full map): written[]
	 * holds what was wanted, not what the map holds, so the next pass writes every entry. */
	bool incomplete[WEIR_MAX_ENDPOINTS];
	struct ipcache_set written_ipcache;
	uint64_t cidr_digest;
	bool all_dirty, isolated_dirty, endpoints_dirty;
	bool dirty_endpoint[WEIR_MAX_ENDPOINTS];
	struct dirty_namespace *dirty_namespaces;
	unsigned long applied_changes;
	uint32_t revision;
	struct service_sync *services;
	bool services_dirty;
	bool nodes_dirty;
	struct http_set_list written_http; /* kept equal to the map, write by write */
	struct problem_list logged_problems;
	size_t ipcache_refused; /* entries the last pass could not write (a full ipcache) */
};

static void address_names_clear(struct reconciler *reconciler);
static void ipcache_reload(struct reconciler *reconciler);

/* ---- ipcache sets ---------------------------------------------------------------------------- */

static int ipcache_add(struct ipcache_set *set, uint32_t address, uint32_t length,
		       uint32_t identity)
{
	if (set->count == set->capacity) {
		size_t capacity = set->capacity ? set->capacity * 2 : 256;
		struct ipcache_item *grown = realloc(set->items, capacity * sizeof(*grown));
		if (!grown)
			return -1;
		set->items = grown;
		set->capacity = capacity;
	}
	set->items[set->count++] = (struct ipcache_item){ address, length, identity, 0, false };
	return 0;
}

static int compare_ipcache(const void *left, const void *right)
{
	const struct ipcache_item *a = left, *b = right;

	if (a->address != b->address)
		return a->address < b->address ? -1 : 1;
	if (a->length != b->length)
		return a->length < b->length ? -1 : 1;
	return 0;
}

struct tagged_item {
	struct ipcache_item item;
	size_t order;
};

static int compare_tagged(const void *left, const void *right)
{
	const struct tagged_item *a = left, *b = right;
	int order = compare_ipcache(&a->item, &b->item);

	if (order)
		return order;
	return a->order < b->order ? -1 : a->order > b->order;
}

/* Sorts; of duplicate prefixes the first added wins (nodes and pods are added before CIDRs),
 * and a CIDR identity on the /32 of a pod or node becomes that entry's address identity: the
 * datapath judges the address by both. -1 when out of memory (the set is left as it was). */
static int ipcache_normalize(struct ipcache_set *set)
{
	struct tagged_item *tagged = malloc((set->count + 1) * sizeof(*tagged));
	size_t kept = 0;

	if (!tagged)
		return -1;
	for (size_t i = 0; i < set->count; i++) {
		tagged[i].item = set->items[i];
		tagged[i].order = i;
	}
	qsort(tagged, set->count, sizeof(*tagged), compare_tagged);
	for (size_t i = 0; i < set->count; i++) {
		if (kept > 0 && compare_ipcache(&set->items[kept - 1], &tagged[i].item) == 0) {
			struct ipcache_item *first = &set->items[kept - 1];
			if (first->identity < WEIR_IDENTITY_FIRST_CIDR &&
			    tagged[i].item.identity >= WEIR_IDENTITY_FIRST_CIDR &&
			    !first->address_identity)
				first->address_identity = tagged[i].item.identity;
			continue;
		}
		set->items[kept++] = tagged[i].item;
	}
	set->count = kept;
	free(tagged);
	return 0;
}

/* ---- HTTP rule sets ------------------------------------------------------------------------ */

static int compare_http_sets(const void *left, const void *right)
{
	uint32_t a = ((const struct http_rule_set *)left)->rule_id;
	uint32_t b = ((const struct http_rule_set *)right)->rule_id;

	return a < b ? -1 : a > b;
}

static struct http_rule_set *http_set_find(const struct http_set_list *list, uint32_t rule_id)
{
	struct http_rule_set wanted = { .rule_id = rule_id };

	return list->count ? bsearch(&wanted, list->items, list->count, sizeof(wanted),
				     compare_http_sets)
			   : NULL;
}

/* Inserts or replaces, keeping the list sorted. */
static int http_set_put(struct http_set_list *list, const struct http_rule_set *set)
{
	struct http_rule_set *found = http_set_find(list, set->rule_id);
	size_t at = 0;

	if (found) {
		*found = *set;
		return 0;
	}
	if (list->count == list->capacity) {
		size_t capacity = list->capacity ? list->capacity * 2 : 16;
		struct http_rule_set *grown = realloc(list->items, capacity * sizeof(*grown));
		if (!grown)
			return -1;
		list->items = grown;
		list->capacity = capacity;
	}
	while (at < list->count && list->items[at].rule_id < set->rule_id)
		at++;
	memmove(&list->items[at + 1], &list->items[at], (list->count - at) * sizeof(*set));
	list->items[at] = *set;
	list->count++;
	return 0;
}

static void http_set_remove(struct http_set_list *list, uint32_t rule_id)
{
	struct http_rule_set *found = http_set_find(list, rule_id);

	if (!found)
		return;
	memmove(found, found + 1, (size_t)(list->items + list->count - found - 1) * sizeof(*found));
	list->count--;
}

/* The sets the map holds now, grouped by rule id. */
static void written_http_load(struct reconciler *reconciler)
{
	struct weir_http_rule_key key, next;
	void *previous = NULL;
	int fd = reconciler->datapath.http_rules_fd;

	while (bpf_map_get_next_key(fd, previous, &next) == 0) {
		if (!http_set_find(&reconciler->written_http, next.rule_id)) {
			struct http_rule_set set = { .rule_id = next.rule_id };
			int count = http_rules_read(fd, next.rule_id, set.rules,
						    WEIR_HTTP_RULES_PER_SET);
			/* A set without index 0 is unusable: an empty one is deleted as stale. */
			set.count = count > 0 ? (uint32_t)count : 0;
			if (http_set_put(&reconciler->written_http, &set) < 0)
				return;
		}
		key = next;
		previous = &key;
	}
}

/* Every set named by an endpoint that will be in the maps after this pass. */
static int http_sets_desired(struct reconciler *reconciler, struct compiled_endpoint **next,
			     const bool *present, struct http_set_list *desired)
{
	for (size_t id = 0; id < WEIR_MAX_ENDPOINTS; id++) {
		const struct compiled_endpoint *compiled =
			next[id] ? next[id] : present[id] ? reconciler->written[id] : NULL;
		if (!compiled)
			continue;
		for (size_t i = 0; i < compiled->http_set_count; i++) {
			if (!http_set_find(desired, compiled->http_sets[i].rule_id) &&
			    http_set_put(desired, &compiled->http_sets[i]) < 0)
				return -1;
		}
	}
	return 0;
}

static bool http_sets_equal(const struct http_rule_set *a, const struct http_rule_set *b)
{
	return a->count == b->count &&
	       memcmp(a->rules, b->rules, a->count * sizeof(a->rules[0])) == 0;
}

/* Writes what desired has and the map lacks (or holds differently). */
/* Writes the sets that changed. A set the kernel refuses (a full map) is taken out entirely
 * rather than left half written with old and new matchers mixed: the entries naming it then
 * deny every request (fail closed) until a retry writes it whole; *refused says so, errbuf
 * keeps the first refusal. Returns -1 only when out of memory. */
static int http_sets_write(struct reconciler *reconciler, const struct http_set_list *desired,
			   size_t *written, bool *refused, char *errbuf, size_t errlen)
{
	for (size_t i = 0; i < desired->count; i++) {
		const struct http_rule_set *set = &desired->items[i];
		const struct http_rule_set *old = http_set_find(&reconciler->written_http,
								set->rule_id);
		char ignored[256];

		if (old && http_sets_equal(old, set))
			continue;
		if (http_rules_write(reconciler->datapath.http_rules_fd, set->rule_id, set->rules,
				     set->count, old ? old->count : 0, *refused ? ignored : errbuf,
				     *refused ? sizeof(ignored) : errlen) < 0) {
			http_rules_delete(reconciler->datapath.http_rules_fd, set->rule_id, ignored,
					  sizeof(ignored));
			http_set_remove(&reconciler->written_http, set->rule_id);
			*refused = true;
			continue;
		}
		if (http_set_put(&reconciler->written_http, set) < 0) {
			snprintf(errbuf, errlen, "remember HTTP rule set %u: out of memory",
				 set->rule_id);
			return -1;
		}
		(*written)++;
	}
	return 0;
}

/* Removes the sets no entry names any more: after the entries naming them are gone. */
static int http_sets_remove_stale(struct reconciler *reconciler,
				  const struct http_set_list *desired, size_t *removed,
				  char *errbuf, size_t errlen)
{
	for (size_t i = reconciler->written_http.count; i > 0; i--) {
		uint32_t rule_id = reconciler->written_http.items[i - 1].rule_id;
		if (http_set_find(desired, rule_id))
			continue;
		if (http_rules_delete(reconciler->datapath.http_rules_fd, rule_id, errbuf, errlen) <
		    0)
			return -1;
		http_set_remove(&reconciler->written_http, rule_id);
		(*removed)++;
	}
	return 0;
}

/* ---- compiler problems --------------------------------------------------------------------- */

static int compare_problem(const void *left, const void *right)
{
	return strcmp(*(char *const *)left, *(char *const *)right);
}

static void problems_clear(struct problem_list *list)
{
	for (size_t i = 0; i < list->count; i++)
		free(list->items[i]);
	free(list->items);
	list->items = NULL;
	list->count = 0;
}

/* Logs the problems of the written endpoints that were not there after the last pass: an
 * invalid policy is reported once, not once per endpoint and pass, and again if it comes back. */
static void problems_report(struct reconciler *reconciler)
{
	struct problem_list current = { 0 };
	size_t total = 0, kept = 0;

	for (size_t id = 0; id < WEIR_MAX_ENDPOINTS; id++)
		total += reconciler->written[id] ? reconciler->written[id]->problem_count : 0;
	if (total == 0) {
		problems_clear(&reconciler->logged_problems);
		return;
	}
	current.items = malloc(total * sizeof(*current.items));
	if (!current.items)
		return;
	for (size_t id = 0; id < WEIR_MAX_ENDPOINTS; id++) {
		const struct compiled_endpoint *compiled = reconciler->written[id];
		for (size_t i = 0; compiled && i < compiled->problem_count; i++) {
			current.items[current.count] = strdup(compiled->problems[i]);
			if (current.items[current.count])
				current.count++;
		}
	}
	qsort(current.items, current.count, sizeof(*current.items), compare_problem);
	for (size_t i = 0; i < current.count; i++) {
		if (kept > 0 && strcmp(current.items[kept - 1], current.items[i]) == 0) {
			free(current.items[i]);
			continue;
		}
		current.items[kept++] = current.items[i];
	}
	current.count = kept;
	for (size_t i = 0; i < current.count; i++) {
		if (!reconciler->logged_problems.count ||
		    !bsearch(&current.items[i], reconciler->logged_problems.items,
			     reconciler->logged_problems.count, sizeof(char *), compare_problem))
			log_error("policy refused: %s", current.items[i]);
	}
	problems_clear(&reconciler->logged_problems);
	reconciler->logged_problems = current;
}

/* ---- construction ------------------------------------------------------------------------ */

static void table_path(const struct reconciler *reconciler, const char *name, char *path,
		       size_t size)
{
	snprintf(path, size, "%s/%s", reconciler->state_dir, name);
}

static void written_endpoint_add(struct reconciler *reconciler, const struct weir_policy_key *key,
				 const struct weir_policy_entry *value)
{
	uint32_t endpoint_id = key->endpoint_id;
	struct compiled_endpoint *compiled;

	if (endpoint_id >= WEIR_MAX_ENDPOINTS)
		return;
	compiled = reconciler->written[endpoint_id];
	if (!compiled) {
		compiled = calloc(1, sizeof(*compiled));
		if (!compiled)
			return;
		compiled->endpoint_id = endpoint_id;
		reconciler->written[endpoint_id] = compiled;
	}
	if (compiled->count == compiled->capacity) {
		size_t capacity = compiled->capacity ? compiled->capacity * 2 : 32;
		struct policy_map_entry *grown = realloc(compiled->entries, capacity * sizeof(*grown));
		if (!grown)
			return;
		compiled->entries = grown;
		compiled->capacity = capacity;
	}
	compiled->entries[compiled->count].key = *key;
	compiled->entries[compiled->count].value = *value;
	compiled->count++;
}

static int compare_map_entries(const void *left, const void *right)
{
	return memcmp(&((const struct policy_map_entry *)left)->key,
		      &((const struct policy_map_entry *)right)->key,
		      sizeof(struct weir_policy_key));
}

/* What the maps hold now: the starting point of the first diff. */
static void written_state_load(struct reconciler *reconciler)
{
	struct weir_policy_key key, next;
	uint32_t endpoint_id, endpoint_next;
	void *previous = NULL;

	while (bpf_map_get_next_key(reconciler->datapath.policy_fd, previous, &next) == 0) {
		struct weir_policy_entry value;
		if (bpf_map_lookup_elem(reconciler->datapath.policy_fd, &next, &value) == 0)
			written_endpoint_add(reconciler, &next, &value);
		key = next;
		previous = &key;
	}
	for (size_t i = 0; i < WEIR_MAX_ENDPOINTS; i++) {
		if (reconciler->written[i])
			qsort(reconciler->written[i]->entries, reconciler->written[i]->count,
			      sizeof(struct policy_map_entry), compare_map_entries);
	}
	previous = NULL;
	while (bpf_map_get_next_key(reconciler->datapath.endpoint_policy_fd, previous,
				    &endpoint_next) == 0) {
		struct weir_endpoint_policy value;
		if (endpoint_next < WEIR_MAX_ENDPOINTS &&
		    bpf_map_lookup_elem(reconciler->datapath.endpoint_policy_fd, &endpoint_next,
					&value) == 0) {
			struct weir_policy_key none = { .endpoint_id = endpoint_next };
			struct weir_policy_entry empty = { 0 };
			if (!reconciler->written[endpoint_next]) {
				written_endpoint_add(reconciler, &none, &empty);
				reconciler->written[endpoint_next]->count = 0;
			}
			reconciler->written[endpoint_next]->ingress_isolation_rule =
				value.ingress_isolation_rule;
			reconciler->written[endpoint_next]->egress_isolation_rule =
				value.egress_isolation_rule;
		}
		endpoint_id = endpoint_next;
		previous = &endpoint_id;
	}
	ipcache_reload(reconciler);
	written_http_load(reconciler);
	{
		uint32_t zero = 0;
		bpf_map_lookup_elem(reconciler->datapath.policy_revision_fd, &zero,
				    &reconciler->revision);
	}
}

/* written_ipcache from what the map holds. */
static void ipcache_reload(struct reconciler *reconciler)
{
	struct weir_ipcache_key ip_key, ip_next;
	void *previous = NULL;

	reconciler->written_ipcache.count = 0;
	while (bpf_map_get_next_key(reconciler->datapath.ipcache_fd, previous, &ip_next) == 0) {
		struct weir_ipcache_entry value;
		if (bpf_map_lookup_elem(reconciler->datapath.ipcache_fd, &ip_next, &value) == 0 &&
		    ipcache_add(&reconciler->written_ipcache, ntohl(ip_next.ipv4),
				ip_next.prefix_length, value.identity) == 0)
			reconciler->written_ipcache.items[reconciler->written_ipcache.count - 1]
				.address_identity = value.address_identity;
		ip_key = ip_next;
		previous = &ip_key;
	}
	if (ipcache_normalize(&reconciler->written_ipcache) < 0)
		reconciler->written_ipcache.count = 0; /* every entry is written again */
}

struct reconciler *reconciler_new(struct object_store *store, const char *node_name,
				  const char *state_dir, const char *bpffs, char *errbuf,
				  size_t errlen)
{
	struct reconciler *reconciler = calloc(1, sizeof(*reconciler));
	char path[600];

	if (!reconciler) {
		snprintf(errbuf, errlen, "allocate the reconciler: out of memory");
		return NULL;
	}
	reconciler->store = store;
	snprintf(reconciler->node_name, sizeof(reconciler->node_name), "%s", node_name);
	snprintf(reconciler->state_dir, sizeof(reconciler->state_dir), "%s", state_dir);
	reconciler->all_dirty = true;
	reconciler->tables.identities =
		id_table_new(WEIR_IDENTITY_FIRST_CLUSTER, WEIR_IDENTITY_FIRST_CIDR - 1);
	reconciler->tables.cidr_identities = id_table_new(WEIR_IDENTITY_FIRST_CIDR, 0x01ffffff);
	reconciler->tables.rules = id_table_new(1, 0x7fffffff);
	if (!reconciler->tables.identities || !reconciler->tables.cidr_identities ||
	    !reconciler->tables.rules) {
		snprintf(errbuf, errlen, "allocate id tables: out of memory");
		reconciler_free(reconciler);
		return NULL;
	}
	table_path(reconciler, "identities.json", path, sizeof(path));
	if (id_table_load(reconciler->tables.identities, path, errbuf, errlen) < 0)
		goto fail;
	table_path(reconciler, "cidr-identities.json", path, sizeof(path));
	if (id_table_load(reconciler->tables.cidr_identities, path, errbuf, errlen) < 0)
		goto fail;
	table_path(reconciler, "rules.json", path, sizeof(path));
	if (id_table_load(reconciler->tables.rules, path, errbuf, errlen) < 0)
		goto fail;
	if (datapath_open(&reconciler->datapath, bpffs, errbuf, errlen) < 0)
		goto fail;
	written_state_load(reconciler);
	reconciler->services_dirty = true;
	reconciler->nodes_dirty = true;
	reconciler->services =
		service_sync_new(state_dir, node_name, &reconciler->datapath, errbuf, errlen);
	if (!reconciler->services)
		goto fail;
	return reconciler;
fail:
	reconciler_free(reconciler);
	return NULL;
}

void reconciler_free(struct reconciler *reconciler)
{
	if (!reconciler)
		return;
	service_sync_free(reconciler->services);
	datapath_close(&reconciler->datapath);
	id_table_free(reconciler->tables.identities);
	id_table_free(reconciler->tables.cidr_identities);
	id_table_free(reconciler->tables.rules);
	for (size_t i = 0; i < WEIR_MAX_ENDPOINTS; i++) {
		if (reconciler->written[i]) {
			compiled_endpoint_reset(reconciler->written[i]);
			free(reconciler->written[i]);
		}
	}
	free(reconciler->written_ipcache.items);
	free(reconciler->written_http.items);
	problems_clear(&reconciler->logged_problems);
	address_names_clear(reconciler);
	pod_identity_cache_reset();
	while (reconciler->dirty_namespaces) {
		struct dirty_namespace *next = reconciler->dirty_namespaces->next;
		free(reconciler->dirty_namespaces);
		reconciler->dirty_namespaces = next;
	}
	free(reconciler);
}

/* ---- change notes ---------------------------------------------------------------------------- */

static void namespace_dirty(struct reconciler *reconciler, const char *name)
{
	struct dirty_namespace *entry;

	for (entry = reconciler->dirty_namespaces; entry; entry = entry->next) {
		if (strcmp(entry->name, name) == 0)
			return;
	}
	entry = calloc(1, sizeof(*entry));
	if (!entry) {
		reconciler->all_dirty = true;
		return;
	}
	snprintf(entry->name, sizeof(entry->name), "%s", name);
	entry->next = reconciler->dirty_namespaces;
	reconciler->dirty_namespaces = entry;
}

void reconciler_note(struct reconciler *reconciler, enum kube_kind kind, const cJSON *object)
{
	switch (kind) {
	case KIND_NETWORKPOLICY:
	case KIND_WEIRNETWORKPOLICY:
		namespace_dirty(reconciler, object_namespace(object));
		break;
	case KIND_POD: {
		const char *node = object_string(object, "spec.nodeName");
		/* A peer of anyone isolated; and the endpoint itself when it is ours. */
		reconciler->isolated_dirty = true;
		/* Local endpoints are found by their CNI records, not by nodeName: a pod without
		 * one may still be ours. */
		namespace_dirty(reconciler, object_namespace(object));
		if (node && strcmp(node, reconciler->node_name) == 0)
			reconciler->endpoints_dirty = true;
		break;
	}
	case KIND_NAMESPACE:
		reconciler->isolated_dirty = true;
		namespace_dirty(reconciler, object_name(object) ? object_name(object) : "");
		break;
	case KIND_NODE:
		reconciler->isolated_dirty = true;
		reconciler->services_dirty = true; /* NodePorts live on node addresses */
		reconciler->nodes_dirty = true;
		break;
	case KIND_SERVICE:
	case KIND_ENDPOINTSLICE:
		reconciler->services_dirty = true;
		break;
	default:
		break;
	}
}

void reconciler_note_endpoints(struct reconciler *reconciler)
{
	reconciler->endpoints_dirty = true;
}

bool reconciler_pending(const struct reconciler *reconciler)
{
	return reconciler->all_dirty || reconciler->isolated_dirty || reconciler->endpoints_dirty ||
	       reconciler->services_dirty || reconciler->nodes_dirty || reconciler->dirty_namespaces;
}

/* ---- a pass -------------------------------------------------------------------------------- */

struct endpoint_list {
	struct local_endpoint *items;
	size_t count, capacity;
	bool out_of_memory; /* an endpoint left out would read as deleted: its isolation removed */
};

static void collect_endpoint(const struct endpoint_record *record, void *opaque)
{
	struct endpoint_list *list = opaque;

	if (record->endpoint_id >= WEIR_MAX_ENDPOINTS)
		return;
	if (list->count == list->capacity) {
		size_t capacity = list->capacity ? list->capacity * 2 : 64;
		struct local_endpoint *grown = realloc(list->items, capacity * sizeof(*grown));
		if (!grown) {
			list->out_of_memory = true;
			return;
		}
		list->items = grown;
		list->capacity = capacity;
	}
	struct local_endpoint *endpoint = &list->items[list->count++];
	endpoint->endpoint_id = record->endpoint_id;
	endpoint->address = record->address;
	endpoint->host_ifindex = record->host_ifindex > 0 ? (uint32_t)record->host_ifindex : 0;
	endpoint->identity = 0;
	snprintf(endpoint->pod_namespace, sizeof(endpoint->pod_namespace), "%s",
		 record->pod_namespace);
	snprintf(endpoint->pod_name, sizeof(endpoint->pod_name), "%s", record->pod_name);
}

struct ipcache_build {
	struct reconciler *reconciler;
	struct ipcache_set *desired;
	bool failed;
};

static void address_names_clear(struct reconciler *reconciler)
{
	for (size_t i = 0; i < ADDRESS_BUCKETS; i++) {
		while (reconciler->address_names[i]) {
			struct address_name *next = reconciler->address_names[i]->next;
			free(reconciler->address_names[i]);
			reconciler->address_names[i] = next;
		}
	}
}

static void address_name_add(struct reconciler *reconciler, uint32_t address, const cJSON *pod)
{
	struct address_name *entry = calloc(1, sizeof(*entry));

	if (!entry)
		return;
	entry->address = address;
	snprintf(entry->name, sizeof(entry->name), "%s/%s", object_namespace(pod),
		 object_name(pod) ? object_name(pod) : "?");
	entry->next = reconciler->address_names[address % ADDRESS_BUCKETS];
	reconciler->address_names[address % ADDRESS_BUCKETS] = entry;
}

const char *reconciler_pod_of_address(const struct reconciler *reconciler, uint32_t address)
{
	for (const struct address_name *entry = reconciler->address_names[address % ADDRESS_BUCKETS];
	     entry; entry = entry->next) {
		if (entry->address == address)
			return entry->name;
	}
	return NULL;
}

static void pod_into_ipcache(cJSON *pod, void *opaque)
{
	struct ipcache_build *build = opaque;
	uint32_t addresses[4];
	size_t count = pod_addresses(pod, addresses, 4);
	uint32_t identity;
	const char *phase = object_string(pod, "status.phase");

	/* A finished pod's address may already be someone else's. */
	if (count == 0 || (phase && (strcmp(phase, "Succeeded") == 0 || strcmp(phase, "Failed") == 0)))
		return;
	identity = pod_identity(build->reconciler->store, build->reconciler->tables.identities, pod);
	for (size_t i = 0; i < count; i++)
		address_name_add(build->reconciler, addresses[i], pod);
	for (size_t i = 0; i < count && identity; i++) {
		if (ipcache_add(build->desired, addresses[i], 32, identity) < 0)
			build->failed = true;
	}
}

static void node_into_ipcache(cJSON *node, void *opaque)
{
	struct ipcache_build *build = opaque;
	const char *name = object_name(node);
	uint32_t identity = name && strcmp(name, build->reconciler->node_name) == 0
				    ? WEIR_IDENTITY_HOST
				    : WEIR_IDENTITY_REMOTE_NODE;
	const cJSON *address;

	cJSON_ArrayForEach(address, object_child(node, "status.addresses"))
	{
		const char *text = object_string(address, "address");
		uint32_t value;
		if (text && ipv4_address_parse(text, &value) == 0 &&
		    ipcache_add(build->desired, value, 32, identity) < 0)
			build->failed = true;
	}
}

static void cidr_into_ipcache(const char *key, uint32_t id, void *opaque)
{
	struct ipcache_build *build = opaque;
	struct ipv4_prefix prefix;
	char errbuf[64];

	if (ipv4_prefix_parse(key, &prefix, errbuf, sizeof(errbuf)) == 0 &&
	    ipcache_add(build->desired, prefix.network, prefix.length, id) < 0)
		build->failed = true;
}

static bool namespace_is_dirty(const struct reconciler *reconciler, const char *name)
{
	for (const struct dirty_namespace *entry = reconciler->dirty_namespaces; entry;
	     entry = entry->next) {
		if (strcmp(entry->name, name) == 0)
			return true;
	}
	return false;
}

static void keep_ids_of(struct reconciler *reconciler, const struct compiled_endpoint *compiled)
{
	id_table_keep(reconciler->tables.rules, compiled->ingress_isolation_rule);
	id_table_keep(reconciler->tables.rules, compiled->egress_isolation_rule);
	for (size_t i = 0; i < compiled->count; i++) {
		uint32_t identity = compiled->entries[i].key.identity;
		id_table_keep(reconciler->tables.rules, compiled->entries[i].value.rule_id);
		if (identity >= WEIR_IDENTITY_FIRST_CIDR)
			id_table_keep(reconciler->tables.cidr_identities, identity);
		else if (identity >= WEIR_IDENTITY_FIRST_CLUSTER)
			id_table_keep(reconciler->tables.identities, identity);
	}
}

struct write_counts {
	size_t policy_added, policy_removed, ipcache_added, ipcache_removed, isolation_changed;
	size_t endpoints_compiled, http_sets_written, http_sets_removed;
};

/* Writes the entries of next that old lacks or holds differently. */
static int policy_write_additions(struct reconciler *reconciler,
				  const struct compiled_endpoint *old,
				  const struct compiled_endpoint *next, struct write_counts *counts,
				  char *errbuf, size_t errlen)
{
	size_t o = 0;

	for (size_t n = 0; n < next->count; n++) {
		const struct policy_map_entry *entry = &next->entries[n];
		while (old && o < old->count && compare_map_entries(&old->entries[o], entry) < 0)
			o++;
		if (old && o < old->count && compare_map_entries(&old->entries[o], entry) == 0 &&
		    memcmp(&old->entries[o].value, &entry->value, sizeof(entry->value)) == 0)
			continue;
		if (bpf_map_update_elem(reconciler->datapath.policy_fd, &entry->key, &entry->value,
					BPF_ANY) < 0) {
			snprintf(errbuf, errlen, "write policy entry for endpoint %u (rule %u): %s",
				 next->endpoint_id, entry->value.rule_id, strerror(errno));
			return -1;
		}
		counts->policy_added++;
	}
	return 0;
}

static int policy_write_removals(struct reconciler *reconciler,
				 const struct compiled_endpoint *old,
				 const struct compiled_endpoint *next, struct write_counts *counts,
				 char *errbuf, size_t errlen)
{
	size_t n = 0;

	if (!old)
		return 0;
	for (size_t o = 0; o < old->count; o++) {
		const struct policy_map_entry *entry = &old->entries[o];
		while (next && n < next->count && compare_map_entries(&next->entries[n], entry) < 0)
			n++;
		if (next && n < next->count && compare_map_entries(&next->entries[n], entry) == 0)
			continue;
		if (bpf_map_delete_elem(reconciler->datapath.policy_fd, &entry->key) < 0 &&
		    errno != ENOENT) {
			snprintf(errbuf, errlen, "remove policy entry of endpoint %u: %s",
				 old->endpoint_id, strerror(errno));
			return -1;
		}
		counts->policy_removed++;
	}
	return 0;
}

static int isolation_write(struct reconciler *reconciler, const struct compiled_endpoint *old,
			   const struct compiled_endpoint *next, uint32_t endpoint_id,
			   struct write_counts *counts, char *errbuf, size_t errlen)
{
	uint32_t old_ingress = old ? old->ingress_isolation_rule : 0;
	uint32_t old_egress = old ? old->egress_isolation_rule : 0;
	uint32_t new_ingress = next ? next->ingress_isolation_rule : 0;
	uint32_t new_egress = next ? next->egress_isolation_rule : 0;

	if (old_ingress == new_ingress && old_egress == new_egress)
		return 0;
	counts->isolation_changed++;
	return datapath_endpoint_policy_set(&reconciler->datapath, endpoint_id, new_ingress,
					    new_egress, errbuf, errlen);
}

static bool ipcache_item_is_cidr(const struct ipcache_item *item)
{
	return item->identity >= WEIR_IDENTITY_FIRST_CIDR;
}

/* Writes what desired has and the map lacks or holds differently: nodes and pods first, CIDRs
 * after, so a full ipcache refuses CIDRs before it refuses pods. A refused entry fails closed
 * where it is: it is marked refused (the compiler makes every ipBlock naming a refused CIDR
 * allow nothing, and the next pass tries it again), the first refusal is kept in errbuf, and
 * the rest is still written. Returns the number refused. */
static size_t ipcache_write_additions(struct reconciler *reconciler, struct ipcache_set *desired,
				      struct write_counts *counts, char *errbuf, size_t errlen)
{
	const struct ipcache_set *old = &reconciler->written_ipcache;
	size_t refused = 0;

	for (int cidrs = 0; cidrs < 2; cidrs++) {
		size_t o = 0;
		for (size_t d = 0; d < desired->count; d++) {
			struct ipcache_item *item = &desired->items[d];
			char ignored[256];

			while (o < old->count && compare_ipcache(&old->items[o], item) < 0)
				o++;
			if (ipcache_item_is_cidr(item) != (cidrs == 1))
				continue;
			if (o < old->count && compare_ipcache(&old->items[o], item) == 0 &&
			    old->items[o].identity == item->identity &&
			    old->items[o].address_identity == item->address_identity)
				continue;
			if (datapath_ipcache_upsert_address(&reconciler->datapath, item->address,
							    item->length, item->identity,
							    item->address_identity,
							    refused ? ignored : errbuf,
							    refused ? sizeof(ignored) : errlen) < 0) {
				item->refused = true;
				refused++;
				continue;
			}
			counts->ipcache_added++;
		}
	}
	return refused;
}

/* Removes what the map holds and desired does not: after the entries using it are gone. */
static void ipcache_write_removals(struct reconciler *reconciler, const struct ipcache_set *desired,
				   struct write_counts *counts)
{
	const struct ipcache_set *old = &reconciler->written_ipcache;
	size_t d = 0;

	for (size_t o = 0; o < old->count; o++) {
		while (d < desired->count && compare_ipcache(&desired->items[d], &old->items[o]) < 0)
			d++;
		if (d < desired->count && compare_ipcache(&desired->items[d], &old->items[o]) == 0)
			continue;
		datapath_ipcache_delete(&reconciler->datapath, old->items[o].address,
					old->items[o].length);
		counts->ipcache_removed++;
	}
}

/* What the map holds after this pass: desired without what was refused (a refused update of
 * an existing prefix keeps the old entry). */
static void ipcache_commit(struct reconciler *reconciler, struct ipcache_set *desired)
{
	const struct ipcache_set *old = &reconciler->written_ipcache;
	size_t kept = 0, o = 0;

	for (size_t d = 0; d < desired->count; d++) {
		struct ipcache_item item = desired->items[d];
		if (item.refused) {
			while (o < old->count && compare_ipcache(&old->items[o], &item) < 0)
				o++;
			if (o == old->count || compare_ipcache(&old->items[o], &item) != 0)
				continue;
			item = old->items[o];
		}
		desired->items[kept++] = item;
	}
	desired->count = kept;
	free(reconciler->written_ipcache.items);
	reconciler->written_ipcache = *desired;
	desired->items = NULL;
	desired->count = desired->capacity = 0;
}

/* The CIDRs refused this pass, for the compiler. */
static int ipcache_refused_cidrs(const struct ipcache_set *desired, struct ipv4_prefix **prefixes,
				 size_t *count)
{
	*prefixes = NULL;
	*count = 0;
	for (size_t d = 0; d < desired->count; d++) {
		if (!desired->items[d].refused || !ipcache_item_is_cidr(&desired->items[d]))
			continue;
		struct ipv4_prefix *grown = realloc(*prefixes, (*count + 1) * sizeof(*grown));
		if (!grown)
			return -1;
		*prefixes = grown;
		(*prefixes)[(*count)++] =
			(struct ipv4_prefix){ desired->items[d].address, desired->items[d].length };
	}
	return 0;
}

static void tables_save(struct reconciler *reconciler)
{
	char path[600], errbuf[256];

	table_path(reconciler, "identities.json", path, sizeof(path));
	if (id_table_save(reconciler->tables.identities, path, errbuf, sizeof(errbuf)) < 0)
		log_warn("%s", errbuf);
	table_path(reconciler, "cidr-identities.json", path, sizeof(path));
	if (id_table_save(reconciler->tables.cidr_identities, path, errbuf, sizeof(errbuf)) < 0)
		log_warn("%s", errbuf);
	table_path(reconciler, "rules.json", path, sizeof(path));
	if (id_table_save(reconciler->tables.rules, path, errbuf, sizeof(errbuf)) < 0)
		log_warn("%s", errbuf);
}

struct namespace_scan {
	const char *name;
	bool found;
};

static void policy_in_namespace(cJSON *policy, void *opaque)
{
	struct namespace_scan *scan = opaque;

	if (!scan->found && strcmp(object_namespace(policy), scan->name) == 0)
		scan->found = true;
}

/* Whether any (Weir)NetworkPolicy lives in the namespace: only those can select its pods. */
static bool namespace_has_policy(struct reconciler *reconciler, const char *name)
{
	struct namespace_scan scan = { name, false };

	object_store_for_each(reconciler->store, KIND_NETWORKPOLICY, policy_in_namespace, &scan);
	if (!scan.found)
		object_store_for_each(reconciler->store, KIND_WEIRNETWORKPOLICY,
				      policy_in_namespace, &scan);
	return scan.found;
}

/* Whether the pass may open this endpoint: its policy is written. A pod whose Pod object is
 * not known yet stays closed while a policy of its namespace might select it: nobody can tell
 * which until its labels are known. */
static bool endpoint_releasable(struct reconciler *reconciler,
				const struct local_endpoint *endpoint)
{
	struct weir_endpoint current;

	if (datapath_endpoint_lookup(&reconciler->datapath, endpoint->address, &current) < 0 ||
	    !(current.flags & WEIR_ENDPOINT_FLAG_PENDING) ||
	    current.host_ifindex != endpoint->host_ifindex)
		return false;
	if (endpoint->identity)
		return true;
	return !object_store_get(reconciler->store, KIND_POD, endpoint->pod_namespace,
				 endpoint->pod_name) &&
	       !namespace_has_policy(reconciler, endpoint->pod_namespace);
}

/* After a committed pass: every pending endpoint whose policy is written is opened, after
 * conntrack forgot its address (entries made before the address was this pod's must not skip
 * its policy; while pending, the datapath creates none). */
static bool pending_release(struct reconciler *reconciler, const struct endpoint_list *endpoints)
{
	bool *releasable = calloc(endpoints->count ? endpoints->count : 1, sizeof(*releasable));
	uint32_t *addresses = calloc(endpoints->count ? endpoints->count : 1, sizeof(*addresses));
	size_t count = 0;
	char errbuf[256];
	bool retry = false;

	if (!releasable || !addresses) {
		log_warn("release pending pods: out of memory; they stay closed until the next pass");
		retry = true;
		goto out;
	}
	for (size_t i = 0; i < endpoints->count; i++) {
		releasable[i] = endpoint_releasable(reconciler, &endpoints->items[i]);
		if (releasable[i])
			addresses[count++] = endpoints->items[i].address;
	}
	if (!count)
		goto out;
	if (datapath_ct_forget_addresses(&reconciler->datapath, addresses, count, errbuf,
					 sizeof(errbuf)) < 0) {
		log_warn("release pending pods: %s; they stay closed until the next pass", errbuf);
		retry = true;
		goto out;
	}
	for (size_t i = 0; i < endpoints->count; i++) {
		const struct local_endpoint *endpoint = &endpoints->items[i];
		int released;

		if (!releasable[i])
			continue;
		released = datapath_endpoint_release(&reconciler->datapath, endpoint->address,
						     endpoint->host_ifindex, endpoint->identity,
						     errbuf, sizeof(errbuf));
		if (released < 0)
			log_warn("pod %s/%s stays closed: %s", endpoint->pod_namespace,
				 endpoint->pod_name, errbuf);
		else if (released)
			log_info("pod %s/%s (endpoint %u) released: its policy is in force",
				 endpoint->pod_namespace, endpoint->pod_name,
				 endpoint->endpoint_id);
	}
out:
	free(releasable);
	free(addresses);
	return retry;
}

int reconciler_apply(struct reconciler *reconciler, char *errbuf, size_t errlen)
{
	struct endpoint_list endpoints = { 0 };
	struct ipcache_set desired = { 0 };
	struct ipcache_build build = { reconciler, &desired, false };
	struct compiled_endpoint **next = NULL;
	struct http_set_list desired_http = { 0 };
	bool *present = NULL;
	struct write_counts counts = { 0 };
	uint64_t cidr_digest;
	bool additions_failed = false, committed = false, ipcache_touched = false;
	bool release_retry = false;
	size_t ipcache_refused = 0, refused_cidr_count = 0;
	struct ipv4_prefix *refused_cidrs = NULL;
	bool *failed = NULL;
	int result = -1;

	endpoint_record_for_each(reconciler->state_dir, collect_endpoint, &endpoints);
	if (endpoints.out_of_memory) {
		snprintf(errbuf, errlen, "collect local endpoints: out of memory");
		free(endpoints.items);
		reconciler->all_dirty = true;
		return -1;
	}

	pod_identity_cache_reset();
	id_table_begin_pass(reconciler->tables.identities);
	id_table_begin_pass(reconciler->tables.cidr_identities);
	id_table_begin_pass(reconciler->tables.rules);

	address_names_clear(reconciler);
	object_store_for_each(reconciler->store, KIND_NODE, node_into_ipcache, &build);
	object_store_for_each(reconciler->store, KIND_POD, pod_into_ipcache, &build);
	for (size_t i = 0; i < endpoints.count; i++) {
		/* A local pod whose status has no address yet is known by its CNI record. */
		cJSON *pod = object_store_get(reconciler->store, KIND_POD,
					      endpoints.items[i].pod_namespace,
					      endpoints.items[i].pod_name);
		uint32_t identity = pod ? pod_identity(reconciler->store,
						       reconciler->tables.identities, pod)
					: 0;
		endpoints.items[i].identity = identity;
		if (identity && ipcache_add(&desired, endpoints.items[i].address, 32, identity) < 0)
			build.failed = true;
	}
	{
		/* Local pods are known by their CNI records even before their status has an IP. */
		uint32_t *local = malloc((endpoints.count + 1) * sizeof(*local));
		if (!local) {
			snprintf(errbuf, errlen, "mark CIDRs: out of memory");
			goto out;
		}
		for (size_t i = 0; i < endpoints.count; i++)
			local[i] = endpoints.items[i].address;
		if (compiler_mark_cidrs(reconciler->store, reconciler->tables.cidr_identities, local,
					endpoints.count, &cidr_digest) < 0)
			build.failed = true;
		free(local);
	}
	if (cidr_digest != reconciler->cidr_digest)
		reconciler->isolated_dirty = true;
	id_table_for_each(reconciler->tables.cidr_identities, cidr_into_ipcache, &build);
	if (build.failed || ipcache_normalize(&desired) < 0) {
		snprintf(errbuf, errlen, "build the ipcache: out of memory");
		goto out;
	}

	/* The ipcache first: what it refuses (a full map) the compiler must know, so that no
	 * ipBlock relies on a prefix the datapath does not have. Entries stay written whatever
	 * happens next: the maps are read back if the pass fails before committing. */
	ipcache_refused = ipcache_write_additions(reconciler, &desired, &counts, errbuf, errlen);
	ipcache_touched = true;
	if (ipcache_refused) {
		additions_failed = true;
		reconciler->isolated_dirty = true; /* every ipBlock is judged against the refusal */
		if (ipcache_refused_cidrs(&desired, &refused_cidrs, &refused_cidr_count) < 0) {
			snprintf(errbuf, errlen, "collect refused ipcache entries: out of memory");
			goto out;
		}
		if (refused_cidr_count) {
			char policy[600] = "no policy", first[512];
			compiler_policy_naming_cidr(reconciler->store, &refused_cidrs[0], policy,
						    sizeof(policy));
			snprintf(first, sizeof(first), "%s", errbuf);
			snprintf(errbuf, errlen,
				 "%s (the ipBlock of %s; %zu ipcache entries refused, their ipBlocks "
				 "allow nothing until they fit)",
				 first, policy, ipcache_refused);
		}
	}
	reconciler->tables.refused_cidrs = refused_cidrs;
	reconciler->tables.refused_cidr_count = refused_cidr_count;

	next = calloc(WEIR_MAX_ENDPOINTS, sizeof(*next));
	present = calloc(WEIR_MAX_ENDPOINTS, sizeof(*present));
	failed = calloc(WEIR_MAX_ENDPOINTS, sizeof(*failed));
	if (!next || !present || !failed) {
		snprintf(errbuf, errlen, "compile: out of memory");
		goto out;
	}
	for (size_t i = 0; i < endpoints.count; i++) {
		const struct local_endpoint *endpoint = &endpoints.items[i];
		const struct compiled_endpoint *old = reconciler->written[endpoint->endpoint_id];
		cJSON *pod = object_store_get(reconciler->store, KIND_POD, endpoint->pod_namespace,
					      endpoint->pod_name);
		bool recompile = reconciler->all_dirty || reconciler->endpoints_dirty || !old ||
				 (reconciler->isolated_dirty && compiled_endpoint_isolated(old)) ||
				 namespace_is_dirty(reconciler, endpoint->pod_namespace);

		present[endpoint->endpoint_id] = true;
		if (!recompile) {
			keep_ids_of(reconciler, old);
			continue;
		}
		next[endpoint->endpoint_id] = calloc(1, sizeof(struct compiled_endpoint));
		if (!next[endpoint->endpoint_id] ||
		    compile_endpoint(reconciler->store, &reconciler->tables, reconciler->node_name,
				     endpoint->endpoint_id, pod, next[endpoint->endpoint_id], errbuf,
				     errlen) < 0)
			goto out;
		counts.endpoints_compiled++;
	}

	if (http_sets_desired(reconciler, next, present, &desired_http) < 0) {
		snprintf(errbuf, errlen, "collect HTTP rule sets: out of memory");
		goto out;
	}

	/* Additions first, removals last: no packet sees a rule gone before its successor, and
	 * no entry names an HTTP rule set that is not written yet (a missing set denies). */
	if (http_sets_write(reconciler, &desired_http, &counts.http_sets_written, &additions_failed,
			    errbuf, errlen) < 0)
		goto out;
	/* A refused addition (a full map) fails closed: the pass goes on with every restriction
	 * (isolation, removals) so the datapath never allows more than the policies say, and
	 * what could not be written is retried. The first error is the one reported. */
	for (size_t id = 0; id < WEIR_MAX_ENDPOINTS; id++) {
		char ignored[256];
		if (next[id] &&
		    policy_write_additions(reconciler,
					   reconciler->incomplete[id] ? NULL : reconciler->written[id],
					   next[id], &counts, additions_failed ? ignored : errbuf,
					   additions_failed ? sizeof(ignored) : errlen) < 0) {
			additions_failed = true;
			failed[id] = true;
		}
	}
	for (size_t id = 0; id < WEIR_MAX_ENDPOINTS; id++) {
		const struct compiled_endpoint *target = next[id] ? next[id]
					   : present[id]    ? reconciler->written[id]
							    : NULL;
		if ((next[id] || (!present[id] && reconciler->written[id])) &&
		    isolation_write(reconciler, reconciler->written[id], target, (uint32_t)id, &counts,
				    errbuf, errlen) < 0)
			goto out;
	}
	for (size_t id = 0; id < WEIR_MAX_ENDPOINTS; id++) {
		if (next[id] || (!present[id] && reconciler->written[id])) {
			if (policy_write_removals(reconciler, reconciler->written[id], next[id], &counts,
						  errbuf, errlen) < 0)
				goto out;
		}
	}
	if (http_sets_remove_stale(reconciler, &desired_http, &counts.http_sets_removed, errbuf,
				   errlen) < 0)
		goto out;
	ipcache_write_removals(reconciler, &desired, &counts);
	if ((reconciler->services_dirty || reconciler->all_dirty) &&
	    service_sync_apply(reconciler->services, reconciler->store, errbuf, errlen) < 0)
		goto out;
	reconciler->services_dirty = false;
	/* A route the kernel refuses (an unreachable InternalIP) must not undo a pass whose
	 * maps are written: it is logged and tried again with the next node change. */
	if (reconciler->nodes_dirty &&
	    node_routes_sync(reconciler->store, reconciler->node_name, errbuf, errlen) < 0)
		log_warn("node routes: %s", errbuf);
	reconciler->nodes_dirty = false;

	/* Commit what was written. */
	for (size_t id = 0; id < WEIR_MAX_ENDPOINTS; id++) {
		if (next[id] || (!present[id] && reconciler->written[id])) {
			if (reconciler->written[id]) {
				compiled_endpoint_reset(reconciler->written[id]);
				free(reconciler->written[id]);
			}
			reconciler->written[id] = next[id];
			reconciler->incomplete[id] = failed[id];
			next[id] = NULL;
		}
	}
	ipcache_commit(reconciler, &desired);
	ipcache_touched = false;
	reconciler->ipcache_refused = ipcache_refused;
	problems_report(reconciler);

	if (counts.policy_added || counts.policy_removed || counts.ipcache_added ||
	    counts.ipcache_removed || counts.isolation_changed || counts.http_sets_written ||
	    counts.http_sets_removed) {
		int64_t revision = datapath_policy_revision_bump(&reconciler->datapath);
		if (revision > 0)
			reconciler->revision = (uint32_t)revision;
	}
	id_table_end_pass(reconciler->tables.identities);
	id_table_end_pass(reconciler->tables.cidr_identities);
	id_table_end_pass(reconciler->tables.rules);
	tables_save(reconciler);

	reconciler->cidr_digest = cidr_digest;
	committed = true;
	release_retry = pending_release(reconciler, &endpoints);
	if (additions_failed) {
		reconciler->all_dirty = true; /* retried */
		goto out;
	}
	reconciler->all_dirty = reconciler->isolated_dirty = reconciler->endpoints_dirty = false;
	reconciler->endpoints_dirty = release_retry;
	while (reconciler->dirty_namespaces) {
		struct dirty_namespace *rest = reconciler->dirty_namespaces->next;
		free(reconciler->dirty_namespaces);
		reconciler->dirty_namespaces = rest;
	}
	reconciler->applied_changes++;
	log_info("applied change %lu: %zu endpoints recompiled, policy entries +%zu -%zu, isolation "
		 "changes %zu, HTTP rule sets +%zu -%zu, ipcache +%zu -%zu, policy revision %u",
		 reconciler->applied_changes, counts.endpoints_compiled, counts.policy_added,
		 counts.policy_removed, counts.isolation_changed, counts.http_sets_written,
		 counts.http_sets_removed, counts.ipcache_added, counts.ipcache_removed,
		 reconciler->revision);
	result = 0;
out:
	reconciler->tables.refused_cidrs = NULL;
	reconciler->tables.refused_cidr_count = 0;
	free(refused_cidrs);
	if (ipcache_touched) {
		/* Additions were written but not committed: read back what the map holds. */
		reconciler->written_ipcache.count = 0;
		ipcache_reload(reconciler);
	}
	if (result < 0 && !committed) {
		/* Nothing is committed: the next pass starts from what the maps really hold. */
		id_table_end_pass(reconciler->tables.identities);
		id_table_end_pass(reconciler->tables.cidr_identities);
		id_table_end_pass(reconciler->tables.rules);
		reconciler->all_dirty = true;
	}
	if (next) {
		for (size_t id = 0; id < WEIR_MAX_ENDPOINTS; id++) {
			if (next[id]) {
				compiled_endpoint_reset(next[id]);
				free(next[id]);
			}
		}
	}
	free(next);
	free(present);
	free(failed);
	free(desired.items);
	free(desired_http.items);
	free(endpoints.items);
	return result;
}

void reconciler_stats(const struct reconciler *reconciler, struct reconciler_stats *stats)
{
	memset(stats, 0, sizeof(*stats));
	stats->applied_changes = reconciler->applied_changes;
	for (size_t id = 0; id < WEIR_MAX_ENDPOINTS; id++) {
		const struct compiled_endpoint *compiled = reconciler->written[id];
		if (!compiled)
			continue;
		stats->endpoints++;
		stats->policy_entries += compiled->count;
		if (compiled_endpoint_isolated(compiled))
			stats->isolated_endpoints++;
	}
	stats->identities = id_table_count(reconciler->tables.identities);
	stats->ipcache_entries = reconciler->written_ipcache.count;
	stats->ipcache_refused = reconciler->ipcache_refused;
	stats->policy_revision = reconciler->revision;
}

const char *reconciler_rule_name(const struct reconciler *reconciler, uint32_t rule_id)
{
	return id_table_key_of(reconciler->tables.rules, rule_id);
}
