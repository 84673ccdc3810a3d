/* A growable text buffer with printf-style appends, for HTTP bodies the agent builds (the
 * Prometheus exposition). Allocation failures leave the buffer short rather than crash: a
 * scrape that misses lines is retried, an agent that aborts is not. */
#ifndef WEIR_AGENT_TEXT_BUFFER_H
#define WEIR_AGENT_TEXT_BUFFER_H

#include <stddef.h>

struct text_buffer {
	char *data;
	size_t length;
	size_t capacity;
};

void text_append(struct text_buffer *buffer, const char *format, ...)
	__attribute__((format(printf, 2, 3)));
/* Appends value escaped for a Prometheus label value (backslash, quote and newline). */
void text_append_label_value(struct text_buffer *buffer, const char *value);
void text_buffer_free(struct text_buffer *buffer);

#endif
