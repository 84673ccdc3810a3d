/* GC: remove every attachment not in cni.dev/valid-attachments: IPAM allocations, endpoint
 * records (with their map entries) and weir veths that no attachment accounts for. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "endpoint_record.h"
#include "ipam.h"
#include "netlink.h"
#include "pod_wiring.h"

#define GC_MAX_ATTACHMENTS 65536

struct attachment {
	char container_id[256];
	char ifname[16];
};

struct attachment_list {
	struct attachment *items;
	size_t count;
	size_t capacity;
};

static bool attachment_listed(const struct attachment_list *list, const char *container_id,
			      const char *ifname)
{
	for (size_t i = 0; i < list->count; i++) {
		if (strcmp(list->items[i].container_id, container_id) == 0 &&
		    strcmp(list->items[i].ifname, ifname) == 0)
			return true;
	}
	return false;
}

static int attachment_append(struct attachment_list *list, const char *container_id,
			     const char *ifname)
{
	if (attachment_listed(list, container_id, ifname))
		return 0;
	if (list->count == list->capacity) {
		size_t capacity = list->capacity ? list->capacity * 2 : 64;
		struct attachment *grown;

		if (capacity > GC_MAX_ATTACHMENTS)
			return -1;
		grown = realloc(list->items, capacity * sizeof(*grown));
		if (!grown)
			return -1;
		list->items = grown;
		list->capacity = capacity;
	}
	snprintf(list->items[list->count].container_id, sizeof(list->items[0].container_id), "%s",
		 container_id);
	snprintf(list->items[list->count].ifname, sizeof(list->items[0].ifname), "%s", ifname);
	list->count++;
	return 0;
}

static int valid_attachments_read(cJSON *array, struct attachment_list *valid,
				  struct cni_error *err)
{
	cJSON *item;

	cJSON_ArrayForEach(item, array)
	{
		cJSON *container_id = cJSON_GetObjectItemCaseSensitive(item, "containerID");
		cJSON *ifname = cJSON_GetObjectItemCaseSensitive(item, "ifname");

		if (!cJSON_IsString(container_id) || !cJSON_IsString(ifname))
			return cni_error_set(err, CNI_ERR_DECODE,
					     "cni.dev/valid-attachments entries need string "
					     "\"containerID\" and \"ifname\"");
		if (attachment_append(valid, container_id->valuestring, ifname->valuestring) < 0)
			return cni_error_set(err, CNI_ERR_IO, "too many valid attachments");
	}
	return 0;
}

struct gc_scan {
	const struct attachment_list *valid;
	struct attachment_list stale;
};

static int collect_stale_allocation(const struct ipam_allocation *allocation, void *opaque)
{
	struct gc_scan *scan = opaque;

	if (!attachment_listed(scan->valid, allocation->container_id, allocation->ifname))
		attachment_append(&scan->stale, allocation->container_id, allocation->ifname);
	return 0;
}

static void collect_stale_record(const struct endpoint_record *record, void *opaque)
{
	struct gc_scan *scan = opaque;

	if (!attachment_listed(scan->valid, record->container_id, record->ifname))
		attachment_append(&scan->stale, record->container_id, record->ifname);
}

struct veth_scan {
	char (*keep)[16];
	size_t keep_count;
	struct nl_sock *sock;
	int failures;
};

static void delete_unaccounted_veth(const char *name, int ifindex, void *opaque)
{
	struct veth_scan *scan = opaque;
	char errbuf[256];

	(void)ifindex;
	for (size_t i = 0; i < scan->keep_count; i++) {
		if (strcmp(scan->keep[i], name) == 0)
			return;
	}
	if (link_delete(scan->sock, name, errbuf, sizeof(errbuf)) < 0)
		scan->failures++;
}

static int keep_allocation_veth(const struct ipam_allocation *allocation, void *opaque)
{
	struct attachment_list *owners = opaque;

	attachment_append(owners, allocation->container_id, allocation->ifname);
	return 0;
}

int cmd_gc(const struct cni_config *config, struct cni_error *err)
{
	struct attachment_list valid = { 0 }, owners = { 0 };
	struct gc_scan scan = { &valid, { 0 } };
	struct veth_scan veths = { 0 };
	struct ipam ipam;
	char errbuf[512];
	int result = -1;

	if (cni_version_compare(config->cni_version, "1.1.0") < 0)
		return cni_error_set(err, CNI_ERR_INCOMPATIBLE_VERSION,
				     "GC needs cniVersion 1.1.0, the config has %s",
				     config->cni_version);
	if (valid_attachments_read(config->valid_attachments, &valid, err) < 0)
		goto out;
	if (ipam_open_locked(&ipam, config->state_dir, errbuf, sizeof(errbuf)) < 0) {
		cni_error_set(err, CNI_ERR_IO, "%s", errbuf);
		goto out;
	}
	ipam_for_each(&ipam, collect_stale_allocation, &scan);
	endpoint_record_for_each(config->state_dir, collect_stale_record, &scan);
	for (size_t i = 0; i < scan.stale.count; i++) {
		if (pod_wiring_remove(config, &ipam, scan.stale.items[i].container_id,
				      scan.stale.items[i].ifname, 0, err) < 0) {
			ipam_close(&ipam);
			goto out;
		}
	}

	/* Veths left by crashed ADDs: keep those of valid attachments and of any allocation still
	 * held (an ADD may be running right now); delete the other weir veths. */
	for (size_t i = 0; i < valid.count; i++)
		attachment_append(&owners, valid.items[i].container_id, valid.items[i].ifname);
	ipam_for_each(&ipam, keep_allocation_veth, &owners);
	veths.keep = calloc(owners.count + 1, sizeof(*veths.keep));
	if (!veths.keep) {
		ipam_close(&ipam);
		cni_error_set(err, CNI_ERR_IO, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < owners.count; i++)
		host_veth_name(owners.items[i].container_id, owners.items[i].ifname, veths.keep[i]);
	veths.keep_count = owners.count;
	veths.sock = netlink_open(errbuf, sizeof(errbuf));
	if (!veths.sock) {
		ipam_close(&ipam);
		cni_error_set(err, WEIR_ERR_KERNEL, "%s", errbuf);
		goto out;
	}
	veth_for_each(veths.sock, WEIR_HOST_VETH_PREFIX, delete_unaccounted_veth, &veths);
	netlink_close(veths.sock);
	ipam_close(&ipam);
	if (veths.failures) {
		cni_error_set(err, WEIR_ERR_KERNEL, "could not delete %d stale weir veths",
			      veths.failures);
		goto out;
	}
	result = 0;
out:
	free(valid.items);
	free(owners.items);
	free(scan.stale.items);
	free(veths.keep);
	return result;
}
