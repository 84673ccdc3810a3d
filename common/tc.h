/* Attaching the pod programs to TC on the host side of a pod's veth. */
#ifndef WEIR_CNI_TC_H
#define WEIR_CNI_TC_H

#include <stdbool.h>
#include <stddef.h>

/* Adds clsact and attaches from_pod on ingress, to_pod on egress (replacing what was there). */
int tc_attach_pod_programs(int ifindex, int from_pod_fd, int to_pod_fd, char *errbuf,
			   size_t errlen);
/* Adds clsact and attaches one program on ingress (the node's uplink). */
int tc_attach_ingress(int ifindex, int prog_fd, char *errbuf, size_t errlen);
/* Adds clsact and attaches one program on egress. */
int tc_attach_egress(int ifindex, int prog_fd, char *errbuf, size_t errlen);
/* True when the programs attached on ingress and egress are exactly the given ones. */
bool tc_pod_programs_attached(int ifindex, int from_pod_fd, int to_pod_fd, char *what,
			      size_t what_length);

#endif
