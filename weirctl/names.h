/* Numbers back into names: the agent's id tables in the state dir (identities, CIDR
 * identities, rules, services) and the CNI's endpoint records (local pods). Every command that
 * prints an identity, a rule or a pod goes through here, so they all say it the same way. */
#ifndef WEIR_WEIRCTL_NAMES_H
#define WEIR_WEIRCTL_NAMES_H

#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

#include "endpoint_record.h"

struct names {
	cJSON *identities;	/* identities.json: label set -> identity */
	cJSON *cidr_identities; /* cidr-identities.json */
	cJSON *rules;		/* rules.json: "policy NS/NAME" or "isolated by ..." -> rule id */
	cJSON *services;	/* service-ids.json */
	struct endpoint_record *records;
	size_t record_count;
};

/* Missing files are empty tables: a node without policies has no rules.json. */
void names_load(struct names *names, const char *state_dir);
void names_free(struct names *names);

/* The key an id table gives id, or NULL. */
const char *names_id_key(const cJSON *table, uint32_t id);

/* "host", "world", "e2e: app=web", "cidr 10.0.0.0/8", "identity 4711" */
void identity_words(const struct names *names, uint32_t identity, char *out, size_t size);
/* {"identity", "kind" (reserved|pod|cidr|unknown), "name"; pods: "namespace", "labels"} */
cJSON *identity_json(const struct names *names, uint32_t identity);

/* The policy a rule id stands for: "NS/NAME" for an allow rule, "isolated by NS/A, NS/B" for
 * an isolation rule, "rule N" when the agent's table does not know it. */
void rule_words(const struct names *names, uint32_t rule_id, char *out, size_t size);

const struct endpoint_record *names_pod_by_endpoint(const struct names *names, uint32_t id);
const struct endpoint_record *names_pod_by_address(const struct names *names, uint32_t address);
/* "NS/POD"; NULL when that pod has no endpoint on this node. */
const struct endpoint_record *names_pod_by_name(const struct names *names, const char *pod);

/* Splits "NS/POD"; -1 when it is not of that form. */
int pod_name_split(const char *text, char *pod_namespace, size_t namespace_size,
		   const char **pod_name);

#endif
