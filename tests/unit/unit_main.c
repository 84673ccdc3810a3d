/* Unit tests: config parsing, CIDRs, IPAM and results, without a kernel datapath. */
#include <stdio.h>

#include "log.h"
#include "unit.h"

int main(int argc, char **argv)
{
	const char *filter = argc > 1 ? argv[1] : NULL;
	int failed = 0;

	log_setup("unit", stderr, LOG_LEVEL_ERROR);
	failed += test_run_all("cidr", cidr_tests, cidr_tests_count, filter);
	failed += test_run_all("config", config_tests, config_tests_count, filter);
	failed += test_run_all("ipam", ipam_tests, ipam_tests_count, filter);
	failed += test_run_all("result", result_tests, result_tests_count, filter);
	failed += test_run_all("yaml", yaml_tests, yaml_tests_count, filter);
	failed += test_run_all("kubeconfig", kubeconfig_tests, kubeconfig_tests_count, filter);
	failed += test_run_all("policy_compiler", policy_compiler_tests, policy_compiler_tests_count,
			       filter);
	return failed ? 1 : 0;
}
