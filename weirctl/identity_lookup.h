/* A peer's identity as the datapath finds it: the ipcache's longest prefix match, world when
 * nothing matches (bpf/lib/identity.h). */
#ifndef WEIR_WEIRCTL_IDENTITY_LOOKUP_H
#define WEIR_WEIRCTL_IDENTITY_LOOKUP_H

#include <stdint.h>

#include "datapath.h"

/* address: network byte order. */
uint32_t identity_of_address(struct datapath *datapath, uint32_t address);
/* The address identity of the entry (an ipBlock names this pod's or node's /32), 0: none. */
uint32_t address_identity_of_address(struct datapath *datapath, uint32_t address);

#endif
