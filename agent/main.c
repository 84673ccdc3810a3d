/* weir-agent: one per node. Checks the kernel, mounts the bpffs, loads and pins the datapath,
 * then runs one event loop (curl_multi_poll over the API streams plus its own descriptors:
 * signals, control socket, metrics, manifest and endpoint-record watches). Objects from the
 * API or from standalone manifests go through the reconciler into the maps; the node state and
 * the CNI config are published once the first full sync has been applied. On SIGTERM every pin
 * and attachment stays in place for the pods. */
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <curl/curl.h>

#include "abi.h"
#include "atomic_file.h"
#include "control_socket.h"
#include "ct_sweep.h"
#include "datapath_config.h"
#include "datapath.h"
#include "endpoint_record.h"
#include "flow_log.h"
#include "flow_stream.h"
#include "http_metrics.h"
#include "kernel_features.h"
#include "kube_client.h"
#include "kubeconfig.h"
#include "loader.h"
#include "log.h"
#include "metrics_server.h"
#include "node_state.h"
#include "object_store.h"
#include "options.h"
#include "otlp.h"
#include "pod.skel.h"
#include "reconciler.h"
#include "socket_lb.h"
#include "standalone.h"
#include "tc.h"

#define APPLY_RETRY_MS 1000

struct agent {
	struct agent_options options;
	struct pod_bpf *skeleton;
	struct object_store *store;
	struct reconciler *reconciler;
	struct kube_client *kube;
	struct standalone_source *standalone;
	struct flow_log *flow_log;
	struct flow_stream *flow_stream; /* the last flows, for weirctl flows */
	struct http_metrics *http_metrics;
	struct otlp_exporter *otlp; /* NULL without --otlp-endpoint */
	struct ct_sweep *ct_sweep;
	struct socket_lb_bpf *socket_lb;
	int signal_fd, control_fd, metrics_fd, records_fd;
	bool published;
	uint64_t apply_retry_at_ms;
	unsigned long failed_passes;
	char last_apply_error[512];
	char pod_cidr[24];
	long started_at;
};

static uint64_t monotonic_ms(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)now.tv_sec * 1000 + (uint64_t)now.tv_nsec / 1000000;
}

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

/* The device's first IPv4 address (network byte order), 0 when it has none. */
static uint32_t device_address(const char *device)
{
	struct ifaddrs *addresses, *entry;
	uint32_t found = 0;

	if (getifaddrs(&addresses) < 0)
		return 0;
	for (entry = addresses; entry && !found; entry = entry->ifa_next) {
		if (entry->ifa_addr && entry->ifa_addr->sa_family == AF_INET &&
		    strcmp(entry->ifa_name, device) == 0)
			found = ((struct sockaddr_in *)entry->ifa_addr)->sin_addr.s_addr;
	}
	freeifaddrs(addresses);
	return found;
}

/* NodePorts in, masquerading out, on one uplink. */
static int uplink_attach(struct pod_bpf *skeleton, const char *device, char *errbuf,
			 size_t errlen)
{
	unsigned ifindex = if_nametoindex(device);
	struct weir_uplink uplink = { .address = device_address(device) };
	__u32 key = ifindex;

	if (!ifindex) {
		snprintf(errbuf, errlen, "no such interface");
		return -1;
	}
	if (!uplink.address) {
		snprintf(errbuf, errlen, "it has no IPv4 address to masquerade to");
		return -1;
	}
	if (bpf_map_update_elem(bpf_map__fd(skeleton->maps.uplinks), &key, &uplink, BPF_ANY) < 0) {
		snprintf(errbuf, errlen, "record the uplink: %s", strerror(errno));
		return -1;
	}
	if (tc_attach_ingress((int)ifindex, bpf_program__fd(skeleton->progs.from_uplink), errbuf,
			      errlen) < 0 ||
	    tc_attach_egress((int)ifindex, bpf_program__fd(skeleton->progs.to_uplink), errbuf,
			     errlen) < 0)
		return -1;
	return 0;
}

/* libbpf's own messages go through weir's log (JSON too), as debug, except its warnings. */
static int libbpf_to_log(enum libbpf_print_level level, const char *format, va_list args)
{
	char message[1024];
	size_t length;

	vsnprintf(message, sizeof(message), format, args);
	length = strlen(message);
	while (length && message[length - 1] == '\n')
		message[--length] = '\0';
	if (level == LIBBPF_WARN)
		log_warn("libbpf: %s", message);
	else
		log_debug("libbpf: %s", message);
	return 0;
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

/* The CNI writes one record per pod; their changes are endpoint changes. */
static int records_watch_open(const char *state_dir)
{
	char folder[600];
	int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);

	snprintf(folder, sizeof(folder), "%s/endpoints", state_dir);
	if (fd < 0 || directory_create(folder, 0700) < 0 ||
	    inotify_add_watch(fd, folder, IN_MOVED_TO | IN_DELETE | IN_CLOSE_WRITE | IN_MOVED_FROM) <
		    0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static int source_open(struct agent *agent, char *errbuf, size_t errlen)
{
	struct kube_client_config config;

	if (agent->options.standalone_dir) {
		agent->standalone = standalone_open(agent->options.standalone_dir, agent->store,
						    agent->reconciler, errbuf, errlen);
		if (!agent->standalone)
			return -1;
		return standalone_reload_if_due(agent->standalone, monotonic_ms(), true, errbuf,
						errlen);
	}
	memset(&config, 0, sizeof(config));
	if (agent->options.kubeconfig
		    ? kubeconfig_load(agent->options.kubeconfig, &config, errbuf, errlen) < 0
		    : kubeconfig_in_cluster(&config, errbuf, errlen) < 0)
		return -1;
	log_info("watching the API server at %s", config.server);
	agent->kube = kube_client_new(&config, agent->store, agent->reconciler, errbuf, errlen);
	return agent->kube ? 0 : -1;
}

static bool source_synced(const struct agent *agent)
{
	return agent->standalone ? standalone_synced(agent->standalone)
				 : agent->kube && kube_client_synced(agent->kube);
}

/* The pod CIDR: --pod-cidr, else this node's Node object. */
static bool pod_cidr_known(struct agent *agent)
{
	cJSON *node;
	const char *text;
	char errbuf[128], network[16];

	if (agent->options.has_pod_cidr)
		goto known;
	node = object_store_get(agent->store, KIND_NODE, "", agent->options.node_name);
	text = node ? object_string(node, "spec.podCIDR") : NULL;
	if (!text)
		return false;
	if (ipv4_prefix_parse(text, &agent->options.pod_cidr, errbuf, sizeof(errbuf)) < 0 ||
	    agent->options.pod_cidr.length > 30 || agent->options.pod_cidr.length < 16) {
		log_error("Node %s has an unusable spec.podCIDR %s", agent->options.node_name, text);
		return false;
	}
	agent->options.has_pod_cidr = true;
known:
	snprintf(agent->pod_cidr, sizeof(agent->pod_cidr), "%s/%u",
		 ipv4_address_format(agent->options.pod_cidr.network, network),
		 agent->options.pod_cidr.length);
	return true;
}

static void publish_when_ready(struct agent *agent)
{
	char errbuf[512];
	struct reconciler_stats stats;

	reconciler_stats(agent->reconciler, &stats);
	if (agent->published || !source_synced(agent) || stats.applied_changes == 0 ||
	    !pod_cidr_known(agent))
		return;
	if (node_state_write(&agent->options, errbuf, sizeof(errbuf)) < 0 ||
	    cni_conflist_write(&agent->options, errbuf, sizeof(errbuf)) < 0) {
		log_error("%s", errbuf);
		return;
	}
	agent->published = true;
	log_info("ready: node %s, pod CIDR %s, CNI config in %s/%s", agent->options.node_name,
		 agent->pod_cidr, agent->options.cni_conf_dir, WEIR_CNI_CONFLIST_NAME);
}

static void status_fill(const struct agent *agent, struct agent_status *status)
{
	struct reconciler_stats stats;

	reconciler_stats(agent->reconciler, &stats);
	memset(status, 0, sizeof(*status));
	status->ready = agent->published;
	status->synced = source_synced(agent);
	status->node_name = agent->options.node_name;
	status->pod_cidr = agent->pod_cidr;
	status->bpffs = agent->options.bpffs;
	status->source = agent->standalone ? "standalone" : "kubernetes";
	status->resource_version = agent->kube ? kube_client_resource_version(agent->kube) : "";
	status->started_at = agent->started_at;
	status->applied_changes = stats.applied_changes;
	status->failed_passes = agent->failed_passes;
	status->last_error = agent->last_apply_error;
	status->api_server = !agent->kube ? "none"
			     : kube_client_unreachable_kinds(agent->kube) ? "unreachable"
									  : "reachable";
	status->endpoints = stats.endpoints;
	status->isolated_endpoints = stats.isolated_endpoints;
	status->identities = stats.identities;
	status->ipcache_entries = stats.ipcache_entries;
	status->policy_entries = stats.policy_entries;
	status->policy_revision = stats.policy_revision;
}

static long next_timeout(const struct agent *agent, uint64_t now)
{
	long timeout = 1000;
	long candidates[6] = {
		agent->kube ? kube_client_timeout_ms(agent->kube, now) : -1,
		agent->standalone ? standalone_timeout_ms(agent->standalone, now) : -1,
		agent->apply_retry_at_ms ? (agent->apply_retry_at_ms > now
						    ? (long)(agent->apply_retry_at_ms - now)
						    : 0)
					 : -1,
		agent->ct_sweep ? ct_sweep_timeout_ms(agent->ct_sweep, now) : -1,
		agent->otlp ? otlp_timeout_ms(agent->otlp, now) : -1,
		/* The datapath wakes the agent only for a full batch of events. */
		agent->flow_log ? WEIR_EVENTS_POLL_MS : -1,
	};

	for (int i = 0; i < 6; i++) {
		if (candidates[i] >= 0 && candidates[i] < timeout)
			timeout = candidates[i];
	}
	if (source_synced(agent) && reconciler_pending(agent->reconciler) &&
	    !agent->apply_retry_at_ms)
		timeout = 0;
	return timeout;
}

static int run(struct agent *agent)
{
	CURLM *multi = agent->kube ? kube_client_multi(agent->kube) : curl_multi_init();
	bool own_multi = !agent->kube;
	char errbuf[512];

	if (!multi) {
		log_error("curl_multi_init failed");
		return 1;
	}
	for (;;) {
		struct curl_waitfd watched[8] = {
			{ agent->signal_fd, CURL_WAIT_POLLIN, 0 },
			{ agent->control_fd, CURL_WAIT_POLLIN, 0 },
			{ agent->records_fd, CURL_WAIT_POLLIN, 0 },
			{ agent->standalone ? standalone_fd(agent->standalone) : -1, CURL_WAIT_POLLIN,
			  0 },
			{ agent->metrics_fd, CURL_WAIT_POLLIN, 0 },
			{ agent->flow_log ? flow_log_fd(agent->flow_log) : -1, CURL_WAIT_POLLIN, 0 },
			{ agent->flow_stream ? flow_stream_fd(agent->flow_stream) : -1, CURL_WAIT_POLLIN,
			  0 },
			{ agent->otlp ? otlp_fd(agent->otlp) : -1, CURL_WAIT_POLLIN, 0 },
		};
		unsigned count = 0;
		struct curl_waitfd active[8];
		uint64_t now = monotonic_ms();

		for (int i = 0; i < 8; i++) {
			if (watched[i].fd >= 0)
				active[count++] = watched[i];
		}
		curl_multi_poll(multi, active, count, (int)next_timeout(agent, now), NULL);
		now = monotonic_ms();
		for (unsigned i = 0; i < count; i++) {
			if (!(active[i].revents & CURL_WAIT_POLLIN))
				continue;
			if (active[i].fd == agent->signal_fd) {
				struct signalfd_siginfo info;
				if (read(agent->signal_fd, &info, sizeof(info)) == sizeof(info) &&
				    info.ssi_signo != SIGPIPE) {
					log_info("signal %u: shutting down, datapath stays in place",
						 info.ssi_signo);
					if (own_multi)
						curl_multi_cleanup(multi);
					return 0;
				}
			} else if (active[i].fd == agent->records_fd) {
				char buffer[4096] __attribute__((aligned(8)));
				while (read(agent->records_fd, buffer, sizeof(buffer)) > 0)
					;
				reconciler_note_endpoints(agent->reconciler);
			} else if (agent->standalone && active[i].fd == standalone_fd(agent->standalone)) {
				standalone_handle_events(agent->standalone, now);
			} else if (agent->flow_stream &&
				   active[i].fd == flow_stream_fd(agent->flow_stream)) {
				flow_stream_service(agent->flow_stream);
			}
		}
		if (agent->flow_log)
			flow_log_drain(agent->flow_log, now);
		if (agent->ct_sweep)
			ct_sweep_run(agent->ct_sweep, now);
		if (agent->otlp)
			otlp_run(agent->otlp, now);
		if (agent->kube)
			kube_client_run(agent->kube, now);
		if (agent->standalone &&
		    standalone_reload_if_due(agent->standalone, now, false, errbuf, sizeof(errbuf)) < 0)
			log_error("%s; keeping the previous state", errbuf);
		if (source_synced(agent) && reconciler_pending(agent->reconciler) &&
		    (!agent->apply_retry_at_ms || agent->apply_retry_at_ms <= now)) {
			if (reconciler_apply(agent->reconciler, errbuf, sizeof(errbuf)) < 0) {
				log_error("apply: %s; retrying", errbuf);
				agent->apply_retry_at_ms = now + APPLY_RETRY_MS;
				agent->failed_passes++;
				snprintf(agent->last_apply_error, sizeof(agent->last_apply_error), "%s",
					 errbuf);
			} else {
				agent->apply_retry_at_ms = 0;
			}
		}
		publish_when_ready(agent);
		/* Served after the apply, so a status read after a change sees its effect. */
		for (unsigned i = 0; i < count; i++) {
			if (!(active[i].revents & CURL_WAIT_POLLIN))
				continue;
			if (active[i].fd == agent->control_fd) {
				struct agent_status status;
				status_fill(agent, &status);
				control_socket_serve_one(agent->control_fd, &status, agent->flow_stream);
			} else if (active[i].fd == agent->metrics_fd) {
				struct metrics_sources sources = {
					agent->options.bpffs, agent->options.state_dir, agent->published,
					agent->kube,	      agent->flow_log,	      agent->ct_sweep,
					agent->http_metrics,  agent->otlp,	      agent->failed_passes,
				};
				metrics_server_serve_one(agent->metrics_fd, &sources);
			}
		}
	}
}

int main(int argc, char **argv)
{
	struct agent agent = { .signal_fd = -1, .control_fd = -1, .metrics_fd = -1,
			       .records_fd = -1 };
	char errbuf[512];
	int parsed = agent_options_parse(argc, argv, &agent.options), result = 1;

	if (parsed != 0)
		return parsed > 0 ? 0 : 2;
	log_setup("weir-agent", stderr, LOG_LEVEL_INFO);
	log_set_json(agent.options.log_json);
	libbpf_set_print(libbpf_to_log);
	agent.started_at = (long)time(NULL);
	curl_global_init(CURL_GLOBAL_DEFAULT);

	agent.signal_fd = signals_open();
	if (agent.signal_fd < 0) {
		log_error("block signals: %s", strerror(-agent.signal_fd));
		return 1;
	}
	if (kernel_features_check(errbuf, sizeof(errbuf)) < 0 ||
	    bpffs_ensure_mounted(agent.options.bpffs, errbuf, sizeof(errbuf)) < 0) {
		log_error("%s", errbuf);
		return 1;
	}
	agent.skeleton = datapath_load(agent.options.bpffs, errbuf, sizeof(errbuf));
	if (!agent.skeleton) {
		log_error("%s", errbuf);
		return 1;
	}
	log_info("datapath loaded and pinned under %s (ABI %d)", agent.options.bpffs,
		 WEIR_ABI_VERSION);
	{
		struct reattach_context reattach = { bpf_program__fd(agent.skeleton->progs.from_pod),
						     bpf_program__fd(agent.skeleton->progs.to_pod),
						     0 };
		endpoint_record_for_each(agent.options.state_dir, reattach_endpoint, &reattach);
		if (reattach.count)
			log_info("moved %d existing endpoints to the loaded programs", reattach.count);
	}
	if (agent.options.cgroup) {
		agent.socket_lb = socket_lb_attach(agent.options.bpffs, agent.options.cgroup, errbuf,
						   sizeof(errbuf));
		if (!agent.socket_lb) {
			log_error("%s", errbuf);
			goto out;
		}
		log_info("socket-level load balancing on cgroup %s", agent.options.cgroup);
	}
	if (agent.options.devices) {
		char list[512], *saveptr = NULL;
		snprintf(list, sizeof(list), "%s", agent.options.devices);
		for (char *device = strtok_r(list, ",", &saveptr); device;
		     device = strtok_r(NULL, ",", &saveptr)) {
			if (uplink_attach(agent.skeleton, device, errbuf, sizeof(errbuf)) < 0) {
				log_error("--devices %s: %s", device, errbuf);
				goto out;
			}
			log_info("serving NodePorts and masquerading on %s", device);
		}
	}
	/* Endpoint records, IPAM and the control socket live there: root only, also when the
	 * folder was made earlier with a wider mode. */
	if (directory_create(agent.options.state_dir, 0700) < 0 ||
	    chmod(agent.options.state_dir, 0700) < 0) {
		log_error("create --state-dir %s: %s", agent.options.state_dir, strerror(errno));
		goto out;
	}
	agent.store = object_store_new();
	agent.reconciler = agent.store ? reconciler_new(agent.store, agent.options.node_name,
							agent.options.state_dir, agent.options.bpffs,
							errbuf, sizeof(errbuf))
				       : NULL;
	if (!agent.reconciler) {
		log_error("%s", agent.store ? errbuf : "allocate the object store: out of memory");
		goto out;
	}
	agent.records_fd = records_watch_open(agent.options.state_dir);
	if (agent.records_fd < 0) {
		log_error("watch endpoint records in %s/endpoints: %s", agent.options.state_dir,
			  strerror(errno));
		goto out;
	}
	agent.flow_log = flow_log_open(agent.options.bpffs, agent.options.flow_log, agent.reconciler,
				       errbuf, sizeof(errbuf));
	if (!agent.flow_log) {
		log_error("%s", errbuf);
		goto out;
	}
	agent.flow_stream = flow_stream_new(WEIR_FLOW_STREAM_LINES, errbuf, sizeof(errbuf));
	if (!agent.flow_stream) {
		log_error("%s", errbuf);
		goto out;
	}
	flow_log_set_sink(agent.flow_log, flow_stream_publish, agent.flow_stream);
	flow_log_set_store(agent.flow_log, agent.store);
	agent.http_metrics = http_metrics_new();
	if (!agent.http_metrics) {
		log_error("allocate the HTTP metrics: out of memory");
		goto out;
	}
	flow_log_add_http_observer(agent.flow_log, http_metrics_observe, agent.http_metrics);
	if (agent.options.otlp_endpoint) {
		agent.otlp = otlp_exporter_new(agent.options.otlp_endpoint, agent.options.node_name,
					       errbuf, sizeof(errbuf));
		if (!agent.otlp) {
			log_error("%s", errbuf);
			goto out;
		}
		flow_log_add_http_observer(agent.flow_log, otlp_observe, agent.otlp);
		log_info("exporting HTTP spans to %s", agent.options.otlp_endpoint);
	}
	if (datapath_config_apply(agent.options.bpffs, &agent.options.datapath, errbuf,
				  sizeof(errbuf)) < 0) {
		log_error("%s", errbuf);
		goto out;
	}
	agent.ct_sweep = ct_sweep_open(agent.options.bpffs, agent.flow_log, errbuf, sizeof(errbuf));
	if (!agent.ct_sweep) {
		log_error("%s", errbuf);
		goto out;
	}
	if (source_open(&agent, errbuf, sizeof(errbuf)) < 0) {
		log_error("%s", errbuf);
		goto out;
	}
	agent.control_fd = control_socket_listen(agent.options.state_dir, errbuf, sizeof(errbuf));
	if (agent.control_fd < 0) {
		log_error("%s", errbuf);
		goto out;
	}
	if (agent.options.metrics_addr) {
		agent.metrics_fd =
			metrics_server_listen(agent.options.metrics_addr, errbuf, sizeof(errbuf));
		if (agent.metrics_fd < 0) {
			log_error("%s", errbuf);
			goto out;
		}
	}
	result = run(&agent);
out:
	if (agent.control_fd >= 0)
		control_socket_close(agent.control_fd, agent.options.state_dir);
	if (agent.metrics_fd >= 0)
		close(agent.metrics_fd);
	if (agent.records_fd >= 0)
		close(agent.records_fd);
	flow_log_close(agent.flow_log);
	flow_stream_free(agent.flow_stream);
	ct_sweep_close(agent.ct_sweep);
	otlp_exporter_free(agent.otlp);
	http_metrics_free(agent.http_metrics);
	socket_lb_close(agent.socket_lb);
	kube_client_free(agent.kube);
	standalone_close(agent.standalone);
	reconciler_free(agent.reconciler);
	object_store_free(agent.store);
	datapath_unload(agent.skeleton);
	close(agent.signal_fd);
	curl_global_cleanup();
	return result;
}
