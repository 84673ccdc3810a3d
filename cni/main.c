/* weir-cni: the plugin the container runtime execs for every pod (CNI spec 1.1.0, accepting
 * 1.0.0 and 0.4.0 configs). Reads the command from CNI_COMMAND and the config from stdin,
 * validates both, then hands off to one function per verb. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "commands.h"
#include "config.h"
#include "errors.h"
#include "log.h"

#define STDIN_LIMIT (4 << 20)

static char *stdin_read_all(void)
{
	size_t length = 0, capacity = 8192;
	char *buffer = malloc(capacity);

	if (!buffer)
		return NULL;
	for (;;) {
		size_t n;
		if (capacity - length < 2) {
			char *grown;
			if (capacity >= STDIN_LIMIT)
				break;
			grown = realloc(buffer, capacity * 2);
			if (!grown)
				break;
			buffer = grown;
			capacity *= 2;
		}
		n = fread(buffer + length, 1, capacity - length - 1, stdin);
		length += n;
		if (n == 0)
			break;
	}
	buffer[length] = '\0';
	return buffer;
}

/* VERSION answers without validating anything else: runtimes probe it with dummy variables. */
static int print_version(const char *stdin_text)
{
	cJSON *request = cJSON_Parse(stdin_text ? stdin_text : "");
	cJSON *requested = cJSON_GetObjectItemCaseSensitive(request, "cniVersion");
	cJSON *answer = cJSON_CreateObject();
	cJSON *versions = cJSON_AddArrayToObject(answer, "supportedVersions");
	char *text;

	cJSON_AddStringToObject(answer, "cniVersion",
				cJSON_IsString(requested) ? requested->valuestring : "1.1.0");
	for (int i = 0; i < cni_supported_versions_count; i++)
		cJSON_AddItemToArray(versions, cJSON_CreateString(cni_supported_versions[i]));
	text = cJSON_Print(answer);
	if (text)
		printf("%s\n", text);
	cJSON_free(text);
	cJSON_Delete(answer);
	cJSON_Delete(request);
	return 0;
}

static void logging_setup(const struct cni_config *config)
{
	FILE *stream = NULL;

	if (*config->log_file)
		stream = log_file_open(config->log_file);
	if (stream)
		log_setup("weir-cni", stream, config->log_level);
	else /* without a log file, stderr carries warnings and errors only */
		log_setup("weir-cni", stderr,
			  config->log_level > LOG_LEVEL_WARN ? config->log_level : LOG_LEVEL_WARN);
}

static int dispatch(const struct cni_config *config, const struct cni_environment *env,
		    struct cni_error *err)
{
	switch (env->command) {
	case CNI_COMMAND_ADD: return cmd_add(config, env, err);
	case CNI_COMMAND_DEL: return cmd_del(config, env, err);
	case CNI_COMMAND_CHECK: return cmd_check(config, env, err);
	case CNI_COMMAND_STATUS: return cmd_status(config, err);
	case CNI_COMMAND_GC: return cmd_gc(config, err);
	case CNI_COMMAND_VERSION: break;
	}
	return 0;
}

static const char *command_name(enum cni_command command)
{
	static const char *const names[] = { "ADD", "DEL", "CHECK", "STATUS", "GC", "VERSION" };
	return names[command];
}

int main(void)
{
	struct cni_error err = { 0 };
	struct cni_environment env;
	struct cni_config config = { 0 };
	enum cni_command command;
	char *stdin_text;
	int result;

	log_setup("weir-cni", stderr, LOG_LEVEL_WARN);
	stdin_text = stdin_read_all();
	if (cni_command_parse(getenv("CNI_COMMAND"), &command, &err) < 0) {
		cni_error_print(&err, NULL);
		free(stdin_text);
		return 1;
	}
	if (command == CNI_COMMAND_VERSION) {
		result = print_version(stdin_text);
		free(stdin_text);
		return result;
	}
	if (cni_config_parse(stdin_text, &config, &err) < 0) {
		cni_error_print(&err, NULL);
		free(stdin_text);
		return 1;
	}
	free(stdin_text);
	logging_setup(&config);
	if (cni_environment_read(command, &env, &err) < 0) {
		cni_error_print(&err, config.cni_version);
		cni_config_free(&config);
		return 1;
	}
	log_debug("%s container %s ifname %s netns %s", command_name(command), env.container_id,
		  env.ifname, env.netns);
	result = dispatch(&config, &env, &err);
	if (result < 0)
		cni_error_print(&err, config.cni_version);
	else
		log_info("%s %s/%s done", command_name(command), env.container_id, env.ifname);
	cni_config_free(&config);
	return result < 0 ? 1 : 0;
}
