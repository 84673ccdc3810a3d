/* OTLP/HTTP JSON spans built from HTTP exchanges: ids in hex, 64-bit numbers as strings, kind
 * SERVER, the semantic-convention attributes, one resource per destination workload; and
 * endpoint URLs checked and completed. */
#include <stdlib.h>

#include <cJSON.h>

#include "otlp.h"
#include "test.h"
#include "unit.h"

static struct http_exchange exchange(const char *destination_workload, unsigned status)
{
	struct http_exchange exchange = {
		.start_unix_ns = 1700000000000000000ll,
		.end_unix_ns = 1700000000001500000ll,
		.latency_ns = 1500000,
		.outcome = WEIR_HTTP_ANSWERED,
		.method = "GET",
		.path = "/items?page=2",
		.host = "shop.example:8080",
		.status = status,
		.source = "shop/web-1",
		.destination = "shop/db-0",
		.source_workload = "shop/web",
		.destination_workload = destination_workload,
		.source_ip = "10.0.0.1",
		.destination_ip = "10.0.0.2",
		.source_port = 40000,
		.destination_port = 8080,
		.policy = "-",
	};
	return exchange;
}

/* The value of attribute key in an OTLP attributes array, as text. */
static const char *attribute(const cJSON *attributes, const char *key)
{
	const cJSON *item;

	cJSON_ArrayForEach(item, attributes)
	{
		if (strcmp(object_string(item, "key"), key) == 0) {
			const char *text = object_string(item, "value.stringValue");
			return text ? text : object_string(item, "value.intValue");
		}
	}
	return NULL;
}

static bool is_hex(const char *text, size_t length)
{
	if (!text || strlen(text) != length)
		return false;
	for (size_t i = 0; i < length; i++) {
		if (!strchr("0123456789abcdef", text[i]))
			return false;
	}
	return true;
}

static void spans_follow_the_otlp_json_encoding(void)
{
	struct otlp_span spans[3];
	struct http_exchange first = exchange("shop/db", 200);
	struct http_exchange second = exchange("shop/cache", 503);
	struct http_exchange third = exchange("shop/db", 200);
	char *text;
	cJSON *request, *resource_spans, *span, *attributes;

	otlp_span_from_exchange(&first, &spans[0]);
	otlp_span_from_exchange(&second, &spans[1]);
	otlp_span_from_exchange(&third, &spans[2]);
	text = otlp_traces_json(spans, 3, "node-1");
	request = text ? cJSON_Parse(text) : NULL;
	free(text);
	ASSERT_TRUE(request, "the request is JSON");
	resource_spans = object_child(request, "resourceSpans");
	ASSERT_EQ(cJSON_GetArraySize(resource_spans), 2, "one resource per destination workload");
	ASSERT_STR_EQ(attribute(object_child(cJSON_GetArrayItem(resource_spans, 0),
					     "resource.attributes"),
				"service.name"),
		      "db", "service name");
	ASSERT_TRUE(!object_child(cJSON_GetArrayItem(resource_spans, 0), "_workload"),
		    "no private fields left");
	span = cJSON_GetArrayItem(
		object_child(cJSON_GetArrayItem(object_child(cJSON_GetArrayItem(resource_spans, 0),
							     "scopeSpans"),
						0),
			     "spans"),
		1);
	ASSERT_TRUE(span, "the second db span sits with the first");
	ASSERT_TRUE(is_hex(object_string(span, "traceId"), 32), "traceId: 32 hex digits");
	ASSERT_TRUE(is_hex(object_string(span, "spanId"), 16), "spanId: 16 hex digits");
	ASSERT_STR_EQ(object_string(span, "name"), "HTTP GET /items", "name");
	ASSERT_EQ(object_child(span, "kind")->valueint, 2, "kind SERVER");
	ASSERT_STR_EQ(object_string(span, "startTimeUnixNano"), "1700000000000000000", "start");
	ASSERT_STR_EQ(object_string(span, "endTimeUnixNano"), "1700000000001500000", "end");
	attributes = object_child(span, "attributes");
	ASSERT_STR_EQ(attribute(attributes, "http.request.method"), "GET", "method");
	ASSERT_STR_EQ(attribute(attributes, "url.path"), "/items", "path without the query");
	ASSERT_STR_EQ(attribute(attributes, "url.query"), "page=2", "query");
	ASSERT_STR_EQ(attribute(attributes, "server.address"), "shop.example", "host without port");
	ASSERT_STR_EQ(attribute(attributes, "server.port"), "8080", "port");
	ASSERT_STR_EQ(attribute(attributes, "http.response.status_code"), "200", "status");
	ASSERT_STR_EQ(attribute(attributes, "weir.source.workload"), "shop/web", "source");
	ASSERT_STR_EQ(attribute(attributes, "weir.destination.workload"), "shop/db", "destination");
	ASSERT_TRUE(!object_child(span, "status"), "no error status for a 200");
	span = cJSON_GetArrayItem(
		object_child(cJSON_GetArrayItem(object_child(cJSON_GetArrayItem(resource_spans, 1),
							     "scopeSpans"),
						0),
			     "spans"),
		0);
	ASSERT_EQ(object_child(span, "status.code")->valueint, 2, "a 503 is an error");
	cJSON_Delete(request);
	ASSERT_TRUE(memcmp(spans[0].trace_id, spans[2].trace_id, 16) != 0, "fresh trace ids");
}

static void a_host_less_request_names_the_server_by_address(void)
{
	struct http_exchange bare = exchange("shop/db", 0);
	struct otlp_span span;

	bare.host = "";
	bare.outcome = WEIR_HTTP_REFUSED;
	bare.reason = "http_denied";
	otlp_span_from_exchange(&bare, &span);
	ASSERT_STR_EQ(span.server_address, "10.0.0.2", "server address");
	ASSERT_STR_EQ(span.reason, "http_denied", "reason kept");
}

static void endpoints_are_checked_and_completed(void)
{
	char errbuf[256];
	struct otlp_exporter *exporter;

	ASSERT_TRUE(!otlp_exporter_new("localhost:4318", "n", errbuf, sizeof(errbuf)),
		    "no scheme refused");
	ASSERT_CONTAINS(errbuf, "localhost:4318", "error names the endpoint");
	exporter = otlp_exporter_new("http://127.0.0.1:4318/", "n", errbuf, sizeof(errbuf));
	ASSERT_TRUE(exporter, "a base URL");
	ASSERT_TRUE(otlp_fd(exporter) >= 0, "a descriptor to poll");
	ASSERT_EQ(otlp_timeout_ms(exporter, 0), -1, "nothing to do while empty");
	otlp_exporter_free(exporter);
}

const struct test_case otlp_tests[] = {
	{ "spans_follow_the_otlp_json_encoding", spans_follow_the_otlp_json_encoding },
	{ "a_host_less_request_names_the_server_by_address",
	  a_host_less_request_names_the_server_by_address },
	{ "endpoints_are_checked_and_completed", endpoints_are_checked_and_completed },
};
const size_t otlp_tests_count = sizeof(otlp_tests) / sizeof(otlp_tests[0]);
