/* HTTP rule sets: one matcher {method, path, host} encoded as the datapath compares it, a set in
 * words for people, and the http_rules map writes. Encoding and wording are pure (unit-tested);
 * the map functions name the rule id and index they failed on. */
#ifndef WEIR_HTTP_RULES_H
#define WEIR_HTTP_RULES_H

#include <stddef.h>
#include <stdint.h>

#include "abi.h"

/* Encodes one matcher. method: NULL for any, else exactly one of GET, HEAD, POST, PUT, DELETE,
 * PATCH, OPTIONS, CONNECT, TRACE. path: NULL for any, else an exact path or a prefix ending in
 * '*' (at most WEIR_HTTP_PATH_BYTES bytes before the '*'). host: NULL for any, else at most
 * WEIR_HTTP_HOST_BYTES bytes, compared lowercase. Returns 0, or -1 with errbuf saying what is
 * wrong with which field. */
int http_rule_encode(const char *method, const char *path, const char *host,
		     struct weir_http_rule *rule, char *errbuf, size_t errlen);

/* One matcher in words: "GET /hello", "any method /api*", "host example.com", "any request". */
void http_rule_words(const struct weir_http_rule *rule, char *buf, size_t len);

/* A set in words: "HTTP: GET /hello; any method /api*" ("HTTP: nothing" when empty).
 * Returns the length it needed (as snprintf); buf is always terminated. */
int http_rule_set_words(const struct weir_http_rule *rules, size_t count, char *buf, size_t len);

/* Writes the set as {rule_id, 0..count-1} and removes indexes count..previous_count-1, so the
 * set has no gap and nothing of an older, longer version is left behind. */
int http_rules_write(int http_rules_fd, uint32_t rule_id, const struct weir_http_rule *rules,
		     size_t count, size_t previous_count, char *errbuf, size_t errlen);
/* Removes {rule_id, 0..WEIR_HTTP_RULES_PER_SET-1}; absent entries are not an error. */
int http_rules_delete(int http_rules_fd, uint32_t rule_id, char *errbuf, size_t errlen);
/* Reads the set of rule_id (indexes from 0 up to the first gap). Returns how many, or -errno. */
int http_rules_read(int http_rules_fd, uint32_t rule_id, struct weir_http_rule *rules,
		    size_t capacity);
/* The set of rule_id in words, as http_rule_set_words. Returns 0, -ENOENT when the map has no
 * such set (buf then says so), or another -errno. */
int http_rules_describe(int http_rules_fd, uint32_t rule_id, char *buf, size_t len);

#endif
