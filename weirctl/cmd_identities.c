/* weirctl identities: the reserved identities, then every label-set and CIDR identity the
 * agent allocated (its id tables in the state dir), by number. */
#include <stdio.h>
#include <stdlib.h>

#include "abi.h"
#include "names.h"
#include "output.h"
#include "table.h"

static int by_number(const void *left, const void *right)
{
	uint32_t a = *(const uint32_t *)left, b = *(const uint32_t *)right;

	return a < b ? -1 : a > b;
}

/* Every id of a table, appended to ids. */
static void collect_ids(const cJSON *table, uint32_t **ids, size_t *count)
{
	const cJSON *entry;

	cJSON_ArrayForEach(entry, cJSON_GetObjectItemCaseSensitive(table, "ids"))
	{
		uint32_t *grown;
		if (!cJSON_IsNumber(entry))
			continue;
		grown = realloc(*ids, (*count + 1) * sizeof(**ids));
		if (!grown)
			return;
		*ids = grown;
		(*ids)[(*count)++] = (uint32_t)entry->valuedouble;
	}
}

int command_identities(struct weirctl *ctl, const struct command *command, int argc, char **argv)
{
	static const char *const headers[] = {"IDENTITY", "KIND", "NAMESPACE: LABELS"};
	int parsed = command_options(ctl, command, argc, argv, NULL, NULL, NULL, NULL);
	uint32_t *ids = NULL;
	size_t count = 0;
	struct names names;
	struct table *table;
	cJSON *list;
	int result;

	if (parsed < 0)
		return command_options_exit(parsed);
	if (parsed != argc)
		return command_usage_error(command, "takes no arguments, got \"%s\"", argv[parsed]);
	names_load(&names, ctl->state_dir);
	{
		static const uint32_t reserved[] = {WEIR_IDENTITY_HOST, WEIR_IDENTITY_WORLD,
						    WEIR_IDENTITY_REMOTE_NODE};
		ids = malloc(sizeof(reserved));
		if (ids) {
			for (size_t i = 0; i < 3; i++)
				ids[i] = reserved[i];
			count = 3;
		}
	}
	collect_ids(names.identities, &ids, &count);
	collect_ids(names.cidr_identities, &ids, &count);
	qsort(ids, count, sizeof(*ids), by_number);
	table = table_new(3, headers);
	list = cJSON_CreateArray();
	for (size_t i = 0; i < count; i++) {
		cJSON *item = identity_json(&names, ids[i]);
		const char *kind =
		    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(item, "kind"));
		const char *words =
		    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(item, "name"));

		table_cell(table, "%u", ids[i]);
		table_cell(table, "%s", kind ? kind : "?");
		table_cell(table, "%s", words ? words : "?");
		cJSON_AddItemToArray(list, item);
	}
	result = output_listing(ctl, table, list);
	free(ids);
	names_free(&names);
	return result;
}
