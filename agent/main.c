/* weir-agent: one per node. Mounts the bpffs, loads and pins the datapath, publishes the node's
 * pod CIDR and the CNI config, then serves its control socket and metrics from one poll loop
 * until SIGTERM, after which every pin and attachment stays in place for the pods. */
#include <errno.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "abi.h"
#include "control_socket.h"
#include "datapath.h"
#include "endpoint_record.h"
#include "kernel_features.h"
#include "loader.h"
#include "log.h"
#include "metrics_server.h"
#include "node_state.h"
#include "options.h"
#include "pod.skel.h"
#include "tc.h"

struct reattach_context {
	int from_pod_fd;
	int to_pod_fd;
	int count;
};

/* After an upgrade the pods' veths still run the old programs; move them to the new ones. */
static void reattach_endpoint(const struct endpoint_record *record, void *opaque)
{
	struct reattach_context *context = opaque;
	unsigned ifindex = if_nametoindex(record->host_ifname);
	char errbuf[256];

	if (ifindex == 0 || (int)ifindex != record->host_ifindex)
		return;
	if (tc_attach_pod_programs((int)ifindex, context->from_pod_fd, context->to_pod_fd, errbuf,
				   sizeof(errbuf)) < 0)
		log_warn("re-attach programs for pod %s/%s: %s", record->pod_namespace,
			 record->pod_name, errbuf);
	else
		context->count++;
}

static int signals_open(void)
{
	sigset_t signals;

	sigemptyset(&signals);
	sigaddset(&signals, SIGTERM);
	sigaddset(&signals, SIGINT);
	sigaddset(&signals, SIGPIPE);
	if (sigprocmask(SIG_BLOCK, &signals, NULL) < 0)
		return -errno;
	return signalfd(-1, &signals, SFD_CLOEXEC | SFD_NONBLOCK);
}

int main(int argc, char **argv)
{
	struct agent_options options;
	struct pod_bpf *skeleton;
	struct agent_status status = { 0 };
	char errbuf[512], network[16], pod_cidr[24];
	int signal_fd, control_fd, metrics_fd = -1;
	int parsed = agent_options_parse(argc, argv, &options);

	if (parsed != 0)
		return parsed > 0 ? 0 : 2;
	log_setup("weir-agent", stderr, LOG_LEVEL_INFO);
	if (options.kubeconfig || options.standalone_dir) {
		log_error("%s: Kubernetes object sources are not implemented in this build; run "
			  "with --pod-cidr",
			  options.kubeconfig ? "--kubeconfig" : "--standalone");
		return 2;
	}
	if (!options.has_pod_cidr) {
		log_error("no pod CIDR for node %s: pass --pod-cidr", options.node_name);
		return 2;
	}
	snprintf(pod_cidr, sizeof(pod_cidr), "%s/%u",
		 ipv4_address_format(options.pod_cidr.network, network), options.pod_cidr.length);

	signal_fd = signals_open();
	if (signal_fd < 0) {
		log_error("block signals: %s", strerror(-signal_fd));
		return 1;
	}
	if (kernel_features_check(errbuf, sizeof(errbuf)) < 0) {
		log_error("%s", errbuf);
		return 1;
	}
	if (bpffs_ensure_mounted(options.bpffs, errbuf, sizeof(errbuf)) < 0) {
		log_error("%s", errbuf);
		return 1;
	}
	skeleton = datapath_load(options.bpffs, errbuf, sizeof(errbuf));
	if (!skeleton) {
		log_error("%s", errbuf);
		return 1;
	}
	log_info("datapath loaded and pinned under %s (ABI %d)", options.bpffs, WEIR_ABI_VERSION);

	struct reattach_context reattach = { bpf_program__fd(skeleton->progs.from_pod),
					     bpf_program__fd(skeleton->progs.to_pod), 0 };
	endpoint_record_for_each(options.state_dir, reattach_endpoint, &reattach);
	if (reattach.count)
		log_info("moved %d existing endpoints to the loaded programs", reattach.count);

	if (node_state_write(&options, errbuf, sizeof(errbuf)) < 0) {
		log_error("%s", errbuf);
		goto fail;
	}
	control_fd = control_socket_listen(options.state_dir, errbuf, sizeof(errbuf));
	if (control_fd < 0) {
		log_error("%s", errbuf);
		goto fail;
	}
	if (options.metrics_addr) {
		metrics_fd = metrics_server_listen(options.metrics_addr, errbuf, sizeof(errbuf));
		if (metrics_fd < 0) {
			log_error("%s", errbuf);
			control_socket_close(control_fd, options.state_dir);
			goto fail;
		}
	}
	/* The CNI config goes last: the runtime starts creating pods as soon as it appears. */
	if (cni_conflist_write(&options, errbuf, sizeof(errbuf)) < 0) {
		log_error("%s", errbuf);
		control_socket_close(control_fd, options.state_dir);
		goto fail;
	}
	status = (struct agent_status){ true, options.node_name, pod_cidr, options.bpffs,
					(long)time(NULL) };
	log_info("ready: node %s, pod CIDR %s, CNI config in %s/%s", options.node_name, pod_cidr,
		 options.cni_conf_dir, WEIR_CNI_CONFLIST_NAME);

	for (;;) {
		struct pollfd watched[3] = {
			{ .fd = signal_fd, .events = POLLIN },
			{ .fd = control_fd, .events = POLLIN },
			{ .fd = metrics_fd, .events = POLLIN },
		};
		int count = poll(watched, metrics_fd >= 0 ? 3 : 2, -1);

		if (count < 0) {
			if (errno == EINTR)
				continue;
			log_error("poll: %s", strerror(errno));
			break;
		}
		if (watched[0].revents & POLLIN) {
			struct signalfd_siginfo info;
			if (read(signal_fd, &info, sizeof(info)) == sizeof(info) &&
			    info.ssi_signo != SIGPIPE) {
				log_info("signal %u: shutting down, datapath stays in place",
					 info.ssi_signo);
				break;
			}
		}
		if (watched[1].revents & POLLIN)
			control_socket_serve_one(control_fd, &status);
		if (metrics_fd >= 0 && (watched[2].revents & POLLIN))
			metrics_server_serve_one(metrics_fd, options.bpffs, options.state_dir,
						 status.ready);
	}
	control_socket_close(control_fd, options.state_dir);
	if (metrics_fd >= 0)
		close(metrics_fd);
	datapath_unload(skeleton);
	close(signal_fd);
	return 0;
fail:
	datapath_unload(skeleton);
	return 1;
}
