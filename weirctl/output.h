/* Output shared by the commands: the -o format, JSON documents, protocol names, and the error
 * messages that tell the operator what to do (which socket or bpffs was tried, how to start
 * the agent). */
#ifndef WEIR_WEIRCTL_OUTPUT_H
#define WEIR_WEIRCTL_OUTPUT_H

#include <stdbool.h>
#include <stdint.h>

#include <cJSON.h>

#include "weirctl.h"

/* "table" or "json"; -1 for anything else. */
int output_format_parse(const char *text, enum output_format *format);
static inline bool output_is_json(const struct weirctl *ctl)
{
	return ctl->output == OUTPUT_JSON;
}

/* Prints the document as one line of JSON and frees it. Returns 0, or 1 when out of memory. */
int output_json_print(cJSON *document);

struct table;
/* A listing's end: list as JSON with -o json, else the table. Frees both; returns the exit code. */
int output_listing(const struct weirctl *ctl, struct table *table, cJSON *list);

/* The pinned maps could not be opened: errbuf, the --bpffs tried, how to start the agent. */
void output_datapath_error(const struct weirctl *ctl, const char *errbuf);
/* The control socket did not answer: its path, why, and how to start the agent. */
void output_agent_error(const struct weirctl *ctl, const char *socket_path, int error);

/* "TCP", "UDP", "SCTP", "ICMP", or "proto N" (in a static buffer for unknown numbers). */
const char *protocol_name(uint8_t protocol);
/* tcp, udp, sctp, icmp (any case); -1 for anything else. */
int protocol_parse(const char *text, uint8_t *protocol);

/* "1.5 ms", "230 us", "2.1 s" */
void duration_format(uint64_t nanoseconds, char *out, size_t size);

#endif
