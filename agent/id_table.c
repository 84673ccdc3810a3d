/* Id tables: a hash of key -> {id, used}, an id -> entry index for reverse lookups, and a
 * monotonic next id so a released id is not handed to a new key right away (a stale map entry
 * naming it must not start meaning something else). */
#include "id_table.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "atomic_file.h"

#define BUCKETS 16384

struct id_entry {
	struct id_entry *next;	   /* by key */
	struct id_entry *next_id; /* by id */
	char *key;
	uint32_t id;
	bool used;
};

struct id_table {
	struct id_entry *by_key[BUCKETS];
	struct id_entry *by_id[BUCKETS];
	uint32_t first_id, last_id, next_id;
	size_t count;
	bool dirty;
};

static uint64_t hash_string(const char *key)
{
	uint64_t hash = 0xcbf29ce484222325ull;

	for (const char *c = key; *c; c++) {
		hash ^= (uint8_t)*c;
		hash *= 0x100000001b3ull;
	}
	return hash;
}

struct id_table *id_table_new(uint32_t first_id, uint32_t last_id)
{
	struct id_table *table = calloc(1, sizeof(*table));

	if (table) {
		table->first_id = table->next_id = first_id;
		table->last_id = last_id;
	}
	return table;
}

void id_table_free(struct id_table *table)
{
	if (!table)
		return;
	for (size_t i = 0; i < BUCKETS; i++) {
		struct id_entry *entry = table->by_key[i];
		while (entry) {
			struct id_entry *next = entry->next;
			free(entry->key);
			free(entry);
			entry = next;
		}
	}
	free(table);
}

static struct id_entry *find_key(struct id_table *table, const char *key)
{
	for (struct id_entry *entry = table->by_key[hash_string(key) % BUCKETS]; entry;
	     entry = entry->next) {
		if (strcmp(entry->key, key) == 0)
			return entry;
	}
	return NULL;
}

static struct id_entry *find_id(struct id_table *table, uint32_t id)
{
	for (struct id_entry *entry = table->by_id[id % BUCKETS]; entry; entry = entry->next_id) {
		if (entry->id == id)
			return entry;
	}
	return NULL;
}

static struct id_entry *insert(struct id_table *table, const char *key, uint32_t id)
{
	struct id_entry *entry = calloc(1, sizeof(*entry));

	if (!entry || !(entry->key = strdup(key))) {
		free(entry);
		return NULL;
	}
	entry->id = id;
	entry->next = table->by_key[hash_string(key) % BUCKETS];
	table->by_key[hash_string(key) % BUCKETS] = entry;
	entry->next_id = table->by_id[id % BUCKETS];
	table->by_id[id % BUCKETS] = entry;
	table->count++;
	return entry;
}

uint32_t id_table_use(struct id_table *table, const char *key)
{
	struct id_entry *entry = find_key(table, key);
	uint32_t span = table->last_id - table->first_id + 1;

	if (entry) {
		entry->used = true;
		return entry->id;
	}
	for (uint32_t tries = 0; tries < span; tries++) {
		uint32_t candidate = table->next_id;
		table->next_id = candidate == table->last_id ? table->first_id : candidate + 1;
		if (find_id(table, candidate))
			continue;
		entry = insert(table, key, candidate);
		if (!entry)
			return 0;
		entry->used = true;
		table->dirty = true;
		return candidate;
	}
	return 0;
}

bool id_table_has_room(const struct id_table *table)
{
	return table->count < (size_t)(table->last_id - table->first_id) + 1;
}

void id_table_begin_pass(struct id_table *table)
{
	for (size_t i = 0; i < BUCKETS; i++) {
		for (struct id_entry *entry = table->by_key[i]; entry; entry = entry->next)
			entry->used = false;
	}
}

static void unlink_id(struct id_table *table, struct id_entry *gone)
{
	struct id_entry **slot = &table->by_id[gone->id % BUCKETS];

	while (*slot && *slot != gone)
		slot = &(*slot)->next_id;
	if (*slot)
		*slot = gone->next_id;
}

size_t id_table_end_pass(struct id_table *table)
{
	size_t released = 0;

	for (size_t i = 0; i < BUCKETS; i++) {
		struct id_entry **slot = &table->by_key[i];
		while (*slot) {
			struct id_entry *entry = *slot;
			if (entry->used) {
				slot = &entry->next;
				continue;
			}
			*slot = entry->next;
			unlink_id(table, entry);
			free(entry->key);
			free(entry);
			table->count--;
			released++;
		}
	}
	if (released)
		table->dirty = true;
	return released;
}

void id_table_for_each(struct id_table *table, void (*visit)(const char *key, uint32_t id,
							   void *context),
		       void *context)
{
	for (size_t i = 0; i < BUCKETS; i++) {
		for (struct id_entry *entry = table->by_key[i]; entry; entry = entry->next)
			visit(entry->key, entry->id, context);
	}
}

void id_table_keep(struct id_table *table, uint32_t id)
{
	struct id_entry *entry = find_id(table, id);

	if (entry)
		entry->used = true;
}

const char *id_table_key_of(struct id_table *table, uint32_t id)
{
	struct id_entry *entry = find_id(table, id);

	return entry ? entry->key : NULL;
}

size_t id_table_count(struct id_table *table)
{
	return table->count;
}

int id_table_save(struct id_table *table, const char *path, char *errbuf, size_t errlen)
{
	cJSON *document, *entries;
	char *text;
	int err;

	if (!table->dirty)
		return 0;
	document = cJSON_CreateObject();
	cJSON_AddNumberToObject(document, "nextId", table->next_id);
	entries = cJSON_AddObjectToObject(document, "ids");
	for (size_t i = 0; i < BUCKETS; i++) {
		for (struct id_entry *entry = table->by_key[i]; entry; entry = entry->next)
			cJSON_AddNumberToObject(entries, entry->key, entry->id);
	}
	text = cJSON_PrintUnformatted(document);
	cJSON_Delete(document);
	if (!text) {
		snprintf(errbuf, errlen, "format %s: out of memory", path);
		return -ENOMEM;
	}
	err = atomic_file_write(path, text, strlen(text), 0600, errbuf, errlen);
	cJSON_free(text);
	if (err == 0)
		table->dirty = false;
	return err;
}

int id_table_load(struct id_table *table, const char *path, char *errbuf, size_t errlen)
{
	char *text = file_read_all(path, NULL);
	cJSON *document, *next_id, *entry;

	if (!text)
		return errno == ENOENT ? 0 : (snprintf(errbuf, errlen, "read %s: %s", path,
							strerror(errno)),
					      -1);
	document = cJSON_Parse(text);
	free(text);
	if (!document) {
		snprintf(errbuf, errlen, "%s is not valid JSON", path);
		return -1;
	}
	next_id = cJSON_GetObjectItemCaseSensitive(document, "nextId");
	if (cJSON_IsNumber(next_id) && next_id->valuedouble >= table->first_id &&
	    next_id->valuedouble <= table->last_id)
		table->next_id = (uint32_t)next_id->valuedouble;
	cJSON_ArrayForEach(entry, cJSON_GetObjectItemCaseSensitive(document, "ids"))
	{
		if (!cJSON_IsNumber(entry) || entry->valuedouble < table->first_id ||
		    entry->valuedouble > table->last_id || find_key(table, entry->string) ||
		    find_id(table, (uint32_t)entry->valuedouble))
			continue;
		insert(table, entry->string, (uint32_t)entry->valuedouble);
	}
	cJSON_Delete(document);
	return 0;
}
