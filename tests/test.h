/* A minimal test harness in the spirit of the kernel's BPF selftests: each test is a function,
 * assertions print what was expected and what came, and the runner prints one line per test
 * and a "N passed, N failed" summary. */
#ifndef WEIR_TEST_H
#define WEIR_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

struct test_case {
	const char *name;
	void (*run)(void);
};

extern int test_current_failed;

#define TEST_FAIL(...)                                                                             \
	do {                                                                                       \
		fprintf(stderr, "    %s:%d: ", __FILE__, __LINE__);                                  \
		fprintf(stderr, __VA_ARGS__);                                                      \
		fputc('\n', stderr);                                                               \
		test_current_failed = 1;                                                           \
	} while (0)

#define ASSERT_EQ(got, want, what)                                                                 \
	do {                                                                                       \
		long long got_value_ = (long long)(got), want_value_ = (long long)(want);          \
		if (got_value_ != want_value_) {                                                   \
			TEST_FAIL("%s: expected %lld, got %lld", what, want_value_, got_value_);   \
			return;                                                                    \
		}                                                                                  \
	} while (0)

#define ASSERT_STR_EQ(got, want, what)                                                             \
	do {                                                                                       \
		const char *got_value_ = (got), *want_value_ = (want);                             \
		if (!got_value_ || strcmp(got_value_, want_value_) != 0) {                         \
			TEST_FAIL("%s: expected \"%s\", got \"%s\"", what, want_value_,            \
				  got_value_ ? got_value_ : "(null)");                             \
			return;                                                                    \
		}                                                                                  \
	} while (0)

#define ASSERT_TRUE(condition, what)                                                               \
	do {                                                                                       \
		if (!(condition)) {                                                                \
			TEST_FAIL("%s: expected true: %s", what, #condition);                      \
			return;                                                                    \
		}                                                                                  \
	} while (0)

#define ASSERT_CONTAINS(haystack, needle, what)                                                    \
	do {                                                                                       \
		const char *haystack_value_ = (haystack);                                          \
		if (!haystack_value_ || !strstr(haystack_value_, needle)) {                        \
			TEST_FAIL("%s: expected to contain \"%s\", got \"%s\"", what, needle,      \
				  haystack_value_ ? haystack_value_ : "(null)");                   \
			return;                                                                    \
		}                                                                                  \
	} while (0)

/* Runs the cases whose name contains filter (all when NULL); returns the number failed. */
int test_run_all(const char *suite, const struct test_case *cases, size_t count,
		 const char *filter);

#endif
