/* Talking to the agent over its control socket (<state-dir>/weir.sock): one request line in,
 * JSON lines out (agent/control_socket.c). */
#ifndef WEIR_WEIRCTL_AGENT_CLIENT_H
#define WEIR_WEIRCTL_AGENT_CLIENT_H

#include "weirctl.h"

/* Connects and sends request ("status", "flows", "flows-follow"). Returns the connected fd, or
 * -1 after telling the operator which socket was tried and how to start the agent. */
int agent_request(const struct weirctl *ctl, const char *request);
/* The whole answer (until the agent closes), NUL-terminated; NULL after an error message. */
char *agent_read_all(const struct weirctl *ctl, int fd);

#endif
