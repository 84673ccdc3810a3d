/* weirctl flows: the agent's recent flow lines (and with --follow every new one), filtered
 * here, printed as the agent wrote them (-o json) or as an aligned table. Without --follow the
 * whole answer is read first so the table's columns fit; with it, rows are printed as they
 * come and columns widen when a longer value shows up. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent_client.h"
#include "names.h"
#include "output.h"
#include "table.h"

enum { OPTION_POD = 1000, OPTION_VERDICT, OPTION_TYPE };

struct flow_filter {
	const struct command *command;
	bool follow;
	const char *pod;
	const char *verdict; /* "dropped" or "forwarded" */
	const char *type;
};

static int flows_option(int option, const char *value, void *context)
{
	static const char *const types[] = {"http", "drop", "flow", "flow_end", "revoked"};
	struct flow_filter *filter = context;
	char pod_namespace[256];
	const char *pod_name;

	switch (option) {
	case 'f': filter->follow = true; return 0;
	case OPTION_POD:
		if (pod_name_split(value, pod_namespace, sizeof(pod_namespace), &pod_name) < 0) {
			command_usage_error(filter->command, "--pod \"%s\" is not NAMESPACE/POD",
					    value);
			return -1;
		}
		filter->pod = value;
		return 0;
	case OPTION_VERDICT:
		if (strcmp(value, "dropped") != 0 && strcmp(value, "forwarded") != 0) {
			command_usage_error(filter->command,
					    "--verdict \"%s\": the verdict is dropped or forwarded",
					    value);
			return -1;
		}
		filter->verdict = value;
		return 0;
	case OPTION_TYPE:
		for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
			if (strcmp(value, types[i]) == 0) {
				filter->type = value;
				return 0;
			}
		}
		command_usage_error(
		    filter->command,
		    "--type \"%s\": the type is http, drop, flow, flow_end or revoked", value);
		return -1;
	default: return -1;
	}
}

static const char *string_at(const cJSON *object, const char *field)
{
	const char *value = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(object, field));

	return value ? value : "";
}

static double number_at(const cJSON *object, const char *field)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, field);

	return cJSON_IsNumber(item) ? item->valuedouble : 0;
}

/* Anything the datapath did not drop was forwarded (flow ends carry no verdict). */
static bool is_dropped(const cJSON *line)
{
	return strcmp(string_at(line, "verdict"), "dropped") == 0;
}

static bool filter_passes(const struct flow_filter *filter, const cJSON *line)
{
	if (filter->type && strcmp(string_at(line, "type"), filter->type) != 0)
		return false;
	if (filter->verdict && is_dropped(line) != (strcmp(filter->verdict, "dropped") == 0))
		return false;
	if (filter->pod &&
	    strcmp(string_at(cJSON_GetObjectItemCaseSensitive(line, "source"), "name"),
		   filter->pod) != 0 &&
	    strcmp(string_at(cJSON_GetObjectItemCaseSensitive(line, "destination"), "name"),
		   filter->pod) != 0)
		return false;
	return true;
}

static const char *const flow_headers[] = {"TIME",	 "TYPE",    "SOURCE",	     "DESTINATION",
					   "PROTO/PORT", "VERDICT", "REASON/POLICY", "METHOD",
					   "PATH",	 "STATUS",  "LATENCY"};
#define FLOW_COLUMNS 7 /* without the HTTP ones */
#define HTTP_COLUMNS 4

/* "e2e/a" for pods, "world (1.2.3.4)" for everything else. */
static void end_words(const cJSON *end, char *out, size_t size)
{
	const char *name = string_at(end, "name");
	const char *ip = string_at(end, "ip");

	if (strchr(name, '/') || !ip[0])
		snprintf(out, size, "%s", name[0] ? name : ip);
	else
		snprintf(out, size, "%s (%s)", name[0] ? name : "?", ip);
}

static void add_row(struct table *table, const cJSON *line, bool with_http)
{
	const cJSON *source = cJSON_GetObjectItemCaseSensitive(line, "source");
	const cJSON *destination = cJSON_GetObjectItemCaseSensitive(line, "destination");
	const cJSON *http = cJSON_GetObjectItemCaseSensitive(line, "http");
	const char *type = string_at(line, "type");
	const char *time = string_at(line, "time");
	const char *protocol = string_at(line, "protocol");
	const char *clock = strchr(time, 'T');
	char source_words[400], destination_words[400], latency[32];

	end_words(source, source_words, sizeof(source_words));
	end_words(destination, destination_words, sizeof(destination_words));
	/* The time of day to the millisecond: the date is in -o json. */
	table_cell(table, "%.12s", clock ? clock + 1 : time);
	table_cell(table, "%s", type);
	table_cell(table, "%s", source_words);
	table_cell(table, "%s", destination_words);
	if (strcmp(protocol, "ICMP") == 0)
		table_cell(table, "%s", protocol);
	else
		table_cell(table, "%s/%.0f", protocol, number_at(destination, "port"));
	if (strcmp(type, "flow_end") == 0) {
		const cJSON *forward = cJSON_GetObjectItemCaseSensitive(line, "forward");
		const cJSON *reply = cJSON_GetObjectItemCaseSensitive(line, "reply");
		char duration[32];
		duration_format((uint64_t)number_at(line, "durationNs"), duration,
				sizeof(duration));
		table_cell(table, "ended (%s)", string_at(line, "cause"));
		table_cell(
		    table,
		    "after %s: %.0f packets %.0f bytes forward, %.0f packets %.0f bytes back; %s",
		    duration, number_at(forward, "packets"), number_at(forward, "bytes"),
		    number_at(reply, "packets"), number_at(reply, "bytes"),
		    string_at(line, "policy"));
	} else {
		table_cell(table, "%s", string_at(line, "verdict"));
		if (is_dropped(line))
			table_cell(table, "%s: %s", string_at(line, "reason"),
				   string_at(line, "policy"));
		else
			table_cell(table, "%s", string_at(line, "policy"));
	}
	if (!with_http)
		return;
	if (!http) {
		for (int i = 0; i < HTTP_COLUMNS; i++)
			table_cell(table, "-");
		return;
	}
	duration_format((uint64_t)number_at(http, "latencyNs"), latency, sizeof(latency));
	table_cell(table, "%s", string_at(http, "method")[0] ? string_at(http, "method") : "-");
	if (string_at(http, "path")[0])
		table_cell(table, "%s%s", string_at(http, "path"),
			   cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(http, "pathTruncated"))
			       ? "..."
			       : "");
	else
		table_cell(table, "-"); /* not a request weir could read */
	if (number_at(http, "status"))
		table_cell(table, "%.0f", number_at(http, "status"));
	else
		table_cell(table, "-");
	table_cell(table, "%s", number_at(http, "latencyNs") ? latency : "-");
}

/* Returns 1 for a line that ends the command (the agent's error), else 0. */
static int handle_line(const struct weirctl *ctl, const struct flow_filter *filter,
		       const char *text, cJSON **kept, size_t *kept_count, struct table *stream,
		       bool stream_http)
{
	cJSON *line = cJSON_Parse(text);
	const char *error = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(line, "error"));

	if (!line) {
		fprintf(stderr, "weirctl: skipped a flow line that is not JSON: %.80s\n", text);
		return 0;
	}
	if (error) {
		fprintf(stderr, "weirctl: the agent refused the flow stream: %s\n", error);
		cJSON_Delete(line);
		return 1;
	}
	if (strcmp(string_at(line, "type"), "lost") == 0) {
		fprintf(stderr, "weirctl: %.0f flow lines were lost: this reader was too slow\n",
			number_at(line, "lost"));
		cJSON_Delete(line);
		return 0;
	}
	if (!filter_passes(filter, line)) {
		cJSON_Delete(line);
		return 0;
	}
	if (output_is_json(ctl)) {
		/* The agent's line as it is: stable field names, one flow per line. */
		puts(text);
		if (filter->follow)
			fflush(stdout);
		cJSON_Delete(line);
	} else if (stream) {
		add_row(stream, line, stream_http);
		table_stream_rows(stream, stdout);
		cJSON_Delete(line);
	} else {
		kept[(*kept_count)++] = line; /* room made by the caller */
	}
	return 0;
}

int command_flows(struct weirctl *ctl, const struct command *command, int argc, char **argv)
{
	static const struct option options[] = {
	    {"follow", no_argument, 0, 'f'},
	    {"pod", required_argument, 0, OPTION_POD},
	    {"verdict", required_argument, 0, OPTION_VERDICT},
	    {"type", required_argument, 0, OPTION_TYPE},
	    {0, 0, 0, 0},
	};
	struct flow_filter filter = {.command = command};
	int parsed = command_options(ctl, command, argc, argv, options, "f", flows_option, &filter);
	cJSON **kept = NULL;
	size_t kept_count = 0, kept_capacity = 0;
	struct table *stream = NULL;
	char *text = NULL;
	size_t text_size = 0;
	bool with_http = false;
	int fd, result = 0;
	FILE *input;

	if (parsed < 0)
		return command_options_exit(parsed);
	if (parsed != argc)
		return command_usage_error(command, "takes options only, got \"%s\"", argv[parsed]);
	fd = agent_request(ctl, filter.follow ? "flows-follow" : "flows");
	if (fd < 0)
		return 1;
	input = fdopen(fd, "r");
	if (!input) {
		close(fd);
		fprintf(stderr, "weirctl: read the flow stream: out of memory\n");
		return 1;
	}
	if (filter.follow && !output_is_json(ctl)) {
		/* HTTP columns unless the filter rules HTTP out. */
		with_http = !filter.type || strcmp(filter.type, "http") == 0;
		stream = table_new(FLOW_COLUMNS + (with_http ? HTTP_COLUMNS : 0), flow_headers);
		if (!stream) {
			fclose(input);
			fprintf(stderr, "weirctl: build the table: out of memory\n");
			return 1;
		}
		table_min_width(stream, 0, 12);
		table_min_width(stream, 1, 8);
		table_min_width(stream, 2, 16);
		table_min_width(stream, 3, 16);
		table_min_width(stream, 4, 10);
		table_min_width(stream, 5, 8);
		if (with_http)
			table_min_width(stream, 6, 40);
		table_stream_header(stream, stdout);
	}
	while (getline(&text, &text_size, input) > 0) {
		text[strcspn(text, "\n")] = '\0';
		if (!text[0])
			continue;
		if (!stream && !output_is_json(ctl) && kept_count == kept_capacity) {
			size_t capacity = kept_capacity ? kept_capacity * 2 : 256;
			cJSON **grown = realloc(kept, capacity * sizeof(*kept));
			if (!grown) {
				fprintf(stderr, "weirctl: read the flow stream: out of memory\n");
				result = 1;
				break;
			}
			kept = grown;
			kept_capacity = capacity;
		}
		if (handle_line(ctl, &filter, text, kept, &kept_count, stream, with_http)) {
			result = 1;
			break;
		}
	}
	fclose(input);
	free(text);
	if (filter.follow && result == 0) {
		fprintf(stderr, "weirctl: the agent closed the flow stream (did it stop?)\n");
		result = 1;
	}
	if (!filter.follow && !output_is_json(ctl) && result == 0) {
		struct table *table;
		for (size_t i = 0; i < kept_count; i++)
			with_http |= strcmp(string_at(kept[i], "type"), "http") == 0;
		table = table_new(FLOW_COLUMNS + (with_http ? HTTP_COLUMNS : 0), flow_headers);
		for (size_t i = 0; i < kept_count; i++)
			add_row(table, kept[i], with_http);
		result = table_print(table, stdout) == 0 ? 0 : 1;
		table_free(table);
	}
	for (size_t i = 0; i < kept_count; i++)
		cJSON_Delete(kept[i]);
	free(kept);
	table_free(stream);
	return result;
}
