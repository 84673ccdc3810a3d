/* Fuzz target: reading a prevResult back (cni/result.c previous_result_parse), the object CHECK
 * and DEL receive from the runtime inside the network config.
 *
 * Input: the prevResult JSON object alone (NUL-terminated copy), parsed with cJSON as
 * cni_config_parse would have; the pod interface is looked up as "eth0" and as the name of the
 * first interface that has a sandbox, so inputs naming other interfaces reach the address and
 * route parsing too.
 * Checks beyond memory safety: on success the parsed interface name is the one asked for, the
 * sandbox is non-empty and copied verbatim when it fits (512 bytes), the address is non-zero and
 * equals the first matching ips[] entry's address, prefix lengths are at most 32 and at most 16
 * routes are kept; on failure an error code is set. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cidr.h"
#include "fuzz_support.h"
#include "result.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet_logs();
	return 0;
}

static void check_parse(cJSON *prev_result, const char *ifname)
{
	struct previous_result parsed;
	struct cni_error err = {0};
	const cJSON *interface, *ip;
	const char *sandbox = NULL;
	int index = 0, pod_index = -1;
	uint32_t want_address = 0;

	if (previous_result_parse(prev_result, ifname, &parsed, &err) < 0) {
		FUZZ_CHECK(err.code != 0, "refused without an error code");
		return;
	}
	FUZZ_CHECK(strncmp(parsed.pod_ifname, ifname, sizeof(parsed.pod_ifname) - 1) == 0,
		   "pod ifname \"%s\", want \"%s\"", parsed.pod_ifname, ifname);
	/* The last interface with this name and a sandbox is the one kept. */
	cJSON_ArrayForEach(interface, cJSON_GetObjectItemCaseSensitive(prev_result, "interfaces"))
	{
		const char *name = object_string(interface, "name");
		const char *box = object_string(interface, "sandbox");
		if (name && box && *box && strcmp(name, ifname) == 0) {
			sandbox = box;
			pod_index = index;
		}
		index++;
	}
	/* The address comes from the first ips[] entry that points at that interface. */
	cJSON_ArrayForEach(ip, cJSON_GetObjectItemCaseSensitive(prev_result, "ips"))
	{
		const cJSON *number = cJSON_GetObjectItemCaseSensitive(ip, "interface");
		const char *address = object_string(ip, "address");
		char copy[32], *slash;

		if (!cJSON_IsNumber(number) || number->valueint != pod_index)
			continue;
		if (address && strlen(address) < sizeof(copy)) {
			strcpy(copy, address);
			slash = strchr(copy, '/');
			if (slash) {
				*slash = '\0';
				ipv4_address_parse(copy, &want_address);
			}
		}
		break;
	}
	FUZZ_CHECK(sandbox != NULL, "accepted without an interface %s with a sandbox", ifname);
	FUZZ_CHECK(parsed.sandbox[0] != '\0', "empty sandbox");
	FUZZ_CHECK(strlen(sandbox) >= sizeof(parsed.sandbox) ||
		       strcmp(parsed.sandbox, sandbox) == 0,
		   "sandbox \"%s\", want \"%s\"", parsed.sandbox, sandbox);
	FUZZ_CHECK(parsed.address != 0 && parsed.address == want_address, "address %08x, want %08x",
		   parsed.address, want_address);
	FUZZ_CHECK(parsed.prefix_length <= 32, "prefix length %u", parsed.prefix_length);
	FUZZ_CHECK(parsed.route_count >= 0 && parsed.route_count <= 16, "route count %d",
		   parsed.route_count);
	for (int i = 0; i < parsed.route_count; i++)
		FUZZ_CHECK(parsed.routes[i].prefix_length <= 32, "route %d prefix length %u", i,
			   parsed.routes[i].prefix_length);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_text(data, size);
	cJSON *prev_result = cJSON_Parse(text);
	const cJSON *interface;

	free(text);
	if (!prev_result)
		return 0;
	check_parse(prev_result, "eth0");
	cJSON_ArrayForEach(interface, cJSON_GetObjectItemCaseSensitive(prev_result, "interfaces"))
	{
		const char *name = object_string(interface, "name");
		const char *sandbox = object_string(interface, "sandbox");
		if (name && sandbox && *sandbox && strlen(name) < 16) {
			char ifname[16];
			/* A copy: the parse must not depend on the name living in the document. */
			strcpy(ifname, name);
			check_parse(prev_result, ifname);
			break;
		}
	}
	/* A NULL prevResult is refused, not dereferenced. */
	{
		struct previous_result parsed;
		struct cni_error err = {0};
		FUZZ_CHECK(previous_result_parse(NULL, "eth0", &parsed, &err) < 0 && err.code != 0,
			   "NULL prevResult accepted");
	}
	cJSON_Delete(prev_result);
	return 0;
}
