/* Command-line parsing for weir-agent. Unknown or malformed flags stop the agent before it
 * touches the node. */
#include "options.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *stream)
{
	fprintf(stream,
		"usage: weir-agent --node-name NAME [--kubeconfig FILE | --standalone DIR]\n"
		"                  [--pod-cidr CIDR] [--bpffs DIR] [--state-dir DIR]\n"
		"                  [--cni-conf-dir DIR] [--cni-bin-dir DIR]\n"
		"                  [--metrics-addr HOST:PORT]\n"
		"                  [--flow-log FILE|-] [--mtu N] [--log-format json|text]\n"
		"                  [--devices IFACE[,IFACE...]] [--cgroup CGROUP2-DIR]\n"
		"                  [--otlp-endpoint URL] [--http-visibility all|none|PORT,...]\n"
		"                  [--flow-events on|off]\n");
}

int agent_options_parse(int argc, char **argv, struct agent_options *options)
{
	static const struct option long_options[] = {
		{ "node-name", required_argument, 0, 'n' },
		{ "kubeconfig", required_argument, 0, 'k' },
		{ "standalone", required_argument, 0, 's' },
		{ "pod-cidr", required_argument, 0, 'p' },
		{ "bpffs", required_argument, 0, 'b' },
		{ "state-dir", required_argument, 0, 'd' },
		{ "cni-conf-dir", required_argument, 0, 'c' },
		{ "cni-bin-dir", required_argument, 0, 'B' },
		{ "metrics-addr", required_argument, 0, 'm' },
		{ "flow-log", required_argument, 0, 'f' },
		{ "mtu", required_argument, 0, 'u' },
		{ "log-format", required_argument, 0, 'l' },
		{ "devices", required_argument, 0, 'D' },
		{ "cgroup", required_argument, 0, 'G' },
		{ "otlp-endpoint", required_argument, 0, 'O' },
		{ "http-visibility", required_argument, 0, 'H' },
		{ "flow-events", required_argument, 0, 'E' },
		{ "help", no_argument, 0, 'h' },
		{ 0, 0, 0, 0 },
	};
	char errbuf[256];
	int option;

	memset(options, 0, sizeof(*options));
	options->bpffs = "/sys/fs/bpf/weir";
	options->state_dir = "/var/lib/weir";
	options->cni_conf_dir = "/etc/cni/net.d";
	options->mtu = 1500;
	while ((option = getopt_long(argc, argv, "h", long_options, NULL)) != -1) {
		switch (option) {
		case 'n': options->node_name = optarg; break;
		case 'k': options->kubeconfig = optarg; break;
		case 's': options->standalone_dir = optarg; break;
		case 'p': options->pod_cidr_text = optarg; break;
		case 'b': options->bpffs = optarg; break;
		case 'd': options->state_dir = optarg; break;
		case 'c': options->cni_conf_dir = optarg; break;
		case 'B': options->cni_bin_dir = optarg; break;
		case 'm': options->metrics_addr = optarg; break;
		case 'f': options->flow_log = optarg; break;
		case 'D': options->devices = optarg; break;
		case 'G': options->cgroup = optarg; break;
		case 'O': options->otlp_endpoint = optarg; break;
		case 'H': {
			char errbuf[160];
			if (http_visibility_parse(optarg, &options->datapath, errbuf,
						  sizeof(errbuf)) < 0) {
				fprintf(stderr, "weir-agent: %s\n", errbuf);
				return -1;
			}
			break;
		}
		case 'E':
			if (strcmp(optarg, "on") != 0 && strcmp(optarg, "off") != 0) {
				fprintf(stderr, "weir-agent: --flow-events %s: must be on or off\n",
					optarg);
				return -1;
			}
			options->datapath.flow_events_off = strcmp(optarg, "off") == 0;
			break;
		case 'u': {
			char *end;
			long mtu = strtol(optarg, &end, 10);
			if (*end || mtu < 576 || mtu > 65535) {
				fprintf(stderr, "weir-agent: --mtu %s: must be 576-65535\n", optarg);
				return -1;
			}
			options->mtu = (int)mtu;
			break;
		}
		case 'l':
			if (strcmp(optarg, "json") == 0) {
				options->log_json = true;
			} else if (strcmp(optarg, "text") != 0) {
				fprintf(stderr, "weir-agent: --log-format %s: must be json or text\n",
					optarg);
				return -1;
			}
			break;
		case 'h': usage(stdout); return 1;
		default: usage(stderr); return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "weir-agent: unexpected argument %s\n", argv[optind]);
		usage(stderr);
		return -1;
	}
	if (!options->node_name || !*options->node_name) {
		fprintf(stderr, "weir-agent: --node-name is required\n");
		usage(stderr);
		return -1;
	}
	if (options->kubeconfig && options->standalone_dir) {
		fprintf(stderr, "weir-agent: --kubeconfig and --standalone exclude each other\n");
		return -1;
	}
	if (options->bpffs[0] != '/' || options->state_dir[0] != '/' ||
	    options->cni_conf_dir[0] != '/' ||
	    (options->cni_bin_dir && options->cni_bin_dir[0] != '/')) {
		fprintf(stderr, "weir-agent: --bpffs, --state-dir, --cni-conf-dir and "
				"--cni-bin-dir must be absolute paths\n");
		return -1;
	}
	if (options->pod_cidr_text) {
		if (ipv4_prefix_parse(options->pod_cidr_text, &options->pod_cidr, errbuf,
				      sizeof(errbuf)) < 0) {
			fprintf(stderr, "weir-agent: --pod-cidr: %s\n", errbuf);
			return -1;
		}
		if (options->pod_cidr.length > 30 || options->pod_cidr.length < 16) {
			fprintf(stderr, "weir-agent: --pod-cidr %s: a node's pod CIDR is /16 to /30\n",
				options->pod_cidr_text);
			return -1;
		}
		options->has_pod_cidr = true;
	}
	return 0;
}
