/* Policy by identity, protocol, port and range; precedence that does not depend on the order
 * entries were written in; both endpoints' policies for same-node traffic; and the rule id
 * that names every verdict. */
#include <arpa/inet.h>
#include <stdlib.h>

#include "fixture.h"
#include "suites.h"

#define INGRESS WEIR_DIRECTION_INGRESS
#define EGRESS WEIR_DIRECTION_EGRESS

/* Runs a new TCP connection (fresh client port) from source to A on port. */
static int ingress_verdict(uint32_t source, uint8_t protocol, uint16_t port)
{
	static uint16_t next_client_port = 20000;
	struct packet_spec spec = tcp_to_a(source, port, TCP_SYN);

	spec.protocol = protocol;
	spec.source_port = next_client_port++;
	return run_spec(TO_POD, &spec).verdict;
}

static void no_policy_allows_everything(void)
{
	struct packet_spec spec = tcp_from_a(WORLD_HOST, 443, TCP_SYN);
	struct weir_ct_entry entry;

	SETUP();
	ASSERT_EQ(run_spec(FROM_POD, &spec).verdict, TC_ACT_OK, "A to the world");
	ASSERT_EQ(ingress_verdict(REMOTE_POD, IPPROTO_TCP, 22), TC_ACT_OK, "remote to A");
	ASSERT_EQ(counter(WEIR_COUNTER_CT_NEW), 2, "two connections tracked");
	ASSERT_EQ(ct_entry_of(POD_A, WORLD_HOST, CLIENT_PORT, 443, IPPROTO_TCP, &entry), 0,
		  "ct entry");
	ASSERT_EQ(entry.state, WEIR_CT_SYN_SENT, "state after SYN");
	ASSERT_EQ(entry.rule_id, 0, "no rule allowed it: nothing selected the pod");
	ASSERT_EQ(counter(WEIR_COUNTER_DROPPED), 0, "nothing dropped");
}

static void isolated_ingress_denies_and_names_the_isolating_rule(void)
{
	struct weir_event event;

	SETUP();
	ASSERT_EQ(isolate(ENDPOINT_A, 77, 0), 0, "isolate A's ingress under rule 77");
	ASSERT_EQ(ingress_verdict(REMOTE_POD, IPPROTO_TCP, 80), TC_ACT_SHOT, "verdict");
	ASSERT_EQ(drops_of(ENDPOINT_A, WEIR_DROP_POLICY_DENIED_INGRESS, INGRESS), 1, "drop count");
	ASSERT_EQ(event_find(WEIR_EVENT_DROP, WEIR_DROP_POLICY_DENIED_INGRESS, &event), 0,
		  "drop event");
	ASSERT_EQ(event.rule_id, 77, "event names the isolating rule");
	ASSERT_EQ(event.endpoint_id, ENDPOINT_A, "event endpoint");
	ASSERT_EQ(event.peer_identity, IDENTITY_REMOTE, "event peer identity");
	ASSERT_EQ(ntohs(event.destination_port), 80, "event port");
	ASSERT_EQ(counter(WEIR_COUNTER_CT_NEW), 0, "no connection tracked");
}

static void ingress_allows_listed_identity_and_port(void)
{
	SETUP();
	ASSERT_EQ(isolate(ENDPOINT_A, 1, 0), 0, "isolate");
	ASSERT_EQ(allow(ENDPOINT_A, INGRESS, IDENTITY_REMOTE, IPPROTO_TCP, 80, 0, 5), 0, "allow");
	ASSERT_EQ(ingress_verdict(REMOTE_POD, IPPROTO_TCP, 80), TC_ACT_OK, "remote:80");
	ASSERT_EQ(counter(WEIR_COUNTER_CT_NEW), 1, "tracked");
	ASSERT_EQ(ingress_verdict(REMOTE_POD, IPPROTO_TCP, 81), TC_ACT_SHOT, "remote:81");
	ASSERT_EQ(ingress_verdict(WORLD_HOST, IPPROTO_TCP, 80), TC_ACT_SHOT, "world:80");
	ASSERT_EQ(drops_of(ENDPOINT_A, WEIR_DROP_POLICY_DENIED_INGRESS, INGRESS), 2, "denied");
}

static void port_range_allows_inside_and_denies_outside(void)
{
	SETUP();
	ASSERT_EQ(isolate(ENDPOINT_A, 1, 0), 0, "isolate");
	ASSERT_EQ(allow(ENDPOINT_A, INGRESS, IDENTITY_REMOTE, IPPROTO_TCP, 8000, 8100, 6), 0,
		  "allow 8000-8100");
	ASSERT_EQ(ingress_verdict(REMOTE_POD, IPPROTO_TCP, 8000), TC_ACT_OK, "8000");
	ASSERT_EQ(ingress_verdict(REMOTE_POD, IPPROTO_TCP, 8050), TC_ACT_OK, "8050");
	ASSERT_EQ(ingress_verdict(REMOTE_POD, IPPROTO_TCP, 8100), TC_ACT_OK, "8100");
	ASSERT_EQ(ingress_verdict(REMOTE_POD, IPPROTO_TCP, 7999), TC_ACT_SHOT, "7999");
	ASSERT_EQ(ingress_verdict(REMOTE_POD, IPPROTO_TCP, 8101), TC_ACT_SHOT, "8101");
	ASSERT_EQ(counter(WEIR_COUNTER_CT_NEW), 3, "three tracked");
	ASSERT_EQ(drops_of(ENDPOINT_A, WEIR_DROP_POLICY_DENIED_INGRESS, INGRESS), 2, "two denied");
}

static void protocol_must_match(void)
{
	SETUP();
	ASSERT_EQ(isolate(ENDPOINT_A, 1, 0), 0, "isolate");
	ASSERT_EQ(allow(ENDPOINT_A, INGRESS, IDENTITY_REMOTE, IPPROTO_TCP, 53, 0, 7), 0, "TCP 53");
	ASSERT_EQ(ingress_verdict(REMOTE_POD, IPPROTO_TCP, 53), TC_ACT_OK, "TCP 53");
	ASSERT_EQ(ingress_verdict(REMOTE_POD, IPPROTO_UDP, 53), TC_ACT_SHOT, "UDP 53");
	ASSERT_EQ(drops_of(ENDPOINT_A, WEIR_DROP_POLICY_DENIED_INGRESS, INGRESS), 1, "denied");
}

static void any_peer_rule_allows_the_world(void)
{
	SETUP();
	ASSERT_EQ(isolate(ENDPOINT_A, 1, 0), 0, "isolate");
	ASSERT_EQ(allow(ENDPOINT_A, INGRESS, WEIR_IDENTITY_ANY, IPPROTO_TCP, 443, 0, 8), 0, "any:443");
	ASSERT_EQ(ingress_verdict(WORLD_HOST, IPPROTO_TCP, 443), TC_ACT_OK, "world:443");
	ASSERT_EQ(ingress_verdict(REMOTE_POD, IPPROTO_TCP, 443), TC_ACT_OK, "remote:443");
	ASSERT_EQ(ingress_verdict(WORLD_HOST, IPPROTO_TCP, 444), TC_ACT_SHOT, "world:444");
}

static void identity_rule_without_ports_allows_every_port_and_protocol(void)
{
	SETUP();
	ASSERT_EQ(isolate(ENDPOINT_A, 1, 0), 0, "isolate");
	ASSERT_EQ(allow(ENDPOINT_A, INGRESS, IDENTITY_REMOTE, 0, 0, 0, 9), 0, "remote: anything");
	ASSERT_EQ(ingress_verdict(REMOTE_POD, IPPROTO_TCP, 1), TC_ACT_OK, "TCP 1");
	ASSERT_EQ(ingress_verdict(REMOTE_POD, IPPROTO_UDP, 65535), TC_ACT_OK, "UDP 65535");
	ASSERT_EQ(ingress_verdict(REMOTE_POD, IPPROTO_SCTP, 9), TC_ACT_OK, "SCTP 9");
	ASSERT_EQ(ingress_verdict(WORLD_HOST, IPPROTO_TCP, 1), TC_ACT_SHOT, "world TCP 1");
}

static void exact_port_beats_range(void)
{
	SETUP();
	ASSERT_EQ(isolate(ENDPOINT_A, 1, 0), 0, "isolate");
	ASSERT_EQ(allow(ENDPOINT_A, INGRESS, IDENTITY_REMOTE, IPPROTO_TCP, 8000, 8100, 20), 0,
		  "allow range");
	ASSERT_EQ(deny(ENDPOINT_A, INGRESS, IDENTITY_REMOTE, IPPROTO_TCP, 8080, 0, 21), 0,
		  "deny 8080");
	ASSERT_EQ(ingress_verdict(REMOTE_POD, IPPROTO_TCP, 8080), TC_ACT_SHOT, "8080");
	ASSERT_EQ(ingress_verdict(REMOTE_POD, IPPROTO_TCP, 8081), TC_ACT_OK, "8081");
	struct weir_event event;
	ASSERT_EQ(event_find(WEIR_EVENT_DROP, WEIR_DROP_POLICY_DENIED_INGRESS, &event), 0, "event");
	ASSERT_EQ(event.rule_id, 21, "the exact rule decided");
}

static void narrower_range_beats_wider_range(void)
{
	SETUP();
	ASSERT_EQ(isolate(ENDPOINT_A, 1, 0), 0, "isolate");
	ASSERT_EQ(allow(ENDPOINT_A, INGRESS, IDENTITY_REMOTE, IPPROTO_TCP, 1024, 2047, 30), 0,
		  "allow 1024-2047");
	ASSERT_EQ(deny(ENDPOINT_A, INGRESS, IDENTITY_REMOTE, IPPROTO_TCP, 1536, 1551, 31), 0,
		  "deny 1536-1551");
	ASSERT_EQ(ingress_verdict(REMOTE_POD, IPPROTO_TCP, 1540), TC_ACT_SHOT, "1540");
	ASSERT_EQ(ingress_verdict(REMOTE_POD, IPPROTO_TCP, 1552), TC_ACT_OK, "1552");
	ASSERT_EQ(ingress_verdict(REMOTE_POD, IPPROTO_TCP, 1535), TC_ACT_OK, "1535");
}

static void peer_specific_rule_beats_wildcard_peer(void)
{
	SETUP();
	ASSERT_EQ(isolate(ENDPOINT_A, 1, 0), 0, "isolate");
	ASSERT_EQ(allow(ENDPOINT_A, INGRESS, WEIR_IDENTITY_ANY, IPPROTO_TCP, 80, 0, 40), 0,
		  "anyone:80");
	ASSERT_EQ(deny(ENDPOINT_A, INGRESS, IDENTITY_REMOTE, 0, 0, 0, 41), 0, "remote: nothing");
	ASSERT_EQ(ingress_verdict(REMOTE_POD, IPPROTO_TCP, 80), TC_ACT_OK,
		  "remote:80, the port rule of the same protocol level wins");
	ASSERT_EQ(deny(ENDPOINT_A, INGRESS, IDENTITY_REMOTE, IPPROTO_TCP, 0, 0, 42), 0,
		  "remote: no TCP");
	ASSERT_EQ(ingress_verdict(REMOTE_POD, IPPROTO_TCP, 80), TC_ACT_SHOT,
		  "remote:80 after a peer-specific TCP rule");
	ASSERT_EQ(ingress_verdict(WORLD_HOST, IPPROTO_TCP, 80), TC_ACT_OK, "world:80");
}

/* Writes the same set of rules in the given order and returns the verdict bitmap of a fixed
 * set of probes. */
static unsigned probe_with_order(const int *order)
{
	static const struct {
		uint8_t verdict;
		uint32_t identity;
		uint8_t protocol;
		uint16_t first, last;
	} rules[] = {
		{ WEIR_VERDICT_ALLOW, IDENTITY_REMOTE, IPPROTO_TCP, 1000, 1999 },
		{ WEIR_VERDICT_DENY, IDENTITY_REMOTE, IPPROTO_TCP, 1500, 0 },
		{ WEIR_VERDICT_ALLOW, WEIR_IDENTITY_ANY, IPPROTO_TCP, 1500, 1600 },
		{ WEIR_VERDICT_DENY, WEIR_IDENTITY_ANY, IPPROTO_TCP, 1550, 1559 },
		{ WEIR_VERDICT_ALLOW, IDENTITY_CIDR, 0, 0, 0 },
	};
	static const struct {
		uint32_t source;
		uint16_t port;
	} probes[] = { { REMOTE_POD, 1000 }, { REMOTE_POD, 1500 }, { REMOTE_POD, 1555 },
		       { WORLD_HOST, 1555 }, { WORLD_HOST, 1501 }, { CIDR_HOST, 1555 },
		       { WORLD_HOST, 999 },  { REMOTE_POD, 2000 } };
	unsigned bitmap = 0;

	if (fixture_setup() < 0 || isolate(ENDPOINT_A, 1, 0) < 0)
		return ~0u;
	for (int i = 0; i < 5; i++) {
		int r = order[i];
		int err = rules[r].verdict == WEIR_VERDICT_ALLOW
				  ? allow(ENDPOINT_A, INGRESS, rules[r].identity, rules[r].protocol,
					  rules[r].first, rules[r].last, (uint32_t)(100 + r))
				  : deny(ENDPOINT_A, INGRESS, rules[r].identity, rules[r].protocol,
					 rules[r].first, rules[r].last, (uint32_t)(100 + r));
		if (err < 0)
			return ~0u;
	}
	for (unsigned i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		if (ingress_verdict(probes[i].source, IPPROTO_TCP, probes[i].port) == TC_ACT_OK)
			bitmap |= 1u << i;
	}
	return bitmap;
}

static void precedence_does_not_depend_on_write_order(void)
{
	static const int orders[][5] = { { 0, 1, 2, 3, 4 }, { 4, 3, 2, 1, 0 }, { 2, 0, 4, 1, 3 },
					 { 3, 1, 4, 0, 2 } };
	unsigned first = probe_with_order(orders[0]);

	ASSERT_TRUE(first != ~0u, "set-up");
	for (int i = 1; i < 4; i++)
		ASSERT_EQ(probe_with_order(orders[i]), first, "same verdicts in another order");
	ASSERT_EQ(first & 1u, 1u, "remote:1000 allowed by the peer range");
	ASSERT_EQ(first & 2u, 0u, "remote:1500 denied by the exact peer rule");
	ASSERT_EQ(first & 4u, 4u, "remote:1555 allowed: its own range beats any-peer rules");
	ASSERT_EQ(first & 8u, 0u, "world:1555 denied by the narrow any-peer deny");
	ASSERT_EQ(first & 16u, 16u, "world:1501 allowed by the any-peer range");
	ASSERT_EQ(first & 32u, 0u, "cidr:1555: any-peer TCP rules come before any-protocol");
	ASSERT_EQ(first & 64u, 0u, "world:999 denied by isolation");
	ASSERT_EQ(first & 128u, 0u, "remote:2000 denied by isolation");
}

static void egress_isolation_denies_the_world(void)
{
	struct packet_spec spec = tcp_from_a(WORLD_HOST, 443, TCP_SYN);

	SETUP();
	ASSERT_EQ(isolate(ENDPOINT_A, 0, 50), 0, "isolate A's egress");
	ASSERT_EQ(allow(ENDPOINT_A, EGRESS, IDENTITY_REMOTE, IPPROTO_TCP, 443, 0, 51), 0,
		  "allow remote:443");
	ASSERT_EQ(run_spec(FROM_POD, &spec).verdict, TC_ACT_SHOT, "world:443");
	ASSERT_EQ(drops_of(ENDPOINT_A, WEIR_DROP_POLICY_DENIED_EGRESS, EGRESS), 1, "denied egress");
	spec.destination = REMOTE_POD;
	ASSERT_EQ(run_spec(FROM_POD, &spec).verdict, TC_ACT_OK, "remote:443");
	ASSERT_EQ(ingress_verdict(WORLD_HOST, IPPROTO_TCP, 80), TC_ACT_OK,
		  "ingress stays open: only egress is isolated");
}

static void egress_to_cidr_identity(void)
{
	struct packet_spec spec = udp_from_a(CIDR_HOST, 53);

	SETUP();
	ASSERT_EQ(isolate(ENDPOINT_A, 0, 50), 0, "isolate egress");
	ASSERT_EQ(allow(ENDPOINT_A, EGRESS, IDENTITY_CIDR, IPPROTO_UDP, 53, 0, 52), 0,
		  "allow ipBlock:53");
	ASSERT_EQ(run_spec(FROM_POD, &spec).verdict, TC_ACT_OK, "192.168.10.10:53");
	spec.destination = 0xc0a90a0a; /* 192.169.10.10: outside the block */
	ASSERT_EQ(run_spec(FROM_POD, &spec).verdict, TC_ACT_SHOT, "192.169.10.10:53");
}

static void same_node_needs_the_destinations_ingress_too(void)
{
	struct packet_spec spec = tcp_from_a(POD_B, 80, TCP_SYN);

	SETUP();
	ASSERT_EQ(isolate(ENDPOINT_A, 0, 60), 0, "isolate A's egress");
	ASSERT_EQ(allow(ENDPOINT_A, EGRESS, IDENTITY_B, IPPROTO_TCP, 80, 0, 61), 0, "A may reach B");
	ASSERT_EQ(isolate(ENDPOINT_B, 62, 0), 0, "isolate B's ingress");
	ASSERT_EQ(run_spec(FROM_POD, &spec).verdict, TC_ACT_SHOT, "B does not admit A");
	ASSERT_EQ(drops_of(ENDPOINT_B, WEIR_DROP_POLICY_DENIED_INGRESS, INGRESS), 1,
		  "counted on B's ingress");
	ASSERT_EQ(drops_of(ENDPOINT_A, WEIR_DROP_POLICY_DENIED_EGRESS, EGRESS), 0,
		  "A's egress allowed it");
	ASSERT_EQ(allow(ENDPOINT_B, INGRESS, IDENTITY_A, IPPROTO_TCP, 80, 0, 63), 0, "B admits A");
	spec.source_port++;
	ASSERT_EQ(run_spec(FROM_POD, &spec).verdict, TC_ACT_REDIRECT, "both allow: redirected");
}

static void same_node_delivery_rewrites_macs_and_ttl(void)
{
	struct packet_spec spec = tcp_from_a(POD_B, 80, TCP_SYN);
	struct run_result result;

	SETUP();
	spec.ttl = 64;
	result = run_spec(FROM_POD, &spec);
	ASSERT_EQ(result.verdict, TC_ACT_REDIRECT, "verdict");
	ASSERT_EQ(memcmp(result.frame, MAC_B, 6), 0, "destination MAC is B's");
	ASSERT_EQ(memcmp(result.frame + 6, HOST_MAC_B, 6), 0, "source MAC is B's gateway");
	ASSERT_EQ(result.frame[14 + 8], 63, "TTL decremented");
	ASSERT_EQ(ipv4_header_checksum(result.frame + 14), 0, "IP checksum valid");
	ASSERT_EQ(counter(WEIR_COUNTER_REDIRECTED), 1, "redirect counter");
}

static void same_node_ttl_one_goes_to_the_stack(void)
{
	struct packet_spec spec = tcp_from_a(POD_B, 80, TCP_SYN);

	SETUP();
	spec.ttl = 1;
	ASSERT_EQ(run_spec(FROM_POD, &spec).verdict, TC_ACT_OK, "host answers time exceeded");
	ASSERT_EQ(counter(WEIR_COUNTER_REDIRECTED), 0, "not redirected");
}

static void node_reaches_its_pods_under_default_deny(void)
{
	char errbuf[128];

	SETUP();
	ASSERT_EQ(isolate(ENDPOINT_A, 70, 0), 0, "isolate");
	ASSERT_EQ(ingress_verdict(NODE_HOST, IPPROTO_TCP, 8080), TC_ACT_OK,
		  "this node (kubelet probes) is always allowed");
	ASSERT_EQ(datapath_ipcache_upsert(&datapath, 0xc0a8fa02u, 32, WEIR_IDENTITY_REMOTE_NODE,
					  errbuf, sizeof(errbuf)),
		  0, "another node");
	ASSERT_EQ(ingress_verdict(0xc0a8fa02u, IPPROTO_TCP, 8080), TC_ACT_SHOT,
		  "other nodes are judged like anyone");
}

static void policy_library_refuses_bad_rules(void)
{
	struct policy_rule ports_without_protocol = { ENDPOINT_A, INGRESS, 5, 0, 80, 0,
						      WEIR_VERDICT_ALLOW, 1 };
	struct policy_rule inverted = { ENDPOINT_A, INGRESS, 5, IPPROTO_TCP, 90, 80,
					WEIR_VERDICT_ALLOW, 1 };
	struct policy_rule bad_verdict = { ENDPOINT_A, INGRESS, 5, IPPROTO_TCP, 80, 0, 9, 1 };
	char errbuf[256];

	SETUP();
	ASSERT_TRUE(datapath_policy_write(&datapath, &ports_without_protocol, errbuf,
					  sizeof(errbuf)) < 0,
		    "ports need a protocol");
	ASSERT_CONTAINS(errbuf, "need a protocol", "says why");
	ASSERT_TRUE(datapath_policy_write(&datapath, &inverted, errbuf, sizeof(errbuf)) < 0,
		    "inverted range");
	ASSERT_CONTAINS(errbuf, "90-80", "names the range");
	ASSERT_TRUE(datapath_policy_write(&datapath, &bad_verdict, errbuf, sizeof(errbuf)) < 0,
		    "bad verdict");
}

static void port_ranges_become_minimal_prefixes(void)
{
	struct port_prefix prefixes[WEIR_MAX_PORT_PREFIXES];
	int count = port_range_prefixes(8000, 8100, prefixes);
	uint32_t covered = 0;

	ASSERT_TRUE(count > 0 && count <= 32, "prefix count");
	for (int i = 0; i < count; i++) {
		uint32_t size = 1u << (16 - prefixes[i].length);
		ASSERT_EQ(prefixes[i].port & (size - 1), 0, "aligned");
		covered += size;
	}
	ASSERT_EQ(covered, 101, "covers exactly 8000-8100");
	ASSERT_EQ(port_range_prefixes(1, 65535, prefixes), 16, "1-65535 in 16 prefixes");
	ASSERT_EQ(port_range_prefixes(1024, 2047, prefixes), 1, "an aligned block is one prefix");
	ASSERT_EQ(prefixes[0].length, 6, "1024-2047 is a /6");
	ASSERT_EQ(port_range_prefixes(80, 80, prefixes), 1, "one port");
	ASSERT_EQ(prefixes[0].length, 16, "one port is a /16");
}

const struct test_case policy_tests[] = {
	{ "no_policy_allows_everything", no_policy_allows_everything },
	{ "isolated_ingress_denies_and_names_the_isolating_rule",
	  isolated_ingress_denies_and_names_the_isolating_rule },
	{ "ingress_allows_listed_identity_and_port", ingress_allows_listed_identity_and_port },
	{ "port_range_allows_inside_and_denies_outside",
	  port_range_allows_inside_and_denies_outside },
	{ "protocol_must_match", protocol_must_match },
	{ "any_peer_rule_allows_the_world", any_peer_rule_allows_the_world },
	{ "identity_rule_without_ports_allows_every_port_and_protocol",
	  identity_rule_without_ports_allows_every_port_and_protocol },
	{ "exact_port_beats_range", exact_port_beats_range },
	{ "narrower_range_beats_wider_range", narrower_range_beats_wider_range },
	{ "peer_specific_rule_beats_wildcard_peer", peer_specific_rule_beats_wildcard_peer },
	{ "precedence_does_not_depend_on_write_order", precedence_does_not_depend_on_write_order },
	{ "egress_isolation_denies_the_world", egress_isolation_denies_the_world },
	{ "egress_to_cidr_identity", egress_to_cidr_identity },
	{ "same_node_needs_the_destinations_ingress_too",
	  same_node_needs_the_destinations_ingress_too },
	{ "same_node_delivery_rewrites_macs_and_ttl", same_node_delivery_rewrites_macs_and_ttl },
	{ "same_node_ttl_one_goes_to_the_stack", same_node_ttl_one_goes_to_the_stack },
	{ "node_reaches_its_pods_under_default_deny", node_reaches_its_pods_under_default_deny },
	{ "policy_library_refuses_bad_rules", policy_library_refuses_bad_rules },
	{ "port_ranges_become_minimal_prefixes", port_ranges_become_minimal_prefixes },
};
const size_t policy_tests_count = sizeof(policy_tests) / sizeof(policy_tests[0]);
