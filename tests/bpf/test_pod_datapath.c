/* The pod programs run on crafted packets through BPF_PROG_TEST_RUN. The maps are the real
 * ones of the skeleton, left unpinned so a test never touches a node's bpffs. */
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdlib.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "datapath.h"
#include "log.h"
#include "packet.h"
#include "pod.skel.h"
#include "test.h"

#define POD_ADDRESS 0x0a000002u	  /* 10.0.0.2 */
#define OTHER_ADDRESS 0x0a000009u /* 10.0.0.9 */
#define LOOPBACK_IFINDEX 1	  /* test runs see skb->dev = lo */

static struct pod_bpf *skeleton;
static struct datapath datapath;

static int fresh_datapath(void)
{
	struct bpf_map *map;

	if (skeleton)
		pod_bpf__destroy(skeleton);
	skeleton = pod_bpf__open();
	if (!skeleton)
		return -1;
	/* Unpinned: the test's maps live and die with the test. */
	bpf_object__for_each_map(map, skeleton->obj) bpf_map__set_pin_path(map, NULL);
	if (pod_bpf__load(skeleton) < 0)
		return -1;
	datapath.endpoints_fd = bpf_map__fd(skeleton->maps.endpoints);
	datapath.endpoint_stats_fd = bpf_map__fd(skeleton->maps.endpoint_stats);
	datapath.metrics_fd = bpf_map__fd(skeleton->maps.metrics);
	return 0;
}

static int add_endpoint(uint32_t address, uint32_t ifindex, uint32_t endpoint_id)
{
	struct weir_endpoint endpoint = { .host_ifindex = ifindex, .endpoint_id = endpoint_id,
					  .flags = WEIR_ENDPOINT_FLAG_LOCAL };
	char errbuf[256];

	return datapath_endpoint_upsert(&datapath, address, &endpoint, errbuf, sizeof(errbuf));
}

/* Runs prog on the frame; returns the program's verdict, or -1000 - errno on a failed run. */
static int run(struct bpf_program *prog, const uint8_t *frame, size_t length)
{
	struct __sk_buff context = { .ifindex = LOOPBACK_IFINDEX };
	uint8_t out[2048];
	DECLARE_LIBBPF_OPTS(bpf_test_run_opts, options, .data_in = frame,
			    .data_size_in = (__u32)length, .data_out = out,
			    .data_size_out = sizeof(out), .ctx_in = &context,
			    .ctx_size_in = sizeof(context), .repeat = 1);
	int err = bpf_prog_test_run_opts(bpf_program__fd(prog), &options);

	return err < 0 ? -1000 + err : (int)options.retval;
}

static uint64_t counter(enum weir_counter which)
{
	uint64_t total = 0;

	datapath_counter_read(&datapath, which, &total);
	return total;
}

static void from_pod_counts_known_endpoint(void)
{
	struct packet_spec spec = { POD_ADDRESS, OTHER_ADDRESS, IPPROTO_UDP, 4000, 53, 100 };
	struct weir_endpoint_stats stats;
	uint8_t frame[256];
	size_t length = packet_build_ipv4(frame, sizeof(frame), &spec);

	ASSERT_EQ(fresh_datapath(), 0, "load datapath");
	ASSERT_EQ(add_endpoint(POD_ADDRESS, LOOPBACK_IFINDEX, 7), 0, "add endpoint");
	ASSERT_EQ(run(skeleton->progs.from_pod, frame, length), TC_ACT_OK, "verdict");
	ASSERT_EQ(run(skeleton->progs.from_pod, frame, length), TC_ACT_OK, "verdict again");
	ASSERT_EQ(datapath_endpoint_stats(&datapath, 7, &stats), 0, "read stats");
	ASSERT_EQ(stats.from_pod_packets, 2, "from_pod packets");
	ASSERT_EQ(stats.from_pod_bytes, 2 * length, "from_pod bytes");
	ASSERT_EQ(stats.to_pod_packets, 0, "to_pod packets");
	ASSERT_EQ(counter(WEIR_COUNTER_FROM_POD_PASSED), 2, "from_pod_passed counter");
}

static void to_pod_counts_known_endpoint(void)
{
	struct packet_spec spec = { OTHER_ADDRESS, POD_ADDRESS, IPPROTO_TCP, 40000, 8080, 0 };
	struct weir_endpoint_stats stats;
	uint8_t frame[256];
	size_t length = packet_build_ipv4(frame, sizeof(frame), &spec);

	ASSERT_EQ(fresh_datapath(), 0, "load datapath");
	ASSERT_EQ(add_endpoint(POD_ADDRESS, LOOPBACK_IFINDEX, 3), 0, "add endpoint");
	ASSERT_EQ(run(skeleton->progs.to_pod, frame, length), TC_ACT_OK, "verdict");
	ASSERT_EQ(datapath_endpoint_stats(&datapath, 3, &stats), 0, "read stats");
	ASSERT_EQ(stats.to_pod_packets, 1, "to_pod packets");
	ASSERT_EQ(stats.to_pod_bytes, length, "to_pod bytes");
	ASSERT_EQ(stats.from_pod_packets, 0, "from_pod packets");
	ASSERT_EQ(counter(WEIR_COUNTER_TO_POD_PASSED), 1, "to_pod_passed counter");
}

static void unknown_endpoint_is_counted(void)
{
	struct packet_spec spec = { OTHER_ADDRESS, POD_ADDRESS, IPPROTO_ICMP, 0, 0, 56 };
	uint8_t frame[256];
	size_t length = packet_build_ipv4(frame, sizeof(frame), &spec);

	ASSERT_EQ(fresh_datapath(), 0, "load datapath");
	ASSERT_EQ(run(skeleton->progs.from_pod, frame, length), TC_ACT_OK, "verdict");
	ASSERT_EQ(counter(WEIR_COUNTER_FROM_POD_UNKNOWN_ENDPOINT), 1, "unknown endpoint counter");
	ASSERT_EQ(counter(WEIR_COUNTER_FROM_POD_PASSED), 0, "nothing passed as known");
}

static void endpoint_behind_another_interface_is_not_matched(void)
{
	struct packet_spec spec = { POD_ADDRESS, OTHER_ADDRESS, IPPROTO_UDP, 1, 2, 0 };
	struct weir_endpoint_stats stats;
	uint8_t frame[256];
	size_t length = packet_build_ipv4(frame, sizeof(frame), &spec);

	ASSERT_EQ(fresh_datapath(), 0, "load datapath");
	ASSERT_EQ(add_endpoint(POD_ADDRESS, 4242, 5), 0, "add endpoint on ifindex 4242");
	ASSERT_EQ(run(skeleton->progs.from_pod, frame, length), TC_ACT_OK, "verdict");
	ASSERT_EQ(datapath_endpoint_stats(&datapath, 5, &stats), 0, "read stats");
	ASSERT_EQ(stats.from_pod_packets, 0, "not counted for the endpoint");
	ASSERT_EQ(counter(WEIR_COUNTER_FROM_POD_UNKNOWN_ENDPOINT), 1, "counted as unknown");
}

static void arp_passes_as_non_ipv4(void)
{
	uint8_t frame[128];
	size_t length = packet_build_arp(frame, sizeof(frame));

	ASSERT_EQ(fresh_datapath(), 0, "load datapath");
	ASSERT_EQ(run(skeleton->progs.to_pod, frame, length), TC_ACT_OK, "verdict");
	ASSERT_EQ(counter(WEIR_COUNTER_NON_IPV4), 1, "non_ipv4 counter");
}

static void malformed_ipv4_headers_are_counted(void)
{
	struct packet_spec spec = { POD_ADDRESS, OTHER_ADDRESS, IPPROTO_UDP, 1, 2, 0 };
	uint8_t frame[256];
	size_t length = packet_build_ipv4(frame, sizeof(frame), &spec);

	ASSERT_EQ(fresh_datapath(), 0, "load datapath");
	ASSERT_EQ(add_endpoint(POD_ADDRESS, LOOPBACK_IFINDEX, 9), 0, "add endpoint");
	/* BPF_PROG_TEST_RUN refuses IPv4 frames shorter than an IP header (-EINVAL) on this
	 * kernel, so only malformed headers of full length can be run here. */
	frame[ETH_HLEN] = 0x43; /* version 4, IHL 3: shorter than the minimum header */
	ASSERT_EQ(run(skeleton->progs.from_pod, frame, length), TC_ACT_OK, "bad IHL verdict");
	ASSERT_EQ(counter(WEIR_COUNTER_TRUNCATED), 1, "bad IHL counted");
	frame[ETH_HLEN] = 0x65; /* version 6 in an IPv4 ethertype */
	ASSERT_EQ(run(skeleton->progs.from_pod, frame, length), TC_ACT_OK, "bad version verdict");
	ASSERT_EQ(counter(WEIR_COUNTER_TRUNCATED), 2, "bad version counted");
	ASSERT_EQ(counter(WEIR_COUNTER_FROM_POD_PASSED), 0, "none passed as known");
}

static void endpoint_delete_respects_interface_guard(void)
{
	struct weir_endpoint endpoint;
	char errbuf[256];

	ASSERT_EQ(fresh_datapath(), 0, "load datapath");
	ASSERT_EQ(add_endpoint(POD_ADDRESS, 10, 4), 0, "add endpoint");
	ASSERT_EQ(datapath_endpoint_delete(&datapath, POD_ADDRESS, 11, errbuf, sizeof(errbuf)), 0,
		  "delete with another interface");
	ASSERT_EQ(datapath_endpoint_lookup(&datapath, POD_ADDRESS, &endpoint), 0,
		  "entry of the new owner stays");
	ASSERT_EQ(datapath_endpoint_delete(&datapath, POD_ADDRESS, 10, errbuf, sizeof(errbuf)), 0,
		  "delete with its interface");
	ASSERT_TRUE(datapath_endpoint_lookup(&datapath, POD_ADDRESS, &endpoint) < 0, "entry gone");
	ASSERT_EQ(datapath_endpoint_delete(&datapath, POD_ADDRESS, 10, errbuf, sizeof(errbuf)), 0,
		  "deleting again succeeds");
}

int main(int argc, char **argv)
{
	static const struct test_case cases[] = {
		{ "from_pod_counts_known_endpoint", from_pod_counts_known_endpoint },
		{ "to_pod_counts_known_endpoint", to_pod_counts_known_endpoint },
		{ "unknown_endpoint_is_counted", unknown_endpoint_is_counted },
		{ "endpoint_behind_another_interface_is_not_matched",
		  endpoint_behind_another_interface_is_not_matched },
		{ "arp_passes_as_non_ipv4", arp_passes_as_non_ipv4 },
		{ "malformed_ipv4_headers_are_counted",
		  malformed_ipv4_headers_are_counted },
		{ "endpoint_delete_respects_interface_guard", endpoint_delete_respects_interface_guard },
	};
	int failed;

	log_setup("bpf-tests", stderr, LOG_LEVEL_ERROR);
	libbpf_set_print(NULL);
	failed = test_run_all("bpf", cases, sizeof(cases) / sizeof(cases[0]),
			      argc > 1 ? argv[1] : NULL);
	if (skeleton)
		pod_bpf__destroy(skeleton);
	return failed ? 1 : 0;
}
