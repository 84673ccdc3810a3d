/* weirctl counters: the datapath's global per-CPU counters, summed. */
#include <stdio.h>

#include "datapath.h"
#include "output.h"
#include "table.h"

int command_counters(struct weirctl *ctl, const struct command *command, int argc, char **argv)
{
	static const char *const headers[] = {"COUNTER", "VALUE"};
	int parsed = command_options(ctl, command, argc, argv, NULL, NULL, NULL, NULL);
	struct datapath datapath;
	struct table *table;
	cJSON *list;
	char errbuf[256];
	int result;

	if (parsed < 0)
		return command_options_exit(parsed);
	if (parsed != argc)
		return command_usage_error(command, "takes no arguments, got \"%s\"", argv[parsed]);
	if (datapath_open(&datapath, ctl->bpffs, errbuf, sizeof(errbuf)) < 0) {
		output_datapath_error(ctl, errbuf);
		return 1;
	}
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
	if (output_is_json(ctl)) {
		result = output_json_print(list);
		list = NULL;
	} else {
		result = table_print(table, stdout) == 0 ? 0 : 1;
	}
	cJSON_Delete(list);
	table_free(table);
	datapath_close(&datapath);
	return result;
}
