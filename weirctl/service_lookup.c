/* The Maglev table lists each backend many times; walking it is the only way from a service
 * to its backends without the agent, and it shows exactly what the datapath can choose. */
#include "service_lookup.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>

int service_backends(struct datapath *datapath, const struct weir_service *service,
		     struct backend_view **backends, size_t *count)
{
	*backends = NULL;
	*count = 0;
	for (uint32_t slot = 0; slot < WEIR_MAGLEV_SIZE && service->backend_count; slot++) {
		struct weir_maglev_key key = {service->service_id, slot};
		struct backend_view view;
		struct backend_view *grown;
		bool known = false;

		if (bpf_map_lookup_elem(datapath->maglev_fd, &key, &view.backend_id) < 0)
			continue;
		for (size_t i = 0; i < *count; i++)
			known |= (*backends)[i].backend_id == view.backend_id;
		if (known ||
		    bpf_map_lookup_elem(datapath->backends_fd, &view.backend_id, &view.backend) < 0)
			continue;
		grown = realloc(*backends, (*count + 1) * sizeof(**backends));
		if (!grown)
			return -1;
		*backends = grown;
		(*backends)[(*count)++] = view;
	}
	return 0;
}

void service_words(const struct names *names, uint32_t service_id, char *out, size_t size,
		   char *namespace_name, char *kind, size_t part_size)
{
	const char *key = names_id_key(names->services, service_id);
	char first[300] = "", second[64] = "";

	if (key)
		sscanf(key, "%299s %63s", first, second);
	if (first[0])
		snprintf(out, size, "%s%s%s", first, second[0] ? " " : "", second);
	else
		snprintf(out, size, "service %u", service_id);
	if (namespace_name)
		snprintf(namespace_name, part_size, "%s", first);
	if (kind)
		snprintf(kind, part_size, "%s", second);
}
