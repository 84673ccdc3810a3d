/* Kernel feature probes through libbpf. Each probe loads a tiny program or creates a tiny map,
 * so the answer is the running kernel's, not a guess from its version string. */
#include "kernel_features.h"

#include <stdio.h>

#include <bpf/libbpf.h>
#include <linux/bpf.h>

int kernel_features_check(char *errbuf, size_t errlen)
{
	static const struct {
		enum bpf_map_type type;
		const char *what;
	} maps[] = {
		{ BPF_MAP_TYPE_LPM_TRIE, "BPF LPM trie maps (4.11)" },
		{ BPF_MAP_TYPE_LRU_HASH, "BPF LRU hash maps (4.10)" },
		{ BPF_MAP_TYPE_PERCPU_HASH, "BPF per-CPU hash maps (4.6)" },
		{ BPF_MAP_TYPE_RINGBUF, "the BPF ring buffer (5.8)" },
	};
	static const struct {
		enum bpf_func_id helper;
		const char *what;
	} helpers[] = {
		{ BPF_FUNC_redirect_peer, "bpf_redirect_peer for TC programs (5.10)" },
		{ BPF_FUNC_skb_change_tail, "bpf_skb_change_tail for TC programs (4.9)" },
		{ BPF_FUNC_ringbuf_reserve, "bpf_ringbuf_reserve for TC programs (5.8)" },
		{ BPF_FUNC_loop, "bpf_loop for TC programs (5.17), which reads HTTP requests" },
	};

	if (libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_SCHED_CLS, NULL) != 1) {
		snprintf(errbuf, errlen, "kernel lacks TC BPF programs (cls_bpf): cannot run weir");
		return -1;
	}
	for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]); i++) {
		if (libbpf_probe_bpf_map_type(maps[i].type, NULL) != 1) {
			snprintf(errbuf, errlen, "kernel lacks %s, which weir's datapath needs",
				 maps[i].what);
			return -1;
		}
	}
	for (size_t i = 0; i < sizeof(helpers) / sizeof(helpers[0]); i++) {
		if (libbpf_probe_bpf_helper(BPF_PROG_TYPE_SCHED_CLS, helpers[i].helper, NULL) != 1) {
			snprintf(errbuf, errlen, "kernel lacks %s, which weir's datapath needs",
				 helpers[i].what);
			return -1;
		}
	}
	return 0;
}
