/* IPv4 prefix parsing: strict about lengths, host bits and junk. */
#include "cidr.h"
#include "test.h"
#include "unit.h"

static void parses_valid_prefix(void)
{
	struct ipv4_prefix prefix;
	char errbuf[128];

	ASSERT_EQ(ipv4_prefix_parse("10.244.1.0/24", &prefix, errbuf, sizeof(errbuf)), 0, "parse");
	ASSERT_EQ(prefix.network, 0x0af40100u, "network");
	ASSERT_EQ(prefix.length, 24, "length");
	ASSERT_EQ(ipv4_prefix_broadcast(&prefix), 0x0af401ffu, "broadcast");
	ASSERT_TRUE(ipv4_prefix_contains(&prefix, 0x0af40142u), "contains .66");
	ASSERT_TRUE(!ipv4_prefix_contains(&prefix, 0x0af40201u), "not contains 10.244.2.1");
}

static void rejects_bad_prefixes(void)
{
	static const char *const bad[] = { "",		    "10.0.0.0",	    "10.0.0.0/",
					   "10.0.0.0/33",   "10.0.0.0/-1",  "10.0.0.0/2x",
					   "10.0.0.1/24",   "300.0.0.0/8",  "banana/8",
					   "10.0.0.0/ 8",   "::1/128",	    "10.0.0.0/24/1" };
	struct ipv4_prefix prefix;
	char errbuf[128];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (ipv4_prefix_parse(bad[i], &prefix, errbuf, sizeof(errbuf)) == 0) {
			TEST_FAIL("accepted bad CIDR \"%s\"", bad[i]);
			return;
		}
		if (*bad[i])
			ASSERT_CONTAINS(errbuf, bad[i], "error names the input");
	}
}

static void host_bits_message_says_why(void)
{
	struct ipv4_prefix prefix;
	char errbuf[128];

	ASSERT_EQ(ipv4_prefix_parse("10.1.2.3/16", &prefix, errbuf, sizeof(errbuf)), -1, "parse");
	ASSERT_CONTAINS(errbuf, "host bits", "reason");
}

const struct test_case cidr_tests[] = {
	{ "parses_valid_prefix", parses_valid_prefix },
	{ "rejects_bad_prefixes", rejects_bad_prefixes },
	{ "host_bits_message_says_why", host_bits_message_says_why },
};
const size_t cidr_tests_count = sizeof(cidr_tests) / sizeof(cidr_tests[0]);
