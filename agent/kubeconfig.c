/* How the agent finds and authenticates to the API server, with the meaning kubectl gives a
 * kubeconfig: current-context picks a context, the context names a cluster and a user, relative
 * file paths are relative to the kubeconfig's folder, and *-data fields win over file paths.
 * Certificates and keys are loaded into memory here, once, so the HTTP client can hand them to
 * libcurl as blobs and never depends on the files staying put. Only the token file is read
 * again later, because kubelet rotates service account tokens under a running pod. Error
 * messages name the file, the section and the field, and never the value of a token or key. */
#include "kubeconfig.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "atomic_file.h"
#include "yaml_json.h"

#define SERVICE_ACCOUNT_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

/* Where errors go and what they are prefixed with ("kubeconfig /etc/x.yaml" or "in-cluster
 * config"), and the folder relative paths are resolved against. */
struct config_source {
	char name[PATH_MAX + 16];
	char directory[PATH_MAX];
	char *errbuf;
	size_t errlen;
};

static void source_error(const struct config_source *source, const char *format, ...)
	__attribute__((format(printf, 2, 3)));

static void source_error(const struct config_source *source, const char *format, ...)
{
	char problem[PATH_MAX + 256];
	va_list args;

	va_start(args, format);
	vsnprintf(problem, sizeof(problem), format, args);
	va_end(args);
	snprintf(source->errbuf, source->errlen, "%s: %s", source->name, problem);
}

static int base64_value(char symbol)
{
	if (symbol >= 'A' && symbol <= 'Z')
		return symbol - 'A';
	if (symbol >= 'a' && symbol <= 'z')
		return symbol - 'a' + 26;
	if (symbol >= '0' && symbol <= '9')
		return symbol - '0' + 52;
	if (symbol == '+')
		return 62;
	if (symbol == '/')
		return 63;
	return -1;
}

/* Standard alphabet with padding, like Go's base64.StdEncoding that kubectl uses: line breaks
 * are skipped, anything else outside the alphabet is an error. The result is NUL-terminated.
 * Returns 0, or -1 with *reason (which never quotes the data: it may be a key). */
static int base64_decode(const char *text, char **decoded_out, size_t *length_out,
			 const char **reason)
{
	unsigned char *decoded = malloc(strlen(text) / 4 * 3 + 4);
	size_t length = 0;
	uint32_t quantum = 0;
	int filled = 0, padding_expected = 0, padding_seen = 0;

	if (!decoded) {
		*reason = "out of memory";
		return -1;
	}
	for (const char *cursor = text; *cursor; cursor++) {
		int value;

		if (*cursor == '\r' || *cursor == '\n')
			continue;
		if (*cursor == '=') {
			/* Padding fills the last quantum: after 2 or 3 symbols, never sooner. */
			if (!padding_expected) {
				if (filled < 2) {
					*reason = "misplaced padding";
					goto fail;
				}
				padding_expected = 4 - filled;
			}
			if (++padding_seen > padding_expected) {
				*reason = "too much padding";
				goto fail;
			}
			continue;
		}
		if (padding_expected) {
			*reason = "data after padding";
			goto fail;
		}
		value = base64_value(*cursor);
		if (value < 0) {
			*reason = "a character outside the base64 alphabet";
			goto fail;
		}
		quantum = quantum << 6 | (uint32_t)value;
		if (++filled == 4) {
			decoded[length++] = (unsigned char)(quantum >> 16);
			decoded[length++] = (unsigned char)(quantum >> 8);
			decoded[length++] = (unsigned char)quantum;
			quantum = 0;
			filled = 0;
		}
	}
	if (padding_expected) {
		if (padding_seen != padding_expected) {
			*reason = "incomplete padding";
			goto fail;
		}
		if (filled == 2) {
			decoded[length++] = (unsigned char)(quantum >> 4);
		} else {
			decoded[length++] = (unsigned char)(quantum >> 10);
			decoded[length++] = (unsigned char)(quantum >> 2);
		}
	} else if (filled) {
		*reason = "a length that is not a multiple of 4";
		goto fail;
	}
	decoded[length] = '\0';
	*decoded_out = (char *)decoded;
	*length_out = length;
	return 0;
fail:
	free(decoded);
	return -1;
}

/* Trims surrounding whitespace in place (token files end with a newline) and checks what is
 * left can go into an Authorization header: a CR or LF inside would inject headers. */
static const char *token_clean(char *token)
{
	size_t length = strlen(token), start = 0;

	while (length && strchr(" \t\r\n", token[length - 1]))
		token[--length] = '\0';
	while (token[start] && strchr(" \t\r\n", token[start]))
		start++;
	memmove(token, token + start, length - start + 1);
	memset(token + length - start + 1, 0, start); /* the moved bytes' stale copies */
	if (!token[0])
		return "is empty";
	for (const char *cursor = token; *cursor; cursor++) {
		if ((unsigned char)*cursor <= ' ' || (unsigned char)*cursor == 0x7f)
			return "contains whitespace or a control character";
	}
	return NULL;
}

/* Reads a token file and the mtime it had before the read (so a rewrite during the read is
 * noticed next time). Returns a heap copy, or NULL with errbuf. */
static char *token_file_read(const char *path, struct timespec *mtime, char *errbuf,
			     size_t errlen)
{
	struct stat status;
	const char *problem;
	char *token;

	if (stat(path, &status) < 0) {
		snprintf(errbuf, errlen, "token file %s: %s", path, strerror(errno));
		return NULL;
	}
	token = file_read_all(path, NULL);
	if (!token) {
		snprintf(errbuf, errlen, "read token file %s: %s", path, strerror(errno));
		return NULL;
	}
	problem = token_clean(token);
	if (problem) {
		snprintf(errbuf, errlen, "token file %s %s", path, problem);
		explicit_bzero(token, strlen(token));
		free(token);
		return NULL;
	}
	*mtime = status.st_mtim;
	return token;
}

static int path_resolve(const struct config_source *source, const char *file, char *resolved,
			size_t size)
{
	int written = file[0] == '/' ? snprintf(resolved, size, "%s", file)
				     : snprintf(resolved, size, "%s/%s", source->directory, file);

	if (written < 0 || (size_t)written >= size) {
		source_error(source, "path too long: %s", file);
		return -1;
	}
	return 0;
}

/* A PEM blob from base64 data or from a file. libcurl's *_BLOB options want PEM; DER or text
 * encoded twice would fail later with a TLS error that names nothing, so it fails here. */
static int pem_load(const struct config_source *source, const char *data, const char *file,
		    const char *field, const char *section, char **pem, size_t *length)
{
	char path[PATH_MAX];
	const char *reason;

	if (data) {
		if (base64_decode(data, pem, length, &reason) < 0) {
			source_error(source, "%s: %s-data is not base64: %s", section, field,
				     reason);
			return -1;
		}
	} else {
		if (path_resolve(source, file, path, sizeof(path)) < 0)
			return -1;
		*pem = file_read_all(path, length);
		if (!*pem) {
			source_error(source, "%s: read %s %s: %s", section, field, path,
				     strerror(errno));
			return -1;
		}
	}
	if (!memmem(*pem, *length, "-----BEGIN ", 11)) {
		if (data)
			source_error(source, "%s: %s-data is not PEM (no -----BEGIN line)",
				     section, field);
		else
			source_error(source, "%s: %s %s is not PEM (no -----BEGIN line)", section,
				     field, path);
		return -1;
	}
	return 0;
}

/* Returns 0 with *value the string or NULL when the field is absent or null, -1 when it is
 * there with another type. */
static int field_string(const struct config_source *source, const cJSON *object,
			const char *field, const char *section, const char **value)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, field);

	*value = NULL;
	if (!item || cJSON_IsNull(item))
		return 0;
	if (!cJSON_IsString(item)) {
		source_error(source, "%s: %s must be a string", section, field);
		return -1;
	}
	*value = item->valuestring[0] ? item->valuestring : NULL;
	return 0;
}

/* Finds the entry of clusters/contexts/users named name and returns its inner section
 * (clusters[i].cluster), as kubectl does with its named lists. */
static const cJSON *named_section(const struct config_source *source, const cJSON *root,
				  const char *list, const char *kind, const char *name)
{
	const cJSON *entries = cJSON_GetObjectItemCaseSensitive(root, list), *entry;
	const cJSON *found = NULL, *section;

	if (entries && !cJSON_IsArray(entries) && !cJSON_IsNull(entries)) {
		source_error(source, "%s must be a list", list);
		return NULL;
	}
	cJSON_ArrayForEach(entry, entries)
	{
		const cJSON *entry_name = cJSON_GetObjectItemCaseSensitive(entry, "name");
		if (!cJSON_IsString(entry_name) || strcmp(entry_name->valuestring, name) != 0)
			continue;
		/* kubectl refuses a name listed twice rather than guess which one is meant. */
		if (found) {
			source_error(source, "%s \"%s\" appears twice in %s", kind, name, list);
			return NULL;
		}
		found = entry;
	}
	if (!found) {
		source_error(source, "%s \"%s\" not found in %s", kind, name, list);
		return NULL;
	}
	section = cJSON_GetObjectItemCaseSensitive(found, kind);
	if (!cJSON_IsObject(section)) {
		source_error(source, "%s \"%s\" has no %s section", kind, name, kind);
		return NULL;
	}
	return section;
}

static int server_set(const struct config_source *source, struct kube_client_config *config,
		      const char *server, const char *section)
{
	size_t scheme_length, length;

	if (!server) {
		source_error(source, "%s has no server", section);
		return -1;
	}
	/* http:// is plain text and carries the token unencrypted; it is accepted for tests
	 * against a local fake API server and for kubectl proxy on loopback. */
	if (strncmp(server, "https://", 8) == 0)
		scheme_length = 8;
	else if (strncmp(server, "http://", 7) == 0)
		scheme_length = 7;
	else {
		source_error(source, "%s: server %s is not an https:// URL", section, server);
		return -1;
	}
	length = strlen(server);
	while (length > scheme_length && server[length - 1] == '/')
		length--;
	if (length == scheme_length || strpbrk(server, " \t\r\n")) {
		source_error(source, "%s: server %s has no host or contains whitespace", section,
			     server);
		return -1;
	}
	if (length >= sizeof(config->server)) {
		source_error(source, "%s: server URL is longer than %zu bytes", section,
			     sizeof(config->server) - 1);
		return -1;
	}
	memcpy(config->server, server, length);
	config->server[length] = '\0';
	return 0;
}

static int cluster_load(const struct config_source *source, const cJSON *cluster,
			const char *section, struct kube_client_config *config)
{
	const char *server, *ca_data, *ca_file;
	const cJSON *insecure =
		cJSON_GetObjectItemCaseSensitive(cluster, "insecure-skip-tls-verify");

	if (field_string(source, cluster, "server", section, &server) < 0 ||
	    field_string(source, cluster, "certificate-authority-data", section, &ca_data) < 0 ||
	    field_string(source, cluster, "certificate-authority", section, &ca_file) < 0)
		return -1;
	if (server_set(source, config, server, section) < 0)
		return -1;
	if (insecure && !cJSON_IsBool(insecure) && !cJSON_IsNull(insecure)) {
		source_error(source, "%s: insecure-skip-tls-verify must be true or false", section);
		return -1;
	}
	config->insecure_skip_tls_verify = cJSON_IsTrue(insecure);
	if (config->insecure_skip_tls_verify && (ca_data || ca_file)) {
		/* kubectl refuses this too: which one was meant is unclear. */
		source_error(source,
			     "%s: insecure-skip-tls-verify is true and a certificate-authority is "
			     "set; keep one",
			     section);
		return -1;
	}
	if (ca_data || ca_file)
		return pem_load(source, ca_data, ca_file, "certificate-authority", section,
				&config->ca_pem, &config->ca_pem_length);
	return 0;
}

static int user_load(const struct config_source *source, const cJSON *user, const char *section,
		     struct kube_client_config *config)
{
	const char *certificate_data, *certificate_file, *key_data, *key_file, *token, *token_file;
	bool has_certificate, has_key;
	const char *problem;
	char errbuf[PATH_MAX + 64];

	if (field_string(source, user, "client-certificate-data", section, &certificate_data) < 0 ||
	    field_string(source, user, "client-certificate", section, &certificate_file) < 0 ||
	    field_string(source, user, "client-key-data", section, &key_data) < 0 ||
	    field_string(source, user, "client-key", section, &key_file) < 0 ||
	    field_string(source, user, "token", section, &token) < 0 ||
	    field_string(source, user, "tokenFile", section, &token_file) < 0)
		return -1;
	has_certificate = certificate_data || certificate_file;
	has_key = key_data || key_file;
	if (has_certificate != has_key) {
		source_error(source, "%s: %s is set but %s is not", section,
			     has_certificate ? "client-certificate" : "client-key",
			     has_certificate ? "client-key" : "client-certificate");
		return -1;
	}
	if (!has_certificate && !token && !token_file &&
	    (cJSON_HasObjectItem(user, "exec") || cJSON_HasObjectItem(user, "auth-provider"))) {
		source_error(source, "%s: exec and auth-provider credential plugins are not "
				     "supported; use a token, tokenFile or client certificate",
			     section);
		return -1;
	}
	if (has_certificate &&
	    (pem_load(source, certificate_data, certificate_file, "client-certificate", section,
		      &config->client_certificate_pem, &config->client_certificate_length) < 0 ||
	     pem_load(source, key_data, key_file, "client-key", section, &config->client_key_pem,
		      &config->client_key_length) < 0))
		return -1;
	if (token_file) {
		/* The file wins over a static token: it is the one that keeps up with rotation. */
		if (path_resolve(source, token_file, config->token_file,
				 sizeof(config->token_file)) < 0)
			return -1;
		config->token = token_file_read(config->token_file, &config->token_file_mtime,
						errbuf, sizeof(errbuf));
		if (!config->token) {
			source_error(source, "%s: %s", section, errbuf);
			return -1;
		}
	} else if (token) {
		config->token = strdup(token);
		if (!config->token) {
			source_error(source, "%s: out of memory", section);
			return -1;
		}
		problem = token_clean(config->token);
		if (problem) {
			source_error(source, "%s: token %s", section, problem);
			return -1;
		}
	}
	return 0;
}

static int kubeconfig_apply(const struct config_source *source, const cJSON *root,
			    struct kube_client_config *config)
{
	const cJSON *context, *cluster, *user;
	const char *context_name, *cluster_name, *user_name;
	char section[512];

	if (!cJSON_IsObject(root)) {
		source_error(source, "not a kubeconfig (the document is not a mapping)");
		return -1;
	}
	if (field_string(source, root, "current-context", "top level", &context_name) < 0)
		return -1;
	if (!context_name) {
		source_error(source, "no current-context set");
		return -1;
	}
	context = named_section(source, root, "contexts", "context", context_name);
	if (!context)
		return -1;
	snprintf(section, sizeof(section), "context \"%s\"", context_name);
	if (field_string(source, context, "cluster", section, &cluster_name) < 0 ||
	    field_string(source, context, "user", section, &user_name) < 0)
		return -1;
	if (!cluster_name) {
		source_error(source, "%s names no cluster", section);
		return -1;
	}
	cluster = named_section(source, root, "clusters", "cluster", cluster_name);
	if (!cluster)
		return -1;
	snprintf(section, sizeof(section), "cluster \"%s\"", cluster_name);
	if (cluster_load(source, cluster, section, config) < 0)
		return -1;
	/* A context without a user is anonymous access, which kubectl allows too. */
	if (!user_name)
		return 0;
	user = named_section(source, root, "users", "user", user_name);
	if (!user)
		return -1;
	snprintf(section, sizeof(section), "user \"%s\"", user_name);
	return user_load(source, user, section, config);
}

int kubeconfig_load(const char *path, struct kube_client_config *config, char *errbuf,
		    size_t errlen)
{
	struct config_source source = { .errbuf = errbuf, .errlen = errlen };
	char yaml_error[512];
	const char *slash;
	cJSON *documents;
	size_t length;
	char *text;
	int err;

	memset(config, 0, sizeof(*config));
	snprintf(source.name, sizeof(source.name), "kubeconfig %s", path);
	slash = strrchr(path, '/');
	if (!slash)
		snprintf(source.directory, sizeof(source.directory), ".");
	else if (slash == path)
		snprintf(source.directory, sizeof(source.directory), "/");
	else
		snprintf(source.directory, sizeof(source.directory), "%.*s", (int)(slash - path),
			 path);
	text = file_read_all(path, &length);
	if (!text) {
		snprintf(errbuf, errlen, "read kubeconfig %s: %s", path, strerror(errno));
		return -1;
	}
	documents = yaml_parse_documents(text, length, yaml_error, sizeof(yaml_error));
	/* The text may hold keys and tokens; do not leave them in freed memory. */
	explicit_bzero(text, length);
	free(text);
	if (!documents) {
		source_error(&source, "%s", yaml_error);
		return -1;
	}
	if (cJSON_GetArraySize(documents) != 1) {
		source_error(&source, "expected one YAML document, found %d",
			     cJSON_GetArraySize(documents));
		err = -1;
	} else {
		err = kubeconfig_apply(&source, documents->child, config);
	}
	cJSON_Delete(documents);
	if (err < 0)
		kube_client_config_free(config);
	return err;
}

/* The port of KUBERNETES_SERVICE_PORT, checked because it goes into the URL verbatim. */
static bool port_valid(const char *port)
{
	char *end;
	long value;

	if (!port || port[0] < '0' || port[0] > '9')
		return false;
	value = strtol(port, &end, 10);
	return *end == '\0' && value >= 1 && value <= 65535;
}

int kubeconfig_in_cluster(struct kube_client_config *config, char *errbuf, size_t errlen)
{
	struct config_source source = { .name = "in-cluster config", .errbuf = errbuf,
					.errlen = errlen };
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	const char *directory = getenv("WEIR_SERVICE_ACCOUNT_DIR");
	char token_error[PATH_MAX + 64];

	memset(config, 0, sizeof(*config));
	if (!host || !*host || !port || !*port) {
		source_error(&source, "KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be "
				      "set (is the agent running in a pod?)");
		return -1;
	}
	if (strpbrk(host, "/@[]?# \t\r\n")) {
		source_error(&source, "KUBERNETES_SERVICE_HOST %s is not a host name or address",
			     host);
		return -1;
	}
	if (!port_valid(port)) {
		source_error(&source, "KUBERNETES_SERVICE_PORT %s is not a port number", port);
		return -1;
	}
	/* An IPv6 address needs brackets in a URL, or its colons read as the port's. */
	snprintf(config->server, sizeof(config->server),
		 strchr(host, ':') ? "https://[%s]:%s" : "https://%s:%s", host, port);
	if (!directory || !*directory)
		directory = SERVICE_ACCOUNT_DIR;
	snprintf(source.directory, sizeof(source.directory), "%s", directory);
	if (path_resolve(&source, "token", config->token_file, sizeof(config->token_file)) < 0)
		goto fail;
	config->token = token_file_read(config->token_file, &config->token_file_mtime,
					token_error, sizeof(token_error));
	if (!config->token) {
		source_error(&source, "%s", token_error);
		goto fail;
	}
	if (pem_load(&source, NULL, "ca.crt", "certificate-authority", "service account",
		     &config->ca_pem, &config->ca_pem_length) < 0)
		goto fail;
	return 0;
fail:
	kube_client_config_free(config);
	return -1;
}

int kube_client_config_token(struct kube_client_config *config, const char **token,
			     char *errbuf, size_t errlen)
{
	struct timespec mtime;
	struct stat status;
	char *fresh;

	*token = config->token;
	if (!config->token_file[0])
		return 0;
	if (stat(config->token_file, &status) < 0) {
		snprintf(errbuf, errlen, "token file %s: %s", config->token_file, strerror(errno));
		return -1;
	}
	if (status.st_mtim.tv_sec == config->token_file_mtime.tv_sec &&
	    status.st_mtim.tv_nsec == config->token_file_mtime.tv_nsec)
		return 0;
	/* On failure config->token keeps the previous token, which the caller may still use
	 * while it is valid; the mtime is left alone so the next call tries again. */
	fresh = token_file_read(config->token_file, &mtime, errbuf, errlen);
	if (!fresh)
		return -1;
	if (config->token) {
		explicit_bzero(config->token, strlen(config->token));
		free(config->token);
	}
	config->token = fresh;
	config->token_file_mtime = mtime;
	*token = fresh;
	return 0;
}

void kube_client_config_free(struct kube_client_config *config)
{
	if (config->client_key_pem)
		explicit_bzero(config->client_key_pem, config->client_key_length);
	if (config->token)
		explicit_bzero(config->token, strlen(config->token));
	free(config->ca_pem);
	free(config->client_certificate_pem);
	free(config->client_key_pem);
	free(config->token);
	memset(config, 0, sizeof(*config));
}
