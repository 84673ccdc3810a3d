/* The hints name both ways of starting the agent because weirctl cannot tell which one the
 * operator uses; they repeat the paths weirctl tried, since a wrong --bpffs or --state-dir (or
 * the wrong network namespace) looks exactly like an agent that is not running. */
#include "output.h"
#include "table.h"

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int output_format_parse(const char *text, enum output_format *format)
{
	if (strcmp(text, "table") == 0)
		*format = OUTPUT_TABLE;
	else if (strcmp(text, "json") == 0)
		*format = OUTPUT_JSON;
	else
		return -1;
	return 0;
}

int output_json_print(cJSON *document)
{
	char *text = document ? cJSON_PrintUnformatted(document) : NULL;

	cJSON_Delete(document);
	if (!text) {
		fprintf(stderr, "weirctl: build the JSON output: out of memory\n");
		return 1;
	}
	puts(text);
	cJSON_free(text);
	return 0;
}

static void start_hint(const struct weirctl *ctl)
{
	fprintf(
	    stderr,
	    "  Is weir-agent running on this node, and is weirctl in the node's network namespace\n"
	    "  with the agent's --bpffs and --state-dir? Start the agent with\n"
	    "    weir-agent --node-name NODE --standalone MANIFEST_DIR --bpffs %s --state-dir %s\n"
	    "  or, in a cluster,\n"
	    "    weir-agent --node-name NODE --kubeconfig FILE --bpffs %s --state-dir %s\n",
	    ctl->bpffs, ctl->state_dir, ctl->bpffs, ctl->state_dir);
}

void output_datapath_error(const struct weirctl *ctl, const char *errbuf)
{
	fprintf(stderr, "weirctl: cannot read the datapath's maps under --bpffs %s: %s\n",
		ctl->bpffs, errbuf);
	start_hint(ctl);
}

void output_agent_error(const struct weirctl *ctl, const char *socket_path, int error)
{
	fprintf(stderr, "weirctl: weir-agent is not answering on %s: %s\n", socket_path,
		strerror(error));
	start_hint(ctl);
}

const char *protocol_name(uint8_t protocol)
{
	static char other[16];

	switch (protocol) {
	case IPPROTO_TCP: return "TCP";
	case IPPROTO_UDP: return "UDP";
	case IPPROTO_SCTP: return "SCTP";
	case IPPROTO_ICMP: return "ICMP";
	default: snprintf(other, sizeof(other), "proto %u", protocol); return other;
	}
}

int protocol_parse(const char *text, uint8_t *protocol)
{
	static const struct {
		const char *name;
		uint8_t number;
	} known[] = {{"tcp", IPPROTO_TCP},
		     {"udp", IPPROTO_UDP},
		     {"sctp", IPPROTO_SCTP},
		     {"icmp", IPPROTO_ICMP}};

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		if (strcasecmp(text, known[i].name) == 0) {
			*protocol = known[i].number;
			return 0;
		}
	}
	return -1;
}

void duration_format(uint64_t nanoseconds, char *out, size_t size)
{
	if (nanoseconds >= 1000000000ULL)
		snprintf(out, size, "%.1f s", (double)nanoseconds / 1e9);
	else if (nanoseconds >= 1000000ULL)
		snprintf(out, size, "%.1f ms", (double)nanoseconds / 1e6);
	else
		snprintf(out, size, "%llu us", (unsigned long long)(nanoseconds / 1000));
}

int output_listing(const struct weirctl *ctl, struct table *table, cJSON *list)
{
	int result;

	if (output_is_json(ctl)) {
		result = output_json_print(list);
		list = NULL;
	} else {
		result = table_print(table, stdout) == 0 ? 0 : 1;
	}
	cJSON_Delete(list);
	table_free(table);
	return result;
}
