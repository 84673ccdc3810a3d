/* Pinned map access. All writes go through here so that the CNI (per pod), the agent (per
 * node) and the tests agree on keys, byte order and the order of dependent writes. */
#include "datapath.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "atomic_file.h"

int bpffs_is_mounted(const char *path)
{
	struct statfs info;

	return statfs(path, &info) == 0 && info.f_type == BPF_FS_MAGIC;
}

int bpffs_ensure_mounted(const char *path, char *errbuf, size_t errlen)
{
	int err;

	if (bpffs_is_mounted(path))
		return 0;
	err = directory_create(path, 0700);
	if (err < 0) {
		snprintf(errbuf, errlen, "create bpffs folder %s: %s", path, strerror(-err));
		return err;
	}
	if (mount("bpf", path, "bpf", 0, "mode=0700") < 0) {
		err = -errno;
		snprintf(errbuf, errlen, "mount bpffs at %s: %s", path, strerror(errno));
		return err;
	}
	return 0;
}

static int pin_open(const char *root, const char *name, char *errbuf, size_t errlen)
{
	char path[512];
	int fd, err;

	snprintf(path, sizeof(path), "%s/%s", root, name);
	fd = bpf_obj_get(path);
	if (fd < 0) {
		err = -errno;
		snprintf(errbuf, errlen, "open pinned %s: %s", path, strerror(errno));
		return err;
	}
	return fd;
}

void datapath_init(struct datapath *datapath)
{
	memset(datapath, 0, sizeof(*datapath));
	datapath->endpoints_fd = datapath->endpoint_stats_fd = datapath->metrics_fd = -1;
	datapath->ipcache_fd = datapath->policy_fd = datapath->endpoint_policy_fd = -1;
	datapath->policy_revision_fd = datapath->ct_fd = datapath->fragments_fd = -1;
	datapath->drops_fd = datapath->services_fd = datapath->backends_fd = -1;
	datapath->maglev_fd = datapath->http_rules_fd = datapath->datapath_config_fd = -1;
	datapath->http_ports_fd = -1;
}

int datapath_open(struct datapath *datapath, const char *root, char *errbuf, size_t errlen)
{
	struct {
		const char *name;
		int *fd;
	} pins[] = {
		{ WEIR_MAP_ENDPOINTS, &datapath->endpoints_fd },
		{ WEIR_MAP_ENDPOINT_STATS, &datapath->endpoint_stats_fd },
		{ WEIR_MAP_METRICS, &datapath->metrics_fd },
		{ WEIR_MAP_IPCACHE, &datapath->ipcache_fd },
		{ WEIR_MAP_POLICY, &datapath->policy_fd },
		{ WEIR_MAP_ENDPOINT_POLICY, &datapath->endpoint_policy_fd },
		{ WEIR_MAP_POLICY_REVISION, &datapath->policy_revision_fd },
		{ WEIR_MAP_CT, &datapath->ct_fd },
		{ WEIR_MAP_FRAGMENTS, &datapath->fragments_fd },
		{ WEIR_MAP_DROPS, &datapath->drops_fd },
		{ WEIR_MAP_SERVICES, &datapath->services_fd },
		{ WEIR_MAP_BACKENDS, &datapath->backends_fd },
		{ WEIR_MAP_MAGLEV, &datapath->maglev_fd },
		{ WEIR_MAP_HTTP_RULES, &datapath->http_rules_fd },
		{ WEIR_MAP_DATAPATH_CONFIG, &datapath->datapath_config_fd },
		{ WEIR_MAP_HTTP_PORTS, &datapath->http_ports_fd },
	};
	int err;

	datapath_init(datapath);
	if (strlen(root) >= sizeof(datapath->root)) {
		snprintf(errbuf, errlen, "bpffs path too long: %s", root);
		return -ENAMETOOLONG;
	}
	strcpy(datapath->root, root);
	if (!bpffs_is_mounted(root)) {
		snprintf(errbuf, errlen, "%s is not a mounted bpffs: the datapath is not loaded", root);
		return -ENOENT;
	}
	/* weir-cni and weirctl read and write these maps with their own build's layouts. */
	err = datapath_abi_check(root, errbuf, errlen);
	if (err < 0)
		return err;
	for (size_t i = 0; i < sizeof(pins) / sizeof(pins[0]); i++) {
		*pins[i].fd = pin_open(root, pins[i].name, errbuf, errlen);
		if (*pins[i].fd < 0) {
			int err = *pins[i].fd;
			datapath_close(datapath);
			return err;
		}
	}
	return 0;
}

void datapath_close(struct datapath *datapath)
{
	int *fds[] = { &datapath->endpoints_fd,	      &datapath->endpoint_stats_fd,
		       &datapath->metrics_fd,	      &datapath->ipcache_fd,
		       &datapath->policy_fd,	      &datapath->endpoint_policy_fd,
		       &datapath->policy_revision_fd, &datapath->ct_fd,
		       &datapath->fragments_fd,	      &datapath->drops_fd,
		       &datapath->services_fd,	      &datapath->backends_fd,
		       &datapath->maglev_fd,	      &datapath->http_rules_fd,
		       &datapath->datapath_config_fd, &datapath->http_ports_fd };

	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
}

int datapath_abi_check(const char *root, char *errbuf, size_t errlen)
{
	char path[512];
	__u32 key = 0, version = 0;
	int fd, err;

	snprintf(path, sizeof(path), "%s/%s", root, WEIR_MAP_ENDPOINTS);
	if (access(path, F_OK) != 0)
		return 0; /* nothing pinned yet: the loader creates the maps and stamps them */
	snprintf(path, sizeof(path), "%s/%s", root, WEIR_MAP_ABI);
	fd = bpf_obj_get(path);
	if (fd < 0) {
		snprintf(errbuf, errlen,
			 "the maps pinned under %s carry no ABI version (weir before ABI 6) and this "
			 "weir has ABI %d: no migration exists; drain the node, then remove the pins "
			 "under %s",
			 root, WEIR_ABI_VERSION, root);
		return -EPROTO;
	}
	err = bpf_map_lookup_elem(fd, &key, &version);
	close(fd);
	if (err < 0) {
		snprintf(errbuf, errlen, "read the ABI version pinned at %s: %s", path,
			 strerror(errno));
		return -errno;
	}
	if (version != WEIR_ABI_VERSION) {
		snprintf(errbuf, errlen,
			 "the maps pinned under %s have ABI %u and this weir has ABI %d: no migration "
			 "from %u to %d exists; drain the node, then remove the pins under %s",
			 root, version, WEIR_ABI_VERSION, version, WEIR_ABI_VERSION, root);
		return -EPROTO;
	}
	return 0;
}

int datapath_program_open(const char *root, const char *name, char *errbuf, size_t errlen)
{
	char relative[128];

	snprintf(relative, sizeof(relative), "%s/%s", WEIR_PROGRAMS_DIR, name);
	return pin_open(root, relative, errbuf, errlen);
}

static int possible_cpus(void)
{
	int count = libbpf_num_possible_cpus();

	return count > 0 ? count : 1;
}

int datapath_endpoint_upsert(struct datapath *datapath, uint32_t ipv4,
			     const struct weir_endpoint *endpoint, char *errbuf, size_t errlen)
{
	struct weir_endpoint_key key = { .ipv4 = htonl(ipv4) };
	size_t stats_size = sizeof(struct weir_endpoint_stats) * (size_t)possible_cpus();
	struct weir_endpoint_stats *zero_stats = calloc(1, stats_size);
	uint32_t endpoint_id = endpoint->endpoint_id;
	int err;

	if (!zero_stats) {
		snprintf(errbuf, errlen, "allocate endpoint counters: out of memory");
		return -ENOMEM;
	}
	/* BPF_NOEXIST keeps the counters of a repeated ADD for the same pod. */
	if (bpf_map_update_elem(datapath->endpoint_stats_fd, &endpoint_id, zero_stats,
				BPF_NOEXIST) < 0 &&
	    errno != EEXIST) {
		err = -errno;
		snprintf(errbuf, errlen, "write endpoint_stats for endpoint %u: %s", endpoint_id,
			 strerror(errno));
		free(zero_stats);
		return err;
	}
	free(zero_stats);
	if (bpf_map_update_elem(datapath->endpoints_fd, &key, endpoint, BPF_ANY) < 0) {
		char address[16];
		err = -errno;
		snprintf(errbuf, errlen, "write endpoints entry for %s: %s",
			 inet_ntop(AF_INET, &key.ipv4, address, sizeof(address)), strerror(errno));
		bpf_map_delete_elem(datapath->endpoint_stats_fd, &endpoint_id);
		return err;
	}
	return 0;
}

int datapath_endpoint_lookup(struct datapath *datapath, uint32_t ipv4,
			     struct weir_endpoint *endpoint)
{
	struct weir_endpoint_key key = { .ipv4 = htonl(ipv4) };

	if (bpf_map_lookup_elem(datapath->endpoints_fd, &key, endpoint) < 0)
		return -errno;
	return 0;
}

int datapath_endpoint_delete(struct datapath *datapath, uint32_t ipv4, uint32_t host_ifindex,
			     char *errbuf, size_t errlen)
{
	struct weir_endpoint_key key = { .ipv4 = htonl(ipv4) };
	struct weir_endpoint current;
	char address[16];

	if (bpf_map_lookup_elem(datapath->endpoints_fd, &key, &current) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (host_ifindex && current.host_ifindex != host_ifindex)
		return 0;
	if (bpf_map_delete_elem(datapath->endpoints_fd, &key) < 0 && errno != ENOENT) {
		int err = -errno;
		snprintf(errbuf, errlen, "delete endpoints entry for %s: %s",
			 inet_ntop(AF_INET, &key.ipv4, address, sizeof(address)), strerror(errno));
		return err;
	}
	if (bpf_map_delete_elem(datapath->endpoint_stats_fd, &current.endpoint_id) < 0 &&
	    errno != ENOENT) {
		int err = -errno;
		snprintf(errbuf, errlen, "delete endpoint_stats for endpoint %u: %s",
			 current.endpoint_id, strerror(errno));
		return err;
	}
	return 0;
}

int datapath_endpoint_stats(struct datapath *datapath, uint32_t endpoint_id,
			    struct weir_endpoint_stats *total)
{
	int cpus = possible_cpus();
	struct weir_endpoint_stats *per_cpu = calloc((size_t)cpus, sizeof(*per_cpu));

	if (!per_cpu)
		return -ENOMEM;
	memset(total, 0, sizeof(*total));
	if (bpf_map_lookup_elem(datapath->endpoint_stats_fd, &endpoint_id, per_cpu) < 0) {
		int err = -errno;
		free(per_cpu);
		return err;
	}
	for (int cpu = 0; cpu < cpus; cpu++) {
		total->from_pod_packets += per_cpu[cpu].from_pod_packets;
		total->from_pod_bytes += per_cpu[cpu].from_pod_bytes;
		total->to_pod_packets += per_cpu[cpu].to_pod_packets;
		total->to_pod_bytes += per_cpu[cpu].to_pod_bytes;
	}
	free(per_cpu);
	return 0;
}

int datapath_counter_read(struct datapath *datapath, enum weir_counter counter, uint64_t *total)
{
	int cpus = possible_cpus();
	uint64_t *per_cpu = calloc((size_t)cpus, sizeof(*per_cpu));
	uint32_t key = counter;

	if (!per_cpu)
		return -ENOMEM;
	*total = 0;
	if (bpf_map_lookup_elem(datapath->metrics_fd, &key, per_cpu) < 0) {
		int err = -errno;
		free(per_cpu);
		return err;
	}
	for (int cpu = 0; cpu < cpus; cpu++)
		*total += per_cpu[cpu];
	free(per_cpu);
	return 0;
}
