/* kubeconfig and in-cluster loading against real files in a temporary folder: data fields,
 * paths relative to the kubeconfig, token rotation, the errors a broken kubeconfig gets, and
 * that no error ever shows a token or key. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kubeconfig.h"
#include "test.h"
#include "unit.h"

#define CA_PEM "-----BEGIN CERTIFICATE-----\nMIIBfakeCA\n-----END CERTIFICATE-----\n"
#define CA_BASE64                                                                                  \
	"LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJmYWtlQ0EKLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo="
#define CLIENT_PEM "-----BEGIN CERTIFICATE-----\nMIIBfakeClient\n-----END CERTIFICATE-----\n"
#define CLIENT_BASE64                                                                              \
	"LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJmYWtlQ2xpZW50Ci0tLS0tRU5EIENFUlRJRklDQVRFLS0t" \
	"LS0K"
#define KEY_PEM                                                                                    \
	"-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIsecretkeymaterial\n-----END EC PRIVATE KEY-----\n"
#define KEY_BASE64                                                                                 \
	"LS0tLS1CRUdJTiBFQyBQUklWQVRFIEtFWS0tLS0tCk1IY0NBUUVFSXNlY3JldGtleW1hdGVyaWFsCi0tLS0tRU5E" \
	"IEVDIFBSSVZBVEUgS0VZLS0tLS0K"
#define TOKEN "eyJhbGciOiJSUzI1NiJ9.c2VjcmV0LXRva2Vu.c2lnbmF0dXJl"

/* A kubeconfig in the shape kubeadm and kind write, with the cluster and user sections given. */
#define KUBECONFIG(cluster, user)                                                                  \
	"apiVersion: v1\n"                                                                         \
	"kind: Config\n"                                                                           \
	"preferences: {}\n"                                                                        \
	"current-context: weir@test\n"                                                             \
	"contexts:\n"                                                                              \
	"- name: other\n"                                                                          \
	"  context: {cluster: other, user: other}\n"                                               \
	"- name: weir@test\n"                                                                      \
	"  context:\n"                                                                             \
	"    cluster: test\n"                                                                      \
	"    user: weir\n"                                                                         \
	"    namespace: kube-system\n"                                                             \
	"clusters:\n"                                                                              \
	"- name: other\n"                                                                          \
	"  cluster: {server: https://wrong.example}\n"                                             \
	"- name: test\n"                                                                           \
	"  cluster:\n" cluster "users:\n"                                                          \
	"- name: weir\n"                                                                           \
	"  user:\n" user

static char temp_dir[64];

static int remove_entry(const char *path, const struct stat *status, int flag, struct FTW *ftw)
{
	(void)status;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int temp_dir_create(void)
{
	snprintf(temp_dir, sizeof(temp_dir), "/tmp/weir-kubeconfig-XXXXXX");
	if (!mkdtemp(temp_dir)) {
		TEST_FAIL("mkdtemp: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static void temp_dir_remove(void)
{
	if (temp_dir[0])
		nftw(temp_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	temp_dir[0] = '\0';
}

/* Runs checks with a fresh temp_dir that is removed afterwards, even when an assertion
 * returned early from checks. */
static void in_temp_dir(void (*checks)(void))
{
	if (temp_dir_create() < 0)
		return;
	checks();
	temp_dir_remove();
}

/* Writes name (relative to temp_dir, folders created) and returns its full path. */
static const char *temp_file_write(const char *name, const char *content)
{
	static char path[PATH_MAX];
	char *slash;
	FILE *file;

	snprintf(path, sizeof(path), "%s/%s", temp_dir, name);
	for (slash = strchr(path + strlen(temp_dir) + 1, '/'); slash;
	     slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		mkdir(path, 0700);
		*slash = '/';
	}
	file = fopen(path, "w");
	if (!file || fputs(content, file) < 0 || fclose(file) != 0) {
		TEST_FAIL("write %s: %s", path, strerror(errno));
		return path;
	}
	return path;
}

/* Loads kubeconfig text written to temp_dir/config; returns kubeconfig_load's result. */
static int load_text(const char *text, struct kube_client_config *config, char *errbuf,
		     size_t errlen)
{
	return kubeconfig_load(temp_file_write("config", text), config, errbuf, errlen);
}

/* Expects text to be refused with an error naming the file and needle, and showing no secret. */
static void expect_load_error(const char *text, const char *needle)
{
	struct kube_client_config config;
	char errbuf[512] = "";

	if (load_text(text, &config, errbuf, sizeof(errbuf)) == 0) {
		TEST_FAIL("accepted:\n%s", text);
		kube_client_config_free(&config);
		return;
	}
	if (!strstr(errbuf, needle))
		TEST_FAIL("error \"%s\" does not contain \"%s\"", errbuf, needle);
	if (!strstr(errbuf, temp_dir))
		TEST_FAIL("error \"%s\" does not name the file", errbuf);
	if (strstr(errbuf, "c2VjcmV0") || strstr(errbuf, "secret") || strstr(errbuf, "S0VZ"))
		TEST_FAIL("error \"%s\" shows a secret", errbuf);
}

static void set_mtime(const char *path, time_t seconds)
{
	struct timespec times[2] = { { .tv_sec = seconds }, { .tv_sec = seconds } };

	if (utimensat(AT_FDCWD, path, times, 0) < 0)
		TEST_FAIL("utimensat %s: %s", path, strerror(errno));
}

static void data_fields_checks(void)
{
	struct kube_client_config config;
	char errbuf[512] = "";
	const char *token = NULL;

	ASSERT_EQ(load_text(KUBECONFIG("    server: https://10.0.0.1:6443/\n"
				       "    certificate-authority-data: " CA_BASE64 "\n",
				       "    client-certificate-data: " CLIENT_BASE64 "\n"
				       "    client-key-data: " KEY_BASE64 "\n"
				       "    token: " TOKEN "\n"),
			    &config, errbuf, sizeof(errbuf)),
		  0, errbuf);
	ASSERT_STR_EQ(config.server, "https://10.0.0.1:6443", "server without trailing slash");
	ASSERT_STR_EQ(config.ca_pem, CA_PEM, "CA decoded");
	ASSERT_EQ(config.ca_pem_length, strlen(CA_PEM), "CA length");
	ASSERT_STR_EQ(config.client_certificate_pem, CLIENT_PEM, "client certificate decoded");
	ASSERT_EQ(config.client_certificate_length, strlen(CLIENT_PEM), "certificate length");
	ASSERT_STR_EQ(config.client_key_pem, KEY_PEM, "client key decoded");
	ASSERT_EQ(config.client_key_length, strlen(KEY_PEM), "key length");
	ASSERT_STR_EQ(config.token, TOKEN, "token");
	ASSERT_STR_EQ(config.token_file, "", "no token file");
	ASSERT_TRUE(!config.insecure_skip_tls_verify, "verifies TLS");
	ASSERT_EQ(kube_client_config_token(&config, &token, errbuf, sizeof(errbuf)), 0, "token");
	ASSERT_STR_EQ(token, TOKEN, "static token");
	kube_client_config_free(&config);
	ASSERT_TRUE(!config.ca_pem && !config.client_key_pem && !config.token &&
			    !config.server[0] && !config.ca_pem_length,
		    "free zeroes the config");
}

static void kubeconfig_data_fields(void)
{
	in_temp_dir(data_fields_checks);
}

static void file_paths_checks(void)
{
	struct kube_client_config config;
	char errbuf[512] = "", key_path[PATH_MAX], text[4096];

	temp_file_write("pki/ca.crt", CA_PEM);
	temp_file_write("pki/client.crt", CLIENT_PEM);
	snprintf(key_path, sizeof(key_path), "%s", temp_file_write("keys/client.key", KEY_PEM));
	/* Relative paths against kube/, the kubeconfig's folder; the key by absolute path. */
	snprintf(text, sizeof(text),
		 KUBECONFIG("    server: https://api.example:443\n"
			    "    certificate-authority: ../pki/ca.crt\n",
			    "    client-certificate: ../pki/client.crt\n"
			    "    client-key: %s\n"),
		 key_path);
	ASSERT_EQ(kubeconfig_load(temp_file_write("kube/config", text), &config, errbuf,
				  sizeof(errbuf)),
		  0, errbuf);
	ASSERT_STR_EQ(config.server, "https://api.example:443", "server");
	ASSERT_STR_EQ(config.ca_pem, CA_PEM, "CA from ../pki/ca.crt");
	ASSERT_EQ(config.ca_pem_length, strlen(CA_PEM), "CA length");
	ASSERT_STR_EQ(config.client_certificate_pem, CLIENT_PEM, "certificate from file");
	ASSERT_STR_EQ(config.client_key_pem, KEY_PEM, "key from an absolute path");
	ASSERT_TRUE(!config.token, "no token");
	kube_client_config_free(&config);
}

static void kubeconfig_file_paths_relative_to_its_folder(void)
{
	in_temp_dir(file_paths_checks);
}

static void token_file_rotation_checks(void)
{
	struct kube_client_config config;
	char errbuf[512] = "", token_path[PATH_MAX];
	const char *token = NULL;

	snprintf(token_path, sizeof(token_path), "%s",
		 temp_file_write("tokens/token", "first-token\n"));
	set_mtime(token_path, 1000000000);
	ASSERT_EQ(load_text(KUBECONFIG("    server: https://10.0.0.1:6443\n"
				       "    insecure-skip-tls-verify: true\n",
				       "    tokenFile: tokens/token\n"),
			    &config, errbuf, sizeof(errbuf)),
		  0, errbuf);
	ASSERT_STR_EQ(config.token_file, token_path, "token file resolved against the folder");
	ASSERT_STR_EQ(config.token, "first-token", "token read, newline stripped");
	ASSERT_EQ(kube_client_config_token(&config, &token, errbuf, sizeof(errbuf)), 0, errbuf);
	ASSERT_STR_EQ(token, "first-token", "unchanged file");

	temp_file_write("tokens/token", "second-token \r\n\n");
	set_mtime(token_path, 1000000100);
	ASSERT_EQ(kube_client_config_token(&config, &token, errbuf, sizeof(errbuf)), 0, errbuf);
	ASSERT_STR_EQ(token, "second-token", "rotated token");

	/* Same mtime: not read again (stat'ed on every request, read only on a change). */
	temp_file_write("tokens/token", "third-token\n");
	set_mtime(token_path, 1000000100);
	ASSERT_EQ(kube_client_config_token(&config, &token, errbuf, sizeof(errbuf)), 0, errbuf);
	ASSERT_STR_EQ(token, "second-token", "same mtime keeps the cached token");

	/* A half-written (empty) file fails, keeps the old token and is retried next time. */
	temp_file_write("tokens/token", "");
	set_mtime(token_path, 1000000200);
	ASSERT_EQ(kube_client_config_token(&config, &token, errbuf, sizeof(errbuf)), -1, "empty");
	ASSERT_CONTAINS(errbuf, "is empty", "empty token file");
	ASSERT_STR_EQ(config.token, "second-token", "previous token kept");
	temp_file_write("tokens/token", "fourth-token\n");
	set_mtime(token_path, 1000000200);
	ASSERT_EQ(kube_client_config_token(&config, &token, errbuf, sizeof(errbuf)), 0, errbuf);
	ASSERT_STR_EQ(token, "fourth-token", "retried after the failure");

	unlink(token_path);
	ASSERT_EQ(kube_client_config_token(&config, &token, errbuf, sizeof(errbuf)), -1,
		  "token file removed");
	ASSERT_CONTAINS(errbuf, "tokens/token", "names the token file");
	ASSERT_CONTAINS(errbuf, "No such file", "says why");
	ASSERT_TRUE(!strstr(errbuf, "fourth"), "no token in the error");
	kube_client_config_free(&config);
}

static void kubeconfig_token_file_rotation(void)
{
	in_temp_dir(token_file_rotation_checks);
}

static void missing_context_checks(void)
{
	expect_load_error("apiVersion: v1\nkind: Config\nclusters: []\n", "no current-context");
	expect_load_error("current-context: gone\ncontexts:\n- name: there\n  context: {}\n",
			  "context \"gone\" not found in contexts");
	expect_load_error("current-context: c\ncontexts:\n- name: c\n  context: {user: u}\n",
			  "context \"c\" names no cluster");
	expect_load_error("current-context: c\ncontexts:\n- name: c\n  context: {cluster: k}\n",
			  "cluster \"k\" not found in clusters");
	expect_load_error("current-context: c\ncontexts:\n- name: c\n  context: {cluster: k}\n"
			  "clusters:\n- name: k\n  cluster: {certificate-authority-data: x}\n",
			  "cluster \"k\" has no server");
	expect_load_error("current-context: c\ncontexts:\n- name: c\n  context: {cluster: k}\n"
			  "clusters:\n- name: k\n",
			  "cluster \"k\" has no cluster section");
	expect_load_error(KUBECONFIG("    server: https://a\n", "    token: " TOKEN "\n")
			  "- name: weir\n  user: {}\n",
			  "user \"weir\" appears twice in users");
	expect_load_error("current-context: c\ncurrent-context: d\n",
			  "line 2, column 1: duplicate key \"current-context\"");
	expect_load_error("current-context: c\ncontexts:\n- name: c\n"
			  "  context: {cluster: k, user: nobody}\n"
			  "clusters:\n- name: k\n  cluster: {server: https://a}\n",
			  "user \"nobody\" not found in users");
	expect_load_error("current-context: [c]\n", "current-context must be a string");
	expect_load_error("- just\n- a list\n", "not a kubeconfig");
	expect_load_error("a: 1\n---\nb: 2\n", "expected one YAML document, found 2");
	expect_load_error("", "expected one YAML document, found 0");
}

static void kubeconfig_missing_context_cluster_user_errors(void)
{
	in_temp_dir(missing_context_checks);
}

static void insecure_flag_checks(void)
{
	struct kube_client_config config;
	char errbuf[512] = "";

	ASSERT_EQ(load_text(KUBECONFIG("    server: https://10.0.0.1:6443\n"
				       "    insecure-skip-tls-verify: true\n",
				       "    token: " TOKEN "\n"),
			    &config, errbuf, sizeof(errbuf)),
		  0, errbuf);
	ASSERT_TRUE(config.insecure_skip_tls_verify, "insecure when set true");
	ASSERT_TRUE(!config.ca_pem, "no CA");
	kube_client_config_free(&config);
	ASSERT_EQ(load_text(KUBECONFIG("    server: https://10.0.0.1:6443\n"
				       "    insecure-skip-tls-verify: false\n",
				       "    token: " TOKEN "\n"),
			    &config, errbuf, sizeof(errbuf)),
		  0, errbuf);
	ASSERT_TRUE(!config.insecure_skip_tls_verify, "secure when set false");
	kube_client_config_free(&config);
	expect_load_error(KUBECONFIG("    server: https://10.0.0.1:6443\n"
				     "    insecure-skip-tls-verify: \"true\"\n",
				     "    token: " TOKEN "\n"),
			  "insecure-skip-tls-verify must be true or false");
	expect_load_error(KUBECONFIG("    server: https://10.0.0.1:6443\n"
				     "    insecure-skip-tls-verify: yes\n",
				     "    token: " TOKEN "\n"),
			  "insecure-skip-tls-verify must be true or false");
	expect_load_error(KUBECONFIG("    server: https://10.0.0.1:6443\n"
				     "    insecure-skip-tls-verify: true\n"
				     "    certificate-authority-data: " CA_BASE64 "\n",
				     "    token: " TOKEN "\n"),
			  "insecure-skip-tls-verify is true and a certificate-authority is set");
}

static void kubeconfig_insecure_flag(void)
{
	in_temp_dir(insecure_flag_checks);
}

static void base64_checks(void)
{
	struct kube_client_config config;
	char errbuf[512] = "";

	/* Line breaks inside the data are allowed, as Go's decoder allows them. */
	ASSERT_EQ(load_text(KUBECONFIG("    server: https://a\n"
				   "    certificate-authority-data: |\n"
				   "      LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1J\n"
				   "      SUJmYWtlQ0EKLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo=\n",
				   "    token: " TOKEN "\n"),
			    &config, errbuf, sizeof(errbuf)),
		  0, errbuf);
	ASSERT_STR_EQ(config.ca_pem, CA_PEM, "CA over two lines");
	kube_client_config_free(&config);
	expect_load_error(KUBECONFIG("    server: https://a\n",
				     "    client-certificate-data: " CLIENT_BASE64 "\n"
				     "    client-key-data: LS0t*S1CRUdJTi\n"),
			  "user \"weir\": client-key-data is not base64: a character outside");
	expect_load_error(KUBECONFIG("    server: https://a\n",
				     "    client-certificate-data: " CLIENT_BASE64 "\n"
				     "    client-key-data: LS0tLS1CRU\n"),
			  "not a multiple of 4");
	expect_load_error(KUBECONFIG("    server: https://a\n",
				     "    client-certificate-data: " CLIENT_BASE64 "\n"
				     "    client-key-data: LS0=LS1C\n"),
			  "data after padding");
	expect_load_error(KUBECONFIG("    server: https://a\n",
				     "    client-certificate-data: " CLIENT_BASE64 "\n"
				     "    client-key-data: L===\n"),
			  "misplaced padding");
	/* Valid base64 of DER bytes, not PEM: libcurl's blob options would reject it later. */
	expect_load_error(KUBECONFIG("    server: https://a\n"
				     "    certificate-authority-data: MIIBCg==\n",
				     "    token: " TOKEN "\n"),
			  "cluster \"test\": certificate-authority-data is not PEM");
	expect_load_error(KUBECONFIG("    server: https://a\n",
				     "    client-certificate-data: " CLIENT_BASE64 "\n"),
			  "client-certificate is set but client-key is not");
	expect_load_error(KUBECONFIG("    server: https://a\n"
				     "    certificate-authority: missing/ca.crt\n",
				     ""),
			  "missing/ca.crt: No such file");
}

static void kubeconfig_base64_is_strict_and_pem_checked(void)
{
	in_temp_dir(base64_checks);
}

static void server_and_user_checks(void)
{
	struct kube_client_config config;
	char errbuf[512] = "";
	const char *token = "unset";

	/* http:// only for tests and kubectl proxy; and a user with no credentials at all. */
	ASSERT_EQ(load_text(KUBECONFIG("    server: http://127.0.0.1:8001//\n", "    {}\n"),
			    &config, errbuf, sizeof(errbuf)),
		  0, errbuf);
	ASSERT_STR_EQ(config.server, "http://127.0.0.1:8001", "http server");
	ASSERT_EQ(kube_client_config_token(&config, &token, errbuf, sizeof(errbuf)), 0, "token");
	ASSERT_TRUE(token == NULL, "no token");
	kube_client_config_free(&config);
	expect_load_error(KUBECONFIG("    server: 10.0.0.1:6443\n", ""),
			  "server 10.0.0.1:6443 is not an https:// URL");
	expect_load_error(KUBECONFIG("    server: https://\n", ""), "has no host");
	expect_load_error(KUBECONFIG("    server: https://a\n",
				     "    exec:\n"
				     "      command: aws\n"),
			  "exec and auth-provider credential plugins are not supported");
	expect_load_error(KUBECONFIG("    server: https://a\n",
				     "    token: \"secret token\"\n"),
			  "user \"weir\": token contains whitespace");
	expect_load_error(KUBECONFIG("    server: https://a\n", "    token: 12345\n"),
			  "token must be a string");
	expect_load_error("current-context: c\ncontexts:\n  - name: c\n   bad: indent\n",
			  "line 4, column 4");
}

static void kubeconfig_server_scheme_and_user_shapes(void)
{
	in_temp_dir(server_and_user_checks);
}

static void kubeconfig_unreadable_file(void)
{
	struct kube_client_config config;
	char errbuf[512] = "";

	ASSERT_EQ(kubeconfig_load("/nonexistent/weir/kubeconfig", &config, errbuf,
				  sizeof(errbuf)),
		  -1, "missing file");
	ASSERT_CONTAINS(errbuf, "read kubeconfig /nonexistent/weir/kubeconfig", "names the file");
	ASSERT_CONTAINS(errbuf, "No such file", "says why");
	ASSERT_TRUE(!config.token && !config.ca_pem, "config left empty");
}

/* Saves and restores the environment variables in-cluster loading reads. */
static const char *const in_cluster_variables[] = { "KUBERNETES_SERVICE_HOST",
						    "KUBERNETES_SERVICE_PORT",
						    "WEIR_SERVICE_ACCOUNT_DIR" };
#define IN_CLUSTER_VARIABLES (sizeof(in_cluster_variables) / sizeof(in_cluster_variables[0]))

static void environment_save(char **saved)
{
	for (size_t i = 0; i < IN_CLUSTER_VARIABLES; i++) {
		const char *value = getenv(in_cluster_variables[i]);
		saved[i] = value ? strdup(value) : NULL;
	}
}

static void environment_restore(char **saved)
{
	for (size_t i = 0; i < IN_CLUSTER_VARIABLES; i++) {
		if (saved[i])
			setenv(in_cluster_variables[i], saved[i], 1);
		else
			unsetenv(in_cluster_variables[i]);
		free(saved[i]);
	}
}

/* Runs the in-cluster checks; the caller owns the environment and the temp dir. */
static void in_cluster_checks(void)
{
	struct kube_client_config config;
	char errbuf[512] = "", token_path[PATH_MAX];
	const char *token = NULL;

	snprintf(token_path, sizeof(token_path), "%s",
		 temp_file_write("serviceaccount/token", TOKEN "\n"));
	temp_file_write("serviceaccount/ca.crt", CA_PEM);
	setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	ASSERT_EQ(kubeconfig_in_cluster(&config, errbuf, sizeof(errbuf)), 0, errbuf);
	ASSERT_STR_EQ(config.server, "https://10.96.0.1:443", "server");
	ASSERT_STR_EQ(config.token, TOKEN, "token");
	ASSERT_STR_EQ(config.token_file, token_path, "token file kept for rotation");
	ASSERT_STR_EQ(config.ca_pem, CA_PEM, "CA");
	ASSERT_TRUE(!config.insecure_skip_tls_verify, "verifies TLS");
	temp_file_write("serviceaccount/token", "rotated\n");
	set_mtime(token_path, 1500000000);
	ASSERT_EQ(kube_client_config_token(&config, &token, errbuf, sizeof(errbuf)), 0, errbuf);
	ASSERT_STR_EQ(token, "rotated", "rotated service account token");
	kube_client_config_free(&config);

	setenv("KUBERNETES_SERVICE_HOST", "fd00:10:96::1", 1);
	ASSERT_EQ(kubeconfig_in_cluster(&config, errbuf, sizeof(errbuf)), 0, errbuf);
	ASSERT_STR_EQ(config.server, "https://[fd00:10:96::1]:443", "IPv6 host in brackets");
	kube_client_config_free(&config);

	setenv("KUBERNETES_SERVICE_PORT", "https", 1);
	ASSERT_EQ(kubeconfig_in_cluster(&config, errbuf, sizeof(errbuf)), -1, "bad port");
	ASSERT_CONTAINS(errbuf, "KUBERNETES_SERVICE_PORT https is not a port", "names the port");
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);

	unsetenv("KUBERNETES_SERVICE_HOST");
	ASSERT_EQ(kubeconfig_in_cluster(&config, errbuf, sizeof(errbuf)), -1, "no host");
	ASSERT_CONTAINS(errbuf, "KUBERNETES_SERVICE_HOST", "names the variable");
	setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);

	unlink(token_path);
	ASSERT_EQ(kubeconfig_in_cluster(&config, errbuf, sizeof(errbuf)), -1, "no token");
	ASSERT_CONTAINS(errbuf, "serviceaccount/token", "names the token file");
	ASSERT_TRUE(!config.ca_pem && !config.token, "nothing left allocated");
}

static void kubeconfig_in_cluster_service_account(void)
{
	char *saved[IN_CLUSTER_VARIABLES], directory[PATH_MAX];

	if (temp_dir_create() < 0)
		return;
	environment_save(saved);
	snprintf(directory, sizeof(directory), "%s/serviceaccount", temp_dir);
	setenv("WEIR_SERVICE_ACCOUNT_DIR", directory, 1);
	in_cluster_checks();
	environment_restore(saved);
	temp_dir_remove();
}

const struct test_case kubeconfig_tests[] = {
	{ "kubeconfig_data_fields", kubeconfig_data_fields },
	{ "kubeconfig_file_paths_relative_to_its_folder",
	  kubeconfig_file_paths_relative_to_its_folder },
	{ "kubeconfig_token_file_rotation", kubeconfig_token_file_rotation },
	{ "kubeconfig_missing_context_cluster_user_errors",
	  kubeconfig_missing_context_cluster_user_errors },
	{ "kubeconfig_insecure_flag", kubeconfig_insecure_flag },
	{ "kubeconfig_base64_is_strict_and_pem_checked",
	  kubeconfig_base64_is_strict_and_pem_checked },
	{ "kubeconfig_server_scheme_and_user_shapes", kubeconfig_server_scheme_and_user_shapes },
	{ "kubeconfig_unreadable_file", kubeconfig_unreadable_file },
	{ "kubeconfig_in_cluster_service_account", kubeconfig_in_cluster_service_account },
};
const size_t kubeconfig_tests_count = sizeof(kubeconfig_tests) / sizeof(kubeconfig_tests[0]);
