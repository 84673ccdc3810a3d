/* Fuzz target: a watch response body through the API client's own decoding
 * (agent/watch_event.c: watch_lines_split, watch_event_apply, exactly what kube_client.c's
 * on_body and handle_watch_event call), then a policy compiler pass over the resulting store.
 *
 * Input: a watch response body: JSON events, one per '\n'-terminated line, as the API server
 * streams them. The store starts with fuzz_store_base_cluster's objects, so MODIFIED and
 * DELETED events have something to change. The kind of the stream is the first event's object
 * "kind" when weir watches it, else Pod (a stream carries one kind). Checks beyond memory
 * safety: every change note carries an object; after ADDED/MODIFIED of a named object the
 * store holds an object under that namespace/name; after DELETED, nothing is stored there; an
 * unreadable line stops the stream (nothing after it is applied); then fuzz_compile_pods'
 * invariants. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_support.h"
#include "watch_event.h"

#define MAX_PODS 64

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet_logs();
	return 0;
}

struct watch_run {
	struct object_store *store;
	enum kube_kind kind;
	bool kind_chosen;
	bool stopped; /* an unreadable line ended the stream */
	size_t notes;
};

static void note_change(void *context, enum kube_kind kind, const cJSON *object)
{
	struct watch_run *run = context;

	FUZZ_CHECK(object != NULL, "a change note without an object");
	FUZZ_CHECK(kind == run->kind, "a note for another kind");
	run->notes++;
}

static int handle_line(void *context, const char *line)
{
	struct watch_run *run = context;
	struct watch_event event;
	cJSON *peek;
	char name_space[256] = "", name[256] = "", type[16] = "";
	bool named = false;

	FUZZ_CHECK(!run->stopped, "a line handled after the stream stopped");
	peek = cJSON_Parse(line);
	if (!run->kind_chosen) {
		int kind = kube_kind_of(object_string(peek, "object.kind"));
		run->kind = kind < 0 ? KIND_POD : (enum kube_kind)kind;
		run->kind_chosen = true;
	}
	if (object_string(peek, "type") && object_name(cJSON_GetObjectItemCaseSensitive(peek, "object"))) {
		const cJSON *object = cJSON_GetObjectItemCaseSensitive(peek, "object");
		named = strlen(object_namespace(object)) < sizeof(name_space) - 1 &&
			strlen(object_name(object)) < sizeof(name) - 1;
		snprintf(name_space, sizeof(name_space), "%s", object_namespace(object));
		snprintf(name, sizeof(name), "%s", object_name(object));
		snprintf(type, sizeof(type), "%s", object_string(peek, "type"));
	}
	cJSON_Delete(peek);

	watch_event_apply(run->store, run->kind, line, note_change, run, &event);
	if (event.kind == WATCH_EVENT_UNREADABLE) {
		run->stopped = true;
		return -1; /* kube_client.c restarts the watch here */
	}
	if (event.kind == WATCH_EVENT_CHANGE && named) {
		const cJSON *stored = object_store_get(run->store, run->kind, name_space, name);
		if (strcmp(type, "DELETED") == 0)
			FUZZ_CHECK(stored == NULL, "%s %s/%s still stored after DELETED",
				   kube_kind_name(run->kind), name_space, name);
		else
			FUZZ_CHECK(stored != NULL, "%s %s/%s not stored after %s",
				   kube_kind_name(run->kind), name_space, name, type);
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct watch_run run = { .store = object_store_new() };
	char *body = fuzz_text(data, size);
	long consumed;

	FUZZ_CHECK(run.store != NULL && body != NULL, "out of memory");
	fuzz_store_base_cluster(run.store);
	consumed = watch_lines_split(body, size, handle_line, &run);
	FUZZ_CHECK(consumed == -1 ? run.stopped : (size_t)consumed <= size,
		   "the split consumed %ld of %zu bytes", consumed, size);
	fuzz_compile_pods(run.store, FUZZ_NODE_NAME, MAX_PODS);
	object_store_free(run.store);
	free(body);
	return 0;
}
