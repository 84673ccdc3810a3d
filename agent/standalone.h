/* --standalone DIR: the same object kinds as the API serves, from YAML (multi-document) or
 * JSON manifests in one folder, watched with inotify. */
#ifndef WEIR_AGENT_STANDALONE_H
#define WEIR_AGENT_STANDALONE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "object_store.h"
#include "reconciler.h"

struct standalone_source;

struct standalone_source *standalone_open(const char *directory, struct object_store *store,
					  struct reconciler *reconciler, char *errbuf,
					  size_t errlen);
void standalone_close(struct standalone_source *source);

/* The inotify descriptor to poll. */
int standalone_fd(const struct standalone_source *source);
/* Reads pending inotify events and schedules a reload. */
void standalone_handle_events(struct standalone_source *source, uint64_t now_ms);
/* Milliseconds until a scheduled reload is due (-1: none). */
long standalone_timeout_ms(const struct standalone_source *source, uint64_t now_ms);
/* Reloads when due (or when forced). A manifest that does not parse keeps the previous state
 * for everything (fail closed, no partial view) and returns -1 with errbuf naming the file. */
int standalone_reload_if_due(struct standalone_source *source, uint64_t now_ms, bool force,
			     char *errbuf, size_t errlen);
bool standalone_synced(const struct standalone_source *source);

#endif
