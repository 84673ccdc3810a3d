/* HTTP request metrics: series per workload pair, method and status class, a cumulative
 * latency histogram fed by answered requests only, and status classes named. */
#include <stdlib.h>

#include "http_metrics.h"
#include "test.h"
#include "unit.h"

static struct http_exchange exchange(const char *method, unsigned status, uint8_t outcome,
				     uint64_t latency_ns)
{
	struct http_exchange exchange = {
		.outcome = outcome,
		.method = method,
		.path = "/",
		.host = "",
		.status = status,
		.latency_ns = latency_ns,
		.source = "shop/web-5d9c7b8f6-x2x7q",
		.destination = "shop/db-0",
		.source_workload = "shop/web",
		.destination_workload = "shop/db",
		.source_ip = "10.0.0.1",
		.destination_ip = "10.0.0.2",
		.policy = "-",
	};
	return exchange;
}

static void counts_requests_by_labels_and_observes_latency(void)
{
	struct http_metrics *metrics = http_metrics_new();
	struct text_buffer out = { 0 };
	struct http_exchange get_ok = exchange("GET", 200, WEIR_HTTP_ANSWERED, 2000000);
	struct http_exchange get_slow = exchange("GET", 204, WEIR_HTTP_ANSWERED, 300000000);
	struct http_exchange post_error = exchange("POST", 503, WEIR_HTTP_ANSWERED, 1000);
	struct http_exchange refused = exchange("DELETE", 403, WEIR_HTTP_REFUSED, 0);
	struct http_exchange unparsed = exchange("", 0, WEIR_HTTP_UNPARSED, 0);

	ASSERT_TRUE(metrics, "metrics");
	http_metrics_observe(metrics, &get_ok);
	http_metrics_observe(metrics, &get_slow);
	http_metrics_observe(metrics, &post_error);
	http_metrics_observe(metrics, &refused);
	http_metrics_observe(metrics, &unparsed);
	http_metrics_render(metrics, &out);
	ASSERT_CONTAINS(out.data,
			"weir_http_requests_total{source_workload=\"shop/web\",destination_workload="
			"\"shop/db\",method=\"GET\",status_class=\"2xx\"} 2\n",
			"GET 2xx counted twice");
	ASSERT_CONTAINS(out.data, "method=\"POST\",status_class=\"5xx\"} 1\n", "POST 5xx");
	ASSERT_CONTAINS(out.data, "method=\"DELETE\",status_class=\"4xx\"} 1\n", "refused 403");
	ASSERT_TRUE(!strstr(out.data, "status_class=\"none\""), "unparsed is not a request");
	/* 2 ms lands in le=0.0025, 300 ms in le=0.5: cumulative counts. */
	ASSERT_CONTAINS(out.data, "method=\"GET\",status_class=\"2xx\",le=\"0.001\"} 0\n",
			"below both");
	ASSERT_CONTAINS(out.data, "method=\"GET\",status_class=\"2xx\",le=\"0.0025\"} 1\n",
			"the fast one");
	ASSERT_CONTAINS(out.data, "method=\"GET\",status_class=\"2xx\",le=\"0.5\"} 2\n", "both");
	ASSERT_CONTAINS(out.data, "method=\"GET\",status_class=\"2xx\",le=\"+Inf\"} 2\n", "+Inf");
	ASSERT_CONTAINS(out.data,
			"weir_http_request_duration_seconds_sum{source_workload=\"shop/web\","
			"destination_workload=\"shop/db\",method=\"GET\",status_class=\"2xx\"} "
			"0.302000000\n",
			"sum");
	ASSERT_CONTAINS(out.data, "method=\"GET\",status_class=\"2xx\"} 2\n", "count");
	ASSERT_TRUE(!strstr(out.data, "duration_seconds_count{source_workload=\"shop/web\","
				      "destination_workload=\"shop/db\",method=\"DELETE\""),
		    "no latency for a refused request");
	ASSERT_CONTAINS(out.data, "# TYPE weir_http_request_duration_seconds histogram\n",
			"histogram type");
	text_buffer_free(&out);
	http_metrics_free(metrics);
}

static void label_values_are_escaped(void)
{
	struct http_metrics *metrics = http_metrics_new();
	struct text_buffer out = { 0 };
	struct http_exchange odd = exchange("GET", 200, WEIR_HTTP_ANSWERED, 1);

	ASSERT_TRUE(metrics, "metrics");
	odd.source_workload = "cidr \"x\"\\";
	http_metrics_observe(metrics, &odd);
	http_metrics_render(metrics, &out);
	ASSERT_CONTAINS(out.data, "source_workload=\"cidr \\\"x\\\"\\\\\"", "escaped");
	text_buffer_free(&out);
	http_metrics_free(metrics);
}

static void status_classes(void)
{
	char class[16];

	ASSERT_STR_EQ(http_status_class(101, WEIR_HTTP_ANSWERED, class, sizeof(class)), "1xx", "101");
	ASSERT_STR_EQ(http_status_class(599, WEIR_HTTP_ANSWERED, class, sizeof(class)), "5xx", "599");
	ASSERT_STR_EQ(http_status_class(0, WEIR_HTTP_REFUSED, class, sizeof(class)), "refused",
		      "refused without status");
	ASSERT_STR_EQ(http_status_class(999, WEIR_HTTP_ANSWERED, class, sizeof(class)), "none",
		      "nonsense status");
}

static void series_beyond_the_limit_share_one(void)
{
	struct http_metrics *metrics = http_metrics_new();
	struct text_buffer out = { 0 };
	char name[64];

	ASSERT_TRUE(metrics, "metrics");
	for (int i = 0; i < HTTP_METRICS_MAX_SERIES + 10; i++) {
		struct http_exchange one = exchange("GET", 200, WEIR_HTTP_ANSWERED, 1000);
		snprintf(name, sizeof(name), "ns/client-%d", i);
		one.source_workload = name;
		http_metrics_observe(metrics, &one);
	}
	http_metrics_render(metrics, &out);
	ASSERT_CONTAINS(out.data,
			"weir_http_requests_total{source_workload=\"other\",destination_workload="
			"\"other\",method=\"other\",status_class=\"other\"} 10\n",
			"overflow series");
	text_buffer_free(&out);
	http_metrics_free(metrics);
}

const struct test_case http_metrics_tests[] = {
	{ "counts_requests_by_labels_and_observes_latency",
	  counts_requests_by_labels_and_observes_latency },
	{ "label_values_are_escaped", label_values_are_escaped },
	{ "status_classes", status_classes },
	{ "series_beyond_the_limit_share_one", series_beyond_the_limit_share_one },
};
const size_t http_metrics_tests_count = sizeof(http_metrics_tests) / sizeof(http_metrics_tests[0]);
