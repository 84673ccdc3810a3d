/* L7 enforcement against a hostile client: root in its own network namespace, it sends any
 * segment it likes. Each test is one way past a /public/ prefix rule that once worked: the urgent
 * byte, a request placed in a hole or resent with other bytes, a tiny first fragment, a
 * connection the datapath did not see from its SYN, data on the SYN, path forms servers
 * normalise, and a Content-Length that wraps. Whatever the datapath cannot judge with
 * certainty must not reach the server. */
#include <arpa/inet.h>
#include <linux/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>

#include "fixture.h"
#include "http_helpers.h"
#include "suites.h"

#define TCP_URG 0x20
#define PUBLIC "GET /public/a HTTP/1.1\r\nHost: b\r\n\r\n"
#define ADMIN "GET /admin/xx HTTP/1.1\r\nHost: b\r\n\r\n" /* as long as PUBLIC */

static int public_only(void)
{
	if (l7_policy(ENDPOINT_A, IDENTITY_REMOTE) < 0 || http_rule(0, 0, "/public/*", NULL) < 0)
		return -1;
	return 0;
}

/* Servers without SO_OOBINLINE take the urgent byte out of the stream, weir would not: the two
 * would disagree on where the next request starts. The urgent pointer may point into a later
 * segment, so even a bare ACK carrying URG must not reach the server. */
static void urgent_data_never_reaches_the_server(void)
{
	struct packet_spec urgent =
		client_segment(PUBLIC, CLIENT_SEQUENCE, TCP_ACK | TCP_PSH | TCP_URG);
	struct packet_spec urgent_ack = client_segment(NULL, CLIENT_SEQUENCE, TCP_ACK | TCP_URG);

	SETUP();
	ASSERT_EQ(public_only(), 0, "GET /public/* only");
	ASSERT_EQ(handshake(), 0, "handshake");
	urgent.urgent_pointer = 20;
	ASSERT_EQ(run_spec(TO_POD, &urgent).verdict, TC_ACT_SHOT, "URG with data dropped");
	urgent_ack.urgent_pointer = 30;
	ASSERT_EQ(run_spec(TO_POD, &urgent_ack).verdict, TC_ACT_SHOT, "URG on a bare ACK dropped");
	ASSERT_EQ(drops_of(ENDPOINT_A, WEIR_DROP_HTTP_URGENT, INGRESS), 2, "by name");
	ASSERT_EQ(send_request(PUBLIC, CLIENT_SEQUENCE), TC_ACT_OK, "the same request without URG");
}

/* A request placed beyond the next expected byte (a hole) was judged where it lay; the hole
 * filled later with GET /admin passed as "body or retransmission". */
static void a_request_in_a_hole_is_not_delivered(void)
{
	const char *decoy = "POST /public/a HTTP/1.1\r\nContent-Length: 0\r\n\r\n";

	SETUP();
	ASSERT_EQ(public_only(), 0, "GET /public/* only");
	ASSERT_EQ(handshake(), 0, "handshake");
	ASSERT_EQ(send_request(decoy, CLIENT_SEQUENCE + strlen(ADMIN)), TC_ACT_SHOT,
		  "a request beyond the next expected byte is dropped");
	ASSERT_EQ(drops_of(ENDPOINT_A, WEIR_DROP_HTTP_OUT_OF_ORDER, INGRESS), 1, "by name");
	ASSERT_EQ(send_request(ADMIN, CLIENT_SEQUENCE), TC_ACT_REDIRECT,
		  "the hole filled with GET /admin is judged, and refused");
	ASSERT_EQ(drops_of(ENDPOINT_A, WEIR_DROP_HTTP_DENIED, INGRESS), 1, "denied");
}

/* A judged request the server discarded (bad checksum, out of window, PAWS) was followed by
 * other bytes at the same sequence number, which passed as a retransmission. */
static void a_retransmission_must_carry_the_judged_bytes(void)
{
	const char *first = "GET /public/1 HTTP/1.1\r\n\r\n";
	const char *second = "GET /public/2 HTTP/1.1\r\n\r\n";
	const char *second_changed = "GET /admin/xx HTTP/1.1\r\n\r\n";
	char straddling[64];
	uint32_t second_at = CLIENT_SEQUENCE + strlen(first);
	struct packet_spec response = server_segment("HTTP/1.1 200 OK\r\n\r\n", SERVER_SEQUENCE,
						     TCP_ACK | TCP_PSH);

	SETUP();
	ASSERT_EQ(public_only(), 0, "GET /public/* only");
	ASSERT_EQ(handshake(), 0, "handshake");
	ASSERT_EQ(send_request(PUBLIC, CLIENT_SEQUENCE), TC_ACT_OK, "GET /public/a judged");
	ASSERT_EQ(send_request(PUBLIC, CLIENT_SEQUENCE), TC_ACT_OK, "resent as it was: passes");
	ASSERT_EQ(send_request(ADMIN, CLIENT_SEQUENCE), TC_ACT_REDIRECT,
		  "other bytes at the judged request's place: refused, the connection closed");
	ASSERT_EQ(drops_of(ENDPOINT_A, WEIR_DROP_HTTP_RETRANSMISSION_DIFFERS, INGRESS), 1,
		  "by name");

	SETUP();
	ASSERT_EQ(public_only(), 0, "GET /public/* only");
	ASSERT_EQ(handshake(), 0, "handshake");
	ASSERT_EQ(send_request(PUBLIC, CLIENT_SEQUENCE), TC_ACT_OK, "GET /public/a judged");
	ASSERT_EQ(send_request("GET /admin", CLIENT_SEQUENCE), TC_ACT_REDIRECT,
		  "a shorter piece of other bytes too");

	/* Keep-alive: the second request's bytes, reached by a segment that starts earlier. */
	SETUP();
	ASSERT_EQ(public_only(), 0, "GET /public/* only");
	ASSERT_EQ(handshake(), 0, "handshake");
	ASSERT_EQ(send_request(first, CLIENT_SEQUENCE), TC_ACT_OK, "first");
	response.acknowledgment = second_at;
	ASSERT_EQ(run_spec(FROM_POD, &response).verdict, TC_ACT_OK, "its response");
	ASSERT_EQ(send_request(second, second_at), TC_ACT_OK, "second judged");
	memcpy(straddling, first + strlen(first) - 4, 4);
	memcpy(straddling + 4, second_changed, strlen(second_changed) + 1);
	ASSERT_EQ(send_request(second, second_at), TC_ACT_OK, "the second resent as it was");
	ASSERT_EQ(send_request(straddling, second_at - 4), TC_ACT_REDIRECT,
		  "a segment from before the second request into it, with other bytes");
	ASSERT_EQ(drops_of(ENDPOINT_A, WEIR_DROP_HTTP_RETRANSMISSION_DIFFERS, INGRESS), 1,
		  "by name");
}

/* A server that speaks without having the judged request (a banner, a 408) must not end it:
 * the next request would be judged while the first one's bytes could still be replaced. */
static void an_answer_that_did_not_see_the_request_does_not_end_it(void)
{
	const char *first = "GET /public/1 HTTP/1.1\r\n\r\n";
	struct packet_spec unsolicited = server_segment("HTTP/1.1 408 Request Timeout\r\n\r\n",
						     SERVER_SEQUENCE, TCP_ACK | TCP_PSH);
	struct packet_spec answer = server_segment("HTTP/1.1 200 OK\r\n\r\n", SERVER_SEQUENCE,
						   TCP_ACK | TCP_PSH);

	SETUP();
	ASSERT_EQ(public_only(), 0, "GET /public/* only");
	ASSERT_EQ(handshake(), 0, "handshake");
	ASSERT_EQ(send_request(first, CLIENT_SEQUENCE), TC_ACT_OK, "first judged");
	ASSERT_EQ(run_spec(FROM_POD, &unsolicited).verdict, TC_ACT_OK,
		  "server data acknowledging none of it");
	ASSERT_TRUE(send_request(PUBLIC, CLIENT_SEQUENCE + strlen(first)) != TC_ACT_OK,
		    "the next request is still before the first one's answer");
	ASSERT_EQ(drops_of(ENDPOINT_A, WEIR_DROP_HTTP_PIPELINED, INGRESS), 1, "pipelined");

	SETUP();
	ASSERT_EQ(public_only(), 0, "GET /public/* only");
	ASSERT_EQ(handshake(), 0, "handshake");
	ASSERT_EQ(send_request(first, CLIENT_SEQUENCE), TC_ACT_OK, "first judged");
	answer.acknowledgment = CLIENT_SEQUENCE + strlen(first);
	ASSERT_EQ(run_spec(FROM_POD, &answer).verdict, TC_ACT_OK, "its answer, acknowledging it");
	ASSERT_EQ(send_request(PUBLIC, CLIENT_SEQUENCE + strlen(first)), TC_ACT_OK,
		  "the next request is judged and allowed");
}

/* A first fragment holding the TCP header and no payload, then a later fragment holding the
 * request: the payload was never looked at. */
static void fragments_on_an_l7_port_are_refused(void)
{
	struct packet_spec first = client_segment(NULL, CLIENT_SEQUENCE, TCP_ACK | TCP_PSH);
	struct packet_spec rest = client_segment(ADMIN, 0, 0);

	SETUP();
	ASSERT_EQ(public_only(), 0, "GET /public/* only");
	ASSERT_EQ(handshake(), 0, "handshake");
	first.tcp_timestamps = true; /* 32 bytes of TCP header: the next fragment is at 4 * 8 */
	first.more_fragments = true;
	first.ip_id = 4242;
	rest.ip_id = 4242;
	rest.fragment_offset = 4;
	rest.later_fragment_without_l4 = true;
	ASSERT_EQ(run_spec(TO_POD, &first).verdict, TC_ACT_SHOT, "tiny first fragment dropped");
	ASSERT_EQ(drops_of(ENDPOINT_A, WEIR_DROP_HTTP_FRAGMENTED, INGRESS), 1, "by name");
	ASSERT_EQ(run_spec(TO_POD, &rest).verdict, TC_ACT_SHOT, "the request in the rest dropped");

	/* A first fragment with the whole request, then more of it: neither passes. */
	SETUP();
	ASSERT_EQ(public_only(), 0, "GET /public/* only");
	ASSERT_EQ(handshake(), 0, "handshake");
	first = client_segment(PUBLIC, CLIENT_SEQUENCE, TCP_ACK | TCP_PSH);
	first.more_fragments = true;
	first.ip_id = 4343;
	ASSERT_TRUE(run_spec(TO_POD, &first).verdict != TC_ACT_OK, "first fragment not delivered");
}

/* Data on a connection the datapath did not see from its SYN: after the entry was evicted
 * (LRU under a flood) or expired (an unchecked FIN or RST made it short-lived), the next
 * segment made a new entry and passed at L4 only. */
static void a_connection_not_seen_from_its_syn_gets_no_request_through(void)
{
	struct weir_ct_key key = { .source = htonl(REMOTE_POD), .destination = htonl(POD_A),
				   .source_port = htons(CLIENT_PORT),
				   .destination_port = htons(HTTP_PORT), .protocol = IPPROTO_TCP };
	struct packet_spec forged_reset = client_segment(NULL, 123456, TCP_RST);
	struct packet_spec reset = client_segment(NULL, CLIENT_SEQUENCE, TCP_RST);
	struct weir_ct_entry entry;

	SETUP();
	ASSERT_EQ(public_only(), 0, "GET /public/* only");
	ASSERT_EQ(send_request(ADMIN, CLIENT_SEQUENCE), TC_ACT_SHOT,
		  "data with no connection seen is dropped");
	ASSERT_EQ(send_request(ADMIN, CLIENT_SEQUENCE), TC_ACT_REDIRECT,
		  "and its resend refused with a 403, which closes the connection");
	ASSERT_EQ(drops_of(ENDPOINT_A, WEIR_DROP_HTTP_MIDSTREAM, INGRESS), 2, "by name");

	SETUP();
	ASSERT_EQ(public_only(), 0, "GET /public/* only");
	ASSERT_EQ(handshake(), 0, "handshake");
	ASSERT_EQ(bpf_map_delete_elem(datapath.ct_fd, &key), 0, "evicted");
	ASSERT_TRUE(send_request(PUBLIC, CLIENT_SEQUENCE) != TC_ACT_OK,
		    "after eviction not even an allowed request passes: its place is unknown");
	ASSERT_EQ(drops_of(ENDPOINT_A, WEIR_DROP_HTTP_MIDSTREAM, INGRESS), 1, "by name");

	SETUP();
	ASSERT_EQ(public_only(), 0, "GET /public/* only");
	ASSERT_EQ(handshake(), 0, "handshake");
	ASSERT_EQ(run_spec(TO_POD, &forged_reset).verdict, TC_ACT_SHOT,
		  "a RST far from the client's stream is dropped");
	ASSERT_EQ(drops_of(ENDPOINT_A, WEIR_DROP_HTTP_OUT_OF_ORDER, INGRESS), 1, "by name");
	ASSERT_EQ(ct_entry_of(REMOTE_POD, POD_A, CLIENT_PORT, HTTP_PORT, IPPROTO_TCP, &entry), 0,
		  "entry");
	ASSERT_EQ(entry.state, WEIR_CT_ESTABLISHED, "and does not make the entry short-lived");
	ASSERT_EQ(run_spec(TO_POD, &reset).verdict, TC_ACT_OK, "a RST in sequence passes");
	ASSERT_EQ(ct_entry_of(REMOTE_POD, POD_A, CLIENT_PORT, HTTP_PORT, IPPROTO_TCP, &entry), 0,
		  "entry");
	ASSERT_EQ(entry.state, WEIR_CT_CLOSING, "closing");
	entry.expires_ns = 1; /* its short closing timeout ran out */
	ASSERT_EQ(bpf_map_update_elem(datapath.ct_fd, &key, &entry, BPF_EXIST), 0, "expired");
	ASSERT_TRUE(send_request(ADMIN, CLIENT_SEQUENCE) != TC_ACT_OK,
		    "GET /admin after the entry expired");
	ASSERT_EQ(drops_of(ENDPOINT_A, WEIR_DROP_HTTP_MIDSTREAM, INGRESS), 1, "by name");
}

/* A client that sends a second SYN with another sequence number: once the server's SYN-ACK
 * acknowledges it, the server reads from there, while weir still expected the body of a request
 * judged at the first one. */
static void a_second_syn_does_not_move_the_stream_under_weir(void)
{
	const char *upload = "POST /public/a HTTP/1.1\r\nContent-Length: 2000\r\n\r\n";
	uint32_t other_start = CLIENT_SEQUENCE + 1000;
	struct packet_spec second_syn = client_segment(NULL, other_start - 1, TCP_SYN);
	struct packet_spec its_syn_ack = server_segment(NULL, SERVER_SEQUENCE + 5000 - 1,
							TCP_SYN | TCP_ACK);

	SETUP();
	ASSERT_EQ(public_only(), 0, "GET /public/* only");
	ASSERT_EQ(handshake(), 0, "handshake");
	ASSERT_EQ(send_request(upload, CLIENT_SEQUENCE), TC_ACT_OK, "an upload judged");
	run_spec(TO_POD, &second_syn);
	its_syn_ack.acknowledgment = other_start;
	ASSERT_EQ(run_spec(FROM_POD, &its_syn_ack).verdict, TC_ACT_OK, "the server took it");
	ASSERT_TRUE(send_request(ADMIN, other_start) != TC_ACT_OK,
		    "GET /admin where the server now reads is not taken for the upload's body");
	ASSERT_EQ(drops_of(ENDPOINT_A, WEIR_DROP_HTTP_MIDSTREAM, INGRESS), 1, "by name");

	/* Before any request, the SYN-ACK sets where the first one starts. */
	SETUP();
	ASSERT_EQ(public_only(), 0, "GET /public/* only");
	ASSERT_EQ(handshake(), 0, "handshake");
	run_spec(TO_POD, &second_syn);
	ASSERT_EQ(run_spec(FROM_POD, &its_syn_ack).verdict, TC_ACT_OK, "the server took it");
	ASSERT_EQ(send_request(ADMIN, other_start), TC_ACT_REDIRECT, "judged there, and refused");
	ASSERT_EQ(drops_of(ENDPOINT_A, WEIR_DROP_HTTP_DENIED, INGRESS), 1, "denied");
}

/* TCP Fast Open: the request rides on the SYN, which made the entry and passed at L4. Dropping
 * it is safe: the client's kernel resends a plain SYN and the data after the handshake. */
static void data_on_the_syn_is_not_delivered(void)
{
	struct packet_spec syn = client_segment(ADMIN, CLIENT_SEQUENCE - 1, TCP_SYN);

	SETUP();
	ASSERT_EQ(public_only(), 0, "GET /public/* only");
	ASSERT_EQ(run_spec(TO_POD, &syn).verdict, TC_ACT_SHOT, "SYN with data dropped");
	ASSERT_EQ(drops_of(ENDPOINT_A, WEIR_DROP_HTTP_SYN_DATA, INGRESS), 1, "by name");
	ASSERT_EQ(handshake(), 0, "a plain SYN still connects");
	ASSERT_EQ(send_request(ADMIN, CLIENT_SEQUENCE), TC_ACT_REDIRECT, "and the request is judged");
}

/* Forms that Tomcat, Jetty, nginx or a framework resolve to another path than the text. */
static void paths_a_server_would_resolve_elsewhere_are_refused(void)
{
	static const char *const unsafe[] = {
		"GET /public/..;/admin HTTP/1.1\r\n\r\n",
		"GET /public/;x/../admin HTTP/1.1\r\n\r\n",
		"GET /public/a;jsessionid=1 HTTP/1.1\r\n\r\n",
		"GET /public/%252e%252e/admin HTTP/1.1\r\n\r\n",
		"GET /public/%2E%2e/admin HTTP/1.1\r\n\r\n",
		"GET /public/..%2fadmin HTTP/1.1\r\n\r\n",
		"GET /public/%5c../admin HTTP/1.1\r\n\r\n",
		"GET /public/..\\admin HTTP/1.1\r\n\r\n",
		"GET /public//admin HTTP/1.1\r\n\r\n",
		"GET /public/./a HTTP/1.1\r\n\r\n",
		"GET /public/a#/../../admin HTTP/1.1\r\n\r\n",
		"GET /public/%3b/a HTTP/1.1\r\n\r\n",
		"GET /public/%zz HTTP/1.1\r\n\r\n",
		"GET /public/%2 HTTP/1.1\r\n\r\n",
		"GET /public/%00 HTTP/1.1\r\n\r\n",
		"GET /public/%c0%ae%c0%ae/x HTTP/1.1\r\n\r\n",
	};


	for (size_t i = 0; i < sizeof(unsafe) / sizeof(unsafe[0]); i++) {
		int reason = refusal_reason_of(unsafe[i]);

		if (reason != WEIR_DROP_HTTP_UNSAFE_PATH)
			fprintf(stderr, "    %.*s: reason %d\n", (int)strcspn(unsafe[i], "\r"),
				unsafe[i], reason);
		ASSERT_EQ(reason, WEIR_DROP_HTTP_UNSAFE_PATH, "refused as unsafe");
	}
	ASSERT_EQ(refusal_reason_of("GET /public/a%20b/c.txt?x=/../;%2e HTTP/1.1\r\n\r\n"), 0,
		  "an encoded space, a dot in a name, anything in the query: judged and allowed");
	ASSERT_EQ(refusal_reason_of("GET /public/caf%C3%A9 HTTP/1.1\r\n\r\n"), 0,
		  "UTF-8 in the path");
}

/* "Content-Length: 4294967297" wrapped to 1 in 32 bits: weir and the server disagreed on where
 * the body ends. */
static void a_content_length_that_wraps_is_refused(void)
{
	ASSERT_EQ(refusal_reason_of("POST /public/a HTTP/1.1\r\nContent-Length: 4294967297\r\n\r\nX"),
		  WEIR_DROP_HTTP_BODY_TOO_LARGE, "wraps to 1 in 32 bits");
	ASSERT_EQ(refusal_reason_of("POST /public/a HTTP/1.1\r\nContent-Length: 2000000000\r\n\r\n"),
		  WEIR_DROP_HTTP_BODY_TOO_LARGE, "above the largest body followed");
	ASSERT_EQ(refusal_reason_of("POST /public/a HTTP/1.1\r\nContent-Length: 1073741824\r\n\r\nX"),
		  0, "the largest body followed");
}

/* "Host:" with nothing after it: the host copied out was the start of the request. */
static void an_empty_host_is_empty(void)
{
	struct weir_http_event event;

	SETUP();
	ASSERT_EQ(handshake(), 0, "handshake");
	ASSERT_EQ(send_request("GET /a HTTP/1.1\r\nHost:  \r\nAccept: */*\r\n\r\n", CLIENT_SEQUENCE),
		  TC_ACT_OK, "request observed");
	ASSERT_EQ(send_response("HTTP/1.1 400 Bad Request\r\n\r\n", SERVER_SEQUENCE), TC_ACT_OK,
		  "response");
	ASSERT_EQ(http_event_find(0, &event), 0, "an event");
	ASSERT_EQ(event.request.host_length, 0, "no host");
	ASSERT_STR_EQ(event.request.host, "", "empty");
	ASSERT_STR_EQ(event.request.path, "/a", "the path is still read");
}

/* ---- differential: random client segments against a model of the server ---------------- */

/* The server as the model sees it: what its TCP accepted in order, and the requests its HTTP
 * parser read from that. Bytes are kept where they first arrive (a later copy of a byte never
 * replaces it: for request line and headers weir makes every copy identical, and body bytes
 * are never parsed). A bad checksum, URG or anything weir did not pass never arrives. */
#define MODEL_BYTES 2048

struct model_server {
	uint8_t bytes[MODEL_BYTES];
	uint8_t have[MODEL_BYTES];
	uint32_t in_order; /* bytes received in order from the stream's start */
	uint32_t parsed;   /* where the next request starts */
	int requests;
	char forbidden[96]; /* the first request no rule allows, if one got through */
};

static void model_receive(struct model_server *server, uint32_t offset, const char *payload,
			  size_t length)
{
	for (size_t i = 0; i < length; i++)
		if (offset + i < MODEL_BYTES && !server->have[offset + i]) {
			server->have[offset + i] = 1;
			server->bytes[offset + i] = (uint8_t)payload[i];
		}
	while (server->in_order < MODEL_BYTES && server->have[server->in_order])
		server->in_order++;
}

/* Reads the complete requests now in order; 1 when one was read (the server answers it). */
static int model_read_request(struct model_server *server)
{
	const char *start = (const char *)server->bytes + server->parsed;
	size_t available = server->in_order - server->parsed, header, body = 0;
	const char *end = memmem(start, available, "\r\n\r\n", 4), *length, *path;

	if (!end)
		return 0;
	header = (size_t)(end - start) + 4;
	length = memmem(start, header, "Content-Length: ", 16);
	if (length)
		body = strtoul(length + 16, NULL, 10);
	if (header + body > available)
		return 0;
	path = memchr(start, ' ', header);
	if (path && strncmp(path + 1, "/public/", 8) != 0 && !server->forbidden[0])
		snprintf(server->forbidden, sizeof(server->forbidden), "%.*s",
			 (int)strcspn(start, "\r"), start);
	server->parsed += (uint32_t)(header + body);
	server->requests++;
	return 1;
}

static const char *const model_texts[] = {
	"GET /public/a HTTP/1.1\r\nHost: b\r\n\r\n",
	"GET /admin/xx HTTP/1.1\r\nHost: b\r\n\r\n", /* as long as the first */
	"POST /public/b HTTP/1.1\r\nContent-Length: 37\r\n\r\n", /* its body: the next one */
	"GET /admin/x HTTP/1.1\r\nHost: b\r\n\r\n..",
	"POST /public/c HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
	"GET /admin/xx",
};

/* One connection: random segments (text, place, URG, bad checksum) until weir refuses one.
 * Returns 0, or -1 with server->forbidden set when GET /admin reached the model server. */
static int model_one_connection(unsigned *seed, uint16_t port, struct model_server *server)
{
	struct packet_spec syn = client_segment(NULL, CLIENT_SEQUENCE - 1, TCP_SYN);
	struct packet_spec syn_ack = server_segment(NULL, SERVER_SEQUENCE - 1, TCP_SYN | TCP_ACK);
	uint32_t server_sent = 0, intended = 0;

	syn.source_port = port;
	syn_ack.destination_port = port;
	if (run_spec(TO_POD, &syn).verdict != TC_ACT_OK ||
	    run_spec(FROM_POD, &syn_ack).verdict != TC_ACT_OK)
		return -2;
	for (int step = 0; step < 12; step++) {
		const char *text = model_texts[rand_r(seed) % 6];
		size_t length = strlen(text);
		int place = rand_r(seed) % 4;
		uint32_t offset = place == 0   ? server->in_order
				  : place == 1 ? intended
				  : place == 2 ? server->parsed
					       : (uint32_t)(rand_r(seed) % 120);
		struct packet_spec segment = client_segment(text, CLIENT_SEQUENCE + offset,
							    TCP_ACK | TCP_PSH);
		int urgent = rand_r(seed) % 10 == 0, bad_checksum = rand_r(seed) % 8 == 0;
		uint8_t frame[1024];
		size_t frame_length;
		struct run_result result;

		segment.source_port = port;
		segment.acknowledgment = SERVER_SEQUENCE + server_sent;
		if (urgent) {
			segment.tcp_flags |= TCP_URG;
			segment.urgent_pointer = (uint16_t)(1 + rand_r(seed) % length);
		}
		frame_length = packet_build(frame, sizeof(frame), &segment);
		if (bad_checksum)
			frame[14 + 20 + 16] ^= 0x5a;
		result = run_frame(TO_POD, frame, frame_length);
		if (result.verdict == TC_ACT_OK) {
			if (urgent) {
				snprintf(server->forbidden, sizeof(server->forbidden),
					 "a URG segment passed");
				return -1;
			}
			if (!bad_checksum)
				model_receive(server, offset, text, length);
			if (offset + length > intended)
				intended = offset + (uint32_t)length;
		} else if (result.verdict == TC_ACT_REDIRECT) {
			return 0; /* refused with a 403: the connection ends */
		}
		while (model_read_request(server)) {
			struct packet_spec answer = server_segment("HTTP/1.1 200 OK\r\n\r\n",
								   SERVER_SEQUENCE + server_sent,
								   TCP_ACK | TCP_PSH);

			answer.destination_port = port;
			answer.acknowledgment = CLIENT_SEQUENCE + server->in_order;
			run_spec(FROM_POD, &answer);
			server_sent += (uint32_t)strlen("HTTP/1.1 200 OK\r\n\r\n");
		}
		if (server->forbidden[0])
			return -1;
	}
	return 0;
}

/* Random sequences of segments (requests and bodies at the next byte, before it, beyond it,
 * resent with other bytes, with URG or a bad checksum) from many connections: the model server
 * must never read a request outside /public/. */
static void random_segments_never_deliver_a_forbidden_request(void)
{
	/* WEIR_DIFFERENTIAL_SEED and _ROUNDS run other and longer sequences. */
	const char *seed_text = getenv("WEIR_DIFFERENTIAL_SEED");
	const char *rounds_text = getenv("WEIR_DIFFERENTIAL_ROUNDS");
	unsigned seed = seed_text ? (unsigned)strtoul(seed_text, NULL, 10) : 1515;
	int rounds = rounds_text ? atoi(rounds_text) : 1500;
	int connections = 0, requests = 0;

	SETUP();
	ASSERT_EQ(public_only(), 0, "GET /public/* only");
	for (int round = 0; round < rounds; round++) {
		struct model_server server;
		int outcome;

		memset(&server, 0, sizeof(server));
		outcome = model_one_connection(&seed, (uint16_t)(20000 + round % 40000), &server);
		ASSERT_TRUE(outcome != -2, "handshake");
		if (outcome < 0)
			fprintf(stderr, "    round %d: %s\n", round, server.forbidden);
		ASSERT_EQ(outcome, 0, "no forbidden request reaches the server");
		connections++;
		requests += server.requests;
	}
	fprintf(stderr, "    differential: %d connections, %d requests read by the model server\n",
		connections, requests);
	ASSERT_TRUE(requests > 100, "the sequences did get requests through");
}

const struct test_case http_hostile_tests[] = {
	{ "urgent_data_never_reaches_the_server", urgent_data_never_reaches_the_server },
	{ "a_request_in_a_hole_is_not_delivered", a_request_in_a_hole_is_not_delivered },
	{ "a_retransmission_must_carry_the_judged_bytes",
	  a_retransmission_must_carry_the_judged_bytes },
	{ "an_answer_that_did_not_see_the_request_does_not_end_it",
	  an_answer_that_did_not_see_the_request_does_not_end_it },
	{ "fragments_on_an_l7_port_are_refused", fragments_on_an_l7_port_are_refused },
	{ "a_connection_not_seen_from_its_syn_gets_no_request_through",
	  a_connection_not_seen_from_its_syn_gets_no_request_through },
	{ "a_second_syn_does_not_move_the_stream_under_weir",
	  a_second_syn_does_not_move_the_stream_under_weir },
	{ "data_on_the_syn_is_not_delivered", data_on_the_syn_is_not_delivered },
	{ "paths_a_server_would_resolve_elsewhere_are_refused",
	  paths_a_server_would_resolve_elsewhere_are_refused },
	{ "a_content_length_that_wraps_is_refused", a_content_length_that_wraps_is_refused },
	{ "an_empty_host_is_empty", an_empty_host_is_empty },
	{ "random_segments_never_deliver_a_forbidden_request",
	  random_segments_never_deliver_a_forbidden_request },
};
const size_t http_hostile_tests_count = sizeof(http_hostile_tests) / sizeof(http_hostile_tests[0]);
