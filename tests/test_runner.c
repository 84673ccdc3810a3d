/* The runner shared by the C test binaries. */
#include "test.h"

int test_current_failed;

int test_run_all(const char *suite, const struct test_case *cases, size_t count,
		 const char *filter)
{
	int passed = 0, failed = 0;

	for (size_t i = 0; i < count; i++) {
		if (filter && !strstr(cases[i].name, filter))
			continue;
		test_current_failed = 0;
		cases[i].run();
		if (test_current_failed) {
			failed++;
			printf("not ok - %s:%s\n", suite, cases[i].name);
		} else {
			passed++;
			printf("ok - %s:%s\n", suite, cases[i].name);
		}
		fflush(stdout);
	}
	printf("%s: %d passed, %d failed\n", suite, passed, failed);
	return failed;
}
