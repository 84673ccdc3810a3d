/* Masquerading on the uplink: a mapping is a pair of halves trusted only together (a reply whose
 * forward half is gone is dropped, a flow whose port went to another flow is mapped anew), each
 * pod holds at most WEIR_SNAT_PORTS_PER_POD mappings (refused beyond, named and counted), and the
 * sweep removes idle pairs whole and gives the quota back. */
#include <arpa/inet.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>

#include "fixture.h"
#include "snat_sweep.h"
#include "suites.h"

#define EGRESS WEIR_DIRECTION_EGRESS
#define INGRESS WEIR_DIRECTION_INGRESS
#define PEER_PORT 443

static uint64_t monotonic_ns(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
}

static int uplink_setup(void)
{
	struct weir_uplink uplink = { .address = htonl(NODE_HOST) };
	uint32_t ifindex = TEST_IFINDEX;

	return bpf_map_update_elem(fixture_map_fd(WEIR_MAP_UPLINKS), &ifindex, &uplink, BPF_ANY);
}

static struct packet_spec outbound(uint32_t pod, uint16_t pod_port)
{
	struct packet_spec spec = tcp_from_a(WORLD_HOST, PEER_PORT, TCP_SYN);

	spec.source = pod;
	spec.source_port = pod_port;
	return spec;
}

static struct packet_spec reply_to_node(uint16_t node_port)
{
	struct packet_spec spec = { .source = WORLD_HOST, .destination = NODE_HOST,
				    .protocol = IPPROTO_TCP, .source_port = PEER_PORT,
				    .destination_port = node_port, .tcp_flags = TCP_SYN | TCP_ACK,
				    .sequence = 5000, .acknowledgment = 1001 };
	return spec;
}

/* Fields of a rewritten frame (Ethernet + 20-byte IPv4 header + L4), host byte order. */
static uint32_t frame_address(const struct run_result *result, size_t offset)
{
	uint32_t value;

	memcpy(&value, result->frame + 14 + offset, 4);
	return ntohl(value);
}

static uint16_t frame_port(const struct run_result *result, size_t offset)
{
	uint16_t value;

	memcpy(&value, result->frame + 34 + offset, 2);
	return ntohs(value);
}

/* Sends pod:pod_port -> world:443 out of the uplink; returns the node port it left with, 0 when
 * it did not leave. */
static uint16_t masquerade(uint32_t pod, uint16_t pod_port)
{
	struct packet_spec spec = outbound(pod, pod_port);
	struct run_result result = run_spec(TO_UPLINK, &spec);

	if (result.verdict != TC_ACT_OK || frame_address(&result, 12) != NODE_HOST)
		return 0;
	return frame_port(&result, 0);
}

static struct weir_snat_key half_key(uint32_t local, uint16_t local_port, uint8_t direction)
{
	struct weir_snat_key key = { .local = htonl(local), .peer = htonl(WORLD_HOST),
				     .local_port = htons(local_port), .peer_port = htons(PEER_PORT),
				     .protocol = IPPROTO_TCP, .direction = direction };
	return key;
}

static void masquerade_maps_out_and_replies_back(void)
{
	struct packet_spec reply;
	struct run_result result;
	uint16_t node_port;

	SETUP();
	ASSERT_EQ(uplink_setup(), 0, "uplink");
	node_port = masquerade(POD_A, CLIENT_PORT);
	ASSERT_TRUE(node_port >= WEIR_SNAT_PORT_FIRST, "A leaves with a node port");
	ASSERT_EQ(masquerade(POD_A, CLIENT_PORT), node_port, "the flow keeps its port");
	reply = reply_to_node(node_port);
	result = run_spec(FROM_UPLINK, &reply);
	ASSERT_EQ(result.verdict, TC_ACT_OK, "reply passes");
	ASSERT_EQ(frame_address(&result, 16), POD_A, "reply goes to A");
	ASSERT_EQ(frame_port(&result, 2), CLIENT_PORT, "to A's port");
}

static void reply_without_its_forward_half_is_dropped(void)
{
	struct weir_snat_key forward = half_key(POD_A, CLIENT_PORT, EGRESS);
	struct packet_spec reply;
	uint16_t node_port;

	SETUP();
	ASSERT_EQ(uplink_setup(), 0, "uplink");
	node_port = masquerade(POD_A, CLIENT_PORT);
	ASSERT_TRUE(node_port != 0, "mapped");
	/* The forward half is gone (idle flow swept, or lost): its port belongs to nobody. */
	ASSERT_EQ(bpf_map_delete_elem(fixture_map_fd(WEIR_MAP_SNAT), &forward), 0, "drop the half");
	reply = reply_to_node(node_port);
	ASSERT_EQ(run_spec(FROM_UPLINK, &reply).verdict, TC_ACT_SHOT, "orphan reply");
	ASSERT_EQ(drops_of(0, WEIR_DROP_MASQUERADE_ORPHAN_REPLY, INGRESS), 1, "named and counted");
	ASSERT_EQ(counter(WEIR_COUNTER_MASQUERADE_REPLY), 0, "nothing translated");
}

static void port_held_by_another_flow_is_never_shared(void)
{
	int snat_fd;
	uint16_t node_port, again;
	struct weir_snat_key reverse, forward_b = half_key(POD_B, CLIENT_PORT, EGRESS);
	struct weir_snat_entry back_to_b = { .address = htonl(POD_B), .port = htons(CLIENT_PORT) };
	struct weir_snat_entry out_b = { .address = htonl(NODE_HOST) };
	struct packet_spec reply;
	struct run_result result;

	SETUP();
	ASSERT_EQ(uplink_setup(), 0, "uplink");
	snat_fd = fixture_map_fd(WEIR_MAP_SNAT);
	node_port = masquerade(POD_A, CLIENT_PORT);
	ASSERT_TRUE(node_port != 0, "A mapped");
	/* A's reverse half was lost (as an LRU eviction did) and B got the same node port. */
	reverse = half_key(NODE_HOST, node_port, INGRESS);
	back_to_b.last_used_ns = out_b.last_used_ns = monotonic_ns();
	out_b.port = htons(node_port);
	ASSERT_EQ(bpf_map_update_elem(snat_fd, &reverse, &back_to_b, BPF_ANY), 0, "B's reverse");
	ASSERT_EQ(bpf_map_update_elem(snat_fd, &forward_b, &out_b, BPF_ANY), 0, "B's forward");
	again = masquerade(POD_A, CLIENT_PORT);
	ASSERT_TRUE(again != 0, "A still leaves");
	ASSERT_TRUE(again != node_port, "A never shares B's port");
	reply = reply_to_node(node_port);
	result = run_spec(FROM_UPLINK, &reply);
	ASSERT_EQ(result.verdict, TC_ACT_OK, "B's reply");
	ASSERT_EQ(frame_address(&result, 16), POD_B, "the port's replies go to B, its holder");
	reply = reply_to_node(again);
	result = run_spec(FROM_UPLINK, &reply);
	ASSERT_EQ(frame_address(&result, 16), POD_A, "A's new port answers A");
}

static void pod_beyond_its_quota_is_refused_by_name(void)
{
	uint32_t refused = 0;

	SETUP();
	ASSERT_EQ(uplink_setup(), 0, "uplink");
	for (uint32_t i = 0; i < WEIR_SNAT_PORTS_PER_POD; i++)
		refused += masquerade(POD_A, (uint16_t)(1024 + i)) == 0;
	ASSERT_EQ(refused, 0, "A's flows up to the quota");
	ASSERT_EQ(masquerade(POD_A, 1024 + WEIR_SNAT_PORTS_PER_POD), 0, "one more is refused");
	ASSERT_EQ(drops_of(ENDPOINT_A, WEIR_DROP_MASQUERADE_QUOTA, EGRESS), 1, "named and counted");
	ASSERT_TRUE(masquerade(POD_A, 1024) != 0, "A's existing flows go on");
	ASSERT_TRUE(masquerade(POD_B, CLIENT_PORT) != 0, "B still gets a port");
}

static void sweep_removes_idle_pairs_whole_and_gives_the_quota_back(void)
{
	int snat_fd, released_fd;
	struct weir_snat_key forward = half_key(POD_A, CLIENT_PORT, EGRESS), reverse;
	struct weir_snat_entry entry;
	struct snat_sweep_result swept;
	uint64_t released = 0, idle = WEIR_SNAT_TIMEOUT_TCP_NS + 1000000000ull;
	uint16_t node_port;
	char errbuf[256];

	SETUP();
	ASSERT_EQ(uplink_setup(), 0, "uplink");
	snat_fd = fixture_map_fd(WEIR_MAP_SNAT);
	released_fd = fixture_map_fd(WEIR_MAP_SNAT_RELEASED);
	node_port = masquerade(POD_A, CLIENT_PORT);
	ASSERT_TRUE(node_port != 0, "mapped");
	reverse = half_key(NODE_HOST, node_port, INGRESS);

	ASSERT_EQ(snat_sweep(snat_fd, released_fd, monotonic_ns(), &swept, errbuf, sizeof(errbuf)),
		  0, "sweep now");
	ASSERT_EQ(swept.pairs_removed, 0, "a fresh pair stays");

	/* Replies keep a pair alive even when the pod has not sent for long. */
	ASSERT_EQ(bpf_map_lookup_elem(snat_fd, &reverse, &entry), 0, "reverse half");
	entry.last_used_ns += idle;
	ASSERT_EQ(bpf_map_update_elem(snat_fd, &reverse, &entry, BPF_EXIST), 0, "recent reply");
	ASSERT_EQ(snat_sweep(snat_fd, released_fd, monotonic_ns() + idle, &swept, errbuf,
			     sizeof(errbuf)),
		  0, "sweep later");
	ASSERT_EQ(swept.pairs_removed, 0, "a pair with recent replies stays");

	ASSERT_EQ(snat_sweep(snat_fd, released_fd, monotonic_ns() + 2 * idle + 1000000000ull,
			     &swept, errbuf, sizeof(errbuf)),
		  0, "sweep when both are idle");
	ASSERT_EQ(swept.pairs_removed, 1, "the idle pair goes");
	ASSERT_TRUE(bpf_map_lookup_elem(snat_fd, &forward, &entry) < 0, "forward half gone");
	ASSERT_TRUE(bpf_map_lookup_elem(snat_fd, &reverse, &entry) < 0, "reverse half gone");
	{
		uint32_t pod = htonl(POD_A);
		ASSERT_EQ(bpf_map_lookup_elem(released_fd, &pod, &released), 0, "released count");
	}
	ASSERT_EQ(released, 1, "A's quota given back");
}

static void swept_quota_lets_the_pod_map_again(void)
{
	struct snat_sweep_result swept;
	char errbuf[256];

	SETUP();
	ASSERT_EQ(uplink_setup(), 0, "uplink");
	for (uint32_t i = 0; i < WEIR_SNAT_PORTS_PER_POD; i++)
		masquerade(POD_A, (uint16_t)(1024 + i));
	ASSERT_EQ(masquerade(POD_A, 9000), 0, "at its quota");
	ASSERT_EQ(snat_sweep(fixture_map_fd(WEIR_MAP_SNAT), fixture_map_fd(WEIR_MAP_SNAT_RELEASED),
			     monotonic_ns() + WEIR_SNAT_TIMEOUT_TCP_NS + 1000000000ull, &swept,
			     errbuf, sizeof(errbuf)),
		  0, "sweep");
	ASSERT_EQ(swept.pairs_removed, WEIR_SNAT_PORTS_PER_POD, "every idle pair removed");
	ASSERT_TRUE(masquerade(POD_A, 9000) != 0, "A maps again");
}

static void node_port_pairs_are_swept_without_touching_a_quota(void)
{
	int snat_fd, released_fd;
	struct weir_snat_key forward = half_key(POD_A, CLIENT_PORT, EGRESS);
	struct weir_snat_entry entry;
	struct snat_sweep_result swept;
	uint32_t pod = htonl(POD_A);
	uint64_t released = 0;
	char errbuf[256];

	SETUP();
	ASSERT_EQ(uplink_setup(), 0, "uplink");
	snat_fd = fixture_map_fd(WEIR_MAP_SNAT);
	released_fd = fixture_map_fd(WEIR_MAP_SNAT_RELEASED);
	ASSERT_TRUE(masquerade(POD_A, CLIENT_PORT) != 0, "mapped");
	/* As a NodePort request's forward half is written: under no pod's quota. */
	ASSERT_EQ(bpf_map_lookup_elem(snat_fd, &forward, &entry), 0, "forward half");
	entry.flags |= WEIR_SNAT_FLAG_UNCOUNTED;
	ASSERT_EQ(bpf_map_update_elem(snat_fd, &forward, &entry, BPF_EXIST), 0, "uncounted");
	ASSERT_EQ(snat_sweep(snat_fd, released_fd,
			     monotonic_ns() + WEIR_SNAT_TIMEOUT_TCP_NS + 1000000000ull, &swept, errbuf,
			     sizeof(errbuf)),
		  0, "sweep");
	ASSERT_EQ(swept.pairs_removed, 1, "removed");
	ASSERT_TRUE(bpf_map_lookup_elem(released_fd, &pod, &released) < 0 || released == 0,
		    "no quota credited for it");
}

const struct test_case masquerade_tests[] = {
	{ "masquerade_maps_out_and_replies_back", masquerade_maps_out_and_replies_back },
	{ "reply_without_its_forward_half_is_dropped", reply_without_its_forward_half_is_dropped },
	{ "port_held_by_another_flow_is_never_shared", port_held_by_another_flow_is_never_shared },
	{ "pod_beyond_its_quota_is_refused_by_name", pod_beyond_its_quota_is_refused_by_name },
	{ "sweep_removes_idle_pairs_whole_and_gives_the_quota_back",
	  sweep_removes_idle_pairs_whole_and_gives_the_quota_back },
	{ "swept_quota_lets_the_pod_map_again", swept_quota_lets_the_pod_map_again },
	{ "node_port_pairs_are_swept_without_touching_a_quota",
	  node_port_pairs_are_swept_without_touching_a_quota },
};
const size_t masquerade_tests_count = sizeof(masquerade_tests) / sizeof(masquerade_tests[0]);
