/* HTTP matchers as the datapath reads them. A path lives in eight 64-bit words with a mask of
 * 0xff for every byte that must match, laid out in memory order, so the BPF side compares
 * (request_word & mask_word) == path_word without knowing whether the rule is a prefix. */
#include "http_rules.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <bpf/bpf.h>

/* Bytes a request line or Host header can never hold: a rule with them could never match, so
 * it is refused rather than silently dead. */
static bool printable_without_space(const char *text)
{
	for (const unsigned char *c = (const unsigned char *)text; *c; c++) {
		if (*c <= ' ' || *c == 0x7f)
			return false;
	}
	return true;
}

static int encode_method(const char *method, struct weir_http_rule *rule, char *errbuf,
			 size_t errlen)
{
	for (int index = WEIR_HTTP_METHOD_NONE + 1; index < WEIR_HTTP_METHOD_MAX; index++) {
		if (strcmp(method, weir_http_method_names[index]) == 0) {
			rule->method = (uint8_t)index;
			rule->match |= WEIR_HTTP_MATCH_METHOD;
			return 0;
		}
	}
	snprintf(errbuf, errlen,
		 "method \"%s\" is not one of GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS, "
		 "CONNECT, TRACE (methods are case-sensitive; leave it out for any method)",
		 method);
	return -1;
}

static int encode_path(const char *path, struct weir_http_rule *rule, char *errbuf, size_t errlen)
{
	size_t length = strlen(path);
	const char *star = strchr(path, '*');
	bool prefix = star != NULL;

	if (length == 0) {
		snprintf(errbuf, errlen, "path is empty (leave it out for any path)");
		return -1;
	}
	if (star && star != path + length - 1) {
		snprintf(errbuf, errlen,
			 "path \"%s\": '*' is only allowed at the end, where it makes a prefix",
			 path);
		return -1;
	}
	if (!printable_without_space(path)) {
		snprintf(errbuf, errlen, "path \"%s\" has a space or a control character", path);
		return -1;
	}
	if (prefix)
		length--;
	if (length > WEIR_HTTP_PATH_BYTES) {
		snprintf(errbuf, errlen, "path \"%s\" is %zu bytes%s; at most %d are supported",
			 path, length, prefix ? " before the '*'" : "", WEIR_HTTP_PATH_BYTES);
		return -1;
	}
	memcpy(rule->path, path, length);
	memset(rule->path_mask, 0xff, length);
	rule->path_length = (uint8_t)length;
	rule->match |= WEIR_HTTP_MATCH_PATH | (prefix ? WEIR_HTTP_MATCH_PATH_PREFIX : 0);
	return 0;
}

static int encode_host(const char *host, struct weir_http_rule *rule, char *errbuf, size_t errlen)
{
	size_t length = strlen(host);
	char *bytes = (char *)rule->host;

	if (length == 0) {
		snprintf(errbuf, errlen, "host is empty (leave it out for any host)");
		return -1;
	}
	if (length > WEIR_HTTP_HOST_BYTES) {
		snprintf(errbuf, errlen, "host \"%s\" is %zu bytes; at most %d are supported", host,
			 length, WEIR_HTTP_HOST_BYTES);
		return -1;
	}
	if (!printable_without_space(host) || strchr(host, '/')) {
		snprintf(errbuf, errlen, "host \"%s\" has a space, '/' or a control character",
			 host);
		return -1;
	}
	for (size_t i = 0; i < length; i++)
		bytes[i] = (char)(host[i] >= 'A' && host[i] <= 'Z' ? host[i] - 'A' + 'a' : host[i]);
	rule->host_length = (uint8_t)length;
	rule->match |= WEIR_HTTP_MATCH_HOST;
	return 0;
}

int http_rule_encode(const char *method, const char *path, const char *host,
		     struct weir_http_rule *rule, char *errbuf, size_t errlen)
{
	memset(rule, 0, sizeof(*rule));
	if (method && encode_method(method, rule, errbuf, errlen) < 0)
		return -1;
	if (path && encode_path(path, rule, errbuf, errlen) < 0)
		return -1;
	if (host && encode_host(host, rule, errbuf, errlen) < 0)
		return -1;
	return 0;
}

void http_rule_words(const struct weir_http_rule *rule, char *buf, size_t len)
{
	size_t used = 0;

#define APPEND(...)                                                                                \
	do {                                                                                       \
		if (used < len)                                                                    \
			used += (size_t)snprintf(buf + used, len - used, __VA_ARGS__);             \
	} while (0)

	if (len == 0)
		return;
	buf[0] = '\0';
	if (rule->match & WEIR_HTTP_MATCH_METHOD)
		APPEND("%s", rule->method < WEIR_HTTP_METHOD_MAX
				 ? weir_http_method_names[rule->method]
				 : "unknown-method");
	if (rule->match & WEIR_HTTP_MATCH_PATH) {
		unsigned length = rule->path_length <= WEIR_HTTP_PATH_BYTES ? rule->path_length
									    : WEIR_HTTP_PATH_BYTES;
		APPEND("%s%.*s%s", (rule->match & WEIR_HTTP_MATCH_METHOD) ? " " : "any method ",
		       (int)length, (const char *)rule->path,
		       (rule->match & WEIR_HTTP_MATCH_PATH_PREFIX) ? "*" : "");
	}
	if (rule->match & WEIR_HTTP_MATCH_HOST) {
		unsigned length = rule->host_length <= WEIR_HTTP_HOST_BYTES ? rule->host_length
									    : WEIR_HTTP_HOST_BYTES;
		APPEND("%shost %.*s", used ? " " : "", (int)length, (const char *)rule->host);
	}
	if (used == 0)
		APPEND("any request");
#undef APPEND
}

int http_rule_set_words(const struct weir_http_rule *rules, size_t count, char *buf, size_t len)
{
	char words[WEIR_HTTP_PATH_BYTES + WEIR_HTTP_HOST_BYTES + 64];
	size_t used = 0;

	if (len > 0)
		buf[0] = '\0';
	used += (size_t)snprintf(buf, len, "HTTP:%s", count ? "" : " nothing");
	for (size_t i = 0; i < count; i++) {
		http_rule_words(&rules[i], words, sizeof(words));
		used += (size_t)snprintf(used < len ? buf + used : NULL,
					 used < len ? len - used : 0, "%s %s", i ? ";" : "", words);
	}
	return (int)used;
}

int http_rules_write(int http_rules_fd, uint32_t rule_id, const struct weir_http_rule *rules,
		     size_t count, size_t previous_count, char *errbuf, size_t errlen)
{
	if (count > WEIR_HTTP_RULES_PER_SET) {
		snprintf(errbuf, errlen, "HTTP rule set %u has %zu matchers; at most %d fit",
			 rule_id, count, WEIR_HTTP_RULES_PER_SET);
		return -EINVAL;
	}
	for (size_t i = 0; i < count; i++) {
		struct weir_http_rule_key key = {.rule_id = rule_id, .index = (uint32_t)i};
		if (bpf_map_update_elem(http_rules_fd, &key, &rules[i], BPF_ANY) < 0) {
			int err = -errno;
			snprintf(errbuf, errlen, "write HTTP rule %u index %zu: %s", rule_id, i,
				 strerror(errno));
			return err;
		}
	}
	/* Shrinking from the end keeps the set gap-free at every step. */
	for (size_t i = previous_count; i > count; i--) {
		struct weir_http_rule_key key = {.rule_id = rule_id, .index = (uint32_t)(i - 1)};
		if (bpf_map_delete_elem(http_rules_fd, &key) < 0 && errno != ENOENT) {
			int err = -errno;
			snprintf(errbuf, errlen, "remove HTTP rule %u index %zu: %s", rule_id,
				 i - 1, strerror(errno));
			return err;
		}
	}
	return 0;
}

int http_rules_delete(int http_rules_fd, uint32_t rule_id, char *errbuf, size_t errlen)
{
	/* From the end, so a reader never sees a set with a hole in the middle. */
	for (uint32_t index = WEIR_HTTP_RULES_PER_SET; index > 0; index--) {
		struct weir_http_rule_key key = {.rule_id = rule_id, .index = index - 1};
		if (bpf_map_delete_elem(http_rules_fd, &key) < 0 && errno != ENOENT) {
			int err = -errno;
			snprintf(errbuf, errlen, "remove HTTP rule %u index %u: %s", rule_id,
				 index - 1, strerror(errno));
			return err;
		}
	}
	return 0;
}

int http_rules_read(int http_rules_fd, uint32_t rule_id, struct weir_http_rule *rules,
		    size_t capacity)
{
	size_t count = 0;

	while (count < capacity && count < WEIR_HTTP_RULES_PER_SET) {
		struct weir_http_rule_key key = {.rule_id = rule_id, .index = (uint32_t)count};
		if (bpf_map_lookup_elem(http_rules_fd, &key, &rules[count]) < 0) {
			if (errno == ENOENT)
				break;
			return -errno;
		}
		count++;
	}
	return (int)count;
}

int http_rules_describe(int http_rules_fd, uint32_t rule_id, char *buf, size_t len)
{
	struct weir_http_rule rules[WEIR_HTTP_RULES_PER_SET];
	int count = http_rules_read(http_rules_fd, rule_id, rules, WEIR_HTTP_RULES_PER_SET);

	if (count < 0) {
		snprintf(buf, len, "HTTP rule set %u unreadable: %s", rule_id, strerror(-count));
		return count;
	}
	if (count == 0) {
		/* What the datapath does with a missing set, said plainly. */
		snprintf(buf, len, "HTTP: no rule set %u (nothing allowed)", rule_id);
		return -ENOENT;
	}
	http_rule_set_words(rules, (size_t)count, buf, len);
	return 0;
}
