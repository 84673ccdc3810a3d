/* The exporter drives its own curl multi handle through the socket API: curl names the sockets
 * it wants watched (kept in one epoll set, whose descriptor the agent's loop polls) and the
 * timeout it needs. One batch is in flight at a time; spans queue in a ring behind it.
 *
 * JSON encoding follows the OTLP/HTTP spec: ids are lowercase hex, 64-bit integers (times,
 * intValue) are decimal strings, enums are numbers (kind 2 = SPAN_KIND_SERVER). */
#include "otlp.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <cJSON.h>
#include <curl/curl.h>

#include "log.h"

#define OTLP_SPAN_KIND_SERVER 2
#define OTLP_STATUS_ERROR 2
#define FAILURE_REPORT_MS 30000
#define EXPORT_TIMEOUT_MS 10000L
#define CONNECT_TIMEOUT_MS 3000L

struct otlp_exporter {
	char url[1024];
	char node_name[256];
	CURLM *multi;
	int epoll_fd;
	int64_t curl_deadline_ms; /* -1: curl wants no timer */
	/* Ring of waiting spans. */
	struct otlp_span *queue;
	size_t head, queued;
	uint64_t flush_due_ms; /* when the oldest waiting span must go out */
	/* The batch in flight. */
	CURL *easy;
	struct curl_slist *headers;
	char *body;
	size_t in_flight;
	char curl_error[CURL_ERROR_SIZE];
	struct otlp_stats stats;
	uint64_t next_failure_report_ms;
	uint64_t failures_unreported;
};

static uint64_t monotonic_ms(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)now.tv_sec * 1000 + (uint64_t)now.tv_nsec / 1000000;
}

/* ---- spans ------------------------------------------------------------------------------ */

/* splitmix64 seeded once from the kernel: ids must be unique, not secret. */
static uint64_t random_u64(void)
{
	static uint64_t state;
	static bool seeded;
	uint64_t z;

	if (!seeded) {
		if (getrandom(&state, sizeof(state), 0) != sizeof(state))
			state = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
		seeded = true;
	}
	z = (state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void random_id(uint8_t *id, size_t length)
{
	bool zero = true;

	while (zero) { /* an all-zero id is invalid in OTLP */
		for (size_t i = 0; i < length; i += 8) {
			uint64_t value = random_u64();
			memcpy(id + i, &value, length - i < 8 ? length - i : 8);
		}
		for (size_t i = 0; i < length; i++)
			zero = zero && id[i] == 0;
	}
}

/* The Host header names the server as the client addressed it; its port goes separately. */
static void server_address_of(const struct http_exchange *exchange, char *out, size_t size)
{
	const char *host = exchange->host;
	size_t length = strlen(host);
	const char *colon = strrchr(host, ':');

	if (!length) {
		snprintf(out, size, "%s", exchange->destination_ip);
		return;
	}
	if (colon && host[0] != '[')
		length = (size_t)(colon - host);
	snprintf(out, size, "%.*s", (int)length, host);
}

void otlp_span_from_exchange(const struct http_exchange *exchange, struct otlp_span *span)
{
	memset(span, 0, sizeof(*span));
	random_id(span->trace_id, sizeof(span->trace_id));
	random_id(span->span_id, sizeof(span->span_id));
	span->start_unix_ns = exchange->start_unix_ns;
	span->end_unix_ns = exchange->end_unix_ns;
	snprintf(span->method, sizeof(span->method), "%s", exchange->method);
	/* url.path and the span name stay free of the query (its values would make every
	 * name unique); url.query keeps it. */
	const char *question = strchr(exchange->path, '?');
	int path_length = question ? (int)(question - exchange->path) : (int)strlen(exchange->path);
	snprintf(span->path, sizeof(span->path), "%.*s", path_length, exchange->path);
	if (question)
		snprintf(span->query, sizeof(span->query), "%s", question + 1);
	server_address_of(exchange, span->server_address, sizeof(span->server_address));
	snprintf(span->client_address, sizeof(span->client_address), "%s", exchange->source_ip);
	span->server_port = exchange->destination_port;
	span->client_port = exchange->source_port;
	span->status = exchange->status;
	snprintf(span->outcome, sizeof(span->outcome), "%s",
		 exchange->outcome < WEIR_HTTP_OUTCOME_MAX && weir_http_outcome_names[exchange->outcome]
			 ? weir_http_outcome_names[exchange->outcome]
			 : "unknown");
	if (exchange->reason)
		snprintf(span->reason, sizeof(span->reason), "%s", exchange->reason);
	snprintf(span->source_workload, sizeof(span->source_workload), "%s",
		 exchange->source_workload);
	snprintf(span->destination_workload, sizeof(span->destination_workload), "%s",
		 exchange->destination_workload);
}

static void hex_of(const uint8_t *bytes, size_t length, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < length; i++) {
		out[2 * i] = digits[bytes[i] >> 4];
		out[2 * i + 1] = digits[bytes[i] & 15];
	}
	out[2 * length] = '\0';
}

static void add_attribute(cJSON *attributes, const char *key, const char *string_value,
			  const int64_t *int_value)
{
	cJSON *attribute = cJSON_CreateObject();
	cJSON *value;
	char number[24];

	cJSON_AddStringToObject(attribute, "key", key);
	value = cJSON_AddObjectToObject(attribute, "value");
	if (int_value) {
		snprintf(number, sizeof(number), "%lld", (long long)*int_value);
		cJSON_AddStringToObject(value, "intValue", number);
	} else {
		cJSON_AddStringToObject(value, "stringValue", string_value);
	}
	cJSON_AddItemToArray(attributes, attribute);
}

static cJSON *span_json(const struct otlp_span *span)
{
	cJSON *item = cJSON_CreateObject();
	cJSON *attributes;
	char hex[33], text[320];
	int64_t number;

	hex_of(span->trace_id, sizeof(span->trace_id), hex);
	cJSON_AddStringToObject(item, "traceId", hex);
	hex_of(span->span_id, sizeof(span->span_id), hex);
	cJSON_AddStringToObject(item, "spanId", hex);
	snprintf(text, sizeof(text), "HTTP %s %s", *span->method ? span->method : "UNKNOWN",
		 span->path);
	cJSON_AddStringToObject(item, "name", text);
	cJSON_AddNumberToObject(item, "kind", OTLP_SPAN_KIND_SERVER);
	snprintf(text, sizeof(text), "%lld", (long long)span->start_unix_ns);
	cJSON_AddStringToObject(item, "startTimeUnixNano", text);
	snprintf(text, sizeof(text), "%lld", (long long)span->end_unix_ns);
	cJSON_AddStringToObject(item, "endTimeUnixNano", text);
	attributes = cJSON_AddArrayToObject(item, "attributes");
	add_attribute(attributes, "http.request.method", *span->method ? span->method : "_OTHER",
		      NULL);
	add_attribute(attributes, "url.path", span->path, NULL);
	if (*span->query)
		add_attribute(attributes, "url.query", span->query, NULL);
	add_attribute(attributes, "server.address", span->server_address, NULL);
	number = span->server_port;
	add_attribute(attributes, "server.port", NULL, &number);
	add_attribute(attributes, "client.address", span->client_address, NULL);
	number = span->client_port;
	add_attribute(attributes, "client.port", NULL, &number);
	if (span->status) {
		number = span->status;
		add_attribute(attributes, "http.response.status_code", NULL, &number);
	}
	add_attribute(attributes, "weir.source.workload", span->source_workload, NULL);
	add_attribute(attributes, "weir.destination.workload", span->destination_workload, NULL);
	add_attribute(attributes, "weir.outcome", span->outcome, NULL);
	if (*span->reason)
		add_attribute(attributes, "weir.drop_reason", span->reason, NULL);
	/* Server spans are errors for 5xx only (client errors are the client's); a refused
	 * request is one too: the datapath ended it. */
	if (span->status >= 500 || *span->reason) {
		cJSON *status = cJSON_AddObjectToObject(item, "status");
		cJSON_AddNumberToObject(status, "code", OTLP_STATUS_ERROR);
		if (*span->reason)
			cJSON_AddStringToObject(status, "message", span->reason);
	}
	return item;
}

/* The spans array of the resource of workload, created on first use. */
static cJSON *resource_spans_of(cJSON *resource_spans, const char *workload,
				const char *node_name)
{
	cJSON *resource_span, *resource, *attributes, *scope_span, *scope;
	const char *slash = strchr(workload, '/');
	char name_space[256];

	cJSON_ArrayForEach(resource_span, resource_spans)
	{
		cJSON *first = cJSON_GetArrayItem(
			cJSON_GetObjectItemCaseSensitive(resource_span, "scopeSpans"), 0);
		const cJSON *tag = cJSON_GetObjectItemCaseSensitive(resource_span, "_workload");
		if (cJSON_IsString(tag) && strcmp(tag->valuestring, workload) == 0)
			return cJSON_GetObjectItemCaseSensitive(first, "spans");
	}
	resource_span = cJSON_CreateObject();
	cJSON_AddStringToObject(resource_span, "_workload", workload);
	resource = cJSON_AddObjectToObject(resource_span, "resource");
	attributes = cJSON_AddArrayToObject(resource, "attributes");
	add_attribute(attributes, "service.name", slash ? slash + 1 : workload, NULL);
	if (slash) {
		snprintf(name_space, sizeof(name_space), "%.*s", (int)(slash - workload), workload);
		add_attribute(attributes, "service.namespace", name_space, NULL);
		add_attribute(attributes, "k8s.namespace.name", name_space, NULL);
	}
	add_attribute(attributes, "k8s.node.name", node_name, NULL);
	add_attribute(attributes, "telemetry.sdk.name", "weir", NULL);
	scope_span = cJSON_CreateObject();
	scope = cJSON_AddObjectToObject(scope_span, "scope");
	cJSON_AddStringToObject(scope, "name", "weir.datapath");
	cJSON_AddItemToArray(cJSON_AddArrayToObject(resource_span, "scopeSpans"), scope_span);
	cJSON_AddItemToArray(resource_spans, resource_span);
	return cJSON_AddArrayToObject(scope_span, "spans");
}

char *otlp_traces_json(const struct otlp_span *spans, size_t count, const char *node_name)
{
	cJSON *request = cJSON_CreateObject();
	cJSON *resource_spans = cJSON_AddArrayToObject(request, "resourceSpans");
	cJSON *resource_span;
	char *text;

	if (!resource_spans) {
		cJSON_Delete(request);
		return NULL;
	}
	for (size_t i = 0; i < count; i++)
		cJSON_AddItemToArray(
			resource_spans_of(resource_spans, spans[i].destination_workload, node_name),
			span_json(&spans[i]));
	/* The grouping tag is ours, not OTLP's. */
	cJSON_ArrayForEach(resource_span, resource_spans)
		cJSON_DeleteItemFromObjectCaseSensitive(resource_span, "_workload");
	text = cJSON_PrintUnformatted(request);
	cJSON_Delete(request);
	return text;
}

/* ---- the exporter ------------------------------------------------------------------------ */

static int on_socket(CURL *easy, curl_socket_t socket, int what, void *context, void *socket_context)
{
	struct otlp_exporter *exporter = context;
	struct epoll_event event = { .data.fd = socket };

	(void)easy;
	(void)socket_context;
	if (what == CURL_POLL_REMOVE) {
		epoll_ctl(exporter->epoll_fd, EPOLL_CTL_DEL, socket, NULL);
		return 0;
	}
	event.events = (what & CURL_POLL_IN ? EPOLLIN : 0) | (what & CURL_POLL_OUT ? EPOLLOUT : 0);
	if (epoll_ctl(exporter->epoll_fd, EPOLL_CTL_MOD, socket, &event) < 0 && errno == ENOENT)
		epoll_ctl(exporter->epoll_fd, EPOLL_CTL_ADD, socket, &event);
	return 0;
}

static int on_timer(CURLM *multi, long timeout_ms, void *context)
{
	struct otlp_exporter *exporter = context;

	(void)multi;
	exporter->curl_deadline_ms = timeout_ms < 0 ? -1 : (int64_t)(monotonic_ms() + timeout_ms);
	return 0;
}

static size_t discard_body(char *data, size_t size, size_t count, void *context)
{
	(void)data;
	(void)context;
	return size * count;
}

struct otlp_exporter *otlp_exporter_new(const char *endpoint, const char *node_name,
					char *errbuf, size_t errlen)
{
	struct otlp_exporter *exporter;
	size_t length = strlen(endpoint);
	const char *suffix = "/v1/traces";

	if (strncmp(endpoint, "http://", 7) != 0 && strncmp(endpoint, "https://", 8) != 0) {
		snprintf(errbuf, errlen, "--otlp-endpoint %s: expected an http:// or https:// URL",
			 endpoint);
		return NULL;
	}
	if (length + strlen(suffix) >= sizeof(exporter->url)) {
		snprintf(errbuf, errlen, "--otlp-endpoint %.64s...: longer than %zu bytes", endpoint,
			 sizeof(exporter->url) - strlen(suffix) - 1);
		return NULL;
	}
	exporter = calloc(1, sizeof(*exporter));
	if (exporter)
		exporter->queue = calloc(OTLP_QUEUE_SPANS, sizeof(*exporter->queue));
	if (!exporter || !exporter->queue) {
		free(exporter);
		snprintf(errbuf, errlen, "allocate the OTLP exporter: out of memory");
		return NULL;
	}
	while (length && endpoint[length - 1] == '/')
		length--;
	/* A full traces URL is taken as it is; a base URL gets the signal's path. */
	if (length >= strlen(suffix) && strncmp(endpoint + length - strlen(suffix), suffix,
						strlen(suffix)) == 0)
		suffix = "";
	snprintf(exporter->url, sizeof(exporter->url), "%.*s%s", (int)length, endpoint, suffix);
	snprintf(exporter->node_name, sizeof(exporter->node_name), "%s", node_name);
	exporter->curl_deadline_ms = -1;
	exporter->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	exporter->multi = curl_multi_init();
	if (exporter->epoll_fd < 0 || !exporter->multi) {
		snprintf(errbuf, errlen, "set up the OTLP exporter for %s: %s", exporter->url,
			 exporter->epoll_fd < 0 ? strerror(errno) : "curl_multi_init failed");
		otlp_exporter_free(exporter);
		return NULL;
	}
	curl_multi_setopt(exporter->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(exporter->multi, CURLMOPT_SOCKETDATA, exporter);
	curl_multi_setopt(exporter->multi, CURLMOPT_TIMERFUNCTION, on_timer);
	curl_multi_setopt(exporter->multi, CURLMOPT_TIMERDATA, exporter);
	return exporter;
}

static void transfer_release(struct otlp_exporter *exporter)
{
	if (exporter->easy) {
		curl_multi_remove_handle(exporter->multi, exporter->easy);
		curl_easy_cleanup(exporter->easy);
		exporter->easy = NULL;
	}
	curl_slist_free_all(exporter->headers);
	exporter->headers = NULL;
	free(exporter->body);
	exporter->body = NULL;
	exporter->in_flight = 0;
}

void otlp_exporter_free(struct otlp_exporter *exporter)
{
	if (!exporter)
		return;
	if (exporter->multi) {
		transfer_release(exporter);
		curl_multi_cleanup(exporter->multi);
	}
	if (exporter->epoll_fd >= 0)
		close(exporter->epoll_fd);
	free(exporter->queue);
	free(exporter);
}

void otlp_observe(void *context, const struct http_exchange *exchange)
{
	struct otlp_exporter *exporter = context;

	if (exchange->outcome == WEIR_HTTP_UNPARSED)
		return; /* not a request: other protocols on TCP, or a stream weir lost track of */
	if (exporter->queued == OTLP_QUEUE_SPANS) {
		exporter->stats.spans_dropped++;
		return;
	}
	if (!exporter->queued)
		exporter->flush_due_ms = monotonic_ms() + OTLP_FLUSH_MS;
	otlp_span_from_exchange(exchange, &exporter->queue[(exporter->head + exporter->queued) %
							  OTLP_QUEUE_SPANS]);
	exporter->queued++;
}

static void export_failed(struct otlp_exporter *exporter, const char *why, uint64_t now_ms)
{
	exporter->stats.exports_failed++;
	exporter->stats.spans_dropped += exporter->in_flight;
	exporter->failures_unreported++;
	if (now_ms < exporter->next_failure_report_ms)
		return;
	log_warn("OTLP export to %s failed: %s; %llu batch(es) failed since the last report, "
		 "their spans are dropped (weir_otlp_spans_dropped_total)",
		 exporter->url, why, (unsigned long long)exporter->failures_unreported);
	exporter->failures_unreported = 0;
	exporter->next_failure_report_ms = now_ms + FAILURE_REPORT_MS;
}

/* Takes up to a batch from the queue into a JSON body and starts its POST. */
static void export_start(struct otlp_exporter *exporter, uint64_t now_ms)
{
	struct otlp_span *batch;
	size_t count = exporter->queued < OTLP_BATCH_SPANS ? exporter->queued : OTLP_BATCH_SPANS;

	batch = malloc(count * sizeof(*batch));
	if (!batch)
		return;
	for (size_t i = 0; i < count; i++)
		batch[i] = exporter->queue[(exporter->head + i) % OTLP_QUEUE_SPANS];
	exporter->head = (exporter->head + count) % OTLP_QUEUE_SPANS;
	exporter->queued -= count;
	exporter->flush_due_ms = now_ms + OTLP_FLUSH_MS;
	exporter->in_flight = count;
	exporter->body = otlp_traces_json(batch, count, exporter->node_name);
	free(batch);
	exporter->easy = exporter->body ? curl_easy_init() : NULL;
	exporter->headers = curl_slist_append(NULL, "Content-Type: application/json");
	if (!exporter->easy || !exporter->headers) {
		export_failed(exporter, "out of memory", now_ms);
		transfer_release(exporter);
		return;
	}
	exporter->curl_error[0] = '\0';
	curl_easy_setopt(exporter->easy, CURLOPT_URL, exporter->url);
	curl_easy_setopt(exporter->easy, CURLOPT_HTTPHEADER, exporter->headers);
	curl_easy_setopt(exporter->easy, CURLOPT_POSTFIELDS, exporter->body);
	curl_easy_setopt(exporter->easy, CURLOPT_POSTFIELDSIZE_LARGE,
			 (curl_off_t)strlen(exporter->body));
	curl_easy_setopt(exporter->easy, CURLOPT_WRITEFUNCTION, discard_body);
	curl_easy_setopt(exporter->easy, CURLOPT_ERRORBUFFER, exporter->curl_error);
	curl_easy_setopt(exporter->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(exporter->easy, CURLOPT_TIMEOUT_MS, EXPORT_TIMEOUT_MS);
	curl_easy_setopt(exporter->easy, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
	if (curl_multi_add_handle(exporter->multi, exporter->easy) != CURLM_OK) {
		export_failed(exporter, "curl_multi_add_handle failed", now_ms);
		transfer_release(exporter);
	}
}

static void export_finished(struct otlp_exporter *exporter, CURLcode result, uint64_t now_ms)
{
	long status = 0;
	char why[CURL_ERROR_SIZE + 64];

	curl_easy_getinfo(exporter->easy, CURLINFO_RESPONSE_CODE, &status);
	if (result != CURLE_OK) {
		snprintf(why, sizeof(why), "%s",
			 *exporter->curl_error ? exporter->curl_error : curl_easy_strerror(result));
		export_failed(exporter, why, now_ms);
	} else if (status < 200 || status > 299) {
		snprintf(why, sizeof(why), "the collector answered HTTP %ld", status);
		export_failed(exporter, why, now_ms);
	} else {
		exporter->stats.exports_succeeded++;
		exporter->stats.spans_exported += exporter->in_flight;
	}
	transfer_release(exporter);
}

int otlp_fd(const struct otlp_exporter *exporter)
{
	return exporter->epoll_fd;
}

void otlp_run(struct otlp_exporter *exporter, uint64_t now_ms)
{
	struct epoll_event events[8];
	int running = 0, ready, pending;
	CURLMsg *message;

	ready = epoll_wait(exporter->epoll_fd, events, 8, 0);
	for (int i = 0; i < ready; i++) {
		int flags = (events[i].events & EPOLLIN ? CURL_CSELECT_IN : 0) |
			    (events[i].events & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
			    (events[i].events & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);
		curl_multi_socket_action(exporter->multi, events[i].data.fd, flags, &running);
	}
	if (exporter->curl_deadline_ms >= 0 && (uint64_t)exporter->curl_deadline_ms <= now_ms) {
		exporter->curl_deadline_ms = -1;
		curl_multi_socket_action(exporter->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	}
	while ((message = curl_multi_info_read(exporter->multi, &pending))) {
		if (message->msg == CURLMSG_DONE && message->easy_handle == exporter->easy)
			export_finished(exporter, message->data.result, now_ms);
	}
	if (!exporter->easy && exporter->queued &&
	    (exporter->queued >= OTLP_BATCH_SPANS || exporter->flush_due_ms <= now_ms))
		export_start(exporter, now_ms);
}

long otlp_timeout_ms(const struct otlp_exporter *exporter, uint64_t now_ms)
{
	long timeout = -1;

	if (exporter->curl_deadline_ms >= 0)
		timeout = (uint64_t)exporter->curl_deadline_ms > now_ms
				  ? (long)((uint64_t)exporter->curl_deadline_ms - now_ms)
				  : 0;
	if (!exporter->easy && exporter->queued) {
		long due = exporter->queued >= OTLP_BATCH_SPANS || exporter->flush_due_ms <= now_ms
				   ? 0
				   : (long)(exporter->flush_due_ms - now_ms);
		if (timeout < 0 || due < timeout)
			timeout = due;
	}
	return timeout;
}

void otlp_stats(const struct otlp_exporter *exporter, struct otlp_stats *stats)
{
	*stats = exporter->stats;
	stats->spans_queued = exporter->queued;
}
