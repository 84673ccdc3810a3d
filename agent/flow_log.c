/* Flow events are written by the datapath with numbers only (addresses, identities, rule ids);
 * here they get their names from the reconciler's view. The reader never blocks the datapath:
 * events it cannot keep up with are dropped by the ring and counted there. */
#include "flow_log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cJSON.h>

#include "abi.h"
#include "datapath.h"
#include "log.h"

struct flow_log {
	const struct reconciler *reconciler;
	struct ring_buffer *ring;
	int events_fd;
	FILE *output;
	bool own_output;
	struct datapath datapath;
	int64_t realtime_offset_ns; /* CLOCK_REALTIME - CLOCK_MONOTONIC */
	uint64_t next_report_ms;
	uint64_t suppressed_reported, lost_reported;
};

static const char *protocol_name(uint8_t protocol)
{
	switch (protocol) {
	case IPPROTO_TCP: return "TCP";
	case IPPROTO_UDP: return "UDP";
	case IPPROTO_SCTP: return "SCTP";
	case IPPROTO_ICMP: return "ICMP";
	default: return "other";
	}
}

static void describe_peer(const struct flow_log *flow_log, uint32_t address_network,
			  uint32_t identity, char *out, size_t size)
{
	const char *pod = reconciler_pod_of_address(flow_log->reconciler, ntohl(address_network));

	if (pod)
		snprintf(out, size, "%s", pod);
	else if (identity == WEIR_IDENTITY_HOST)
		snprintf(out, size, "host");
	else if (identity == WEIR_IDENTITY_REMOTE_NODE)
		snprintf(out, size, "remote-node");
	else if (identity >= WEIR_IDENTITY_FIRST_CIDR)
		snprintf(out, size, "cidr (identity %u)", identity);
	else if (identity == WEIR_IDENTITY_WORLD || identity == 0)
		snprintf(out, size, "world");
	else
		snprintf(out, size, "identity %u", identity);
}

/* The policy responsible, in words. */
static void describe_policy(const struct flow_log *flow_log, const struct weir_event *event,
			    const char *endpoint, char *out, size_t size)
{
	const char *rule = event->rule_id ? reconciler_rule_name(flow_log->reconciler, event->rule_id)
					  : NULL;

	if (event->type == WEIR_EVENT_NEW_FLOW) {
		if (rule && strncmp(rule, "policy ", 7) == 0)
			snprintf(out, size, "allowed by %s", rule + 7);
		else
			snprintf(out, size, "no policy selects %s in this direction", endpoint);
		return;
	}
	if (event->reason == WEIR_DROP_POLICY_DENIED_INGRESS ||
	    event->reason == WEIR_DROP_POLICY_DENIED_EGRESS ||
	    event->reason == WEIR_DROP_POLICY_REVOKED) {
		if (rule && strncmp(rule, "isolated by ", 12) == 0)
			snprintf(out, size, "no rule of the policies selecting %s allows it: %s",
				 endpoint, rule + 12);
		else if (rule && strncmp(rule, "policy ", 7) == 0)
			snprintf(out, size, "denied by %s", rule + 7);
		else
			snprintf(out, size, "rule %u", event->rule_id);
		return;
	}
	snprintf(out, size, "-");
}

static int on_event(void *context, void *data, size_t size)
{
	struct flow_log *flow_log = context;
	const struct weir_event *event = data;
	char source[300], destination[300], endpoint[300], policy[700], source_ip[16],
		destination_ip[16], when[40];
	bool egress;
	time_t seconds;
	struct tm utc;
	int64_t realtime;
	const char *verdict;

	if (size < sizeof(*event))
		return 0;
	egress = event->direction == WEIR_DIRECTION_EGRESS;
	/* The peer identity is the one the policy judged; the endpoint side is a local pod. */
	describe_peer(flow_log, event->source, egress ? 0 : event->peer_identity, source,
		      sizeof(source));
	describe_peer(flow_log, event->destination, egress ? event->peer_identity : 0,
		      destination, sizeof(destination));
	snprintf(endpoint, sizeof(endpoint), "%s", egress ? source : destination);
	describe_policy(flow_log, event, endpoint, policy, sizeof(policy));
	inet_ntop(AF_INET, &event->source, source_ip, sizeof(source_ip));
	inet_ntop(AF_INET, &event->destination, destination_ip, sizeof(destination_ip));
	realtime = (int64_t)event->timestamp_ns + flow_log->realtime_offset_ns;
	seconds = (time_t)(realtime / 1000000000);
	gmtime_r(&seconds, &utc);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &utc);
	snprintf(when + strlen(when), sizeof(when) - strlen(when), ".%06ldZ",
		 (long)(realtime % 1000000000) / 1000);
	verdict = event->type == WEIR_EVENT_NEW_FLOW ? "allowed" : "dropped";

	if (flow_log->output) {
		cJSON *line = cJSON_CreateObject();
		cJSON *from = cJSON_AddObjectToObject(line, "source");
		cJSON *to = cJSON_AddObjectToObject(line, "destination");
		char *text;

		cJSON_AddStringToObject(line, "time", when);
		cJSON_AddStringToObject(line, "type",
					event->type == WEIR_EVENT_NEW_FLOW ? "flow"
					: event->type == WEIR_EVENT_REVOKED ? "revoked"
									    : "drop");
		cJSON_AddStringToObject(line, "verdict", verdict);
		if (event->type != WEIR_EVENT_NEW_FLOW)
			cJSON_AddStringToObject(line, "reason",
						event->reason < WEIR_DROP_REASON_MAX
							? weir_drop_reason_names[event->reason]
							: "unknown");
		cJSON_AddStringToObject(line, "direction", egress ? "egress" : "ingress");
		cJSON_AddStringToObject(line, "protocol", protocol_name(event->protocol));
		cJSON_AddStringToObject(from, "name", source);
		cJSON_AddStringToObject(from, "ip", source_ip);
		cJSON_AddNumberToObject(from, "port", ntohs(event->source_port));
		cJSON_AddStringToObject(to, "name", destination);
		cJSON_AddStringToObject(to, "ip", destination_ip);
		cJSON_AddNumberToObject(to, "port", ntohs(event->destination_port));
		cJSON_AddStringToObject(line, "policy", policy);
		cJSON_AddNumberToObject(line, "ruleId", event->rule_id);
		cJSON_AddNumberToObject(line, "length", event->length);
		text = cJSON_PrintUnformatted(line);
		if (text) {
			fprintf(flow_log->output, "%s\n", text);
			fflush(flow_log->output);
		}
		cJSON_free(text);
		cJSON_Delete(line);
	}
	if (event->type != WEIR_EVENT_NEW_FLOW)
		log_info("%s %s %s:%u -> %s %s:%u %s: %s (%s)", verdict, protocol_name(event->protocol),
			 source, ntohs(event->source_port), destination, destination_ip,
			 ntohs(event->destination_port),
			 event->reason < WEIR_DROP_REASON_MAX ? weir_drop_reason_names[event->reason]
							      : "unknown",
			 policy, egress ? "egress" : "ingress");
	return 0;
}

struct flow_log *flow_log_open(const char *bpffs, const char *destination,
			       const struct reconciler *reconciler, char *errbuf, size_t errlen)
{
	struct flow_log *flow_log = calloc(1, sizeof(*flow_log));
	char path[600];
	struct timespec realtime, monotonic;

	if (!flow_log) {
		snprintf(errbuf, errlen, "allocate the flow reader: out of memory");
		return NULL;
	}
	flow_log->reconciler = reconciler;
	flow_log->events_fd = -1;
	snprintf(path, sizeof(path), "%s/%s", bpffs, WEIR_MAP_EVENTS);
	flow_log->events_fd = bpf_obj_get(path);
	if (flow_log->events_fd < 0) {
		snprintf(errbuf, errlen, "open the events ring buffer %s: %s", path, strerror(errno));
		flow_log_close(flow_log);
		return NULL;
	}
	flow_log->ring = ring_buffer__new(flow_log->events_fd, on_event, flow_log, NULL);
	if (!flow_log->ring) {
		snprintf(errbuf, errlen, "read the events ring buffer %s: %s", path, strerror(errno));
		flow_log_close(flow_log);
		return NULL;
	}
	if (destination && strcmp(destination, "-") == 0) {
		flow_log->output = stdout;
	} else if (destination) {
		flow_log->output = fopen(destination, "ae");
		if (!flow_log->output) {
			snprintf(errbuf, errlen, "open --flow-log %s: %s", destination,
				 strerror(errno));
			flow_log_close(flow_log);
			return NULL;
		}
		flow_log->own_output = true;
	}
	if (datapath_open(&flow_log->datapath, bpffs, errbuf, errlen) < 0) {
		flow_log_close(flow_log);
		return NULL;
	}
	datapath_counter_read(&flow_log->datapath, WEIR_COUNTER_EVENTS_SUPPRESSED,
			      &flow_log->suppressed_reported);
	datapath_counter_read(&flow_log->datapath, WEIR_COUNTER_EVENTS_LOST,
			      &flow_log->lost_reported);
	clock_gettime(CLOCK_REALTIME, &realtime);
	clock_gettime(CLOCK_MONOTONIC, &monotonic);
	flow_log->realtime_offset_ns =
		((int64_t)realtime.tv_sec - monotonic.tv_sec) * 1000000000 +
		(realtime.tv_nsec - monotonic.tv_nsec);
	return flow_log;
}

void flow_log_close(struct flow_log *flow_log)
{
	if (!flow_log)
		return;
	ring_buffer__free(flow_log->ring);
	if (flow_log->events_fd >= 0)
		close(flow_log->events_fd);
	if (flow_log->own_output && flow_log->output)
		fclose(flow_log->output);
	datapath_close(&flow_log->datapath);
	free(flow_log);
}

int flow_log_fd(const struct flow_log *flow_log)
{
	return ring_buffer__epoll_fd(flow_log->ring);
}

void flow_log_drain(struct flow_log *flow_log, uint64_t now_ms)
{
	uint64_t suppressed = 0, lost = 0;

	ring_buffer__consume(flow_log->ring);
	if (now_ms < flow_log->next_report_ms)
		return;
	flow_log->next_report_ms = now_ms + 1000;
	datapath_counter_read(&flow_log->datapath, WEIR_COUNTER_EVENTS_SUPPRESSED, &suppressed);
	datapath_counter_read(&flow_log->datapath, WEIR_COUNTER_EVENTS_LOST, &lost);
	if (suppressed > flow_log->suppressed_reported || lost > flow_log->lost_reported)
		log_warn("flow events: %llu suppressed by the rate limit and %llu lost in the last "
			 "interval (counters stay exact)",
			 (unsigned long long)(suppressed - flow_log->suppressed_reported),
			 (unsigned long long)(lost - flow_log->lost_reported));
	flow_log->suppressed_reported = suppressed;
	flow_log->lost_reported = lost;
}
