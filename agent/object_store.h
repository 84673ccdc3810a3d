/* The agent's cache of Kubernetes objects, one table per kind, keyed by namespace/name. Both
 * sources (API watches and standalone manifests) write here; the compiler reads from here. */
#ifndef WEIR_AGENT_OBJECT_STORE_H
#define WEIR_AGENT_OBJECT_STORE_H

#include <stdbool.h>
#include <stddef.h>

#include <cJSON.h>

enum kube_kind {
	KIND_NAMESPACE = 0,
	KIND_NODE,
	KIND_POD,
	KIND_SERVICE,
	KIND_ENDPOINTSLICE,
	KIND_NETWORKPOLICY,
	KIND_WEIRNETWORKPOLICY, /* weir.dev/v1alpha1: NetworkPolicy plus HTTP matchers per port */
	KIND_COUNT,
};

struct object_store;

struct object_store *object_store_new(void);
void object_store_free(struct object_store *store);

const char *kube_kind_name(enum kube_kind kind); /* "Pod", ... */
/* The kind named by an object's "kind" field; -1 when weir does not watch it. */
int kube_kind_of(const char *kind_name);

/* Inserts or replaces; takes ownership of object. Returns 1 when the stored content changed,
 * 0 when identical, -1 when the object has no metadata.name. */
int object_store_put(struct object_store *store, enum kube_kind kind, cJSON *object);
/* Returns 1 when something was removed. */
int object_store_remove(struct object_store *store, enum kube_kind kind, const char *name_space,
			const char *name);
cJSON *object_store_get(struct object_store *store, enum kube_kind kind, const char *name_space,
			const char *name);
size_t object_store_count(struct object_store *store, enum kube_kind kind);
void object_store_for_each(struct object_store *store, enum kube_kind kind,
			   void (*visit)(cJSON *object, void *context), void *context);

/* Relist reconciliation: begin marks every object of the kind stale, put unmarks, end removes
 * what is still stale (deletions missed while away) and calls removed() for each. */
void object_store_resync_begin(struct object_store *store, enum kube_kind kind);
void object_store_resync_end(struct object_store *store, enum kube_kind kind,
			     void (*removed)(cJSON *object, void *context), void *context);

/* Helpers over objects. */
const char *object_namespace(const cJSON *object); /* "" for cluster-scoped */
const char *object_name(const cJSON *object);
const char *object_string(const cJSON *object, const char *dotted_path); /* NULL when absent */
cJSON *object_child(const cJSON *object, const char *dotted_path);

#endif
