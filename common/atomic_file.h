/* Whole-file writes that readers never see half done: temp file, fsync, rename. */
#ifndef WEIR_ATOMIC_FILE_H
#define WEIR_ATOMIC_FILE_H

#include <stddef.h>

/* Writes content to path atomically with the given mode. Returns 0, or -errno with errbuf
 * naming the step and the path that failed. */
int atomic_file_write(const char *path, const char *content, size_t length, unsigned mode,
		      char *errbuf, size_t errlen);

/* Reads a whole file into a NUL-terminated heap buffer. Returns NULL with errno set. */
char *file_read_all(const char *path, size_t *length_out);

/* mkdir -p with the given mode. Returns 0 or -errno. */
int directory_create(const char *path, unsigned mode);

#endif
