/* The ADD result in the shape of the requested cniVersion, and reading a prevResult back. */
#ifndef WEIR_CNI_RESULT_H
#define WEIR_CNI_RESULT_H

#include <stdint.h>

#include <cJSON.h>

#include "endpoint_record.h"
#include "errors.h"

/* Builds the result; the caller prints and frees it. */
cJSON *cni_result_build(const char *cni_version, const struct endpoint_record *record);

struct previous_result {
	char pod_ifname[16];
	uint8_t pod_mac[6];
	char sandbox[512];
	uint32_t address; /* host byte order */
	unsigned prefix_length;
	uint32_t gateway;
	int route_count;
	struct {
		uint32_t destination;
		unsigned prefix_length;
		uint32_t gateway;
	} routes[16];
};

/* Reads the pod's interface, address and routes from prevResult. */
int previous_result_parse(cJSON *prev_result, const char *ifname, struct previous_result *parsed,
			  struct cni_error *err);

#endif
