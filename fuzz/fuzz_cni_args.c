/* Fuzz target: the CNI runtime environment (cni/config.c): CNI_ARGS parsing (cni_args_parse), the
 * CNI_* variables as cni_environment_read validates them, and CNI_COMMAND (cni_command_parse).
 *
 * Input: up to six fields separated by '\n': CNI_ARGS, CNI_CONTAINERID, CNI_IFNAME, CNI_NETNS,
 * CNI_PATH, CNI_COMMAND. A field that is absent takes a valid default, so an input that is one
 * line fuzzes CNI_ARGS alone under an otherwise valid environment.
 * Checks beyond memory safety:
 *   - cni_args_parse, for output buffers of 1, 8 and 256 bytes, always leaves NUL-terminated
 *     strings inside the buffer, and a non-empty result R for KEY is exactly the value of one
 *     ';'-separated "KEY=R" segment of CNI_ARGS (the key compared whole: K8S_POD_NAME never
 *     matches K8S_POD_NAMESPACE);
 *   - cni_environment_read, when it accepts ADD/DEL/CHECK, gives a container id and ifname that
 *     pass container_id_valid/ifname_valid, the environment's values verbatim, and a non-empty
 *     pod namespace and name; when it refuses, it sets an error code. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "fuzz_support.h"

#define FIELD_COUNT 6

static const char *const variables[FIELD_COUNT] = {"CNI_ARGS",	"CNI_CONTAINERID", "CNI_IFNAME",
						   "CNI_NETNS", "CNI_PATH",	   "CNI_COMMAND"};
static const char *const defaults[FIELD_COUNT] = {
    "", "0123456789abcdef", "eth0", "/var/run/netns/cni-1234", "/opt/cni/bin", "ADD",
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet_logs();
	return 0;
}

/* Whether args has a segment that is exactly key=value. */
static bool segment_present(const char *args, const char *key, const char *value)
{
	size_t key_length = strlen(key), value_length = strlen(value);
	const char *cursor = args;

	for (;;) {
		const char *end = strchr(cursor, ';');
		size_t length = end ? (size_t)(end - cursor) : strlen(cursor);
		if (length == key_length + 1 + value_length &&
		    strncmp(cursor, key, key_length) == 0 && cursor[key_length] == '=' &&
		    strncmp(cursor + key_length + 1, value, value_length) == 0)
			return true;
		if (!end)
			return false;
		cursor = end + 1;
	}
}

static void check_args_parse(const char *args, size_t size)
{
	/* Guard bytes around each buffer catch a write one past the end even without ASan. */
	char name_space[256 + 2], name[256 + 2];

	memset(name_space, 'G', sizeof(name_space));
	memset(name, 'G', sizeof(name));
	cni_args_parse(args, name_space + 1, size, name + 1, size);
	FUZZ_CHECK(name_space[0] == 'G' && name_space[size + 1] == 'G' && name[0] == 'G' &&
		       name[size + 1] == 'G',
		   "cni_args_parse wrote outside %zu-byte buffers", size);
	FUZZ_CHECK(memchr(name_space + 1, '\0', size) && memchr(name + 1, '\0', size),
		   "unterminated result in %zu-byte buffers", size);
	FUZZ_CHECK(!name_space[1] || segment_present(args, "K8S_POD_NAMESPACE", name_space + 1),
		   "namespace \"%s\" is not a K8S_POD_NAMESPACE value of \"%s\"", name_space + 1,
		   args);
	FUZZ_CHECK(!name[1] || segment_present(args, "K8S_POD_NAME", name + 1),
		   "name \"%s\" is not a K8S_POD_NAME value of \"%s\"", name + 1, args);
}

static void check_environment(enum cni_command command, const char *const *fields)
{
	struct cni_environment env;
	struct cni_error err = {0};

	if (cni_environment_read(command, &env, &err) < 0) {
		FUZZ_CHECK(err.code != 0, "environment refused without an error code");
		return;
	}
	FUZZ_CHECK(env.command == command, "command %d, want %d", (int)env.command, (int)command);
	if (command != CNI_COMMAND_ADD && command != CNI_COMMAND_DEL &&
	    command != CNI_COMMAND_CHECK)
		return;
	FUZZ_CHECK(container_id_valid(env.container_id), "accepted container id \"%s\"",
		   env.container_id);
	FUZZ_CHECK(strcmp(env.container_id, fields[1]) == 0, "container id changed");
	FUZZ_CHECK(ifname_valid(env.ifname), "accepted ifname \"%s\"", env.ifname);
	FUZZ_CHECK(strcmp(env.ifname, fields[2]) == 0, "ifname changed");
	FUZZ_CHECK(command == CNI_COMMAND_DEL || strcmp(env.netns, fields[3]) == 0,
		   "netns changed");
	FUZZ_CHECK(strcmp(env.plugin_path, fields[4]) == 0, "CNI_PATH changed");
	FUZZ_CHECK(env.pod_namespace[0] && env.pod_name[0], "empty pod namespace or name");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_text(data, size);
	const char *fields[FIELD_COUNT];
	char *cursor = text;
	enum cni_command command;
	struct cni_error err = {0};

	for (int i = 0; i < FIELD_COUNT; i++) {
		char *newline = cursor ? strchr(cursor, '\n') : NULL;
		fields[i] = cursor ? cursor : defaults[i];
		if (newline)
			*newline = '\0';
		cursor = newline ? newline + 1 : NULL;
	}
	check_args_parse(fields[0], 1);
	check_args_parse(fields[0], 8);
	check_args_parse(fields[0], 256);

	for (int i = 0; i < FIELD_COUNT; i++)
		setenv(variables[i], fields[i], 1);
	if (cni_command_parse(fields[5], &command, &err) == 0)
		check_environment(command, fields);
	else
		FUZZ_CHECK(err.code == CNI_ERR_INVALID_ENVIRONMENT, "CNI_COMMAND error code %d",
			   err.code);
	check_environment(CNI_COMMAND_ADD, fields);
	check_environment(CNI_COMMAND_DEL, fields);
	unsetenv("CNI_ARGS");
	check_environment(CNI_COMMAND_CHECK, fields);
	free(text);
	return 0;
}
