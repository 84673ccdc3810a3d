/* Conntrack: replies and related ICMP errors follow their connection, unsolicited replies are
 * judged as new, TCP state and expiry, fragments in both orders, and a policy change that
 * revokes an established connection deterministically (RST towards the pod). */
#include <arpa/inet.h>
#include <linux/ip.h>
#include <linux/tcp.h>

#include <bpf/bpf.h>

#include "fixture.h"
#include "suites.h"

#define INGRESS WEIR_DIRECTION_INGRESS
#define EGRESS WEIR_DIRECTION_EGRESS

/* A's reply to a connection made to it, and the remote peer's reply to A's connection. */
static struct packet_spec reply_to_a_from(uint32_t server, uint16_t server_port, uint8_t flags)
{
	struct packet_spec spec = tcp_to_a(server, CLIENT_PORT, flags);
	spec.source_port = server_port;
	return spec;
}

static void reply_of_an_allowed_connection_passes(void)
{
	struct packet_spec syn = tcp_from_a(REMOTE_POD, 5432, TCP_SYN);
	struct packet_spec syn_ack = reply_to_a_from(REMOTE_POD, 5432, TCP_SYN | TCP_ACK);

	SETUP();
	ASSERT_EQ(isolate(ENDPOINT_A, 90, 0), 0, "A admits nobody");
	ASSERT_EQ(run_spec(FROM_POD, &syn).verdict, TC_ACT_OK, "A's SYN out");
	ASSERT_EQ(run_spec(TO_POD, &syn_ack).verdict, TC_ACT_OK, "the SYN-ACK back in");
	ASSERT_EQ(counter(WEIR_COUNTER_CT_REPLY), 1, "ct_reply counter");
	ASSERT_EQ(counter(WEIR_COUNTER_DROPPED), 0, "nothing dropped");
}

static void unsolicited_reply_is_judged_as_new(void)
{
	struct packet_spec syn_ack = reply_to_a_from(REMOTE_POD, 5432, TCP_SYN | TCP_ACK);

	SETUP();
	ASSERT_EQ(isolate(ENDPOINT_A, 90, 0), 0, "A admits nobody");
	ASSERT_EQ(run_spec(TO_POD, &syn_ack).verdict, TC_ACT_SHOT, "SYN-ACK nobody asked for");
	ASSERT_EQ(drops_of(ENDPOINT_A, WEIR_DROP_POLICY_DENIED_INGRESS, INGRESS), 1, "denied");
	ASSERT_EQ(counter(WEIR_COUNTER_CT_REPLY), 0, "not a reply");
}

static void established_forward_packets_use_the_entry(void)
{
	struct packet_spec syn = tcp_from_a(REMOTE_POD, 80, TCP_SYN);
	struct packet_spec data = tcp_from_a(REMOTE_POD, 80, TCP_ACK | TCP_PSH);

	SETUP();
	ASSERT_EQ(isolate(ENDPOINT_A, 0, 91), 0, "isolate egress");
	ASSERT_EQ(allow(ENDPOINT_A, EGRESS, IDENTITY_REMOTE, IPPROTO_TCP, 80, 0, 92), 0, "allow");
	ASSERT_EQ(run_spec(FROM_POD, &syn).verdict, TC_ACT_OK, "SYN");
	data.payload_length = 100;
	ASSERT_EQ(run_spec(FROM_POD, &data).verdict, TC_ACT_OK, "data");
	ASSERT_EQ(run_spec(FROM_POD, &data).verdict, TC_ACT_OK, "more data");
	ASSERT_EQ(counter(WEIR_COUNTER_CT_NEW), 1, "one new");
	ASSERT_EQ(counter(WEIR_COUNTER_CT_ESTABLISHED), 2, "two established");
}

static void tcp_state_follows_the_handshake_and_close(void)
{
	struct packet_spec syn = tcp_from_a(REMOTE_POD, 80, TCP_SYN);
	struct packet_spec syn_ack = reply_to_a_from(REMOTE_POD, 80, TCP_SYN | TCP_ACK);
	struct packet_spec fin = tcp_from_a(REMOTE_POD, 80, TCP_FIN | TCP_ACK);
	struct weir_ct_entry entry;

	SETUP();
	ASSERT_EQ(run_spec(FROM_POD, &syn).verdict, TC_ACT_OK, "SYN");
	ASSERT_EQ(ct_entry_of(POD_A, REMOTE_POD, CLIENT_PORT, 80, IPPROTO_TCP, &entry), 0, "entry");
	ASSERT_EQ(entry.state, WEIR_CT_SYN_SENT, "SYN_SENT");
	ASSERT_EQ(run_spec(TO_POD, &syn_ack).verdict, TC_ACT_OK, "SYN-ACK");
	ASSERT_EQ(ct_entry_of(POD_A, REMOTE_POD, CLIENT_PORT, 80, IPPROTO_TCP, &entry), 0, "entry");
	ASSERT_EQ(entry.state, WEIR_CT_ESTABLISHED, "ESTABLISHED");
	ASSERT_TRUE(entry.flags & WEIR_CT_FLAG_SEEN_REPLY, "seen reply");
	ASSERT_EQ(run_spec(FROM_POD, &fin).verdict, TC_ACT_OK, "FIN");
	ASSERT_EQ(ct_entry_of(POD_A, REMOTE_POD, CLIENT_PORT, 80, IPPROTO_TCP, &entry), 0, "entry");
	ASSERT_EQ(entry.state, WEIR_CT_CLOSING, "CLOSING");
}

static void invalid_tcp_flags_are_dropped(void)
{
	struct packet_spec syn_fin = tcp_from_a(REMOTE_POD, 80, TCP_SYN | TCP_FIN);

	SETUP();
	ASSERT_EQ(run_spec(FROM_POD, &syn_fin).verdict, TC_ACT_SHOT, "SYN+FIN");
	ASSERT_EQ(drops_of(ENDPOINT_A, WEIR_DROP_CT_INVALID, EGRESS), 1, "ct_invalid");
	ASSERT_EQ(counter(WEIR_COUNTER_CT_NEW), 0, "not tracked");
}

static void udp_reply_passes_and_unsolicited_udp_does_not(void)
{
	struct packet_spec query = udp_from_a(REMOTE_POD, 53);
	struct packet_spec answer = udp_to_a(REMOTE_POD, CLIENT_PORT);
	struct packet_spec stray = udp_to_a(REMOTE_POD, CLIENT_PORT + 1);

	SETUP();
	answer.source_port = 53;
	stray.source_port = 53;
	ASSERT_EQ(isolate(ENDPOINT_A, 93, 0), 0, "A admits nobody");
	ASSERT_EQ(run_spec(FROM_POD, &query).verdict, TC_ACT_OK, "query");
	ASSERT_EQ(run_spec(TO_POD, &answer).verdict, TC_ACT_OK, "answer");
	ASSERT_EQ(run_spec(TO_POD, &stray).verdict, TC_ACT_SHOT, "datagram to another port");
	ASSERT_EQ(drops_of(ENDPOINT_A, WEIR_DROP_POLICY_DENIED_INGRESS, INGRESS), 1, "denied");
}

static void icmp_echo_reply_passes(void)
{
	struct packet_spec echo = { .source_mac = MAC_A, .source = POD_A,
				    .destination = REMOTE_POD, .protocol = IPPROTO_ICMP,
				    .icmp_type = 8, .icmp_id = 77, .payload_length = 56 };
	struct packet_spec reply = { .source = REMOTE_POD, .destination = POD_A,
				     .protocol = IPPROTO_ICMP, .icmp_type = 0, .icmp_id = 77,
				     .payload_length = 56 };

	SETUP();
	ASSERT_EQ(isolate(ENDPOINT_A, 94, 0), 0, "A admits nobody");
	ASSERT_EQ(run_spec(FROM_POD, &echo).verdict, TC_ACT_OK, "echo request");
	ASSERT_EQ(run_spec(TO_POD, &reply).verdict, TC_ACT_OK, "echo reply");
	reply.icmp_id = 78;
	ASSERT_EQ(run_spec(TO_POD, &reply).verdict, TC_ACT_SHOT, "reply to another identifier");
	ASSERT_EQ(counter(WEIR_COUNTER_CT_REPLY), 1, "one reply");
}

static void related_icmp_error_passes_under_default_deny(void)
{
	struct packet_spec query = udp_from_a(WORLD_HOST, 53);
	struct packet_spec error = { .source = 0x0b000001, .destination = POD_A,
				     .protocol = IPPROTO_ICMP, .icmp_type = 3, .icmp_code = 3,
				     .icmp_inner = &query };

	SETUP();
	ASSERT_EQ(isolate(ENDPOINT_A, 95, 0), 0, "A admits nobody");
	ASSERT_EQ(run_spec(FROM_POD, &query).verdict, TC_ACT_OK, "query");
	ASSERT_EQ(run_spec(TO_POD, &error).verdict, TC_ACT_OK, "port unreachable for it");
	ASSERT_EQ(counter(WEIR_COUNTER_CT_RELATED), 1, "related counter");
}

static void unrelated_icmp_error_is_judged_as_new(void)
{
	struct packet_spec never_sent = udp_from_a(WORLD_HOST, 53);
	struct packet_spec error = { .source = 0x0b000001, .destination = POD_A,
				     .protocol = IPPROTO_ICMP, .icmp_type = 3, .icmp_code = 3,
				     .icmp_inner = &never_sent };

	SETUP();
	ASSERT_EQ(isolate(ENDPOINT_A, 95, 0), 0, "A admits nobody");
	ASSERT_EQ(run_spec(TO_POD, &error).verdict, TC_ACT_SHOT, "unreachable for nothing");
	ASSERT_EQ(drops_of(ENDPOINT_A, WEIR_DROP_POLICY_DENIED_INGRESS, INGRESS), 1, "denied");
	ASSERT_EQ(counter(WEIR_COUNTER_CT_RELATED), 0, "not related");
}

static void expired_entry_is_judged_as_new(void)
{
	struct packet_spec query = udp_from_a(REMOTE_POD, 53);
	struct packet_spec answer = udp_to_a(REMOTE_POD, CLIENT_PORT);
	struct weir_ct_key key = { .source = htonl(POD_A), .destination = htonl(REMOTE_POD),
				   .source_port = htons(CLIENT_PORT),
				   .destination_port = htons(53), .protocol = IPPROTO_UDP };
	struct weir_ct_entry entry;

	SETUP();
	answer.source_port = 53;
	ASSERT_EQ(isolate(ENDPOINT_A, 96, 0), 0, "A admits nobody");
	ASSERT_EQ(run_spec(FROM_POD, &query).verdict, TC_ACT_OK, "query");
	ASSERT_EQ(bpf_map_lookup_elem(datapath.ct_fd, &key, &entry), 0, "entry");
	entry.expires_ns = 1; /* long past */
	ASSERT_EQ(bpf_map_update_elem(datapath.ct_fd, &key, &entry, BPF_EXIST), 0, "expire it");
	ASSERT_EQ(run_spec(TO_POD, &answer).verdict, TC_ACT_SHOT, "late answer");
}

static void revision_change_still_allowed_keeps_the_flow(void)
{
	struct packet_spec syn = tcp_from_a(REMOTE_POD, 80, TCP_SYN);
	struct packet_spec data = tcp_from_a(REMOTE_POD, 80, TCP_ACK);
	struct weir_ct_entry entry;

	SETUP();
	ASSERT_EQ(isolate(ENDPOINT_A, 0, 97), 0, "isolate egress");
	ASSERT_EQ(allow(ENDPOINT_A, EGRESS, IDENTITY_REMOTE, IPPROTO_TCP, 80, 0, 98), 0, "allow");
	ASSERT_EQ(run_spec(FROM_POD, &syn).verdict, TC_ACT_OK, "SYN");
	ASSERT_EQ(bump_revision(), 0, "bump revision");
	ASSERT_EQ(run_spec(FROM_POD, &data).verdict, TC_ACT_OK, "data after the bump");
	ASSERT_EQ(counter(WEIR_COUNTER_CT_REJUDGED), 1, "judged again once");
	ASSERT_EQ(run_spec(FROM_POD, &data).verdict, TC_ACT_OK, "more data");
	ASSERT_EQ(counter(WEIR_COUNTER_CT_REJUDGED), 1, "not again");
	ASSERT_EQ(ct_entry_of(POD_A, REMOTE_POD, CLIENT_PORT, 80, IPPROTO_TCP, &entry), 0, "entry");
	ASSERT_EQ(entry.revision, 1, "entry carries the new revision");
	ASSERT_EQ(entry.rule_id, 98, "entry names the allowing rule");
}

static void revoked_connection_from_the_pod_gets_a_reset(void)
{
	struct packet_spec syn = tcp_from_a(REMOTE_POD, 80, TCP_SYN);
	struct packet_spec data = tcp_from_a(REMOTE_POD, 80, TCP_ACK | TCP_PSH);
	struct policy_rule rule = { ENDPOINT_A, EGRESS, IDENTITY_REMOTE, IPPROTO_TCP, 80, 0,
				    WEIR_VERDICT_ALLOW, 98 };
	struct weir_ct_entry entry;
	struct weir_event event;
	struct run_result result;
	const struct iphdr *ip;
	const struct tcphdr *tcp;
	char errbuf[128];

	SETUP();
	ASSERT_EQ(isolate(ENDPOINT_A, 0, 97), 0, "isolate egress");
	ASSERT_EQ(datapath_policy_write(&datapath, &rule, errbuf, sizeof(errbuf)), 0, "allow");
	ASSERT_EQ(run_spec(FROM_POD, &syn).verdict, TC_ACT_OK, "SYN");
	ASSERT_EQ(datapath_policy_delete(&datapath, &rule, errbuf, sizeof(errbuf)), 0, "revoke");
	ASSERT_EQ(bump_revision(), 0, "bump revision");
	data.payload_length = 200;
	data.sequence = 1001;
	data.acknowledgment = 424242;
	result = run_spec(FROM_POD, &data);
	ASSERT_EQ(result.verdict, TC_ACT_REDIRECT, "RST turned around into the pod");
	ASSERT_EQ(result.length, 14 + 20 + 20, "RST is a bare header");
	ip = (const struct iphdr *)(result.frame + 14);
	tcp = (const struct tcphdr *)(result.frame + 14 + 20);
	ASSERT_EQ(ntohl(ip->saddr), REMOTE_POD, "from the peer");
	ASSERT_EQ(ntohl(ip->daddr), POD_A, "to the pod");
	ASSERT_EQ(ntohs(tcp->source), 80, "peer port");
	ASSERT_EQ(ntohs(tcp->dest), CLIENT_PORT, "pod port");
	ASSERT_EQ(tcp->rst, 1, "RST flag");
	ASSERT_EQ(ntohl(tcp->seq), 424242, "sequence is the pod's acknowledgment");
	ASSERT_EQ(memcmp(result.frame, MAC_A, 6), 0, "addressed to the pod's MAC");
	ASSERT_EQ(ipv4_header_checksum(result.frame + 14), 0, "IP checksum");
	ASSERT_EQ(tcp_checksum_check(result.frame + 14), 0, "TCP checksum");
	ASSERT_EQ(drops_of(ENDPOINT_A, WEIR_DROP_POLICY_REVOKED, EGRESS), 1, "revoked count");
	ASSERT_EQ(counter(WEIR_COUNTER_RESETS_SENT), 1, "resets_sent");
	ASSERT_TRUE(ct_entry_of(POD_A, REMOTE_POD, CLIENT_PORT, 80, IPPROTO_TCP, &entry) < 0,
		    "connection forgotten");
	ASSERT_EQ(event_find(WEIR_EVENT_REVOKED, WEIR_DROP_POLICY_REVOKED, &event), 0,
		  "revoked event");
	ASSERT_EQ(event.rule_id, 97, "names the isolating policy's rule");
	data.sequence += 200;
	ASSERT_EQ(run_spec(FROM_POD, &data).verdict, TC_ACT_SHOT, "later packets judged as new");
}

static void revoked_connection_towards_the_pod_becomes_a_reset(void)
{
	struct packet_spec syn = tcp_to_a(REMOTE_POD, 8080, TCP_SYN);
	struct packet_spec data = tcp_to_a(REMOTE_POD, 8080, TCP_ACK | TCP_PSH);
	struct run_result result;
	const struct tcphdr *tcp;

	SETUP();
	ASSERT_EQ(run_spec(TO_POD, &syn).verdict, TC_ACT_OK, "open: SYN in");
	ASSERT_EQ(isolate(ENDPOINT_A, 99, 0), 0, "A isolated now");
	ASSERT_EQ(bump_revision(), 0, "bump revision");
	data.payload_length = 64;
	data.sequence = 7001;
	result = run_spec(TO_POD, &data);
	ASSERT_EQ(result.verdict, TC_ACT_OK, "the RST goes on to the pod");
	tcp = (const struct tcphdr *)(result.frame + 14 + 20);
	ASSERT_EQ(result.length, 54, "payload removed");
	ASSERT_EQ(tcp->rst, 1, "RST flag");
	ASSERT_EQ(ntohl(tcp->seq), 7001, "in the peer's sequence space");
	ASSERT_EQ(tcp_checksum_check(result.frame + 14), 0, "TCP checksum");
	ASSERT_EQ(drops_of(ENDPOINT_A, WEIR_DROP_POLICY_REVOKED, INGRESS), 1, "revoked count");
}

static void revoked_udp_flow_is_dropped(void)
{
	struct packet_spec datagram = udp_from_a(REMOTE_POD, 9999);

	SETUP();
	ASSERT_EQ(run_spec(FROM_POD, &datagram).verdict, TC_ACT_OK, "open");
	ASSERT_EQ(isolate(ENDPOINT_A, 0, 100), 0, "isolate egress");
	ASSERT_EQ(bump_revision(), 0, "bump");
	ASSERT_EQ(run_spec(FROM_POD, &datagram).verdict, TC_ACT_SHOT, "revoked");
	ASSERT_EQ(drops_of(ENDPOINT_A, WEIR_DROP_POLICY_REVOKED, EGRESS), 1, "revoked count");
	ASSERT_EQ(counter(WEIR_COUNTER_RESETS_SENT), 0, "no RST for UDP");
}

static void revoked_same_node_flow_is_cut_by_the_destination(void)
{
	struct packet_spec syn = tcp_from_a(POD_B, 80, TCP_SYN);
	struct packet_spec data = tcp_from_a(POD_B, 80, TCP_ACK);

	SETUP();
	ASSERT_EQ(run_spec(FROM_POD, &syn).verdict, TC_ACT_REDIRECT, "open, redirected to B");
	ASSERT_EQ(isolate(ENDPOINT_B, 101, 0), 0, "B isolated");
	ASSERT_EQ(bump_revision(), 0, "bump");
	ASSERT_EQ(run_spec(FROM_POD, &data).verdict, TC_ACT_REDIRECT, "RST back into A");
	ASSERT_EQ(drops_of(ENDPOINT_B, WEIR_DROP_POLICY_REVOKED, INGRESS), 1,
		  "counted on B's ingress");
}

static struct packet_spec fragment_of(uint16_t ip_id, bool first, bool more)
{
	struct packet_spec spec = udp_to_a(REMOTE_POD, 5000);

	spec.ip_id = ip_id;
	spec.more_fragments = more;
	spec.payload_length = 64;
	if (!first) {
		spec.fragment_offset = 10;
		spec.later_fragment_without_l4 = true;
	}
	return spec;
}

static void later_fragment_follows_its_first(void)
{
	struct packet_spec first = fragment_of(4242, true, true);
	struct packet_spec second = fragment_of(4242, false, false);

	SETUP();
	ASSERT_EQ(isolate(ENDPOINT_A, 102, 0), 0, "isolate");
	ASSERT_EQ(allow(ENDPOINT_A, INGRESS, IDENTITY_REMOTE, IPPROTO_UDP, 5000, 0, 103), 0, "5000");
	ASSERT_EQ(run_spec(TO_POD, &first).verdict, TC_ACT_OK, "first fragment");
	ASSERT_EQ(run_spec(TO_POD, &second).verdict, TC_ACT_OK, "second fragment");
	ASSERT_EQ(counter(WEIR_COUNTER_CT_ESTABLISHED), 1, "joined the connection");
}

static void later_fragment_before_its_first_is_dropped(void)
{
	struct packet_spec first = fragment_of(4343, true, true);
	struct packet_spec second = fragment_of(4343, false, false);

	SETUP();
	ASSERT_EQ(run_spec(TO_POD, &second).verdict, TC_ACT_SHOT, "second before first");
	ASSERT_EQ(drops_of(ENDPOINT_A, WEIR_DROP_FRAGMENT_WITHOUT_FIRST, INGRESS), 1, "counted");
	ASSERT_EQ(run_spec(TO_POD, &first).verdict, TC_ACT_OK, "first still judged on its own");
}

static void denied_first_fragment_takes_the_rest_with_it(void)
{
	struct packet_spec first = fragment_of(4444, true, true);
	struct packet_spec second = fragment_of(4444, false, false);

	SETUP();
	ASSERT_EQ(isolate(ENDPOINT_A, 104, 0), 0, "isolate, allow nothing");
	ASSERT_EQ(run_spec(TO_POD, &first).verdict, TC_ACT_SHOT, "first denied");
	ASSERT_EQ(run_spec(TO_POD, &second).verdict, TC_ACT_SHOT, "second dropped");
	ASSERT_EQ(drops_of(ENDPOINT_A, WEIR_DROP_POLICY_DENIED_INGRESS, INGRESS), 1, "policy");
	ASSERT_EQ(drops_of(ENDPOINT_A, WEIR_DROP_FRAGMENT_WITHOUT_FIRST, INGRESS), 1, "fragment");
}

static void egress_fragments_follow_their_first(void)
{
	struct packet_spec first = udp_from_a(REMOTE_POD, 6000);
	struct packet_spec second = udp_from_a(REMOTE_POD, 6000);

	SETUP();
	first.ip_id = second.ip_id = 99;
	first.more_fragments = true;
	second.fragment_offset = 20;
	second.later_fragment_without_l4 = true;
	ASSERT_EQ(run_spec(FROM_POD, &second).verdict, TC_ACT_SHOT, "second first: dropped");
	ASSERT_EQ(run_spec(FROM_POD, &first).verdict, TC_ACT_OK, "first");
	ASSERT_EQ(run_spec(FROM_POD, &second).verdict, TC_ACT_OK, "second after first");
	ASSERT_EQ(drops_of(ENDPOINT_A, WEIR_DROP_FRAGMENT_WITHOUT_FIRST, EGRESS), 1, "one dropped");
}

static void drop_events_are_rate_limited_but_counters_exact(void)
{
	struct packet_spec spec = tcp_to_a(REMOTE_POD, 80, TCP_SYN);
	uint8_t frame[256];
	size_t length;
	int runs = WEIR_EVENTS_PER_SECOND_PER_CPU + 50;

	SETUP();
	ASSERT_EQ(isolate(ENDPOINT_A, 105, 0), 0, "isolate");
	length = packet_build(frame, sizeof(frame), &spec);
	for (int i = 0; i < runs; i++)
		ASSERT_EQ(run_frame(TO_POD, frame, length).verdict, TC_ACT_SHOT, "denied");
	ASSERT_EQ(drops_of(ENDPOINT_A, WEIR_DROP_POLICY_DENIED_INGRESS, INGRESS), runs,
		  "every drop counted");
	ASSERT_TRUE(counter(WEIR_COUNTER_EVENTS_SUPPRESSED) >= 50, "events beyond the budget suppressed");
}

static void new_syn_on_a_closed_tuple_is_judged_again(void)
{
	struct packet_spec syn = tcp_from_a(REMOTE_POD, 80, TCP_SYN);
	struct packet_spec fin = tcp_from_a(REMOTE_POD, 80, TCP_FIN | TCP_ACK);

	SETUP();
	ASSERT_EQ(run_spec(FROM_POD, &syn).verdict, TC_ACT_OK, "first connection");
	ASSERT_EQ(run_spec(FROM_POD, &fin).verdict, TC_ACT_OK, "closed");
	ASSERT_EQ(isolate(ENDPOINT_A, 0, 106), 0, "egress isolated now (no revision bump)");
	ASSERT_EQ(run_spec(FROM_POD, &syn).verdict, TC_ACT_SHOT, "the new SYN is judged, denied");
	ASSERT_EQ(counter(WEIR_COUNTER_CT_NEW), 1, "only the first was new and allowed");
}

static void unrelated_icmp_error_from_the_pod_obeys_egress_policy(void)
{
	struct packet_spec never_sent = udp_to_a(REMOTE_POD, 53);
	struct packet_spec error = { .source_mac = MAC_A, .source = POD_A,
				     .destination = REMOTE_POD, .protocol = IPPROTO_ICMP,
				     .icmp_type = 3, .icmp_code = 3, .icmp_inner = &never_sent };

	SETUP();
	ASSERT_EQ(isolate(ENDPOINT_A, 0, 107), 0, "isolate A's egress");
	ASSERT_EQ(allow(ENDPOINT_A, EGRESS, IDENTITY_REMOTE, IPPROTO_TCP, 443, 0, 108), 0,
		  "allow TCP 443 only");
	ASSERT_EQ(allow(ENDPOINT_A, EGRESS, WEIR_IDENTITY_WORLD, 0, 0, 0, 109), 0,
		  "allow the world, anything");
	ASSERT_EQ(run_spec(FROM_POD, &error).verdict, TC_ACT_SHOT,
		  "an ICMP error nobody asked for is judged between its real endpoints");
	ASSERT_EQ(drops_of(ENDPOINT_A, WEIR_DROP_POLICY_DENIED_EGRESS, EGRESS), 1, "denied");
}

const struct test_case conntrack_tests[] = {
	{ "unrelated_icmp_error_from_the_pod_obeys_egress_policy",
	  unrelated_icmp_error_from_the_pod_obeys_egress_policy },
	{ "new_syn_on_a_closed_tuple_is_judged_again", new_syn_on_a_closed_tuple_is_judged_again },
	{ "reply_of_an_allowed_connection_passes", reply_of_an_allowed_connection_passes },
	{ "unsolicited_reply_is_judged_as_new", unsolicited_reply_is_judged_as_new },
	{ "established_forward_packets_use_the_entry", established_forward_packets_use_the_entry },
	{ "tcp_state_follows_the_handshake_and_close", tcp_state_follows_the_handshake_and_close },
	{ "invalid_tcp_flags_are_dropped", invalid_tcp_flags_are_dropped },
	{ "udp_reply_passes_and_unsolicited_udp_does_not",
	  udp_reply_passes_and_unsolicited_udp_does_not },
	{ "icmp_echo_reply_passes", icmp_echo_reply_passes },
	{ "related_icmp_error_passes_under_default_deny",
	  related_icmp_error_passes_under_default_deny },
	{ "unrelated_icmp_error_is_judged_as_new", unrelated_icmp_error_is_judged_as_new },
	{ "expired_entry_is_judged_as_new", expired_entry_is_judged_as_new },
	{ "revision_change_still_allowed_keeps_the_flow",
	  revision_change_still_allowed_keeps_the_flow },
	{ "revoked_connection_from_the_pod_gets_a_reset",
	  revoked_connection_from_the_pod_gets_a_reset },
	{ "revoked_connection_towards_the_pod_becomes_a_reset",
	  revoked_connection_towards_the_pod_becomes_a_reset },
	{ "revoked_udp_flow_is_dropped", revoked_udp_flow_is_dropped },
	{ "revoked_same_node_flow_is_cut_by_the_destination",
	  revoked_same_node_flow_is_cut_by_the_destination },
	{ "later_fragment_follows_its_first", later_fragment_follows_its_first },
	{ "later_fragment_before_its_first_is_dropped", later_fragment_before_its_first_is_dropped },
	{ "denied_first_fragment_takes_the_rest_with_it",
	  denied_first_fragment_takes_the_rest_with_it },
	{ "egress_fragments_follow_their_first", egress_fragments_follow_their_first },
	{ "drop_events_are_rate_limited_but_counters_exact",
	  drop_events_are_rate_limited_but_counters_exact },
};
const size_t conntrack_tests_count = sizeof(conntrack_tests) / sizeof(conntrack_tests[0]);
