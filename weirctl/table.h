/* Aligned text tables: every column as wide as its widest cell, two spaces between columns,
 * numbers right-aligned where asked, no padding after the last column. For output that
 * streams (flows --follow) rows can be printed as they come, with columns widening as needed. */
#ifndef WEIR_WEIRCTL_TABLE_H
#define WEIR_WEIRCTL_TABLE_H

#include <stddef.h>
#include <stdio.h>

struct table;

/* headers: one per column. NULL when out of memory. */
struct table *table_new(size_t columns, const char *const *headers);
void table_free(struct table *table);
void table_align_right(struct table *table, size_t column);
/* Columns never narrower than width (streamed tables cannot look ahead). */
void table_min_width(struct table *table, size_t column, size_t width);

/* Appends a cell to the current row; a full row ends it and the next cell starts a new one. */
void table_cell(struct table *table, const char *format, ...) __attribute__((format(printf, 2, 3)));
size_t table_rows(const struct table *table);

/* Prints the header and every row. Returns 0, or -1 when a cell could not be stored. */
int table_print(const struct table *table, FILE *stream);

/* Streaming: the header once, then each completed row as soon as it is complete. */
void table_stream_header(struct table *table, FILE *stream);
void table_stream_rows(struct table *table, FILE *stream);

#endif
