/* datapath_bench: what weir's TC programs cost per packet. The real from_pod and to_pod
 * programs run unmodified on crafted frames through BPF_PROG_TEST_RUN and the kernel times
 * them, so the numbers are the programs' own cost, free of syscall and scheduler noise. The
 * object is loaded unpinned, as the BPF tests load it, so nothing is left under /sys/fs/bpf.
 *
 * Every scenario first proves that its packets take the path its row names -- the verdict of
 * every run and the one counter that path bumps, exactly once per packet -- and the program
 * exits non-zero otherwise: a number measured on another path is worse than no number.
 *
 * How a new flow is timed: BPF_PROG_TEST_RUN repeats one packet, and after the first run
 * conntrack knows its flow, so repeats would time the established path; and an entry cannot
 * be deleted between repeats. New flows are therefore timed one call at a time (repeat = 1),
 * each call a frame from a source port never used before, and the median of the durations the
 * kernel reports per call is taken. A single call's duration also holds the timer's own clock
 * read, so those rows are compared with the established packet timed the same way (row 5),
 * not with the repeat-averaged rows. */
#include <errno.h>
#include <linux/pkt_cls.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "datapath.h"
#include "packet.h"
#include "pod.skel.h"

#define REPEATS	       1000000 /* per repeat-averaged row: about 0.1 s of kernel time */
#define WARMUP_REPEATS 1000    /* checked, untimed: caches and branch predictors warm */
#define CALLS_PER_ROW  2000    /* per single-call row: enough for a stable median */
#define POLICY_RULES   1000

/* BPF_PROG_TEST_RUN hands the skb to lo, so the endpoints sit "behind" ifindex 1. */
#define TEST_IFINDEX 1

#define POD_A	   0x0a000002u /* 10.0.0.2 */
#define POD_B	   0x0a000003u /* 10.0.0.3 */
#define ENDPOINT_A 2
#define ENDPOINT_B 3
#define IDENTITY_A 300
#define IDENTITY_B 301
/* Remote peers: 10.1.1.0 + i has identity 1000 + i, the identity rule i allows on port 8000 + i. */
#define PEERS_BASE	    0x0a010100u
#define FIRST_PEER_IDENTITY 1000
#define FIRST_RULE_PORT	    8000
#define PEER_INDEX	    500 /* the peer the scenarios talk to: identity 1500, port 8500 */
#define PEER		    (PEERS_BASE + PEER_INDEX)
#define PEER_IDENTITY	    (FIRST_PEER_IDENTITY + PEER_INDEX)
#define PEER_RULE_PORT	    (FIRST_RULE_PORT + PEER_INDEX)
/* 10.2.0.5: in no ipcache entry, so its identity is world, which no rule names. */
#define STRANGER	    0x0a020005u
#define SERVER_PORT	    80
#define CLIENT_PORT	    40000
#define FIRST_NEW_FLOW_PORT 10000

#define RULE_ISOLATE_INGRESS 90
#define RULE_ISOLATE_EGRESS  91
#define FIRST_ALLOW_RULE     100

#define TCP_SYN 0x02
#define TCP_ACK 0x10

static const uint8_t MAC_A[6] = {0x02, 0xaa, 0, 0, 0, 0x02};
static const uint8_t MAC_B[6] = {0x02, 0xbb, 0, 0, 0, 0x03};
static const uint8_t HOST_MAC_A[6] = {0x02, 0xee, 0, 0, 0, 0x02};
static const uint8_t HOST_MAC_B[6] = {0x02, 0xee, 0, 0, 0, 0x03};

struct bench {
	struct pod_bpf *skeleton;
	struct datapath datapath;
	int from_pod_fd;
	int to_pod_fd;
};

struct frame {
	uint8_t bytes[128];
	uint32_t length;
};

enum program { FROM_POD, TO_POD };

/* Where a packet must go: its verdict, and the counter that path bumps once per packet (or,
 * for a drop, the drop counter of this endpoint, reason and direction). */
struct path {
	const char *what;
	enum program program;
	int verdict;
	enum weir_counter counter;
	uint8_t drop_reason; /* WEIR_DROP_NONE: the counter above tells the path */
	uint32_t drop_endpoint_id;
	uint8_t drop_direction;
};

enum timing { TIMED_REPEATED, TIMED_PER_CALL };

struct row {
	const char *scenario;
	const char *program;
	int verdict;
	enum timing timing;
	uint32_t samples;	/* repeats, or calls */
	double nanoseconds;	/* average over the repeats, or median of the calls */
	double p90_nanoseconds; /* single-call rows only */
};

enum row_index {
	ROW_ESTABLISHED_OUT,
	ROW_ESTABLISHED_REPLY,
	ROW_DENIED_NO_RULES,
	ROW_DENIED_BY_1000_RULES,
	ROW_ESTABLISHED_OUT_PER_CALL,
	ROW_NEW_FLOW_WITH_EVENT,
	ROW_NEW_FLOW_EVENTS_OVER_BUDGET,
	ROW_POD_TO_POD_PER_CALL,
	ROW_COUNT,
};

static struct row rows[ROW_COUNT];

static int bench_error(const char *format, ...)
{
	va_list arguments;

	fputs("datapath_bench: ", stderr);
	va_start(arguments, format);
	vfprintf(stderr, format, arguments);
	va_end(arguments);
	fputc('\n', stderr);
	return -1;
}

static int libbpf_warnings_only(enum libbpf_print_level level, const char *format,
				va_list arguments)
{
	return level > LIBBPF_WARN ? 0 : vfprintf(stderr, format, arguments);
}

static const char *verdict_name(int verdict)
{
	switch (verdict) {
	case TC_ACT_OK: return "OK";
	case TC_ACT_SHOT: return "SHOT";
	case TC_ACT_REDIRECT: return "REDIRECT";
	default: return "other";
	}
}

/* ---- loading and map contents --------------------------------------------------------- */

static void bench_unload(struct bench *bench)
{
	if (bench->skeleton)
		pod_bpf__destroy(bench->skeleton);
	bench->skeleton = NULL;
}

/* A freshly loaded datapath with nothing in its maps, so no scenario inherits state. */
static int bench_load(struct bench *bench)
{
	struct bpf_map *map;
	int err;

	bench_unload(bench);
	bench->skeleton = pod_bpf__open();
	if (!bench->skeleton)
		return bench_error("open the datapath object: %s", strerror(errno));
	/* Unpinned: the benchmark must not touch (or collide with) a node's pinned maps. */
	bpf_object__for_each_map(map, bench->skeleton->obj) bpf_map__set_pin_path(map, NULL);
	err = pod_bpf__load(bench->skeleton);
	if (err < 0)
		return bench_error("load the datapath programs and maps: %s (needs root)",
				   strerror(-err));
	datapath_init(&bench->datapath);
	bench->datapath.endpoints_fd = bpf_map__fd(bench->skeleton->maps.endpoints);
	bench->datapath.endpoint_stats_fd = bpf_map__fd(bench->skeleton->maps.endpoint_stats);
	bench->datapath.metrics_fd = bpf_map__fd(bench->skeleton->maps.metrics);
	bench->datapath.ipcache_fd = bpf_map__fd(bench->skeleton->maps.ipcache);
	bench->datapath.policy_fd = bpf_map__fd(bench->skeleton->maps.policy);
	bench->datapath.endpoint_policy_fd = bpf_map__fd(bench->skeleton->maps.endpoint_policy);
	bench->datapath.policy_revision_fd = bpf_map__fd(bench->skeleton->maps.policy_revision);
	bench->datapath.ct_fd = bpf_map__fd(bench->skeleton->maps.ct);
	bench->datapath.fragments_fd = bpf_map__fd(bench->skeleton->maps.fragments);
	bench->datapath.drops_fd = bpf_map__fd(bench->skeleton->maps.drops);
	bench->from_pod_fd = bpf_program__fd(bench->skeleton->progs.from_pod);
	bench->to_pod_fd = bpf_program__fd(bench->skeleton->progs.to_pod);
	return 0;
}

/* A local pod behind TEST_IFINDEX with its identity in the ipcache. */
static int pod_add(struct bench *bench, uint32_t address, uint32_t endpoint_id, uint32_t identity,
		   const uint8_t *pod_mac, const uint8_t *host_mac)
{
	struct weir_endpoint endpoint = {.host_ifindex = TEST_IFINDEX,
					 .endpoint_id = endpoint_id,
					 .identity = identity,
					 .flags = WEIR_ENDPOINT_FLAG_LOCAL};
	char errbuf[256];

	memcpy(endpoint.pod_mac, pod_mac, 6);
	memcpy(endpoint.host_mac, host_mac, 6);
	if (datapath_endpoint_upsert(&bench->datapath, address, &endpoint, errbuf, sizeof(errbuf)) <
		0 ||
	    datapath_ipcache_upsert(&bench->datapath, address, 32, identity, errbuf,
				    sizeof(errbuf)) < 0)
		return bench_error("add pod %u: %s", endpoint_id, errbuf);
	return 0;
}

/* POLICY_RULES remote peers, each its own identity, as pods of as many other workloads. */
static int remote_peers_add(struct bench *bench)
{
	char errbuf[256];

	for (uint32_t i = 0; i < POLICY_RULES; i++) {
		if (datapath_ipcache_upsert(&bench->datapath, PEERS_BASE + i, 32,
					    FIRST_PEER_IDENTITY + i, errbuf, sizeof(errbuf)) < 0)
			return bench_error("%s", errbuf);
	}
	return 0;
}

static int isolate(struct bench *bench, uint32_t endpoint_id, uint32_t ingress_rule,
		   uint32_t egress_rule)
{
	char errbuf[256];

	if (datapath_endpoint_policy_set(&bench->datapath, endpoint_id, ingress_rule, egress_rule,
					 errbuf, sizeof(errbuf)) < 0)
		return bench_error("%s", errbuf);
	return 0;
}

static int allow_tcp(struct bench *bench, uint32_t endpoint_id, uint8_t direction,
		     uint32_t identity, uint16_t port, uint32_t rule_id)
{
	struct policy_rule rule = {.endpoint_id = endpoint_id,
				   .direction = direction,
				   .identity = identity,
				   .protocol = IPPROTO_TCP,
				   .first_port = port,
				   .verdict = WEIR_VERDICT_ALLOW,
				   .rule_id = rule_id};
	char errbuf[256];

	if (datapath_policy_write(&bench->datapath, &rule, errbuf, sizeof(errbuf)) < 0)
		return bench_error("%s", errbuf);
	return 0;
}

/* A's ingress admits only what one of POLICY_RULES rules names: identity 1000 + i on TCP port
 * 8000 + i, the shape of many NetworkPolicies each opening one port to one workload. */
static int ingress_policy_of_1000_rules(struct bench *bench)
{
	if (isolate(bench, ENDPOINT_A, RULE_ISOLATE_INGRESS, 0) < 0)
		return -1;
	for (uint32_t i = 0; i < POLICY_RULES; i++) {
		if (allow_tcp(bench, ENDPOINT_A, WEIR_DIRECTION_INGRESS, FIRST_PEER_IDENTITY + i,
			      (uint16_t)(FIRST_RULE_PORT + i), FIRST_ALLOW_RULE + i) < 0)
			return -1;
	}
	return 0;
}

/* ---- frames ----------------------------------------------------------------------------- */

static struct frame tcp_frame(const uint8_t *source_mac, const uint8_t *destination_mac,
			      uint32_t source, uint16_t source_port, uint32_t destination,
			      uint16_t destination_port, uint8_t flags)
{
	struct packet_spec spec = {.source_mac = source_mac,
				   .destination_mac = destination_mac,
				   .source = source,
				   .destination = destination,
				   .protocol = IPPROTO_TCP,
				   .source_port = source_port,
				   .destination_port = destination_port,
				   .tcp_flags = flags,
				   .sequence = 1000,
				   .acknowledgment = 5000};
	struct frame frame;

	frame.length = (uint32_t)packet_build(frame.bytes, sizeof(frame.bytes), &spec);
	return frame;
}

/* As seen on A's host veth: what A sends to destination:port on its connection, and what
 * comes back on it. */
static struct frame from_a(uint32_t destination, uint16_t port, uint8_t flags)
{
	return tcp_frame(MAC_A, HOST_MAC_A, POD_A, CLIENT_PORT, destination, port, flags);
}

static struct frame reply_to_a(uint32_t source, uint16_t port, uint8_t flags)
{
	return tcp_frame(HOST_MAC_A, MAC_A, source, port, POD_A, CLIENT_PORT, flags);
}

/* A packet of a connection that source:source_port opens to A's port. */
static struct frame to_a(uint32_t source, uint16_t source_port, uint16_t port, uint8_t flags)
{
	return tcp_frame(HOST_MAC_A, MAC_A, source, source_port, POD_A, port, flags);
}

/* ---- running and checking ------------------------------------------------------------- */

static int program_fd(const struct bench *bench, enum program program)
{
	return program == FROM_POD ? bench->from_pod_fd : bench->to_pod_fd;
}

struct program_run {
	int verdict;
	uint32_t nanoseconds; /* the kernel's average per repeat */
};

static int program_run(const struct bench *bench, enum program program, const struct frame *frame,
		       uint32_t repeat, struct program_run *run)
{
	struct __sk_buff context = {.ifindex = TEST_IFINDEX};
	DECLARE_LIBBPF_OPTS(bpf_test_run_opts, options, .data_in = frame->bytes,
			    .data_size_in = frame->length, .ctx_in = &context,
			    .ctx_size_in = sizeof(context), .repeat = repeat);

	if (frame->length == 0)
		return bench_error("a frame did not fit its buffer");
	if (bpf_prog_test_run_opts(program_fd(bench, program), &options) < 0)
		return bench_error("BPF_PROG_TEST_RUN (repeat %u): %s", repeat, strerror(errno));
	run->verdict = (int)options.retval;
	run->nanoseconds = options.duration;
	return 0;
}

/* One untimed packet that sets the scene (a handshake step) and must get `verdict`. */
static int packet_send(const struct bench *bench, enum program program, const struct frame *frame,
		       int verdict, const char *what)
{
	struct program_run run;

	if (program_run(bench, program, frame, 1, &run) < 0)
		return -1;
	if (run.verdict != verdict)
		return bench_error("%s: verdict %d (%s), expected %s", what, run.verdict,
				   verdict_name(run.verdict), verdict_name(verdict));
	return 0;
}

static int counter_read(struct bench *bench, enum weir_counter counter, uint64_t *value)
{
	int err = datapath_counter_read(&bench->datapath, counter, value);

	if (err < 0)
		return bench_error("read counter %s: %s", weir_counter_names[counter],
				   strerror(-err));
	return 0;
}

/* How many packets have taken the path so far. */
static int path_count(struct bench *bench, const struct path *path, uint64_t *count)
{
	uint64_t bytes;
	int err;

	if (path->drop_reason == WEIR_DROP_NONE)
		return counter_read(bench, path->counter, count);
	err = datapath_drop_read(&bench->datapath, path->drop_endpoint_id, path->drop_reason,
				 path->drop_direction, count, &bytes);
	if (err < 0)
		return bench_error("read drops %s: %s", weir_drop_reason_names[path->drop_reason],
				   strerror(-err));
	return 0;
}

static const char *path_counter_name(const struct path *path)
{
	return path->drop_reason == WEIR_DROP_NONE ? weir_counter_names[path->counter]
						   : weir_drop_reason_names[path->drop_reason];
}

/* Runs frame `repeat` times in one call. Fails unless the verdict is the path's and its
 * counter grew by exactly `repeat`: every repeat took the path being timed. */
static int run_repeated_on_path(struct bench *bench, const struct path *path,
				const struct frame *frame, uint32_t repeat, struct program_run *run)
{
	uint64_t before, after;

	if (path_count(bench, path, &before) < 0 ||
	    program_run(bench, path->program, frame, repeat, run) < 0 ||
	    path_count(bench, path, &after) < 0)
		return -1;
	if (run->verdict != path->verdict)
		return bench_error("%s: verdict %d (%s), expected %s", path->what, run->verdict,
				   verdict_name(run->verdict), verdict_name(path->verdict));
	if (after - before != repeat)
		return bench_error("%s: %s grew by %llu over %u runs: not every run took the path",
				   path->what, path_counter_name(path),
				   (unsigned long long)(after - before), repeat);
	return 0;
}

/* The repeat-averaged row: a checked warm-up, then REPEATS timed runs, checked again. */
static int time_repeated(struct bench *bench, const struct path *path, const struct frame *frame,
			 struct row *row)
{
	struct program_run run;

	if (run_repeated_on_path(bench, path, frame, WARMUP_REPEATS, &run) < 0 ||
	    run_repeated_on_path(bench, path, frame, REPEATS, &run) < 0)
		return -1;
	row->verdict = path->verdict;
	row->timing = TIMED_REPEATED;
	row->samples = REPEATS;
	row->nanoseconds = run.nanoseconds;
	return 0;
}

/* Runs each frame once (repeat = 1), checking every verdict and that the path's counter grew by
 * one per call. Fills nanoseconds[i] with the kernel's time of frame i, and, when
 * event_suppressed is not NULL, whether that call's event was refused by the rate limit. */
static int time_each_once(struct bench *bench, const struct path *path, const struct frame *frames,
			  size_t frame_count, bool same_frame, uint32_t *nanoseconds,
			  bool *event_suppressed)
{
	uint64_t before, after, suppressed_before = 0, suppressed_after = 0;
	struct program_run run;

	if (path_count(bench, path, &before) < 0)
		return -1;
	for (size_t i = 0; i < frame_count; i++) {
		if (event_suppressed &&
		    counter_read(bench, WEIR_COUNTER_EVENTS_SUPPRESSED, &suppressed_before) < 0)
			return -1;
		if (program_run(bench, path->program, same_frame ? &frames[0] : &frames[i], 1,
				&run) < 0)
			return -1;
		if (run.verdict != path->verdict)
			return bench_error("%s, call %zu: verdict %d (%s), expected %s", path->what,
					   i, run.verdict, verdict_name(run.verdict),
					   verdict_name(path->verdict));
		if (event_suppressed) {
			if (counter_read(bench, WEIR_COUNTER_EVENTS_SUPPRESSED, &suppressed_after) <
			    0)
				return -1;
			event_suppressed[i] = suppressed_after != suppressed_before;
		}
		nanoseconds[i] = run.nanoseconds;
	}
	if (path_count(bench, path, &after) < 0)
		return -1;
	if (after - before != frame_count)
		return bench_error(
		    "%s: %s grew by %llu over %zu calls: not every call took the path", path->what,
		    path_counter_name(path), (unsigned long long)(after - before), frame_count);
	return 0;
}

static int compare_nanoseconds(const void *left, const void *right)
{
	uint32_t a = *(const uint32_t *)left, b = *(const uint32_t *)right;

	return (a > b) - (a < b);
}

/* Median and 90th percentile (nearest rank) of single-call times into the row. */
static void per_call_row(struct row *row, int verdict, uint32_t *nanoseconds, size_t count)
{
	qsort(nanoseconds, count, sizeof(*nanoseconds), compare_nanoseconds);
	row->verdict = verdict;
	row->timing = TIMED_PER_CALL;
	row->samples = (uint32_t)count;
	row->nanoseconds = count % 2 ? nanoseconds[count / 2]
				     : (nanoseconds[count / 2 - 1] + nanoseconds[count / 2]) / 2.0;
	row->p90_nanoseconds = nanoseconds[(count * 9 + 9) / 10 - 1];
}

/* ---- scenarios -------------------------------------------------------------------------- */

/* A's connection to a remote peer, egress isolated with an allow rule, handshake done: the
 * conntrack fast path, out (row 1) and back (row 2), and out again timed per call (row 5). */
static int bench_established(struct bench *bench)
{
	struct frame syn = from_a(PEER, SERVER_PORT, TCP_SYN);
	struct frame syn_ack = reply_to_a(PEER, SERVER_PORT, TCP_SYN | TCP_ACK);
	struct frame ack_out = from_a(PEER, SERVER_PORT, TCP_ACK);
	struct frame ack_in = reply_to_a(PEER, SERVER_PORT, TCP_ACK);
	struct path out = {.what = "established flow out",
			   .program = FROM_POD,
			   .verdict = TC_ACT_OK,
			   .counter = WEIR_COUNTER_CT_ESTABLISHED};
	struct path in = {.what = "established reply in",
			  .program = TO_POD,
			  .verdict = TC_ACT_OK,
			  .counter = WEIR_COUNTER_CT_REPLY};
	uint32_t nanoseconds[CALLS_PER_ROW];

	if (bench_load(bench) < 0 ||
	    pod_add(bench, POD_A, ENDPOINT_A, IDENTITY_A, MAC_A, HOST_MAC_A) < 0 ||
	    remote_peers_add(bench) < 0 || isolate(bench, ENDPOINT_A, 0, RULE_ISOLATE_EGRESS) < 0 ||
	    allow_tcp(bench, ENDPOINT_A, WEIR_DIRECTION_EGRESS, PEER_IDENTITY, SERVER_PORT,
		      FIRST_ALLOW_RULE) < 0)
		return -1;
	if (packet_send(bench, FROM_POD, &syn, TC_ACT_OK, "A's SYN to the peer") < 0 ||
	    packet_send(bench, TO_POD, &syn_ack, TC_ACT_OK, "the peer's SYN-ACK") < 0 ||
	    packet_send(bench, FROM_POD, &ack_out, TC_ACT_OK, "A's ACK") < 0)
		return -1;

	rows[ROW_ESTABLISHED_OUT].scenario = "established flow out, egress policy on (CT hit)";
	rows[ROW_ESTABLISHED_OUT].program = "from_pod";
	if (time_repeated(bench, &out, &ack_out, &rows[ROW_ESTABLISHED_OUT]) < 0)
		return -1;
	rows[ROW_ESTABLISHED_REPLY].scenario = "established reply in (CT reply)";
	rows[ROW_ESTABLISHED_REPLY].program = "to_pod";
	if (time_repeated(bench, &in, &ack_in, &rows[ROW_ESTABLISHED_REPLY]) < 0)
		return -1;
	rows[ROW_ESTABLISHED_OUT_PER_CALL].scenario = "established flow out (row 1 timed per call)";
	rows[ROW_ESTABLISHED_OUT_PER_CALL].program = "from_pod";
	if (time_each_once(bench, &out, &ack_out, CALLS_PER_ROW, true, nanoseconds, NULL) < 0)
		return -1;
	per_call_row(&rows[ROW_ESTABLISHED_OUT_PER_CALL], out.verdict, nanoseconds, CALLS_PER_ROW);
	return 0;
}

/* New connections to A, whose ingress is isolated: denied with no rules at all (row 3) and by a
 * 1,000-rule policy that names no rule for the peer (row 4); allowed by one of the 1,000 rules,
 * each a new connection with its CT entry created (rows 6 and 7). */
static int bench_new_flows(struct bench *bench)
{
	struct frame syn_from_peer = to_a(PEER, CLIENT_PORT, PEER_RULE_PORT, TCP_SYN);
	struct frame syn_from_stranger = to_a(STRANGER, CLIENT_PORT, PEER_RULE_PORT, TCP_SYN);
	struct path denied = {.what = "new flow denied",
			      .program = TO_POD,
			      .verdict = TC_ACT_SHOT,
			      .drop_reason = WEIR_DROP_POLICY_DENIED_INGRESS,
			      .drop_endpoint_id = ENDPOINT_A,
			      .drop_direction = WEIR_DIRECTION_INGRESS};
	struct path allowed = {.what = "new flow allowed",
			       .program = TO_POD,
			       .verdict = TC_ACT_OK,
			       .counter = WEIR_COUNTER_CT_NEW};
	/* Twice the event budget, so both halves (events sent, events refused) get samples. */
	enum { NEW_FLOWS = 2 * WEIR_EVENTS_PER_SECOND_PER_CPU };
	static struct frame frames[NEW_FLOWS];
	static uint32_t nanoseconds[NEW_FLOWS], with_event[NEW_FLOWS], without_event[NEW_FLOWS];
	static bool suppressed[NEW_FLOWS];
	size_t with_event_count = 0, without_event_count = 0;
	uint32_t ct_entries = 0;

	/* Row 3: isolated, no allow rule at all. The packet is A's ingress from the peer. */
	if (bench_load(bench) < 0 ||
	    pod_add(bench, POD_A, ENDPOINT_A, IDENTITY_A, MAC_A, HOST_MAC_A) < 0 ||
	    remote_peers_add(bench) < 0 || isolate(bench, ENDPOINT_A, RULE_ISOLATE_INGRESS, 0) < 0)
		return -1;
	rows[ROW_DENIED_NO_RULES].scenario = "denied: ingress isolated, no allow rule";
	rows[ROW_DENIED_NO_RULES].program = "to_pod";
	if (time_repeated(bench, &denied, &syn_from_peer, &rows[ROW_DENIED_NO_RULES]) < 0)
		return -1;

	/* Row 4: the 1,000 rules added. Denied flows create no CT entry, so every repeat is a new
	 * flow judged in full. */
	if (ingress_policy_of_1000_rules(bench) < 0)
		return -1;
	rows[ROW_DENIED_BY_1000_RULES].scenario = "new flow denied by 1,000-rule policy (all miss)";
	rows[ROW_DENIED_BY_1000_RULES].program = "to_pod";
	if (time_repeated(bench, &denied, &syn_from_stranger, &rows[ROW_DENIED_BY_1000_RULES]) < 0)
		return -1;

	/* Rows 6 and 7 on a fresh datapath: the drops above spent the event budget of this second,
	 * and conntrack must start empty. */
	if (bench_load(bench) < 0 ||
	    pod_add(bench, POD_A, ENDPOINT_A, IDENTITY_A, MAC_A, HOST_MAC_A) < 0 ||
	    remote_peers_add(bench) < 0 || ingress_policy_of_1000_rules(bench) < 0)
		return -1;
	for (size_t i = 0; i < NEW_FLOWS; i++)
		frames[i] =
		    to_a(PEER, (uint16_t)(FIRST_NEW_FLOW_PORT + i), PEER_RULE_PORT, TCP_SYN);
	if (time_each_once(bench, &allowed, frames, NEW_FLOWS, false, nanoseconds, suppressed) < 0)
		return -1;
	if (datapath_ct_count(&bench->datapath, &ct_entries) < 0 || ct_entries != NEW_FLOWS)
		return bench_error("after %d new flows conntrack holds %u entries", NEW_FLOWS,
				   ct_entries);
	for (size_t i = 0; i < NEW_FLOWS; i++) {
		if (suppressed[i])
			without_event[without_event_count++] = nanoseconds[i];
		else
			with_event[with_event_count++] = nanoseconds[i];
	}
	if (with_event_count == 0 || without_event_count == 0)
		return bench_error("the event budget split %d new flows %zu / %zu: expected both "
				   "kinds",
				   NEW_FLOWS, with_event_count, without_event_count);
	rows[ROW_NEW_FLOW_WITH_EVENT].scenario = "new flow allowed by 1 of 1,000 rules, event sent";
	rows[ROW_NEW_FLOW_WITH_EVENT].program = "to_pod";
	per_call_row(&rows[ROW_NEW_FLOW_WITH_EVENT], allowed.verdict, with_event, with_event_count);
	rows[ROW_NEW_FLOW_EVENTS_OVER_BUDGET].scenario = "the same, event budget spent (a flood)";
	rows[ROW_NEW_FLOW_EVENTS_OVER_BUDGET].program = "to_pod";
	per_call_row(&rows[ROW_NEW_FLOW_EVENTS_OVER_BUDGET], allowed.verdict, without_event,
		     without_event_count);
	return 0;
}

/* A to B on the same node, both isolated with rules allowing each other, handshake done: what
 * a packet of pod_rr.sh's weir runs costs. Timed per call, because delivery rewrites the frame
 * in place (MACs, TTL) and repeats reuse one skb: from the second repeat on, the packet would
 * carry B's host MAC as its source and be dropped as spoofed. */
static int bench_pod_to_pod(struct bench *bench)
{
	struct frame syn = from_a(POD_B, SERVER_PORT, TCP_SYN);
	struct frame syn_ack =
	    tcp_frame(MAC_B, HOST_MAC_B, POD_B, SERVER_PORT, POD_A, CLIENT_PORT, TCP_SYN | TCP_ACK);
	struct frame ack = from_a(POD_B, SERVER_PORT, TCP_ACK);
	struct path delivered = {.what = "pod to pod established",
				 .program = FROM_POD,
				 .verdict = TC_ACT_REDIRECT,
				 .counter = WEIR_COUNTER_REDIRECTED};
	uint32_t nanoseconds[CALLS_PER_ROW];

	if (bench_load(bench) < 0 ||
	    pod_add(bench, POD_A, ENDPOINT_A, IDENTITY_A, MAC_A, HOST_MAC_A) < 0 ||
	    pod_add(bench, POD_B, ENDPOINT_B, IDENTITY_B, MAC_B, HOST_MAC_B) < 0 ||
	    isolate(bench, ENDPOINT_A, RULE_ISOLATE_INGRESS, RULE_ISOLATE_EGRESS) < 0 ||
	    isolate(bench, ENDPOINT_B, RULE_ISOLATE_INGRESS, RULE_ISOLATE_EGRESS) < 0 ||
	    allow_tcp(bench, ENDPOINT_A, WEIR_DIRECTION_EGRESS, IDENTITY_B, SERVER_PORT,
		      FIRST_ALLOW_RULE) < 0 ||
	    allow_tcp(bench, ENDPOINT_B, WEIR_DIRECTION_INGRESS, IDENTITY_A, SERVER_PORT,
		      FIRST_ALLOW_RULE + 1) < 0)
		return -1;
	if (packet_send(bench, FROM_POD, &syn, TC_ACT_REDIRECT, "A's SYN to B") < 0 ||
	    packet_send(bench, FROM_POD, &syn_ack, TC_ACT_REDIRECT, "B's SYN-ACK to A") < 0 ||
	    packet_send(bench, FROM_POD, &ack, TC_ACT_REDIRECT, "A's ACK to B") < 0)
		return -1;
	rows[ROW_POD_TO_POD_PER_CALL].scenario =
	    "pod to pod on this node, established, both isolated";
	rows[ROW_POD_TO_POD_PER_CALL].program = "from_pod";
	if (time_each_once(bench, &delivered, &ack, CALLS_PER_ROW, true, nanoseconds, NULL) < 0)
		return -1;
	per_call_row(&rows[ROW_POD_TO_POD_PER_CALL], delivered.verdict, nanoseconds, CALLS_PER_ROW);
	return 0;
}

/* ---- report ----------------------------------------------------------------------------- */

static void report(int cpu)
{
	const struct row *first = &rows[ROW_ESTABLISHED_OUT];
	const struct row *per_call_baseline = &rows[ROW_ESTABLISHED_OUT_PER_CALL];
	const struct row *new_flow = &rows[ROW_NEW_FLOW_WITH_EVENT];

	printf("\nweir datapath cost per packet: the real from_pod/to_pod programs through "
	       "BPF_PROG_TEST_RUN, timed by the kernel, on CPU %d\n",
	       cpu);
	printf("%2s  %-52s %-8s %-8s %-22s %8s %8s %8s\n", "#", "scenario", "program", "verdict",
	       "timing", "ns/pkt", "x row 1", "x row 5");
	for (int i = 0; i < ROW_COUNT; i++) {
		const struct row *row = &rows[i];
		char timing[32], same_method[16] = "";

		if (row->timing == TIMED_REPEATED) {
			snprintf(timing, sizeof(timing), "mean of %u repeats", row->samples);
		} else {
			snprintf(timing, sizeof(timing), "median of %u calls", row->samples);
			snprintf(same_method, sizeof(same_method), "%.2f",
				 row->nanoseconds / per_call_baseline->nanoseconds);
		}
		printf("%2d  %-52s %-8s %-8s %-22s %8.1f %8.2f %8s\n", i + 1, row->scenario,
		       row->program, verdict_name(row->verdict), timing, row->nanoseconds,
		       row->nanoseconds / first->nanoseconds, same_method);
	}
	printf("p90 of the single-call rows (ns):");
	for (int i = 0; i < ROW_COUNT; i++) {
		if (rows[i].timing == TIMED_PER_CALL)
			printf(" row %d %.0f", i + 1, rows[i].p90_nanoseconds);
	}
	printf("\n\n");
	puts("Every row was checked: each run's verdict, and the counter of its path");
	puts("(ct_established, ct_reply, policy_denied_ingress, ct_new, redirected_to_local_pod)");
	puts("grew by one per packet.");
	puts("New flows (rows 6-7): BPF_PROG_TEST_RUN repeats one packet, which conntrack knows");
	puts("after its first run, so each new flow is its own call (repeat=1) from a source port");
	puts("never used before, and the median of the kernel's per-call times is shown. Per-call");
	puts("times also hold the kernel timer's own overhead, so compare rows 6-8 with row 5,");
	puts("the established packet timed the same way: a new allowed connection costs");
	printf("%.0f ns more than an established packet (policy lookups among 1,000 rules, CT\n",
	       new_flow->nanoseconds - per_call_baseline->nanoseconds);
	puts("insert, new-flow event).");
	puts("Denied flows create no CT entry, so every repeat of rows 3-4 is judged as new; drop");
	printf("events are limited to %d per CPU per second, so nearly all of those repeats only\n",
	       WEIR_EVENTS_PER_SECOND_PER_CPU);
	puts("count the drop.");
	puts("Row 8 is timed per call: delivery to a local pod rewrites the frame in place (MACs,");
	puts("TTL) and repeats reuse one skb, so every repeat after the first would be dropped as");
	puts("spoofed.");
}

int main(void)
{
	struct bench bench = {0};
	cpu_set_t one_cpu;
	int cpu = sched_getcpu();
	int status = 0;

	libbpf_set_print(libbpf_warnings_only);
	/* Test runs execute on the calling CPU: staying on one keeps its caches and per-CPU state
	 * (the event budget) the same for every sample. */
	if (cpu >= 0) {
		CPU_ZERO(&one_cpu);
		CPU_SET(cpu, &one_cpu);
		if (sched_setaffinity(0, sizeof(one_cpu), &one_cpu) < 0)
			cpu = -1;
	}

	if (bench_established(&bench) < 0 || bench_new_flows(&bench) < 0 ||
	    bench_pod_to_pod(&bench) < 0)
		status = 1;
	bench_unload(&bench);
	if (status == 0)
		report(cpu);
	return status;
}
