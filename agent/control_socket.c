/* The control socket. Requests, one line each:
 *   "status"        -> one JSON line {"ready":..,"nodeName":..,...}, then close
 *   "flows"         -> the flow history, one JSON line per flow, then close
 *   "flows-follow"  -> the history, then every new flow line while the client stays connected
 * Each client gets a short receive timeout so a silent client cannot stall the event loop; flow
 * clients are handed to the flow stream, which never blocks on them. */
#include "control_socket.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cJSON.h>

static int socket_path(const char *state_dir, struct sockaddr_un *address)
{
	memset(address, 0, sizeof(*address));
	address->sun_family = AF_UNIX;
	if ((size_t)snprintf(address->sun_path, sizeof(address->sun_path), "%s/%s", state_dir,
			     WEIR_CONTROL_SOCKET_NAME) >= sizeof(address->sun_path))
		return -ENAMETOOLONG;
	return 0;
}

int control_socket_listen(const char *state_dir, char *errbuf, size_t errlen)
{
	struct sockaddr_un address;
	int fd, err;

	if (socket_path(state_dir, &address) < 0) {
		snprintf(errbuf, errlen, "--state-dir %s is too long for a unix socket path",
			 state_dir);
		return -ENAMETOOLONG;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		err = -errno;
		snprintf(errbuf, errlen, "create control socket: %s", strerror(errno));
		return err;
	}
	unlink(address.sun_path); /* a previous agent's socket file */
	/* Root only: the socket answers about the node's datapath. */
	if (bind(fd, (struct sockaddr *)&address, sizeof(address)) < 0 ||
	    chmod(address.sun_path, 0600) < 0 || listen(fd, 64) < 0) {
		err = -errno;
		snprintf(errbuf, errlen, "listen on %s: %s", address.sun_path, strerror(errno));
		close(fd);
		return err;
	}
	return fd;
}

static void answer(int client, const char *request, const struct agent_status *status,
		   const struct flow_stream *flows)
{
	cJSON *reply = cJSON_CreateObject();
	char *text;

	if (strcmp(request, "status") == 0) {
		cJSON_AddBoolToObject(reply, "ready", status->ready);
		cJSON_AddBoolToObject(reply, "synced", status->synced);
		cJSON_AddStringToObject(reply, "nodeName", status->node_name);
		cJSON_AddStringToObject(reply, "podCIDR", status->pod_cidr);
		cJSON_AddStringToObject(reply, "bpffs", status->bpffs);
		cJSON_AddStringToObject(reply, "source", status->source);
		cJSON_AddStringToObject(reply, "resourceVersion", status->resource_version);
		cJSON_AddNumberToObject(reply, "startedAt", (double)status->started_at);
		cJSON_AddNumberToObject(reply, "appliedChanges", (double)status->applied_changes);
		cJSON_AddNumberToObject(reply, "failedPasses", (double)status->failed_passes);
		cJSON_AddStringToObject(reply, "apiServer", status->api_server);
		cJSON_AddStringToObject(reply, "lastError",
					status->last_error ? status->last_error : "");
		cJSON_AddNumberToObject(reply, "endpoints", (double)status->endpoints);
		cJSON_AddNumberToObject(reply, "isolatedEndpoints",
					(double)status->isolated_endpoints);
		cJSON_AddNumberToObject(reply, "identities", (double)status->identities);
		cJSON_AddNumberToObject(reply, "ipcacheEntries", (double)status->ipcache_entries);
		cJSON_AddNumberToObject(reply, "policyEntries", (double)status->policy_entries);
		cJSON_AddNumberToObject(reply, "policyRevision", status->policy_revision);
		if (flows) {
			struct flow_stream_stats stats;
			cJSON *stream = cJSON_AddObjectToObject(reply, "flowStream");
			flow_stream_stats(flows, &stats);
			cJSON_AddNumberToObject(stream, "bufferedLines", (double)stats.buffered_lines);
			cJSON_AddNumberToObject(stream, "readers", (double)stats.clients);
			cJSON_AddNumberToObject(stream, "published", (double)stats.published);
			cJSON_AddNumberToObject(stream, "droppedForSlowReaders",
						(double)stats.dropped);
		}
	} else if (strcmp(request, "flows") == 0 || strcmp(request, "flows-follow") == 0) {
		cJSON_AddStringToObject(reply, "error", "this agent keeps no flow stream");
	} else {
		cJSON_AddStringToObject(reply, "error", "unknown request");
		cJSON_AddStringToObject(reply, "request", request);
	}
	text = cJSON_PrintUnformatted(reply);
	cJSON_Delete(reply);
	if (text) {
		size_t length = strlen(text);
		if (write(client, text, length) != (ssize_t)length || write(client, "\n", 1) != 1) {
			/* the client went away; nothing to tell it */
		}
		cJSON_free(text);
	}
}

void control_socket_serve_one(int listen_fd, const struct agent_status *status,
			      struct flow_stream *flows)
{
	struct timeval timeout = { .tv_sec = 0, .tv_usec = 200000 };
	char request[256];
	size_t received = 0;
	int client = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);

	if (client < 0)
		return;
	setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
	while (received < sizeof(request) - 1) {
		ssize_t n = read(client, request + received, sizeof(request) - 1 - received);
		if (n <= 0)
			break;
		received += (size_t)n;
		if (memchr(request, '\n', received))
			break;
	}
	request[received] = '\0';
	request[strcspn(request, "\r\n")] = '\0';
	if (flows && (strcmp(request, "flows") == 0 || strcmp(request, "flows-follow") == 0)) {
		flow_stream_add_client(flows, client, strcmp(request, "flows-follow") == 0);
		return; /* the stream owns the client now */
	}
	answer(client, request, status, flows);
	close(client);
}

void control_socket_close(int listen_fd, const char *state_dir)
{
	struct sockaddr_un address;

	if (listen_fd >= 0)
		close(listen_fd);
	if (socket_path(state_dir, &address) == 0)
		unlink(address.sun_path);
}
