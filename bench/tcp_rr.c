/* tcp_rr: TCP request/response latency, the figure a pod network adds to every RPC, and its
 * connection-per-request form (netperf's TCP_CRR), the figure every new connection pays.
 *
 * client: connects once (TCP_NODELAY, so no Nagle delay hides in the numbers), then sends a
 * message of SIZE bytes and waits for the same bytes back, ITERATIONS times, timing each round
 * trip. It prints one line a script can parse:
 *
 *   p50_us=... p99_us=... mean_us=... transactions_per_sec=...
 *
 * crr: CONNECTIONS times a new connection: connect, SIZE bytes out, the same bytes back, close;
 * each timed from socket() to close() (the client closes first, as an HTTP/1.0 client does, so
 * the TIME_WAIT stays with the client). A twentieth of CONNECTIONS (at least 5) go first,
 * untimed, to warm caches and neighbour entries. It prints
 *
 *   p50_us=... p99_us=... mean_us=... connections_per_sec=...
 *
 * The server echoes whatever each connection sends, all connections in one process (epoll), so
 * accepting costs no fork and it needs no knowledge of the message size. Plain libc, so it runs
 * in any network namespace.
 *
 *   tcp_rr server PORT
 *   tcp_rr client HOST PORT ITERATIONS [SIZE]   (SIZE defaults to 1 byte)
 *   tcp_rr crr HOST PORT CONNECTIONS [SIZE] */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define MAX_MESSAGE_SIZE 65536
#define MAX_ITERATIONS	 10000000L
/* A lost path must end the run with an error, not hang the benchmark. */
#define REPLY_TIMEOUT_SECONDS 5

static void die(const char *format, ...)
{
	va_list arguments;

	fputs("tcp_rr: ", stderr);
	va_start(arguments, format);
	vfprintf(stderr, format, arguments);
	va_end(arguments);
	fputc('\n', stderr);
	exit(1);
}

static void usage(void)
{
	fprintf(stderr, "usage: tcp_rr server PORT\n"
			"       tcp_rr client HOST PORT ITERATIONS [SIZE]\n"
			"       tcp_rr crr HOST PORT CONNECTIONS [SIZE]\n");
	exit(2);
}

static long number_argument(const char *text, const char *what, long minimum, long maximum)
{
	char *end;
	long value;

	errno = 0;
	value = strtol(text, &end, 10);
	if (errno || end == text || *end || value < minimum || value > maximum)
		die("%s must be a number from %ld to %ld, got '%s'", what, minimum, maximum, text);
	return value;
}

static int write_all(int fd, const char *buffer, size_t length)
{
	while (length > 0) {
		ssize_t written = write(fd, buffer, length);

		if (written < 0 && errno == EINTR)
			continue;
		if (written <= 0)
			return -1;
		buffer += written;
		length -= (size_t)written;
	}
	return 0;
}

/* Returns 0 when all length bytes came, 1 at end of stream, -1 on error (errno set). */
static int read_exactly(int fd, char *buffer, size_t length)
{
	while (length > 0) {
		ssize_t got = read(fd, buffer, length);

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return -1;
		if (got == 0)
			return 1;
		buffer += got;
		length -= (size_t)got;
	}
	return 0;
}

/* ---- server ----------------------------------------------------------------------------- */

/* Echoes what one readable connection holds; returns -1 once the connection is done. */
static int echo_once(int connection)
{
	static char buffer[MAX_MESSAGE_SIZE];
	ssize_t got;

	do
		got = read(connection, buffer, sizeof(buffer));
	while (got < 0 && errno == EINTR);
	if (got <= 0 || write_all(connection, buffer, (size_t)got) < 0)
		return -1;
	return 0;
}

__attribute__((noreturn)) static void serve(const char *port_text)
{
	long port = number_argument(port_text, "PORT", 1, 65535);
	struct sockaddr_in address = {.sin_family = AF_INET,
				      .sin_port = htons((uint16_t)port),
				      .sin_addr.s_addr = htonl(INADDR_ANY)};
	struct epoll_event event = {.events = EPOLLIN}, ready[64];
	int one = 1;
	int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int poller = epoll_create1(EPOLL_CLOEXEC);

	if (listener < 0 || poller < 0)
		die("socket or epoll: %s", strerror(errno));
	setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(listener, (struct sockaddr *)&address, sizeof(address)) < 0)
		die("bind 0.0.0.0:%ld: %s", port, strerror(errno));
	if (listen(listener, 1024) < 0)
		die("listen on port %ld: %s", port, strerror(errno));
	event.data.fd = listener;
	if (epoll_ctl(poller, EPOLL_CTL_ADD, listener, &event) < 0)
		die("epoll_ctl: %s", strerror(errno));
	/* Runs until it is killed. Connections are blocking: a message is written back whole. */
	for (;;) {
		int count = epoll_wait(poller, ready, 64, -1);

		if (count < 0 && errno == EINTR)
			continue;
		if (count < 0)
			die("epoll_wait: %s", strerror(errno));
		for (int i = 0; i < count; i++) {
			int fd = ready[i].data.fd;

			if (fd != listener) {
				if (echo_once(fd) < 0)
					close(fd); /* also leaves the epoll set */
				continue;
			}
			fd = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
			if (fd < 0) {
				if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE ||
				    errno == ENFILE)
					continue;
				die("accept on port %ld: %s", port, strerror(errno));
			}
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
			event.data.fd = fd;
			if (epoll_ctl(poller, EPOLL_CTL_ADD, fd, &event) < 0)
				close(fd);
		}
	}
}

/* ---- client ----------------------------------------------------------------------------- */

struct peer {
	const char *host, *port_text;
	struct addrinfo *address;
};

static struct peer resolve(const char *host, const char *port_text)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	struct peer peer = {.host = host, .port_text = port_text};
	int err;

	number_argument(port_text, "PORT", 1, 65535);
	err = getaddrinfo(host, port_text, &hints, &peer.address);
	if (err)
		die("resolve %s:%s: %s", host, port_text, gai_strerror(err));
	return peer;
}

static int connect_to(const struct peer *peer)
{
	struct timeval timeout = {.tv_sec = REPLY_TIMEOUT_SECONDS};
	const struct addrinfo *found = peer->address;
	int one = 1, saved_errno, fd;

	fd = socket(found->ai_family, found->ai_socktype | SOCK_CLOEXEC, found->ai_protocol);
	if (fd < 0)
		die("socket: %s", strerror(errno));
	/* On Linux the send timeout bounds connect() too. */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
	if (connect(fd, found->ai_addr, found->ai_addrlen) < 0) {
		saved_errno = errno;
		die("connect %s:%s: %s", peer->host, peer->port_text,
		    saved_errno == EINPROGRESS ? "no answer within the timeout"
					       : strerror(saved_errno));
	}
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0)
		die("set TCP_NODELAY: %s", strerror(errno));
	return fd;
}

/* One message out and the same bytes back; dies naming what failed after `done` earlier ones. */
static void round_trip(int fd, const struct peer *peer, char *request, char *response, size_t size,
		       long done)
{
	int got;

	if (write_all(fd, request, size) < 0)
		die("send to %s:%s after %ld round trips: %s", peer->host, peer->port_text, done,
		    strerror(errno));
	got = read_exactly(fd, response, size);
	if (got > 0)
		die("%s:%s closed the connection after %ld round trips", peer->host,
		    peer->port_text, done);
	if (got < 0)
		die("receive from %s:%s after %ld round trips: %s", peer->host, peer->port_text,
		    done, errno == EAGAIN ? "no reply within the timeout" : strerror(errno));
}

static uint64_t now_ns(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

static int compare_u64(const void *left, const void *right)
{
	uint64_t a = *(const uint64_t *)left, b = *(const uint64_t *)right;

	return (a > b) - (a < b);
}

/* Nearest-rank percentile of sorted samples. */
static uint64_t percentile(const uint64_t *sorted, long count, int percent)
{
	long rank = (count * percent + 99) / 100;

	return sorted[rank > 0 ? rank - 1 : 0];
}

/* The one output line: percentiles and mean of the samples, and the rate over total_ns. */
static void print_summary(uint64_t *samples, long count, uint64_t total_ns, const char *rate_name)
{
	double sum_ns = 0;

	for (long i = 0; i < count; i++)
		sum_ns += (double)samples[i];
	qsort(samples, (size_t)count, sizeof(*samples), compare_u64);
	printf("p50_us=%.1f p99_us=%.1f mean_us=%.1f %s=%.0f\n",
	       percentile(samples, count, 50) / 1000.0, percentile(samples, count, 99) / 1000.0,
	       sum_ns / count / 1000.0, rate_name, count / (total_ns / 1e9));
}

static int run_client(const char *mode, const char *host, const char *port_text,
		      const char *count_text, const char *size_text)
{
	bool per_connection = strcmp(mode, "crr") == 0;
	long count = number_argument(count_text, per_connection ? "CONNECTIONS" : "ITERATIONS", 1,
				     MAX_ITERATIONS);
	long size = size_text ? number_argument(size_text, "SIZE", 1, MAX_MESSAGE_SIZE) : 1;
	long warmup = per_connection ? (count / 20 < 5 ? 5 : count / 20) : 0;
	uint64_t *samples = calloc((size_t)count, sizeof(*samples));
	char *request = malloc((size_t)size), *response = malloc((size_t)size);
	struct peer peer = resolve(host, port_text);
	uint64_t started = 0;
	int fd = -1;

	if (!samples || !request || !response)
		die("out of memory for %ld samples", count);
	memset(request, 'r', (size_t)size);
	if (!per_connection)
		fd = connect_to(&peer);
	for (long i = -warmup; i < count; i++) {
		uint64_t begun;

		if (i == 0)
			started = now_ns();
		begun = now_ns();
		if (per_connection)
			fd = connect_to(&peer);
		round_trip(fd, &peer, request, response, (size_t)size, i + warmup);
		if (per_connection)
			close(fd);
		if (i >= 0)
			samples[i] = now_ns() - begun;
	}
	if (!per_connection)
		close(fd);
	print_summary(samples, count, now_ns() - started,
		      per_connection ? "connections_per_sec" : "transactions_per_sec");
	freeaddrinfo(peer.address);
	free(samples);
	free(request);
	free(response);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "server") == 0)
		serve(argv[2]);
	if ((argc == 5 || argc == 6) &&
	    (strcmp(argv[1], "client") == 0 || strcmp(argv[1], "crr") == 0))
		return run_client(argv[1], argv[2], argv[3], argv[4], argc == 6 ? argv[5] : NULL);
	usage();
	return 2;
}
