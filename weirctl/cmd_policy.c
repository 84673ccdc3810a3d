/* weirctl policy NS/POD: what the datapath allows one local pod, per direction, in words: which
 * policies isolate it and every entry that lets something through, with the policy it came
 * from and, for rules with HTTP matchers, the HTTP rule set in words. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>

#include "datapath.h"
#include "http_rules.h"
#include "names.h"
#include "output.h"
#include "policy_view.h"

static const char *direction_name(int direction)
{
	return direction == WEIR_DIRECTION_INGRESS ? "ingress" : "egress";
}

/* One direction: printed (table output) and added to pod_json. */
static void describe_direction(struct datapath *datapath, const struct names *names,
			       const struct endpoint_record *pod, uint32_t isolation_rule,
			       int direction, bool json, cJSON *pod_json)
{
	cJSON *object = cJSON_AddObjectToObject(pod_json, direction_name(direction));
	cJSON *rules;
	struct weir_policy_key *keys;
	struct weir_policy_entry *entries;
	size_t count;
	char isolators[1024];

	cJSON_AddBoolToObject(object, "isolated", isolation_rule != 0);
	if (!json)
		printf("%s of %s/%s (endpoint %u):\n", direction_name(direction),
		       pod->pod_namespace, pod->pod_name, pod->endpoint_id);
	if (!isolation_rule) {
		if (!json)
			printf("  everything is allowed: no NetworkPolicy selects the pod for %s\n",
			       direction_name(direction));
		return;
	}
	rule_words(names, isolation_rule, isolators, sizeof(isolators));
	cJSON_AddNumberToObject(object, "isolationRuleId", isolation_rule);
	cJSON_AddStringToObject(object, "isolatedBy",
				strncmp(isolators, "isolated by ", 12) == 0 ? isolators + 12
									    : isolators);
	if (!json)
		printf("  %s; everything else is denied. Allowed:\n", isolators);
	rules = cJSON_AddArrayToObject(object, "rules");
	count = policy_entries_of(datapath, pod->endpoint_id, (uint8_t)direction, &keys, &entries);
	if (count == 0 && !json)
		printf("    nothing\n");
	for (size_t i = 0; i < count; i++) {
		char peer[1024], ports[64], policy[512], http[1024] = "";
		bool allow = entries[i].verdict == WEIR_VERDICT_ALLOW;
		cJSON *rule = cJSON_CreateObject();

		identity_words(names, keys[i].identity, peer, sizeof(peer));
		policy_ports_words(&keys[i], ports, sizeof(ports));
		rule_words(names, entries[i].rule_id, policy, sizeof(policy));
		if (entries[i].flags & WEIR_POLICY_FLAG_HTTP)
			http_rules_describe(datapath->http_rules_fd, entries[i].rule_id, http,
					    sizeof(http));
		cJSON_AddItemToObject(rule, "peer", identity_json(names, keys[i].identity));
		policy_ports_json(&keys[i], rule);
		cJSON_AddStringToObject(rule, "verdict", allow ? "allow" : "deny");
		cJSON_AddStringToObject(rule, "policy", policy);
		cJSON_AddNumberToObject(rule, "ruleId", entries[i].rule_id);
		if (http[0])
			cJSON_AddStringToObject(rule, "http", http);
		else
			cJSON_AddNullToObject(rule, "http");
		cJSON_AddItemToArray(rules, rule);
		if (json)
			continue;
		printf("    %s %s: %s (%s %s)\n",
		       direction == WEIR_DIRECTION_INGRESS ? "from" : "to", peer, ports,
		       allow ? "allowed by" : "denied by", policy);
		if (http[0])
			printf("      %s\n", http);
	}
	free(keys);
	free(entries);
}

int command_policy(struct weirctl *ctl, const struct command *command, int argc, char **argv)
{
	int parsed = command_options(ctl, command, argc, argv, NULL, NULL, NULL, NULL);
	struct weir_endpoint_policy isolation = {0};
	const struct endpoint_record *pod;
	char pod_namespace[256], errbuf[256];
	const char *pod_name;
	struct datapath datapath;
	struct names names;
	cJSON *document;
	bool json = output_is_json(ctl);

	if (parsed < 0)
		return command_options_exit(parsed);
	if (argc - parsed != 1)
		return command_usage_error(command, "needs exactly one NAMESPACE/POD");
	if (pod_name_split(argv[parsed], pod_namespace, sizeof(pod_namespace), &pod_name) < 0)
		return command_usage_error(command, "\"%s\" is not NAMESPACE/POD", argv[parsed]);
	names_load(&names, ctl->state_dir);
	pod = names_pod_by_name(&names, argv[parsed]);
	if (!pod) {
		fprintf(
		    stderr,
		    "weirctl: no pod %s on this node: no endpoint record for it in %s/endpoints "
		    "(`weirctl endpoints` lists the pods here)\n",
		    argv[parsed], ctl->state_dir);
		names_free(&names);
		return 1;
	}
	if (datapath_open(&datapath, ctl->bpffs, errbuf, sizeof(errbuf)) < 0) {
		output_datapath_error(ctl, errbuf);
		names_free(&names);
		return 1;
	}
	bpf_map_lookup_elem(datapath.endpoint_policy_fd, &pod->endpoint_id, &isolation);
	document = cJSON_CreateObject();
	cJSON_AddStringToObject(document, "namespace", pod->pod_namespace);
	cJSON_AddStringToObject(document, "pod", pod->pod_name);
	cJSON_AddNumberToObject(document, "endpointId", pod->endpoint_id);
	describe_direction(&datapath, &names, pod, isolation.ingress_isolation_rule,
			   WEIR_DIRECTION_INGRESS, json, document);
	describe_direction(&datapath, &names, pod, isolation.egress_isolation_rule,
			   WEIR_DIRECTION_EGRESS, json, document);
	datapath_close(&datapath);
	names_free(&names);
	if (json)
		return output_json_print(document);
	cJSON_Delete(document);
	return 0;
}
