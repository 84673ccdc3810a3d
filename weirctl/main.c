/* weirctl: the operator's view of one node. `status` and `flows` ask the agent over its control
 * socket; the other commands read the pinned maps and the agent's state files directly, so
 * they keep working while the agent is down. Each command lives in its own cmd_*.c; this file
 * parses the global options and dispatches. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datapath.h"
#include "output.h"
#include "weirctl.h"

static const struct command commands[] = {
    {"status", "", "the agent's readiness, node, pod CIDR and flow stream",
     "Asks weir-agent over <state-dir>/weir.sock. Without -o, a terminal gets a table and a\n"
     "pipe gets the agent's JSON line (as scripts have always read it). Exits 1 when the\n"
     "agent is not ready.\n",
     command_status},
    {"endpoints", "", "local pods: address, identity, interface and traffic counters", NULL,
     command_endpoints},
    {"counters", "", "datapath counters by outcome", NULL, command_counters},
    {"drops", "", "dropped packets by pod, reason and direction", NULL, command_drops},
    {"identities", "", "security identities and the label sets they stand for", NULL,
     command_identities},
    {"services", "", "service addresses and their backends", NULL, command_services},
    {"policy", "NAMESPACE/POD", "what the datapath allows the pod, in both directions", NULL,
     command_policy},
    {"flows", "[--follow] [--pod NS/POD] [--verdict V] [--type T]",
     "recent flows the agent saw; --follow keeps printing new ones",
     "  -f, --follow          after the recent flows, print new ones until interrupted\n"
     "      --pod NS/POD      only flows from or to this pod\n"
     "      --verdict V       dropped, or forwarded (everything not dropped)\n"
     "      --type T          http, drop, flow, flow_end or revoked\n"
     "The agent keeps the last 4096 flows in memory. -o json prints the agent's JSON lines\n"
     "unchanged, one per line. A reader too slow for the flow rate loses lines; weirctl\n"
     "says how many on stderr.\n",
     command_flows},
    {"trace", "SRC DST PORT/PROTO", "how the datapath judges a crafted packet, step by step",
     "  SRC, DST    NAMESPACE/POD of a pod on this node, or an IPv4 address\n"
     "  PORT/PROTO  e.g. 80/tcp, 53/udp, 9/sctp, icmp (protocols tcp, udp, sctp, icmp)\n"
     "Builds one packet (TCP: a SYN from a random ephemeral port; ICMP: an echo request) and\n"
     "runs it with BPF_PROG_TEST_RUN through the loaded program: from_pod on SRC's veth when\n"
     "SRC is a local pod, else to_pod on DST's veth. Nothing is sent on the wire. Prints the\n"
     "identities, conntrack, service translation and policy lookups, then the program's real\n"
     "verdict. The run has the effects one real packet has: counters (endpoint traffic,\n"
     "datapath and drop counters) count the traced packet and a flow or drop event is\n"
     "reported. The conntrack entries the run creates are deleted again; a Service's client\n"
     "affinity entry stays. Run it in the node's network namespace.\n",
     command_trace},
};

#define COMMAND_COUNT (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *stream)
{
	fprintf(stream, "usage: weirctl [--bpffs DIR] [--state-dir DIR] [-o table|json] COMMAND "
			"[ARGS]\n"
			"  --bpffs DIR       the agent's pinned maps (default /sys/fs/bpf/weir)\n"
			"  --state-dir DIR   the agent's state and control socket (default "
			"/var/lib/weir)\n"
			"  -o, --output F    table (default) or json (one document per command)\n"
			"commands:\n");
	for (size_t i = 0; i < COMMAND_COUNT; i++) {
		char synopsis[128];
		/* Long option lists are for the command's own --help. */
		snprintf(synopsis, sizeof(synopsis), "%s%s%s", commands[i].name,
			 commands[i].arguments[0] ? " " : "",
			 strlen(commands[i].arguments) > 24 ? "[options]" : commands[i].arguments);
		fprintf(stream, "  %-26s %s\n", synopsis, commands[i].summary);
	}
	fprintf(stream, "`weirctl COMMAND --help` explains one command.\n");
}

void command_usage(const struct command *command, FILE *stream)
{
	fprintf(stream, "usage: weirctl [--bpffs DIR] [--state-dir DIR] %s%s%s [-o table|json]\n",
		command->name, command->arguments[0] ? " " : "", command->arguments);
	fprintf(stream, "%s\n", command->summary);
	if (command->details)
		fputs(command->details, stream);
}

int command_usage_error(const struct command *command, const char *format, ...)
{
	va_list arguments;

	fprintf(stderr, "weirctl %s: ", command->name);
	va_start(arguments, format);
	vfprintf(stderr, format, arguments);
	va_end(arguments);
	fputc('\n', stderr);
	command_usage(command, stderr);
	return EXIT_USAGE;
}

int command_start_with_datapath(struct weirctl *ctl, const struct command *command, int argc,
				char **argv, struct datapath *datapath)
{
	int parsed = command_options(ctl, command, argc, argv, NULL, NULL, NULL, NULL);
	char errbuf[256];

	if (parsed < 0)
		return command_options_exit(parsed);
	if (parsed != argc)
		return command_usage_error(command, "takes no arguments, got \"%s\"", argv[parsed]);
	if (datapath_open(datapath, ctl->bpffs, errbuf, sizeof(errbuf)) < 0) {
		output_datapath_error(ctl, errbuf);
		return 1;
	}
	return -1;
}

int command_options(struct weirctl *ctl, const struct command *command, int argc, char **argv,
		    const struct option *extra, const char *extra_short,
		    int (*on_option)(int option, const char *value, void *context), void *context)
{
	struct option options[16] = {
	    {"output", required_argument, 0, 'o'},
	    {"help", no_argument, 0, 'h'},
	};
	char short_options[32];
	size_t count = 2;
	int option;

	for (; extra && extra[count - 2].name && count < 15; count++)
		options[count] = extra[count - 2];
	/* Leading ':' tells a missing value (':') from an unknown option ('?'). */
	snprintf(short_options, sizeof(short_options), ":o:h%s", extra_short ? extra_short : "");
	optind = 0; /* glibc: start over on this argv */
	opterr = 0; /* unknown options are reported below, naming the command */
	while ((option = getopt_long(argc, argv, short_options, options, NULL)) != -1) {
		switch (option) {
		case 'o':
			if (output_format_parse(optarg, &ctl->output) < 0) {
				command_usage_error(command, "-o %s: the output is table or json",
						    optarg);
				return -2;
			}
			break;
		case 'h': command_usage(command, stdout); return -1;
		case '?':
			if (optopt)
				command_usage_error(command, "unknown option -%c", optopt);
			else
				command_usage_error(command, "unknown option %s", argv[optind - 1]);
			return -2;
		case ':':
			command_usage_error(command, "%s needs a value", argv[optind - 1]);
			return -2;
		default:
			if (!on_option || on_option(option, optarg, context) < 0)
				return -2;
		}
	}
	return optind;
}

int command_options_exit(int parsed)
{
	return parsed == -1 ? 0 : EXIT_USAGE;
}

int main(int argc, char **argv)
{
	static const struct option long_options[] = {
	    {"bpffs", required_argument, 0, 'b'},
	    {"state-dir", required_argument, 0, 'd'},
	    {"output", required_argument, 0, 'o'},
	    {"help", no_argument, 0, 'h'},
	    {0, 0, 0, 0},
	};
	struct weirctl ctl = {.bpffs = "/sys/fs/bpf/weir", .state_dir = "/var/lib/weir"};
	int option;

	/* "+": global options end at the command; the command parses the rest. */
	while ((option = getopt_long(argc, argv, "+o:h", long_options, NULL)) != -1) {
		switch (option) {
		case 'b': ctl.bpffs = optarg; break;
		case 'd': ctl.state_dir = optarg; break;
		case 'o':
			if (output_format_parse(optarg, &ctl.output) < 0) {
				fprintf(stderr, "weirctl: -o %s: the output is table or json\n",
					optarg);
				return EXIT_USAGE;
			}
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "weirctl: which command?\n");
		usage(stderr);
		return EXIT_USAGE;
	}
	for (size_t i = 0; i < COMMAND_COUNT; i++) {
		if (strcmp(argv[optind], commands[i].name) == 0)
			return commands[i].run(&ctl, &commands[i], argc - optind, argv + optind);
	}
	fprintf(stderr, "weirctl: unknown command \"%s\"\n", argv[optind]);
	usage(stderr);
	return EXIT_USAGE;
}
