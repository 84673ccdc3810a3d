/* Results in each supported version, prevResult parsing, and host veth naming. */
#include <stdlib.h>

#include "pod_wiring.h"
#include "result.h"
#include "test.h"
#include "unit.h"

static void sample_record(struct endpoint_record *record)
{
	memset(record, 0, sizeof(*record));
	strcpy(record->container_id, "ctr1");
	strcpy(record->ifname, "eth0");
	strcpy(record->netns, "/var/run/netns/pod1");
	strcpy(record->host_ifname, "weir0123456789a");
	record->address = 0x0a000005u;
	memcpy(record->host_mac, "\x02\x00\x00\x00\x00\x01", 6);
	memcpy(record->pod_mac, "\x02\x00\x00\x00\x00\x02", 6);
}

static void result_lists_interfaces_ips_and_routes(void)
{
	struct endpoint_record record;
	cJSON *result, *pod, *ip;

	sample_record(&record);
	result = cni_result_build("1.1.0", &record);
	ASSERT_STR_EQ(cJSON_GetObjectItem(result, "cniVersion")->valuestring, "1.1.0", "version");
	pod = cJSON_GetArrayItem(cJSON_GetObjectItem(result, "interfaces"), 1);
	ASSERT_STR_EQ(cJSON_GetObjectItem(pod, "name")->valuestring, "eth0", "pod ifname");
	ASSERT_STR_EQ(cJSON_GetObjectItem(pod, "mac")->valuestring, "02:00:00:00:00:02", "pod mac");
	ASSERT_STR_EQ(cJSON_GetObjectItem(pod, "sandbox")->valuestring, "/var/run/netns/pod1",
		      "sandbox");
	ip = cJSON_GetArrayItem(cJSON_GetObjectItem(result, "ips"), 0);
	ASSERT_STR_EQ(cJSON_GetObjectItem(ip, "address")->valuestring, "10.0.0.5/32", "address");
	ASSERT_STR_EQ(cJSON_GetObjectItem(ip, "gateway")->valuestring, "169.254.1.1", "gateway");
	ASSERT_EQ(cJSON_GetObjectItem(ip, "interface")->valueint, 1, "ip points at pod interface");
	ASSERT_TRUE(!cJSON_GetObjectItem(ip, "version"), "no version field in 1.x");
	cJSON_Delete(result);

	result = cni_result_build("0.4.0", &record);
	ip = cJSON_GetArrayItem(cJSON_GetObjectItem(result, "ips"), 0);
	ASSERT_STR_EQ(cJSON_GetObjectItem(ip, "version")->valuestring, "4", "0.4.0 ip version");
	cJSON_Delete(result);
}

static void previous_result_round_trips(void)
{
	struct endpoint_record record;
	struct previous_result previous;
	struct cni_error err = { 0 };
	cJSON *result;

	sample_record(&record);
	result = cni_result_build("1.0.0", &record);
	ASSERT_EQ(previous_result_parse(result, "eth0", &previous, &err), 0, "parse");
	ASSERT_EQ(previous.address, 0x0a000005u, "address");
	ASSERT_EQ(previous.prefix_length, 32, "prefix");
	ASSERT_EQ(previous.route_count, 1, "routes");
	ASSERT_EQ(previous.routes[0].gateway, WEIR_POD_GATEWAY, "route gateway");
	ASSERT_EQ(memcmp(previous.pod_mac, record.pod_mac, 6), 0, "mac");
	ASSERT_EQ(previous_result_parse(result, "net1", &previous, &err), -1, "other ifname");
	ASSERT_CONTAINS(err.msg, "net1", "names the interface");
	cJSON_Delete(result);
}

static void previous_result_without_mac_is_rejected(void)
{
	struct previous_result previous;
	struct cni_error err = { 0 };
	cJSON *result = cJSON_Parse(
		"{\"interfaces\":[{\"name\":\"eth0\",\"sandbox\":\"/x\"}],"
		"\"ips\":[{\"address\":\"10.0.0.5/32\",\"interface\":0}]}");

	ASSERT_EQ(previous_result_parse(result, "eth0", &previous, &err), -1, "no mac");
	ASSERT_CONTAINS(err.msg, "mac", "says mac");
	cJSON_Delete(result);
}

static void host_veth_names_are_stable_and_short(void)
{
	char first[16], again[16], other[16], swapped[16];

	host_veth_name("0123456789abcdef0123456789abcdef", "eth0", first);
	host_veth_name("0123456789abcdef0123456789abcdef", "eth0", again);
	host_veth_name("0123456789abcdef0123456789abcdef", "eth1", other);
	host_veth_name("ab", "c", swapped);
	ASSERT_EQ(strlen(first), 15, "15 characters");
	ASSERT_STR_EQ(again, first, "stable");
	ASSERT_TRUE(strcmp(first, other) != 0, "ifname matters");
	host_veth_name("a", "bc", other);
	ASSERT_TRUE(strcmp(swapped, other) != 0, "split point matters");
	ASSERT_TRUE(strncmp(first, "weir", 4) == 0, "weir prefix");
}

const struct test_case result_tests[] = {
	{ "result_lists_interfaces_ips_and_routes", result_lists_interfaces_ips_and_routes },
	{ "previous_result_round_trips", previous_result_round_trips },
	{ "previous_result_without_mac_is_rejected", previous_result_without_mac_is_rejected },
	{ "host_veth_names_are_stable_and_short", host_veth_names_are_stable_and_short },
};
const size_t result_tests_count = sizeof(result_tests) / sizeof(result_tests[0]);
