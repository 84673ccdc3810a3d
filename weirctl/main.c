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
#include "mac.h"

static void usage(FILE *stream)
{
	fprintf(stream, "usage: weirctl [--bpffs DIR] [--state-dir DIR] COMMAND\n"
			"commands:\n"
			"  status      the agent's readiness, node and pod CIDR\n"
			"  endpoints   local pods with address, interface and traffic counters\n"
			"  counters    datapath counters by outcome\n"
			"  drops       dropped packets by pod, reason and direction\n");
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
	fprintf(stderr, "weirctl: unknown command %s\n", argv[optind]);
	usage(stderr);
	return 2;
}
