/* Fuzz target: decoding Kubernetes objects the way the agent consumes them: Pods, Namespaces,
 * Nodes, Services, EndpointSlices, NetworkPolicies (and *List documents of them) put in the
 * object store (agent/object_store.c), then one policy compiler pass over every pod
 * (agent/policy_compiler.c, agent/label_selector.c, agent/id_table.c, common/cidr.c).
 *
 * Input: YAML or JSON, one or more documents (yaml_parse_documents, as standalone manifests are
 * read; JSON from the API is a subset). The store starts with fuzz_store_base_cluster's small
 * cluster (namespaces "default" and "prod", three pods, a node, a default-deny policy) so that a
 * lone policy or pod in the input has something to select and be selected by; input objects with
 * the same namespace/name replace them. Checks beyond memory safety (fuzz_support.c
 * fuzz_compile_pods): compile_endpoint succeeds for every pod, its entries are sorted, unique,
 * well-formed ALLOW entries of that endpoint naming a policy rule and a reserved or allocated
 * identity, directions with entries are isolated, and compiling again gives the same result. Also:
 * every stored object is found again by namespace/name, and a resync that re-puts nothing empties
 * the store. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_support.h"
#include "yaml_json.h"

#define MAX_PODS 64

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet_logs();
	return 0;
}

struct lookup_check {
	struct object_store *store;
	enum kube_kind kind;
	size_t visited;
};

static void check_found(cJSON *object, void *opaque)
{
	struct lookup_check *check = opaque;
	const char *name = object_name(object);

	check->visited++;
	FUZZ_CHECK(name != NULL, "a stored %s has no name", kube_kind_name(check->kind));
	FUZZ_CHECK(object_store_get(check->store, check->kind, object_namespace(object), name) ==
		       object,
		   "%s %s/%s is stored but not found by its name", kube_kind_name(check->kind),
		   object_namespace(object), name);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct object_store *store = object_store_new();
	char errbuf[256];
	cJSON *documents;

	FUZZ_CHECK(store != NULL, "out of memory");
	fuzz_store_base_cluster(store);
	documents = yaml_parse_documents((const char *)data, size, errbuf, sizeof(errbuf));
	if (documents)
		fuzz_store_documents(store, documents);

	fuzz_compile_pods(store, FUZZ_NODE_NAME, MAX_PODS);

	for (int kind = 0; kind < KIND_COUNT; kind++) {
		struct lookup_check check = {store, (enum kube_kind)kind, 0};
		object_store_for_each(store, (enum kube_kind)kind, check_found, &check);
		FUZZ_CHECK(check.visited == object_store_count(store, (enum kube_kind)kind),
			   "%s: visited %zu of %zu objects", kube_kind_name((enum kube_kind)kind),
			   check.visited, object_store_count(store, (enum kube_kind)kind));
		object_store_resync_begin(store, (enum kube_kind)kind);
		object_store_resync_end(store, (enum kube_kind)kind, NULL, NULL);
		FUZZ_CHECK(object_store_count(store, (enum kube_kind)kind) == 0,
			   "%s: a resync that re-put nothing left %zu objects",
			   kube_kind_name((enum kube_kind)kind),
			   object_store_count(store, (enum kube_kind)kind));
	}
	object_store_free(store);
	return 0;
}
