/* Parsing and anti-spoofing: what is not IPv4 TCP/UDP/SCTP/ICMP is dropped with its own
 * reason, malformed headers at every layer are dropped as malformed, and a pod can only send
 * from its own address and MAC. */
#include <linux/if_ether.h>

#include "fixture.h"
#include "suites.h"

static void expect_drop(struct run_result result, uint32_t endpoint_id,
			enum weir_drop_reason reason, uint8_t direction)
{
	if (result.verdict != TC_ACT_SHOT)
		TEST_FAIL("verdict: expected TC_ACT_SHOT, got %d", result.verdict);
	else if (drops_of(endpoint_id, reason, direction) != 1)
		TEST_FAIL("drop counter %s of endpoint %u: expected 1, got %llu",
			  weir_drop_reason_names[reason], endpoint_id,
			  (unsigned long long)drops_of(endpoint_id, reason, direction));
	else if (counter(WEIR_COUNTER_DROPPED) != 1)
		TEST_FAIL("dropped counter: expected 1, got %llu",
			  (unsigned long long)counter(WEIR_COUNTER_DROPPED));
}

static void ipv6_is_dropped_as_unsupported_l3(void)
{
	struct packet_spec spec = tcp_from_a(REMOTE_POD, 80, TCP_SYN);

	SETUP();
	spec.ethertype = ETH_P_IPV6;
	expect_drop(run_spec(FROM_POD, &spec), 0, WEIR_DROP_UNSUPPORTED_L3, WEIR_DIRECTION_EGRESS);
	spec.ethertype = ETH_P_IPV6;
	struct run_result result = run_spec(TO_POD, &spec);
	ASSERT_EQ(result.verdict, TC_ACT_SHOT, "IPv6 towards the pod");
	ASSERT_EQ(drops_of(0, WEIR_DROP_UNSUPPORTED_L3, WEIR_DIRECTION_INGRESS), 1, "ingress count");
}

static void unknown_ethertype_is_dropped_as_unsupported_l3(void)
{
	struct packet_spec spec = tcp_from_a(REMOTE_POD, 80, TCP_SYN);

	SETUP();
	spec.ethertype = 0x88cc; /* LLDP */
	expect_drop(run_spec(FROM_POD, &spec), 0, WEIR_DROP_UNSUPPORTED_L3, WEIR_DIRECTION_EGRESS);
}

static void gre_is_dropped_as_unsupported_l4(void)
{
	struct packet_spec spec = tcp_from_a(REMOTE_POD, 0, 0);

	SETUP();
	spec.protocol = 47;
	spec.payload_length = 16;
	expect_drop(run_spec(FROM_POD, &spec), 0, WEIR_DROP_UNSUPPORTED_L4, WEIR_DIRECTION_EGRESS);
}

static void ethernet_only_frame_is_malformed(void)
{
	uint8_t frame[14] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0xaa, 0, 0, 0, 0x02,
			      0x08, 0x06 };

	SETUP();
	expect_drop(run_frame(FROM_POD, frame, sizeof(frame)), 0, WEIR_DROP_MALFORMED,
		    WEIR_DIRECTION_EGRESS);
	ASSERT_EQ(counter(WEIR_COUNTER_TRUNCATED), 1, "truncated counter");
}

static void ip_total_length_past_the_frame_is_malformed(void)
{
	struct packet_spec spec = udp_from_a(REMOTE_POD, 53);
	uint8_t frame[256];
	size_t length;

	SETUP();
	length = packet_build(frame, sizeof(frame), &spec);
	frame[14 + 2] = 0x05; /* tot_len 0x05xx: far past the end */
	expect_drop(run_frame(FROM_POD, frame, length), 0, WEIR_DROP_MALFORMED,
		    WEIR_DIRECTION_EGRESS);
}

static void ihl_below_five_is_malformed(void)
{
	struct packet_spec spec = udp_from_a(REMOTE_POD, 53);
	uint8_t frame[256];
	size_t length;

	SETUP();
	length = packet_build(frame, sizeof(frame), &spec);
	frame[14] = 0x44;
	expect_drop(run_frame(FROM_POD, frame, length), 0, WEIR_DROP_MALFORMED,
		    WEIR_DIRECTION_EGRESS);
}

static void wrong_ip_version_is_malformed(void)
{
	struct packet_spec spec = udp_from_a(REMOTE_POD, 53);
	uint8_t frame[256];
	size_t length;

	SETUP();
	length = packet_build(frame, sizeof(frame), &spec);
	frame[14] = 0x65;
	expect_drop(run_frame(TO_POD, frame, length), 0, WEIR_DROP_MALFORMED,
		    WEIR_DIRECTION_INGRESS);
}

static void ip_options_are_skipped_to_the_ports(void)
{
	struct packet_spec spec = tcp_to_a(REMOTE_POD, 80, TCP_SYN);

	SETUP();
	spec.ip_options_length = 8;
	ASSERT_EQ(isolate(ENDPOINT_A, 11, 0), 0, "isolate A");
	ASSERT_EQ(allow(ENDPOINT_A, WEIR_DIRECTION_INGRESS, IDENTITY_REMOTE, IPPROTO_TCP, 80, 80, 12),
		  0, "allow 80");
	ASSERT_EQ(run_spec(TO_POD, &spec).verdict, TC_ACT_OK, "port 80 behind options");
	spec.destination_port = 81;
	spec.source_port = CLIENT_PORT + 1;
	ASSERT_EQ(run_spec(TO_POD, &spec).verdict, TC_ACT_SHOT, "port 81 behind options");
	ASSERT_EQ(drops_of(ENDPOINT_A, WEIR_DROP_POLICY_DENIED_INGRESS, WEIR_DIRECTION_INGRESS), 1,
		  "denied count");
}

static void tcp_data_offset_past_the_end_is_malformed(void)
{
	struct packet_spec spec = tcp_from_a(REMOTE_POD, 80, TCP_SYN);
	uint8_t frame[256];
	size_t length;

	SETUP();
	length = packet_build(frame, sizeof(frame), &spec);
	frame[14 + 20 + 12] = 0xf0; /* 60-byte header in a 20-byte segment */
	expect_drop(run_frame(FROM_POD, frame, length), 0, WEIR_DROP_MALFORMED,
		    WEIR_DIRECTION_EGRESS);
}

static void tcp_data_offset_below_five_is_malformed(void)
{
	struct packet_spec spec = tcp_from_a(REMOTE_POD, 80, TCP_SYN);
	uint8_t frame[256];
	size_t length;

	SETUP();
	spec.payload_length = 20;
	length = packet_build(frame, sizeof(frame), &spec);
	frame[14 + 20 + 12] = 0x30;
	expect_drop(run_frame(FROM_POD, frame, length), 0, WEIR_DROP_MALFORMED,
		    WEIR_DIRECTION_EGRESS);
}

static void truncated_udp_header_is_malformed(void)
{
	struct packet_spec spec = udp_from_a(REMOTE_POD, 53);
	uint8_t frame[256];

	SETUP();
	spec.payload_length = 0;
	packet_build(frame, sizeof(frame), &spec);
	frame[14 + 3] = 24; /* tot_len: IP header + 4 bytes of UDP */
	expect_drop(run_frame(FROM_POD, frame, 14 + 24), 0, WEIR_DROP_MALFORMED,
		    WEIR_DIRECTION_EGRESS);
}

static void truncated_icmp_error_is_malformed(void)
{
	struct packet_spec inner = udp_from_a(REMOTE_POD, 53);
	struct packet_spec spec = { .source = REMOTE_POD, .destination = POD_A,
				    .protocol = IPPROTO_ICMP, .icmp_type = 3,
				    .icmp_inner = &inner };
	uint8_t frame[256];
	size_t length;

	SETUP();
	length = packet_build(frame, sizeof(frame), &spec);
	/* keep the outer ICMP header and 12 bytes of the inner IP header */
	frame[14 + 2] = 0;
	frame[14 + 3] = 20 + 8 + 12;
	expect_drop(run_frame(TO_POD, frame, 14 + 20 + 8 + 12), 0, WEIR_DROP_MALFORMED,
		    WEIR_DIRECTION_INGRESS);
	(void)length;
}

static void sctp_is_tracked_by_ports(void)
{
	struct packet_spec spec = tcp_to_a(REMOTE_POD, 3868, 0);

	SETUP();
	spec.protocol = IPPROTO_SCTP;
	ASSERT_EQ(isolate(ENDPOINT_A, 11, 0), 0, "isolate A");
	ASSERT_EQ(allow(ENDPOINT_A, WEIR_DIRECTION_INGRESS, WEIR_IDENTITY_ANY, IPPROTO_SCTP, 3868,
			3868, 12),
		  0, "allow SCTP 3868");
	ASSERT_EQ(run_spec(TO_POD, &spec).verdict, TC_ACT_OK, "SCTP 3868");
	spec.destination_port = 3869;
	ASSERT_EQ(run_spec(TO_POD, &spec).verdict, TC_ACT_SHOT, "SCTP 3869");
}

static void arp_from_pod_for_its_own_address_passes(void)
{
	uint8_t frame[64];
	size_t length = packet_build_arp(frame, sizeof(frame), POD_A, MAC_A);

	SETUP();
	ASSERT_EQ(run_frame(FROM_POD, frame, length).verdict, TC_ACT_OK, "verdict");
	ASSERT_EQ(counter(WEIR_COUNTER_DROPPED), 0, "nothing dropped");
	ASSERT_EQ(counter(WEIR_COUNTER_NON_IPV4), 1, "non_ipv4 counter");
}

static void arp_from_pod_for_another_address_is_spoofing(void)
{
	uint8_t frame[64];
	size_t length = packet_build_arp(frame, sizeof(frame), POD_B + 100, MAC_A);

	SETUP();
	expect_drop(run_frame(FROM_POD, frame, length), 0, WEIR_DROP_SPOOFED_SOURCE_IP,
		    WEIR_DIRECTION_EGRESS);
	length = packet_build_arp(frame, sizeof(frame), POD_A, MAC_B);
	ASSERT_EQ(run_frame(FROM_POD, frame, length).verdict, TC_ACT_SHOT, "ARP with B's MAC");
	ASSERT_EQ(drops_of(ENDPOINT_A, WEIR_DROP_SPOOFED_SOURCE_MAC, WEIR_DIRECTION_EGRESS), 1,
		  "spoofed MAC count");
}

static void arp_towards_the_pod_passes(void)
{
	uint8_t frame[64];
	size_t length = packet_build_arp(frame, sizeof(frame), NODE_HOST, MAC_ROUTER);

	SETUP();
	ASSERT_EQ(run_frame(TO_POD, frame, length).verdict, TC_ACT_OK, "verdict");
	ASSERT_EQ(counter(WEIR_COUNTER_DROPPED), 0, "nothing dropped");
}

static void spoofed_source_address_is_dropped(void)
{
	struct packet_spec spec = tcp_from_a(REMOTE_POD, 80, TCP_SYN);

	SETUP();
	spec.source = 0x0a0000fe;
	expect_drop(run_spec(FROM_POD, &spec), 0, WEIR_DROP_SPOOFED_SOURCE_IP,
		    WEIR_DIRECTION_EGRESS);
	ASSERT_EQ(counter(WEIR_COUNTER_CT_NEW), 0, "no connection tracked");
}

static void another_pods_address_on_this_veth_is_dropped(void)
{
	struct packet_spec spec = tcp_from_a(REMOTE_POD, 80, TCP_SYN);

	SETUP();
	spec.source = POD_ELSEWHERE; /* a real local pod, but behind ifindex 99 */
	spec.source_mac = MAC_B;
	expect_drop(run_spec(FROM_POD, &spec), 0, WEIR_DROP_SPOOFED_SOURCE_IP,
		    WEIR_DIRECTION_EGRESS);
}

static void spoofed_source_mac_is_dropped(void)
{
	struct packet_spec spec = tcp_from_a(REMOTE_POD, 80, TCP_SYN);
	static const uint8_t forged[6] = { 0x02, 0x66, 0x66, 0x66, 0x66, 0x66 };

	SETUP();
	spec.source_mac = forged;
	expect_drop(run_spec(FROM_POD, &spec), ENDPOINT_A, WEIR_DROP_SPOOFED_SOURCE_MAC,
		    WEIR_DIRECTION_EGRESS);
}

static void unknown_destination_on_this_veth_is_dropped(void)
{
	struct packet_spec spec = tcp_to_a(REMOTE_POD, 80, TCP_SYN);

	SETUP();
	spec.destination = 0x0a0000fe;
	expect_drop(run_spec(TO_POD, &spec), 0, WEIR_DROP_UNKNOWN_ENDPOINT, WEIR_DIRECTION_INGRESS);
}

static void endpoint_counters_count_packets_and_bytes(void)
{
	struct packet_spec spec = udp_from_a(REMOTE_POD, 53);
	struct weir_endpoint_stats stats;
	uint8_t frame[256];
	size_t length;

	SETUP();
	length = packet_build(frame, sizeof(frame), &spec);
	ASSERT_EQ(run_frame(FROM_POD, frame, length).verdict, TC_ACT_OK, "first");
	ASSERT_EQ(run_frame(FROM_POD, frame, length).verdict, TC_ACT_OK, "second");
	ASSERT_EQ(datapath_endpoint_stats(&datapath, ENDPOINT_A, &stats), 0, "read stats");
	ASSERT_EQ(stats.from_pod_packets, 2, "packets");
	ASSERT_EQ(stats.from_pod_bytes, 2 * length, "bytes");
	ASSERT_EQ(counter(WEIR_COUNTER_FROM_POD_PASSED), 2, "from_pod_passed");
}

const struct test_case parse_tests[] = {
	{ "ipv6_is_dropped_as_unsupported_l3", ipv6_is_dropped_as_unsupported_l3 },
	{ "unknown_ethertype_is_dropped_as_unsupported_l3",
	  unknown_ethertype_is_dropped_as_unsupported_l3 },
	{ "gre_is_dropped_as_unsupported_l4", gre_is_dropped_as_unsupported_l4 },
	{ "ethernet_only_frame_is_malformed", ethernet_only_frame_is_malformed },
	{ "ip_total_length_past_the_frame_is_malformed",
	  ip_total_length_past_the_frame_is_malformed },
	{ "ihl_below_five_is_malformed", ihl_below_five_is_malformed },
	{ "wrong_ip_version_is_malformed", wrong_ip_version_is_malformed },
	{ "ip_options_are_skipped_to_the_ports", ip_options_are_skipped_to_the_ports },
	{ "tcp_data_offset_past_the_end_is_malformed", tcp_data_offset_past_the_end_is_malformed },
	{ "tcp_data_offset_below_five_is_malformed", tcp_data_offset_below_five_is_malformed },
	{ "truncated_udp_header_is_malformed", truncated_udp_header_is_malformed },
	{ "truncated_icmp_error_is_malformed", truncated_icmp_error_is_malformed },
	{ "sctp_is_tracked_by_ports", sctp_is_tracked_by_ports },
	{ "arp_from_pod_for_its_own_address_passes", arp_from_pod_for_its_own_address_passes },
	{ "arp_from_pod_for_another_address_is_spoofing",
	  arp_from_pod_for_another_address_is_spoofing },
	{ "arp_towards_the_pod_passes", arp_towards_the_pod_passes },
	{ "spoofed_source_address_is_dropped", spoofed_source_address_is_dropped },
	{ "another_pods_address_on_this_veth_is_dropped",
	  another_pods_address_on_this_veth_is_dropped },
	{ "spoofed_source_mac_is_dropped", spoofed_source_mac_is_dropped },
	{ "unknown_destination_on_this_veth_is_dropped",
	  unknown_destination_on_this_veth_is_dropped },
	{ "endpoint_counters_count_packets_and_bytes", endpoint_counters_count_packets_and_bytes },
};
const size_t parse_tests_count = sizeof(parse_tests) / sizeof(parse_tests[0]);
