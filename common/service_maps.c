/* Writing Services into the datapath: backends, the per-service Maglev table, the VIP entry.
 * The table is computed here (pure) from the backends' own hashes, as Maglev does, so every
 * node and every agent restart computes the same table for the same backends. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>

#include "datapath.h"

static uint64_t backend_hash(const struct service_backend *backend, uint64_t seed)
{
	uint64_t hash = seed;
	uint8_t bytes[6];

	memcpy(bytes, &backend->address, 4);
	memcpy(bytes + 4, &backend->port, 2);
	for (int i = 0; i < 6; i++) {
		hash ^= bytes[i];
		hash *= 0x100000001b3ull;
	}
	return hash ^ (hash >> 29);
}

static int compare_backends(const void *left, const void *right)
{
	const struct service_backend *a = left, *b = right;

	if (a->address != b->address)
		return a->address < b->address ? -1 : 1;
	return (a->port > b->port) - (a->port < b->port);
}

void maglev_populate(const struct service_backend *backends, size_t count, uint32_t *table)
{
	const uint32_t size = WEIR_MAGLEV_SIZE;
	struct service_backend *sorted;
	uint32_t *offsets, *skips, *next, *order;
	uint32_t filled = 0;

	for (uint32_t slot = 0; slot < size; slot++)
		table[slot] = UINT32_MAX;
	if (count == 0)
		return;
	sorted = malloc(count * sizeof(*sorted));
	offsets = calloc(count, sizeof(*offsets));
	skips = calloc(count, sizeof(*skips));
	next = calloc(count, sizeof(*next));
	order = calloc(count, sizeof(*order));
	if (!sorted || !offsets || !skips || !next || !order)
		goto out;
	/* Fill in a canonical order so the input order does not matter. */
	memcpy(sorted, backends, count * sizeof(*sorted));
	qsort(sorted, count, sizeof(*sorted), compare_backends);
	for (size_t i = 0; i < count; i++) {
		offsets[i] = (uint32_t)(backend_hash(&sorted[i], 0xcbf29ce484222325ull) % size);
		skips[i] = (uint32_t)(backend_hash(&sorted[i], 0x84222325cbf29ce4ull) % (size - 1)) + 1;
		for (size_t j = 0; j < count; j++) {
			if (compare_backends(&backends[j], &sorted[i]) == 0)
				order[i] = (uint32_t)j;
		}
	}
	while (filled < size) {
		for (size_t i = 0; i < count && filled < size; i++) {
			uint32_t slot;
			do {
				slot = (offsets[i] + next[i] * skips[i]) % size;
				next[i]++;
			} while (table[slot] != UINT32_MAX);
			table[slot] = order[i];
			filled++;
		}
	}
out:
	free(sorted);
	free(offsets);
	free(skips);
	free(next);
	free(order);
}

int datapath_service_write(struct datapath *datapath, uint32_t vip, uint16_t port, uint8_t protocol,
			   uint32_t service_id, const struct service_backend *backends,
			   size_t count, uint32_t affinity_seconds, char *errbuf, size_t errlen)
{
	struct weir_service_key key = { .address = htonl(vip), .port = htons(port),
					.protocol = protocol };
	struct weir_service service = { .service_id = service_id,
					.backend_count = (uint32_t)count,
					.flags = affinity_seconds ? WEIR_SERVICE_FLAG_AFFINITY : 0,
					.affinity_seconds = affinity_seconds };
	uint32_t table[WEIR_MAGLEV_SIZE];
	char text[16];

	for (size_t i = 0; i < count; i++) {
		struct weir_backend backend = { .address = htonl(backends[i].address),
						.port = htons(backends[i].port),
						.protocol = protocol };
		if (bpf_map_update_elem(datapath->backends_fd, &backends[i].backend_id, &backend,
					BPF_ANY) < 0) {
			int err = -errno;
			snprintf(errbuf, errlen, "write backend %u: %s", backends[i].backend_id,
				 strerror(errno));
			return err;
		}
	}
	maglev_populate(backends, count, table);
	if (count > 0) {
		/* One batched syscall per table instead of one per slot. */
		struct weir_maglev_key keys[WEIR_MAGLEV_SIZE];
		uint32_t values[WEIR_MAGLEV_SIZE];
		__u32 batch = 0;

		for (uint32_t slot = 0; slot < WEIR_MAGLEV_SIZE; slot++) {
			if (table[slot] >= count)
				continue;
			keys[batch].service_id = service_id;
			keys[batch].slot = slot;
			values[batch] = backends[table[slot]].backend_id;
			batch++;
		}
		if (bpf_map_update_batch(datapath->maglev_fd, keys, values, &batch, NULL) < 0) {
			int err = -errno;
			snprintf(errbuf, errlen, "write the Maglev table of service %u: %s",
				 service_id, strerror(errno));
			return err;
		}
	}
	if (bpf_map_update_elem(datapath->services_fd, &key, &service, BPF_ANY) < 0) {
		int err = -errno;
		snprintf(errbuf, errlen, "write service %s:%u: %s",
			 inet_ntop(AF_INET, &key.address, text, sizeof(text)), port, strerror(errno));
		return err;
	}
	return 0;
}

int datapath_service_delete(struct datapath *datapath, uint32_t vip, uint16_t port,
			    uint8_t protocol, uint32_t service_id)
{
	struct weir_service_key key = { .address = htonl(vip), .port = htons(port),
					.protocol = protocol };

	if (bpf_map_delete_elem(datapath->services_fd, &key) < 0 && errno != ENOENT)
		return -errno;
	{
		struct weir_maglev_key keys[WEIR_MAGLEV_SIZE];
		__u32 batch = WEIR_MAGLEV_SIZE;

		for (uint32_t slot = 0; slot < WEIR_MAGLEV_SIZE; slot++) {
			keys[slot].service_id = service_id;
			keys[slot].slot = slot;
		}
		/* A partial table (fewer slots written) stops the batch at the first missing
		 * key; fall back to one by one then. */
		if (bpf_map_delete_batch(datapath->maglev_fd, keys, &batch, NULL) < 0) {
			for (uint32_t slot = batch; slot < WEIR_MAGLEV_SIZE; slot++)
				bpf_map_delete_elem(datapath->maglev_fd, &keys[slot]);
		}
	}
	return 0;
}

int datapath_backend_delete(struct datapath *datapath, uint32_t backend_id)
{
	if (bpf_map_delete_elem(datapath->backends_fd, &backend_id) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}
