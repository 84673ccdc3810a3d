/* DEL: undo ADD. Succeeds whatever is already gone: the netns, the veth, the record, the
 * address, the maps (agent down). Runtimes retry DEL until it succeeds. */
#include <stdio.h>

#include "commands.h"
#include "ipam.h"
#include "pod_wiring.h"
#include "result.h"

int cmd_del(const struct cni_config *config, const struct cni_environment *env,
	    struct cni_error *err)
{
	struct previous_result previous;
	struct cni_error ignored;
	uint32_t known_address = 0;
	struct ipam ipam;
	char errbuf[512];
	int result;

	if (config->prev_result &&
	    previous_result_parse(config->prev_result, env->ifname, &previous, &ignored) == 0)
		known_address = previous.address;
	if (ipam_open_locked(&ipam, config->state_dir, errbuf, sizeof(errbuf)) < 0)
		return cni_error_set(err, CNI_ERR_IO, "%s", errbuf);
	result = pod_wiring_remove(config, &ipam, env->container_id, env->ifname, known_address, err);
	ipam_close(&ipam);
	return result;
}
