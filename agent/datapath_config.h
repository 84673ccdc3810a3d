/* The datapath's switches (dp_config and http_ports): which TCP ports HTTP is read on, and
 * whether flow events are sent. Set from the agent's flags at every start. */
#ifndef WEIR_AGENT_DATAPATH_CONFIG_H
#define WEIR_AGENT_DATAPATH_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "abi.h"

#define DATAPATH_CONFIG_MAX_PORTS 64

struct datapath_settings {
	enum weir_http_visibility http_visibility;
	uint16_t http_ports[DATAPATH_CONFIG_MAX_PORTS]; /* host byte order; LISTED_PORTS only */
	size_t http_port_count;
	int flow_events_off;
};

/* "all", "none" or a comma-separated list of ports. 0, or -1 with errbuf naming the fault. */
int http_visibility_parse(const char *text, struct datapath_settings *settings, char *errbuf,
			  size_t errlen);

/* Writes the settings into the pinned maps under bpffs; ports no longer listed are removed. */
int datapath_config_apply(const char *bpffs, const struct datapath_settings *settings,
			  char *errbuf, size_t errlen);

#endif
