/* The reference model of the differential test. It reads each frame with its own parser, keeps
 * its own flows, fragments and, for connections under HTTP rules, the byte stream the server
 * would read, and says which packets must never be delivered. It shares no code with the
 * datapath: policy precedence is read off the ABI's documented order (peer before any peer,
 * protocol before any protocol, a narrower port range before a wider one) and anything that
 * order leaves open is "may". Where servers differ (urgent byte in or out of the stream, the
 * first or the last copy of overlapping out-of-order bytes, how a path is normalised), every
 * reading is kept and a packet is denied when any of them shows the server a denied request. */
#include "differential.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checksum.h"

#define FLAG_FIN 0x01
#define FLAG_SYN 0x02
#define FLAG_RST 0x04
#define FLAG_ACK 0x10
#define FLAG_URG 0x20

#define IDENTITY_WORLD 2
#define HAIRPIN_ADDRESS 0xa9fe2a01u /* no peer's: the datapath's own stand-in source */
#define IDENTITY_HOST 1
#define IDENTITY_FIRST_CIDR (1u << 24) /* the ABI numbers ipBlock identities from here */

#define MAX_FLOWS 256
#define MAX_FRAGMENTS 64
#define MAX_STREAMS 16
#define STREAM_BYTES 2048  /* bytes of a client stream the model follows */
#define SERVER_WINDOW 16384 /* smaller than any real server's: fewer bytes assumed accepted */
#define VARIANTS 6	    /* urgent byte: inline, BSD, RFC 1122 x overlaps: first, last wins */

struct tuple {
	uint32_t source, destination;
	uint16_t source_port, destination_port;
	uint8_t protocol;
};

/* One frame as the model reads it. */
struct frame {
	bool ipv4, l4_complete;
	uint8_t source_mac[6];
	uint32_t source, destination;
	uint8_t protocol;
	uint16_t ip_id, fragment_offset; /* bytes */
	bool more_fragments;
	const uint8_t *l3, *l4;
	size_t l3_header, l4_length; /* this frame's share of the datagram */
	/* first fragment or whole datagram */
	struct tuple tuple;
	uint8_t tcp_flags;
	uint32_t sequence, acknowledgment;
	uint16_t urgent_pointer;
	bool fast_open_cookie; /* TCP option 34 */
	const uint8_t *payload;
	size_t payload_length;
	uint8_t icmp_type;
	bool icmp_error, quote_complete;
	struct tuple quote;
};

struct flow {
	struct tuple forward;
	bool live, closing, egress_judged;
};

struct fragment_record {
	uint32_t source, destination;
	uint16_t ip_id;
	uint8_t protocol;
	struct tuple tuple;
	/* reassembly of the datagram's L4 bytes, for streams under HTTP rules */
	uint8_t bytes[DIFF_FRAME_MAX];
	uint8_t have[DIFF_FRAME_MAX];
	size_t total; /* known once the last fragment came; 0 before */
	bool conflicting;
	bool used;
};

/* One reading of the server's receive side. */
struct variant {
	int urgent_mode;  /* 0: SO_OOBINLINE, 1: BSD pointer (byte at ptr-1), 2: RFC 1122 (at ptr) */
	bool last_wins;	  /* overlapping out-of-order bytes: the later copy replaces the earlier */
	bool closed;
	uint32_t next;	  /* rcv_nxt, as an offset from the first data byte */
	uint32_t fin_at;  /* no data past this offset */
	uint8_t bytes[STREAM_BYTES];
	uint8_t present[STREAM_BYTES];
	uint8_t removed[STREAM_BYTES];
	size_t denied_seen; /* denied requests complete in this reading */
};

struct stream {
	struct tuple forward; /* client -> server */
	uint32_t initial_sequence;
	uint32_t server_initial_sequence;
	bool server_initial_known;
	uint32_t server_sent; /* sequence space the server used after its SYN */
	bool disordered;      /* out-of-order, overlapping, rewritten or discarded segments seen */
	bool urgent_seen;
	bool restarted;	      /* a FIN or RST passed, or time passed: the datapath may forget */
	bool used;
	struct variant variants[VARIANTS];
};

struct diff_model {
	struct diff_world world;
	struct flow flows[MAX_FLOWS];
	size_t flow_count;
	struct tuple revoked[MAX_FLOWS]; /* flows a policy change ended */
	size_t revoked_count;
	struct tuple delivered[MAX_FLOWS * 2]; /* every tuple a delivered packet used */
	size_t delivered_count;
	struct fragment_record fragments[MAX_FRAGMENTS];
	struct tuple refused_fragments[MAX_FRAGMENTS]; /* first fragments not delivered as sent */
	uint16_t refused_fragment_ids[MAX_FRAGMENTS];
	size_t refused_fragment_count;
	struct stream streams[MAX_STREAMS];
	struct stream scratch; /* a stream's trial copy */
};

static const char *const class_names[DIFF_CLASS_COUNT] = {
	[DIFF_CLASS_NONE] = "none",
	[DIFF_CLASS_SPOOFED] = "spoofed_source",
	[DIFF_CLASS_HAIRPIN_SOURCE] = "hairpin_source",
	[DIFF_CLASS_MALFORMED] = "malformed",
	[DIFF_CLASS_UNKNOWN_DESTINATION] = "unknown_destination",
	[DIFF_CLASS_POLICY] = "policy",
	[DIFF_CLASS_STALE_CT] = "stale_conntrack",
	[DIFF_CLASS_FRAGMENT] = "fragment",
	[DIFF_CLASS_ICMP_ERROR] = "icmp_error",
	[DIFF_CLASS_L7_URGENT] = "l7_urgent",
	[DIFF_CLASS_L7_ORDER] = "l7_segment_order",
	[DIFF_CLASS_L7_FRAGMENT] = "l7_fragment",
	[DIFF_CLASS_L7_MIDSTREAM] = "l7_midstream",
	[DIFF_CLASS_L7_FAST_OPEN] = "l7_fast_open",
	[DIFF_CLASS_L7_PATH] = "l7_path",
	[DIFF_CLASS_L7_OTHER] = "l7_other",
	[DIFF_CLASS_MISSED_ALLOW] = "missed_allow",
};

const char *diff_class_name(enum diff_class class)
{
	return class < DIFF_CLASS_COUNT ? class_names[class] : "?";
}

enum diff_class diff_class_by_name(const char *name)
{
	for (int class = 1; class < DIFF_CLASS_COUNT; class++)
		if (strcmp(class_names[class], name) == 0)
			return (enum diff_class)class;
	return DIFF_CLASS_NONE;
}

/* ---- reading frames ---- */

static uint16_t read16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t read32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* ICMP echo pairs by identifier: the request's is its "source port", the reply's its
 * "destination port", so a reply is the request's tuple reversed. */
static void icmp_ports(uint8_t type, uint16_t id, struct tuple *tuple)
{
	tuple->source_port = type == 8 ? id : 0;
	tuple->destination_port = type == 0 ? id : 0;
}

/* The transport header of a whole datagram (or first fragment) at l4, length bytes. */
static bool read_transport(struct frame *frame, const uint8_t *l4, size_t length)
{
	frame->tuple.source = frame->source;
	frame->tuple.destination = frame->destination;
	frame->tuple.protocol = frame->protocol;
	switch (frame->protocol) {
	case IPPROTO_TCP: {
		size_t header;

		if (length < 20)
			return false;
		header = (size_t)(l4[12] >> 4) * 4;
		if (header < 20 || header > length)
			return false;
		frame->tuple.source_port = read16(l4);
		frame->tuple.destination_port = read16(l4 + 2);
		frame->sequence = read32(l4 + 4);
		frame->acknowledgment = read32(l4 + 8);
		frame->tcp_flags = l4[13];
		frame->urgent_pointer = read16(l4 + 18);
		frame->payload = l4 + header;
		frame->payload_length = length - header;
		for (size_t at = 20; at < header;) {
			if (l4[at] == 0)
				break;
			if (l4[at] == 1) {
				at++;
				continue;
			}
			if (at + 1 >= header || l4[at + 1] < 2)
				break;
			frame->fast_open_cookie |= l4[at] == 34;
			at += l4[at + 1];
		}
		return true;
	}
	case IPPROTO_UDP:
	case IPPROTO_SCTP:
		if (length < (frame->protocol == IPPROTO_UDP ? 8u : 12u))
			return false;
		frame->tuple.source_port = read16(l4);
		frame->tuple.destination_port = read16(l4 + 2);
		return true;
	case IPPROTO_ICMP:
		if (length < 8)
			return false;
		frame->icmp_type = l4[0];
		icmp_ports(l4[0], read16(l4 + 4), &frame->tuple);
		frame->icmp_error = l4[0] == 3 || l4[0] == 11 || l4[0] == 12;
		if (frame->icmp_error) {
			const uint8_t *inner = l4 + 8;
			size_t inner_length = length - 8, inner_header;

			if (inner_length < 20 || (inner[0] >> 4) != 4 || (inner[0] & 0x0f) < 5)
				return false;
			inner_header = (size_t)(inner[0] & 0x0f) * 4;
			if (inner_length < inner_header + 8)
				return false;
			frame->quote.source = read32(inner + 12);
			frame->quote.destination = read32(inner + 16);
			frame->quote.protocol = inner[9];
			if (inner[9] == IPPROTO_ICMP)
				icmp_ports(inner[inner_header], read16(inner + inner_header + 4),
					   &frame->quote);
			else {
				frame->quote.source_port = read16(inner + inner_header);
				frame->quote.destination_port = read16(inner + inner_header + 2);
			}
			frame->quote_complete = true;
		}
		return true;
	default:
		return false;
	}
}

static struct frame read_frame(const uint8_t *bytes, size_t length)
{
	struct frame frame = { 0 };
	size_t total;
	uint16_t fragment;

	if (length < 14 + 20 || read16(bytes + 12) != 0x0800)
		return frame;
	memcpy(frame.source_mac, bytes + 6, 6);
	frame.l3 = bytes + 14;
	if ((frame.l3[0] >> 4) != 4 || (frame.l3[0] & 0x0f) < 5)
		return frame;
	frame.l3_header = (size_t)(frame.l3[0] & 0x0f) * 4;
	total = read16(frame.l3 + 2);
	if (total < frame.l3_header || total > length - 14)
		return frame;
	frame.ipv4 = true;
	frame.protocol = frame.l3[9];
	frame.ip_id = read16(frame.l3 + 4);
	fragment = read16(frame.l3 + 6);
	frame.more_fragments = fragment & 0x2000;
	frame.fragment_offset = (uint16_t)((fragment & 0x1fff) * 8);
	frame.source = read32(frame.l3 + 12);
	frame.destination = read32(frame.l3 + 16);
	frame.l4 = frame.l3 + frame.l3_header;
	frame.l4_length = total - frame.l3_header;
	if (frame.fragment_offset == 0)
		frame.l4_complete = read_transport(&frame, frame.l4, frame.l4_length);
	return frame;
}

/* The TCP checksum of a whole segment (l4, length) between source and destination. */
static bool tcp_checksum_valid(uint32_t source, uint32_t destination, const uint8_t *l4,
			       size_t length)
{
	uint8_t pseudo[12];
	uint32_t sum;

	pseudo[0] = (uint8_t)(source >> 24), pseudo[1] = (uint8_t)(source >> 16);
	pseudo[2] = (uint8_t)(source >> 8), pseudo[3] = (uint8_t)source;
	pseudo[4] = (uint8_t)(destination >> 24), pseudo[5] = (uint8_t)(destination >> 16);
	pseudo[6] = (uint8_t)(destination >> 8), pseudo[7] = (uint8_t)destination;
	pseudo[8] = 0, pseudo[9] = IPPROTO_TCP;
	pseudo[10] = (uint8_t)(length >> 8), pseudo[11] = (uint8_t)length;
	sum = checksum_add(0, pseudo, sizeof(pseudo));
	return checksum_finish(checksum_add(sum, l4, length)) == 0;
}

/* ---- who is who, and what policy says ---- */

static const struct diff_pod *pod_at(const struct diff_model *model, uint32_t address)
{
	for (size_t i = 0; i < DIFF_LOCAL_PODS; i++)
		if (model->world.pods[i].address == address)
			return &model->world.pods[i];
	return NULL;
}

static uint32_t identity_of(const struct diff_model *model, uint32_t address)
{
	const struct diff_pod *pod = pod_at(model, address);
	int best = -1;
	uint32_t identity = IDENTITY_WORLD;

	if (pod)
		return pod->identity;
	for (size_t i = 0; i < model->world.prefix_count; i++) {
		const struct diff_prefix *prefix = &model->world.prefixes[i];
		uint32_t mask = prefix->length ? ~0u << (32 - prefix->length) : 0;

		if ((address & mask) == (prefix->address & mask) && prefix->length > best) {
			best = prefix->length;
			identity = prefix->identity;
		}
	}
	return identity;
}

enum answer { ANSWER_ALLOW, ANSWER_DENY, ANSWER_UNSURE };

struct decision {
	enum answer answer;
	bool http; /* allowed, and under the HTTP rules */
};

static bool rule_any_port(const struct diff_rule *rule)
{
	return rule->protocol == 0 || (rule->first_port == 0 &&
				       (rule->last_port == 0 || rule->last_port == 65535));
}

static bool rule_covers(const struct diff_rule *rule, int tier, uint32_t peer, uint8_t protocol,
			uint16_t port)
{
	bool peer_specific = tier == 0 || tier == 2, protocol_specific = tier < 2;
	uint16_t last = rule->last_port ? rule->last_port : rule->first_port;

	if (peer_specific ? rule->identity != peer : rule->identity != 0)
		return false;
	if (!protocol_specific)
		return rule->protocol == 0;
	if (rule->protocol != protocol)
		return false;
	return rule_any_port(rule) || (port >= rule->first_port && port <= last);
}

/* The ABI's order: {peer, protocol, port}, {any peer, protocol, port}, {peer, any protocol},
 * {any peer, any protocol}; in a tier a port range beats "any port". Rules of one tier that
 * disagree without that difference leave the answer open. */
static struct decision policy_decide(const struct diff_pod *pod, int direction, uint32_t peer,
				     uint8_t protocol, uint16_t port)
{
	const struct diff_direction_policy *policy = &pod->policy[direction];
	struct decision decision = { ANSWER_ALLOW, false };

	if (!policy->isolation_rule)
		return decision;
	for (int tier = 0; tier < 4; tier++) {
		const struct diff_rule *chosen = NULL;
		bool chosen_ranged = false, open = false;

		for (size_t i = 0; i < policy->rule_count; i++) {
			const struct diff_rule *rule = &policy->rules[i];
			bool ranged = !rule_any_port(rule);

			if (!rule_covers(rule, tier, peer, protocol, port))
				continue;
			if (!chosen || (ranged && !chosen_ranged)) {
				open = chosen && ranged == chosen_ranged;
				chosen = rule;
				chosen_ranged = ranged;
				continue;
			}
			if (ranged == chosen_ranged &&
			    (rule->verdict != chosen->verdict || rule->http != chosen->http))
				open = true;
		}
		if (!chosen)
			continue;
		if (open)
			decision.answer = ANSWER_UNSURE;
		else
			decision.answer = chosen->verdict == DIFF_ALLOW ? ANSWER_ALLOW : ANSWER_DENY;
		decision.http = decision.answer == ANSWER_ALLOW && chosen->http;
		return decision;
	}
	decision.answer = ANSWER_DENY;
	return decision;
}

/* A new flow: the sender's egress (when a local pod sent it through its own veth) and the
 * receiver's ingress (when it is a local pod; the node always reaches its pods). */
static struct decision connection_decide(const struct diff_model *model, const struct tuple *tuple,
					 bool judge_egress)
{
	struct decision result = { ANSWER_ALLOW, false };
	uint16_t port = tuple->protocol == IPPROTO_ICMP ? 0 : tuple->destination_port;
	const struct diff_pod *source = judge_egress ? pod_at(model, tuple->source) : NULL;
	const struct diff_pod *destination = pod_at(model, tuple->destination);

	if (source) {
		struct decision egress = policy_decide(source, DIFF_EGRESS,
						       identity_of(model, tuple->destination),
						       tuple->protocol, port);
		if (egress.answer != ANSWER_ALLOW)
			result.answer = egress.answer;
		if (egress.answer == ANSWER_DENY)
			return result;
	}
	if (destination && identity_of(model, tuple->source) != IDENTITY_HOST) {
		struct decision ingress = policy_decide(destination, DIFF_INGRESS,
							identity_of(model, tuple->source),
							tuple->protocol, port);
		if (ingress.answer != ANSWER_ALLOW)
			result.answer = ingress.answer;
		result.http = ingress.http;
	}
	return result;
}

/* ---- flows ---- */

static bool tuple_equal(const struct tuple *a, const struct tuple *b)
{
	return a->source == b->source && a->destination == b->destination &&
	       a->source_port == b->source_port && a->destination_port == b->destination_port &&
	       a->protocol == b->protocol;
}

static struct tuple tuple_reversed(const struct tuple *tuple)
{
	struct tuple reversed = { tuple->destination, tuple->source, tuple->destination_port,
				  tuple->source_port, tuple->protocol };
	return reversed;
}

/* The live flow the tuple belongs to, either way; *reply set when it is the reverse. */
static struct flow *flow_find(struct diff_model *model, const struct tuple *tuple, bool *reply)
{
	struct tuple reversed = tuple_reversed(tuple);

	for (size_t i = 0; i < model->flow_count; i++) {
		struct flow *flow = &model->flows[i];

		if (!flow->live)
			continue;
		if (tuple_equal(&flow->forward, tuple)) {
			*reply = false;
			return flow;
		}
		if (tuple_equal(&flow->forward, &reversed)) {
			*reply = true;
			return flow;
		}
	}
	return NULL;
}

static bool tuple_listed(const struct tuple *list, size_t count, const struct tuple *tuple)
{
	struct tuple reversed = tuple_reversed(tuple);

	for (size_t i = 0; i < count; i++)
		if (tuple_equal(&list[i], tuple) || tuple_equal(&list[i], &reversed))
			return true;
	return false;
}

static struct fragment_record *fragment_find(struct diff_model *model, const struct frame *frame)
{
	for (size_t i = 0; i < MAX_FRAGMENTS; i++) {
		struct fragment_record *record = &model->fragments[i];

		if (record->used && record->source == frame->source &&
		    record->destination == frame->destination && record->ip_id == frame->ip_id &&
		    record->protocol == frame->protocol)
			return record;
	}
	return NULL;
}

/* ---- the server's stream and the requests in it ---- */

static const char *const method_names[] = { "", "GET", "HEAD", "POST", "PUT", "DELETE" };

static bool http_rules_allow(const struct diff_world *world, const char *method, const char *path)
{
	for (size_t i = 0; i < world->http_count; i++) {
		const struct diff_http_rule *rule = &world->http[i];
		size_t length = strlen(rule->path);

		if (rule->method && (rule->method >= sizeof(method_names) / sizeof(method_names[0]) ||
				     strcmp(method_names[rule->method], method) != 0))
			continue;
		if (length && rule->path[length - 1] == '*') {
			if (strncmp(path, rule->path, length - 1) == 0)
				return true;
		} else if (strcmp(path, rule->path) == 0) {
			return true;
		}
	}
	return false;
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static void percent_decode(char *path)
{
	char *out = path;

	for (const char *in = path; *in; in++) {
		if (in[0] == '%' && hex_value(in[1]) >= 0 && hex_value(in[2]) >= 0) {
			*out++ = (char)(hex_value(in[1]) * 16 + hex_value(in[2]));
			in += 2;
		} else {
			*out++ = *in;
		}
	}
	*out = 0;
}

/* Tomcat and Jetty: ";parameters" end at the next '/'. */
static void drop_path_parameters(char *path)
{
	char *out = path;
	bool skipping = false;

	for (const char *in = path; *in; in++) {
		if (*in == ';')
			skipping = true;
		else if (*in == '/')
			skipping = false;
		if (!skipping)
			*out++ = *in;
	}
	*out = 0;
}

static void backslashes_to_slashes(char *path)
{
	for (char *p = path; *p; p++)
		if (*p == '\\')
			*p = '/';
}

/* Empty and "." segments go, ".." takes the previous one (RFC 3986 5.2.4, plus "//"). */
static void normalise_segments(char *path)
{
	char segments[32][128];
	size_t count = 0;
	const char *at = path;
	bool trailing = false;

	while (*at) {
		const char *end;
		size_t length;

		while (*at == '/')
			at++;
		end = at;
		while (*end && *end != '/')
			end++;
		length = (size_t)(end - at);
		trailing = *end == '/' || (length == 1 && at[0] == '.') ||
			   (length == 2 && at[0] == '.' && at[1] == '.');
		if (length == 0 || (length == 1 && at[0] == '.')) {
		} else if (length == 2 && at[0] == '.' && at[1] == '.') {
			if (count)
				count--;
		} else if (count < 32 && length < 128) {
			memcpy(segments[count], at, length);
			segments[count++][length] = 0;
		} else {
			return; /* beyond what the model follows: this reading keeps the path */
		}
		at = end;
	}
	path[0] = 0;
	for (size_t i = 0; i < count; i++) {
		strcat(path, "/");
		strcat(path, segments[i]);
	}
	if (!count || trailing)
		strcat(path, "/");
}

/* Allowed only when every way a server may read the target stays inside the rules. */
static bool request_allowed(const struct diff_world *world, const char *method, const char *target,
			    bool *allowed_as_written)
{
	char base[512], path[1024]; /* normalising may add two slashes */
	const char *start = target;
	static const char *const readings[] = { "", "n", "dn", "pn", "pdn", "dpn", "ddn", "bn",
						"dbn", "pbn" };

	if (strncasecmp(target, "http://", 7) == 0 || strncasecmp(target, "https://", 8) == 0) {
		start = strchr(strstr(target, "//") + 2, '/');
		if (!start)
			start = "/";
	}
	snprintf(base, sizeof(base), "%s", start);
	base[strcspn(base, "?#")] = 0;
	*allowed_as_written = http_rules_allow(world, method, base);
	for (size_t i = 0; i < sizeof(readings) / sizeof(readings[0]); i++) {
		memcpy(path, base, sizeof(base));
		for (const char *step = readings[i]; *step; step++) {
			if (*step == 'd')
				percent_decode(path);
			else if (*step == 'p')
				drop_path_parameters(path);
			else if (*step == 'b')
				backslashes_to_slashes(path);
			else
				normalise_segments(path);
		}
		path[strcspn(path, "?#")] = 0;
		if (!http_rules_allow(world, method, path))
			return false;
	}
	return true;
}

/* "METHOD SP target SP HTTP/1.x", strictly: what every server accepts. */
static bool request_line_read(const char *line, char *method, size_t method_size, char *target,
			      size_t target_size)
{
	const char *first = strchr(line, ' '), *second = first ? strchr(first + 1, ' ') : NULL;
	size_t method_length = first ? (size_t)(first - line) : 0;
	size_t target_length = second ? (size_t)(second - first - 1) : 0;

	if (!second || method_length == 0 || method_length >= method_size || target_length == 0 ||
	    target_length >= target_size || strlen(second + 1) != 8 ||
	    strncmp(second + 1, "HTTP/1.", 7) != 0 || second[8] < '0' || second[8] > '9')
		return false;
	for (size_t i = 0; i < method_length; i++)
		if (line[i] < 'A' || line[i] > 'Z')
			return false;
	for (size_t i = 0; i < target_length; i++)
		if ((unsigned char)first[1 + i] <= ' ' || (unsigned char)first[1 + i] >= 0x7f)
			return false;
	memcpy(method, line, method_length);
	method[method_length] = 0;
	memcpy(target, first + 1, target_length);
	target[target_length] = 0;
	return true;
}

struct request_scan {
	size_t denied;
	bool last_denied_allowed_as_written;
};

/* Requests a lenient HTTP/1.x server finds in the stream: LF or CRLF line ends, empty lines
 * before a request skipped, Content-Length bodies skipped. Garbage ends the connection;
 * anything the model cannot follow (chunked, duplicate or odd Content-Length, folded headers)
 * ends the scan without a verdict on what follows. */
static struct request_scan requests_scan(const struct diff_world *world, const uint8_t *stream,
					 size_t length)
{
	struct request_scan scan = { 0, false };
	size_t at = 0;

	while (at < length) {
		char line[512], method[16], target[512];
		size_t content_length = 0, lines = 0;
		bool have_length = false, lost = false, complete = false;

		while (at < length && (stream[at] == '\r' || stream[at] == '\n'))
			at++;
		if (at >= length)
			break;
		method[0] = target[0] = 0;
		while (at < length) {
			size_t end = at, size;

			while (end < length && stream[end] != '\n')
				end++;
			if (end >= length)
				break; /* the line is not complete yet */
			size = end - at;
			if (size && stream[end - 1] == '\r')
				size--;
			if (size >= sizeof(line))
				return scan;
			memcpy(line, stream + at, size);
			line[size] = 0;
			at = end + 1;
			if (lines++ == 0) {
				if (!request_line_read(line, method, sizeof(method), target,
						       sizeof(target)))
					return scan; /* not a request: the server closes */
				continue;
			}
			if (size == 0) {
				complete = true;
				break;
			}
			if (!strchr(line, ':'))
				return scan; /* a bad header: the server answers 400 and closes */
			if (line[0] == ' ' || line[0] == '\t')
				lost = true;
			else if (strncasecmp(line, "transfer-encoding:", 18) == 0)
				lost = true;
			else if (strncasecmp(line, "content-length:", 15) == 0) {
				const char *value = line + 15;
				size_t digits;

				while (*value == ' ' || *value == '\t')
					value++;
				digits = strspn(value, "0123456789");
				if (have_length || digits == 0 || digits > 6 ||
				    value[digits + strspn(value + digits, " \t")] != 0)
					lost = true;
				else
					content_length = (size_t)strtoul(value, NULL, 10);
				have_length = true;
			}
		}
		if (!complete)
			break;
		{
			bool as_written;

			if (!request_allowed(world, method, target, &as_written)) {
				scan.denied++;
				scan.last_denied_allowed_as_written = as_written;
			}
		}
		if (lost)
			break;
		at += content_length;
	}
	return scan;
}

static struct request_scan variant_scan(const struct diff_world *world,
					const struct variant *variant)
{
	uint8_t text[STREAM_BYTES];
	size_t length = 0;

	for (uint32_t offset = 0; offset < variant->next && offset < STREAM_BYTES; offset++)
		if (!variant->removed[offset])
			text[length++] = variant->bytes[offset];
	return requests_scan(world, text, length);
}

static struct stream *stream_find(struct diff_model *model, const struct tuple *tuple,
				  bool *from_server)
{
	struct tuple reversed = tuple_reversed(tuple);

	*from_server = false;
	for (size_t i = 0; i < MAX_STREAMS; i++) {
		struct stream *stream = &model->streams[i];

		if (!stream->used)
			continue;
		if (tuple_equal(&stream->forward, tuple)) {
			*from_server = false;
			return stream;
		}
		if (tuple_equal(&stream->forward, &reversed)) {
			*from_server = true;
			return stream;
		}
	}
	return NULL;
}

struct segment {
	uint8_t flags;
	uint32_t sequence, acknowledgment;
	uint16_t urgent_pointer;
	const uint8_t *payload;
	size_t payload_length;
	bool checksum_valid;
};

/* A client segment reaching the server, in every reading. */
static void stream_apply(struct stream *stream, const struct segment *segment)
{
	int32_t start = (int32_t)(segment->sequence - (stream->initial_sequence + 1));
	uint32_t acked = segment->acknowledgment - (stream->server_initial_sequence + 1);
	bool accepted_somewhere = false;

	if (!(segment->flags & FLAG_ACK) || (segment->flags & FLAG_SYN) ||
	    !segment->checksum_valid || !stream->server_initial_known ||
	    acked > stream->server_sent) {
		stream->disordered = true; /* the server throws it away: a decoy */
		return;
	}
	if (segment->flags & (FLAG_RST | FLAG_FIN))
		stream->restarted = true;
	if (segment->flags & FLAG_URG)
		stream->urgent_seen = true;
	for (int v = 0; v < VARIANTS; v++) {
		struct variant *variant = &stream->variants[v];
		int64_t window_end = (int64_t)variant->next + SERVER_WINDOW;

		if (variant->closed)
			continue;
		if (segment->flags & FLAG_RST) {
			if (start == (int32_t)variant->next)
				variant->closed = true;
			continue;
		}
		if (start > (int64_t)variant->next)
			stream->disordered = true;
		if ((int64_t)start >= window_end)
			continue;
		for (size_t i = 0; i < segment->payload_length; i++) {
			int64_t offset = (int64_t)start + (int64_t)i;

			if (offset < (int64_t)variant->next || offset >= window_end ||
			    offset >= STREAM_BYTES || offset >= variant->fin_at)
				continue;
			accepted_somewhere = true;
			if (variant->present[offset]) {
				if (variant->bytes[offset] != segment->payload[i]) {
					stream->disordered = true;
					if (variant->last_wins)
						variant->bytes[offset] = segment->payload[i];
				}
				continue;
			}
			variant->present[offset] = 1;
			variant->bytes[offset] = segment->payload[i];
		}
		if ((segment->flags & FLAG_FIN) && start >= 0 &&
		    (uint32_t)start + segment->payload_length < variant->fin_at)
			variant->fin_at = (uint32_t)start + (uint32_t)segment->payload_length;
		while (variant->next < STREAM_BYTES && variant->present[variant->next])
			variant->next++;
		if ((segment->flags & FLAG_URG) && segment->urgent_pointer && variant->urgent_mode) {
			int64_t at = (int64_t)start + segment->urgent_pointer -
				     (variant->urgent_mode == 1 ? 1 : 0);
			if (at >= 0 && at < STREAM_BYTES)
				variant->removed[at] = 1;
		}
	}
	if (segment->payload_length && !accepted_somewhere && start < 0)
		stream->disordered = true; /* a retransmission the server ignores */
}

/* Would this segment show the server a denied request? Fills the class when it would. */
static bool stream_would_deny(struct diff_model *model, struct stream *stream,
			      const struct segment *segment, bool from_fragments,
			      enum diff_class *class, char *reason, size_t reason_size)
{
	struct stream *trial = &model->scratch;
	bool inline_revealed = false, denied = false, as_written = false;
	int denied_variant = -1;

	memcpy(trial, stream, sizeof(*trial));
	stream_apply(trial, segment);
	for (int v = 0; v < VARIANTS; v++) {
		struct request_scan scan = variant_scan(&model->world, &trial->variants[v]);

		if (scan.denied > trial->variants[v].denied_seen) {
			if (!denied || trial->variants[v].urgent_mode == 0) {
				denied_variant = v;
				as_written = scan.last_denied_allowed_as_written;
			}
			denied = true;
			if (trial->variants[v].urgent_mode == 0)
				inline_revealed = true;
		}
	}
	if (!denied)
		return false;
	/* The trick the request needed, first; the path only when nothing else was needed (the
	 * suite shrinks a violation before it is classed, so incidental tricks are gone). */
	if (!inline_revealed)
		*class = DIFF_CLASS_L7_URGENT;
	else if (from_fragments)
		*class = DIFF_CLASS_L7_FRAGMENT;
	else if (trial->disordered)
		*class = DIFF_CLASS_L7_ORDER;
	else if (trial->restarted)
		*class = DIFF_CLASS_L7_MIDSTREAM;
	else if (as_written)
		*class = DIFF_CLASS_L7_PATH;
	else
		*class = DIFF_CLASS_L7_OTHER;
	snprintf(reason, reason_size,
		 "the server would read a request its HTTP rules deny (reading: urgent byte %s, "
		 "overlaps: %s wins)",
		 (const char *[]){ "inline", "BSD", "RFC 1122" }[trial->variants[denied_variant].urgent_mode],
		 trial->variants[denied_variant].last_wins ? "last" : "first");
	return true;
}

static void stream_commit(struct diff_model *model, struct stream *stream,
			  const struct segment *segment)
{
	stream_apply(stream, segment);
	for (int v = 0; v < VARIANTS; v++) {
		struct request_scan scan = variant_scan(&model->world, &stream->variants[v]);
		stream->variants[v].denied_seen = scan.denied;
	}
}

/* A fresh stream: every reading empty. */
static void variants_init(struct stream *stream)
{
	memset(stream, 0, sizeof(*stream));
	for (int v = 0; v < VARIANTS; v++) {
		stream->variants[v].urgent_mode = v % 3;
		stream->variants[v].last_wins = v >= 3;
		stream->variants[v].fin_at = STREAM_BYTES;
	}
}

/* A Fast Open server hands a SYN's data to the application with the connection. */
static void stream_syn_data(struct stream *stream, const uint8_t *data, size_t length)
{
	for (int v = 0; v < VARIANTS; v++) {
		struct variant *variant = &stream->variants[v];

		for (size_t i = 0; i < length && i < STREAM_BYTES; i++) {
			variant->bytes[i] = data[i];
			variant->present[i] = 1;
		}
		while (variant->next < STREAM_BYTES && variant->present[variant->next])
			variant->next++;
	}
}

static void stream_commit_syn_data(struct diff_model *model, struct stream *stream,
				   const uint8_t *data, size_t length)
{
	if (stream->variants[0].next)
		return; /* the socket has its data already */
	stream_syn_data(stream, data, length);
	for (int v = 0; v < VARIANTS; v++)
		stream->variants[v].denied_seen = variant_scan(&model->world,
							       &stream->variants[v]).denied;
}

static void stream_open(struct diff_model *model, const struct tuple *tuple, uint32_t sequence)
{
	bool from_server;
	struct stream *stream = stream_find(model, tuple, &from_server);

	if (stream && !from_server) {
		bool all_closed = true;
		for (int v = 0; v < VARIANTS; v++)
			all_closed &= stream->variants[v].closed;
		if (!all_closed)
			return; /* a retransmitted SYN: the socket stays */
	}
	if (!stream) {
		for (size_t i = 0; i < MAX_STREAMS && !stream; i++)
			if (!model->streams[i].used)
				stream = &model->streams[i];
		if (!stream)
			return; /* not followed: no verdicts on it */
	}
	variants_init(stream);
	stream->used = true;
	stream->forward = *tuple;
	stream->initial_sequence = sequence;
}

static struct segment segment_of(const struct frame *frame, bool checksum_valid)
{
	struct segment segment = { frame->tcp_flags, frame->sequence, frame->acknowledgment,
				   frame->urgent_pointer, frame->payload, frame->payload_length,
				   checksum_valid };
	return segment;
}

/* The segment a reassembly would complete with this fragment added, if any. */
static bool fragment_completes(struct fragment_record *record, const struct frame *frame,
			       struct frame *segment_frame, bool *checksum_valid)
{
	size_t end = frame->fragment_offset + frame->l4_length;

	if (end > sizeof(record->bytes))
		return false;
	for (size_t i = 0; i < frame->l4_length; i++) {
		size_t at = frame->fragment_offset + i;

		if (record->have[at] && record->bytes[at] != frame->l4[i])
			record->conflicting = true;
		record->bytes[at] = frame->l4[i];
		record->have[at] = 1;
	}
	if (!frame->more_fragments)
		record->total = end;
	if (!record->total || record->conflicting)
		return false;
	for (size_t i = 0; i < record->total; i++)
		if (!record->have[i])
			return false;
	memset(segment_frame, 0, sizeof(*segment_frame));
	segment_frame->source = frame->source;
	segment_frame->destination = frame->destination;
	segment_frame->protocol = frame->protocol;
	if (!read_transport(segment_frame, record->bytes, record->total))
		return false;
	*checksum_valid = tcp_checksum_valid(frame->source, frame->destination, record->bytes,
					     record->total);
	return true;
}

/* ---- the model's interface ---- */

struct diff_model *diff_model_new(const struct diff_world *world)
{
	struct diff_model *model = calloc(1, sizeof(*model));

	if (model)
		model->world = *world;
	return model;
}

void diff_model_free(struct diff_model *model)
{
	free(model);
}

static struct diff_judgment judged(enum diff_model_verdict verdict, enum diff_class class,
				   const char *reason)
{
	struct diff_judgment judgment = { verdict, class, "" };

	snprintf(judgment.reason, sizeof(judgment.reason), "%s", reason);
	return judgment;
}

static enum diff_class denied_flow_class(const struct diff_model *model, const struct tuple *tuple)
{
	return tuple_listed(model->revoked, model->revoked_count, tuple) ? DIFF_CLASS_STALE_CT
									: DIFF_CLASS_POLICY;
}

/* A flow packet: its live flow, or a new flow judged by policy. */
static struct diff_judgment flow_judge(struct diff_model *model, const struct diff_step *step,
				       const struct tuple *tuple, uint8_t tcp_flags)
{
	bool reply = false;
	struct flow *flow = flow_find(model, tuple, &reply);
	bool fresh_syn = (tcp_flags & (FLAG_SYN | FLAG_ACK)) == FLAG_SYN;
	struct decision decision;

	if (flow && !(flow->closing && !reply && tuple->protocol == IPPROTO_TCP && fresh_syn))
		return judged(DIFF_MODEL_MAY, DIFF_CLASS_NONE, "a packet of a live flow");
	/* The hairpin address on a packet the host made (to_pod) is a pod that reached itself
	 * through a Service: judged as that pod. */
	if (tuple->source == HAIRPIN_ADDRESS && step->hook == DIFF_TO_POD) {
		struct tuple itself = *tuple;

		itself.source = tuple->destination;
		decision = connection_decide(model, &itself, false);
	} else {
		decision = connection_decide(model, tuple, step->hook == DIFF_FROM_POD);
	}
	if (decision.answer == ANSWER_DENY && tuple->source == HAIRPIN_ADDRESS)
		return judged(DIFF_MODEL_DENY, DIFF_CLASS_HAIRPIN_SOURCE,
			      "a new flow from the hairpin address (a pod reaching itself through a "
			      "Service) that its own policies deny");
	if (decision.answer == ANSWER_DENY)
		return judged(DIFF_MODEL_DENY, denied_flow_class(model, tuple),
			      "a new flow the policies deny");
	if (decision.answer == ANSWER_ALLOW && !flow && tuple->source != HAIRPIN_ADDRESS &&
	    !tuple_listed(model->delivered, model->delivered_count, tuple) &&
	    ((tuple->protocol == IPPROTO_TCP && tcp_flags == FLAG_SYN) ||
	     tuple->protocol == IPPROTO_UDP))
		return judged(DIFF_MODEL_MUST, DIFF_CLASS_NONE,
			      "a fresh SYN or datagram the policies allow");
	return judged(DIFF_MODEL_MAY, DIFF_CLASS_NONE, "a new flow the policies may allow");
}

/* A hop that may report on a path it routes: the node, another node, the world or an ipBlock
 * address. Pods route nothing. */
static bool is_router_hop(const struct diff_model *model, uint32_t address)
{
	uint32_t identity = identity_of(model, address);

	return identity == IDENTITY_HOST || identity == IDENTITY_WORLD ||
	       identity >= IDENTITY_FIRST_CIDR;
}

/* An ICMP error belongs to a flow only when it quotes the flow and travels between the flow's
 * two ends, or from a router on the path (the node, the world: path MTU and unreachable
 * reports) to the quoted packet's sender. Which end sends and which receives is left open
 * between the ends: a stricter datapath may also refuse the wrong way round. */
static struct diff_judgment icmp_error_judge(struct diff_model *model, const struct diff_step *step,
					     const struct frame *frame)
{
	bool reply;
	struct flow *flow = flow_find(model, &frame->quote, &reply);
	struct tuple outer = { frame->source, frame->destination, 0, 0, IPPROTO_ICMP };
	const struct tuple *quote = &frame->quote;
	struct decision decision;

	if (flow && frame->source != frame->destination &&
	    (frame->destination == quote->source || frame->destination == quote->destination) &&
	    (frame->source == quote->source || frame->source == quote->destination ||
	     identity_of(model, frame->source) == IDENTITY_HOST))
		return judged(DIFF_MODEL_MAY, DIFF_CLASS_NONE, "an ICMP error of a live flow");
	if (flow && frame->destination == quote->source && is_router_hop(model, frame->source))
		return judged(DIFF_MODEL_MAY, DIFF_CLASS_NONE,
			      "an ICMP error of a live flow from a router on its path to its sender");
	decision = connection_decide(model, &outer, step->hook == DIFF_FROM_POD);
	if (decision.answer != ANSWER_DENY)
		return judged(DIFF_MODEL_MAY, DIFF_CLASS_NONE, "ICMP the policies may allow");
	if (flow)
		return judged(DIFF_MODEL_DENY, DIFF_CLASS_ICMP_ERROR,
			      "an ICMP error quoting a live flow, from or to an address that is not "
			      "one of its ends, that the policies deny");
	if (tuple_listed(model->revoked, model->revoked_count, quote))
		return judged(DIFF_MODEL_DENY, DIFF_CLASS_STALE_CT,
			      "an ICMP error quoting a flow that ended (policy change or pod "
			      "replaced), that the policies deny");
	return judged(DIFF_MODEL_DENY, DIFF_CLASS_POLICY,
		      "an ICMP error quoting no flow, that the policies deny");
}

/* A later fragment: only after its datagram's first fragment was delivered, as a packet of
 * that first fragment's flow; the one completing a request's datagram is judged as the
 * segment the server reassembles. */
static struct diff_judgment later_fragment_judge(struct diff_model *model,
						 const struct diff_step *step,
						 const struct frame *frame)
{
	struct fragment_record *record = fragment_find(model, frame);
	struct diff_judgment judgment;
	struct fragment_record copy;
	struct stream *stream;
	struct frame whole;
	bool from_server, checksum_valid;

	if (!record) {
		for (size_t i = 0; i < model->refused_fragment_count; i++) {
			const struct tuple *tuple = &model->refused_fragments[i];

			if (tuple->source == frame->source &&
			    tuple->destination == frame->destination &&
			    tuple->protocol == frame->protocol &&
			    model->refused_fragment_ids[i] == frame->ip_id &&
			    stream_find(model, tuple, &from_server) && !from_server)
				return judged(DIFF_MODEL_DENY, DIFF_CLASS_L7_FRAGMENT,
					      "a later fragment of a request whose first fragment "
					      "was refused (dropped or replaced)");
		}
		return judged(DIFF_MODEL_DENY, DIFF_CLASS_FRAGMENT,
			      "a later fragment whose first fragment was never delivered as sent "
			      "(dropped, or replaced by a RST or 403)");
	}
	judgment = flow_judge(model, step, &record->tuple, 0);
	if (judgment.verdict == DIFF_MODEL_DENY) {
		if (judgment.class != DIFF_CLASS_STALE_CT)
			judgment.class = DIFF_CLASS_FRAGMENT;
		return judgment;
	}
	stream = stream_find(model, &record->tuple, &from_server);
	copy = *record;
	if (stream && !from_server && fragment_completes(&copy, frame, &whole, &checksum_valid)) {
		struct segment segment = segment_of(&whole, checksum_valid);
		enum diff_class class;

		if (stream_would_deny(model, stream, &segment, true, &class, judgment.reason,
				      sizeof(judgment.reason)))
			return judged(DIFF_MODEL_DENY, class, judgment.reason);
	}
	return judged(DIFF_MODEL_MAY, DIFF_CLASS_NONE, "a later fragment of a flow");
}

/* A SYN carrying a Fast Open cookie and data, to a port under HTTP rules: a Fast Open server
 * reads the data at once. */
static bool fast_open_would_deny(struct diff_model *model, const struct diff_step *step,
				 const struct frame *frame)
{
	struct decision decision = connection_decide(model, &frame->tuple,
						     step->hook == DIFF_FROM_POD);
	struct stream *trial = &model->scratch;

	if (decision.answer != ANSWER_ALLOW || !decision.http ||
	    !tcp_checksum_valid(frame->source, frame->destination, frame->l4, frame->l4_length))
		return false;
	variants_init(trial);
	stream_syn_data(trial, frame->payload, frame->payload_length);
	for (int v = 0; v < VARIANTS; v++)
		if (variant_scan(&model->world, &trial->variants[v]).denied)
			return true;
	return false;
}

struct diff_judgment diff_model_judge(struct diff_model *model, const struct diff_step *step)
{
	struct frame frame = read_frame(step->frame, step->length);
	const struct diff_pod *pod;
	struct diff_judgment judgment;
	struct stream *stream;
	struct segment segment;
	enum diff_class class;
	bool from_server;
	char reason[160];

	if (!frame.ipv4)
		return judged(DIFF_MODEL_DENY, DIFF_CLASS_MALFORMED, "not a whole IPv4 header");
	if (step->hook == DIFF_FROM_POD) {
		pod = pod_at(model, frame.source);
		if (!pod || !pod->on_test_interface || memcmp(pod->mac, frame.source_mac, 6) != 0)
			return judged(DIFF_MODEL_DENY, DIFF_CLASS_SPOOFED,
				      "the source IP or MAC is not the sending pod's");
	} else {
		pod = pod_at(model, frame.destination);
		if (!pod || !pod->on_test_interface)
			return judged(DIFF_MODEL_DENY, DIFF_CLASS_UNKNOWN_DESTINATION,
				      "no pod with this address behind this interface");
	}
	if (frame.protocol != IPPROTO_TCP && frame.protocol != IPPROTO_UDP &&
	    frame.protocol != IPPROTO_ICMP && frame.protocol != IPPROTO_SCTP)
		return judged(DIFF_MODEL_DENY, DIFF_CLASS_MALFORMED, "a transport weir does not know");
	if (frame.fragment_offset)
		return later_fragment_judge(model, step, &frame);
	if (!frame.l4_complete)
		return judged(DIFF_MODEL_DENY, DIFF_CLASS_MALFORMED, "a truncated transport header");
	if (frame.icmp_error)
		return icmp_error_judge(model, step, &frame);

	judgment = flow_judge(model, step, &frame.tuple, frame.tcp_flags);
	if (judgment.verdict == DIFF_MODEL_MUST &&
	    (frame.more_fragments ||
	     (frame.protocol == IPPROTO_TCP && (frame.payload_length || frame.fast_open_cookie))))
		judgment.verdict = DIFF_MODEL_MAY; /* data on a SYN, or fragments: not plain */
	if (judgment.verdict == DIFF_MODEL_DENY || frame.protocol != IPPROTO_TCP ||
	    frame.more_fragments || !frame.payload_length)
		return judgment;
	stream = stream_find(model, &frame.tuple, &from_server);
	if ((frame.tcp_flags & (FLAG_SYN | FLAG_ACK)) == FLAG_SYN && frame.fast_open_cookie &&
	    !from_server)
		return fast_open_would_deny(model, step, &frame)
			       ? judged(DIFF_MODEL_DENY, DIFF_CLASS_L7_FAST_OPEN,
					"a SYN whose data (TCP Fast Open) is a request the HTTP "
					"rules deny")
			       : judgment;
	if (!stream || from_server)
		return judgment;
	segment = segment_of(&frame, tcp_checksum_valid(frame.source, frame.destination, frame.l4,
							frame.l4_length));
	if (stream_would_deny(model, stream, &segment, false, &class, reason, sizeof(reason)))
		return judged(DIFF_MODEL_DENY, class, reason);
	return judgment;
}

static void delivered_remember(struct diff_model *model, const struct tuple *tuple)
{
	if (model->delivered_count < sizeof(model->delivered) / sizeof(model->delivered[0]) &&
	    !tuple_listed(model->delivered, model->delivered_count, tuple))
		model->delivered[model->delivered_count++] = *tuple;
}

static void flow_record(struct diff_model *model, const struct diff_step *step,
			const struct tuple *tuple, uint8_t tcp_flags)
{
	bool reply = false;
	struct flow *flow = flow_find(model, tuple, &reply);
	bool fresh_syn = (tcp_flags & (FLAG_SYN | FLAG_ACK)) == FLAG_SYN;

	delivered_remember(model, tuple);
	if (flow && flow->closing && !reply && tuple->protocol == IPPROTO_TCP && fresh_syn) {
		flow->closing = false;
		flow->egress_judged = step->hook == DIFF_FROM_POD;
	} else if (!flow && model->flow_count < MAX_FLOWS) {
		flow = &model->flows[model->flow_count++];
		flow->forward = *tuple;
		flow->live = true;
		flow->closing = false;
		flow->egress_judged = step->hook == DIFF_FROM_POD;
	}
	if (flow && tuple->protocol == IPPROTO_TCP && (tcp_flags & (FLAG_FIN | FLAG_RST)))
		flow->closing = true;
}

/* What the server did, delivered or not: its SYN-ACK and its own bytes. */
static void server_segment_seen(struct stream *stream, const struct frame *frame, bool delivered)
{
	if ((frame->tcp_flags & (FLAG_SYN | FLAG_ACK)) == (FLAG_SYN | FLAG_ACK) &&
	    !stream->server_initial_known) {
		stream->server_initial_sequence = frame->sequence;
		stream->server_initial_known = true;
		return;
	}
	if (stream->server_initial_known) {
		uint32_t end = frame->sequence + (uint32_t)frame->payload_length +
			       ((frame->tcp_flags & FLAG_FIN) ? 1 : 0) -
			       (stream->server_initial_sequence + 1);
		if (end < (1u << 30) && end > stream->server_sent)
			stream->server_sent = end;
	}
	if (delivered && (frame->tcp_flags & (FLAG_FIN | FLAG_RST)))
		stream->restarted = true;
}

void diff_model_observe(struct diff_model *model, const struct diff_step *step, bool delivered)
{
	struct frame frame = read_frame(step->frame, step->length);
	bool from_server = false;
	struct stream *stream;
	struct decision decision;

	if (!frame.ipv4)
		return;
	if (frame.fragment_offset) {
		struct fragment_record *record = fragment_find(model, &frame);
		struct frame whole;
		bool checksum_valid;

		if (!delivered || !record)
			return;
		stream = stream_find(model, &record->tuple, &from_server);
		if (fragment_completes(record, &frame, &whole, &checksum_valid) && stream &&
		    !from_server) {
			struct segment segment = segment_of(&whole, checksum_valid);
			stream_commit(model, stream, &segment);
		}
		return;
	}
	if (!frame.l4_complete)
		return;
	stream = frame.protocol == IPPROTO_TCP ? stream_find(model, &frame.tuple, &from_server)
					       : NULL;
	if (stream && from_server)
		server_segment_seen(stream, &frame, delivered);
	if (!delivered && frame.more_fragments && model->refused_fragment_count < MAX_FRAGMENTS) {
		model->refused_fragments[model->refused_fragment_count] = frame.tuple;
		model->refused_fragment_ids[model->refused_fragment_count++] = frame.ip_id;
	}
	if (!delivered)
		return;
	if (frame.icmp_error) {
		bool reply;
		struct tuple outer = { frame.source, frame.destination, 0, 0, IPPROTO_ICMP };

		if (!flow_find(model, &frame.quote, &reply))
			flow_record(model, step, &outer, 0);
		return;
	}
	flow_record(model, step, &frame.tuple, frame.tcp_flags);
	if (frame.more_fragments) {
		for (size_t i = 0; i < MAX_FRAGMENTS; i++) {
			struct fragment_record *record = &model->fragments[i];
			struct frame whole;
			bool checksum_valid;

			if (record->used && !(record->source == frame.source &&
					      record->destination == frame.destination &&
					      record->ip_id == frame.ip_id &&
					      record->protocol == frame.protocol))
				continue;
			memset(record, 0, sizeof(*record));
			record->used = true;
			record->source = frame.source;
			record->destination = frame.destination;
			record->ip_id = frame.ip_id;
			record->protocol = frame.protocol;
			record->tuple = frame.tuple;
			fragment_completes(record, &frame, &whole, &checksum_valid);
			break;
		}
		return;
	}
	if (frame.protocol != IPPROTO_TCP)
		return;
	if ((frame.tcp_flags & (FLAG_SYN | FLAG_ACK)) == FLAG_SYN && !from_server) {
		decision = connection_decide(model, &frame.tuple, step->hook == DIFF_FROM_POD);
		if (decision.answer == ANSWER_ALLOW && decision.http &&
		    pod_at(model, frame.destination)) {
			stream_open(model, &frame.tuple, frame.sequence);
			stream = stream_find(model, &frame.tuple, &from_server);
			if (stream && frame.fast_open_cookie && frame.payload_length &&
			    tcp_checksum_valid(frame.source, frame.destination, frame.l4,
					       frame.l4_length))
				stream_commit_syn_data(model, stream, frame.payload,
						       frame.payload_length);
		}
		return;
	}
	if (stream && !from_server) {
		struct segment segment = segment_of(&frame, tcp_checksum_valid(frame.source,
									       frame.destination,
									       frame.l4,
									       frame.l4_length));
		stream_commit(model, stream, &segment);
	}
}

/* Flows the new policy no longer allows end here; streams no longer under HTTP rules are no
 * longer followed (their verdicts would be guesses). */
void diff_model_policy_change(struct diff_model *model, const struct diff_step *step)
{
	model->world.pods[step->pod].policy[DIFF_INGRESS] = step->policy[DIFF_INGRESS];
	model->world.pods[step->pod].policy[DIFF_EGRESS] = step->policy[DIFF_EGRESS];
	for (size_t i = 0; i < model->flow_count; i++) {
		struct flow *flow = &model->flows[i];
		struct decision decision;

		if (!flow->live)
			continue;
		decision = connection_decide(model, &flow->forward, flow->egress_judged);
		if (decision.answer == ANSWER_DENY) {
			flow->live = false;
			if (model->revoked_count < MAX_FLOWS)
				model->revoked[model->revoked_count++] = flow->forward;
		}
	}
	for (size_t i = 0; i < MAX_STREAMS; i++) {
		struct stream *stream = &model->streams[i];
		struct decision decision;

		if (!stream->used)
			continue;
		decision = connection_decide(model, &stream->forward,
					     pod_at(model, stream->forward.source) != NULL);
		if (decision.answer != ANSWER_ALLOW || !decision.http)
			stream->used = false;
	}
}

/* A new pod at an old address: no flow of the old pod is the new pod's. */
void diff_model_pod_replaced(struct diff_model *model, const struct diff_step *step)
{
	struct diff_pod *pod = &model->world.pods[step->pod];

	pod->endpoint_id = step->endpoint_id;
	pod->identity = step->identity;
	pod->policy[DIFF_INGRESS] = step->policy[DIFF_INGRESS];
	pod->policy[DIFF_EGRESS] = step->policy[DIFF_EGRESS];
	for (size_t i = 0; i < model->flow_count; i++) {
		struct flow *flow = &model->flows[i];

		if (!flow->live || (flow->forward.source != pod->address &&
				    flow->forward.destination != pod->address))
			continue;
		flow->live = false;
		if (model->revoked_count < MAX_FLOWS)
			model->revoked[model->revoked_count++] = flow->forward;
	}
	for (size_t i = 0; i < MAX_STREAMS; i++)
		if (model->streams[i].forward.source == pod->address ||
		    model->streams[i].forward.destination == pod->address)
			model->streams[i].used = false;
}

void diff_model_eviction(struct diff_model *model, const struct diff_step *step)
{
	struct tuple tuple = { step->evicted_source, step->evicted_destination,
			       step->evicted_source_port, step->evicted_destination_port,
			       IPPROTO_TCP };
	bool from_server;
	struct stream *stream = stream_find(model, &tuple, &from_server);

	if (stream)
		stream->restarted = true;
}

void diff_model_time_passes(struct diff_model *model, uint32_t seconds)
{
	(void)seconds;
	for (size_t i = 0; i < MAX_STREAMS; i++)
		model->streams[i].restarted = true;
}
