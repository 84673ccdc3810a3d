/* HTTP request metrics fed from the datapath's HTTP events: requests by source workload,
 * destination workload, method and status class, and a latency histogram over the same labels,
 * in Prometheus text format. Refused requests count with their 403 (or "refused" when the
 * datapath sent no status); payloads that were not a readable request are not requests and are
 * counted by the datapath's http_unparsed counter instead. */
#ifndef WEIR_AGENT_HTTP_METRICS_H
#define WEIR_AGENT_HTTP_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "flow_log.h"
#include "text_buffer.h"

/* Series beyond this many share one overflow series (labels "other"), so a scan over many
 * workloads cannot grow the agent without bound; the totals stay exact. */
#define HTTP_METRICS_MAX_SERIES 4096
#define HTTP_METRICS_BUCKETS 14

extern const double http_metrics_bucket_bounds[HTTP_METRICS_BUCKETS]; /* seconds, +Inf after */

struct http_metrics;

struct http_metrics *http_metrics_new(void);
void http_metrics_free(struct http_metrics *metrics);

/* Counts one exchange; a flow_log HTTP observer (context: the http_metrics). */
void http_metrics_observe(void *context, const struct http_exchange *exchange);

/* "2xx".."5xx" for a status of 100-599; else "refused" or "none" by outcome. */
const char *http_status_class(unsigned status, uint8_t outcome, char *out, size_t size);

/* Appends the families weir_http_requests_total and weir_http_request_duration_seconds. */
void http_metrics_render(const struct http_metrics *metrics, struct text_buffer *out);

#endif
