/* The datapath ABI: map key/value layouts, identities, drop reasons and counter names shared by
 * the BPF programs and every userspace part (agent, CNI, weirctl, tests). Layouts use
 * fixed-width types with explicit padding so both compilers agree byte for byte; bump
 * WEIR_ABI_VERSION whenever a layout changes, so an agent never reuses pinned maps it cannot
 * read. */
#ifndef WEIR_ABI_H
#define WEIR_ABI_H

#include <linux/types.h>

#define WEIR_ABI_VERSION 6

/* Pin names under the bpffs root (each at most 15 characters, the kernel's object name limit). */
#define WEIR_MAP_ENDPOINTS "endpoints"
#define WEIR_MAP_ENDPOINT_STATS "endpoint_stats"
#define WEIR_MAP_METRICS "metrics"
#define WEIR_MAP_IPCACHE "ipcache"
#define WEIR_MAP_POLICY "policy"
#define WEIR_MAP_ENDPOINT_POLICY "endpoint_policy"
#define WEIR_MAP_POLICY_REVISION "policy_revision"
#define WEIR_MAP_CT "ct"
#define WEIR_MAP_FRAGMENTS "fragments"
#define WEIR_MAP_DROPS "drops"
#define WEIR_MAP_EVENTS "events"
#define WEIR_MAP_SERVICES "services"
#define WEIR_MAP_BACKENDS "backends"
#define WEIR_MAP_MAGLEV "maglev"
#define WEIR_MAP_AFFINITY "affinity"
#define WEIR_MAP_SOCKET_REVNAT "socket_revnat"
#define WEIR_MAP_SNAT "snat"
#define WEIR_MAP_UPLINKS "uplinks"
#define WEIR_MAP_HTTP_REQUESTS "http_requests"
#define WEIR_MAP_HTTP_RULES "http_rules"
#define WEIR_MAP_DATAPATH_CONFIG "dp_config"
#define WEIR_MAP_HTTP_PORTS "http_ports"
/* One u32 at key 0: the WEIR_ABI_VERSION of whoever created the pins beside it. */
#define WEIR_MAP_ABI "abi"
#define WEIR_PROG_SOCKET_CONNECT "sock_connect4"
#define WEIR_PROG_SOCKET_SENDMSG "sock_sendmsg4"
#define WEIR_PROG_SOCKET_RECVMSG "sock_recvmsg4"
#define WEIR_PROG_SOCKET_GETPEERNAME "sock_getpeer4"
#define WEIR_PROGRAMS_DIR "programs"
#define WEIR_PROG_FROM_POD "from_pod"
#define WEIR_PROG_TO_POD "to_pod"
#define WEIR_PROG_FROM_UPLINK "from_uplink"
#define WEIR_PROG_TO_UPLINK "to_uplink"

#define WEIR_MAX_ENDPOINTS 65536
#define WEIR_MAX_IPCACHE 262144
#define WEIR_MAX_POLICY 262144
#define WEIR_MAX_CT 262144
#define WEIR_MAX_FRAGMENTS 8192
#define WEIR_MAX_DROPS 65536
#define WEIR_EVENTS_BYTES (1 << 20)
#define WEIR_MAX_SERVICES 65536
#define WEIR_MAX_BACKENDS 262144
#define WEIR_MAGLEV_SIZE 251 /* slots per service: prime, so every backend permutation is full */
#define WEIR_MAX_MAGLEV (1 << 24) /* room for every service port's table; allocated on use */

/* ---- identities ---------------------------------------------------------------------------- */

#define WEIR_IDENTITY_ANY 0	      /* policy wildcard; never a packet's identity */
#define WEIR_IDENTITY_HOST 1	      /* this node */
#define WEIR_IDENTITY_WORLD 2	      /* anything outside the cluster: the ipcache default */
#define WEIR_IDENTITY_REMOTE_NODE 3   /* another node of the cluster */
#define WEIR_IDENTITY_FIRST_CLUSTER 256 /* label-set identities of pods */
#define WEIR_IDENTITY_FIRST_CIDR 0x01000000 /* identities of ipBlock CIDRs */

/* ---- endpoints: local pod IPv4 address (network byte order) -> endpoint ---------------------- */

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

/* ---- ipcache: LPM trie, IPv4 prefix -> identity ------------------------------------------ */

struct weir_ipcache_key {
	__u32 prefix_length; /* LPM: bits of ipv4 that matter */
	__u32 ipv4;	     /* network byte order */
};

struct weir_ipcache_entry {
	__u32 identity;
	__u32 flags;
};

/* ---- policy -------------------------------------------------------------------------------- */

enum weir_direction {
	WEIR_DIRECTION_INGRESS = 0, /* traffic into the endpoint */
	WEIR_DIRECTION_EGRESS = 1,  /* traffic out of the endpoint */
};

/* policy: LPM trie. Everything up to the port is matched exactly; the port by prefix, so a
 * port range (NetworkPolicy endPort) is stored as the few prefixes that cover it and the
 * longest match is the narrowest rule. Lookups, first hit wins:
 *   1. {peer identity, protocol, port}   2. {any identity, protocol, port}
 *   3. {peer identity, any protocol}     4. {any identity, any protocol}
 * so a rule naming the peer beats a wildcard peer, and within one peer an exact port beats a
 * range beats any port: deterministic whatever order entries were written in. */
struct weir_policy_key {
	__u32 prefix_length; /* WEIR_POLICY_PREFIX_FIXED + bits of port that matter (0-16) */
	__u32 endpoint_id;
	__u32 identity;	 /* WEIR_IDENTITY_ANY for any peer */
	__u8 direction;	 /* enum weir_direction */
	__u8 protocol;	 /* IPPROTO_*, 0 for any protocol (then the port must be any) */
	__u16 port;	 /* network byte order */
} __attribute__((packed));

#define WEIR_POLICY_PREFIX_FIXED 80 /* endpoint_id + identity + direction + protocol, in bits */

enum weir_policy_verdict {
	WEIR_VERDICT_ALLOW = 1,
	WEIR_VERDICT_DENY = 2,
};

#define WEIR_POLICY_FLAG_HTTP (1U << 0) /* allowed at L4; each HTTP request is then checked
					 * against http_rules {rule_id, 0..n} */

struct weir_policy_entry {
	__u8 verdict; /* enum weir_policy_verdict */
	__u8 flags;   /* WEIR_POLICY_FLAG_* */
	__u8 reserved[2];
	__u32 rule_id; /* the agent's rule table maps it to namespace/name of the policy */
};

/* endpoint_policy: endpoint id -> whether policy selects it, per direction. A direction with a
 * non-zero isolation rule denies what no entry allows, and names that rule as the cause. */
struct weir_endpoint_policy {
	__u32 ingress_isolation_rule; /* 0: ingress not isolated, everything allowed */
	__u32 egress_isolation_rule;  /* 0: egress not isolated */
};

/* policy_revision: array of one __u32, bumped after every policy change. */

/* ---- conntrack ------------------------------------------------------------------------------ */

struct weir_ct_key {
	__u32 source;	   /* network byte order, as the connection's first packet had them */
	__u32 destination;
	__u16 source_port; /* ICMP echo: identifier; 0 for other ICMP */
	__u16 destination_port;
	__u8 protocol;
	__u8 reserved[3];
};

enum weir_ct_state {
	WEIR_CT_SYN_SENT = 1,
	WEIR_CT_ESTABLISHED = 2,
	WEIR_CT_CLOSING = 3,
	WEIR_CT_OPEN = 4, /* UDP, ICMP, SCTP: no state machine */
};

#define WEIR_CT_FLAG_SEEN_REPLY (1U << 0)
#define WEIR_CT_FLAG_SERVICE (1U << 1) /* a client->VIP entry: nat_* is the chosen backend,
					* rule_id its backend id */
#define WEIR_CT_FLAG_REVNAT (1U << 2)  /* a client->backend entry: replies get nat_* as source */
#define WEIR_CT_FLAG_HAIRPIN (1U << 3) /* the client is its own backend: its source was hidden
					* behind WEIR_HAIRPIN_ADDRESS */
#define WEIR_CT_FLAG_HTTP_RULES (1U << 4) /* rule_id names an HTTP rule set every request must pass */
#define WEIR_CT_FLAG_NOT_HTTP (1U << 5)	  /* first client payload was not HTTP/1.x: not looked at again */
#define WEIR_CT_FLAG_FORWARD_FIN (1U << 6)
#define WEIR_CT_FLAG_REPLY_FIN (1U << 7)

/* The source a pod sees when it reaches itself through a Service (169.254.42.1): without it
 * the pod would answer itself inside its own namespace, past the translation back. */
#define WEIR_HAIRPIN_ADDRESS 0xa9fe2a01u

struct weir_ct_entry {
	__u64 expires_ns;    /* bpf_ktime_get_ns() deadline */
	__u32 revision;	     /* policy revision the connection was judged under */
	__u32 rule_id;	     /* the rule that allowed it (0: no policy selected) */
	__u32 source_endpoint_id; /* 0 when the source is not local */
	__u32 destination_endpoint_id;
	__u8 state;	     /* enum weir_ct_state */
	__u8 flags;	     /* WEIR_CT_FLAG_* */
	__u16 nat_port;	     /* network byte order: backend port (SERVICE) or VIP port (REVNAT) */
	__u32 nat_address;   /* network byte order: backend (SERVICE) or VIP (REVNAT) */
	__u64 created_ns;
	__u64 forward_packets; /* counted where the entry is looked up; atomic adds */
	__u64 forward_bytes;
	__u64 reply_packets;
	__u64 reply_bytes;
	/* HTTP/1.x tracking of the client->server byte stream (TCP only). */
	__u64 http_request_ns;	/* when the outstanding request was seen; 0: none */
	__u32 http_next_sequence; /* where the next request must start (after headers + body) */
	__u8 http_state;	/* enum weir_http_state */
	__u8 flow_end_reported; /* 1 once a FLOW_END event went out (kernel on FIN/RST, or sweep) */
	__u8 http_synced;	/* http_next_sequence is known */
	__u8 reserved2;
};

enum weir_http_state {
	WEIR_HTTP_IDLE = 0,	/* no request seen yet, or the last one was answered */
	WEIR_HTTP_AWAITING_RESPONSE, /* a request went out; the next server payload answers it */
	WEIR_HTTP_DENIED,	/* a request was refused with 403: the server is being reset */
	WEIR_HTTP_SERVER_RESET, /* the server got its RST; the client is only acknowledged */
};

/* ---- services ------------------------------------------------------------------------------ */

/* services: {VIP, port, protocol} -> service. */
struct weir_service_key {
	__u32 address; /* network byte order */
	__u16 port;    /* network byte order */
	__u8 protocol;
	__u8 reserved;
};

#define WEIR_SERVICE_FLAG_AFFINITY (1U << 0) /* sessionAffinity: ClientIP */

struct weir_service {
	__u32 service_id;    /* names the Maglev table */
	__u32 backend_count; /* 0: the client is refused at once */
	__u32 flags;	     /* WEIR_SERVICE_FLAG_* */
	__u32 affinity_seconds;
};

/* affinity: {service id, client address} -> the client's backend while it keeps coming back. */
struct weir_affinity_key {
	__u32 service_id;
	__u32 client; /* network byte order */
};

struct weir_affinity {
	__u64 last_used_ns;
	__u32 backend_id;
	__u32 reserved;
};

/* backends: backend id -> address. */
struct weir_backend {
	__u32 address; /* network byte order */
	__u16 port;    /* network byte order */
	__u8 protocol;
	__u8 reserved;
};

/* maglev: {service id, slot} -> backend id; WEIR_MAGLEV_SIZE slots per service. */
struct weir_maglev_key {
	__u32 service_id;
	__u32 slot;
};

#define WEIR_CT_TIMEOUT_SYN_NS (60ULL * 1000000000ULL)
#define WEIR_CT_TIMEOUT_TCP_NS (21600ULL * 1000000000ULL)
#define WEIR_CT_TIMEOUT_CLOSING_NS (10ULL * 1000000000ULL)
#define WEIR_CT_TIMEOUT_UDP_NS (60ULL * 1000000000ULL)
#define WEIR_CT_TIMEOUT_OTHER_NS (30ULL * 1000000000ULL)

/* How long an entry lives after its last packet: the datapath sets the deadline with it, and
 * the agent's sweep works back from the deadline to the last activity. */
static inline __u64 weir_ct_timeout_ns(__u8 protocol, __u8 state)
{
	if (protocol == 6 /* TCP */) {
		if (state == WEIR_CT_SYN_SENT)
			return WEIR_CT_TIMEOUT_SYN_NS;
		if (state == WEIR_CT_CLOSING)
			return WEIR_CT_TIMEOUT_CLOSING_NS;
		return WEIR_CT_TIMEOUT_TCP_NS;
	}
	if (protocol == 17 /* UDP */ || protocol == 132 /* SCTP */)
		return WEIR_CT_TIMEOUT_UDP_NS;
	return WEIR_CT_TIMEOUT_OTHER_NS;
}

/* fragments: the first fragment's ports, so later fragments join its connection. */
struct weir_fragment_key {
	__u32 source;
	__u32 destination;
	__u16 ip_id;
	__u8 protocol;
	__u8 reserved;
};

struct weir_fragment_entry {
	__u16 source_port;
	__u16 destination_port;
	__u32 reserved;
};

/* socket_revnat: socket cookie -> the VIP it asked for, so getpeername and recvmsg show the
 * Service address, not the backend the socket-level balancer picked. */
struct weir_socket_revnat {
	__u32 vip;	/* network byte order */
	__u32 backend;	/* network byte order */
	__u16 vip_port; /* network byte order */
	__u16 backend_port;
	__u32 reserved;
};

/* ---- masquerading: pods -> outside the cluster ------------------------------------------- */

/* uplinks: ifindex -> the node address traffic leaving through it is masqueraded to. */
struct weir_uplink {
	__u32 address; /* network byte order */
	__u32 reserved;
};

/* snat: both directions of a masqueraded flow, in one map.
 *   egress key:  {pod address, pod port, peer address, peer port, protocol, EGRESS}
 *   ingress key: {node address, node port, peer address, peer port, protocol, INGRESS}
 * each pointing at the other side's address and port. */
struct weir_snat_key {
	__u32 local;  /* network byte order */
	__u32 peer;
	__u16 local_port;
	__u16 peer_port;
	__u8 protocol;
	__u8 direction; /* enum weir_direction */
	__u16 reserved;
};

struct weir_snat_entry {
	__u32 address; /* the translated local address */
	__u16 port;
	__u16 reserved;
	__u64 last_used_ns;
};

#define WEIR_SNAT_PORT_FIRST 32768
#define WEIR_SNAT_PORT_COUNT 28232 /* up to 60999, as Linux's default ephemeral range */
#define WEIR_MAX_SNAT 131072
#define WEIR_MAX_HTTP_REQUESTS 65536
#define WEIR_MAX_HTTP_RULES 65536

/* ---- drops and events ---------------------------------------------------------------------- */

enum weir_drop_reason {
	WEIR_DROP_NONE = 0,
	WEIR_DROP_POLICY_DENIED_INGRESS,
	WEIR_DROP_POLICY_DENIED_EGRESS,
	WEIR_DROP_POLICY_REVOKED,
	WEIR_DROP_SPOOFED_SOURCE_IP,
	WEIR_DROP_SPOOFED_SOURCE_MAC,
	WEIR_DROP_UNSUPPORTED_L3,
	WEIR_DROP_UNSUPPORTED_L4,
	WEIR_DROP_MALFORMED,
	WEIR_DROP_CT_INVALID,
	WEIR_DROP_FRAGMENT_WITHOUT_FIRST,
	WEIR_DROP_MAP_FULL,
	WEIR_DROP_UNKNOWN_ENDPOINT,
	WEIR_DROP_NO_SERVICE_BACKEND,
	WEIR_DROP_HTTP_DENIED,		 /* no HTTP matcher of the rule allows the request */
	WEIR_DROP_HTTP_SPLIT_REQUEST,	 /* request line or headers span segments: cannot judge */
	WEIR_DROP_HTTP_PIPELINED,	 /* a second request behind the first in one segment */
	WEIR_DROP_HTTP_NOT_HTTP1,	 /* HTTP/2, TLS or anything else on a port with HTTP rules */
	WEIR_DROP_HTTP_UNTRACKABLE_BODY, /* chunked or unparsable body length: next request unknown */
	WEIR_DROP_HTTP_UNSAFE_PATH,	 /* dot segments, encoded '.', '/' or '\\': a server could
					  * resolve it to a path the rules did not allow */
	WEIR_DROP_REASON_MAX,
};

/* drops: per-CPU hash {endpoint id, reason, direction} -> packets, bytes. */
struct weir_drop_key {
	__u32 endpoint_id; /* 0 when the packet could not be tied to an endpoint */
	__u8 reason;	   /* enum weir_drop_reason */
	__u8 direction;	   /* enum weir_direction, seen from the endpoint */
	__u16 reserved;
};

struct weir_drop_counter {
	__u64 packets;
	__u64 bytes;
};

enum weir_event_type {
	WEIR_EVENT_DROP = 1,
	WEIR_EVENT_NEW_FLOW = 2,
	WEIR_EVENT_REVOKED = 3,
	WEIR_EVENT_HTTP = 4,	 /* struct weir_http_event */
	WEIR_EVENT_FLOW_END = 5, /* struct weir_flow_end_event */
};

/* Every ring buffer record starts with {timestamp_ns, type}; the type says which struct it is
 * (DROP, NEW_FLOW, REVOKED: struct weir_event). */

/* events: ring buffer records. */
struct weir_event {
	__u64 timestamp_ns;
	__u8 type;	/* enum weir_event_type */
	__u8 reason;	/* enum weir_drop_reason */
	__u8 direction; /* enum weir_direction */
	__u8 protocol;
	__u32 endpoint_id;
	__u32 peer_identity;
	__u32 rule_id;
	__u32 source; /* network byte order */
	__u32 destination;
	__u16 source_port; /* network byte order */
	__u16 destination_port;
	__u32 length;
};

#define WEIR_EVENTS_PER_SECOND_PER_CPU 2000
#define WEIR_EVENTS_POLL_MS 100 /* the reader drains the ring at least this often */

/* ---- HTTP/1.x, parsed in the datapath ------------------------------------------------------ */

#define WEIR_HTTP_PATH_BYTES 64 /* longer paths are kept truncated (flagged) */
#define WEIR_HTTP_HOST_BYTES 32

enum weir_http_method {
	WEIR_HTTP_METHOD_NONE = 0,
	WEIR_HTTP_METHOD_GET,
	WEIR_HTTP_METHOD_HEAD,
	WEIR_HTTP_METHOD_POST,
	WEIR_HTTP_METHOD_PUT,
	WEIR_HTTP_METHOD_DELETE,
	WEIR_HTTP_METHOD_PATCH,
	WEIR_HTTP_METHOD_OPTIONS,
	WEIR_HTTP_METHOD_CONNECT,
	WEIR_HTTP_METHOD_TRACE,
	WEIR_HTTP_METHOD_MAX,
};

enum weir_http_outcome {
	WEIR_HTTP_ANSWERED = 1, /* request and the status line of its response */
	WEIR_HTTP_UNPARSED = 2, /* client payload that is not a request weir could read */
	WEIR_HTTP_REFUSED = 3,	/* L7 policy refused it (reason says why) */
	WEIR_HTTP_OUTCOME_MAX,
};

#define WEIR_HTTP_FLAG_PATH_TRUNCATED (1U << 0)
#define WEIR_HTTP_FLAG_HOST_TRUNCATED (1U << 1)

/* http_requests: LRU, CT key -> the request awaiting its response. */
struct weir_http_request {
	__u8 method;	     /* enum weir_http_method */
	__u8 flags;	     /* WEIR_HTTP_FLAG_* */
	__u8 path_length;    /* bytes kept in path */
	__u8 host_length;
	__u32 rule_id;	     /* the rule that let the connection in (0: none) */
	char path[WEIR_HTTP_PATH_BYTES];
	char host[WEIR_HTTP_HOST_BYTES];
};

struct weir_http_event {
	__u64 timestamp_ns;
	__u8 type;	/* WEIR_EVENT_HTTP */
	__u8 reason;	/* enum weir_drop_reason when refused, else 0 */
	__u8 outcome;	/* enum weir_http_outcome */
	__u8 protocol;	/* IPPROTO_TCP */
	__u32 client;	/* network byte order, as the server sees it (after Service translation) */
	__u32 server;
	__u16 client_port; /* network byte order */
	__u16 server_port;
	__u16 status;	   /* response status code; 0 when none */
	__u8 direction;	   /* enum weir_direction of endpoint_id */
	__u8 reserved;
	__u32 endpoint_id; /* the local endpoint that saw it (server when local, else client) */
	__u32 rule_id;	   /* L7: the rule set that judged it; else the L4 rule */
	__u64 latency_ns;  /* request to first response byte; 0 when unanswered */
	struct weir_http_request request;
};

enum weir_flow_end_cause {
	WEIR_FLOW_END_FIN = 1,
	WEIR_FLOW_END_RESET = 2,
	WEIR_FLOW_END_EXPIRED = 3, /* found expired by the agent's conntrack sweep */
	WEIR_FLOW_END_CAUSE_MAX,
};

/* A connection's summary when it ends. "forward" is the direction of its first packet. */
struct weir_flow_end_event {
	__u64 timestamp_ns;
	__u8 type;  /* WEIR_EVENT_FLOW_END */
	__u8 cause; /* enum weir_flow_end_cause */
	__u8 protocol;
	__u8 reserved;
	__u32 source; /* network byte order */
	__u32 destination;
	__u16 source_port; /* network byte order */
	__u16 destination_port;
	__u32 source_endpoint_id; /* 0 when not local */
	__u32 destination_endpoint_id;
	__u32 rule_id;
	__u64 duration_ns;
	__u64 forward_packets;
	__u64 forward_bytes;
	__u64 reply_packets;
	__u64 reply_bytes;
};

/* A connection's summary from its conntrack entry, written the same way by the datapath (on
 * FIN/RST) and the agent's sweep (on expiry); ended_ns: when it ended (its last activity). */
static inline void weir_flow_end_fill(struct weir_flow_end_event *event,
				      const struct weir_ct_key *key,
				      const struct weir_ct_entry *entry, __u8 cause, __u64 now_ns,
				      __u64 ended_ns)
{
	event->timestamp_ns = now_ns;
	event->type = WEIR_EVENT_FLOW_END;
	event->cause = cause;
	event->protocol = key->protocol;
	event->reserved = 0;
	event->source = key->source;
	event->destination = key->destination;
	event->source_port = key->source_port;
	event->destination_port = key->destination_port;
	event->source_endpoint_id = entry->source_endpoint_id;
	event->destination_endpoint_id = entry->destination_endpoint_id;
	event->rule_id = entry->rule_id;
	event->duration_ns =
		entry->created_ns && ended_ns > entry->created_ns ? ended_ns - entry->created_ns : 0;
	event->forward_packets = entry->forward_packets;
	event->forward_bytes = entry->forward_bytes;
	event->reply_packets = entry->reply_packets;
	event->reply_bytes = entry->reply_bytes;
}

/* http_rules: hash {rule id, index} -> one matcher; indexes run 0..n-1 without gaps. A request
 * passes when any matcher of its connection's rule set matches all of its given fields. */
#define WEIR_HTTP_RULES_PER_SET 16

#define WEIR_HTTP_MATCH_METHOD (1U << 0)
#define WEIR_HTTP_MATCH_PATH (1U << 1)
#define WEIR_HTTP_MATCH_PATH_PREFIX (1U << 2) /* path given as "prefix*" */
#define WEIR_HTTP_MATCH_HOST (1U << 3)

struct weir_http_rule_key {
	__u32 rule_id;
	__u32 index;
};

/* Paths compare as eight 64-bit words: (request & mask) == path. Exact paths also need equal
 * lengths; path and host are zero-padded, the host lowercase. */
struct weir_http_rule {
	__u8 match; /* WEIR_HTTP_MATCH_* */
	__u8 method;
	__u8 path_length;
	__u8 host_length;
	__u32 reserved;
	__u64 path[WEIR_HTTP_PATH_BYTES / 8];
	__u64 path_mask[WEIR_HTTP_PATH_BYTES / 8];
	__u64 host[WEIR_HTTP_HOST_BYTES / 8];
};

/* dp_config: array of one. All zero is the default: everything on. */
enum weir_http_visibility {
	WEIR_HTTP_VISIBILITY_ALL_PORTS = 0,
	WEIR_HTTP_VISIBILITY_LISTED_PORTS = 1, /* only ports present in http_ports */
	WEIR_HTTP_VISIBILITY_OFF = 2,
};

struct weir_datapath_config {
	__u32 http_visibility;	   /* enum weir_http_visibility; L7 rules are enforced regardless */
	__u32 flow_events_off;	   /* 1: no NEW_FLOW / FLOW_END / HTTP events (drops still reported) */
};

/* http_ports: hash, TCP port (network byte order, as __u32) -> 1. */

/* ---- metrics: per-CPU array of exact counters, one slot per weir_counter ------------------ */

enum weir_counter {
	WEIR_COUNTER_FROM_POD_PASSED = 0,
	WEIR_COUNTER_TO_POD_PASSED,
	WEIR_COUNTER_FROM_POD_UNKNOWN_ENDPOINT,
	WEIR_COUNTER_TO_POD_UNKNOWN_ENDPOINT,
	WEIR_COUNTER_NON_IPV4,
	WEIR_COUNTER_TRUNCATED,
	WEIR_COUNTER_REDIRECTED,
	WEIR_COUNTER_CT_NEW,
	WEIR_COUNTER_CT_ESTABLISHED,
	WEIR_COUNTER_CT_REPLY,
	WEIR_COUNTER_CT_RELATED,
	WEIR_COUNTER_CT_REJUDGED,
	WEIR_COUNTER_DROPPED,
	WEIR_COUNTER_EVENTS_SUPPRESSED,
	WEIR_COUNTER_EVENTS_LOST,
	WEIR_COUNTER_RESETS_SENT,
	WEIR_COUNTER_SERVICE_TRANSLATED,
	WEIR_COUNTER_SERVICE_REPLY_TRANSLATED,
	WEIR_COUNTER_SOCKET_TRANSLATED,
	WEIR_COUNTER_SOCKET_REFUSED,
	WEIR_COUNTER_MASQUERADED,
	WEIR_COUNTER_MASQUERADE_REPLY,
	WEIR_COUNTER_MASQUERADE_NO_PORT,
	WEIR_COUNTER_HTTP_REQUESTS,
	WEIR_COUNTER_HTTP_RESPONSES,
	WEIR_COUNTER_HTTP_UNPARSED,
	WEIR_COUNTER_HTTP_REFUSED,
	WEIR_COUNTER_FLOWS_ENDED,
	WEIR_COUNTER_FROM_POD_PASSED_BYTES, /* bytes, not packets: of from_pod_passed */
	WEIR_COUNTER_TO_POD_PASSED_BYTES,   /* bytes of to_pod_passed */
	WEIR_COUNTER_MAX,
};

#ifndef __bpf__
/* The name tables: userspace prints these names, never the numbers. */
static const char *const weir_counter_names[WEIR_COUNTER_MAX] = {
	[WEIR_COUNTER_FROM_POD_PASSED] = "from_pod_passed",
	[WEIR_COUNTER_TO_POD_PASSED] = "to_pod_passed",
	[WEIR_COUNTER_FROM_POD_UNKNOWN_ENDPOINT] = "from_pod_unknown_endpoint",
	[WEIR_COUNTER_TO_POD_UNKNOWN_ENDPOINT] = "to_pod_unknown_endpoint",
	[WEIR_COUNTER_NON_IPV4] = "non_ipv4",
	[WEIR_COUNTER_TRUNCATED] = "truncated",
	[WEIR_COUNTER_REDIRECTED] = "redirected_to_local_pod",
	[WEIR_COUNTER_CT_NEW] = "ct_new",
	[WEIR_COUNTER_CT_ESTABLISHED] = "ct_established",
	[WEIR_COUNTER_CT_REPLY] = "ct_reply",
	[WEIR_COUNTER_CT_RELATED] = "ct_related",
	[WEIR_COUNTER_CT_REJUDGED] = "ct_rejudged",
	[WEIR_COUNTER_DROPPED] = "dropped",
	[WEIR_COUNTER_EVENTS_SUPPRESSED] = "events_suppressed",
	[WEIR_COUNTER_EVENTS_LOST] = "events_lost",
	[WEIR_COUNTER_RESETS_SENT] = "resets_sent",
	[WEIR_COUNTER_SERVICE_TRANSLATED] = "service_translated",
	[WEIR_COUNTER_SERVICE_REPLY_TRANSLATED] = "service_reply_translated",
	[WEIR_COUNTER_SOCKET_TRANSLATED] = "socket_translated",
	[WEIR_COUNTER_SOCKET_REFUSED] = "socket_refused_no_backend",
	[WEIR_COUNTER_MASQUERADED] = "masqueraded",
	[WEIR_COUNTER_MASQUERADE_REPLY] = "masquerade_reply",
	[WEIR_COUNTER_MASQUERADE_NO_PORT] = "masquerade_no_port",
	[WEIR_COUNTER_HTTP_REQUESTS] = "http_requests",
	[WEIR_COUNTER_HTTP_RESPONSES] = "http_responses",
	[WEIR_COUNTER_HTTP_UNPARSED] = "http_unparsed",
	[WEIR_COUNTER_HTTP_REFUSED] = "http_refused",
	[WEIR_COUNTER_FLOWS_ENDED] = "flows_ended",
	[WEIR_COUNTER_FROM_POD_PASSED_BYTES] = "from_pod_passed_bytes",
	[WEIR_COUNTER_TO_POD_PASSED_BYTES] = "to_pod_passed_bytes",
};

static const char *const weir_drop_reason_names[WEIR_DROP_REASON_MAX] = {
	[WEIR_DROP_NONE] = "none",
	[WEIR_DROP_POLICY_DENIED_INGRESS] = "policy_denied_ingress",
	[WEIR_DROP_POLICY_DENIED_EGRESS] = "policy_denied_egress",
	[WEIR_DROP_POLICY_REVOKED] = "policy_revoked",
	[WEIR_DROP_SPOOFED_SOURCE_IP] = "spoofed_source_ip",
	[WEIR_DROP_SPOOFED_SOURCE_MAC] = "spoofed_source_mac",
	[WEIR_DROP_UNSUPPORTED_L3] = "unsupported_l3",
	[WEIR_DROP_UNSUPPORTED_L4] = "unsupported_l4",
	[WEIR_DROP_MALFORMED] = "malformed",
	[WEIR_DROP_CT_INVALID] = "ct_invalid",
	[WEIR_DROP_FRAGMENT_WITHOUT_FIRST] = "fragment_without_first",
	[WEIR_DROP_MAP_FULL] = "map_full",
	[WEIR_DROP_UNKNOWN_ENDPOINT] = "unknown_endpoint",
	[WEIR_DROP_NO_SERVICE_BACKEND] = "no_service_backend",
	[WEIR_DROP_HTTP_DENIED] = "http_denied",
	[WEIR_DROP_HTTP_SPLIT_REQUEST] = "http_split_request",
	[WEIR_DROP_HTTP_PIPELINED] = "http_pipelined",
	[WEIR_DROP_HTTP_NOT_HTTP1] = "http_not_http1",
	[WEIR_DROP_HTTP_UNTRACKABLE_BODY] = "http_untrackable_body",
	[WEIR_DROP_HTTP_UNSAFE_PATH] = "http_unsafe_path",
};

static const char *const weir_http_method_names[WEIR_HTTP_METHOD_MAX] = {
	[WEIR_HTTP_METHOD_NONE] = "",
	[WEIR_HTTP_METHOD_GET] = "GET",
	[WEIR_HTTP_METHOD_HEAD] = "HEAD",
	[WEIR_HTTP_METHOD_POST] = "POST",
	[WEIR_HTTP_METHOD_PUT] = "PUT",
	[WEIR_HTTP_METHOD_DELETE] = "DELETE",
	[WEIR_HTTP_METHOD_PATCH] = "PATCH",
	[WEIR_HTTP_METHOD_OPTIONS] = "OPTIONS",
	[WEIR_HTTP_METHOD_CONNECT] = "CONNECT",
	[WEIR_HTTP_METHOD_TRACE] = "TRACE",
};

static const char *const weir_http_outcome_names[WEIR_HTTP_OUTCOME_MAX] = {
	[WEIR_HTTP_ANSWERED] = "answered",
	[WEIR_HTTP_UNPARSED] = "unparsed",
	[WEIR_HTTP_REFUSED] = "refused",
};

static const char *const weir_flow_end_cause_names[WEIR_FLOW_END_CAUSE_MAX] = {
	[WEIR_FLOW_END_FIN] = "fin",
	[WEIR_FLOW_END_RESET] = "reset",
	[WEIR_FLOW_END_EXPIRED] = "expired",
};
#endif

#endif
