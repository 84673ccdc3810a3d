/* HTTP in the datapath: requests and responses become events with their latency, keep-alive
 * requests count one by one, bodies are never taken for requests, non-HTTP is reported
 * unparsed; with L7 rules every request is judged, refusals are answered 403 and the
 * connection closed, and whatever cannot be judged safely is denied by name. Also the
 * connection summaries (packets and bytes both ways) and the event switches. */
#include <arpa/inet.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>

#include "fixture.h"
#include "http_helpers.h"
#include "suites.h"

struct packet_spec client_segment(const char *payload, uint32_t sequence, uint8_t flags)
{
	struct packet_spec spec = tcp_to_a(REMOTE_POD, HTTP_PORT, flags);

	spec.sequence = sequence;
	spec.acknowledgment = SERVER_SEQUENCE;
	spec.payload = payload;
	spec.payload_length = payload ? strlen(payload) : 0;
	return spec;
}

struct packet_spec server_segment(const char *payload, uint32_t sequence, uint8_t flags)
{
	struct packet_spec spec = tcp_from_a(REMOTE_POD, CLIENT_PORT, flags);

	spec.source_port = HTTP_PORT;
	spec.sequence = sequence;
	spec.acknowledgment = CLIENT_SEQUENCE;
	spec.payload = payload;
	spec.payload_length = payload ? strlen(payload) : 0;
	return spec;
}

int handshake(void)
{
	struct packet_spec syn = client_segment(NULL, CLIENT_SEQUENCE - 1, TCP_SYN);
	struct packet_spec syn_ack = server_segment(NULL, SERVER_SEQUENCE - 1, TCP_SYN | TCP_ACK);
	struct packet_spec ack = client_segment(NULL, CLIENT_SEQUENCE, TCP_ACK);

	if (run_spec(TO_POD, &syn).verdict != TC_ACT_OK ||
	    run_spec(FROM_POD, &syn_ack).verdict != TC_ACT_OK ||
	    run_spec(TO_POD, &ack).verdict != TC_ACT_OK)
		return -1;
	return 0;
}

int send_request(const char *request, uint32_t sequence)
{
	struct packet_spec spec = client_segment(request, sequence, TCP_ACK | TCP_PSH);

	return run_spec(TO_POD, &spec).verdict;
}

int send_response(const char *response, uint32_t sequence)
{
	struct packet_spec spec = server_segment(response, sequence, TCP_ACK | TCP_PSH);

	return run_spec(FROM_POD, &spec).verdict;
}

int http_rule(uint32_t index, uint8_t method, const char *path, const char *host)
{
	struct weir_http_rule_key key = { .rule_id = HTTP_RULE, .index = index };
	struct weir_http_rule rule = { 0 };
	size_t length;

	if (method) {
		rule.match |= WEIR_HTTP_MATCH_METHOD;
		rule.method = method;
	}
	if (path) {
		uint8_t *bytes = (uint8_t *)rule.path, *mask = (uint8_t *)rule.path_mask;

		length = strlen(path);
		rule.match |= WEIR_HTTP_MATCH_PATH;
		if (length && path[length - 1] == '*') {
			rule.match |= WEIR_HTTP_MATCH_PATH_PREFIX;
			length--;
		}
		memcpy(bytes, path, length);
		memset(mask, 0xff, length);
		rule.path_length = (uint8_t)length;
	}
	if (host) {
		rule.match |= WEIR_HTTP_MATCH_HOST;
		rule.host_length = (uint8_t)strlen(host);
		memcpy(rule.host, host, rule.host_length);
	}
	return bpf_map_update_elem(datapath.http_rules_fd, &key, &rule, BPF_ANY);
}

int l7_policy(uint32_t endpoint, uint32_t client_identity)
{
	struct weir_policy_key key = {
		.prefix_length = WEIR_POLICY_PREFIX_FIXED + 16, .endpoint_id = endpoint,
		.identity = client_identity, .direction = INGRESS, .protocol = IPPROTO_TCP,
		.port = htons(HTTP_PORT),
	};
	struct weir_policy_entry entry = { .verdict = WEIR_VERDICT_ALLOW,
					   .flags = WEIR_POLICY_FLAG_HTTP, .rule_id = HTTP_RULE };

	if (isolate(endpoint, ISOLATION_RULE, 0) < 0)
		return -1;
	return bpf_map_update_elem(datapath.policy_fd, &key, &entry, BPF_ANY);
}

#define HELLO "GET /hello HTTP/1.1\r\nHost: Service-B:8080\r\nAccept: */*\r\n\r\n"
#define OK_RESPONSE "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"

static void request_and_response_make_one_event(void)
{
	struct weir_http_event event;

	SETUP();
	ASSERT_EQ(handshake(), 0, "handshake");
	ASSERT_EQ(send_request(HELLO, CLIENT_SEQUENCE), TC_ACT_OK, "request passes");
	ASSERT_EQ(send_response(OK_RESPONSE, SERVER_SEQUENCE), TC_ACT_OK, "response passes");
	ASSERT_EQ(http_event_find(0, &event), 0, "an http event");
	ASSERT_EQ(event.outcome, WEIR_HTTP_ANSWERED, "answered");
	ASSERT_EQ(event.request.method, WEIR_HTTP_METHOD_GET, "method");
	ASSERT_STR_EQ(event.request.path, "/hello", "path");
	ASSERT_STR_EQ(event.request.host, "service-b", "host, lowercase, without the port");
	ASSERT_EQ(event.status, 200, "status");
	ASSERT_EQ(event.client, htonl(REMOTE_POD), "client");
	ASSERT_EQ(event.server, htonl(POD_A), "server");
	ASSERT_EQ(event.endpoint_id, ENDPOINT_A, "seen at the server's endpoint");
	ASSERT_TRUE(event.latency_ns > 0, "latency measured");
	ASSERT_EQ(counter(WEIR_COUNTER_HTTP_REQUESTS), 1, "requests counter");
	ASSERT_EQ(counter(WEIR_COUNTER_HTTP_RESPONSES), 1, "responses counter");
}

static void keep_alive_requests_count_one_by_one(void)
{
	const char *second = "GET /world?x=1 HTTP/1.1\r\nHost: b\r\n\r\n";
	struct weir_http_event event;

	SETUP();
	ASSERT_EQ(handshake(), 0, "handshake");
	ASSERT_EQ(send_request(HELLO, CLIENT_SEQUENCE), TC_ACT_OK, "first request");
	ASSERT_EQ(send_response(OK_RESPONSE, SERVER_SEQUENCE), TC_ACT_OK, "first response");
	ASSERT_EQ(send_request(second, CLIENT_SEQUENCE + strlen(HELLO)), TC_ACT_OK, "second");
	ASSERT_EQ(send_response("HTTP/1.1 404 Not Found\r\n\r\n",
				SERVER_SEQUENCE + strlen(OK_RESPONSE)),
		  TC_ACT_OK, "second response");
	ASSERT_EQ(http_event_find(1, &event), 0, "a second event");
	ASSERT_STR_EQ(event.request.path, "/world", "path without the query");
	ASSERT_EQ(event.status, 404, "its own status");
	ASSERT_EQ(counter(WEIR_COUNTER_HTTP_REQUESTS), 2, "two requests");
}

static void body_that_looks_like_a_request_is_not_one(void)
{
	const char *post = "POST /upload HTTP/1.1\r\nContent-Length: 26\r\n\r\n";
	const char *body = "GET /admin HTTP/1.1\r\n\r\nxx";

	SETUP();
	ASSERT_EQ(l7_policy(ENDPOINT_A, IDENTITY_REMOTE), 0, "L7 policy");
	ASSERT_EQ(http_rule(0, WEIR_HTTP_METHOD_POST, "/upload", NULL), 0, "POST /upload");
	ASSERT_EQ(handshake(), 0, "handshake");
	ASSERT_EQ(send_request(post, CLIENT_SEQUENCE), TC_ACT_OK, "headers allowed");
	ASSERT_EQ(send_request(body, CLIENT_SEQUENCE + strlen(post)), TC_ACT_OK,
		  "the body passes as body");
	ASSERT_EQ(counter(WEIR_COUNTER_HTTP_REQUESTS), 1, "one request");
	ASSERT_EQ(counter(WEIR_COUNTER_HTTP_REFUSED), 0, "nothing refused");
}

static void non_http_is_reported_unparsed_once(void)
{
	struct weir_http_event event;

	SETUP();
	ASSERT_EQ(handshake(), 0, "handshake");
	ASSERT_EQ(send_request("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 tls hello", CLIENT_SEQUENCE),
		  TC_ACT_OK, "TLS passes without rules");
	ASSERT_EQ(send_request("GET / HTTP/1.1\r\n\r\n", CLIENT_SEQUENCE + 24), TC_ACT_OK,
		  "later bytes pass");
	ASSERT_EQ(http_event_find(0, &event), 0, "an event");
	ASSERT_EQ(event.outcome, WEIR_HTTP_UNPARSED, "unparsed");
	ASSERT_EQ(counter(WEIR_COUNTER_HTTP_UNPARSED), 1, "counted once");
	ASSERT_EQ(counter(WEIR_COUNTER_HTTP_REQUESTS), 0, "the connection is no longer read");
}

static void allowed_request_passes_and_denied_one_is_answered_403(void)
{
	const char *post = "POST /hello HTTP/1.1\r\nHost: b\r\nContent-Length: 0\r\n\r\n";
	struct packet_spec request = client_segment(post, CLIENT_SEQUENCE + strlen(HELLO),
						    TCP_ACK | TCP_PSH);
	struct packet_spec response = server_segment(OK_RESPONSE, SERVER_SEQUENCE, TCP_ACK | TCP_PSH);
	struct weir_http_event event;
	struct run_result result;
	const struct iphdr *ip;
	const struct tcphdr *tcp;
	const char *answer;

	SETUP();
	ASSERT_EQ(l7_policy(ENDPOINT_A, IDENTITY_REMOTE), 0, "L7 policy");
	ASSERT_EQ(http_rule(0, WEIR_HTTP_METHOD_GET, "/hello", NULL), 0, "GET /hello");
	ASSERT_EQ(handshake(), 0, "handshake allowed at L4");
	ASSERT_EQ(send_request(HELLO, CLIENT_SEQUENCE), TC_ACT_OK, "GET /hello passes");
	response.acknowledgment = CLIENT_SEQUENCE + strlen(HELLO); /* the server has it */
	ASSERT_EQ(run_spec(FROM_POD, &response).verdict, TC_ACT_OK, "its response");

	request.acknowledgment = SERVER_SEQUENCE + strlen(OK_RESPONSE);
	request.tcp_timestamps = true;
	result = run_spec(TO_POD, &request);
	ASSERT_EQ(result.verdict, TC_ACT_REDIRECT, "answered towards the client");
	ip = (const struct iphdr *)(result.frame + 14);
	tcp = (const struct tcphdr *)(result.frame + 14 + 20);
	answer = (const char *)(result.frame + 14 + 20 + tcp->doff * 4);
	ASSERT_EQ(ip->saddr, htonl(POD_A), "from the server");
	ASSERT_EQ(ip->daddr, htonl(REMOTE_POD), "to the client");
	ASSERT_EQ(ntohs(tcp->source), HTTP_PORT, "server port");
	ASSERT_EQ(ntohs(tcp->dest), CLIENT_PORT, "client port");
	ASSERT_EQ(ntohl(tcp->seq), SERVER_SEQUENCE + strlen(OK_RESPONSE), "server's sequence");
	ASSERT_EQ(ntohl(tcp->ack_seq), CLIENT_SEQUENCE + strlen(HELLO) + strlen(post),
		  "acknowledges the request");
	ASSERT_TRUE(tcp->fin && tcp->ack && tcp->psh && !tcp->rst, "FIN+ACK+PSH");
	ASSERT_TRUE(strncmp(answer, "HTTP/1.1 403 Forbidden\r\n", 24) == 0, "403 answer");
	ASSERT_EQ(memcmp(result.frame + 14 + 20 + 24, "\x22\x22\x22\x22\x11\x11\x11\x11", 8), 0,
		  "timestamps turned around");
	ASSERT_EQ(ipv4_header_checksum(result.frame + 14), 0, "IP checksum");
	ASSERT_EQ(tcp_checksum_check(result.frame + 14), 0, "TCP checksum");
	ASSERT_EQ(memcmp(result.frame + 6, MAC_A, 6), 0, "as if sent by the server pod (source MAC)");

	ASSERT_EQ(drops_of(ENDPOINT_A, WEIR_DROP_HTTP_DENIED, INGRESS), 1, "counted by reason");
	ASSERT_EQ(http_event_find(1, &event), 0, "a refusal event");
	ASSERT_EQ(event.outcome, WEIR_HTTP_REFUSED, "refused");
	ASSERT_EQ(event.reason, WEIR_DROP_HTTP_DENIED, "reason");
	ASSERT_EQ(event.request.method, WEIR_HTTP_METHOD_POST, "method");
	ASSERT_STR_EQ(event.request.path, "/hello", "path");
	ASSERT_EQ(event.rule_id, HTTP_RULE, "the rule set that judged it");
}

static void refused_connection_resets_the_server_and_lets_the_client_close(void)
{
	const char *admin = "GET /admin HTTP/1.1\r\n\r\n";
	uint32_t after_request = CLIENT_SEQUENCE + strlen(admin);
	struct packet_spec ack = client_segment(NULL, after_request, TCP_ACK);
	struct packet_spec fin = client_segment(NULL, after_request, TCP_ACK | TCP_FIN);
	struct packet_spec late = server_segment("late", SERVER_SEQUENCE, TCP_ACK | TCP_PSH);
	struct run_result result;
	const struct tcphdr *tcp;

	SETUP();
	ASSERT_EQ(l7_policy(ENDPOINT_A, IDENTITY_REMOTE), 0, "L7 policy");
	ASSERT_EQ(http_rule(0, WEIR_HTTP_METHOD_GET, "/hello", NULL), 0, "GET /hello");
	ASSERT_EQ(handshake(), 0, "handshake");
	ASSERT_EQ(send_request(admin, CLIENT_SEQUENCE), TC_ACT_REDIRECT, "GET /admin refused");

	result = run_spec(TO_POD, &ack);
	tcp = (const struct tcphdr *)(result.frame + 14 + 20);
	ASSERT_EQ(result.verdict, TC_ACT_OK, "the client's ACK goes on to the server...");
	ASSERT_TRUE(tcp->rst && !tcp->ack, "...as a RST");
	ASSERT_EQ(ntohl(tcp->seq), CLIENT_SEQUENCE, "where the server expects the request");
	ASSERT_EQ(tcp_checksum_check(result.frame + 14), 0, "RST checksum");

	ASSERT_EQ(run_spec(FROM_POD, &late).verdict, TC_ACT_SHOT, "server data goes nowhere");
	result = run_spec(TO_POD, &fin);
	tcp = (const struct tcphdr *)(result.frame + 14 + 20);
	ASSERT_EQ(result.verdict, TC_ACT_REDIRECT, "the client's FIN is answered");
	ASSERT_TRUE(tcp->ack && !tcp->fin && !tcp->rst, "with a bare ACK");
	ASSERT_EQ(ntohl(tcp->ack_seq), after_request + 1, "acknowledging the FIN");
}

static void same_node_refusal_goes_straight_back_into_the_client(void)
{
	struct packet_spec syn = tcp_from_a(POD_B, HTTP_PORT, TCP_SYN);
	struct packet_spec request = tcp_from_a(POD_B, HTTP_PORT, TCP_ACK | TCP_PSH);
	const char *text = "DELETE /hello HTTP/1.1\r\n\r\n";
	struct run_result result;

	SETUP();
	ASSERT_EQ(l7_policy(ENDPOINT_B, IDENTITY_A), 0, "B's L7 policy admits A");
	ASSERT_EQ(http_rule(0, WEIR_HTTP_METHOD_GET, "/hello", NULL), 0, "GET /hello");
	ASSERT_EQ(run_spec(FROM_POD, &syn).verdict, TC_ACT_REDIRECT, "SYN delivered to B");
	request.sequence = 1001;
	request.payload = text;
	request.payload_length = strlen(text);
	result = run_spec(FROM_POD, &request);
	ASSERT_EQ(result.verdict, TC_ACT_REDIRECT, "403 redirected into A");
	ASSERT_EQ(memcmp(result.frame, MAC_A, 6), 0, "addressed to A's MAC");
	ASSERT_EQ(drops_of(ENDPOINT_B, WEIR_DROP_HTTP_DENIED, INGRESS), 1, "B's refusal");
}

/* Through a Service VIP the client knows only the VIP: the 403 must come from it. */
static void refusal_through_a_service_comes_from_the_vip(void)
{
	const uint32_t vip = 0x0a600050u; /* 10.96.0.80 */
	struct service_backend backend = { .address = POD_B, .port = HTTP_PORT, .backend_id = 7 };
	struct packet_spec syn = tcp_from_a(vip, 80, TCP_SYN);
	struct packet_spec request = tcp_from_a(vip, 80, TCP_ACK | TCP_PSH);
	const char *text = "GET /admin HTTP/1.1\r\n\r\n";
	struct run_result result;
	const struct iphdr *ip;
	const struct tcphdr *tcp;
	char errbuf[256];

	SETUP();
	ASSERT_EQ(datapath_service_write(&datapath, vip, 80, IPPROTO_TCP, 70, &backend, 1, 0, errbuf,
					 sizeof(errbuf)),
		  0, "service VIP:80 -> B:8080");
	ASSERT_EQ(l7_policy(ENDPOINT_B, IDENTITY_A), 0, "B's L7 policy admits A");
	ASSERT_EQ(http_rule(0, WEIR_HTTP_METHOD_GET, "/hello", NULL), 0, "GET /hello");
	ASSERT_EQ(run_spec(FROM_POD, &syn).verdict, TC_ACT_REDIRECT, "SYN translated to B");
	request.sequence = 1001;
	request.payload = text;
	request.payload_length = strlen(text);
	result = run_spec(FROM_POD, &request);
	ASSERT_EQ(result.verdict, TC_ACT_REDIRECT, "403 into A");
	ip = (const struct iphdr *)(result.frame + 14);
	tcp = (const struct tcphdr *)(result.frame + 34);
	ASSERT_EQ(ntohl(ip->saddr), vip, "from the VIP A connected to");
	ASSERT_EQ(ntohs(tcp->source), 80, "from the service port");
	ASSERT_EQ(ntohl(ip->daddr), POD_A, "to A");
	ASSERT_EQ(tcp_checksum_check(result.frame + 14), 0, "TCP checksum");
	ASSERT_EQ(ipv4_header_checksum(result.frame + 14), 0, "IP checksum");
}

int refusal_reason_of(const char *request)
{
	SETUP_OR(-1);
	if (l7_policy(ENDPOINT_A, IDENTITY_REMOTE) < 0 ||
	    http_rule(0, 0, "/public/*", NULL) < 0 ||
	    http_rule(1, WEIR_HTTP_METHOD_GET, "/exact", "b.example") < 0 || handshake() < 0)
		return -1;
	if (send_request(request, CLIENT_SEQUENCE) == TC_ACT_OK)
		return 0;
	for (int reason = WEIR_DROP_HTTP_DENIED; reason < WEIR_DROP_REASON_MAX; reason++)
		if (drops_of(ENDPOINT_A, (enum weir_drop_reason)reason, INGRESS))
			return reason;
	return -2;
}

static void matchers_prefix_exact_method_and_host(void)
{
	ASSERT_EQ(refusal_reason_of("PUT /public/a/b HTTP/1.1\r\n\r\n"), 0, "prefix, any method");
	ASSERT_EQ(refusal_reason_of("GET /public HTTP/1.1\r\n\r\n"), WEIR_DROP_HTTP_DENIED,
		  "shorter than the prefix");
	ASSERT_EQ(refusal_reason_of("GET /exact HTTP/1.1\r\nHOST: B.Example:80\r\n\r\n"), 0,
		  "exact path and host");
	ASSERT_EQ(refusal_reason_of("GET /exact/ HTTP/1.1\r\nHost: b.example\r\n\r\n"),
		  WEIR_DROP_HTTP_DENIED, "exact means exact");
	ASSERT_EQ(refusal_reason_of("GET /exact HTTP/1.1\r\nHost: c.example\r\n\r\n"),
		  WEIR_DROP_HTTP_DENIED, "other host");
	ASSERT_EQ(refusal_reason_of("HEAD /exact HTTP/1.1\r\nHost: b.example\r\n\r\n"),
		  WEIR_DROP_HTTP_DENIED, "other method");
	ASSERT_EQ(refusal_reason_of("GET /exact HTTP/1.1\r\n\r\n"), WEIR_DROP_HTTP_DENIED,
		  "no host");
}

static void what_cannot_be_judged_is_denied_by_name(void)
{
	ASSERT_EQ(refusal_reason_of("GET /public/a HTTP/1.1\r\nHost: b\r\n"),
		  WEIR_DROP_HTTP_SPLIT_REQUEST, "headers continue in the next segment");
	ASSERT_EQ(refusal_reason_of("GET /public/a"), WEIR_DROP_HTTP_NOT_HTTP1,
		  "too short to be a request line");
	ASSERT_EQ(refusal_reason_of("GET /public/aaaaaaaaaaaaaaaa"), WEIR_DROP_HTTP_SPLIT_REQUEST,
		  "request line split");
	ASSERT_EQ(refusal_reason_of("GET /public/a HTTP/1.1\r\n\r\nGET /x HTTP/1.1\r\n\r\n"),
		  WEIR_DROP_HTTP_PIPELINED, "two requests in one segment");
	ASSERT_EQ(refusal_reason_of("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), WEIR_DROP_HTTP_NOT_HTTP1,
		  "HTTP/2 preface");
	ASSERT_EQ(refusal_reason_of("GET /public/a HTTP/2.0\r\n\r\n"), WEIR_DROP_HTTP_NOT_HTTP1,
		  "other version");
	ASSERT_EQ(refusal_reason_of("\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03 client hello"),
		  WEIR_DROP_HTTP_NOT_HTTP1, "TLS");
	ASSERT_EQ(refusal_reason_of("GET http://b/public/a HTTP/1.1\r\n\r\n"),
		  WEIR_DROP_HTTP_NOT_HTTP1, "absolute form");
	ASSERT_EQ(refusal_reason_of(
			  "POST /public/a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"),
		  WEIR_DROP_HTTP_UNTRACKABLE_BODY, "chunked body");
	ASSERT_EQ(refusal_reason_of("POST /public/a HTTP/1.1\r\nContent-Length: 5\r\n"
				    "Content-Length: 5\r\n\r\n"),
		  WEIR_DROP_HTTP_UNTRACKABLE_BODY, "two lengths");
	ASSERT_EQ(refusal_reason_of("POST /public/a HTTP/1.1\r\nContent-Length: 5x\r\n\r\n"),
		  WEIR_DROP_HTTP_UNTRACKABLE_BODY, "bad length");
	ASSERT_EQ(refusal_reason_of("GET /public/../admin HTTP/1.1\r\n\r\n"),
		  WEIR_DROP_HTTP_UNSAFE_PATH, "dot segment");
	ASSERT_EQ(refusal_reason_of("GET /public/%2e%2e/admin HTTP/1.1\r\n\r\n"),
		  WEIR_DROP_HTTP_UNSAFE_PATH, "encoded dots");
	ASSERT_EQ(refusal_reason_of("GET /public/a HTTP/1.1\r\n folded: x\r\n\r\n"),
		  WEIR_DROP_HTTP_NOT_HTTP1, "line folding");
	ASSERT_EQ(refusal_reason_of("GET /public/a HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"),
		  WEIR_DROP_HTTP_NOT_HTTP1, "two hosts");
}

static void request_before_the_response_is_pipelining(void)
{
	const char *first = "GET /public/1 HTTP/1.1\r\n\r\n";

	SETUP();
	ASSERT_EQ(l7_policy(ENDPOINT_A, IDENTITY_REMOTE), 0, "L7 policy");
	ASSERT_EQ(http_rule(0, 0, "/public/*", NULL), 0, "/public/*");
	ASSERT_EQ(handshake(), 0, "handshake");
	ASSERT_EQ(send_request(first, CLIENT_SEQUENCE), TC_ACT_OK, "first");
	ASSERT_EQ(send_request(first, CLIENT_SEQUENCE), TC_ACT_OK, "its retransmission");
	ASSERT_TRUE(send_request("GET /public/2 HTTP/1.1\r\n\r\n",
				 CLIENT_SEQUENCE + strlen(first)) != TC_ACT_OK,
		    "second before the first's response");
	ASSERT_EQ(drops_of(ENDPOINT_A, WEIR_DROP_HTTP_PIPELINED, INGRESS), 1, "pipelined");
}

/* Random payloads on a port with L7 rules: none may pass, none may crash. */
static void random_payloads_never_pass_a_rule(void)
{
	char payload[600];
	unsigned seed = 42;

	for (int round = 0; round < 40; round++) {
		size_t length = 1 + rand_r(&seed) % (sizeof(payload) - 1);

		for (size_t i = 0; i < length; i++)
			payload[i] = (char)(rand_r(&seed) % 3 ? "GET /\r\n :HTTP1.0\t%"[rand_r(&seed) % 19]
							      : rand_r(&seed));
		payload[length - 1] = 0;
		if (!payload[0])
			continue;
		memcpy(payload, "GET /x", 6 <= length ? 6 : 0);
		ASSERT_TRUE(refusal_reason_of(payload) > 0, "random payload refused by a reason");
	}
}

static void connection_end_is_summarised_once(void)
{
	struct packet_spec client_fin = client_segment(NULL, CLIENT_SEQUENCE + strlen(HELLO),
						       TCP_ACK | TCP_FIN);
	struct packet_spec server_fin = server_segment(NULL, SERVER_SEQUENCE + strlen(OK_RESPONSE),
						       TCP_ACK | TCP_FIN);
	struct packet_spec rst = client_segment(NULL, CLIENT_SEQUENCE + strlen(HELLO) + 1, TCP_RST);
	struct weir_flow_end_event end;

	SETUP();
	ASSERT_EQ(handshake(), 0, "handshake");
	ASSERT_EQ(send_request(HELLO, CLIENT_SEQUENCE), TC_ACT_OK, "request");
	ASSERT_EQ(send_response(OK_RESPONSE, SERVER_SEQUENCE), TC_ACT_OK, "response");
	ASSERT_EQ(run_spec(TO_POD, &client_fin).verdict, TC_ACT_OK, "client FIN");
	ASSERT_EQ(records_of_type(WEIR_EVENT_FLOW_END), 0, "half closed: not ended");
	ASSERT_EQ(run_spec(FROM_POD, &server_fin).verdict, TC_ACT_OK, "server FIN");
	ASSERT_EQ(run_spec(TO_POD, &rst).verdict, TC_ACT_OK, "a late RST");
	ASSERT_EQ(flow_end_find(&end), 0, "a summary");
	ASSERT_EQ(records_of_type(WEIR_EVENT_FLOW_END), 1, "only one");
	ASSERT_EQ(end.cause, WEIR_FLOW_END_FIN, "ended by FINs");
	ASSERT_EQ(end.source, htonl(REMOTE_POD), "the client is the source");
	ASSERT_EQ(end.forward_packets, 4, "SYN, ACK, request, FIN");
	ASSERT_EQ(end.reply_packets, 3, "SYN-ACK, response, FIN");
	ASSERT_TRUE(end.forward_bytes > strlen(HELLO) && end.reply_bytes > strlen(OK_RESPONSE),
		    "bytes both ways");
	ASSERT_EQ(end.destination_endpoint_id, ENDPOINT_A, "server endpoint");
}

static void event_switches_silence_flows_but_not_drops(void)
{
	struct weir_datapath_config config = { .http_visibility = WEIR_HTTP_VISIBILITY_OFF,
					       .flow_events_off = 1 };
	struct packet_spec denied = tcp_to_a(REMOTE_POD, 9999, TCP_SYN);
	uint32_t zero = 0;
	struct weir_event event;

	SETUP();
	ASSERT_EQ(bpf_map_update_elem(datapath.datapath_config_fd, &zero, &config, BPF_ANY), 0,
		  "events off");
	ASSERT_EQ(handshake(), 0, "handshake");
	ASSERT_EQ(send_request(HELLO, CLIENT_SEQUENCE), TC_ACT_OK, "request");
	ASSERT_EQ(send_response(OK_RESPONSE, SERVER_SEQUENCE), TC_ACT_OK, "response");
	ASSERT_EQ(records_of_type(WEIR_EVENT_NEW_FLOW), 0, "no flow event");
	ASSERT_EQ(records_of_type(WEIR_EVENT_HTTP), 0, "no http event");
	ASSERT_EQ(counter(WEIR_COUNTER_HTTP_REQUESTS), 0, "not even parsed");
	ASSERT_EQ(isolate(ENDPOINT_A, ISOLATION_RULE, 0), 0, "isolate A");
	ASSERT_EQ(run_spec(TO_POD, &denied).verdict, TC_ACT_SHOT, "denied");
	ASSERT_EQ(event_find(WEIR_EVENT_DROP, WEIR_DROP_POLICY_DENIED_INGRESS, &event), 0,
		  "the drop is still reported");
}

static void listed_ports_limit_visibility(void)
{
	struct weir_datapath_config config = { .http_visibility =
						       WEIR_HTTP_VISIBILITY_LISTED_PORTS };
	uint32_t zero = 0, port = htons(HTTP_PORT), one = 1;

	SETUP();
	ASSERT_EQ(bpf_map_update_elem(datapath.datapath_config_fd, &zero, &config, BPF_ANY), 0,
		  "listed ports only");
	ASSERT_EQ(handshake(), 0, "handshake");
	ASSERT_EQ(send_request(HELLO, CLIENT_SEQUENCE), TC_ACT_OK, "request");
	ASSERT_EQ(counter(WEIR_COUNTER_HTTP_REQUESTS), 0, "port not listed: not parsed");
	ASSERT_EQ(bpf_map_update_elem(datapath.http_ports_fd, &port, &one, BPF_ANY), 0, "list it");
	ASSERT_EQ(send_request(HELLO, CLIENT_SEQUENCE), TC_ACT_OK, "request again");
	ASSERT_EQ(counter(WEIR_COUNTER_HTTP_REQUESTS), 1, "now parsed");
}

const struct test_case http_tests[] = {
	{ "request_and_response_make_one_event", request_and_response_make_one_event },
	{ "keep_alive_requests_count_one_by_one", keep_alive_requests_count_one_by_one },
	{ "body_that_looks_like_a_request_is_not_one", body_that_looks_like_a_request_is_not_one },
	{ "non_http_is_reported_unparsed_once", non_http_is_reported_unparsed_once },
	{ "allowed_request_passes_and_denied_one_is_answered_403",
	  allowed_request_passes_and_denied_one_is_answered_403 },
	{ "refused_connection_resets_the_server_and_lets_the_client_close",
	  refused_connection_resets_the_server_and_lets_the_client_close },
	{ "same_node_refusal_goes_straight_back_into_the_client",
	  same_node_refusal_goes_straight_back_into_the_client },
	{ "refusal_through_a_service_comes_from_the_vip",
	  refusal_through_a_service_comes_from_the_vip },
	{ "matchers_prefix_exact_method_and_host", matchers_prefix_exact_method_and_host },
	{ "what_cannot_be_judged_is_denied_by_name", what_cannot_be_judged_is_denied_by_name },
	{ "request_before_the_response_is_pipelining", request_before_the_response_is_pipelining },
	{ "random_payloads_never_pass_a_rule", random_payloads_never_pass_a_rule },
	{ "connection_end_is_summarised_once", connection_end_is_summarised_once },
	{ "event_switches_silence_flows_but_not_drops", event_switches_silence_flows_but_not_drops },
	{ "listed_ports_limit_visibility", listed_ports_limit_visibility },
};
const size_t http_tests_count = sizeof(http_tests) / sizeof(http_tests[0]);
