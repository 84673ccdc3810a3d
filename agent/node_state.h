/* What the agent publishes for weir-cni: <stateDir>/node.json (node name, pod CIDR) and the
 * CNI conflist in the CNI config folder. */
#ifndef WEIR_AGENT_NODE_STATE_H
#define WEIR_AGENT_NODE_STATE_H

#include <stddef.h>

#include "options.h"

#define WEIR_CNI_CONFLIST_NAME "10-weir.conflist"

int node_state_write(const struct agent_options *options, char *errbuf, size_t errlen);
int cni_conflist_write(const struct agent_options *options, char *errbuf, size_t errlen);

#endif
