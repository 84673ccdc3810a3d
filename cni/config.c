/* Network config and environment parsing. Everything is checked here, before any change to
 * the node, so bad input is refused with nothing to undo. */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const cni_supported_versions[] = { "0.4.0", "1.0.0", "1.1.0" };
const int cni_supported_versions_count = 3;

int cni_command_parse(const char *text, enum cni_command *command, struct cni_error *err)
{
	static const struct {
		const char *name;
		enum cni_command command;
	} commands[] = {
		{ "ADD", CNI_COMMAND_ADD },	  { "DEL", CNI_COMMAND_DEL },
		{ "CHECK", CNI_COMMAND_CHECK },	  { "STATUS", CNI_COMMAND_STATUS },
		{ "GC", CNI_COMMAND_GC },	  { "VERSION", CNI_COMMAND_VERSION },
	};

	if (!text || !*text)
		return cni_error_set(err, CNI_ERR_INVALID_ENVIRONMENT, "CNI_COMMAND is not set");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(text, commands[i].name) == 0) {
			*command = commands[i].command;
			return 0;
		}
	}
	return cni_error_set(err, CNI_ERR_INVALID_ENVIRONMENT,
			     "CNI_COMMAND=%s is not one of ADD, DEL, CHECK, STATUS, GC, VERSION",
			     text);
}

int cni_version_compare(const char *left, const char *right)
{
	int left_parts[3] = { 0 }, right_parts[3] = { 0 };

	sscanf(left, "%d.%d.%d", &left_parts[0], &left_parts[1], &left_parts[2]);
	sscanf(right, "%d.%d.%d", &right_parts[0], &right_parts[1], &right_parts[2]);
	for (int i = 0; i < 3; i++) {
		if (left_parts[i] != right_parts[i])
			return left_parts[i] - right_parts[i];
	}
	return 0;
}

static int copy_string_field(cJSON *document, const char *key, char *out, size_t size,
			     bool required, struct cni_error *err)
{
	cJSON *item = cJSON_GetObjectItemCaseSensitive(document, key);

	if (!item) {
		if (required)
			return cni_error_set(err, CNI_ERR_INVALID_CONFIG,
					     "network config has no \"%s\"", key);
		return 0;
	}
	if (!cJSON_IsString(item))
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG,
				     "network config field \"%s\" must be a string", key);
	if (strlen(item->valuestring) >= size)
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG,
				     "network config field \"%s\" is longer than %zu characters",
				     key, size - 1);
	if (required && !*item->valuestring)
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG,
				     "network config field \"%s\" is empty", key);
	strcpy(out, item->valuestring);
	return 0;
}

static int parse_weir_fields(cJSON *document, struct cni_config *config, struct cni_error *err)
{
	char subnet_text[64] = "", log_level_text[16] = "";
	char errbuf[256];
	cJSON *mtu, *policy_wait;

	if (copy_string_field(document, "subnet", subnet_text, sizeof(subnet_text), false, err))
		return -1;
	if (*subnet_text || cJSON_GetObjectItemCaseSensitive(document, "subnet")) {
		if (ipv4_prefix_parse(subnet_text, &config->subnet, errbuf, sizeof(errbuf)) < 0)
			return cni_error_set(err, CNI_ERR_INVALID_CONFIG, "subnet: %s", errbuf);
		if (config->subnet.length > 30)
			return cni_error_set(err, CNI_ERR_INVALID_CONFIG,
					     "subnet %s is too small: a pod CIDR needs at least /30",
					     subnet_text);
		/* Endpoint ids are offsets in the node's pod CIDR and must fit the datapath's
		 * 65536 endpoints. */
		if (config->subnet.length < 16)
			return cni_error_set(err, CNI_ERR_INVALID_CONFIG,
					     "subnet %s is too large: a node's pod CIDR is /16 to /30",
					     subnet_text);
		config->has_subnet = true;
	}
	if (copy_string_field(document, "bpffs", config->bpffs, sizeof(config->bpffs), false, err) ||
	    copy_string_field(document, "stateDir", config->state_dir, sizeof(config->state_dir),
			      false, err) ||
	    copy_string_field(document, "logFile", config->log_file, sizeof(config->log_file),
			      false, err) ||
	    copy_string_field(document, "logLevel", log_level_text, sizeof(log_level_text), false,
			      err))
		return -1;
	if (config->bpffs[0] != '/')
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG,
				     "bpffs \"%s\" must be an absolute path", config->bpffs);
	if (config->state_dir[0] != '/')
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG,
				     "stateDir \"%s\" must be an absolute path", config->state_dir);
	if (*log_level_text && log_level_parse(log_level_text, &config->log_level) < 0)
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG,
				     "logLevel \"%s\" is not one of debug, info, warn, error",
				     log_level_text);
	mtu = cJSON_GetObjectItemCaseSensitive(document, "mtu");
	if (mtu) {
		/* Range first: casting an out-of-range double to int is undefined. */
		if (!cJSON_IsNumber(mtu) || !(mtu->valuedouble >= 576 && mtu->valuedouble <= 65535) ||
		    mtu->valuedouble != (double)(int)mtu->valuedouble ||
		    mtu->valueint < 576 || mtu->valueint > 65535)
			return cni_error_set(err, CNI_ERR_INVALID_CONFIG,
					     "mtu must be an integer from 576 to 65535");
		config->mtu = mtu->valueint;
	}
	policy_wait = cJSON_GetObjectItemCaseSensitive(document, "policyWaitMs");
	if (policy_wait) {
		if (!cJSON_IsNumber(policy_wait) ||
		    !(policy_wait->valuedouble >= 0 &&
		      policy_wait->valuedouble <= WEIR_POLICY_WAIT_MAX_MS) ||
		    policy_wait->valuedouble != (double)(int)policy_wait->valuedouble)
			return cni_error_set(err, CNI_ERR_INVALID_CONFIG,
					     "policyWaitMs must be an integer from 0 to %d",
					     WEIR_POLICY_WAIT_MAX_MS);
		config->policy_wait_ms = policy_wait->valueint;
	}
	return 0;
}

int cni_config_parse(const char *text, struct cni_config *config, struct cni_error *err)
{
	cJSON *document;
	bool supported = false;

	memset(config, 0, sizeof(*config));
	strcpy(config->bpffs, WEIR_DEFAULT_BPFFS);
	strcpy(config->state_dir, WEIR_DEFAULT_STATE_DIR);
	config->mtu = WEIR_DEFAULT_MTU;
	config->policy_wait_ms = WEIR_DEFAULT_POLICY_WAIT_MS;
	config->log_level = LOG_LEVEL_INFO;

	if (!text || !*text)
		return cni_error_set(err, CNI_ERR_DECODE, "no network config on stdin");
	document = cJSON_Parse(text);
	if (!document || !cJSON_IsObject(document)) {
		const char *where = cJSON_GetErrorPtr();
		cJSON_Delete(document);
		return cni_error_set(err, CNI_ERR_DECODE,
				     "network config on stdin is not a JSON object (near \"%.20s\")",
				     where ? where : text);
	}
	config->document = document;
	if (copy_string_field(document, "cniVersion", config->cni_version,
			      sizeof(config->cni_version), true, err))
		goto fail;
	for (int i = 0; i < cni_supported_versions_count; i++)
		supported |= strcmp(config->cni_version, cni_supported_versions[i]) == 0;
	if (!supported) {
		cni_error_set(err, CNI_ERR_INCOMPATIBLE_VERSION,
			      "cniVersion \"%s\" is not supported (supported: 0.4.0, 1.0.0, 1.1.0)",
			      config->cni_version);
		goto fail;
	}
	if (copy_string_field(document, "name", config->name, sizeof(config->name), true, err))
		goto fail;
	if (parse_weir_fields(document, config, err))
		goto fail;
	config->prev_result = cJSON_GetObjectItemCaseSensitive(document, "prevResult");
	if (config->prev_result && !cJSON_IsObject(config->prev_result)) {
		cni_error_set(err, CNI_ERR_DECODE, "prevResult must be a JSON object");
		goto fail;
	}
	config->valid_attachments =
		cJSON_GetObjectItemCaseSensitive(document, "cni.dev/valid-attachments");
	if (config->valid_attachments && !cJSON_IsArray(config->valid_attachments)) {
		cni_error_set(err, CNI_ERR_DECODE, "cni.dev/valid-attachments must be an array");
		goto fail;
	}
	return 0;
fail:
	cni_config_free(config);
	return -1;
}

void cni_config_free(struct cni_config *config)
{
	cJSON_Delete(config->document);
	config->document = NULL;
	config->prev_result = NULL;
	config->valid_attachments = NULL;
}

bool container_id_valid(const char *container_id)
{
	/* The spec: alphanumerics plus underscore, dot and hyphen, starting alphanumeric. It also
	 * keeps the id safe to use in a state file name. */
	if (!isalnum((unsigned char)container_id[0]))
		return false;
	for (const char *c = container_id; *c; c++) {
		if (!isalnum((unsigned char)*c) && *c != '_' && *c != '.' && *c != '-')
			return false;
	}
	return true;
}

bool ifname_valid(const char *ifname)
{
	size_t length = strlen(ifname);

	if (length == 0 || length > WEIR_IFNAME_MAX || strcmp(ifname, ".") == 0 ||
	    strcmp(ifname, "..") == 0)
		return false;
	for (const char *c = ifname; *c; c++) {
		if (*c == '/' || *c == ':' || isspace((unsigned char)*c) || !isprint((unsigned char)*c))
			return false;
	}
	return true;
}

void cni_args_parse(const char *args, char *pod_namespace, size_t namespace_size, char *pod_name,
		    size_t name_size)
{
	const char *cursor = args ? args : "";

	pod_namespace[0] = pod_name[0] = '\0';
	while (*cursor) {
		const char *end = strchr(cursor, ';');
		size_t length = end ? (size_t)(end - cursor) : strlen(cursor);
		const char *equals = memchr(cursor, '=', length);

		if (equals) {
			size_t key_length = (size_t)(equals - cursor);
			size_t value_length = length - key_length - 1;
			char *target = NULL;
			size_t target_size = 0;

			if (key_length == 17 && strncmp(cursor, "K8S_POD_NAMESPACE", 17) == 0) {
				target = pod_namespace;
				target_size = namespace_size;
			} else if (key_length == 12 && strncmp(cursor, "K8S_POD_NAME", 12) == 0) {
				target = pod_name;
				target_size = name_size;
			}
			if (target && value_length < target_size) {
				memcpy(target, equals + 1, value_length);
				target[value_length] = '\0';
			}
		}
		cursor += length;
		if (*cursor == ';')
			cursor++;
	}
}

static int copy_environment(const char *name, char *out, size_t size, bool required,
			    struct cni_error *err)
{
	const char *value = getenv(name);

	if (!value || !*value) {
		out[0] = '\0';
		if (required)
			return cni_error_set(err, CNI_ERR_INVALID_ENVIRONMENT, "%s is not set", name);
		return 0;
	}
	if (strlen(value) >= size)
		return cni_error_set(err, CNI_ERR_INVALID_ENVIRONMENT,
				     "%s is longer than %zu characters", name, size - 1);
	strcpy(out, value);
	return 0;
}

int cni_environment_read(enum cni_command command, struct cni_environment *env,
			 struct cni_error *err)
{
	bool per_attachment = command == CNI_COMMAND_ADD || command == CNI_COMMAND_DEL ||
			      command == CNI_COMMAND_CHECK;
	bool needs_netns = command == CNI_COMMAND_ADD || command == CNI_COMMAND_CHECK;
	const char *ifname = getenv("CNI_IFNAME");

	memset(env, 0, sizeof(*env));
	env->command = command;
	if (!per_attachment)
		return 0;
	if (copy_environment("CNI_CONTAINERID", env->container_id, sizeof(env->container_id), true,
			     err))
		return -1;
	if (!container_id_valid(env->container_id))
		return cni_error_set(err, CNI_ERR_INVALID_ENVIRONMENT,
				     "CNI_CONTAINERID \"%s\" has characters other than letters, "
				     "digits, '_', '.' and '-', or does not start with one",
				     env->container_id);
	if (!ifname || !*ifname)
		return cni_error_set(err, CNI_ERR_INVALID_ENVIRONMENT, "CNI_IFNAME is not set");
	if (!ifname_valid(ifname))
		return cni_error_set(err, CNI_ERR_INVALID_ENVIRONMENT,
				     "CNI_IFNAME \"%s\" is not a valid interface name (1-%d "
				     "printable characters, no '/', ':' or spaces)",
				     ifname, WEIR_IFNAME_MAX);
	strcpy(env->ifname, ifname);
	if (copy_environment("CNI_NETNS", env->netns, sizeof(env->netns), needs_netns, err))
		return -1;
	if (copy_environment("CNI_PATH", env->plugin_path, sizeof(env->plugin_path), true, err))
		return -1;
	cni_args_parse(getenv("CNI_ARGS"), env->pod_namespace, sizeof(env->pod_namespace),
		       env->pod_name, sizeof(env->pod_name));
	/* Runtimes outside Kubernetes send no pod identity: the pod is then named after its
	 * container in the default namespace, so records and logs still say whose it is. */
	if (!*env->pod_namespace)
		strcpy(env->pod_namespace, "default");
	if (!*env->pod_name)
		snprintf(env->pod_name, sizeof(env->pod_name), "%.253s", env->container_id);
	return 0;
}
