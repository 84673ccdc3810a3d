/* A missing socket file, a refused connection and a socket without permission all end in the
 * same hint: the operator has to start (or reach) the agent, whatever the errno. */
#include "agent_client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "output.h"

int agent_request(const struct weirctl *ctl, const char *request)
{
	struct sockaddr_un address = {.sun_family = AF_UNIX};
	size_t length = strlen(request);
	char line[64];
	int fd, error;

	if ((size_t)snprintf(address.sun_path, sizeof(address.sun_path), "%s/weir.sock",
			     ctl->state_dir) >= sizeof(address.sun_path)) {
		fprintf(stderr, "weirctl: --state-dir %s is too long for a unix socket path\n",
			ctl->state_dir);
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&address, sizeof(address)) < 0) {
		error = errno;
		if (fd >= 0)
			close(fd);
		output_agent_error(ctl, address.sun_path, error);
		return -1;
	}
	snprintf(line, sizeof(line), "%s\n", request);
	if (send(fd, line, length + 1, MSG_NOSIGNAL) != (ssize_t)(length + 1)) {
		error = errno;
		close(fd);
		output_agent_error(ctl, address.sun_path, error);
		return -1;
	}
	return fd;
}

char *agent_read_all(const struct weirctl *ctl, int fd)
{
	size_t used = 0, capacity = 4096;
	char *reply = malloc(capacity);

	for (;;) {
		ssize_t n;
		if (!reply) {
			fprintf(stderr, "weirctl: read the agent's answer: out of memory\n");
			return NULL;
		}
		n = read(fd, reply + used, capacity - used - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "weirctl: read the answer of %s/weir.sock: %s\n",
				ctl->state_dir, strerror(errno));
			free(reply);
			return NULL;
		}
		if (n == 0)
			break;
		used += (size_t)n;
		if (used + 1 == capacity) {
			char *grown = realloc(reply, capacity * 2);
			if (!grown)
				free(reply);
			reply = grown;
			capacity *= 2;
		}
	}
	reply[used] = '\0';
	if (used == 0) {
		fprintf(stderr, "weirctl: %s/weir.sock closed without an answer\n", ctl->state_dir);
		free(reply);
		return NULL;
	}
	return reply;
}
