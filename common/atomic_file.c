/* Atomic file writes (principle 6): a crash leaves either the old or the new content, never a
 * torn record that a later DEL or GC would misread. */
#include "atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int atomic_file_write(const char *path, const char *content, size_t length, unsigned mode,
		      char *errbuf, size_t errlen)
{
	char temp_path[PATH_MAX];
	size_t written = 0;
	int fd, err;

	if (snprintf(temp_path, sizeof(temp_path), "%s.tmp.%d", path, (int)getpid()) >=
	    (int)sizeof(temp_path)) {
		snprintf(errbuf, errlen, "path too long: %s", path);
		return -ENAMETOOLONG;
	}
	fd = open(temp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0) {
		err = -errno;
		snprintf(errbuf, errlen, "create %s: %s", temp_path, strerror(errno));
		return err;
	}
	while (written < length) {
		ssize_t n = write(fd, content + written, length - written);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			snprintf(errbuf, errlen, "write %s: %s", temp_path, strerror(errno));
			goto fail;
		}
		written += (size_t)n;
	}
	if (fsync(fd) < 0) {
		err = -errno;
		snprintf(errbuf, errlen, "fsync %s: %s", temp_path, strerror(errno));
		goto fail;
	}
	close(fd);
	if (rename(temp_path, path) < 0) {
		err = -errno;
		snprintf(errbuf, errlen, "rename %s to %s: %s", temp_path, path, strerror(errno));
		unlink(temp_path);
		return err;
	}
	return 0;
fail:
	close(fd);
	unlink(temp_path);
	return err;
}

char *file_read_all(const char *path, size_t *length_out)
{
	FILE *file = fopen(path, "re");
	char *buffer = NULL;
	size_t length = 0, capacity = 0;

	if (!file)
		return NULL;
	for (;;) {
		if (capacity - length < 4096) {
			size_t new_capacity = capacity ? capacity * 2 : 8192;
			char *grown = realloc(buffer, new_capacity);
			if (!grown) {
				free(buffer);
				fclose(file);
				errno = ENOMEM;
				return NULL;
			}
			buffer = grown;
			capacity = new_capacity;
		}
		size_t n = fread(buffer + length, 1, capacity - length - 1, file);
		length += n;
		if (n == 0)
			break;
	}
	if (ferror(file)) {
		int saved = errno ? errno : EIO;
		free(buffer);
		fclose(file);
		errno = saved;
		return NULL;
	}
	fclose(file);
	buffer[length] = '\0';
	if (length_out)
		*length_out = length;
	return buffer;
}

int directory_create(const char *path, unsigned mode)
{
	char partial[PATH_MAX];
	size_t length = strlen(path);

	if (length == 0 || length >= sizeof(partial))
		return -ENAMETOOLONG;
	memcpy(partial, path, length + 1);
	for (char *cursor = partial + 1; *cursor; cursor++) {
		if (*cursor != '/')
			continue;
		*cursor = '\0';
		if (mkdir(partial, mode) < 0 && errno != EEXIST)
			return -errno;
		*cursor = '/';
	}
	if (mkdir(partial, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}
