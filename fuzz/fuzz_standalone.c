/* Fuzz target: the standalone manifest source (agent/standalone.c standalone_reload_if_due) and
 * what the agent does with its objects: the reconciler's pass (agent/reconciler.c: identities,
 * ipcache, policy compilation per local endpoint, agent/service_sync.c for Services and
 * EndpointSlices) writing the real pinned maps of a datapath loaded in a private bpffs.
 *
 * Set-up (once): fuzz_datapath_load (private network and mount namespaces, so the node routes
 * the reconciler adds stay private; Node addresses in 172.18.0.0/16 are on-link); a state folder
 * with three CNI endpoint records on node "node-1" (default/web 10.244.0.5 endpoint 5,
 * default/client 10.244.0.6 endpoint 6, prod/api 10.244.0.7 endpoint 7); a manifest folder holding
 * base.json, the base cluster of fuzz_store_base_cluster as a List. Per input (every map emptied
 * and the id tables removed first, so inputs do not depend on each other):
 *   1. a new store, reconciler and standalone source load the folder with base.json alone and
 *      apply it;
 *   2. the input is written as input.yaml next to base.json and the folder is reloaded:
 *      - a reload that fails must name input.yaml and leave the store exactly as it was
 *        (same objects per kind: "fail closed, no partial view");
 *      - a reload that succeeds is applied; a pass that succeeds leaves nothing pending, and
 *        a pass that fails must leave the maps as they were before it (reconciler.h: "on
 *        failure the maps keep their previous content"), except when a map was full (E2BIG,
 *        ENOSPC; the harness shrinks hash maps to a few thousand entries);
 *   3. restart: store, reconciler and source are freed and made again over the same folder,
 *      state and maps, the folder is loaded and applied once more; the policy, endpoint_policy,
 *      ipcache, services, backends and maglev maps must hold exactly what they held after step
 *      2 (principle 3: restarting the agent changes no verdict).
 * A Node route the kernel refuses does not fail a written pass (regression_node_route_refused.yaml
 * in the corpus); a local Pod without spec.nodeName is recompiled when it changes
 * (regression_local_pod_without_nodename.yaml).
 * Input: one manifest file (YAML or JSON, several documents, Lists). Needs root. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "cidr.h"
#include "endpoint_record.h"
#include "fuzz_support.h"
#include "pod.skel.h"
#include "reconciler.h"
#include "standalone.h"

static struct pod_bpf *skeleton;
static const char *bpffs;
static char state_dir[600], manifests[600], input_path[700];

#define COMPARED_MAPS 6
static const char *const compared_maps[COMPARED_MAPS] = {"policy",   "endpoint_policy", "ipcache",
							 "services", "backends",	"maglev"};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const struct {
		const char *name_space, *name;
		uint32_t address, endpoint_id;
	} records[] = {
	    {"default", "web", 0x0af40005u, 5},
	    {"default", "client", 0x0af40006u, 6},
	    {"prod", "api", 0x0af40007u, 7},
	};
	const char *folder;
	char errbuf[512], path[800];

	(void)argc;
	(void)argv;
	fuzz_quiet_logs();
	bpffs = fuzz_datapath_load(&skeleton);
	folder = fuzz_temp_dir("standalone");
	snprintf(state_dir, sizeof(state_dir), "%s/state", folder);
	snprintf(manifests, sizeof(manifests), "%s/manifests", folder);
	snprintf(input_path, sizeof(input_path), "%s/input.yaml", manifests);
	FUZZ_CHECK(mkdir(state_dir, 0700) == 0 && mkdir(manifests, 0700) == 0, "mkdir: %s",
		   strerror(errno));
	for (size_t i = 0; i < sizeof(records) / sizeof(records[0]); i++) {
		struct endpoint_record record = {.address = records[i].address,
						 .endpoint_id = records[i].endpoint_id,
						 .host_ifindex = 1000 + (int)i,
						 .host_mac = {0x02, 0xee, 0, 0, 0, (uint8_t)i},
						 .pod_mac = {0x02, 0xaa, 0, 0, 0, (uint8_t)i}};
		snprintf(record.container_id, sizeof(record.container_id), "container%zu", i);
		snprintf(record.ifname, sizeof(record.ifname), "eth0");
		snprintf(record.netns, sizeof(record.netns), "/var/run/netns/pod%zu", i);
		snprintf(record.pod_namespace, sizeof(record.pod_namespace), "%s",
			 records[i].name_space);
		snprintf(record.pod_name, sizeof(record.pod_name), "%s", records[i].name);
		snprintf(record.host_ifname, sizeof(record.host_ifname), "weir%zu", i);
		FUZZ_CHECK(endpoint_record_write(state_dir, &record, errbuf, sizeof(errbuf)) == 0,
			   "endpoint record: %s", errbuf);
	}
	snprintf(path, sizeof(path), "%s/base.json", manifests);
	fuzz_write_file(path, fuzz_base_cluster_json(), strlen(fuzz_base_cluster_json()));
	return 0;
}

/* ---- map snapshots -------------------------------------------------------------------------- */

struct map_snapshot {
	uint8_t *bytes; /* key then value, per entry, sorted by key */
	size_t count, entry_size;
};

static int compare_keys(const void *left, const void *right, void *key_size)
{
	return memcmp(left, right, *(size_t *)key_size);
}

static void snapshot_take(int fd, struct map_snapshot *snapshot)
{
	struct bpf_map_info info = {0};
	uint32_t info_length = sizeof(info);
	uint8_t key[256], next[256];
	size_t capacity = 0, key_size;
	void *previous = NULL;

	memset(snapshot, 0, sizeof(*snapshot));
	FUZZ_CHECK(bpf_obj_get_info_by_fd(fd, &info, &info_length) == 0, "map info: %s",
		   strerror(errno));
	key_size = info.key_size;
	FUZZ_CHECK(key_size <= sizeof(key), "map %s: key too large", info.name);
	snapshot->entry_size = info.key_size + info.value_size;
	while (bpf_map_get_next_key(fd, previous, next) == 0) {
		if (snapshot->count == capacity) {
			capacity = capacity ? capacity * 2 : 64;
			snapshot->bytes = realloc(snapshot->bytes, capacity * snapshot->entry_size);
			FUZZ_CHECK(snapshot->bytes != NULL, "out of memory");
		}
		uint8_t *entry = snapshot->bytes + snapshot->count * snapshot->entry_size;
		memcpy(entry, next, key_size);
		if (bpf_map_lookup_elem(fd, next, entry + key_size) == 0)
			snapshot->count++;
		memcpy(key, next, key_size);
		previous = key;
	}
	if (snapshot->count)
		qsort_r(snapshot->bytes, snapshot->count, snapshot->entry_size, compare_keys,
			&key_size);
}

static void snapshot_all(struct map_snapshot *snapshots)
{
	for (size_t i = 0; i < COMPARED_MAPS; i++) {
		struct bpf_map *map = bpf_object__find_map_by_name(skeleton->obj, compared_maps[i]);
		FUZZ_CHECK(map != NULL, "no map %s in the datapath", compared_maps[i]);
		snapshot_take(bpf_map__fd(map), &snapshots[i]);
	}
}

/* when: what happened between the snapshots, for the message. */
static void snapshots_compare_free(struct map_snapshot *before, struct map_snapshot *after,
				   const char *when)
{
	for (size_t i = 0; i < COMPARED_MAPS; i++) {
		FUZZ_CHECK(before[i].count == after[i].count &&
			       (before[i].count == 0 ||
				memcmp(before[i].bytes, after[i].bytes,
				       before[i].count * before[i].entry_size) == 0),
			   "map %s changed (%zu entries before, %zu after): %s", compared_maps[i],
			   before[i].count, after[i].count, when);
		free(before[i].bytes);
		free(after[i].bytes);
	}
}

/* ---- one agent ------------------------------------------------------------------------------ */

struct agent {
	struct object_store *store;
	struct reconciler *reconciler;
	struct standalone_source *source;
};

static void agent_start(struct agent *agent)
{
	char errbuf[512];

	agent->store = object_store_new();
	FUZZ_CHECK(agent->store != NULL, "out of memory");
	agent->reconciler =
	    reconciler_new(agent->store, FUZZ_NODE_NAME, state_dir, bpffs, errbuf, sizeof(errbuf));
	FUZZ_CHECK(agent->reconciler != NULL, "reconciler: %s", errbuf);
	agent->source =
	    standalone_open(manifests, agent->store, agent->reconciler, errbuf, sizeof(errbuf));
	FUZZ_CHECK(agent->source != NULL, "standalone: %s", errbuf);
}

static void agent_stop(struct agent *agent)
{
	standalone_close(agent->source);
	reconciler_free(agent->reconciler);
	object_store_free(agent->store);
}

/* Applies; false when it failed. reconciler.h: "on failure the maps keep their previous
 * content", checked for every failure but a full map (E2BIG, ENOSPC: the harness shrinks hash
 * maps, and a write that finds its map full cannot undo the writes before it either). */
static bool agent_apply(struct agent *agent)
{
	struct map_snapshot before[COMPARED_MAPS], after[COMPARED_MAPS];
	char errbuf[512] = "";

	snapshot_all(before);
	if (reconciler_apply(agent->reconciler, errbuf, sizeof(errbuf)) == 0) {
		FUZZ_CHECK(!reconciler_pending(agent->reconciler), "changes pending after a pass");
		for (size_t i = 0; i < COMPARED_MAPS; i++)
			free(before[i].bytes);
		return true;
	}
	if (strstr(errbuf, strerror(E2BIG)) || strstr(errbuf, strerror(ENOSPC))) {
		for (size_t i = 0; i < COMPARED_MAPS; i++)
			free(before[i].bytes);
		return false;
	}
	snapshot_all(after);
	snapshots_compare_free(before, after, errbuf);
	return false;
}

static void state_reset(void)
{
	static const char *const tables[] = {"identities.json", "cidr-identities.json",
					     "rules.json", "service-ids.json", "backend-ids.json"};
	struct bpf_map *map;
	char path[800];

	bpf_object__for_each_map(map, skeleton->obj) fuzz_map_clear(bpf_map__fd(map));
	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", state_dir, tables[i]);
		unlink(path);
	}
	unlink(input_path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct map_snapshot before[COMPARED_MAPS], after[COMPARED_MAPS];
	size_t counts[KIND_COUNT];
	struct agent agent;
	char errbuf[512] = "";

	state_reset();
	agent_start(&agent);
	FUZZ_CHECK(standalone_reload_if_due(agent.source, 0, true, errbuf, sizeof(errbuf)) == 0,
		   "base manifest: %s", errbuf);
	FUZZ_CHECK(agent_apply(&agent), "base manifest did not apply");
	for (int kind = 0; kind < KIND_COUNT; kind++)
		counts[kind] = object_store_count(agent.store, (enum kube_kind)kind);

	fuzz_write_file(input_path, data, size);
	if (standalone_reload_if_due(agent.source, 0, true, errbuf, sizeof(errbuf)) < 0) {
		FUZZ_CHECK(strstr(errbuf, "input.yaml"), "the error does not name the manifest: %s",
			   errbuf);
		for (int kind = 0; kind < KIND_COUNT; kind++)
			FUZZ_CHECK(object_store_count(agent.store, (enum kube_kind)kind) ==
				       counts[kind],
				   "a manifest that failed to load changed the %s objects (%zu -> "
				   "%zu)",
				   kube_kind_name((enum kube_kind)kind), counts[kind],
				   object_store_count(agent.store, (enum kube_kind)kind));
		agent_stop(&agent);
		return 0;
	}
	FUZZ_CHECK(standalone_synced(agent.source), "not synced after a reload");
	if (!agent_apply(&agent)) {
		agent_stop(&agent);
		return 0;
	}
	snapshot_all(before);
	agent_stop(&agent);

	agent_start(&agent);
	FUZZ_CHECK(standalone_reload_if_due(agent.source, 0, true, errbuf, sizeof(errbuf)) == 0,
		   "the same manifests failed after a restart: %s", errbuf);
	FUZZ_CHECK(agent_apply(&agent), "the same manifests did not apply after a restart");
	snapshot_all(after);
	agent_stop(&agent);
	snapshots_compare_free(before, after,
			       "the agent restarted over the same manifests and state");
	return 0;
}
