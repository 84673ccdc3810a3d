/* Results per the spec: interfaces (host veth, then the pod's with its sandbox), ips pointing
 * at the pod interface by index, routes, dns. 0.4.0 results also carry "version" per IP. */
#include "result.h"

#include <stdio.h>
#include <string.h>

#include "cidr.h"
#include "config.h"
#include "netlink.h"
#include "pod_wiring.h"

cJSON *cni_result_build(const char *cni_version, const struct endpoint_record *record)
{
	cJSON *result = cJSON_CreateObject();
	cJSON *interfaces = cJSON_AddArrayToObject(result, "interfaces");
	cJSON *ips = cJSON_AddArrayToObject(result, "ips");
	cJSON *routes = cJSON_AddArrayToObject(result, "routes");
	cJSON *host = cJSON_CreateObject(), *pod = cJSON_CreateObject();
	cJSON *ip = cJSON_CreateObject(), *route = cJSON_CreateObject();
	char text[32], mac[18], address[16];

	cJSON_AddStringToObject(result, "cniVersion", cni_version);
	cJSON_AddStringToObject(host, "name", record->host_ifname);
	cJSON_AddStringToObject(host, "mac", mac_format(record->host_mac, mac));
	cJSON_AddItemToArray(interfaces, host);
	cJSON_AddStringToObject(pod, "name", record->ifname);
	cJSON_AddStringToObject(pod, "mac", mac_format(record->pod_mac, mac));
	cJSON_AddStringToObject(pod, "sandbox", record->netns);
	cJSON_AddItemToArray(interfaces, pod);

	if (cni_version_compare(cni_version, "1.0.0") < 0)
		cJSON_AddStringToObject(ip, "version", "4");
	snprintf(text, sizeof(text), "%s/32", ipv4_address_format(record->address, address));
	cJSON_AddStringToObject(ip, "address", text);
	cJSON_AddStringToObject(ip, "gateway", ipv4_address_format(WEIR_POD_GATEWAY, address));
	cJSON_AddNumberToObject(ip, "interface", 1);
	cJSON_AddItemToArray(ips, ip);

	cJSON_AddStringToObject(route, "dst", "0.0.0.0/0");
	cJSON_AddStringToObject(route, "gw", ipv4_address_format(WEIR_POD_GATEWAY, address));
	cJSON_AddItemToArray(routes, route);
	cJSON_AddObjectToObject(result, "dns");
	return result;
}

static int parse_address_with_prefix(const char *text, uint32_t *address, unsigned *length)
{
	char copy[32];
	char *slash;
	int parsed;

	if (strlen(text) >= sizeof(copy))
		return -1;
	strcpy(copy, text);
	slash = strchr(copy, '/');
	if (!slash)
		return -1;
	*slash = '\0';
	if (sscanf(slash + 1, "%d", &parsed) != 1 || parsed < 0 || parsed > 32)
		return -1;
	*length = (unsigned)parsed;
	return ipv4_address_parse(copy, address);
}

int previous_result_parse(cJSON *prev_result, const char *ifname, struct previous_result *parsed,
			  struct cni_error *err)
{
	cJSON *interfaces, *ips, *routes, *item;
	int pod_index = -1, index = 0;

	memset(parsed, 0, sizeof(*parsed));
	if (!prev_result)
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, "prevResult is missing");
	interfaces = cJSON_GetObjectItemCaseSensitive(prev_result, "interfaces");
	cJSON_ArrayForEach(item, interfaces)
	{
		cJSON *name = cJSON_GetObjectItemCaseSensitive(item, "name");
		cJSON *sandbox = cJSON_GetObjectItemCaseSensitive(item, "sandbox");
		cJSON *mac = cJSON_GetObjectItemCaseSensitive(item, "mac");

		if (cJSON_IsString(name) && strcmp(name->valuestring, ifname) == 0 &&
		    cJSON_IsString(sandbox) && *sandbox->valuestring) {
			pod_index = index;
			snprintf(parsed->pod_ifname, sizeof(parsed->pod_ifname), "%s", ifname);
			snprintf(parsed->sandbox, sizeof(parsed->sandbox), "%s",
				 sandbox->valuestring);
			if (!cJSON_IsString(mac) || mac_parse(mac->valuestring, parsed->pod_mac) < 0)
				return cni_error_set(err, CNI_ERR_INVALID_CONFIG,
						     "prevResult interface %s has no valid mac",
						     ifname);
		}
		index++;
	}
	if (pod_index < 0)
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG,
				     "prevResult lists no interface %s with a sandbox", ifname);
	ips = cJSON_GetObjectItemCaseSensitive(prev_result, "ips");
	cJSON_ArrayForEach(item, ips)
	{
		cJSON *address = cJSON_GetObjectItemCaseSensitive(item, "address");
		cJSON *interface = cJSON_GetObjectItemCaseSensitive(item, "interface");
		cJSON *gateway = cJSON_GetObjectItemCaseSensitive(item, "gateway");

		if (!cJSON_IsNumber(interface) || interface->valueint != pod_index)
			continue;
		if (!cJSON_IsString(address) ||
		    parse_address_with_prefix(address->valuestring, &parsed->address,
					      &parsed->prefix_length) < 0)
			return cni_error_set(err, CNI_ERR_INVALID_CONFIG,
					     "prevResult has an unreadable IP address");
		if (cJSON_IsString(gateway))
			ipv4_address_parse(gateway->valuestring, &parsed->gateway);
		break;
	}
	if (!parsed->address)
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG,
				     "prevResult has no IPv4 address on interface %s", ifname);
	routes = cJSON_GetObjectItemCaseSensitive(prev_result, "routes");
	cJSON_ArrayForEach(item, routes)
	{
		cJSON *dst = cJSON_GetObjectItemCaseSensitive(item, "dst");
		cJSON *gw = cJSON_GetObjectItemCaseSensitive(item, "gw");
		int slot = parsed->route_count;

		if (slot >= 16 || !cJSON_IsString(dst))
			continue;
		if (parse_address_with_prefix(dst->valuestring, &parsed->routes[slot].destination,
					      &parsed->routes[slot].prefix_length) < 0)
			continue; /* IPv6 routes are not weir's */
		parsed->routes[slot].gateway = parsed->gateway;
		if (cJSON_IsString(gw))
			ipv4_address_parse(gw->valuestring, &parsed->routes[slot].gateway);
		parsed->route_count++;
	}
	return 0;
}
