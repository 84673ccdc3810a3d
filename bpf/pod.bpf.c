/* The programs on the host side of every pod's veth: from_pod on its TC ingress (what the pod
 * sends), to_pod on its TC egress (what the pod receives from the host stack). Each reads top
 * to bottom as parse -> endpoint (anti-spoofing) -> conntrack -> policy -> deliver, every step
 * a call into its own header, and every drop naming its reason. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "abi.h"
#include "lib/maps.h"
#include "lib/metrics.h"
#include "lib/parse.h"
#include "lib/endpoints.h"
#include "lib/identity.h"
#include "lib/policy.h"
#include "lib/conntrack.h"
#include "lib/fragments.h"
#include "lib/events.h"
#include "lib/drop.h"
#include "lib/reset.h"
#include "lib/deliver.h"
#include "lib/lb.h"
#include "lib/masquerade.h"
#include "lib/http.h"
#include "lib/pending.h"
#include "lib/forward.h"

char LICENSE[] SEC("license") = "GPL";

#define CONTINUE (-1) /* enforcement passed: go on to delivery */

struct judgment {
	__u8 allowed;
	__u8 http;	/* the destination's rule checks every HTTP request */
	__u8 reason;	/* why not */
	__u8 direction; /* of the endpoint whose policy decided */
	__u32 endpoint_id;
	__u32 peer_identity;
	__u32 rule_id;
};

/* The identity a connection's source is judged as by the destination. This node (the kubelet)
 * and the hairpin address (a pod reaching itself through a Service, judged as itself) are
 * believed only on a path where the host could have made them (host_path); a packet that
 * entered the node from outside with such a source is a spoof and is the world it came from. */
static __always_inline struct peer source_peer(const struct weir_ct_key *key, int host_path)
{
	struct peer world = { .identity = WEIR_IDENTITY_WORLD };
	struct peer peer;

	if (key->source == bpf_htonl(WEIR_HAIRPIN_ADDRESS))
		return host_path ? peer_of(key->destination) : world;
	peer = peer_of(key->source);
	if (peer.identity == WEIR_IDENTITY_HOST && !host_path)
		return world;
	return peer;
}

/* Both policies of a connection: the source's egress (when the source is local) and the
 * destination's ingress (when the destination is local). */
static __always_inline struct judgment judge_connection(const struct weir_ct_key *key,
							__u32 source_endpoint_id,
							__u32 destination_endpoint_id, int host_path)
{
	struct judgment judgment = { .allowed = 1 };
	__u16 port = key->protocol == IPPROTO_ICMP ? 0 : key->destination_port;
	struct policy_verdict verdict;

	if (source_endpoint_id) {
		struct peer peer = peer_of(key->destination);
		verdict = policy_judge(source_endpoint_id, WEIR_DIRECTION_EGRESS, peer,
				       key->protocol, port);
		judgment.rule_id = verdict.rule_id;
		if (!verdict.allowed) {
			judgment.allowed = 0;
			judgment.reason = WEIR_DROP_POLICY_DENIED_EGRESS;
			judgment.direction = WEIR_DIRECTION_EGRESS;
			judgment.endpoint_id = source_endpoint_id;
			judgment.peer_identity = peer.identity;
			return judgment;
		}
	}
	if (destination_endpoint_id) {
		struct peer peer = source_peer(key, host_path);
		/* Kubernetes: the node always reaches its own pods (kubelet probes). */
		if (peer.identity == WEIR_IDENTITY_HOST)
			return judgment;
		verdict = policy_judge(destination_endpoint_id, WEIR_DIRECTION_INGRESS, peer,
				       key->protocol, port);
		if (!verdict.allowed || verdict.rule_id)
			judgment.rule_id = verdict.rule_id;
		judgment.http = verdict.http;
		if (!verdict.allowed) {
			judgment.allowed = 0;
			judgment.reason = WEIR_DROP_POLICY_DENIED_INGRESS;
			judgment.direction = WEIR_DIRECTION_INGRESS;
			judgment.endpoint_id = destination_endpoint_id;
			judgment.peer_identity = peer.identity;
		}
	}
	return judgment;
}

/* judge_connection into *out. Not inlined: its lookups stay off the frame of from_pod, which
 * is near the verifier's stack limit. */
static __noinline int judge_connection_into(const struct weir_ct_key *key,
					    __u32 source_endpoint_id,
					    __u32 destination_endpoint_id, int host_path,
					    struct judgment *out)
{
	*out = judge_connection(key, source_endpoint_id, destination_endpoint_id, host_path);
	return 0;
}

/* A connection the current policy no longer allows: forget it, count and report it as
 * revoked, and for TCP hand the pod a RST instead of the packet. */
static __always_inline int revoke_connection(struct __sk_buff *skb, struct packet *packet,
					     const struct weir_ct_key *key,
					     const struct judgment *judgment, int from_pod)
{
	bpf_map_delete_elem(&ct, key);
	drop_packet(packet, judgment->endpoint_id, WEIR_DROP_POLICY_REVOKED, judgment->direction,
		    judgment->peer_identity, judgment->rule_id);
	if (packet->protocol != IPPROTO_TCP || (packet->tcp_flags & TCP_FLAG_RST) ||
	    packet->is_later_fragment)
		return TC_ACT_SHOT;
	if (tcp_reset_rewrite(skb, from_pod) < 0)
		return TC_ACT_SHOT;
	/* from_pod runs on the veth's ingress: its peer is the pod itself. */
	return from_pod ? bpf_redirect_peer(skb->ifindex, 0) : TC_ACT_OK;
}

/* What a reply needs rewritten: its source back to the VIP the client addressed. */
struct reverse_nat {
	__u32 address;
	__u16 port;
	__u8 hairpin; /* the reply's destination is the hairpin address: back to the client */
};

/* A connection conntrack does not know (its key: the packet's own tuple): both policies judge
 * it under revision, and an allowed one is tracked. */
/* admit_new_connection's working state, in a per-CPU map value rather than on the stack: the
 * chain from_pod -> admit_new_connection -> judge_connection_into must stay under the
 * verifier's 512 bytes. TC programs do not nest on a CPU, so one value per CPU serves. */
struct admission {
	struct weir_ct_key key;
	struct judgment judgment;
	struct ct_origin origin;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct admission);
} admissions SEC(".maps");

/* Not inlined: its locals stay off from_pod's frame, which must leave room for http_inspect
 * under the verifier's 512-byte stack limit. */
static __noinline int admit_new_connection(struct __sk_buff *skb, struct packet *packet,
					   const struct weir_endpoint *source,
					   const struct weir_endpoint *destination,
					   const struct service_nat *nat)
{
	__u32 revision = policy_current_revision(), zero = 0;
	int from_pod = source != 0;
	__u32 source_endpoint_id = source ? source->endpoint_id : 0;
	__u32 destination_endpoint_id = destination ? destination->endpoint_id : 0;
	struct admission *admission = bpf_map_lookup_elem(&admissions, &zero);
	struct judgment *judgment;
	struct ct_origin *origin;

	if (!admission)
		return TC_ACT_SHOT; /* cannot happen: a one-entry array */
	judgment = &admission->judgment;
	origin = &admission->origin;
	__builtin_memset(admission, 0, sizeof(*admission));

	ct_key_of(packet, &admission->key);
	/* The host itself could have made the packet: from_pod (its hairpin rewrite), or to_pod
	 * for a packet that entered through no interface (skb->ingress_ifindex 0; from_uplink's
	 * packets entered through the uplink). */
	judge_connection_into(&admission->key, source_endpoint_id, destination_endpoint_id,
			      from_pod || skb->ingress_ifindex == 0, judgment);
	if (!judgment->allowed)
		return drop_packet(packet, judgment->endpoint_id, judgment->reason, judgment->direction,
				   judgment->peer_identity, judgment->rule_id);
	if (judgment->http && packet->protocol == IPPROTO_TCP) {
		__u8 refusal = http_first_packet_refusal(packet);

		if (refusal)
			return drop_packet(packet, destination_endpoint_id, refusal,
					   WEIR_DIRECTION_INGRESS, 0, judgment->rule_id);
	}
	origin->revision = revision;
	origin->rule_id = judgment->rule_id;
	origin->nat_address = nat->translated ? nat->vip : 0;
	origin->nat_port = nat->translated ? nat->vip_port : 0;
	origin->flags = (nat->hairpin ? WEIR_CT_FLAG_HAIRPIN : 0) |
		       (judgment->http ? WEIR_CT_FLAG_HTTP_RULES : 0);
	if (ct_create(&admission->key, packet, source, destination, origin) < 0)
		return drop_packet(packet, from_pod ? source_endpoint_id : destination_endpoint_id,
				   WEIR_DROP_MAP_FULL,
				   from_pod ? WEIR_DIRECTION_EGRESS : WEIR_DIRECTION_INGRESS, 0, 0);
	metrics_count(WEIR_COUNTER_CT_NEW);
	/* Data opening a connection on a port with HTTP rules (not from a SYN: the stream
	 * position is unknown). Its entry is made, so the resend gets a 403 and a reset. */
	if (judgment->http && packet->protocol == IPPROTO_TCP && packet->payload_length)
		return drop_packet(packet, destination_endpoint_id, WEIR_DROP_HTTP_MIDSTREAM,
				   WEIR_DIRECTION_INGRESS, 0, judgment->rule_id);
	if (flow_events_on())
		event_emit(WEIR_EVENT_NEW_FLOW, 0,
			   from_pod ? WEIR_DIRECTION_EGRESS : WEIR_DIRECTION_INGRESS,
			   from_pod ? source_endpoint_id : destination_endpoint_id,
			   identity_of(from_pod ? packet->destination : packet->source),
			   judgment->rule_id, packet);
	return CONTINUE;
}

/* source/destination: the packet's local endpoints (NULL: not local). The source is known
 * only from a pod (from_pod); the destination everywhere but in a reply to the hairpin
 * address (rewritten to the pod only after enforcement). */
static __always_inline int enforce(struct __sk_buff *skb, struct packet *packet, enum hook hook,
				   const struct weir_endpoint *source,
				   const struct weir_endpoint *destination, __u8 pending,
				   const struct service_nat *nat, struct reverse_nat *reverse)
{
	__u64 now = bpf_ktime_get_ns();
	__u32 revision = policy_current_revision();
	int from_pod = hook == HOOK_FROM_POD;
	struct ct_lookup_result tracked;
	__u32 source_endpoint_id = source ? source->endpoint_id : 0;
	__u32 destination_endpoint_id = destination ? destination->endpoint_id : 0;
	struct judgment judgment;
	int verdict;
	__u8 ended;

	/* An entry made for other endpoints than the packet's (an address that became a pod, a
	 * pod on a deleted pod's address) is not this connection's: the packet is new. */
	if (hook == HOOK_TO_POD) {
		/* A local pod's packet reaching another local pod through the host: its sender is
		 * known too, so an entry of the address's previous owner is not its. */
		const struct weir_endpoint *sender = local_endpoint_by_address(packet->source);

		ct_track(packet, &tracked, sender, destination,
			 (sender ? CT_KNOW_SENDER : 0) | CT_KNOW_RECEIVER);
	} else {
		ct_track(packet, &tracked, source, destination,
			 (from_pod ? CT_FROM_POD | CT_KNOW_SENDER : 0) |
				 (!from_pod || packet->destination != bpf_htonl(WEIR_HAIRPIN_ADDRESS)
					  ? CT_KNOW_RECEIVER
					  : 0));
	}
	/* Before conntrack has a say: an entry of the address's previous owner opens nothing. */
	if (pending && !pending_gate_allows(packet, pending, hook == HOOK_TO_POD, tracked.status)) {
		__u8 source_side = (pending & PENDING_DESTINATION) == 0;
		return drop_packet(packet, source_side ? source_endpoint_id : destination_endpoint_id,
				   WEIR_DROP_ENDPOINT_PENDING,
				   source_side ? WEIR_DIRECTION_EGRESS : WEIR_DIRECTION_INGRESS,
				   identity_of(source_side ? packet->destination : packet->source),
				   0);
	}
	if (tracked.status == CT_RELATED) {
		struct weir_ct_entry *entry = tracked.entry;

		/* An error about a connection is only as allowed as the connection: one the
		 * current policy revoked carries nothing more, not even its ICMP. */
		if (entry && entry->revision != revision) {
			metrics_count(WEIR_COUNTER_CT_REJUDGED);
			judge_connection_into(&tracked.key, entry->source_endpoint_id,
					      entry->destination_endpoint_id, 1, &judgment);
			if (!judgment.allowed) {
				bpf_map_delete_elem(&ct, &tracked.key);
				return drop_packet(packet, judgment.endpoint_id,
						   WEIR_DROP_POLICY_REVOKED, judgment.direction,
						   judgment.peer_identity, judgment.rule_id);
			}
			entry->revision = revision;
			entry->rule_id = judgment.rule_id;
		}
		metrics_count(WEIR_COUNTER_CT_RELATED);
		return CONTINUE;
	}
	if (packet->protocol == IPPROTO_TCP && tcp_flags_invalid(packet->tcp_flags))
		return drop_packet(packet, from_pod ? source_endpoint_id : destination_endpoint_id,
				   WEIR_DROP_CT_INVALID,
				   from_pod ? WEIR_DIRECTION_EGRESS : WEIR_DIRECTION_INGRESS, 0, 0);

	/* A fresh SYN on the tuple of a closed connection starts a new one: judge it again. */
	if (tracked.status == CT_ESTABLISHED && tracked.entry &&
	    tracked.entry->state == WEIR_CT_CLOSING && packet->protocol == IPPROTO_TCP &&
	    (packet->tcp_flags & TCP_FLAG_SYN) && !(packet->tcp_flags & TCP_FLAG_ACK)) {
		bpf_map_delete_elem(&ct, &tracked.key);
		tracked.status = CT_NEW;
		tracked.entry = 0;
	}
	if (tracked.status != CT_NEW && tracked.entry) {
		struct weir_ct_entry *entry = tracked.entry;

		if (entry->revision != revision) {
			metrics_count(WEIR_COUNTER_CT_REJUDGED);
			judge_connection_into(&tracked.key, entry->source_endpoint_id,
					      entry->destination_endpoint_id, 1, &judgment);
			if (!judgment.allowed)
				return revoke_connection(skb, packet, &tracked.key, &judgment,
							 from_pod);
			entry->revision = revision;
			entry->rule_id = judgment.rule_id;
			if (judgment.http && !(entry->flags & WEIR_CT_FLAG_HTTP_RULES)) {
				/* Newly under HTTP rules, but not followed from its SYN: where
				 * requests start is unknown, so its data is refused. */
				entry->flags |= WEIR_CT_FLAG_HTTP_RULES;
				entry->http_synced = 0;
			} else if (!judgment.http) {
				entry->flags &= ~WEIR_CT_FLAG_HTTP_RULES;
			}
		}
		if (packet->protocol == IPPROTO_TCP) {
			__u8 flags = packet->tcp_flags;

			__u8 syn_ack = TCP_FLAG_SYN | TCP_FLAG_ACK;

			if (tracked.status == CT_ESTABLISHED &&
			    (flags & (TCP_FLAG_FIN | TCP_FLAG_RST)) &&
			    http_close_out_of_sequence(entry, packet))
				return drop_packet(packet, entry->destination_endpoint_id,
						   WEIR_DROP_HTTP_OUT_OF_ORDER,
						   WEIR_DIRECTION_INGRESS, 0, entry->rule_id);
			if (tracked.status == CT_REPLY && (flags & syn_ack) == syn_ack)
				http_follow_syn_ack(entry, packet);
		}
		ct_update(entry, packet, tracked.status == CT_REPLY, now);
		ct_account(entry, packet, tracked.status == CT_REPLY);
		ended = ct_tcp_ended(entry, packet, tracked.status == CT_REPLY);
		if (ended)
			flow_end_emit(&tracked.key, entry, ended, now);
		/* Only payload, or a connection whose request was refused, concerns HTTP: pure ACKs
		 * and other protocols skip the call on the per-packet path. */
		if (packet->protocol == IPPROTO_TCP &&
		    (packet->payload_length || entry->http_state >= WEIR_HTTP_DENIED ||
		     ((entry->flags & WEIR_CT_FLAG_HTTP_RULES) &&
		      (packet->is_fragment || (packet->tcp_flags & TCP_FLAG_URG))))) {
			verdict = http_inspect(skb, packet, entry, &tracked.key,
					       hook | (tracked.status == CT_REPLY ? HTTP_INSPECT_REPLY
										  : 0));
			if (verdict != HTTP_CONTINUE)
				return verdict;
		}
		if (tracked.status == CT_REPLY && (entry->flags & WEIR_CT_FLAG_REVNAT)) {
			reverse->address = entry->nat_address;
			reverse->port = entry->nat_port;
			reverse->hairpin = !!(entry->flags & WEIR_CT_FLAG_HAIRPIN);
		}
		metrics_count(tracked.status == CT_REPLY ? WEIR_COUNTER_CT_REPLY
							 : WEIR_COUNTER_CT_ESTABLISHED);
		return CONTINUE;
	}

	return admit_new_connection(skb, packet, source, destination, nat);
}

/* Drops for packets that never reach conntrack: unsupported or malformed. */
static __always_inline int drop_unparsed(struct packet *packet, enum parse_result parsed,
					 __u8 direction)
{
	__u8 reason = parsed == PARSE_UNSUPPORTED_L3   ? WEIR_DROP_UNSUPPORTED_L3
		      : parsed == PARSE_UNSUPPORTED_L4 ? WEIR_DROP_UNSUPPORTED_L4
						       : WEIR_DROP_MALFORMED;

	if (parsed == PARSE_UNSUPPORTED_L3)
		metrics_count(WEIR_COUNTER_NON_IPV4);
	else if (parsed == PARSE_MALFORMED)
		metrics_count(WEIR_COUNTER_TRUNCATED);
	return drop_packet(packet, 0, reason, direction, 0, 0);
}

/* A pod may only speak ARP for its own address and MAC. */
static __always_inline int arp_from_pod(struct __sk_buff *skb, struct packet *packet)
{
	struct weir_endpoint *source = endpoint_lookup(packet->arp_sender, skb->ifindex);

	metrics_count(WEIR_COUNTER_NON_IPV4);
	if (!source)
		return drop_packet(packet, 0, WEIR_DROP_SPOOFED_SOURCE_IP, WEIR_DIRECTION_EGRESS,
				   0, 0);
	if (!mac_equal(packet->arp_sender_mac, source->pod_mac) ||
	    !mac_equal(packet->source_mac, source->pod_mac))
		return drop_packet(packet, source->endpoint_id, WEIR_DROP_SPOOFED_SOURCE_MAC,
				   WEIR_DIRECTION_EGRESS, 0, 0);
	return TC_ACT_OK;
}

SEC("tc")
int from_pod(struct __sk_buff *skb)
{
	struct packet packet = {};
	enum parse_result parsed = parse_packet(skb, &packet);
	struct weir_endpoint *source, *destination;
	struct service_nat nat = {};
	struct reverse_nat reverse = {};
	int verdict;

	if (parsed == PARSE_ARP)
		return arp_from_pod(skb, &packet);
	if (parsed != PARSE_IPV4)
		return drop_unparsed(&packet, parsed, WEIR_DIRECTION_EGRESS);

	source = endpoint_lookup(packet.source, skb->ifindex);
	if (!source)
		return drop_packet(&packet, 0, WEIR_DROP_SPOOFED_SOURCE_IP, WEIR_DIRECTION_EGRESS,
				   0, 0);
	if (!mac_equal(packet.source_mac, source->pod_mac))
		return drop_packet(&packet, source->endpoint_id, WEIR_DROP_SPOOFED_SOURCE_MAC,
				   WEIR_DIRECTION_EGRESS, 0, 0);
	endpoint_account(source, 1, packet.length);

	if (packet.is_later_fragment && fragment_borrow_ports(&packet) < 0)
		return drop_packet(&packet, source->endpoint_id, WEIR_DROP_FRAGMENT_WITHOUT_FIRST,
				   WEIR_DIRECTION_EGRESS, 0, 0);

	switch (service_translate(skb, &packet, &nat, bpf_ktime_get_ns())) {
	case SERVICE_NO_BACKEND:
		/* Refuse at once, never let the client hang: TCP gets a reset from the VIP. */
		drop_packet(&packet, source->endpoint_id, WEIR_DROP_NO_SERVICE_BACKEND,
			    WEIR_DIRECTION_EGRESS, 0, 0);
		if (packet.protocol == IPPROTO_TCP && !(packet.tcp_flags & TCP_FLAG_RST) &&
		    tcp_reset_rewrite(skb, 1) == 0)
			return bpf_redirect_peer(skb->ifindex, 0);
		return TC_ACT_SHOT;
	case SERVICE_FAILED:
		return drop_packet(&packet, source->endpoint_id, WEIR_DROP_MALFORMED,
				   WEIR_DIRECTION_EGRESS, 0, 0);
	default:
		break;
	}
	if (nat.translated && packet.destination == packet.source) {
		nat.hairpin = 1;
		if (nat_rewrite(skb, &packet, 0, bpf_htonl(WEIR_HAIRPIN_ADDRESS), packet.source_port) <
		    0)
			return TC_ACT_SHOT;
	}

	destination = local_endpoint_by_address(packet.destination);

	verdict = enforce(skb, &packet, HOOK_FROM_POD, source, destination,
			  (endpoint_is_pending(source) ? PENDING_SOURCE : 0) |
				  (endpoint_is_pending(destination) ? PENDING_DESTINATION : 0),
			  &nat, &reverse);
	if (verdict != CONTINUE)
		return verdict;
	if (reverse.address) {
		if (reverse.hairpin) {
			/* Back to the client, which is the sender itself. */
			if (nat_rewrite(skb, &packet, 1, packet.source, packet.destination_port) < 0)
				return TC_ACT_SHOT;
			destination = source;
		}
		if (nat_rewrite(skb, &packet, 0, reverse.address, reverse.port) < 0)
			return TC_ACT_SHOT;
		metrics_count(WEIR_COUNTER_SERVICE_REPLY_TRANSLATED);
	}
	if (packet.is_fragment && !packet.is_later_fragment)
		fragment_remember_first(&packet);
	metrics_count(WEIR_COUNTER_FROM_POD_PASSED);
	metrics_add(WEIR_COUNTER_FROM_POD_PASSED_BYTES, packet.length);
	if (destination) {
		/* Its to_pod program will not see the packet: count it for the destination here. */
		endpoint_account(destination, 0, packet.length);
		return deliver_to_local_pod(skb, &packet, destination);
	}
	return TC_ACT_OK;
}

/* A NodePort request for a backend on another node leaves with this node's address, so the
 * reply comes back here (TC_ACT_OK: translated, or no uplink to translate to). A function of its
 * own, to keep its state off from_uplink's stack. */
static __attribute__((noinline)) int node_port_forward(struct __sk_buff *skb, struct packet *packet)
{
	__u32 ifindex = skb->ifindex;
	struct weir_uplink *uplink = bpf_map_lookup_elem(&uplinks, &ifindex);

	if (!uplink)
		return TC_ACT_OK;
	return masquerade_egress(skb, packet, uplink, 0);
}

/* On the node's uplink (TC ingress): traffic from outside to a NodePort is translated to a
 * backend and judged by that backend's ingress policy, with the client's identity (world,
 * or what the ipcache says). A backend on another node gets the request from this node's
 * address (masquerade pair), so its reply comes back here: restored to the client and to the
 * nodeIP:nodePort it addressed (the connection's conntrack entry remembers it), it goes straight
 * back out. Everything else goes on to the host stack untouched. */
SEC("tc")
int from_uplink(struct __sk_buff *skb)
{
	struct packet packet = {};
	enum parse_result parsed = parse_packet(skb, &packet);
	struct service_nat nat = {};
	struct reverse_nat reverse = {};
	struct weir_endpoint *destination;
	int verdict, node_port_reply = 0;

	if (parsed != PARSE_IPV4 || packet.is_later_fragment)
		return TC_ACT_OK; /* the host's own traffic: not weir's to judge */
	/* Nothing from outside honestly comes from this node, the hairpin address or a pod of
	 * this node: each would be believed as itself further on (the host, the pod itself, that
	 * pod's identity). */
	if (packet.source == bpf_htonl(WEIR_HAIRPIN_ADDRESS) ||
	    identity_of(packet.source) == WEIR_IDENTITY_HOST ||
	    local_endpoint_by_address(packet.source))
		return drop_packet(&packet, 0, WEIR_DROP_SPOOFED_SOURCE_IP, WEIR_DIRECTION_INGRESS,
				   0, 0);
	if (packet.protocol == IPPROTO_TCP || packet.protocol == IPPROTO_UDP) {
		switch (masquerade_ingress(skb, &packet)) {
		case MASQUERADE_NOT_OURS:
			break;
		case MASQUERADE_ORPHAN:
			return drop_packet(&packet, 0, WEIR_DROP_MASQUERADE_ORPHAN_REPLY,
					   WEIR_DIRECTION_INGRESS, identity_of(packet.source), 0);
		case MASQUERADE_FAILED:
			return drop_packet(&packet, 0, WEIR_DROP_MALFORMED, WEIR_DIRECTION_INGRESS,
					   0, 0);
		default:
			if (local_endpoint_by_address(packet.destination))
				return TC_ACT_OK; /* a reply to a pod: routed, judged by to_pod */
			node_port_reply = 1;
			break;
		}
	}
	if (!node_port_reply) {
		switch (service_translate(skb, &packet, &nat, bpf_ktime_get_ns())) {
		case SERVICE_NONE:
			return TC_ACT_OK;
		case SERVICE_NO_BACKEND:
			drop_packet(&packet, 0, WEIR_DROP_NO_SERVICE_BACKEND, WEIR_DIRECTION_INGRESS,
				    0, 0);
			return TC_ACT_SHOT;
		case SERVICE_FAILED:
			return drop_packet(&packet, 0, WEIR_DROP_MALFORMED, WEIR_DIRECTION_INGRESS,
					   0, 0);
		default:
			break;
		}
	}
	/* A node port reply's destination is the outside client (checked above: not a pod). */
	destination = node_port_reply ? 0 : local_endpoint_by_address(packet.destination);
	verdict = enforce(skb, &packet, HOOK_FROM_UPLINK, 0, destination,
			  endpoint_is_pending(destination) ? PENDING_DESTINATION : 0, &nat, &reverse);
	if (verdict != CONTINUE)
		return verdict;
	if (node_port_reply) {
		/* Its source becomes the nodeIP:nodePort the client addressed; straight back out.
		 * Without its connection's entry it would leave with the backend's address. */
		if (!reverse.address)
			return drop_packet(&packet, 0, WEIR_DROP_CT_INVALID, WEIR_DIRECTION_INGRESS,
					   identity_of(packet.source), 0);
		if (nat_rewrite(skb, &packet, 0, reverse.address, reverse.port) < 0)
			return TC_ACT_SHOT;
		metrics_count(WEIR_COUNTER_SERVICE_REPLY_TRANSLATED);
		return forward_by_fib(skb, &packet);
	}
	if (destination) {
		endpoint_account(destination, 0, packet.length);
		return deliver_to_local_pod(skb, &packet, destination);
	}
	if (nat.translated) {
		verdict = node_port_forward(skb, &packet);
		return verdict == TC_ACT_OK ? forward_by_fib(skb, &packet) : verdict;
	}
	return TC_ACT_OK;
}

/* On the node's uplink (TC egress): pod traffic leaving the cluster is masqueraded to the
 * uplink's node address. Traffic to pods and nodes of the cluster keeps its pod source. */
SEC("tc")
int to_uplink(struct __sk_buff *skb)
{
	struct packet packet = {};
	struct weir_endpoint *source;
	struct weir_uplink *uplink;
	__u32 ifindex = skb->ifindex;

	if (parse_packet(skb, &packet) != PARSE_IPV4 || packet.is_fragment ||
	    (packet.protocol != IPPROTO_TCP && packet.protocol != IPPROTO_UDP))
		return TC_ACT_OK;
	source = endpoint_by_address(packet.source);
	if (!source || !(source->flags & WEIR_ENDPOINT_FLAG_LOCAL) ||
	    !outside_the_cluster(packet.destination))
		return TC_ACT_OK;
	uplink = bpf_map_lookup_elem(&uplinks, &ifindex);
	if (!uplink)
		return TC_ACT_OK;
	return masquerade_egress(skb, &packet, uplink, source->endpoint_id);
}

SEC("tc")
int to_pod(struct __sk_buff *skb)
{
	struct packet packet = {};
	enum parse_result parsed = parse_packet(skb, &packet);
	struct weir_endpoint *destination;
	struct service_nat no_nat = {};
	struct reverse_nat reverse = {};
	int verdict;

	if (parsed == PARSE_ARP) {
		metrics_count(WEIR_COUNTER_NON_IPV4);
		return TC_ACT_OK; /* the host resolving the pod */
	}
	if (parsed != PARSE_IPV4)
		return drop_unparsed(&packet, parsed, WEIR_DIRECTION_INGRESS);

	destination = endpoint_lookup(packet.destination, skb->ifindex);
	if (!destination) {
		metrics_count(WEIR_COUNTER_TO_POD_UNKNOWN_ENDPOINT);
		return drop_packet(&packet, 0, WEIR_DROP_UNKNOWN_ENDPOINT, WEIR_DIRECTION_INGRESS,
				   0, 0);
	}
	endpoint_account(destination, 0, packet.length);

	if (packet.is_later_fragment && fragment_borrow_ports(&packet) < 0)
		return drop_packet(&packet, destination->endpoint_id,
				   WEIR_DROP_FRAGMENT_WITHOUT_FIRST, WEIR_DIRECTION_INGRESS, 0, 0);

	/* From the host or another node: only the destination's ingress policy is ours. */
	verdict = enforce(skb, &packet, HOOK_TO_POD, 0, destination,
			  endpoint_is_pending(destination) ? PENDING_DESTINATION : 0, &no_nat,
			  &reverse);
	if (verdict != CONTINUE)
		return verdict;
	if (reverse.address) {
		if (nat_rewrite(skb, &packet, 0, reverse.address, reverse.port) < 0)
			return TC_ACT_SHOT;
		metrics_count(WEIR_COUNTER_SERVICE_REPLY_TRANSLATED);
	}
	if (packet.is_fragment && !packet.is_later_fragment)
		fragment_remember_first(&packet);
	metrics_count(WEIR_COUNTER_TO_POD_PASSED);
	metrics_add(WEIR_COUNTER_TO_POD_PASSED_BYTES, packet.length);
	return TC_ACT_OK;
}
