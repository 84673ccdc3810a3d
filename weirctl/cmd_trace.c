/* weirctl trace SRC DST PORT/PROTO: one crafted packet through the node's real, loaded datapath
 * program (BPF_PROG_TEST_RUN; nothing reaches the wire), explained step by step in the order
 * the program takes them: identities, conntrack, service translation, policy, verdict. The
 * explanation is read from the same maps the program reads; the verdict is the program's own
 * return code, and a drop's reason comes from the drop counter the run incremented, so the
 * explanation can never claim what the datapath did not do.
 *
 * Side effects are those of one real packet: counters count it and an event reports it. The
 * conntrack entries the run creates are deleted afterwards (when none existed before), so a
 * trace does not leave a half-open connection behind that would let later packets skip
 * policy. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/pkt_cls.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "datapath.h"
#include "http_rules.h"
#include "identity_lookup.h"
#include "names.h"
#include "output.h"
#include "policy_view.h"
#include "service_lookup.h"
#include "trace_packet.h"

/* One end of the traced packet. */
struct trace_end {
	uint32_t address; /* network byte order */
	const struct endpoint_record *pod;
	struct weir_endpoint endpoint; /* valid when local */
	bool local;		       /* a local endpoint in the endpoints map */
	uint32_t identity;
	char name[300]; /* "e2e/a" or the address */
};

struct trace {
	struct weirctl *ctl;
	struct datapath datapath;
	struct names names;
	struct trace_end source, destination;
	struct trace_packet packet;
	bool json;
	cJSON *document;
};

struct drop_snapshot {
	struct weir_drop_key *keys;
	uint64_t *packets;
	size_t count;
};

static void say(const struct trace *trace, const char *format, ...)
    __attribute__((format(printf, 2, 3)));
static void say(const struct trace *trace, const char *format, ...)
{
	va_list arguments;

	if (trace->json)
		return;
	va_start(arguments, format);
	vprintf(format, arguments);
	va_end(arguments);
}

/* NS/POD or an IPv4 address. Returns 0, 1 (no such pod here) or EXIT_USAGE. */
static int end_resolve(struct trace *trace, const struct command *command, const char *role,
		       const char *argument, struct trace_end *end)
{
	char pod_namespace[256];
	const char *pod_name;

	memset(end, 0, sizeof(*end));
	if (inet_pton(AF_INET, argument, &end->address) == 1) {
		end->pod = names_pod_by_address(&trace->names, ntohl(end->address));
	} else if (pod_name_split(argument, pod_namespace, sizeof(pod_namespace), &pod_name) == 0) {
		end->pod = names_pod_by_name(&trace->names, argument);
		if (!end->pod) {
			fprintf(
			    stderr,
			    "weirctl trace: %s %s is not a pod on this node (no endpoint record in "
			    "%s/endpoints; `weirctl endpoints` lists them). For a pod on another "
			    "node give its IPv4 address.\n",
			    role, argument, trace->ctl->state_dir);
			return 1;
		}
		end->address = htonl(end->pod->address);
	} else {
		return command_usage_error(command,
					   "%s \"%s\" is neither NAMESPACE/POD nor an IPv4 "
					   "address",
					   role, argument);
	}
	end->local =
	    datapath_endpoint_lookup(&trace->datapath, ntohl(end->address), &end->endpoint) == 0 &&
	    (end->endpoint.flags & WEIR_ENDPOINT_FLAG_LOCAL);
	end->identity = identity_of_address(&trace->datapath, end->address);
	if (end->pod)
		snprintf(end->name, sizeof(end->name), "%s/%s", end->pod->pod_namespace,
			 end->pod->pod_name);
	else
		inet_ntop(AF_INET, &end->address, end->name, sizeof(end->name));
	return 0;
}

/* "80/tcp", "icmp" or "0/icmp". Returns 0 or EXIT_USAGE. */
static int port_protocol_parse(const struct command *command, const char *text,
			       struct trace_packet *packet)
{
	const char *slash = strchr(text, '/');
	char *end;
	unsigned long port = 0;

	if (!slash) {
		if (protocol_parse(text, &packet->protocol) == 0 &&
		    packet->protocol == IPPROTO_ICMP)
			return 0;
		return command_usage_error(command, "\"%s\" is not PORT/PROTO (e.g. 80/tcp, icmp)",
					   text);
	}
	if (protocol_parse(slash + 1, &packet->protocol) < 0)
		return command_usage_error(command,
					   "\"%s\": the protocol is tcp, udp, sctp or icmp", text);
	errno = 0;
	port = strtoul(text, &end, 10);
	if (end != slash || errno ||
	    (packet->protocol != IPPROTO_ICMP && (port < 1 || port > 65535)))
		return command_usage_error(command, "\"%s\": the port is a number from 1 to 65535",
					   text);
	packet->destination_port = packet->protocol == IPPROTO_ICMP ? 0 : htons((uint16_t)port);
	return 0;
}

static cJSON *end_json(struct trace *trace, const struct trace_end *end)
{
	cJSON *object = cJSON_CreateObject();
	char address[16];

	inet_ntop(AF_INET, &end->address, address, sizeof(address));
	cJSON_AddStringToObject(object, "address", address);
	if (end->pod) {
		cJSON_AddStringToObject(object, "namespace", end->pod->pod_namespace);
		cJSON_AddStringToObject(object, "pod", end->pod->pod_name);
	} else {
		cJSON_AddNullToObject(object, "namespace");
		cJSON_AddNullToObject(object, "pod");
	}
	cJSON_AddBoolToObject(object, "local", end->local);
	if (end->local) {
		cJSON_AddNumberToObject(object, "endpointId", end->endpoint.endpoint_id);
		cJSON_AddNumberToObject(object, "hostIfindex", end->endpoint.host_ifindex);
	}
	cJSON_AddItemToObject(object, "identity", identity_json(&trace->names, end->identity));
	return object;
}

static void explain_end(struct trace *trace, const char *role, const struct trace_end *end)
{
	char address[16], words[1024];

	inet_ntop(AF_INET, &end->address, address, sizeof(address));
	identity_words(&trace->names, end->identity, words, sizeof(words));
	if (end->local)
		say(trace,
		    "%-12s %s %s: local pod, endpoint %u on %s (ifindex %u); identity %u (%s)\n",
		    role, end->name, address, end->endpoint.endpoint_id,
		    end->pod ? end->pod->host_ifname : "?", end->endpoint.host_ifindex,
		    end->identity, words);
	else
		say(trace, "%-12s %s: not a pod on this node; identity %u (%s) from the ipcache\n",
		    role, address, end->identity, words);
	cJSON_AddItemToObject(trace->document, role, end_json(trace, end));
}

static const char *ct_state_name(uint8_t state)
{
	switch (state) {
	case WEIR_CT_SYN_SENT: return "SYN_SENT";
	case WEIR_CT_ESTABLISHED: return "ESTABLISHED";
	case WEIR_CT_CLOSING: return "CLOSING";
	case WEIR_CT_OPEN: return "OPEN";
	default: return "?";
	}
}

static void ct_key_of(const struct trace_packet *packet, struct weir_ct_key *key)
{
	memset(key, 0, sizeof(*key));
	key->source = packet->source;
	key->destination = packet->destination;
	key->source_port = packet->source_port;
	key->destination_port = packet->destination_port;
	key->protocol = packet->protocol;
}

static void ct_key_swap(const struct weir_ct_key *key, struct weir_ct_key *swapped)
{
	memset(swapped, 0, sizeof(*swapped));
	swapped->source = key->destination;
	swapped->destination = key->source;
	swapped->source_port = key->destination_port;
	swapped->destination_port = key->source_port;
	swapped->protocol = key->protocol;
}

static bool ct_exists(struct trace *trace, const struct weir_ct_key *key,
		      struct weir_ct_entry *entry)
{
	struct weir_ct_entry ignored;

	return bpf_map_lookup_elem(trace->datapath.ct_fd, key, entry ? entry : &ignored) == 0;
}

/* A random ephemeral source port (echo identifier for ICMP) whose tuple conntrack does not
 * know in either direction, so the trace starts a new connection and touches nobody's. */
static void pick_source_port(struct trace *trace)
{
	for (int attempt = 0; attempt < 16; attempt++) {
		uint16_t random = 0;
		struct weir_ct_key key, swapped;

		if (getrandom(&random, sizeof(random), 0) != sizeof(random))
			random = (uint16_t)(getpid() + attempt * 7919);
		trace->packet.source_port = htons((uint16_t)(32768 + random % 28232));
		ct_key_of(&trace->packet, &key);
		ct_key_swap(&key, &swapped);
		if (!ct_exists(trace, &key, NULL) && !ct_exists(trace, &swapped, NULL))
			return;
	}
}

static void drops_collect(const struct weir_drop_key *key, uint64_t packets, uint64_t bytes,
			  void *context)
{
	struct drop_snapshot *snapshot = context;
	struct weir_drop_key *keys;
	uint64_t *counts;

	(void)bytes;
	keys = realloc(snapshot->keys, (snapshot->count + 1) * sizeof(*keys));
	if (keys)
		snapshot->keys = keys;
	counts = realloc(snapshot->packets, (snapshot->count + 1) * sizeof(*counts));
	if (counts)
		snapshot->packets = counts;
	if (!keys || !counts)
		return;
	snapshot->keys[snapshot->count] = *key;
	snapshot->packets[snapshot->count++] = packets;
}

static uint64_t drops_before(const struct drop_snapshot *snapshot, const struct weir_drop_key *key)
{
	for (size_t i = 0; i < snapshot->count; i++) {
		if (memcmp(&snapshot->keys[i], key, sizeof(*key)) == 0)
			return snapshot->packets[i];
	}
	return 0;
}

/* The drop counter the run incremented, if any. */
static bool drop_of_run(const struct drop_snapshot *before, const struct drop_snapshot *after,
			struct weir_drop_key *found)
{
	for (size_t i = 0; i < after->count; i++) {
		if (after->packets[i] > drops_before(before, &after->keys[i])) {
			*found = after->keys[i];
			return true;
		}
	}
	return false;
}

struct service_step {
	bool found;
	struct weir_service_key key;
	struct weir_service service;
	struct backend_view *backends;
	size_t backend_count;
};

static void service_lookup(struct trace *trace, struct service_step *step)
{
	memset(step, 0, sizeof(*step));
	if (trace->packet.protocol == IPPROTO_ICMP)
		return;
	step->key.address = trace->packet.destination;
	step->key.port = trace->packet.destination_port;
	step->key.protocol = trace->packet.protocol;
	step->found =
	    bpf_map_lookup_elem(trace->datapath.services_fd, &step->key, &step->service) == 0;
	if (step->found)
		service_backends(&trace->datapath, &step->service, &step->backends,
				 &step->backend_count);
}

static void explain_service(struct trace *trace, const struct service_step *step,
			    const struct trace_packet *after, bool translated)
{
	char address[16], words[400], listing[2048] = "";
	size_t used = 0;
	cJSON *object, *backends;

	inet_ntop(AF_INET, &trace->packet.destination, address, sizeof(address));
	if (trace->packet.protocol == IPPROTO_ICMP) {
		say(trace, "%-12s ICMP is never translated: Services carry TCP, UDP and SCTP\n",
		    "service");
		cJSON_AddNullToObject(trace->document, "service");
		return;
	}
	if (!step->found) {
		say(trace, "%-12s %s:%u/%s is not a Service address: no translation\n", "service",
		    address, ntohs(trace->packet.destination_port),
		    protocol_name(trace->packet.protocol));
		cJSON_AddNullToObject(trace->document, "service");
		return;
	}
	service_words(&trace->names, step->service.service_id, words, sizeof(words), NULL, NULL, 0);
	object = cJSON_AddObjectToObject(trace->document, "service");
	cJSON_AddStringToObject(object, "service", words);
	cJSON_AddNumberToObject(object, "serviceId", step->service.service_id);
	backends = cJSON_AddArrayToObject(object, "backends");
	for (size_t i = 0; i < step->backend_count; i++) {
		char backend[16];
		cJSON *item = cJSON_CreateObject();
		inet_ntop(AF_INET, &step->backends[i].backend.address, backend, sizeof(backend));
		cJSON_AddStringToObject(item, "address", backend);
		cJSON_AddNumberToObject(item, "port", ntohs(step->backends[i].backend.port));
		cJSON_AddItemToArray(backends, item);
		used += (size_t)snprintf(
		    listing + used, used < sizeof(listing) ? sizeof(listing) - used : 0, "%s%s:%u",
		    used ? ", " : "", backend, ntohs(step->backends[i].backend.port));
	}
	say(trace, "%-12s %s:%u/%s is Service %s; backends: %s\n", "service", address,
	    ntohs(trace->packet.destination_port), protocol_name(trace->packet.protocol), words,
	    step->backend_count ? listing : "none (clients are refused at once)");
	if (translated) {
		char backend[16];
		inet_ntop(AF_INET, &after->destination, backend, sizeof(backend));
		say(trace, "%-12s the program chose backend %s:%u\n", "", backend,
		    ntohs(after->destination_port));
		cJSON_AddItemToObject(object, "chosen", cJSON_CreateString(backend));
		cJSON_AddNumberToObject(object, "chosenPort", ntohs(after->destination_port));
	} else {
		cJSON_AddNullToObject(object, "chosen");
	}
}

static const char *lookup_words[] = {
    "",
    "{peer identity, protocol, port}",
    "{any identity, protocol, port}",
    "{peer identity, any protocol}",
    "{any identity, any protocol}",
};

/* One direction's policy, as bpf/lib/policy.h judges it: by the peer's identity and, when an
 * ipBlock names its address (address_peer, 0: none), by that too, a plain allow first. Returns
 * whether it allows, and fills denial with the deciding words when it does not. */
static bool explain_policy(struct trace *trace, cJSON *list, const char *pod, uint32_t endpoint_id,
			   uint8_t direction, uint32_t peer, uint32_t address_peer, uint16_t port,
			   char *denial, size_t denial_size)
{
	const char *direction_name = direction == WEIR_DIRECTION_INGRESS ? "ingress" : "egress";
	struct policy_decision decision;
	char peer_words[1024], isolators[1024], policy[512], ports[64], http[1024] = "";
	cJSON *object = cJSON_CreateObject();

	policy_decide(&trace->datapath, endpoint_id, direction, peer, trace->packet.protocol, port,
		      &decision);
	if (address_peer && decision.isolation_rule &&
	    !(decision.allowed && !(decision.entry.flags & WEIR_POLICY_FLAG_HTTP))) {
		struct policy_decision by_address;
		policy_decide(&trace->datapath, endpoint_id, direction, address_peer,
			      trace->packet.protocol, port, &by_address);
		if (by_address.allowed &&
		    (!decision.allowed || !(by_address.entry.flags & WEIR_POLICY_FLAG_HTTP))) {
			decision = by_address;
			peer = address_peer;
		}
	}
	identity_words(&trace->names, peer, peer_words, sizeof(peer_words));
	cJSON_AddStringToObject(object, "direction", direction_name);
	cJSON_AddStringToObject(object, "endpoint", pod);
	cJSON_AddNumberToObject(object, "endpointId", endpoint_id);
	cJSON_AddItemToObject(object, "peer", identity_json(&trace->names, peer));
	cJSON_AddBoolToObject(object, "isolated", decision.isolation_rule != 0);
	cJSON_AddItemToArray(list, object);
	if (!decision.isolation_rule) {
		say(trace, "%-12s %s of %s: no NetworkPolicy selects it for %s: allowed\n",
		    "policy", direction_name, pod, direction_name);
		cJSON_AddNullToObject(object, "lookup");
		cJSON_AddStringToObject(object, "verdict", "allow");
		cJSON_AddNullToObject(object, "policy");
		return true;
	}
	rule_words(&trace->names, decision.isolation_rule, isolators, sizeof(isolators));
	cJSON_AddStringToObject(object, "isolatedBy",
				strncmp(isolators, "isolated by ", 12) == 0 ? isolators + 12
									    : isolators);
	say(trace, "%-12s %s of %s (endpoint %u): %s; peer identity %u (%s)\n", "policy",
	    direction_name, pod, endpoint_id, isolators, peer, peer_words);
	/* The lookups before the deciding one found nothing (all four when none decided). */
	for (int step = POLICY_STEP_PEER_PORT; step < (int)decision.step; step++)
		say(trace, "%-12s   lookup %d %s: no entry\n", "", step, lookup_words[step]);
	if (decision.step == POLICY_STEP_DEFAULT_DENY) {
		snprintf(denial, denial_size,
			 "denied: no rule of the policies selecting %s allows it (%s)", pod,
			 isolators);
		say(trace, "%-12s   -> %s\n", "", denial);
		cJSON_AddNullToObject(object, "lookup");
		cJSON_AddStringToObject(object, "verdict", "deny");
		cJSON_AddStringToObject(object, "policy",
					strncmp(isolators, "isolated by ", 12) == 0 ? isolators + 12
										    : isolators);
		cJSON_AddNumberToObject(object, "ruleId", decision.isolation_rule);
		return false;
	}
	rule_words(&trace->names, decision.rule_id, policy, sizeof(policy));
	policy_ports_words(&decision.key, ports, sizeof(ports));
	identity_words(&trace->names, decision.key.identity, peer_words, sizeof(peer_words));
	say(trace, "%-12s   lookup %d %s: entry {%s, %s}: %s by %s\n", "", (int)decision.step,
	    lookup_words[decision.step], peer_words, ports, decision.allowed ? "allowed" : "denied",
	    policy);
	cJSON_AddNumberToObject(object, "lookup", (int)decision.step);
	cJSON_AddStringToObject(object, "verdict", decision.allowed ? "allow" : "deny");
	cJSON_AddStringToObject(object, "policy", policy);
	cJSON_AddNumberToObject(object, "ruleId", decision.rule_id);
	policy_ports_json(&decision.key, object);
	if (decision.entry.flags & WEIR_POLICY_FLAG_HTTP) {
		http_rules_describe(trace->datapath.http_rules_fd, decision.rule_id, http,
				    sizeof(http));
		say(trace, "%-12s   then every HTTP request on the connection must pass: %s\n", "",
		    http);
		cJSON_AddStringToObject(object, "http", http);
	}
	if (!decision.allowed)
		snprintf(denial, denial_size, "denied by %s", policy);
	return decision.allowed;
}

static const char *return_code_name(int code)
{
	switch (code) {
	case TC_ACT_OK: return "TC_ACT_OK";
	case TC_ACT_SHOT: return "TC_ACT_SHOT";
	case TC_ACT_REDIRECT: return "TC_ACT_REDIRECT";
	case TC_ACT_UNSPEC: return "TC_ACT_UNSPEC";
	default: return "TC_ACT_?";
	}
}

struct run {
	int program_fd;
	uint32_t ifindex;
	const char *program;
	uint8_t frame_out[256];
	uint32_t frame_out_length;
	int return_code;
};

static int run_program(struct trace *trace, struct run *run)
{
	uint8_t frame[256];
	size_t length = trace_packet_build(frame, sizeof(frame), &trace->packet);
	struct __sk_buff context = {.ifindex = run->ifindex};
	/* Spelled out rather than LIBBPF_OPTS(), which cppcheck cannot expand; .sz as it sets. */
	struct bpf_test_run_opts options = {
	    .sz = sizeof(options),
	    .data_in = frame,
	    .data_size_in = (uint32_t)length,
	    .data_out = run->frame_out,
	    .data_size_out = sizeof(run->frame_out),
	    .ctx_in = &context,
	    .ctx_size_in = sizeof(context),
	    .repeat = 1,
	};

	if (bpf_prog_test_run_opts(run->program_fd, &options) < 0) {
		int error = errno;
		fprintf(stderr,
			"weirctl trace: run the pinned %s program (BPF_PROG_TEST_RUN) on "
			"ifindex %u: %s\n",
			run->program, run->ifindex, strerror(error));
		if (error == ENODEV)
			fprintf(stderr,
				"  ifindex %u is not in this network namespace: run weirctl "
				"in the node's (nsenter --net=...)\n",
				run->ifindex);
		else if (error == EPERM || error == EACCES)
			fprintf(stderr, "  weirctl trace needs root (CAP_BPF and CAP_NET_ADMIN)\n");
		return -1;
	}
	run->return_code = (int)options.retval;
	run->frame_out_length = options.data_size_out;
	return 0;
}

/* Deletes the entries the run created: the tuple as sent and, for a Service, as translated. */
static int ct_cleanup(struct trace *trace, const struct weir_ct_key *keys, const bool *existed,
		      size_t count)
{
	int deleted = 0;

	for (size_t i = 0; i < count; i++) {
		if (!existed[i] && ct_exists(trace, &keys[i], NULL) &&
		    bpf_map_delete_elem(trace->datapath.ct_fd, &keys[i]) == 0)
			deleted++;
	}
	return deleted;
}

static void explain_conntrack(struct trace *trace, const struct weir_ct_key *forward)
{
	struct weir_ct_key reply;
	struct weir_ct_entry entry;
	cJSON *object = cJSON_AddObjectToObject(trace->document, "conntrack");
	bool forward_known = ct_exists(trace, forward, &entry), reply_known = false;

	if (!forward_known) {
		ct_key_swap(forward, &reply);
		reply_known = ct_exists(trace, &reply, &entry);
	}
	cJSON_AddBoolToObject(object, "existing", forward_known || reply_known);
	if (!forward_known && !reply_known) {
		say(trace,
		    "%-12s no entry for this tuple in either direction: a new connection, "
		    "judged by policy\n",
		    "conntrack");
		return;
	}
	cJSON_AddStringToObject(object, "direction", forward_known ? "forward" : "reply");
	cJSON_AddStringToObject(object, "state", ct_state_name(entry.state));
	cJSON_AddNumberToObject(object, "ruleId", entry.rule_id);
	say(trace,
	    "%-12s an existing entry (%s, %s): the packet follows it; policy is judged "
	    "again only when it changed since\n",
	    "conntrack", forward_known ? "forward" : "reply", ct_state_name(entry.state));
}

static int trace_run(struct trace *trace)
{
	struct drop_snapshot before = {0}, after = {0};
	struct weir_ct_key keys[1 + 64];
	bool existed[1 + 64];
	size_t key_count = 1;
	struct service_step service;
	struct run run = {0};
	struct trace_packet out;
	struct trace_end effective; /* the destination after service translation */
	struct weir_drop_key drop;
	char errbuf[256], source[16], destination[16], denial[1200] = "", action[300];
	bool translated, dropped, predicted = true;
	cJSON *policies, *result;
	int deleted;

	if (trace->source.local) {
		run.program = WEIR_PROG_FROM_POD;
		run.ifindex = trace->source.endpoint.host_ifindex;
		memcpy(trace->packet.source_mac, trace->source.endpoint.pod_mac, 6);
		memcpy(trace->packet.destination_mac, trace->source.endpoint.host_mac, 6);
	} else if (trace->destination.local) {
		run.program = WEIR_PROG_TO_POD;
		run.ifindex = trace->destination.endpoint.host_ifindex;
		memcpy(trace->packet.source_mac, trace->destination.endpoint.host_mac, 6);
		memcpy(trace->packet.destination_mac, trace->destination.endpoint.pod_mac, 6);
	} else {
		fprintf(stderr,
			"weirctl trace: neither %s nor %s is a pod on this node; trace runs "
			"the programs of this node's pod veths (`weirctl endpoints` lists "
			"them)\n",
			trace->source.name, trace->destination.name);
		return 1;
	}
	run.program_fd =
	    datapath_program_open(trace->ctl->bpffs, run.program, errbuf, sizeof(errbuf));
	if (run.program_fd < 0) {
		output_datapath_error(trace->ctl, errbuf);
		return 1;
	}
	trace->packet.source = trace->source.address;
	trace->packet.destination = trace->destination.address;
	pick_source_port(trace);
	inet_ntop(AF_INET, &trace->packet.source, source, sizeof(source));
	inet_ntop(AF_INET, &trace->packet.destination, destination, sizeof(destination));
	if (trace->packet.protocol == IPPROTO_ICMP)
		say(trace,
		    "tracing ICMP echo request %s -> %s (identifier %u) through this node's "
		    "datapath; nothing is sent\n",
		    source, destination, ntohs(trace->packet.source_port));
	else
		say(trace,
		    "tracing %s %s:%u -> %s:%u%s through this node's datapath; nothing is "
		    "sent\n",
		    protocol_name(trace->packet.protocol), source, ntohs(trace->packet.source_port),
		    destination, ntohs(trace->packet.destination_port),
		    trace->packet.protocol == IPPROTO_TCP ? " (SYN)" : "");
	{
		cJSON *packet = cJSON_AddObjectToObject(trace->document, "packet");
		cJSON_AddStringToObject(packet, "protocol", protocol_name(trace->packet.protocol));
		cJSON_AddStringToObject(packet, "source", source);
		cJSON_AddNumberToObject(packet, "sourcePort", ntohs(trace->packet.source_port));
		cJSON_AddStringToObject(packet, "destination", destination);
		cJSON_AddNumberToObject(packet, "destinationPort",
					ntohs(trace->packet.destination_port));
	}
	explain_end(trace, "source", &trace->source);
	explain_end(trace, "destination", &trace->destination);
	say(trace, "%-12s %s on %s (ifindex %u), as if %s\n", "program", run.program,
	    trace->source.local
		? (trace->source.pod ? trace->source.pod->host_ifname : "?")
		: (trace->destination.pod ? trace->destination.pod->host_ifname : "?"),
	    run.ifindex,
	    trace->source.local ? "the source pod sent it"
				: "the host stack delivered it to the pod");
	cJSON_AddStringToObject(trace->document, "program", run.program);
	cJSON_AddNumberToObject(trace->document, "ifindex", run.ifindex);

	/* Before the run: conntrack, the service and its possible translations, the drops. */
	ct_key_of(&trace->packet, &keys[0]);
	explain_conntrack(trace, &keys[0]);
	existed[0] = ct_exists(trace, &keys[0], NULL);
	if (trace->source.local)
		service_lookup(trace, &service);
	else
		memset(&service, 0, sizeof(service));
	for (size_t i = 0; i < service.backend_count && key_count < 1 + 64; i++) {
		struct trace_packet translated_packet = trace->packet;
		translated_packet.destination = service.backends[i].backend.address;
		translated_packet.destination_port = service.backends[i].backend.port;
		if (translated_packet.destination == translated_packet.source)
			translated_packet.source = htonl(WEIR_HAIRPIN_ADDRESS);
		ct_key_of(&translated_packet, &keys[key_count]);
		existed[key_count] = ct_exists(trace, &keys[key_count], NULL);
		key_count++;
	}
	datapath_drop_for_each(&trace->datapath, drops_collect, &before);

	if (run_program(trace, &run) < 0) {
		close(run.program_fd);
		free(service.backends);
		free(before.keys);
		free(before.packets);
		return 1;
	}
	close(run.program_fd);
	datapath_drop_for_each(&trace->datapath, drops_collect, &after);
	dropped = drop_of_run(&before, &after, &drop);
	if (trace_packet_parse(run.frame_out, run.frame_out_length, &out) < 0)
		out = trace->packet;
	translated = service.found && (out.destination != trace->packet.destination ||
				       out.destination_port != trace->packet.destination_port);
	if (trace->source.local)
		explain_service(trace, &service, &out, translated);

	/* Policy, against the destination the packet really goes to. */
	effective = trace->destination;
	if (translated) {
		memset(&effective, 0, sizeof(effective));
		effective.address = out.destination;
		effective.pod = names_pod_by_address(&trace->names, ntohl(out.destination));
		effective.local = datapath_endpoint_lookup(&trace->datapath, ntohl(out.destination),
							   &effective.endpoint) == 0 &&
				  (effective.endpoint.flags & WEIR_ENDPOINT_FLAG_LOCAL);
		effective.identity = identity_of_address(&trace->datapath, out.destination);
		if (effective.pod)
			snprintf(effective.name, sizeof(effective.name), "%s/%s",
				 effective.pod->pod_namespace, effective.pod->pod_name);
		else
			inet_ntop(AF_INET, &out.destination, effective.name,
				  sizeof(effective.name));
	}
	policies = cJSON_AddArrayToObject(trace->document, "policy");
	{
		uint16_t port = trace->packet.protocol == IPPROTO_ICMP ? 0 : out.destination_port;
		if (trace->source.local)
			predicted &= explain_policy(trace, policies, trace->source.name,
						    trace->source.endpoint.endpoint_id,
						    WEIR_DIRECTION_EGRESS, effective.identity,
						    address_identity_of_address(&trace->datapath,
										out.destination),
						    port, denial, sizeof(denial));
		if (predicted && effective.local) {
			uint32_t peer = out.source == htonl(WEIR_HAIRPIN_ADDRESS)
					    ? effective.identity
					    : trace->source.identity;
			uint32_t address_peer = address_identity_of_address(
			    &trace->datapath, out.source == htonl(WEIR_HAIRPIN_ADDRESS)
						      ? out.destination
						      : trace->source.address);
			if (peer == WEIR_IDENTITY_HOST)
				say(trace,
				    "%-12s ingress of %s: the node always reaches its own pods "
				    "(kubelet probes): allowed\n",
				    "policy", effective.name);
			else
				predicted &= explain_policy(
				    trace, policies, effective.name, effective.endpoint.endpoint_id,
				    WEIR_DIRECTION_INGRESS, peer, address_peer, port, denial,
				    sizeof(denial));
		}
	}

	/* The program's own verdict. */
	result = cJSON_AddObjectToObject(trace->document, "result");
	cJSON_AddNumberToObject(result, "returnCode", run.return_code);
	cJSON_AddStringToObject(result, "action", return_code_name(run.return_code));
	if (dropped) {
		const char *reason = drop.reason < WEIR_DROP_REASON_MAX
					 ? weir_drop_reason_names[drop.reason]
					 : "unknown";
		const struct endpoint_record *at =
		    names_pod_by_endpoint(&trace->names, drop.endpoint_id);
		char counted_for[300];
		if (at)
			snprintf(counted_for, sizeof(counted_for), "%s/%s", at->pod_namespace,
				 at->pod_name);
		else
			snprintf(counted_for, sizeof(counted_for), "endpoint %u", drop.endpoint_id);
		snprintf(action, sizeof(action), "dropped: %s (counted for %s, %s)", reason,
			 counted_for,
			 drop.direction == WEIR_DIRECTION_INGRESS ? "ingress" : "egress");
		cJSON_AddStringToObject(result, "dropReason", reason);
		cJSON_AddNumberToObject(result, "dropEndpointId", drop.endpoint_id);
	} else if (run.return_code == TC_ACT_SHOT) {
		snprintf(action, sizeof(action), "dropped");
	} else if (run.return_code == TC_ACT_REDIRECT) {
		snprintf(action, sizeof(action), "delivered to local pod %s (bpf_redirect_peer)",
			 effective.name);
	} else if (run.return_code == TC_ACT_OK && trace->source.local) {
		snprintf(action, sizeof(action), "passed to the host stack (routed on to %s)",
			 effective.name);
	} else if (run.return_code == TC_ACT_OK) {
		snprintf(action, sizeof(action), "delivered to pod %s through its veth",
			 effective.name);
	} else {
		snprintf(action, sizeof(action), "return code %d", run.return_code);
	}
	dropped |= run.return_code == TC_ACT_SHOT;
	say(trace, "%-12s %s (%d): %s\n", "program", return_code_name(run.return_code),
	    run.return_code, action);
	cJSON_AddStringToObject(result, "outcome", action);
	if (dropped != !predicted)
		say(trace,
		    "%-12s the program's verdict differs from the policy lookups above: %s\n",
		    "note",
		    dropped ? "it dropped the packet before or besides policy (see the reason)"
			    : "an existing connection or an L7 rule decided");
	if (!dropped) {
		say(trace, "verdict      allowed\n");
		cJSON_AddStringToObject(result, "verdict", "allowed");
	} else if (!predicted && denial[0]) {
		say(trace, "verdict      %s\n", denial);
		cJSON_AddStringToObject(result, "verdict", "denied");
		cJSON_AddStringToObject(result, "reason", denial);
	} else {
		say(trace, "verdict      %s\n", action);
		cJSON_AddStringToObject(result, "verdict", "dropped");
		cJSON_AddStringToObject(result, "reason", action);
	}

	/* The run created conntrack state for a connection that does not exist. */
	{
		struct weir_ct_key translated_key;
		ct_key_of(&out, &translated_key);
		for (size_t i = 1; i < key_count; i++) {
			if (memcmp(&keys[i], &translated_key, sizeof(translated_key)) != 0)
				existed[i] = true; /* not this run's: leave it */
		}
	}
	deleted = ct_cleanup(trace, keys, existed, key_count);
	cJSON_AddNumberToObject(trace->document, "conntrackEntriesDeleted", deleted);
	if (deleted)
		say(trace,
		    "%-12s deleted the %d conntrack entr%s the run created; counters did count "
		    "the traced packet\n",
		    "cleanup", deleted, deleted == 1 ? "y" : "ies");
	free(service.backends);
	free(before.keys);
	free(before.packets);
	free(after.keys);
	free(after.packets);
	return 0;
}

int command_trace(struct weirctl *ctl, const struct command *command, int argc, char **argv)
{
	int parsed = command_options(ctl, command, argc, argv, NULL, NULL, NULL, NULL);
	struct trace trace = {.ctl = ctl};
	char errbuf[256];
	int result;

	if (parsed < 0)
		return command_options_exit(parsed);
	if (argc - parsed != 3)
		return command_usage_error(command, "needs SRC, DST and PORT/PROTO");
	result = port_protocol_parse(command, argv[parsed + 2], &trace.packet);
	if (result)
		return result;
	if (datapath_open(&trace.datapath, ctl->bpffs, errbuf, sizeof(errbuf)) < 0) {
		output_datapath_error(ctl, errbuf);
		return 1;
	}
	names_load(&trace.names, ctl->state_dir);
	trace.json = output_is_json(ctl);
	trace.document = cJSON_CreateObject();
	result = end_resolve(&trace, command, "SRC", argv[parsed], &trace.source);
	if (!result)
		result = end_resolve(&trace, command, "DST", argv[parsed + 1], &trace.destination);
	if (!result)
		result = trace_run(&trace);
	if (!result && trace.json) {
		result = output_json_print(trace.document);
		trace.document = NULL;
	}
	cJSON_Delete(trace.document);
	names_free(&trace.names);
	datapath_close(&trace.datapath);
	return result;
}
