/* BPF program tests: the real from_pod/to_pod programs on crafted packets through
 * BPF_PROG_TEST_RUN, each case checking the verdict and the counters. */
#include <stdlib.h>

#include <bpf/libbpf.h>

#include "fixture.h"
#include "log.h"
#include "suites.h"

int main(int argc, char **argv)
{
	const char *filter = argc > 1 ? argv[1] : NULL;
	int failed = 0;

	log_setup("bpf-tests", stderr, LOG_LEVEL_ERROR);
	/* WEIR_TEST_LIBBPF_LOG=1 shows libbpf's messages: the verifier's log when a program
	 * does not load. */
	if (!getenv("WEIR_TEST_LIBBPF_LOG"))
		libbpf_set_print(NULL);
	failed += test_run_all("bpf_parse", parse_tests, parse_tests_count, filter);
	failed += test_run_all("bpf_policy", policy_tests, policy_tests_count, filter);
	failed += test_run_all("bpf_conntrack", conntrack_tests, conntrack_tests_count, filter);
	failed += test_run_all("bpf_services", service_tests, service_tests_count, filter);
	failed += test_run_all("bpf_http", http_tests, http_tests_count, filter);
	failed += test_run_all("bpf_hostile", hostile_tests, hostile_tests_count, filter);
	failed += test_run_all("bpf_http_hostile", http_hostile_tests, http_hostile_tests_count,
			       filter);
	failed += test_run_all("bpf_pending", pending_tests, pending_tests_count, filter);
	failed += test_run_all("bpf_masquerade", masquerade_tests, masquerade_tests_count, filter);
	failed += test_run_all("bpf_differential", differential_tests, differential_tests_count,
			       filter);
	fixture_teardown();
	return failed ? 1 : 0;
}
