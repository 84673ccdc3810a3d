/* The suites of the unit test binary. */
#ifndef WEIR_TESTS_UNIT_H
#define WEIR_TESTS_UNIT_H

#include <stddef.h>

#include "test.h"

extern const struct test_case cidr_tests[], config_tests[], ipam_tests[], result_tests[];
extern const size_t cidr_tests_count, config_tests_count, ipam_tests_count, result_tests_count;
extern const struct test_case yaml_tests[], kubeconfig_tests[], policy_compiler_tests[];
extern const size_t yaml_tests_count, kubeconfig_tests_count, policy_compiler_tests_count;
extern const struct test_case flow_log_tests[], http_metrics_tests[], otlp_tests[],
	ct_sweep_tests[], workload_tests[];
extern const size_t flow_log_tests_count, http_metrics_tests_count, otlp_tests_count,
	ct_sweep_tests_count, workload_tests_count;
extern const struct test_case http_rules_tests[], datapath_config_tests[], watch_event_tests[];
extern const size_t http_rules_tests_count, datapath_config_tests_count,
	watch_event_tests_count;
extern const struct test_case cni_chain_tests[];
extern const size_t cni_chain_tests_count;

#endif
