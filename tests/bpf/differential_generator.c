/* The generator of the differential test: from one seed, a world (identities shared or not,
 * isolation per direction, allow and deny rules by identity, protocol and port range, one HTTP
 * rule set on port 8080) and a sequence of what a hostile pod or peer does: conversations
 * with handshakes and requests delivered plainly, split, reordered, overlapped, rewritten,
 * fragmented, flagged urgent or after decoys; and stray frames: spoofed, truncated, later
 * fragments, ICMP errors quoting real or invented flows from any address, policy changes and
 * time passing. The same seed always gives the same sequence. */
#include "differential.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checksum.h"
#include "fixture.h"

#define TCP_URG 0x20
#define STRANGER 0x0a00004du /* 10.0.0.77: in the pod range, no pod */
#define HAIRPIN_SOURCE 0xa9fe2a01u /* 169.254.42.1: a pod reaching itself through a Service */

struct generator {
	uint64_t random;
	struct diff_sequence *sequence;
	uint32_t next_rule_id;
	uint16_t next_client_port;
	uint16_t next_ip_id;
	struct {
		uint32_t source, destination;
		uint16_t source_port, destination_port;
		uint8_t protocol;
		uint16_t ip_id;
	} used[32]; /* flows and datagrams of this sequence, for stray frames to quote */
	size_t used_count;
	size_t l7_pod; /* the pod with the HTTP rule (SIZE_MAX: none) */
	uint32_t l7_client_identity;
};

uint64_t diff_random(uint64_t *state)
{
	/* splitmix64 */
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint32_t below(struct generator *g, uint32_t bound)
{
	return bound ? (uint32_t)(diff_random(&g->random) % bound) : 0;
}

static bool chance(struct generator *g, unsigned percent)
{
	return below(g, 100) < percent;
}

/* ---- the world ---- */

static const uint16_t common_ports[] = { 80, 443, 8080, 53, 22 };

static uint32_t random_peer_identity(struct generator *g, const struct diff_world *world)
{
	switch (below(g, 8)) {
	case 0: return 0;
	case 1: return world->pods[0].identity;
	case 2: return world->pods[1].identity;
	case 3: return world->pods[2].identity;
	case 4: return IDENTITY_REMOTE;
	case 5: return IDENTITY_CIDR;
	case 6: return WEIR_IDENTITY_HOST;
	default: return WEIR_IDENTITY_WORLD;
	}
}

static struct diff_rule random_rule(struct generator *g, const struct diff_world *world)
{
	struct diff_rule rule = { .identity = random_peer_identity(g, world),
				  .verdict = chance(g, 15) ? DIFF_DENY : DIFF_ALLOW,
				  .rule_id = g->next_rule_id++ };
	unsigned protocol = below(g, 10);

	rule.protocol = protocol < 5 ? IPPROTO_TCP : protocol < 7 ? IPPROTO_UDP
				   : protocol < 8 ? IPPROTO_ICMP : 0;
	if (rule.protocol == IPPROTO_TCP || rule.protocol == IPPROTO_UDP) {
		unsigned shape = below(g, 4);
		uint16_t port = common_ports[below(g, 5)];

		if (shape == 1 || shape == 2) {
			rule.first_port = port;
		} else if (shape == 3) {
			uint32_t down = below(g, 20);

			rule.first_port = (uint16_t)(port > down ? port - down : 1);
			rule.last_port = (uint16_t)(port + below(g, 300));
		}
	}
	return rule;
}

static void random_direction_policy(struct generator *g, const struct diff_world *world,
				    size_t pod, int direction, struct diff_direction_policy *policy)
{
	memset(policy, 0, sizeof(*policy));
	if (!chance(g, 60))
		return;
	policy->isolation_rule = (uint32_t)(10 + pod * 2 + (size_t)direction);
	policy->rule_count = below(g, 5);
	for (size_t i = 0; i < policy->rule_count; i++)
		policy->rules[i] = random_rule(g, world);
}

/* The HTTP rule keeps its place across policy changes: only its peer varies per world. */
static void add_http_rule(struct generator *g, struct diff_world *world, size_t pod,
			  struct diff_direction_policy *ingress, uint32_t client_identity)
{
	(void)pod;
	if (!ingress->isolation_rule)
		ingress->isolation_rule = 40;
	if (ingress->rule_count >= DIFF_MAX_RULES)
		ingress->rule_count = DIFF_MAX_RULES - 1;
	ingress->rules[ingress->rule_count++] = (struct diff_rule){
		.identity = client_identity, .protocol = IPPROTO_TCP,
		.first_port = DIFF_L7_PORT, .verdict = DIFF_ALLOW, .http = true,
		.rule_id = world->http_rule_set };
	(void)g;
}

static void random_world(struct generator *g, struct diff_world *world)
{
	static const uint32_t addresses[DIFF_LOCAL_PODS] = { POD_A, POD_B, POD_ELSEWHERE };
	static const uint32_t endpoints[DIFF_LOCAL_PODS] = { ENDPOINT_A, ENDPOINT_B, 9 };
	static const uint32_t identities[] = { IDENTITY_A, IDENTITY_B, 302 };

	memset(world, 0, sizeof(*world));
	for (size_t i = 0; i < DIFF_LOCAL_PODS; i++) {
		struct diff_pod *pod = &world->pods[i];

		pod->address = addresses[i];
		pod->endpoint_id = endpoints[i];
		/* shared label sets now and then */
		pod->identity = chance(g, 25) ? identities[below(g, 3)] : identities[i];
		pod->on_test_interface = i < 2;
		memcpy(pod->mac, i == 0 ? MAC_A : MAC_B, 6);
	}
	world->prefixes[0] = (struct diff_prefix){ REMOTE_POD, 32, IDENTITY_REMOTE };
	world->prefixes[1] = (struct diff_prefix){ 0xc0a80000u, 16, IDENTITY_CIDR };
	world->prefixes[2] = (struct diff_prefix){ NODE_HOST, 32, WEIR_IDENTITY_HOST };
	world->prefix_count = 3;
	world->http_rule_set = 500;
	for (size_t i = 0; i < DIFF_LOCAL_PODS; i++) {
		random_direction_policy(g, world, i, DIFF_INGRESS, &world->pods[i].policy[DIFF_INGRESS]);
		random_direction_policy(g, world, i, DIFF_EGRESS, &world->pods[i].policy[DIFF_EGRESS]);
	}
	g->l7_pod = SIZE_MAX;
	if (chance(g, 75)) {
		static const char *const paths[] = { "/public/*", "/health", "/api/v1/*" };

		g->l7_pod = below(g, 2);
		g->l7_client_identity = chance(g, 50) ? 0 : random_peer_identity(g, world);
		add_http_rule(g, world, g->l7_pod, &world->pods[g->l7_pod].policy[DIFF_INGRESS],
			      g->l7_client_identity);
		world->http_count = 1 + below(g, 2);
		for (size_t i = 0; i < world->http_count; i++) {
			world->http[i].method = chance(g, 60) ? WEIR_HTTP_METHOD_GET : 0;
			snprintf(world->http[i].path, sizeof(world->http[i].path), "%s",
				 i == 0 ? "/public/*" : paths[1 + below(g, 2)]);
		}
	}
}

/* ---- steps and frames ---- */

static struct diff_step *step_add(struct generator *g, enum diff_step_kind kind, const char *note)
{
	struct diff_sequence *sequence = g->sequence;
	struct diff_step *step;

	if (sequence->count == sequence->capacity) {
		size_t capacity = sequence->capacity ? sequence->capacity * 2 : 64;
		struct diff_step *steps = realloc(sequence->steps, capacity * sizeof(*steps));

		if (!steps)
			return NULL;
		sequence->steps = steps;
		sequence->capacity = capacity;
	}
	step = &sequence->steps[sequence->count++];
	memset(step, 0, sizeof(*step));
	step->kind = kind;
	snprintf(step->note, sizeof(step->note), "%s", note);
	return step;
}

static bool local_sender(uint32_t address)
{
	return address == POD_A || address == POD_B;
}

/* Which program sees a packet from source to destination, and the MACs it carries. */
static enum diff_hook hook_of(struct packet_spec *spec)
{
	if (local_sender(spec->source)) {
		if (!spec->source_mac)
			spec->source_mac = spec->source == POD_A ? MAC_A : MAC_B;
		spec->destination_mac = spec->source == POD_A ? HOST_MAC_A : HOST_MAC_B;
		return DIFF_FROM_POD;
	}
	if (!spec->source_mac)
		spec->source_mac = MAC_ROUTER;
	spec->destination_mac = spec->destination == POD_B ? MAC_B : MAC_A;
	return DIFF_TO_POD;
}

static void tcp_checksum_redo(uint8_t *frame, size_t length)
{
	uint8_t *ip = frame + 14;
	size_t header = (size_t)(ip[0] & 0x0f) * 4, segment = length - 14 - header;
	uint8_t pseudo[12];
	uint16_t sum;

	memcpy(pseudo, ip + 12, 8);
	pseudo[8] = 0, pseudo[9] = IPPROTO_TCP;
	pseudo[10] = (uint8_t)(segment >> 8), pseudo[11] = (uint8_t)segment;
	ip[header + 16] = ip[header + 17] = 0;
	sum = checksum_finish(checksum_add(checksum_add(0, pseudo, 12), ip + header, segment));
	memcpy(ip + header + 16, &sum, 2);
}

struct damage {
	uint16_t urgent_pointer; /* with the URG flag */
	bool bad_checksum;
};

static struct diff_step *emit(struct generator *g, struct packet_spec *spec,
			      const struct damage *damage, const char *note)
{
	enum diff_hook hook = hook_of(spec);
	struct diff_step *step = step_add(g, DIFF_STEP_PACKET, note);

	if (!step)
		return NULL;
	step->hook = hook;
	step->length = packet_build(step->frame, sizeof(step->frame), spec);
	if (damage && spec->protocol == IPPROTO_TCP && step->length) {
		uint8_t *tcp = step->frame + 14 + 20 + spec->ip_options_length;

		if (damage->urgent_pointer) {
			tcp[13] |= TCP_URG;
			tcp[18] = (uint8_t)(damage->urgent_pointer >> 8);
			tcp[19] = (uint8_t)damage->urgent_pointer;
			tcp_checksum_redo(step->frame, step->length);
		}
		if (damage->bad_checksum)
			tcp[16] ^= 0x5a;
	}
	return step;
}

/* One IP fragment of a whole frame: L4 bytes [start, end), more fragments unless at the end. */
static void emit_piece(struct generator *g, enum diff_hook hook, const uint8_t *whole,
		       size_t length, size_t start, size_t end, const char *note)
{
	size_t header = (size_t)(whole[14] & 0x0f) * 4, l4_length = length - 14 - header;
	struct diff_step *step;
	uint16_t total, fragment, sum;
	uint8_t *ip;
	char text[96];

	if (end > l4_length)
		end = l4_length;
	if (end <= start)
		return;
	snprintf(text, sizeof(text), "%s [L4 bytes %zu-%zu]", note, start, end);
	step = step_add(g, DIFF_STEP_PACKET, text);
	if (!step)
		return;
	step->hook = hook;
	memcpy(step->frame, whole, 14 + header);
	memcpy(step->frame + 14 + header, whole + 14 + header + start, end - start);
	step->length = 14 + header + end - start;
	ip = step->frame + 14;
	total = htons((uint16_t)(header + end - start));
	memcpy(ip + 2, &total, 2);
	fragment = htons((uint16_t)((end < l4_length ? 0x2000 : 0) | (start / 8)));
	memcpy(ip + 6, &fragment, 2);
	ip[10] = ip[11] = 0;
	sum = checksum_finish(checksum_add(0, ip, header));
	memcpy(ip + 10, &sum, 2);
}

/* The datagram of spec, cut into IP fragments at the given L4 offsets (multiples of 8), sent
 * in the given order. */
static void emit_fragments(struct generator *g, struct packet_spec *spec, const size_t *cuts,
			   size_t cut_count, const size_t *order, const char *note)
{
	uint8_t whole[DIFF_FRAME_MAX];
	size_t length, l4_length, bounds[8];
	enum diff_hook hook;

	spec->ip_id = g->next_ip_id++;
	hook = hook_of(spec);
	length = packet_build(whole, sizeof(whole), spec);
	if (!length || cut_count > 6)
		return;
	l4_length = length - 14 - (size_t)(whole[14] & 0x0f) * 4;
	bounds[0] = 0;
	for (size_t i = 0; i < cut_count; i++)
		bounds[i + 1] = cuts[i] < l4_length ? cuts[i] : l4_length;
	bounds[cut_count + 1] = l4_length;
	for (size_t n = 0; n <= cut_count; n++)
		emit_piece(g, hook, whole, length, bounds[order[n]], bounds[order[n] + 1], note);
}

/* Two datagrams under one IP id: the allowed one's first fragment, then a piece of the other
 * that overlaps it, then the allowed one's rest. Receivers differ on overlaps (Linux drops
 * the datagram, others keep the first or the last bytes). */
static void emit_overlapping_fragments(struct generator *g, struct packet_spec *spec,
				       const char *allowed, const char *denied)
{
	uint8_t first[DIFF_FRAME_MAX], second[DIFF_FRAME_MAX];
	size_t first_length, second_length, cut = 8 * (3 + below(g, 3));
	enum diff_hook hook;

	spec->ip_id = g->next_ip_id++;
	hook = hook_of(spec);
	spec->payload = allowed;
	spec->payload_length = strlen(allowed);
	first_length = packet_build(first, sizeof(first), spec);
	spec->payload = denied;
	spec->payload_length = strlen(denied);
	second_length = packet_build(second, sizeof(second), spec);
	if (!first_length || !second_length)
		return;
	emit_piece(g, hook, first, first_length, 0, cut + 8, "allowed request, first fragment");
	emit_piece(g, hook, second, second_length, cut, second_length,
		   "overlapping fragment of another request");
	emit_piece(g, hook, first, first_length, cut + 8, first_length,
		   "allowed request, the rest");
}

static void remember(struct generator *g, const struct packet_spec *spec)
{
	size_t slot = g->used_count < 32 ? g->used_count++ : below(g, 32);

	g->used[slot].source = spec->source;
	g->used[slot].destination = spec->destination;
	g->used[slot].source_port = spec->source_port;
	g->used[slot].destination_port = spec->destination_port;
	g->used[slot].protocol = spec->protocol;
	g->used[slot].ip_id = spec->ip_id;
}

/* ---- conversations ---- */

static const uint32_t peers[] = { POD_A, POD_B, POD_ELSEWHERE, REMOTE_POD, WORLD_HOST, CIDR_HOST,
				  NODE_HOST };
#define PEER_COUNT (sizeof(peers) / sizeof(peers[0]))

static struct packet_spec tcp_spec(uint32_t source, uint32_t destination, uint16_t source_port,
				   uint16_t destination_port, uint8_t flags, uint32_t sequence,
				   uint32_t acknowledgment)
{
	struct packet_spec spec = { .source = source, .destination = destination,
				    .protocol = IPPROTO_TCP, .source_port = source_port,
				    .destination_port = destination_port, .tcp_flags = flags,
				    .sequence = sequence, .acknowledgment = acknowledgment };
	return spec;
}

struct conversation {
	uint32_t client, server;
	uint16_t client_port, server_port;
	uint32_t client_next, server_next;
	bool timestamps;
};

static void client_data(struct generator *g, const struct conversation *c, const char *bytes,
			size_t length, uint32_t sequence, uint8_t flags, const struct damage *damage,
			const char *note)
{
	struct packet_spec spec = tcp_spec(c->client, c->server, c->client_port, c->server_port,
					   flags, sequence, c->server_next);

	spec.payload = bytes;
	spec.payload_length = length;
	spec.tcp_timestamps = c->timestamps;
	emit(g, &spec, damage, note);
}

static const char *const allowed_requests[] = {
	"GET /public/index.html HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET /public/a?x=1 HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET /health HTTP/1.1\r\nHost: a\r\n\r\n",
	"POST /public/form HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
	"GET /api/v1/items HTTP/1.0\r\n\r\n",
};
static const char *const denied_requests[] = {
	"GET /admin HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET /public/..;/admin HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET /public/%2e%2e/admin HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET /public/..%2fadmin HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET /public/%252e%252e/admin HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET /PUBLIC/x HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET //admin HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET /public\\..\\admin HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET http://a/admin HTTP/1.1\r\nHost: a\r\n\r\n",
	"DELETE /public/x HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET /public/;x/../../admin HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET /admin HTTP/1.1\nHost: a\n\n",
};
#define COUNT(array) (sizeof(array) / sizeof(array[0]))

static const char *pick(struct generator *g, bool allowed)
{
	return allowed ? allowed_requests[below(g, COUNT(allowed_requests))]
		       : denied_requests[below(g, COUNT(denied_requests))];
}

/* The urgent byte hides a digit of Content-Length from servers without SO_OOBINLINE: weir
 * reads a body of 40 bytes that holds a request, the server a body of 4 and then the request. */
static void urgent_smuggle(struct generator *g, struct conversation *c)
{
	char text[256];
	const char *hidden = "GET /admin HTTP/1.1\r\nHost: a\r\n\r\n";
	int head = snprintf(text, sizeof(text),
			    "POST /public/form HTTP/1.1\r\nHost: a\r\nContent-Length: 40\r\n\r\n");
	size_t body = 40, hidden_length = strlen(hidden);
	struct damage damage = { 0 };
	const char *digit = strstr(text, ": 40") + 3; /* the '0' */

	memcpy(text + head, "abcd", 4);
	memcpy(text + head + 4, hidden, hidden_length);
	memset(text + head + 4 + hidden_length, 'z', body - 4 - hidden_length);
	damage.urgent_pointer = (uint16_t)(digit - text + 1); /* BSD: the byte before the pointer */
	client_data(g, c, text, (size_t)head + body, c->client_next, TCP_ACK | TCP_PSH, &damage,
		    "urgent byte inside Content-Length, a request in the body");
	c->client_next += (uint32_t)(head + (int)body);
}

static void l7_move(struct generator *g, struct conversation *c)
{
	const char *allowed = pick(g, true), *denied = pick(g, chance(g, 25));
	size_t allowed_length = strlen(allowed), denied_length = strlen(denied);
	uint32_t at = c->client_next;
	struct damage damage = { 0 };

	switch (below(g, 15)) {
	case 0: /* plain */
		client_data(g, c, denied, denied_length, at, TCP_ACK | TCP_PSH, NULL, "request");
		c->client_next += (uint32_t)denied_length;
		break;
	case 1: { /* split, in order or not */
		size_t cut = 1 + below(g, (uint32_t)denied_length - 1);
		bool reversed = chance(g, 50);

		if (reversed)
			client_data(g, c, denied + cut, denied_length - cut, at + (uint32_t)cut,
				    TCP_ACK | TCP_PSH, NULL, "request, second part first");
		client_data(g, c, denied, cut, at, TCP_ACK, NULL, "request, first part");
		if (!reversed)
			client_data(g, c, denied + cut, denied_length - cut, at + (uint32_t)cut,
				    TCP_ACK | TCP_PSH, NULL, "request, second part");
		c->client_next += (uint32_t)denied_length;
		break;
	}
	case 2: /* the out-of-order decoy */
		client_data(g, c, allowed, allowed_length, at + (uint32_t)denied_length,
			    TCP_ACK | TCP_PSH, NULL, "allowed request, out of order, ahead");
		client_data(g, c, denied, denied_length, at, TCP_ACK | TCP_PSH, NULL,
			    "request in the gap before it");
		c->client_next += (uint32_t)(denied_length + allowed_length);
		break;
	case 3: /* retransmission with other bytes */
		client_data(g, c, allowed, allowed_length, at, TCP_ACK | TCP_PSH, NULL,
			    "allowed request");
		client_data(g, c, denied, denied_length, at, TCP_ACK | TCP_PSH, NULL,
			    "retransmitted with other bytes");
		c->client_next += (uint32_t)(allowed_length > denied_length ? allowed_length
									    : denied_length);
		break;
	case 4: /* decoys the server discards */
		damage.bad_checksum = chance(g, 50);
		client_data(g, c, allowed, allowed_length,
			    damage.bad_checksum ? at : at + 1000000u, TCP_ACK | TCP_PSH, &damage,
			    damage.bad_checksum ? "allowed request, bad checksum"
						: "allowed request, far out of window");
		client_data(g, c, denied, denied_length, at, TCP_ACK | TCP_PSH, NULL, "request");
		c->client_next += (uint32_t)denied_length;
		break;
	case 5:
		urgent_smuggle(g, c);
		break;
	case 6: /* urgent flag anywhere */
		damage.urgent_pointer = (uint16_t)(1 + below(g, (uint32_t)allowed_length));
		client_data(g, c, allowed, allowed_length, at, TCP_ACK | TCP_PSH | TCP_URG, &damage,
			    "allowed request with an urgent byte");
		c->client_next += (uint32_t)allowed_length;
		break;
	case 7: { /* the tiny first fragment: the TCP header alone */
		struct packet_spec spec = tcp_spec(c->client, c->server, c->client_port,
						   c->server_port, TCP_ACK | TCP_PSH, at,
						   c->server_next);
		size_t header = c->timestamps ? 32 : 24, cuts[1] = { header }, order[2] = { 0, 1 };

		spec.payload = denied;
		spec.payload_length = denied_length;
		spec.tcp_timestamps = c->timestamps;
		if (chance(g, 30))
			order[0] = 1, order[1] = 0;
		emit_fragments(g, &spec, cuts, 1, order, "request in IP fragments, header first");
		remember(g, &spec);
		c->client_next += (uint32_t)denied_length;
		break;
	}
	case 8: { /* random fragments */
		struct packet_spec spec = tcp_spec(c->client, c->server, c->client_port,
						   c->server_port, TCP_ACK | TCP_PSH, at,
						   c->server_next);
		size_t cuts[3], order[4] = { 0, 1, 2, 3 };

		spec.payload = denied;
		spec.payload_length = denied_length;
		spec.tcp_timestamps = c->timestamps;
		for (size_t i = 0; i < 3; i++)
			cuts[i] = 8 * (3 + i * 2 + below(g, 2));
		for (size_t i = 3; i > 0; i--) {
			size_t j = below(g, (uint32_t)i + 1), t = order[i];
			order[i] = order[j], order[j] = t;
		}
		emit_fragments(g, &spec, cuts, 3, order, "request in IP fragments");
		remember(g, &spec);
		c->client_next += (uint32_t)denied_length;
		break;
	}
	case 9: { /* an unvalidated RST, then time */
		struct packet_spec rst = tcp_spec(c->client, c->server, c->client_port,
						  c->server_port, TCP_RST | TCP_ACK, at + 50000,
						  c->server_next);
		struct diff_step *wait;

		emit(g, &rst, NULL, "RST out of window (the server ignores it)");
		wait = step_add(g, DIFF_STEP_TIME_PASSES, "the closing entry expires");
		if (wait)
			wait->seconds = 11;
		client_data(g, c, denied, denied_length, at, TCP_ACK | TCP_PSH, NULL,
			    "request after the entry expired");
		c->client_next += (uint32_t)denied_length;
		break;
	}
	case 10: { /* the server closes its half, time passes, the client goes on */
		struct packet_spec fin = tcp_spec(c->server, c->client, c->server_port,
						  c->client_port, TCP_FIN | TCP_ACK, c->server_next,
						  at);
		struct diff_step *wait;

		emit(g, &fin, NULL, "server FIN");
		c->server_next += 1;
		wait = step_add(g, DIFF_STEP_TIME_PASSES, "time passes");
		if (wait)
			wait->seconds = chance(g, 50) ? 11 : 70;
		client_data(g, c, denied, denied_length, at, TCP_ACK | TCP_PSH, NULL,
			    "request after the server's FIN");
		c->client_next += (uint32_t)denied_length;
		break;
	}
	case 11: { /* pipelined, or an allowed request then another */
		char text[512];
		int length = snprintf(text, sizeof(text), "%s%s", allowed, denied);

		client_data(g, c, text, (size_t)length, at, TCP_ACK | TCP_PSH, NULL,
			    "two requests in one segment");
		c->client_next += (uint32_t)length;
		break;
	}
	case 12: {
		struct packet_spec spec = tcp_spec(c->client, c->server, c->client_port,
						   c->server_port, TCP_ACK | TCP_PSH, at,
						   c->server_next);

		spec.tcp_timestamps = c->timestamps;
		emit_overlapping_fragments(g, &spec, allowed, denied);
		remember(g, &spec);
		c->client_next += (uint32_t)allowed_length;
		break;
	}
	case 13: { /* a flood evicts the entry, then the request */
		struct diff_step *step = step_add(g, DIFF_STEP_EVICTION, "LRU eviction");

		if (step) {
			step->evicted_source = c->client;
			step->evicted_destination = c->server;
			step->evicted_source_port = c->client_port;
			step->evicted_destination_port = c->server_port;
		}
		client_data(g, c, denied, denied_length, at, TCP_ACK | TCP_PSH, NULL,
			    "request after the entry was evicted");
		c->client_next += (uint32_t)denied_length;
		break;
	}
	default: /* an allowed request, then the next at its end */
		client_data(g, c, allowed, allowed_length, at, TCP_ACK | TCP_PSH, NULL,
			    "allowed request");
		c->client_next += (uint32_t)allowed_length;
		break;
	}
}

static uint32_t random_client_of(struct generator *g, uint32_t server)
{
	for (;;) {
		uint32_t client = peers[below(g, PEER_COUNT)];

		if (client != server && client != POD_ELSEWHERE)
			return client;
	}
}

static void tcp_conversation(struct generator *g, bool l7)
{
	struct conversation c = { 0 };
	struct packet_spec spec;
	size_t moves;

	if (l7) {
		c.server = g->l7_pod == 0 ? POD_A : POD_B;
		c.server_port = DIFF_L7_PORT;
	} else {
		c.server = peers[below(g, PEER_COUNT)];
		c.server_port = common_ports[below(g, 5)];
	}
	do
		c.client = random_client_of(g, c.server);
	while (!local_sender(c.client) && !local_sender(c.server) && c.server != POD_ELSEWHERE);
	if (!local_sender(c.client) && !local_sender(c.server))
		c.client = chance(g, 50) ? POD_A : POD_B; /* the server is C: A or B reaches it */
	c.client_port = g->next_client_port++;
	c.client_next = 1000 + below(g, 100000);
	c.server_next = 7000 + below(g, 100000);
	c.timestamps = chance(g, 40);

	spec = tcp_spec(c.client, c.server, c.client_port, c.server_port, TCP_SYN, c.client_next,
			0);
	spec.tcp_timestamps = c.timestamps;
	if (l7 && chance(g, 12)) {
		/* TCP Fast Open: a cookie option (where the timestamps would be) and a request */
		struct diff_step *step;

		spec.tcp_timestamps = true;
		spec.payload = pick(g, chance(g, 25));
		spec.payload_length = strlen(spec.payload);
		step = emit(g, &spec, NULL, "SYN with a Fast Open cookie and a request");
		if (step) {
			static const uint8_t cookie[12] = { 34, 10, 0xc0, 0x0c, 0x1e, 0x5e,
							   0xc0, 0x0c, 0x1e, 0x5e, 1, 1 };
			memcpy(step->frame + 14 + 20 + 20, cookie, sizeof(cookie));
			tcp_checksum_redo(step->frame, step->length);
		}
		c.client_next += (uint32_t)spec.payload_length;
		spec.payload = NULL;
		spec.payload_length = 0;
	} else {
		emit(g, &spec, NULL, "SYN");
	}
	remember(g, &spec);
	c.client_next++;
	if (c.server != POD_ELSEWHERE) {
		spec = tcp_spec(c.server, c.client, c.server_port, c.client_port,
				TCP_SYN | TCP_ACK, c.server_next, c.client_next);
		spec.tcp_timestamps = c.timestamps;
		emit(g, &spec, NULL, "SYN-ACK");
	}
	c.server_next++;
	spec = tcp_spec(c.client, c.server, c.client_port, c.server_port, TCP_ACK, c.client_next,
			c.server_next);
	spec.tcp_timestamps = c.timestamps;
	emit(g, &spec, NULL, "ACK");
	moves = 1 + below(g, 3);
	for (size_t i = 0; i < moves; i++) {
		if (l7) {
			l7_move(g, &c);
			continue;
		}
		client_data(g, &c, "ping", 4, c.client_next, TCP_ACK | TCP_PSH, NULL, "data");
		c.client_next += 4;
		if (c.server != POD_ELSEWHERE && chance(g, 60)) {
			spec = tcp_spec(c.server, c.client, c.server_port, c.client_port,
					TCP_ACK | TCP_PSH, c.server_next, c.client_next);
			spec.payload = "pong";
			spec.payload_length = 4;
			emit(g, &spec, NULL, "reply data");
			c.server_next += 4;
		}
	}
	if (chance(g, 40)) {
		uint8_t flags = chance(g, 50) ? (TCP_FIN | TCP_ACK) : (TCP_RST | TCP_ACK);

		spec = tcp_spec(c.client, c.server, c.client_port, c.server_port, flags,
				c.client_next, c.server_next);
		emit(g, &spec, NULL, flags & TCP_RST ? "RST" : "FIN");
		if (chance(g, 50)) { /* and a new connection on the same tuple */
			spec = tcp_spec(c.client, c.server, c.client_port, c.server_port, TCP_SYN,
					c.client_next + 100000, 0);
			emit(g, &spec, NULL, "SYN again on the closed tuple");
		}
	}
}

static void datagram_conversation(struct generator *g)
{
	uint32_t server = peers[below(g, PEER_COUNT)], client = random_client_of(g, server);
	bool icmp = chance(g, 40);
	struct packet_spec spec = { .source = client, .destination = server,
				    .protocol = icmp ? IPPROTO_ICMP : IPPROTO_UDP,
				    .source_port = g->next_client_port++,
				    .destination_port = common_ports[below(g, 5)],
				    .payload_length = 16, .icmp_type = 8,
				    .icmp_id = (uint16_t)below(g, 65536) };

	if (!local_sender(client) && !local_sender(server))
		spec.source = client = POD_A;
	if (icmp)
		spec.source_port = spec.icmp_id; /* how the flow is known */
	emit(g, &spec, NULL, icmp ? "echo request" : "datagram");
	remember(g, &spec);
	if (server != POD_ELSEWHERE && chance(g, 70)) {
		struct packet_spec reply = spec;

		reply.source = server;
		reply.destination = client;
		reply.source_port = spec.destination_port;
		reply.destination_port = spec.source_port;
		reply.icmp_type = 0;
		reply.source_mac = NULL;
		emit(g, &reply, NULL, icmp ? "echo reply" : "reply datagram");
	}
}

/* ---- stray frames ---- */

static void stray_frame(struct generator *g)
{
	struct packet_spec spec = { 0 }, inner = { 0 };
	struct diff_step *step;
	size_t used = g->used_count ? below(g, (uint32_t)g->used_count) : 0;
	bool have_used = g->used_count > 0;

	switch (below(g, 10)) {
	case 0: { /* spoofed source IP or MAC */
		static const uint32_t fakes[] = { POD_ELSEWHERE, REMOTE_POD, WORLD_HOST, STRANGER,
						  NODE_HOST, POD_B };
		spec = tcp_spec(fakes[below(g, COUNT(fakes))], peers[below(g, PEER_COUNT)],
				g->next_client_port++, common_ports[below(g, 5)], TCP_SYN, 1, 0);
		step = step_add(g, DIFF_STEP_PACKET, "spoofed source IP or MAC from pod A");
		if (!step)
			return;
		spec.source_mac = MAC_A;
		spec.destination_mac = HOST_MAC_A;
		if (spec.source == POD_B || chance(g, 30)) {
			static const uint8_t other_mac[6] = { 0x02, 0x66, 0, 0, 0, 0x66 };
			spec.source = chance(g, 50) ? POD_A : POD_B;
			spec.source_mac = spec.source == POD_A ? (chance(g, 50) ? MAC_B : other_mac)
							       : MAC_A;
		}
		step->hook = DIFF_FROM_POD;
		step->length = packet_build(step->frame, sizeof(step->frame), &spec);
		return;
	}
	case 1: { /* truncated */
		spec = tcp_spec(REMOTE_POD, POD_A, g->next_client_port++, 80, TCP_SYN, 1, 0);
		step = emit(g, &spec, NULL, "truncated TCP header");
		if (step && chance(g, 50)) {
			uint16_t total = htons(20 + 10);
			memcpy(step->frame + 14 + 2, &total, 2);
			step->frame[14 + 10] = step->frame[14 + 11] = 0;
			{
				uint16_t sum = checksum_finish(checksum_add(0, step->frame + 14, 20));
				memcpy(step->frame + 14 + 10, &sum, 2);
			}
		}
		if (step)
			step->length = 14 + 20 + 10;
		return;
	}
	case 2: /* another L3 or L4 */
		spec = tcp_spec(REMOTE_POD, POD_A, 1, 80, TCP_SYN, 1, 0);
		if (chance(g, 50))
			spec.ethertype = 0x86dd;
		else
			spec.protocol = 47;
		emit(g, &spec, NULL, "IPv6 or GRE");
		return;
	case 3: /* to an address not behind this interface */
		spec = tcp_spec(REMOTE_POD, chance(g, 50) ? POD_ELSEWHERE : STRANGER, 1, 80,
				TCP_SYN, 1, 0);
		step = emit(g, &spec, NULL, "to_pod for a pod elsewhere or none");
		if (step)
			step->hook = DIFF_TO_POD;
		return;
	case 9: /* from outside, with the source only the datapath's hairpin may use */
		spec = tcp_spec(HAIRPIN_SOURCE, chance(g, 50) ? POD_A : POD_B,
				g->next_client_port++, common_ports[below(g, 5)], TCP_SYN, 1, 0);
		if (chance(g, 30)) {
			spec.protocol = IPPROTO_UDP;
			spec.payload_length = 8;
		}
		emit(g, &spec, NULL, "hairpin address as the source, from the host side");
		return;
	case 4:
	case 5: { /* ICMP error quoting a flow of this sequence (or one reversed) */
		uint32_t outer_source = peers[below(g, PEER_COUNT)];
		uint32_t outer_destination = chance(g, 50) ? POD_A : POD_B;

		inner = tcp_spec(STRANGER, POD_A, 1, 80, TCP_SYN, 1, 0);
		if (have_used) {
			inner.source = g->used[used].source;
			inner.destination = g->used[used].destination;
			inner.source_port = g->used[used].source_port;
			inner.destination_port = g->used[used].destination_port;
			inner.protocol = g->used[used].protocol;
			inner.icmp_type = 8;
			inner.icmp_id = g->used[used].source_port;
			if (chance(g, 50)) {
				uint32_t address = inner.source;
				uint16_t port = inner.source_port;
				inner.source = inner.destination, inner.destination = address;
				inner.source_port = inner.destination_port;
				inner.destination_port = port;
				inner.icmp_type = 0;
				inner.icmp_id = inner.source_port ? inner.source_port
								  : inner.destination_port;
			}
			if (chance(g, 40))
				outer_destination = inner.source;
			if (chance(g, 30))
				outer_source = inner.destination;
		}
		if (outer_source == outer_destination)
			outer_source = WORLD_HOST;
		spec = (struct packet_spec){ .source = outer_source,
					     .destination = outer_destination,
					     .protocol = IPPROTO_ICMP, .icmp_type = 3,
					     .icmp_code = (uint8_t)below(g, 4),
					     .icmp_inner = &inner, .payload_length = below(g, 2) * 64 };
		if (!local_sender(spec.source) && !local_sender(spec.destination))
			spec.destination = POD_A;
		emit(g, &spec, NULL, "ICMP error quoting a flow");
		return;
	}
	case 6: { /* a later fragment: of a datagram seen, or of none */
		spec = tcp_spec(REMOTE_POD, POD_A, 0, 0, 0, 0, 0);
		if (have_used) {
			spec.source = g->used[used].source;
			spec.destination = g->used[used].destination;
			spec.protocol = g->used[used].protocol;
			spec.ip_id = chance(g, 60) ? g->used[used].ip_id : g->next_ip_id++;
		}
		if (!local_sender(spec.source) && !local_sender(spec.destination))
			spec.destination = POD_A;
		spec.later_fragment_without_l4 = true;
		spec.fragment_offset = (uint16_t)(1 + below(g, 8));
		spec.more_fragments = chance(g, 50);
		spec.payload = pick(g, false);
		spec.payload_length = strlen(spec.payload);
		emit(g, &spec, NULL, "a later fragment");
		return;
	}
	default: { /* random flags on a flow of this sequence, either way */
		static const uint8_t flag_sets[] = { TCP_SYN, TCP_ACK, TCP_FIN, TCP_RST,
						     TCP_SYN | TCP_ACK, TCP_FIN | TCP_ACK,
						     TCP_ACK | TCP_PSH | TCP_URG, TCP_SYN | TCP_FIN,
						     TCP_RST | TCP_ACK, 0 };
		spec = tcp_spec(REMOTE_POD, POD_A, g->next_client_port++, 8080, 0, below(g, 1u << 31),
				below(g, 1u << 31));
		if (have_used && g->used[used].protocol != IPPROTO_ICMP) {
			spec.source = g->used[used].source;
			spec.destination = g->used[used].destination;
			spec.source_port = g->used[used].source_port;
			spec.destination_port = g->used[used].destination_port;
			spec.protocol = g->used[used].protocol;
			if (chance(g, 50)) {
				uint32_t address = spec.source;
				uint16_t port = spec.source_port;
				spec.source = spec.destination, spec.destination = address;
				spec.source_port = spec.destination_port, spec.destination_port = port;
			}
		}
		if (!local_sender(spec.source) && !local_sender(spec.destination))
			spec.destination = POD_A;
		spec.tcp_flags = flag_sets[below(g, COUNT(flag_sets))];
		if (chance(g, 30)) {
			spec.payload = pick(g, chance(g, 50));
			spec.payload_length = strlen(spec.payload);
		}
		emit(g, &spec, NULL, "a packet on a flow of this sequence");
		return;
	}
	}
}

static void policy_change(struct generator *g, struct diff_world *world)
{
	size_t pod = below(g, DIFF_LOCAL_PODS);
	struct diff_step *step = step_add(g, DIFF_STEP_POLICY_CHANGE, "policy change");

	if (!step)
		return;
	step->pod = pod;
	random_direction_policy(g, world, pod, DIFF_INGRESS, &step->policy[DIFF_INGRESS]);
	random_direction_policy(g, world, pod, DIFF_EGRESS, &step->policy[DIFF_EGRESS]);
	if (pod == g->l7_pod)
		add_http_rule(g, world, pod, &step->policy[DIFF_INGRESS], g->l7_client_identity);
}

/* The pod is deleted and a new pod (other endpoint id, maybe other labels and policies) takes
 * its address, as CNI DEL, ADD and the agent's next pass would leave it. */
static void pod_replaced(struct generator *g, struct diff_world *world)
{
	static const uint32_t identities[] = { IDENTITY_A, IDENTITY_B, 302, 303 };
	size_t pod = below(g, DIFF_LOCAL_PODS);
	struct diff_step *step = step_add(g, DIFF_STEP_POD_REPLACED, "pod replaced");

	if (!step)
		return;
	step->pod = pod;
	step->endpoint_id = 20 + (uint32_t)pod * 10 + below(g, 10);
	step->identity = identities[below(g, 4)];
	random_direction_policy(g, world, pod, DIFF_INGRESS, &step->policy[DIFF_INGRESS]);
	random_direction_policy(g, world, pod, DIFF_EGRESS, &step->policy[DIFF_EGRESS]);
	if (pod == g->l7_pod)
		add_http_rule(g, world, pod, &step->policy[DIFF_INGRESS], g->l7_client_identity);
}

int diff_generate(uint64_t seed, struct diff_sequence *sequence)
{
	struct generator g = { .random = seed, .sequence = sequence, .next_rule_id = 100,
			       .next_client_port = 30000, .next_ip_id = 1 };
	size_t actions;

	memset(sequence, 0, sizeof(*sequence));
	sequence->seed = seed;
	random_world(&g, &sequence->world);
	actions = 3 + below(&g, 10);
	for (size_t i = 0; i < actions; i++) {
		unsigned roll = below(&g, 100);

		if (roll < 40 && g.l7_pod != SIZE_MAX)
			tcp_conversation(&g, true);
		else if (roll < 55)
			tcp_conversation(&g, false);
		else if (roll < 65)
			datagram_conversation(&g);
		else if (roll < 92)
			stray_frame(&g);
		else if (roll < 95)
			policy_change(&g, &sequence->world);
		else if (roll < 98)
			pod_replaced(&g, &sequence->world);
		else {
			struct diff_step *step = step_add(&g, DIFF_STEP_TIME_PASSES, "time passes");
			if (step)
				step->seconds = chance(&g, 50) ? 11 : 70;
		}
	}
	return sequence->steps ? 0 : -1;
}

void diff_sequence_free(struct diff_sequence *sequence)
{
	free(sequence->steps);
	sequence->steps = NULL;
	sequence->count = sequence->capacity = 0;
}

static const char *address_name(uint32_t address)
{
	static char text[4][16];
	static int next;
	struct in_addr in = { htonl(address) };

	switch (address) {
	case POD_A: return "A";
	case POD_B: return "B";
	case POD_ELSEWHERE: return "C";
	case REMOTE_POD: return "remote";
	case WORLD_HOST: return "world";
	case CIDR_HOST: return "cidr";
	case NODE_HOST: return "node";
	case HAIRPIN_SOURCE: return "hairpin";
	default:
		next = (next + 1) % 4;
		inet_ntop(AF_INET, &in, text[next], sizeof(text[next]));
		return text[next];
	}
}

void diff_policies_describe(const struct diff_direction_policy policy[2], char *text,
			    size_t size)
{
	size_t used = 0;

	text[0] = 0;
	for (int direction = 0; direction < 2 && used < size; direction++) {
		used += (size_t)snprintf(text + used, size - used, "%s%s %s", direction ? "; " : "",
					 direction ? "egress" : "ingress",
					 policy[direction].isolation_rule ? "isolated" : "open");
		for (size_t r = 0; r < policy[direction].rule_count && used < size; r++) {
			const struct diff_rule *rule = &policy[direction].rules[r];

			used += (size_t)snprintf(text + used, size - used,
						 " [%s id %u proto %u ports %u-%u%s]",
						 rule->verdict == DIFF_ALLOW ? "allow" : "deny",
						 rule->identity, rule->protocol, rule->first_port,
						 rule->last_port, rule->http ? " http" : "");
		}
	}
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void diff_step_describe(const struct diff_step *step, char *text, size_t size)
{
	const uint8_t *ip = step->frame + 14, *l4;
	size_t header;
	char flags[8] = "", payload[40] = "";
	uint16_t fragment;

	if (step->kind == DIFF_STEP_TIME_PASSES) {
		snprintf(text, size, "%u s pass (%s)", step->seconds, step->note);
		return;
	}
	if (step->kind == DIFF_STEP_EVICTION) {
		snprintf(text, size, "the entry of %s:%u -> %s:%u is evicted (%s)",
			 address_name(step->evicted_source), step->evicted_source_port,
			 address_name(step->evicted_destination), step->evicted_destination_port,
			 step->note);
		return;
	}
	if (step->kind == DIFF_STEP_POD_REPLACED || step->kind == DIFF_STEP_POLICY_CHANGE) {
		char policies[600];

		diff_policies_describe(step->policy, policies, sizeof(policies));
		if (step->kind == DIFF_STEP_POD_REPLACED)
			snprintf(text, size, "pod %c replaced: endpoint %u, identity %u; %s",
				 "ABC"[step->pod], step->endpoint_id, step->identity, policies);
		else
			snprintf(text, size, "policy of pod %c changes: %s", "ABC"[step->pod],
				 policies);
		return;
	}
	if (step->length < 34 || step->frame[12] != 0x08 || step->frame[13] != 0) {
		snprintf(text, size, "%s: %zu-byte frame, not IPv4 (%s)",
			 step->hook == DIFF_FROM_POD ? "from_pod" : "to_pod", step->length,
			 step->note);
		return;
	}
	header = (size_t)(ip[0] & 0x0f) * 4;
	l4 = ip + header;
	fragment = (uint16_t)(ip[6] << 8 | ip[7]);
	if (ip[9] == IPPROTO_TCP && !(fragment & 0x1fff) && step->length >= 14 + header + 20) {
		static const char names[] = "FSRPAU";
		size_t n = 0, data = (size_t)(l4[12] >> 4) * 4;
		for (int bit = 0; bit < 6; bit++)
			if (l4[13] & (1 << bit))
				flags[n++] = names[bit];
		flags[n] = 0;
		if (step->length > 14 + header + data) {
			size_t length = step->length - 14 - header - data, j = 0;
			for (size_t i = 0; i < length && j + 3 < sizeof(payload); i++) {
				char c = (char)l4[data + i];
				payload[j++] = c == '\r' ? '~' : c == '\n' ? '|' : (c < 32 ? '.' : c);
			}
			payload[j] = 0;
		}
		snprintf(text, size,
			 "%s %s:%u -> %s:%u TCP %s seq %u ack %u urg %u len %zu%s \"%s\" (%s)",
			 step->hook == DIFF_FROM_POD ? "from_pod" : "to_pod",
			 address_name(be32(ip + 12)),
			 l4[0] << 8 | l4[1],
			 address_name(be32(ip + 16)),
			 l4[2] << 8 | l4[3], flags,
			 be32(l4 + 4),
			 be32(l4 + 8),
			 l4[18] << 8 | l4[19], step->length - 14 - header,
			 fragment & 0x2000 ? " MF" : "", payload, step->note);
		return;
	}
	if (ip[9] == IPPROTO_ICMP && !(fragment & 0x1fff) &&
	    (l4[0] == 3 || l4[0] == 11 || l4[0] == 12) && step->length >= 14 + header + 8 + 28) {
		const uint8_t *inner = l4 + 8, *ports = inner + (inner[0] & 0x0f) * 4;

		snprintf(text, size,
			 "%s %s -> %s ICMP error type %u quoting %s:%u -> %s:%u proto %u (%s)",
			 step->hook == DIFF_FROM_POD ? "from_pod" : "to_pod",
			 address_name(be32(ip + 12)),
			 address_name(be32(ip + 16)),
			 l4[0],
			 address_name(be32(inner + 12)),
			 ports[0] << 8 | ports[1],
			 address_name(be32(inner + 16)),
			 ports[2] << 8 | ports[3], inner[9], step->note);
		return;
	}
	snprintf(text, size, "%s %s -> %s proto %u id %u frag offset %u%s len %zu (%s)",
		 step->hook == DIFF_FROM_POD ? "from_pod" : "to_pod",
		 address_name(be32(ip + 12)),
		 address_name(be32(ip + 16)),
		 ip[9], ip[4] << 8 | ip[5], (fragment & 0x1fff) * 8,
		 fragment & 0x2000 ? " MF" : "", step->length - 14 - header, step->note);
}
