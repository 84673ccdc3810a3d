/* The reconciler turns the object store into datapath state: identities and the ipcache for
 * every pod and node of the cluster, compiled policy for every local endpoint. Sources note what
 * changed; a pass recompiles only the affected endpoints and writes only the differences, in
 * an order that never shows a packet a half-written state. */
#ifndef WEIR_AGENT_RECONCILER_H
#define WEIR_AGENT_RECONCILER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "object_store.h"

struct reconciler;

struct reconciler_stats {
	unsigned long applied_changes; /* passes that finished writing */
	size_t endpoints;	       /* local endpoints known */
	size_t isolated_endpoints;
	size_t identities;
	size_t ipcache_entries;
	size_t ipcache_refused; /* entries the last pass could not write: a full ipcache */
	size_t policy_entries;
	uint32_t policy_revision;
};

struct reconciler *reconciler_new(struct object_store *store, const char *node_name,
				  const char *state_dir, const char *bpffs, char *errbuf,
				  size_t errlen);
void reconciler_free(struct reconciler *reconciler);

/* What changed: object is the new version, or the old one for a deletion. */
void reconciler_note(struct reconciler *reconciler, enum kube_kind kind, const cJSON *object);
/* The CNI added or removed an endpoint record. */
void reconciler_note_endpoints(struct reconciler *reconciler);
bool reconciler_pending(const struct reconciler *reconciler);

/* Applies everything noted since the last pass. Returns 0 or -1 with errbuf; on failure the
 * maps keep their previous content and the pass is retried later. */
int reconciler_apply(struct reconciler *reconciler, char *errbuf, size_t errlen);

void reconciler_stats(const struct reconciler *reconciler, struct reconciler_stats *stats);
/* "namespace/name" of the pod holding an address (host byte order), or NULL. */
const char *reconciler_pod_of_address(const struct reconciler *reconciler, uint32_t address);
/* The description of a rule id ("policy ns/name", "isolated by ..."), or NULL. */
const char *reconciler_rule_name(const struct reconciler *reconciler, uint32_t rule_id);

#endif
