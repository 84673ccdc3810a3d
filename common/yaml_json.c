/* YAML into cJSON, so that kubeconfig files and manifests are read by the same JSON code that
 * reads everything else. libyaml's event API is used rather than its document API because only
 * events still tell a plain scalar (resolved by the YAML 1.2 core schema: 80 is a number) from
 * a quoted one ("80" stays a string) and an explicit !!str from no tag. Aliases are expanded by
 * copying, and every copy counts against a cap on nodes, so a few lines of nested aliases (the
 * "billion laughs") fail with an error instead of eating the agent's memory. Error messages
 * never quote a scalar's value: the text may be a kubeconfig holding a token. */
#include "yaml_json.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

/* Far above any real manifest, far below what would hurt: a cJSON node is about 64 bytes. */
#define YAML_NODE_LIMIT 1000000
/* Nodes are built recursively; this keeps the C stack bounded on hostile input. */
#define YAML_DEPTH_LIMIT 512

struct yaml_anchor {
	char *name;
	cJSON *node; /* a private copy: the original may be a key or a merge source, later freed */
	size_t node_count;
};

struct yaml_reader {
	yaml_parser_t parser;
	const char *text;
	size_t length;
	struct yaml_anchor *anchors; /* of the current document only: anchors do not cross "---" */
	size_t anchor_count, anchor_capacity;
	size_t node_count; /* over all documents, aliases' copies included */
	bool failed;
	char *errbuf;
	size_t errlen;
};

/* The keys of one mapping, to reject duplicates without a quadratic scan of a large mapping. The
 * strings are the items' own keys, so the set owns only its slots. */
struct key_set {
	const char **slots;
	size_t capacity, count;
};

static void reader_error_at(struct yaml_reader *reader, yaml_mark_t mark, const char *format, ...)
	__attribute__((format(printf, 3, 4)));

static void reader_error_at(struct yaml_reader *reader, yaml_mark_t mark, const char *format, ...)
{
	char problem[256];
	va_list args;

	va_start(args, format);
	vsnprintf(problem, sizeof(problem), format, args);
	va_end(args);
	reader->failed = true;
	snprintf(reader->errbuf, reader->errlen, "line %zu, column %zu: %s", mark.line + 1,
		 mark.column + 1, problem);
}

/* libyaml's reader (bad UTF-8, control characters) reports a byte offset, not a mark. */
static yaml_mark_t mark_from_offset(const struct yaml_reader *reader, size_t offset)
{
	yaml_mark_t mark = { 0 };

	for (size_t i = 0; i < offset && i < reader->length; i++) {
		if (reader->text[i] == '\n') {
			mark.line++;
			mark.column = 0;
		} else {
			mark.column++;
		}
	}
	mark.index = offset;
	return mark;
}

static void reader_parser_error(struct yaml_reader *reader)
{
	const yaml_parser_t *parser = &reader->parser;
	const char *problem = parser->problem ? parser->problem : "unknown error";

	switch (parser->error) {
	case YAML_MEMORY_ERROR:
		reader->failed = true;
		snprintf(reader->errbuf, reader->errlen, "out of memory parsing YAML");
		break;
	case YAML_READER_ERROR:
		if (parser->problem_value != -1)
			reader_error_at(reader, mark_from_offset(reader, parser->problem_offset),
					"%s (byte 0x%02x)", problem,
					(unsigned)parser->problem_value);
		else
			reader_error_at(reader, mark_from_offset(reader, parser->problem_offset),
					"%s", problem);
		break;
	default:
		if (parser->context)
			reader_error_at(reader, parser->problem_mark,
					"%s (%s at line %zu, column %zu)", problem, parser->context,
					parser->context_mark.line + 1,
					parser->context_mark.column + 1);
		else
			reader_error_at(reader, parser->problem_mark, "%s", problem);
		break;
	}
}

static int reader_next_event(struct yaml_reader *reader, yaml_event_t *event)
{
	if (!yaml_parser_parse(&reader->parser, event)) {
		reader_parser_error(reader);
		return -1;
	}
	return 0;
}

/* Charges count nodes to the document; fails before the allocation that would pass the cap. */
static int reader_charge_nodes(struct yaml_reader *reader, size_t count, yaml_mark_t mark)
{
	if (count > YAML_NODE_LIMIT - reader->node_count) {
		reader_error_at(reader, mark,
				"more than %d nodes (aliases expanding without bound?)",
				YAML_NODE_LIMIT);
		return -1;
	}
	reader->node_count += count;
	return 0;
}

static size_t json_node_count(const cJSON *node)
{
	size_t count = 1;

	for (const cJSON *child = node->child; child; child = child->next)
		count += json_node_count(child);
	return count;
}

static void reader_anchors_clear(struct yaml_reader *reader)
{
	for (size_t i = 0; i < reader->anchor_count; i++) {
		free(reader->anchors[i].name);
		cJSON_Delete(reader->anchors[i].node);
	}
	free(reader->anchors);
	reader->anchors = NULL;
	reader->anchor_count = reader->anchor_capacity = 0;
}

static int reader_anchor_add(struct yaml_reader *reader, const char *name, const cJSON *node,
			     yaml_mark_t mark)
{
	struct yaml_anchor anchor = { .node_count = json_node_count(node) };

	if (reader_charge_nodes(reader, anchor.node_count, mark) < 0)
		return -1;
	if (reader->anchor_count == reader->anchor_capacity) {
		size_t capacity = reader->anchor_capacity ? reader->anchor_capacity * 2 : 8;
		struct yaml_anchor *grown = realloc(reader->anchors, capacity * sizeof(*grown));
		if (!grown)
			goto oom;
		reader->anchors = grown;
		reader->anchor_capacity = capacity;
	}
	anchor.name = strdup(name);
	anchor.node = cJSON_Duplicate(node, 1);
	if (!anchor.name || !anchor.node) {
		free(anchor.name);
		cJSON_Delete(anchor.node);
		goto oom;
	}
	reader->anchors[reader->anchor_count++] = anchor;
	return 0;
oom:
	reader_error_at(reader, mark, "out of memory copying anchor &%s", name);
	return -1;
}

static cJSON *reader_alias_resolve(struct yaml_reader *reader, const yaml_event_t *event)
{
	const char *name = (const char *)event->data.alias.anchor;
	cJSON *copy;

	/* The latest definition wins: YAML lets a document redefine an anchor. */
	for (size_t i = reader->anchor_count; i-- > 0;) {
		const struct yaml_anchor *anchor = &reader->anchors[i];
		if (strcmp(anchor->name, name) != 0)
			continue;
		if (reader_charge_nodes(reader, anchor->node_count, event->start_mark) < 0)
			return NULL;
		copy = cJSON_Duplicate(anchor->node, 1);
		if (!copy)
			reader_error_at(reader, event->start_mark, "out of memory expanding *%s",
					name);
		return copy;
	}
	reader_error_at(reader, event->start_mark,
			"alias *%s names no anchor defined before it in this document", name);
	return NULL;
}

static bool text_is_one_of(const char *text, const char *const *words)
{
	for (; *words; words++) {
		if (strcmp(text, *words) == 0)
			return true;
	}
	return false;
}

static bool scalar_is_null(const char *text)
{
	static const char *const words[] = { "", "~", "null", "Null", "NULL", NULL };

	return text_is_one_of(text, words);
}

/* 1 for true, 0 for false, -1 for neither. YAML 1.1's yes/no/on/off are strings in 1.2. */
static int scalar_bool(const char *text)
{
	static const char *const true_words[] = { "true", "True", "TRUE", NULL };
	static const char *const false_words[] = { "false", "False", "FALSE", NULL };

	if (text_is_one_of(text, true_words))
		return 1;
	if (text_is_one_of(text, false_words))
		return 0;
	return -1;
}

static const char *digits_skip(const char *cursor, const char *digits)
{
	while (*cursor && strchr(digits, *cursor))
		cursor++;
	return cursor;
}

/* Core schema integers: [-+]?[0-9]+, 0o[0-7]+, 0x[0-9a-fA-F]+. Numbers are doubles in cJSON, so
 * digits are accumulated in a double: exact up to 2^53, rounded (not wrapped) beyond. */
static bool scalar_int(const char *text, double *value)
{
	const char *cursor = text, *end;
	double sign = 1, result = 0;

	if (text[0] == '0' && (text[1] == 'o' || text[1] == 'x')) {
		int base = text[1] == 'o' ? 8 : 16;
		const char *digits = base == 8 ? "01234567" : "0123456789abcdefABCDEF";
		cursor = text + 2;
		end = digits_skip(cursor, digits);
		if (end == cursor || *end)
			return false;
		for (; cursor < end; cursor++) {
			int digit = *cursor <= '9' ? *cursor - '0' : (*cursor | 0x20) - 'a' + 10;
			result = result * base + digit;
		}
		*value = result;
		return isfinite(result);
	}
	if (*cursor == '-' || *cursor == '+')
		sign = *cursor++ == '-' ? -1 : 1;
	end = digits_skip(cursor, "0123456789");
	if (end == cursor || *end)
		return false;
	/* strtod rounds correctly where digit-by-digit accumulation would not. */
	result = strtod(cursor, NULL);
	*value = sign * result;
	return isfinite(result);
}

/* Core schema floats: [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? and the .inf/.nan
 * spellings. Infinity and NaN become numbers as YAML says, though cJSON prints them as null. */
static bool scalar_float(const char *text, double *value)
{
	static const char *const infinities[] = { ".inf", ".Inf", ".INF", NULL };
	static const char *const nans[] = { ".nan", ".NaN", ".NAN", NULL };
	const char *cursor = text, *after;
	bool negative = false;

	if (text_is_one_of(text, nans)) {
		*value = NAN;
		return true;
	}
	if (*cursor == '-' || *cursor == '+')
		negative = *cursor++ == '-';
	if (text_is_one_of(cursor, infinities)) {
		*value = negative ? -INFINITY : INFINITY;
		return true;
	}
	after = digits_skip(cursor, "0123456789");
	if (after == cursor) {
		/* No integer part: ".5" needs digits after the point. */
		if (*after != '.' || !(after[1] >= '0' && after[1] <= '9'))
			return false;
	}
	if (*after == '.')
		after = digits_skip(after + 1, "0123456789");
	if (*after == 'e' || *after == 'E') {
		const char *exponent = after + 1;
		if (*exponent == '-' || *exponent == '+')
			exponent++;
		after = digits_skip(exponent, "0123456789");
		if (after == exponent)
			return false;
	}
	if (*after)
		return false;
	*value = strtod(text, NULL);
	return true;
}

/* A scalar with a known tag must read as that type; an unknown tag (!!timestamp, !Ref) keeps
 * the text. */
static cJSON *scalar_tagged(struct yaml_reader *reader, const yaml_event_t *event,
			    const char *text)
{
	const char *tag = (const char *)event->data.scalar.tag;
	double number;
	int truth;

	if (strcmp(tag, YAML_INT_TAG) == 0) {
		if (scalar_int(text, &number))
			return cJSON_CreateNumber(number);
		reader_error_at(reader, event->start_mark, "value tagged !!int is not an integer");
		return NULL;
	}
	if (strcmp(tag, YAML_FLOAT_TAG) == 0) {
		if (scalar_int(text, &number) || scalar_float(text, &number))
			return cJSON_CreateNumber(number);
		reader_error_at(reader, event->start_mark, "value tagged !!float is not a number");
		return NULL;
	}
	if (strcmp(tag, YAML_BOOL_TAG) == 0) {
		truth = scalar_bool(text);
		if (truth >= 0)
			return cJSON_CreateBool(truth);
		reader_error_at(reader, event->start_mark,
				"value tagged !!bool is not true or false");
		return NULL;
	}
	if (strcmp(tag, YAML_NULL_TAG) == 0) {
		if (scalar_is_null(text))
			return cJSON_CreateNull();
		reader_error_at(reader, event->start_mark, "value tagged !!null is not null");
		return NULL;
	}
	return cJSON_CreateString(text);
}

static cJSON *scalar_to_json(struct yaml_reader *reader, const yaml_event_t *event)
{
	const char *text = (const char *)event->data.scalar.value;
	double number;
	int truth;

	if (strlen(text) != event->data.scalar.length) {
		/* cJSON strings end at the first NUL; cutting the value short silently is worse. */
		reader_error_at(reader, event->start_mark, "string contains a NUL character");
		return NULL;
	}
	if (event->data.scalar.tag)
		return scalar_tagged(reader, event, text);
	/* Quoted and block scalars are strings whatever they look like. */
	if (event->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return cJSON_CreateString(text);
	if (scalar_is_null(text))
		return cJSON_CreateNull();
	truth = scalar_bool(text);
	if (truth >= 0)
		return cJSON_CreateBool(truth);
	if (scalar_int(text, &number) || scalar_float(text, &number))
		return cJSON_CreateNumber(number);
	return cJSON_CreateString(text);
}

/* The shortest decimal that reads back as the same double, so a key 0.1 is "0.1". */
static void number_format(double value, char *buffer, size_t size)
{
	if (value > -1e18 && value < 1e18 && value == (double)(long long)value) {
		snprintf(buffer, size, "%lld", (long long)value);
		return;
	}
	for (int precision = 1; precision <= 17; precision++) {
		snprintf(buffer, size, "%.*g", precision, value);
		if (strtod(buffer, NULL) == value)
			return;
	}
}

/* JSON keys are strings: a scalar key that resolved to another type is written back as text
 * the way Kubernetes' YAML-to-JSON conversion does (80 → "80", true → "true", ~ → "null"). */
static char *key_text(struct yaml_reader *reader, const cJSON *key, yaml_mark_t mark)
{
	char number[64];
	const char *text;
	char *copy;

	if (cJSON_IsString(key))
		text = key->valuestring;
	else if (cJSON_IsTrue(key))
		text = "true";
	else if (cJSON_IsFalse(key))
		text = "false";
	else if (cJSON_IsNull(key))
		text = "null";
	else if (cJSON_IsNumber(key)) {
		number_format(key->valuedouble, number, sizeof(number));
		text = number;
	} else {
		reader_error_at(reader, mark, "a mapping key must be a scalar, not a %s",
				cJSON_IsArray(key) ? "sequence" : "mapping");
		return NULL;
	}
	copy = strdup(text);
	if (!copy)
		reader_error_at(reader, mark, "out of memory");
	return copy;
}

static uint64_t key_hash(const char *key)
{
	uint64_t hash = 1469598103934665603ull;

	for (; *key; key++)
		hash = (hash ^ (unsigned char)*key) * 1099511628211ull;
	return hash;
}

static const char **key_set_slot(const struct key_set *set, const char *key)
{
	size_t index = key_hash(key) & (set->capacity - 1);

	while (set->slots[index] && strcmp(set->slots[index], key) != 0)
		index = (index + 1) & (set->capacity - 1);
	return &set->slots[index];
}

static bool key_set_contains(const struct key_set *set, const char *key)
{
	return set->capacity && *key_set_slot(set, key);
}

/* key must outlive the set (it is the item's own string). Returns 0, or -1 out of memory. */
static int key_set_insert(struct key_set *set, const char *key)
{
	if ((set->count + 1) * 2 > set->capacity) {
		struct key_set grown = { .capacity = set->capacity ? set->capacity * 2 : 16 };
		grown.slots = calloc(grown.capacity, sizeof(*grown.slots));
		if (!grown.slots)
			return -1;
		for (size_t i = 0; i < set->capacity; i++) {
			if (set->slots[i])
				*key_set_slot(&grown, set->slots[i]) = set->slots[i];
		}
		grown.count = set->count;
		free(set->slots);
		*set = grown;
	}
	*key_set_slot(set, key) = key;
	set->count++;
	return 0;
}

static cJSON *reader_node(struct yaml_reader *reader, yaml_event_t *event, int depth);

static cJSON *reader_sequence(struct yaml_reader *reader, int depth)
{
	cJSON *array = cJSON_CreateArray(), *item;
	yaml_event_t event;

	if (!array)
		return NULL;
	for (;;) {
		if (reader_next_event(reader, &event) < 0)
			goto fail;
		if (event.type == YAML_SEQUENCE_END_EVENT) {
			yaml_event_delete(&event);
			return array;
		}
		item = reader_node(reader, &event, depth + 1);
		if (!item)
			goto fail;
		cJSON_AddItemToArray(array, item);
	}
fail:
	cJSON_Delete(array);
	return NULL;
}

/* A merge key's value: a mapping, or a sequence of mappings where earlier ones win. */
static int merge_source_add(struct yaml_reader *reader, cJSON *sources, cJSON *value,
			    yaml_mark_t mark)
{
	if (cJSON_IsArray(value)) {
		for (const cJSON *item = value->child; item; item = item->next) {
			if (!cJSON_IsObject(item))
				goto invalid;
		}
	} else if (!cJSON_IsObject(value)) {
		goto invalid;
	}
	cJSON_AddItemToArray(sources, value);
	return 0;
invalid:
	cJSON_Delete(value);
	reader_error_at(reader, mark, "merge key << needs a mapping or a sequence of mappings");
	return -1;
}

/* Moves the merged keys the mapping does not set itself into it. The sources are this mapping's
 * own nodes (alias values are already copies), so moving is safe. */
static int merge_sources_apply(cJSON *object, struct key_set *keys, cJSON *source)
{
	cJSON *item;

	if (cJSON_IsArray(source)) {
		for (cJSON *mapping = source->child; mapping; mapping = mapping->next) {
			if (merge_sources_apply(object, keys, mapping) < 0)
				return -1;
		}
		return 0;
	}
	while ((item = source->child)) {
		cJSON_DetachItemViaPointer(source, item);
		if (key_set_contains(keys, item->string)) {
			cJSON_Delete(item);
			continue;
		}
		cJSON_AddItemToArray(object, item);
		if (key_set_insert(keys, item->string) < 0)
			return -1;
	}
	return 0;
}

static bool event_is_merge_key(const yaml_event_t *event)
{
	return event->type == YAML_SCALAR_EVENT && !event->data.scalar.tag &&
	       event->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	       strcmp((const char *)event->data.scalar.value, "<<") == 0;
}

static cJSON *reader_mapping(struct yaml_reader *reader, yaml_mark_t start_mark, int depth)
{
	cJSON *object = cJSON_CreateObject(), *sources = cJSON_CreateArray();
	cJSON *key_node, *value;
	struct key_set keys = { 0 };
	yaml_event_t event;
	yaml_mark_t key_mark;
	char *key;
	bool merge;

	if (!object || !sources)
		goto oom;
	for (;;) {
		if (reader_next_event(reader, &event) < 0)
			goto fail;
		if (event.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&event);
			break;
		}
		key_mark = event.start_mark;
		merge = event_is_merge_key(&event);
		key_node = reader_node(reader, &event, depth + 1);
		if (!key_node)
			goto fail;
		key = merge ? NULL : key_text(reader, key_node, key_mark);
		cJSON_Delete(key_node);
		if (!merge && !key)
			goto fail;
		if (key && key_set_contains(&keys, key)) {
			reader_error_at(reader, key_mark, "duplicate key \"%s\"", key);
			free(key);
			goto fail;
		}
		if (reader_next_event(reader, &event) < 0) {
			free(key);
			goto fail;
		}
		yaml_mark_t value_mark = event.start_mark;
		value = reader_node(reader, &event, depth + 1);
		if (!value) {
			free(key);
			goto fail;
		}
		if (merge) {
			if (merge_source_add(reader, sources, value, value_mark) < 0)
				goto fail;
			continue;
		}
		if (!cJSON_AddItemToObject(object, key, value)) {
			cJSON_Delete(value);
			free(key);
			goto oom;
		}
		free(key);
		if (key_set_insert(&keys, value->string) < 0)
			goto oom;
	}
	for (cJSON *source = sources->child; source; source = source->next) {
		if (merge_sources_apply(object, &keys, source) < 0)
			goto oom;
	}
	cJSON_Delete(sources);
	free(keys.slots);
	return object;
oom:
	reader_error_at(reader, start_mark, "out of memory building a mapping");
fail:
	cJSON_Delete(object);
	cJSON_Delete(sources);
	free(keys.slots);
	return NULL;
}

/* Builds the node that event starts, reading the events of its children; always deletes event. */
static cJSON *reader_node(struct yaml_reader *reader, yaml_event_t *event, int depth)
{
	const unsigned char *anchor = NULL;
	cJSON *node = NULL;

	if (event->type == YAML_ALIAS_EVENT) {
		node = reader_alias_resolve(reader, event);
		yaml_event_delete(event);
		return node;
	}
	if (reader_charge_nodes(reader, 1, event->start_mark) < 0)
		goto done;
	if ((event->type == YAML_SEQUENCE_START_EVENT || event->type == YAML_MAPPING_START_EVENT) &&
	    depth >= YAML_DEPTH_LIMIT) {
		reader_error_at(reader, event->start_mark, "nested deeper than %d levels",
				YAML_DEPTH_LIMIT);
		goto done;
	}
	switch (event->type) {
	case YAML_SCALAR_EVENT:
		anchor = event->data.scalar.anchor;
		node = scalar_to_json(reader, event);
		break;
	case YAML_SEQUENCE_START_EVENT:
		anchor = event->data.sequence_start.anchor;
		node = reader_sequence(reader, depth);
		break;
	case YAML_MAPPING_START_EVENT:
		anchor = event->data.mapping_start.anchor;
		node = reader_mapping(reader, event->start_mark, depth);
		break;
	default:
		reader_error_at(reader, event->start_mark, "unexpected YAML event %d",
				(int)event->type);
		goto done;
	}
	if (!node) {
		if (!reader->failed)
			reader_error_at(reader, event->start_mark, "out of memory");
		goto done;
	}
	if (anchor &&
	    reader_anchor_add(reader, (const char *)anchor, node, event->start_mark) < 0) {
		cJSON_Delete(node);
		node = NULL;
	}
done:
	yaml_event_delete(event);
	return node;
}

cJSON *yaml_parse_documents(const char *text, size_t length, char *errbuf, size_t errlen)
{
	struct yaml_reader reader = {
		.text = text ? text : "",
		.length = text ? length : 0,
		.errbuf = errbuf,
		.errlen = errbuf ? errlen : 0,
	};
	cJSON *documents = NULL, *root;
	yaml_event_t event;

	if (!yaml_parser_initialize(&reader.parser)) {
		snprintf(reader.errbuf, reader.errlen, "out of memory starting the YAML parser");
		return NULL;
	}
	yaml_parser_set_input_string(&reader.parser, (const unsigned char *)reader.text,
				     reader.length);
	documents = cJSON_CreateArray();
	if (!documents) {
		snprintf(reader.errbuf, reader.errlen, "out of memory");
		goto fail;
	}
	for (;;) {
		if (reader_next_event(&reader, &event) < 0)
			goto fail;
		if (event.type == YAML_STREAM_END_EVENT) {
			yaml_event_delete(&event);
			break;
		}
		if (event.type != YAML_DOCUMENT_START_EVENT) {
			yaml_event_delete(&event); /* stream start, document end */
			continue;
		}
		yaml_event_delete(&event);
		if (reader_next_event(&reader, &event) < 0)
			goto fail;
		root = reader_node(&reader, &event, 0);
		if (!root)
			goto fail;
		reader_anchors_clear(&reader);
		/* "---" with nothing after it, or a document of only comments, is no object. */
		if (cJSON_IsNull(root))
			cJSON_Delete(root);
		else
			cJSON_AddItemToArray(documents, root);
	}
	yaml_parser_delete(&reader.parser);
	return documents;
fail:
	reader_anchors_clear(&reader);
	yaml_parser_delete(&reader.parser);
	cJSON_Delete(documents);
	return NULL;
}
