/* The conntrack sweep: every CT_SWEEP_INTERVAL_MS the agent walks the pinned ct map, reports
 * each connection that expired without a FIN or RST as a flow end with cause "expired" (the
 * datapath reports the others itself) and deletes every expired entry. It is conntrack's
 * garbage collection: the datapath treats an expired entry as absent but leaves it in place.
 * A walk is done in slices (CT_SWEEP_SLICE entries per call), so a full map never stalls the
 * agent's loop. */
#ifndef WEIR_AGENT_CT_SWEEP_H
#define WEIR_AGENT_CT_SWEEP_H

#include <stddef.h>
#include <stdint.h>

#include "abi.h"
#include "flow_log.h"

#define CT_SWEEP_INTERVAL_MS 5000
#define CT_SWEEP_SLICE 4096

enum ct_sweep_action {
	CT_SWEEP_KEEP = 0,	/* not expired */
	CT_SWEEP_DELETE,	/* expired, already reported (closing) or not a connection */
	CT_SWEEP_REPORT_AND_DELETE,
};

/* What the sweep does with an entry at now_ns (CLOCK_MONOTONIC, the datapath's clock). */
enum ct_sweep_action ct_sweep_judge(const struct weir_ct_entry *entry, uint64_t now_ns);
/* The flow end record of an expired entry, stamped now_ns. */
void ct_sweep_summary(const struct weir_ct_key *key, const struct weir_ct_entry *entry,
		      uint64_t now_ns, struct weir_flow_end_event *event);

struct ct_sweep;

/* Opens the pinned ct map under bpffs; reports go through flow_log (may be NULL: delete only). */
struct ct_sweep *ct_sweep_open(const char *bpffs, struct flow_log *flow_log, char *errbuf,
			       size_t errlen);
void ct_sweep_close(struct ct_sweep *sweep);
/* Works one slice when a walk is due or under way. */
void ct_sweep_run(struct ct_sweep *sweep, uint64_t now_ms);
/* Milliseconds until ct_sweep_run has work. */
long ct_sweep_timeout_ms(const struct ct_sweep *sweep, uint64_t now_ms);

struct ct_sweep_stats {
	uint64_t walks;		/* completed walks */
	uint64_t expired_reported; /* flow ends reported with cause "expired" */
	uint64_t expired_deleted;  /* every expired entry removed */
	uint64_t entries;	   /* entries the last completed walk left in place */
	uint64_t snat_pairs_removed; /* idle masquerade mappings removed (both halves) */
};
void ct_sweep_stats(const struct ct_sweep *sweep, struct ct_sweep_stats *stats);

#endif
