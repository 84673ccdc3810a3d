/* tcp_rr: TCP request/response latency, the figure a pod network adds to every RPC. The client
 * connects once (TCP_NODELAY, so no Nagle delay hides in the numbers), then sends a message of
 * SIZE bytes and waits for the same bytes back, ITERATIONS times, timing each round trip. It
 * prints one line a script can parse:
 *
 *   p50_us=... p99_us=... mean_us=... transactions_per_sec=...
 *
 * The server echoes whatever each connection sends, one forked process per connection, so it
 * needs no knowledge of the message size. Plain libc, so it runs in any network namespace.
 *
 *   tcp_rr server PORT
 *   tcp_rr client HOST PORT ITERATIONS [SIZE]   (SIZE defaults to 1 byte) */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
			"       tcp_rr client HOST PORT ITERATIONS [SIZE]\n");
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

static void echo_until_closed(int connection)
{
	static char buffer[MAX_MESSAGE_SIZE];
	int one = 1;

	setsockopt(connection, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	for (;;) {
		ssize_t got = read(connection, buffer, sizeof(buffer));

		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0 || write_all(connection, buffer, (size_t)got) < 0)
			return;
	}
}

static int serve(const char *port_text)
{
	long port = number_argument(port_text, "PORT", 1, 65535);
	struct sockaddr_in address = {.sin_family = AF_INET,
				      .sin_port = htons((uint16_t)port),
				      .sin_addr.s_addr = htonl(INADDR_ANY)};
	int one = 1;
	int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (listener < 0)
		die("socket: %s", strerror(errno));
	setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(listener, (struct sockaddr *)&address, sizeof(address)) < 0)
		die("bind 0.0.0.0:%ld: %s", port, strerror(errno));
	if (listen(listener, 64) < 0)
		die("listen on port %ld: %s", port, strerror(errno));
	/* Children reap themselves: the server runs until it is killed. */
	signal(SIGCHLD, SIG_IGN);
	for (;;) {
		int connection = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
		pid_t child;

		if (connection < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			die("accept on port %ld: %s", port, strerror(errno));
		}
		child = fork();
		if (child == 0) {
			close(listener);
			echo_until_closed(connection);
			_exit(0);
		}
		if (child < 0)
			fprintf(stderr, "tcp_rr: fork for a connection on port %ld: %s\n", port,
				strerror(errno));
		close(connection);
	}
}

/* ---- client ----------------------------------------------------------------------------- */

static int connect_to(const char *host, const char *port_text)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	struct timeval timeout = {.tv_sec = REPLY_TIMEOUT_SECONDS};
	struct addrinfo *found;
	int one = 1, err, saved_errno, fd;

	number_argument(port_text, "PORT", 1, 65535);
	err = getaddrinfo(host, port_text, &hints, &found);
	if (err)
		die("resolve %s:%s: %s", host, port_text, gai_strerror(err));
	fd = socket(found->ai_family, found->ai_socktype | SOCK_CLOEXEC, found->ai_protocol);
	if (fd < 0)
		die("socket: %s", strerror(errno));
	/* On Linux the send timeout bounds connect() too. */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
	if (connect(fd, found->ai_addr, found->ai_addrlen) < 0) {
		saved_errno = errno;
		die("connect %s:%s: %s", host, port_text,
		    saved_errno == EINPROGRESS ? "no answer within the timeout"
					       : strerror(saved_errno));
	}
	freeaddrinfo(found);
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0)
		die("set TCP_NODELAY: %s", strerror(errno));
	return fd;
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

static int run_client(const char *host, const char *port_text, const char *iterations_text,
		      const char *size_text)
{
	long iterations = number_argument(iterations_text, "ITERATIONS", 1, MAX_ITERATIONS);
	long size = size_text ? number_argument(size_text, "SIZE", 1, MAX_MESSAGE_SIZE) : 1;
	uint64_t *round_trips = calloc((size_t)iterations, sizeof(*round_trips));
	char *request = malloc((size_t)size), *response = malloc((size_t)size);
	uint64_t started, total_ns;
	double sum_ns = 0;
	int fd;

	if (!round_trips || !request || !response)
		die("out of memory for %ld samples", iterations);
	memset(request, 'r', (size_t)size);
	fd = connect_to(host, port_text);
	started = now_ns();
	for (long i = 0; i < iterations; i++) {
		uint64_t sent = now_ns();
		int got;

		if (write_all(fd, request, (size_t)size) < 0)
			die("send to %s:%s after %ld round trips: %s", host, port_text, i,
			    strerror(errno));
		got = read_exactly(fd, response, (size_t)size);
		if (got > 0)
			die("%s:%s closed the connection after %ld round trips", host, port_text,
			    i);
		if (got < 0)
			die("receive from %s:%s after %ld round trips: %s", host, port_text, i,
			    errno == EAGAIN ? "no reply within the timeout" : strerror(errno));
		round_trips[i] = now_ns() - sent;
	}
	total_ns = now_ns() - started;
	close(fd);

	for (long i = 0; i < iterations; i++)
		sum_ns += (double)round_trips[i];
	qsort(round_trips, (size_t)iterations, sizeof(*round_trips), compare_u64);
	printf("p50_us=%.1f p99_us=%.1f mean_us=%.1f transactions_per_sec=%.0f\n",
	       percentile(round_trips, iterations, 50) / 1000.0,
	       percentile(round_trips, iterations, 99) / 1000.0, sum_ns / iterations / 1000.0,
	       iterations / (total_ns / 1e9));
	free(round_trips);
	free(request);
	free(response);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "server") == 0)
		return serve(argv[2]);
	if ((argc == 5 || argc == 6) && strcmp(argv[1], "client") == 0)
		return run_client(argv[2], argv[3], argv[4], argc == 6 ? argv[5] : NULL);
	usage();
	return 2;
}
