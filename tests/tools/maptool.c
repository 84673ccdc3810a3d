/* weir-maptool: programs a node's pinned datapath maps through the userspace library, so the
 * end-to-end tests (and the benchmarks) can set identities and policy without an agent. A test
 * tool, not an operator tool: the agent owns these maps in production. */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>

#include "cidr.h"
#include "datapath.h"

static void usage(FILE *stream)
{
	fprintf(stream,
		"usage: weir-maptool --bpffs DIR COMMAND ...\n"
		"  ipcache-set CIDR IDENTITY\n"
		"  endpoint-id ADDRESS\n"
		"  isolate ENDPOINT_ID INGRESS_RULE EGRESS_RULE   (0 opens a direction)\n"
		"  allow|deny|delete ENDPOINT_ID ingress|egress IDENTITY tcp|udp|sctp|icmp|any "
		"PORT[-LAST]|any RULE_ID\n"
		"  bump\n"
		"  drops ENDPOINT_ID REASON ingress|egress\n"
		"  ct-count\n"
		"  ct-fill COUNT          (COUNT established TCP entries 198.18.x.y:p -> 198.19.0.1:80)\n"
		"  ct-forget SOURCE DESTINATION PORT   (removes the entries of connections from SOURCE\n"
		"                         to DESTINATION:PORT, as an LRU eviction would; prints how many)\n"
		"  policy-count\n"
		"  policy-fill ENDPOINT_ID FIRST_IDENTITY COUNT   (ingress allow tcp/1 per identity;\n"
		"                         stops at the first refused write, prints how many went in)\n"
		"  policy-drain ENDPOINT_ID FIRST_IDENTITY COUNT  (removes what policy-fill wrote)\n"
		"  ipcache-fill FIRST_ADDRESS IDENTITY COUNT  (/32s from FIRST_ADDRESS up, until COUNT or\n"
		"                         the kernel refuses one; prints how many went in)\n"
		"  ipcache-drain FIRST_ADDRESS COUNT          (removes what ipcache-fill wrote)\n");
}

static int parse_number(const char *text, const char *what, unsigned long maximum,
			unsigned long *value)
{
	char *end;

	errno = 0;
	*value = strtoul(text, &end, 10);
	if (errno || *end || end == text || *value > maximum) {
		fprintf(stderr, "weir-maptool: %s \"%s\" is not a number up to %lu\n", what, text,
			maximum);
		return -1;
	}
	return 0;
}

static int parse_direction(const char *text, uint8_t *direction)
{
	if (strcmp(text, "ingress") == 0)
		*direction = WEIR_DIRECTION_INGRESS;
	else if (strcmp(text, "egress") == 0)
		*direction = WEIR_DIRECTION_EGRESS;
	else {
		fprintf(stderr, "weir-maptool: direction \"%s\" is not ingress or egress\n", text);
		return -1;
	}
	return 0;
}

static int parse_rule(char **argv, uint8_t verdict, struct policy_rule *rule)
{
	static const struct {
		const char *name;
		uint8_t number;
	} protocols[] = { { "tcp", IPPROTO_TCP },   { "udp", IPPROTO_UDP }, { "sctp", IPPROTO_SCTP },
			  { "icmp", IPPROTO_ICMP }, { "any", 0 } };
	unsigned long value;
	bool known = false;

	memset(rule, 0, sizeof(*rule));
	rule->verdict = verdict;
	if (parse_number(argv[0], "endpoint id", UINT32_MAX, &value))
		return -1;
	rule->endpoint_id = (uint32_t)value;
	if (parse_direction(argv[1], &rule->direction))
		return -1;
	if (parse_number(argv[2], "identity", UINT32_MAX, &value))
		return -1;
	rule->identity = (uint32_t)value;
	for (size_t i = 0; i < sizeof(protocols) / sizeof(protocols[0]); i++) {
		if (strcmp(argv[3], protocols[i].name) == 0) {
			rule->protocol = protocols[i].number;
			known = true;
		}
	}
	if (!known) {
		fprintf(stderr, "weir-maptool: protocol \"%s\" is not tcp, udp, sctp, icmp or any\n",
			argv[3]);
		return -1;
	}
	if (strcmp(argv[4], "any") != 0) {
		char first[16];
		const char *dash = strchr(argv[4], '-');
		size_t length = dash ? (size_t)(dash - argv[4]) : strlen(argv[4]);

		if (length >= sizeof(first)) {
			fprintf(stderr, "weir-maptool: port \"%s\" is malformed\n", argv[4]);
			return -1;
		}
		memcpy(first, argv[4], length);
		first[length] = '\0';
		if (parse_number(first, "port", 65535, &value))
			return -1;
		rule->first_port = (uint16_t)value;
		if (dash) {
			if (parse_number(dash + 1, "last port", 65535, &value))
				return -1;
			rule->last_port = (uint16_t)value;
		}
	}
	if (parse_number(argv[5], "rule id", UINT32_MAX, &value))
		return -1;
	rule->rule_id = (uint32_t)value;
	return 0;
}

static int reason_by_name(const char *name)
{
	for (int reason = 0; reason < WEIR_DROP_REASON_MAX; reason++) {
		if (strcmp(weir_drop_reason_names[reason], name) == 0)
			return reason;
	}
	return -1;
}

/* Capacity tests: entries no real packet matches, written straight into the pinned maps. */
static int ct_fill(struct datapath *datapath, uint32_t count)
{
	struct timespec now;
	uint64_t now_ns;
	uint32_t written = 0;

	clock_gettime(CLOCK_MONOTONIC, &now); /* bpf_ktime_get_ns()'s clock */
	now_ns = (uint64_t)now.tv_sec * 1000000000ULL + (uint64_t)now.tv_nsec;
	for (uint32_t i = 0; i < count; i++) {
		struct weir_ct_key key = { .source = htonl(0xc6120000u + (i >> 16)),
					   .destination = htonl(0xc6130001u),
					   .source_port = htons((uint16_t)(i & 0xffff)),
					   .destination_port = htons(80),
					   .protocol = IPPROTO_TCP };
		struct weir_ct_entry entry = { .expires_ns = now_ns + WEIR_CT_TIMEOUT_TCP_NS,
					       .state = WEIR_CT_ESTABLISHED };
		if (bpf_map_update_elem(datapath->ct_fd, &key, &entry, BPF_ANY) < 0) {
			fprintf(stderr, "weir-maptool: ct entry %u: %s\n", i, strerror(errno));
			break;
		}
		written++;
	}
	printf("%u\n", written);
	return written == count ? 0 : 1;
}

static int ct_forget(struct datapath *datapath, uint32_t source, uint32_t destination,
		     uint16_t port)
{
	struct weir_ct_key key, next;
	void *previous = NULL;
	uint32_t forgotten = 0;

	while (bpf_map_get_next_key(datapath->ct_fd, previous, &next) == 0) {
		key = next;
		previous = &key;
		if (key.source == htonl(source) && key.destination == htonl(destination) &&
		    key.destination_port == htons(port) &&
		    bpf_map_delete_elem(datapath->ct_fd, &key) == 0) {
			forgotten++;
			previous = NULL; /* the walk starts over: the deleted key has no successor */
		}
	}
	printf("%u\n", forgotten);
	return 0;
}

static void policy_fill_key(uint32_t endpoint_id, uint32_t identity, struct weir_policy_key *key)
{
	memset(key, 0, sizeof(*key));
	key->prefix_length = WEIR_POLICY_PREFIX_FIXED + 16;
	key->endpoint_id = endpoint_id;
	key->identity = identity;
	key->direction = WEIR_DIRECTION_INGRESS;
	key->protocol = IPPROTO_TCP;
	key->port = htons(1);
}

static int policy_fill(struct datapath *datapath, bool drain, uint32_t endpoint_id,
		       uint32_t first_identity, uint32_t count)
{
	struct weir_policy_entry entry = { .verdict = WEIR_VERDICT_ALLOW, .rule_id = 1 };
	uint32_t done = 0;

	for (uint32_t i = 0; i < count; i++) {
		struct weir_policy_key key;
		int err;

		policy_fill_key(endpoint_id, first_identity + i, &key);
		err = drain ? bpf_map_delete_elem(datapath->policy_fd, &key)
			    : bpf_map_update_elem(datapath->policy_fd, &key, &entry, BPF_NOEXIST);
		if (err < 0 && !(drain && errno == ENOENT)) {
			fprintf(stderr, "weir-maptool: %s policy entry %u: %s\n",
				drain ? "remove" : "write", i, strerror(errno));
			break;
		}
		done++;
	}
	printf("%u\n", done);
	return 0;
}

static int policy_count(struct datapath *datapath)
{
	struct weir_policy_key key, next;
	void *previous = NULL;
	uint32_t count = 0;

	while (bpf_map_get_next_key(datapath->policy_fd, previous, &next) == 0) {
		count++;
		key = next;
		previous = &key;
	}
	printf("%u\n", count);
	return 0;
}

static int ipcache_fill(struct datapath *datapath, bool drain, uint32_t first, uint32_t identity,
			uint32_t count)
{
	uint32_t done = 0;
	char errbuf[256];

	for (uint32_t i = 0; i < count; i++) {
		int err = drain ? datapath_ipcache_delete(datapath, first + i, 32)
				: datapath_ipcache_upsert(datapath, first + i, 32, identity, errbuf,
							  sizeof(errbuf));
		if (err < 0 && !(drain && err == -ENOENT)) {
			fprintf(stderr, "weir-maptool: %s ipcache entry %u: %s\n",
				drain ? "remove" : "write", i, drain ? strerror(-err) : errbuf);
			break;
		}
		done++;
	}
	printf("%u\n", done);
	return 0;
}

static int run(struct datapath *datapath, int argc, char **argv)
{
	char errbuf[256];
	unsigned long value;

	if (strcmp(argv[0], "ipcache-set") == 0 && argc == 3) {
		struct ipv4_prefix prefix;
		if (ipv4_prefix_parse(argv[1], &prefix, errbuf, sizeof(errbuf)) < 0 ||
		    parse_number(argv[2], "identity", UINT32_MAX, &value)) {
			fprintf(stderr, "weir-maptool: %s\n", errbuf);
			return 1;
		}
		if (datapath_ipcache_upsert(datapath, prefix.network, prefix.length,
					    (uint32_t)value, errbuf, sizeof(errbuf)) < 0) {
			fprintf(stderr, "weir-maptool: %s\n", errbuf);
			return 1;
		}
		return 0;
	}
	if ((strcmp(argv[0], "ipcache-fill") == 0 && argc == 4) ||
	    (strcmp(argv[0], "ipcache-drain") == 0 && argc == 3)) {
		bool drain = strcmp(argv[0], "ipcache-drain") == 0;
		unsigned long identity = 0, count;
		uint32_t first;
		if (ipv4_address_parse(argv[1], &first) < 0) {
			fprintf(stderr, "weir-maptool: \"%s\" is not an IPv4 address\n", argv[1]);
			return 1;
		}
		if ((!drain && parse_number(argv[2], "identity", UINT32_MAX, &identity)) ||
		    parse_number(argv[drain ? 2 : 3], "count", UINT32_MAX, &count))
			return 1;
		return ipcache_fill(datapath, drain, first, (uint32_t)identity, (uint32_t)count);
	}
	if (strcmp(argv[0], "endpoint-id") == 0 && argc == 2) {
		struct weir_endpoint endpoint;
		uint32_t address;
		if (ipv4_address_parse(argv[1], &address) < 0 ||
		    datapath_endpoint_lookup(datapath, address, &endpoint) < 0) {
			fprintf(stderr, "weir-maptool: no endpoint %s\n", argv[1]);
			return 1;
		}
		printf("%u\n", endpoint.endpoint_id);
		return 0;
	}
	if (strcmp(argv[0], "isolate") == 0 && argc == 4) {
		unsigned long endpoint_id, ingress, egress;
		if (parse_number(argv[1], "endpoint id", UINT32_MAX, &endpoint_id) ||
		    parse_number(argv[2], "ingress rule", UINT32_MAX, &ingress) ||
		    parse_number(argv[3], "egress rule", UINT32_MAX, &egress))
			return 1;
		if (datapath_endpoint_policy_set(datapath, (uint32_t)endpoint_id, (uint32_t)ingress,
						 (uint32_t)egress, errbuf, sizeof(errbuf)) < 0) {
			fprintf(stderr, "weir-maptool: %s\n", errbuf);
			return 1;
		}
		return 0;
	}
	if ((strcmp(argv[0], "allow") == 0 || strcmp(argv[0], "deny") == 0 ||
	     strcmp(argv[0], "delete") == 0) &&
	    argc == 7) {
		struct policy_rule rule;
		int err;
		if (parse_rule(argv + 1,
			       strcmp(argv[0], "deny") == 0 ? WEIR_VERDICT_DENY : WEIR_VERDICT_ALLOW,
			       &rule))
			return 1;
		err = strcmp(argv[0], "delete") == 0
			      ? datapath_policy_delete(datapath, &rule, errbuf, sizeof(errbuf))
			      : datapath_policy_write(datapath, &rule, errbuf, sizeof(errbuf));
		if (err < 0) {
			fprintf(stderr, "weir-maptool: %s\n", errbuf);
			return 1;
		}
		return 0;
	}
	if (strcmp(argv[0], "bump") == 0 && argc == 1) {
		int64_t revision = datapath_policy_revision_bump(datapath);
		if (revision < 0) {
			fprintf(stderr, "weir-maptool: bump policy revision: %s\n",
				strerror((int)-revision));
			return 1;
		}
		printf("%lld\n", (long long)revision);
		return 0;
	}
	if (strcmp(argv[0], "drops") == 0 && argc == 4) {
		uint64_t packets, bytes;
		uint8_t direction;
		int reason = reason_by_name(argv[2]);
		if (parse_number(argv[1], "endpoint id", UINT32_MAX, &value) ||
		    parse_direction(argv[3], &direction))
			return 1;
		if (reason < 0) {
			fprintf(stderr, "weir-maptool: unknown drop reason \"%s\"\n", argv[2]);
			return 1;
		}
		datapath_drop_read(datapath, (uint32_t)value, (uint8_t)reason, direction, &packets,
				   &bytes);
		printf("%llu\n", (unsigned long long)packets);
		return 0;
	}
	if (strcmp(argv[0], "ct-count") == 0 && argc == 1) {
		uint32_t count;
		datapath_ct_count(datapath, &count);
		printf("%u\n", count);
		return 0;
	}
	if (strcmp(argv[0], "ct-fill") == 0 && argc == 2) {
		if (parse_number(argv[1], "count", UINT32_MAX, &value))
			return 1;
		return ct_fill(datapath, (uint32_t)value);
	}
	if (strcmp(argv[0], "ct-forget") == 0 && argc == 4) {
		uint32_t source, destination;
		if (ipv4_address_parse(argv[1], &source) < 0 ||
		    ipv4_address_parse(argv[2], &destination) < 0 ||
		    parse_number(argv[3], "port", 65535, &value)) {
			fprintf(stderr, "weir-maptool: ct-forget SOURCE DESTINATION PORT\n");
			return 1;
		}
		return ct_forget(datapath, source, destination, (uint16_t)value);
	}
	if (strcmp(argv[0], "policy-count") == 0 && argc == 1)
		return policy_count(datapath);
	if ((strcmp(argv[0], "policy-fill") == 0 || strcmp(argv[0], "policy-drain") == 0) &&
	    argc == 4) {
		unsigned long endpoint_id, first_identity;
		if (parse_number(argv[1], "endpoint id", UINT32_MAX, &endpoint_id) ||
		    parse_number(argv[2], "first identity", UINT32_MAX, &first_identity) ||
		    parse_number(argv[3], "count", UINT32_MAX, &value))
			return 1;
		return policy_fill(datapath, strcmp(argv[0], "policy-drain") == 0,
				   (uint32_t)endpoint_id, (uint32_t)first_identity,
				   (uint32_t)value);
	}
	usage(stderr);
	return 2;
}

int main(int argc, char **argv)
{
	struct datapath datapath;
	char errbuf[256];
	int result;

	if (argc >= 2 && strcmp(argv[1], "--help") == 0) {
		usage(stdout);
		return 0;
	}
	if (argc < 4 || strcmp(argv[1], "--bpffs") != 0) {
		usage(stderr);
		return 2;
	}
	if (datapath_open(&datapath, argv[2], errbuf, sizeof(errbuf)) < 0) {
		fprintf(stderr, "weir-maptool: %s\n", errbuf);
		return 1;
	}
	result = run(&datapath, argc - 3, argv + 3);
	datapath_close(&datapath);
	return result;
}
