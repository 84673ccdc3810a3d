/* A deliberately small HTTP/1.0 responder for Prometheus scrapes and health probes. Counters
 * are read from the per-CPU maps at scrape time and summed, so they are exact (principle 4).
 * Every family is written whole under its HELP and TYPE lines, so strict parsers (the
 * Prometheus text format forbids interleaving) read it. */
#include "metrics_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "datapath.h"
#include "endpoint_record.h"

int metrics_server_listen(const char *address, char *errbuf, size_t errlen)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV };
	struct addrinfo *found = NULL;
	char host[256];
	const char *colon = strrchr(address, ':');
	int fd, err, one = 1;

	if (!colon || colon == address || (size_t)(colon - address) >= sizeof(host) || !colon[1]) {
		snprintf(errbuf, errlen, "--metrics-addr %s: expected HOST:PORT", address);
		return -EINVAL;
	}
	memcpy(host, address, (size_t)(colon - address));
	host[colon - address] = '\0';
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		memmove(host, host + 1, strlen(host));
		host[strlen(host) - 1] = '\0';
	}
	err = getaddrinfo(host, colon + 1, &hints, &found);
	if (err) {
		snprintf(errbuf, errlen, "--metrics-addr %s: %s", address, gai_strerror(err));
		return -EINVAL;
	}
	fd = socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		err = -errno;
		snprintf(errbuf, errlen, "metrics socket: %s", strerror(errno));
		freeaddrinfo(found);
		return err;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, found->ai_addr, found->ai_addrlen) < 0 || listen(fd, 16) < 0) {
		err = -errno;
		snprintf(errbuf, errlen, "listen on --metrics-addr %s: %s", address, strerror(errno));
		close(fd);
		freeaddrinfo(found);
		return err;
	}
	freeaddrinfo(found);
	return fd;
}

static void family(struct text_buffer *body, const char *name, const char *type, const char *help)
{
	text_append(body, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* ---- datapath counters ---------------------------------------------------------------- */

static bool counter_is_bytes(enum weir_counter counter)
{
	return counter == WEIR_COUNTER_FROM_POD_PASSED_BYTES ||
	       counter == WEIR_COUNTER_TO_POD_PASSED_BYTES;
}

static void render_counters(struct text_buffer *body, struct datapath *datapath)
{
	static const struct {
		enum weir_counter packets, bytes;
		const char *direction;
	} forwarded[] = {
		{ WEIR_COUNTER_FROM_POD_PASSED, WEIR_COUNTER_FROM_POD_PASSED_BYTES, "from_pod" },
		{ WEIR_COUNTER_TO_POD_PASSED, WEIR_COUNTER_TO_POD_PASSED_BYTES, "to_pod" },
	};

	family(body, "weir_datapath_packets_total", "counter",
	       "Packets seen by the pod datapath, by outcome.");
	for (int counter = 0; counter < WEIR_COUNTER_MAX; counter++) {
		uint64_t total = 0;
		if (counter_is_bytes((enum weir_counter)counter))
			continue;
		if (datapath_counter_read(datapath, (enum weir_counter)counter, &total) == 0)
			text_append(body, "weir_datapath_packets_total{counter=\"%s\"} %llu\n",
				    weir_counter_names[counter], (unsigned long long)total);
	}
	for (int unit = 0; unit < 2; unit++) {
		const char *name = unit == 0 ? "weir_forwarded_packets_total"
					     : "weir_forwarded_bytes_total";

		family(body, name, "counter",
		       unit == 0 ? "Packets the datapath let through, by direction seen from the pod."
				 : "Bytes the datapath let through, by direction seen from the pod.");
		for (size_t i = 0; i < sizeof(forwarded) / sizeof(forwarded[0]); i++) {
			uint64_t total = 0;
			datapath_counter_read(datapath,
					      unit == 0 ? forwarded[i].packets : forwarded[i].bytes,
					      &total);
			text_append(body, "%s{direction=\"%s\"} %llu\n", name, forwarded[i].direction,
				    (unsigned long long)total);
		}
	}
}

/* ---- per endpoint ----------------------------------------------------------------------- */

struct endpoint_list {
	struct endpoint_record *records;
	size_t count;
};

static void render_endpoints(struct text_buffer *body, struct datapath *datapath,
			     const struct endpoint_list *endpoints)
{
	static const char *const names[2] = { "packets", "bytes" };
	struct weir_endpoint_stats *stats = calloc(endpoints->count + 1, sizeof(*stats));

	if (!stats)
		return;
	for (size_t i = 0; i < endpoints->count; i++)
		datapath_endpoint_stats(datapath, endpoints->records[i].endpoint_id, &stats[i]);
	for (int unit = 0; unit < 2; unit++) {
		char name[64];
		snprintf(name, sizeof(name), "weir_endpoint_%s_total", names[unit]);
		family(body, name, "counter",
		       unit == 0 ? "Packets per pod endpoint, seen from its host veth: from_pod before "
				   "policy, to_pod as delivered."
				 : "Bytes per pod endpoint, counted as its packets are.");
		for (size_t i = 0; i < endpoints->count; i++) {
			const struct endpoint_record *record = &endpoints->records[i];
			uint64_t from = unit == 0 ? stats[i].from_pod_packets : stats[i].from_pod_bytes;
			uint64_t to = unit == 0 ? stats[i].to_pod_packets : stats[i].to_pod_bytes;
			const char *format = "%s{endpoint_id=\"%u\",namespace=\"%s\",pod=\"%s\","
					     "direction=\"%s\"} %llu\n";
			text_append(body, format, name, record->endpoint_id, record->pod_namespace,
				    record->pod_name, "from_pod", (unsigned long long)from);
			text_append(body, format, name, record->endpoint_id, record->pod_namespace,
				    record->pod_name, "to_pod", (unsigned long long)to);
		}
	}
	free(stats);
}

struct drop_series {
	struct weir_drop_key key;
	uint64_t packets, bytes;
};

struct drop_list {
	struct drop_series *items;
	size_t count;
};

static void remember_drop(const struct weir_drop_key *key, uint64_t packets, uint64_t bytes,
			  void *opaque)
{
	struct drop_list *list = opaque;
	struct drop_series *grown = realloc(list->items, (list->count + 1) * sizeof(*grown));

	if (!grown)
		return;
	list->items = grown;
	list->items[list->count++] = (struct drop_series){ *key, packets, bytes };
}

static void render_drops(struct text_buffer *body, struct datapath *datapath,
			 const struct endpoint_list *endpoints)
{
	struct drop_list drops = { NULL, 0 };

	datapath_drop_for_each(datapath, remember_drop, &drops);
	for (int unit = 0; unit < 2; unit++) {
		const char *name = unit == 0 ? "weir_drops_total" : "weir_drop_bytes_total";
		family(body, name, "counter",
		       unit == 0 ? "Dropped packets by pod, reason and direction."
				 : "Dropped bytes by pod, reason and direction.");
		for (size_t i = 0; i < drops.count; i++) {
			const struct weir_drop_key *key = &drops.items[i].key;
			const char *pod_namespace = "", *pod_name = "";
			const char *reason = key->reason < WEIR_DROP_REASON_MAX
						     ? weir_drop_reason_names[key->reason]
						     : "unknown";
			for (size_t j = 0; j < endpoints->count && key->endpoint_id; j++) {
				if (endpoints->records[j].endpoint_id == key->endpoint_id) {
					pod_namespace = endpoints->records[j].pod_namespace;
					pod_name = endpoints->records[j].pod_name;
				}
			}
			text_append(body,
				    "%s{endpoint_id=\"%u\",namespace=\"%s\",pod=\"%s\","
				    "reason=\"%s\",direction=\"%s\"} %llu\n",
				    name, key->endpoint_id, pod_namespace, pod_name, reason,
				    key->direction == WEIR_DIRECTION_INGRESS ? "ingress" : "egress",
				    (unsigned long long)(unit == 0 ? drops.items[i].packets
								   : drops.items[i].bytes));
		}
	}
	free(drops.items);
}

/* ---- map occupancy ---------------------------------------------------------------------- */

static int map_count(int fd, uint64_t *count, uint32_t *capacity)
{
	struct bpf_map_info info;
	__u32 length = sizeof(info);
	uint8_t key[64], next[64];
	void *previous = NULL;

	memset(&info, 0, sizeof(info));
	if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &length) < 0 || info.key_size > sizeof(key))
		return -1;
	*capacity = info.max_entries;
	*count = 0;
	/* Bounded by the capacity: an LRU evicting under the walk could restart it. */
	while (*count < info.max_entries && bpf_map_get_next_key(fd, previous, next) == 0) {
		(*count)++;
		memcpy(key, next, info.key_size);
		previous = key;
	}
	return 0;
}

static void render_maps(struct text_buffer *body, struct datapath *datapath,
			const struct ct_sweep *ct_sweep)
{
	const struct {
		const char *name;
		int fd;
	} maps[] = {
		{ WEIR_MAP_ENDPOINTS, datapath->endpoints_fd },
		{ WEIR_MAP_IPCACHE, datapath->ipcache_fd },
		{ WEIR_MAP_POLICY, datapath->policy_fd },
		{ WEIR_MAP_SERVICES, datapath->services_fd },
		{ WEIR_MAP_BACKENDS, datapath->backends_fd },
	};
	uint64_t counts[sizeof(maps) / sizeof(maps[0])];
	uint32_t capacities[sizeof(maps) / sizeof(maps[0])];
	bool counted[sizeof(maps) / sizeof(maps[0])];

	for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]); i++)
		counted[i] = map_count(maps[i].fd, &counts[i], &capacities[i]) == 0;
	family(body, "weir_map_entries", "gauge", "Entries in each pinned datapath map.");
	for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]); i++) {
		if (counted[i])
			text_append(body, "weir_map_entries{map=\"%s\"} %llu\n", maps[i].name,
				    (unsigned long long)counts[i]);
	}
	family(body, "weir_map_capacity", "gauge", "Maximum entries of each pinned datapath map.");
	for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]); i++) {
		if (counted[i])
			text_append(body, "weir_map_capacity{map=\"%s\"} %u\n", maps[i].name,
				    capacities[i]);
	}
	text_append(body, "weir_map_capacity{map=\"%s\"} %u\n", WEIR_MAP_CT, WEIR_MAX_CT);

	/* Counting a full conntrack table key by key would stall the loop; the sweep has just
	 * walked it. */
	family(body, "weir_conntrack_entries", "gauge",
	       "Conntrack entries the last conntrack sweep (at most 5 s ago) left in place.");
	if (ct_sweep) {
		struct ct_sweep_stats stats;
		ct_sweep_stats(ct_sweep, &stats);
		text_append(body, "weir_conntrack_entries %llu\n", (unsigned long long)stats.entries);
		family(body, "weir_conntrack_gc_deleted_total", "counter",
		       "Expired conntrack entries the sweep removed.");
		text_append(body, "weir_conntrack_gc_deleted_total %llu\n",
			    (unsigned long long)stats.expired_deleted);
		family(body, "weir_conntrack_gc_walks_total", "counter",
		       "Complete walks of the conntrack map by the sweep.");
		text_append(body, "weir_conntrack_gc_walks_total %llu\n",
			    (unsigned long long)stats.walks);
	} else {
		uint32_t count = 0;
		if (datapath_ct_count(datapath, &count) == 0)
			text_append(body, "weir_conntrack_entries %u\n", count);
	}
}

/* ---- the agent's own work -------------------------------------------------------------- */

static uint64_t monotonic_ms(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)now.tv_sec * 1000 + (uint64_t)now.tv_nsec / 1000000;
}

static void render_api(struct text_buffer *body, const struct kube_client *kube)
{
	struct kube_stream_stats stats[KIND_COUNT];
	uint64_t now = monotonic_ms();

	for (int kind = 0; kind < KIND_COUNT; kind++)
		kube_client_stream_stats(kube, (enum kube_kind)kind, &stats[kind]);
	family(body, "weir_api_synced", "gauge", "1 once every kind has been listed from the API.");
	text_append(body, "weir_api_synced %d\n", kube_client_synced(kube) ? 1 : 0);
	family(body, "weir_api_watch_reconnects_total", "counter",
	       "Times a list or watch stream failed (connection lost, HTTP error, unreadable "
	       "answer) and was resumed after a backoff, by kind.");
	for (int kind = 0; kind < KIND_COUNT; kind++)
		text_append(body, "weir_api_watch_reconnects_total{kind=\"%s\"} %lu\n",
			    kube_kind_name((enum kube_kind)kind), stats[kind].reconnects);
	family(body, "weir_api_sync_lag_seconds", "gauge",
	       "Seconds since each kind's stream last brought a list, event or bookmark: grows "
	       "while the API server is away (and between bookmarks on a quiet cluster).");
	for (int kind = 0; kind < KIND_COUNT; kind++) {
		if (!stats[kind].last_heard_ms)
			continue;
		text_append(body, "weir_api_sync_lag_seconds{kind=\"%s\"} %.3f\n",
			    kube_kind_name((enum kube_kind)kind),
			    now > stats[kind].last_heard_ms
				    ? (double)(now - stats[kind].last_heard_ms) / 1000.0
				    : 0.0);
	}
}

static void render_flow_log(struct text_buffer *body, const struct flow_log *flow_log)
{
	static const char *const types[WEIR_EVENT_FLOW_END + 1] = {
		[0] = "unknown",
		[WEIR_EVENT_DROP] = "drop",
		[WEIR_EVENT_NEW_FLOW] = "flow",
		[WEIR_EVENT_REVOKED] = "revoked",
		[WEIR_EVENT_HTTP] = "http",
		[WEIR_EVENT_FLOW_END] = "flow_end",
	};
	struct flow_log_stats stats;

	flow_log_stats(flow_log, &stats);
	family(body, "weir_flow_events_total", "counter",
	       "Flow events explained by the agent, by type (flow ends include those of the "
	       "conntrack sweep).");
	for (int type = 0; type <= WEIR_EVENT_FLOW_END; type++)
		text_append(body, "weir_flow_events_total{type=\"%s\"} %llu\n", types[type],
			    (unsigned long long)stats.records[type]);
	family(body, "weir_flow_events_malformed_total", "counter",
	       "Ring buffer records shorter than their type's layout, skipped.");
	text_append(body, "weir_flow_events_malformed_total %llu\n",
		    (unsigned long long)stats.malformed);
}

static void render_otlp(struct text_buffer *body, const struct otlp_exporter *otlp)
{
	struct otlp_stats stats;

	otlp_stats(otlp, &stats);
	family(body, "weir_otlp_spans_exported_total", "counter",
	       "HTTP spans the OTLP collector accepted.");
	text_append(body, "weir_otlp_spans_exported_total %llu\n",
		    (unsigned long long)stats.spans_exported);
	family(body, "weir_otlp_spans_dropped_total", "counter",
	       "HTTP spans lost: the queue was full or their export failed.");
	text_append(body, "weir_otlp_spans_dropped_total %llu\n",
		    (unsigned long long)stats.spans_dropped);
	family(body, "weir_otlp_exports_failed_total", "counter",
	       "OTLP export requests that failed (connection, timeout or non-2xx answer).");
	text_append(body, "weir_otlp_exports_failed_total %llu\n",
		    (unsigned long long)stats.exports_failed);
	family(body, "weir_otlp_spans_queued", "gauge", "HTTP spans waiting for export.");
	text_append(body, "weir_otlp_spans_queued %zu\n", stats.spans_queued);
}

void metrics_render(const struct metrics_sources *sources, struct text_buffer *body)
{
	struct datapath datapath;
	char errbuf[256];
	bool up = datapath_open(&datapath, sources->bpffs, errbuf, sizeof(errbuf)) == 0;

	family(body, "weir_datapath_up", "gauge", "1 when the pinned datapath maps can be read.");
	text_append(body, "weir_datapath_up %d\n", up ? 1 : 0);
	family(body, "weir_reconcile_failures_total", "counter",
	       "Policy passes that could not write everything (a full map, a kernel refusal); "
	       "each is retried, and restricting writes still happen.");
	text_append(body, "weir_reconcile_failures_total %lu\n", sources->failed_passes);
	if (up) {
		struct endpoint_list endpoints = { NULL, 0 };
		endpoints.records = endpoint_record_load_all(sources->state_dir, &endpoints.count);
		render_counters(body, &datapath);
		render_endpoints(body, &datapath, &endpoints);
		render_drops(body, &datapath, &endpoints);
		render_maps(body, &datapath, sources->ct_sweep);
		free(endpoints.records);
		datapath_close(&datapath);
	}
	if (sources->kube)
		render_api(body, sources->kube);
	if (sources->flow_log)
		render_flow_log(body, sources->flow_log);
	if (sources->http)
		http_metrics_render(sources->http, body);
	if (sources->otlp)
		render_otlp(body, sources->otlp);
}

static void respond(int client, int status, const char *reason, const char *body, size_t length)
{
	char header[256];
	int header_length = snprintf(header, sizeof(header),
				     "HTTP/1.0 %d %s\r\nContent-Type: text/plain; version=0.0.4\r\n"
				     "Content-Length: %zu\r\nConnection: close\r\n\r\n",
				     status, reason, length);
	if (write(client, header, (size_t)header_length) < 0)
		return;
	while (length > 0) {
		ssize_t n = write(client, body, length);
		if (n <= 0)
			return;
		body += n;
		length -= (size_t)n;
	}
}

void metrics_server_serve_one(int listen_fd, const struct metrics_sources *sources)
{
	struct timeval timeout = { .tv_sec = 0, .tv_usec = 500000 };
	char request[1024], method[8], path[256];
	ssize_t n;
	int client = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);

	if (client < 0)
		return;
	setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
	setsockopt(client, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
	n = read(client, request, sizeof(request) - 1);
	if (n <= 0) {
		close(client);
		return;
	}
	request[n] = '\0';
	if (sscanf(request, "%7s %255s", method, path) != 2 || strcmp(method, "GET") != 0) {
		respond(client, 405, "Method Not Allowed", "GET only\n", 9);
	} else if (strcmp(path, "/metrics") == 0) {
		struct text_buffer body = { 0 };
		metrics_render(sources, &body);
		respond(client, 200, "OK", body.data ? body.data : "", body.length);
		text_buffer_free(&body);
	} else if (strcmp(path, "/healthz") == 0) {
		respond(client, 200, "OK", "ok\n", 3);
	} else if (strcmp(path, "/readyz") == 0) {
		unsigned unreachable = sources->kube ? kube_client_unreachable_kinds(sources->kube) : 0;
		char body[160];
		int length;
		if (!sources->ready) {
			respond(client, 503, "Service Unavailable", "not ready\n", 10);
		} else if (unreachable) {
			/* Still enforcing: the datapath keeps the last known state, but what changed
			 * in the cluster since is not applied, and the operator must see that. */
			length = snprintf(body, sizeof(body),
					  "not ready: API server unreachable (%u resource streams "
					  "failing); enforcing the last known state\n",
					  unreachable);
			respond(client, 503, "Service Unavailable", body, (size_t)length);
		} else {
			respond(client, 200, "OK", "ready\n", 6);
		}
	} else {
		respond(client, 404, "Not Found", "not found\n", 10);
	}
	close(client);
}
