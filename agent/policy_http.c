/* Reading `http` matchers. Anything weir does not understand (an unknown field, a value of the
 * wrong type, an empty list) is an error, never ignored: ignoring a field the author meant as
 * a restriction would allow more than the policy says. */
#include "policy_http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_rules.h"

/* Returns the string value of field, NULL when absent; -1 in *bad when present but no string. */
static const char *optional_string(const cJSON *matcher, const char *field, int *bad)
{
	const cJSON *value = cJSON_GetObjectItemCaseSensitive(matcher, field);

	if (!value || cJSON_IsNull(value))
		return NULL;
	if (!cJSON_IsString(value)) {
		*bad = -1;
		return NULL;
	}
	return value->valuestring;
}

int http_matchers_parse(const cJSON *http, struct http_matchers *out, char *errbuf, size_t errlen)
{
	const cJSON *matcher;
	int index = 0;

	memset(out, 0, sizeof(*out));
	if (!cJSON_IsArray(http)) {
		snprintf(errbuf, errlen, "http must be a list of {method, path, host} matchers");
		return -1;
	}
	if (cJSON_GetArraySize(http) == 0) {
		snprintf(errbuf, errlen,
			 "http is an empty list (leave it out to allow all of the "
			 "port at L4, or list the requests to allow)");
		return -1;
	}
	if (cJSON_GetArraySize(http) > WEIR_HTTP_RULES_PER_SET) {
		snprintf(errbuf, errlen, "http lists %d matchers; at most %d fit in one rule set",
			 cJSON_GetArraySize(http), WEIR_HTTP_RULES_PER_SET);
		return -1;
	}
	cJSON_ArrayForEach(matcher, http)
	{
		const cJSON *field;
		const char *method, *path, *host;
		char problem[256];
		int bad = 0;

		if (!cJSON_IsObject(matcher)) {
			snprintf(errbuf, errlen, "http[%d] must be an object {method, path, host}",
				 index);
			return -1;
		}
		cJSON_ArrayForEach(field, matcher)
		{
			if (strcmp(field->string, "method") != 0 &&
			    strcmp(field->string, "path") != 0 &&
			    strcmp(field->string, "host") != 0) {
				snprintf(
				    errbuf, errlen,
				    "http[%d] has unknown field \"%s\" (known: method, path, host)",
				    index, field->string);
				return -1;
			}
		}
		method = optional_string(matcher, "method", &bad);
		path = optional_string(matcher, "path", &bad);
		host = optional_string(matcher, "host", &bad);
		if (bad) {
			snprintf(errbuf, errlen, "http[%d]: method, path and host must be strings",
				 index);
			return -1;
		}
		if (http_rule_encode(method, path, host, &out->rules[out->count], problem,
				     sizeof(problem)) < 0) {
			snprintf(errbuf, errlen, "http[%d]: %s", index, problem);
			return -1;
		}
		out->count++;
		index++;
	}
	return 0;
}

struct worded_rule {
	char words[WEIR_HTTP_PATH_BYTES + WEIR_HTTP_HOST_BYTES + 64];
	struct weir_http_rule rule;
};

static int compare_worded(const void *left, const void *right)
{
	const struct worded_rule *a = left, *b = right;
	int order = strcmp(a->words, b->words);

	return order ? order : memcmp(&a->rule, &b->rule, sizeof(a->rule));
}

size_t http_rules_canonical(struct weir_http_rule *rules, size_t count)
{
	struct worded_rule *worded;
	size_t kept = 0;

	if (count < 2)
		return count;
	worded = malloc(count * sizeof(*worded));
	if (!worded)
		return count; /* still correct, only not canonical: a second id for the same set */
	for (size_t i = 0; i < count; i++) {
		worded[i].rule = rules[i];
		http_rule_words(&rules[i], worded[i].words, sizeof(worded[i].words));
	}
	qsort(worded, count, sizeof(*worded), compare_worded);
	for (size_t i = 0; i < count; i++) {
		if (kept > 0 && memcmp(&rules[kept - 1], &worded[i].rule, sizeof(rules[0])) == 0)
			continue;
		rules[kept++] = worded[i].rule;
	}
	free(worded);
	return kept;
}
