/* Network config and environment parsing: every bad input gets the spec's code and a message
 * that names it. */
#include <stdlib.h>

#include "config.h"
#include "test.h"
#include "unit.h"

static void parse_expect_error(const char *json, int code, const char *needle)
{
	struct cni_config config;
	struct cni_error err = { 0 };

	if (cni_config_parse(json, &config, &err) == 0) {
		TEST_FAIL("accepted %s", json);
		cni_config_free(&config);
		return;
	}
	if (err.code != code)
		TEST_FAIL("%s: expected code %d, got %d (%s)", json, code, err.code, err.msg);
	else if (!strstr(err.msg, needle))
		TEST_FAIL("%s: message \"%s\" does not name \"%s\"", json, err.msg, needle);
}

static void parses_full_config_with_defaults(void)
{
	struct cni_config config;
	struct cni_error err = { 0 };

	ASSERT_EQ(cni_config_parse("{\"cniVersion\":\"1.1.0\",\"name\":\"weir\",\"type\":"
				   "\"weir-cni\",\"subnet\":\"10.9.0.0/24\"}",
				   &config, &err),
		  0, "parse");
	ASSERT_STR_EQ(config.cni_version, "1.1.0", "cniVersion");
	ASSERT_STR_EQ(config.name, "weir", "name");
	ASSERT_TRUE(config.has_subnet, "subnet present");
	ASSERT_EQ(config.subnet.length, 24, "subnet length");
	ASSERT_STR_EQ(config.bpffs, "/sys/fs/bpf/weir", "default bpffs");
	ASSERT_STR_EQ(config.state_dir, "/var/lib/weir", "default stateDir");
	ASSERT_EQ(config.mtu, 1500, "default mtu");
	ASSERT_EQ(config.policy_wait_ms, WEIR_DEFAULT_POLICY_WAIT_MS, "default policyWaitMs");
	ASSERT_EQ(config.log_level, LOG_LEVEL_INFO, "default logLevel");
	cni_config_free(&config);
}

static void accepts_older_versions_and_overrides(void)
{
	struct cni_config config;
	struct cni_error err = { 0 };

	ASSERT_EQ(cni_config_parse("{\"cniVersion\":\"0.4.0\",\"name\":\"n\",\"type\":\"weir-cni\","
				   "\"mtu\":9000,\"bpffs\":\"/x/bpf\",\"stateDir\":\"/x/s\","
				   "\"logLevel\":\"debug\",\"policyWaitMs\":0,\"unknownKey\":[1,2]}",
				   &config, &err),
		  0, "parse 0.4.0");
	ASSERT_EQ(config.mtu, 9000, "mtu");
	ASSERT_EQ(config.policy_wait_ms, 0, "policyWaitMs 0: do not wait");
	ASSERT_STR_EQ(config.bpffs, "/x/bpf", "bpffs");
	ASSERT_STR_EQ(config.state_dir, "/x/s", "stateDir");
	ASSERT_EQ(config.log_level, LOG_LEVEL_DEBUG, "logLevel");
	ASSERT_TRUE(!config.has_subnet, "no subnet");
	cni_config_free(&config);
	ASSERT_EQ(cni_config_parse("{\"cniVersion\":\"1.0.0\",\"name\":\"n\"}", &config, &err), 0,
		  "parse 1.0.0");
	cni_config_free(&config);
}

static void rejects_bad_configs(void)
{
	parse_expect_error("", CNI_ERR_DECODE, "no network config");
	parse_expect_error("{\"cniVersion\":", CNI_ERR_DECODE, "not a JSON object");
	parse_expect_error("[1,2]", CNI_ERR_DECODE, "not a JSON object");
	parse_expect_error("{\"name\":\"n\"}", CNI_ERR_INVALID_CONFIG, "cniVersion");
	parse_expect_error("{\"cniVersion\":\"0.3.1\",\"name\":\"n\"}",
			   CNI_ERR_INCOMPATIBLE_VERSION, "0.3.1");
	parse_expect_error("{\"cniVersion\":\"9.9.9\",\"name\":\"n\"}",
			   CNI_ERR_INCOMPATIBLE_VERSION, "9.9.9");
	parse_expect_error("{\"cniVersion\":1,\"name\":\"n\"}", CNI_ERR_INVALID_CONFIG,
			   "cniVersion");
	parse_expect_error("{\"cniVersion\":\"1.1.0\"}", CNI_ERR_INVALID_CONFIG, "name");
	parse_expect_error("{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"subnet\":\"10.0.0.0/33\"}",
			   CNI_ERR_INVALID_CONFIG, "10.0.0.0/33");
	parse_expect_error("{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"subnet\":\"10.0.0.1/24\"}",
			   CNI_ERR_INVALID_CONFIG, "host bits");
	parse_expect_error("{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"subnet\":\"10.0.0.0/31\"}",
			   CNI_ERR_INVALID_CONFIG, "too small");
	parse_expect_error("{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"subnet\":\"10.0.0.0/8\"}",
			   CNI_ERR_INVALID_CONFIG, "too large");
	parse_expect_error("{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"subnet\":7}",
			   CNI_ERR_INVALID_CONFIG, "subnet");
	parse_expect_error("{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"mtu\":70000}",
			   CNI_ERR_INVALID_CONFIG, "mtu");
	parse_expect_error("{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"mtu\":\"1500\"}",
			   CNI_ERR_INVALID_CONFIG, "mtu");
	parse_expect_error("{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"policyWaitMs\":-1}",
			   CNI_ERR_INVALID_CONFIG, "policyWaitMs");
	parse_expect_error("{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"policyWaitMs\":1.5}",
			   CNI_ERR_INVALID_CONFIG, "policyWaitMs");
	parse_expect_error("{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"policyWaitMs\":9e9}",
			   CNI_ERR_INVALID_CONFIG, "policyWaitMs");
	parse_expect_error("{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"logLevel\":\"loud\"}",
			   CNI_ERR_INVALID_CONFIG, "loud");
	parse_expect_error("{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"bpffs\":\"relative\"}",
			   CNI_ERR_INVALID_CONFIG, "relative");
	parse_expect_error("{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"prevResult\":3}",
			   CNI_ERR_DECODE, "prevResult");
}

static void validates_container_ids_and_ifnames(void)
{
	ASSERT_TRUE(container_id_valid("abc123"), "plain id");
	ASSERT_TRUE(container_id_valid("a_b.c-d"), "id with _ . -");
	ASSERT_TRUE(!container_id_valid("-abc"), "leading hyphen");
	ASSERT_TRUE(!container_id_valid("abc/def"), "slash");
	ASSERT_TRUE(!container_id_valid("abc def"), "space");
	ASSERT_TRUE(!container_id_valid("ab;c"), "semicolon");
	ASSERT_TRUE(!container_id_valid(""), "empty");
	ASSERT_TRUE(ifname_valid("eth0"), "eth0");
	ASSERT_TRUE(ifname_valid("fifteen_chars_x"), "15 characters");
	ASSERT_TRUE(!ifname_valid("sixteen_chars_xy"), "16 characters");
	ASSERT_TRUE(!ifname_valid(".."), "..");
	ASSERT_TRUE(!ifname_valid("a/b"), "slash");
	ASSERT_TRUE(!ifname_valid("a:b"), "colon");
	ASSERT_TRUE(!ifname_valid("a b"), "space");
}

static void parses_cni_args_with_fallbacks(void)
{
	char pod_namespace[64], pod_name[64];

	cni_args_parse("IgnoreUnknown=1;K8S_POD_NAMESPACE=shop;K8S_POD_NAME=cart-1;"
		       "K8S_POD_INFRA_CONTAINER_ID=abc",
		       pod_namespace, sizeof(pod_namespace), pod_name, sizeof(pod_name));
	ASSERT_STR_EQ(pod_namespace, "shop", "namespace");
	ASSERT_STR_EQ(pod_name, "cart-1", "name");
	cni_args_parse("IgnoreUnknown=1;K8S_POD_NAME=x", pod_namespace, sizeof(pod_namespace),
		       pod_name, sizeof(pod_name));
	ASSERT_STR_EQ(pod_namespace, "", "no namespace");
	ASSERT_STR_EQ(pod_name, "x", "name only");
	cni_args_parse(NULL, pod_namespace, sizeof(pod_namespace), pod_name, sizeof(pod_name));
	ASSERT_STR_EQ(pod_name, "", "no args");
}

static void environment_requires_variables(void)
{
	struct cni_environment env;
	struct cni_error err = { 0 };

	setenv("CNI_CONTAINERID", "ctr1", 1);
	setenv("CNI_IFNAME", "eth0", 1);
	setenv("CNI_NETNS", "/var/run/netns/x", 1);
	setenv("CNI_PATH", "/opt/cni/bin", 1);
	setenv("CNI_ARGS", "IgnoreUnknown=1;K8S_POD_NAME=web", 1);
	ASSERT_EQ(cni_environment_read(CNI_COMMAND_ADD, &env, &err), 0, "complete environment");
	ASSERT_STR_EQ(env.pod_namespace, "default", "namespace falls back to default");
	ASSERT_STR_EQ(env.pod_name, "web", "pod name");

	unsetenv("CNI_NETNS");
	ASSERT_EQ(cni_environment_read(CNI_COMMAND_ADD, &env, &err), -1, "ADD without netns");
	ASSERT_EQ(err.code, CNI_ERR_INVALID_ENVIRONMENT, "code");
	ASSERT_CONTAINS(err.msg, "CNI_NETNS", "names the variable");
	ASSERT_EQ(cni_environment_read(CNI_COMMAND_DEL, &env, &err), 0, "DEL without netns");

	setenv("CNI_IFNAME", "much_too_long_ifname", 1);
	ASSERT_EQ(cni_environment_read(CNI_COMMAND_DEL, &env, &err), -1, "long ifname");
	ASSERT_CONTAINS(err.msg, "much_too_long_ifname", "names the ifname");
	setenv("CNI_IFNAME", "eth0", 1);
	setenv("CNI_CONTAINERID", "bad/id", 1);
	ASSERT_EQ(cni_environment_read(CNI_COMMAND_DEL, &env, &err), -1, "bad container id");
	ASSERT_CONTAINS(err.msg, "bad/id", "names the id");
	unsetenv("CNI_CONTAINERID");
	ASSERT_EQ(cni_environment_read(CNI_COMMAND_DEL, &env, &err), -1, "no container id");
	ASSERT_CONTAINS(err.msg, "CNI_CONTAINERID", "names the variable");
	setenv("CNI_CONTAINERID", "ctr1", 1);
	unsetenv("CNI_PATH");
	ASSERT_EQ(cni_environment_read(CNI_COMMAND_DEL, &env, &err), -1, "no CNI_PATH");
	ASSERT_CONTAINS(err.msg, "CNI_PATH", "names the variable");
	ASSERT_EQ(cni_environment_read(CNI_COMMAND_STATUS, &env, &err), 0, "STATUS needs none");
}

static void command_and_version_helpers(void)
{
	enum cni_command command;
	struct cni_error err = { 0 };

	ASSERT_EQ(cni_command_parse("GC", &command, &err), 0, "GC");
	ASSERT_EQ(command, CNI_COMMAND_GC, "GC value");
	ASSERT_EQ(cni_command_parse("FROB", &command, &err), -1, "unknown command");
	ASSERT_CONTAINS(err.msg, "FROB", "names the command");
	ASSERT_TRUE(cni_version_compare("0.4.0", "1.0.0") < 0, "0.4.0 < 1.0.0");
	ASSERT_TRUE(cni_version_compare("1.1.0", "1.0.0") > 0, "1.1.0 > 1.0.0");
	ASSERT_EQ(cni_version_compare("1.1.0", "1.1.0"), 0, "equal");
}

const struct test_case config_tests[] = {
	{ "parses_full_config_with_defaults", parses_full_config_with_defaults },
	{ "accepts_older_versions_and_overrides", accepts_older_versions_and_overrides },
	{ "rejects_bad_configs", rejects_bad_configs },
	{ "validates_container_ids_and_ifnames", validates_container_ids_and_ifnames },
	{ "parses_cni_args_with_fallbacks", parses_cni_args_with_fallbacks },
	{ "environment_requires_variables", environment_requires_variables },
	{ "command_and_version_helpers", command_and_version_helpers },
};
const size_t config_tests_count = sizeof(config_tests) / sizeof(config_tests[0]);
