/* The id tables are the agent's own files ({"ids": {key: id}}), read as they are: weirctl never
 * writes them. A table the agent has not written yet reads as empty, so names fall back to
 * numbers rather than failing. */
#include "names.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "abi.h"
#include "atomic_file.h"

static cJSON *id_file_load(const char *state_dir, const char *name)
{
	char path[600];
	char *text;
	cJSON *document;

	snprintf(path, sizeof(path), "%s/%s", state_dir, name);
	text = file_read_all(path, NULL);
	if (!text)
		return NULL;
	document = cJSON_Parse(text);
	free(text);
	return document;
}

void names_load(struct names *names, const char *state_dir)
{
	memset(names, 0, sizeof(*names));
	names->identities = id_file_load(state_dir, "identities.json");
	names->cidr_identities = id_file_load(state_dir, "cidr-identities.json");
	names->rules = id_file_load(state_dir, "rules.json");
	names->services = id_file_load(state_dir, "service-ids.json");
	names->records = endpoint_record_load_all(state_dir, &names->record_count);
}

void names_free(struct names *names)
{
	cJSON_Delete(names->identities);
	cJSON_Delete(names->cidr_identities);
	cJSON_Delete(names->rules);
	cJSON_Delete(names->services);
	free(names->records);
	memset(names, 0, sizeof(*names));
}

const char *names_id_key(const cJSON *table, uint32_t id)
{
	const cJSON *entry;

	cJSON_ArrayForEach(entry, cJSON_GetObjectItemCaseSensitive(table, "ids"))
	{
		if (cJSON_IsNumber(entry) && (uint32_t)entry->valuedouble == id)
			return entry->string;
	}
	return NULL;
}

static const char *reserved_identity(uint32_t identity)
{
	switch (identity) {
	case WEIR_IDENTITY_ANY: return "anyone";
	case WEIR_IDENTITY_HOST: return "host";
	case WEIR_IDENTITY_WORLD: return "world";
	case WEIR_IDENTITY_REMOTE_NODE: return "remote-node";
	default: return NULL;
	}
}

/* A label-set key is "namespace=NS\nnamespace-label:K=V\n...K=V\n"; calls visit for the
 * namespace (label NULL) and each pod label, skipping namespace labels. */
static void label_key_walk(const char *key,
			   void (*visit)(const char *name, const char *label, void *context),
			   void *context)
{
	char copy[4096], *saveptr = NULL, *line;

	snprintf(copy, sizeof(copy), "%s", key);
	for (line = strtok_r(copy, "\n", &saveptr); line; line = strtok_r(NULL, "\n", &saveptr)) {
		if (strncmp(line, "namespace-label:", 16) == 0)
			continue;
		if (strncmp(line, "namespace=", 10) == 0)
			visit(line + 10, NULL, context);
		else
			visit(NULL, line, context);
	}
}

struct words_context {
	char *out;
	size_t size, used;
	size_t labels;
};

static void append_words(const char *name, const char *label, void *opaque)
{
	struct words_context *words = opaque;
	size_t room = words->size > words->used ? words->size - words->used : 0;

	if (name)
		words->used += (size_t)snprintf(words->out + words->used, room, "%s:", name);
	else
		words->used += (size_t)snprintf(words->out + words->used, room, "%s%s",
						words->labels++ ? "," : " ", label);
}

void identity_words(const struct names *names, uint32_t identity, char *out, size_t size)
{
	const char *reserved = reserved_identity(identity);
	const char *key;
	struct words_context words = {out, size, 0, 0};

	if (reserved) {
		snprintf(out, size, "%s", reserved);
		return;
	}
	if (identity >= WEIR_IDENTITY_FIRST_CIDR) {
		key = names_id_key(names->cidr_identities, identity);
		if (key)
			snprintf(out, size, "cidr %s", key);
		else
			snprintf(out, size, "cidr identity %u", identity);
		return;
	}
	key = names_id_key(names->identities, identity);
	if (!key) {
		snprintf(out, size, "identity %u", identity);
		return;
	}
	out[0] = '\0';
	label_key_walk(key, append_words, &words);
	if (words.labels == 0 && words.used < size)
		snprintf(out + words.used, size - words.used, " (no labels)");
}

static void add_label_json(const char *name, const char *label, void *opaque)
{
	cJSON *object = opaque;

	if (name) {
		cJSON_AddStringToObject(object, "namespace", name);
	} else {
		char copy[1024];
		char *equals;
		snprintf(copy, sizeof(copy), "%s", label);
		equals = strchr(copy, '=');
		if (equals)
			*equals++ = '\0';
		cJSON_AddStringToObject(cJSON_GetObjectItemCaseSensitive(object, "labels"), copy,
					equals ? equals : "");
	}
}

cJSON *identity_json(const struct names *names, uint32_t identity)
{
	cJSON *object = cJSON_CreateObject();
	const char *reserved = reserved_identity(identity);
	const char *key = NULL;
	char words[1024];

	identity_words(names, identity, words, sizeof(words));
	cJSON_AddNumberToObject(object, "identity", identity);
	if (reserved) {
		cJSON_AddStringToObject(object, "kind", "reserved");
	} else if (identity >= WEIR_IDENTITY_FIRST_CIDR) {
		key = names_id_key(names->cidr_identities, identity);
		cJSON_AddStringToObject(object, "kind", key ? "cidr" : "unknown");
		if (key)
			cJSON_AddStringToObject(object, "cidr", key);
	} else {
		key = names_id_key(names->identities, identity);
		cJSON_AddStringToObject(object, "kind", key ? "pod" : "unknown");
	}
	cJSON_AddStringToObject(object, "name", words);
	if (key && identity < WEIR_IDENTITY_FIRST_CIDR) {
		cJSON_AddObjectToObject(object, "labels");
		label_key_walk(key, add_label_json, object);
	}
	return object;
}

void rule_words(const struct names *names, uint32_t rule_id, char *out, size_t size)
{
	const char *key = names_id_key(names->rules, rule_id);

	if (!key)
		snprintf(out, size, "rule %u", rule_id);
	else if (strncmp(key, "policy ", 7) == 0)
		snprintf(out, size, "%s", key + 7);
	else
		snprintf(out, size, "%s", key);
}

const struct endpoint_record *names_pod_by_endpoint(const struct names *names, uint32_t id)
{
	for (size_t i = 0; id && i < names->record_count; i++) {
		if (names->records[i].endpoint_id == id)
			return &names->records[i];
	}
	return NULL;
}

const struct endpoint_record *names_pod_by_address(const struct names *names, uint32_t address)
{
	for (size_t i = 0; i < names->record_count; i++) {
		if (names->records[i].address == address)
			return &names->records[i];
	}
	return NULL;
}

int pod_name_split(const char *text, char *pod_namespace, size_t namespace_size,
		   const char **pod_name)
{
	const char *slash = strchr(text, '/');

	if (!slash || slash == text || !slash[1] || strchr(slash + 1, '/') ||
	    (size_t)(slash - text) >= namespace_size)
		return -1;
	memcpy(pod_namespace, text, (size_t)(slash - text));
	pod_namespace[slash - text] = '\0';
	*pod_name = slash + 1;
	return 0;
}

const struct endpoint_record *names_pod_by_name(const struct names *names, const char *pod)
{
	char pod_namespace[256];
	const char *pod_name;

	if (pod_name_split(pod, pod_namespace, sizeof(pod_namespace), &pod_name) < 0)
		return NULL;
	for (size_t i = 0; i < names->record_count; i++) {
		if (strcmp(names->records[i].pod_namespace, pod_namespace) == 0 &&
		    strcmp(names->records[i].pod_name, pod_name) == 0)
			return &names->records[i];
	}
	return NULL;
}
