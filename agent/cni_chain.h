/* The plugins chained after weir-cni in the conflist. Today one: the reference portmap plugin,
 * which serves hostPort (the runtime hands it the pod's portMappings, it programs DNAT rules).
 * It is chained only when --cni-bin-dir holds it: a conflist naming a plugin the node lacks
 * would fail every pod's ADD. The conflist's cniVersion is then the newest version both
 * weir-cni and portmap speak (Debian 12's portmap stops at 1.0.0, which gives up GC and
 * STATUS: those need 1.1.0). */
#ifndef WEIR_AGENT_CNI_CHAIN_H
#define WEIR_AGENT_CNI_CHAIN_H

#include <stdbool.h>
#include <stddef.h>

#define WEIR_CNI_NEWEST_VERSION "1.1.0"

struct cni_chain {
	bool portmap;
	char cni_version[16];
	char note[320]; /* why portmap is or is not chained, for the agent's log */
};

/* Fills chain from bin_dir (NULL: nothing is chained). Never fails: a plugin that cannot be
 * asked is left out, and note says why. */
void cni_chain_decide(const char *bin_dir, struct cni_chain *chain);

/* The newest of weir-cni's versions listed in a plugin's VERSION answer (a JSON object with
 * "supportedVersions"), or NULL when they share none or the answer is not readable. */
const char *cni_chain_common_version(const char *version_answer);

#endif
