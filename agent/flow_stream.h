/* The flow stream: the agent keeps the last flow lines (the JSON the flow reader writes) in
 * memory and hands them to weirctl over the control socket, once ("flows") or followed
 * ("flows-follow": the history, then every new line while the client stays connected).
 * Clients never slow the agent down: every write is non-blocking, each client has a bounded
 * queue, and lines a slow follower cannot take are dropped for that follower only and counted
 * (it is told how many before its next line). */
#ifndef WEIR_AGENT_FLOW_STREAM_H
#define WEIR_AGENT_FLOW_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WEIR_FLOW_STREAM_LINES 4096 /* history kept for "flows" */

struct flow_stream;

struct flow_stream_stats {
	size_t buffered_lines; /* history held now */
	size_t clients;	       /* connected readers (followers and unfinished snapshots) */
	uint64_t published;    /* lines seen since the agent started */
	uint64_t dropped;      /* lines slow followers could not take, all followers together */
};

/* capacity: lines of history. NULL when out of memory (errbuf says so). */
struct flow_stream *flow_stream_new(size_t capacity, char *errbuf, size_t errlen);
/* Closes every client. */
void flow_stream_free(struct flow_stream *stream);

/* The flow reader's sink (flow_log_set_sink): keeps the line and sends it to every follower.
 * context is the struct flow_stream. */
void flow_stream_publish(void *context, const char *json_line);

/* Takes over a connected control-socket client: sends it the history and, when follow is set,
 * every later line. The fd is owned by the stream from here on (closed on error too). */
void flow_stream_add_client(struct flow_stream *stream, int client_fd, bool follow);

/* A descriptor that becomes readable when a client can take more bytes or went away; the event
 * loop then calls flow_stream_service. */
int flow_stream_fd(const struct flow_stream *stream);
void flow_stream_service(struct flow_stream *stream);

void flow_stream_stats(const struct flow_stream *stream, struct flow_stream_stats *stats);

#endif
