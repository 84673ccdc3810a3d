/* A deliberately small HTTP/1.0 responder for Prometheus scrapes and health probes. Counters
 * are read from the per-CPU maps at scrape time and summed, so they are exact (principle 4). */
#include "metrics_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
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

struct text_buffer {
	char *data;
	size_t length;
	size_t capacity;
};

static void text_append(struct text_buffer *buffer, const char *format, ...)
	__attribute__((format(printf, 2, 3)));

static void text_append(struct text_buffer *buffer, const char *format, ...)
{
	va_list args;
	int needed;

	for (;;) {
		size_t room = buffer->capacity - buffer->length;
		va_start(args, format);
		needed = vsnprintf(buffer->data ? buffer->data + buffer->length : NULL,
				   buffer->data ? room : 0, format, args);
		va_end(args);
		if (needed < 0)
			return;
		if (buffer->data && (size_t)needed < room) {
			buffer->length += (size_t)needed;
			return;
		}
		size_t capacity = buffer->capacity ? buffer->capacity * 2 : 8192;
		while (capacity - buffer->length <= (size_t)needed)
			capacity *= 2;
		char *grown = realloc(buffer->data, capacity);
		if (!grown)
			return;
		buffer->data = grown;
		buffer->capacity = capacity;
	}
}

struct record_labels {
	struct text_buffer *body;
	struct datapath *datapath;
};

static void endpoint_series(const struct endpoint_record *record, void *opaque)
{
	struct record_labels *context = opaque;
	struct weir_endpoint_stats stats;

	if (datapath_endpoint_stats(context->datapath, record->endpoint_id, &stats) < 0)
		return;
	const char *format = "weir_endpoint_%s_total{endpoint_id=\"%u\",namespace=\"%s\","
			     "pod=\"%s\",direction=\"%s\"} %llu\n";
	text_append(context->body, format, "packets", record->endpoint_id, record->pod_namespace,
		    record->pod_name, "from_pod", (unsigned long long)stats.from_pod_packets);
	text_append(context->body, format, "bytes", record->endpoint_id, record->pod_namespace,
		    record->pod_name, "from_pod", (unsigned long long)stats.from_pod_bytes);
	text_append(context->body, format, "packets", record->endpoint_id, record->pod_namespace,
		    record->pod_name, "to_pod", (unsigned long long)stats.to_pod_packets);
	text_append(context->body, format, "bytes", record->endpoint_id, record->pod_namespace,
		    record->pod_name, "to_pod", (unsigned long long)stats.to_pod_bytes);
}

struct drop_labels {
	struct text_buffer *body;
	struct endpoint_record *records;
	size_t count;
};

static void remember_record(const struct endpoint_record *record, void *opaque)
{
	struct drop_labels *labels = opaque;
	struct endpoint_record *grown =
		realloc(labels->records, (labels->count + 1) * sizeof(*labels->records));

	if (!grown)
		return;
	labels->records = grown;
	labels->records[labels->count++] = *record;
}

static void drop_series(const struct weir_drop_key *key, uint64_t packets, uint64_t bytes,
			void *opaque)
{
	struct drop_labels *labels = opaque;
	const char *pod_namespace = "", *pod_name = "";
	const char *reason = key->reason < WEIR_DROP_REASON_MAX
				     ? weir_drop_reason_names[key->reason]
				     : "unknown";
	const char *direction = key->direction == WEIR_DIRECTION_INGRESS ? "ingress" : "egress";

	for (size_t i = 0; i < labels->count; i++) {
		if (key->endpoint_id && labels->records[i].endpoint_id == key->endpoint_id) {
			pod_namespace = labels->records[i].pod_namespace;
			pod_name = labels->records[i].pod_name;
		}
	}
	text_append(labels->body,
		    "weir_drops_total{endpoint_id=\"%u\",namespace=\"%s\",pod=\"%s\","
		    "reason=\"%s\",direction=\"%s\"} %llu\n",
		    key->endpoint_id, pod_namespace, pod_name, reason, direction,
		    (unsigned long long)packets);
	text_append(labels->body,
		    "weir_drop_bytes_total{endpoint_id=\"%u\",namespace=\"%s\",pod=\"%s\","
		    "reason=\"%s\",direction=\"%s\"} %llu\n",
		    key->endpoint_id, pod_namespace, pod_name, reason, direction,
		    (unsigned long long)bytes);
}

static void metrics_render(struct text_buffer *body, const char *bpffs, const char *state_dir)
{
	struct datapath datapath;
	char errbuf[256];

	text_append(body, "# HELP weir_datapath_packets_total Packets seen by the pod datapath, "
			  "by outcome.\n# TYPE weir_datapath_packets_total counter\n");
	if (datapath_open(&datapath, bpffs, errbuf, sizeof(errbuf)) < 0) {
		text_append(body, "weir_datapath_up 0\n");
		return;
	}
	for (int counter = 0; counter < WEIR_COUNTER_MAX; counter++) {
		uint64_t total = 0;
		if (datapath_counter_read(&datapath, (enum weir_counter)counter, &total) == 0)
			text_append(body, "weir_datapath_packets_total{counter=\"%s\"} %llu\n",
				    weir_counter_names[counter], (unsigned long long)total);
	}
	text_append(body, "# HELP weir_endpoint_packets_total Packets per pod endpoint.\n"
			  "# TYPE weir_endpoint_packets_total counter\n"
			  "# HELP weir_endpoint_bytes_total Bytes per pod endpoint.\n"
			  "# TYPE weir_endpoint_bytes_total counter\n");
	struct record_labels context = { body, &datapath };
	endpoint_record_for_each(state_dir, endpoint_series, &context);
	text_append(body, "# HELP weir_drops_total Dropped packets by pod, reason and direction.\n"
			  "# TYPE weir_drops_total counter\n"
			  "# HELP weir_drop_bytes_total Dropped bytes by pod, reason and direction.\n"
			  "# TYPE weir_drop_bytes_total counter\n");
	struct drop_labels labels = { body, NULL, 0 };
	endpoint_record_for_each(state_dir, remember_record, &labels);
	datapath_drop_for_each(&datapath, drop_series, &labels);
	free(labels.records);
	text_append(body, "weir_datapath_up 1\n");
	datapath_close(&datapath);
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

void metrics_server_serve_one(int listen_fd, const char *bpffs, const char *state_dir, bool ready)
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
		metrics_render(&body, bpffs, state_dir);
		respond(client, 200, "OK", body.data ? body.data : "", body.length);
		free(body.data);
	} else if (strcmp(path, "/healthz") == 0) {
		respond(client, 200, "OK", "ok\n", 3);
	} else if (strcmp(path, "/readyz") == 0) {
		if (ready)
			respond(client, 200, "OK", "ready\n", 6);
		else
			respond(client, 503, "Service Unavailable", "not ready\n", 10);
	} else {
		respond(client, 404, "Not Found", "not found\n", 10);
	}
	close(client);
}
