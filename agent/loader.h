/* Loading the datapath: maps pinned by name under the bpffs root (reused when already there),
 * programs pinned under <root>/programs for weir-cni to attach. */
#ifndef WEIR_AGENT_LOADER_H
#define WEIR_AGENT_LOADER_H

#include <stddef.h>

struct pod_bpf;

/* Returns the loaded skeleton or NULL with errbuf naming the failed step. */
struct pod_bpf *datapath_load(const char *bpffs, char *errbuf, size_t errlen);
void datapath_unload(struct pod_bpf *skeleton);

#endif
