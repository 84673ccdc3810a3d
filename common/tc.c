/* TC attachment through libbpf's netlink helpers (cls_bpf in direct-action mode under clsact),
 * which kernels from 5.10 on support; tcx links would need 6.6. */
#include "tc.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#define WEIR_TC_HANDLE 1
#define WEIR_TC_PRIORITY 1

static int attach_one(int ifindex, enum bpf_tc_attach_point point, int prog_fd, char *errbuf,
		      size_t errlen)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = point);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = WEIR_TC_HANDLE,
			    .priority = WEIR_TC_PRIORITY, .prog_fd = prog_fd,
			    .flags = BPF_TC_F_REPLACE);
	int err = bpf_tc_attach(&hook, &opts);

	if (err < 0) {
		snprintf(errbuf, errlen, "attach program to ifindex %d %s: %s", ifindex,
			 point == BPF_TC_INGRESS ? "ingress" : "egress", strerror(-err));
		return err;
	}
	return 0;
}

/* The clsact qdisc the hooks live under; one already there is fine. */
static int clsact_ensure(int ifindex, char *errbuf, size_t errlen)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
			    .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);
	int err = bpf_tc_hook_create(&hook);

	if (err < 0 && err != -EEXIST) {
		snprintf(errbuf, errlen, "add clsact qdisc to ifindex %d: %s", ifindex,
			 strerror(-err));
		return err;
	}
	return 0;
}

int tc_attach_pod_programs(int ifindex, int from_pod_fd, int to_pod_fd, char *errbuf,
			   size_t errlen)
{
	int err = clsact_ensure(ifindex, errbuf, errlen);

	if (err < 0)
		return err;
	err = attach_one(ifindex, BPF_TC_INGRESS, from_pod_fd, errbuf, errlen);
	if (err < 0)
		return err;
	return attach_one(ifindex, BPF_TC_EGRESS, to_pod_fd, errbuf, errlen);
}

int tc_attach_ingress(int ifindex, int prog_fd, char *errbuf, size_t errlen)
{
	int err = clsact_ensure(ifindex, errbuf, errlen);

	return err < 0 ? err : attach_one(ifindex, BPF_TC_INGRESS, prog_fd, errbuf, errlen);
}

int tc_attach_egress(int ifindex, int prog_fd, char *errbuf, size_t errlen)
{
	int err = clsact_ensure(ifindex, errbuf, errlen);

	return err < 0 ? err : attach_one(ifindex, BPF_TC_EGRESS, prog_fd, errbuf, errlen);
}

static __u32 program_id(int prog_fd)
{
	struct bpf_prog_info info;
	__u32 length = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(prog_fd, &info, &length) < 0)
		return 0;
	return info.id;
}

static bool attached_is(int ifindex, enum bpf_tc_attach_point point, int prog_fd)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = point);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = WEIR_TC_HANDLE,
			    .priority = WEIR_TC_PRIORITY);

	if (bpf_tc_query(&hook, &opts) < 0)
		return false;
	return opts.prog_id != 0 && opts.prog_id == program_id(prog_fd);
}

bool tc_pod_programs_attached(int ifindex, int from_pod_fd, int to_pod_fd, char *what,
			      size_t what_length)
{
	if (!attached_is(ifindex, BPF_TC_INGRESS, from_pod_fd)) {
		snprintf(what, what_length, "from_pod is not attached to ifindex %d ingress",
			 ifindex);
		return false;
	}
	if (!attached_is(ifindex, BPF_TC_EGRESS, to_pod_fd)) {
		snprintf(what, what_length, "to_pod is not attached to ifindex %d egress", ifindex);
		return false;
	}
	return true;
}
