/* Node state and CNI config, both written atomically (principle 6): the runtime may read the
 * config folder at any moment and must never see half a conflist. */
#include "node_state.h"

#include <stdio.h>
#include <string.h>

#include <cJSON.h>

#include "atomic_file.h"
#include "cni_chain.h"
#include "log.h"

static int json_write(cJSON *object, const char *path, unsigned mode, char *errbuf,
		      size_t errlen)
{
	char *text = cJSON_Print(object);
	int err;

	if (!text) {
		snprintf(errbuf, errlen, "format %s: out of memory", path);
		return -1;
	}
	err = atomic_file_write(path, text, strlen(text), mode, errbuf, errlen);
	cJSON_free(text);
	return err;
}

int node_state_write(const struct agent_options *options, char *errbuf, size_t errlen)
{
	cJSON *object = cJSON_CreateObject();
	char path[600], network[16], cidr[24];
	int err = directory_create(options->state_dir, 0700);

	if (err < 0) {
		snprintf(errbuf, errlen, "create --state-dir %s: %s", options->state_dir,
			 strerror(-err));
		cJSON_Delete(object);
		return err;
	}
	snprintf(cidr, sizeof(cidr), "%s/%u", ipv4_address_format(options->pod_cidr.network, network),
		 options->pod_cidr.length);
	cJSON_AddStringToObject(object, "nodeName", options->node_name);
	cJSON_AddStringToObject(object, "podCIDR", cidr);
	snprintf(path, sizeof(path), "%s/node.json", options->state_dir);
	err = json_write(object, path, 0600, errbuf, errlen);
	cJSON_Delete(object);
	return err;
}

int cni_conflist_write(const struct agent_options *options, char *errbuf, size_t errlen)
{
	cJSON *conflist = cJSON_CreateObject();
	cJSON *plugins = cJSON_AddArrayToObject(conflist, "plugins");
	cJSON *plugin = cJSON_CreateObject();
	char path[600], network[16], cidr[24];
	struct cni_chain chain;
	int err = directory_create(options->cni_conf_dir, 0755);

	if (err < 0) {
		snprintf(errbuf, errlen, "create --cni-conf-dir %s: %s", options->cni_conf_dir,
			 strerror(-err));
		cJSON_Delete(conflist);
		cJSON_Delete(plugin);
		return err;
	}
	snprintf(cidr, sizeof(cidr), "%s/%u", ipv4_address_format(options->pod_cidr.network, network),
		 options->pod_cidr.length);
	cni_chain_decide(options->cni_bin_dir, &chain);
	log_info("CNI chain: %s", chain.note);
	cJSON_AddStringToObject(conflist, "cniVersion", chain.cni_version);
	cJSON_AddStringToObject(conflist, "name", "weir");
	cJSON_AddStringToObject(plugin, "type", "weir-cni");
	cJSON_AddStringToObject(plugin, "subnet", cidr);
	cJSON_AddStringToObject(plugin, "bpffs", options->bpffs);
	cJSON_AddStringToObject(plugin, "stateDir", options->state_dir);
	cJSON_AddNumberToObject(plugin, "mtu", options->mtu);
	cJSON_AddItemToArray(plugins, plugin);
	if (chain.portmap) {
		/* The runtime passes hostPorts to plugins that declare this capability; snat lets a
		 * client on the node itself reach its own hostPort (127.0.0.1 or the node address). */
		cJSON *portmap = cJSON_CreateObject();
		cJSON_AddStringToObject(portmap, "type", "portmap");
		cJSON_AddBoolToObject(cJSON_AddObjectToObject(portmap, "capabilities"),
				      "portMappings", 1);
		cJSON_AddBoolToObject(portmap, "snat", 1);
		cJSON_AddItemToArray(plugins, portmap);
	}
	snprintf(path, sizeof(path), "%s/%s", options->cni_conf_dir, WEIR_CNI_CONFLIST_NAME);
	/* The runtime reads it; it holds no secret. */
	err = json_write(conflist, path, 0644, errbuf, errlen);
	cJSON_Delete(conflist);
	return err;
}
