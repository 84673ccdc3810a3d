/* ADD: allocate the pod's address, wire the pod, print the result. A repeated ADD for the same
 * container and ifname returns the same address. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "ipam.h"
#include "pod_wiring.h"
#include "policy_wait.h"
#include "result.h"

int cmd_add(const struct cni_config *config, const struct cni_environment *env,
	    struct cni_error *err)
{
	struct endpoint_record record;
	struct ipv4_prefix subnet;
	struct ipam ipam;
	uint32_t address;
	char errbuf[512];
	cJSON *result;
	char *text;
	int failed;

	if (pod_subnet_resolve(config, &subnet, err) < 0)
		return -1;
	if (ipam_open_locked(&ipam, config->state_dir, errbuf, sizeof(errbuf)) < 0)
		return cni_error_set(err, CNI_ERR_IO, "%s", errbuf);
	failed = ipam_allocate(&ipam, &subnet, env->container_id, env->ifname, &address, errbuf,
			       sizeof(errbuf));
	ipam_close(&ipam);
	if (failed == -ENOSPC)
		return cni_error_set(err, WEIR_ERR_IPAM_EXHAUSTED, "%s", errbuf);
	if (failed < 0)
		return cni_error_set(err, CNI_ERR_IO, "allocate an address: %s", errbuf);
	pod_wiring_test_kill_point("allocated");

	/* A pod whose policy the agent has not written in time is taken down again: the runtime
	 * retries later, and no pod runs with a network nobody enforces. */
	if (pod_wiring_create(config, env, &subnet, address, &record, err) < 0 ||
	    policy_wait_released(config, &record, err) < 0) {
		struct cni_error cleanup_err;
		/* Nothing may stay behind a failed ADD, not even the address. */
		if (ipam_open_locked(&ipam, config->state_dir, errbuf, sizeof(errbuf)) == 0) {
			pod_wiring_remove(config, &ipam, env->container_id, env->ifname, address,
					  &cleanup_err);
			ipam_close(&ipam);
		}
		return -1;
	}

	result = cni_result_build(config->cni_version, &record);
	text = cJSON_Print(result);
	cJSON_Delete(result);
	if (!text)
		return cni_error_set(err, CNI_ERR_IO, "format the result: out of memory");
	fputs(text, stdout);
	fputc('\n', stdout);
	cJSON_free(text);
	return 0;
}
