/* Label selector semantics as the API defines them: matchLabels and matchExpressions are ANDed;
 * In/NotIn compare values, Exists/DoesNotExist only keys; NotIn and DoesNotExist match objects
 * that lack the key. */
#include "label_selector.h"

#include <string.h>

static const char *label_value(const cJSON *labels, const char *key)
{
	const cJSON *value = labels ? cJSON_GetObjectItemCaseSensitive(labels, key) : NULL;

	return cJSON_IsString(value) ? value->valuestring : NULL;
}

static bool value_listed(const cJSON *values, const char *value)
{
	const cJSON *item;

	cJSON_ArrayForEach(item, values)
	{
		if (cJSON_IsString(item) && strcmp(item->valuestring, value) == 0)
			return true;
	}
	return false;
}

static bool expression_matches(const cJSON *expression, const cJSON *labels, bool *invalid)
{
	const cJSON *key = cJSON_GetObjectItemCaseSensitive(expression, "key");
	const cJSON *operator= cJSON_GetObjectItemCaseSensitive(expression, "operator");
	const cJSON *values = cJSON_GetObjectItemCaseSensitive(expression, "values");
	const char *value;

	if (!cJSON_IsString(key) || !cJSON_IsString(operator)) {
		*invalid = true;
		return false;
	}
	value = label_value(labels, key->valuestring);
	if (strcmp(operator->valuestring, "In") == 0)
		return value && value_listed(values, value);
	if (strcmp(operator->valuestring, "NotIn") == 0)
		return !value || !value_listed(values, value);
	if (strcmp(operator->valuestring, "Exists") == 0)
		return value != NULL;
	if (strcmp(operator->valuestring, "DoesNotExist") == 0)
		return value == NULL;
	*invalid = true;
	return false;
}

bool label_selector_matches(const cJSON *selector, const cJSON *labels, bool *invalid)
{
	const cJSON *match_labels, *expressions, *item;
	bool ignored = false;

	if (!invalid)
		invalid = &ignored;
	if (!selector || !cJSON_IsObject(selector))
		return false;
	match_labels = cJSON_GetObjectItemCaseSensitive(selector, "matchLabels");
	expressions = cJSON_GetObjectItemCaseSensitive(selector, "matchExpressions");
	cJSON_ArrayForEach(item, match_labels)
	{
		const char *value = label_value(labels, item->string);
		if (!cJSON_IsString(item) || !value || strcmp(value, item->valuestring) != 0)
			return false;
	}
	cJSON_ArrayForEach(item, expressions)
	{
		if (!expression_matches(item, labels, invalid))
			return false;
	}
	return true;
}
