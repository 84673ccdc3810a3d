/* Helpers shared by the fuzz targets: failing loudly (abort, so libFuzzer and the replay driver
 * both see a crash), quiet logs, NUL-terminated copies of inputs, private temp folders, and the
 * pass that puts Kubernetes objects in a store and compiles every pod's policy with invariant
 * checks. Nothing here is product code; the targets link the product sources unchanged. */
#ifndef WEIR_FUZZ_SUPPORT_H
#define WEIR_FUZZ_SUPPORT_H

#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

#include "object_store.h"

/* libFuzzer's entry points; the replay driver calls them too. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Prints where and why, then aborts. */
void fuzz_fail(const char *file, int line, const char *condition, const char *format, ...)
    __attribute__((noreturn, format(printf, 4, 5)));

#define FUZZ_CHECK(condition, ...)                                                                 \
	do {                                                                                       \
		if (!(condition))                                                                  \
			fuzz_fail(__FILE__, __LINE__, #condition, __VA_ARGS__);                    \
	} while (0)

/* Silences product logging (every level) unless WEIR_FUZZ_LOG is set in the environment. */
void fuzz_quiet_logs(void);

/* A heap copy of the input with a NUL after it; the caller frees it. */
char *fuzz_text(const uint8_t *data, size_t size);

/* Writes data to path (created 0600, truncated). Aborts on failure: the target cannot go on. */
void fuzz_write_file(const char *path, const void *data, size_t size);

/* Creates a private folder under $TMPDIR (default /dev/shm, else /tmp) named
 * weir-fuzz-<what>-XXXXXX and removes it with everything in it when the process that created it
 * exits. Returns a static string owned by the helper. */
const char *fuzz_temp_dir(const char *what);
/* Removes path and everything below it (no symlink is followed). */
void fuzz_remove_tree(const char *path);

/* Moves the process into a private network namespace (lo up, a veth weirfuzz0 with
 * 172.18.0.1/16 so kind-like Node addresses are on-link: routes the agent adds stay private),
 * mounts a fresh bpffs in a private mount namespace (unshare(CLONE_NEWNS), "/" made recursively
 * private first), so nothing pinned there is visible to other processes or outlives this one,
 * and loads the datapath skeleton with its maps pinned there by name, as the agent's
 * loader does (datapath_open works on the folder), with hash maps shrunk to a few thousand
 * entries so emptying them stays cheap. Returns the bpffs folder; *skeleton gets the loaded
 * skeleton, owned by the helper for the life of the process. Needs root. */
struct pod_bpf;
const char *fuzz_datapath_load(struct pod_bpf **skeleton);
/* Deletes every entry of a hash, LRU or LPM map; an array map has its values zeroed; per-CPU
 * arrays and ring buffers are left alone. */
void fuzz_map_clear(int fd);

/* Puts every object of documents (a cJSON array as yaml_parse_documents returns; "*List"
 * documents are expanded into their items) into store under its kind, the way both agent
 * sources do; objects of other kinds are dropped. Consumes documents. Returns the number of
 * objects the store accepted. */
size_t fuzz_store_documents(struct object_store *store, cJSON *documents);

#define FUZZ_NODE_NAME "node-1"

/* A small cluster: namespaces "default" and "prod", node "node-1" (172.18.0.2), pods
 * default/web (app=web, 10.244.0.5, named port http=80), default/client (role=client,
 * 10.244.0.6), prod/db (app=db, 10.244.1.7 on node-2, named port pg=5432), and the policy
 * prod/default-deny (all pods of prod, ingress). */
void fuzz_store_base_cluster(struct object_store *store);
/* The same cluster as one JSON List document. */
const char *fuzz_base_cluster_json(void);

/* One compiler pass over the store, as the reconciler runs it (id table passes, CIDR marking,
 * identities of every pod, compile_endpoint for every pod), checking on every compiled endpoint:
 *   - compile_endpoint succeeds (it only fails out of memory);
 *   - entries are sorted by key and unique, belong to the endpoint, are ALLOW verdicts with a
 *     rule id that the rules table names "policy ...", a prefix length of 80-96 whose port bits
 *     beyond the prefix are zero, a known protocol (0, TCP, UDP, SCTP) and, for protocol 0, no
 *     port; a peer identity that is reserved or allocated in this pass;
 *   - a direction with entries is isolated, and isolation rule ids are named "isolated by ...";
 *   - compiling the same pod again gives the same result (determinism).
 * Aborts on a violation. At most max_pods pods are compiled (0: all). */
void fuzz_compile_pods(struct object_store *store, const char *node_name, size_t max_pods);

#endif
