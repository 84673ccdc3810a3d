/* One watch response, as the API client reads it: complete lines split off a growing body, and
 * each line decoded and applied to the object store. Kept apart from the curl plumbing so the
 * fuzzer drives exactly the code the agent runs. */
#ifndef WEIR_AGENT_WATCH_EVENT_H
#define WEIR_AGENT_WATCH_EVENT_H

#include <stddef.h>

#include <cJSON.h>

#include "object_store.h"

enum watch_event_kind {
	WATCH_EVENT_UNREADABLE = 0, /* not JSON, or no type or object: the stream must restart */
	WATCH_EVENT_CHANGE,	    /* ADDED, MODIFIED or DELETED, applied to the store */
	WATCH_EVENT_BOOKMARK,
	WATCH_EVENT_EXPIRED,	    /* ERROR 410 Gone: list again */
	WATCH_EVENT_ERROR,	    /* another ERROR Status */
	WATCH_EVENT_OTHER,	    /* an unknown type: only its resourceVersion counts */
};

struct watch_event {
	enum watch_event_kind kind;
	char resource_version[64]; /* "" when the event carries none */
	int error_code;
	char error_message[256];
};

/* Called with an object before it leaves the store (DELETED) and after it changed in it
 * (ADDED/MODIFIED, only when its content differs). */
typedef void (*watch_change_note)(void *context, enum kube_kind kind, const cJSON *object);

/* Decodes one line and, for a change, applies it to store under kind. */
void watch_event_apply(struct object_store *store, enum kube_kind kind, const char *line,
		       watch_change_note note, void *context, struct watch_event *event);

/* Hands every complete ('\n'-terminated, non-empty) line of buffer[0..length) to handle, with
 * the '\n' replaced by '\0'. Returns the bytes consumed (the rest is a partial line to keep),
 * or -1 when handle returned < 0 (the rest is then not looked at). */
long watch_lines_split(char *buffer, size_t length, int (*handle)(void *context, const char *line),
		       void *context);

#endif
