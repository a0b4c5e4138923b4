/* The libcurl transport driven by an event loop (internal: the Python
 * binding's smneo.aio). Many transfers share one multi handle; the loop
 * watches the sockets libcurl names and calls smneo__curlm_action when one
 * is ready or the deadline smneo__curlm_timeout gives has passed. Every
 * handle option (TLS, CA bundle, proxies, client certificates, timeouts,
 * keep-alive) comes from the transport, set by the same code as its blocking
 * sends; the read timeout ("no bytes for read_timeout_ms") is checked here.
 * Not thread-safe: one loop thread drives one smneo__curlm. */
#ifndef SMNEO_CURL_MULTI_H
#define SMNEO_CURL_MULTI_H

#include "smneo/transport.h"

typedef struct smneo__curlm smneo__curlm;

enum { SMNEO__CURLM_IN = 1, SMNEO__CURLM_OUT = 2, SMNEO__CURLM_REMOVE = 4 };

/* libcurl wants fd watched for `what` (IN and/or OUT), or no longer
 * (REMOVE). */
typedef void (*smneo__curlm_socket_cb)(int fd, int what, void *payload);
/* A transfer ended: resp (caller-owned) or rc with its message. */
typedef void (*smneo__curlm_done_cb)(void *token, smneo_response *resp, int rc, const char *message,
                                     void *payload);

/* SMNEO_EUNSUPPORTED when t is not a libcurl transport. t is borrowed. */
int smneo__curlm_new(smneo__curlm **out, smneo_transport *t, smneo__curlm_socket_cb on_socket,
                     smneo__curlm_done_cb on_done, void *payload, smneo_error *err);
/* Starts sending req (borrowed until the transfer ends or is removed). A
 * request refused before sending ends at once through on_done. */
int smneo__curlm_add(smneo__curlm *m, const smneo_request *req, void *token, smneo_error *err);
/* Aborts the transfer of token (its connection is closed), without on_done. */
void smneo__curlm_remove(smneo__curlm *m, void *token);
/* fd ready for `what` (fd < 0: a deadline passed): lets libcurl work, then
 * ends finished and read-timed-out transfers through on_done. */
void smneo__curlm_action(smneo__curlm *m, int fd, int what);
/* Milliseconds until smneo__curlm_action(m, -1, 0) is due; -1: none. */
long smneo__curlm_timeout(smneo__curlm *m);
/* Transfers in flight. */
int smneo__curlm_count(const smneo__curlm *m);
/* Aborts what is in flight (no on_done) and frees. */
void smneo__curlm_free(smneo__curlm *m);

#endif
