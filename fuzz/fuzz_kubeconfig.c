/* Fuzz target: kubeconfig loading (agent/kubeconfig.c kubeconfig_load, then
 * kube_client_config_token): current-context -> context -> cluster and user, *-data fields
 * (base64), file paths relative to the kubeconfig's folder, token cleaning.
 *
 * Input: the kubeconfig file's content. kubeconfig_load takes a path, so the input is written to
 * "config" in a private temp folder that also holds the files a kubeconfig may name: ca.crt,
 * client.crt, client.key (PEM), token, bad.pem (not PEM) and empty. A temp folder and not a
 * memfd (/proc/self/fd/N): relative paths resolve against the kubeconfig's folder, and in
 * /proc/self/fd "0" would be stdin (a hang) and other numbers libFuzzer's own files.
 * To keep the loader inside that folder, inputs whose parsed YAML has an absolute path or ".."
 * in a certificate-authority, client-certificate, client-key or tokenFile string are skipped
 * (/dev/zero would never end, /dev/stdin would block).
 * Checks beyond memory safety: on success the server is an http(s):// URL with a host, no
 * trailing slash and no whitespace; a CA and a client certificate/key are PEM ("-----BEGIN "),
 * certificate and key come together, insecure-skip-tls-verify excludes a CA, a token is
 * non-empty without whitespace or control characters, and kube_client_config_token returns it.
 * On failure the error names the kubeconfig and never contains the token or client-key-data
 * value (checked for values of 16+ bytes with a digit, so no fixed message word can match, that
 * appear nowhere else in the document and not in the kubeconfig's path). */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_support.h"
#include "kubeconfig.h"
#include "yaml_json.h"

static char kubeconfig_path[600];
static const char *folder;

#define PEM(kind, body) "-----BEGIN " kind "-----\n" body "\n-----END " kind "-----\n"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const struct {
		const char *name, *content;
	} files[] = {
	    {"ca.crt", PEM("CERTIFICATE", "MIIBfakeCA")},
	    {"client.crt", PEM("CERTIFICATE", "MIIBfakeClient")},
	    {"client.key", PEM("EC PRIVATE KEY", "MHcCAQEEIfakekey")},
	    {"token", "eyJhbGciOiJSUzI1NiJ9.dG9rZW4.c2ln\n"},
	    {"bad.pem", "not a certificate\n"},
	    {"empty", ""},
	};
	char path[700];

	(void)argc;
	(void)argv;
	fuzz_quiet_logs();
	folder = fuzz_temp_dir("kubeconfig");
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", folder, files[i].name);
		fuzz_write_file(path, files[i].content, strlen(files[i].content));
	}
	snprintf(kubeconfig_path, sizeof(kubeconfig_path), "%s/config", folder);
	return 0;
}

static bool path_key(const char *key)
{
	return key && (strcmp(key, "certificate-authority") == 0 ||
		       strcmp(key, "client-certificate") == 0 || strcmp(key, "client-key") == 0 ||
		       strcmp(key, "tokenFile") == 0);
}

/* Whether any file path in the document leaves the temp folder. */
static bool escapes_folder(const cJSON *node)
{
	if (cJSON_IsString(node) && path_key(node->string) &&
	    (node->valuestring[0] == '/' || strstr(node->valuestring, "..")))
		return true;
	for (const cJSON *child = node->child; child; child = child->next) {
		if (escapes_folder(child))
			return true;
	}
	return false;
}

/* Strings of the document (keys and values) that contain text. */
static size_t occurrences(const cJSON *node, const char *text)
{
	size_t count = 0;

	if (node->string && strstr(node->string, text))
		count++;
	if (cJSON_IsString(node) && strstr(node->valuestring, text))
		count++;
	for (const cJSON *child = node->child; child; child = child->next)
		count += occurrences(child, text);
	return count;
}

static void check_secrets_hidden(const cJSON *node, const cJSON *root, const char *errbuf)
{
	if (cJSON_IsString(node) && node->string &&
	    (strcmp(node->string, "token") == 0 || strcmp(node->string, "client-key-data") == 0) &&
	    strlen(node->valuestring) >= 16 && strpbrk(node->valuestring, "0123456789") &&
	    occurrences(root, node->valuestring) == 1 &&
	    !strstr(kubeconfig_path, node->valuestring))
		FUZZ_CHECK(!strstr(errbuf, node->valuestring), "the error shows a %s: %s",
			   node->string, errbuf);
	for (const cJSON *child = node->child; child; child = child->next)
		check_secrets_hidden(child, root, errbuf);
}

static bool is_pem(const char *data, size_t length)
{
	return data && length > 0 && memmem(data, length, "-----BEGIN ", 11);
}

static void check_loaded(struct kube_client_config *config)
{
	const char *server = config->server, *token = NULL;
	size_t scheme = strncmp(server, "https://", 8) == 0  ? 8
			: strncmp(server, "http://", 7) == 0 ? 7
							     : 0;
	char errbuf[512];

	FUZZ_CHECK(scheme != 0, "server \"%s\" is not http(s)://", server);
	FUZZ_CHECK(strlen(server) > scheme && server[strlen(server) - 1] != '/',
		   "server \"%s\" has no host or a trailing slash", server);
	FUZZ_CHECK(!strpbrk(server, " \t\r\n"), "server \"%s\" has whitespace", server);
	FUZZ_CHECK(!config->ca_pem || is_pem(config->ca_pem, config->ca_pem_length),
		   "CA is not PEM");
	FUZZ_CHECK(!config->insecure_skip_tls_verify || !config->ca_pem,
		   "insecure-skip-tls-verify with a CA");
	FUZZ_CHECK(!config->client_certificate_pem == !config->client_key_pem,
		   "client certificate without key or key without certificate");
	FUZZ_CHECK(!config->client_certificate_pem ||
		       is_pem(config->client_certificate_pem, config->client_certificate_length),
		   "client certificate is not PEM");
	FUZZ_CHECK(!config->client_key_pem ||
		       is_pem(config->client_key_pem, config->client_key_length),
		   "client key is not PEM");
	if (config->token) {
		FUZZ_CHECK(config->token[0] != '\0', "empty token");
		for (const unsigned char *c = (const unsigned char *)config->token; *c; c++)
			FUZZ_CHECK(*c > ' ' && *c != 0x7f, "token has whitespace or control 0x%02x",
				   *c);
	}
	FUZZ_CHECK(!config->token_file[0] || config->token, "a token file without a token");
	FUZZ_CHECK(kube_client_config_token(config, &token, errbuf, sizeof(errbuf)) == 0,
		   "token: %s", errbuf);
	FUZZ_CHECK(token == config->token, "kube_client_config_token gave another token");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kube_client_config config;
	char errbuf[1024] = "", yaml_error[256];
	cJSON *documents =
	    yaml_parse_documents((const char *)data, size, yaml_error, sizeof(yaml_error));

	if (documents && escapes_folder(documents)) {
		cJSON_Delete(documents);
		return 0;
	}
	fuzz_write_file(kubeconfig_path, data, size);
	if (kubeconfig_load(kubeconfig_path, &config, errbuf, sizeof(errbuf)) == 0) {
		check_loaded(&config);
		kube_client_config_free(&config);
	} else {
		FUZZ_CHECK(strstr(errbuf, kubeconfig_path) != NULL,
			   "the error does not name the kubeconfig: %s", errbuf);
		FUZZ_CHECK(config.token == NULL && config.ca_pem == NULL &&
			       config.client_certificate_pem == NULL &&
			       config.client_key_pem == NULL,
			   "a failed load kept memory");
		if (documents)
			check_secrets_hidden(documents, documents, errbuf);
	}
	cJSON_Delete(documents);
	return 0;
}
