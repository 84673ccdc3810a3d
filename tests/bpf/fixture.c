/* The BPF test fixture. The object is loaded once (verifying it takes seconds); before every
 * test all its maps are emptied, so no state leaks from one case into the next. */
#include "fixture.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "pod.skel.h"

const uint8_t MAC_A[6] = { 0x02, 0xaa, 0, 0, 0, 0x02 };
const uint8_t MAC_B[6] = { 0x02, 0xbb, 0, 0, 0, 0x03 };
const uint8_t HOST_MAC_A[6] = { 0x02, 0xee, 0, 0, 0, 0x02 };
const uint8_t HOST_MAC_B[6] = { 0x02, 0xee, 0, 0, 0, 0x03 };
const uint8_t MAC_ROUTER[6] = { 0x02, 0xee, 0, 0, 0, 0x01 };

struct datapath datapath;
uint32_t fixture_ingress_ifindex;
static struct pod_bpf *skeleton;
static struct ring_buffer *event_reader;
#define COLLECTED_MAX 256
#define RECORD_MAX 256
static uint8_t collected[COLLECTED_MAX][RECORD_MAX];
static size_t collected_count;

static int add_endpoint(uint32_t address, uint32_t ifindex, uint32_t endpoint_id,
			const uint8_t *mac, const uint8_t *host_mac)
{
	struct weir_endpoint endpoint = { .host_ifindex = ifindex, .endpoint_id = endpoint_id,
					  .flags = WEIR_ENDPOINT_FLAG_LOCAL };
	char errbuf[256];

	memcpy(endpoint.pod_mac, mac, 6);
	memcpy(endpoint.host_mac, host_mac, 6);
	return datapath_endpoint_upsert(&datapath, address, &endpoint, errbuf, sizeof(errbuf));
}

static int on_event(void *context, void *data, size_t size)
{
	(void)context;
	if (size >= sizeof(struct weir_event) && collected_count < COLLECTED_MAX) {
		memset(collected[collected_count], 0, RECORD_MAX);
		memcpy(collected[collected_count++], data, size < RECORD_MAX ? size : RECORD_MAX);
	}
	return 0;
}

void fixture_teardown(void)
{
	ring_buffer__free(event_reader);
	event_reader = NULL;
	if (skeleton)
		pod_bpf__destroy(skeleton);
	skeleton = NULL;
}

/* Empties a map: hash-like maps lose every key, arrays get zeroed values. */
static int map_reset(struct bpf_map *map)
{
	enum bpf_map_type type = bpf_map__type(map);
	int fd = bpf_map__fd(map);
	size_t value_size = bpf_map__value_size(map);
	uint8_t key[64], next[64];
	void *zeros;

	if (type == BPF_MAP_TYPE_RINGBUF)
		return 0;
	if (type == BPF_MAP_TYPE_ARRAY || type == BPF_MAP_TYPE_PERCPU_ARRAY) {
		size_t copies = type == BPF_MAP_TYPE_PERCPU_ARRAY ? (size_t)libbpf_num_possible_cpus()
								   : 1;
		size_t stride = type == BPF_MAP_TYPE_PERCPU_ARRAY ? (value_size + 7) / 8 * 8
								  : value_size;
		zeros = calloc(copies, stride);
		if (!zeros)
			return -1;
		for (uint32_t index = 0; index < bpf_map__max_entries(map); index++)
			bpf_map_update_elem(fd, &index, zeros, BPF_ANY);
		free(zeros);
		return 0;
	}
	if (bpf_map__key_size(map) > sizeof(key))
		return -1;
	while (bpf_map_get_next_key(fd, NULL, next) == 0) {
		memcpy(key, next, sizeof(key));
		if (bpf_map_delete_elem(fd, key) < 0)
			return -1;
	}
	return 0;
}

static int datapath_load_once(void)
{
	struct bpf_map *map;

	if (skeleton) {
		bpf_object__for_each_map(map, skeleton->obj) {
			if (map_reset(map) < 0)
				return -1;
		}
		ring_buffer__consume(event_reader); /* leftovers of the previous test */
		return 0;
	}
	skeleton = pod_bpf__open();
	if (!skeleton)
		return -1;
	bpf_object__for_each_map(map, skeleton->obj) bpf_map__set_pin_path(map, NULL);
	if (pod_bpf__load(skeleton) < 0)
		return -1;
	event_reader = ring_buffer__new(bpf_map__fd(skeleton->maps.events), on_event, NULL, NULL);
	return event_reader ? 0 : -1;
}

int fixture_setup(void)
{
	char errbuf[256];

	if (datapath_load_once() < 0)
		return -1;
	collected_count = 0;
	fixture_ingress_ifindex = 0;
	datapath_init(&datapath);
	datapath.endpoints_fd = bpf_map__fd(skeleton->maps.endpoints);
	datapath.endpoint_stats_fd = bpf_map__fd(skeleton->maps.endpoint_stats);
	datapath.metrics_fd = bpf_map__fd(skeleton->maps.metrics);
	datapath.ipcache_fd = bpf_map__fd(skeleton->maps.ipcache);
	datapath.policy_fd = bpf_map__fd(skeleton->maps.policy);
	datapath.endpoint_policy_fd = bpf_map__fd(skeleton->maps.endpoint_policy);
	datapath.policy_revision_fd = bpf_map__fd(skeleton->maps.policy_revision);
	datapath.ct_fd = bpf_map__fd(skeleton->maps.ct);
	datapath.fragments_fd = bpf_map__fd(skeleton->maps.fragments);
	datapath.drops_fd = bpf_map__fd(skeleton->maps.drops);
	datapath.services_fd = bpf_map__fd(skeleton->maps.services);
	datapath.backends_fd = bpf_map__fd(skeleton->maps.backends);
	datapath.maglev_fd = bpf_map__fd(skeleton->maps.maglev);
	datapath.http_rules_fd = bpf_map__fd(skeleton->maps.http_rules);
	datapath.datapath_config_fd = bpf_map__fd(skeleton->maps.dp_config);
	datapath.http_ports_fd = bpf_map__fd(skeleton->maps.http_ports);
	if (add_endpoint(POD_A, TEST_IFINDEX, ENDPOINT_A, MAC_A, HOST_MAC_A) < 0 ||
	    add_endpoint(POD_B, TEST_IFINDEX, ENDPOINT_B, MAC_B, HOST_MAC_B) < 0 ||
	    add_endpoint(POD_ELSEWHERE, 99, 9, MAC_B, HOST_MAC_B) < 0)
		return -1;
	if (datapath_ipcache_upsert(&datapath, POD_A, 32, IDENTITY_A, errbuf, sizeof(errbuf)) ||
	    datapath_ipcache_upsert(&datapath, POD_B, 32, IDENTITY_B, errbuf, sizeof(errbuf)) ||
	    datapath_ipcache_upsert(&datapath, REMOTE_POD, 32, IDENTITY_REMOTE, errbuf,
				    sizeof(errbuf)) ||
	    datapath_ipcache_upsert(&datapath, 0xc0a80000u, 16, IDENTITY_CIDR, errbuf,
				    sizeof(errbuf)) ||
	    datapath_ipcache_upsert(&datapath, NODE_HOST, 32, WEIR_IDENTITY_HOST, errbuf,
				    sizeof(errbuf)))
		return -1;
	return 0;
}

struct run_result run_frame(enum program program, const uint8_t *frame, size_t length)
{
	struct run_result result;
	struct __sk_buff context = { .ifindex = TEST_IFINDEX,
				     .ingress_ifindex = fixture_ingress_ifindex };
	struct bpf_program *prog = program == FROM_POD	  ? skeleton->progs.from_pod
				   : program == TO_POD	  ? skeleton->progs.to_pod
				   : program == FROM_UPLINK ? skeleton->progs.from_uplink
							    : skeleton->progs.to_uplink;
	DECLARE_LIBBPF_OPTS(bpf_test_run_opts, options, .data_in = frame,
			    .data_size_in = (__u32)length, .data_out = result.frame,
			    .data_size_out = sizeof(result.frame), .ctx_in = &context,
			    .ctx_size_in = sizeof(context), .repeat = 1);
	int err = bpf_prog_test_run_opts(bpf_program__fd(prog), &options);

	result.verdict = err < 0 ? -1000 + err : (int)options.retval;
	result.length = options.data_size_out;
	return result;
}

struct run_result run_spec(enum program program, const struct packet_spec *spec)
{
	uint8_t frame[2048];
	size_t length = packet_build(frame, sizeof(frame), spec);

	return run_frame(program, frame, length);
}

int fixture_map_fd(const char *name)
{
	return bpf_object__find_map_fd_by_name(skeleton->obj, name);
}

uint64_t counter(enum weir_counter which)
{
	uint64_t total = 0;

	datapath_counter_read(&datapath, which, &total);
	return total;
}

uint64_t drops_of(uint32_t endpoint_id, enum weir_drop_reason reason, uint8_t direction)
{
	uint64_t packets = 0, bytes = 0;

	datapath_drop_read(&datapath, endpoint_id, (uint8_t)reason, direction, &packets, &bytes);
	return packets;
}

int isolate(uint32_t endpoint_id, uint32_t ingress_rule, uint32_t egress_rule)
{
	char errbuf[256];

	return datapath_endpoint_policy_set(&datapath, endpoint_id, ingress_rule, egress_rule,
					    errbuf, sizeof(errbuf));
}

static int write_rule(uint32_t endpoint_id, uint8_t direction, uint32_t identity, uint8_t protocol,
		      uint16_t first_port, uint16_t last_port, uint32_t rule_id, uint8_t verdict)
{
	struct policy_rule rule = { endpoint_id, direction, identity, protocol, first_port,
				    last_port,	 verdict,   rule_id };
	char errbuf[256];
	int err = datapath_policy_write(&datapath, &rule, errbuf, sizeof(errbuf));

	if (err < 0)
		fprintf(stderr, "    policy write: %s\n", errbuf);
	return err;
}

int allow(uint32_t endpoint_id, uint8_t direction, uint32_t identity, uint8_t protocol,
	  uint16_t first_port, uint16_t last_port, uint32_t rule_id)
{
	return write_rule(endpoint_id, direction, identity, protocol, first_port, last_port, rule_id,
			  WEIR_VERDICT_ALLOW);
}

int deny(uint32_t endpoint_id, uint8_t direction, uint32_t identity, uint8_t protocol,
	 uint16_t first_port, uint16_t last_port, uint32_t rule_id)
{
	return write_rule(endpoint_id, direction, identity, protocol, first_port, last_port, rule_id,
			  WEIR_VERDICT_DENY);
}

int bump_revision(void)
{
	return datapath_policy_revision_bump(&datapath) > 0 ? 0 : -1;
}

int ct_entry_of(uint32_t source, uint32_t destination, uint16_t source_port,
		uint16_t destination_port, uint8_t protocol, struct weir_ct_entry *entry)
{
	struct weir_ct_key key = { .source = htonl(source), .destination = htonl(destination),
				   .source_port = htons(source_port),
				   .destination_port = htons(destination_port),
				   .protocol = protocol };

	return bpf_map_lookup_elem(datapath.ct_fd, &key, entry) < 0 ? -errno : 0;
}

struct packet_spec tcp_from_a(uint32_t destination, uint16_t port, uint8_t flags)
{
	struct packet_spec spec = { .source_mac = MAC_A, .destination_mac = HOST_MAC_A,
				    .source = POD_A, .destination = destination,
				    .protocol = IPPROTO_TCP, .source_port = CLIENT_PORT,
				    .destination_port = port, .tcp_flags = flags,
				    .sequence = 1000, .acknowledgment = 5000 };
	return spec;
}

struct packet_spec tcp_to_a(uint32_t source, uint16_t port, uint8_t flags)
{
	struct packet_spec spec = { .source_mac = HOST_MAC_A, .destination_mac = MAC_A,
				    .source = source, .destination = POD_A,
				    .protocol = IPPROTO_TCP, .source_port = CLIENT_PORT,
				    .destination_port = port, .tcp_flags = flags,
				    .sequence = 7000, .acknowledgment = 9000 };
	return spec;
}

struct packet_spec udp_from_a(uint32_t destination, uint16_t port)
{
	struct packet_spec spec = tcp_from_a(destination, port, 0);
	spec.protocol = IPPROTO_UDP;
	spec.payload_length = 32;
	return spec;
}

struct packet_spec udp_to_a(uint32_t source, uint16_t port)
{
	struct packet_spec spec = tcp_to_a(source, port, 0);
	spec.protocol = IPPROTO_UDP;
	spec.payload_length = 32;
	return spec;
}

/* Every record starts {timestamp_ns, type}; drops and flows have their reason after it. */
static int record_find(uint8_t type, int reason, void *record, size_t size, size_t skip)
{
	ring_buffer__consume(event_reader);
	for (size_t i = 0; i < collected_count; i++) {
		const struct weir_event *head = (const struct weir_event *)collected[i];

		if (head->type != type || (reason >= 0 && head->reason != reason))
			continue;
		if (skip--)
			continue;
		memcpy(record, collected[i], size < RECORD_MAX ? size : RECORD_MAX);
		return 0;
	}
	return -1;
}

int event_find(uint8_t type, uint8_t reason, struct weir_event *event)
{
	return record_find(type, reason, event, sizeof(*event), 0);
}

int http_event_find(size_t nth, struct weir_http_event *event)
{
	return record_find(WEIR_EVENT_HTTP, -1, event, sizeof(*event), nth);
}

int flow_end_find(struct weir_flow_end_event *event)
{
	return record_find(WEIR_EVENT_FLOW_END, -1, event, sizeof(*event), 0);
}

size_t records_of_type(uint8_t type)
{
	size_t count = 0;

	ring_buffer__consume(event_reader);
	for (size_t i = 0; i < collected_count; i++)
		count += ((const struct weir_event *)collected[i])->type == type;
	return count;
}
