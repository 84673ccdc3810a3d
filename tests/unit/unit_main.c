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
	failed += test_run_all("cni_chain", cni_chain_tests, cni_chain_tests_count, filter);
	failed += test_run_all("yaml", yaml_tests, yaml_tests_count, filter);
	failed += test_run_all("kubeconfig", kubeconfig_tests, kubeconfig_tests_count, filter);
	failed += test_run_all("policy_compiler", policy_compiler_tests, policy_compiler_tests_count,
			       filter);
	failed += test_run_all("http_rules", http_rules_tests, http_rules_tests_count, filter);
	failed += test_run_all("flow_log", flow_log_tests, flow_log_tests_count, filter);
	failed += test_run_all("http_metrics", http_metrics_tests, http_metrics_tests_count, filter);
	failed += test_run_all("otlp", otlp_tests, otlp_tests_count, filter);
	failed += test_run_all("ct_sweep", ct_sweep_tests, ct_sweep_tests_count, filter);
	failed += test_run_all("workload", workload_tests, workload_tests_count, filter);
	failed += test_run_all("datapath_config", datapath_config_tests,
			       datapath_config_tests_count, filter);
	failed += test_run_all("watch_event", watch_event_tests, watch_event_tests_count, filter);
	return failed ? 1 : 0;
}
