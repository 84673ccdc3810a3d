/* weir-agent's command line, per the interface contract in DESIGN.md. */
#ifndef WEIR_AGENT_OPTIONS_H
#define WEIR_AGENT_OPTIONS_H

#include <stdbool.h>

#include "cidr.h"
#include "datapath_config.h"

struct agent_options {
	const char *node_name;
	const char *kubeconfig;
	const char *standalone_dir;
	const char *pod_cidr_text;
	struct ipv4_prefix pod_cidr;
	bool has_pod_cidr;
	const char *bpffs;
	const char *state_dir;
	const char *cni_conf_dir;
	const char *cni_bin_dir; /* where the runtime finds CNI plugins (portmap), or NULL */
	const char *metrics_addr;
	const char *flow_log;
	const char *otlp_endpoint; /* OTLP/HTTP collector for HTTP spans, or NULL */
	const char *devices; /* comma-separated uplinks that serve NodePorts */
	const char *cgroup;  /* cgroup v2 folder for socket-level load balancing, or NULL */
	int mtu;
	bool log_json; /* --log-format json */
	struct datapath_settings datapath; /* --http-visibility, --flow-events */
};

/* Returns 0, 1 when --help was printed, or -1 after printing what is wrong. */
int agent_options_parse(int argc, char **argv, struct agent_options *options);

#endif
