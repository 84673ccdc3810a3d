/* Watch lines as the API client reads them: split on '\n' keeping a partial last line, each
 * decoded into a store change, a bookmark, a 410 or another error; an unreadable line stops
 * the stream before anything after it is applied. */
#include <string.h>

#include "test.h"
#include "unit.h"
#include "watch_event.h"

struct collected {
	struct object_store *store;
	struct watch_event last;
	int lines, notes;
};

static void count_note(void *context, enum kube_kind kind, const cJSON *object)
{
	struct collected *collected = context;

	if (kind == KIND_POD && object)
		collected->notes++;
}

static int apply_line(void *context, const char *line)
{
	struct collected *collected = context;

	collected->lines++;
	watch_event_apply(collected->store, KIND_POD, line, count_note, collected,
			  &collected->last);
	return collected->last.kind == WATCH_EVENT_UNREADABLE ? -1 : 0;
}

#define POD(type, name, version)                                                                   \
	"{\"type\":\"" type "\",\"object\":{\"kind\":\"Pod\",\"metadata\":{\"namespace\":\"x\","  \
	"\"name\":\"" name "\",\"resourceVersion\":\"" version "\"}}}\n"

static void lines_are_split_and_applied_in_order(void)
{
	struct collected collected = { .store = object_store_new() };
	char body[1024];
	long consumed;

	snprintf(body, sizeof(body), "%s%s\n%s{\"type\":\"ADD", POD("ADDED", "a", "5"),
		 POD("ADDED", "b", "6"), POD("MODIFIED", "a", "5"));
	consumed = watch_lines_split(body, strlen(body), apply_line, &collected);
	ASSERT_EQ(collected.lines, 3, "three complete lines, the empty one skipped");
	ASSERT_STR_EQ(body + consumed, "{\"type\":\"ADD", "the partial line is left");
	ASSERT_EQ(object_store_count(collected.store, KIND_POD), 2, "two pods");
	ASSERT_EQ(collected.notes, 2, "an identical MODIFIED is no change");
	ASSERT_STR_EQ(collected.last.resource_version, "5", "its resourceVersion");
	object_store_free(collected.store);
}

static void events_decode_by_type(void)
{
	struct collected collected = { .store = object_store_new() };
	char deleted[] = POD("DELETED", "a", "9");
	char added[] = POD("ADDED", "a", "8");
	char gone[] = "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":410}}\n";
	char error[] = "{\"type\":\"ERROR\",\"object\":{\"code\":500,\"message\":\"boom\"}}\n";
	char bookmark[] =
		"{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"resourceVersion\":\"77\"}}}\n";

	watch_lines_split(added, strlen(added), apply_line, &collected);
	watch_lines_split(deleted, strlen(deleted), apply_line, &collected);
	ASSERT_EQ(collected.last.kind, WATCH_EVENT_CHANGE, "DELETED is a change");
	ASSERT_EQ(object_store_count(collected.store, KIND_POD), 0, "removed");
	watch_lines_split(gone, strlen(gone), apply_line, &collected);
	ASSERT_EQ(collected.last.kind, WATCH_EVENT_EXPIRED, "410 means list again");
	watch_lines_split(error, strlen(error), apply_line, &collected);
	ASSERT_EQ(collected.last.kind, WATCH_EVENT_ERROR, "other errors");
	ASSERT_EQ(collected.last.error_code, 500, "with their code");
	ASSERT_STR_EQ(collected.last.error_message, "boom", "and message");
	watch_lines_split(bookmark, strlen(bookmark), apply_line, &collected);
	ASSERT_EQ(collected.last.kind, WATCH_EVENT_BOOKMARK, "bookmark");
	ASSERT_STR_EQ(collected.last.resource_version, "77", "bookmark version");
	object_store_free(collected.store);
}

static void unreadable_line_stops_the_stream(void)
{
	struct collected collected = { .store = object_store_new() };
	char body[1024];

	snprintf(body, sizeof(body), "{\"type\":\"ADDED\",\"object\":\"not an object\"}\n%s",
		 POD("ADDED", "a", "3"));
	ASSERT_EQ(watch_lines_split(body, strlen(body), apply_line, &collected), -1, "stopped");
	ASSERT_EQ(collected.lines, 1, "nothing after the bad line");
	ASSERT_EQ(object_store_count(collected.store, KIND_POD), 0, "nothing applied");
	object_store_free(collected.store);
}

const struct test_case watch_event_tests[] = {
	{ "lines_are_split_and_applied_in_order", lines_are_split_and_applied_in_order },
	{ "events_decode_by_type", events_decode_by_type },
	{ "unreadable_line_stops_the_stream", unreadable_line_stops_the_stream },
};
const size_t watch_event_tests_count = sizeof(watch_event_tests) / sizeof(watch_event_tests[0]);
