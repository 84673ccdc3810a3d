/* What the datapath needs from the kernel, checked before anything is loaded. */
#ifndef WEIR_AGENT_KERNEL_FEATURES_H
#define WEIR_AGENT_KERNEL_FEATURES_H

#include <stddef.h>

/* Returns 0 when every feature is there; otherwise -1 with errbuf naming the missing one and
 * the kernel version that brings it (principle 2: refuse, never degrade quietly). */
int kernel_features_check(char *errbuf, size_t errlen);

#endif
