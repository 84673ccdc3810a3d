/* The agent's unix socket in --state-dir: one request line in, JSON lines out. weir-cni's
 * STATUS and weirctl ask here whether the agent is ready; weirctl reads flows here. */
#ifndef WEIR_AGENT_CONTROL_SOCKET_H
#define WEIR_AGENT_CONTROL_SOCKET_H

#include <stdbool.h>
#include <stddef.h>

#include "flow_stream.h"

#define WEIR_CONTROL_SOCKET_NAME "weir.sock"

struct agent_status {
	bool ready;
	bool synced;		/* the object source delivered a full view */
	const char *node_name;
	const char *pod_cidr;	/* "" until known */
	const char *bpffs;
	const char *source;	/* "kubernetes" or "standalone" */
	const char *resource_version; /* newest seen from the API, "" otherwise */
	long started_at;
	unsigned long applied_changes;
	size_t endpoints, isolated_endpoints, identities, ipcache_entries, policy_entries;
	unsigned policy_revision;
	unsigned long failed_passes; /* passes that could not write everything (retried) */
	const char *last_error;	     /* why the newest of them failed; "" when none did */
	const char *api_server;	     /* "reachable", "unreachable" (fail static) or "none" */
};

/* Listens on <state_dir>/weir.sock, replacing a stale socket file. Returns the fd or -errno. */
int control_socket_listen(const char *state_dir, char *errbuf, size_t errlen);
/* Accepts one client and answers it (requests are tiny, so this does not block the loop). Flow
 * requests hand the client to flows (NULL: answered with an error). */
void control_socket_serve_one(int listen_fd, const struct agent_status *status,
			      struct flow_stream *flows);
void control_socket_close(int listen_fd, const char *state_dir);

#endif
