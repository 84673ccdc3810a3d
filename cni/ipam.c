/* Host-local IPAM. An allocation is the file ipam/<address> holding "<container id>\n<ifname>";
 * ipam/last_reserved remembers where the previous search stopped so that a released address
 * is not reused at once (a late packet for the old pod must not reach the new one). Every
 * operation runs under the exclusive flock on ipam/lock. */
#include "ipam.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "atomic_file.h"

int ipam_open_locked(struct ipam *ipam, const char *state_dir, char *errbuf, size_t errlen)
{
	char lock_path[600], keys[600];
	int err;

	ipam->lock_fd = -1;
	snprintf(ipam->directory, sizeof(ipam->directory), "%s/ipam", state_dir);
	snprintf(keys, sizeof(keys), "%s/keys", ipam->directory);
	err = directory_create(keys, 0700);
	if (err < 0) {
		snprintf(errbuf, errlen, "create IPAM folder %s: %s", keys, strerror(-err));
		return err;
	}
	snprintf(lock_path, sizeof(lock_path), "%s/lock", ipam->directory);
	ipam->lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (ipam->lock_fd < 0) {
		err = -errno;
		snprintf(errbuf, errlen, "open IPAM lock %s: %s", lock_path, strerror(errno));
		return err;
	}
	while (flock(ipam->lock_fd, LOCK_EX) < 0) {
		if (errno == EINTR)
			continue;
		err = -errno;
		snprintf(errbuf, errlen, "lock %s: %s", lock_path, strerror(errno));
		close(ipam->lock_fd);
		ipam->lock_fd = -1;
		return err;
	}
	return 0;
}

void ipam_close(struct ipam *ipam)
{
	if (ipam->lock_fd >= 0)
		close(ipam->lock_fd); /* closing drops the flock */
	ipam->lock_fd = -1;
}

uint32_t ipam_first_address(const struct ipv4_prefix *subnet)
{
	return subnet->network + 2; /* .0 is the network, .1 the node's gateway address */
}

uint32_t ipam_last_address(const struct ipv4_prefix *subnet)
{
	return ipv4_prefix_broadcast(subnet) - 1;
}

static int allocation_read(const char *directory, const char *name,
			   struct ipam_allocation *allocation)
{
	char path[800];
	char *content, *newline;

	if (ipv4_address_parse(name, &allocation->address) < 0)
		return -EINVAL;
	snprintf(path, sizeof(path), "%s/%s", directory, name);
	content = file_read_all(path, NULL);
	if (!content)
		return -errno;
	newline = strchr(content, '\n');
	if (!newline || strlen(content) >= sizeof(allocation->container_id)) {
		free(content);
		return -EINVAL;
	}
	*newline = '\0';
	strcpy(allocation->container_id, content);
	snprintf(allocation->ifname, sizeof(allocation->ifname), "%.15s", newline + 1);
	allocation->ifname[strcspn(allocation->ifname, "\n")] = '\0';
	free(content);
	return 0;
}

int ipam_for_each(struct ipam *ipam, int (*visit)(const struct ipam_allocation *, void *),
		  void *context)
{
	DIR *directory = opendir(ipam->directory);
	struct dirent *entry;
	int result = 0;

	if (!directory)
		return -errno;
	while ((entry = readdir(directory))) {
		struct ipam_allocation allocation;

		if (allocation_read(ipam->directory, entry->d_name, &allocation) < 0)
			continue; /* lock, last_reserved, temp files */
		result = visit(&allocation, context);
		if (result)
			break;
	}
	closedir(directory);
	return result < 0 ? result : 0;
}

static void key_path(const struct ipam *ipam, const char *container_id, const char *ifname,
		     char *path, size_t size)
{
	snprintf(path, size, "%s/keys/%s:%s", ipam->directory, container_id, ifname);
}

int ipam_find(struct ipam *ipam, const char *container_id, const char *ifname, uint32_t *address)
{
	struct ipam_allocation owner;
	char path[900], text[16];
	char *content;

	key_path(ipam, container_id, ifname, path, sizeof(path));
	content = file_read_all(path, NULL);
	if (!content)
		return -ENOENT;
	snprintf(text, sizeof(text), "%.15s", content);
	text[strcspn(text, "\n")] = '\0';
	free(content);
	/* The key is a hint; the address file is the truth (a crash may separate the two). */
	if (allocation_read(ipam->directory, text, &owner) < 0 ||
	    strcmp(owner.container_id, container_id) != 0 || strcmp(owner.ifname, ifname) != 0)
		return -ENOENT;
	*address = owner.address;
	return 0;
}

static void address_path(const struct ipam *ipam, uint32_t address, char *path, size_t size)
{
	char text[16];

	snprintf(path, size, "%s/%s", ipam->directory, ipv4_address_format(address, text));
}

static uint32_t last_reserved_read(const struct ipam *ipam)
{
	char path[600];
	char *content;
	uint32_t address = 0;

	snprintf(path, sizeof(path), "%s/last_reserved", ipam->directory);
	content = file_read_all(path, NULL);
	if (content) {
		content[strcspn(content, "\n")] = '\0';
		if (ipv4_address_parse(content, &address) < 0)
			address = 0;
		free(content);
	}
	return address;
}

int ipam_allocate(struct ipam *ipam, const struct ipv4_prefix *subnet, const char *container_id,
		  const char *ifname, uint32_t *address, char *errbuf, size_t errlen)
{
	uint32_t first = ipam_first_address(subnet), last = ipam_last_address(subnet);
	uint32_t candidate, start, last_reserved;
	char path[600], owner[300], text[16];
	int err;

	if (ipam_find(ipam, container_id, ifname, address) == 0)
		return 0;
	last_reserved = last_reserved_read(ipam);
	start = (last_reserved >= first && last_reserved < last) ? last_reserved + 1 : first;
	candidate = start;
	do {
		address_path(ipam, candidate, path, sizeof(path));
		if (access(path, F_OK) < 0 && errno == ENOENT) {
			char key[900];
			int length = snprintf(owner, sizeof(owner), "%s\n",
					      ipv4_address_format(candidate, text));
			/* Key first: a crash before the address file leaves only a stale hint. */
			key_path(ipam, container_id, ifname, key, sizeof(key));
			err = atomic_file_write(key, owner, (size_t)length, 0600, errbuf, errlen);
			if (err < 0)
				return err;
			length = snprintf(owner, sizeof(owner), "%s\n%s\n", container_id, ifname);
			err = atomic_file_write(path, owner, (size_t)length, 0600, errbuf, errlen);
			if (err < 0) {
				unlink(key);
				return err;
			}
			snprintf(path, sizeof(path), "%s/last_reserved", ipam->directory);
			length = snprintf(owner, sizeof(owner), "%s\n",
					  ipv4_address_format(candidate, text));
			/* Losing the round-robin hint is harmless; the allocation itself is made. */
			atomic_file_write(path, owner, (size_t)length, 0600, errbuf, errlen);
			*address = candidate;
			return 0;
		}
		candidate = candidate == last ? first : candidate + 1;
	} while (candidate != start);
	snprintf(errbuf, errlen, "all %u addresses of %s/%u are allocated", last - first + 1,
		 ipv4_address_format(subnet->network, text), subnet->length);
	return -ENOSPC;
}

int ipam_release(struct ipam *ipam, const char *container_id, const char *ifname)
{
	uint32_t address;
	char path[900];

	if (ipam_find(ipam, container_id, ifname, &address) == 0) {
		address_path(ipam, address, path, sizeof(path));
		if (unlink(path) < 0 && errno != ENOENT)
			return -errno;
	}
	key_path(ipam, container_id, ifname, path, sizeof(path));
	if (unlink(path) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}
