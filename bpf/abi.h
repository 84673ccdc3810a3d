/* The datapath ABI: map key/value layouts and counter names shared by the BPF programs and
 * every userspace part (agent, CNI, weirctl, tests). Layouts use fixed-width types with
 * explicit padding so both compilers agree byte for byte; bump WEIR_ABI_VERSION whenever a
 * layout changes, so an agent never reuses pinned maps it cannot read. */
#ifndef WEIR_ABI_H
#define WEIR_ABI_H

#include <linux/types.h>

#define WEIR_ABI_VERSION 1

/* Pin names under the bpffs root (each at most 15 characters, the kernel's object name limit). */
#define WEIR_MAP_ENDPOINTS "endpoints"
#define WEIR_MAP_ENDPOINT_STATS "endpoint_stats"
#define WEIR_MAP_METRICS "metrics"
#define WEIR_PROGRAMS_DIR "programs"
#define WEIR_PROG_FROM_POD "from_pod"
#define WEIR_PROG_TO_POD "to_pod"

#define WEIR_MAX_ENDPOINTS 65536

/* endpoints: local pod IPv4 address (network byte order) -> endpoint. */
struct weir_endpoint_key {
	__u32 ipv4;
};

#define WEIR_ENDPOINT_FLAG_LOCAL (1U << 0)

struct weir_endpoint {
	__u32 host_ifindex; /* the host side of the pod's veth */
	__u8 pod_mac[6];    /* the pod-side interface's MAC, for anti-spoofing */
	__u8 host_mac[6];   /* the host-side MAC, source of frames sent to the pod */
	__u32 endpoint_id;  /* node-unique, stable for the pod's lifetime */
	__u32 identity;     /* security identity; 0 until the agent assigns one */
	__u32 flags;        /* WEIR_ENDPOINT_FLAG_* */
	__u32 reserved;
};

/* endpoint_stats: endpoint id -> per-CPU traffic counters, seen from the host veth. */
struct weir_endpoint_stats {
	__u64 from_pod_packets;
	__u64 from_pod_bytes;
	__u64 to_pod_packets;
	__u64 to_pod_bytes;
};

/* metrics: per-CPU array of exact counters, one slot per weir_counter. */
enum weir_counter {
	WEIR_COUNTER_FROM_POD_PASSED = 0,
	WEIR_COUNTER_TO_POD_PASSED,
	WEIR_COUNTER_FROM_POD_UNKNOWN_ENDPOINT,
	WEIR_COUNTER_TO_POD_UNKNOWN_ENDPOINT,
	WEIR_COUNTER_NON_IPV4,
	WEIR_COUNTER_TRUNCATED,
	WEIR_COUNTER_MAX,
};

#ifndef __bpf__
/* The name table: userspace prints these names, never the numbers. */
static const char *const weir_counter_names[WEIR_COUNTER_MAX] = {
	[WEIR_COUNTER_FROM_POD_PASSED] = "from_pod_passed",
	[WEIR_COUNTER_TO_POD_PASSED] = "to_pod_passed",
	[WEIR_COUNTER_FROM_POD_UNKNOWN_ENDPOINT] = "from_pod_unknown_endpoint",
	[WEIR_COUNTER_TO_POD_UNKNOWN_ENDPOINT] = "to_pod_unknown_endpoint",
	[WEIR_COUNTER_NON_IPV4] = "non_ipv4",
	[WEIR_COUNTER_TRUNCATED] = "truncated",
};
#endif

#endif
