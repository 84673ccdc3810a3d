/* Object tables: chained hashes of cJSON objects keyed by "namespace/name". Objects are stored
 * whole, as the API sent them, so nothing the compiler might need later is lost. */
#include "object_store.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUCKETS 8192

struct stored_object {
	struct stored_object *next;
	char *key;
	cJSON *object;
	bool stale;
};

struct object_table {
	struct stored_object *buckets[BUCKETS];
	size_t count;
};

struct object_store {
	struct object_table tables[KIND_COUNT];
};

static const char *const kind_names[KIND_COUNT] = {
	[KIND_NAMESPACE] = "Namespace",	     [KIND_NODE] = "Node",
	[KIND_POD] = "Pod",		     [KIND_SERVICE] = "Service",
	[KIND_ENDPOINTSLICE] = "EndpointSlice", [KIND_NETWORKPOLICY] = "NetworkPolicy",
	[KIND_WEIRNETWORKPOLICY] = "WeirNetworkPolicy",
};

const char *kube_kind_name(enum kube_kind kind)
{
	return kind < KIND_COUNT ? kind_names[kind] : "?";
}

int kube_kind_of(const char *kind_name)
{
	for (int kind = 0; kind < KIND_COUNT; kind++) {
		if (kind_name && strcmp(kind_names[kind], kind_name) == 0)
			return kind;
	}
	return -1;
}

struct object_store *object_store_new(void)
{
	return calloc(1, sizeof(struct object_store));
}

static void stored_free(struct stored_object *stored)
{
	free(stored->key);
	cJSON_Delete(stored->object);
	free(stored);
}

void object_store_free(struct object_store *store)
{
	if (!store)
		return;
	for (int kind = 0; kind < KIND_COUNT; kind++) {
		for (size_t i = 0; i < BUCKETS; i++) {
			struct stored_object *stored = store->tables[kind].buckets[i];
			while (stored) {
				struct stored_object *next = stored->next;
				stored_free(stored);
				stored = next;
			}
		}
	}
	free(store);
}

cJSON *object_child(const cJSON *object, const char *dotted_path)
{
	char segment[128];
	const char *cursor = dotted_path;
	const cJSON *current = object;

	while (current && *cursor) {
		const char *dot = strchr(cursor, '.');
		size_t length = dot ? (size_t)(dot - cursor) : strlen(cursor);

		if (length >= sizeof(segment))
			return NULL;
		memcpy(segment, cursor, length);
		segment[length] = '\0';
		current = cJSON_GetObjectItemCaseSensitive(current, segment);
		cursor += length + (dot ? 1 : 0);
	}
	return (cJSON *)current;
}

const char *object_string(const cJSON *object, const char *dotted_path)
{
	cJSON *item = object_child(object, dotted_path);

	return cJSON_IsString(item) ? item->valuestring : NULL;
}

const char *object_namespace(const cJSON *object)
{
	const char *name_space = object_string(object, "metadata.namespace");

	return name_space ? name_space : "";
}

const char *object_name(const cJSON *object)
{
	return object_string(object, "metadata.name");
}

static uint64_t key_hash(const char *key)
{
	uint64_t hash = 0xcbf29ce484222325ull;

	for (const char *c = key; *c; c++) {
		hash ^= (uint8_t)*c;
		hash *= 0x100000001b3ull;
	}
	return hash;
}

static char *key_of(const char *name_space, const char *name)
{
	size_t length = strlen(name_space) + strlen(name) + 2;
	char *key = malloc(length);

	if (key) {
		strcpy(key, name_space);
		strcat(key, "/");
		strcat(key, name);
	}
	return key;
}

static struct stored_object **find_slot(struct object_table *table, const char *key)
{
	struct stored_object **slot = &table->buckets[key_hash(key) % BUCKETS];

	while (*slot && strcmp((*slot)->key, key) != 0)
		slot = &(*slot)->next;
	return slot;
}

/* A new resourceVersion alone (a re-list, an empty update) is not a change of what weir
 * enforces; any other difference is. */
static bool same_content(const cJSON *left, const cJSON *right)
{
	cJSON *left_copy = cJSON_Duplicate(left, 1), *right_copy = cJSON_Duplicate(right, 1);
	cJSON *left_metadata = cJSON_GetObjectItemCaseSensitive(left_copy, "metadata");
	cJSON *right_metadata = cJSON_GetObjectItemCaseSensitive(right_copy, "metadata");
	bool same;

	cJSON_DeleteItemFromObjectCaseSensitive(left_metadata, "resourceVersion");
	cJSON_DeleteItemFromObjectCaseSensitive(right_metadata, "resourceVersion");
	cJSON_DeleteItemFromObjectCaseSensitive(left_metadata, "managedFields");
	cJSON_DeleteItemFromObjectCaseSensitive(right_metadata, "managedFields");
	same = cJSON_Compare(left_copy, right_copy, 1);
	cJSON_Delete(left_copy);
	cJSON_Delete(right_copy);
	return same;
}

int object_store_put(struct object_store *store, enum kube_kind kind, cJSON *object)
{
	struct object_table *table = &store->tables[kind];
	const char *name = object_name(object);
	struct stored_object **slot, *stored;
	char *key;

	if (!name) {
		cJSON_Delete(object);
		return -1;
	}
	key = key_of(object_namespace(object), name);
	if (!key) {
		cJSON_Delete(object);
		return -1;
	}
	slot = find_slot(table, key);
	if (*slot) {
		int changed = !same_content((*slot)->object, object);
		free(key);
		cJSON_Delete((*slot)->object);
		(*slot)->object = object;
		(*slot)->stale = false;
		return changed;
	}
	stored = calloc(1, sizeof(*stored));
	if (!stored) {
		free(key);
		cJSON_Delete(object);
		return -1;
	}
	stored->key = key;
	stored->object = object;
	*slot = stored;
	table->count++;
	return 1;
}

int object_store_remove(struct object_store *store, enum kube_kind kind, const char *name_space,
			const char *name)
{
	struct object_table *table = &store->tables[kind];
	char *key = key_of(name_space ? name_space : "", name);
	struct stored_object **slot, *stored;

	if (!key)
		return 0;
	slot = find_slot(table, key);
	free(key);
	if (!*slot)
		return 0;
	stored = *slot;
	*slot = stored->next;
	stored_free(stored);
	table->count--;
	return 1;
}

/* Allocates nothing for names Kubernetes allows (253 + 63 characters): a lookup that failed
 * for want of memory would read as "no such object", and a pod nobody knows is compiled as
 * selected by no policy. */
cJSON *object_store_get(struct object_store *store, enum kube_kind kind, const char *name_space,
			const char *name)
{
	char buffer[1024], *key = buffer;
	struct stored_object **slot;
	int length;

	if (!name_space)
		name_space = "";
	length = snprintf(buffer, sizeof(buffer), "%s/%s", name_space, name);
	if (length < 0)
		return NULL;
	if ((size_t)length >= sizeof(buffer)) {
		key = key_of(name_space, name);
		if (!key)
			return NULL;
	}
	slot = find_slot(&store->tables[kind], key);
	if (key != buffer)
		free(key);
	return *slot ? (*slot)->object : NULL;
}

size_t object_store_count(struct object_store *store, enum kube_kind kind)
{
	return store->tables[kind].count;
}

void object_store_for_each(struct object_store *store, enum kube_kind kind,
			   void (*visit)(cJSON *object, void *context), void *context)
{
	for (size_t i = 0; i < BUCKETS; i++) {
		for (struct stored_object *stored = store->tables[kind].buckets[i]; stored;
		     stored = stored->next)
			visit(stored->object, context);
	}
}

void object_store_resync_begin(struct object_store *store, enum kube_kind kind)
{
	for (size_t i = 0; i < BUCKETS; i++) {
		for (struct stored_object *stored = store->tables[kind].buckets[i]; stored;
		     stored = stored->next)
			stored->stale = true;
	}
}

void object_store_resync_end(struct object_store *store, enum kube_kind kind,
			     void (*removed)(cJSON *object, void *context), void *context)
{
	struct object_table *table = &store->tables[kind];

	for (size_t i = 0; i < BUCKETS; i++) {
		struct stored_object **slot = &table->buckets[i];
		while (*slot) {
			struct stored_object *stored = *slot;
			if (!stored->stale) {
				slot = &stored->next;
				continue;
			}
			*slot = stored->next;
			if (removed)
				removed(stored->object, context);
			stored_free(stored);
			table->count--;
		}
	}
}
