/* Workload names: Deployments through their ReplicaSet's pod-template-hash, other owners by
 * name, bare pods by themselves. */
#include <cJSON.h>

#include "test.h"
#include "unit.h"
#include "workload.h"

static void workload_of(const char *json, char *out, size_t size)
{
	cJSON *pod = cJSON_Parse(json);

	out[0] = '\0';
	if (pod)
		workload_of_pod(pod, out, size);
	cJSON_Delete(pod);
}

static void deployment_pods_share_the_deployment_name(void)
{
	char name[256];

	workload_of("{\"metadata\":{\"namespace\":\"shop\",\"name\":\"web-5d9c7b8f6-x2x7q\","
		    "\"labels\":{\"pod-template-hash\":\"5d9c7b8f6\"},\"ownerReferences\":[{"
		    "\"kind\":\"ReplicaSet\",\"name\":\"web-5d9c7b8f6\",\"controller\":true}]}}",
		    name, sizeof(name));
	ASSERT_STR_EQ(name, "shop/web", "deployment pod");
	workload_of("{\"metadata\":{\"namespace\":\"shop\",\"name\":\"web-5d9c7b8f6-x2x7q\","
		    "\"labels\":{\"pod-template-hash\":\"5d9c7b8f6\"}}}",
		    name, sizeof(name));
	ASSERT_STR_EQ(name, "shop/web", "hash label without owner");
	workload_of("{\"metadata\":{\"namespace\":\"shop\",\"name\":\"api-abc12\","
		    "\"ownerReferences\":[{\"kind\":\"ReplicaSet\",\"name\":\"api\","
		    "\"controller\":true}]}}",
		    name, sizeof(name));
	ASSERT_STR_EQ(name, "shop/api", "a bare ReplicaSet");
}

static void other_owners_and_bare_pods(void)
{
	char name[256];

	workload_of("{\"metadata\":{\"namespace\":\"db\",\"name\":\"pg-0\",\"ownerReferences\":"
		    "[{\"kind\":\"StatefulSet\",\"name\":\"pg\",\"controller\":true}]}}",
		    name, sizeof(name));
	ASSERT_STR_EQ(name, "db/pg", "statefulset");
	workload_of("{\"metadata\":{\"namespace\":\"e2e\",\"name\":\"client\"}}", name,
		    sizeof(name));
	ASSERT_STR_EQ(name, "e2e/client", "bare pod");
	workload_of_pod_name(NULL, "e2e/unknown", name, sizeof(name));
	ASSERT_STR_EQ(name, "e2e/unknown", "pod not in the store");
}

const struct test_case workload_tests[] = {
	{ "deployment_pods_share_the_deployment_name", deployment_pods_share_the_deployment_name },
	{ "other_owners_and_bare_pods", other_owners_and_bare_pods },
};
const size_t workload_tests_count = sizeof(workload_tests) / sizeof(workload_tests[0]);
