/* The endpoint record: what ADD built for one attachment, kept in <stateDir>/endpoints so DEL,
 * CHECK, GC and the agent know a pod without asking the kernel or the runtime. */
#ifndef WEIR_CNI_ENDPOINT_RECORD_H
#define WEIR_CNI_ENDPOINT_RECORD_H

#include <stddef.h>
#include <stdint.h>

struct endpoint_record {
	char container_id[256];
	char ifname[16];
	char netns[512];
	char pod_namespace[256];
	char pod_name[256];
	uint32_t address; /* host byte order */
	char host_ifname[16];
	int host_ifindex;
	uint8_t host_mac[6];
	uint8_t pod_mac[6];
	uint32_t endpoint_id;
};

void endpoint_record_path(const char *state_dir, const char *container_id, const char *ifname,
			  char *path, size_t size);
int endpoint_record_write(const char *state_dir, const struct endpoint_record *record,
			  char *errbuf, size_t errlen);
/* 0, -ENOENT when there is none, or -EINVAL for a record that cannot be read. */
int endpoint_record_read(const char *state_dir, const char *container_id, const char *ifname,
			 struct endpoint_record *record);
int endpoint_record_remove(const char *state_dir, const char *container_id, const char *ifname);
/* Calls visit for every record; a record that cannot be parsed is skipped. */
int endpoint_record_for_each(const char *state_dir,
			     void (*visit)(const struct endpoint_record *, void *), void *context);
/* Every readable record in one array the caller frees; *count is 0 when there are none (or
 * memory ran out part-way: the records gathered so far are returned). */
struct endpoint_record *endpoint_record_load_all(const char *state_dir, size_t *count);

#endif
