/* CHECK: compare the pod's wiring in the kernel and the maps with prevResult, and name every
 * difference found, not only the first. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cidr.h"
#include "commands.h"
#include "datapath.h"
#include "endpoint_record.h"
#include "netlink.h"
#include "netns.h"
#include "pod_wiring.h"
#include "result.h"
#include "tc.h"

struct differences {
	char text[1024];
	int count;
};

static void differ(struct differences *found, const char *format, ...)
	__attribute__((format(printf, 2, 3)));

static void differ(struct differences *found, const char *format, ...)
{
	size_t used = strlen(found->text);
	va_list args;

	if (used + 3 >= sizeof(found->text))
		return;
	if (found->count++)
		used += (size_t)snprintf(found->text + used, sizeof(found->text) - used, "; ");
	va_start(args, format);
	vsnprintf(found->text + used, sizeof(found->text) - used, format, args);
	va_end(args);
}

static void check_host_side(const struct cni_config *config, const struct endpoint_record *record,
			    const struct previous_result *previous, struct differences *found)
{
	struct datapath datapath;
	struct weir_endpoint endpoint;
	struct link_info host_link;
	char errbuf[256], address[16];
	struct nl_sock *sock = netlink_open(errbuf, sizeof(errbuf));

	if (!sock) {
		differ(found, "%s", errbuf);
		return;
	}
	ipv4_address_format(previous->address, address);
	if (link_get(sock, record->host_ifname, &host_link) < 0) {
		differ(found, "host veth %s is missing", record->host_ifname);
		netlink_close(sock);
		return;
	}
	if (!(host_link.flags & 1 /* IFF_UP */))
		differ(found, "host veth %s is down", record->host_ifname);
	if (!route_present(sock, previous->address, 32, 0, host_link.ifindex))
		differ(found, "host route %s/32 dev %s is missing", address, record->host_ifname);
	if (!neighbour_present_permanent(sock, host_link.ifindex, previous->address,
					 previous->pod_mac))
		differ(found, "host neighbour %s on %s is missing or not the pod's MAC", address,
		       record->host_ifname);
	netlink_close(sock);

	if (datapath_open(&datapath, config->bpffs, errbuf, sizeof(errbuf)) < 0) {
		differ(found, "datapath maps unavailable: %s", errbuf);
		return;
	}
	if (datapath_endpoint_lookup(&datapath, previous->address, &endpoint) < 0)
		differ(found, "endpoints map has no entry for %s", address);
	else if (endpoint.host_ifindex != (uint32_t)host_link.ifindex ||
		 memcmp(endpoint.pod_mac, previous->pod_mac, 6) != 0)
		differ(found, "endpoints map entry for %s points at another interface", address);
	else if (endpoint.flags & WEIR_ENDPOINT_FLAG_PENDING)
		differ(found, "endpoint %s is still pending: weir-agent has not written its policy, "
			      "the pod is closed", address);
	datapath_close(&datapath);

	int from_pod_fd = datapath_program_open(config->bpffs, WEIR_PROG_FROM_POD, errbuf,
						sizeof(errbuf));
	int to_pod_fd = datapath_program_open(config->bpffs, WEIR_PROG_TO_POD, errbuf,
					      sizeof(errbuf));
	char what[128];
	if (from_pod_fd < 0 || to_pod_fd < 0)
		differ(found, "datapath programs unavailable: %s", errbuf);
	else if (!tc_pod_programs_attached(host_link.ifindex, from_pod_fd, to_pod_fd, what,
					   sizeof(what)))
		differ(found, "%s (%s)", what, record->host_ifname);
	if (from_pod_fd >= 0)
		close(from_pod_fd);
	if (to_pod_fd >= 0)
		close(to_pod_fd);
}

static void check_pod_side(const struct cni_environment *env, const struct endpoint_record *record,
			   const struct previous_result *previous, int pod_netns_fd,
			   int host_netns_fd, struct differences *found)
{
	struct link_info pod_link;
	struct nl_sock *sock;
	char errbuf[256], mac[18], address[16], gateway[16];

	if (netns_enter(pod_netns_fd) < 0) {
		differ(found, "enter %s: %s", env->netns, strerror(errno));
		return;
	}
	sock = netlink_open(errbuf, sizeof(errbuf));
	if (!sock) {
		differ(found, "%s", errbuf);
	} else if (link_get(sock, env->ifname, &pod_link) < 0) {
		differ(found, "interface %s is missing in %s", env->ifname, env->netns);
	} else {
		if (memcmp(pod_link.mac, previous->pod_mac, 6) != 0)
			differ(found, "%s has MAC %s, prevResult says another", env->ifname,
			       mac_format(pod_link.mac, mac));
		if (!(pod_link.flags & 1 /* IFF_UP */))
			differ(found, "%s is down", env->ifname);
		if (!address_present(sock, pod_link.ifindex, previous->address,
				     previous->prefix_length))
			differ(found, "address %s/%u is missing on %s",
			       ipv4_address_format(previous->address, address),
			       previous->prefix_length, env->ifname);
		if (!neighbour_present_permanent(sock, pod_link.ifindex, WEIR_POD_GATEWAY,
						 record->host_mac))
			differ(found, "gateway neighbour %s on %s is missing",
			       ipv4_address_format(WEIR_POD_GATEWAY, gateway), env->ifname);
		for (int i = 0; i < previous->route_count; i++) {
			if (!route_present(sock, previous->routes[i].destination,
					   previous->routes[i].prefix_length,
					   previous->routes[i].gateway, pod_link.ifindex))
				differ(found, "route %s/%u via %s is missing in %s",
				       ipv4_address_format(previous->routes[i].destination, address),
				       previous->routes[i].prefix_length,
				       ipv4_address_format(previous->routes[i].gateway, gateway),
				       env->netns);
		}
	}
	netlink_close(sock);
	if (netns_enter(host_netns_fd) < 0) {
		fprintf(stderr, "weir-cni: cannot return to the host network namespace: %s\n",
			strerror(errno));
		exit(1);
	}
}

int cmd_check(const struct cni_config *config, const struct cni_environment *env,
	      struct cni_error *err)
{
	struct differences found = { "", 0 };
	struct previous_result previous;
	struct endpoint_record record;
	int pod_netns_fd, host_netns_fd;
	char errbuf[512], address[16];

	if (previous_result_parse(config->prev_result, env->ifname, &previous, err) < 0)
		return -1;
	if (endpoint_record_read(config->state_dir, env->container_id, env->ifname, &record) < 0)
		return cni_error_set(err, WEIR_ERR_CHECK_MISMATCH,
				     "no endpoint record for %s/%s in %s", env->container_id,
				     env->ifname, config->state_dir);
	if (record.address != previous.address)
		differ(&found, "prevResult address %s is not the allocated %s",
		       ipv4_address_format(previous.address, address),
		       ipv4_address_format(record.address, errbuf));
	pod_netns_fd = netns_open(env->netns, errbuf, sizeof(errbuf));
	if (pod_netns_fd < 0)
		return cni_error_set(err, CNI_ERR_UNKNOWN_CONTAINER, "CNI_NETNS: %s", errbuf);
	host_netns_fd = netns_open_current(errbuf, sizeof(errbuf));
	if (host_netns_fd < 0) {
		close(pod_netns_fd);
		return cni_error_set(err, WEIR_ERR_KERNEL, "%s", errbuf);
	}
	check_host_side(config, &record, &previous, &found);
	check_pod_side(env, &record, &previous, pod_netns_fd, host_netns_fd, &found);
	close(pod_netns_fd);
	close(host_netns_fd);
	if (found.count)
		return cni_error_set(err, WEIR_ERR_CHECK_MISMATCH, "%s", found.text);
	return 0;
}
