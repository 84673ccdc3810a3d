/* The flow reader: drains the datapath's ring buffer and explains every event in words: who
 * talked to whom (namespace/pod, host, world), the verdict, the drop reason's name and the
 * policy responsible, each HTTP exchange and each connection's end. JSON lines go to
 * --flow-log and to a live sink (weirctl flows); drops, HTTP exchanges and flow ends also reach
 * the agent's log; HTTP exchanges go on to observers (metrics, traces). */
#ifndef WEIR_AGENT_FLOW_LOG_H
#define WEIR_AGENT_FLOW_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "abi.h"
#include "object_store.h"
#include "reconciler.h"

struct flow_log;

/* destination: a file path, "-" for stdout, or NULL for the agent log only. */
struct flow_log *flow_log_open(const char *bpffs, const char *destination,
			       const struct reconciler *reconciler, char *errbuf, size_t errlen);
/* A reader without a ring buffer or maps: it explains only the records handed to
 * flow_log_handle_record (tests). reconciler may be NULL (no names then); output may be NULL. */
struct flow_log *flow_log_new_detached(const struct reconciler *reconciler, FILE *output);
void flow_log_close(struct flow_log *flow_log);
/* A descriptor that becomes readable when events wait. */
int flow_log_fd(const struct flow_log *flow_log);
/* Reads every waiting event; every second also logs how many the datapath suppressed. */
void flow_log_drain(struct flow_log *flow_log, uint64_t now_ms);

/* The pods' objects, for workload names (pods without one are named by themselves). */
void flow_log_set_store(struct flow_log *flow_log, struct object_store *store);
/* Every JSON line, as written to --flow-log (without the newline), also goes to sink, whether
 * or not --flow-log is given. NULL turns it off. */
void flow_log_set_sink(struct flow_log *flow_log,
		       void (*sink)(void *context, const char *json_line), void *context);

/* One HTTP request and its response, in words. Strings live until the observer returns. */
struct http_exchange {
	int64_t start_unix_ns;	/* when the request was seen */
	int64_t end_unix_ns;	/* when its response was seen (the start when unanswered) */
	uint64_t latency_ns;	/* 0 when unanswered */
	uint8_t outcome;	/* enum weir_http_outcome */
	const char *method;	/* "GET", ...; "" when the request was not readable */
	const char *path;	/* printable: other bytes percent-encoded */
	const char *host;	/* the Host header, "" when absent */
	bool path_truncated;
	unsigned status;	/* 0 when none */
	const char *reason;	/* the drop reason's name when refused, else NULL */
	const char *source, *destination; /* client and server: "ns/pod", "host", "world", ... */
	const char *source_workload, *destination_workload;
	const char *source_ip, *destination_ip;
	uint16_t source_port, destination_port;
	const char *policy;
};

#define FLOW_LOG_MAX_HTTP_OBSERVERS 4

/* observe is called for every HTTP event, after it was logged. Returns -1 when all slots are
 * taken. */
int flow_log_add_http_observer(struct flow_log *flow_log,
			       void (*observe)(void *context, const struct http_exchange *exchange),
			       void *context);

/* Explains one ring buffer record: the reader's callback, public for tests. Records too short
 * for their type are counted and skipped. */
void flow_log_handle_record(struct flow_log *flow_log, const void *data, size_t size);
/* A connection's end found in userspace (the conntrack sweep), explained exactly as the
 * datapath's own FLOW_END records are. */
void flow_log_report_flow_end(struct flow_log *flow_log, const struct weir_flow_end_event *event);

struct flow_log_stats {
	uint64_t records[WEIR_EVENT_FLOW_END + 1]; /* by enum weir_event_type; [0]: unknown type */
	uint64_t malformed;			   /* shorter than their type's record */
};
void flow_log_stats(const struct flow_log *flow_log, struct flow_log_stats *stats);

#endif
