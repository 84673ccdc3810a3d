/* The walk reads the map in batches (BPF_MAP_LOOKUP_BATCH, whose bucket cursor survives
 * deletions), or key by key on kernels without batch support for the map. Removing an entry
 * races with the datapath, which may replace an expired entry by a new connection on the same
 * tuple at any moment: so the entry is taken atomically (lookup-and-delete) and judged again as
 * taken, and put back when it turns out to be a live one. */
#include "ct_sweep.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "log.h"
#include "snat_sweep.h"

#define BATCH_ENTRIES 512
#define KERNEL_ENOTSUPP 524 /* what an unsupported map operation returns to userspace */

struct ct_sweep {
	int ct_fd;
	int config_fd; /* dp_config, -1 when not pinned */
	int snat_fd;   /* snat and snat_released, -1 when not pinned */
	int snat_released_fd;
	struct flow_log *flow_log;
	bool batch_unsupported;
	bool take_unsupported;
	/* The walk under way. */
	bool walking;
	bool reporting; /* flow events are on for this walk */
	bool have_cursor;
	uint64_t cursor[2];	   /* batch: the kernel's opaque position */
	struct weir_ct_key cursor_key; /* key by key: the last key visited */
	uint64_t seen_this_walk;
	uint64_t deleted_this_walk;
	uint64_t next_walk_ms;
	struct ct_sweep_stats stats;
	struct weir_ct_key keys[BATCH_ENTRIES];
	struct weir_ct_entry values[BATCH_ENTRIES];
};

static uint64_t monotonic_ns(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
}

enum ct_sweep_action ct_sweep_judge(const struct weir_ct_entry *entry, uint64_t now_ns)
{
	/* The datapath's own test (ct_find): past the deadline, not at it. */
	if (entry->expires_ns >= now_ns)
		return CT_SWEEP_KEEP;
	/* Ended by RST or FINs both ways: the datapath reported it when it saw that. A TCP
	 * connection closed on one side only is still unreported: it ends here. */
	if (entry->flow_end_reported)
		return CT_SWEEP_DELETE;
	/* A client->VIP entry only remembers the backend; its connection is the client->backend
	 * entry, reported on its own. */
	if (entry->flags & WEIR_CT_FLAG_SERVICE)
		return CT_SWEEP_DELETE;
	return CT_SWEEP_REPORT_AND_DELETE;
}

void ct_sweep_summary(const struct weir_ct_key *key, const struct weir_ct_entry *entry,
		      uint64_t now_ns, struct weir_flow_end_event *event)
{
	uint64_t idle = weir_ct_timeout_ns(key->protocol, entry->state);
	uint64_t last_seen = entry->expires_ns > idle ? entry->expires_ns - idle : 0;

	memset(event, 0, sizeof(*event));
	weir_flow_end_fill(event, key, entry, WEIR_FLOW_END_EXPIRED, now_ns, last_seen);
}

struct ct_sweep *ct_sweep_open(const char *bpffs, struct flow_log *flow_log, char *errbuf,
			       size_t errlen)
{
	struct ct_sweep *sweep = calloc(1, sizeof(*sweep));
	char path[600];

	if (!sweep) {
		snprintf(errbuf, errlen, "allocate the conntrack sweep: out of memory");
		return NULL;
	}
	sweep->flow_log = flow_log;
	snprintf(path, sizeof(path), "%s/%s", bpffs, WEIR_MAP_CT);
	sweep->ct_fd = bpf_obj_get(path);
	if (sweep->ct_fd < 0) {
		snprintf(errbuf, errlen, "open the conntrack map %s: %s", path, strerror(errno));
		free(sweep);
		return NULL;
	}
	snprintf(path, sizeof(path), "%s/%s", bpffs, WEIR_MAP_DATAPATH_CONFIG);
	sweep->config_fd = bpf_obj_get(path);
	snprintf(path, sizeof(path), "%s/%s", bpffs, WEIR_MAP_SNAT);
	sweep->snat_fd = bpf_obj_get(path);
	snprintf(path, sizeof(path), "%s/%s", bpffs, WEIR_MAP_SNAT_RELEASED);
	sweep->snat_released_fd = bpf_obj_get(path);
	return sweep;
}

void ct_sweep_close(struct ct_sweep *sweep)
{
	if (!sweep)
		return;
	close(sweep->ct_fd);
	if (sweep->config_fd >= 0)
		close(sweep->config_fd);
	if (sweep->snat_fd >= 0)
		close(sweep->snat_fd);
	if (sweep->snat_released_fd >= 0)
		close(sweep->snat_released_fd);
	free(sweep);
}

static bool unsupported(int error)
{
	return error == EINVAL || error == EOPNOTSUPP || error == KERNEL_ENOTSUPP;
}

/* Removes the entry and returns it as it was when removed; -1 when it is gone already. */
static int entry_take(struct ct_sweep *sweep, const struct weir_ct_key *key,
		      struct weir_ct_entry *taken, uint64_t now_ns)
{
	if (!sweep->take_unsupported) {
		if (bpf_map_lookup_and_delete_elem(sweep->ct_fd, key, taken) == 0)
			return 0;
		if (!unsupported(errno))
			return -1;
		sweep->take_unsupported = true; /* LRU hash maps gained it in Linux 5.14 */
	}
	/* Without it, the window shrinks to the two calls below. */
	if (bpf_map_lookup_elem(sweep->ct_fd, key, taken) < 0)
		return -1;
	if (ct_sweep_judge(taken, now_ns) == CT_SWEEP_KEEP)
		return 0; /* not deleted: the caller's put-back finds it present */
	return bpf_map_delete_elem(sweep->ct_fd, key) == 0 ? 0 : -1;
}

static void sweep_entry(struct ct_sweep *sweep, const struct weir_ct_key *key,
			const struct weir_ct_entry *entry, uint64_t now_ns)
{
	struct weir_ct_entry taken;
	struct weir_flow_end_event event;
	enum ct_sweep_action action;

	sweep->seen_this_walk++;
	if (ct_sweep_judge(entry, now_ns) == CT_SWEEP_KEEP)
		return;
	if (entry_take(sweep, key, &taken, now_ns) < 0)
		return;
	action = ct_sweep_judge(&taken, now_ns);
	if (action == CT_SWEEP_KEEP) {
		/* A new connection took the tuple meanwhile; a newer one still wins. */
		bpf_map_update_elem(sweep->ct_fd, key, &taken, BPF_NOEXIST);
		return;
	}
	sweep->stats.expired_deleted++;
	sweep->deleted_this_walk++;
	if (action != CT_SWEEP_REPORT_AND_DELETE || !sweep->reporting)
		return;
	ct_sweep_summary(key, &taken, now_ns, &event);
	sweep->stats.expired_reported++;
	if (sweep->flow_log)
		flow_log_report_flow_end(sweep->flow_log, &event);
}

/* One batch of the walk; returns false when the walk is over. */
static bool walk_batch(struct ct_sweep *sweep, uint64_t now_ns, size_t *visited)
{
	uint64_t next_cursor[2] = { 0, 0 };
	__u32 count = BATCH_ENTRIES;
	int result, error;

	result = bpf_map_lookup_batch(sweep->ct_fd, sweep->have_cursor ? sweep->cursor : NULL,
				      next_cursor, sweep->keys, sweep->values, &count, NULL);
	error = result < 0 ? errno : 0;
	if (result < 0 && error != ENOENT) {
		if (unsupported(error) && !sweep->have_cursor) {
			sweep->batch_unsupported = true;
			return true; /* go on key by key */
		}
		log_warn("conntrack sweep: read %s: %s; trying again in %d s", WEIR_MAP_CT,
			 strerror(error), CT_SWEEP_INTERVAL_MS / 1000);
		return false;
	}
	for (__u32 i = 0; i < count; i++)
		sweep_entry(sweep, &sweep->keys[i], &sweep->values[i], now_ns);
	*visited += count;
	memcpy(sweep->cursor, next_cursor, sizeof(sweep->cursor));
	sweep->have_cursor = true;
	return error != ENOENT;
}

/* One key of the walk, for kernels without batch lookups. The next key is found before the
 * current one may be deleted, so the walk never loses its place. */
static bool walk_key(struct ct_sweep *sweep, uint64_t now_ns, size_t *visited)
{
	struct weir_ct_key next;
	struct weir_ct_entry entry;

	if (bpf_map_get_next_key(sweep->ct_fd, sweep->have_cursor ? &sweep->cursor_key : NULL,
				 &next) < 0)
		return false;
	if (sweep->have_cursor &&
	    bpf_map_lookup_elem(sweep->ct_fd, &sweep->cursor_key, &entry) == 0)
		sweep_entry(sweep, &sweep->cursor_key, &entry, now_ns);
	sweep->cursor_key = next;
	sweep->have_cursor = true;
	(*visited)++;
	/* Entries the datapath evicts send the walk back to the start: stop at the map's size. */
	return sweep->seen_this_walk < 2ull * WEIR_MAX_CT;
}

/* Masquerade mappings age with conntrack: idle pairs go whole, their quota back to the pod. */
static void snat_walk(struct ct_sweep *sweep, uint64_t now_ns)
{
	struct snat_sweep_result result;
	char errbuf[256];

	if (sweep->snat_fd < 0 || sweep->snat_released_fd < 0)
		return;
	if (snat_sweep(sweep->snat_fd, sweep->snat_released_fd, now_ns, &result, errbuf,
		       sizeof(errbuf)) < 0) {
		log_warn("masquerade sweep: %s; trying again in %d s", errbuf,
			 CT_SWEEP_INTERVAL_MS / 1000);
		return;
	}
	sweep->stats.snat_pairs_removed += result.pairs_removed + result.orphans_removed;
}

static void walk_begin(struct ct_sweep *sweep)
{
	struct weir_datapath_config config = { 0 };
	__u32 zero = 0;

	snat_walk(sweep, monotonic_ns());

	sweep->walking = true;
	sweep->have_cursor = false;
	sweep->seen_this_walk = 0;
	sweep->deleted_this_walk = 0;
	sweep->reporting = true;
	if (sweep->config_fd >= 0 && bpf_map_lookup_elem(sweep->config_fd, &zero, &config) == 0)
		sweep->reporting = !config.flow_events_off;
}

static void walk_end(struct ct_sweep *sweep, uint64_t now_ms, uint64_t now_ns)
{
	struct weir_ct_entry entry;

	/* Key by key, the last key is visited after the walk found no next one. */
	if (sweep->batch_unsupported && sweep->have_cursor &&
	    bpf_map_lookup_elem(sweep->ct_fd, &sweep->cursor_key, &entry) == 0)
		sweep_entry(sweep, &sweep->cursor_key, &entry, now_ns);
	sweep->walking = false;
	sweep->stats.walks++;
	sweep->stats.entries = sweep->seen_this_walk - sweep->deleted_this_walk;
	sweep->next_walk_ms = now_ms + CT_SWEEP_INTERVAL_MS;
}

void ct_sweep_run(struct ct_sweep *sweep, uint64_t now_ms)
{
	uint64_t now_ns = monotonic_ns();
	size_t visited = 0;
	bool more = true;

	if (!sweep->walking) {
		if (now_ms < sweep->next_walk_ms)
			return;
		walk_begin(sweep);
	}
	while (more && visited < CT_SWEEP_SLICE) {
		bool batch = !sweep->batch_unsupported;
		more = batch ? walk_batch(sweep, now_ns, &visited) : walk_key(sweep, now_ns, &visited);
		if (batch && sweep->batch_unsupported)
			sweep->have_cursor = false; /* switched to key by key: start over */
	}
	if (!more)
		walk_end(sweep, now_ms, now_ns);
}

long ct_sweep_timeout_ms(const struct ct_sweep *sweep, uint64_t now_ms)
{
	if (sweep->walking || sweep->next_walk_ms <= now_ms)
		return 0;
	return (long)(sweep->next_walk_ms - now_ms);
}

void ct_sweep_stats(const struct ct_sweep *sweep, struct ct_sweep_stats *stats)
{
	*stats = sweep->stats;
}
