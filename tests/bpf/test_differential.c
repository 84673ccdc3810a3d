/* The differential test (issue 15): thousands of generated sequences run through the real
 * from_pod/to_pod programs; the reference model says which packets must never be delivered
 * (and, on plain cases, which must). A violation is shrunk to a minimal reproducer, printed
 * with its seed and classified by bypass class.
 *
 * Environment:
 *   WEIR_DIFF_SEQUENCES=N   sequences per run (default 3000; `make fuzz` runs many more)
 *   WEIR_DIFF_SEED=S        first seed (default 1; sequence i uses S + i)
 *   WEIR_DIFF_REPLAY=S      run only seed S and print every step with both verdicts
 *   WEIR_DIFF_KNOWN=class:branch,...   a class of bypass being fixed on another branch: its
 *                           violations are logged and counted as "known bypass, fixed on
 *                           branch X", not failed (only until that branch is merged); added
 *                           to KNOWN_BYPASSES below
 *   WEIR_DIFF_SECONDS=T     stop starting sequences after T seconds (0: no limit) */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>

#include "checksum.h"
#include "differential.h"
#include "fixture.h"
#include "suites.h"

#define REPORTED_MAX 6 /* reproducers printed per class and run */

/* Classes of bypass fixed on a branch not merged yet, as "class:branch,...". Only while that
 * branch is on its way: on main this stays empty, and every violation fails the test. */
#define KNOWN_BYPASSES ""

struct known_class {
	enum diff_class class;
	char branch[64];
};

struct violation {
	size_t known_hits[DIFF_CLASS_COUNT]; /* violations of known classes run past */
	bool found;
	size_t step;
	enum diff_class class;
	char reason[160];
	int verdict;
};

struct run_stats {
	size_t sequences, packets, delivered, denied_asserted, must_asserted;
	size_t violations[DIFF_CLASS_COUNT];
	size_t known[DIFF_CLASS_COUNT];
	uint64_t first_seed[DIFF_CLASS_COUNT];
};

static struct known_class known[DIFF_CLASS_COUNT];
static size_t known_count;

static void known_parse(void)
{
	const char *text = getenv("WEIR_DIFF_KNOWN");
	char copy[1024], *save = NULL;

	known_count = 0;
	snprintf(copy, sizeof(copy), "%s%s%s", KNOWN_BYPASSES, text && *KNOWN_BYPASSES ? "," : "",
		 text ? text : "");
	for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		char *colon = strchr(item, ':');
		enum diff_class class;

		if (colon)
			*colon = 0;
		class = diff_class_by_name(item);
		if (class == DIFF_CLASS_NONE || known_count >= DIFF_CLASS_COUNT) {
			fprintf(stderr, "    known bypasses: no bypass class \"%s\"\n", item);
			continue;
		}
		known[known_count].class = class;
		snprintf(known[known_count].branch, sizeof(known[known_count].branch), "%s",
			 colon ? colon + 1 : "?");
		known_count++;
	}
}

static const char *known_branch(enum diff_class class)
{
	for (size_t i = 0; i < known_count; i++)
		if (known[i].class == class)
			return known[i].branch;
	return NULL;
}

/* ---- the datapath side ---- */

static int map_clear(int fd)
{
	uint8_t key[64], next[64];

	while (bpf_map_get_next_key(fd, NULL, next) == 0) {
		memcpy(key, next, sizeof(key));
		if (bpf_map_delete_elem(fd, key) < 0)
			return -1;
	}
	return 0;
}

static int http_rule_write(const struct diff_world *world, uint32_t index,
			   const struct diff_http_rule *http)
{
	struct weir_http_rule_key key = { .rule_id = world->http_rule_set, .index = index };
	struct weir_http_rule rule = { 0 };
	size_t length = strlen(http->path);

	if (http->method) {
		rule.match |= WEIR_HTTP_MATCH_METHOD;
		rule.method = http->method;
	}
	rule.match |= WEIR_HTTP_MATCH_PATH;
	if (length && http->path[length - 1] == '*') {
		rule.match |= WEIR_HTTP_MATCH_PATH_PREFIX;
		length--;
	}
	memcpy(rule.path, http->path, length);
	memset(rule.path_mask, 0xff, length);
	rule.path_length = (uint8_t)length;
	return bpf_map_update_elem(datapath.http_rules_fd, &key, &rule, BPF_ANY);
}

static int pod_policy_write(const struct diff_pod *pod)
{
	if (isolate(pod->endpoint_id, pod->policy[DIFF_INGRESS].isolation_rule,
		    pod->policy[DIFF_EGRESS].isolation_rule) < 0)
		return -1;
	for (int direction = 0; direction < 2; direction++) {
		const struct diff_direction_policy *policy = &pod->policy[direction];

		for (size_t i = 0; i < policy->rule_count; i++) {
			const struct diff_rule *rule = &policy->rules[i];
			int err;

			if (rule->http) {
				/* One port with the HTTP flag, written as the agent writes it. */
				struct weir_policy_key key = {
					.prefix_length = WEIR_POLICY_PREFIX_FIXED + 16,
					.endpoint_id = pod->endpoint_id, .identity = rule->identity,
					.direction = (uint8_t)direction, .protocol = rule->protocol,
					.port = htons(rule->first_port) };
				struct weir_policy_entry entry = { .verdict = WEIR_VERDICT_ALLOW,
								   .flags = WEIR_POLICY_FLAG_HTTP,
								   .rule_id = rule->rule_id };
				err = bpf_map_update_elem(datapath.policy_fd, &key, &entry, BPF_ANY);
			} else if (rule->verdict == DIFF_ALLOW) {
				err = allow(pod->endpoint_id, (uint8_t)direction, rule->identity,
					    rule->protocol, rule->first_port, rule->last_port,
					    rule->rule_id);
			} else {
				err = deny(pod->endpoint_id, (uint8_t)direction, rule->identity,
					   rule->protocol, rule->first_port, rule->last_port,
					   rule->rule_id);
			}
			if (err < 0) {
				fprintf(stderr, "    write rule %u of endpoint %u: %s\n", rule->rule_id,
					pod->endpoint_id, strerror(errno));
				return -1;
			}
		}
	}
	return 0;
}

static int pod_policy_clear(uint32_t endpoint_id)
{
	struct weir_policy_key key, next;
	bool more = bpf_map_get_next_key(datapath.policy_fd, NULL, &next) == 0;

	while (more) {
		key = next;
		more = bpf_map_get_next_key(datapath.policy_fd, &key, &next) == 0;
		if (key.endpoint_id == endpoint_id &&
		    bpf_map_delete_elem(datapath.policy_fd, &key) < 0)
			return -1;
		if (key.endpoint_id == endpoint_id && more) {
			/* deleting may reorder the walk: start over */
			more = bpf_map_get_next_key(datapath.policy_fd, NULL, &next) == 0;
		}
	}
	return 0;
}

/* Empties the maps a sequence touches and writes its world. Cheaper than fixture_setup,
 * which zeroes every array. */
static int world_write(const struct diff_world *world)
{
	char errbuf[256];
	int fds[] = { datapath.ct_fd,	       datapath.fragments_fd, datapath.policy_fd,
		      datapath.endpoint_policy_fd, datapath.http_rules_fd, datapath.ipcache_fd,
		      datapath.endpoints_fd };

	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (map_clear(fds[i]) < 0) {
			fprintf(stderr, "    clear map (fd %d): %s\n", fds[i], strerror(errno));
			return -1;
		}
	for (size_t i = 0; i < DIFF_LOCAL_PODS; i++) {
		const struct diff_pod *pod = &world->pods[i];
		struct weir_endpoint endpoint = { .host_ifindex = pod->on_test_interface
									  ? TEST_IFINDEX
									  : 99,
						  .endpoint_id = pod->endpoint_id,
						  .flags = WEIR_ENDPOINT_FLAG_LOCAL };

		memcpy(endpoint.pod_mac, pod->mac, 6);
		memcpy(endpoint.host_mac, i == 0 ? HOST_MAC_A : HOST_MAC_B, 6);
		if (datapath_endpoint_upsert(&datapath, pod->address, &endpoint, errbuf,
					     sizeof(errbuf)) < 0 ||
		    datapath_ipcache_upsert(&datapath, pod->address, 32, pod->identity, errbuf,
					    sizeof(errbuf)) < 0) {
			fprintf(stderr, "    pod %zu: %s\n", i, errbuf);
			return -1;
		}
		if (pod_policy_write(pod) < 0)
			return -1;
	}
	for (size_t i = 0; i < world->prefix_count; i++)
		if (datapath_ipcache_upsert(&datapath, world->prefixes[i].address,
					    world->prefixes[i].length, world->prefixes[i].identity,
					    errbuf, sizeof(errbuf)) < 0) {
			fprintf(stderr, "    ipcache: %s\n", errbuf);
			return -1;
		}
	for (size_t i = 0; i < world->http_count; i++)
		if (http_rule_write(world, (uint32_t)i, &world->http[i]) < 0)
			return -1;
	records_of_type(0); /* drain the ring buffer */
	return bump_revision();
}

static int policy_change_apply(struct diff_world *world, const struct diff_step *step)
{
	struct diff_pod *pod = &world->pods[step->pod];

	pod->policy[DIFF_INGRESS] = step->policy[DIFF_INGRESS];
	pod->policy[DIFF_EGRESS] = step->policy[DIFF_EGRESS];
	if (pod_policy_clear(pod->endpoint_id) < 0 || pod_policy_write(pod) < 0)
		return -1;
	return bump_revision();
}

/* CNI DEL of the old pod and the agent's removal of its policy, then CNI ADD of the new pod
 * at the same address, its identity and policy, and a new revision. */
static int pod_replace(struct diff_world *world, const struct diff_step *step, size_t index)
{
	struct diff_pod *pod = &world->pods[index];
	struct weir_endpoint endpoint = { .host_ifindex = pod->on_test_interface ? TEST_IFINDEX
										 : 99,
					  .endpoint_id = step->endpoint_id,
					  .flags = WEIR_ENDPOINT_FLAG_LOCAL };
	char errbuf[256];

	if (datapath_endpoint_delete(&datapath, pod->address, 0, errbuf, sizeof(errbuf)) < 0 ||
	    pod_policy_clear(pod->endpoint_id) < 0) {
		fprintf(stderr, "    delete pod %zu: %s\n", index, errbuf);
		return -1;
	}
	bpf_map_delete_elem(datapath.endpoint_policy_fd, &pod->endpoint_id);
	pod->endpoint_id = step->endpoint_id;
	pod->identity = step->identity;
	pod->policy[DIFF_INGRESS] = step->policy[DIFF_INGRESS];
	pod->policy[DIFF_EGRESS] = step->policy[DIFF_EGRESS];
	memcpy(endpoint.pod_mac, pod->mac, 6);
	memcpy(endpoint.host_mac, index == 0 ? HOST_MAC_A : HOST_MAC_B, 6);
	if (datapath_endpoint_upsert(&datapath, pod->address, &endpoint, errbuf, sizeof(errbuf)) <
		    0 ||
	    datapath_ipcache_upsert(&datapath, pod->address, 32, pod->identity, errbuf,
				    sizeof(errbuf)) < 0) {
		fprintf(stderr, "    add pod %zu: %s\n", index, errbuf);
		return -1;
	}
	if (pod_policy_write(pod) < 0)
		return -1;
	return bump_revision();
}

/* What an LRU flood does to one connection: its entry is gone, either way round. */
static void evict(const struct diff_step *step)
{
	struct weir_ct_key key = { .source = htonl(step->evicted_source),
				   .destination = htonl(step->evicted_destination),
				   .source_port = htons(step->evicted_source_port),
				   .destination_port = htons(step->evicted_destination_port),
				   .protocol = IPPROTO_TCP };
	struct weir_ct_key reverse = { .source = key.destination, .destination = key.source,
				       .source_port = key.destination_port,
				       .destination_port = key.source_port,
				       .protocol = IPPROTO_TCP };

	bpf_map_delete_elem(datapath.ct_fd, &key);
	bpf_map_delete_elem(datapath.ct_fd, &reverse);
}

/* Time passes for conntrack: every deadline comes nearer. */
static int time_passes(uint32_t seconds)
{
	struct weir_ct_key key, next;
	struct weir_ct_entry entry;
	uint64_t amount = (uint64_t)seconds * 1000000000ull;
	bool more = bpf_map_get_next_key(datapath.ct_fd, NULL, &next) == 0;

	while (more) {
		key = next;
		more = bpf_map_get_next_key(datapath.ct_fd, &key, &next) == 0;
		if (bpf_map_lookup_elem(datapath.ct_fd, &key, &entry) < 0)
			continue;
		entry.expires_ns = entry.expires_ns > amount ? entry.expires_ns - amount : 0;
		if (bpf_map_update_elem(datapath.ct_fd, &key, &entry, BPF_EXIST) < 0)
			return -1;
	}
	return 0;
}

/* The packet reached its destination as it was sent: a pass verdict and the same bytes
 * (TTL, MACs and the IP checksum aside). A RST or 403 written in its place is not. */
static bool delivered_as_sent(const struct diff_step *step, const struct run_result *result)
{
	if (result->verdict != TC_ACT_OK && result->verdict != TC_ACT_REDIRECT)
		return false;
	if (result->length != step->length || step->length < 34)
		return result->length == step->length &&
		       memcmp(result->frame, step->frame, step->length) == 0;
	return memcmp(result->frame + 14, step->frame + 14, 8) == 0 &&
	       memcmp(result->frame + 26, step->frame + 26, step->length - 26) == 0;
}

/* Runs steps [0, count) of the sequence, skipping those marked in skip; stops at the first
 * violation of a class not listed as known (those are counted and run past: the model's state
 * follows what was delivered either way). verbose prints every step. */
static int sequence_run(const struct diff_sequence *sequence, const bool *skip, size_t count,
			bool verbose, struct violation *violation, struct run_stats *stats)
{
	struct diff_world world = sequence->world;
	struct diff_model *model = diff_model_new(&world);
	int err = 0;

	memset(violation, 0, sizeof(*violation));
	if (!model || world_write(&world) < 0) {
		diff_model_free(model);
		return -1;
	}
	for (size_t i = 0; i < count && !violation->found; i++) {
		const struct diff_step *step = &sequence->steps[i];
		char text[800];
		struct diff_judgment judgment;
		struct run_result result;
		bool delivered;

		if (skip && skip[i])
			continue;
		if (verbose && step->kind != DIFF_STEP_PACKET) {
			diff_step_describe(step, text, sizeof(text));
			fprintf(stderr, "    %3zu %s\n", i, text);
		}
		if (step->kind == DIFF_STEP_POLICY_CHANGE) {
			if (policy_change_apply(&world, step) < 0) {
				err = -1;
				break;
			}
			diff_model_policy_change(model, step);
			continue;
		}
		if (step->kind == DIFF_STEP_POD_REPLACED) {
			if (pod_replace(&world, step, step->pod) < 0) {
				err = -1;
				break;
			}
			diff_model_pod_replaced(model, step);
			continue;
		}
		if (step->kind == DIFF_STEP_EVICTION) {
			evict(step);
			diff_model_eviction(model, step);
			continue;
		}
		if (step->kind == DIFF_STEP_TIME_PASSES) {
			if (time_passes(step->seconds) < 0) {
				err = -1;
				break;
			}
			diff_model_time_passes(model, step->seconds);
			continue;
		}
		judgment = diff_model_judge(model, step);
		result = run_frame(step->hook == DIFF_FROM_POD ? FROM_POD : TO_POD, step->frame,
				   step->length);
		if (result.verdict <= -1000) {
			fprintf(stderr, "    BPF_PROG_TEST_RUN failed (%d) at step %zu\n",
				result.verdict + 1000, i);
			err = -1;
			break;
		}
		delivered = delivered_as_sent(step, &result);
		if (verbose) {
			diff_step_describe(step, text, sizeof(text));
			fprintf(stderr, "    %3zu %-9s model %-4s %s\n", i,
				delivered ? "delivered" : "dropped",
				judgment.verdict == DIFF_MODEL_DENY	? "DENY"
				: judgment.verdict == DIFF_MODEL_MUST ? "MUST"
								      : "may",
				text);
		}
		if (stats) {
			stats->packets++;
			stats->delivered += delivered;
			stats->denied_asserted += judgment.verdict == DIFF_MODEL_DENY;
			stats->must_asserted += judgment.verdict == DIFF_MODEL_MUST;
		}
		if (delivered && judgment.verdict == DIFF_MODEL_DENY && known_branch(judgment.class)) {
			violation->known_hits[judgment.class]++;
		} else if (delivered && judgment.verdict == DIFF_MODEL_DENY) {
			violation->found = true;
			violation->class = judgment.class;
			snprintf(violation->reason, sizeof(violation->reason), "%s", judgment.reason);
		} else if (!delivered && judgment.verdict == DIFF_MODEL_MUST) {
			violation->found = true;
			violation->class = DIFF_CLASS_MISSED_ALLOW;
			snprintf(violation->reason, sizeof(violation->reason),
				 "dropped (verdict %d): %s", result.verdict, judgment.reason);
		}
		violation->step = i;
		violation->verdict = result.verdict;
		diff_model_observe(model, step, delivered);
	}
	if (!violation->found)
		violation->step = 0;
	diff_model_free(model);
	return err;
}

/* Classes of denied requests reaching the server: one bypass, whose class names the trick it
 * needed, which only shows once incidental steps are gone. */
static bool same_family(enum diff_class a, enum diff_class b)
{
	bool a_l7 = a >= DIFF_CLASS_L7_URGENT && a <= DIFF_CLASS_L7_OTHER;
	bool b_l7 = b >= DIFF_CLASS_L7_URGENT && b <= DIFF_CLASS_L7_OTHER;

	return a == b || (a_l7 && b_l7);
}

/* Drops steps one at a time, last first, while a violation of the same family remains; again
 * until a pass drops nothing (a step may only become removable once another is gone). The
 * class is the shrunk sequence's. */
static int sequence_shrink(const struct diff_sequence *sequence, bool *skip,
			   struct violation *violation)
{
	size_t end = violation->step + 1;
	bool dropped = true;

	for (int pass = 0; pass < 4 && dropped; pass++) {
		dropped = false;
		for (size_t i = end; i-- > 0;) {
			struct violation trial;

			if (skip[i])
				continue;
			skip[i] = true;
			if (sequence_run(sequence, skip, end, false, &trial, NULL) < 0)
				return -1;
			if (trial.found && same_family(trial.class, violation->class)) {
				*violation = trial;
				end = trial.step + 1;
				dropped = true;
			} else {
				skip[i] = false;
			}
		}
	}
	for (size_t i = end; i < sequence->count; i++)
		skip[i] = true;
	return 0;
}

static void world_describe(const struct diff_world *world)
{
	char policies[600];

	for (size_t i = 0; i < DIFF_LOCAL_PODS; i++) {
		diff_policies_describe(world->pods[i].policy, policies, sizeof(policies));
		fprintf(stderr, "      pod %c: identity %u; %s\n", "ABC"[i], world->pods[i].identity,
			policies);
	}
	for (size_t i = 0; i < world->http_count; i++)
		fprintf(stderr, "      http rule: %s %s\n",
			world->http[i].method ? weir_http_method_names[world->http[i].method] : "*",
			world->http[i].path);
}

static void violation_report(const struct diff_sequence *sequence, const bool *skip,
			     const struct violation *violation)
{
	struct violation again;

	fprintf(stderr, "    VIOLATION %s (seed %llu, replay: WEIR_DIFF_REPLAY=%llu): %s\n",
		diff_class_name(violation->class), (unsigned long long)sequence->seed,
		(unsigned long long)sequence->seed, violation->reason);
	world_describe(&sequence->world);
	/* The shrunk sequence once more, every step with the datapath's fate and the model's. */
	if (sequence_run(sequence, skip, violation->step + 1, true, &again, NULL) < 0 ||
	    !again.found || again.class != violation->class)
		fprintf(stderr, "      (the shrunk sequence did not repeat the violation)\n");
}

static uint64_t env_number(const char *name, uint64_t fallback)
{
	const char *text = getenv(name);
	char *end;
	unsigned long long value;

	if (!text || !*text)
		return fallback;
	value = strtoull(text, &end, 0);
	return *end ? fallback : value;
}

static double seconds_since(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

static void sequences_never_deliver_what_the_model_denies(void)
{
	uint64_t first = env_number("WEIR_DIFF_SEED", 1);
	uint64_t count = env_number("WEIR_DIFF_SEQUENCES", 3000);
	uint64_t replay = env_number("WEIR_DIFF_REPLAY", 0);
	double limit = (double)env_number("WEIR_DIFF_SECONDS", 0);
	struct run_stats stats = { 0 };
	size_t reported[DIFF_CLASS_COUNT] = { 0 }, failures = 0, known_total = 0;
	struct timespec start;

	SETUP();
	known_parse();
	clock_gettime(CLOCK_MONOTONIC, &start);
	if (replay) {
		first = replay;
		count = 1;
	}
	for (uint64_t n = 0; n < count; n++) {
		struct diff_sequence sequence;
		struct violation violation;
		bool *skip;

		if (limit > 0 && seconds_since(&start) > limit)
			break;
		ASSERT_EQ(diff_generate(first + n, &sequence), 0, "generate a sequence");
		stats.sequences++;
		if (sequence_run(&sequence, NULL, sequence.count, replay != 0, &violation, &stats) <
		    0) {
			diff_sequence_free(&sequence);
			ASSERT_TRUE(false, "run a sequence through the datapath");
		}
		for (int class = 1; class < DIFF_CLASS_COUNT; class++) {
			if (!violation.known_hits[class])
				continue;
			if (!stats.known[class]++)
				fprintf(stderr, "    known bypass, fixed on branch %s: %s (first seen "
					"with seed %llu)\n", known_branch((enum diff_class)class),
					diff_class_name((enum diff_class)class),
					(unsigned long long)sequence.seed);
			known_total++;
		}
		if (!violation.found) {
			diff_sequence_free(&sequence);
			continue;
		}
		skip = calloc(sequence.count, sizeof(*skip));
		if (skip && reported[violation.class] < REPORTED_MAX && !replay &&
		    sequence_shrink(&sequence, skip, &violation) < 0) {
			free(skip);
			diff_sequence_free(&sequence);
			ASSERT_TRUE(false, "shrink a violation");
		}
		if (!stats.violations[violation.class]++)
			stats.first_seed[violation.class] = sequence.seed;
		failures++;
		if (reported[violation.class]++ < REPORTED_MAX && skip)
			violation_report(&sequence, skip, &violation);
		free(skip);
		diff_sequence_free(&sequence);
	}
	fprintf(stderr,
		"    differential: %zu sequences (seeds %llu..%llu), %zu packets, %zu delivered, "
		"%zu denials and %zu must-pass checks asserted, %.1f s\n",
		stats.sequences, (unsigned long long)first,
		(unsigned long long)(first + stats.sequences - 1), stats.packets, stats.delivered,
		stats.denied_asserted, stats.must_asserted, seconds_since(&start));
	for (int class = 1; class < DIFF_CLASS_COUNT; class++) {
		if (stats.violations[class])
			fprintf(stderr, "    differential: %zu sequences violated: %s (first seed %llu)\n",
				stats.violations[class], diff_class_name((enum diff_class)class),
				(unsigned long long)stats.first_seed[class]);
		if (stats.known[class])
			fprintf(stderr,
				"    differential: %zu sequences hit a known bypass, fixed on branch "
				"%s: %s\n",
				stats.known[class], known_branch((enum diff_class)class),
				diff_class_name((enum diff_class)class));
	}
	ASSERT_EQ(failures, 0, "sequences where the datapath delivered what the model denies "
			       "(or dropped what it must pass)");
	if (!replay) {
		ASSERT_TRUE(stats.denied_asserted > stats.sequences, "the model denies things");
		ASSERT_TRUE(stats.must_asserted > stats.sequences / 4, "the model requires things");
	}
	if (known_total)
		fprintf(stderr, "    differential: %zu known-bypass hits run past, listed above: "
			"every one must be gone once its branch is merged\n", known_total);
}

/* The model itself: a spoofed frame is a denial, a fresh SYN an open policy allows a must. */
static void model_denies_spoofing_and_requires_the_plain_case(void)
{
	struct diff_sequence sequence;
	struct diff_model *model;
	struct diff_judgment judgment;
	struct diff_step step = { .kind = DIFF_STEP_PACKET, .hook = DIFF_FROM_POD };
	struct packet_spec spec = tcp_from_a(REMOTE_POD, 80, TCP_SYN);

	ASSERT_EQ(diff_generate(1, &sequence), 0, "generate");
	for (size_t i = 0; i < DIFF_LOCAL_PODS; i++)
		memset(sequence.world.pods[i].policy, 0, sizeof(sequence.world.pods[i].policy));
	model = diff_model_new(&sequence.world);
	diff_sequence_free(&sequence);
	ASSERT_TRUE(model != NULL, "model");
	step.length = packet_build(step.frame, sizeof(step.frame), &spec);
	judgment = diff_model_judge(model, &step);
	ASSERT_EQ(judgment.verdict, DIFF_MODEL_MUST, "a fresh SYN nothing isolates must pass");
	spec.source_mac = MAC_B;
	step.length = packet_build(step.frame, sizeof(step.frame), &spec);
	judgment = diff_model_judge(model, &step);
	diff_model_free(model);
	ASSERT_EQ(judgment.verdict, DIFF_MODEL_DENY, "A's address with B's MAC");
	ASSERT_EQ(judgment.class, DIFF_CLASS_SPOOFED, "classified as spoofing");
}

static struct diff_step model_step(enum diff_hook hook, struct packet_spec *spec, uint16_t urgent)
{
	struct diff_step step = { .kind = DIFF_STEP_PACKET, .hook = hook };

	spec->source_mac = hook == DIFF_FROM_POD ? MAC_A : MAC_ROUTER;
	spec->destination_mac = hook == DIFF_FROM_POD ? HOST_MAC_A : MAC_A;
	step.length = packet_build(step.frame, sizeof(step.frame), spec);
	if (urgent) {
		uint8_t *tcp = step.frame + 14 + 20;
		uint8_t pseudo[12];
		uint16_t sum;

		tcp[13] |= 0x20;
		tcp[18] = (uint8_t)(urgent >> 8), tcp[19] = (uint8_t)urgent;
		tcp[16] = tcp[17] = 0;
		memcpy(pseudo, step.frame + 14 + 12, 8);
		pseudo[8] = 0, pseudo[9] = IPPROTO_TCP;
		pseudo[10] = 0, pseudo[11] = (uint8_t)(step.length - 34);
		sum = checksum_finish(checksum_add(checksum_add(0, pseudo, 12), tcp,
						   step.length - 34));
		memcpy(tcp + 16, &sum, 2);
	}
	return step;
}

/* The model on a hand-made connection to an HTTP-ruled port: it denies what the server would
 * read as a denied request (plain, or revealed by the urgent byte's removal), not what the
 * server throws away (bad checksum) nor what the rules allow. */
static void differential_model_reads_the_server_stream(void)
{
	struct diff_world world = { 0 };
	struct diff_model *model;
	struct diff_step step;
	struct diff_judgment judgment;
	struct packet_spec syn = tcp_to_a(REMOTE_POD, DIFF_L7_PORT, TCP_SYN);
	struct packet_spec syn_ack = tcp_from_a(REMOTE_POD, CLIENT_PORT, TCP_SYN | TCP_ACK);
	struct packet_spec data = tcp_to_a(REMOTE_POD, DIFF_L7_PORT, TCP_ACK | TCP_PSH);
	const char *admin = "GET /admin HTTP/1.1\r\nHost: a\r\n\r\n";
	const char *public = "GET /public/x HTTP/1.1\r\nHost: a\r\n\r\n";

	world.pods[0] = (struct diff_pod){ .address = POD_A, .endpoint_id = ENDPOINT_A,
					   .identity = IDENTITY_A, .on_test_interface = true };
	memcpy(world.pods[0].mac, MAC_A, 6);
	world.pods[0].policy[DIFF_INGRESS].isolation_rule = 1;
	world.pods[0].policy[DIFF_INGRESS].rules[0] = (struct diff_rule){
		.protocol = IPPROTO_TCP, .first_port = DIFF_L7_PORT, .verdict = DIFF_ALLOW,
		.http = true, .rule_id = 500 };
	world.pods[0].policy[DIFF_INGRESS].rule_count = 1;
	world.http[0] = (struct diff_http_rule){ WEIR_HTTP_METHOD_GET, "/public/*" };
	world.http_count = 1;
	world.http_rule_set = 500;
	world.prefixes[0] = (struct diff_prefix){ REMOTE_POD, 32, IDENTITY_REMOTE };
	world.prefix_count = 1;
	model = diff_model_new(&world);
	ASSERT_TRUE(model != NULL, "model");

	syn_ack.source_port = DIFF_L7_PORT;
	syn_ack.sequence = 9000, syn_ack.acknowledgment = 7001;
	step = model_step(DIFF_TO_POD, &syn, 0);
	judgment = diff_model_judge(model, &step);
	diff_model_observe(model, &step, true);
	step = model_step(DIFF_FROM_POD, &syn_ack, 0);
	diff_model_observe(model, &step, true);

	data.sequence = 7001, data.acknowledgment = 9001;
	data.payload = admin, data.payload_length = strlen(admin);
	step = model_step(DIFF_TO_POD, &data, 0);
	step.frame[14 + 20 + 16] ^= 0xff; /* bad checksum: the server drops it */
	judgment = diff_model_judge(model, &step);
	ASSERT_EQ(judgment.verdict, DIFF_MODEL_MAY, "a segment the server discards decides nothing");
	diff_model_observe(model, &step, true);
	step = model_step(DIFF_TO_POD, &data, 0);
	judgment = diff_model_judge(model, &step);
	ASSERT_EQ(judgment.verdict, DIFF_MODEL_DENY, "GET /admin reaches the server");
	ASSERT_EQ(judgment.class, DIFF_CLASS_L7_ORDER, "after a decoy: segment order class");

	data.payload = public, data.payload_length = strlen(public);
	step = model_step(DIFF_TO_POD, &data, 0);
	judgment = diff_model_judge(model, &step);
	ASSERT_EQ(judgment.verdict, DIFF_MODEL_MAY, "GET /public/x is allowed");
	step = model_step(DIFF_TO_POD, &data, 11); /* BSD: the 11th byte, 'c', leaves the stream */
	judgment = diff_model_judge(model, &step);
	diff_model_free(model);
	ASSERT_EQ(judgment.verdict, DIFF_MODEL_DENY, "GET /publi/x without the urgent byte");
	ASSERT_EQ(judgment.class, DIFF_CLASS_L7_URGENT, "urgent class");
}

const struct test_case differential_tests[] = {
	{ "differential_model_reads_the_server_stream",
	  differential_model_reads_the_server_stream },
	{ "differential_model_denies_spoofing_and_requires_the_plain_case",
	  model_denies_spoofing_and_requires_the_plain_case },
	{ "differential_sequences_never_deliver_what_the_model_denies",
	  sequences_never_deliver_what_the_model_denies },
};
const size_t differential_tests_count = sizeof(differential_tests) / sizeof(differential_tests[0]);
