/* weirctl endpoints: every endpoint record the CNI wrote, checked against the endpoints map
 * (IN-MAP says whether the datapath knows the pod), with its traffic counters. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>

#include "cidr.h"
#include "datapath.h"
#include "identity_lookup.h"
#include "mac.h"
#include "names.h"
#include "output.h"
#include "table.h"

static int by_endpoint_id(const void *left, const void *right)
{
	const struct endpoint_record *a = left, *b = right;

	return a->endpoint_id < b->endpoint_id ? -1 : a->endpoint_id > b->endpoint_id;
}

int command_endpoints(struct weirctl *ctl, const struct command *command, int argc, char **argv)
{
	/* The first eight columns keep the order scripts have always read them in. */
	static const char *const headers[] = {"ID",	"ADDRESS",	 "POD",
					      "HOST-VETH", "POD-MAC",	 "IN-MAP",
					      "FROM-POD-PKTS", "TO-POD-PKTS", "IDENTITY"};
	int started;
	struct datapath datapath;
	struct names names;
	struct table *table;
	cJSON *list;
	int result;

	started = command_start_with_datapath(ctl, command, argc, argv, &datapath);
	if (started >= 0)
		return started;
	names_load(&names, ctl->state_dir);
	qsort(names.records, names.record_count, sizeof(*names.records), by_endpoint_id);
	table = table_new(9, headers);
	list = cJSON_CreateArray();
	for (size_t column = 6; column < 9; column++)
		table_align_right(table, column);
	for (size_t i = 0; i < names.record_count; i++) {
		const struct endpoint_record *record = &names.records[i];
		struct weir_endpoint_stats stats = {0};
		struct weir_endpoint endpoint = {0};
		bool in_map = datapath_endpoint_lookup(&datapath, record->address, &endpoint) == 0;
		/* The identity policy judges the pod by: the ipcache's, not the endpoint entry's.
		 */
		uint32_t identity = identity_of_address(&datapath, htonl(record->address));
		char address[16], mac[18];
		cJSON *item = cJSON_CreateObject();

		datapath_endpoint_stats(&datapath, record->endpoint_id, &stats);
		ipv4_address_format(record->address, address);
		mac_format(record->pod_mac, mac);
		table_cell(table, "%u", record->endpoint_id);
		table_cell(table, "%s", address);
		table_cell(table, "%s/%s", record->pod_namespace, record->pod_name);
		table_cell(table, "%s", record->host_ifname);
		table_cell(table, "%s", mac);
		table_cell(table, "%s", in_map ? "yes" : "MISSING");
		table_cell(table, "%llu", (unsigned long long)stats.from_pod_packets);
		table_cell(table, "%llu", (unsigned long long)stats.to_pod_packets);
		table_cell(table, "%u", identity);

		cJSON_AddNumberToObject(item, "endpointId", record->endpoint_id);
		cJSON_AddStringToObject(item, "address", address);
		cJSON_AddStringToObject(item, "namespace", record->pod_namespace);
		cJSON_AddStringToObject(item, "pod", record->pod_name);
		cJSON_AddNumberToObject(item, "identity", identity);
		cJSON_AddStringToObject(item, "hostInterface", record->host_ifname);
		cJSON_AddNumberToObject(item, "hostIfindex", record->host_ifindex);
		cJSON_AddStringToObject(item, "podMac", mac);
		cJSON_AddStringToObject(item, "hostMac", mac_format(record->host_mac, mac));
		cJSON_AddBoolToObject(item, "inMap", in_map);
		cJSON_AddNumberToObject(item, "fromPodPackets", (double)stats.from_pod_packets);
		cJSON_AddNumberToObject(item, "fromPodBytes", (double)stats.from_pod_bytes);
		cJSON_AddNumberToObject(item, "toPodPackets", (double)stats.to_pod_packets);
		cJSON_AddNumberToObject(item, "toPodBytes", (double)stats.to_pod_bytes);
		cJSON_AddItemToArray(list, item);
	}
	if (output_is_json(ctl)) {
		result = output_json_print(list);
		list = NULL;
	} else {
		result = table && table_print(table, stdout) == 0 ? 0 : 1;
	}
	cJSON_Delete(list);
	table_free(table);
	names_free(&names);
	datapath_close(&datapath);
	return result;
}
