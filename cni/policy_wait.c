#include "policy_wait.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <time.h>

#include "datapath.h"

#define POLL_INTERVAL_NS 5000000L /* 5 ms: a pass of the agent takes a few ms */

static long long monotonic_ms(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

int policy_wait_released(const struct cni_config *config, const struct endpoint_record *record,
			 struct cni_error *err)
{
	const struct timespec interval = { 0, POLL_INTERVAL_NS };
	struct datapath datapath;
	struct weir_endpoint endpoint;
	char errbuf[512], address[INET_ADDRSTRLEN];
	uint32_t address_be = htonl(record->address);
	long long deadline;
	int result = -1, found;

	if (config->policy_wait_ms == 0)
		return 0;
	inet_ntop(AF_INET, &address_be, address, sizeof(address));
	datapath_init(&datapath);
	if (datapath_open(&datapath, config->bpffs, errbuf, sizeof(errbuf)) < 0)
		return cni_error_set(err, CNI_ERR_TRY_AGAIN_LATER,
				     "wait for the policy of pod %s/%s: %s", record->pod_namespace,
				     record->pod_name, errbuf);
	deadline = monotonic_ms() + config->policy_wait_ms;
	for (;;) {
		found = datapath_endpoint_lookup(&datapath, record->address, &endpoint);
		if (found < 0) {
			cni_error_set(err, CNI_ERR_TRY_AGAIN_LATER,
				      "the endpoint of pod %s/%s (%s) disappeared while waiting for "
				      "its policy: %s",
				      record->pod_namespace, record->pod_name, address,
				      strerror(-found));
			break;
		}
		if (!(endpoint.flags & WEIR_ENDPOINT_FLAG_PENDING)) {
			result = 0;
			break;
		}
		if (monotonic_ms() >= deadline) {
			cni_error_set(err, CNI_ERR_TRY_AGAIN_LATER,
				      "weir-agent did not write the policy of pod %s/%s (%s) within "
				      "%d ms (policyWaitMs); ADD is undone for the runtime to retry: "
				      "is weir-agent running on this node?",
				      record->pod_namespace, record->pod_name, address,
				      config->policy_wait_ms);
			break;
		}
		nanosleep(&interval, NULL);
	}
	datapath_close(&datapath);
	return result;
}
