/* A Service as the datapath holds it: its backends (the distinct entries of its Maglev table)
 * and its name from the agent's service-ids.json. Shared by `services` and `trace`. */
#ifndef WEIR_WEIRCTL_SERVICE_LOOKUP_H
#define WEIR_WEIRCTL_SERVICE_LOOKUP_H

#include <stddef.h>
#include <stdint.h>

#include "datapath.h"
#include "names.h"

struct backend_view {
	uint32_t backend_id;
	struct weir_backend backend;
};

/* The service's distinct backends in table order; *count 0 when it has none. The caller frees
 * *backends. Returns 0, or -1 when out of memory. */
int service_backends(struct datapath *datapath, const struct weir_service *service,
		     struct backend_view **backends, size_t *count);

/* "NS/NAME KIND" (e.g. "e2e/web cluster-ip") from the agent's key
 * "NS/NAME KIND ADDRESS:PORT/PROTO"; "service N" when unknown. namespace_name and kind get the
 * parts when not NULL (empty when unknown). */
void service_words(const struct names *names, uint32_t service_id, char *out, size_t size,
		   char *namespace_name, char *kind, size_t part_size);

#endif
