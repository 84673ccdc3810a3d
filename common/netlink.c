/* rtnetlink through libnl-route-3. Addresses arrive in host byte order and are converted here,
 * at the one place that talks to the kernel. */
#include "netlink.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <string.h>

#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/neighbour.h>
#include <netlink/route/route.h>

static int errno_from_nl(int nl_error)
{
	switch (-nl_error) {
	case NLE_EXIST: return -EEXIST;
	case NLE_OBJ_NOTFOUND:
	case NLE_NODEV: return -ENODEV;
	case NLE_PERM: return -EPERM;
	case NLE_NOMEM: return -ENOMEM;
	case NLE_INVAL: return -EINVAL;
	case NLE_RANGE: return -ERANGE;
	case NLE_BUSY: return -EBUSY;
	default: return -EIO;
	}
}

struct nl_sock *netlink_open(char *errbuf, size_t errlen)
{
	struct nl_sock *sock = nl_socket_alloc();
	int err;

	if (!sock) {
		snprintf(errbuf, errlen, "allocate netlink socket: out of memory");
		return NULL;
	}
	err = nl_connect(sock, NETLINK_ROUTE);
	if (err < 0) {
		snprintf(errbuf, errlen, "connect rtnetlink socket: %s", nl_geterror(err));
		nl_socket_free(sock);
		return NULL;
	}
	return sock;
}

void netlink_close(struct nl_sock *sock)
{
	if (sock)
		nl_socket_free(sock);
}

static struct nl_addr *ipv4_nl_addr(uint32_t address, unsigned prefix_length)
{
	uint32_t network_order = htonl(address);
	struct nl_addr *result = nl_addr_build(AF_INET, &network_order, sizeof(network_order));

	if (result)
		nl_addr_set_prefixlen(result, (int)prefix_length);
	return result;
}

int veth_create(struct nl_sock *sock, const char *host_name, const char *pod_name, int pod_netns_fd,
		unsigned mtu, char *errbuf, size_t errlen)
{
	struct rtnl_link *link = rtnl_link_veth_alloc();
	struct rtnl_link *peer;
	int err;

	if (!link) {
		snprintf(errbuf, errlen, "allocate veth %s: out of memory", host_name);
		return -ENOMEM;
	}
	rtnl_link_set_name(link, host_name);
	rtnl_link_set_mtu(link, mtu);
	rtnl_link_set_flags(link, IFF_UP);
	peer = rtnl_link_veth_get_peer(link);
	rtnl_link_set_name(peer, pod_name);
	rtnl_link_set_mtu(peer, mtu);
	rtnl_link_set_ns_fd(peer, pod_netns_fd);
	rtnl_link_put(peer);
	err = rtnl_link_add(sock, link, NLM_F_CREATE | NLM_F_EXCL);
	rtnl_link_put(link);
	if (err < 0) {
		snprintf(errbuf, errlen, "create veth %s with peer %s in the pod namespace: %s",
			 host_name, pod_name, nl_geterror(err));
		return errno_from_nl(err);
	}
	return 0;
}

int link_get(struct nl_sock *sock, const char *name, struct link_info *info)
{
	struct rtnl_link *link = NULL;
	struct nl_addr *mac;
	const char *type;
	int err = rtnl_link_get_kernel(sock, 0, name, &link);

	if (err < 0)
		return errno_from_nl(err);
	memset(info, 0, sizeof(*info));
	info->ifindex = rtnl_link_get_ifindex(link);
	info->flags = rtnl_link_get_flags(link);
	info->mtu = rtnl_link_get_mtu(link);
	type = rtnl_link_get_type(link);
	info->is_veth = type && strcmp(type, "veth") == 0;
	mac = rtnl_link_get_addr(link);
	if (mac && nl_addr_get_len(mac) == 6)
		memcpy(info->mac, nl_addr_get_binary_addr(mac), 6);
	rtnl_link_put(link);
	return 0;
}

int link_delete(struct nl_sock *sock, const char *name, char *errbuf, size_t errlen)
{
	struct rtnl_link *link = rtnl_link_alloc();
	int err;

	if (!link) {
		snprintf(errbuf, errlen, "delete link %s: out of memory", name);
		return -ENOMEM;
	}
	rtnl_link_set_name(link, name);
	err = rtnl_link_delete(sock, link);
	rtnl_link_put(link);
	if (err < 0 && errno_from_nl(err) != -ENODEV) {
		snprintf(errbuf, errlen, "delete link %s: %s", name, nl_geterror(err));
		return errno_from_nl(err);
	}
	return 0;
}

int link_set_up(struct nl_sock *sock, const char *name, char *errbuf, size_t errlen)
{
	struct rtnl_link *current = NULL, *change;
	int err = rtnl_link_get_kernel(sock, 0, name, &current);

	if (err < 0) {
		snprintf(errbuf, errlen, "find link %s: %s", name, nl_geterror(err));
		return errno_from_nl(err);
	}
	change = rtnl_link_alloc();
	if (!change) {
		rtnl_link_put(current);
		snprintf(errbuf, errlen, "set %s up: out of memory", name);
		return -ENOMEM;
	}
	rtnl_link_set_flags(change, IFF_UP);
	err = rtnl_link_change(sock, current, change, 0);
	rtnl_link_put(change);
	rtnl_link_put(current);
	if (err < 0) {
		snprintf(errbuf, errlen, "set %s up: %s", name, nl_geterror(err));
		return errno_from_nl(err);
	}
	return 0;
}

int veth_for_each(struct nl_sock *sock, const char *prefix,
		  void (*visit)(const char *name, int ifindex, void *context), void *context)
{
	struct nl_cache *cache = NULL;
	size_t prefix_length = strlen(prefix);
	int err = rtnl_link_alloc_cache(sock, AF_UNSPEC, &cache);

	if (err < 0)
		return errno_from_nl(err);
	for (struct nl_object *object = nl_cache_get_first(cache); object;
	     object = nl_cache_get_next(object)) {
		struct rtnl_link *link = (struct rtnl_link *)object;
		const char *name = rtnl_link_get_name(link);
		const char *type = rtnl_link_get_type(link);

		if (name && type && strcmp(type, "veth") == 0 &&
		    strncmp(name, prefix, prefix_length) == 0)
			visit(name, rtnl_link_get_ifindex(link), context);
	}
	nl_cache_free(cache);
	return 0;
}

int address_add(struct nl_sock *sock, int ifindex, uint32_t address, unsigned prefix_length,
		char *errbuf, size_t errlen)
{
	struct rtnl_addr *object = rtnl_addr_alloc();
	struct nl_addr *local = ipv4_nl_addr(address, prefix_length);
	char text[16];
	int err;

	if (!object || !local) {
		rtnl_addr_put(object);
		nl_addr_put(local);
		snprintf(errbuf, errlen, "add address: out of memory");
		return -ENOMEM;
	}
	rtnl_addr_set_ifindex(object, ifindex);
	rtnl_addr_set_local(object, local);
	rtnl_addr_set_prefixlen(object, (int)prefix_length);
	rtnl_addr_set_scope(object, RT_SCOPE_UNIVERSE);
	err = rtnl_addr_add(sock, object, 0);
	rtnl_addr_put(object);
	nl_addr_put(local);
	if (err < 0 && errno_from_nl(err) != -EEXIST) {
		snprintf(errbuf, errlen, "add address %s/%u to ifindex %d: %s",
			 inet_ntop(AF_INET, &(uint32_t){ htonl(address) }, text, sizeof(text)),
			 prefix_length, ifindex, nl_geterror(err));
		return errno_from_nl(err);
	}
	return 0;
}

bool address_present(struct nl_sock *sock, int ifindex, uint32_t address, unsigned prefix_length)
{
	struct nl_cache *cache = NULL;
	uint32_t network_order = htonl(address);
	bool found = false;

	if (rtnl_addr_alloc_cache(sock, &cache) < 0)
		return false;
	for (struct nl_object *object = nl_cache_get_first(cache); object && !found;
	     object = nl_cache_get_next(object)) {
		struct rtnl_addr *candidate = (struct rtnl_addr *)object;
		struct nl_addr *local = rtnl_addr_get_local(candidate);

		found = rtnl_addr_get_family(candidate) == AF_INET &&
			rtnl_addr_get_ifindex(candidate) == ifindex && local &&
			nl_addr_get_len(local) == 4 &&
			memcmp(nl_addr_get_binary_addr(local), &network_order, 4) == 0 &&
			(unsigned)rtnl_addr_get_prefixlen(candidate) == prefix_length;
	}
	nl_cache_free(cache);
	return found;
}

/* One route: through ifindex (0: the kernel picks the device for the gateway), via gateway (0:
 * link scope), tagged with protocol. */
static int route_replace_tagged(struct nl_sock *sock, uint32_t destination,
				unsigned prefix_length, uint32_t gateway, int ifindex,
				uint8_t protocol, char *errbuf, size_t errlen)
{
	struct rtnl_route *route = rtnl_route_alloc();
	struct rtnl_nexthop *nexthop = rtnl_route_nh_alloc();
	struct nl_addr *dst = ipv4_nl_addr(destination, prefix_length);
	struct nl_addr *via = gateway ? ipv4_nl_addr(gateway, 32) : NULL;
	char text[16], through[48];
	int err;

	if (!route || !nexthop || !dst || (gateway && !via)) {
		rtnl_route_put(route);
		if (nexthop)
			rtnl_route_nh_free(nexthop);
		nl_addr_put(dst);
		nl_addr_put(via);
		snprintf(errbuf, errlen, "add route: out of memory");
		return -ENOMEM;
	}
	rtnl_route_set_family(route, AF_INET);
	rtnl_route_set_table(route, RT_TABLE_MAIN);
	rtnl_route_set_protocol(route, protocol);
	rtnl_route_set_type(route, RTN_UNICAST);
	rtnl_route_set_scope(route, gateway ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK);
	rtnl_route_set_dst(route, dst);
	if (ifindex)
		rtnl_route_nh_set_ifindex(nexthop, ifindex);
	if (via)
		rtnl_route_nh_set_gateway(nexthop, via);
	rtnl_route_add_nexthop(route, nexthop);
	err = rtnl_route_add(sock, route, NLM_F_CREATE | NLM_F_REPLACE);
	rtnl_route_put(route);
	nl_addr_put(dst);
	nl_addr_put(via);
	if (err < 0) {
		if (gateway)
			snprintf(through, sizeof(through), "via %s",
				 inet_ntop(AF_INET, &(uint32_t){ htonl(gateway) }, text, sizeof(text)));
		else
			snprintf(through, sizeof(through), "via ifindex %d", ifindex);
		snprintf(errbuf, errlen, "add route %s/%u %s: %s",
			 inet_ntop(AF_INET, &(uint32_t){ htonl(destination) }, text, sizeof(text)),
			 prefix_length, through, nl_geterror(err));
		return errno_from_nl(err);
	}
	return 0;
}

int route_replace(struct nl_sock *sock, uint32_t destination, unsigned prefix_length,
		  uint32_t gateway, int ifindex, char *errbuf, size_t errlen)
{
	return route_replace_tagged(sock, destination, prefix_length, gateway, ifindex,
				    RTPROT_STATIC, errbuf, errlen);
}

int route_replace_via(struct nl_sock *sock, uint32_t destination, unsigned prefix_length,
		      uint32_t gateway, char *errbuf, size_t errlen)
{
	return route_replace_tagged(sock, destination, prefix_length, gateway, 0,
				    WEIR_ROUTE_PROTOCOL, errbuf, errlen);
}

struct route_lookup {
	uint32_t destination; /* network order */
	unsigned prefix_length;
	struct rtnl_route *found;
};

static void find_weir_route(struct nl_object *object, void *opaque)
{
	struct rtnl_route *route = (struct rtnl_route *)object;
	struct route_lookup *lookup = opaque;
	struct nl_addr *dst = rtnl_route_get_dst(route);

	if (lookup->found || rtnl_route_get_protocol(route) != WEIR_ROUTE_PROTOCOL ||
	    rtnl_route_get_table(route) != RT_TABLE_MAIN || !dst ||
	    (unsigned)nl_addr_get_prefixlen(dst) != lookup->prefix_length ||
	    nl_addr_get_len(dst) != 4 ||
	    memcmp(nl_addr_get_binary_addr(dst), &lookup->destination, 4) != 0)
		return;
	nl_object_get(object);
	lookup->found = route;
}

/* Deletes the kernel's own route object, so every attribute matches what the kernel holds. */
int route_delete(struct nl_sock *sock, uint32_t destination, unsigned prefix_length,
		 char *errbuf, size_t errlen)
{
	struct route_lookup lookup = { htonl(destination), prefix_length, NULL };
	struct nl_cache *cache = NULL;
	int err = rtnl_route_alloc_cache(sock, AF_INET, 0, &cache);

	if (err < 0) {
		snprintf(errbuf, errlen, "list routes: %s", nl_geterror(err));
		return errno_from_nl(err);
	}
	nl_cache_foreach(cache, find_weir_route, &lookup);
	nl_cache_free(cache);
	if (!lookup.found)
		return 0;
	err = rtnl_route_delete(sock, lookup.found, 0);
	rtnl_route_put(lookup.found);
	if (err < 0) {
		snprintf(errbuf, errlen, "delete route: %s", nl_geterror(err));
		return errno_from_nl(err);
	}
	return 0;
}

struct protocol_scan {
	uint8_t protocol;
	void (*visit)(uint32_t destination, unsigned prefix_length, uint32_t gateway, void *context);
	void *context;
};

static void protocol_route_visit(struct nl_object *object, void *opaque)
{
	struct rtnl_route *route = (struct rtnl_route *)object;
	struct protocol_scan *scan = opaque;
	struct nl_addr *dst = rtnl_route_get_dst(route), *via = NULL;
	uint32_t destination = 0, gateway = 0;

	if (rtnl_route_get_protocol(route) != scan->protocol ||
	    rtnl_route_get_table(route) != RT_TABLE_MAIN || !dst)
		return;
	if (nl_addr_get_len(dst) == 4)
		memcpy(&destination, nl_addr_get_binary_addr(dst), 4);
	if (rtnl_route_get_nnexthops(route) > 0)
		via = rtnl_route_nh_get_gateway(rtnl_route_nexthop_n(route, 0));
	if (via && nl_addr_get_len(via) == 4)
		memcpy(&gateway, nl_addr_get_binary_addr(via), 4);
	scan->visit(ntohl(destination), (unsigned)nl_addr_get_prefixlen(dst), ntohl(gateway),
		    scan->context);
}

int routes_with_protocol(struct nl_sock *sock, uint8_t protocol,
			 void (*visit)(uint32_t destination, unsigned prefix_length,
				       uint32_t gateway, void *context),
			 void *context)
{
	struct protocol_scan scan = { protocol, visit, context };
	struct nl_cache *cache = NULL;
	int err = rtnl_route_alloc_cache(sock, AF_INET, 0, &cache);

	if (err < 0)
		return errno_from_nl(err);
	nl_cache_foreach(cache, protocol_route_visit, &scan);
	nl_cache_free(cache);
	return 0;
}

struct route_match {
	uint32_t destination; /* network order */
	unsigned prefix_length;
	uint32_t gateway; /* network order, 0: none */
	int ifindex;
	bool found;
};

static void route_match_visit(struct nl_object *object, void *opaque)
{
	struct rtnl_route *route = (struct rtnl_route *)object;
	struct route_match *match = opaque;
	struct nl_addr *dst = rtnl_route_get_dst(route);
	struct rtnl_nexthop *nexthop;
	struct nl_addr *via;

	if (match->found || rtnl_route_get_table(route) != RT_TABLE_MAIN || !dst ||
	    (unsigned)nl_addr_get_prefixlen(dst) != match->prefix_length)
		return;
	if (match->prefix_length > 0 &&
	    (nl_addr_get_len(dst) != 4 ||
	     memcmp(nl_addr_get_binary_addr(dst), &match->destination, 4) != 0))
		return;
	if (rtnl_route_get_nnexthops(route) != 1)
		return;
	nexthop = rtnl_route_nexthop_n(route, 0);
	if (rtnl_route_nh_get_ifindex(nexthop) != match->ifindex)
		return;
	via = rtnl_route_nh_get_gateway(nexthop);
	if (match->gateway) {
		if (!via || nl_addr_get_len(via) != 4 ||
		    memcmp(nl_addr_get_binary_addr(via), &match->gateway, 4) != 0)
			return;
	} else if (via) {
		return;
	}
	match->found = true;
}

bool route_present(struct nl_sock *sock, uint32_t destination, unsigned prefix_length,
		   uint32_t gateway, int ifindex)
{
	struct route_match match = { htonl(destination), prefix_length, gateway ? htonl(gateway) : 0,
				     ifindex, false };
	struct nl_cache *cache = NULL;

	if (rtnl_route_alloc_cache(sock, AF_INET, 0, &cache) < 0)
		return false;
	nl_cache_foreach(cache, route_match_visit, &match);
	nl_cache_free(cache);
	return match.found;
}

int neighbour_replace_permanent(struct nl_sock *sock, int ifindex, uint32_t address,
				const uint8_t mac[6], char *errbuf, size_t errlen)
{
	struct rtnl_neigh *neighbour = rtnl_neigh_alloc();
	struct nl_addr *dst = ipv4_nl_addr(address, 32);
	struct nl_addr *lladdr = nl_addr_build(AF_LLC, mac, 6);
	char text[16];
	int err;

	if (!neighbour || !dst || !lladdr) {
		rtnl_neigh_put(neighbour);
		nl_addr_put(dst);
		nl_addr_put(lladdr);
		snprintf(errbuf, errlen, "add neighbour: out of memory");
		return -ENOMEM;
	}
	rtnl_neigh_set_ifindex(neighbour, ifindex);
	rtnl_neigh_set_dst(neighbour, dst);
	rtnl_neigh_set_lladdr(neighbour, lladdr);
	rtnl_neigh_set_state(neighbour, NUD_PERMANENT);
	err = rtnl_neigh_add(sock, neighbour, NLM_F_CREATE | NLM_F_REPLACE);
	rtnl_neigh_put(neighbour);
	nl_addr_put(dst);
	nl_addr_put(lladdr);
	if (err < 0) {
		snprintf(errbuf, errlen, "add permanent neighbour %s on ifindex %d: %s",
			 inet_ntop(AF_INET, &(uint32_t){ htonl(address) }, text, sizeof(text)),
			 ifindex, nl_geterror(err));
		return errno_from_nl(err);
	}
	return 0;
}

bool neighbour_present_permanent(struct nl_sock *sock, int ifindex, uint32_t address,
				 const uint8_t mac[6])
{
	struct nl_cache *cache = NULL;
	struct nl_addr *dst = ipv4_nl_addr(address, 32);
	struct rtnl_neigh *neighbour;
	bool found = false;

	if (!dst)
		return false;
	if (rtnl_neigh_alloc_cache(sock, &cache) < 0) {
		nl_addr_put(dst);
		return false;
	}
	neighbour = rtnl_neigh_get(cache, ifindex, dst);
	if (neighbour) {
		struct nl_addr *lladdr = rtnl_neigh_get_lladdr(neighbour);
		found = (rtnl_neigh_get_state(neighbour) & NUD_PERMANENT) && lladdr &&
			nl_addr_get_len(lladdr) == 6 &&
			memcmp(nl_addr_get_binary_addr(lladdr), mac, 6) == 0;
		rtnl_neigh_put(neighbour);
	}
	nl_cache_free(cache);
	nl_addr_put(dst);
	return found;
}
