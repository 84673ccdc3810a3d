/* Endpoint records as JSON files named "<container id>:<ifname>.json": ':' can appear in neither
 * part, so the name is unambiguous. Written atomically. */
#include "endpoint_record.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cJSON.h>

#include "atomic_file.h"
#include "cidr.h"
#include "mac.h"

void endpoint_record_path(const char *state_dir, const char *container_id, const char *ifname,
			  char *path, size_t size)
{
	snprintf(path, size, "%s/endpoints/%s:%s.json", state_dir, container_id, ifname);
}

int endpoint_record_write(const char *state_dir, const struct endpoint_record *record,
			  char *errbuf, size_t errlen)
{
	cJSON *object = cJSON_CreateObject();
	char path[1024], folder[600], text[18];
	char *json;
	int err;

	snprintf(folder, sizeof(folder), "%s/endpoints", state_dir);
	err = directory_create(folder, 0700);
	if (err < 0) {
		cJSON_Delete(object);
		snprintf(errbuf, errlen, "create %s: %s", folder, strerror(-err));
		return err;
	}
	cJSON_AddStringToObject(object, "containerId", record->container_id);
	cJSON_AddStringToObject(object, "ifname", record->ifname);
	cJSON_AddStringToObject(object, "netns", record->netns);
	cJSON_AddStringToObject(object, "podNamespace", record->pod_namespace);
	cJSON_AddStringToObject(object, "podName", record->pod_name);
	cJSON_AddStringToObject(object, "address", ipv4_address_format(record->address, text));
	cJSON_AddStringToObject(object, "hostIfname", record->host_ifname);
	cJSON_AddNumberToObject(object, "hostIfindex", record->host_ifindex);
	cJSON_AddStringToObject(object, "hostMac", mac_format(record->host_mac, text));
	cJSON_AddStringToObject(object, "podMac", mac_format(record->pod_mac, text));
	cJSON_AddNumberToObject(object, "endpointId", record->endpoint_id);
	json = cJSON_Print(object);
	cJSON_Delete(object);
	if (!json) {
		snprintf(errbuf, errlen, "format endpoint record: out of memory");
		return -ENOMEM;
	}
	endpoint_record_path(state_dir, record->container_id, record->ifname, path, sizeof(path));
	err = atomic_file_write(path, json, strlen(json), 0600, errbuf, errlen);
	cJSON_free(json);
	return err;
}

static int copy_string(cJSON *object, const char *key, char *out, size_t size)
{
	cJSON *item = cJSON_GetObjectItemCaseSensitive(object, key);

	if (!cJSON_IsString(item) || strlen(item->valuestring) >= size)
		return -EINVAL;
	strcpy(out, item->valuestring);
	return 0;
}

static int record_parse(const char *text, struct endpoint_record *record)
{
	cJSON *object = cJSON_Parse(text);
	char address[16], host_mac[18], pod_mac[18];
	cJSON *ifindex, *endpoint_id;
	int err = -EINVAL;

	memset(record, 0, sizeof(*record));
	if (!object)
		return -EINVAL;
	if (copy_string(object, "containerId", record->container_id, sizeof(record->container_id)) ||
	    copy_string(object, "ifname", record->ifname, sizeof(record->ifname)) ||
	    copy_string(object, "netns", record->netns, sizeof(record->netns)) ||
	    copy_string(object, "podNamespace", record->pod_namespace,
			sizeof(record->pod_namespace)) ||
	    copy_string(object, "podName", record->pod_name, sizeof(record->pod_name)) ||
	    copy_string(object, "address", address, sizeof(address)) ||
	    copy_string(object, "hostIfname", record->host_ifname, sizeof(record->host_ifname)) ||
	    copy_string(object, "hostMac", host_mac, sizeof(host_mac)) ||
	    copy_string(object, "podMac", pod_mac, sizeof(pod_mac)))
		goto out;
	ifindex = cJSON_GetObjectItemCaseSensitive(object, "hostIfindex");
	endpoint_id = cJSON_GetObjectItemCaseSensitive(object, "endpointId");
	if (!cJSON_IsNumber(ifindex) || !cJSON_IsNumber(endpoint_id) ||
	    ipv4_address_parse(address, &record->address) < 0 ||
	    mac_parse(host_mac, record->host_mac) < 0 || mac_parse(pod_mac, record->pod_mac) < 0)
		goto out;
	record->host_ifindex = ifindex->valueint;
	record->endpoint_id = (uint32_t)endpoint_id->valuedouble;
	err = 0;
out:
	cJSON_Delete(object);
	return err;
}

int endpoint_record_read(const char *state_dir, const char *container_id, const char *ifname,
			 struct endpoint_record *record)
{
	char path[1024];
	char *text;
	int err;

	endpoint_record_path(state_dir, container_id, ifname, path, sizeof(path));
	text = file_read_all(path, NULL);
	if (!text)
		return errno == ENOENT ? -ENOENT : -errno;
	err = record_parse(text, record);
	free(text);
	return err;
}

int endpoint_record_remove(const char *state_dir, const char *container_id, const char *ifname)
{
	char path[1024];

	endpoint_record_path(state_dir, container_id, ifname, path, sizeof(path));
	if (unlink(path) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

int endpoint_record_for_each(const char *state_dir,
			     void (*visit)(const struct endpoint_record *, void *), void *context)
{
	char folder[600], path[1024];
	struct dirent *entry;
	DIR *directory;

	snprintf(folder, sizeof(folder), "%s/endpoints", state_dir);
	directory = opendir(folder);
	if (!directory)
		return errno == ENOENT ? 0 : -errno;
	while ((entry = readdir(directory))) {
		size_t length = strlen(entry->d_name);
		struct endpoint_record record;
		char *text;

		if (length < 6 || strcmp(entry->d_name + length - 5, ".json") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", folder, entry->d_name);
		text = file_read_all(path, NULL);
		if (!text)
			continue;
		if (record_parse(text, &record) == 0)
			visit(&record, context);
		free(text);
	}
	closedir(directory);
	return 0;
}

struct record_array {
	struct endpoint_record *records;
	size_t count, capacity;
};

static void record_array_add(const struct endpoint_record *record, void *context)
{
	struct record_array *array = context;

	if (array->count == array->capacity) {
		size_t capacity = array->capacity ? array->capacity * 2 : 32;
		struct endpoint_record *grown = realloc(array->records, capacity * sizeof(*grown));
		if (!grown)
			return;
		array->records = grown;
		array->capacity = capacity;
	}
	array->records[array->count++] = *record;
}

struct endpoint_record *endpoint_record_load_all(const char *state_dir, size_t *count)
{
	struct record_array array = { NULL, 0, 0 };

	endpoint_record_for_each(state_dir, record_array_add, &array);
	*count = array.count;
	return array.records;
}
