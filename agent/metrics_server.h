/* Prometheus metrics over HTTP at --metrics-addr: exact datapath counters from the maps, map
 * occupancy, the API watches' health, the flow reader's and the conntrack sweep's work, HTTP
 * request metrics and the OTLP exporter's. */
#ifndef WEIR_AGENT_METRICS_SERVER_H
#define WEIR_AGENT_METRICS_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "ct_sweep.h"
#include "flow_log.h"
#include "http_metrics.h"
#include "kube_client.h"
#include "otlp.h"
#include "reconciler.h"
#include "text_buffer.h"

/* What a scrape reads. Every pointer but bpffs and state_dir may be NULL: its families are
 * then left out. */
struct metrics_sources {
	const char *bpffs;
	const char *state_dir;
	bool ready;
	const struct kube_client *kube;
	const struct flow_log *flow_log;
	const struct ct_sweep *ct_sweep;
	const struct http_metrics *http;
	const struct otlp_exporter *otlp;
	unsigned long failed_passes; /* reconcile passes that could not write everything */
	size_t ipcache_refused;	     /* entries the last pass could not write (a full ipcache) */
};

/* Listens on "HOST:PORT". Returns the fd or -errno with errbuf. */
int metrics_server_listen(const char *address, char *errbuf, size_t errlen);
/* Accepts and answers one request: /metrics, /healthz, /readyz. */
void metrics_server_serve_one(int listen_fd, const struct metrics_sources *sources);
/* The exposition, every family grouped under its HELP and TYPE. */
void metrics_render(const struct metrics_sources *sources, struct text_buffer *body);

#endif
