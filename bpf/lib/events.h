/* Flow events into the ring buffer, rate-limited per CPU so a flood cannot starve the reader.
 * What the budget refuses is counted (events_suppressed), as is what the ring cannot take
 * (events_lost): the counters stay exact even when events are not. */
#ifndef WEIR_BPF_EVENTS_H
#define WEIR_BPF_EVENTS_H

#include "maps.h"
#include "metrics.h"
#include "parse.h"

#define EVENT_WINDOW_NS 1000000000ULL
/* The agent is woken only once this much is waiting; otherwise it collects events on its own
 * 100 ms tick (WEIR_EVENTS_POLL_MS). A wakeup per event cost more than the event itself. */
#define EVENT_WAKEUP_BYTES (64 * 1024)

static __always_inline __u64 event_wakeup_flags(void)
{
	return bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= EVENT_WAKEUP_BYTES
		       ? BPF_RB_FORCE_WAKEUP
		       : BPF_RB_NO_WAKEUP;
}

static __always_inline struct weir_datapath_config *datapath_config(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&dp_config, &zero);
}

/* NEW_FLOW, FLOW_END and HTTP events can be turned off (dp_config); drops are always reported. */
static __always_inline int flow_events_on(void)
{
	struct weir_datapath_config *config = datapath_config();

	return !config || !config->flow_events_off;
}

static __always_inline int event_budget_take(void)
{
	__u32 zero = 0;
	struct event_budget *budget = bpf_map_lookup_elem(&event_budgets, &zero);
	__u64 now = bpf_ktime_get_ns();

	if (!budget)
		return 0;
	if (now - budget->window_start_ns > EVENT_WINDOW_NS) {
		budget->window_start_ns = now;
		budget->spent = 0;
	}
	if (budget->spent >= WEIR_EVENTS_PER_SECOND_PER_CPU)
		return 0;
	budget->spent++;
	return 1;
}

/* Room for one record within the rate budget; NULL (counted as suppressed or lost) when
 * there is none. size must be a constant. */
static __always_inline void *event_reserve(__u64 size)
{
	void *record;

	if (!event_budget_take()) {
		metrics_count(WEIR_COUNTER_EVENTS_SUPPRESSED);
		return 0;
	}
	record = bpf_ringbuf_reserve(&events, size, 0);
	if (!record)
		metrics_count(WEIR_COUNTER_EVENTS_LOST);
	return record;
}

static __always_inline void event_emit(__u8 type, __u8 reason, __u8 direction, __u32 endpoint_id,
				       __u32 peer_identity, __u32 rule_id,
				       const struct packet *packet)
{
	struct weir_event *event;

	event = event_reserve(sizeof(*event));
	if (!event)
		return;
	event->timestamp_ns = bpf_ktime_get_ns();
	event->type = type;
	event->reason = reason;
	event->direction = direction;
	event->protocol = packet->protocol;
	event->endpoint_id = endpoint_id;
	event->peer_identity = peer_identity;
	event->rule_id = rule_id;
	event->source = packet->source;
	event->destination = packet->destination;
	event->source_port = packet->source_port;
	event->destination_port = packet->destination_port;
	event->length = packet->length;
	bpf_ringbuf_submit(event, event_wakeup_flags());
}

static __always_inline void flow_end_emit(const struct weir_ct_key *key,
					  const struct weir_ct_entry *entry, __u8 cause, __u64 now)
{
	struct weir_flow_end_event *event;

	metrics_count(WEIR_COUNTER_FLOWS_ENDED);
	if (!flow_events_on())
		return;
	event = event_reserve(sizeof(*event));
	if (!event)
		return;
	weir_flow_end_fill(event, key, entry, cause, now, now);
	bpf_ringbuf_submit(event, event_wakeup_flags());
}

#endif
