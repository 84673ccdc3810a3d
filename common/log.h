/* Leveled logging to stderr or a file, shared by every weir binary. */
#ifndef WEIR_LOG_H
#define WEIR_LOG_H

#include <stdio.h>

enum log_level { LOG_LEVEL_DEBUG = 0, LOG_LEVEL_INFO, LOG_LEVEL_WARN, LOG_LEVEL_ERROR };

/* Returns 0 and sets *level for "debug", "info", "warn" or "error"; -1 for anything else. */
int log_level_parse(const char *name, enum log_level *level);
void log_setup(const char *program, FILE *stream, enum log_level level);
/* Opens a log file for appending, created readable by root only (logs name pods, addresses
 * and policies). NULL with errno set on failure. */
FILE *log_file_open(const char *path);
/* One JSON object per line ({"time","level","program","pid","msg"}) instead of text. */
void log_set_json(int enabled);
void log_message(enum log_level level, const char *format, ...)
	__attribute__((format(printf, 2, 3)));

#define log_debug(...) log_message(LOG_LEVEL_DEBUG, __VA_ARGS__)
#define log_info(...) log_message(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_warn(...) log_message(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_error(...) log_message(LOG_LEVEL_ERROR, __VA_ARGS__)

#endif
