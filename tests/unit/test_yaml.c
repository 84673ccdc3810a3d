/* YAML to JSON: the manifests kubectl writes, the scalar typing rules that decide whether 80 is
 * a port number or a string, anchors (and alias bombs), and errors that point at the line. */
#include <math.h>
#include <stdlib.h>

#include "test.h"
#include "unit.h"
#include "yaml_json.h"

/* Two objects from `kubectl create deployment x --image=y --dry-run=client -o yaml` and
 * `kubectl create service clusterip x --tcp=80:8080 --dry-run=client -o yaml`, joined the way
 * manifests are, with the leading "---" and an empty document that real files often have. */
static const char kubectl_manifest[] = "---\n"
				       "apiVersion: apps/v1\n"
				       "kind: Deployment\n"
				       "metadata:\n"
				       "  creationTimestamp: null\n"
				       "  labels:\n"
				       "    app: x\n"
				       "  name: x\n"
				       "spec:\n"
				       "  replicas: 1\n"
				       "  selector:\n"
				       "    matchLabels:\n"
				       "      app: x\n"
				       "  strategy: {}\n"
				       "  template:\n"
				       "    metadata:\n"
				       "      creationTimestamp: null\n"
				       "      labels:\n"
				       "        app: x\n"
				       "    spec:\n"
				       "      containers:\n"
				       "      - image: \"y\"\n"
				       "        name: \"y\"\n"
				       "        resources: {}\n"
				       "status: {}\n"
				       "---\n"
				       "# nothing here but a comment\n"
				       "---\n"
				       "apiVersion: v1\n"
				       "kind: Service\n"
				       "metadata:\n"
				       "  creationTimestamp: null\n"
				       "  labels:\n"
				       "    app: x\n"
				       "  name: x\n"
				       "spec:\n"
				       "  ports:\n"
				       "  - name: 80-8080\n"
				       "    port: 80\n"
				       "    protocol: TCP\n"
				       "    targetPort: 8080\n"
				       "  selector:\n"
				       "    app: x\n"
				       "  type: ClusterIP\n"
				       "status:\n"
				       "  loadBalancer: {}\n";

/* Follows a dotted path ("spec.ports.0.port"); numeric parts index arrays. */
static const cJSON *json_at(const cJSON *node, const char *path)
{
	char part[128];

	while (node && *path) {
		size_t length = strcspn(path, ".");
		char *end;
		long index;

		snprintf(part, sizeof(part), "%.*s", (int)length, path);
		path += length + (path[length] == '.');
		index = strtol(part, &end, 10);
		if (cJSON_IsArray(node) && *end == '\0')
			node = cJSON_GetArrayItem(node, (int)index);
		else
			node = cJSON_GetObjectItemCaseSensitive(node, part);
	}
	return node;
}

static cJSON *parse_ok(const char *text)
{
	char errbuf[256] = "";
	cJSON *documents = yaml_parse_documents(text, strlen(text), errbuf, sizeof(errbuf));

	if (!documents)
		TEST_FAIL("parse failed: %s\n--- input:\n%s", errbuf, text);
	return documents;
}

/* The first document of text, with the whole array in *documents for freeing. */
static const cJSON *parse_first(const char *text, cJSON **documents)
{
	*documents = parse_ok(text);
	if (*documents && cJSON_GetArraySize(*documents) < 1)
		TEST_FAIL("no document in:\n%s", text);
	return *documents ? cJSON_GetArrayItem(*documents, 0) : NULL;
}

static void expect_error(const char *text, const char *needle)
{
	char errbuf[256] = "";
	cJSON *documents = yaml_parse_documents(text, strlen(text), errbuf, sizeof(errbuf));

	if (documents) {
		TEST_FAIL("accepted:\n%s", text);
		cJSON_Delete(documents);
		return;
	}
	if (!strstr(errbuf, needle))
		TEST_FAIL("error \"%s\" does not contain \"%s\"", errbuf, needle);
}

#define ASSERT_NUMBER(node, want, what)                                                            \
	do {                                                                                       \
		const cJSON *number_ = (node);                                                     \
		ASSERT_TRUE(cJSON_IsNumber(number_), what " is a number");                         \
		ASSERT_TRUE(number_->valuedouble == (want), what " value");                        \
	} while (0)

#define ASSERT_STRING(node, want, what)                                                            \
	do {                                                                                       \
		const cJSON *string_ = (node);                                                     \
		ASSERT_TRUE(cJSON_IsString(string_), what " is a string");                         \
		ASSERT_STR_EQ(string_->valuestring, want, what);                                   \
	} while (0)

static void yaml_multi_document_manifest(void)
{
	cJSON *documents = parse_ok(kubectl_manifest);
	const cJSON *deployment, *service;

	ASSERT_TRUE(documents, "parsed");
	ASSERT_EQ(cJSON_GetArraySize(documents), 2, "documents (the empty one skipped)");
	deployment = cJSON_GetArrayItem(documents, 0);
	service = cJSON_GetArrayItem(documents, 1);
	ASSERT_STRING(json_at(deployment, "kind"), "Deployment", "first kind");
	ASSERT_STRING(json_at(deployment, "apiVersion"), "apps/v1", "apiVersion");
	ASSERT_NUMBER(json_at(deployment, "spec.replicas"), 1, "replicas");
	ASSERT_TRUE(cJSON_IsNull(json_at(deployment, "metadata.creationTimestamp")),
		    "creationTimestamp: null");
	ASSERT_TRUE(cJSON_IsObject(json_at(deployment, "spec.strategy")), "strategy: {}");
	ASSERT_TRUE(!json_at(deployment, "spec.strategy")->child, "strategy is empty");
	ASSERT_STRING(json_at(deployment, "spec.template.spec.containers.0.image"), "y", "image");
	ASSERT_STRING(json_at(deployment, "spec.selector.matchLabels.app"), "x", "selector");
	ASSERT_STRING(json_at(service, "kind"), "Service", "second kind");
	ASSERT_STRING(json_at(service, "spec.ports.0.name"), "80-8080", "port name stays text");
	ASSERT_NUMBER(json_at(service, "spec.ports.0.port"), 80, "port");
	ASSERT_NUMBER(json_at(service, "spec.ports.0.targetPort"), 8080, "targetPort");
	ASSERT_TRUE(cJSON_IsObject(json_at(service, "status.loadBalancer")), "loadBalancer");
	cJSON_Delete(documents);
}

static void yaml_scalar_typing_core_schema(void)
{
	cJSON *documents;
	const cJSON *root = parse_first("port: 80\n"
					"quoted: \"80\"\n"
					"single: '80'\n"
					"negative: -12\n"
					"plus: +7\n"
					"leading_zero: 010\n"
					"hex: 0x1F\n"
					"octal: 0o17\n"
					"float: 3.5\n"
					"exponent: 1e3\n"
					"point_five: .5\n"
					"version: 1.20\n"
					"negative_infinity: -.inf\n"
					"yes_word: yes\n"
					"dotted: 1.2.3\n"
					"bool_true: true\n"
					"bool_title: True\n"
					"bool_upper: FALSE\n"
					"bool_quoted: \"true\"\n"
					"tilde: ~\n"
					"null_word: Null\n"
					"empty:\n"
					"quoted_null: 'null'\n"
					"text: v1\n",
					&documents);

	ASSERT_TRUE(root, "parsed");
	ASSERT_NUMBER(json_at(root, "port"), 80, "plain 80");
	ASSERT_STRING(json_at(root, "quoted"), "80", "double-quoted 80");
	ASSERT_STRING(json_at(root, "single"), "80", "single-quoted 80");
	ASSERT_NUMBER(json_at(root, "negative"), -12, "-12");
	ASSERT_NUMBER(json_at(root, "plus"), 7, "+7");
	ASSERT_NUMBER(json_at(root, "leading_zero"), 10, "010 is decimal in YAML 1.2");
	ASSERT_NUMBER(json_at(root, "hex"), 31, "0x1F");
	ASSERT_NUMBER(json_at(root, "octal"), 15, "0o17");
	ASSERT_NUMBER(json_at(root, "float"), 3.5, "3.5");
	ASSERT_NUMBER(json_at(root, "exponent"), 1000, "1e3");
	ASSERT_NUMBER(json_at(root, "point_five"), 0.5, ".5");
	ASSERT_NUMBER(json_at(root, "version"), 1.2, "1.20 is a float");
	ASSERT_TRUE(isinf(json_at(root, "negative_infinity")->valuedouble) &&
			    json_at(root, "negative_infinity")->valuedouble < 0,
		    "-.inf");
	ASSERT_STRING(json_at(root, "yes_word"), "yes", "yes is text in YAML 1.2");
	ASSERT_STRING(json_at(root, "dotted"), "1.2.3", "1.2.3");
	ASSERT_TRUE(cJSON_IsTrue(json_at(root, "bool_true")), "true");
	ASSERT_TRUE(cJSON_IsTrue(json_at(root, "bool_title")), "True");
	ASSERT_TRUE(cJSON_IsFalse(json_at(root, "bool_upper")), "FALSE");
	ASSERT_STRING(json_at(root, "bool_quoted"), "true", "quoted true");
	ASSERT_TRUE(cJSON_IsNull(json_at(root, "tilde")), "~");
	ASSERT_TRUE(cJSON_IsNull(json_at(root, "null_word")), "Null");
	ASSERT_TRUE(cJSON_IsNull(json_at(root, "empty")), "empty value");
	ASSERT_STRING(json_at(root, "quoted_null"), "null", "quoted null");
	ASSERT_STRING(json_at(root, "text"), "v1", "v1");
	cJSON_Delete(documents);
}

static void yaml_block_scalars_and_tags(void)
{
	cJSON *documents;
	const cJSON *root = parse_first("literal: |\n"
					"  80\n"
					"  true\n"
					"folded: >-\n"
					"  one\n"
					"  two\n"
					"as_string: !!str 80\n"
					"as_int: !!int \"42\"\n"
					"as_bool: !!bool \"false\"\n"
					"as_float: !!float 2\n"
					"custom: !Ref 12\n"
					"non_specific: ! 12\n",
					&documents);

	ASSERT_TRUE(root, "parsed");
	ASSERT_STRING(json_at(root, "literal"), "80\ntrue\n", "literal block");
	ASSERT_STRING(json_at(root, "folded"), "one two", "folded block");
	ASSERT_STRING(json_at(root, "as_string"), "80", "!!str");
	ASSERT_NUMBER(json_at(root, "as_int"), 42, "!!int on a quoted scalar");
	ASSERT_TRUE(cJSON_IsFalse(json_at(root, "as_bool")), "!!bool");
	ASSERT_NUMBER(json_at(root, "as_float"), 2, "!!float");
	ASSERT_STRING(json_at(root, "custom"), "12", "an unknown tag keeps the text");
	ASSERT_STRING(json_at(root, "non_specific"), "12", "! means string");
	cJSON_Delete(documents);
	expect_error("a: 1\nb: !!int twelve\n", "line 2, column 4: value tagged !!int");
	expect_error("a: !!bool yes\n", "!!bool");
}

static void yaml_nested_lists_of_maps(void)
{
	cJSON *documents;
	const cJSON *root = parse_first("containers:\n"
					"- name: app\n"
					"  ports:\n"
					"  - containerPort: 8080\n"
					"    protocol: TCP\n"
					"  - {containerPort: 9090, protocol: UDP}\n"
					"  env:\n"
					"  - name: MODE\n"
					"    value: \"1\"\n"
					"- name: sidecar\n"
					"  args: [--verbose, '--port', 8081, [nested, 1]]\n"
					"  ports: []\n",
					&documents);

	ASSERT_TRUE(root, "parsed");
	ASSERT_EQ(cJSON_GetArraySize(json_at(root, "containers")), 2, "containers");
	ASSERT_EQ(cJSON_GetArraySize(json_at(root, "containers.0.ports")), 2, "ports");
	ASSERT_NUMBER(json_at(root, "containers.0.ports.0.containerPort"), 8080, "block port");
	ASSERT_NUMBER(json_at(root, "containers.0.ports.1.containerPort"), 9090, "flow port");
	ASSERT_STRING(json_at(root, "containers.0.ports.1.protocol"), "UDP", "flow protocol");
	ASSERT_STRING(json_at(root, "containers.0.env.0.value"), "1", "env value stays text");
	ASSERT_STRING(json_at(root, "containers.1.args.0"), "--verbose", "arg 0");
	ASSERT_STRING(json_at(root, "containers.1.args.1"), "--port", "arg 1");
	ASSERT_NUMBER(json_at(root, "containers.1.args.2"), 8081, "arg 2");
	ASSERT_STRING(json_at(root, "containers.1.args.3.0"), "nested", "nested list");
	ASSERT_TRUE(cJSON_IsArray(json_at(root, "containers.1.ports")), "empty flow list");
	ASSERT_EQ(cJSON_GetArraySize(json_at(root, "containers.1.ports")), 0, "empty list size");
	cJSON_Delete(documents);
}

static void yaml_anchors_aliases_and_merge_keys(void)
{
	cJSON *documents;
	const cJSON *root = parse_first("defaults: &defaults\n"
					"  protocol: TCP\n"
					"  port: 80\n"
					"count: &count 3\n"
					"first: *defaults\n"
					"second:\n"
					"  <<: *defaults\n"
					"  port: 443\n"
					"replicas: *count\n"
					"list: &list [a, b]\n"
					"again: *list\n"
					"redefined: &count 4\n"
					"latest: *count\n",
					&documents);

	ASSERT_TRUE(root, "parsed");
	ASSERT_STRING(json_at(root, "first.protocol"), "TCP", "alias copies the mapping");
	ASSERT_NUMBER(json_at(root, "first.port"), 80, "alias port");
	ASSERT_STRING(json_at(root, "second.protocol"), "TCP", "merged key");
	ASSERT_NUMBER(json_at(root, "second.port"), 443, "own key wins over the merge");
	ASSERT_EQ(cJSON_GetArraySize(json_at(root, "second")), 2, "merge adds no duplicate");
	ASSERT_NUMBER(json_at(root, "replicas"), 3, "scalar alias");
	ASSERT_STRING(json_at(root, "again.1"), "b", "sequence alias");
	ASSERT_NUMBER(json_at(root, "latest"), 4, "a redefined anchor's latest value");
	/* Copies, not shared nodes: freeing the tree once must not free anything twice. */
	ASSERT_TRUE(json_at(root, "first") != json_at(root, "defaults"), "a copy");
	cJSON_Delete(documents);
	expect_error("a: *nowhere\n", "line 1, column 4: alias *nowhere names no anchor");
	expect_error("a: &x 1\n---\nb: *x\n", "line 3, column 4");
	expect_error("a:\n  <<: [1, 2]\n", "merge key << needs a mapping");
}

static void yaml_alias_bomb_is_capped(void)
{
	/* Nine levels of nine aliases each expand to 9^9 (387 million) strings. */
	const char *bomb = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
			   "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
			   "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
			   "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
			   "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
			   "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
			   "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\n"
			   "h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]\n"
			   "i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]\n";

	expect_error(bomb, "more than 1000000 nodes");
	expect_error(bomb, "line ");
}

static void yaml_syntax_errors_name_line_and_column(void)
{
	expect_error("a: 1\nb: c: d\n",
		     "line 2, column 5: mapping values are not allowed in this context");
	expect_error("a: [1, 2\nb: 3\n", "line 2");
	expect_error("a:\n\t- 1\n", "line 2, column 1");
	expect_error("a: 1\nb: 2\na: 3\n", "line 3, column 1: duplicate key \"a\"");
	expect_error("a: 1\nb: \"x\xff\"\n",
		     "line 2, column 6: invalid leading UTF-8 octet (byte 0xff)");
	expect_error("a: \"x\\0y\"\n", "line 1, column 4: string contains a NUL character");
	expect_error("? [a, b]\n: c\n", "line 1, column 3: a mapping key must be a scalar");
}

static void yaml_json_input_round_trips(void)
{
	const char *json = "{\"a\":[1,2.5,\"x\",true,false,null],\"b\":{\"c\":\"80\",\"d\":{}},"
			   "\"e\":\"line\\nbreak \\u00e9\"}";
	cJSON *documents = parse_ok(json);
	char *printed;

	ASSERT_TRUE(documents, "parsed");
	ASSERT_EQ(cJSON_GetArraySize(documents), 1, "one document");
	printed = cJSON_PrintUnformatted(cJSON_GetArrayItem(documents, 0));
	cJSON_Delete(documents);
	ASSERT_TRUE(printed, "printed");
	if (strcmp(printed, "{\"a\":[1,2.5,\"x\",true,false,null],\"b\":{\"c\":\"80\",\"d\":{}},"
			    "\"e\":\"line\\nbreak \xc3\xa9\"}") != 0)
		TEST_FAIL("round trip gave %s", printed);
	free(printed);
}

static void yaml_empty_documents_and_streams(void)
{
	cJSON *documents = parse_ok("");

	ASSERT_TRUE(documents, "empty text parses");
	ASSERT_EQ(cJSON_GetArraySize(documents), 0, "empty text has no documents");
	cJSON_Delete(documents);
	documents = parse_ok("# only a comment\n---\n---\n...\n---\nnull\n");
	ASSERT_TRUE(documents, "empty documents parse");
	ASSERT_EQ(cJSON_GetArraySize(documents), 0, "empty and null documents skipped");
	cJSON_Delete(documents);
	documents = parse_ok("---\n---\nkind: A\n---\n- 1\n---\nplain text\n");
	ASSERT_TRUE(documents, "mixed stream parses");
	ASSERT_EQ(cJSON_GetArraySize(documents), 3, "three non-empty documents");
	ASSERT_TRUE(cJSON_IsArray(cJSON_GetArrayItem(documents, 1)), "a sequence document");
	ASSERT_STRING(cJSON_GetArrayItem(documents, 2), "plain text", "a scalar document");
	cJSON_Delete(documents);
	documents = yaml_parse_documents(NULL, 0, NULL, 0);
	ASSERT_TRUE(documents, "NULL text and errbuf");
	cJSON_Delete(documents);
	expect_error("a: [\n", "line 2"); /* and a NULL errbuf does not crash: */
	ASSERT_TRUE(!yaml_parse_documents("a: [\n", 5, NULL, 0), "error without errbuf");
}

static void yaml_keys_become_strings(void)
{
	cJSON *documents;
	const cJSON *root = parse_first("80: http\n"
					"true: yes\n"
					"~: nothing\n"
					"0.1: tenth\n"
					"\"quoted\": q\n",
					&documents);

	ASSERT_TRUE(root, "parsed");
	ASSERT_STRING(json_at(root, "80"), "http", "number key");
	ASSERT_STRING(json_at(root, "true"), "yes", "bool key");
	ASSERT_STRING(json_at(root, "null"), "nothing", "null key");
	/* Not json_at: its path would split "0.1" at the dot. */
	ASSERT_STRING(cJSON_GetObjectItemCaseSensitive(root, "0.1"), "tenth", "float key");
	ASSERT_STRING(json_at(root, "quoted"), "q", "quoted key");
	cJSON_Delete(documents);
}

static char *brackets(size_t depth)
{
	char *text = malloc(depth * 2 + 1);

	if (!text)
		return NULL;
	memset(text, '[', depth);
	memset(text + depth, ']', depth);
	text[depth * 2] = '\0';
	return text;
}

static void yaml_deep_nesting_is_capped(void)
{
	char *deep = brackets(600), *fine = brackets(200);
	cJSON *documents;

	ASSERT_TRUE(deep && fine, "allocated");
	expect_error(deep, "nested deeper than 512 levels");
	documents = parse_ok(fine);
	free(deep);
	free(fine);
	ASSERT_TRUE(documents, "200 levels are fine");
	cJSON_Delete(documents);
}

static void yaml_large_mapping_rejects_late_duplicate(void)
{
	/* The duplicate check must stay fast on a large mapping (a big ConfigMap). */
	size_t keys = 50000, capacity = keys * 16 + 32, length = 0;
	char *text = malloc(capacity);
	cJSON *documents;

	ASSERT_TRUE(text, "allocated");
	for (size_t i = 0; i < keys; i++)
		length += (size_t)snprintf(text + length, capacity - length, "key%zu: %zu\n", i, i);
	documents = parse_ok(text);
	if (documents) {
		const cJSON *root = cJSON_GetArrayItem(documents, 0);
		if (cJSON_GetArraySize(root) != (int)keys)
			TEST_FAIL("expected %zu keys, got %d", keys, cJSON_GetArraySize(root));
		cJSON_Delete(documents);
	}
	length += (size_t)snprintf(text + length, capacity - length, "key123: again\n");
	expect_error(text, "line 50001, column 1: duplicate key \"key123\"");
	free(text);
}

const struct test_case yaml_tests[] = {
	{ "yaml_multi_document_manifest", yaml_multi_document_manifest },
	{ "yaml_scalar_typing_core_schema", yaml_scalar_typing_core_schema },
	{ "yaml_block_scalars_and_tags", yaml_block_scalars_and_tags },
	{ "yaml_nested_lists_of_maps", yaml_nested_lists_of_maps },
	{ "yaml_anchors_aliases_and_merge_keys", yaml_anchors_aliases_and_merge_keys },
	{ "yaml_alias_bomb_is_capped", yaml_alias_bomb_is_capped },
	{ "yaml_syntax_errors_name_line_and_column", yaml_syntax_errors_name_line_and_column },
	{ "yaml_json_input_round_trips", yaml_json_input_round_trips },
	{ "yaml_empty_documents_and_streams", yaml_empty_documents_and_streams },
	{ "yaml_keys_become_strings", yaml_keys_become_strings },
	{ "yaml_deep_nesting_is_capped", yaml_deep_nesting_is_capped },
	{ "yaml_large_mapping_rejects_late_duplicate", yaml_large_mapping_rejects_late_duplicate },
};
const size_t yaml_tests_count = sizeof(yaml_tests) / sizeof(yaml_tests[0]);
