/* What one weir-cni invocation was asked: the network config from stdin and the CNI_*
 * environment, validated before anything on the node is touched. */
#ifndef WEIR_CNI_CONFIG_H
#define WEIR_CNI_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include <cJSON.h>

#include "cidr.h"
#include "errors.h"
#include "log.h"

#define WEIR_DEFAULT_BPFFS "/sys/fs/bpf/weir"
#define WEIR_DEFAULT_STATE_DIR "/var/lib/weir"
#define WEIR_DEFAULT_MTU 1500
#define WEIR_IFNAME_MAX 15
/* How long ADD waits for the agent to write a new pod's policy and release it (0: not at all,
 * the pod stays closed until the agent releases it); past it ADD fails with code 11. */
#define WEIR_DEFAULT_POLICY_WAIT_MS 5000
#define WEIR_POLICY_WAIT_MAX_MS 120000

enum cni_command {
	CNI_COMMAND_ADD,
	CNI_COMMAND_DEL,
	CNI_COMMAND_CHECK,
	CNI_COMMAND_STATUS,
	CNI_COMMAND_GC,
	CNI_COMMAND_VERSION,
};

struct cni_config {
	char cni_version[16];
	char name[128];
	bool has_subnet;
	struct ipv4_prefix subnet;
	char bpffs[256];
	char state_dir[256];
	int mtu;
	int policy_wait_ms;
	char log_file[256];
	enum log_level log_level;
	cJSON *document;     /* the whole config, owned */
	cJSON *prev_result;  /* borrowed from document, may be NULL */
	cJSON *valid_attachments; /* GC's cni.dev/valid-attachments, borrowed, may be NULL */
};

struct cni_environment {
	enum cni_command command;
	char container_id[256];
	char netns[512];
	char plugin_path[1024]; /* CNI_PATH: required by the spec, though weir delegates nothing */
	char ifname[WEIR_IFNAME_MAX + 1];
	char pod_namespace[256];
	char pod_name[256];
};

extern const char *const cni_supported_versions[];
extern const int cni_supported_versions_count;

/* Parses CNI_COMMAND alone, so VERSION can answer before anything else is validated. */
int cni_command_parse(const char *text, enum cni_command *command, struct cni_error *err);

/* Parses and validates the network config. On error, err is filled and nothing is kept. */
int cni_config_parse(const char *text, struct cni_config *config, struct cni_error *err);
void cni_config_free(struct cni_config *config);

/* Reads the CNI_* variables the command needs and validates them. */
int cni_environment_read(enum cni_command command, struct cni_environment *env,
			 struct cni_error *err);

/* Compares dotted versions; negative, zero or positive like strcmp. */
int cni_version_compare(const char *left, const char *right);

bool container_id_valid(const char *container_id);
bool ifname_valid(const char *ifname);
/* Parses "K=V;K=V" into the pod's namespace and name. */
void cni_args_parse(const char *args, char *pod_namespace, size_t namespace_size, char *pod_name,
		    size_t name_size);

#endif
