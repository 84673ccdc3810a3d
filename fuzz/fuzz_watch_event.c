/* Fuzz target: watch events as the API client decodes them (agent/kube_client.c
 * handle_watch_event), then a policy compiler pass over the resulting store.
 *
 * handle_watch_event and on_body's line splitting are static and tied to a live curl stream, so
 * this target follows the same decoding path through the public functions it calls, step by
 * step: cJSON_Parse of one line; "type" via object_string; "object" detached from the event;
 * ERROR (a Status object: code 410 means relist, anything else is logged with its message),
 * BOOKMARK and the resourceVersion of every event (metadata.resourceVersion), DELETED
 * (object_store_remove by namespace/name, "" when the name is missing), ADDED and MODIFIED
 * (stored when metadata.name is a string, object_store_put). The stream's kind is the object's
 * "kind" when weir watches it, else Pod. See the report for the hook (an exported
 * kube_watch_event_apply and line splitter) that would let this target call the client itself.
 *
 * Input: a watch response body: JSON events, one per '\n'-terminated line, as the API server
 * streams them; empty lines are skipped, as on_body skips them. The store starts with
 * fuzz_store_base_cluster's objects, so MODIFIED and DELETED events have something to change.
 * Checks beyond memory safety: after ADDED/MODIFIED of a named object, the store returns that
 * very object by namespace/name; after DELETED, nothing is stored under that namespace/name;
 * an ERROR event's code reads as a number without UB; then fuzz_compile_pods' invariants. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_support.h"

#define MAX_PODS 64

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet_logs();
	return 0;
}

struct watch_state {
	char resource_version[64];
	bool relist_needed;
};

static void note_resource_version(struct watch_state *state, const char *version)
{
	if (version && *version)
		snprintf(state->resource_version, sizeof(state->resource_version), "%s", version);
}

static void apply_event(struct object_store *store, struct watch_state *state, const char *line)
{
	cJSON *event = cJSON_Parse(line);
	const char *type = object_string(event, "type");
	cJSON *object = event ? cJSON_DetachItemFromObjectCaseSensitive(event, "object") : NULL;
	int kind_number = kube_kind_of(object_string(object, "kind"));
	enum kube_kind kind = kind_number < 0 ? KIND_POD : (enum kube_kind)kind_number;

	if (!type || !object) {
		/* unreadable event: ignored */
	} else if (strcmp(type, "ERROR") == 0) {
		const cJSON *code = cJSON_GetObjectItemCaseSensitive(object, "code");
		if (cJSON_IsNumber(code) && code->valueint == 410)
			state->relist_needed = true;
		else
			(void)object_string(object, "message");
	} else if (strcmp(type, "BOOKMARK") == 0) {
		note_resource_version(state, object_string(object, "metadata.resourceVersion"));
	} else {
		note_resource_version(state, object_string(object, "metadata.resourceVersion"));
		if (strcmp(type, "DELETED") == 0) {
			char name_space[512], name[512];
			snprintf(name_space, sizeof(name_space), "%s", object_namespace(object));
			snprintf(name, sizeof(name), "%s",
				 object_name(object) ? object_name(object) : "");
			object_store_remove(store, kind, object_namespace(object),
					    object_name(object) ? object_name(object) : "");
			if (strlen(name_space) < sizeof(name_space) - 1 &&
			    strlen(name) < sizeof(name) - 1)
				FUZZ_CHECK(object_store_get(store, kind, name_space, name) == NULL,
					   "%s %s/%s still stored after DELETED",
					   kube_kind_name(kind), name_space, name);
		} else if (strcmp(type, "ADDED") == 0 || strcmp(type, "MODIFIED") == 0) {
			if (object_name(object)) {
				char *name_space = strdup(object_namespace(object));
				char *name = strdup(object_name(object));
				cJSON *stored = object;
				FUZZ_CHECK(name_space && name, "out of memory");
				object = NULL; /* the store owns it now */
				FUZZ_CHECK(object_store_put(store, kind, stored) >= 0,
					   "a named object was refused");
				FUZZ_CHECK(object_store_get(store, kind, name_space, name) ==
					       stored,
					   "%s %s/%s is not the object just stored",
					   kube_kind_name(kind), name_space, name);
				free(name_space);
				free(name);
			}
		}
	}
	cJSON_Delete(object);
	cJSON_Delete(event);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct object_store *store = object_store_new();
	struct watch_state state = {.resource_version = ""};
	char *body = fuzz_text(data, size), *start = body, *newline;

	FUZZ_CHECK(store != NULL, "out of memory");
	fuzz_store_base_cluster(store);
	/* on_body: complete lines only; a partial last line waits for the next chunk (and is
	 * dropped when the stream ends). */
	while ((newline = memchr(start, '\n', size - (size_t)(start - body)))) {
		*newline = '\0';
		if (newline > start)
			apply_event(store, &state, start);
		start = newline + 1;
	}
	fuzz_compile_pods(store, FUZZ_NODE_NAME, MAX_PODS);
	object_store_free(store);
	free(body);
	return 0;
}
