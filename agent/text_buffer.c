/* Appends double the capacity as needed, so building a body of n bytes costs O(n). */
#include "text_buffer.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void text_append(struct text_buffer *buffer, const char *format, ...)
{
	va_list args;
	int needed;

	for (;;) {
		size_t room = buffer->capacity - buffer->length;
		va_start(args, format);
		needed = vsnprintf(buffer->data ? buffer->data + buffer->length : NULL,
				   buffer->data ? room : 0, format, args);
		va_end(args);
		if (needed < 0)
			return;
		if (buffer->data && (size_t)needed < room) {
			buffer->length += (size_t)needed;
			return;
		}
		size_t capacity = buffer->capacity ? buffer->capacity * 2 : 8192;
		while (capacity - buffer->length <= (size_t)needed)
			capacity *= 2;
		char *grown = realloc(buffer->data, capacity);
		if (!grown)
			return;
		buffer->data = grown;
		buffer->capacity = capacity;
	}
}

void text_append_label_value(struct text_buffer *buffer, const char *value)
{
	for (const char *c = value; *c; c++) {
		if (*c == '\\')
			text_append(buffer, "\\\\");
		else if (*c == '"')
			text_append(buffer, "\\\"");
		else if (*c == '\n')
			text_append(buffer, "\\n");
		else
			text_append(buffer, "%c", *c);
	}
}

void text_buffer_free(struct text_buffer *buffer)
{
	free(buffer->data);
	buffer->data = NULL;
	buffer->length = buffer->capacity = 0;
}
