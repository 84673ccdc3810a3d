/* HTTP matchers as the datapath reads them: the byte layout of paths, masks and hosts, the
 * words people read, every refused input with a message naming the field, and the http_rules
 * map writes (a real kernel hash map when the test may create one). */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "http_rules.h"
#include "test.h"
#include "unit.h"

static void http_rule_exact_path_layout(void)
{
	struct weir_http_rule rule;
	char errbuf[256];
	const unsigned char *path, *mask;

	ASSERT_EQ(http_rule_encode("GET", "/0123456789abcdef", NULL, &rule, errbuf, sizeof(errbuf)),
		  0, "encode");
	path = (const unsigned char *)rule.path;
	mask = (const unsigned char *)rule.path_mask;
	ASSERT_EQ(rule.match, WEIR_HTTP_MATCH_METHOD | WEIR_HTTP_MATCH_PATH, "match bits");
	ASSERT_EQ(rule.method, WEIR_HTTP_METHOD_GET, "method");
	ASSERT_EQ(rule.path_length, 17, "length");
	ASSERT_EQ(memcmp(path, "/0123456789abcdef", 17), 0, "bytes in memory order");
	for (int i = 0; i < WEIR_HTTP_PATH_BYTES; i++) {
		ASSERT_EQ(mask[i], i < 17 ? 0xff : 0, "mask byte");
		if (i >= 17)
			ASSERT_EQ(path[i], 0, "zero padding");
	}
	/* What the datapath computes for a request holding the same bytes. */
	{
		uint64_t request[WEIR_HTTP_PATH_BYTES / 8] = {0};
		memcpy(request, "/0123456789abcdef", 17);
		for (int i = 0; i < WEIR_HTTP_PATH_BYTES / 8; i++)
			ASSERT_EQ((request[i] & rule.path_mask[i]) == rule.path[i], 1,
				  "word matches");
	}
}

static void http_rule_prefix_and_host(void)
{
	struct weir_http_rule rule;
	char errbuf[256], words[200];
	uint64_t request[WEIR_HTTP_PATH_BYTES / 8] = {0};
	bool matches = true;

	ASSERT_EQ(
	    http_rule_encode(NULL, "/api/*", "API.Example.com", &rule, errbuf, sizeof(errbuf)), 0,
	    "encode");
	ASSERT_EQ(rule.match,
		  WEIR_HTTP_MATCH_PATH | WEIR_HTTP_MATCH_PATH_PREFIX | WEIR_HTTP_MATCH_HOST,
		  "match bits: no method");
	ASSERT_EQ(rule.path_length, 5, "prefix length without '*'");
	ASSERT_EQ(memcmp(rule.host, "api.example.com", 16), 0, "host lowercase, zero-terminated");
	ASSERT_EQ(rule.host_length, 15, "host length");
	memcpy(request, "/api/users/7", 12);
	for (int i = 0; i < WEIR_HTTP_PATH_BYTES / 8; i++)
		matches = matches && (request[i] & rule.path_mask[i]) == rule.path[i];
	ASSERT_TRUE(matches, "a longer path under the prefix matches the masked words");
	memcpy(request, "/apx/", 5);
	ASSERT_TRUE((request[0] & rule.path_mask[0]) != rule.path[0], "another prefix does not");
	http_rule_words(&rule, words, sizeof(words));
	ASSERT_STR_EQ(words, "any method /api/* host api.example.com", "words");
	ASSERT_EQ(http_rule_encode(NULL, "*", NULL, &rule, errbuf, sizeof(errbuf)), 0, "'*' alone");
	ASSERT_EQ(rule.path_length, 0, "an empty prefix: any path");
	ASSERT_EQ(rule.path_mask[0], 0, "nothing masked in");
}

static void http_rule_words_and_sets(void)
{
	struct weir_http_rule rules[4];
	char errbuf[256], words[400];

	ASSERT_EQ(http_rule_encode("GET", "/hello", NULL, &rules[0], errbuf, sizeof(errbuf)), 0,
		  "0");
	ASSERT_EQ(http_rule_encode(NULL, "/api/*", NULL, &rules[1], errbuf, sizeof(errbuf)), 0,
		  "1");
	ASSERT_EQ(http_rule_encode(NULL, NULL, "example.com", &rules[2], errbuf, sizeof(errbuf)), 0,
		  "2");
	ASSERT_EQ(http_rule_encode(NULL, NULL, NULL, &rules[3], errbuf, sizeof(errbuf)), 0, "3");
	http_rule_set_words(rules, 4, words, sizeof(words));
	ASSERT_STR_EQ(words, "HTTP: GET /hello; any method /api/*; host example.com; any request",
		      "the set in words");
	ASSERT_EQ(http_rule_encode("DELETE", NULL, NULL, &rules[0], errbuf, sizeof(errbuf)), 0,
		  "method only");
	http_rule_words(&rules[0], words, sizeof(words));
	ASSERT_STR_EQ(words, "DELETE", "method only in words");
	http_rule_set_words(rules, 0, words, sizeof(words));
	ASSERT_STR_EQ(words, "HTTP: nothing", "an empty set");
	ASSERT_EQ(http_rule_set_words(rules, 1, words, 8) > 8, 1, "reports the length it needed");
	ASSERT_EQ(strlen(words), 7, "and truncates safely");
}

static void http_rule_refuses_what_cannot_match(void)
{
	struct weir_http_rule rule;
	char errbuf[256], path[80], host[40];
	static const char *const methods[] = {"GET",   "HEAD",	  "POST",    "PUT",  "DELETE",
					      "PATCH", "OPTIONS", "CONNECT", "TRACE"};

	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		ASSERT_EQ(http_rule_encode(methods[i], NULL, NULL, &rule, errbuf, sizeof(errbuf)),
			  0, "every method of the CRD's list");
	ASSERT_EQ(http_rule_encode("get", NULL, NULL, &rule, errbuf, sizeof(errbuf)), -1, "get");
	ASSERT_CONTAINS(errbuf, "method \"get\" is not one of GET", "methods are case-sensitive");
	memset(path, 'a', 64);
	path[0] = '/';
	path[64] = '\0';
	ASSERT_EQ(http_rule_encode(NULL, path, NULL, &rule, errbuf, sizeof(errbuf)), 0, "64 bytes");
	ASSERT_EQ(rule.path_mask[7], UINT64_MAX, "all eight words masked in");
	path[64] = '*';
	path[65] = '\0';
	ASSERT_EQ(http_rule_encode(NULL, path, NULL, &rule, errbuf, sizeof(errbuf)), 0,
		  "64 bytes and a '*'");
	path[64] = 'a';
	ASSERT_EQ(http_rule_encode(NULL, path, NULL, &rule, errbuf, sizeof(errbuf)), -1,
		  "65 bytes");
	ASSERT_CONTAINS(errbuf, "is 65 bytes; at most 64", "path too long");
	memset(host, 'h', 33);
	host[33] = '\0';
	ASSERT_EQ(http_rule_encode(NULL, NULL, host, &rule, errbuf, sizeof(errbuf)), -1, "host 33");
	ASSERT_CONTAINS(errbuf, "is 33 bytes; at most 32", "host too long");
	host[32] = '\0';
	ASSERT_EQ(http_rule_encode(NULL, NULL, host, &rule, errbuf, sizeof(errbuf)), 0, "host 32");
	ASSERT_EQ(http_rule_encode(NULL, "/a*/b", NULL, &rule, errbuf, sizeof(errbuf)), -1,
		  "mid *");
	ASSERT_CONTAINS(errbuf, "only allowed at the end", "'*' in the middle");
	ASSERT_EQ(http_rule_encode(NULL, "", NULL, &rule, errbuf, sizeof(errbuf)), -1, "empty");
	ASSERT_EQ(http_rule_encode(NULL, NULL, "", &rule, errbuf, sizeof(errbuf)), -1,
		  "empty host");
	ASSERT_EQ(http_rule_encode(NULL, "/a\tb", NULL, &rule, errbuf, sizeof(errbuf)), -1, "tab");
	ASSERT_EQ(http_rule_encode(NULL, NULL, "a/b", &rule, errbuf, sizeof(errbuf)), -1, "host /");
}

/* A map shaped like http_rules; -1 when this process may not create BPF maps. */
static int http_rules_test_map(void)
{
	return bpf_map_create(BPF_MAP_TYPE_HASH, "test_http_rules",
			      sizeof(struct weir_http_rule_key), sizeof(struct weir_http_rule), 64,
			      NULL);
}

static void http_rules_map_write_shrink_describe_delete(void)
{
	struct weir_http_rule rules[3], read_back[WEIR_HTTP_RULES_PER_SET];
	char errbuf[256], words[400];
	int fd = http_rules_test_map();

	if (fd < 0) {
		printf("    (skipped: cannot create a BPF map: %s)\n", strerror(errno));
		return;
	}
	http_rule_encode("GET", "/hello", NULL, &rules[0], errbuf, sizeof(errbuf));
	http_rule_encode(NULL, "/api/*", NULL, &rules[1], errbuf, sizeof(errbuf));
	http_rule_encode(NULL, NULL, "example.com", &rules[2], errbuf, sizeof(errbuf));
	ASSERT_EQ(http_rules_write(fd, 42, rules, 3, 0, errbuf, sizeof(errbuf)), 0, "write");
	ASSERT_EQ(http_rules_describe(fd, 42, words, sizeof(words)), 0, "describe");
	ASSERT_STR_EQ(words, "HTTP: GET /hello; any method /api/*; host example.com",
		      "described from the map");
	ASSERT_EQ(http_rules_write(fd, 42, &rules[1], 1, 3, errbuf, sizeof(errbuf)), 0, "shrink");
	ASSERT_EQ(http_rules_read(fd, 42, read_back, WEIR_HTTP_RULES_PER_SET), 1, "one left");
	{
		struct weir_http_rule_key key = {42, 1};
		ASSERT_TRUE(bpf_map_lookup_elem(fd, &key, &read_back[1]) < 0 && errno == ENOENT,
			    "index 1 removed, not left behind a gap");
	}
	ASSERT_EQ(http_rules_delete(fd, 42, errbuf, sizeof(errbuf)), 0, "delete");
	ASSERT_EQ(http_rules_describe(fd, 42, words, sizeof(words)), -ENOENT, "gone");
	ASSERT_CONTAINS(words, "no rule set 42 (nothing allowed)", "a missing set in words");
	ASSERT_EQ(http_rules_delete(fd, 42, errbuf, sizeof(errbuf)), 0, "deleting again is fine");
	ASSERT_EQ(
	    http_rules_write(fd, 43, rules, WEIR_HTTP_RULES_PER_SET + 1, 0, errbuf, sizeof(errbuf)),
	    -EINVAL, "more than a set holds");
	ASSERT_CONTAINS(errbuf, "HTTP rule set 43 has 17 matchers", "named");
	close(fd);
}

const struct test_case http_rules_tests[] = {
    {"http_rule_exact_path_layout", http_rule_exact_path_layout},
    {"http_rule_prefix_and_host", http_rule_prefix_and_host},
    {"http_rule_words_and_sets", http_rule_words_and_sets},
    {"http_rule_refuses_what_cannot_match", http_rule_refuses_what_cannot_match},
    {"http_rules_map_write_shrink_describe_delete", http_rules_map_write_shrink_describe_delete},
};
const size_t http_rules_tests_count = sizeof(http_rules_tests) / sizeof(http_rules_tests[0]);
