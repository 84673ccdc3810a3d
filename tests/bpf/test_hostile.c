/* Bypasses a hostile sender would try at L3/L4 (issue 15): sources claiming this node from
 * outside, ICMP errors that quote someone else's connection, and conntrack entries that outlive
 * the endpoint they were judged for. Each case failed on the datapath before its fix. */
#include <arpa/inet.h>
#include <string.h>

#include <bpf/bpf.h>

#include "fixture.h"
#include "suites.h"

#define INGRESS WEIR_DIRECTION_INGRESS
#define EGRESS WEIR_DIRECTION_EGRESS

#define POD_NEW 0x0a000007u /* 10.0.0.7: not a local pod until a test makes it one */
#define ENDPOINT_NEW 7
#define MAC_NEW_HOST MAC_ROUTER

static const uint8_t MAC_NEW[6] = { 0x02, 0xcc, 0, 0, 0, 0x07 };

static int endpoint_put(uint32_t address, uint32_t endpoint_id, uint32_t generation,
			const uint8_t *mac)
{
	struct weir_endpoint endpoint = { .host_ifindex = TEST_IFINDEX, .endpoint_id = endpoint_id,
					  .generation = generation,
					  .flags = WEIR_ENDPOINT_FLAG_LOCAL };
	char errbuf[256];

	memcpy(endpoint.pod_mac, mac, 6);
	memcpy(endpoint.host_mac, MAC_NEW_HOST, 6);
	return datapath_endpoint_upsert(&datapath, address, &endpoint, errbuf, sizeof(errbuf));
}

/* ---- sources that claim this node ------------------------------------------------------- */

/* The node's own address is the kubelet's, allowed into every pod; coming in from outside it
 * is a spoof and is judged as the world it comes from. */
static void node_source_forwarded_from_outside_is_judged(void)
{
	struct packet_spec spoofed = tcp_to_a(NODE_HOST, 8080, TCP_SYN);

	SETUP();
	ASSERT_EQ(isolate(ENDPOINT_A, 120, 0), 0, "A admits nobody");
	fixture_ingress_ifindex = UPLINK_IFINDEX;
	ASSERT_EQ(run_spec(TO_POD, &spoofed).verdict, TC_ACT_SHOT,
		  "a packet the host forwards from the uplink is not the host's");
	ASSERT_EQ(drops_of(ENDPOINT_A, WEIR_DROP_POLICY_DENIED_INGRESS, INGRESS), 1, "denied");
	fixture_ingress_ifindex = 0;
	spoofed.source_port++;
	ASSERT_EQ(run_spec(TO_POD, &spoofed).verdict, TC_ACT_OK,
		  "the same source made by the host stack is the kubelet: allowed");
}

/* The hairpin address stands for the pod itself (it reached itself through a Service): from
 * outside it must not borrow the pod's own identity. */
static void hairpin_source_forwarded_from_outside_is_judged(void)
{
	struct packet_spec spoofed = tcp_to_a(WEIR_HAIRPIN_ADDRESS, 8080, TCP_SYN);

	SETUP();
	ASSERT_EQ(isolate(ENDPOINT_A, 121, 0), 0, "isolate A");
	ASSERT_EQ(allow(ENDPOINT_A, INGRESS, IDENTITY_A, 0, 0, 0, 122), 0,
		  "A admits pods like itself");
	fixture_ingress_ifindex = UPLINK_IFINDEX;
	ASSERT_EQ(run_spec(TO_POD, &spoofed).verdict, TC_ACT_SHOT,
		  "a forwarded hairpin source is the world, not A");
	ASSERT_EQ(drops_of(ENDPOINT_A, WEIR_DROP_POLICY_DENIED_INGRESS, INGRESS), 1, "denied");
}

/* from_uplink sees every packet entering the node: one whose source is this node, the
 * hairpin address or a pod of this node cannot have come from outside honestly. */
static void uplink_drops_sources_claiming_this_node(void)
{
	struct packet_spec node = tcp_to_a(NODE_HOST, 8080, TCP_SYN);
	struct packet_spec hairpin = tcp_to_a(WEIR_HAIRPIN_ADDRESS, 8080, TCP_SYN);
	struct packet_spec local_pod = tcp_to_a(POD_B, 8080, TCP_SYN);
	struct packet_spec honest = tcp_to_a(REMOTE_POD, 8080, TCP_SYN);

	SETUP();
	fixture_ingress_ifindex = UPLINK_IFINDEX;
	ASSERT_EQ(run_spec(FROM_UPLINK, &node).verdict, TC_ACT_SHOT, "the node's own address");
	ASSERT_EQ(run_spec(FROM_UPLINK, &hairpin).verdict, TC_ACT_SHOT, "the hairpin address");
	ASSERT_EQ(run_spec(FROM_UPLINK, &local_pod).verdict, TC_ACT_SHOT, "a pod of this node");
	ASSERT_EQ(drops_of(0, WEIR_DROP_SPOOFED_SOURCE_IP, INGRESS), 3, "counted as spoofed");
	ASSERT_EQ(run_spec(FROM_UPLINK, &honest).verdict, TC_ACT_OK,
		  "another node's pod goes on to the host stack");
}

/* ---- ICMP errors must come from a hop of the flow they quote ----------------------------- */

/* A holds a connection to a remote pod; it sends an ICMP error quoting that connection to B,
 * which admits nobody. The quoted flow is A's, not B's: nothing related to B. */
static void icmp_error_quoting_a_flow_of_another_pod_is_not_related(void)
{
	struct packet_spec syn = tcp_from_a(REMOTE_POD, 80, TCP_SYN);
	struct packet_spec quoted = tcp_from_a(REMOTE_POD, 80, TCP_SYN);
	struct packet_spec error = { .source_mac = MAC_A, .destination_mac = HOST_MAC_A,
				     .source = POD_A, .destination = POD_B,
				     .protocol = IPPROTO_ICMP, .icmp_type = 3, .icmp_code = 3,
				     .icmp_inner = &quoted, .payload_length = 0 };

	SETUP();
	ASSERT_EQ(isolate(ENDPOINT_B, 123, 0), 0, "B admits nobody");
	ASSERT_EQ(run_spec(FROM_POD, &syn).verdict, TC_ACT_OK, "A's own connection");
	ASSERT_EQ(run_spec(FROM_POD, &error).verdict, TC_ACT_SHOT,
		  "an error about A's flow addressed to B is judged as B's ingress (it was "
		  "redirected into B)");
	ASSERT_EQ(drops_of(ENDPOINT_B, WEIR_DROP_POLICY_DENIED_INGRESS, INGRESS), 1, "denied");
	ASSERT_EQ(counter(WEIR_COUNTER_CT_RELATED), 0, "not related");
}

/* From outside: a remote pod quotes a connection between A and the world and sends the error
 * to B. And a pod is no router: it may only report on a flow addressed to itself. */
static void icmp_error_from_outside_must_reach_the_quoted_sender(void)
{
	struct packet_spec query = udp_from_a(WORLD_HOST, 53);
	struct packet_spec to_b = { .source = REMOTE_POD, .destination = POD_B,
				    .protocol = IPPROTO_ICMP, .icmp_type = 3, .icmp_code = 3,
				    .icmp_inner = &query };
	struct packet_spec from_pod = { .source = REMOTE_POD, .destination = POD_A,
					.protocol = IPPROTO_ICMP, .icmp_type = 3, .icmp_code = 3,
					.icmp_inner = &query };
	struct packet_spec from_router = from_pod;

	SETUP();
	ASSERT_EQ(isolate(ENDPOINT_A, 124, 0), 0, "A admits nobody");
	ASSERT_EQ(isolate(ENDPOINT_B, 125, 0), 0, "B admits nobody");
	ASSERT_EQ(run_spec(FROM_POD, &query).verdict, TC_ACT_OK, "A's query to the world");
	to_b.source_mac = HOST_MAC_B;
	to_b.destination_mac = MAC_B;
	ASSERT_EQ(run_spec(TO_POD, &to_b).verdict, TC_ACT_SHOT, "to B: not B's flow");
	ASSERT_EQ(run_spec(TO_POD, &from_pod).verdict, TC_ACT_SHOT,
		  "a remote pod reporting on A's flow to the world: pods do not route");
	from_router.source = 0x0b000001;
	ASSERT_EQ(run_spec(TO_POD, &from_router).verdict, TC_ACT_OK,
		  "a router on the way (world) reporting to A: related");
	from_router.source = WORLD_HOST;
	ASSERT_EQ(run_spec(TO_POD, &from_router).verdict, TC_ACT_OK,
		  "the quoted destination itself: related");
	ASSERT_EQ(counter(WEIR_COUNTER_CT_RELATED), 2, "two related");
}

/* ---- conntrack entries belong to the endpoints they were judged for -------------------- */

/* A talked to 10.0.0.7 before it was a local pod; then a pod that admits nobody gets that
 * address. A's next packet on the old tuple must meet the new pod's ingress policy. */
static void entry_made_before_the_address_became_a_pod_is_judged_again(void)
{
	struct packet_spec syn = tcp_from_a(POD_NEW, 80, TCP_SYN);
	struct packet_spec data = tcp_from_a(POD_NEW, 80, TCP_ACK | TCP_PSH);

	SETUP();
	ASSERT_EQ(run_spec(FROM_POD, &syn).verdict, TC_ACT_OK, "to an address nobody local holds");
	ASSERT_EQ(endpoint_put(POD_NEW, ENDPOINT_NEW, 0x1234, MAC_NEW), 0, "the address is a pod");
	ASSERT_EQ(isolate(ENDPOINT_NEW, 126, 0), 0, "the new pod admits nobody");
	ASSERT_EQ(bump_revision(), 0, "the agent's pass");
	data.payload_length = 10;
	ASSERT_EQ(run_spec(FROM_POD, &data).verdict, TC_ACT_SHOT, "the stale entry lets nothing in");
	ASSERT_EQ(drops_of(ENDPOINT_NEW, WEIR_DROP_POLICY_DENIED_INGRESS, INGRESS), 1,
		  "denied by the new pod's ingress");
}

/* B's address and endpoint id are reused by a new pod (ids derive from the address): the
 * entry of A's connection to the old B must not carry over. */
static void entry_of_a_deleted_pod_does_not_carry_over_to_its_successor(void)
{
	struct packet_spec syn = tcp_from_a(POD_B, 80, TCP_SYN);
	struct packet_spec data = tcp_from_a(POD_B, 80, TCP_ACK | TCP_PSH);
	struct packet_spec reply = { .source_mac = MAC_B, .destination_mac = HOST_MAC_B,
				     .source = POD_B, .destination = POD_A,
				     .protocol = IPPROTO_TCP, .source_port = 80,
				     .destination_port = CLIENT_PORT, .tcp_flags = TCP_ACK,
				     .sequence = 1, .acknowledgment = 1, .payload_length = 10 };

	SETUP();
	ASSERT_EQ(endpoint_put(POD_B, ENDPOINT_B, 0x1111, MAC_B), 0, "B, first pod");
	ASSERT_EQ(run_spec(FROM_POD, &syn).verdict, TC_ACT_REDIRECT, "A to the first B");
	ASSERT_EQ(endpoint_put(POD_B, ENDPOINT_B, 0x2222, MAC_B), 0, "B's successor");
	ASSERT_EQ(isolate(ENDPOINT_B, 127, 128), 0, "the successor admits nobody, sends nowhere");
	data.payload_length = 10;
	ASSERT_EQ(run_spec(FROM_POD, &data).verdict, TC_ACT_SHOT, "A's old flow into it");
	ASSERT_EQ(drops_of(ENDPOINT_B, WEIR_DROP_POLICY_DENIED_INGRESS, INGRESS), 1, "ingress");
	ASSERT_EQ(run_spec(FROM_POD, &syn).verdict, TC_ACT_SHOT, "and a fresh SYN too");
	ASSERT_EQ(isolate(ENDPOINT_B, 0, 128), 0, "it admits everyone, sends nowhere");
	ASSERT_EQ(run_spec(FROM_POD, &syn).verdict, TC_ACT_REDIRECT, "A connects to the successor");
	ASSERT_EQ(endpoint_put(POD_B, ENDPOINT_B, 0x3333, MAC_B), 0, "and a third pod");
	ASSERT_EQ(run_spec(FROM_POD, &reply).verdict, TC_ACT_SHOT,
		  "the third pod's 'reply' on its predecessor's flow is its own egress");
	ASSERT_EQ(drops_of(ENDPOINT_B, WEIR_DROP_POLICY_DENIED_EGRESS, EGRESS), 1, "egress");
}

/* The usual paths keep their entries: a reply, a node's probe, a pod reaching itself. */
static void unchanged_endpoints_keep_their_entries(void)
{
	struct packet_spec syn = tcp_from_a(POD_B, 80, TCP_SYN);
	struct packet_spec reply = { .source_mac = MAC_B, .destination_mac = HOST_MAC_B,
				     .source = POD_B, .destination = POD_A,
				     .protocol = IPPROTO_TCP, .source_port = 80,
				     .destination_port = CLIENT_PORT,
				     .tcp_flags = TCP_SYN | TCP_ACK };
	struct packet_spec probe = tcp_to_a(NODE_HOST, 8080, TCP_SYN);
	struct packet_spec probe_answer = tcp_from_a(NODE_HOST, 0, TCP_SYN | TCP_ACK);

	SETUP();
	ASSERT_EQ(isolate(ENDPOINT_A, 129, 0), 0, "A admits nobody");
	ASSERT_EQ(run_spec(FROM_POD, &syn).verdict, TC_ACT_REDIRECT, "A to B");
	ASSERT_EQ(run_spec(FROM_POD, &reply).verdict, TC_ACT_REDIRECT, "B's reply");
	ASSERT_EQ(run_spec(TO_POD, &probe).verdict, TC_ACT_OK, "the kubelet's probe");
	probe_answer.source_port = 8080;
	probe_answer.destination_port = CLIENT_PORT;
	ASSERT_EQ(run_spec(FROM_POD, &probe_answer).verdict, TC_ACT_OK, "A answers it");
	ASSERT_EQ(counter(WEIR_COUNTER_CT_REPLY), 2, "both replies follow their entries");
	ASSERT_EQ(counter(WEIR_COUNTER_DROPPED), 0, "nothing dropped");
}

/* ---- ipBlock by address ------------------------------------------------------------------ */

#define POD_TWIN 0x0a010008u /* 10.1.0.8: a pod elsewhere with B's labels */
#define ADDRESS_OF_B (WEIR_IDENTITY_FIRST_CIDR + 50)

/* An ipBlock naming B's /32 gives B's ipcache entry an address identity and the rule names
 * that: B is admitted, another pod with B's labels (same identity) is not. */
static void address_identity_admits_the_address_not_its_labels(void)
{
	struct packet_spec from_b = tcp_to_a(POD_B, 80, TCP_SYN);
	struct packet_spec from_twin = tcp_to_a(POD_TWIN, 80, TCP_SYN);
	char errbuf[128];

	SETUP();
	ASSERT_EQ(datapath_ipcache_upsert_address(&datapath, POD_B, 32, IDENTITY_B, ADDRESS_OF_B,
						  errbuf, sizeof(errbuf)),
		  0, "B's /32 inside an ipBlock");
	ASSERT_EQ(datapath_ipcache_upsert(&datapath, POD_TWIN, 32, IDENTITY_B, errbuf,
					  sizeof(errbuf)),
		  0, "a pod with B's labels");
	ASSERT_EQ(isolate(ENDPOINT_A, 130, 0), 0, "isolate A");
	ASSERT_EQ(allow(ENDPOINT_A, INGRESS, ADDRESS_OF_B, IPPROTO_TCP, 80, 0, 131), 0,
		  "ipBlock B/32 on 80");
	ASSERT_EQ(run_spec(TO_POD, &from_b).verdict, TC_ACT_OK, "B by its address");
	ASSERT_EQ(run_spec(TO_POD, &from_twin).verdict, TC_ACT_SHOT, "not its labels' twin");
	ASSERT_EQ(drops_of(ENDPOINT_A, WEIR_DROP_POLICY_DENIED_INGRESS, INGRESS), 1, "denied");
	from_b.destination_port = 81;
	ASSERT_EQ(run_spec(TO_POD, &from_b).verdict, TC_ACT_SHOT, "B on another port");
}

/* A packet allowed by either identity passes, a plain allow before an HTTP one. */
static void label_and_address_identities_add_up(void)
{
	struct packet_spec from_b = tcp_to_a(POD_B, 8080, TCP_SYN);
	struct weir_ct_entry entry;
	char errbuf[128];

	SETUP();
	ASSERT_EQ(datapath_ipcache_upsert_address(&datapath, POD_B, 32, IDENTITY_B, ADDRESS_OF_B,
						  errbuf, sizeof(errbuf)),
		  0, "B's /32 inside an ipBlock");
	ASSERT_EQ(isolate(ENDPOINT_A, 132, 0), 0, "isolate A");
	ASSERT_EQ(allow(ENDPOINT_A, INGRESS, IDENTITY_B, IPPROTO_TCP, 22, 0, 133), 0,
		  "B's labels on 22");
	ASSERT_EQ(allow(ENDPOINT_A, INGRESS, ADDRESS_OF_B, IPPROTO_TCP, 8080, 0, 134), 0,
		  "B's address on 8080");
	ASSERT_EQ(run_spec(TO_POD, &from_b).verdict, TC_ACT_OK, "8080 by address");
	ASSERT_EQ(ct_entry_of(POD_B, POD_A, CLIENT_PORT, 8080, IPPROTO_TCP, &entry), 0, "tracked");
	ASSERT_EQ(entry.rule_id, 134, "the address rule allowed it");
	from_b.destination_port = 22;
	ASSERT_EQ(run_spec(TO_POD, &from_b).verdict, TC_ACT_OK, "22 by labels");
}

const struct test_case hostile_tests[] = {
	{ "address_identity_admits_the_address_not_its_labels",
	  address_identity_admits_the_address_not_its_labels },
	{ "label_and_address_identities_add_up", label_and_address_identities_add_up },
	{ "node_source_forwarded_from_outside_is_judged",
	  node_source_forwarded_from_outside_is_judged },
	{ "hairpin_source_forwarded_from_outside_is_judged",
	  hairpin_source_forwarded_from_outside_is_judged },
	{ "uplink_drops_sources_claiming_this_node", uplink_drops_sources_claiming_this_node },
	{ "icmp_error_quoting_a_flow_of_another_pod_is_not_related",
	  icmp_error_quoting_a_flow_of_another_pod_is_not_related },
	{ "icmp_error_from_outside_must_reach_the_quoted_sender",
	  icmp_error_from_outside_must_reach_the_quoted_sender },
	{ "entry_made_before_the_address_became_a_pod_is_judged_again",
	  entry_made_before_the_address_became_a_pod_is_judged_again },
	{ "entry_of_a_deleted_pod_does_not_carry_over_to_its_successor",
	  entry_of_a_deleted_pod_does_not_carry_over_to_its_successor },
	{ "unchanged_endpoints_keep_their_entries", unchanged_endpoints_keep_their_entries },
};
const size_t hostile_tests_count = sizeof(hostile_tests) / sizeof(hostile_tests[0]);
