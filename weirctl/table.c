/* Cells are kept as formatted strings so widths can be measured before anything is printed;
 * the tables weirctl prints are small (one row per pod, service, rule or recent flow). */
#include "table.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct table {
	size_t columns;
	char **headers;
	bool *right;
	size_t *widths;
	char **cells; /* row-major, rows * columns */
	size_t cell_count, cell_capacity;
	bool failed;
};

struct table *table_new(size_t columns, const char *const *headers)
{
	struct table *table = calloc(1, sizeof(*table));

	if (!table)
		return NULL;
	table->columns = columns;
	table->headers = calloc(columns, sizeof(char *));
	table->right = calloc(columns, sizeof(bool));
	table->widths = calloc(columns, sizeof(size_t));
	if (!table->headers || !table->right || !table->widths) {
		table_free(table);
		return NULL;
	}
	for (size_t i = 0; i < columns; i++) {
		table->headers[i] = strdup(headers[i]);
		if (!table->headers[i]) {
			table_free(table);
			return NULL;
		}
		table->widths[i] = strlen(headers[i]);
	}
	return table;
}

void table_free(struct table *table)
{
	if (!table)
		return;
	for (size_t i = 0; table->headers && i < table->columns; i++)
		free(table->headers[i]);
	for (size_t i = 0; i < table->cell_count; i++)
		free(table->cells[i]);
	free(table->headers);
	free(table->right);
	free(table->widths);
	free(table->cells);
	free(table);
}

void table_align_right(struct table *table, size_t column)
{
	if (table && column < table->columns)
		table->right[column] = true;
}

void table_min_width(struct table *table, size_t column, size_t width)
{
	if (table && column < table->columns && table->widths[column] < width)
		table->widths[column] = width;
}

void table_cell(struct table *table, const char *format, ...)
{
	va_list arguments;
	char *text = NULL;
	int length;

	if (!table)
		return; /* table_new failed; table_print says so */
	if (table->cell_count == table->cell_capacity) {
		size_t capacity = table->cell_capacity ? table->cell_capacity * 2 : 64;
		char **grown = realloc(table->cells, capacity * sizeof(char *));
		if (!grown) {
			table->failed = true;
			return;
		}
		table->cells = grown;
		table->cell_capacity = capacity;
	}
	va_start(arguments, format);
	length = vasprintf(&text, format, arguments);
	va_end(arguments);
	if (length < 0) {
		table->failed = true;
		text = NULL;
	}
	table->cells[table->cell_count++] = text;
}

size_t table_rows(const struct table *table)
{
	return table->cell_count / table->columns;
}

static void print_row(const struct table *table, char *const *cells, const size_t *widths,
		      FILE *stream)
{
	for (size_t column = 0; column < table->columns; column++) {
		const char *text = cells[column] ? cells[column] : "?";
		bool last = column + 1 == table->columns;
		int width = (int)widths[column];

		if (column)
			fputs("  ", stream);
		if (table->right[column])
			fprintf(stream, "%*s", width, text);
		else if (last)
			fputs(text, stream);
		else
			fprintf(stream, "%-*s", width, text);
	}
	fputc('\n', stream);
}

static void widen(const struct table *table, char *const *cells, size_t *widths)
{
	for (size_t column = 0; column < table->columns; column++) {
		size_t length = cells[column] ? strlen(cells[column]) : 1;
		if (length > widths[column])
			widths[column] = length;
	}
}

int table_print(const struct table *table, FILE *stream)
{
	size_t rows = table ? table_rows(table) : 0;
	size_t *widths = table ? calloc(table->columns, sizeof(size_t)) : NULL;

	if (!widths || table->failed) {
		free(widths);
		fprintf(stderr, "weirctl: build the table: out of memory\n");
		return -1;
	}
	memcpy(widths, table->widths, table->columns * sizeof(size_t));
	for (size_t row = 0; row < rows; row++)
		widen(table, table->cells + row * table->columns, widths);
	print_row(table, table->headers, widths, stream);
	for (size_t row = 0; row < rows; row++)
		print_row(table, table->cells + row * table->columns, widths, stream);
	free(widths);
	return 0;
}

void table_stream_header(struct table *table, FILE *stream)
{
	print_row(table, table->headers, table->widths, stream);
	fflush(stream);
}

void table_stream_rows(struct table *table, FILE *stream)
{
	size_t rows = table_rows(table);

	for (size_t row = 0; row < rows; row++) {
		char **cells = table->cells + row * table->columns;
		widen(table, cells, table->widths);
		print_row(table, cells, table->widths, stream);
	}
	/* Printed rows are forgotten; a partial row (not expected) stays for later. */
	for (size_t i = 0; i < rows * table->columns; i++)
		free(table->cells[i]);
	memmove(table->cells, table->cells + rows * table->columns,
		(table->cell_count - rows * table->columns) * sizeof(char *));
	table->cell_count -= rows * table->columns;
	fflush(stream);
}
