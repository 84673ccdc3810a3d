/* Fuzz target: the CNI network config read from stdin (cni/config.c cni_config_parse), and the
 * prevResult inside it (cni/result.c previous_result_parse) as CHECK and DEL read it.
 *
 * Input: the config text as the runtime would pipe it (NUL-terminated copy; cJSON stops at the
 * first NUL as weir-cni does).
 * Checks beyond memory safety: a parse that succeeds yields a supported cniVersion, a non-empty
 * name, absolute bpffs/stateDir paths, an MTU in 576-65535, a pod subnet of /16-/30 whose host
 * bits are zero, and prevResult/valid-attachments of the right JSON types; a parse that fails
 * sets an error code and a message, and keeps no document (nothing to free). */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "fuzz_support.h"
#include "result.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet_logs();
	return 0;
}

static void check_parsed(const struct cni_config *config)
{
	bool supported = false;

	for (int i = 0; i < cni_supported_versions_count; i++)
		supported |= strcmp(config->cni_version, cni_supported_versions[i]) == 0;
	FUZZ_CHECK(supported, "accepted cniVersion \"%s\"", config->cni_version);
	FUZZ_CHECK(config->name[0] != '\0', "accepted an empty name");
	FUZZ_CHECK(config->bpffs[0] == '/', "bpffs \"%s\" is not absolute", config->bpffs);
	FUZZ_CHECK(config->state_dir[0] == '/', "stateDir \"%s\" is not absolute",
		   config->state_dir);
	FUZZ_CHECK(config->mtu >= 576 && config->mtu <= 65535, "mtu %d", config->mtu);
	FUZZ_CHECK(config->log_level >= LOG_LEVEL_DEBUG && config->log_level <= LOG_LEVEL_ERROR,
		   "log level %d", (int)config->log_level);
	if (config->has_subnet) {
		uint32_t host_mask =
		    config->subnet.length >= 32 ? 0 : 0xffffffffu >> config->subnet.length;
		FUZZ_CHECK(config->subnet.length >= 16 && config->subnet.length <= 30,
			   "subnet length /%u", config->subnet.length);
		FUZZ_CHECK((config->subnet.network & host_mask) == 0, "subnet has host bits set");
	}
	FUZZ_CHECK(config->document && cJSON_IsObject(config->document), "no document kept");
	FUZZ_CHECK(!config->prev_result || cJSON_IsObject(config->prev_result),
		   "prevResult is not an object");
	FUZZ_CHECK(!config->valid_attachments || cJSON_IsArray(config->valid_attachments),
		   "valid-attachments is not an array");
}

static void check_previous_result(cJSON *prev_result, const char *ifname)
{
	struct previous_result parsed;
	struct cni_error err = {0};

	if (previous_result_parse(prev_result, ifname, &parsed, &err) < 0) {
		FUZZ_CHECK(err.code != 0, "prevResult refused without an error code");
		return;
	}
	FUZZ_CHECK(strcmp(parsed.pod_ifname, ifname) == 0, "pod ifname \"%s\"", parsed.pod_ifname);
	FUZZ_CHECK(parsed.sandbox[0] != '\0', "no sandbox");
	FUZZ_CHECK(parsed.address != 0, "no address");
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
	struct cni_config config;
	struct cni_error err = {0};

	if (cni_config_parse(text, &config, &err) == 0) {
		check_parsed(&config);
		if (config.prev_result) {
			check_previous_result(config.prev_result, "eth0");
			check_previous_result(config.prev_result, "net1");
		}
		cni_config_free(&config);
	} else {
		FUZZ_CHECK(err.code != 0, "config refused without an error code");
		FUZZ_CHECK(err.details[0] != '\0' || err.msg[0] != '\0',
			   "config refused without a message");
		FUZZ_CHECK(config.document == NULL, "a refused config kept its document");
	}
	free(text);
	return 0;
}
