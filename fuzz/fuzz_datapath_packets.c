/* Fuzz target: the datapath's packet handling (bpf/pod.bpf.c from_pod and to_pod, with
 * bpf/lib/parse.h, conntrack, policy, services and delivery), run on the real programs in the
 * kernel through BPF_PROG_TEST_RUN, checking that a packet the rules deny is never passed.
 *
 * Set-up (once): the datapath loaded by the agent's loader into a private bpffs
 * (fuzz_datapath_load), then, through common/datapath.c as the agent and CNI write them:
 *   endpoints  A 10.0.0.2 (endpoint 2) and B 10.0.0.3 (endpoint 3) behind ifindex 1, where
 *              BPF_PROG_TEST_RUN puts its skbs; E 10.0.0.9 (endpoint 9) local behind ifindex 99;
 *   ipcache    A 300, B 301, E 302, 10.1.0.5/32 1000 (remote pod), 10.0.0.0/8 400,
 *              192.168.0.0/16 CIDR identity, 192.168.250.1/32 host; everything else is world;
 *   policy     ALLOW entries only (table `rules` below) and isolation per endpoint (`isolation`);
 *   services   10.96.0.10:80/TCP -> B:5432, 10.96.0.11:53/UDP -> 10.1.0.5:53,
 *              10.96.0.12:80/TCP -> E:80, one backend each.
 *
 * Per input: the input is one Ethernet frame. It runs through from_pod, then through to_pod
 * (ctx ifindex 1); before each run the ct and fragments maps are emptied, so no packet can match
 * an earlier connection or borrow an earlier fragment's ports. Frames the kernel refuses to run
 * (-EINVAL: shorter than an Ethernet header, larger than a page) are skipped.
 *
 * Invariants ("passed" = verdict TC_ACT_OK or TC_ACT_REDIRECT; fields read at the fixed offsets
 * the datapath reads them, so a packet the datapath passed has exactly these values):
 *   V  every verdict is TC_ACT_OK, TC_ACT_SHOT or TC_ACT_REDIRECT;
 *   L3 a frame whose ethertype is neither IPv4 nor ARP gets TC_ACT_SHOT (both programs);
 *   F  an IPv4 later fragment (offset != 0) is never passed (no first fragment was seen);
 *   S  from_pod passes IPv4 only from A or B with the Ethernet source MAC of that pod, and ARP
 *      only when sender IP is A or B and both sender MAC and Ethernet source are its MAC;
 *   D  to_pod passes IPv4 only to A or B;
 *   P  for IPv4 TCP/UDP/SCTP/ICMP that is not a later fragment (port: the L4 destination port,
 *      0 for ICMP, as judge_connection uses them; TCP/UDP/SCTP without 4 bytes of ports must
 *      not pass): from_pod, after translating a service VIP:port to its only backend, must not
 *      pass when the source pod's egress policy denies (destination's identity, protocol,
 *      port), or when the destination is a local endpoint whose ingress policy denies (source's
 *      identity, ...); to_pod must not pass when the destination's ingress policy denies.
 *      A direction denies when it is isolated and no rule matches: with ALLOW entries only the
 *      datapath's lookup order cannot matter, so "some rule of that endpoint and direction has
 *      the peer's identity or any, and protocol 0 or the packet's with the port in range"
 *      decides exactly. Identities follow the ipcache above by longest prefix.
 * ICMP errors (types 3, 11, 12) are held to P like any packet: one unrelated to a tracked
 * connection is judged between its real endpoints (fuzz/corpus/datapath_packets/
 * regression_icmp_error_unrelated.bin was a policy bypass). WEIR_FUZZ_LOG=1 prints every
 * verdict. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/pkt_cls.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "datapath.h"
#include "fuzz_support.h"
#include "pod.skel.h"

#define TEST_IFINDEX  1
#define IDENTITY_CIDR (WEIR_IDENTITY_FIRST_CIDR + 1)
#define POD_A	      0x0a000002u
#define POD_B	      0x0a000003u
#define POD_E	      0x0a000009u
#define REMOTE_POD    0x0a010005u
#define NODE_HOST     0xc0a8fa01u

struct pod {
	uint32_t address;
	uint32_t endpoint_id;
	uint32_t ifindex;
	uint8_t mac[6], host_mac[6];
};

static const struct pod pods[] = {
    {POD_A, 2, TEST_IFINDEX, {0x02, 0xaa, 0, 0, 0, 0x02}, {0x02, 0xee, 0, 0, 0, 0x02}},
    {POD_B, 3, TEST_IFINDEX, {0x02, 0xbb, 0, 0, 0, 0x03}, {0x02, 0xee, 0, 0, 0, 0x03}},
    {POD_E, 9, 99, {0x02, 0xcc, 0, 0, 0, 0x09}, {0x02, 0xee, 0, 0, 0, 0x09}},
};

static const struct {
	uint32_t network;
	unsigned length;
	uint32_t identity;
} ipcache[] = {
    {POD_A, 32, 300},
    {POD_B, 32, 301},
    {POD_E, 32, 302},
    {REMOTE_POD, 32, 1000},
    {0x0a000000u, 8, 400},
    {0xc0a80000u, 16, IDENTITY_CIDR},
    {NODE_HOST, 32, WEIR_IDENTITY_HOST},
};

static const struct {
	uint32_t endpoint_id, ingress_rule, egress_rule;
} isolation[] = {{2, 100, 101}, {3, 102, 0}, {9, 103, 104}};

#define IN  WEIR_DIRECTION_INGRESS
#define OUT WEIR_DIRECTION_EGRESS

static const struct policy_rule rules[] = {
    /* endpoint, direction, peer identity, protocol, first port, last port, verdict, rule */
    {2, IN, 301, IPPROTO_TCP, 80, 80, WEIR_VERDICT_ALLOW, 1},
    {2, IN, WEIR_IDENTITY_ANY, IPPROTO_TCP, 8000, 8100, WEIR_VERDICT_ALLOW, 2},
    {2, IN, IDENTITY_CIDR, 0, 0, 0, WEIR_VERDICT_ALLOW, 3},
    {2, IN, 1000, IPPROTO_UDP, 1000, 2000, WEIR_VERDICT_ALLOW, 4},
    {2, OUT, WEIR_IDENTITY_ANY, IPPROTO_UDP, 53, 53, WEIR_VERDICT_ALLOW, 5},
    {2, OUT, 1000, IPPROTO_TCP, 443, 443, WEIR_VERDICT_ALLOW, 6},
    {2, OUT, WEIR_IDENTITY_HOST, 0, 0, 0, WEIR_VERDICT_ALLOW, 7},
    {2, OUT, WEIR_IDENTITY_WORLD, 0, 0, 0, WEIR_VERDICT_ALLOW, 8},
    {2, OUT, 301, IPPROTO_SCTP, 9000, 9000, WEIR_VERDICT_ALLOW, 9},
    {2, OUT, 301, IPPROTO_TCP, 5432, 5432, WEIR_VERDICT_ALLOW, 10},
    {3, IN, 300, IPPROTO_TCP, 5432, 5432, WEIR_VERDICT_ALLOW, 11},
    {3, IN, 400, IPPROTO_UDP, 30000, 32767, WEIR_VERDICT_ALLOW, 12},
};

static const struct {
	uint32_t vip;
	uint16_t port;
	uint8_t protocol;
	uint32_t backend;
	uint16_t backend_port;
} services[] = {
    {0x0a60000au, 80, IPPROTO_TCP, POD_B, 5432},
    {0x0a60000bu, 53, IPPROTO_UDP, REMOTE_POD, 53},
    {0x0a60000cu, 80, IPPROTO_TCP, POD_E, 80},
};

#define COUNT(array) (sizeof(array) / sizeof((array)[0]))

static struct pod_bpf *skeleton;
static struct datapath datapath;
static int possible_cpus;

/* libFuzzer sees no coverage inside the BPF programs, so what they did is fed back as extra
 * counters (a section libFuzzer reads as features; unused in the replay build): per program,
 * which metrics counters moved, which drop reasons were counted, and the verdict. */
#define FEATURE_DROPS	 WEIR_COUNTER_MAX
#define FEATURE_VERDICTS (FEATURE_DROPS + WEIR_DROP_REASON_MAX)
#define FEATURES	 (FEATURE_VERDICTS + 3)
__attribute__((used,
	       section("__libfuzzer_extra_counters"))) static uint8_t kernel_features[2][FEATURES];
static uint64_t metrics_seen[WEIR_COUNTER_MAX];
static bool verbose;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char errbuf[512];
	const char *bpffs;

	(void)argc;
	(void)argv;
	fuzz_quiet_logs();
	verbose = getenv("WEIR_FUZZ_LOG") != NULL;
	bpffs = fuzz_datapath_load(&skeleton);
	FUZZ_CHECK(datapath_open(&datapath, bpffs, errbuf, sizeof(errbuf)) == 0, "open: %s",
		   errbuf);
	for (size_t i = 0; i < COUNT(pods); i++) {
		struct weir_endpoint endpoint = {.host_ifindex = pods[i].ifindex,
						 .endpoint_id = pods[i].endpoint_id,
						 .flags = WEIR_ENDPOINT_FLAG_LOCAL};
		memcpy(endpoint.pod_mac, pods[i].mac, 6);
		memcpy(endpoint.host_mac, pods[i].host_mac, 6);
		FUZZ_CHECK(datapath_endpoint_upsert(&datapath, pods[i].address, &endpoint, errbuf,
						    sizeof(errbuf)) == 0,
			   "endpoint: %s", errbuf);
	}
	for (size_t i = 0; i < COUNT(ipcache); i++)
		FUZZ_CHECK(datapath_ipcache_upsert(&datapath, ipcache[i].network, ipcache[i].length,
						   ipcache[i].identity, errbuf,
						   sizeof(errbuf)) == 0,
			   "ipcache: %s", errbuf);
	for (size_t i = 0; i < COUNT(rules); i++)
		FUZZ_CHECK(datapath_policy_write(&datapath, &rules[i], errbuf, sizeof(errbuf)) == 0,
			   "policy: %s", errbuf);
	for (size_t i = 0; i < COUNT(isolation); i++)
		FUZZ_CHECK(datapath_endpoint_policy_set(
			       &datapath, isolation[i].endpoint_id, isolation[i].ingress_rule,
			       isolation[i].egress_rule, errbuf, sizeof(errbuf)) == 0,
			   "isolation: %s", errbuf);
	for (size_t i = 0; i < COUNT(services); i++) {
		struct service_backend backend = {.address = services[i].backend,
						  .port = services[i].backend_port,
						  .backend_id = (uint32_t)(i + 1)};
		FUZZ_CHECK(datapath_service_write(&datapath, services[i].vip, services[i].port,
						  services[i].protocol, (uint32_t)(i + 1), &backend,
						  1, 0, errbuf, sizeof(errbuf)) == 0,
			   "service: %s", errbuf);
	}
	FUZZ_CHECK(datapath_policy_revision_bump(&datapath) > 0, "policy revision");
	possible_cpus = libbpf_num_possible_cpus();
	FUZZ_CHECK(possible_cpus > 0 && possible_cpus <= 1024, "possible CPUs: %d", possible_cpus);
	return 0;
}

/* ---- features ----------------------------------------------------------------------------- */

static void feature_hit(uint8_t *feature)
{
	if (*feature < 255)
		(*feature)++;
}

static void features_collect(int program, int verdict)
{
	uint64_t values[1024];
	struct weir_drop_key key, next;
	void *previous = NULL;

	for (uint32_t counter = 0; counter < WEIR_COUNTER_MAX; counter++) {
		uint64_t total = 0;
		if (bpf_map_lookup_elem(datapath.metrics_fd, &counter, values) < 0)
			continue;
		for (int cpu = 0; cpu < possible_cpus; cpu++)
			total += values[cpu];
		if (total != metrics_seen[counter])
			feature_hit(&kernel_features[program][counter]);
		metrics_seen[counter] = total;
	}
	while (bpf_map_get_next_key(datapath.drops_fd, previous, &next) == 0) {
		if (next.reason < WEIR_DROP_REASON_MAX)
			feature_hit(&kernel_features[program][FEATURE_DROPS + next.reason]);
		key = next;
		previous = &key;
	}
	feature_hit(&kernel_features[program][FEATURE_VERDICTS + (verdict == TC_ACT_OK	   ? 0
								  : verdict == TC_ACT_SHOT ? 1
											   : 2)]);
}

/* ---- the model ---------------------------------------------------------------------------- */

static const struct pod *pod_at(uint32_t address, bool on_test_ifindex)
{
	for (size_t i = 0; i < COUNT(pods); i++) {
		if (pods[i].address == address &&
		    (!on_test_ifindex || pods[i].ifindex == TEST_IFINDEX))
			return &pods[i];
	}
	return NULL;
}

static uint32_t identity_of(uint32_t address)
{
	uint32_t identity = WEIR_IDENTITY_WORLD;
	int best = -1;

	for (size_t i = 0; i < COUNT(ipcache); i++) {
		uint32_t mask = ipcache[i].length ? 0xffffffffu << (32 - ipcache[i].length) : 0;
		if ((address & mask) == ipcache[i].network && (int)ipcache[i].length > best) {
			best = (int)ipcache[i].length;
			identity = ipcache[i].identity;
		}
	}
	return identity;
}

static bool policy_allows(uint32_t endpoint_id, uint8_t direction, uint32_t peer, uint8_t protocol,
			  uint16_t port)
{
	uint32_t isolating = 0;

	for (size_t i = 0; i < COUNT(isolation); i++) {
		if (isolation[i].endpoint_id == endpoint_id)
			isolating =
			    direction == IN ? isolation[i].ingress_rule : isolation[i].egress_rule;
	}
	if (!isolating)
		return true;
	for (size_t i = 0; i < COUNT(rules); i++) {
		const struct policy_rule *rule = &rules[i];
		if (rule->endpoint_id != endpoint_id || rule->direction != direction)
			continue;
		if (rule->identity != WEIR_IDENTITY_ANY && rule->identity != peer)
			continue;
		if (rule->protocol == 0 || (rule->protocol == protocol &&
					    port >= rule->first_port && port <= rule->last_port))
			return true;
	}
	return false;
}

/* ---- running ------------------------------------------------------------------------------ */

enum program { FROM_POD, TO_POD };
static const char *const program_names[] = {"from_pod", "to_pod"};

/* Runs the frame; false when the kernel refuses it. */
static bool run(enum program program, const uint8_t *frame, size_t size, int *verdict)
{
	struct __sk_buff context = {.ifindex = TEST_IFINDEX};
	struct bpf_program *prog =
	    program == FROM_POD ? skeleton->progs.from_pod : skeleton->progs.to_pod;
	DECLARE_LIBBPF_OPTS(bpf_test_run_opts, options, .data_in = frame,
			    .data_size_in = (__u32)size, .ctx_in = &context,
			    .ctx_size_in = sizeof(context), .repeat = 1);
	int err;

	fuzz_map_clear(datapath.ct_fd);
	fuzz_map_clear(datapath.fragments_fd);
	fuzz_map_clear(datapath.drops_fd);
	err = bpf_prog_test_run_opts(bpf_program__fd(prog), &options);
	if (err < 0 && (errno == EINVAL || err == -EINVAL))
		return false;
	FUZZ_CHECK(err == 0, "%s: BPF_PROG_TEST_RUN of %zu bytes: %s", program_names[program], size,
		   strerror(errno));
	*verdict = (int)options.retval;
	features_collect(program, *verdict);
	if (verbose)
		fprintf(stderr, "%s: %zu bytes, verdict %d\n", program_names[program], size,
			*verdict);
	return true;
}

static uint16_t be16(const uint8_t *bytes)
{
	return (uint16_t)(bytes[0] << 8 | bytes[1]);
}

static uint32_t be32(const uint8_t *bytes)
{
	return (uint32_t)bytes[0] << 24 | (uint32_t)bytes[1] << 16 | (uint32_t)bytes[2] << 8 |
	       bytes[3];
}

static void check(enum program program, const uint8_t *frame, size_t size, int verdict)
{
	const char *name = program_names[program];
	bool passed = verdict == TC_ACT_OK || verdict == TC_ACT_REDIRECT;
	uint16_t ethertype = be16(frame + 12);

	FUZZ_CHECK(verdict == TC_ACT_OK || verdict == TC_ACT_SHOT || verdict == TC_ACT_REDIRECT,
		   "%s: verdict %d", name, verdict);
	if (ethertype != 0x0800 && ethertype != 0x0806) {
		FUZZ_CHECK(verdict == TC_ACT_SHOT, "%s: ethertype 0x%04x got verdict %d", name,
			   ethertype, verdict);
		return;
	}
	if (ethertype == 0x0806) {
		if (program == FROM_POD && passed) {
			const struct pod *sender;
			FUZZ_CHECK(size >= 42, "from_pod passed a %zu-byte ARP frame", size);
			sender = pod_at(be32(frame + 28), true);
			FUZZ_CHECK(
			    sender && memcmp(frame + 22, sender->mac, 6) == 0 &&
				memcmp(frame + 6, sender->mac, 6) == 0,
			    "from_pod passed ARP from %08x that is not a pod behind this veth "
			    "with its MAC",
			    be32(frame + 28));
		}
		return;
	}
	if (!passed)
		return; /* every IPv4 invariant is about what must not pass */

	FUZZ_CHECK(size >= 34, "%s passed a %zu-byte IPv4 frame", name, size);
	{
		uint32_t source = be32(frame + 26), destination = be32(frame + 30);
		uint8_t protocol = frame[23], icmp_type = 0;
		size_t l4 = 14 + (size_t)(frame[14] & 0x0f) * 4;
		uint16_t port = 0;
		const struct pod *from, *to;

		FUZZ_CHECK((be16(frame + 20) & 0x1fff) == 0, "%s passed a later fragment", name);
		if (program == FROM_POD) {
			from = pod_at(source, true);
			FUZZ_CHECK(from && memcmp(frame + 6, from->mac, 6) == 0,
				   "from_pod passed %08x -> %08x: the source is not a pod behind "
				   "this veth with its MAC",
				   source, destination);
		} else {
			FUZZ_CHECK(pod_at(destination, true),
				   "to_pod passed %08x -> %08x: not a pod "
				   "behind this veth",
				   source, destination);
		}
		if (protocol == IPPROTO_TCP || protocol == IPPROTO_UDP ||
		    protocol == IPPROTO_SCTP) {
			FUZZ_CHECK(size >= l4 + 4, "%s passed protocol %u without ports", name,
				   protocol);
			port = be16(frame + l4 + 2);
		} else if (protocol == IPPROTO_ICMP) {
			icmp_type = size > l4 ? frame[l4] : 0;
		} else {
			return;
		}
		if (program == FROM_POD) {
			for (size_t i = 0; i < COUNT(services); i++) {
				if (services[i].vip == destination && services[i].port == port &&
				    services[i].protocol == protocol) {
					destination = services[i].backend;
					port = services[i].backend_port;
					break;
				}
			}
			from = pod_at(source, true);
			FUZZ_CHECK(
			    policy_allows(from->endpoint_id, OUT, identity_of(destination),
					  protocol, port),
			    "from_pod passed %08x -> %08x protocol %u port %u (ICMP type %u): "
			    "endpoint %u's egress policy denies it",
			    source, destination, protocol, port, icmp_type, from->endpoint_id);
			to = pod_at(destination, false);
			FUZZ_CHECK(
			    !to || policy_allows(to->endpoint_id, IN, identity_of(source), protocol,
						 port),
			    "from_pod passed %08x -> %08x protocol %u port %u (ICMP type %u): "
			    "endpoint %u's ingress policy denies it",
			    source, destination, protocol, port, icmp_type,
			    to ? to->endpoint_id : 0);
		} else {
			to = pod_at(destination, true);
			FUZZ_CHECK(
			    policy_allows(to->endpoint_id, IN, identity_of(source), protocol, port),
			    "to_pod passed %08x -> %08x protocol %u port %u (ICMP type %u): "
			    "endpoint %u's ingress policy denies it",
			    source, destination, protocol, port, icmp_type, to->endpoint_id);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int verdict;

	if (size < 14)
		return 0; /* the kernel refuses less than an Ethernet header */
	if (run(FROM_POD, data, size, &verdict))
		check(FROM_POD, data, size, verdict);
	if (run(TO_POD, data, size, &verdict))
		check(TO_POD, data, size, verdict);
	return 0;
}
