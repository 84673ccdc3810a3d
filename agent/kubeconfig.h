/* How to reach the API server: from a kubeconfig file or from the pod's service account. */
#ifndef WEIR_AGENT_KUBECONFIG_H
#define WEIR_AGENT_KUBECONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct kube_client_config {
	char server[512];	     /* "https://host:port", no trailing slash */
	char *ca_pem;		     /* CA bundle (PEM) in memory, or NULL */
	size_t ca_pem_length;
	char *client_certificate_pem; /* client certificate (PEM), or NULL */
	size_t client_certificate_length;
	char *client_key_pem;	     /* client key (PEM), or NULL */
	size_t client_key_length;
	char *token;		     /* bearer token, or NULL */
	char token_file[512];	     /* re-read when it changes (rotation), or "" */
	struct timespec token_file_mtime;
	bool insecure_skip_tls_verify; /* only when the kubeconfig says so */
};

/* Loads the current context of a kubeconfig file: cluster server, certificate-authority(-data),
 * insecure-skip-tls-verify; user client-certificate(-data), client-key(-data), token,
 * tokenFile. Relative file paths are relative to the kubeconfig's folder. Returns 0, or -1 with
 * errbuf naming the file and the problem (never a token or key). */
int kubeconfig_load(const char *path, struct kube_client_config *config, char *errbuf,
		    size_t errlen);

/* In-cluster: KUBERNETES_SERVICE_HOST/PORT, and the service account's token and ca.crt from
 * $WEIR_SERVICE_ACCOUNT_DIR (default /var/run/secrets/kubernetes.io/serviceaccount). */
int kubeconfig_in_cluster(struct kube_client_config *config, char *errbuf, size_t errlen);

/* The bearer token to send now, re-reading token_file when its mtime changed. Returns 0 (with
 * *token NULL when there is none), or -1 with errbuf. */
int kube_client_config_token(struct kube_client_config *config, const char **token,
			     char *errbuf, size_t errlen);

void kube_client_config_free(struct kube_client_config *config);

#endif
