/* The history is a ring of the last N lines (each its own allocation, newline included). Every
 * client has a byte queue: a snapshot client gets the history queued at once and is closed when
 * the queue is empty; a follower gets the history too and then every new line, but only while
 * its queue stays under FOLLOWER_QUEUE_BYTES. Queues drain through non-blocking sends, and the
 * stream's own epoll descriptor tells the event loop when a blocked client can take more, so the
 * agent never waits for a reader. */
#include "flow_stream.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define FOLLOWER_QUEUE_BYTES (1024 * 1024) /* past this, new lines are dropped for the follower */
#define MAX_LINE_BYTES	     (64 * 1024)   /* a flow line is a few hundred bytes; more is a bug */
#define MAX_CLIENTS	     64

struct stream_client {
	int fd;
	bool follow;
	bool waiting_to_write; /* EPOLLOUT registered: the socket was full */
	char *queue;
	size_t queue_start, queue_end, queue_capacity;
	uint64_t dropped_untold; /* lines dropped since the client was last told */
	struct stream_client *next;
};

struct flow_stream {
	char **lines; /* ring: lines[(first + i) % capacity], i < count */
	size_t capacity, first, count;
	struct stream_client *clients;
	size_t client_count;
	int epoll_fd;
	uint64_t published, dropped;
};

struct flow_stream *flow_stream_new(size_t capacity, char *errbuf, size_t errlen)
{
	struct flow_stream *stream = calloc(1, sizeof(*stream));

	if (!stream || capacity == 0 || !(stream->lines = calloc(capacity, sizeof(char *)))) {
		snprintf(errbuf, errlen, "allocate the flow stream (%zu lines): out of memory",
			 capacity);
		free(stream);
		return NULL;
	}
	stream->capacity = capacity;
	stream->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (stream->epoll_fd < 0) {
		snprintf(errbuf, errlen, "create the flow stream's epoll descriptor: %s",
			 strerror(errno));
		free(stream->lines);
		free(stream);
		return NULL;
	}
	return stream;
}

static void client_close(struct flow_stream *stream, struct stream_client *client)
{
	struct stream_client **link = &stream->clients;

	while (*link && *link != client)
		link = &(*link)->next;
	if (*link)
		*link = client->next;
	epoll_ctl(stream->epoll_fd, EPOLL_CTL_DEL, client->fd, NULL);
	close(client->fd);
	free(client->queue);
	free(client);
	stream->client_count--;
}

void flow_stream_free(struct flow_stream *stream)
{
	if (!stream)
		return;
	while (stream->clients)
		client_close(stream, stream->clients);
	for (size_t i = 0; i < stream->count; i++)
		free(stream->lines[(stream->first + i) % stream->capacity]);
	free(stream->lines);
	close(stream->epoll_fd);
	free(stream);
}

static int queue_append(struct stream_client *client, const char *bytes, size_t length)
{
	size_t pending = client->queue_end - client->queue_start;

	if (client->queue_start && client->queue_end + length > client->queue_capacity) {
		memmove(client->queue, client->queue + client->queue_start, pending);
		client->queue_start = 0;
		client->queue_end = pending;
	}
	if (client->queue_end + length > client->queue_capacity) {
		size_t capacity = client->queue_capacity ? client->queue_capacity : 4096;
		char *grown;
		while (capacity < client->queue_end + length)
			capacity *= 2;
		grown = realloc(client->queue, capacity);
		if (!grown)
			return -ENOMEM;
		client->queue = grown;
		client->queue_capacity = capacity;
	}
	memcpy(client->queue + client->queue_end, bytes, length);
	client->queue_end += length;
	return 0;
}

static void watch_for_writable(struct flow_stream *stream, struct stream_client *client, bool on)
{
	struct epoll_event event = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = client};

	if (client->waiting_to_write == on)
		return;
	client->waiting_to_write = on;
	epoll_ctl(stream->epoll_fd, EPOLL_CTL_MOD, client->fd, &event);
}

/* Sends what the socket takes now. Returns -1 when the client was closed (gone, or a snapshot
 * that is complete). */
static int client_flush(struct flow_stream *stream, struct stream_client *client)
{
	while (client->queue_start < client->queue_end) {
		ssize_t sent =
		    send(client->fd, client->queue + client->queue_start,
			 client->queue_end - client->queue_start, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (sent < 0 && errno == EINTR)
			continue;
		if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			watch_for_writable(stream, client, true);
			return 0;
		}
		if (sent <= 0) {
			client_close(stream, client);
			return -1;
		}
		client->queue_start += (size_t)sent;
	}
	client->queue_start = client->queue_end = 0;
	if (!client->follow) {
		/* Everything sent: the bytes wait in the reader's socket until it reads them. */
		client_close(stream, client);
		return -1;
	}
	watch_for_writable(stream, client, false);
	return 0;
}

/* Queues one line for a follower, or drops it when the follower is too far behind. */
static void follower_offer(struct flow_stream *stream, struct stream_client *client,
			   const char *line, size_t length)
{
	char notice[200];
	size_t notice_length = 0;
	size_t pending = client->queue_end - client->queue_start;

	if (client->dropped_untold)
		notice_length = (size_t)snprintf(
		    notice, sizeof(notice),
		    "{\"type\":\"lost\",\"lost\":%llu,\"reason\":\"this reader was too slow: "
		    "the agent dropped flow lines for it\"}\n",
		    (unsigned long long)client->dropped_untold);
	if (pending + notice_length + length > FOLLOWER_QUEUE_BYTES ||
	    (notice_length && queue_append(client, notice, notice_length) < 0) ||
	    queue_append(client, line, length) < 0) {
		client->dropped_untold++;
		stream->dropped++;
		return;
	}
	client->dropped_untold = 0;
}

void flow_stream_publish(void *context, const char *json_line)
{
	struct flow_stream *stream = context;
	size_t length = strcspn(json_line, "\n");
	char *line;
	struct stream_client *client, *next;

	if (length == 0 || length > MAX_LINE_BYTES)
		return;
	line = malloc(length + 2);
	if (!line)
		return;
	memcpy(line, json_line, length);
	line[length] = '\n';
	line[length + 1] = '\0'; /* the history is replayed with strlen */
	if (stream->count == stream->capacity) {
		free(stream->lines[stream->first]);
		stream->lines[stream->first] = line;
		stream->first = (stream->first + 1) % stream->capacity;
	} else {
		stream->lines[(stream->first + stream->count++) % stream->capacity] = line;
	}
	stream->published++;
	for (client = stream->clients; client; client = next) {
		next = client->next;
		if (!client->follow)
			continue;
		follower_offer(stream, client, line, length + 1);
		/* A client already waiting for room gets its bytes when epoll says so. */
		if (!client->waiting_to_write)
			client_flush(stream, client);
	}
}

/* A one-line JSON error for a client the stream cannot take; best effort, then closed. */
static void refuse(int client_fd, const char *why)
{
	char reply[256];
	int length = snprintf(reply, sizeof(reply), "{\"error\":\"%s\"}\n", why);

	if (send(client_fd, reply, (size_t)length, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
		/* the client went away; nothing to tell it */
	}
	close(client_fd);
}

void flow_stream_add_client(struct flow_stream *stream, int client_fd, bool follow)
{
	struct stream_client *client;
	struct epoll_event event = {.events = EPOLLIN};
	int flags = fcntl(client_fd, F_GETFL);

	if (stream->client_count >= MAX_CLIENTS) {
		refuse(client_fd, "too many flow readers connected; try again later");
		return;
	}
	client = calloc(1, sizeof(*client));
	if (!client || flags < 0 || fcntl(client_fd, F_SETFL, flags | O_NONBLOCK) < 0) {
		free(client);
		refuse(client_fd, "the agent cannot serve the flow stream now");
		return;
	}
	client->fd = client_fd;
	client->follow = follow;
	event.data.ptr = client;
	if (epoll_ctl(stream->epoll_fd, EPOLL_CTL_ADD, client_fd, &event) < 0) {
		free(client);
		refuse(client_fd, "the agent cannot serve the flow stream now");
		return;
	}
	client->next = stream->clients;
	stream->clients = client;
	stream->client_count++;
	/* The history goes in whole, whatever its size: it is bounded by the ring. */
	for (size_t i = 0; i < stream->count; i++) {
		const char *line = stream->lines[(stream->first + i) % stream->capacity];
		if (queue_append(client, line, strlen(line)) < 0) {
			client_close(stream, client);
			return;
		}
	}
	client_flush(stream, client);
}

int flow_stream_fd(const struct flow_stream *stream)
{
	return stream->epoll_fd;
}

void flow_stream_service(struct flow_stream *stream)
{
	struct epoll_event events[32];
	int ready;

	do {
		ready = epoll_wait(stream->epoll_fd, events, 32, 0);
		for (int i = 0; i < ready; i++) {
			struct stream_client *client = events[i].data.ptr;
			if (events[i].events & (EPOLLHUP | EPOLLERR)) {
				client_close(stream, client);
				continue;
			}
			if (events[i].events & EPOLLIN) {
				/* Readers send nothing after their request; EOF means gone. */
				char discard[256];
				ssize_t n = read(client->fd, discard, sizeof(discard));
				if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
					client_close(stream, client);
					continue;
				}
			}
			if (events[i].events & EPOLLOUT)
				client_flush(stream, client);
		}
	} while (ready == 32);
}

void flow_stream_stats(const struct flow_stream *stream, struct flow_stream_stats *stats)
{
	stats->buffered_lines = stream->count;
	stats->clients = stream->client_count;
	stats->published = stream->published;
	stats->dropped = stream->dropped;
}
