/* Socket-level load balancing: the cgroup connect/sendmsg/recvmsg/getpeername programs,
 * attached to the node's cgroup (--cgroup) through links pinned in the bpffs, so they stay
 * when the agent stops and are replaced in place when a new agent starts. */
#ifndef WEIR_AGENT_SOCKET_LB_H
#define WEIR_AGENT_SOCKET_LB_H

#include <stddef.h>

struct socket_lb_bpf;

/* Loads the programs (reusing the pinned maps) and attaches them to cgroup_path. */
struct socket_lb_bpf *socket_lb_attach(const char *bpffs, const char *cgroup_path, char *errbuf,
				       size_t errlen);
void socket_lb_close(struct socket_lb_bpf *skeleton);

#endif
