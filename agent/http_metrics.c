/* Series are kept in insertion order in one array with a hash index over it, so a scrape walks
 * them without sorting and an event finds its series in O(1). Only answered requests have a
 * latency; the histogram observes those, the counter counts every request. */
#include "http_metrics.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INDEX_SIZE (HTTP_METRICS_MAX_SERIES * 2) /* power of two, load factor <= 1/2 */
#define LABEL_BYTES 256

const double http_metrics_bucket_bounds[HTTP_METRICS_BUCKETS] = {
	0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};

struct http_series {
	char source_workload[LABEL_BYTES];
	char destination_workload[LABEL_BYTES];
	char method[16];
	char status_class[16];
	uint64_t requests;
	uint64_t buckets[HTTP_METRICS_BUCKETS]; /* not cumulative: rendering sums them */
	uint64_t observed;			/* answered requests: the histogram's count */
	double latency_sum_seconds;
};

struct http_metrics {
	struct http_series *series;
	size_t count, capacity;
	int32_t index[INDEX_SIZE]; /* series position + 1; 0: empty slot */
	struct http_series overflow;
	bool overflowed;
};

struct http_metrics *http_metrics_new(void)
{
	struct http_metrics *metrics = calloc(1, sizeof(*metrics));

	if (!metrics)
		return NULL;
	snprintf(metrics->overflow.source_workload, LABEL_BYTES, "other");
	snprintf(metrics->overflow.destination_workload, LABEL_BYTES, "other");
	snprintf(metrics->overflow.method, sizeof(metrics->overflow.method), "other");
	snprintf(metrics->overflow.status_class, sizeof(metrics->overflow.status_class), "other");
	return metrics;
}

void http_metrics_free(struct http_metrics *metrics)
{
	if (!metrics)
		return;
	free(metrics->series);
	free(metrics);
}

const char *http_status_class(unsigned status, uint8_t outcome, char *out, size_t size)
{
	if (status >= 100 && status <= 599)
		snprintf(out, size, "%uxx", status / 100);
	else
		snprintf(out, size, "%s", outcome == WEIR_HTTP_REFUSED ? "refused" : "none");
	return out;
}

static uint32_t labels_hash(const char *source, const char *destination, const char *method,
			    const char *status_class)
{
	const char *parts[4] = { source, destination, method, status_class };
	uint32_t hash = 2166136261u;

	for (int i = 0; i < 4; i++) {
		for (const char *c = parts[i]; *c; c++)
			hash = (hash ^ (uint8_t)*c) * 16777619u;
		hash = (hash ^ 0xff) * 16777619u; /* separator: "a","bc" differs from "ab","c" */
	}
	return hash;
}

static bool series_is(const struct http_series *series, const char *source,
		      const char *destination, const char *method, const char *status_class)
{
	return strncmp(series->source_workload, source, LABEL_BYTES - 1) == 0 &&
	       strncmp(series->destination_workload, destination, LABEL_BYTES - 1) == 0 &&
	       strcmp(series->method, method) == 0 &&
	       strcmp(series->status_class, status_class) == 0;
}

static struct http_series *series_find_or_add(struct http_metrics *metrics, const char *source,
					      const char *destination, const char *method,
					      const char *status_class)
{
	uint32_t slot = labels_hash(source, destination, method, status_class) & (INDEX_SIZE - 1);
	struct http_series *series;

	while (metrics->index[slot]) {
		series = &metrics->series[metrics->index[slot] - 1];
		if (series_is(series, source, destination, method, status_class))
			return series;
		slot = (slot + 1) & (INDEX_SIZE - 1);
	}
	if (metrics->count == HTTP_METRICS_MAX_SERIES)
		goto overflow;
	if (metrics->count == metrics->capacity) {
		size_t capacity = metrics->capacity ? metrics->capacity * 2 : 64;
		struct http_series *grown = realloc(metrics->series, capacity * sizeof(*grown));
		if (!grown)
			goto overflow;
		metrics->series = grown;
		metrics->capacity = capacity;
	}
	series = &metrics->series[metrics->count];
	memset(series, 0, sizeof(*series));
	snprintf(series->source_workload, LABEL_BYTES, "%s", source);
	snprintf(series->destination_workload, LABEL_BYTES, "%s", destination);
	snprintf(series->method, sizeof(series->method), "%s", method);
	snprintf(series->status_class, sizeof(series->status_class), "%s", status_class);
	metrics->index[slot] = (int32_t)++metrics->count;
	return series;
overflow:
	metrics->overflowed = true;
	return &metrics->overflow;
}

void http_metrics_observe(void *context, const struct http_exchange *exchange)
{
	struct http_metrics *metrics = context;
	char status_class[16];
	struct http_series *series;

	if (exchange->outcome == WEIR_HTTP_UNPARSED)
		return;
	http_status_class(exchange->status, exchange->outcome, status_class, sizeof(status_class));
	series = series_find_or_add(metrics, exchange->source_workload,
				    exchange->destination_workload,
				    *exchange->method ? exchange->method : "unknown", status_class);
	series->requests++;
	if (exchange->outcome != WEIR_HTTP_ANSWERED)
		return;
	double seconds = (double)exchange->latency_ns / 1e9;
	int bucket = 0;
	while (bucket < HTTP_METRICS_BUCKETS && seconds > http_metrics_bucket_bounds[bucket])
		bucket++;
	if (bucket < HTTP_METRICS_BUCKETS)
		series->buckets[bucket]++;
	series->observed++;
	series->latency_sum_seconds += seconds;
}

static void append_labels(struct text_buffer *out, const struct http_series *series)
{
	text_append(out, "source_workload=\"");
	text_append_label_value(out, series->source_workload);
	text_append(out, "\",destination_workload=\"");
	text_append_label_value(out, series->destination_workload);
	text_append(out, "\",method=\"");
	text_append_label_value(out, series->method);
	text_append(out, "\",status_class=\"");
	text_append_label_value(out, series->status_class);
	text_append(out, "\"");
}

static void render_requests(const struct http_series *series, struct text_buffer *out)
{
	text_append(out, "weir_http_requests_total{");
	append_labels(out, series);
	text_append(out, "} %llu\n", (unsigned long long)series->requests);
}

static void render_histogram(const struct http_series *series, struct text_buffer *out)
{
	uint64_t cumulative = 0;

	if (!series->observed)
		return;
	for (int bucket = 0; bucket < HTTP_METRICS_BUCKETS; bucket++) {
		cumulative += series->buckets[bucket];
		text_append(out, "weir_http_request_duration_seconds_bucket{");
		append_labels(out, series);
		text_append(out, ",le=\"%g\"} %llu\n", http_metrics_bucket_bounds[bucket],
			    (unsigned long long)cumulative);
	}
	text_append(out, "weir_http_request_duration_seconds_bucket{");
	append_labels(out, series);
	text_append(out, ",le=\"+Inf\"} %llu\n", (unsigned long long)series->observed);
	text_append(out, "weir_http_request_duration_seconds_sum{");
	append_labels(out, series);
	text_append(out, "} %.9f\n", series->latency_sum_seconds);
	text_append(out, "weir_http_request_duration_seconds_count{");
	append_labels(out, series);
	text_append(out, "} %llu\n", (unsigned long long)series->observed);
}

void http_metrics_render(const struct http_metrics *metrics, struct text_buffer *out)
{
	text_append(out, "# HELP weir_http_requests_total HTTP/1 requests seen by the datapath, by "
			 "source workload, destination workload, method and status class.\n"
			 "# TYPE weir_http_requests_total counter\n");
	for (size_t i = 0; i < metrics->count; i++)
		render_requests(&metrics->series[i], out);
	if (metrics->overflowed)
		render_requests(&metrics->overflow, out);
	text_append(out, "# HELP weir_http_request_duration_seconds Time from an HTTP request to "
			 "the first byte of its response, as the datapath saw them.\n"
			 "# TYPE weir_http_request_duration_seconds histogram\n");
	for (size_t i = 0; i < metrics->count; i++)
		render_histogram(&metrics->series[i], out);
	if (metrics->overflowed)
		render_histogram(&metrics->overflow, out);
}
