/* weirctl drops: every {endpoint, reason, direction} drop counter that fired, with the pod's
 * name when it is a local endpoint. Sorted by endpoint, then reason, for stable output. */
#include <stdio.h>
#include <stdlib.h>

#include "datapath.h"
#include "names.h"
#include "output.h"
#include "table.h"

struct drop_row {
	struct weir_drop_key key;
	uint64_t packets, bytes;
};

struct drop_rows {
	struct drop_row *rows;
	size_t count;
};

static void collect(const struct weir_drop_key *key, uint64_t packets, uint64_t bytes,
		    void *context)
{
	struct drop_rows *rows = context;
	struct drop_row *grown = realloc(rows->rows, (rows->count + 1) * sizeof(*rows->rows));

	if (!grown)
		return;
	rows->rows = grown;
	rows->rows[rows->count++] = (struct drop_row){*key, packets, bytes};
}

static int by_endpoint_and_reason(const void *left, const void *right)
{
	const struct weir_drop_key *a = &((const struct drop_row *)left)->key;
	const struct weir_drop_key *b = &((const struct drop_row *)right)->key;

	if (a->endpoint_id != b->endpoint_id)
		return a->endpoint_id < b->endpoint_id ? -1 : 1;
	if (a->reason != b->reason)
		return a->reason < b->reason ? -1 : 1;
	return (int)a->direction - (int)b->direction;
}

int command_drops(struct weirctl *ctl, const struct command *command, int argc, char **argv)
{
	static const char *const headers[] = {"ID", "POD", "REASON", "DIR", "PACKETS", "BYTES"};
	int started;
	struct drop_rows rows = {NULL, 0};
	struct datapath datapath;
	struct names names;
	struct table *table;
	cJSON *list;
	int result;

	started = command_start_with_datapath(ctl, command, argc, argv, &datapath);
	if (started >= 0)
		return started;
	names_load(&names, ctl->state_dir);
	datapath_drop_for_each(&datapath, collect, &rows);
	qsort(rows.rows, rows.count, sizeof(*rows.rows), by_endpoint_and_reason);
	table = table_new(6, headers);
	table_align_right(table, 4);
	table_align_right(table, 5);
	list = cJSON_CreateArray();
	for (size_t i = 0; i < rows.count; i++) {
		const struct drop_row *row = &rows.rows[i];
		const struct endpoint_record *pod =
		    names_pod_by_endpoint(&names, row->key.endpoint_id);
		const char *reason = row->key.reason < WEIR_DROP_REASON_MAX
					 ? weir_drop_reason_names[row->key.reason]
					 : "unknown";
		const char *direction =
		    row->key.direction == WEIR_DIRECTION_INGRESS ? "ingress" : "egress";
		cJSON *item = cJSON_CreateObject();

		table_cell(table, "%u", row->key.endpoint_id);
		if (pod)
			table_cell(table, "%s/%s", pod->pod_namespace, pod->pod_name);
		else
			table_cell(table, "-");
		table_cell(table, "%s", reason);
		table_cell(table, "%s", direction);
		table_cell(table, "%llu", (unsigned long long)row->packets);
		table_cell(table, "%llu", (unsigned long long)row->bytes);

		cJSON_AddNumberToObject(item, "endpointId", row->key.endpoint_id);
		if (pod) {
			cJSON_AddStringToObject(item, "namespace", pod->pod_namespace);
			cJSON_AddStringToObject(item, "pod", pod->pod_name);
		} else {
			cJSON_AddNullToObject(item, "namespace");
			cJSON_AddNullToObject(item, "pod");
		}
		cJSON_AddStringToObject(item, "reason", reason);
		cJSON_AddStringToObject(item, "direction", direction);
		cJSON_AddNumberToObject(item, "packets", (double)row->packets);
		cJSON_AddNumberToObject(item, "bytes", (double)row->bytes);
		cJSON_AddItemToArray(list, item);
	}
	result = output_listing(ctl, table, list);
	free(rows.rows);
	names_free(&names);
	datapath_close(&datapath);
	return result;
}
