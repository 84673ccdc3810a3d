/* The Kubernetes API source: paginated list then watch for every kind weir needs, all streams
 * multiplexed on one curl multi handle (HTTP/2 when the server offers it). */
#ifndef WEIR_AGENT_KUBE_CLIENT_H
#define WEIR_AGENT_KUBE_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

#include "kubeconfig.h"
#include "object_store.h"
#include "reconciler.h"

struct kube_client;

/* Takes ownership of config. */
struct kube_client *kube_client_new(struct kube_client_config *config, struct object_store *store,
				    struct reconciler *reconciler, char *errbuf, size_t errlen);
void kube_client_free(struct kube_client *client);

CURLM *kube_client_multi(struct kube_client *client);
/* Drives transfers and timers: call after every poll. */
void kube_client_run(struct kube_client *client, uint64_t now_ms);
/* Milliseconds until the next retry is due (-1: none). */
long kube_client_timeout_ms(const struct kube_client *client, uint64_t now_ms);
/* Every kind has been listed once. */
bool kube_client_synced(const struct kube_client *client);
/* Resource streams whose last request failed after their last answer (0: the API server answers
 * every stream). */
unsigned kube_client_unreachable_kinds(const struct kube_client *client);
/* The newest resourceVersion seen on any stream (for status). */
const char *kube_client_resource_version(const struct kube_client *client);

/* One kind's stream health, for metrics. */
struct kube_stream_stats {
	unsigned long reconnects; /* failures resumed after a backoff */
	uint64_t last_heard_ms;	  /* CLOCK_MONOTONIC ms of the last list, event or bookmark; 0: never */
};
void kube_client_stream_stats(const struct kube_client *client, enum kube_kind kind,
			      struct kube_stream_stats *stats);

#endif
