/* STATUS: ready when weir-agent answers "ready" on its control socket in stateDir. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "commands.h"

#define STATUS_TIMEOUT_MS 2000

int cmd_status(const struct cni_config *config, struct cni_error *err)
{
	struct sockaddr_un address = { .sun_family = AF_UNIX };
	char reply[512] = "";
	size_t received = 0;
	int fd;

	if (cni_version_compare(config->cni_version, "1.1.0") < 0)
		return cni_error_set(err, CNI_ERR_INCOMPATIBLE_VERSION,
				     "STATUS needs cniVersion 1.1.0, the config has %s",
				     config->cni_version);
	if ((size_t)snprintf(address.sun_path, sizeof(address.sun_path), "%s/weir.sock",
			     config->state_dir) >= sizeof(address.sun_path))
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, "stateDir %s is too long",
				     config->state_dir);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return cni_error_set(err, CNI_ERR_NOT_AVAILABLE, "socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&address, sizeof(address)) < 0) {
		int saved = errno;
		close(fd);
		return cni_error_set(err, CNI_ERR_NOT_AVAILABLE,
				     "weir-agent is not running: connect %s: %s", address.sun_path,
				     strerror(saved));
	}
	if (write(fd, "status\n", 7) != 7) {
		close(fd);
		return cni_error_set(err, CNI_ERR_NOT_AVAILABLE, "ask weir-agent at %s: %s",
				     address.sun_path, strerror(errno));
	}
	while (received < sizeof(reply) - 1) {
		struct pollfd wait = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&wait, 1, STATUS_TIMEOUT_MS) <= 0)
			break;
		n = read(fd, reply + received, sizeof(reply) - 1 - received);
		if (n <= 0)
			break;
		received += (size_t)n;
		if (memchr(reply, '\n', received))
			break;
	}
	close(fd);
	reply[received] = '\0';
	if (strstr(reply, "\"ready\":true"))
		return 0;
	reply[strcspn(reply, "\n")] = '\0';
	return cni_error_set(err, CNI_ERR_NOT_AVAILABLE, "weir-agent at %s is not ready: %s",
			     address.sun_path, *reply ? reply : "no answer");
}
