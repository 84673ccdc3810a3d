/* Node routes. Every route weir adds carries its own protocol number, so a sync finds exactly
 * its own routes: another node's agent in another namespace, or routes an operator added, are
 * never touched (principle 5). */
#include "node_routes.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cidr.h"
#include "log.h"
#include "netlink.h"

struct node_route {
	uint32_t destination;
	unsigned prefix_length;
	uint32_t gateway;
	bool present; /* found in the kernel with the same gateway */
};

struct route_plan {
	const char *node_name;
	struct node_route items[1024];
	size_t count;
};

static void plan_node(cJSON *node, void *opaque)
{
	struct route_plan *plan = opaque;
	const char *name = object_name(node);
	const char *pod_cidr = object_string(node, "spec.podCIDR");
	const cJSON *address;
	struct ipv4_prefix prefix;
	uint32_t gateway = 0;
	char errbuf[128];

	if (!name || strcmp(name, plan->node_name) == 0 || !pod_cidr ||
	    ipv4_prefix_parse(pod_cidr, &prefix, errbuf, sizeof(errbuf)) < 0 ||
	    plan->count >= sizeof(plan->items) / sizeof(plan->items[0]))
		return;
	cJSON_ArrayForEach(address, object_child(node, "status.addresses"))
	{
		const char *type = object_string(address, "type");
		const char *text = object_string(address, "address");
		if (type && strcmp(type, "InternalIP") == 0 && text &&
		    ipv4_address_parse(text, &gateway) == 0)
			break;
		gateway = 0;
	}
	if (!gateway)
		return;
	plan->items[plan->count++] = (struct node_route){ prefix.network, prefix.length, gateway,
							   false };
}

struct route_scan {
	struct route_plan *plan;
	struct nl_sock *sock;
	size_t removed;
};

static void check_existing(uint32_t destination, unsigned prefix_length, uint32_t gateway,
			   void *opaque)
{
	struct route_scan *scan = opaque;
	char errbuf[256];

	for (size_t i = 0; i < scan->plan->count; i++) {
		struct node_route *wanted = &scan->plan->items[i];
		if (wanted->destination == destination && wanted->prefix_length == prefix_length) {
			wanted->present = wanted->gateway == gateway;
			return;
		}
	}
	/* A node that is gone: its route goes too. */
	if (route_delete(scan->sock, destination, prefix_length, errbuf, sizeof(errbuf)) == 0)
		scan->removed++;
	else
		log_warn("%s", errbuf);
}

int node_routes_sync(struct object_store *store, const char *node_name, char *errbuf,
		     size_t errlen)
{
	struct route_plan *plan = calloc(1, sizeof(*plan));
	struct route_scan scan = { plan, NULL, 0 };
	size_t added = 0;
	int result = -1;

	if (!plan) {
		snprintf(errbuf, errlen, "plan node routes: out of memory");
		return -1;
	}
	plan->node_name = node_name;
	object_store_for_each(store, KIND_NODE, plan_node, plan);
	scan.sock = netlink_open(errbuf, errlen);
	if (!scan.sock)
		goto out;
	if (routes_with_protocol(scan.sock, WEIR_ROUTE_PROTOCOL, check_existing, &scan) < 0) {
		snprintf(errbuf, errlen, "list weir's routes: netlink failed");
		goto out;
	}
	for (size_t i = 0; i < plan->count; i++) {
		if (plan->items[i].present)
			continue;
		if (route_replace_via(scan.sock, plan->items[i].destination,
				      plan->items[i].prefix_length, plan->items[i].gateway, errbuf,
				      errlen) < 0)
			goto out;
		added++;
	}
	if (added || scan.removed)
		log_info("node routes: %zu added or changed, %zu removed, %zu in place", added,
			 scan.removed, plan->count);
	result = 0;
out:
	netlink_close(scan.sock);
	free(plan);
	return result;
}
