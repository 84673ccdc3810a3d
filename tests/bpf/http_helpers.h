/* Shared by the HTTP suites: a remote client talking to server A on an L7 port, and the rule
 * set that judges it. */
#ifndef WEIR_TESTS_BPF_HTTP_HELPERS_H
#define WEIR_TESTS_BPF_HTTP_HELPERS_H

#include <stdint.h>

#include "fixture.h"

#define INGRESS WEIR_DIRECTION_INGRESS
#define HTTP_PORT 8080
#define HTTP_RULE 500
#define ISOLATION_RULE 90
#define CLIENT_SEQUENCE 7001 /* after the SYN */
#define SERVER_SEQUENCE 9001

/* The remote client (REMOTE_POD) talks to server A, so requests pass through to_pod and
 * responses through from_pod. */
struct packet_spec client_segment(const char *payload, uint32_t sequence, uint8_t flags);
struct packet_spec server_segment(const char *payload, uint32_t sequence, uint8_t flags);
/* SYN at CLIENT_SEQUENCE - 1, SYN-ACK, ACK: 0 when all three pass. */
int handshake(void);
/* A client data segment (ACK|PSH) at sequence: its verdict. */
int send_request(const char *request, uint32_t sequence);
/* A server data segment (ACK|PSH) at sequence: its verdict. */
int send_response(const char *response, uint32_t sequence);
/* One matcher of rule set HTTP_RULE, laid out as the agent writes it. */
int http_rule(uint32_t index, uint8_t method, const char *path, const char *host);
/* endpoint admits client_identity on HTTP_PORT only through rule set HTTP_RULE. */
int l7_policy(uint32_t endpoint, uint32_t client_identity);
/* A fresh datapath with /public/ prefix (any method) and GET /exact on host b.example; the
 * request sent after a handshake: 0 when it passes, else the reason A counted. */
int refusal_reason_of(const char *request);

#endif
