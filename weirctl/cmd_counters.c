/* weirctl counters: the datapath's global per-CPU counters, summed. */
#include <stdio.h>

#include "datapath.h"
#include "output.h"
#include "table.h"

int command_counters(struct weirctl *ctl, const struct command *command, int argc, char **argv)
{
	static const char *const headers[] = {"COUNTER", "VALUE"};
	int started;
	struct datapath datapath;
	struct table *table;
	cJSON *list;
	int result;

	started = command_start_with_datapath(ctl, command, argc, argv, &datapath);
	if (started >= 0)
		return started;
	table = table_new(2, headers);
	table_align_right(table, 1);
	list = cJSON_CreateArray();
	for (int counter = 0; counter < WEIR_COUNTER_MAX; counter++) {
		uint64_t total = 0;
		cJSON *item = cJSON_CreateObject();

		datapath_counter_read(&datapath, (enum weir_counter)counter, &total);
		table_cell(table, "%s", weir_counter_names[counter]);
		table_cell(table, "%llu", (unsigned long long)total);
		cJSON_AddStringToObject(item, "counter", weir_counter_names[counter]);
		cJSON_AddNumberToObject(item, "value", (double)total);
		cJSON_AddItemToArray(list, item);
	}
	result = output_listing(ctl, table, list);
	datapath_close(&datapath);
	return result;
}
