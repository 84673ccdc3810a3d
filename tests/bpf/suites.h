/* The suites of the BPF test binary. */
#ifndef WEIR_TESTS_BPF_SUITES_H
#define WEIR_TESTS_BPF_SUITES_H

#include "test.h"

extern const struct test_case parse_tests[], policy_tests[], conntrack_tests[], service_tests[],
	http_tests[], hostile_tests[], http_hostile_tests[], pending_tests[], masquerade_tests[],
	differential_tests[];
extern const size_t parse_tests_count, policy_tests_count, conntrack_tests_count,
	service_tests_count, http_tests_count, hostile_tests_count, http_hostile_tests_count,
	pending_tests_count, masquerade_tests_count, differential_tests_count;

#define SETUP() ASSERT_EQ(fixture_setup(), 0, "load the datapath")
#define SETUP_OR(value)                                                                            \
	do {                                                                                       \
		if (fixture_setup() < 0)                                                           \
			return value;                                                              \
	} while (0)

#endif
