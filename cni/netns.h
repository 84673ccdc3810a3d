/* Entering a pod's network namespace and coming back. weir-cni is single-threaded, so setns()
 * switches the whole process; every enter is paired with a return to the host namespace. */
#ifndef WEIR_CNI_NETNS_H
#define WEIR_CNI_NETNS_H

#include <stddef.h>

/* Opens path and checks it is a network namespace. Returns an fd, or -errno with errbuf. */
int netns_open(const char *path, char *errbuf, size_t errlen);
/* The current (host) namespace. */
int netns_open_current(char *errbuf, size_t errlen);
/* setns(fd, CLONE_NEWNET). Returns 0 or -errno. */
int netns_enter(int fd);

#endif
