/* The conntrack sweep's decisions: live entries kept, connections whose end the datapath
 * reported (FIN both ways, RST) deleted without a second report, Service bookkeeping deleted silently, the rest reported as expired
 * with their counters and a duration up to their last activity. */
#include <arpa/inet.h>
#include <netinet/in.h>

#include "ct_sweep.h"
#include "test.h"
#include "unit.h"

#define SECOND 1000000000ull

static void judges_entries_by_deadline_and_state(void)
{
	struct weir_ct_entry entry = { .expires_ns = 100 * SECOND, .state = WEIR_CT_ESTABLISHED };

	ASSERT_EQ(ct_sweep_judge(&entry, 99 * SECOND), CT_SWEEP_KEEP, "before the deadline");
	ASSERT_EQ(ct_sweep_judge(&entry, 100 * SECOND), CT_SWEEP_KEEP, "at the deadline");
	ASSERT_EQ(ct_sweep_judge(&entry, 101 * SECOND), CT_SWEEP_REPORT_AND_DELETE, "expired");
	entry.state = WEIR_CT_CLOSING;
	ASSERT_EQ(ct_sweep_judge(&entry, 101 * SECOND), CT_SWEEP_REPORT_AND_DELETE,
		  "closed on one side only: not reported yet");
	entry.flow_end_reported = 1;
	ASSERT_EQ(ct_sweep_judge(&entry, 101 * SECOND), CT_SWEEP_DELETE,
		  "ended: the datapath reported it");
	entry.flow_end_reported = 0;
	entry.state = WEIR_CT_OPEN;
	entry.flags = WEIR_CT_FLAG_SERVICE;
	ASSERT_EQ(ct_sweep_judge(&entry, 101 * SECOND), CT_SWEEP_DELETE,
		  "Service bookkeeping is no connection");
}

static void summary_carries_counters_and_duration(void)
{
	struct weir_ct_key key = {
		.source = htonl(0x0a000001),
		.destination = htonl(0x0a000002),
		.source_port = htons(5353),
		.destination_port = htons(53),
		.protocol = IPPROTO_UDP,
	};
	/* Created at 10 s, last refreshed at 25 s: UDP entries live 60 s after. */
	struct weir_ct_entry entry = {
		.expires_ns = 25 * SECOND + WEIR_CT_TIMEOUT_UDP_NS,
		.state = WEIR_CT_OPEN,
		.rule_id = 7,
		.source_endpoint_id = 3,
		.created_ns = 10 * SECOND,
		.forward_packets = 4,
		.forward_bytes = 400,
		.reply_packets = 2,
		.reply_bytes = 900,
	};
	struct weir_flow_end_event event;

	ct_sweep_summary(&key, &entry, 90 * SECOND, &event);
	ASSERT_EQ(event.type, WEIR_EVENT_FLOW_END, "type");
	ASSERT_EQ(event.cause, WEIR_FLOW_END_EXPIRED, "cause");
	ASSERT_EQ(event.timestamp_ns, 90 * SECOND, "stamped when found");
	ASSERT_EQ(event.duration_ns, 15 * SECOND, "created to last activity");
	ASSERT_EQ(event.source, key.source, "source");
	ASSERT_EQ(event.destination_port, htons(53), "destination port");
	ASSERT_EQ(event.protocol, IPPROTO_UDP, "protocol");
	ASSERT_EQ(event.rule_id, 7, "rule");
	ASSERT_EQ(event.source_endpoint_id, 3, "source endpoint");
	ASSERT_EQ(event.forward_packets, 4, "forward packets");
	ASSERT_EQ(event.forward_bytes, 400, "forward bytes");
	ASSERT_EQ(event.reply_packets, 2, "reply packets");
	ASSERT_EQ(event.reply_bytes, 900, "reply bytes");
	entry.created_ns = 0;
	ct_sweep_summary(&key, &entry, 90 * SECOND, &event);
	ASSERT_EQ(event.duration_ns, 0, "unknown creation: no duration rather than a wrong one");
}

const struct test_case ct_sweep_tests[] = {
	{ "judges_entries_by_deadline_and_state", judges_entries_by_deadline_and_state },
	{ "summary_carries_counters_and_duration", summary_carries_counters_and_duration },
};
const size_t ct_sweep_tests_count = sizeof(ct_sweep_tests) / sizeof(ct_sweep_tests[0]);
