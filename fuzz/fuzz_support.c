/* Helpers shared by the fuzz targets (see fuzz_support.h). */
#include "fuzz_support.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "abi.h"
#include "id_table.h"
#include "log.h"
#include "netlink.h"
#include "pod.skel.h"
#include "policy_compiler.h"

void fuzz_fail(const char *file, int line, const char *condition, const char *format, ...)
{
	va_list args;

	fprintf(stderr, "\n==FUZZ INVARIANT== %s:%d: %s\n    ", file, line, condition);
	va_start(args, format);
	vfprintf(stderr, format, args);
	va_end(args);
	fputc('\n', stderr);
	fflush(stderr);
	abort();
}

void fuzz_quiet_logs(void)
{
	if (getenv("WEIR_FUZZ_LOG"))
		log_setup("fuzz", stderr, LOG_LEVEL_DEBUG);
	else /* one above error: log_message drops every level below the configured one */
		log_setup("fuzz", stderr, (enum log_level)(LOG_LEVEL_ERROR + 1));
}

char *fuzz_text(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);

	FUZZ_CHECK(text != NULL, "out of memory copying %zu bytes", size);
	if (size)
		memcpy(text, data, size);
	text[size] = '\0';
	return text;
}

void fuzz_write_file(const char *path, const void *data, size_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	const char *cursor = data;

	FUZZ_CHECK(fd >= 0, "open %s: %s", path, strerror(errno));
	while (size > 0) {
		ssize_t written = write(fd, cursor, size);
		FUZZ_CHECK(written > 0, "write %s: %s", path, strerror(errno));
		cursor += written;
		size -= (size_t)written;
	}
	close(fd);
}

void fuzz_remove_tree(const char *path)
{
	struct stat status;
	DIR *directory;
	struct dirent *entry;

	if (lstat(path, &status) < 0)
		return;
	if (!S_ISDIR(status.st_mode)) {
		unlink(path);
		return;
	}
	directory = opendir(path);
	if (directory) {
		while ((entry = readdir(directory))) {
			char child[4096];
			if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0)
				continue;
			snprintf(child, sizeof(child), "%s/%s", path, entry->d_name);
			fuzz_remove_tree(child);
		}
		closedir(directory);
	}
	rmdir(path);
}

/* Temp folders are removed by the process that made them, never by a forked child (the replay
 * driver forks one child per input, and they all share the parent's folder). */
static struct {
	char paths[4][512];
	int count;
	pid_t owner;
	char mount[512]; /* a bpffs mounted in one of them, detached first */
} temp_dirs;

static void temp_dirs_remove(void)
{
	if (getpid() != temp_dirs.owner)
		return;
	if (temp_dirs.mount[0])
		umount2(temp_dirs.mount, MNT_DETACH);
	for (int i = 0; i < temp_dirs.count; i++)
		fuzz_remove_tree(temp_dirs.paths[i]);
}

const char *fuzz_temp_dir(const char *what)
{
	const char *base = getenv("TMPDIR");
	struct stat status;
	char *path;

	/* tmpfs when there is one: the targets write files for every input, some with fsync. */
	if (!base || !*base)
		base =
		    stat("/dev/shm", &status) == 0 && S_ISDIR(status.st_mode) ? "/dev/shm" : "/tmp";
	FUZZ_CHECK(temp_dirs.count < 4, "too many temp folders");
	path = temp_dirs.paths[temp_dirs.count];
	snprintf(path, sizeof(temp_dirs.paths[0]), "%s/weir-fuzz-%s-XXXXXX", base, what);
	FUZZ_CHECK(mkdtemp(path) != NULL, "mkdtemp %s: %s", path, strerror(errno));
	if (temp_dirs.count++ == 0) {
		temp_dirs.owner = getpid();
		atexit(temp_dirs_remove);
	}
	return path;
}

/* ---- the datapath --------------------------------------------------------------------------- */

/* Hash maps are made small: an empty hash map's first get_next_key walks every bucket, and the
 * targets empty maps for every input. Maglev needs WEIR_MAGLEV_SIZE slots per service. */
#define FUZZ_HASH_ENTRIES   4096
#define FUZZ_MAGLEV_ENTRIES (WEIR_MAGLEV_SIZE * 256)

/* A network namespace of the process's own, so routes the agent code adds (node_routes.c) and
 * the lo that BPF_PROG_TEST_RUN uses are private: lo up, and a veth pair weirfuzz0/weirfuzz1
 * with 172.18.0.1/16 (kind's node network), so Node addresses there are on-link. */
static void private_network(void)
{
	struct link_info link;
	struct nl_sock *sock;
	char errbuf[512];
	int self;

	FUZZ_CHECK(unshare(CLONE_NEWNET) == 0, "unshare(CLONE_NEWNET): %s", strerror(errno));
	self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	FUZZ_CHECK(self >= 0, "open /proc/self/ns/net: %s", strerror(errno));
	sock = netlink_open(errbuf, sizeof(errbuf));
	FUZZ_CHECK(sock != NULL, "netlink: %s", errbuf);
	FUZZ_CHECK(link_set_up(sock, "lo", errbuf, sizeof(errbuf)) == 0, "lo: %s", errbuf);
	FUZZ_CHECK(
	    veth_create(sock, "weirfuzz0", "weirfuzz1", self, 1500, errbuf, sizeof(errbuf)) == 0,
	    "veth: %s", errbuf);
	FUZZ_CHECK(link_set_up(sock, "weirfuzz1", errbuf, sizeof(errbuf)) == 0, "veth peer: %s",
		   errbuf);
	FUZZ_CHECK(link_get(sock, "weirfuzz0", &link) == 0, "weirfuzz0 is missing");
	FUZZ_CHECK(address_add(sock, link.ifindex, 0xac120001u, 16, errbuf, sizeof(errbuf)) == 0,
		   "address: %s", errbuf);
	netlink_close(sock);
	close(self);
}

const char *fuzz_datapath_load(struct pod_bpf **skeleton)
{
	static struct pod_bpf *loaded;
	static char bpffs[600];
	struct bpf_map *map;
	int err;

	if (loaded) {
		*skeleton = loaded;
		return bpffs;
	}
	FUZZ_CHECK(unshare(CLONE_NEWNS) == 0,
		   "unshare(CLONE_NEWNS): %s (the datapath targets need root)", strerror(errno));
	FUZZ_CHECK(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0,
		   "make / private in the new mount namespace: %s", strerror(errno));
	private_network();
	snprintf(bpffs, sizeof(bpffs), "%s/bpf", fuzz_temp_dir("bpffs"));
	FUZZ_CHECK(mkdir(bpffs, 0700) == 0, "mkdir %s: %s", bpffs, strerror(errno));
	FUZZ_CHECK(mount("bpf", bpffs, "bpf", 0, "mode=0700") == 0, "mount bpffs at %s: %s", bpffs,
		   strerror(errno));
	snprintf(temp_dirs.mount, sizeof(temp_dirs.mount), "%s", bpffs);
	{
		DECLARE_LIBBPF_OPTS(bpf_object_open_opts, options, .pin_root_path = bpffs);
		loaded = pod_bpf__open_opts(&options);
	}
	FUZZ_CHECK(loaded != NULL, "open the datapath object: %s", strerror(errno));
	bpf_object__for_each_map(map, loaded->obj)
	{
		enum bpf_map_type type = bpf_map__type(map);
		uint32_t entries = strcmp(bpf_map__name(map), "maglev") == 0 ? FUZZ_MAGLEV_ENTRIES
									     : FUZZ_HASH_ENTRIES;
		if ((type == BPF_MAP_TYPE_HASH || type == BPF_MAP_TYPE_LRU_HASH ||
		     type == BPF_MAP_TYPE_PERCPU_HASH || type == BPF_MAP_TYPE_LRU_PERCPU_HASH) &&
		    bpf_map__max_entries(map) > entries)
			bpf_map__set_max_entries(map, entries);
	}
	err = pod_bpf__load(loaded);
	FUZZ_CHECK(err == 0, "load the datapath (maps pinned under %s): %s", bpffs, strerror(-err));
	{ /* as the agent's loader does: the product code checks the pins' ABI stamp */
		__u32 key = 0, version = WEIR_ABI_VERSION;
		err = bpf_map__update_elem(loaded->maps.abi, &key, sizeof(key), &version,
					   sizeof(version), BPF_ANY);
		FUZZ_CHECK(err == 0, "stamp the ABI version: %s", strerror(-err));
	}
	*skeleton = loaded;
	return bpffs;
}

void fuzz_map_clear(int fd)
{
	uint8_t zero[4096] = {0};
	struct bpf_map_info info = {0};
	uint32_t info_length = sizeof(info);
	uint8_t *keys = NULL, *previous = NULL;
	size_t count = 0, capacity = 0;

	FUZZ_CHECK(bpf_obj_get_info_by_fd(fd, &info, &info_length) == 0, "map info: %s",
		   strerror(errno));
	if (info.type == BPF_MAP_TYPE_RINGBUF || info.type == BPF_MAP_TYPE_PERCPU_ARRAY)
		return; /* no entries to delete; per-CPU counters matter to no target */
	FUZZ_CHECK(info.key_size > 0 && info.value_size <= sizeof(zero), "map %s: value too large",
		   info.name);
	if (strcmp(info.name, WEIR_MAP_ABI) == 0)
		return; /* the pins' ABI stamp, written once at load */
	if (info.type == BPF_MAP_TYPE_ARRAY) {
		for (uint32_t index = 0; index < info.max_entries; index++)
			bpf_map_update_elem(fd, &index, zero, BPF_ANY);
		return;
	}
	/* Every key first, then the deletes: restarting from the first key after each delete
	 * would walk the buckets once per entry. */
	for (;;) {
		if (count == capacity) {
			capacity = capacity ? capacity * 2 : 16;
			keys = realloc(keys, capacity * info.key_size);
			FUZZ_CHECK(keys != NULL, "out of memory");
			previous = count ? keys + (count - 1) * info.key_size : NULL;
		}
		if (bpf_map_get_next_key(fd, previous, keys + count * info.key_size) < 0)
			break;
		previous = keys + count * info.key_size;
		count++;
	}
	for (size_t i = 0; i < count; i++)
		FUZZ_CHECK(bpf_map_delete_elem(fd, keys + i * info.key_size) == 0 ||
			       errno == ENOENT,
			   "map %s: delete: %s", info.name, strerror(errno));
	free(keys);
}

/* ---- objects ------------------------------------------------------------------------------ */

static size_t store_object(struct object_store *store, cJSON *object)
{
	const char *kind_name = object_string(object, "kind");
	size_t stored = 0;

	if (kind_name && strlen(kind_name) >= 4 &&
	    strcmp(kind_name + strlen(kind_name) - 4, "List") == 0) {
		cJSON *items = cJSON_GetObjectItemCaseSensitive(object, "items"), *item;
		while (cJSON_IsArray(items) && (item = cJSON_DetachItemFromArray(items, 0)))
			stored += store_object(store, item);
		cJSON_Delete(object);
		return stored;
	}
	int kind = kube_kind_of(kind_name);
	if (kind < 0) {
		cJSON_Delete(object);
		return 0;
	}
	/* object_store_put takes the object in every case, stored or refused. */
	return object_store_put(store, (enum kube_kind)kind, object) >= 0 ? 1 : 0;
}

static const char base_cluster[] =
    "{\"kind\":\"List\",\"items\":["
    "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"default\","
    "\"labels\":{\"kubernetes.io/metadata.name\":\"default\"}}},"
    "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"prod\","
    "\"labels\":{\"kubernetes.io/metadata.name\":\"prod\",\"env\":\"prod\"}}},"
    "{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{\"name\":\"node-1\"},"
    "\"spec\":{\"podCIDR\":\"10.244.0.0/24\"},\"status\":{\"addresses\":[{\"type\":"
    "\"InternalIP\",\"address\":\"172.18.0.2\"}]}},"
    "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"web\",\"namespace\":"
    "\"default\",\"labels\":{\"app\":\"web\"}},\"spec\":{\"nodeName\":\"node-1\","
    "\"containers\":[{\"name\":\"web\",\"image\":\"nginx\",\"ports\":[{\"name\":\"http\","
    "\"containerPort\":80}]}]},\"status\":{\"podIP\":\"10.244.0.5\",\"podIPs\":[{\"ip\":"
    "\"10.244.0.5\"}]}},"
    "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"client\",\"namespace\":"
    "\"default\",\"labels\":{\"role\":\"client\"}},\"spec\":{\"nodeName\":\"node-1\"},"
    "\"status\":{\"podIP\":\"10.244.0.6\"}},"
    "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"db\",\"namespace\":"
    "\"prod\",\"labels\":{\"app\":\"db\",\"tier\":\"backend\"}},\"spec\":{\"nodeName\":"
    "\"node-2\",\"containers\":[{\"name\":\"db\",\"ports\":[{\"name\":\"pg\","
    "\"containerPort\":5432}]}]},\"status\":{\"podIP\":\"10.244.1.7\"}},"
    "{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":\"NetworkPolicy\",\"metadata\":"
    "{\"name\":\"default-deny\",\"namespace\":\"prod\"},\"spec\":{\"podSelector\":{},"
    "\"policyTypes\":[\"Ingress\"]}}]}";

size_t fuzz_store_documents(struct object_store *store, cJSON *documents)
{
	cJSON *document;
	size_t stored = 0;

	while (documents && (document = cJSON_DetachItemFromArray(documents, 0)))
		stored += store_object(store, document);
	cJSON_Delete(documents);
	return stored;
}

const char *fuzz_base_cluster_json(void)
{
	return base_cluster;
}

void fuzz_store_base_cluster(struct object_store *store)
{
	cJSON *documents = cJSON_CreateArray();

	FUZZ_CHECK(documents != NULL, "out of memory");
	cJSON_AddItemToArray(documents, cJSON_Parse(base_cluster));
	FUZZ_CHECK(fuzz_store_documents(store, documents) == 7, "the base cluster did not load");
}

struct pod_list {
	const cJSON **items;
	size_t count, capacity;
};

static void collect_pod(cJSON *pod, void *opaque)
{
	struct pod_list *list = opaque;

	if (list->count == list->capacity) {
		size_t capacity = list->capacity ? list->capacity * 2 : 16;
		const cJSON **grown = realloc(list->items, capacity * sizeof(*grown));
		FUZZ_CHECK(grown != NULL, "out of memory");
		list->items = grown;
		list->capacity = capacity;
	}
	list->items[list->count++] = pod;
}

static bool key_starts_with(struct id_table *table, uint32_t id, const char *prefix)
{
	const char *key = id_table_key_of(table, id);

	return key && strncmp(key, prefix, strlen(prefix)) == 0;
}

static void check_compiled(const struct compiled_endpoint *compiled, uint32_t endpoint_id,
			   struct compiler_tables *tables, const char *pod_name)
{
	bool has_entries[2] = {false, false};

	FUZZ_CHECK(compiled->endpoint_id == endpoint_id, "pod %s: endpoint id %u, want %u",
		   pod_name, compiled->endpoint_id, endpoint_id);
	FUZZ_CHECK(compiled->count <= compiled->capacity, "pod %s: count %zu > capacity %zu",
		   pod_name, compiled->count, compiled->capacity);
	for (size_t i = 0; i < compiled->count; i++) {
		const struct weir_policy_key *key = &compiled->entries[i].key;
		const struct weir_policy_entry *value = &compiled->entries[i].value;
		unsigned port_bits = key->prefix_length - WEIR_POLICY_PREFIX_FIXED;
		uint16_t port = ntohs(key->port);
		uint32_t identity = key->identity;

		if (i > 0)
			FUZZ_CHECK(memcmp(&compiled->entries[i - 1].key, key, sizeof(*key)) < 0,
				   "pod %s: entries %zu and %zu out of order or duplicate",
				   pod_name, i - 1, i);
		FUZZ_CHECK(key->endpoint_id == endpoint_id, "pod %s: entry of endpoint %u",
			   pod_name, key->endpoint_id);
		FUZZ_CHECK(key->direction == WEIR_DIRECTION_INGRESS ||
			       key->direction == WEIR_DIRECTION_EGRESS,
			   "pod %s: direction %u", pod_name, key->direction);
		has_entries[key->direction] = true;
		FUZZ_CHECK(key->prefix_length >= WEIR_POLICY_PREFIX_FIXED &&
			       key->prefix_length <= WEIR_POLICY_PREFIX_FIXED + 16,
			   "pod %s: prefix length %u", pod_name, key->prefix_length);
		FUZZ_CHECK(port_bits == 16 || (port & (0xffffu >> port_bits)) == 0,
			   "pod %s: port %u has bits beyond its /%u prefix", pod_name, port,
			   port_bits);
		FUZZ_CHECK(key->protocol == 0 || key->protocol == 6 || key->protocol == 17 ||
			       key->protocol == 132,
			   "pod %s: protocol %u", pod_name, key->protocol);
		FUZZ_CHECK(key->protocol != 0 || (port_bits == 0 && port == 0),
			   "pod %s: any-protocol entry with port %u/%u", pod_name, port, port_bits);
		FUZZ_CHECK(value->verdict == WEIR_VERDICT_ALLOW, "pod %s: verdict %u", pod_name,
			   value->verdict);
		FUZZ_CHECK(key_starts_with(tables->rules, value->rule_id, "policy "),
			   "pod %s: rule id %u is not a policy's", pod_name, value->rule_id);
		FUZZ_CHECK(identity == WEIR_IDENTITY_ANY || identity == WEIR_IDENTITY_HOST ||
			       identity == WEIR_IDENTITY_WORLD ||
			       identity == WEIR_IDENTITY_REMOTE_NODE ||
			       id_table_key_of(tables->identities, identity) ||
			       id_table_key_of(tables->cidr_identities, identity),
			   "pod %s: peer identity %u is neither reserved nor allocated", pod_name,
			   identity);
	}
	FUZZ_CHECK(!has_entries[WEIR_DIRECTION_INGRESS] || compiled->ingress_isolation_rule,
		   "pod %s: ingress entries without ingress isolation", pod_name);
	FUZZ_CHECK(!has_entries[WEIR_DIRECTION_EGRESS] || compiled->egress_isolation_rule,
		   "pod %s: egress entries without egress isolation", pod_name);
	FUZZ_CHECK(
	    !compiled->ingress_isolation_rule ||
		key_starts_with(tables->rules, compiled->ingress_isolation_rule, "isolated by "),
	    "pod %s: ingress isolation rule %u is unnamed", pod_name,
	    compiled->ingress_isolation_rule);
	FUZZ_CHECK(
	    !compiled->egress_isolation_rule ||
		key_starts_with(tables->rules, compiled->egress_isolation_rule, "isolated by "),
	    "pod %s: egress isolation rule %u is unnamed", pod_name,
	    compiled->egress_isolation_rule);
}

void fuzz_compile_pods(struct object_store *store, const char *node_name, size_t max_pods)
{
	struct compiler_tables tables = {
	    .identities = id_table_new(WEIR_IDENTITY_FIRST_CLUSTER, WEIR_IDENTITY_FIRST_CIDR - 1),
	    .cidr_identities = id_table_new(WEIR_IDENTITY_FIRST_CIDR, 0x01ffffff),
	    .rules = id_table_new(1, 1000000),
	};
	struct pod_list pods = {0};
	struct compiled_endpoint first = {0}, again = {0};
	char errbuf[256];

	FUZZ_CHECK(tables.identities && tables.cidr_identities && tables.rules, "out of memory");
	/* As reconciler_apply does: identities are remembered per pod object during one pass. */
	pod_identity_cache_reset();
	id_table_begin_pass(tables.identities);
	id_table_begin_pass(tables.cidr_identities);
	id_table_begin_pass(tables.rules);
	{
		uint64_t digest;
		FUZZ_CHECK(compiler_mark_cidrs(store, tables.cidr_identities, NULL, 0, &digest) == 0,
			   "mark CIDRs: out of memory");
	}
	object_store_for_each(store, KIND_POD, collect_pod, &pods);
	if (max_pods && pods.count > max_pods)
		pods.count = max_pods;
	for (size_t i = 0; i < pods.count; i++) {
		uint32_t addresses[4];
		char *key = pod_identity_key(store, pods.items[i]);

		FUZZ_CHECK(key && strncmp(key, "namespace=", 10) == 0, "identity key \"%s\"",
			   key ? key : "(null)");
		free(key);
		FUZZ_CHECK(pod_addresses(pods.items[i], addresses, 4) <= 4, "addresses");
		pod_identity(store, tables.identities, pods.items[i]);
	}
	for (size_t i = 0; i < pods.count; i++) {
		const cJSON *pod = pods.items[i];
		const char *name = object_name(pod) ? object_name(pod) : "?";
		uint32_t endpoint_id = (uint32_t)(i + 1);

		FUZZ_CHECK(compile_endpoint(store, &tables, node_name, endpoint_id, pod, &first,
					    errbuf, sizeof(errbuf)) == 0,
			   "compile pod %s: %s", name, errbuf);
		check_compiled(&first, endpoint_id, &tables, name);
		FUZZ_CHECK(compile_endpoint(store, &tables, node_name, endpoint_id, pod, &again,
					    errbuf, sizeof(errbuf)) == 0,
			   "compile pod %s again: %s", name, errbuf);
		FUZZ_CHECK(
		    first.count == again.count &&
			first.ingress_isolation_rule == again.ingress_isolation_rule &&
			first.egress_isolation_rule == again.egress_isolation_rule &&
			(first.count == 0 || memcmp(first.entries, again.entries,
						    first.count * sizeof(*first.entries)) == 0),
		    "pod %s: compiling twice gave different results (%zu vs %zu entries)", name,
		    first.count, again.count);
	}
	/* A pod nothing knows about compiles to nothing. */
	FUZZ_CHECK(compile_endpoint(store, &tables, node_name, 7, NULL, &first, errbuf,
				    sizeof(errbuf)) == 0 &&
		       first.count == 0 && !compiled_endpoint_isolated(&first),
		   "unknown pod compiled to something");
	compiled_endpoint_reset(&first);
	compiled_endpoint_reset(&again);
	id_table_end_pass(tables.identities);
	id_table_end_pass(tables.cidr_identities);
	id_table_end_pass(tables.rules);
	free(pods.items);
	pod_identity_cache_reset(); /* its entries name these pods and tables, about to be freed */
	id_table_free(tables.identities);
	id_table_free(tables.cidr_identities);
	id_table_free(tables.rules);
}
