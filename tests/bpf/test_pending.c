/* The pending gate: a pod weir-cni has wired but whose policy the agent has not written yet is
 * closed to every peer and reaches none, with the drop named endpoint_pending; only its own
 * node reaches it and gets answers. Conntrack entries of the address's previous owner open
 * nothing. Clearing the flag opens it to what its policy allows. */
#include <arpa/inet.h>
#include <string.h>

#include "fixture.h"
#include "suites.h"

#define INGRESS WEIR_DIRECTION_INGRESS
#define EGRESS WEIR_DIRECTION_EGRESS

static int set_pending(uint32_t address, int pending)
{
	struct weir_endpoint endpoint;
	char errbuf[256];

	if (datapath_endpoint_lookup(&datapath, address, &endpoint) < 0)
		return -1;
	if (pending)
		endpoint.flags |= WEIR_ENDPOINT_FLAG_PENDING;
	else
		endpoint.flags &= ~WEIR_ENDPOINT_FLAG_PENDING;
	return datapath_endpoint_upsert(&datapath, address, &endpoint, errbuf, sizeof(errbuf));
}

static struct packet_spec tcp_from_b_to_a(uint8_t flags)
{
	struct packet_spec spec = { .source_mac = MAC_B, .destination_mac = HOST_MAC_B,
				    .source = POD_B, .destination = POD_A,
				    .protocol = IPPROTO_TCP, .source_port = 41000,
				    .destination_port = 8080, .tcp_flags = flags,
				    .sequence = 1, .acknowledgment = 0 };
	return spec;
}

static void pending_pod_is_closed_to_peers(void)
{
	struct packet_spec remote = tcp_to_a(REMOTE_POD, 8080, TCP_SYN);
	struct packet_spec local = tcp_from_b_to_a(TCP_SYN);
	struct weir_event event;

	SETUP();
	ASSERT_EQ(set_pending(POD_A, 1), 0, "mark A pending");
	ASSERT_EQ(run_spec(TO_POD, &remote).verdict, TC_ACT_SHOT, "remote pod -> pending A");
	ASSERT_EQ(run_spec(FROM_POD, &local).verdict, TC_ACT_SHOT, "local pod B -> pending A");
	ASSERT_EQ(drops_of(ENDPOINT_A, WEIR_DROP_ENDPOINT_PENDING, INGRESS), 2,
		  "both dropped as endpoint_pending on A's ingress");
	ASSERT_EQ(event_find(WEIR_EVENT_DROP, WEIR_DROP_ENDPOINT_PENDING, &event), 0, "drop event");
	ASSERT_EQ(event.endpoint_id, ENDPOINT_A, "event names the pending endpoint");
	ASSERT_EQ(counter(WEIR_COUNTER_CT_NEW), 0, "no connection tracked");
}

static void pending_pod_reaches_nobody(void)
{
	struct packet_spec world = tcp_from_a(WORLD_HOST, 443, TCP_SYN);
	struct packet_spec peer = tcp_from_a(POD_B, 8080, TCP_SYN);
	struct packet_spec node = tcp_from_a(NODE_HOST, 10250, TCP_SYN);

	SETUP();
	ASSERT_EQ(set_pending(POD_A, 1), 0, "mark A pending");
	ASSERT_EQ(run_spec(FROM_POD, &world).verdict, TC_ACT_SHOT, "pending A -> world");
	ASSERT_EQ(run_spec(FROM_POD, &peer).verdict, TC_ACT_SHOT, "pending A -> local B");
	ASSERT_EQ(run_spec(FROM_POD, &node).verdict, TC_ACT_SHOT,
		  "pending A -> its node: only answers, never new connections");
	ASSERT_EQ(drops_of(ENDPOINT_A, WEIR_DROP_ENDPOINT_PENDING, EGRESS), 3,
		  "dropped as endpoint_pending on A's egress");
}

static void node_reaches_pending_pod_and_gets_answers(void)
{
	struct packet_spec probe = tcp_to_a(NODE_HOST, 8080, TCP_SYN);
	struct packet_spec answer = tcp_from_a(NODE_HOST, CLIENT_PORT, TCP_SYN | TCP_ACK);

	SETUP();
	ASSERT_EQ(set_pending(POD_A, 1), 0, "mark A pending");
	ASSERT_EQ(run_spec(TO_POD, &probe).verdict, TC_ACT_OK, "node (kubelet probe) -> pending A");
	answer.source_port = 8080;
	ASSERT_EQ(run_spec(FROM_POD, &answer).verdict, TC_ACT_OK, "A answers its node");
	ASSERT_EQ(drops_of(ENDPOINT_A, WEIR_DROP_ENDPOINT_PENDING, EGRESS) +
			  drops_of(ENDPOINT_A, WEIR_DROP_ENDPOINT_PENDING, INGRESS),
		  0, "nothing dropped");
}

static void previous_owners_connection_opens_nothing(void)
{
	struct packet_spec syn = tcp_from_b_to_a(TCP_SYN);
	struct packet_spec data = tcp_from_b_to_a(TCP_ACK | TCP_PSH);
	struct packet_spec answer = tcp_from_a(POD_B, 41000, TCP_SYN | TCP_ACK);

	SETUP();
	answer.source_port = 8080;
	ASSERT_EQ(run_spec(FROM_POD, &syn).verdict, TC_ACT_REDIRECT, "B -> A while A is open");
	/* A's address now belongs to a new pod, not yet compiled. */
	ASSERT_EQ(set_pending(POD_A, 1), 0, "mark A pending");
	data.payload_length = 20;
	ASSERT_EQ(run_spec(FROM_POD, &data).verdict, TC_ACT_SHOT, "B's tracked connection -> A");
	ASSERT_EQ(run_spec(FROM_POD, &answer).verdict, TC_ACT_SHOT, "A's reply to B");
	ASSERT_EQ(drops_of(ENDPOINT_A, WEIR_DROP_ENDPOINT_PENDING, INGRESS), 1, "ingress drop");
	ASSERT_EQ(drops_of(ENDPOINT_A, WEIR_DROP_ENDPOINT_PENDING, EGRESS), 1, "egress drop");
}

static void released_pod_follows_its_policy(void)
{
	struct packet_spec remote = tcp_to_a(REMOTE_POD, 8080, TCP_SYN);
	struct packet_spec other = tcp_to_a(REMOTE_POD, 9090, TCP_SYN);

	SETUP();
	ASSERT_EQ(set_pending(POD_A, 1), 0, "mark A pending");
	ASSERT_EQ(run_spec(TO_POD, &remote).verdict, TC_ACT_SHOT, "pending");
	ASSERT_EQ(isolate(ENDPOINT_A, 5, 0), 0, "isolate A");
	ASSERT_EQ(allow(ENDPOINT_A, INGRESS, IDENTITY_REMOTE, IPPROTO_TCP, 8080, 0, 6), 0, "allow");
	ASSERT_EQ(set_pending(POD_A, 0), 0, "release A");
	remote.source_port++;
	ASSERT_EQ(run_spec(TO_POD, &remote).verdict, TC_ACT_OK, "allowed port after release");
	ASSERT_EQ(run_spec(TO_POD, &other).verdict, TC_ACT_SHOT, "denied port after release");
	ASSERT_EQ(drops_of(ENDPOINT_A, WEIR_DROP_POLICY_DENIED_INGRESS, INGRESS), 1,
		  "denied by policy, not by the gate");
}

const struct test_case pending_tests[] = {
	{ "pending_pod_is_closed_to_peers", pending_pod_is_closed_to_peers },
	{ "pending_pod_reaches_nobody", pending_pod_reaches_nobody },
	{ "node_reaches_pending_pod_and_gets_answers", node_reaches_pending_pod_and_gets_answers },
	{ "previous_owners_connection_opens_nothing", previous_owners_connection_opens_nothing },
	{ "released_pod_follows_its_policy", released_pod_follows_its_policy },
};
const size_t pending_tests_count = sizeof(pending_tests) / sizeof(pending_tests[0]);
