/* Services in the datapath: VIP translation to a backend with valid checksums, the same
 * backend for the whole connection, replies translated back to the VIP, an immediate refusal
 * when no backend exists, policy judged against the backend, and a Maglev table that spreads
 * clients and moves few of them when a backend goes. */
#include <arpa/inet.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <stdlib.h>
#include <string.h>

#include "checksum.h"
#include "fixture.h"
#include "suites.h"

#define VIP 0x0a600001u /* 10.96.0.1 */
#define SERVICE_ID 42

static int program_service(uint16_t port, uint8_t protocol, const uint32_t *addresses,
			   size_t count, uint16_t target_port)
{
	struct service_backend backends[8];
	char errbuf[256];

	for (size_t i = 0; i < count; i++) {
		backends[i].address = addresses[i];
		backends[i].port = target_port;
		backends[i].backend_id = (uint32_t)(100 + i);
	}
	return datapath_service_write(&datapath, VIP, port, protocol, SERVICE_ID, backends, count, 0,
				      errbuf, sizeof(errbuf));
}

static uint32_t frame_destination(const struct run_result *result)
{
	return ntohl(((const struct iphdr *)(result->frame + 14))->daddr);
}

static void service_translates_to_a_backend_with_valid_checksums(void)
{
	uint32_t backend = REMOTE_POD;
	struct packet_spec syn = tcp_from_a(VIP, 80, TCP_SYN);
	struct run_result result;
	const struct tcphdr *tcp;

	SETUP();
	ASSERT_EQ(program_service(80, IPPROTO_TCP, &backend, 1, 8080), 0, "program service");
	result = run_spec(FROM_POD, &syn);
	ASSERT_EQ(result.verdict, TC_ACT_OK, "to the remote backend via the stack");
	ASSERT_EQ(frame_destination(&result), REMOTE_POD, "destination is the backend");
	tcp = (const struct tcphdr *)(result.frame + 14 + 20);
	ASSERT_EQ(ntohs(tcp->dest), 8080, "target port");
	ASSERT_EQ(ipv4_header_checksum(result.frame + 14), 0, "IP checksum");
	ASSERT_EQ(tcp_checksum_check(result.frame + 14), 0, "TCP checksum");
	ASSERT_EQ(counter(WEIR_COUNTER_SERVICE_TRANSLATED), 1, "translated counter");
}

static void udp_service_keeps_checksums_right(void)
{
	uint32_t backend = REMOTE_POD;
	struct packet_spec query = udp_from_a(VIP, 53);
	struct run_result result;

	SETUP();
	ASSERT_EQ(program_service(53, IPPROTO_UDP, &backend, 1, 5353), 0, "program service");
	result = run_spec(FROM_POD, &query);
	ASSERT_EQ(result.verdict, TC_ACT_OK, "verdict");
	ASSERT_EQ(frame_destination(&result), REMOTE_POD, "backend");
	ASSERT_EQ(ntohs(((const struct udphdr *)(result.frame + 34))->dest), 5353, "target port");
	ASSERT_EQ(ipv4_header_checksum(result.frame + 14), 0, "IP checksum");
}

/* Writes a valid checksum into the SCTP packet of frame, or checks it (0: valid). */
static uint32_t sctp_checksum(uint8_t *frame, size_t frame_length, int write)
{
	uint8_t *sctp = frame + 14 + 20;
	size_t length = frame_length - 14 - 20;
	uint32_t stored, computed;

	memcpy(&stored, sctp + 8, 4);
	memset(sctp + 8, 0, 4);
	/* The whole-packet reference the datapath's incremental update is checked against. */
	computed = crc32c(sctp, length); /* little-endian on the wire, as Linux stores it */
	memcpy(sctp + 8, write ? &computed : &stored, 4);
	return write ? 0 : stored ^ computed;
}

static void sctp_service_port_translation_keeps_the_crc_right(void)
{
	uint32_t backend = REMOTE_POD;
	struct packet_spec init = tcp_from_a(VIP, 3868, 0);
	struct packet_spec init_ack = tcp_to_a(REMOTE_POD, CLIENT_PORT, 0);
	uint8_t frame[2048];
	struct run_result result;
	size_t length;

	SETUP();
	init.protocol = init_ack.protocol = IPPROTO_SCTP;
	init.payload_length = init_ack.payload_length = 301; /* odd, to cross word boundaries */
	init_ack.source_port = 3869;
	ASSERT_EQ(program_service(3868, IPPROTO_SCTP, &backend, 1, 3869), 0, "program service");
	length = packet_build(frame, sizeof(frame), &init);
	sctp_checksum(frame, length, 1);
	result = run_frame(FROM_POD, frame, length);
	ASSERT_EQ(result.verdict, TC_ACT_OK, "to the backend");
	ASSERT_EQ(ntohs(*(const uint16_t *)(result.frame + 36)), 3869, "target port");
	ASSERT_EQ(sctp_checksum(result.frame, result.length, 0), 0, "CRC32c after translation");

	length = packet_build(frame, sizeof(frame), &init_ack);
	sctp_checksum(frame, length, 1);
	result = run_frame(TO_POD, frame, length);
	ASSERT_EQ(result.verdict, TC_ACT_OK, "the reply");
	ASSERT_EQ(ntohs(*(const uint16_t *)(result.frame + 34)), 3868, "service port again");
	ASSERT_EQ(sctp_checksum(result.frame, result.length, 0), 0, "CRC32c of the reply");

	/* A sender that left the CRC to the device (CHECKSUM_PARTIAL) has 0 there: left alone. */
	length = packet_build(frame, sizeof(frame), &init);
	result = run_frame(FROM_POD, frame, length);
	ASSERT_EQ(result.verdict, TC_ACT_OK, "offloaded CRC");
	ASSERT_EQ(*(const uint32_t *)(result.frame + 14 + 20 + 8), 0, "still left to the device");
}

static void reply_is_translated_back_to_the_vip(void)
{
	uint32_t backend = REMOTE_POD;
	struct packet_spec syn = tcp_from_a(VIP, 80, TCP_SYN);
	struct packet_spec syn_ack = tcp_to_a(REMOTE_POD, CLIENT_PORT, TCP_SYN | TCP_ACK);
	struct run_result result;
	const struct iphdr *ip;
	const struct tcphdr *tcp;

	SETUP();
	syn_ack.source_port = 8080;
	ASSERT_EQ(program_service(80, IPPROTO_TCP, &backend, 1, 8080), 0, "program service");
	ASSERT_EQ(isolate(ENDPOINT_A, 5, 0), 0, "A admits nothing new");
	ASSERT_EQ(run_spec(FROM_POD, &syn).verdict, TC_ACT_OK, "SYN to the VIP");
	result = run_spec(TO_POD, &syn_ack);
	ASSERT_EQ(result.verdict, TC_ACT_OK, "the reply passes as a reply");
	ip = (const struct iphdr *)(result.frame + 14);
	tcp = (const struct tcphdr *)(result.frame + 34);
	ASSERT_EQ(ntohl(ip->saddr), VIP, "source is the VIP again");
	ASSERT_EQ(ntohs(tcp->source), 80, "source port is the service port");
	ASSERT_EQ(ipv4_header_checksum(result.frame + 14), 0, "IP checksum");
	ASSERT_EQ(tcp_checksum_check(result.frame + 14), 0, "TCP checksum");
	ASSERT_EQ(counter(WEIR_COUNTER_SERVICE_REPLY_TRANSLATED), 1, "reply translated counter");
}

static void connection_keeps_its_backend(void)
{
	uint32_t addresses[3] = { REMOTE_POD, REMOTE_POD + 1, REMOTE_POD + 2 };
	struct packet_spec syn = tcp_from_a(VIP, 80, TCP_SYN);
	struct packet_spec data = tcp_from_a(VIP, 80, TCP_ACK);
	uint32_t first;

	SETUP();
	ASSERT_EQ(program_service(80, IPPROTO_TCP, addresses, 3, 8080), 0, "program service");
	{
		struct run_result result = run_spec(FROM_POD, &syn);
		first = frame_destination(&result);
	}
	for (int i = 0; i < 5; i++) {
		struct run_result result = run_spec(FROM_POD, &data);
		ASSERT_EQ(frame_destination(&result), first, "same backend for the connection");
	}
}

static void clients_spread_over_backends(void)
{
	uint32_t addresses[3] = { REMOTE_POD, REMOTE_POD + 1, REMOTE_POD + 2 };
	unsigned hits[3] = { 0 };

	SETUP();
	ASSERT_EQ(program_service(80, IPPROTO_TCP, addresses, 3, 8080), 0, "program service");
	for (int i = 0; i < 300; i++) {
		struct packet_spec syn = tcp_from_a(VIP, 80, TCP_SYN);
		struct run_result result;
		syn.source_port = (uint16_t)(20000 + i);
		result = run_spec(FROM_POD, &syn);
		for (int b = 0; b < 3; b++)
			hits[b] += frame_destination(&result) == addresses[b];
	}
	for (int b = 0; b < 3; b++) {
		if (hits[b] < 60)
			TEST_FAIL("backend %d got %u of 300 connections (< 20%%)", b, hits[b]);
	}
}

static void no_backend_refuses_tcp_with_a_reset_from_the_vip(void)
{
	struct packet_spec syn = tcp_from_a(VIP, 80, TCP_SYN);
	struct run_result result;
	const struct iphdr *ip;
	const struct tcphdr *tcp;

	SETUP();
	ASSERT_EQ(program_service(80, IPPROTO_TCP, NULL, 0, 0), 0, "service without backends");
	result = run_spec(FROM_POD, &syn);
	ASSERT_EQ(result.verdict, TC_ACT_REDIRECT, "a reset back into the client");
	ip = (const struct iphdr *)(result.frame + 14);
	tcp = (const struct tcphdr *)(result.frame + 34);
	ASSERT_EQ(ntohl(ip->saddr), VIP, "from the VIP");
	ASSERT_EQ(tcp->rst, 1, "RST");
	ASSERT_EQ(drops_of(ENDPOINT_A, WEIR_DROP_NO_SERVICE_BACKEND, WEIR_DIRECTION_EGRESS), 1,
		  "counted with its reason");
}

static void no_backend_drops_udp_with_its_reason(void)
{
	struct packet_spec query = udp_from_a(VIP, 53);

	SETUP();
	ASSERT_EQ(program_service(53, IPPROTO_UDP, NULL, 0, 0), 0, "service without backends");
	ASSERT_EQ(run_spec(FROM_POD, &query).verdict, TC_ACT_SHOT, "dropped");
	ASSERT_EQ(drops_of(ENDPOINT_A, WEIR_DROP_NO_SERVICE_BACKEND, WEIR_DIRECTION_EGRESS), 1,
		  "counted");
}

static void policy_is_judged_against_the_backend(void)
{
	uint32_t backend = POD_B;
	struct packet_spec syn = tcp_from_a(VIP, 80, TCP_SYN);
	struct run_result result;

	SETUP();
	ASSERT_EQ(program_service(80, IPPROTO_TCP, &backend, 1, 8080), 0, "B behind the VIP");
	ASSERT_EQ(isolate(ENDPOINT_B, 9, 0), 0, "B admits nobody");
	result = run_spec(FROM_POD, &syn);
	ASSERT_EQ(result.verdict, TC_ACT_SHOT, "denied although the VIP was addressed");
	ASSERT_EQ(drops_of(ENDPOINT_B, WEIR_DROP_POLICY_DENIED_INGRESS, WEIR_DIRECTION_INGRESS), 1,
		  "B's ingress policy decided");
	ASSERT_EQ(allow(ENDPOINT_B, WEIR_DIRECTION_INGRESS, IDENTITY_A, IPPROTO_TCP, 8080, 0, 10), 0,
		  "allow A to B:8080 (the target port)");
	syn.source_port++;
	result = run_spec(FROM_POD, &syn);
	ASSERT_EQ(result.verdict, TC_ACT_REDIRECT, "allowed: delivered to B on this node");
	ASSERT_EQ(frame_destination(&result), POD_B, "to B");
}

static void maglev_moves_few_clients_when_a_backend_goes(void)
{
	struct service_backend four[4], three[3];
	uint32_t table_four[WEIR_MAGLEV_SIZE], table_three[WEIR_MAGLEV_SIZE], moved = 0;

	for (int i = 0; i < 4; i++) {
		four[i].address = 0x0a000100u + (uint32_t)i;
		four[i].port = 80;
		four[i].backend_id = (uint32_t)i;
	}
	memcpy(three, four, sizeof(three)); /* backend 3 removed */
	maglev_populate(four, 4, table_four);
	maglev_populate(three, 3, table_three);
	for (int slot = 0; slot < WEIR_MAGLEV_SIZE; slot++) {
		if (table_four[slot] != 3 && table_four[slot] != table_three[slot])
			moved++;
	}
	/* Only the removed backend's slots must move; Maglev allows a little more. */
	ASSERT_TRUE(moved < WEIR_MAGLEV_SIZE / 10, "few slots of surviving backends move");
	{
		struct service_backend reversed[4] = { four[3], four[2], four[1], four[0] };
		uint32_t table_reversed[WEIR_MAGLEV_SIZE];
		maglev_populate(reversed, 4, table_reversed);
		for (int slot = 0; slot < WEIR_MAGLEV_SIZE; slot++)
			ASSERT_EQ(reversed[table_reversed[slot]].address,
				  four[table_four[slot]].address, "the order of backends does not matter");
	}
}

static void client_ip_affinity_keeps_new_connections_on_one_backend(void)
{
	struct service_backend backends[3];
	char errbuf[256];
	uint32_t first = 0;

	SETUP();
	for (int i = 0; i < 3; i++) {
		backends[i].address = REMOTE_POD + (uint32_t)i;
		backends[i].port = 8080;
		backends[i].backend_id = (uint32_t)(100 + i);
	}
	ASSERT_EQ(datapath_service_write(&datapath, VIP, 80, IPPROTO_TCP, SERVICE_ID, backends, 3,
					 60, errbuf, sizeof(errbuf)),
		  0, "service with ClientIP affinity");
	for (int i = 0; i < 30; i++) {
		struct packet_spec syn = tcp_from_a(VIP, 80, TCP_SYN);
		struct run_result result;
		syn.source_port = (uint16_t)(30000 + i);
		result = run_spec(FROM_POD, &syn);
		if (i == 0)
			first = frame_destination(&result);
		ASSERT_EQ(frame_destination(&result), first, "every connection of the client");
	}
}

static void removed_backend_is_not_used_again(void)
{
	uint32_t addresses[2] = { REMOTE_POD, REMOTE_POD + 1 };
	struct packet_spec syn = tcp_from_a(VIP, 80, TCP_SYN);
	struct run_result result;
	uint32_t chosen, survivor;

	SETUP();
	ASSERT_EQ(program_service(80, IPPROTO_TCP, addresses, 2, 8080), 0, "two backends");
	result = run_spec(FROM_POD, &syn);
	chosen = frame_destination(&result);
	survivor = chosen == addresses[0] ? addresses[1] : addresses[0];
	ASSERT_EQ(program_service(80, IPPROTO_TCP, &survivor, 1, 8080), 0, "one removed");
	ASSERT_EQ(datapath_backend_delete(&datapath, chosen == addresses[0] ? 100 : 101), 0,
		  "its backend entry deleted");
	result = run_spec(FROM_POD, &syn);
	ASSERT_EQ(frame_destination(&result), survivor, "the connection moves to the survivor");
}

static void hairpin_hides_the_client_behind_the_hairpin_address(void)
{
	uint32_t backend = POD_A;
	struct packet_spec syn = tcp_from_a(VIP, 80, TCP_SYN);
	struct run_result result;
	const struct iphdr *ip;

	SETUP();
	ASSERT_EQ(program_service(80, IPPROTO_TCP, &backend, 1, 8080), 0, "A is its own backend");
	result = run_spec(FROM_POD, &syn);
	ASSERT_EQ(result.verdict, TC_ACT_REDIRECT, "back into A");
	ip = (const struct iphdr *)(result.frame + 14);
	ASSERT_EQ(ntohl(ip->saddr), WEIR_HAIRPIN_ADDRESS, "source hidden behind the hairpin address");
	ASSERT_EQ(ntohl(ip->daddr), POD_A, "destination A");
	ASSERT_EQ(ipv4_header_checksum(result.frame + 14), 0, "IP checksum");
	ASSERT_EQ(tcp_checksum_check(result.frame + 14), 0, "TCP checksum");
}

const struct test_case service_tests[] = {
	{ "hairpin_hides_the_client_behind_the_hairpin_address",
	  hairpin_hides_the_client_behind_the_hairpin_address },
	{ "client_ip_affinity_keeps_new_connections_on_one_backend",
	  client_ip_affinity_keeps_new_connections_on_one_backend },
	{ "removed_backend_is_not_used_again", removed_backend_is_not_used_again },
	{ "service_translates_to_a_backend_with_valid_checksums",
	  service_translates_to_a_backend_with_valid_checksums },
	{ "udp_service_keeps_checksums_right", udp_service_keeps_checksums_right },
	{ "sctp_service_port_translation_keeps_the_crc_right",
	  sctp_service_port_translation_keeps_the_crc_right },
	{ "reply_is_translated_back_to_the_vip", reply_is_translated_back_to_the_vip },
	{ "connection_keeps_its_backend", connection_keeps_its_backend },
	{ "clients_spread_over_backends", clients_spread_over_backends },
	{ "no_backend_refuses_tcp_with_a_reset_from_the_vip",
	  no_backend_refuses_tcp_with_a_reset_from_the_vip },
	{ "no_backend_drops_udp_with_its_reason", no_backend_drops_udp_with_its_reason },
	{ "policy_is_judged_against_the_backend", policy_is_judged_against_the_backend },
	{ "maglev_moves_few_clients_when_a_backend_goes",
	  maglev_moves_few_clients_when_a_backend_goes },
};
const size_t service_tests_count = sizeof(service_tests) / sizeof(service_tests[0]);
