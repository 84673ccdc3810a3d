/* Attaching socket-level load balancing. A pinned link per hook: on a restart the link is
 * found and its program replaced atomically (no window without translation); a first start
 * creates and pins it. */
#include "socket_lb.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "atomic_file.h"
#include "socket_lb.skel.h"

static int attach_one(struct bpf_program *program, int cgroup_fd, const char *links_folder,
		      char *errbuf, size_t errlen)
{
	char path[600];
	struct bpf_link *link;
	int err;

	snprintf(path, sizeof(path), "%s/%s", links_folder, bpf_program__name(program));
	link = bpf_link__open(path);
	if (link) {
		err = bpf_link__update_program(link, program);
		bpf_link__disconnect(link); /* the pin keeps it */
		bpf_link__destroy(link);
		if (err < 0) {
			snprintf(errbuf, errlen, "replace the program of pinned link %s: %s", path,
				 strerror(-err));
			return err;
		}
		return 0;
	}
	link = bpf_program__attach_cgroup(program, cgroup_fd);
	if (!link) {
		err = -errno;
		snprintf(errbuf, errlen, "attach %s to the cgroup: %s", bpf_program__name(program),
			 strerror(errno));
		return err;
	}
	err = bpf_link__pin(link, path);
	if (err < 0) {
		snprintf(errbuf, errlen, "pin link %s: %s", path, strerror(-err));
		bpf_link__destroy(link);
		return err;
	}
	bpf_link__disconnect(link);
	bpf_link__destroy(link);
	return 0;
}

struct socket_lb_bpf *socket_lb_attach(const char *bpffs, const char *cgroup_path, char *errbuf,
				       size_t errlen)
{
	DECLARE_LIBBPF_OPTS(bpf_object_open_opts, open_options, .pin_root_path = bpffs);
	struct socket_lb_bpf *skeleton;
	char links_folder[512];
	int cgroup_fd, err;

	cgroup_fd = open(cgroup_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cgroup_fd < 0) {
		snprintf(errbuf, errlen, "open --cgroup %s: %s", cgroup_path, strerror(errno));
		return NULL;
	}
	skeleton = socket_lb_bpf__open_opts(&open_options);
	if (!skeleton) {
		snprintf(errbuf, errlen, "open the socket load balancer: %s", strerror(errno));
		close(cgroup_fd);
		return NULL;
	}
	err = socket_lb_bpf__load(skeleton);
	if (err < 0) {
		snprintf(errbuf, errlen, "load the socket load balancer (cgroup sock_addr hooks): %s",
			 strerror(-err));
		goto fail;
	}
	snprintf(links_folder, sizeof(links_folder), "%s/links", bpffs);
	err = directory_create(links_folder, 0700);
	if (err < 0) {
		snprintf(errbuf, errlen, "create %s: %s", links_folder, strerror(-err));
		goto fail;
	}
	if (attach_one(skeleton->progs.sock_connect4, cgroup_fd, links_folder, errbuf, errlen) < 0 ||
	    attach_one(skeleton->progs.sock_sendmsg4, cgroup_fd, links_folder, errbuf, errlen) < 0 ||
	    attach_one(skeleton->progs.sock_recvmsg4, cgroup_fd, links_folder, errbuf, errlen) < 0 ||
	    attach_one(skeleton->progs.sock_getpeer4, cgroup_fd, links_folder, errbuf, errlen) < 0)
		goto fail;
	close(cgroup_fd);
	return skeleton;
fail:
	socket_lb_bpf__destroy(skeleton);
	close(cgroup_fd);
	return NULL;
}

void socket_lb_close(struct socket_lb_bpf *skeleton)
{
	if (skeleton)
		socket_lb_bpf__destroy(skeleton);
}
