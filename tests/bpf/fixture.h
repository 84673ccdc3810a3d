/* The BPF test fixture: a freshly loaded datapath (real programs, real maps, unpinned) with
 * two local pods A and B, a remote pod, and helpers to run crafted packets and read counters. */
#ifndef WEIR_TESTS_BPF_FIXTURE_H
#define WEIR_TESTS_BPF_FIXTURE_H

#include <linux/pkt_cls.h>
#include <netinet/in.h>

#include "datapath.h"
#include "packet.h"
#include "test.h"

#define POD_A 0x0a000002u	     /* 10.0.0.2, local, endpoint 2 */
#define POD_B 0x0a000003u	     /* 10.0.0.3, local, endpoint 3 */
#define POD_ELSEWHERE 0x0a000009u /* 10.0.0.9, local pod behind another veth, endpoint 9 */
#define REMOTE_POD 0x0a010005u    /* 10.1.0.5, a pod on another node */
#define WORLD_HOST 0x08080808u    /* 8.8.8.8: not in the ipcache */
#define CIDR_HOST 0xc0a80a0au	     /* 192.168.10.10, in the ipBlock 192.168.0.0/16 */
#define NODE_HOST 0xc0a8fa01u	     /* 192.168.250.1: this node */

#define ENDPOINT_A 2
#define ENDPOINT_B 3
#define IDENTITY_A 300
#define IDENTITY_B 301
#define IDENTITY_REMOTE 1000
#define IDENTITY_CIDR (WEIR_IDENTITY_FIRST_CIDR + 1)

#define TEST_IFINDEX 1 /* BPF_PROG_TEST_RUN puts skbs on lo */

extern const uint8_t MAC_A[6], MAC_B[6], HOST_MAC_A[6], HOST_MAC_B[6], MAC_ROUTER[6];
extern struct datapath datapath;

enum program { FROM_POD, TO_POD, FROM_UPLINK, TO_UPLINK };

/* The interface a packet entered the node through, as skb->ingress_ifindex shows it to the
 * programs: 0 (the default) for a packet the host stack made, non-zero for one it forwards. */
extern uint32_t fixture_ingress_ifindex;
#define UPLINK_IFINDEX 7

struct run_result {
	int verdict; /* TC_ACT_*, or below -1000 when the run itself failed */
	uint8_t frame[2048];
	uint32_t length;
};

/* Loads a new datapath with pods A and B in the endpoints map and the ipcache filled. */
int fixture_setup(void);
void fixture_teardown(void);

/* Builds the frame from spec and runs it through the program. */
struct run_result run_spec(enum program program, const struct packet_spec *spec);
struct run_result run_frame(enum program program, const uint8_t *frame, size_t length);

/* The fd of one of the datapath's maps, by name. */
int fixture_map_fd(const char *name);

uint64_t counter(enum weir_counter which);
uint64_t drops_of(uint32_t endpoint_id, enum weir_drop_reason reason, uint8_t direction);

/* Policy shortcuts over the userspace library. */
int isolate(uint32_t endpoint_id, uint32_t ingress_rule, uint32_t egress_rule);
int allow(uint32_t endpoint_id, uint8_t direction, uint32_t identity, uint8_t protocol,
	  uint16_t first_port, uint16_t last_port, uint32_t rule_id);
int deny(uint32_t endpoint_id, uint8_t direction, uint32_t identity, uint8_t protocol,
	 uint16_t first_port, uint16_t last_port, uint32_t rule_id);
int bump_revision(void);
/* The CT entry for a tuple (host byte order); 0 when found. */
int ct_entry_of(uint32_t source, uint32_t destination, uint16_t source_port,
		uint16_t destination_port, uint8_t protocol, struct weir_ct_entry *entry);

/* Specs for the usual packets. */
struct packet_spec tcp_from_a(uint32_t destination, uint16_t port, uint8_t flags);
struct packet_spec tcp_to_a(uint32_t source, uint16_t port, uint8_t flags);
struct packet_spec udp_from_a(uint32_t destination, uint16_t port);
struct packet_spec udp_to_a(uint32_t source, uint16_t port);

/* An event of this type and reason from the ring buffer; 0 when one was found. */
int event_find(uint8_t type, uint8_t reason, struct weir_event *event);
/* The nth HTTP event (0-based) / the first flow-end event; 0 when found. */
int http_event_find(size_t nth, struct weir_http_event *event);
int flow_end_find(struct weir_flow_end_event *event);
size_t records_of_type(uint8_t type);

#define TCP_SYN 0x02
#define TCP_ACK 0x10
#define TCP_FIN 0x01
#define TCP_RST 0x04
#define TCP_PSH 0x08

#define CLIENT_PORT 40000

#endif
