/* The datapath's switches, written into the pinned dp_config and http_ports maps. */
#include "datapath_config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "datapath.h"

int http_visibility_parse(const char *text, struct datapath_settings *settings, char *errbuf,
			  size_t errlen)
{
	const char *cursor = text;

	settings->http_port_count = 0;
	if (strcmp(text, "all") == 0) {
		settings->http_visibility = WEIR_HTTP_VISIBILITY_ALL_PORTS;
		return 0;
	}
	if (strcmp(text, "none") == 0) {
		settings->http_visibility = WEIR_HTTP_VISIBILITY_OFF;
		return 0;
	}
	settings->http_visibility = WEIR_HTTP_VISIBILITY_LISTED_PORTS;
	while (*cursor) {
		char *end;
		long port = strtol(cursor, &end, 10);

		if (end == cursor || port < 1 || port > 65535 || (*end && *end != ',') ||
		    (*end == ',' && !end[1])) {
			snprintf(errbuf, errlen,
				 "--http-visibility %s: want all, none or ports like 80,8080", text);
			return -1;
		}
		if (settings->http_port_count == DATAPATH_CONFIG_MAX_PORTS) {
			snprintf(errbuf, errlen, "--http-visibility %s: at most %d ports", text,
				 DATAPATH_CONFIG_MAX_PORTS);
			return -1;
		}
		settings->http_ports[settings->http_port_count++] = (uint16_t)port;
		cursor = *end ? end + 1 : end;
	}
	if (!settings->http_port_count) {
		snprintf(errbuf, errlen, "--http-visibility: empty; want all, none or ports");
		return -1;
	}
	return 0;
}

static bool port_listed(const struct datapath_settings *settings, uint32_t key)
{
	for (size_t i = 0; i < settings->http_port_count; i++)
		if (key == htons(settings->http_ports[i]))
			return true;
	return false;
}

int datapath_config_apply(const char *bpffs, const struct datapath_settings *settings,
			  char *errbuf, size_t errlen)
{
	struct weir_datapath_config config = {
		.http_visibility = settings->http_visibility,
		.flow_events_off = settings->flow_events_off ? 1 : 0,
	};
	struct datapath datapath;
	uint32_t zero = 0, one = 1, key, next;
	bool first = true;
	int err = 0;

	if (datapath_open(&datapath, bpffs, errbuf, errlen) < 0)
		return -1;
	/* Ports first, the mode last: a datapath switched to "listed ports" never sees an
	 * empty list in between. */
	for (size_t i = 0; i < settings->http_port_count; i++) {
		key = htons(settings->http_ports[i]);
		if (bpf_map_update_elem(datapath.http_ports_fd, &key, &one, BPF_ANY) < 0) {
			snprintf(errbuf, errlen, "write HTTP port %u into %s/%s: %s",
				 settings->http_ports[i], bpffs, WEIR_MAP_HTTP_PORTS, strerror(errno));
			err = -1;
			goto out;
		}
	}
	while (bpf_map_get_next_key(datapath.http_ports_fd, first ? NULL : &key, &next) == 0) {
		first = false;
		key = next;
		if (!port_listed(settings, next)) {
			bpf_map_delete_elem(datapath.http_ports_fd, &next);
			first = true; /* the walk's position is gone: start over */
		}
	}
	if (bpf_map_update_elem(datapath.datapath_config_fd, &zero, &config, BPF_ANY) < 0) {
		snprintf(errbuf, errlen, "write %s/%s: %s", bpffs, WEIR_MAP_DATAPATH_CONFIG,
			 strerror(errno));
		err = -1;
	}
out:
	datapath_close(&datapath);
	return err;
}
