/* The NetworkPolicy compiler on hand-made objects: isolation per policyTypes, peers by pod and
 * namespace selectors (AND within a peer, OR across), ipBlock with except, named ports,
 * endPort ranges, and identities shared by equal label sets. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>

#include "label_selector.h"
#include "policy_compiler.h"
#include "test.h"
#include "unit.h"

struct fixture {
	struct object_store *store;
	struct compiler_tables tables;
	struct compiled_endpoint compiled;
};

static void put(struct fixture *fixture, const char *json)
{
	cJSON *object = cJSON_Parse(json);
	int kind = object ? kube_kind_of(object_string(object, "kind")) : -1;

	if (kind < 0) {
		fprintf(stderr, "    bad fixture object: %s\n", json);
		cJSON_Delete(object);
		return;
	}
	object_store_put(fixture->store, (enum kube_kind)kind, object);
}

static void pod(struct fixture *fixture, const char *name_space, const char *name,
		const char *ip, const char *labels)
{
	char json[1024];

	snprintf(json, sizeof(json),
		 "{\"kind\":\"Pod\",\"metadata\":{\"namespace\":\"%s\",\"name\":\"%s\","
		 "\"labels\":%s},\"spec\":{\"nodeName\":\"n1\",\"containers\":[{\"name\":\"c\","
		 "\"ports\":[{\"name\":\"web\",\"containerPort\":8080},{\"name\":\"dns\","
		 "\"containerPort\":5353,\"protocol\":\"UDP\"}]}]},\"status\":{\"podIP\":\"%s\"}}",
		 name_space, name, labels, ip);
	put(fixture, json);
}

static void name_space(struct fixture *fixture, const char *name, const char *labels)
{
	char json[512];

	snprintf(json, sizeof(json), "{\"kind\":\"Namespace\",\"metadata\":{\"name\":\"%s\","
				     "\"labels\":%s}}",
		 name, labels);
	put(fixture, json);
}

static void setup(struct fixture *fixture)
{
	pod_identity_cache_reset();
	memset(fixture, 0, sizeof(*fixture));
	fixture->store = object_store_new();
	fixture->tables.identities =
		id_table_new(WEIR_IDENTITY_FIRST_CLUSTER, WEIR_IDENTITY_FIRST_CIDR - 1);
	fixture->tables.cidr_identities = id_table_new(WEIR_IDENTITY_FIRST_CIDR, 0x01ffffff);
	fixture->tables.rules = id_table_new(1, 1000000);
	name_space(fixture, "x", "{\"ns\":\"x\",\"kubernetes.io/metadata.name\":\"x\"}");
	name_space(fixture, "y", "{\"ns\":\"y\",\"kubernetes.io/metadata.name\":\"y\"}");
	pod(fixture, "x", "a", "10.0.0.10", "{\"pod\":\"a\"}");
	pod(fixture, "x", "b", "10.0.0.11", "{\"pod\":\"b\"}");
	pod(fixture, "y", "a", "10.0.1.10", "{\"pod\":\"a\"}");
	pod(fixture, "y", "c", "10.0.1.12", "{\"pod\":\"c\",\"tier\":\"db\"}");
}

static void teardown(struct fixture *fixture)
{
	pod_identity_cache_reset();
	compiled_endpoint_reset(&fixture->compiled);
	object_store_free(fixture->store);
	id_table_free(fixture->tables.identities);
	id_table_free(fixture->tables.cidr_identities);
	id_table_free(fixture->tables.rules);
}

static int compile_for(struct fixture *fixture, const char *name_space_name, const char *name)
{
	char errbuf[256];
	cJSON *target = object_store_get(fixture->store, KIND_POD, name_space_name, name);

	compiler_mark_cidrs(fixture->store, fixture->tables.cidr_identities);
	return compile_endpoint(fixture->store, &fixture->tables, "n1", 7, target,
				&fixture->compiled, errbuf, sizeof(errbuf));
}

static uint32_t identity_of(struct fixture *fixture, const char *name_space_name, const char *name)
{
	return pod_identity(fixture->store, fixture->tables.identities,
			    object_store_get(fixture->store, KIND_POD, name_space_name, name));
}

/* Whether an entry exists for {direction, identity, protocol, port/prefix bits}. */
static bool has_entry(struct fixture *fixture, uint8_t direction, uint32_t identity,
		      uint8_t protocol, uint16_t port, unsigned port_bits)
{
	for (size_t i = 0; i < fixture->compiled.count; i++) {
		const struct weir_policy_key *key = &fixture->compiled.entries[i].key;
		if (key->direction == direction && key->identity == identity &&
		    key->protocol == protocol && ntohs(key->port) == port &&
		    key->prefix_length == WEIR_POLICY_PREFIX_FIXED + port_bits)
			return true;
	}
	return false;
}

static void compiler_no_policy_leaves_the_pod_open(void)
{
	struct fixture fixture;

	setup(&fixture);
	ASSERT_EQ(compile_for(&fixture, "x", "a"), 0, "compile");
	ASSERT_EQ(compiled_endpoint_isolated(&fixture.compiled), 0, "not isolated");
	ASSERT_EQ(fixture.compiled.count, 0, "no entries");
	teardown(&fixture);
}

static void compiler_deny_all_isolates_ingress_only(void)
{
	struct fixture fixture;

	setup(&fixture);
	put(&fixture, "{\"kind\":\"NetworkPolicy\",\"metadata\":{\"namespace\":\"x\",\"name\":"
		      "\"deny\"},\"spec\":{\"podSelector\":{}}}");
	ASSERT_EQ(compile_for(&fixture, "x", "a"), 0, "compile");
	ASSERT_TRUE(fixture.compiled.ingress_isolation_rule != 0, "ingress isolated");
	ASSERT_EQ(fixture.compiled.egress_isolation_rule, 0, "egress open");
	ASSERT_EQ(fixture.compiled.count, 0, "nothing allowed");
	ASSERT_STR_EQ(id_table_key_of(fixture.tables.rules, fixture.compiled.ingress_isolation_rule),
		      "isolated by x/deny", "the isolating policy is named");
	ASSERT_EQ(compile_for(&fixture, "y", "a"), 0, "compile y/a");
	ASSERT_EQ(compiled_endpoint_isolated(&fixture.compiled), 0, "other namespace untouched");
	teardown(&fixture);
}

static void compiler_policy_types_default_from_egress_rules(void)
{
	struct fixture fixture;

	setup(&fixture);
	put(&fixture, "{\"kind\":\"NetworkPolicy\",\"metadata\":{\"namespace\":\"x\",\"name\":"
		      "\"e\"},\"spec\":{\"podSelector\":{},\"egress\":[{\"to\":[{\"podSelector\":"
		      "{\"matchLabels\":{\"pod\":\"b\"}}}]}]}}");
	ASSERT_EQ(compile_for(&fixture, "x", "a"), 0, "compile");
	ASSERT_TRUE(fixture.compiled.ingress_isolation_rule != 0, "Ingress implied");
	ASSERT_TRUE(fixture.compiled.egress_isolation_rule != 0, "Egress from egress rules");
	ASSERT_TRUE(has_entry(&fixture, WEIR_DIRECTION_EGRESS, identity_of(&fixture, "x", "b"), 0, 0,
			      0),
		    "egress to x/b, any port");
	put(&fixture, "{\"kind\":\"NetworkPolicy\",\"metadata\":{\"namespace\":\"x\",\"name\":"
		      "\"e\"},\"spec\":{\"podSelector\":{},\"egress\":[]}}");
	ASSERT_EQ(compile_for(&fixture, "x", "a"), 0, "compile");
	ASSERT_EQ(fixture.compiled.egress_isolation_rule, 0, "an empty egress list implies nothing");
	teardown(&fixture);
}

static void compiler_peer_and_versus_or(void)
{
	struct fixture fixture;
	uint32_t xa, ya, yc;

	setup(&fixture);
	xa = identity_of(&fixture, "x", "a");
	ya = identity_of(&fixture, "y", "a");
	yc = identity_of(&fixture, "y", "c");
	/* AND: pods labelled pod=a in namespaces labelled ns=y. */
	put(&fixture, "{\"kind\":\"NetworkPolicy\",\"metadata\":{\"namespace\":\"x\",\"name\":"
		      "\"and\"},\"spec\":{\"podSelector\":{\"matchLabels\":{\"pod\":\"b\"}},"
		      "\"ingress\":[{\"from\":[{\"namespaceSelector\":{\"matchLabels\":{\"ns\":"
		      "\"y\"}},\"podSelector\":{\"matchLabels\":{\"pod\":\"a\"}}}]}]}}");
	ASSERT_EQ(compile_for(&fixture, "x", "b"), 0, "compile AND");
	ASSERT_TRUE(has_entry(&fixture, WEIR_DIRECTION_INGRESS, ya, 0, 0, 0), "y/a allowed");
	ASSERT_TRUE(!has_entry(&fixture, WEIR_DIRECTION_INGRESS, xa, 0, 0, 0), "x/a not");
	ASSERT_TRUE(!has_entry(&fixture, WEIR_DIRECTION_INGRESS, yc, 0, 0, 0), "y/c not");
	/* OR: two peers. */
	put(&fixture, "{\"kind\":\"NetworkPolicy\",\"metadata\":{\"namespace\":\"x\",\"name\":"
		      "\"and\"},\"spec\":{\"podSelector\":{\"matchLabels\":{\"pod\":\"b\"}},"
		      "\"ingress\":[{\"from\":[{\"namespaceSelector\":{\"matchLabels\":{\"ns\":"
		      "\"y\"}}},{\"podSelector\":{\"matchLabels\":{\"pod\":\"a\"}}}]}]}}");
	ASSERT_EQ(compile_for(&fixture, "x", "b"), 0, "compile OR");
	ASSERT_TRUE(has_entry(&fixture, WEIR_DIRECTION_INGRESS, ya, 0, 0, 0), "y/a allowed");
	ASSERT_TRUE(has_entry(&fixture, WEIR_DIRECTION_INGRESS, yc, 0, 0, 0), "y/c allowed");
	ASSERT_TRUE(has_entry(&fixture, WEIR_DIRECTION_INGRESS, xa, 0, 0, 0),
		    "x/a allowed (podSelector alone: the policy's namespace)");
	teardown(&fixture);
}

static void compiler_match_expressions(void)
{
	struct fixture fixture;

	setup(&fixture);
	put(&fixture, "{\"kind\":\"NetworkPolicy\",\"metadata\":{\"namespace\":\"y\",\"name\":"
		      "\"exp\"},\"spec\":{\"podSelector\":{\"matchExpressions\":[{\"key\":\"tier\","
		      "\"operator\":\"DoesNotExist\"}]},\"ingress\":[{\"from\":[{"
		      "\"namespaceSelector\":{},\"podSelector\":{\"matchExpressions\":[{\"key\":"
		      "\"pod\",\"operator\":\"NotIn\",\"values\":[\"a\"]}]}}]}]}}");
	ASSERT_EQ(compile_for(&fixture, "y", "c"), 0, "compile y/c");
	ASSERT_EQ(compiled_endpoint_isolated(&fixture.compiled), 0, "y/c has tier: not selected");
	ASSERT_EQ(compile_for(&fixture, "y", "a"), 0, "compile y/a");
	ASSERT_TRUE(fixture.compiled.ingress_isolation_rule != 0, "y/a selected");
	ASSERT_TRUE(has_entry(&fixture, WEIR_DIRECTION_INGRESS, identity_of(&fixture, "x", "b"), 0, 0,
			      0),
		    "x/b (pod NotIn [a]) from any namespace");
	ASSERT_TRUE(!has_entry(&fixture, WEIR_DIRECTION_INGRESS, identity_of(&fixture, "x", "a"), 0,
			       0, 0),
		    "x/a excluded");
	teardown(&fixture);
}

static void compiler_ports_named_numeric_and_ranges(void)
{
	struct fixture fixture;
	uint32_t xb;

	setup(&fixture);
	xb = identity_of(&fixture, "x", "b");
	put(&fixture, "{\"kind\":\"NetworkPolicy\",\"metadata\":{\"namespace\":\"x\",\"name\":"
		      "\"ports\"},\"spec\":{\"podSelector\":{\"matchLabels\":{\"pod\":\"a\"}},"
		      "\"ingress\":[{\"from\":[{\"podSelector\":{\"matchLabels\":{\"pod\":\"b\"}}}],"
		      "\"ports\":[{\"port\":\"web\"},{\"protocol\":\"UDP\",\"port\":\"dns\"},"
		      "{\"protocol\":\"UDP\",\"port\":\"web\"},{\"port\":9000,\"endPort\":9003},"
		      "{\"protocol\":\"SCTP\",\"port\":3868}]}]}}");
	ASSERT_EQ(compile_for(&fixture, "x", "a"), 0, "compile");
	ASSERT_TRUE(has_entry(&fixture, WEIR_DIRECTION_INGRESS, xb, IPPROTO_TCP, 8080, 16),
		    "named web -> TCP 8080");
	ASSERT_TRUE(has_entry(&fixture, WEIR_DIRECTION_INGRESS, xb, IPPROTO_UDP, 5353, 16),
		    "named dns -> UDP 5353");
	ASSERT_TRUE(!has_entry(&fixture, WEIR_DIRECTION_INGRESS, xb, IPPROTO_UDP, 8080, 16),
		    "web is TCP only: no UDP 8080");
	ASSERT_TRUE(has_entry(&fixture, WEIR_DIRECTION_INGRESS, xb, IPPROTO_TCP, 9000, 14),
		    "9000-9003 as one /14 prefix");
	ASSERT_TRUE(has_entry(&fixture, WEIR_DIRECTION_INGRESS, xb, IPPROTO_SCTP, 3868, 16),
		    "SCTP 3868");
	teardown(&fixture);
}

static void compiler_ip_block_with_except_covers_pods(void)
{
	struct fixture fixture;
	uint32_t broad, hole;

	setup(&fixture);
	put(&fixture, "{\"kind\":\"NetworkPolicy\",\"metadata\":{\"namespace\":\"x\",\"name\":"
		      "\"cidr\"},\"spec\":{\"podSelector\":{},\"policyTypes\":[\"Egress\"],"
		      "\"egress\":[{\"to\":[{\"ipBlock\":{\"cidr\":\"10.0.0.0/16\",\"except\":"
		      "[\"10.0.1.0/24\"]}}]}]}}");
	ASSERT_EQ(compile_for(&fixture, "x", "a"), 0, "compile");
	broad = id_table_use(fixture.tables.cidr_identities, "10.0.0.0/16");
	hole = id_table_use(fixture.tables.cidr_identities, "10.0.1.0/24");
	ASSERT_TRUE(has_entry(&fixture, WEIR_DIRECTION_EGRESS, broad, 0, 0, 0), "the block");
	ASSERT_TRUE(!has_entry(&fixture, WEIR_DIRECTION_EGRESS, hole, 0, 0, 0), "not the hole");
	ASSERT_TRUE(has_entry(&fixture, WEIR_DIRECTION_EGRESS, identity_of(&fixture, "x", "b"), 0, 0,
			      0),
		    "pod x/b (10.0.0.11) is inside the block");
	ASSERT_TRUE(!has_entry(&fixture, WEIR_DIRECTION_EGRESS, identity_of(&fixture, "y", "c"), 0,
			       0, 0),
		    "pod y/c (10.0.1.12) is in the hole");
	ASSERT_TRUE(!has_entry(&fixture, WEIR_DIRECTION_EGRESS, WEIR_IDENTITY_WORLD, 0, 0, 0),
		    "world is not inside 10.0.0.0/16");
	ASSERT_EQ(fixture.compiled.ingress_isolation_rule, 0, "Egress only");
	put(&fixture, "{\"kind\":\"NetworkPolicy\",\"metadata\":{\"namespace\":\"x\",\"name\":"
		      "\"cidr\"},\"spec\":{\"podSelector\":{},\"policyTypes\":[\"Egress\"],"
		      "\"egress\":[{\"to\":[{\"ipBlock\":{\"cidr\":\"0.0.0.0/0\"}}]}]}}");
	ASSERT_EQ(compile_for(&fixture, "x", "a"), 0, "compile 0/0");
	ASSERT_TRUE(has_entry(&fixture, WEIR_DIRECTION_EGRESS, WEIR_IDENTITY_WORLD, 0, 0, 0),
		    "0.0.0.0/0 includes the world");
	teardown(&fixture);
}

static void compiler_identities_follow_label_sets(void)
{
	struct fixture fixture;

	setup(&fixture);
	pod(&fixture, "x", "a2", "10.0.0.20", "{\"pod\":\"a\"}");
	ASSERT_EQ(identity_of(&fixture, "x", "a"), identity_of(&fixture, "x", "a2"),
		  "same labels, same namespace: one identity");
	ASSERT_TRUE(identity_of(&fixture, "x", "a") != identity_of(&fixture, "y", "a"),
		    "same labels in another namespace: another identity");
	ASSERT_TRUE(identity_of(&fixture, "x", "a") >= WEIR_IDENTITY_FIRST_CLUSTER,
		    "cluster identity range");
	{
		cJSON *a = object_store_get(fixture.store, KIND_POD, "x", "a");
		char *key = pod_identity_key(fixture.store, a);
		ASSERT_CONTAINS(key, "namespace-label:ns=x", "namespace labels are part of it");
		free(key);
	}
	teardown(&fixture);
}

static void compiler_union_of_policies(void)
{
	struct fixture fixture;

	setup(&fixture);
	put(&fixture, "{\"kind\":\"NetworkPolicy\",\"metadata\":{\"namespace\":\"x\",\"name\":"
		      "\"p1\"},\"spec\":{\"podSelector\":{},\"ingress\":[{\"ports\":[{\"port\":80}]}]}}");
	put(&fixture, "{\"kind\":\"NetworkPolicy\",\"metadata\":{\"namespace\":\"x\",\"name\":"
		      "\"p2\"},\"spec\":{\"podSelector\":{},\"ingress\":[{\"ports\":[{\"port\":81}]}]}}");
	ASSERT_EQ(compile_for(&fixture, "x", "a"), 0, "compile");
	ASSERT_TRUE(has_entry(&fixture, WEIR_DIRECTION_INGRESS, WEIR_IDENTITY_ANY, IPPROTO_TCP, 80,
			      16),
		    "80 from p1");
	ASSERT_TRUE(has_entry(&fixture, WEIR_DIRECTION_INGRESS, WEIR_IDENTITY_ANY, IPPROTO_TCP, 81,
			      16),
		    "81 from p2");
	ASSERT_STR_EQ(id_table_key_of(fixture.tables.rules, fixture.compiled.ingress_isolation_rule),
		      "isolated by x/p1, x/p2", "both isolating policies named");
	teardown(&fixture);
}

static void compiler_label_selector_operators(void)
{
	cJSON *labels = cJSON_Parse("{\"app\":\"web\",\"tier\":\"front\"}");
	cJSON *in = cJSON_Parse("{\"matchExpressions\":[{\"key\":\"app\",\"operator\":\"In\","
				"\"values\":[\"web\",\"api\"]}]}");
	cJSON *bad = cJSON_Parse("{\"matchExpressions\":[{\"key\":\"app\",\"operator\":\"Like\"}]}");
	bool invalid = false;

	ASSERT_TRUE(label_selector_matches(in, labels, &invalid), "In");
	ASSERT_TRUE(!label_selector_matches(bad, labels, &invalid), "unknown operator matches nothing");
	ASSERT_TRUE(invalid, "and is reported");
	ASSERT_TRUE(!label_selector_matches(NULL, labels, NULL), "a missing selector matches nothing");
	cJSON_Delete(labels);
	cJSON_Delete(in);
	cJSON_Delete(bad);
}

const struct test_case policy_compiler_tests[] = {
	{ "compiler_no_policy_leaves_the_pod_open", compiler_no_policy_leaves_the_pod_open },
	{ "compiler_deny_all_isolates_ingress_only", compiler_deny_all_isolates_ingress_only },
	{ "compiler_policy_types_default_from_egress_rules",
	  compiler_policy_types_default_from_egress_rules },
	{ "compiler_peer_and_versus_or", compiler_peer_and_versus_or },
	{ "compiler_match_expressions", compiler_match_expressions },
	{ "compiler_ports_named_numeric_and_ranges", compiler_ports_named_numeric_and_ranges },
	{ "compiler_ip_block_with_except_covers_pods", compiler_ip_block_with_except_covers_pods },
	{ "compiler_identities_follow_label_sets", compiler_identities_follow_label_sets },
	{ "compiler_union_of_policies", compiler_union_of_policies },
	{ "compiler_label_selector_operators", compiler_label_selector_operators },
};
const size_t policy_compiler_tests_count = sizeof(policy_compiler_tests) / sizeof(policy_compiler_tests[0]);
