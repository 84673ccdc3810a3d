/* The flow reader: drains the datapath's ring buffer and explains every event in words: who
 * talked to whom (namespace/pod, host, world), the verdict, the drop reason's name and the
 * policy responsible. JSON lines go to --flow-log; drops also reach the agent's log. */
#ifndef WEIR_AGENT_FLOW_LOG_H
#define WEIR_AGENT_FLOW_LOG_H

#include <stddef.h>
#include <stdint.h>

#include "reconciler.h"

struct flow_log;

/* destination: a file path, "-" for stdout, or NULL for the agent log only. */
struct flow_log *flow_log_open(const char *bpffs, const char *destination,
			       const struct reconciler *reconciler, char *errbuf, size_t errlen);
void flow_log_close(struct flow_log *flow_log);
/* A descriptor that becomes readable when events wait. */
int flow_log_fd(const struct flow_log *flow_log);
/* Reads every waiting event; every second also logs how many the datapath suppressed. */
void flow_log_drain(struct flow_log *flow_log, uint64_t now_ms);

#endif
