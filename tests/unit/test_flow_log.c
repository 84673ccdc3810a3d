/* The flow reader's explanations of crafted ring buffer records, without a kernel: the three
 * record layouts told apart by type, short records skipped and counted, HTTP exchanges and flow
 * ends as JSON lines on the sink, and HTTP observers fed. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>

#include <cJSON.h>

#include "flow_log.h"
#include "test.h"
#include "unit.h"

struct captured {
	char *lines[8];
	int count;
	struct http_exchange exchange; /* the last one observed */
	char method[16], path[256], source_workload[64];
	int observed;
};

static void capture_line(void *context, const char *json_line)
{
	struct captured *captured = context;

	if (captured->count < 8)
		captured->lines[captured->count++] = strdup(json_line);
}

static void capture_exchange(void *context, const struct http_exchange *exchange)
{
	struct captured *captured = context;

	captured->exchange = *exchange;
	snprintf(captured->method, sizeof(captured->method), "%s", exchange->method);
	snprintf(captured->path, sizeof(captured->path), "%s", exchange->path);
	snprintf(captured->source_workload, sizeof(captured->source_workload), "%s",
		 exchange->source_workload);
	captured->observed++;
}

static void captured_free(struct captured *captured)
{
	for (int i = 0; i < captured->count; i++)
		free(captured->lines[i]);
}

static struct flow_log *reader(struct captured *captured)
{
	struct flow_log *flow_log = flow_log_new_detached(NULL, NULL);

	memset(captured, 0, sizeof(*captured));
	if (flow_log) {
		flow_log_set_sink(flow_log, capture_line, captured);
		flow_log_add_http_observer(flow_log, capture_exchange, captured);
	}
	return flow_log;
}

static struct weir_http_event http_event(void)
{
	struct weir_http_event event;
	const char path[] = "/api/items?id=7";
	const char host[] = "shop.example:8080";

	memset(&event, 0, sizeof(event));
	event.timestamp_ns = 5000000000ull;
	event.type = WEIR_EVENT_HTTP;
	event.outcome = WEIR_HTTP_ANSWERED;
	event.protocol = IPPROTO_TCP;
	event.client = htonl(0x0a000105);
	event.server = htonl(0x0a000106);
	event.client_port = htons(40000);
	event.server_port = htons(8080);
	event.status = 404;
	event.direction = WEIR_DIRECTION_INGRESS;
	event.endpoint_id = 6;
	event.latency_ns = 1500000;
	event.request.method = WEIR_HTTP_METHOD_GET;
	event.request.path_length = sizeof(path) - 1;
	memcpy(event.request.path, path, sizeof(path) - 1);
	event.request.host_length = sizeof(host) - 1;
	memcpy(event.request.host, host, sizeof(host) - 1);
	return event;
}

static void http_event_becomes_a_json_line_and_an_exchange(void)
{
	struct captured captured;
	struct flow_log *flow_log = reader(&captured);
	struct weir_http_event event = http_event();
	cJSON *line;

	ASSERT_TRUE(flow_log, "reader");
	flow_log_handle_record(flow_log, &event, sizeof(event));
	ASSERT_EQ(captured.count, 1, "lines");
	line = cJSON_Parse(captured.lines[0]);
	ASSERT_TRUE(line, "line is JSON");
	ASSERT_STR_EQ(object_string(line, "type"), "http", "type");
	ASSERT_STR_EQ(object_string(line, "outcome"), "answered", "outcome");
	ASSERT_STR_EQ(object_string(line, "http.method"), "GET", "method");
	ASSERT_STR_EQ(object_string(line, "http.path"), "/api/items?id=7", "path");
	ASSERT_STR_EQ(object_string(line, "http.host"), "shop.example:8080", "host");
	ASSERT_EQ(object_child(line, "http.status")->valuedouble, 404, "status");
	ASSERT_EQ(object_child(line, "http.latencyNs")->valuedouble, 1500000, "latency");
	ASSERT_STR_EQ(object_string(line, "source.ip"), "10.0.1.5", "client ip");
	ASSERT_STR_EQ(object_string(line, "source.name"), "world", "client without a pod");
	ASSERT_EQ(object_child(line, "destination.port")->valuedouble, 8080, "server port");
	ASSERT_STR_EQ(object_string(line, "direction"), "ingress", "direction");
	ASSERT_TRUE(!object_child(line, "reason"), "no reason when answered");
	cJSON_Delete(line);
	ASSERT_EQ(captured.observed, 1, "observer called");
	ASSERT_STR_EQ(captured.method, "GET", "observed method");
	ASSERT_STR_EQ(captured.path, "/api/items?id=7", "observed path");
	ASSERT_EQ(captured.exchange.status, 404, "observed status");
	ASSERT_EQ(captured.exchange.latency_ns, 1500000, "observed latency");
	ASSERT_EQ(captured.exchange.end_unix_ns - captured.exchange.start_unix_ns, 1500000,
		  "span covers the latency");
	ASSERT_STR_EQ(captured.source_workload, "world", "workload of a non-pod");
	captured_free(&captured);
	flow_log_close(flow_log);
}

static void refused_request_names_its_reason_and_unprintable_bytes_are_encoded(void)
{
	struct captured captured;
	struct flow_log *flow_log = reader(&captured);
	struct weir_http_event event = http_event();
	cJSON *line;

	ASSERT_TRUE(flow_log, "reader");
	event.outcome = WEIR_HTTP_REFUSED;
	event.reason = WEIR_DROP_HTTP_DENIED;
	event.status = 403;
	event.latency_ns = 0;
	memcpy(event.request.path, "/a b\n\xff", 6);
	event.request.path_length = 6;
	event.request.flags = WEIR_HTTP_FLAG_PATH_TRUNCATED;
	flow_log_handle_record(flow_log, &event, sizeof(event));
	ASSERT_EQ(captured.count, 1, "lines");
	line = cJSON_Parse(captured.lines[0]);
	ASSERT_TRUE(line, "line is JSON");
	ASSERT_STR_EQ(object_string(line, "outcome"), "refused", "outcome");
	ASSERT_STR_EQ(object_string(line, "verdict"), "dropped", "verdict");
	ASSERT_STR_EQ(object_string(line, "reason"), "http_denied", "reason");
	ASSERT_STR_EQ(object_string(line, "http.path"), "/a%20b%0A%FF", "path percent-encoded");
	ASSERT_TRUE(cJSON_IsTrue(object_child(line, "http.pathTruncated")), "truncation flagged");
	ASSERT_CONTAINS(object_string(line, "policy"), "refused by HTTP rule set", "policy");
	cJSON_Delete(line);
	ASSERT_STR_EQ(captured.exchange.reason ? "set" : "unset", "set", "observed reason");
	captured_free(&captured);
	flow_log_close(flow_log);
}

static void short_and_unknown_records_are_skipped_and_counted(void)
{
	struct captured captured;
	struct flow_log *flow_log = reader(&captured);
	struct weir_http_event event = http_event();
	struct weir_flow_end_event end = { .type = WEIR_EVENT_FLOW_END };
	struct weir_event unknown = { .type = 42 };
	struct flow_log_stats stats;

	ASSERT_TRUE(flow_log, "reader");
	/* An HTTP type on a record only as long as the old layout must not be read past. */
	flow_log_handle_record(flow_log, &event, sizeof(struct weir_event));
	flow_log_handle_record(flow_log, &end, sizeof(end) - 1);
	flow_log_handle_record(flow_log, &event, 3);
	flow_log_handle_record(flow_log, &unknown, sizeof(unknown));
	flow_log_stats(flow_log, &stats);
	ASSERT_EQ(captured.count, 0, "no line for a broken record");
	ASSERT_EQ(captured.observed, 0, "no exchange for a broken record");
	ASSERT_EQ(stats.malformed, 3, "malformed records");
	ASSERT_EQ(stats.records[0], 1, "unknown type");
	ASSERT_EQ(stats.records[WEIR_EVENT_HTTP], 0, "no HTTP record counted");
	flow_log_close(flow_log);
}

static void flow_end_reports_both_directions(void)
{
	struct captured captured;
	struct flow_log *flow_log = reader(&captured);
	struct weir_flow_end_event end = {
		.timestamp_ns = 7000000000ull,
		.type = WEIR_EVENT_FLOW_END,
		.cause = WEIR_FLOW_END_FIN,
		.protocol = IPPROTO_TCP,
		.source = htonl(0x0a000105),
		.destination = htonl(0x0a000106),
		.source_port = htons(40000),
		.destination_port = htons(80),
		.duration_ns = 2500000000ull,
		.forward_packets = 6,
		.forward_bytes = 600,
		.reply_packets = 5,
		.reply_bytes = 4000,
	};
	cJSON *line;

	ASSERT_TRUE(flow_log, "reader");
	flow_log_report_flow_end(flow_log, &end);
	ASSERT_EQ(captured.count, 1, "lines");
	line = cJSON_Parse(captured.lines[0]);
	ASSERT_TRUE(line, "line is JSON");
	ASSERT_STR_EQ(object_string(line, "type"), "flow_end", "type");
	ASSERT_STR_EQ(object_string(line, "cause"), "fin", "cause");
	ASSERT_STR_EQ(object_string(line, "protocol"), "TCP", "protocol");
	ASSERT_EQ(object_child(line, "forward.packets")->valuedouble, 6, "forward packets");
	ASSERT_EQ(object_child(line, "forward.bytes")->valuedouble, 600, "forward bytes");
	ASSERT_EQ(object_child(line, "reply.packets")->valuedouble, 5, "reply packets");
	ASSERT_EQ(object_child(line, "reply.bytes")->valuedouble, 4000, "reply bytes");
	ASSERT_EQ(object_child(line, "durationNs")->valuedouble, 2500000000.0, "duration");
	ASSERT_EQ(object_child(line, "source.port")->valuedouble, 40000, "source port");
	ASSERT_STR_EQ(object_string(line, "policy"), "no policy selects it", "policy");
	cJSON_Delete(line);
	captured_free(&captured);
	flow_log_close(flow_log);
}

static void drop_lines_keep_their_field_names(void)
{
	struct captured captured;
	struct flow_log *flow_log = reader(&captured);
	struct weir_event drop = {
		.type = WEIR_EVENT_DROP,
		.reason = WEIR_DROP_POLICY_DENIED_INGRESS,
		.direction = WEIR_DIRECTION_INGRESS,
		.protocol = IPPROTO_UDP,
		.source_port = htons(5000),
		.destination_port = htons(53),
		.length = 80,
		.rule_id = 9,
	};
	static const char *const fields[] = { "time",	   "type",   "verdict", "reason",
					      "direction", "protocol", "source", "destination",
					      "policy",    "ruleId", "length" };
	cJSON *line;

	ASSERT_TRUE(flow_log, "reader");
	flow_log_handle_record(flow_log, &drop, sizeof(drop));
	ASSERT_EQ(captured.count, 1, "lines");
	line = cJSON_Parse(captured.lines[0]);
	ASSERT_TRUE(line, "line is JSON");
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		if (!cJSON_GetObjectItemCaseSensitive(line, fields[i])) {
			TEST_FAIL("drop line lacks \"%s\": %s", fields[i], captured.lines[0]);
			break;
		}
	}
	ASSERT_STR_EQ(object_string(line, "type"), "drop", "type");
	ASSERT_STR_EQ(object_string(line, "reason"), "policy_denied_ingress", "reason");
	cJSON_Delete(line);
	captured_free(&captured);
	flow_log_close(flow_log);
}

const struct test_case flow_log_tests[] = {
	{ "http_event_becomes_a_json_line_and_an_exchange",
	  http_event_becomes_a_json_line_and_an_exchange },
	{ "refused_request_names_its_reason_and_unprintable_bytes_are_encoded",
	  refused_request_names_its_reason_and_unprintable_bytes_are_encoded },
	{ "short_and_unknown_records_are_skipped_and_counted",
	  short_and_unknown_records_are_skipped_and_counted },
	{ "flow_end_reports_both_directions", flow_end_reports_both_directions },
	{ "drop_lines_keep_their_field_names", drop_lines_keep_their_field_names },
};
const size_t flow_log_tests_count = sizeof(flow_log_tests) / sizeof(flow_log_tests[0]);
