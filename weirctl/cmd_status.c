/* weirctl status: the agent's own answer. Without -o, a terminal gets the table and a pipe
 * gets the agent's JSON line, which scripts (tests, the demo, the netpol harness, whoever
 * automated weir before tables existed) have always parsed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent_client.h"
#include "output.h"
#include "table.h"

static const char *text_of(const cJSON *reply, const char *field)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(reply, field);

	return cJSON_IsString(item) && item->valuestring[0] ? item->valuestring : "-";
}

static double number_of(const cJSON *reply, const char *field)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(reply, field);

	return cJSON_IsNumber(item) ? item->valuedouble : 0;
}

static const char *yes_no(const cJSON *reply, const char *field)
{
	return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(reply, field)) ? "yes" : "no";
}

static int status_table(const cJSON *reply)
{
	static const char *const headers[] = {
	    "NODE",	 "READY",    "SYNCED",	   "SOURCE",	     "POD-CIDR",
	    "ENDPOINTS", "ISOLATED", "IDENTITIES", "POLICY-ENTRIES", "REVISION",
	    "APPLIED",	 "FLOWS",    "UP-SINCE"};
	const cJSON *stream = cJSON_GetObjectItemCaseSensitive(reply, "flowStream");
	struct table *table = table_new(13, headers);
	time_t started = (time_t)number_of(reply, "startedAt");
	struct tm utc;
	char since[32] = "-";
	int result;

	if (!table) {
		fprintf(stderr, "weirctl: build the table: out of memory\n");
		return 1;
	}
	if (started && gmtime_r(&started, &utc))
		strftime(since, sizeof(since), "%Y-%m-%dT%H:%M:%SZ", &utc);
	for (size_t column = 5; column <= 11; column++)
		table_align_right(table, column);
	table_cell(table, "%s", text_of(reply, "nodeName"));
	table_cell(table, "%s", yes_no(reply, "ready"));
	table_cell(table, "%s", yes_no(reply, "synced"));
	table_cell(table, "%s", text_of(reply, "source"));
	table_cell(table, "%s", text_of(reply, "podCIDR"));
	table_cell(table, "%.0f", number_of(reply, "endpoints"));
	table_cell(table, "%.0f", number_of(reply, "isolatedEndpoints"));
	table_cell(table, "%.0f", number_of(reply, "identities"));
	table_cell(table, "%.0f", number_of(reply, "policyEntries"));
	table_cell(table, "%.0f", number_of(reply, "policyRevision"));
	table_cell(table, "%.0f", number_of(reply, "appliedChanges"));
	table_cell(table, "%.0f", stream ? number_of(stream, "bufferedLines") : 0);
	table_cell(table, "%s", since);
	result = table_print(table, stdout) < 0 ? 1 : 0;
	table_free(table);
	return result;
}

int command_status(struct weirctl *ctl, const struct command *command, int argc, char **argv)
{
	int parsed = command_options(ctl, command, argc, argv, NULL, NULL, NULL, NULL);
	cJSON *reply;
	char *text;
	int fd, result;
	bool ready;

	if (parsed < 0)
		return command_options_exit(parsed);
	if (parsed != argc)
		return command_usage_error(command, "takes no arguments, got \"%s\"", argv[parsed]);
	fd = agent_request(ctl, "status");
	if (fd < 0)
		return 1;
	text = agent_read_all(ctl, fd);
	close(fd);
	if (!text)
		return 1;
	reply = cJSON_Parse(text);
	if (!reply || cJSON_GetObjectItemCaseSensitive(reply, "error")) {
		fprintf(stderr, "weirctl: %s/weir.sock gave an unexpected answer: %s",
			ctl->state_dir, text);
		cJSON_Delete(reply);
		free(text);
		return 1;
	}
	ready = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(reply, "ready"));
	if (ctl->output == OUTPUT_TABLE ||
	    (ctl->output == OUTPUT_DEFAULT && isatty(STDOUT_FILENO))) {
		result = status_table(reply);
		cJSON_Delete(reply);
	} else {
		result = output_json_print(reply);
	}
	free(text);
	return result ? result : ready ? 0 : 1;
}
