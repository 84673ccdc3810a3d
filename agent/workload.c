/* Only names are looked at, never the owners themselves: weir does not watch ReplicaSets, and
 * a Deployment's ReplicaSet is by construction "<deployment>-<pod-template-hash>". */
#include "workload.h"

#include <stdio.h>
#include <string.h>

/* The length of name without its "-suffix" ending; -1 when it does not end so. */
static int trimmed_length(const char *name, const char *suffix)
{
	size_t name_length = strlen(name), suffix_length = strlen(suffix);

	if (!*suffix || name_length <= suffix_length + 1)
		return -1;
	if (name[name_length - suffix_length - 1] != '-' ||
	    strcmp(name + name_length - suffix_length, suffix) != 0)
		return -1;
	return (int)(name_length - suffix_length - 1);
}

static const cJSON *controller_of(const cJSON *pod)
{
	const cJSON *owners = object_child(pod, "metadata.ownerReferences");
	const cJSON *owner;

	cJSON_ArrayForEach(owner, owners)
	{
		if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(owner, "controller")))
			return owner;
	}
	return cJSON_GetArraySize(owners) == 1 ? cJSON_GetArrayItem(owners, 0) : NULL;
}

void workload_of_pod(const cJSON *pod, char *out, size_t size)
{
	const char *name_space = object_namespace(pod), *name = object_name(pod);
	const char *hash = object_string(pod, "metadata.labels.pod-template-hash");
	const cJSON *owner = controller_of(pod);
	const char *owner_kind = owner ? object_string(owner, "kind") : NULL;
	const char *owner_name = owner ? object_string(owner, "name") : NULL;
	int length;

	if (!name)
		name = "";
	if (owner_kind && owner_name && *owner_name) {
		length = strcmp(owner_kind, "ReplicaSet") == 0 && hash
				 ? trimmed_length(owner_name, hash)
				 : -1;
		if (length > 0)
			snprintf(out, size, "%s/%.*s", name_space, length, owner_name);
		else
			snprintf(out, size, "%s/%s", name_space, owner_name);
		return;
	}
	/* No owner recorded (a bare manifest): "<deployment>-<hash>-<random>" still tells. */
	if (hash) {
		const char *found = strstr(name, hash);
		if (found && found > name && found[-1] == '-' && found[strlen(hash)] == '-') {
			snprintf(out, size, "%s/%.*s", name_space, (int)(found - name - 1), name);
			return;
		}
	}
	snprintf(out, size, "%s/%s", name_space, name);
}

void workload_of_pod_name(struct object_store *store, const char *namespaced_name, char *out,
			  size_t size)
{
	char name_space[256];
	const char *slash = strchr(namespaced_name, '/');
	cJSON *pod = NULL;

	if (store && slash && (size_t)(slash - namespaced_name) < sizeof(name_space)) {
		memcpy(name_space, namespaced_name, (size_t)(slash - namespaced_name));
		name_space[slash - namespaced_name] = '\0';
		pod = object_store_get(store, KIND_POD, name_space, slash + 1);
	}
	if (pod)
		workload_of_pod(pod, out, size);
	else
		snprintf(out, size, "%s", namespaced_name);
}
