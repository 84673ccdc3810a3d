/* Stable numeric ids for strings: label sets -> identities, CIDRs -> CIDR identities, policy
 * names -> rule ids. Ids survive agent restarts (persisted atomically) so verdicts and
 * pinned map contents stay valid; ids no longer used are released at the end of a pass. */
#ifndef WEIR_AGENT_ID_TABLE_H
#define WEIR_AGENT_ID_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct id_table;

struct id_table *id_table_new(uint32_t first_id, uint32_t last_id);
void id_table_free(struct id_table *table);

/* Restores a table saved by id_table_save; a missing file is an empty table. */
int id_table_load(struct id_table *table, const char *path, char *errbuf, size_t errlen);
/* Saves when anything changed since the last save. */
int id_table_save(struct id_table *table, const char *path, char *errbuf, size_t errlen);

/* Mark-and-sweep passes: every key used during a pass keeps (or gets) its id; the rest are
 * released by id_table_end_pass, which returns how many were released. */
void id_table_begin_pass(struct id_table *table);
/* 0 when the id space is exhausted. */
uint32_t id_table_use(struct id_table *table, const char *key);
size_t id_table_end_pass(struct id_table *table);
/* Marks an existing id as used in this pass (state compiled earlier that still refers to it). */
void id_table_keep(struct id_table *table, uint32_t id);

/* Calls visit for every (key, id). */
void id_table_for_each(struct id_table *table, void (*visit)(const char *key, uint32_t id,
							   void *context),
		       void *context);
/* The key of an id, or NULL. */
const char *id_table_key_of(struct id_table *table, uint32_t id);
size_t id_table_count(struct id_table *table);
/* Whether an id is still free: tells a full table from a failed allocation when
 * id_table_use gives 0. */
bool id_table_has_room(const struct id_table *table);

#endif
