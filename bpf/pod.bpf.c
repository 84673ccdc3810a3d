/* The programs on the host side of every pod's veth: from_pod on its TC ingress (what the pod
 * sends), to_pod on its TC egress (what the pod receives). Each reads top to bottom as
 * parse -> endpoint -> account -> deliver; policy and load balancing join in later steps. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "abi.h"
#include "lib/maps.h"
#include "lib/metrics.h"
#include "lib/parse.h"
#include "lib/endpoints.h"

char LICENSE[] SEC("license") = "GPL";

static __always_inline int handle_pod_packet(struct __sk_buff *skb, int from_pod)
{
	struct packet packet = {};
	struct weir_endpoint *endpoint;
	__u32 endpoint_address;

	switch (parse_packet(skb, &packet)) {
	case PARSE_IPV4:
		break;
	case PARSE_NOT_IPV4:
		/* ARP must flow for the host to resolve the pod; IPv6 handling arrives with policy. */
		metrics_count(WEIR_COUNTER_NON_IPV4);
		return TC_ACT_OK;
	default:
		metrics_count(WEIR_COUNTER_TRUNCATED);
		return TC_ACT_OK;
	}

	endpoint_address = from_pod ? packet.ip4->saddr : packet.ip4->daddr;
	endpoint = endpoint_lookup(endpoint_address, skb->ifindex);
	if (!endpoint) {
		metrics_count(from_pod ? WEIR_COUNTER_FROM_POD_UNKNOWN_ENDPOINT
				       : WEIR_COUNTER_TO_POD_UNKNOWN_ENDPOINT);
		return TC_ACT_OK;
	}

	endpoint_account(endpoint, from_pod, skb->len);
	metrics_count(from_pod ? WEIR_COUNTER_FROM_POD_PASSED : WEIR_COUNTER_TO_POD_PASSED);
	return TC_ACT_OK;
}

SEC("tc")
int from_pod(struct __sk_buff *skb)
{
	return handle_pod_packet(skb, 1);
}

SEC("tc")
int to_pod(struct __sk_buff *skb)
{
	return handle_pod_packet(skb, 0);
}
