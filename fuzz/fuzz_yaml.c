/* Fuzz target: YAML (and so JSON) into cJSON (common/yaml_json.c yaml_parse_documents), the
 * parser under kubeconfig files and standalone manifests.
 *
 * Input: the text as it would be read from a file, passed with its length and no terminating
 * NUL (the parser must not read past the length).
 * Checks beyond memory safety:
 *   - the result is either NULL with a non-empty error message of the form "line L, column C:
 *     ..." (or an out-of-memory message), or an array with no null documents;
 *   - round trip: every document D that cJSON can print faithfully (all numbers finite, all
 *     strings of bytes 0x01-0x7e, keys of at most 150 bytes, which keeps libyaml's 1024-character
 *     simple-key limit out of the way) is printed as JSON and parsed again by
 *     yaml_parse_documents; that must give exactly one document equal to D. */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_support.h"
#include "yaml_json.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet_logs();
	return 0;
}

static bool text_printable(const char *text)
{
	for (const unsigned char *c = (const unsigned char *)text; *c; c++) {
		if (*c >= 0x7f)
			return false;
	}
	return true;
}

/* Whether cJSON prints node as JSON text that YAML reads back as the same node. */
static bool round_trips(const cJSON *node, int depth)
{
	if (depth > 600)
		return false;
	if (node->string && (strlen(node->string) > 150 || !text_printable(node->string)))
		return false;
	if (cJSON_IsNumber(node))
		return isfinite(node->valuedouble);
	if (cJSON_IsString(node))
		return text_printable(node->valuestring);
	for (const cJSON *child = node->child; child; child = child->next) {
		if (!round_trips(child, depth + 1))
			return false;
	}
	return true;
}

static void check_round_trip(const cJSON *document)
{
	char *json, errbuf[512];
	cJSON *again;

	if (!round_trips(document, 0))
		return;
	json = cJSON_PrintUnformatted(document);
	FUZZ_CHECK(json != NULL, "cJSON could not print a parsed document");
	again = yaml_parse_documents(json, strlen(json), errbuf, sizeof(errbuf));
	FUZZ_CHECK(again != NULL,
		   "the JSON print of a document does not parse again: %s\n    %.400s", errbuf,
		   json);
	FUZZ_CHECK(cJSON_GetArraySize(again) == 1 && cJSON_Compare(again->child, document, 1),
		   "the JSON print of a document parses to something else:\n    %.400s", json);
	cJSON_Delete(again);
	cJSON_free(json);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A copy of exactly size bytes, so ASan sees any read past the end. */
	char *text = malloc(size ? size : 1);
	char errbuf[512] = "";
	cJSON *documents, *document;

	FUZZ_CHECK(text != NULL, "out of memory");
	if (size)
		memcpy(text, data, size);
	documents = yaml_parse_documents(text, size, errbuf, sizeof(errbuf));
	free(text);
	if (!documents) {
		FUZZ_CHECK(strncmp(errbuf, "line ", 5) == 0 || strstr(errbuf, "out of memory"),
			   "error message \"%s\"", errbuf);
		return 0;
	}
	FUZZ_CHECK(cJSON_IsArray(documents), "the result is not an array");
	cJSON_ArrayForEach(document, documents)
	{
		FUZZ_CHECK(!cJSON_IsNull(document), "a null document was kept");
		check_round_trip(document);
	}
	cJSON_Delete(documents);
	return 0;
}
