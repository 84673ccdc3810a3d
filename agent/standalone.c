/* Standalone manifests. Every reload parses the whole folder first and only then replaces the
 * store's content (mark and sweep per kind), so a half-edited file never produces a half-applied
 * view. Reloads are debounced: editors and `cp` write in several steps. */
#include "standalone.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "atomic_file.h"
#include "log.h"
#include "yaml_json.h"

#define RELOAD_DEBOUNCE_MS 30

struct standalone_source {
	char directory[512];
	struct object_store *store;
	struct reconciler *reconciler;
	int inotify_fd;
	uint64_t reload_at_ms; /* 0: none scheduled */
	bool synced;
};

struct standalone_source *standalone_open(const char *directory, struct object_store *store,
					  struct reconciler *reconciler, char *errbuf,
					  size_t errlen)
{
	struct standalone_source *source = calloc(1, sizeof(*source));

	if (!source) {
		snprintf(errbuf, errlen, "allocate the standalone source: out of memory");
		return NULL;
	}
	snprintf(source->directory, sizeof(source->directory), "%s", directory);
	source->store = store;
	source->reconciler = reconciler;
	source->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (source->inotify_fd < 0 ||
	    inotify_add_watch(source->inotify_fd, directory,
			      IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE) <
		    0) {
		snprintf(errbuf, errlen, "watch --standalone folder %s: %s", directory,
			 strerror(errno));
		standalone_close(source);
		return NULL;
	}
	return source;
}

void standalone_close(struct standalone_source *source)
{
	if (!source)
		return;
	if (source->inotify_fd >= 0)
		close(source->inotify_fd);
	free(source);
}

int standalone_fd(const struct standalone_source *source)
{
	return source->inotify_fd;
}

void standalone_handle_events(struct standalone_source *source, uint64_t now_ms)
{
	char buffer[8192] __attribute__((aligned(8)));

	while (read(source->inotify_fd, buffer, sizeof(buffer)) > 0)
		;
	source->reload_at_ms = now_ms + RELOAD_DEBOUNCE_MS;
}

long standalone_timeout_ms(const struct standalone_source *source, uint64_t now_ms)
{
	if (!source->reload_at_ms)
		return -1;
	return source->reload_at_ms > now_ms ? (long)(source->reload_at_ms - now_ms) : 0;
}

bool standalone_synced(const struct standalone_source *source)
{
	return source->synced;
}

static bool manifest_name(const char *name)
{
	size_t length = strlen(name);

	if (name[0] == '.')
		return false; /* hidden and temp files of atomic writers */
	return (length > 5 && strcmp(name + length - 5, ".yaml") == 0) ||
	       (length > 4 && strcmp(name + length - 4, ".yml") == 0) ||
	       (length > 5 && strcmp(name + length - 5, ".json") == 0);
}

/* Moves every object of document (a single object or a List) into objects. */
static void collect_objects(cJSON *document, cJSON *objects)
{
	const cJSON *kind = cJSON_GetObjectItemCaseSensitive(document, "kind");
	cJSON *item;

	if (cJSON_IsString(kind) && strlen(kind->valuestring) >= 4 &&
	    strcmp(kind->valuestring + strlen(kind->valuestring) - 4, "List") == 0) {
		cJSON *items = cJSON_GetObjectItemCaseSensitive(document, "items");
		while (items && (item = cJSON_DetachItemFromArray(items, 0)))
			collect_objects(item, objects);
		cJSON_Delete(document);
		return;
	}
	cJSON_AddItemToArray(objects, document);
}

static int read_folder(struct standalone_source *source, cJSON *objects, char *errbuf,
		       size_t errlen)
{
	DIR *directory = opendir(source->directory);
	struct dirent *entry;
	int result = 0;

	if (!directory) {
		snprintf(errbuf, errlen, "open --standalone folder %s: %s", source->directory,
			 strerror(errno));
		return -1;
	}
	while ((entry = readdir(directory)) && result == 0) {
		char path[1024], problem[256];
		size_t length;
		char *text;
		cJSON *documents, *document;

		if (!manifest_name(entry->d_name))
			continue;
		snprintf(path, sizeof(path), "%s/%s", source->directory, entry->d_name);
		text = file_read_all(path, &length);
		if (!text) {
			if (errno == ENOENT)
				continue; /* removed while we read the folder */
			snprintf(errbuf, errlen, "read manifest %s: %s", path, strerror(errno));
			result = -1;
			break;
		}
		documents = yaml_parse_documents(text, length, problem, sizeof(problem));
		free(text);
		if (!documents) {
			snprintf(errbuf, errlen, "manifest %s: %s", path, problem);
			result = -1;
			break;
		}
		while ((document = cJSON_DetachItemFromArray(documents, 0))) {
			if (cJSON_IsObject(document))
				collect_objects(document, objects);
			else
				cJSON_Delete(document);
		}
		cJSON_Delete(documents);
	}
	closedir(directory);
	return result;
}

struct removal_note {
	struct reconciler *reconciler;
	enum kube_kind kind;
};

static void note_removed(cJSON *object, void *opaque)
{
	struct removal_note *note = opaque;

	reconciler_note(note->reconciler, note->kind, object);
}

/* The API server labels every namespace with its name; manifests get the same. */
static void label_namespace_name(cJSON *namespace_object)
{
	cJSON *metadata = cJSON_GetObjectItemCaseSensitive(namespace_object, "metadata");
	cJSON *labels = cJSON_GetObjectItemCaseSensitive(metadata, "labels");
	const char *name = object_name(namespace_object);

	if (!metadata || !name)
		return;
	if (!cJSON_IsObject(labels)) {
		cJSON_DeleteItemFromObjectCaseSensitive(metadata, "labels");
		labels = cJSON_AddObjectToObject(metadata, "labels");
	}
	cJSON_DeleteItemFromObjectCaseSensitive(labels, "kubernetes.io/metadata.name");
	cJSON_AddStringToObject(labels, "kubernetes.io/metadata.name", name);
}

int standalone_reload_if_due(struct standalone_source *source, uint64_t now_ms, bool force,
			     char *errbuf, size_t errlen)
{
	cJSON *objects;
	size_t changed = 0;

	if (!force && (!source->reload_at_ms || source->reload_at_ms > now_ms))
		return 0;
	source->reload_at_ms = 0;
	objects = cJSON_CreateArray();
	if (!objects) {
		snprintf(errbuf, errlen, "reload manifests: out of memory");
		return -1;
	}
	if (read_folder(source, objects, errbuf, errlen) < 0) {
		cJSON_Delete(objects);
		return -1;
	}
	for (int kind = 0; kind < KIND_COUNT; kind++)
		object_store_resync_begin(source->store, (enum kube_kind)kind);
	cJSON *object;
	while ((object = cJSON_DetachItemFromArray(objects, 0))) {
		int kind = kube_kind_of(object_string(object, "kind"));
		char name_space[256], name[256];

		if (kind < 0 || !object_name(object)) {
			cJSON_Delete(object);
			continue;
		}
		if (kind == KIND_NAMESPACE)
			label_namespace_name(object);
		snprintf(name_space, sizeof(name_space), "%s", object_namespace(object));
		snprintf(name, sizeof(name), "%s", object_name(object));
		if (object_store_put(source->store, (enum kube_kind)kind, object) == 1) {
			reconciler_note(source->reconciler, (enum kube_kind)kind,
					object_store_get(source->store, (enum kube_kind)kind,
							 name_space, name));
			changed++;
		}
	}
	cJSON_Delete(objects);
	for (int kind = 0; kind < KIND_COUNT; kind++) {
		struct removal_note note = { source->reconciler, (enum kube_kind)kind };
		object_store_resync_end(source->store, (enum kube_kind)kind, note_removed, &note);
	}
	if (!source->synced || changed)
		log_info("manifests in %s loaded: %zu objects changed", source->directory, changed);
	source->synced = true;
	return 0;
}
