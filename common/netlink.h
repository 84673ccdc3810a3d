/* The rtnetlink operations pod wiring needs, over libnl-route-3. Each takes a socket opened
 * in the namespace it should act on; failures fill errbuf with the operation and its input. */
#ifndef WEIR_CNI_NETLINK_H
#define WEIR_CNI_NETLINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mac.h"

struct nl_sock;

struct link_info {
	int ifindex;
	uint8_t mac[6];
	unsigned flags;
	unsigned mtu;
	bool is_veth;
};

struct nl_sock *netlink_open(char *errbuf, size_t errlen);
void netlink_close(struct nl_sock *sock);

/* Creates host_name in the current namespace with its peer pod_name directly in pod_netns_fd,
 * both up with the given MTU. -EEXIST when either name is taken. */
int veth_create(struct nl_sock *sock, const char *host_name, const char *pod_name, int pod_netns_fd,
		unsigned mtu, char *errbuf, size_t errlen);
/* -ENODEV when there is no such link. */
int link_get(struct nl_sock *sock, const char *name, struct link_info *info);
/* Deleting a missing link is not an error. */
int link_delete(struct nl_sock *sock, const char *name, char *errbuf, size_t errlen);
int link_set_up(struct nl_sock *sock, const char *name, char *errbuf, size_t errlen);
/* Calls visit for every veth whose name starts with prefix. */
int veth_for_each(struct nl_sock *sock, const char *prefix,
		  void (*visit)(const char *name, int ifindex, void *context), void *context);

/* Addresses are host byte order. */
int address_add(struct nl_sock *sock, int ifindex, uint32_t address, unsigned prefix_length,
		char *errbuf, size_t errlen);
bool address_present(struct nl_sock *sock, int ifindex, uint32_t address, unsigned prefix_length);

/* gateway 0 means a link-scope route through ifindex. Replaces an existing route. */
int route_replace(struct nl_sock *sock, uint32_t destination, unsigned prefix_length,
		  uint32_t gateway, int ifindex, char *errbuf, size_t errlen);
bool route_present(struct nl_sock *sock, uint32_t destination, unsigned prefix_length,
		   uint32_t gateway, int ifindex);

/* Routes the agent owns are tagged with this protocol number, so it finds (and removes) its
 * own routes and never touches anyone else's. */
#define WEIR_ROUTE_PROTOCOL 0xbe

/* destination via gateway (the kernel picks the device), tagged WEIR_ROUTE_PROTOCOL. */
int route_replace_via(struct nl_sock *sock, uint32_t destination, unsigned prefix_length,
		      uint32_t gateway, char *errbuf, size_t errlen);
int route_delete(struct nl_sock *sock, uint32_t destination, unsigned prefix_length,
		 char *errbuf, size_t errlen);
/* Calls visit for every IPv4 main-table route tagged with protocol. */
int routes_with_protocol(struct nl_sock *sock, uint8_t protocol,
			 void (*visit)(uint32_t destination, unsigned prefix_length,
				       uint32_t gateway, void *context),
			 void *context);

int neighbour_replace_permanent(struct nl_sock *sock, int ifindex, uint32_t address,
				const uint8_t mac[6], char *errbuf, size_t errlen);
bool neighbour_present_permanent(struct nl_sock *sock, int ifindex, uint32_t address,
				 const uint8_t mac[6]);


#endif
