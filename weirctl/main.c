/* weirctl: the operator's view of one node. `status` asks the agent; `endpoints` and
 * `counters` read the pinned maps and endpoint records directly, so they work while the agent
 * is down. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cidr.h"
#include "datapath.h"
#include "endpoint_record.h"
#include "atomic_file.h"
#include "mac.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <cJSON.h>

static void usage(FILE *stream)
{
	fprintf(stream, "usage: weirctl [--bpffs DIR] [--state-dir DIR] COMMAND\n"
			"commands:\n"
			"  status      the agent's readiness, node and pod CIDR\n"
			"  endpoints   local pods with address, interface and traffic counters\n"
			"  counters    datapath counters by outcome\n"
			"  drops       dropped packets by pod, reason and direction\n"
			"  identities  security identities and the label sets they stand for\n"
			"  services    service addresses and their backends\n"
			"  policy NS/POD  what the datapath allows the pod, in both directions\n");
}

static int command_status(const char *state_dir)
{
	struct sockaddr_un address = { .sun_family = AF_UNIX };
	char reply[1024];
	ssize_t n;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(address.sun_path, sizeof(address.sun_path), "%s/weir.sock", state_dir);
	if (fd < 0 || connect(fd, (struct sockaddr *)&address, sizeof(address)) < 0) {
		fprintf(stderr, "weirctl: weir-agent is not running: connect %s: %s\n",
			address.sun_path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return 1;
	}
	if (write(fd, "status\n", 7) != 7) {
		fprintf(stderr, "weirctl: ask %s: %s\n", address.sun_path, strerror(errno));
		close(fd);
		return 1;
	}
	n = read(fd, reply, sizeof(reply) - 1);
	close(fd);
	if (n <= 0) {
		fprintf(stderr, "weirctl: no answer from %s\n", address.sun_path);
		return 1;
	}
	reply[n] = '\0';
	fputs(reply, stdout);
	return strstr(reply, "\"ready\":true") ? 0 : 1;
}

struct endpoints_context {
	struct datapath *datapath;
	int count;
};

static void print_endpoint(const struct endpoint_record *record, void *opaque)
{
	struct endpoints_context *context = opaque;
	struct weir_endpoint_stats stats = { 0 };
	struct weir_endpoint endpoint;
	char address[16], mac[18], pod[300];
	const char *in_map = "yes";

	if (datapath_endpoint_lookup(context->datapath, record->address, &endpoint) < 0)
		in_map = "MISSING";
	datapath_endpoint_stats(context->datapath, record->endpoint_id, &stats);
	snprintf(pod, sizeof(pod), "%s/%s", record->pod_namespace, record->pod_name);
	printf("%-6u %-15s %-32s %-15s %-17s %-7s %14llu %14llu\n", record->endpoint_id,
	       ipv4_address_format(record->address, address), pod,
	       record->host_ifname, mac_format(record->pod_mac, mac), in_map,
	       (unsigned long long)stats.from_pod_packets, (unsigned long long)stats.to_pod_packets);
	context->count++;
}

static int command_endpoints(const char *bpffs, const char *state_dir)
{
	struct datapath datapath;
	struct endpoints_context context = { &datapath, 0 };
	char errbuf[256];

	if (datapath_open(&datapath, bpffs, errbuf, sizeof(errbuf)) < 0) {
		fprintf(stderr, "weirctl: %s\n", errbuf);
		return 1;
	}
	printf("%-6s %-15s %-32s %-15s %-17s %-7s %14s %14s\n", "ID", "ADDRESS", "POD", "HOST-VETH",
	       "POD-MAC", "IN-MAP", "FROM-POD-PKTS", "TO-POD-PKTS");
	endpoint_record_for_each(state_dir, print_endpoint, &context);
	datapath_close(&datapath);
	return 0;
}

static int command_counters(const char *bpffs)
{
	struct datapath datapath;
	char errbuf[256];

	if (datapath_open(&datapath, bpffs, errbuf, sizeof(errbuf)) < 0) {
		fprintf(stderr, "weirctl: %s\n", errbuf);
		return 1;
	}
	for (int counter = 0; counter < WEIR_COUNTER_MAX; counter++) {
		uint64_t total = 0;
		datapath_counter_read(&datapath, (enum weir_counter)counter, &total);
		printf("%-28s %llu\n", weir_counter_names[counter], (unsigned long long)total);
	}
	datapath_close(&datapath);
	return 0;
}

struct pod_names {
	struct endpoint_record *records;
	size_t count;
};

static void remember_record(const struct endpoint_record *record, void *opaque)
{
	struct pod_names *names = opaque;
	struct endpoint_record *grown =
		realloc(names->records, (names->count + 1) * sizeof(*names->records));

	if (!grown)
		return;
	names->records = grown;
	names->records[names->count++] = *record;
}

static void print_drop(const struct weir_drop_key *key, uint64_t packets, uint64_t bytes,
		       void *opaque)
{
	const struct pod_names *names = opaque;
	char pod[300] = "-";

	for (size_t i = 0; i < names->count; i++) {
		if (key->endpoint_id && names->records[i].endpoint_id == key->endpoint_id)
			snprintf(pod, sizeof(pod), "%s/%s", names->records[i].pod_namespace,
				 names->records[i].pod_name);
	}
	printf("%-6u %-32s %-24s %-8s %12llu %14llu\n", key->endpoint_id, pod,
	       key->reason < WEIR_DROP_REASON_MAX ? weir_drop_reason_names[key->reason] : "?",
	       key->direction == WEIR_DIRECTION_INGRESS ? "ingress" : "egress",
	       (unsigned long long)packets, (unsigned long long)bytes);
}

static int command_drops(const char *bpffs, const char *state_dir)
{
	struct pod_names names = { NULL, 0 };
	struct datapath datapath;
	char errbuf[256];

	if (datapath_open(&datapath, bpffs, errbuf, sizeof(errbuf)) < 0) {
		fprintf(stderr, "weirctl: %s\n", errbuf);
		return 1;
	}
	endpoint_record_for_each(state_dir, remember_record, &names);
	printf("%-6s %-32s %-24s %-8s %12s %14s\n", "ID", "POD", "REASON", "DIR", "PACKETS",
	       "BYTES");
	datapath_drop_for_each(&datapath, print_drop, &names);
	free(names.records);
	datapath_close(&datapath);
	return 0;
}

/* An id table file of the agent ({"ids": {key: id}}), for turning numbers back into names. */
static cJSON *id_file_load(const char *state_dir, const char *name)
{
	char path[600];
	char *text;
	cJSON *document;

	snprintf(path, sizeof(path), "%s/%s", state_dir, name);
	text = file_read_all(path, NULL);
	if (!text)
		return NULL;
	document = cJSON_Parse(text);
	free(text);
	return document;
}

static const char *id_file_key(const cJSON *document, uint32_t id)
{
	const cJSON *entry;

	cJSON_ArrayForEach(entry, cJSON_GetObjectItemCaseSensitive(document, "ids"))
	{
		if (cJSON_IsNumber(entry) && (uint32_t)entry->valuedouble == id)
			return entry->string;
	}
	return NULL;
}

static void identity_words(const cJSON *identities, uint32_t identity, char *out, size_t size)
{
	const char *key = id_file_key(identities, identity);

	switch (identity) {
	case WEIR_IDENTITY_ANY: snprintf(out, size, "anyone"); return;
	case WEIR_IDENTITY_HOST: snprintf(out, size, "host"); return;
	case WEIR_IDENTITY_WORLD: snprintf(out, size, "world"); return;
	case WEIR_IDENTITY_REMOTE_NODE: snprintf(out, size, "remote-node"); return;
	default: break;
	}
	if (!key) {
		snprintf(out, size, "identity %u", identity);
		return;
	}
	/* "namespace=x\nnamespace-label:...\nk=v\n" -> "x: k=v,k=v" */
	{
		char copy[1024], *saveptr = NULL, *line;
		size_t used = 0;
		snprintf(copy, sizeof(copy), "%s", key);
		out[0] = '\0';
		for (line = strtok_r(copy, "\n", &saveptr); line; line = strtok_r(NULL, "\n", &saveptr)) {
			if (strncmp(line, "namespace-label:", 16) == 0)
				continue;
			if (strncmp(line, "namespace=", 10) == 0)
				used += (size_t)snprintf(out + used, size > used ? size - used : 0,
							 "%s:", line + 10);
			else
				used += (size_t)snprintf(out + used, size > used ? size - used : 0,
							 " %s", line);
		}
	}
}

static int command_identities(const char *state_dir)
{
	cJSON *identities = id_file_load(state_dir, "identities.json"), *entry;
	char words[1024];

	printf("%-10s %s\n", "IDENTITY", "NAMESPACE: LABELS");
	printf("%-10u %s\n%-10u %s\n%-10u %s\n", WEIR_IDENTITY_HOST, "host (reserved)",
	       WEIR_IDENTITY_WORLD, "world (reserved)", WEIR_IDENTITY_REMOTE_NODE,
	       "remote-node (reserved)");
	cJSON_ArrayForEach(entry, cJSON_GetObjectItemCaseSensitive(identities, "ids"))
	{
		identity_words(identities, (uint32_t)entry->valuedouble, words, sizeof(words));
		printf("%-10u %s\n", (uint32_t)entry->valuedouble, words);
	}
	cJSON_Delete(identities);
	return 0;
}

static int command_services(const char *bpffs, const char *state_dir)
{
	struct datapath datapath;
	struct weir_service_key key, next;
	cJSON *names = id_file_load(state_dir, "service-ids.json");
	void *previous = NULL;
	char errbuf[256];

	if (datapath_open(&datapath, bpffs, errbuf, sizeof(errbuf)) < 0) {
		fprintf(stderr, "weirctl: %s\n", errbuf);
		cJSON_Delete(names);
		return 1;
	}
	printf("%-22s %-5s %-40s %s\n", "ADDRESS", "PROTO", "SERVICE", "BACKENDS");
	while (bpf_map_get_next_key(datapath.services_fd, previous, &next) == 0) {
		struct weir_service service;
		char address[16], backends[1024] = "";
		size_t used = 0;
		uint32_t seen[64];
		size_t seen_count = 0;

		if (bpf_map_lookup_elem(datapath.services_fd, &next, &service) == 0) {
			for (uint32_t slot = 0; slot < WEIR_MAGLEV_SIZE && service.backend_count; slot++) {
				struct weir_maglev_key maglev_key = { service.service_id, slot };
				uint32_t backend_id;
				struct weir_backend backend;
				bool known = false;
				if (bpf_map_lookup_elem(datapath.maglev_fd, &maglev_key, &backend_id) < 0)
					continue;
				for (size_t i = 0; i < seen_count; i++)
					known |= seen[i] == backend_id;
				if (known || seen_count >= 64 ||
				    bpf_map_lookup_elem(datapath.backends_fd, &backend_id, &backend) < 0)
					continue;
				seen[seen_count++] = backend_id;
				used += (size_t)snprintf(backends + used,
							 sizeof(backends) > used ? sizeof(backends) - used : 0,
							 "%s%s:%u", used ? " " : "",
							 inet_ntop(AF_INET, &backend.address, address,
								   sizeof(address)),
							 ntohs(backend.port));
			}
			char vip[32];
			const char *name = id_file_key(names, service.service_id);
			snprintf(vip, sizeof(vip), "%s:%u",
				 inet_ntop(AF_INET, &next.address, address, sizeof(address)),
				 ntohs(next.port));
			printf("%-22s %-5s %-40s %s\n", vip,
			       next.protocol == 6 ? "TCP" : next.protocol == 17 ? "UDP" : "SCTP",
			       name ? name : "?", service.backend_count ? backends : "(none: refused)");
		}
		key = next;
		previous = &key;
	}
	datapath_close(&datapath);
	cJSON_Delete(names);
	return 0;
}

struct pod_lookup {
	const char *pod_namespace, *pod_name;
	struct endpoint_record found;
	bool ok;
};

static void find_pod(const struct endpoint_record *record, void *opaque)
{
	struct pod_lookup *lookup = opaque;

	if (strcmp(record->pod_namespace, lookup->pod_namespace) == 0 &&
	    strcmp(record->pod_name, lookup->pod_name) == 0) {
		lookup->found = *record;
		lookup->ok = true;
	}
}

static int command_policy(const char *bpffs, const char *state_dir, const char *pod)
{
	char pod_namespace[256], errbuf[256], words[1024];
	const char *slash = strchr(pod, '/');
	struct pod_lookup lookup = { 0 };
	struct datapath datapath;
	struct weir_endpoint_policy isolation = { 0 };
	cJSON *rules, *identities;
	struct weir_policy_key key, next;
	void *previous = NULL;

	if (!slash || slash == pod || !slash[1] || (size_t)(slash - pod) >= sizeof(pod_namespace)) {
		fprintf(stderr, "weirctl: policy needs NAMESPACE/POD, got \"%s\"\n", pod);
		return 2;
	}
	memcpy(pod_namespace, pod, (size_t)(slash - pod));
	pod_namespace[slash - pod] = '\0';
	lookup.pod_namespace = pod_namespace;
	lookup.pod_name = slash + 1;
	endpoint_record_for_each(state_dir, find_pod, &lookup);
	if (!lookup.ok) {
		fprintf(stderr, "weirctl: no pod %s on this node (no endpoint record in %s)\n", pod,
			state_dir);
		return 1;
	}
	if (datapath_open(&datapath, bpffs, errbuf, sizeof(errbuf)) < 0) {
		fprintf(stderr, "weirctl: %s\n", errbuf);
		return 1;
	}
	rules = id_file_load(state_dir, "rules.json");
	identities = id_file_load(state_dir, "identities.json");
	bpf_map_lookup_elem(datapath.endpoint_policy_fd, &lookup.found.endpoint_id, &isolation);
	for (int direction = 0; direction < 2; direction++) {
		uint32_t isolating = direction == WEIR_DIRECTION_INGRESS
					     ? isolation.ingress_isolation_rule
					     : isolation.egress_isolation_rule;
		const char *isolators = id_file_key(rules, isolating);
		printf("%s of %s (endpoint %u):\n", direction == WEIR_DIRECTION_INGRESS ? "ingress" : "egress",
		       pod, lookup.found.endpoint_id);
		if (!isolating) {
			printf("  everything is allowed: no NetworkPolicy selects the pod for %s\n",
			       direction == WEIR_DIRECTION_INGRESS ? "ingress" : "egress");
			continue;
		}
		printf("  %s; everything else is denied. Allowed:\n",
		       isolators ? isolators : "isolated");
		previous = NULL;
		while (bpf_map_get_next_key(datapath.policy_fd, previous, &next) == 0) {
			struct weir_policy_entry entry;
			if (next.endpoint_id == lookup.found.endpoint_id && next.direction == direction &&
			    bpf_map_lookup_elem(datapath.policy_fd, &next, &entry) == 0) {
				unsigned port_bits = next.prefix_length - WEIR_POLICY_PREFIX_FIXED;
				const char *rule = id_file_key(rules, entry.rule_id);
				char ports[64];
				identity_words(identities, next.identity, words, sizeof(words));
				if (next.protocol == 0)
					snprintf(ports, sizeof(ports), "any protocol, any port");
				else if (port_bits == 0)
					snprintf(ports, sizeof(ports), "%s any port",
						 next.protocol == 6 ? "TCP" : next.protocol == 17 ? "UDP" : "SCTP");
				else if (port_bits == 16)
					snprintf(ports, sizeof(ports), "%s %u",
						 next.protocol == 6 ? "TCP" : next.protocol == 17 ? "UDP" : "SCTP",
						 ntohs(next.port));
				else
					snprintf(ports, sizeof(ports), "%s %u-%u",
						 next.protocol == 6 ? "TCP" : next.protocol == 17 ? "UDP" : "SCTP",
						 ntohs(next.port),
						 ntohs(next.port) + (1u << (16 - port_bits)) - 1);
				printf("    %s %s: %s (%s%s)\n",
				       direction == WEIR_DIRECTION_INGRESS ? "from" : "to", words, ports,
				       entry.verdict == WEIR_VERDICT_ALLOW ? "allowed by " : "denied by ",
				       rule ? (strncmp(rule, "policy ", 7) == 0 ? rule + 7 : rule) : "?");
			}
			key = next;
			previous = &key;
		}
	}
	cJSON_Delete(rules);
	cJSON_Delete(identities);
	datapath_close(&datapath);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option long_options[] = {
		{ "bpffs", required_argument, 0, 'b' },
		{ "state-dir", required_argument, 0, 'd' },
		{ "help", no_argument, 0, 'h' },
		{ 0, 0, 0, 0 },
	};
	const char *bpffs = "/sys/fs/bpf/weir", *state_dir = "/var/lib/weir";
	int option;

	while ((option = getopt_long(argc, argv, "h", long_options, NULL)) != -1) {
		switch (option) {
		case 'b': bpffs = optarg; break;
		case 'd': state_dir = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind == argc - 2 && strcmp(argv[optind], "policy") == 0)
		return command_policy(bpffs, state_dir, argv[optind + 1]);
	if (optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[optind], "status") == 0)
		return command_status(state_dir);
	if (strcmp(argv[optind], "endpoints") == 0)
		return command_endpoints(bpffs, state_dir);
	if (strcmp(argv[optind], "counters") == 0)
		return command_counters(bpffs);
	if (strcmp(argv[optind], "drops") == 0)
		return command_drops(bpffs, state_dir);
	if (strcmp(argv[optind], "identities") == 0)
		return command_identities(state_dir);
	if (strcmp(argv[optind], "services") == 0)
		return command_services(bpffs, state_dir);
	fprintf(stderr, "weirctl: unknown command %s\n", argv[optind]);
	usage(stderr);
	return 2;
}
