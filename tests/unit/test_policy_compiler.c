/* The NetworkPolicy compiler on hand-made objects: isolation per policyTypes, peers by pod and
 * namespace selectors (AND within a peer, OR across), ipBlock with except, named ports,
 * endPort ranges, and identities shared by equal label sets. WeirNetworkPolicy: HTTP matchers
 * into rule sets, their union with plain allows and with each other, and every invalid input
 * failing closed with a problem that names the policy. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>

#include "alloc_failure.h"
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

	uint64_t digest;

	if (compiler_mark_cidrs(fixture->store, fixture->tables.cidr_identities, NULL, 0,
				&digest) < 0)
		return -1;
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

/* With the identity space exhausted a selected pod has no identity (0): that must never be
 * compiled as 0 = "any peer", only as nobody. */
static void compiler_exhausted_identities_allow_nobody(void)
{
	struct fixture fixture;

	setup(&fixture);
	id_table_free(fixture.tables.identities);
	/* One identity: the target pod x/a takes it first; x/b then gets none. */
	fixture.tables.identities =
		id_table_new(WEIR_IDENTITY_FIRST_CLUSTER, WEIR_IDENTITY_FIRST_CLUSTER);
	ASSERT_TRUE(identity_of(&fixture, "x", "a") != 0, "x/a has the only identity");
	put(&fixture, "{\"kind\":\"NetworkPolicy\",\"metadata\":{\"namespace\":\"x\",\"name\":"
		      "\"from-b\"},\"spec\":{\"podSelector\":{\"matchLabels\":{\"pod\":\"a\"}},"
		      "\"ingress\":[{\"from\":[{\"podSelector\":{\"matchLabels\":{\"pod\":\"b\"}}}],"
		      "\"ports\":[{\"port\":\"web\"}]},{\"from\":[{\"podSelector\":{}}],"
		      "\"ports\":[{\"port\":9000}]}]}}");
	ASSERT_EQ(compile_for(&fixture, "x", "a"), 0, "compile");
	ASSERT_TRUE(fixture.compiled.ingress_isolation_rule != 0, "still isolated");
	for (size_t i = 0; i < fixture.compiled.count; i++)
		ASSERT_TRUE(fixture.compiled.entries[i].key.identity != WEIR_IDENTITY_ANY,
			    "no entry for any peer");
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
	ASSERT_TRUE(has_entry(&fixture, WEIR_DIRECTION_EGRESS,
			      id_table_use(fixture.tables.cidr_identities, "10.0.0.11/32"), 0, 0, 0),
		    "pod x/b (10.0.0.11) is inside the block: by its address");
	ASSERT_TRUE(!has_entry(&fixture, WEIR_DIRECTION_EGRESS, identity_of(&fixture, "x", "b"), 0, 0,
			       0),
		    "never by its labels");
	ASSERT_TRUE(!has_entry(&fixture, WEIR_DIRECTION_EGRESS,
			       id_table_use(fixture.tables.cidr_identities, "10.0.1.12/32"), 0, 0, 0),
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

/* ---- WeirNetworkPolicy ------------------------------------------------------------------- */

static const struct policy_map_entry *find_entry(struct fixture *fixture, uint8_t direction,
						 uint32_t identity, uint8_t protocol, uint16_t port,
						 unsigned port_bits)
{
	for (size_t i = 0; i < fixture->compiled.count; i++) {
		const struct weir_policy_key *key = &fixture->compiled.entries[i].key;
		if (key->direction == direction && key->identity == identity &&
		    key->protocol == protocol && ntohs(key->port) == port &&
		    key->prefix_length == WEIR_POLICY_PREFIX_FIXED + port_bits)
			return &fixture->compiled.entries[i];
	}
	return NULL;
}

static const struct http_rule_set *find_set(struct fixture *fixture, uint32_t rule_id)
{
	for (size_t i = 0; i < fixture->compiled.http_set_count; i++) {
		if (fixture->compiled.http_sets[i].rule_id == rule_id)
			return &fixture->compiled.http_sets[i];
	}
	return NULL;
}

static bool has_problem(struct fixture *fixture, const char *needle)
{
	for (size_t i = 0; i < fixture->compiled.problem_count; i++) {
		if (strstr(fixture->compiled.problems[i], needle))
			return true;
	}
	return false;
}

static const char *all_problems(struct fixture *fixture)
{
	static char text[4096];

	text[0] = '\0';
	for (size_t i = 0; i < fixture->compiled.problem_count; i++)
		snprintf(text + strlen(text), sizeof(text) - strlen(text), "[%s] ",
			 fixture->compiled.problems[i]);
	return text;
}

/* A WeirNetworkPolicy in x selecting pod=a, ingress from pod=b on the given ports JSON. */
static void weir_policy(struct fixture *fixture, const char *name, const char *ports)
{
	char json[8192];

	snprintf(json, sizeof(json),
		 "{\"apiVersion\":\"weir.dev/v1alpha1\",\"kind\":\"WeirNetworkPolicy\","
		 "\"metadata\":{\"namespace\":\"x\",\"name\":\"%s\"},\"spec\":{\"podSelector\":"
		 "{\"matchLabels\":{\"pod\":\"a\"}},\"ingress\":[{\"from\":[{\"podSelector\":"
		 "{\"matchLabels\":{\"pod\":\"b\"}}}],\"ports\":%s}]}}",
		 name, ports);
	put(fixture, json);
}

static void compiler_weir_policy_without_http_is_a_network_policy(void)
{
	struct fixture fixture;
	const char *spec = "\"spec\":{\"podSelector\":{\"matchLabels\":{\"pod\":\"a\"}},"
			   "\"policyTypes\":[\"Ingress\",\"Egress\"],\"ingress\":[{\"from\":[{"
			   "\"podSelector\":{}}],\"ports\":[{\"port\":\"web\"},{\"port\":9000,"
			   "\"endPort\":9005}]}],\"egress\":[{\"to\":[{\"ipBlock\":{\"cidr\":"
			   "\"10.0.0.0/16\",\"except\":[\"10.0.1.0/24\"]}}]}]}";
	char json[2048];
	struct policy_map_entry *plain;
	size_t plain_count;

	setup(&fixture);
	snprintf(json, sizeof(json),
		 "{\"kind\":\"NetworkPolicy\",\"metadata\":{\"namespace\":\"x\",\"name\":\"p\"},%s}",
		 spec);
	put(&fixture, json);
	ASSERT_EQ(compile_for(&fixture, "x", "a"), 0, "compile the NetworkPolicy");
	plain_count = fixture.compiled.count;
	ASSERT_TRUE(plain_count > 0, "the NetworkPolicy allows something");
	plain = malloc(plain_count * sizeof(*plain));
	memcpy(plain, fixture.compiled.entries, plain_count * sizeof(*plain));
	object_store_remove(fixture.store, KIND_NETWORKPOLICY, "x", "p");
	snprintf(json, sizeof(json),
		 "{\"apiVersion\":\"weir.dev/v1alpha1\",\"kind\":\"WeirNetworkPolicy\","
		 "\"metadata\":{\"namespace\":\"x\",\"name\":\"p\"},%s}",
		 spec);
	put(&fixture, json);
	ASSERT_EQ(compile_for(&fixture, "x", "a"), 0, "compile the WeirNetworkPolicy");
	ASSERT_EQ(fixture.compiled.count, plain_count, "same number of entries");
	ASSERT_EQ(memcmp(fixture.compiled.entries, plain, plain_count * sizeof(*plain)), 0,
		  "byte for byte the same entries");
	free(plain);
	ASSERT_EQ(fixture.compiled.http_set_count, 0, "no HTTP rule sets");
	ASSERT_EQ(fixture.compiled.problem_count, 0, "no problems");
	ASSERT_STR_EQ(id_table_key_of(fixture.tables.rules, fixture.compiled.ingress_isolation_rule),
		      "isolated by x/p", "isolation names it");
	ASSERT_STR_EQ(id_table_key_of(fixture.tables.rules, fixture.compiled.egress_isolation_rule),
		      "isolated by x/p", "both directions");
	teardown(&fixture);
}

static void compiler_http_exact_and_prefix_matchers(void)
{
	struct fixture fixture;
	const struct policy_map_entry *entry;
	const struct http_rule_set *set;
	const struct weir_http_rule *exact = NULL, *prefix = NULL;
	uint32_t xb;

	setup(&fixture);
	xb = identity_of(&fixture, "x", "b");
	weir_policy(&fixture, "l7",
		    "[{\"port\":8080,\"http\":[{\"method\":\"GET\",\"path\":\"/hello\"},"
		    "{\"path\":\"/api/*\",\"host\":\"Example.COM\"}]},{\"port\":9090}]");
	ASSERT_EQ(compile_for(&fixture, "x", "a"), 0, "compile");
	ASSERT_EQ(fixture.compiled.problem_count, 0, "no problems");
	entry = find_entry(&fixture, WEIR_DIRECTION_INGRESS, xb, IPPROTO_TCP, 8080, 16);
	ASSERT_TRUE(entry != NULL, "x/b -> TCP 8080");
	ASSERT_EQ(entry->value.flags, WEIR_POLICY_FLAG_HTTP, "8080 is HTTP-checked");
	ASSERT_EQ(entry->value.verdict, WEIR_VERDICT_ALLOW, "allowed at L4");
	ASSERT_STR_EQ(id_table_key_of(fixture.tables.rules, entry->value.rule_id),
		      "policy x/l7 (HTTP: GET /hello; any method /api/* host example.com)",
		      "the rule id names the policy and its matchers");
	entry = find_entry(&fixture, WEIR_DIRECTION_INGRESS, xb, IPPROTO_TCP, 9090, 16);
	ASSERT_TRUE(entry != NULL, "x/b -> TCP 9090");
	ASSERT_EQ(entry->value.flags, 0, "9090 has no http: plain L4");
	ASSERT_STR_EQ(id_table_key_of(fixture.tables.rules, entry->value.rule_id), "policy x/l7",
		      "plain entries keep the policy's rule id");
	entry = find_entry(&fixture, WEIR_DIRECTION_INGRESS, xb, IPPROTO_TCP, 8080, 16);
	ASSERT_EQ(fixture.compiled.http_set_count, 1, "one rule set");
	set = find_set(&fixture, entry->value.rule_id);
	ASSERT_TRUE(set != NULL, "the entry's rule set is compiled");
	ASSERT_EQ(set->count, 2, "two matchers");
	for (uint32_t i = 0; i < set->count; i++) {
		if (set->rules[i].match & WEIR_HTTP_MATCH_PATH_PREFIX)
			prefix = &set->rules[i];
		else
			exact = &set->rules[i];
	}
	ASSERT_TRUE(exact && prefix, "one exact and one prefix matcher");
	ASSERT_EQ(exact->match, WEIR_HTTP_MATCH_METHOD | WEIR_HTTP_MATCH_PATH, "exact: method+path");
	ASSERT_EQ(exact->method, WEIR_HTTP_METHOD_GET, "GET");
	ASSERT_EQ(exact->path_length, 6, "exact length");
	ASSERT_EQ(memcmp(exact->path, "/hello\0\0", 8), 0, "path bytes, zero-padded");
	ASSERT_EQ(memcmp(exact->path_mask, "\xff\xff\xff\xff\xff\xff\0\0", 8), 0,
		  "the whole path is masked in");
	ASSERT_EQ(exact->path[1] | exact->path_mask[1], 0, "nothing beyond the path");
	ASSERT_EQ(prefix->match,
		  WEIR_HTTP_MATCH_PATH | WEIR_HTTP_MATCH_PATH_PREFIX | WEIR_HTTP_MATCH_HOST,
		  "prefix: path prefix + host, any method");
	ASSERT_EQ(prefix->path_length, 5, "the prefix before '*'");
	ASSERT_EQ(memcmp(prefix->path, "/api/\0\0\0", 8), 0, "prefix bytes");
	ASSERT_EQ(memcmp(prefix->path_mask, "\xff\xff\xff\xff\xff\0\0\0", 8), 0,
		  "only the prefix is masked in");
	ASSERT_EQ(prefix->host_length, 11, "host length");
	ASSERT_EQ(memcmp(prefix->host, "example.com\0", 12), 0, "host lowercase, zero-padded");
	teardown(&fixture);
}

static void compiler_http_union_with_a_plain_allow_is_plain(void)
{
	struct fixture fixture;
	const struct policy_map_entry *entry;
	uint32_t xb;

	setup(&fixture);
	xb = identity_of(&fixture, "x", "b");
	weir_policy(&fixture, "l7", "[{\"port\":8080,\"http\":[{\"path\":\"/hello\"}]}]");
	/* Same peer, protocol and port, no http: the union is plain L4. */
	put(&fixture, "{\"kind\":\"NetworkPolicy\",\"metadata\":{\"namespace\":\"x\",\"name\":"
		      "\"l4\"},\"spec\":{\"podSelector\":{},\"ingress\":[{\"from\":[{\"podSelector\":"
		      "{\"matchLabels\":{\"pod\":\"b\"}}}],\"ports\":[{\"port\":8080}]}]}}");
	ASSERT_EQ(compile_for(&fixture, "x", "a"), 0, "compile");
	entry = find_entry(&fixture, WEIR_DIRECTION_INGRESS, xb, IPPROTO_TCP, 8080, 16);
	ASSERT_TRUE(entry != NULL, "x/b -> 8080");
	ASSERT_EQ(entry->value.flags, 0, "plain: no HTTP flag");
	ASSERT_STR_EQ(id_table_key_of(fixture.tables.rules, entry->value.rule_id), "policy x/l4",
		      "the plain rule is the cause");
	ASSERT_EQ(fixture.compiled.http_set_count, 0, "no rule set is needed");

	/* A broader plain allow (any peer, a port range holding 8080) shadowed by the narrower
	 * HTTP entry would deny what it allows: the HTTP entry becomes plain too. */
	object_store_remove(fixture.store, KIND_NETWORKPOLICY, "x", "l4");
	put(&fixture, "{\"kind\":\"NetworkPolicy\",\"metadata\":{\"namespace\":\"x\",\"name\":"
		      "\"range\"},\"spec\":{\"podSelector\":{},\"ingress\":[{\"ports\":[{\"port\":"
		      "8000,\"endPort\":8191}]}]}}");
	ASSERT_EQ(compile_for(&fixture, "x", "a"), 0, "compile with the range");
	entry = find_entry(&fixture, WEIR_DIRECTION_INGRESS, xb, IPPROTO_TCP, 8080, 16);
	ASSERT_TRUE(entry != NULL, "x/b -> 8080 still has its entry");
	ASSERT_EQ(entry->value.flags, 0, "covered by a plain allow: plain");
	ASSERT_STR_EQ(id_table_key_of(fixture.tables.rules, entry->value.rule_id),
		      "policy x/range", "named after the plain rule");

	/* The other way round: HTTP for any peer, and x/b allowed everything by another policy:
	 * x/b's packets would find the any-peer HTTP entry before its own any-protocol one, so
	 * x/b gets a plain entry of its own on 8080. */
	object_store_remove(fixture.store, KIND_NETWORKPOLICY, "x", "range");
	object_store_remove(fixture.store, KIND_WEIRNETWORKPOLICY, "x", "l7");
	put(&fixture, "{\"kind\":\"WeirNetworkPolicy\",\"metadata\":{\"namespace\":\"x\",\"name\":"
		      "\"l7any\"},\"spec\":{\"podSelector\":{},\"ingress\":[{\"ports\":[{\"port\":"
		      "8080,\"http\":[{\"method\":\"GET\"}]}]}]}}");
	put(&fixture, "{\"kind\":\"NetworkPolicy\",\"metadata\":{\"namespace\":\"x\",\"name\":"
		      "\"b-all\"},\"spec\":{\"podSelector\":{},\"ingress\":[{\"from\":[{"
		      "\"podSelector\":{\"matchLabels\":{\"pod\":\"b\"}}}]}]}}");
	ASSERT_EQ(compile_for(&fixture, "x", "a"), 0, "compile any-peer HTTP");
	entry = find_entry(&fixture, WEIR_DIRECTION_INGRESS, WEIR_IDENTITY_ANY, IPPROTO_TCP, 8080,
			   16);
	ASSERT_TRUE(entry && entry->value.flags == WEIR_POLICY_FLAG_HTTP, "anyone: HTTP on 8080");
	entry = find_entry(&fixture, WEIR_DIRECTION_INGRESS, xb, IPPROTO_TCP, 8080, 16);
	ASSERT_TRUE(entry != NULL, "x/b gets its own 8080 entry");
	ASSERT_EQ(entry->value.flags, 0, "plain, as x/b-all allows");
	ASSERT_STR_EQ(id_table_key_of(fixture.tables.rules, entry->value.rule_id), "policy x/b-all",
		      "named after the plain rule");

	/* x/b HTTP-checked on a range, anyone allowed plainly on one port inside it: x/b's
	 * packets would find its own range entry first, so x/b gets a plain entry there. */
	object_store_remove(fixture.store, KIND_NETWORKPOLICY, "x", "b-all");
	object_store_remove(fixture.store, KIND_WEIRNETWORKPOLICY, "x", "l7any");
	weir_policy(&fixture, "l7range", "[{\"port\":8000,\"endPort\":8191,\"http\":[{\"path\":"
					 "\"/\"}]}]");
	put(&fixture, "{\"kind\":\"NetworkPolicy\",\"metadata\":{\"namespace\":\"x\",\"name\":"
		      "\"web\"},\"spec\":{\"podSelector\":{},\"ingress\":[{\"ports\":[{\"port\":"
		      "8080}]}]}}");
	ASSERT_EQ(compile_for(&fixture, "x", "a"), 0, "compile range + any-peer plain");
	entry = find_entry(&fixture, WEIR_DIRECTION_INGRESS, xb, IPPROTO_TCP, 8064, 9);
	ASSERT_TRUE(entry && entry->value.flags == WEIR_POLICY_FLAG_HTTP, "x/b: HTTP on the range");
	entry = find_entry(&fixture, WEIR_DIRECTION_INGRESS, xb, IPPROTO_TCP, 8080, 16);
	ASSERT_TRUE(entry != NULL, "x/b gets its own 8080 entry");
	ASSERT_EQ(entry->value.flags, 0, "plain on 8080, as x/web allows anyone");
	ASSERT_STR_EQ(id_table_key_of(fixture.tables.rules, entry->value.rule_id), "policy x/web",
		      "named after the plain rule");
	teardown(&fixture);
}

static void compiler_http_sets_of_several_policies_merge(void)
{
	struct fixture fixture;
	const struct policy_map_entry *entry;
	const struct http_rule_set *set;
	uint32_t xb;

	setup(&fixture);
	xb = identity_of(&fixture, "x", "b");
	weir_policy(&fixture, "one", "[{\"port\":8080,\"http\":[{\"method\":\"GET\",\"path\":"
				     "\"/hello\"}]}]");
	weir_policy(&fixture, "two", "[{\"port\":8080,\"http\":[{\"method\":\"POST\",\"path\":"
				     "\"/submit\"},{\"method\":\"GET\",\"path\":\"/hello\"}]}]");
	ASSERT_EQ(compile_for(&fixture, "x", "a"), 0, "compile");
	entry = find_entry(&fixture, WEIR_DIRECTION_INGRESS, xb, IPPROTO_TCP, 8080, 16);
	ASSERT_TRUE(entry && entry->value.flags == WEIR_POLICY_FLAG_HTTP, "HTTP entry");
	ASSERT_EQ(fixture.compiled.problem_count, 0, "no problems");
	ASSERT_STR_EQ(id_table_key_of(fixture.tables.rules, entry->value.rule_id),
		      "policy x/one, x/two (HTTP: GET /hello; POST /submit)",
		      "one set naming both policies, duplicates merged");
	set = find_set(&fixture, entry->value.rule_id);
	ASSERT_TRUE(set && set->count == 2, "two distinct matchers");

	/* Any peer on 8080 with its own matcher: x/b's entry holds all three (its packets never
	 * reach the any-peer entry), other peers only the any-peer one. */
	put(&fixture, "{\"kind\":\"WeirNetworkPolicy\",\"metadata\":{\"namespace\":\"x\",\"name\":"
		      "\"health\"},\"spec\":{\"podSelector\":{},\"ingress\":[{\"ports\":[{\"port\":"
		      "8080,\"http\":[{\"path\":\"/healthz\"}]}]}]}}");
	ASSERT_EQ(compile_for(&fixture, "x", "a"), 0, "compile with the any-peer policy");
	entry = find_entry(&fixture, WEIR_DIRECTION_INGRESS, xb, IPPROTO_TCP, 8080, 16);
	ASSERT_TRUE(entry != NULL, "x/b on 8080");
	ASSERT_STR_EQ(id_table_key_of(fixture.tables.rules, entry->value.rule_id),
		      "policy x/health, x/one, x/two (HTTP: GET /hello; POST /submit; any method "
		      "/healthz)",
		      "x/b: the union of all three");
	entry = find_entry(&fixture, WEIR_DIRECTION_INGRESS, WEIR_IDENTITY_ANY, IPPROTO_TCP, 8080,
			   16);
	ASSERT_TRUE(entry != NULL, "anyone on 8080");
	ASSERT_STR_EQ(id_table_key_of(fixture.tables.rules, entry->value.rule_id),
		      "policy x/health (HTTP: any method /healthz)", "anyone else: /healthz");
	ASSERT_EQ(fixture.compiled.http_set_count, 2, "two sets");

	/* A named peer's HTTP entry over a port range, and an any-peer HTTP entry on one port
	 * inside it: x/b gets the union on that port. */
	object_store_remove(fixture.store, KIND_WEIRNETWORKPOLICY, "x", "one");
	object_store_remove(fixture.store, KIND_WEIRNETWORKPOLICY, "x", "two");
	weir_policy(&fixture, "range", "[{\"port\":8000,\"endPort\":8191,\"http\":[{\"path\":"
				       "\"/range\"}]}]");
	ASSERT_EQ(compile_for(&fixture, "x", "a"), 0, "compile with the range");
	/* 8000-8191 is 8000/10 and 8064/9. */
	entry = find_entry(&fixture, WEIR_DIRECTION_INGRESS, xb, IPPROTO_TCP, 8064, 9);
	ASSERT_TRUE(entry != NULL, "x/b on 8064-8191");
	ASSERT_STR_EQ(id_table_key_of(fixture.tables.rules, entry->value.rule_id),
		      "policy x/range (HTTP: any method /range)", "x/b on the range");
	entry = find_entry(&fixture, WEIR_DIRECTION_INGRESS, xb, IPPROTO_TCP, 8080, 16);
	ASSERT_TRUE(entry != NULL, "x/b gets an entry on 8080");
	ASSERT_STR_EQ(id_table_key_of(fixture.tables.rules, entry->value.rule_id),
		      "policy x/health, x/range (HTTP: any method /healthz; any method /range)",
		      "x/b on 8080: both");
	teardown(&fixture);
}

struct invalid_case {
	const char *ports;
	const char *problem;
};

static void compiler_http_invalid_input_fails_closed(void)
{
	char long_path[80], long_host[40], many[2048], ports[4096];
	const struct invalid_case cases[] = {
		{ "[{\"port\":8080,\"http\":[{\"path\":\"%s\"}]}]", "is 65 bytes" },
		{ "[{\"port\":8080,\"http\":[{\"path\":\"%s*\"}]}]", "is 65 bytes before the '*'" },
		{ "[{\"port\":8080,\"http\":[{\"host\":\"%s\"}]}]", "host \"" },
		{ "[{\"port\":8080,\"http\":%s}]", "at most 16 fit" },
		{ "[{\"port\":8080,\"http\":[{\"method\":\"get\"}]}]%s", "method \"get\" is not one of" },
		{ "[{\"port\":8080,\"http\":[{\"method\":\"BREW\"}]}]%s", "method \"BREW\"" },
		{ "[{\"protocol\":\"UDP\",\"port\":8080,\"http\":[{\"path\":\"/\"}]}]%s",
		  "HTTP needs protocol TCP" },
		{ "[{\"port\":8080,\"http\":[{\"path\":\"/a*b\"}]}]%s", "only allowed at the end" },
		{ "[{\"port\":8080,\"http\":[{\"path\":\"/\",\"headers\":[]}]}]%s",
		  "unknown field \"headers\"" },
		{ "[{\"port\":8080,\"http\":[]}]%s", "empty list" },
		{ "[{\"port\":8080,\"http\":[{\"path\":\"\"}]}]%s", "path is empty" },
		{ "[{\"port\":8080,\"http\":[{\"path\":7}]}]%s", "must be strings" },
		{ "[{\"port\":8080,\"http\":{\"path\":\"/\"}}]%s", "must be a list" },
		{ "[{\"port\":8080,\"http\":[{\"path\":\"/a b\"}]}]%s", "space" },
	};

	memset(long_path, 'p', 65);
	long_path[0] = '/';
	long_path[65] = '\0';
	memset(long_host, 'h', 33);
	long_host[33] = '\0';
	strcpy(many, "[");
	for (int i = 0; i < WEIR_HTTP_RULES_PER_SET + 1; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many), "%s{\"path\":\"/%d\"}",
			 i ? "," : "", i);
	strcat(many, "]");
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct fixture fixture;
		const char *argument = c < 2 ? long_path : c == 2 ? long_host : c == 3 ? many : "";
		uint32_t xb;

		setup(&fixture);
		xb = identity_of(&fixture, "x", "b");
		snprintf(ports, sizeof(ports), cases[c].ports, argument);
		/* A valid sibling port rule keeps working: only the bad one allows nothing. */
		ports[strlen(ports) - 1] = '\0';
		strcat(ports, ",{\"port\":9090}]");
		weir_policy(&fixture, "bad", ports);
		ASSERT_EQ(compile_for(&fixture, "x", "a"), 0, "compile");
		if (!has_problem(&fixture, cases[c].problem) ||
		    !has_problem(&fixture, "WeirNetworkPolicy x/bad: spec.ingress[0].ports[0]") ||
		    !has_problem(&fixture, "allows nothing")) {
			TEST_FAIL("case %zu (%s): expected a problem with \"%s\" naming the policy, "
				  "got %s",
				  c, ports, cases[c].problem, all_problems(&fixture));
			teardown(&fixture);
			return;
		}
		ASSERT_TRUE(fixture.compiled.ingress_isolation_rule != 0, "still isolated");
		ASSERT_TRUE(!find_entry(&fixture, WEIR_DIRECTION_INGRESS, xb, IPPROTO_TCP, 8080, 16) &&
				    !find_entry(&fixture, WEIR_DIRECTION_INGRESS, xb, IPPROTO_UDP,
						8080, 16),
			    "the bad port rule allows nothing");
		ASSERT_TRUE(find_entry(&fixture, WEIR_DIRECTION_INGRESS, xb, IPPROTO_TCP, 9090, 16),
			    "the good one still allows");
		ASSERT_EQ(fixture.compiled.http_set_count, 0, "no rule set");
		teardown(&fixture);
	}
}

static void compiler_http_refused_where_it_cannot_apply(void)
{
	struct fixture fixture;

	setup(&fixture);
	/* Egress: weir checks requests where they arrive. */
	put(&fixture, "{\"kind\":\"WeirNetworkPolicy\",\"metadata\":{\"namespace\":\"x\",\"name\":"
		      "\"out\"},\"spec\":{\"podSelector\":{},\"policyTypes\":[\"Egress\"],\"egress\":"
		      "[{\"ports\":[{\"port\":80,\"http\":[{\"path\":\"/\"}]}]}]}}");
	/* A NetworkPolicy has no http field: meant as a restriction, so never ignored. */
	put(&fixture, "{\"kind\":\"NetworkPolicy\",\"metadata\":{\"namespace\":\"x\",\"name\":"
		      "\"np\"},\"spec\":{\"podSelector\":{},\"ingress\":[{\"ports\":[{\"port\":81,"
		      "\"http\":[{\"path\":\"/\"}]}]}]}}");
	ASSERT_EQ(compile_for(&fixture, "x", "a"), 0, "compile");
	ASSERT_TRUE(has_problem(&fixture, "WeirNetworkPolicy x/out: spec.egress[0].ports[0].http: "
					  "HTTP matchers are only supported on ingress rules"),
		    "egress refused");
	ASSERT_TRUE(has_problem(&fixture, "NetworkPolicy x/np: spec.ingress[0].ports[0].http: only "
					  "WeirNetworkPolicy"),
		    "NetworkPolicy http refused");
	ASSERT_TRUE(fixture.compiled.egress_isolation_rule != 0, "egress isolated");
	ASSERT_TRUE(fixture.compiled.ingress_isolation_rule != 0, "ingress isolated");
	ASSERT_EQ(fixture.compiled.count, 0, "nothing allowed either way");
	teardown(&fixture);
}

static void compiler_http_merged_sets_over_the_limit_allow_nothing(void)
{
	struct fixture fixture;
	char ports[2048];
	uint32_t xb;

	setup(&fixture);
	xb = identity_of(&fixture, "x", "b");
	for (int policy = 0; policy < 2; policy++) {
		char name[8];
		strcpy(ports, "[{\"port\":8080,\"http\":[");
		for (int i = 0; i < 10; i++)
			snprintf(ports + strlen(ports), sizeof(ports) - strlen(ports),
				 "%s{\"path\":\"/p%d-%d\"}", i ? "," : "", policy, i);
		strcat(ports, "]}]");
		snprintf(name, sizeof(name), "m%d", policy);
		weir_policy(&fixture, name, ports);
	}
	ASSERT_EQ(compile_for(&fixture, "x", "a"), 0, "compile");
	ASSERT_TRUE(has_problem(&fixture, "WeirNetworkPolicy x/m0, x/m1: 20 different HTTP "
					  "matchers"),
		    "the merge over 16 is refused, naming both policies");
	ASSERT_TRUE(!find_entry(&fixture, WEIR_DIRECTION_INGRESS, xb, IPPROTO_TCP, 8080, 16),
		    "and allows nothing");
	ASSERT_TRUE(fixture.compiled.ingress_isolation_rule != 0, "still isolated");
	teardown(&fixture);
}

/* Whether every entry of `part` is in `whole` with the same value (both sorted by key). */
static bool entries_within(const struct compiled_endpoint *part,
			   const struct compiled_endpoint *whole)
{
	size_t w = 0;

	for (size_t p = 0; p < part->count; p++) {
		while (w < whole->count && memcmp(&whole->entries[w].key, &part->entries[p].key,
						  sizeof(struct weir_policy_key)) < 0)
			w++;
		if (w == whole->count ||
		    memcmp(&whole->entries[w], &part->entries[p], sizeof(part->entries[p])) != 0)
			return false;
	}
	return true;
}

/* Every allocation of a compilation made to fail in turn: the compilation either fails (the
 * pass keeps the maps as they are) or gives the pod the very isolation it would have had,
 * with no entry the full compilation lacks. Never a pod left open, or open to more. */
static void compiler_allocation_failures_fail_closed(void)
{
	struct fixture fixture;
	struct compiled_endpoint reference = { 0 };
	size_t failures = 0, failed_compilations = 0;

	setup(&fixture);
	put(&fixture, "{\"kind\":\"NetworkPolicy\",\"metadata\":{\"namespace\":\"x\",\"name\":"
		      "\"first\"},\"spec\":{\"podSelector\":{},\"ingress\":[{\"from\":[{\"podSelector\":"
		      "{\"matchLabels\":{\"pod\":\"b\"}}},{\"ipBlock\":{\"cidr\":\"10.0.0.0/16\","
		      "\"except\":[\"10.0.1.0/24\"]}}],\"ports\":[{\"port\":\"web\"},{\"port\":"
		      "7000,\"endPort\":7010}]}]}}");
	put(&fixture, "{\"kind\":\"NetworkPolicy\",\"metadata\":{\"namespace\":\"x\",\"name\":"
		      "\"second\"},\"spec\":{\"podSelector\":{\"matchLabels\":{\"pod\":\"a\"}},"
		      "\"policyTypes\":[\"Ingress\",\"Egress\"],\"egress\":[{\"to\":[{"
		      "\"namespaceSelector\":{\"matchLabels\":{\"ns\":\"y\"}}}]}]}}");
	weir_policy(&fixture, "third",
		    "[{\"port\":8080,\"http\":[{\"method\":\"GET\",\"path\":\"/public/*\"}]}]");
	ASSERT_EQ(compile_for(&fixture, "x", "a"), 0, "compile without failures");
	ASSERT_TRUE(fixture.compiled.ingress_isolation_rule && fixture.compiled.egress_isolation_rule,
		    "isolated both ways");
	reference = fixture.compiled;
	memset(&fixture.compiled, 0, sizeof(fixture.compiled));
	for (unsigned long nth = 0; nth < 100000; nth++) {
		int result;

		pod_identity_cache_reset();
		alloc_failure_arm(nth);
		result = compile_for(&fixture, "x", "a");
		alloc_failure_disarm();
		if (!alloc_failure_fired())
			break; /* every allocation has had its turn */
		failures++;
		if (result < 0) {
			failed_compilations++;
			continue;
		}
		ASSERT_EQ(fixture.compiled.ingress_isolation_rule, reference.ingress_isolation_rule,
			  "the same ingress isolation (allocation failed)");
		ASSERT_EQ(fixture.compiled.egress_isolation_rule, reference.egress_isolation_rule,
			  "the same egress isolation (allocation failed)");
		ASSERT_TRUE(entries_within(&fixture.compiled, &reference),
			    "no entry the full compilation lacks (allocation failed)");
	}
	ASSERT_TRUE(failures > 20, "the compilation allocates: each allocation was made to fail");
	ASSERT_TRUE(failed_compilations > 0, "some failures fail the compilation");
	compiled_endpoint_reset(&reference);
	teardown(&fixture);
}

/* ipBlock is about addresses: a /32 naming one pod admits that pod, not every pod with its
 * labels; an except keeps its pod out even when a covered pod shares its labels. (The old
 * compiler added the covered pods' label identities: both were bypasses.) */
static void compiler_ip_block_matches_addresses_not_labels(void)
{
	struct fixture fixture;
	uint32_t twin_address, b_address;

	setup(&fixture);
	pod(&fixture, "x", "b-twin", "10.0.5.5", "{\"pod\":\"b\"}");
	ASSERT_EQ(identity_of(&fixture, "x", "b"), identity_of(&fixture, "x", "b-twin"),
		  "x/b and its twin share labels, so an identity");
	put(&fixture, "{\"kind\":\"NetworkPolicy\",\"metadata\":{\"namespace\":\"x\",\"name\":"
		      "\"one\"},\"spec\":{\"podSelector\":{\"matchLabels\":{\"pod\":\"a\"}},"
		      "\"ingress\":[{\"from\":[{\"ipBlock\":{\"cidr\":\"10.0.0.11/32\"}}]}]}}");
	ASSERT_EQ(compile_for(&fixture, "x", "a"), 0, "compile");
	b_address = id_table_use(fixture.tables.cidr_identities, "10.0.0.11/32");
	ASSERT_TRUE(has_entry(&fixture, WEIR_DIRECTION_INGRESS, b_address, 0, 0, 0),
		    "x/b by its address");
	ASSERT_TRUE(!has_entry(&fixture, WEIR_DIRECTION_INGRESS, identity_of(&fixture, "x", "b"), 0,
			       0, 0),
		    "not the label identity its twin shares");

	put(&fixture, "{\"kind\":\"NetworkPolicy\",\"metadata\":{\"namespace\":\"x\",\"name\":"
		      "\"one\"},\"spec\":{\"podSelector\":{\"matchLabels\":{\"pod\":\"a\"}},"
		      "\"ingress\":[{\"from\":[{\"ipBlock\":{\"cidr\":\"10.0.0.0/16\",\"except\":"
		      "[\"10.0.0.11/32\"]}}]}]}}");
	ASSERT_EQ(compile_for(&fixture, "x", "a"), 0, "compile the except");
	twin_address = id_table_use(fixture.tables.cidr_identities, "10.0.5.5/32");
	b_address = id_table_use(fixture.tables.cidr_identities, "10.0.0.11/32");
	ASSERT_TRUE(has_entry(&fixture, WEIR_DIRECTION_INGRESS, twin_address, 0, 0, 0),
		    "the twin, inside the block, by its address");
	ASSERT_TRUE(!has_entry(&fixture, WEIR_DIRECTION_INGRESS, b_address, 0, 0, 0),
		    "x/b is excepted");
	ASSERT_TRUE(!has_entry(&fixture, WEIR_DIRECTION_INGRESS, identity_of(&fixture, "x", "b"), 0,
			       0, 0),
		    "and not let in by the labels it shares with the twin");
	teardown(&fixture);
}

struct key_search {
	const char *key;
	bool found;
};

static void key_visit(const char *key, uint32_t id, void *opaque)
{
	struct key_search *search = opaque;

	(void)id;
	if (strcmp(key, search->key) == 0)
		search->found = true;
}

static bool cidr_known(struct fixture *fixture, const char *key)
{
	struct key_search search = { key, false };

	id_table_for_each(fixture->tables.cidr_identities, key_visit, &search);
	return search.found;
}

/* A local pod whose status has no IP yet is known by its CNI record: its address gets a /32
 * identity an ipBlock names. */
static void compiler_ip_block_knows_local_pods_by_their_records(void)
{
	struct fixture fixture;
	uint64_t digest;
	const uint32_t recorded = 0x0a000063u; /* 10.0.0.99: in no pod's status */

	setup(&fixture);
	put(&fixture, "{\"kind\":\"NetworkPolicy\",\"metadata\":{\"namespace\":\"x\",\"name\":"
		      "\"one\"},\"spec\":{\"podSelector\":{},\"ingress\":[{\"from\":[{\"ipBlock\":"
		      "{\"cidr\":\"10.0.0.0/24\"}}]}]}}");
	ASSERT_EQ(compiler_mark_cidrs(fixture.store, fixture.tables.cidr_identities, NULL, 0,
				      &digest),
		  0, "mark without records");
	ASSERT_TRUE(!cidr_known(&fixture, "10.0.0.99/32"), "nobody's address: no /32");
	ASSERT_TRUE(cidr_known(&fixture, "10.0.0.10/32"), "x/a's status address has its /32");
	ASSERT_TRUE(!cidr_known(&fixture, "10.0.1.10/32"), "y/a is outside every ipBlock");
	ASSERT_EQ(compiler_mark_cidrs(fixture.store, fixture.tables.cidr_identities, &recorded, 1,
				      &digest),
		  0, "mark with the CNI's record");
	ASSERT_TRUE(cidr_known(&fixture, "10.0.0.99/32"), "the recorded address has its /32");
	ASSERT_EQ(compile_for(&fixture, "x", "a"), 0, "compile");
	ASSERT_TRUE(has_entry(&fixture, WEIR_DIRECTION_INGRESS,
			      id_table_use(fixture.tables.cidr_identities, "10.0.0.99/32"), 0, 0, 0),
		    "the ipBlock admits it by address");
	teardown(&fixture);
}

/* An ipBlock naming a CIDR the full ipcache refused (as cidr or except) allows nothing, and
 * says so naming the policy; the pod stays isolated and other peers of the rule still count. */
static void compiler_ip_block_on_a_refused_cidr_allows_nothing(void)
{
	struct fixture fixture;
	struct ipv4_prefix refused = { 0x0a000b00u, 24 }; /* 10.0.11.0/24 */
	char name[256];

	setup(&fixture);
	put(&fixture, "{\"kind\":\"NetworkPolicy\",\"metadata\":{\"namespace\":\"x\",\"name\":"
		      "\"holes\"},\"spec\":{\"podSelector\":{},\"ingress\":[{\"from\":[{\"ipBlock\":"
		      "{\"cidr\":\"10.0.0.0/16\",\"except\":[\"10.0.11.0/24\"]}},{\"podSelector\":"
		      "{\"matchLabels\":{\"pod\":\"b\"}}}]}]}}");
	fixture.tables.refused_cidrs = &refused;
	fixture.tables.refused_cidr_count = 1;
	ASSERT_EQ(compile_for(&fixture, "x", "a"), 0, "compile");
	ASSERT_TRUE(fixture.compiled.ingress_isolation_rule != 0, "isolated");
	ASSERT_TRUE(!has_entry(&fixture, WEIR_DIRECTION_INGRESS,
			       id_table_use(fixture.tables.cidr_identities, "10.0.0.0/16"), 0, 0, 0),
		    "the block whose except is not in the ipcache allows nothing");
	ASSERT_TRUE(has_entry(&fixture, WEIR_DIRECTION_INGRESS, identity_of(&fixture, "x", "b"), 0, 0,
			      0),
		    "the rule's other peer still does");
	ASSERT_EQ(fixture.compiled.problem_count, 1, "one problem");
	ASSERT_CONTAINS(fixture.compiled.problems[0], "NetworkPolicy x/holes", "names the policy");
	ASSERT_CONTAINS(fixture.compiled.problems[0], "refused 10.0.11.0/24", "names the CIDR");
	ASSERT_TRUE(compiler_policy_naming_cidr(fixture.store, &refused, name, sizeof(name)),
		    "the policy naming it is found");
	ASSERT_STR_EQ(name, "NetworkPolicy x/holes", "by kind and name");
	fixture.tables.refused_cidr_count = 0;
	teardown(&fixture);
}

const struct test_case policy_compiler_tests[] = {
	{ "compiler_ip_block_on_a_refused_cidr_allows_nothing",
	  compiler_ip_block_on_a_refused_cidr_allows_nothing },
	{ "compiler_ip_block_matches_addresses_not_labels",
	  compiler_ip_block_matches_addresses_not_labels },
	{ "compiler_ip_block_knows_local_pods_by_their_records",
	  compiler_ip_block_knows_local_pods_by_their_records },
	{ "compiler_allocation_failures_fail_closed", compiler_allocation_failures_fail_closed },
	{ "compiler_no_policy_leaves_the_pod_open", compiler_no_policy_leaves_the_pod_open },
	{ "compiler_exhausted_identities_allow_nobody", compiler_exhausted_identities_allow_nobody },
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
	{ "compiler_weir_policy_without_http_is_a_network_policy",
	  compiler_weir_policy_without_http_is_a_network_policy },
	{ "compiler_http_exact_and_prefix_matchers", compiler_http_exact_and_prefix_matchers },
	{ "compiler_http_union_with_a_plain_allow_is_plain",
	  compiler_http_union_with_a_plain_allow_is_plain },
	{ "compiler_http_sets_of_several_policies_merge",
	  compiler_http_sets_of_several_policies_merge },
	{ "compiler_http_invalid_input_fails_closed", compiler_http_invalid_input_fails_closed },
	{ "compiler_http_refused_where_it_cannot_apply",
	  compiler_http_refused_where_it_cannot_apply },
	{ "compiler_http_merged_sets_over_the_limit_allow_nothing",
	  compiler_http_merged_sets_over_the_limit_allow_nothing },
};
const size_t policy_compiler_tests_count = sizeof(policy_compiler_tests) / sizeof(policy_compiler_tests[0]);
