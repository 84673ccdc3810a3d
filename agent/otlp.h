/* --otlp-endpoint: every HTTP exchange the datapath saw, exported as an OpenTelemetry span over
 * OTLP/HTTP with JSON encoding (POST <endpoint>/v1/traces). Spans are batched (up to
 * OTLP_BATCH_SPANS, or every OTLP_FLUSH_MS) and sent with libcurl on the agent's own loop: the
 * exporter exposes one descriptor and a timeout, and never blocks. A collector that is away
 * costs dropped spans, counted and logged at most twice a minute, never a delayed flow. */
#ifndef WEIR_AGENT_OTLP_H
#define WEIR_AGENT_OTLP_H

#include <stddef.h>
#include <stdint.h>

#include "flow_log.h"

#define OTLP_BATCH_SPANS 256
#define OTLP_FLUSH_MS 2000
#define OTLP_QUEUE_SPANS 4096 /* spans waiting while a batch is in flight; more are dropped */

struct otlp_span {
	uint8_t trace_id[16];
	uint8_t span_id[8];
	int64_t start_unix_ns, end_unix_ns;
	char method[16];
	char path[200];		  /* without the query */
	char query[200];	  /* after the '?', "" when none */
	char server_address[128]; /* the Host header without its port, else the server's IP */
	char client_address[16];
	uint16_t server_port, client_port;
	unsigned status; /* 0: no response */
	char outcome[16];
	char reason[32]; /* the drop reason when refused */
	char source_workload[256], destination_workload[256];
};

/* Fills a span from an exchange, with fresh random ids. */
void otlp_span_from_exchange(const struct http_exchange *exchange, struct otlp_span *span);

/* The ExportTraceServiceRequest JSON for spans (one resourceSpans per destination workload);
 * malloc'ed, NULL when out of memory. */
char *otlp_traces_json(const struct otlp_span *spans, size_t count, const char *node_name);

struct otlp_exporter;

/* endpoint: "http(s)://host:port[/base]"; spans go to <endpoint>/v1/traces. NULL with errbuf
 * naming the endpoint when it is unusable. */
struct otlp_exporter *otlp_exporter_new(const char *endpoint, const char *node_name,
					char *errbuf, size_t errlen);
void otlp_exporter_free(struct otlp_exporter *exporter);

/* Queues the exchange as a span (unparsed payloads are no requests and are skipped); a
 * flow_log HTTP observer (context: the exporter). */
void otlp_observe(void *context, const struct http_exchange *exchange);

/* A descriptor that becomes readable when the export's connection needs attention. */
int otlp_fd(const struct otlp_exporter *exporter);
/* Drives the transfer in flight and starts the next batch when one is due. Never blocks. */
void otlp_run(struct otlp_exporter *exporter, uint64_t now_ms);
/* Milliseconds until otlp_run has work to do; -1: only when the descriptor is readable. */
long otlp_timeout_ms(const struct otlp_exporter *exporter, uint64_t now_ms);

struct otlp_stats {
	uint64_t spans_exported;
	uint64_t spans_dropped; /* queue full, or their batch failed */
	uint64_t exports_succeeded;
	uint64_t exports_failed;
	size_t spans_queued;
};
void otlp_stats(const struct otlp_exporter *exporter, struct otlp_stats *stats);

#endif
