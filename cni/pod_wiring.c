/* Pod wiring. The pod gets its address as a /32 and reaches everything through 169.254.1.1, a
 * permanent neighbour pointing at the host veth's MAC, so no ARP or bridge is involved; the
 * host reaches the pod through a /32 route over the host veth. */
#include "pod_wiring.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <cJSON.h>

#include "atomic_file.h"
#include "datapath.h"
#include "netlink.h"
#include "netns.h"
#include "tc.h"

void host_veth_name(const char *container_id, const char *ifname, char name[16])
{
	uint64_t hash = 0xcbf29ce484222325ull; /* FNV-1a 64 */
	const char *parts[2] = { container_id, ifname };

	for (int part = 0; part < 2; part++) {
		for (const char *c = parts[part]; *c; c++) {
			hash ^= (uint8_t)*c;
			hash *= 0x100000001b3ull;
		}
		hash ^= 0xff; /* separator, so ("ab","c") and ("a","bc") differ */
		hash *= 0x100000001b3ull;
	}
	snprintf(name, 16, "%s%011llx", WEIR_HOST_VETH_PREFIX,
		 (unsigned long long)(hash & 0xfffffffffffull));
}

int pod_subnet_resolve(const struct cni_config *config, struct ipv4_prefix *subnet,
		       struct cni_error *err)
{
	char path[600], errbuf[256];
	cJSON *document, *pod_cidr;
	char *text;
	int result;

	if (config->has_subnet) {
		*subnet = config->subnet;
		return 0;
	}
	snprintf(path, sizeof(path), "%s/node.json", config->state_dir);
	text = file_read_all(path, NULL);
	if (!text)
		return cni_error_set(err, CNI_ERR_TRY_AGAIN_LATER,
				     "no subnet in the network config and no node state at %s "
				     "(%s): is weir-agent running?",
				     path, strerror(errno));
	document = cJSON_Parse(text);
	free(text);
	pod_cidr = cJSON_GetObjectItemCaseSensitive(document, "podCIDR");
	if (!cJSON_IsString(pod_cidr) ||
	    ipv4_prefix_parse(pod_cidr->valuestring, subnet, errbuf, sizeof(errbuf)) < 0 ||
	    subnet->length > 30 || subnet->length < 16)
		result = cni_error_set(err, CNI_ERR_INVALID_CONFIG,
				       "node state %s has no usable podCIDR", path);
	else
		result = 0;
	cJSON_Delete(document);
	return result;
}

static void sysctl_write(const char *path, const char *value)
{
	char current[16] = "";
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		ssize_t n = read(fd, current, sizeof(current) - 1);
		close(fd);
		if (n > 0 && strncmp(current, value, strlen(value)) == 0)
			return; /* rewriting ip_forward resets per-device settings: avoid it */
	}
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (write(fd, value, strlen(value)) < 0) {
		/* Reported by the caller's checks; a missing IPv6 sysctl is expected. */
	}
	close(fd);
}

static int host_forwarding_enable(const char *host_ifname, struct cni_error *err)
{
	char path[128], current[4] = "";
	int fd;

	sysctl_write("/proc/sys/net/ipv4/ip_forward", "1");
	fd = open("/proc/sys/net/ipv4/ip_forward", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || read(fd, current, 1) != 1 || current[0] != '1') {
		if (fd >= 0)
			close(fd);
		return cni_error_set(err, WEIR_ERR_KERNEL,
				     "enable net.ipv4.ip_forward for pod traffic: not permitted");
	}
	close(fd);
	/* weir's datapath is IPv4 only: no IPv6 link-local chatter on the host veth. */
	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6", host_ifname);
	sysctl_write(path, "1");
	/* NodePort replies leave the pod with the node's own address as their source (the
	 * datapath translated them back); the host must route them instead of calling them
	 * martians. */
	snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/accept_local", host_ifname);
	sysctl_write(path, "1");
	return 0;
}

/* Inside the pod namespace: address, loopback, gateway neighbour and routes. */
static int configure_pod_side(const struct cni_environment *env, int pod_netns_fd, int host_netns_fd,
			      uint32_t address, const uint8_t host_mac[6],
			      struct endpoint_record *record, struct cni_error *err)
{
	char errbuf[512] = "";
	struct link_info pod_link;
	struct nl_sock *sock;
	int result = -1;

	if (netns_enter(pod_netns_fd) < 0)
		return cni_error_set(err, WEIR_ERR_KERNEL, "enter network namespace %s: %s",
				     env->netns, strerror(errno));
	sock = netlink_open(errbuf, sizeof(errbuf));
	if (!sock) {
		cni_error_set(err, WEIR_ERR_KERNEL, "in %s: %s", env->netns, errbuf);
		goto back;
	}
	if (link_get(sock, env->ifname, &pod_link) < 0) {
		cni_error_set(err, WEIR_ERR_KERNEL, "find %s in %s after creating it", env->ifname,
			      env->netns);
		goto back;
	}
	memcpy(record->pod_mac, pod_link.mac, 6);
	{
		/* IPv4-only network: no IPv6 chatter for the datapath to drop. */
		char path[128];
		snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6", env->ifname);
		sysctl_write(path, "1");
	}
	if (address_add(sock, pod_link.ifindex, address, 32, errbuf, sizeof(errbuf)) < 0 ||
	    link_set_up(sock, "lo", errbuf, sizeof(errbuf)) < 0 ||
	    link_set_up(sock, env->ifname, errbuf, sizeof(errbuf)) < 0 ||
	    route_replace(sock, WEIR_POD_GATEWAY, 32, 0, pod_link.ifindex, errbuf, sizeof(errbuf)) <
		    0 ||
	    neighbour_replace_permanent(sock, pod_link.ifindex, WEIR_POD_GATEWAY, host_mac, errbuf,
					sizeof(errbuf)) < 0 ||
	    route_replace(sock, 0, 0, WEIR_POD_GATEWAY, pod_link.ifindex, errbuf, sizeof(errbuf)) <
		    0) {
		cni_error_set(err, WEIR_ERR_KERNEL, "in %s: %s", env->netns, errbuf);
		goto back;
	}
	result = 0;
back:
	netlink_close(sock);
	if (netns_enter(host_netns_fd) < 0) {
		/* Continuing in the pod's namespace would wire the host side into the pod. */
		fprintf(stderr, "weir-cni: cannot return to the host network namespace: %s\n",
			strerror(errno));
		exit(1);
	}
	return result;
}

static int attach_programs(const struct cni_config *config, int ifindex, struct cni_error *err)
{
	char errbuf[512];
	int from_pod_fd = datapath_program_open(config->bpffs, WEIR_PROG_FROM_POD, errbuf,
						sizeof(errbuf));
	int to_pod_fd = -1, result = -1;

	if (from_pod_fd < 0) {
		cni_error_set(err, CNI_ERR_TRY_AGAIN_LATER, "datapath programs not loaded: %s",
			      errbuf);
		goto out;
	}
	to_pod_fd = datapath_program_open(config->bpffs, WEIR_PROG_TO_POD, errbuf, sizeof(errbuf));
	if (to_pod_fd < 0) {
		cni_error_set(err, CNI_ERR_TRY_AGAIN_LATER, "datapath programs not loaded: %s",
			      errbuf);
		goto out;
	}
	if (tc_attach_pod_programs(ifindex, from_pod_fd, to_pod_fd, errbuf, sizeof(errbuf)) < 0) {
		cni_error_set(err, WEIR_ERR_KERNEL, "%s", errbuf);
		goto out;
	}
	result = 0;
out:
	if (from_pod_fd >= 0)
		close(from_pod_fd);
	if (to_pod_fd >= 0)
		close(to_pod_fd);
	return result;
}

/* A new, non-zero generation for the pod's endpoint: its id comes from its address and is
 * reused with it, so conntrack tells pods apart by id and generation (abi.h). */
static int endpoint_generation_new(uint32_t *generation, struct cni_error *err)
{
	do {
		if (getrandom(generation, sizeof(*generation), 0) != (ssize_t)sizeof(*generation))
			return cni_error_set(err, WEIR_ERR_KERNEL,
					     "getrandom for the endpoint generation: %s",
					     strerror(errno));
	} while (*generation == 0);
	return 0;
}

/* Test hook: WEIR_CNI_TEST_KILL_AT=<step> kills the plugin right after that step of ADD, as
 * a runtime's timeout or an OOM kill would, so tests can prove DEL and GC clean up whatever a
 * dead ADD left. Steps: allocated, veth, pod-side, programs, host-routes, endpoint, record. */
static void test_kill_point(const char *step)
{
	const char *wanted = getenv("WEIR_CNI_TEST_KILL_AT");

	if (wanted && strcmp(wanted, step) == 0)
		kill(getpid(), SIGKILL);
}

void pod_wiring_test_kill_point(const char *step)
{
	test_kill_point(step);
}

int pod_wiring_create(const struct cni_config *config, const struct cni_environment *env,
		      const struct ipv4_prefix *subnet, uint32_t address,
		      struct endpoint_record *record, struct cni_error *err)
{
	int pod_netns_fd = -1, host_netns_fd = -1;
	struct nl_sock *sock = NULL;
	struct datapath datapath;
	struct weir_endpoint endpoint;
	struct link_info host_link;
	bool veth_made = false, endpoint_written = false;
	char errbuf[512];
	int result = -1;

	datapath_init(&datapath);
	memset(record, 0, sizeof(*record));
	snprintf(record->container_id, sizeof(record->container_id), "%s", env->container_id);
	snprintf(record->ifname, sizeof(record->ifname), "%s", env->ifname);
	snprintf(record->netns, sizeof(record->netns), "%s", env->netns);
	snprintf(record->pod_namespace, sizeof(record->pod_namespace), "%s", env->pod_namespace);
	snprintf(record->pod_name, sizeof(record->pod_name), "%s", env->pod_name);
	record->address = address;
	record->endpoint_id = address - subnet->network;
	host_veth_name(env->container_id, env->ifname, record->host_ifname);

	if (datapath_open(&datapath, config->bpffs, errbuf, sizeof(errbuf)) < 0)
		return cni_error_set(err, CNI_ERR_TRY_AGAIN_LATER,
				     "datapath maps not found under bpffs %s (%s): is weir-agent "
				     "running?",
				     config->bpffs, errbuf);
	pod_netns_fd = netns_open(env->netns, errbuf, sizeof(errbuf));
	if (pod_netns_fd < 0) {
		cni_error_set(err, CNI_ERR_UNKNOWN_CONTAINER, "CNI_NETNS: %s", errbuf);
		goto out;
	}
	host_netns_fd = netns_open_current(errbuf, sizeof(errbuf));
	sock = host_netns_fd >= 0 ? netlink_open(errbuf, sizeof(errbuf)) : NULL;
	if (!sock) {
		cni_error_set(err, WEIR_ERR_KERNEL, "%s", errbuf);
		goto out;
	}
	/* A repeated ADD rebuilds the wiring from scratch around the same address. */
	if (link_delete(sock, record->host_ifname, errbuf, sizeof(errbuf)) < 0) {
		cni_error_set(err, WEIR_ERR_KERNEL, "%s", errbuf);
		goto out;
	}
	if (veth_create(sock, record->host_ifname, env->ifname, pod_netns_fd, (unsigned)config->mtu,
			errbuf, sizeof(errbuf)) < 0) {
		cni_error_set(err, WEIR_ERR_KERNEL, "%s", errbuf);
		goto out;
	}
	veth_made = true;
	test_kill_point("veth");
	if (link_get(sock, record->host_ifname, &host_link) < 0) {
		cni_error_set(err, WEIR_ERR_KERNEL, "find %s after creating it", record->host_ifname);
		goto out;
	}
	record->host_ifindex = host_link.ifindex;
	memcpy(record->host_mac, host_link.mac, 6);

	if (configure_pod_side(env, pod_netns_fd, host_netns_fd, address, host_link.mac, record,
			       err) < 0)
		goto out;
	test_kill_point("pod-side");
	if (host_forwarding_enable(record->host_ifname, err) < 0)
		goto out;
	/* Programs before the route: no packet may reach the pod through a veth nobody judges. */
	if (attach_programs(config, host_link.ifindex, err) < 0)
		goto out;
	test_kill_point("programs");
	if (route_replace(sock, address, 32, 0, host_link.ifindex, errbuf, sizeof(errbuf)) < 0 ||
	    neighbour_replace_permanent(sock, host_link.ifindex, address, record->pod_mac, errbuf,
					sizeof(errbuf)) < 0) {
		cni_error_set(err, WEIR_ERR_KERNEL, "%s", errbuf);
		goto out;
	}
	test_kill_point("host-routes");

	memset(&endpoint, 0, sizeof(endpoint));
	if (endpoint_generation_new(&endpoint.generation, err) < 0)
		goto out;
	endpoint.host_ifindex = (uint32_t)host_link.ifindex;
	memcpy(endpoint.pod_mac, record->pod_mac, 6);
	memcpy(endpoint.host_mac, record->host_mac, 6);
	endpoint.endpoint_id = record->endpoint_id;
	/* Closed until the agent has written the pod's policy and releases it. */
	endpoint.flags = WEIR_ENDPOINT_FLAG_LOCAL | WEIR_ENDPOINT_FLAG_PENDING;
	if (datapath_endpoint_upsert(&datapath, address, &endpoint, errbuf, sizeof(errbuf)) < 0) {
		cni_error_set(err, WEIR_ERR_KERNEL, "%s", errbuf);
		goto out;
	}
	endpoint_written = true;
	test_kill_point("endpoint");
	if (endpoint_record_write(config->state_dir, record, errbuf, sizeof(errbuf)) < 0) {
		cni_error_set(err, CNI_ERR_IO, "write endpoint record: %s", errbuf);
		goto out;
	}
	test_kill_point("record");
	result = 0;
out:
	if (result < 0) {
		char ignored[256];
		if (endpoint_written)
			datapath_endpoint_delete(&datapath, address, (uint32_t)record->host_ifindex,
						 ignored, sizeof(ignored));
		if (veth_made && sock)
			link_delete(sock, record->host_ifname, ignored, sizeof(ignored));
	}
	netlink_close(sock);
	datapath_close(&datapath);
	if (pod_netns_fd >= 0)
		close(pod_netns_fd);
	if (host_netns_fd >= 0)
		close(host_netns_fd);
	return result;
}

int pod_wiring_remove(const struct cni_config *config, struct ipam *ipam, const char *container_id,
		      const char *ifname, uint32_t known_address, struct cni_error *err)
{
	struct datapath datapath;
	struct endpoint_record record;
	struct link_info host_link;
	struct nl_sock *sock;
	char host_ifname[16], errbuf[512];
	bool have_record = endpoint_record_read(config->state_dir, container_id, ifname, &record) == 0;
	uint32_t address = 0, guard_ifindex = 0;
	bool owns_address = false;

	host_veth_name(container_id, ifname, host_ifname);
	sock = netlink_open(errbuf, sizeof(errbuf));
	if (!sock)
		return cni_error_set(err, WEIR_ERR_KERNEL, "%s", errbuf);

	/* Which address was this attachment's, and may its map entry be removed? Only while it
	 * still holds the address: once released, the address may already be another pod's. */
	if (ipam_find(ipam, container_id, ifname, &address) == 0) {
		owns_address = true;
	} else if (have_record) {
		address = record.address;
		guard_ifindex = (uint32_t)record.host_ifindex;
	} else {
		address = known_address;
		if (link_get(sock, host_ifname, &host_link) == 0)
			guard_ifindex = (uint32_t)host_link.ifindex;
	}
	if (address && (owns_address || guard_ifindex) &&
	    datapath_open(&datapath, config->bpffs, errbuf, sizeof(errbuf)) == 0) {
		int failed = datapath_endpoint_delete(&datapath, address, guard_ifindex, errbuf,
						      sizeof(errbuf));
		datapath_close(&datapath);
		if (failed < 0) {
			netlink_close(sock);
			return cni_error_set(err, WEIR_ERR_KERNEL, "%s", errbuf);
		}
	}
	/* Deleting the host veth takes its peer, the /32 route and the neighbour with it. */
	if (link_delete(sock, host_ifname, errbuf, sizeof(errbuf)) < 0) {
		netlink_close(sock);
		return cni_error_set(err, WEIR_ERR_KERNEL, "%s", errbuf);
	}
	netlink_close(sock);
	if (endpoint_record_remove(config->state_dir, container_id, ifname) < 0)
		return cni_error_set(err, CNI_ERR_IO, "remove endpoint record of %s/%s: %s",
				     container_id, ifname, strerror(errno));
	if (ipam_release(ipam, container_id, ifname) < 0)
		return cni_error_set(err, CNI_ERR_IO, "release address of %s/%s: %s", container_id,
				     ifname, strerror(errno));
	return 0;
}
