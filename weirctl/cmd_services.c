/* weirctl services: every service address the datapath translates, with its backends. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>

#include "output.h"
#include "service_lookup.h"
#include "table.h"

struct service_row {
	struct weir_service_key key;
	struct weir_service service;
};

static int by_address_and_port(const void *left, const void *right)
{
	const struct weir_service_key *a = &((const struct service_row *)left)->key;
	const struct weir_service_key *b = &((const struct service_row *)right)->key;

	if (a->address != b->address)
		return ntohl(a->address) < ntohl(b->address) ? -1 : 1;
	if (a->port != b->port)
		return ntohs(a->port) < ntohs(b->port) ? -1 : 1;
	return (int)a->protocol - (int)b->protocol;
}

static void add_service(struct datapath *datapath, const struct names *names,
			const struct service_row *row, struct table *table, cJSON *list)
{
	struct backend_view *backends;
	size_t count;
	char address[16], words[400], namespace_name[300], kind[300], listing[4096] = "";
	size_t used = 0;
	cJSON *item = cJSON_CreateObject(), *backend_list;

	inet_ntop(AF_INET, &row->key.address, address, sizeof(address));
	service_words(names, row->service.service_id, words, sizeof(words), namespace_name, kind,
		      sizeof(kind));
	service_backends(datapath, &row->service, &backends, &count);
	cJSON_AddStringToObject(item, "address", address);
	cJSON_AddNumberToObject(item, "port", ntohs(row->key.port));
	cJSON_AddStringToObject(item, "protocol", protocol_name(row->key.protocol));
	cJSON_AddNumberToObject(item, "serviceId", row->service.service_id);
	cJSON_AddStringToObject(item, "service", namespace_name);
	cJSON_AddStringToObject(item, "kind", kind);
	cJSON_AddNumberToObject(
	    item, "affinitySeconds",
	    (row->service.flags & WEIR_SERVICE_FLAG_AFFINITY) ? row->service.affinity_seconds : 0);
	backend_list = cJSON_AddArrayToObject(item, "backends");
	for (size_t i = 0; i < count; i++) {
		char backend_address[16];
		cJSON *backend = cJSON_CreateObject();
		inet_ntop(AF_INET, &backends[i].backend.address, backend_address,
			  sizeof(backend_address));
		cJSON_AddNumberToObject(backend, "backendId", backends[i].backend_id);
		cJSON_AddStringToObject(backend, "address", backend_address);
		cJSON_AddNumberToObject(backend, "port", ntohs(backends[i].backend.port));
		cJSON_AddItemToArray(backend_list, backend);
		used += (size_t)snprintf(
		    listing + used, used < sizeof(listing) ? sizeof(listing) - used : 0, "%s%s:%u",
		    used ? " " : "", backend_address, ntohs(backends[i].backend.port));
	}
	cJSON_AddItemToArray(list, item);
	table_cell(table, "%s:%u", address, ntohs(row->key.port));
	table_cell(table, "%s", protocol_name(row->key.protocol));
	table_cell(table, "%s", words);
	table_cell(table, "%s", count ? listing : "(none: refused)");
	free(backends);
}

int command_services(struct weirctl *ctl, const struct command *command, int argc, char **argv)
{
	static const char *const headers[] = {"ADDRESS", "PROTO", "SERVICE", "BACKENDS"};
	int started;
	struct service_row *rows = NULL;
	size_t count = 0;
	struct weir_service_key key, next;
	void *previous = NULL;
	struct datapath datapath;
	struct names names;
	struct table *table;
	cJSON *list;
	int result;

	started = command_start_with_datapath(ctl, command, argc, argv, &datapath);
	if (started >= 0)
		return started;
	names_load(&names, ctl->state_dir);
	while (bpf_map_get_next_key(datapath.services_fd, previous, &next) == 0) {
		struct service_row row = {.key = next};
		if (bpf_map_lookup_elem(datapath.services_fd, &next, &row.service) == 0) {
			struct service_row *grown = realloc(rows, (count + 1) * sizeof(*rows));
			if (!grown)
				break;
			rows = grown;
			rows[count++] = row;
		}
		key = next;
		previous = &key;
	}
	qsort(rows, count, sizeof(*rows), by_address_and_port);
	table = table_new(4, headers);
	list = cJSON_CreateArray();
	for (size_t i = 0; i < count; i++)
		add_service(&datapath, &names, &rows[i], table, list);
	result = output_listing(ctl, table, list);
	free(rows);
	names_free(&names);
	datapath_close(&datapath);
	return result;
}
