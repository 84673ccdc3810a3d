/* The agent owns the datapath objects. open -> set pin root -> load -> pin programs, each step
 * visible; libbpf reuses maps already pinned, so a restarted agent keeps every map's content
 * (principle 3). Programs are pinned under a temporary name and renamed over the old pin, so
 * weir-cni never finds the pin missing during an upgrade. */
#include "loader.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "abi.h"
#include "atomic_file.h"
#include "datapath.h"
#include "pod.skel.h"

static int program_pin_replace(struct bpf_program *program, const char *folder, const char *name,
			       char *errbuf, size_t errlen)
{
	char final_path[512], temp_path[540];
	int err;

	snprintf(final_path, sizeof(final_path), "%s/%s", folder, name);
	/* bpffs refuses names with a dot in them. */
	snprintf(temp_path, sizeof(temp_path), "%s/%s_new_%d", folder, name, (int)getpid());
	unlink(temp_path);
	err = bpf_program__pin(program, temp_path);
	if (err < 0) {
		snprintf(errbuf, errlen, "pin program %s at %s: %s", name, temp_path,
			 strerror(-err));
		return err;
	}
	if (rename(temp_path, final_path) < 0) {
		err = -errno;
		snprintf(errbuf, errlen, "rename pinned program %s to %s: %s", temp_path, final_path,
			 strerror(errno));
		unlink(temp_path);
		return err;
	}
	return 0;
}

struct pod_bpf *datapath_load(const char *bpffs, char *errbuf, size_t errlen)
{
	DECLARE_LIBBPF_OPTS(bpf_object_open_opts, open_options, .pin_root_path = bpffs);
	char programs_folder[512];
	struct pod_bpf *skeleton;
	int err;

	/* Refused before libbpf reuses a pinned map whose sizes match but whose layout differs. */
	if (datapath_abi_check(bpffs, errbuf, errlen) < 0)
		return NULL;
	skeleton = pod_bpf__open_opts(&open_options);
	if (!skeleton) {
		snprintf(errbuf, errlen, "open the pod datapath object: %s", strerror(errno));
		return NULL;
	}
	err = pod_bpf__load(skeleton);
	if (err < 0) {
		snprintf(errbuf, errlen,
			 "load the pod datapath (maps pinned under %s): %s",
			 bpffs, strerror(-err));
		pod_bpf__destroy(skeleton);
		return NULL;
	}
	{
		__u32 key = 0, version = WEIR_ABI_VERSION;
		err = bpf_map__update_elem(skeleton->maps.abi, &key, sizeof(key), &version,
					   sizeof(version), BPF_ANY);
		if (err < 0) {
			snprintf(errbuf, errlen, "stamp the ABI version on the maps under %s: %s",
				 bpffs, strerror(-err));
			pod_bpf__destroy(skeleton);
			return NULL;
		}
	}
	snprintf(programs_folder, sizeof(programs_folder), "%s/%s", bpffs, WEIR_PROGRAMS_DIR);
	err = directory_create(programs_folder, 0700);
	if (err < 0) {
		snprintf(errbuf, errlen, "create %s: %s", programs_folder, strerror(-err));
		pod_bpf__destroy(skeleton);
		return NULL;
	}
	if (program_pin_replace(skeleton->progs.from_pod, programs_folder, WEIR_PROG_FROM_POD,
				errbuf, errlen) < 0 ||
	    program_pin_replace(skeleton->progs.to_pod, programs_folder, WEIR_PROG_TO_POD, errbuf,
				errlen) < 0 ||
	    program_pin_replace(skeleton->progs.from_uplink, programs_folder, WEIR_PROG_FROM_UPLINK,
				errbuf, errlen) < 0) {
		pod_bpf__destroy(skeleton);
		return NULL;
	}
	return skeleton;
}

void datapath_unload(struct pod_bpf *skeleton)
{
	/* Only our file descriptors go: pins and attachments stay for the pods. */
	pod_bpf__destroy(skeleton);
}
