/* Prometheus metrics over HTTP at --metrics-addr: exact datapath counters from the maps. */
#ifndef WEIR_AGENT_METRICS_SERVER_H
#define WEIR_AGENT_METRICS_SERVER_H

#include <stdbool.h>
#include <stddef.h>

/* Listens on "HOST:PORT". Returns the fd or -errno with errbuf. */
int metrics_server_listen(const char *address, char *errbuf, size_t errlen);
/* Accepts and answers one request: /metrics, /healthz, /readyz. */
void metrics_server_serve_one(int listen_fd, const char *bpffs, const char *state_dir, bool ready);

#endif
