/* ADD's last step: waiting, bounded, for the agent to release the new pod, so a pod starts with
 * its policy in force instead of closed. */
#ifndef WEIR_CNI_POLICY_WAIT_H
#define WEIR_CNI_POLICY_WAIT_H

#include "config.h"
#include "endpoint_record.h"
#include "errors.h"

/* Polls the pod's endpoint until the agent clears its pending flag. Returns 0 once released
 * (or at once when config->policy_wait_ms is 0), -1 with err set (code 11) when the wait runs
 * out or the endpoint disappears. */
int policy_wait_released(const struct cni_config *config, const struct endpoint_record *record,
			 struct cni_error *err);

#endif
