/* Leveled logging: one line per message with a UTC timestamp, the program and the level, so
 * the lines of weir-cni (many short processes) and weir-agent interleave readably. */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>

#include <cJSON.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *const level_names[] = { "debug", "info", "warn", "error" };

static struct {
	const char *program;
	FILE *stream;
	enum log_level level;
	int json;
} log_state = { "weir", NULL, LOG_LEVEL_INFO, 0 };

void log_set_json(int enabled)
{
	log_state.json = enabled;
}

int log_level_parse(const char *name, enum log_level *level)
{
	for (unsigned i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcmp(name, level_names[i]) == 0) {
			*level = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

FILE *log_file_open(const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	FILE *stream;

	if (fd < 0)
		return NULL;
	stream = fdopen(fd, "a");
	if (!stream) {
		int saved = errno;
		close(fd);
		errno = saved;
	}
	return stream;
}

void log_setup(const char *program, FILE *stream, enum log_level level)
{
	log_state.program = program;
	log_state.stream = stream;
	log_state.level = level;
}

void log_message(enum log_level level, const char *format, ...)
{
	FILE *stream = log_state.stream ? log_state.stream : stderr;
	char timestamp[32];
	struct timespec now;
	struct tm utc;
	va_list args;

	if (level < log_state.level)
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &utc);
	strftime(timestamp, sizeof(timestamp), "%Y-%m-%dT%H:%M:%S", &utc);
	if (log_state.json) {
		char message[2048], when[40];
		cJSON *line = cJSON_CreateObject();
		char *text;

		va_start(args, format);
		vsnprintf(message, sizeof(message), format, args);
		va_end(args);
		snprintf(when, sizeof(when), "%s.%03ldZ", timestamp, now.tv_nsec / 1000000);
		cJSON_AddStringToObject(line, "time", when);
		cJSON_AddStringToObject(line, "level", level_names[level]);
		cJSON_AddStringToObject(line, "program", log_state.program);
		cJSON_AddNumberToObject(line, "pid", (double)getpid());
		cJSON_AddStringToObject(line, "msg", message);
		text = cJSON_PrintUnformatted(line);
		if (text)
			fprintf(stream, "%s\n", text);
		cJSON_free(text);
		cJSON_Delete(line);
		fflush(stream);
		return;
	}
	fprintf(stream, "%s.%03ldZ %s[%d] %s: ", timestamp, now.tv_nsec / 1000000,
		log_state.program, (int)getpid(), level_names[level]);
	va_start(args, format);
	vfprintf(stream, format, args);
	va_end(args);
	fputc('\n', stream);
	fflush(stream);
}
