/* svc_connect: TCP connection setup latency, the cost a Service implementation adds to the first
 * packet of every connection (the SYN is where kube-proxy's iptables chains are walked; later
 * packets follow conntrack). The client times connect() alone, from the call to the completed
 * three-way handshake, COUNT times, each on a new socket closed at once with a reset
 * (SO_LINGER 0: one packet, no FIN exchange and no TIME_WAIT left behind to disturb the next
 * connect). A few warm-up connections come first and are not counted. With FIRST_SOURCE_PORT,
 * connection i (warm-ups included) is bound to source port FIRST_SOURCE_PORT + i, so that every
 * timed connection is a new flow: a 4-tuple still remembered by a conntrack (weir's or
 * netfilter's) from an earlier run would take a shorter path, and mix two costs in one figure.
 * It prints one line:
 *
 *   p50_us=... p99_us=... mean_us=... min_us=... connects=...
 *
 * The handshake completes in the kernel, inside the client's connect(): the SYN, SYN-ACK and
 * ACK cross veths, whose receiving side runs in softirq on the sending CPU, so the server
 * process is never on the timed path. So that it never wakes up for a connection either (a
 * wakeup means scheduling work, or an inter-processor interrupt, in the middle of a timed
 * connect), the server does not sleep in accept(): it drains the accept queue without blocking
 * every millisecond, closing what it finds (by then the client has reset it: nothing is sent).
 *
 *   svc_connect server PORT
 *   svc_connect client HOST PORT COUNT [FIRST_SOURCE_PORT] */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
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

#define MAX_COUNT 1000000L
#define CONNECT_TIMEOUT_SECONDS 5
#define ACCEPT_PAUSE_NS 1000000 /* 1 ms between drains of the accept queue */

static void die(const char *format, ...)
{
	va_list arguments;

	fputs("svc_connect: ", stderr);
	va_start(arguments, format);
	vfprintf(stderr, format, arguments);
	va_end(arguments);
	fputc('\n', stderr);
	exit(1);
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

static _Noreturn void serve(const char *port_text)
{
	long port = number_argument(port_text, "PORT", 1, 65535);
	struct sockaddr_in address = { .sin_family = AF_INET,
				       .sin_port = htons((uint16_t)port),
				       .sin_addr.s_addr = htonl(INADDR_ANY) };
	const struct timespec pause = { .tv_nsec = ACCEPT_PAUSE_NS };
	int one = 1;
	int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (listener < 0)
		die("socket: %s", strerror(errno));
	setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(listener, (struct sockaddr *)&address, sizeof(address)) < 0)
		die("bind 0.0.0.0:%ld: %s", port, strerror(errno));
	/* The backlog holds what arrives between two drains (the kernel caps it at somaxconn). */
	if (listen(listener, 4096) < 0)
		die("listen on port %ld: %s", port, strerror(errno));
	for (;;) {
		int connection = accept4(listener, NULL, NULL, SOCK_CLOEXEC);

		if (connection >= 0) {
			close(connection);
			continue;
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			nanosleep(&pause, NULL);
		else if (errno != EINTR && errno != ECONNABORTED && errno != EMFILE &&
			 errno != ENFILE)
			die("accept on port %ld: %s", port, strerror(errno));
	}
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

/* Nearest-rank percentile of sorted samples (as tcp_rr computes it). */
static uint64_t percentile(const uint64_t *sorted, long count, int percent)
{
	long rank = (count * percent + 99) / 100;

	return sorted[rank > 0 ? rank - 1 : 0];
}

/* One connection: returns the connect() time in ns. */
static uint64_t connect_once(const struct sockaddr_in *address, const char *host, long port,
			     long source_port, long done)
{
	struct timeval timeout = { .tv_sec = CONNECT_TIMEOUT_SECONDS };
	struct linger reset = { .l_onoff = 1, .l_linger = 0 };
	uint64_t started, elapsed;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		die("socket: %s", strerror(errno));
	/* On Linux the send timeout bounds connect(). */
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
	if (source_port) {
		struct sockaddr_in source = { .sin_family = AF_INET,
					      .sin_port = htons((uint16_t)source_port) };
		if (bind(fd, (const struct sockaddr *)&source, sizeof(source)) < 0)
			die("bind source port %ld: %s", source_port, strerror(errno));
	}
	started = now_ns();
	if (connect(fd, (const struct sockaddr *)address, sizeof(*address)) < 0) {
		int saved = errno;
		die("connect %s:%ld after %ld connections: %s", host, port, done,
		    saved == EINPROGRESS ? "no answer within the timeout" : strerror(saved));
	}
	elapsed = now_ns() - started;
	close(fd);
	return elapsed;
}

static int run_client(const char *host, const char *port_text, const char *count_text,
		      const char *first_source_port_text)
{
	long port = number_argument(port_text, "PORT", 1, 65535);
	long count = number_argument(count_text, "COUNT", 1, MAX_COUNT);
	long warmup = count / 20 < 5 ? 5 : count / 20;
	long first_source_port = 0;
	struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	uint64_t *samples = calloc((size_t)count, sizeof(*samples));
	double sum_ns = 0;

	if (!samples)
		die("out of memory for %ld samples", count);
	if (inet_pton(AF_INET, host, &address.sin_addr) != 1)
		die("HOST must be an IPv4 address, got '%s'", host);
	if (first_source_port_text) {
		first_source_port = number_argument(first_source_port_text, "FIRST_SOURCE_PORT", 1,
						    65535);
		if (first_source_port + warmup + count - 1 > 65535)
			die("FIRST_SOURCE_PORT %ld leaves no room for %ld connections", first_source_port,
			    warmup + count);
	}
	for (long i = 0; i < warmup; i++)
		connect_once(&address, host, port, first_source_port ? first_source_port + i : 0, i);
	for (long i = 0; i < count; i++) {
		long source_port = first_source_port ? first_source_port + warmup + i : 0;
		samples[i] = connect_once(&address, host, port, source_port, warmup + i);
		sum_ns += (double)samples[i];
	}
	qsort(samples, (size_t)count, sizeof(*samples), compare_u64);
	printf("p50_us=%.1f p99_us=%.1f mean_us=%.1f min_us=%.1f connects=%ld\n",
	       percentile(samples, count, 50) / 1000.0, percentile(samples, count, 99) / 1000.0,
	       sum_ns / count / 1000.0, samples[0] / 1000.0, count);
	free(samples);
	return 0;
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc == 3 && strcmp(argv[1], "server") == 0)
		serve(argv[2]);
	if ((argc == 5 || argc == 6) && strcmp(argv[1], "client") == 0)
		return run_client(argv[2], argv[3], argv[4], argc == 6 ? argv[5] : NULL);
	fprintf(stderr, "usage: svc_connect server PORT\n"
			"       svc_connect client HOST PORT COUNT [FIRST_SOURCE_PORT]\n");
	return 2;
}
