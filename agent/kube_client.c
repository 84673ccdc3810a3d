/* List/watch per kind as a small state machine:
 *   LIST (pages of 500, following `continue`) -> reconcile the store (mark and sweep, so
 *   deletions missed while away are applied) -> WATCH from the list's resourceVersion with
 *   bookmarks -> on a normal end, WATCH again from the last resourceVersion seen; on 410 Gone
 *   (an ERROR event or status), LIST again; on 429, 5xx or a broken connection, wait a capped,
 *   jittered backoff and resume.
 * The store keeps its content whatever happens to the connection: while the API server is away
 * the datapath keeps the last known state.
 * Kinds of weir's own CRDs are optional: a 404 (CRD not installed, or removed with all its
 * objects) is an empty list, logged once, and the list is tried again every minute. */
#include "kube_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cJSON.h>

#include "log.h"
#include "watch_event.h"

#define LIST_PAGE_SIZE 500
#define WATCH_TIMEOUT_SECONDS 300
#define BACKOFF_FIRST_MS 200
#define BACKOFF_MAX_MS 30000
#define BODY_LIMIT (256u << 20)
#define STALL_SECONDS 90
#define MISSING_KIND_RETRY_MS 60000

enum stream_phase { PHASE_WAITING, PHASE_LISTING, PHASE_WATCHING };

struct resource_stream {
	struct kube_client *client;
	enum kube_kind kind;
	const char *path;
	enum stream_phase phase;
	CURL *easy;
	struct curl_slist *headers;
	char *body;
	size_t body_length, body_capacity;
	bool body_overflow;
	char resource_version[64];
	char continue_token[2048];
	bool listed_once;
	bool resync_open;
	bool relist_needed; /* 410 seen: the next start is a list */
	bool missing;	    /* an optional kind the server does not serve (404) */
	unsigned failures;
	uint64_t retry_at_ms;
	unsigned long reconnects; /* for metrics: failures resumed after a backoff */
	uint64_t last_heard_ms;	  /* for metrics: the last list, event or bookmark */
	uint64_t answered_ms;	  /* the last 2xx status line: a quiet watch is still a live one */
	uint64_t failed_ms;	  /* the last failed request */
};

struct kube_client {
	struct kube_client_config config;
	struct object_store *store;
	struct reconciler *reconciler;
	CURLM *multi;
	struct resource_stream streams[KIND_COUNT];
	char newest_resource_version[64];
	bool reported_unreachable; /* logged once per outage, and once when it ends */
};

static const char *const resource_paths[KIND_COUNT] = {
	[KIND_NAMESPACE] = "/api/v1/namespaces",
	[KIND_NODE] = "/api/v1/nodes",
	[KIND_POD] = "/api/v1/pods",
	[KIND_SERVICE] = "/api/v1/services",
	[KIND_ENDPOINTSLICE] = "/apis/discovery.k8s.io/v1/endpointslices",
	[KIND_NETWORKPOLICY] = "/apis/networking.k8s.io/v1/networkpolicies",
	[KIND_WEIRNETWORKPOLICY] = "/apis/weir.dev/v1alpha1/weirnetworkpolicies",
};

/* Served only once weir's CRD is installed. */
static bool kind_is_optional(enum kube_kind kind)
{
	return kind == KIND_WEIRNETWORKPOLICY;
}

static uint64_t monotonic_ms(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)now.tv_sec * 1000 + (uint64_t)now.tv_nsec / 1000000;
}

static void schedule_retry(struct resource_stream *stream, const char *why)
{
	uint64_t delay = BACKOFF_FIRST_MS;
	curl_off_t retry_after = 0;

	if (stream->easy)
		curl_easy_getinfo(stream->easy, CURLINFO_RETRY_AFTER, &retry_after);

	for (unsigned i = 0; i < stream->failures && delay < BACKOFF_MAX_MS; i++)
		delay *= 2;
	if (delay > BACKOFF_MAX_MS)
		delay = BACKOFF_MAX_MS;
	/* Full jitter over the upper half, so agents of many nodes do not retry in step. */
	delay = delay / 2 + (uint64_t)rand() % (delay / 2 + 1);
	/* The server asked for a pause (429): honour it, within the cap. */
	if (retry_after > 0 && (uint64_t)retry_after * 1000 > delay)
		delay = (uint64_t)retry_after * 1000 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS
								     : (uint64_t)retry_after * 1000;
	stream->failures++;
	stream->reconnects++;
	stream->failed_ms = monotonic_ms();
	stream->phase = PHASE_WAITING;
	stream->retry_at_ms = monotonic_ms() + delay;
	log_warn("%s: %s; retrying in %llu ms", kube_kind_name(stream->kind), why,
		 (unsigned long long)delay);
}

static size_t on_body(char *data, size_t size, size_t count, void *opaque);

/* The status line of every response: a 2xx means the API server answers this stream, even a
 * watch that then stays quiet for minutes. */
static size_t on_header(char *data, size_t size, size_t count, void *opaque)
{
	struct resource_stream *stream = opaque;
	size_t length = size * count;

	if (length > 9 && strncmp(data, "HTTP/", 5) == 0) {
		const char *space = memchr(data, ' ', length);
		if (space && (size_t)(space - data) + 1 < length && space[1] == '2')
			stream->answered_ms = monotonic_ms();
	}
	return length;
}

static void stream_release(struct resource_stream *stream)
{
	if (stream->easy) {
		curl_multi_remove_handle(stream->client->multi, stream->easy);
		curl_easy_cleanup(stream->easy);
		stream->easy = NULL;
	}
	curl_slist_free_all(stream->headers);
	stream->headers = NULL;
	stream->body_length = 0;
	stream->body_overflow = false;
}

static int stream_request(struct resource_stream *stream, const char *query)
{
	struct kube_client *client = stream->client;
	char url[4096], header[8192], errbuf[256];
	const char *token = NULL;

	stream_release(stream);
	if (kube_client_config_token(&client->config, &token, errbuf, sizeof(errbuf)) < 0) {
		schedule_retry(stream, errbuf);
		return -1;
	}
	snprintf(url, sizeof(url), "%s%s?%s", client->config.server, stream->path, query);
	stream->easy = curl_easy_init();
	if (!stream->easy) {
		schedule_retry(stream, "curl_easy_init failed");
		return -1;
	}
	stream->headers = curl_slist_append(NULL, "Accept: application/json");
	if (token) {
		snprintf(header, sizeof(header), "Authorization: Bearer %s", token);
		stream->headers = curl_slist_append(stream->headers, header);
	}
	curl_easy_setopt(stream->easy, CURLOPT_URL, url);
	curl_easy_setopt(stream->easy, CURLOPT_HTTPHEADER, stream->headers);
	curl_easy_setopt(stream->easy, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(stream->easy, CURLOPT_WRITEDATA, stream);
	curl_easy_setopt(stream->easy, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(stream->easy, CURLOPT_HEADERDATA, stream);
	curl_easy_setopt(stream->easy, CURLOPT_PRIVATE, stream);
	curl_easy_setopt(stream->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(stream->easy, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(stream->easy, CURLOPT_TCP_KEEPALIVE, 1L);
	/* A server that stops sending is abandoned: lists must finish, and watches carry
	 * bookmarks (about one a minute from a real API server). */
	curl_easy_setopt(stream->easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(stream->easy, CURLOPT_LOW_SPEED_TIME, (long)STALL_SECONDS);
	curl_easy_setopt(stream->easy, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
	curl_easy_setopt(stream->easy, CURLOPT_PIPEWAIT, 1L);
	curl_easy_setopt(stream->easy, CURLOPT_ACCEPT_ENCODING, "");
	if (client->config.ca_pem) {
		struct curl_blob blob = { client->config.ca_pem, client->config.ca_pem_length,
					  CURL_BLOB_NOCOPY };
		curl_easy_setopt(stream->easy, CURLOPT_CAINFO_BLOB, &blob);
	}
	if (client->config.client_certificate_pem && client->config.client_key_pem) {
		struct curl_blob certificate = { client->config.client_certificate_pem,
						 client->config.client_certificate_length,
						 CURL_BLOB_NOCOPY };
		struct curl_blob key = { client->config.client_key_pem,
					 client->config.client_key_length, CURL_BLOB_NOCOPY };
		curl_easy_setopt(stream->easy, CURLOPT_SSLCERT_BLOB, &certificate);
		curl_easy_setopt(stream->easy, CURLOPT_SSLCERTTYPE, "PEM");
		curl_easy_setopt(stream->easy, CURLOPT_SSLKEY_BLOB, &key);
		curl_easy_setopt(stream->easy, CURLOPT_SSLKEYTYPE, "PEM");
	}
	if (client->config.insecure_skip_tls_verify) {
		curl_easy_setopt(stream->easy, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(stream->easy, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (curl_multi_add_handle(client->multi, stream->easy) != CURLM_OK) {
		schedule_retry(stream, "curl_multi_add_handle failed");
		return -1;
	}
	return 0;
}

static void start_list(struct resource_stream *stream)
{
	char query[2600];
	char *escaped = NULL;

	if (*stream->continue_token) {
		escaped = curl_easy_escape(NULL, stream->continue_token, 0);
		snprintf(query, sizeof(query), "limit=%d&continue=%s", LIST_PAGE_SIZE,
			 escaped ? escaped : "");
		curl_free(escaped);
	} else {
		snprintf(query, sizeof(query), "limit=%d", LIST_PAGE_SIZE);
	}
	stream->phase = PHASE_LISTING;
	stream->relist_needed = false;
	stream_request(stream, query);
}

static void start_watch(struct resource_stream *stream)
{
	char query[256];

	snprintf(query, sizeof(query),
		 "watch=1&allowWatchBookmarks=true&timeoutSeconds=%d&resourceVersion=%s",
		 WATCH_TIMEOUT_SECONDS, stream->resource_version);
	stream->phase = PHASE_WATCHING;
	stream_request(stream, query);
}

static void note_resource_version(struct resource_stream *stream, const char *version)
{
	struct kube_client *client = stream->client;

	if (!version || !*version)
		return;
	snprintf(stream->resource_version, sizeof(stream->resource_version), "%s", version);
	/* resourceVersions are opaque, but comparing lengths then text orders integers. */
	if (strlen(version) > strlen(client->newest_resource_version) ||
	    (strlen(version) == strlen(client->newest_resource_version) &&
	     strcmp(version, client->newest_resource_version) > 0))
		snprintf(client->newest_resource_version, sizeof(client->newest_resource_version),
			 "%s", version);
}

static void store_object(struct resource_stream *stream, cJSON *object)
{
	struct kube_client *client = stream->client;
	char name_space[256], name[256];

	if (!object_name(object)) {
		cJSON_Delete(object);
		return;
	}
	snprintf(name_space, sizeof(name_space), "%s", object_namespace(object));
	snprintf(name, sizeof(name), "%s", object_name(object));
	if (object_store_put(client->store, stream->kind, object) == 1)
		reconciler_note(client->reconciler, stream->kind,
				object_store_get(client->store, stream->kind, name_space, name));
}

struct removal_note {
	struct reconciler *reconciler;
	enum kube_kind kind;
};

static void note_removed(cJSON *object, void *opaque)
{
	struct removal_note *note = opaque;

	reconciler_note(note->reconciler, note->kind, object);
}

static void finish_list_page(struct resource_stream *stream)
{
	cJSON *document, *items, *item;
	const char *continue_token, *version;

	if (stream->body_overflow) {
		schedule_retry(stream, "list response too large");
		return;
	}
	stream->body[stream->body_length] = '\0';
	document = cJSON_Parse(stream->body);
	if (!document) {
		schedule_retry(stream, "list response is not JSON");
		return;
	}
	if (!stream->resync_open) {
		object_store_resync_begin(stream->client->store, stream->kind);
		stream->resync_open = true;
	}
	items = cJSON_GetObjectItemCaseSensitive(document, "items");
	while (items && (item = cJSON_DetachItemFromArray(items, 0)))
		store_object(stream, item);
	continue_token = object_string(document, "metadata.continue");
	version = object_string(document, "metadata.resourceVersion");
	if (continue_token && *continue_token) {
		snprintf(stream->continue_token, sizeof(stream->continue_token), "%s",
			 continue_token);
		cJSON_Delete(document);
		start_list(stream);
		return;
	}
	{
		struct removal_note note = { stream->client->reconciler, stream->kind };
		object_store_resync_end(stream->client->store, stream->kind, note_removed, &note);
	}
	stream->resync_open = false;
	stream->continue_token[0] = '\0';
	note_resource_version(stream, version);
	if (!stream->listed_once || stream->missing)
		log_info("%s: listed %zu objects at resourceVersion %s", kube_kind_name(stream->kind),
			 object_store_count(stream->client->store, stream->kind),
			 stream->resource_version);
	stream->listed_once = true;
	stream->missing = false;
	stream->failures = 0;
	stream->last_heard_ms = monotonic_ms();
	cJSON_Delete(document);
	start_watch(stream);
}

static void note_change(void *context, enum kube_kind kind, const cJSON *object)
{
	reconciler_note(context, kind, object);
}

/* Returns -1 for a line that cannot be read: the stream is then abandoned and watched again
 * from the last good resourceVersion, so no event is lost (skipping it would let the next
 * bookmark move past it for good). */
static int handle_watch_event(void *context, const char *line)
{
	struct resource_stream *stream = context;
	struct watch_event event;

	watch_event_apply(stream->client->store, stream->kind, line, note_change,
			  stream->client->reconciler, &event);
	switch (event.kind) {
	case WATCH_EVENT_UNREADABLE:
		log_warn("%s: unreadable watch event; watching again from resourceVersion %s",
			 kube_kind_name(stream->kind), stream->resource_version);
		return -1;
	case WATCH_EVENT_EXPIRED:
		log_info("%s: resourceVersion %s expired, listing again",
			 kube_kind_name(stream->kind), stream->resource_version);
		stream->relist_needed = true;
		break;
	case WATCH_EVENT_ERROR:
		log_warn("%s: watch error %d: %s", kube_kind_name(stream->kind), event.error_code,
			 event.error_message);
		break;
	default:
		note_resource_version(stream, event.resource_version);
		stream->failures = 0; /* a healthy stream */
		break;
	}
	stream->last_heard_ms = monotonic_ms();
	return 0;
}

static size_t on_body(char *data, size_t size, size_t count, void *opaque)
{
	struct resource_stream *stream = opaque;
	size_t length = size * count;

	if (stream->body_length + length + 1 > stream->body_capacity) {
		size_t capacity = stream->body_capacity ? stream->body_capacity : 65536;
		while (capacity < stream->body_length + length + 1)
			capacity *= 2;
		if (capacity > BODY_LIMIT) {
			stream->body_overflow = true;
			return 0; /* aborts the transfer */
		}
		char *grown = realloc(stream->body, capacity);
		if (!grown)
			return 0;
		stream->body = grown;
		stream->body_capacity = capacity;
	}
	memcpy(stream->body + stream->body_length, data, length);
	stream->body_length += length;
	stream->body[stream->body_length] = '\0';
	if (stream->phase == PHASE_WATCHING) {
		long status = 0;
		curl_easy_getinfo(stream->easy, CURLINFO_RESPONSE_CODE, &status);
		if (status != 200)
			return length; /* an error body: read whole at the end */
		/* Events are JSON lines; keep a partial last line for the next chunk. */
		long consumed = watch_lines_split(stream->body, stream->body_length,
						  handle_watch_event, stream);
		if (consumed < 0)
			return 0; /* aborts the transfer; transfer_done resumes the watch */
		stream->body_length -= (size_t)consumed;
		memmove(stream->body, stream->body + consumed, stream->body_length);
		stream->body[stream->body_length] = '\0';
	}
	return length;
}

/* A 404 for an optional kind: the server has no such resource, so there are no such objects.
 * Whatever was stored (the CRD was removed, and its objects with it) goes; the kind counts as
 * synced, so the agent does not wait for a CRD that may never come. */
static void kind_missing(struct resource_stream *stream)
{
	struct removal_note note = { stream->client->reconciler, stream->kind };

	if (!stream->missing)
		log_info("%s: %s is not served (is the weir.dev CRD installed?); treating it as no "
			 "objects and checking again every %d s",
			 kube_kind_name(stream->kind), stream->path, MISSING_KIND_RETRY_MS / 1000);
	stream_release(stream);
	object_store_resync_begin(stream->client->store, stream->kind);
	object_store_resync_end(stream->client->store, stream->kind, note_removed, &note);
	stream->missing = true;
	stream->listed_once = true;
	stream->resync_open = false;
	stream->continue_token[0] = '\0';
	stream->relist_needed = true;
	stream->failures = 0;
	stream->last_heard_ms = monotonic_ms(); /* the server answered: the stream is healthy */
	stream->phase = PHASE_WAITING;
	stream->retry_at_ms = monotonic_ms() + MISSING_KIND_RETRY_MS;
}

static void transfer_done(struct resource_stream *stream, CURLcode result)
{
	long status = 0;
	char why[256];

	curl_easy_getinfo(stream->easy, CURLINFO_RESPONSE_CODE, &status);
	if (result != CURLE_OK) {
		snprintf(why, sizeof(why), "%s %s: %s",
			 stream->phase == PHASE_LISTING ? "list" : "watch", stream->path,
			 curl_easy_strerror(result));
		schedule_retry(stream, why);
		stream_release(stream);
		return;
	}
	if (status == 410) {
		log_info("%s: 410 Gone, listing again from scratch", kube_kind_name(stream->kind));
		stream->continue_token[0] = '\0';
		stream->resync_open = false;
		start_list(stream);
		return;
	}
	if (status == 404 && kind_is_optional(stream->kind)) {
		kind_missing(stream);
		return;
	}
	if (status != 200) {
		snprintf(why, sizeof(why), "%s %s: HTTP %ld",
			 stream->phase == PHASE_LISTING ? "list" : "watch", stream->path, status);
		schedule_retry(stream, why);
		stream_release(stream);
		return;
	}
	if (stream->phase == PHASE_LISTING) {
		finish_list_page(stream);
		return;
	}
	/* A watch that ended normally (timeout, server restart): resume from where it was. */
	if (stream->relist_needed) {
		stream->continue_token[0] = '\0';
		start_list(stream);
	} else {
		start_watch(stream);
	}
}

struct kube_client *kube_client_new(struct kube_client_config *config, struct object_store *store,
				    struct reconciler *reconciler, char *errbuf, size_t errlen)
{
	struct kube_client *client = calloc(1, sizeof(*client));

	if (!client) {
		snprintf(errbuf, errlen, "allocate the API client: out of memory");
		return NULL;
	}
	client->config = *config;
	memset(config, 0, sizeof(*config));
	if (client->config.insecure_skip_tls_verify)
		log_warn("the kubeconfig sets insecure-skip-tls-verify: the API server's certificate "
			 "is NOT verified, anyone on the path can impersonate it");
	client->store = store;
	client->reconciler = reconciler;
	client->multi = curl_multi_init();
	if (!client->multi) {
		snprintf(errbuf, errlen, "curl_multi_init failed");
		kube_client_free(client);
		return NULL;
	}
	curl_multi_setopt(client->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
	srand((unsigned)(monotonic_ms() ^ (uint64_t)getpid()));
	for (int kind = 0; kind < KIND_COUNT; kind++) {
		struct resource_stream *stream = &client->streams[kind];
		stream->client = client;
		stream->kind = (enum kube_kind)kind;
		stream->path = resource_paths[kind];
		start_list(stream);
	}
	return client;
}

void kube_client_free(struct kube_client *client)
{
	if (!client)
		return;
	for (int kind = 0; kind < KIND_COUNT; kind++) {
		stream_release(&client->streams[kind]);
		free(client->streams[kind].body);
	}
	if (client->multi)
		curl_multi_cleanup(client->multi);
	kube_client_config_free(&client->config);
	free(client);
}

CURLM *kube_client_multi(struct kube_client *client)
{
	return client->multi;
}

unsigned kube_client_unreachable_kinds(const struct kube_client *client)
{
	unsigned unreachable = 0;

	for (int kind = 0; kind < KIND_COUNT; kind++) {
		const struct resource_stream *stream = &client->streams[kind];
		uint64_t good_ms = stream->answered_ms > stream->last_heard_ms ? stream->answered_ms
									       : stream->last_heard_ms;
		if (stream->failed_ms > good_ms)
			unreachable++;
	}
	return unreachable;
}

/* An outage is said once when it starts and once when it ends; the per-retry warnings say
 * the details. The datapath keeps its last state throughout (fail static). */
static void report_reachability(struct kube_client *client)
{
	unsigned unreachable = kube_client_unreachable_kinds(client);

	if (unreachable && !client->reported_unreachable) {
		log_warn("API server unreachable (%u of %d resource streams failing): enforcing the "
			 "last known state until it answers again",
			 unreachable, KIND_COUNT);
		client->reported_unreachable = true;
	} else if (!unreachable && client->reported_unreachable) {
		log_info("API server reachable again: every resource stream answers");
		client->reported_unreachable = false;
	}
}

void kube_client_run(struct kube_client *client, uint64_t now_ms)
{
	CURLMsg *message;
	int running = 0, pending;

	curl_multi_perform(client->multi, &running);
	while ((message = curl_multi_info_read(client->multi, &pending))) {
		struct resource_stream *stream = NULL;
		if (message->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(message->easy_handle, CURLINFO_PRIVATE, (char **)&stream);
		if (stream)
			transfer_done(stream, message->data.result);
	}
	for (int kind = 0; kind < KIND_COUNT; kind++) {
		struct resource_stream *stream = &client->streams[kind];
		if (stream->phase != PHASE_WAITING || stream->retry_at_ms > now_ms)
			continue;
		if (!stream->listed_once || stream->relist_needed || stream->resync_open) {
			stream->resync_open = false;
			stream->continue_token[0] = '\0';
			start_list(stream);
		} else {
			start_watch(stream);
		}
	}
	report_reachability(client);
}

long kube_client_timeout_ms(const struct kube_client *client, uint64_t now_ms)
{
	long timeout = -1;

	for (int kind = 0; kind < KIND_COUNT; kind++) {
		const struct resource_stream *stream = &client->streams[kind];
		if (stream->phase != PHASE_WAITING)
			continue;
		long due = stream->retry_at_ms > now_ms ? (long)(stream->retry_at_ms - now_ms) : 0;
		if (timeout < 0 || due < timeout)
			timeout = due;
	}
	return timeout;
}

bool kube_client_synced(const struct kube_client *client)
{
	for (int kind = 0; kind < KIND_COUNT; kind++) {
		if (!client->streams[kind].listed_once)
			return false;
	}
	return true;
}

const char *kube_client_resource_version(const struct kube_client *client)
{
	return client->newest_resource_version;
}

void kube_client_stream_stats(const struct kube_client *client, enum kube_kind kind,
			      struct kube_stream_stats *stats)
{
	stats->reconnects = client->streams[kind].reconnects;
	stats->last_heard_ms = client->streams[kind].last_heard_ms;
}
