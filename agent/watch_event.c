/* Watch response lines: splitting and decoding (see watch_event.h). */
#include "watch_event.h"

#include <stdio.h>
#include <string.h>

static void version_of(const cJSON *object, struct watch_event *event)
{
	const char *version = object_string(object, "metadata.resourceVersion");

	snprintf(event->resource_version, sizeof(event->resource_version), "%s",
		 version ? version : "");
}

void watch_event_apply(struct object_store *store, enum kube_kind kind, const char *line,
		       watch_change_note note, void *context, struct watch_event *event)
{
	cJSON *parsed = cJSON_Parse(line);
	const char *type = object_string(parsed, "type");
	cJSON *object = parsed ? cJSON_DetachItemFromObjectCaseSensitive(parsed, "object") : NULL;

	memset(event, 0, sizeof(*event));
	if (!type || !cJSON_IsObject(object)) {
		event->kind = WATCH_EVENT_UNREADABLE;
	} else if (strcmp(type, "ERROR") == 0) {
		const cJSON *code = cJSON_GetObjectItemCaseSensitive(object, "code");
		const char *message = object_string(object, "message");

		event->error_code = cJSON_IsNumber(code) && code->valuedouble >= 0 &&
						    code->valuedouble < 1000
					    ? (int)code->valuedouble
					    : 0;
		event->kind = event->error_code == 410 ? WATCH_EVENT_EXPIRED : WATCH_EVENT_ERROR;
		snprintf(event->error_message, sizeof(event->error_message), "%s",
			 message ? message : "no message");
	} else if (strcmp(type, "BOOKMARK") == 0) {
		event->kind = WATCH_EVENT_BOOKMARK;
		version_of(object, event);
	} else if (strcmp(type, "DELETED") == 0) {
		event->kind = WATCH_EVENT_CHANGE;
		version_of(object, event);
		if (note)
			note(context, kind, object);
		object_store_remove(store, kind, object_namespace(object),
				    object_name(object) ? object_name(object) : "");
	} else if (strcmp(type, "ADDED") == 0 || strcmp(type, "MODIFIED") == 0) {
		event->kind = WATCH_EVENT_CHANGE;
		version_of(object, event);
		/* The store takes the object (and frees it when it cannot keep it); when it
		 * reports a change, the object is the one it now holds. */
		cJSON *stored = object;

		object = NULL;
		if (object_store_put(store, kind, stored) == 1 && note)
			note(context, kind, stored);
	} else {
		event->kind = WATCH_EVENT_OTHER;
		version_of(object, event);
	}
	cJSON_Delete(object);
	cJSON_Delete(parsed);
}

long watch_lines_split(char *buffer, size_t length, int (*handle)(void *context, const char *line),
		       void *context)
{
	char *start = buffer, *newline;

	while ((newline = memchr(start, '\n', length - (size_t)(start - buffer)))) {
		*newline = '\0';
		if (newline > start && handle(context, start) < 0)
			return -1;
		start = newline + 1;
	}
	return (long)(start - buffer);
}
