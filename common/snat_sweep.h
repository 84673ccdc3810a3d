/* Garbage collection of masquerade mappings: a pair of halves (abi.h, snat) is removed whole
 * once both halves are idle past their timeout, and the pod's released count goes up by one, so
 * its port quota is given back exactly. Reverse halves whose forward half is gone are removed
 * when idle (the datapath already refuses to use them). Called by the agent's conntrack sweep. */
#ifndef WEIR_COMMON_SNAT_SWEEP_H
#define WEIR_COMMON_SNAT_SWEEP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "abi.h"

struct snat_sweep_result {
	uint64_t pairs_removed;
	uint64_t orphans_removed; /* reverse halves without their forward half */
	uint64_t halves_kept;
};

/* A half past its timeout at now_ns (CLOCK_MONOTONIC, the datapath's clock). */
bool snat_half_expired(const struct weir_snat_key *key, const struct weir_snat_entry *entry,
		       uint64_t now_ns);
/* The reverse key a forward half points at. */
void snat_reverse_key_of(const struct weir_snat_key *forward, const struct weir_snat_entry *out,
			 struct weir_snat_key *reverse);

/* One walk over the snat map (snat_fd) crediting snat_released (released_fd); an error (the
 * first, in errbuf) does not stop the walk. */
int snat_sweep(int snat_fd, int released_fd, uint64_t now_ns, struct snat_sweep_result *result,
	       char *errbuf, size_t errlen);

#endif
