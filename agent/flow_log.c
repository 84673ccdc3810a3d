/* Flow events are written by the datapath with numbers only (addresses, identities, rule ids);
 * here they get their names from the reconciler's view. The reader never blocks the datapath:
 * events it cannot keep up with are dropped by the ring and counted there.
 *
 * Records come in three layouts, told apart by the type byte after the timestamp: every
 * record's size is checked against its type's struct before it is read. */
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

#include "datapath.h"
#include "log.h"
#include "workload.h"

#define NAME_BYTES 300

struct http_observer {
	void (*observe)(void *context, const struct http_exchange *exchange);
	void *context;
};

struct flow_log {
	const struct reconciler *reconciler;
	struct object_store *store;
	struct ring_buffer *ring;
	int events_fd;
	FILE *output;
	bool own_output;
	void (*sink)(void *context, const char *json_line);
	void *sink_context;
	struct http_observer observers[FLOW_LOG_MAX_HTTP_OBSERVERS];
	size_t observer_count;
	struct datapath datapath;
	int64_t realtime_offset_ns; /* CLOCK_REALTIME - CLOCK_MONOTONIC */
	uint64_t next_report_ms;
	uint64_t suppressed_reported, lost_reported;
	/* Text lines in the agent log are rate-limited (the JSON flow log has every record). */
	uint64_t text_window_ms;
	unsigned text_lines_in_window;
	unsigned long long text_lines_suppressed;
	struct flow_log_stats stats;
};

/* Both ends of a flow, in words. */
struct peer_names {
	char name[NAME_BYTES];
	char workload[NAME_BYTES];
	char ip[INET_ADDRSTRLEN];
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

static const char *drop_reason_name(uint8_t reason)
{
	return reason < WEIR_DROP_REASON_MAX && weir_drop_reason_names[reason]
		       ? weir_drop_reason_names[reason]
		       : "unknown";
}

#define TEXT_LINES_PER_SECOND 50

/* Whether one more flow line may go to the agent log in this second. */
static bool text_line_allowed(struct flow_log *flow_log)
{
	struct timespec now;
	uint64_t now_ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	now_ms = (uint64_t)now.tv_sec * 1000 + (uint64_t)now.tv_nsec / 1000000;
	if (now_ms - flow_log->text_window_ms >= 1000) {
		flow_log->text_window_ms = now_ms;
		flow_log->text_lines_in_window = 0;
	}
	if (flow_log->text_lines_in_window >= TEXT_LINES_PER_SECOND) {
		flow_log->text_lines_suppressed++;
		return false;
	}
	flow_log->text_lines_in_window++;
	return true;
}

static void describe_peer(const struct flow_log *flow_log, uint32_t address_network,
			  uint32_t identity, char *out, size_t size)
{
	const char *pod = flow_log->reconciler ? reconciler_pod_of_address(flow_log->reconciler,
									   ntohl(address_network))
					       : NULL;

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

/* The identity the datapath gives an address (the events of HTTP exchanges and flow ends do
 * not carry one); 0 when the ipcache cannot be read. */
static uint32_t identity_of(const struct flow_log *flow_log, uint32_t address_network)
{
	struct weir_ipcache_key key = { .prefix_length = 32, .ipv4 = address_network };
	struct weir_ipcache_entry entry;

	if (flow_log->datapath.ipcache_fd < 0 ||
	    bpf_map_lookup_elem(flow_log->datapath.ipcache_fd, &key, &entry) < 0)
		return 0;
	return entry.identity;
}

/* Name, workload and address of one end, for records that carry no identity. */
static void name_peer(struct flow_log *flow_log, uint32_t address_network,
		      struct peer_names *peer)
{
	describe_peer(flow_log, address_network, identity_of(flow_log, address_network),
		      peer->name, sizeof(peer->name));
	if (strchr(peer->name, '/'))
		workload_of_pod_name(flow_log->store, peer->name, peer->workload,
				     sizeof(peer->workload));
	else
		snprintf(peer->workload, sizeof(peer->workload), "%s", peer->name);
	inet_ntop(AF_INET, &address_network, peer->ip, sizeof(peer->ip));
}

/* "policy ns/name" -> "ns/name"; other rule names as they are; NULL for unknown rules. */
static const char *policy_of_rule(const struct flow_log *flow_log, uint32_t rule_id)
{
	const char *rule = rule_id && flow_log->reconciler
				   ? reconciler_rule_name(flow_log->reconciler, rule_id)
				   : NULL;

	if (rule && strncmp(rule, "policy ", 7) == 0)
		return rule + 7;
	return rule;
}

/* Why a connection was let through: endpoint names the side policy was asked about, NULL
 * when unknown. */
static void describe_allowed(const struct flow_log *flow_log, uint32_t rule_id,
			     const char *endpoint, char *out, size_t size)
{
	const char *policy = policy_of_rule(flow_log, rule_id);

	if (policy)
		snprintf(out, size, "allowed by %s", policy);
	else if (rule_id)
		snprintf(out, size, "rule %u", rule_id);
	else if (endpoint)
		snprintf(out, size, "no policy selects %s in this direction", endpoint);
	else
		snprintf(out, size, "no policy selects it");
}

/* The policy responsible for a drop, in words. */
static void describe_drop(const struct flow_log *flow_log, uint8_t reason, uint32_t rule_id,
			  const char *endpoint, char *out, size_t size)
{
	const char *rule = rule_id && flow_log->reconciler
				   ? reconciler_rule_name(flow_log->reconciler, rule_id)
				   : NULL;

	if (reason == WEIR_DROP_POLICY_DENIED_INGRESS || reason == WEIR_DROP_POLICY_DENIED_EGRESS ||
	    reason == WEIR_DROP_POLICY_REVOKED) {
		if (rule && strncmp(rule, "isolated by ", 12) == 0)
			snprintf(out, size, "no rule of the policies selecting %s allows it: %s",
				 endpoint, rule + 12);
		else if (rule && strncmp(rule, "policy ", 7) == 0)
			snprintf(out, size, "denied by %s", rule + 7);
		else
			snprintf(out, size, "rule %u", rule_id);
		return;
	}
	if (reason >= WEIR_DROP_HTTP_DENIED && reason <= WEIR_DROP_HTTP_UNTRACKABLE_BODY) {
		const char *policy = policy_of_rule(flow_log, rule_id);
		if (policy)
			snprintf(out, size, "refused by the HTTP rules of %s", policy);
		else
			snprintf(out, size, "refused by HTTP rule set %u", rule_id);
		return;
	}
	snprintf(out, size, "-");
}

/* ISO 8601 UTC with microseconds, from a bpf_ktime_get_ns() timestamp. */
static void format_time(const struct flow_log *flow_log, uint64_t timestamp_ns, char *out,
			size_t size)
{
	int64_t realtime = (int64_t)timestamp_ns + flow_log->realtime_offset_ns;
	time_t seconds = (time_t)(realtime / 1000000000);
	struct tm utc;

	gmtime_r(&seconds, &utc);
	strftime(out, size, "%Y-%m-%dT%H:%M:%S", &utc);
	snprintf(out + strlen(out), size - strlen(out), ".%06ldZ",
		 (long)(realtime % 1000000000) / 1000);
}

static cJSON *add_end(cJSON *line, const char *key, const char *name, const char *ip,
		      uint16_t port_network)
{
	cJSON *end = cJSON_AddObjectToObject(line, key);

	cJSON_AddStringToObject(end, "name", name);
	cJSON_AddStringToObject(end, "ip", ip);
	cJSON_AddNumberToObject(end, "port", ntohs(port_network));
	return end;
}

/* Writes the line to --flow-log and hands it to the sink; consumes line. */
static void emit_line(struct flow_log *flow_log, cJSON *line)
{
	char *text = NULL;

	if (flow_log->output || flow_log->sink)
		text = cJSON_PrintUnformatted(line);
	if (text && flow_log->output) {
		fprintf(flow_log->output, "%s\n", text);
		fflush(flow_log->output);
	}
	if (text && flow_log->sink)
		flow_log->sink(flow_log->sink_context, text);
	cJSON_free(text);
	cJSON_Delete(line);
}

/* DROP, NEW_FLOW and REVOKED: struct weir_event. */
static void explain_event(struct flow_log *flow_log, const struct weir_event *event)
{
	char source[NAME_BYTES], destination[NAME_BYTES], policy[700], source_ip[16],
		destination_ip[16], when[40];
	const char *endpoint, *verdict;
	bool egress = event->direction == WEIR_DIRECTION_EGRESS;

	/* The peer identity is the one the policy judged; the endpoint side is a local pod. */
	describe_peer(flow_log, event->source, egress ? 0 : event->peer_identity, source,
		      sizeof(source));
	describe_peer(flow_log, event->destination, egress ? event->peer_identity : 0,
		      destination, sizeof(destination));
	endpoint = egress ? source : destination;
	if (event->type == WEIR_EVENT_NEW_FLOW)
		describe_allowed(flow_log, event->rule_id, endpoint, policy, sizeof(policy));
	else
		describe_drop(flow_log, event->reason, event->rule_id, endpoint, policy,
			      sizeof(policy));
	inet_ntop(AF_INET, &event->source, source_ip, sizeof(source_ip));
	inet_ntop(AF_INET, &event->destination, destination_ip, sizeof(destination_ip));
	format_time(flow_log, event->timestamp_ns, when, sizeof(when));
	verdict = event->type == WEIR_EVENT_NEW_FLOW ? "allowed" : "dropped";

	if (flow_log->output || flow_log->sink) {
		cJSON *line = cJSON_CreateObject();

		cJSON_AddStringToObject(line, "time", when);
		cJSON_AddStringToObject(line, "type",
					event->type == WEIR_EVENT_NEW_FLOW ? "flow"
					: event->type == WEIR_EVENT_REVOKED ? "revoked"
									    : "drop");
		cJSON_AddStringToObject(line, "verdict", verdict);
		if (event->type != WEIR_EVENT_NEW_FLOW)
			cJSON_AddStringToObject(line, "reason", drop_reason_name(event->reason));
		cJSON_AddStringToObject(line, "direction", egress ? "egress" : "ingress");
		cJSON_AddStringToObject(line, "protocol", protocol_name(event->protocol));
		add_end(line, "source", source, source_ip, event->source_port);
		add_end(line, "destination", destination, destination_ip, event->destination_port);
		cJSON_AddStringToObject(line, "policy", policy);
		cJSON_AddNumberToObject(line, "ruleId", event->rule_id);
		cJSON_AddNumberToObject(line, "length", event->length);
		emit_line(flow_log, line);
	}
	if (event->type != WEIR_EVENT_NEW_FLOW && text_line_allowed(flow_log))
		log_info("%s %s %s:%u -> %s %s:%u %s: %s (%s)", verdict, protocol_name(event->protocol),
			 source, ntohs(event->source_port), destination, destination_ip,
			 ntohs(event->destination_port), drop_reason_name(event->reason), policy,
			 egress ? "egress" : "ingress");
}

/* The datapath copies request bytes as they came: anything not printable ASCII is
 * percent-encoded, so lines stay valid UTF-8 and a log line stays one line. */
static void printable_copy(const char *bytes, size_t length, char *out, size_t size)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t written = 0;

	for (size_t i = 0; i < length && written + 4 <= size; i++) {
		unsigned char c = (unsigned char)bytes[i];
		if (c > 0x20 && c < 0x7f && c != '%') {
			out[written++] = (char)c;
		} else {
			out[written++] = '%';
			out[written++] = hex[c >> 4];
			out[written++] = hex[c & 15];
		}
	}
	out[written] = '\0';
}

static const char *method_name(uint8_t method)
{
	return method < WEIR_HTTP_METHOD_MAX && weir_http_method_names[method]
		       ? weir_http_method_names[method]
		       : "";
}

static const char *outcome_name(uint8_t outcome)
{
	return outcome < WEIR_HTTP_OUTCOME_MAX && weir_http_outcome_names[outcome]
		       ? weir_http_outcome_names[outcome]
		       : "unknown";
}

static void explain_http(struct flow_log *flow_log, const struct weir_http_event *event)
{
	const struct weir_http_request *request = &event->request;
	struct peer_names client, server;
	char path[3 * WEIR_HTTP_PATH_BYTES + 1], host[3 * WEIR_HTTP_HOST_BYTES + 1], policy[700],
		when[40];
	size_t path_length = request->path_length < WEIR_HTTP_PATH_BYTES ? request->path_length
									  : WEIR_HTTP_PATH_BYTES;
	size_t host_length = request->host_length < WEIR_HTTP_HOST_BYTES ? request->host_length
									  : WEIR_HTTP_HOST_BYTES;
	bool refused = event->outcome == WEIR_HTTP_REFUSED;
	bool ingress = event->direction == WEIR_DIRECTION_INGRESS;
	uint64_t latency = event->outcome == WEIR_HTTP_ANSWERED ? event->latency_ns : 0;
	struct http_exchange exchange;

	name_peer(flow_log, event->client, &client);
	name_peer(flow_log, event->server, &server);
	printable_copy(request->path, path_length, path, sizeof(path));
	printable_copy(request->host, host_length, host, sizeof(host));
	if (refused)
		describe_drop(flow_log, event->reason, event->rule_id,
			      ingress ? server.name : client.name, policy, sizeof(policy));
	else
		describe_allowed(flow_log, event->rule_id, ingress ? server.name : client.name,
				 policy, sizeof(policy));
	format_time(flow_log, event->timestamp_ns, when, sizeof(when));

	if (flow_log->output || flow_log->sink) {
		cJSON *line = cJSON_CreateObject();
		cJSON *http;

		cJSON_AddStringToObject(line, "time", when);
		cJSON_AddStringToObject(line, "type", "http");
		cJSON_AddStringToObject(line, "verdict", refused ? "dropped" : "allowed");
		cJSON_AddStringToObject(line, "outcome", outcome_name(event->outcome));
		if (refused)
			cJSON_AddStringToObject(line, "reason", drop_reason_name(event->reason));
		cJSON_AddStringToObject(line, "direction", ingress ? "ingress" : "egress");
		cJSON_AddStringToObject(line, "protocol", protocol_name(event->protocol));
		cJSON_AddStringToObject(add_end(line, "source", client.name, client.ip,
						event->client_port),
					"workload", client.workload);
		cJSON_AddStringToObject(add_end(line, "destination", server.name, server.ip,
						event->server_port),
					"workload", server.workload);
		http = cJSON_AddObjectToObject(line, "http");
		cJSON_AddStringToObject(http, "method", method_name(request->method));
		cJSON_AddStringToObject(http, "path", path);
		if (request->flags & WEIR_HTTP_FLAG_PATH_TRUNCATED)
			cJSON_AddTrueToObject(http, "pathTruncated");
		cJSON_AddStringToObject(http, "host", host);
		if (request->flags & WEIR_HTTP_FLAG_HOST_TRUNCATED)
			cJSON_AddTrueToObject(http, "hostTruncated");
		cJSON_AddNumberToObject(http, "status", event->status);
		cJSON_AddNumberToObject(http, "latencyNs", (double)latency);
		cJSON_AddStringToObject(line, "policy", policy);
		cJSON_AddNumberToObject(line, "ruleId", event->rule_id);
		emit_line(flow_log, line);
	}
	if (event->outcome != WEIR_HTTP_UNPARSED && !text_line_allowed(flow_log))
		; /* counted; the JSON flow log has it */
	else if (event->outcome == WEIR_HTTP_ANSWERED)
		log_info("http %s %s -> %s %s%s: %u in %.3f ms (%s)", method_name(request->method),
			 client.name, server.name, host, path, event->status, latency / 1e6, policy);
	else if (refused)
		log_info("http %s %s -> %s %s%s refused: %s: %s", method_name(request->method),
			 client.name, server.name, host, path, drop_reason_name(event->reason),
			 policy);
	else /* every connection of another protocol has one: not worth the agent log */
		log_debug("http %s -> %s %s:%u: client payload is not an HTTP/1 request weir can "
			  "read",
			  client.name, server.name, server.ip, ntohs(event->server_port));

	memset(&exchange, 0, sizeof(exchange));
	exchange.end_unix_ns = (int64_t)event->timestamp_ns + flow_log->realtime_offset_ns;
	exchange.start_unix_ns = exchange.end_unix_ns - (int64_t)latency;
	exchange.latency_ns = latency;
	exchange.outcome = event->outcome;
	exchange.method = method_name(request->method);
	exchange.path = path;
	exchange.host = host;
	exchange.path_truncated = request->flags & WEIR_HTTP_FLAG_PATH_TRUNCATED;
	exchange.status = event->status;
	exchange.reason = refused ? drop_reason_name(event->reason) : NULL;
	exchange.source = client.name;
	exchange.destination = server.name;
	exchange.source_workload = client.workload;
	exchange.destination_workload = server.workload;
	exchange.source_ip = client.ip;
	exchange.destination_ip = server.ip;
	exchange.source_port = ntohs(event->client_port);
	exchange.destination_port = ntohs(event->server_port);
	exchange.policy = policy;
	for (size_t i = 0; i < flow_log->observer_count; i++)
		flow_log->observers[i].observe(flow_log->observers[i].context, &exchange);
}

static const char *flow_end_cause_name(uint8_t cause)
{
	return cause < WEIR_FLOW_END_CAUSE_MAX && weir_flow_end_cause_names[cause]
		       ? weir_flow_end_cause_names[cause]
		       : "unknown";
}

static void explain_flow_end(struct flow_log *flow_log, const struct weir_flow_end_event *event)
{
	struct peer_names source, destination;
	char policy[700], when[40];

	name_peer(flow_log, event->source, &source);
	name_peer(flow_log, event->destination, &destination);
	describe_allowed(flow_log, event->rule_id, NULL, policy, sizeof(policy));
	format_time(flow_log, event->timestamp_ns, when, sizeof(when));

	if (flow_log->output || flow_log->sink) {
		cJSON *line = cJSON_CreateObject();
		cJSON *forward, *reply;

		cJSON_AddStringToObject(line, "time", when);
		cJSON_AddStringToObject(line, "type", "flow_end");
		cJSON_AddStringToObject(line, "cause", flow_end_cause_name(event->cause));
		cJSON_AddStringToObject(line, "protocol", protocol_name(event->protocol));
		add_end(line, "source", source.name, source.ip, event->source_port);
		add_end(line, "destination", destination.name, destination.ip,
			event->destination_port);
		cJSON_AddNumberToObject(line, "durationNs", (double)event->duration_ns);
		forward = cJSON_AddObjectToObject(line, "forward");
		cJSON_AddNumberToObject(forward, "packets", (double)event->forward_packets);
		cJSON_AddNumberToObject(forward, "bytes", (double)event->forward_bytes);
		reply = cJSON_AddObjectToObject(line, "reply");
		cJSON_AddNumberToObject(reply, "packets", (double)event->reply_packets);
		cJSON_AddNumberToObject(reply, "bytes", (double)event->reply_bytes);
		cJSON_AddStringToObject(line, "policy", policy);
		cJSON_AddNumberToObject(line, "ruleId", event->rule_id);
		emit_line(flow_log, line);
	}
	if (text_line_allowed(flow_log))
		log_info("flow ended (%s) %s %s:%u -> %s %s:%u after %.3f s: %llu packets, %llu bytes "
		 "forward; %llu packets, %llu bytes back (%s)",
		 flow_end_cause_name(event->cause), protocol_name(event->protocol), source.name,
		 ntohs(event->source_port), destination.name, destination.ip,
		 ntohs(event->destination_port), event->duration_ns / 1e9,
		 (unsigned long long)event->forward_packets,
		 (unsigned long long)event->forward_bytes, (unsigned long long)event->reply_packets,
		 (unsigned long long)event->reply_bytes, policy);
}

void flow_log_handle_record(struct flow_log *flow_log, const void *data, size_t size)
{
	const struct weir_event *header = data;
	size_t needed;

	/* timestamp_ns and type open every layout. */
	if (size < offsetof(struct weir_event, type) + 1) {
		flow_log->stats.malformed++;
		return;
	}
	switch (header->type) {
	case WEIR_EVENT_DROP:
	case WEIR_EVENT_NEW_FLOW:
	case WEIR_EVENT_REVOKED: needed = sizeof(struct weir_event); break;
	case WEIR_EVENT_HTTP: needed = sizeof(struct weir_http_event); break;
	case WEIR_EVENT_FLOW_END: needed = sizeof(struct weir_flow_end_event); break;
	default: flow_log->stats.records[0]++; return;
	}
	if (size < needed) {
		flow_log->stats.malformed++;
		return;
	}
	flow_log->stats.records[header->type]++;
	if (header->type == WEIR_EVENT_HTTP)
		explain_http(flow_log, data);
	else if (header->type == WEIR_EVENT_FLOW_END)
		explain_flow_end(flow_log, data);
	else
		explain_event(flow_log, data);
}

void flow_log_report_flow_end(struct flow_log *flow_log, const struct weir_flow_end_event *event)
{
	flow_log_handle_record(flow_log, event, sizeof(*event));
}

static int on_record(void *context, void *data, size_t size)
{
	flow_log_handle_record(context, data, size);
	return 0;
}

struct flow_log *flow_log_new_detached(const struct reconciler *reconciler, FILE *output)
{
	struct flow_log *flow_log = calloc(1, sizeof(*flow_log));
	struct timespec realtime, monotonic;

	if (!flow_log)
		return NULL;
	flow_log->reconciler = reconciler;
	flow_log->events_fd = -1;
	flow_log->output = output;
	datapath_init(&flow_log->datapath);
	clock_gettime(CLOCK_REALTIME, &realtime);
	clock_gettime(CLOCK_MONOTONIC, &monotonic);
	flow_log->realtime_offset_ns =
		((int64_t)realtime.tv_sec - monotonic.tv_sec) * 1000000000 +
		(realtime.tv_nsec - monotonic.tv_nsec);
	return flow_log;
}

struct flow_log *flow_log_open(const char *bpffs, const char *destination,
			       const struct reconciler *reconciler, char *errbuf, size_t errlen)
{
	struct flow_log *flow_log = flow_log_new_detached(reconciler, NULL);
	char path[600];

	if (!flow_log) {
		snprintf(errbuf, errlen, "allocate the flow reader: out of memory");
		return NULL;
	}
	snprintf(path, sizeof(path), "%s/%s", bpffs, WEIR_MAP_EVENTS);
	flow_log->events_fd = bpf_obj_get(path);
	if (flow_log->events_fd < 0) {
		snprintf(errbuf, errlen, "open the events ring buffer %s: %s", path, strerror(errno));
		flow_log_close(flow_log);
		return NULL;
	}
	flow_log->ring = ring_buffer__new(flow_log->events_fd, on_record, flow_log, NULL);
	if (!flow_log->ring) {
		snprintf(errbuf, errlen, "read the events ring buffer %s: %s", path, strerror(errno));
		flow_log_close(flow_log);
		return NULL;
	}
	if (destination && strcmp(destination, "-") == 0) {
		flow_log->output = stdout;
	} else if (destination) {
		flow_log->output = log_file_open(destination);
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
	return flow_log->ring ? ring_buffer__epoll_fd(flow_log->ring) : -1;
}

void flow_log_set_store(struct flow_log *flow_log, struct object_store *store)
{
	flow_log->store = store;
}

void flow_log_set_sink(struct flow_log *flow_log,
		       void (*sink)(void *context, const char *json_line), void *context)
{
	flow_log->sink = sink;
	flow_log->sink_context = context;
}

int flow_log_add_http_observer(struct flow_log *flow_log,
			       void (*observe)(void *context, const struct http_exchange *exchange),
			       void *context)
{
	if (flow_log->observer_count == FLOW_LOG_MAX_HTTP_OBSERVERS)
		return -1;
	flow_log->observers[flow_log->observer_count].observe = observe;
	flow_log->observers[flow_log->observer_count].context = context;
	flow_log->observer_count++;
	return 0;
}

void flow_log_stats(const struct flow_log *flow_log, struct flow_log_stats *stats)
{
	*stats = flow_log->stats;
}

void flow_log_drain(struct flow_log *flow_log, uint64_t now_ms)
{
	uint64_t suppressed = 0, lost = 0;

	if (flow_log->ring)
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
	if (flow_log->text_lines_suppressed) {
		log_warn("flow log: %llu lines not repeated in this log in the last interval (over %d "
			 "a second; the flow log and the counters have them all)",
			 flow_log->text_lines_suppressed, TEXT_LINES_PER_SECOND);
		flow_log->text_lines_suppressed = 0;
	}
}
