/* Network namespace handles. A path is trusted only after fstatfs says it is an nsfs file
 * and setns accepts it as a network namespace. */
#include "netns.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/vfs.h>
#include <unistd.h>

#ifndef NSFS_MAGIC
#define NSFS_MAGIC 0x6e736673
#endif
#ifndef PROC_SUPER_MAGIC
#define PROC_SUPER_MAGIC 0x9fa0
#endif

int netns_open(const char *path, char *errbuf, size_t errlen)
{
	struct statfs info;
	int fd = open(path, O_RDONLY | O_CLOEXEC), err;

	if (fd < 0) {
		err = -errno;
		snprintf(errbuf, errlen, "open network namespace %s: %s", path, strerror(errno));
		return err;
	}
	if (fstatfs(fd, &info) < 0 ||
	    (info.f_type != NSFS_MAGIC && info.f_type != PROC_SUPER_MAGIC)) {
		snprintf(errbuf, errlen, "%s is not a network namespace", path);
		close(fd);
		return -EINVAL;
	}
	return fd;
}

int netns_open_current(char *errbuf, size_t errlen)
{
	int fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC), err;

	if (fd < 0) {
		err = -errno;
		snprintf(errbuf, errlen, "open /proc/self/ns/net: %s", strerror(errno));
		return err;
	}
	return fd;
}

int netns_enter(int fd)
{
	return setns(fd, CLONE_NEWNET) < 0 ? -errno : 0;
}
