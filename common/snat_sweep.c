#include "snat_sweep.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>

bool snat_half_expired(const struct weir_snat_key *key, const struct weir_snat_entry *entry,
		       uint64_t now_ns)
{
	uint64_t timeout = weir_snat_timeout_ns(key->protocol, entry->flags);

	return entry->last_used_ns + timeout < now_ns;
}

void snat_reverse_key_of(const struct weir_snat_key *forward, const struct weir_snat_entry *out,
			 struct weir_snat_key *reverse)
{
	memset(reverse, 0, sizeof(*reverse));
	reverse->local = out->address;
	reverse->local_port = out->port;
	reverse->peer = forward->peer;
	reverse->peer_port = forward->peer_port;
	reverse->protocol = forward->protocol;
	reverse->direction = WEIR_DIRECTION_INGRESS;
}

static bool points_back(const struct weir_snat_entry *back, const struct weir_snat_key *forward)
{
	return back->address == forward->local && back->port == forward->local_port;
}

/* released[pod] += 1; the agent is its only writer. */
static int credit_release(int released_fd, uint32_t pod, char *errbuf, size_t errlen)
{
	uint64_t released = 0;

	if (bpf_map_lookup_elem(released_fd, &pod, &released) < 0 && errno != ENOENT) {
		snprintf(errbuf, errlen, "read %s: %s", WEIR_MAP_SNAT_RELEASED, strerror(errno));
		return -1;
	}
	released++;
	if (bpf_map_update_elem(released_fd, &pod, &released, BPF_ANY) < 0) {
		snprintf(errbuf, errlen, "write %s: %s", WEIR_MAP_SNAT_RELEASED, strerror(errno));
		return -1;
	}
	return 0;
}

struct key_list {
	struct weir_snat_key *keys;
	size_t count, capacity;
};

static int key_list_add(struct key_list *list, const struct weir_snat_key *key)
{
	if (list->count == list->capacity) {
		size_t capacity = list->capacity ? list->capacity * 2 : 256;
		struct weir_snat_key *grown = realloc(list->keys, capacity * sizeof(*grown));
		if (!grown)
			return -1;
		list->keys = grown;
		list->capacity = capacity;
	}
	list->keys[list->count++] = *key;
	return 0;
}

/* The forward half F, idle: removed with its reverse half unless a reply used that recently. */
static int sweep_forward(int snat_fd, int released_fd, const struct weir_snat_key *forward,
			 uint64_t now_ns, struct snat_sweep_result *result, char *errbuf,
			 size_t errlen)
{
	struct weir_snat_entry out, back;
	struct weir_snat_key reverse;
	bool paired;

	if (bpf_map_lookup_elem(snat_fd, forward, &out) < 0 ||
	    !snat_half_expired(forward, &out, now_ns)) {
		result->halves_kept++;
		return 0;
	}
	snat_reverse_key_of(forward, &out, &reverse);
	paired = bpf_map_lookup_elem(snat_fd, &reverse, &back) == 0 && points_back(&back, forward);
	if (paired && !snat_half_expired(&reverse, &back, now_ns)) {
		result->halves_kept++;
		return 0;
	}
	/* Forward first: from here on the datapath maps the flow anew, and drops late replies. */
	if (bpf_map_delete_elem(snat_fd, forward) < 0)
		return 0; /* gone meanwhile */
	if (paired)
		bpf_map_delete_elem(snat_fd, &reverse);
	result->pairs_removed++;
	/* A quota not credited back only refuses its pod sooner: reported, the walk goes on. */
	if (!(out.flags & WEIR_SNAT_FLAG_UNCOUNTED) &&
	    credit_release(released_fd, forward->local, errbuf, errlen) < 0)
		return -1;
	return 0;
}

static void sweep_orphan(int snat_fd, const struct weir_snat_key *reverse, uint64_t now_ns,
			 struct snat_sweep_result *result)
{
	struct weir_snat_entry back, out;
	struct weir_snat_key forward;

	if (bpf_map_lookup_elem(snat_fd, reverse, &back) < 0 ||
	    !snat_half_expired(reverse, &back, now_ns))
		return;
	memset(&forward, 0, sizeof(forward));
	forward.local = back.address;
	forward.local_port = back.port;
	forward.peer = reverse->peer;
	forward.peer_port = reverse->peer_port;
	forward.protocol = reverse->protocol;
	forward.direction = WEIR_DIRECTION_EGRESS;
	if (bpf_map_lookup_elem(snat_fd, &forward, &out) == 0 && out.address == reverse->local &&
	    out.port == reverse->local_port)
		return; /* paired: its forward half decides */
	if (bpf_map_delete_elem(snat_fd, reverse) == 0)
		result->orphans_removed++;
}

int snat_sweep(int snat_fd, int released_fd, uint64_t now_ns, struct snat_sweep_result *result,
	       char *errbuf, size_t errlen)
{
	struct key_list forwards = { 0 }, reverses = { 0 };
	struct weir_snat_key key, next;
	struct weir_snat_entry entry;
	void *previous = NULL;
	int status = 0;

	memset(result, 0, sizeof(*result));
	/* Candidates first: deleting under get_next_key would restart the walk. */
	while (bpf_map_get_next_key(snat_fd, previous, &next) == 0) {
		key = next;
		previous = &key;
		if (bpf_map_lookup_elem(snat_fd, &key, &entry) < 0)
			continue;
		if (!snat_half_expired(&key, &entry, now_ns)) {
			result->halves_kept++;
			continue;
		}
		if (key_list_add(key.direction == WEIR_DIRECTION_EGRESS ? &forwards : &reverses,
				 &key) < 0) {
			snprintf(errbuf, errlen, "sweep %s: out of memory", WEIR_MAP_SNAT);
			status = -1;
			goto out;
		}
	}
	for (size_t i = 0; i < forwards.count; i++) {
		char error[256];
		if (sweep_forward(snat_fd, released_fd, &forwards.keys[i], now_ns, result, error,
				  sizeof(error)) < 0 &&
		    status == 0) {
			snprintf(errbuf, errlen, "%s", error);
			status = -1;
		}
	}
	for (size_t i = 0; i < reverses.count; i++)
		sweep_orphan(snat_fd, &reverses.keys[i], now_ns, result);
out:
	free(forwards.keys);
	free(reverses.keys);
	return status;
}
