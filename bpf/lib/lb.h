/* Services without kube-proxy: a packet from a pod to a Service VIP:port is translated to one
 * backend (Maglev-style table, so the same client keeps its backend and a backend change moves
 * few clients), the choice is kept in a conntrack entry of the original tuple, and replies are
 * translated back so the client only ever sees the VIP. Policy is judged on the translated
 * packet: against the backend pod, as Kubernetes expects. */
#ifndef WEIR_BPF_LB_H
#define WEIR_BPF_LB_H

#include <linux/pkt_cls.h>
#include <stddef.h>

#include "conntrack.h"
#include "maps.h"
#include "metrics.h"
#include "parse.h"
#include "sctp_checksum.h"

#define IP_SOURCE_OFFSET (sizeof(struct ethhdr) + offsetof(struct iphdr, saddr))
#define IP_DESTINATION_OFFSET (sizeof(struct ethhdr) + offsetof(struct iphdr, daddr))
#define IP_CHECKSUM_OFFSET (sizeof(struct ethhdr) + offsetof(struct iphdr, check))

struct service_nat {
	__u8 translated;   /* the destination was a VIP */
	__u8 hairpin;	   /* ... and the backend is the client itself */
	__u32 vip;	   /* network byte order */
	__u16 vip_port;	   /* network byte order */
};

static __always_inline __u32 l4_checksum_offset(const struct packet *packet)
{
	__u32 l4 = sizeof(struct ethhdr) + packet->ihl_bytes;

	if (packet->protocol == IPPROTO_TCP)
		return l4 + offsetof(struct tcphdr, check);
	if (packet->protocol == IPPROTO_UDP)
		return l4 + offsetof(struct udphdr, check);
	return 0; /* SCTP's CRC32c does not cover addresses; ports need no sum update there */
}

/* Rewrites the destination (to_destination) or the source address and port, keeping the IP
 * and L4 checksums right. Later fragments have no L4 header: only the address changes. */
static __always_inline int nat_rewrite(struct __sk_buff *skb, struct packet *packet,
				       int to_destination, __u32 address, __u16 port)
{
	__u32 address_offset = to_destination ? IP_DESTINATION_OFFSET : IP_SOURCE_OFFSET;
	__u32 l4 = sizeof(struct ethhdr) + packet->ihl_bytes;
	__u32 port_offset = l4 + (to_destination ? 2 : 0);
	__u32 old_address = to_destination ? packet->destination : packet->source;
	__u16 old_port = to_destination ? packet->destination_port : packet->source_port;
	__u32 checksum_offset = l4_checksum_offset(packet);
	__u64 l4_flags = packet->protocol == IPPROTO_UDP ? BPF_F_MARK_MANGLED_0 : 0;

	if (bpf_l3_csum_replace(skb, IP_CHECKSUM_OFFSET, old_address, address, 4) < 0)
		return -1;
	if (checksum_offset && !packet->is_later_fragment &&
	    bpf_l4_csum_replace(skb, checksum_offset, old_address, address,
				BPF_F_PSEUDO_HDR | l4_flags | 4) < 0)
		return -1;
	if (bpf_skb_store_bytes(skb, address_offset, &address, 4, 0) < 0)
		return -1;
	if (!packet->is_later_fragment && port != old_port) {
		if (checksum_offset &&
		    bpf_l4_csum_replace(skb, checksum_offset, old_port, port, l4_flags | 2) < 0)
			return -1;
		/* A first fragment does not know the SCTP packet's length the CRC covers. */
		if (packet->protocol == IPPROTO_SCTP &&
		    (packet->is_fragment ||
		     sctp_checksum_port_changed(skb, l4, packet->l3_length - packet->ihl_bytes,
						to_destination ? 2 : 0, old_port, port) < 0))
			return -1;
		if (bpf_skb_store_bytes(skb, port_offset, &port, 2, 0) < 0)
			return -1;
	}
	if (to_destination) {
		packet->destination = address;
		packet->destination_port = port;
	} else {
		packet->source = address;
		packet->source_port = port;
	}
	return 0;
}

static __always_inline __u32 flow_hash(const struct packet *packet)
{
	__u32 hash = packet->source * 0x9e3779b1u;

	hash ^= packet->destination + 0x7f4a7c15u + (hash << 6) + (hash >> 2);
	hash ^= ((__u32)packet->source_port << 16 | packet->destination_port) + 0x165667b1u +
		(hash << 6) + (hash >> 2);
	hash ^= packet->protocol;
	hash ^= hash >> 16;
	hash *= 0x85ebca6bu;
	hash ^= hash >> 13;
	return hash;
}

static __always_inline struct weir_backend *backend_select(const struct weir_service *service,
							   const struct packet *packet,
							   __u32 *backend_id)
{
	struct weir_maglev_key key = { .service_id = service->service_id,
				       .slot = flow_hash(packet) % WEIR_MAGLEV_SIZE };
	__u32 *chosen = bpf_map_lookup_elem(&maglev, &key);

	if (!chosen)
		return 0;
	*backend_id = *chosen;
	return bpf_map_lookup_elem(&backends, chosen);
}

enum service_result {
	SERVICE_NONE = 0,	/* not a Service: nothing changed */
	SERVICE_TRANSLATED,	/* the packet now goes to a backend */
	SERVICE_NO_BACKEND,	/* a Service with nothing to serve it */
	SERVICE_FAILED,		/* the rewrite failed */
};

/* For a packet a pod sends: translates VIP:port to a backend, reusing the connection's
 * backend while that backend exists. */
static __always_inline enum service_result service_translate(struct __sk_buff *skb,
							     struct packet *packet,
							     struct service_nat *nat, __u64 now)
{
	struct weir_service_key service_key = { .address = packet->destination,
						.port = packet->destination_port,
						.protocol = packet->protocol };
	struct weir_service *service;
	struct weir_ct_key original;
	struct weir_ct_entry *tracked;
	struct weir_backend *backend = 0;
	__u32 backend_id = 0;

	if (packet->protocol != IPPROTO_TCP && packet->protocol != IPPROTO_UDP &&
	    packet->protocol != IPPROTO_SCTP)
		return SERVICE_NONE;
	service = bpf_map_lookup_elem(&services, &service_key);
	if (!service)
		return SERVICE_NONE;
	nat->translated = 1;
	nat->vip = packet->destination;
	nat->vip_port = packet->destination_port;

	ct_key_of(packet, &original);
	tracked = ct_find(&original, now);
	if (tracked && (tracked->flags & WEIR_CT_FLAG_SERVICE)) {
		/* Keep the backend while it exists; once removed, the connection is chosen
		 * again: the new backend resets a TCP stream it does not know (a clean end),
		 * UDP simply moves on. */
		__u32 kept_id = tracked->rule_id;
		struct weir_backend *kept = bpf_map_lookup_elem(&backends, &kept_id);
		if (kept && kept->address == tracked->nat_address &&
		    kept->port == tracked->nat_port) {
			ct_update(tracked, packet, 0, now);
			if (nat_rewrite(skb, packet, 1, kept->address, kept->port) < 0)
				return SERVICE_FAILED;
			metrics_count(WEIR_COUNTER_SERVICE_TRANSLATED);
			return SERVICE_TRANSLATED;
		}
	}
	if (service->backend_count == 0)
		return SERVICE_NO_BACKEND;
	if (service->flags & WEIR_SERVICE_FLAG_AFFINITY) {
		struct weir_affinity_key affinity_key = { service->service_id, packet->source };
		struct weir_affinity *remembered = bpf_map_lookup_elem(&affinity, &affinity_key);
		if (remembered &&
		    now - remembered->last_used_ns < (__u64)service->affinity_seconds * 1000000000ULL) {
			backend_id = remembered->backend_id;
			backend = bpf_map_lookup_elem(&backends, &backend_id);
		}
	}
	if (!backend)
		backend = backend_select(service, packet, &backend_id);
	if (!backend)
		return SERVICE_NO_BACKEND;
	if (service->flags & WEIR_SERVICE_FLAG_AFFINITY) {
		struct weir_affinity_key affinity_key = { service->service_id, packet->source };
		struct weir_affinity remembered = { .last_used_ns = now, .backend_id = backend_id };
		bpf_map_update_elem(&affinity, &affinity_key, &remembered, BPF_ANY);
	}
	{
		struct weir_ct_entry entry = {
			.state = WEIR_CT_OPEN,
			.flags = WEIR_CT_FLAG_SERVICE,
			.rule_id = backend_id,
			.nat_address = backend->address,
			.nat_port = backend->port,
			.expires_ns = now + ct_timeout(packet->protocol, WEIR_CT_ESTABLISHED),
		};
		bpf_map_update_elem(&ct, &original, &entry, BPF_ANY);
	}
	if (nat_rewrite(skb, packet, 1, backend->address, backend->port) < 0)
		return SERVICE_FAILED;
	metrics_count(WEIR_COUNTER_SERVICE_TRANSLATED);
	return SERVICE_TRANSLATED;
}

#endif
