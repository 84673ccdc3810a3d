/* The differential test of the datapath (issue 15): random worlds (identities, policies, an
 * HTTP rule set) and random sequences of hostile frames, run through the real programs and
 * judged by a small reference model written here, apart from the datapath's code.
 *   differential_generator.c  the seeded generator: worlds, sequences, frames
 *   differential_model.c      the reference model: what must never be delivered
 *   test_differential.c       the suite: runs, compares, shrinks and classifies violations */
#ifndef WEIR_TESTS_BPF_DIFFERENTIAL_H
#define WEIR_TESTS_BPF_DIFFERENTIAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- the world: local pods, their identities and policies, the HTTP rule set ---- */

#define DIFF_LOCAL_PODS 3 /* A and B behind the test interface, C behind another one */
#define DIFF_MAX_RULES 8
#define DIFF_MAX_HTTP_RULES 3
#define DIFF_L7_PORT 8080

enum diff_direction { DIFF_INGRESS = 0, DIFF_EGRESS = 1 };
enum diff_verdict { DIFF_ALLOW = 1, DIFF_DENY = 2 };

struct diff_rule {
	uint32_t identity; /* 0: any peer */
	uint8_t protocol;  /* 0: any protocol (and any port) */
	uint16_t first_port, last_port; /* 0,0: any port */
	uint8_t verdict;		/* enum diff_verdict */
	bool http;			/* every request is checked against the world's HTTP rules */
	uint32_t rule_id;
};

struct diff_direction_policy {
	uint32_t isolation_rule; /* 0: not isolated */
	struct diff_rule rules[DIFF_MAX_RULES];
	size_t rule_count;
};

struct diff_pod {
	uint32_t address; /* host byte order */
	uint32_t endpoint_id;
	uint32_t identity;
	bool on_test_interface; /* its veth is the one the test runs packets on */
	uint8_t mac[6];
	struct diff_direction_policy policy[2]; /* by enum diff_direction */
};

struct diff_http_rule {
	uint8_t method; /* WEIR_HTTP_METHOD_*, 0: any */
	char path[24];	/* ends in '*': a prefix */
};

/* The address -> identity table (the ipcache's content, kept here for the model). */
struct diff_prefix {
	uint32_t address; /* host byte order */
	uint8_t length;
	uint32_t identity;
};

#define DIFF_MAX_PREFIXES 8

struct diff_world {
	struct diff_pod pods[DIFF_LOCAL_PODS];
	struct diff_prefix prefixes[DIFF_MAX_PREFIXES]; /* the pods' /32s are added from pods */
	size_t prefix_count;
	struct diff_http_rule http[DIFF_MAX_HTTP_RULES];
	size_t http_count;
	uint32_t http_rule_set; /* rule_id of the HTTP-flagged policy entries */
};

/* ---- a sequence: packets, policy changes, time passing ---- */

enum diff_hook { DIFF_FROM_POD = 0, DIFF_TO_POD = 1 };
enum diff_step_kind {
	DIFF_STEP_PACKET,
	DIFF_STEP_POLICY_CHANGE,
	DIFF_STEP_TIME_PASSES,
	DIFF_STEP_POD_REPLACED, /* the pod is deleted and a new one gets its address */
	DIFF_STEP_EVICTION,	/* a flood pushes a connection's entry out of the LRU */
};

#define DIFF_FRAME_MAX 1600

struct diff_step {
	enum diff_step_kind kind;
	enum diff_hook hook;
	uint8_t frame[DIFF_FRAME_MAX];
	size_t length;
	char note[96]; /* what the generator meant, for the reproducer */
	/* DIFF_STEP_POLICY_CHANGE, DIFF_STEP_POD_REPLACED: the pod's new policies (and, when
	 * replaced, the new pod's endpoint id and identity) */
	size_t pod;
	struct diff_direction_policy policy[2];
	uint32_t endpoint_id, identity;
	/* DIFF_STEP_TIME_PASSES */
	uint32_t seconds;
	/* DIFF_STEP_EVICTION: the connection, by its addresses and ports (host byte order) */
	uint32_t evicted_source, evicted_destination;
	uint16_t evicted_source_port, evicted_destination_port;
};

struct diff_sequence {
	uint64_t seed;
	struct diff_world world;
	struct diff_step *steps;
	size_t count, capacity;
};

/* Generator. */
uint64_t diff_random(uint64_t *state);
int diff_generate(uint64_t seed, struct diff_sequence *sequence);
void diff_sequence_free(struct diff_sequence *sequence);
/* One line per step, for reproducers; a pod's policies as text. */
void diff_step_describe(const struct diff_step *step, char *text, size_t size);
void diff_policies_describe(const struct diff_direction_policy policy[2], char *text,
			    size_t size);

/* ---- the model ---- */

enum diff_model_verdict {
	DIFF_MODEL_MAY = 0,  /* either fate is acceptable */
	DIFF_MODEL_DENY,     /* delivering it is a bypass */
	DIFF_MODEL_MUST,     /* a plain allowed case: dropping it is a defect too */
};

/* Bypass classes: what a delivered-but-denied packet exploited. */
enum diff_class {
	DIFF_CLASS_NONE = 0,
	DIFF_CLASS_SPOOFED,	   /* a source IP or MAC not the sender's */
	DIFF_CLASS_HAIRPIN_SOURCE, /* the hairpin address as a source from the host side */
	DIFF_CLASS_MALFORMED,	   /* truncated or not IPv4 */
	DIFF_CLASS_UNKNOWN_DESTINATION, /* to_pod for an address not behind this interface */
	DIFF_CLASS_POLICY,	   /* a new flow the policies deny */
	DIFF_CLASS_STALE_CT,	   /* a flow the current policy no longer allows */
	DIFF_CLASS_FRAGMENT,	   /* a later fragment without an allowed first fragment */
	DIFF_CLASS_ICMP_ERROR,	   /* an ICMP error quoting a flow, from or to the wrong address */
	DIFF_CLASS_L7_URGENT,	   /* a denied request the urgent byte's removal reveals */
	DIFF_CLASS_L7_ORDER,	   /* out-of-order, overlapping, rewritten or decoy segments */
	DIFF_CLASS_L7_FRAGMENT,	   /* a request carried in IP fragments */
	DIFF_CLASS_L7_MIDSTREAM,   /* a request after the datapath's entry closed or expired */
	DIFF_CLASS_L7_FAST_OPEN,   /* a request in a SYN's data (TCP Fast Open) */
	DIFF_CLASS_L7_PATH,	   /* a path the rule matches as written, not as servers read it */
	DIFF_CLASS_L7_OTHER,	   /* any other denied request reaching the server */
	DIFF_CLASS_MISSED_ALLOW,   /* completeness: a plain allowed packet was dropped */
	DIFF_CLASS_COUNT,
};

const char *diff_class_name(enum diff_class class);
enum diff_class diff_class_by_name(const char *name);

struct diff_judgment {
	enum diff_model_verdict verdict;
	enum diff_class class; /* for DIFF_MODEL_DENY */
	char reason[160];
};

struct diff_model;
struct diff_model *diff_model_new(const struct diff_world *world);
void diff_model_free(struct diff_model *model);
/* What the model says of this step's packet, before it is run. */
struct diff_judgment diff_model_judge(struct diff_model *model, const struct diff_step *step);
/* What happened to it: the model's view of flows and of each server's stream follows. */
void diff_model_observe(struct diff_model *model, const struct diff_step *step, bool delivered);
/* Policy changes, pods replaced, time. */
void diff_model_policy_change(struct diff_model *model, const struct diff_step *step);
void diff_model_pod_replaced(struct diff_model *model, const struct diff_step *step);
void diff_model_time_passes(struct diff_model *model, uint32_t seconds);
/* The datapath lost its entry for a connection; the endpoints did not. */
void diff_model_eviction(struct diff_model *model, const struct diff_step *step);

#endif
