/* HTTP/1.x on established TCP connections: visibility (every request with its response status
 * and latency becomes an event) and, where the allowing rule carries HTTP matchers, enforcement
 * (every request is judged; a refused one is answered 403 by the datapath and the connection
 * closed). Requests are found by following the client's byte stream: a request starts at the
 * first payload or where the previous one's headers and Content-Length body end, so text in a
 * body is never mistaken for a request. What cannot be followed with certainty is reported
 * as unparsed when observing, and denied by name when enforcing. */
#ifndef WEIR_BPF_HTTP_H
#define WEIR_BPF_HTTP_H

#include <linux/pkt_cls.h>

#include "drop.h"
#include "events.h"
#include "http_answer.h"
#include "http_parse.h"
#include "http_policy.h"
#include "maps.h"
#include "metrics.h"

#define HTTP_CONTINUE (-1)

/* Which program sees the packet: where a synthesized answer can be sent from. */
enum hook {
	HOOK_FROM_POD = 0, /* veth ingress: the client is the pod behind skb->ifindex */
	HOOK_TO_POD,	   /* veth egress: the server is the pod; the client is reached by routing */
	HOOK_FROM_UPLINK,  /* NodePort: no answer can be written (the client's address is NATed) */
};

struct http_context {
	struct __sk_buff *skb;
	const struct packet *packet;
	struct weir_ct_entry *entry;
	const struct weir_ct_key *key; /* forward tuple: source is the client */
	enum hook hook;
	__u64 now;
};

static __always_inline int http_visible(const struct weir_ct_key *key)
{
	struct weir_datapath_config *config = datapath_config();
	__u32 port = key->destination_port;

	if (!config || config->http_visibility == WEIR_HTTP_VISIBILITY_ALL_PORTS)
		return 1;
	if (config->http_visibility == WEIR_HTTP_VISIBILITY_OFF)
		return 0;
	return bpf_map_lookup_elem(&http_ports, &port) != 0;
}

static __always_inline void http_event_emit(const struct http_context *context,
					    const struct weir_http_request *request, __u8 outcome,
					    __u8 reason, __u16 status, __u64 latency_ns)
{
	const struct weir_ct_entry *entry = context->entry;
	struct weir_http_event *event;

	if (!reason && !flow_events_on())
		return;
	event = event_reserve(sizeof(*event));
	if (!event)
		return;
	event->timestamp_ns = context->now;
	event->type = WEIR_EVENT_HTTP;
	event->reason = reason;
	event->outcome = outcome;
	event->protocol = IPPROTO_TCP;
	event->client = context->key->source;
	event->server = context->key->destination;
	event->client_port = context->key->source_port;
	event->server_port = context->key->destination_port;
	event->status = status;
	event->reserved = 0;
	if (entry->destination_endpoint_id) {
		event->endpoint_id = entry->destination_endpoint_id;
		event->direction = WEIR_DIRECTION_INGRESS;
	} else {
		event->endpoint_id = entry->source_endpoint_id;
		event->direction = WEIR_DIRECTION_EGRESS;
	}
	event->rule_id = entry->rule_id;
	event->latency_ns = latency_ns;
	if (request)
		__builtin_memcpy(&event->request, request, sizeof(*request));
	else
		__builtin_memset(&event->request, 0, sizeof(event->request));
	bpf_ringbuf_submit(event, event_wakeup_flags());
}

/* Copies up to limit (<= HTTP_SCAN_BYTES) bytes of the payload's start into scratch->data;
 * returns the bytes copied (0: none). */
static __always_inline __u32 http_load_payload(struct __sk_buff *skb, const struct packet *packet,
					       struct http_scratch *scratch, __u32 limit)
{
	__u32 length = packet->payload_length;

	if (length > limit)
		length = limit;
	if (length > HTTP_SCAN_BYTES)
		length = HTTP_SCAN_BYTES;
	if (length < 1 || packet->payload_offset + length > skb->len)
		return 0;
	if (bpf_skb_load_bytes(skb, packet->payload_offset, scratch->data, length) < 0)
		return 0;
	return length;
}

/* A turned-around packet must look like the server's replies after reverse translation. */
static __always_inline void http_answer_as_reply(const struct http_context *context,
						 struct segment_rewrite *rewrite)
{
	const struct weir_ct_entry *entry = context->entry;

	if (entry->flags & WEIR_CT_FLAG_REVNAT) {
		rewrite->answer_source = entry->nat_address;
		rewrite->answer_source_port = entry->nat_port;
	}
	if (entry->flags & WEIR_CT_FLAG_HAIRPIN)
		rewrite->answer_destination = context->key->destination;
}

/* Sends the synthesized packet now in skb back towards the client. */
static __always_inline int http_send_to_client(const struct http_context *context)
{
	struct __sk_buff *skb = context->skb;

	if (context->hook == HOOK_FROM_POD)
		return bpf_redirect_peer(skb->ifindex, 0);
	/* As if the server pod had sent it: up through its veth into the host stack, which
	 * routes it to the client; from_pod lets it through by its mark. */
	skb->mark = WEIR_MARK_SYNTHESIZED;
	return bpf_redirect(skb->ifindex, BPF_F_INGRESS);
}

/* A refused request: counted and reported by reason, answered 403 when the hook allows. */
static __always_inline int http_refuse(const struct http_context *context, __u8 reason,
				       const struct weir_http_request *request)
{
	const struct packet *packet = context->packet;
	struct weir_ct_entry *entry = context->entry;
	struct segment_rewrite answer = {
		.turn_around = 1,
		.flags = TCP_FLAG_ACK | TCP_FLAG_PSH | TCP_FLAG_FIN,
		.forbidden = 1,
		.sequence = packet->tcp_acknowledgment,
		.acknowledgment = packet->tcp_sequence + packet->payload_length,
	};

	drop_count(entry->destination_endpoint_id, reason, WEIR_DIRECTION_INGRESS, packet->length);
	metrics_count(WEIR_COUNTER_DROPPED);
	metrics_count(WEIR_COUNTER_HTTP_REFUSED);
	http_event_emit(context, request, WEIR_HTTP_REFUSED, reason, 0, 0);
	bpf_map_delete_elem(&http_requests, context->key);

	/* The server never saw the request: it still expects it at this sequence number. */
	entry->http_next_sequence = packet->tcp_sequence;
	entry->http_state = WEIR_HTTP_DENIED;
	http_answer_as_reply(context, &answer);
	if (context->hook == HOOK_FROM_UPLINK || tcp_segment_rewrite(context->skb, &answer) < 0)
		return TC_ACT_SHOT;
	return http_send_to_client(context);
}

/* A segment that must not reach the server, dropped by name without closing the connection:
 * its sender sends the bytes again, in a form that can be judged. */
static __always_inline int http_drop(const struct http_context *context, __u8 reason)
{
	return drop_packet(context->packet, context->entry->destination_endpoint_id, reason,
			   WEIR_DIRECTION_INGRESS, 0, context->entry->rule_id);
}

/* Why the first packet of a connection on a port with HTTP rules cannot pass, or 0. Its later
 * data is judged through the connection's entry. */
static __always_inline __u8 http_first_packet_refusal(const struct packet *packet)
{
	if (packet->is_fragment)
		return WEIR_DROP_HTTP_FRAGMENTED;
	if (packet->tcp_flags & TCP_FLAG_URG)
		return WEIR_DROP_HTTP_URGENT;
	/* TCP Fast Open: the client's kernel resends a plain SYN, and the data after it. */
	if ((packet->tcp_flags & TCP_FLAG_SYN) && packet->payload_length)
		return WEIR_DROP_HTTP_SYN_DATA;
	return 0;
}

/* The server's SYN-ACK acknowledges the client sequence number it took. A client that sent
 * several SYNs must not leave weir following another stream than the server's: before any
 * request the client's first byte follows this acknowledgment; after one, a SYN-ACK for another
 * start means the position is lost, and the connection's data is refused from then on. */
static __always_inline void http_follow_syn_ack(struct weir_ct_entry *entry,
						const struct packet *packet)
{
	if (!entry->http_header_length) {
		entry->http_next_sequence = packet->tcp_acknowledgment;
		entry->http_synced = 1;
	} else if (packet->tcp_acknowledgment != entry->http_request_sequence) {
		entry->http_synced = 0;
	}
}

/* A client FIN or RST on a followed L7 connection must sit where the client's stream is: in
 * the last judged request (its body may still be coming) or at the next expected byte. Any
 * other one is a forgery the server ignores, and must not make weir's entry short-lived. */
static __always_inline int http_close_out_of_sequence(const struct weir_ct_entry *entry,
						      const struct packet *packet)
{
	__u32 low = entry->http_header_length ? entry->http_request_sequence
					      : entry->http_next_sequence;

	if (!(entry->flags & WEIR_CT_FLAG_HTTP_RULES) || !entry->http_synced ||
	    entry->http_state >= WEIR_HTTP_DENIED)
		return 0;
	return (__s32)(packet->tcp_sequence - low) < 0 ||
	       (__s32)(packet->tcp_sequence - entry->http_next_sequence) > 0;
}

static long http_hash_word(__u32 step, void *loop_context)
{
	struct http_scratch *scratch = ((struct http_scan_context *)loop_context)->scratch;
	__u32 index = step * 8, length;
	__u64 word;

	if (!scratch)
		return 1;
	length = scratch->hash_length;
	if (index >= length || index >= HTTP_SCAN_BYTES)
		return 1;
	barrier_var(index);
	__builtin_memcpy(&word, &scratch->data[index & (HTTP_SCAN_MASK & ~7U)], 8);
	if (index + 8 > length)
		word &= (1ULL << (8 * (length - index))) - 1; /* zero past the end */
	siphash_word(&scratch->hash, word);
	return 0;
}

/* Keyed hash of the first length bytes of scratch->data. Its state lives in the scratch map:
 * the stack of the program that calls http_inspect has no room left for it. */
static __always_inline __u64 http_bytes_hash(struct http_scratch *scratch, __u32 length,
					     __u64 key)
{
	struct http_scan_context loop_context = { .scratch = scratch };

	scratch->hash_length = length;
	siphash_start(&scratch->hash, key, ~key);
	bpf_loop(HTTP_SCAN_BYTES / 8, http_hash_word, &loop_context, 0);
	return siphash_finish(&scratch->hash, length);
}

/* The hash key: random, chosen by the first packet that needs it, never seen outside the
 * kernel. A client cannot aim for bytes that hash like the judged ones. */
static __always_inline __u64 http_hash_key(void)
{
	__u32 zero = 0;
	__u64 *key = bpf_map_lookup_elem(&http_hash_keys, &zero);
	__u64 fresh;

	if (!key)
		return 0;
	if (*key)
		return *key;
	fresh = ((__u64)bpf_get_prandom_u32() << 32) | bpf_get_prandom_u32() | 1;
	__sync_val_compare_and_swap(key, 0, fresh);
	return *key;
}

/* The request just judged, at sequence: what a resend of its request line and headers must
 * match. */
static __always_inline void http_remember_judged_bytes(const struct http_context *context,
						       struct http_scratch *scratch,
						       __u32 sequence, __u32 header_length)
{
	struct weir_ct_entry *entry = context->entry;

	entry->http_request_sequence = sequence;
	entry->http_header_length = header_length;
	entry->http_header_hash = http_bytes_hash(scratch, header_length, http_hash_key());
}

/* A segment that starts before the next expected byte is body, or a resend. The server may
 * never have taken the judged copy of the last request (a bad checksum, out of its window, an
 * old timestamp, a full buffer): so a segment reaching that request's line or headers passes
 * only when it starts where they start and carries them byte for byte. */
static __always_inline int http_resend_check(const struct http_context *context,
					     struct http_scratch *scratch)
{
	const struct packet *packet = context->packet;
	struct weir_ct_entry *entry = context->entry;
	__u32 start = entry->http_request_sequence, header_length = entry->http_header_length;
	__u32 sequence = packet->tcp_sequence;

	if (!header_length || (__s32)(sequence + packet->payload_length - start) <= 0 ||
	    (__s32)(sequence - (start + header_length)) >= 0)
		return HTTP_CONTINUE; /* body, or bytes before the request */
	/* A real stack resends what it sent: anything else ends the connection (one guess at the
	 * hash per connection). */
	if (sequence != start || packet->payload_length < header_length ||
	    http_load_payload(context->skb, packet, scratch, header_length) != header_length ||
	    http_bytes_hash(scratch, header_length, http_hash_key()) != entry->http_header_hash)
		return http_refuse(context, WEIR_DROP_HTTP_RETRANSMISSION_DIFFERS, 0);
	return HTTP_CONTINUE;
}

/* Packets of a connection whose request was refused: the first one from the client becomes a
 * RST for the server; later ones that need an answer (FIN, data) get a bare ACK back; the
 * server's own packets go nowhere. */
static __always_inline int http_refused_connection(const struct http_context *context,
						   int is_reply)
{
	const struct packet *packet = context->packet;
	struct weir_ct_entry *entry = context->entry;
	struct segment_rewrite rewrite = {};

	if (is_reply) {
		drop_count(entry->destination_endpoint_id, WEIR_DROP_HTTP_DENIED,
			   WEIR_DIRECTION_INGRESS, packet->length);
		metrics_count(WEIR_COUNTER_DROPPED);
		return TC_ACT_SHOT;
	}
	if (entry->http_state == WEIR_HTTP_DENIED) {
		rewrite.flags = TCP_FLAG_RST;
		rewrite.strip_options = 1;
		rewrite.sequence = entry->http_next_sequence;
		entry->http_state = WEIR_HTTP_SERVER_RESET;
		if (tcp_segment_rewrite(context->skb, &rewrite) < 0)
			return TC_ACT_SHOT;
		metrics_count(WEIR_COUNTER_RESETS_SENT);
		return HTTP_CONTINUE;
	}
	if (context->hook == HOOK_FROM_UPLINK ||
	    (!(packet->tcp_flags & TCP_FLAG_FIN) && !packet->payload_length)) {
		drop_count(entry->destination_endpoint_id, WEIR_DROP_HTTP_DENIED,
			   WEIR_DIRECTION_INGRESS, packet->length);
		metrics_count(WEIR_COUNTER_DROPPED);
		return TC_ACT_SHOT;
	}
	rewrite.turn_around = 1;
	rewrite.flags = TCP_FLAG_ACK;
	rewrite.sequence = packet->tcp_acknowledgment;
	rewrite.acknowledgment = packet->tcp_sequence + packet->payload_length +
				 ((packet->tcp_flags & TCP_FLAG_FIN) ? 1 : 0);
	http_answer_as_reply(context, &rewrite);
	if (tcp_segment_rewrite(context->skb, &rewrite) < 0)
		return TC_ACT_SHOT;
	return http_send_to_client(context);
}

static __always_inline void http_remember_request(const struct http_context *context,
						  struct weir_http_request *request)
{
	request->rule_id = context->entry->rule_id;
	bpf_map_update_elem(&http_requests, context->key, request, BPF_ANY);
	context->entry->http_request_ns = context->now;
	context->entry->http_state = WEIR_HTTP_AWAITING_RESPONSE;
	metrics_count(WEIR_COUNTER_HTTP_REQUESTS);
}

static __always_inline void http_report_unparsed(const struct http_context *context)
{
	metrics_count(WEIR_COUNTER_HTTP_UNPARSED);
	http_event_emit(context, 0, WEIR_HTTP_UNPARSED, 0, 0, 0);
}

/* Client -> server payload on a connection whose rule has HTTP matchers. */
static __always_inline int http_enforce_request(const struct http_context *context,
						struct http_scratch *scratch)
{
	const struct packet *packet = context->packet;
	struct weir_ct_entry *entry = context->entry;
	struct http_request_parse parse;
	__u32 sequence = packet->tcp_sequence, length;

	__s32 ahead;

	/* Not seen from its SYN (evicted, expired, or made mid-stream): where requests start
	 * is unknown. The client gets a 403 and reconnects. */
	if (!entry->http_synced)
		return http_refuse(context, WEIR_DROP_HTTP_MIDSTREAM, 0);
	ahead = (__s32)(sequence - entry->http_next_sequence);
	if (ahead < 0) {
		/* Body (or a retransmission) of a request already judged, unless a new request
		 * starts inside this same segment. */
		if ((__s32)(sequence + packet->payload_length - entry->http_next_sequence) > 0)
			return http_refuse(context, WEIR_DROP_HTTP_PIPELINED, 0);
		return http_resend_check(context, scratch);
	}
	/* Only the byte the server expects next starts a request: what lies beyond a hole is
	 * dropped, and comes again once the hole is filled. */
	if (ahead > 0)
		return http_drop(context, WEIR_DROP_HTTP_OUT_OF_ORDER);
	if (entry->http_state == WEIR_HTTP_AWAITING_RESPONSE)
		return http_refuse(context, WEIR_DROP_HTTP_PIPELINED, 0);
	if (packet->is_fragment)
		return http_refuse(context, WEIR_DROP_HTTP_SPLIT_REQUEST, 0);
	length = http_load_payload(context->skb, packet, scratch, HTTP_SCAN_BYTES);
	parse = http_parse_request(scratch, length);
	switch (parse.result) {
	case HTTP_PARSE_NOT_REQUEST:
		return http_refuse(context, WEIR_DROP_HTTP_NOT_HTTP1, 0);
	case HTTP_PARSE_INCOMPLETE:
		return http_refuse(context, WEIR_DROP_HTTP_SPLIT_REQUEST, &scratch->request);
	case HTTP_PARSE_UNTRACKABLE:
		return http_refuse(context, WEIR_DROP_HTTP_UNTRACKABLE_BODY, &scratch->request);
	case HTTP_PARSE_BODY_TOO_LARGE:
		return http_refuse(context, WEIR_DROP_HTTP_BODY_TOO_LARGE, &scratch->request);
	default:
		break;
	}
	if (parse.header_length + parse.content_length < packet->payload_length)
		return http_refuse(context, WEIR_DROP_HTTP_PIPELINED, &scratch->request);
	if (parse.unsafe_path)
		return http_refuse(context, WEIR_DROP_HTTP_UNSAFE_PATH, &scratch->request);
	if (!http_request_allowed(entry->rule_id, &scratch->request))
		return http_refuse(context, WEIR_DROP_HTTP_DENIED, &scratch->request);
	http_remember_judged_bytes(context, scratch, sequence, parse.header_length);
	entry->http_next_sequence = sequence + parse.header_length + parse.content_length;
	http_remember_request(context, &scratch->request);
	return HTTP_CONTINUE;
}

/* Client -> server payload, visibility only: never changes the packet's fate. */
static __always_inline void http_observe_request(const struct http_context *context,
						 struct http_scratch *scratch)
{
	const struct packet *packet = context->packet;
	struct weir_ct_entry *entry = context->entry;
	struct http_request_parse parse;
	__u32 sequence = packet->tcp_sequence, length;
	int seen_before = entry->http_request_ns != 0;

	if (entry->http_state == WEIR_HTTP_AWAITING_RESPONSE)
		return; /* the rest of the request, or pipelined ones: counted with the first */
	if (entry->http_synced && (__s32)(sequence - entry->http_next_sequence) < 0)
		return;
	length = http_load_payload(context->skb, packet, scratch, HTTP_SCAN_BYTES);
	parse = http_parse_request(scratch, length);
	if (parse.result == HTTP_PARSE_NOT_REQUEST) {
		http_report_unparsed(context);
		/* Not HTTP, or no longer followable: stop looking at this connection. */
		if (!seen_before || !entry->http_synced)
			entry->flags |= WEIR_CT_FLAG_NOT_HTTP;
		entry->http_synced = 0;
		return;
	}
	entry->http_synced = parse.result == HTTP_PARSE_REQUEST &&
			     parse.header_length + parse.content_length >= packet->payload_length;
	entry->http_next_sequence = sequence + parse.header_length + parse.content_length;
	if (parse.result == HTTP_PARSE_REQUEST &&
	    parse.header_length + parse.content_length < packet->payload_length)
		http_report_unparsed(context); /* pipelined requests behind this one */
	http_remember_request(context, &scratch->request);
}

/* Server -> client payload: the status line answering the outstanding request. */
static __always_inline void http_observe_response(const struct http_context *context,
						  struct http_scratch *scratch)
{
	struct weir_ct_entry *entry = context->entry;
	struct weir_http_request *request;
	__u32 length;
	__u16 status;

	if (entry->http_state != WEIR_HTTP_AWAITING_RESPONSE)
		return;
	/* Under HTTP rules, only a server that acknowledged the judged request line and headers
	 * answered them: from then on it has them, and no resend can change them. */
	if ((entry->flags & WEIR_CT_FLAG_HTTP_RULES) && entry->http_header_length &&
	    (__s32)(context->packet->tcp_acknowledgment -
		    (entry->http_request_sequence + entry->http_header_length)) < 0)
		return;
	/* "HTTP/1.1 200": the status line's first 12 bytes are all a response needs. */
	length = http_load_payload(context->skb, context->packet, scratch, 12);
	status = http_parse_status(scratch, length);
	if (!status || (status < 200 && status != 101))
		return; /* body of something else, or an interim 1xx: keep waiting */
	request = bpf_map_lookup_elem(&http_requests, context->key);
	metrics_count(WEIR_COUNTER_HTTP_RESPONSES);
	http_event_emit(context, request, WEIR_HTTP_ANSWERED, 0, status,
			context->now - entry->http_request_ns);
	if (request)
		bpf_map_delete_elem(&http_requests, context->key);
	entry->http_state = WEIR_HTTP_IDLE;
	if (status == 101 && !(entry->flags & WEIR_CT_FLAG_HTTP_RULES))
		entry->flags |= WEIR_CT_FLAG_NOT_HTTP; /* upgraded: no longer HTTP/1.x */
}

/* Called for every packet of an established TCP connection. Returns HTTP_CONTINUE or the
 * packet's verdict. A global function: the verifier checks it once on its own instead of
 * once per path through the program that calls it. */
#define HTTP_INSPECT_REPLY 0x10 /* or'ed into the hook: the packet is a reply */

__attribute__((noinline)) int http_inspect(struct __sk_buff *skb, const struct packet *packet,
					   struct weir_ct_entry *entry,
					   const struct weir_ct_key *key, int hook_and_direction)
{
	int is_reply = hook_and_direction & HTTP_INSPECT_REPLY;
	struct http_context context = {
		.skb = skb, .packet = packet, .entry = entry, .key = key,
		.hook = hook_and_direction & 0xf, .now = bpf_ktime_get_ns(),
	};
	struct http_scratch *scratch;
	__u32 zero = 0;
	int enforcing;

	if (!skb || !packet || !entry || !key)
		return HTTP_CONTINUE;
	enforcing = entry->flags & WEIR_CT_FLAG_HTTP_RULES;
	if (packet->protocol != IPPROTO_TCP)
		return HTTP_CONTINUE;
	if (skb->mark == WEIR_MARK_SYNTHESIZED) {
		skb->mark = 0;
		return HTTP_CONTINUE;
	}
	if (enforcing && !is_reply) {
		/* Fragments: the payload of a later one is never seen here. URG: servers without
		 * SO_OOBINLINE take the urgent byte (which may lie in a later segment) out of
		 * the stream, so they and weir would disagree on where requests start. */
		if (packet->is_fragment)
			return http_drop(&context, WEIR_DROP_HTTP_FRAGMENTED);
		if (packet->tcp_flags & TCP_FLAG_URG)
			return http_drop(&context, WEIR_DROP_HTTP_URGENT);
	}
	if (packet->is_later_fragment)
		return HTTP_CONTINUE;
	if (entry->http_state >= WEIR_HTTP_DENIED)
		return http_refused_connection(&context, is_reply);
	if (!packet->payload_length)
		return HTTP_CONTINUE;
	if (!enforcing && ((entry->flags & WEIR_CT_FLAG_NOT_HTTP) || !http_visible(key)))
		return HTTP_CONTINUE;
	scratch = bpf_map_lookup_elem(&http_scratch, &zero);
	if (!scratch)
		return enforcing ? TC_ACT_SHOT : HTTP_CONTINUE;
	if (is_reply) {
		http_observe_response(&context, scratch);
		return HTTP_CONTINUE;
	}
	if (enforcing)
		return http_enforce_request(&context, scratch);
	http_observe_request(&context, scratch);
	return HTTP_CONTINUE;
}

#endif
