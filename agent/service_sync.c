/* Services compiled from the API's own semantics: a ClusterIP Service (not headless, not
 * ExternalName) gets one datapath entry per IPv4 cluster IP and port; its backends are the
 * EndpointSlice endpoints labelled with the Service's name whose port has the Service port's
 * name and protocol: the ready ones, or when none is ready the serving and terminating ones.
 * Entries are written backends -> table -> VIP and removed in the reverse order. */
#include "service_sync.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>

#include "cidr.h"
#include "id_table.h"
#include "log.h"

#define MAX_SERVICE_BACKENDS 1024

struct compiled_service {
	uint32_t vip;
	uint16_t port;
	uint8_t protocol;
	uint32_t service_id;
	uint32_t affinity_seconds;
	struct service_backend *backends;
	size_t count;
};

struct service_list {
	struct compiled_service *items;
	size_t count, capacity;
};

struct service_sync {
	char state_dir[512];
	char node_name[256];
	struct datapath *datapath;
	struct id_table *service_ids;
	struct id_table *backend_ids;
	struct service_list written;
	bool written_known; /* false until the first pass replaced what the maps held */
};

static void list_clear(struct service_list *list)
{
	for (size_t i = 0; i < list->count; i++)
		free(list->items[i].backends);
	free(list->items);
	memset(list, 0, sizeof(*list));
}

static struct compiled_service *list_add(struct service_list *list)
{
	if (list->count == list->capacity) {
		size_t capacity = list->capacity ? list->capacity * 2 : 64;
		struct compiled_service *grown = realloc(list->items, capacity * sizeof(*grown));
		if (!grown)
			return NULL;
		list->items = grown;
		list->capacity = capacity;
	}
	memset(&list->items[list->count], 0, sizeof(list->items[0]));
	return &list->items[list->count++];
}

static void table_path(const struct service_sync *sync, const char *name, char *path,
		       size_t size)
{
	snprintf(path, size, "%s/%s", sync->state_dir, name);
}

struct service_sync *service_sync_new(const char *state_dir, const char *node_name,
				      struct datapath *datapath, char *errbuf, size_t errlen)
{
	struct service_sync *sync = calloc(1, sizeof(*sync));
	char path[600];

	if (!sync) {
		snprintf(errbuf, errlen, "allocate the service compiler: out of memory");
		return NULL;
	}
	snprintf(sync->state_dir, sizeof(sync->state_dir), "%s", state_dir);
	snprintf(sync->node_name, sizeof(sync->node_name), "%s", node_name);
	sync->datapath = datapath;
	sync->service_ids = id_table_new(1, WEIR_MAX_SERVICES * 4);
	sync->backend_ids = id_table_new(1, 0x7fffffff);
	if (!sync->service_ids || !sync->backend_ids) {
		snprintf(errbuf, errlen, "allocate service id tables: out of memory");
		service_sync_free(sync);
		return NULL;
	}
	table_path(sync, "service-ids.json", path, sizeof(path));
	if (id_table_load(sync->service_ids, path, errbuf, errlen) < 0)
		goto fail;
	table_path(sync, "backend-ids.json", path, sizeof(path));
	if (id_table_load(sync->backend_ids, path, errbuf, errlen) < 0)
		goto fail;
	return sync;
fail:
	service_sync_free(sync);
	return NULL;
}

void service_sync_free(struct service_sync *sync)
{
	if (!sync)
		return;
	list_clear(&sync->written);
	id_table_free(sync->service_ids);
	id_table_free(sync->backend_ids);
	free(sync);
}

static uint8_t protocol_of(const char *name)
{
	if (!name || strcmp(name, "TCP") == 0)
		return IPPROTO_TCP;
	if (strcmp(name, "UDP") == 0)
		return IPPROTO_UDP;
	if (strcmp(name, "SCTP") == 0)
		return IPPROTO_SCTP;
	return 0;
}

static bool same_name(const char *left, const char *right)
{
	return strcmp(left ? left : "", right ? right : "") == 0;
}

/* EndpointSlices by "namespace/service-name", built once per pass: a Service finds its slices
 * by binary search instead of scanning them all. */
struct slice_ref {
	char key[512];
	const cJSON *slice;
};

struct slice_index {
	struct slice_ref *refs;
	size_t count, capacity;
};

static void index_slice(cJSON *slice, void *opaque)
{
	struct slice_index *index = opaque;
	const cJSON *owner = cJSON_GetObjectItemCaseSensitive(object_child(slice, "metadata.labels"),
							     "kubernetes.io/service-name");

	if (!cJSON_IsString(owner))
		return;
	if (index->count == index->capacity) {
		size_t capacity = index->capacity ? index->capacity * 2 : 256;
		struct slice_ref *grown = realloc(index->refs, capacity * sizeof(*grown));
		if (!grown)
			return;
		index->refs = grown;
		index->capacity = capacity;
	}
	snprintf(index->refs[index->count].key, sizeof(index->refs[0].key), "%s/%s",
		 object_namespace(slice), owner->valuestring);
	index->refs[index->count].slice = slice;
	index->count++;
}

static int compare_slice_refs(const void *left, const void *right)
{
	return strcmp(((const struct slice_ref *)left)->key, ((const struct slice_ref *)right)->key);
}

struct backend_scan {
	struct service_sync *sync;
	const cJSON *service;
	const char *port_name;
	uint8_t protocol;
	bool want_ready; /* pass 1: ready; pass 2: serving and terminating */
	bool local_only; /* a "Local" traffic policy: endpoints of this node only */
	struct service_backend *backends;
	size_t count;
};

static bool condition(const cJSON *endpoint, const char *name, bool absent)
{
	const cJSON *value = object_child(endpoint, name);

	return cJSON_IsBool(value) ? cJSON_IsTrue(value) : absent;
}

static void scan_slice(const cJSON *slice, struct backend_scan *scan)
{
	const cJSON *port, *endpoint;
	int target = -1;

	if (object_string(slice, "addressType") && strcmp(object_string(slice, "addressType"),
							   "IPv4") != 0)
		return;
	cJSON_ArrayForEach(port, object_child(slice, "ports"))
	{
		const cJSON *number = cJSON_GetObjectItemCaseSensitive(port, "port");
		if (same_name(object_string(port, "name"), scan->port_name) &&
		    protocol_of(object_string(port, "protocol")) == scan->protocol &&
		    cJSON_IsNumber(number) && number->valueint > 0 && number->valueint < 65536)
			target = number->valueint;
	}
	if (target < 0)
		return;
	cJSON_ArrayForEach(endpoint, object_child(slice, "endpoints"))
	{
		bool ready = condition(endpoint, "conditions.ready", true);
		bool serving = condition(endpoint, "conditions.serving", ready);
		bool terminating = condition(endpoint, "conditions.terminating", false);
		const cJSON *address;

		if (scan->want_ready ? !ready : !(serving && terminating))
			continue;
		if (scan->local_only) {
			const char *node = object_string(endpoint, "nodeName");
			if (!node || strcmp(node, scan->sync->node_name) != 0)
				continue;
		}
		cJSON_ArrayForEach(address, cJSON_GetObjectItemCaseSensitive(endpoint, "addresses"))
		{
			uint32_t value;
			char key[64];
			if (!cJSON_IsString(address) ||
			    ipv4_address_parse(address->valuestring, &value) < 0 ||
			    scan->count >= MAX_SERVICE_BACKENDS)
				continue;
			snprintf(key, sizeof(key), "%s:%d/%u", address->valuestring, target,
				 scan->protocol);
			scan->backends[scan->count].address = value;
			scan->backends[scan->count].port = (uint16_t)target;
			scan->backends[scan->count].backend_id = id_table_use(scan->sync->backend_ids,
									      key);
			scan->count++;
		}
	}
}

static int compare_backend_entries(const void *left, const void *right)
{
	const struct service_backend *a = left, *b = right;

	if (a->address != b->address)
		return a->address < b->address ? -1 : 1;
	return (a->port > b->port) - (a->port < b->port);
}

/* sessionAffinity ClientIP: the timeout (the API's default is 10800 s); 0 without affinity. */
static uint32_t affinity_of(const cJSON *service)
{
	const char *mode = object_string(service, "spec.sessionAffinity");
	const cJSON *timeout =
		object_child(service, "spec.sessionAffinityConfig.clientIP.timeoutSeconds");

	if (!mode || strcmp(mode, "ClientIP") != 0)
		return 0;
	if (cJSON_IsNumber(timeout) && timeout->valueint > 0 && timeout->valueint <= 86400)
		return (uint32_t)timeout->valueint;
	return 10800;
}

struct service_scan {
	struct service_sync *sync;
	struct object_store *store;
	struct service_list *desired;
	struct slice_index slices;
	struct service_backend *scratch; /* MAX_SERVICE_BACKENDS, reused for every entry */
	bool failed;
};

static void scan_slices_of(struct service_scan *scan, const cJSON *service,
			   struct backend_scan *backends)
{
	struct slice_ref wanted;
	size_t low = 0, high = scan->slices.count;

	snprintf(wanted.key, sizeof(wanted.key), "%s/%s", object_namespace(service),
		 object_name(service));
	while (low < high) { /* the first ref not below the key */
		size_t middle = (low + high) / 2;
		if (compare_slice_refs(&scan->slices.refs[middle], &wanted) < 0)
			low = middle + 1;
		else
			high = middle;
	}
	for (size_t i = low; i < scan->slices.count &&
			     strcmp(scan->slices.refs[i].key, wanted.key) == 0;
	     i++)
		scan_slice(scan->slices.refs[i].slice, backends);
}

/* One datapath entry: address:port/protocol of a Service port, with its backends. */
static void add_entry(struct service_scan *scan, const cJSON *service, const char *kind,
		      const char *address_text, uint32_t address, uint16_t port, uint8_t protocol,
		      const char *port_name, bool local_only)
{
	struct backend_scan backends = { scan->sync, service, port_name, protocol, true, local_only,
					 scan->scratch, 0 };
	struct compiled_service *compiled = list_add(scan->desired);
	char key[700];

	if (!compiled) {
		scan->failed = true;
		return;
	}
	scan_slices_of(scan, service, &backends);
	if (backends.count == 0) {
		backends.want_ready = false;
		scan_slices_of(scan, service, &backends);
	}
	qsort(backends.backends, backends.count, sizeof(*backends.backends),
	      compare_backend_entries);
	/* Keep only what is used: thousands of Services must not hold the scratch size each. */
	backends.backends = NULL;
	if (backends.count) {
		backends.backends = malloc(backends.count * sizeof(*backends.backends));
		if (!backends.backends) {
			scan->failed = true;
			scan->desired->count--;
			return;
		}
		memcpy(backends.backends, scan->scratch, backends.count * sizeof(*backends.backends));
	}
	snprintf(key, sizeof(key), "%s/%s %s %s:%u/%u", object_namespace(service),
		 object_name(service), kind, address_text, port, protocol);
	compiled->vip = address;
	compiled->port = port;
	compiled->protocol = protocol;
	compiled->service_id = id_table_use(scan->sync->service_ids, key);
	compiled->affinity_seconds = affinity_of(service);
	compiled->backends = backends.backends;
	compiled->count = backends.count;
}

static bool policy_is_local(const cJSON *service, const char *field)
{
	const char *value = object_string(service, field);

	return value && strcmp(value, "Local") == 0;
}

static void compile_service(cJSON *service, void *opaque)
{
	struct service_scan *scan = opaque;
	const char *type = object_string(service, "spec.type");
	const cJSON *addresses = object_child(service, "spec.clusterIPs"), *address, *port;
	const char *single = object_string(service, "spec.clusterIP");
	bool node_ports = type && (strcmp(type, "NodePort") == 0 || strcmp(type, "LoadBalancer") == 0);
	cJSON *fallback = NULL;
	cJSON *node = object_store_get(scan->store, KIND_NODE, "", scan->sync->node_name);

	if (type && strcmp(type, "ExternalName") == 0)
		return;
	if (!addresses || cJSON_GetArraySize(addresses) == 0) {
		fallback = cJSON_CreateArray();
		if (single)
			cJSON_AddItemToArray(fallback, cJSON_CreateString(single));
		addresses = fallback;
	}
	cJSON_ArrayForEach(port, object_child(service, "spec.ports"))
	{
		const cJSON *number = cJSON_GetObjectItemCaseSensitive(port, "port");
		const cJSON *node_port = cJSON_GetObjectItemCaseSensitive(port, "nodePort");
		uint8_t protocol = protocol_of(object_string(port, "protocol"));
		const char *port_name = object_string(port, "name");
		const cJSON *node_address;

		if (!cJSON_IsNumber(number) || number->valueint < 1 || number->valueint > 65535 ||
		    !protocol)
			continue;
		cJSON_ArrayForEach(address, addresses)
		{
			uint32_t vip;
			if (!cJSON_IsString(address) ||
			    ipv4_address_parse(address->valuestring, &vip) < 0)
				continue; /* "None" (headless) and IPv6 */
			add_entry(scan, service, "cluster-ip", address->valuestring, vip,
				  (uint16_t)number->valueint, protocol, port_name,
				  policy_is_local(service, "spec.internalTrafficPolicy"));
		}
		if (!node_ports || !node || !cJSON_IsNumber(node_port) || node_port->valueint < 1 ||
		    node_port->valueint > 65535)
			continue;
		cJSON_ArrayForEach(node_address, object_child(node, "status.addresses"))
		{
			const char *text = object_string(node_address, "address");
			uint32_t value;
			if (!text || ipv4_address_parse(text, &value) < 0)
				continue;
			add_entry(scan, service, "node-port", text, value,
				  (uint16_t)node_port->valueint, protocol, port_name,
				  policy_is_local(service, "spec.externalTrafficPolicy"));
		}
	}
	cJSON_Delete(fallback);
}

static const struct compiled_service *find_service(const struct service_list *list,
						   const struct compiled_service *wanted)
{
	for (size_t i = 0; i < list->count; i++) {
		const struct compiled_service *item = &list->items[i];
		if (item->vip == wanted->vip && item->port == wanted->port &&
		    item->protocol == wanted->protocol)
			return item;
	}
	return NULL;
}

static bool same_service(const struct compiled_service *left,
			 const struct compiled_service *right)
{
	if (left->service_id != right->service_id || left->count != right->count ||
	    left->affinity_seconds != right->affinity_seconds)
		return false;
	for (size_t i = 0; i < left->count; i++) {
		if (left->backends[i].address != right->backends[i].address ||
		    left->backends[i].port != right->backends[i].port ||
		    left->backends[i].backend_id != right->backends[i].backend_id)
			return false;
	}
	return true;
}

/* At start-up: whatever the maps hold is "written", so stale entries get removed. */
static void written_load(struct service_sync *sync)
{
	struct weir_service_key key, next;
	void *previous = NULL;

	while (bpf_map_get_next_key(sync->datapath->services_fd, previous, &next) == 0) {
		struct weir_service value;
		if (bpf_map_lookup_elem(sync->datapath->services_fd, &next, &value) == 0) {
			struct compiled_service *item = list_add(&sync->written);
			if (item) {
				item->vip = ntohl(next.address);
				item->port = ntohs(next.port);
				item->protocol = next.protocol;
				item->service_id = value.service_id;
				item->count = SIZE_MAX; /* unknown backends: rewrite once */
			}
		}
		key = next;
		previous = &key;
	}
}

struct backend_ids {
	uint32_t *ids;
	size_t count, capacity;
};

static void remember_id(struct backend_ids *set, uint32_t id)
{
	if (set->count == set->capacity) {
		size_t capacity = set->capacity ? set->capacity * 2 : 256;
		uint32_t *grown = realloc(set->ids, capacity * sizeof(*grown));
		if (!grown)
			return;
		set->ids = grown;
		set->capacity = capacity;
	}
	set->ids[set->count++] = id;
}

int service_sync_apply(struct service_sync *sync, struct object_store *store, char *errbuf,
		       size_t errlen)
{
	struct service_list desired = { 0 };
	struct service_scan scan = { sync, store, &desired, { 0 }, NULL, false };
	size_t written = 0, removed = 0;
	char path[600];
	int result = -1;

	if (!sync->written_known) {
		written_load(sync);
		sync->written_known = true;
	}
	id_table_begin_pass(sync->service_ids);
	id_table_begin_pass(sync->backend_ids);
	scan.scratch = calloc(MAX_SERVICE_BACKENDS, sizeof(*scan.scratch));
	object_store_for_each(store, KIND_ENDPOINTSLICE, index_slice, &scan.slices);
	if (scan.slices.count)
		qsort(scan.slices.refs, scan.slices.count, sizeof(*scan.slices.refs),
		      compare_slice_refs);
	if (scan.scratch)
		object_store_for_each(store, KIND_SERVICE, compile_service, &scan);
	else
		scan.failed = true;
	free(scan.scratch);
	free(scan.slices.refs);
	if (scan.failed) {
		snprintf(errbuf, errlen, "compile services: out of memory");
		goto out;
	}
	for (size_t i = 0; i < desired.count; i++) {
		const struct compiled_service *old = find_service(&sync->written, &desired.items[i]);
		const struct compiled_service *item = &desired.items[i];
		if (old && old->count != SIZE_MAX && same_service(old, item))
			continue;
		if (datapath_service_write(sync->datapath, item->vip, item->port, item->protocol,
					   item->service_id, item->backends, item->count,
					   item->affinity_seconds, errbuf, errlen) < 0)
			goto out;
		if (old && old->service_id != item->service_id)
			datapath_service_delete(sync->datapath, 0, 0, 0, old->service_id);
		written++;
	}
	for (size_t i = 0; i < sync->written.count; i++) {
		const struct compiled_service *old = &sync->written.items[i];
		if (find_service(&desired, old))
			continue;
		datapath_service_delete(sync->datapath, old->vip, old->port, old->protocol,
					old->service_id);
		removed++;
	}
	/* Backends no Service uses any more go last. */
	{
		struct backend_ids keep = { 0 };
		uint32_t id, next;
		void *previous = NULL;
		struct backend_ids stale = { 0 };

		for (size_t i = 0; i < desired.count; i++)
			for (size_t b = 0; b < desired.items[i].count; b++)
				remember_id(&keep, desired.items[i].backends[b].backend_id);
		while (bpf_map_get_next_key(sync->datapath->backends_fd, previous, &next) == 0) {
			bool used = false;
			for (size_t k = 0; k < keep.count && !used; k++)
				used = keep.ids[k] == next;
			if (!used)
				remember_id(&stale, next);
			id = next;
			previous = &id;
		}
		for (size_t s = 0; s < stale.count; s++)
			datapath_backend_delete(sync->datapath, stale.ids[s]);
		free(keep.ids);
		free(stale.ids);
	}
	list_clear(&sync->written);
	sync->written = desired;
	memset(&desired, 0, sizeof(desired));
	id_table_end_pass(sync->service_ids);
	id_table_end_pass(sync->backend_ids);
	table_path(sync, "service-ids.json", path, sizeof(path));
	id_table_save(sync->service_ids, path, errbuf, errlen);
	table_path(sync, "backend-ids.json", path, sizeof(path));
	id_table_save(sync->backend_ids, path, errbuf, errlen);
	if (written || removed)
		log_info("services applied: %zu written, %zu removed, %zu in the datapath", written,
			 removed, sync->written.count);
	result = 0;
out:
	if (result < 0) {
		id_table_end_pass(sync->service_ids);
		id_table_end_pass(sync->backend_ids);
	}
	list_clear(&desired);
	return result;
}

size_t service_sync_count(const struct service_sync *sync)
{
	return sync->written.count;
}
