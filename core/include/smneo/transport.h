/* smneo/transport.h: the sender interface and the libcurl transport.
 *
 * The core never needs to own a socket: calls are state machines (client.h)
 * and anything that can send a smneo_request and return a smneo_response can
 * drive them. The libcurl transport is the default for blocking use. */
#ifndef SMNEO_TRANSPORT_H
#define SMNEO_TRANSPORT_H

#include "http.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct smneo_transport smneo_transport;

/* A sender. `send` must be safe to call from several threads at once when the
 * transport is shared by a client used from several threads. On success it
 * returns 0 and a caller-owned response in *out (any HTTP status). On a
 * transport failure it returns SMNEO_ECONNECT, SMNEO_EDNS, SMNEO_ETLS or
 * SMNEO_ETIMEOUT (err->message says what happened). */
struct smneo_transport {
    int version;               /* SMNEO_TRANSPORT_VERSION */
    int (*send)(smneo_transport *self, const smneo_request *req, smneo_response **out, smneo_error *err);
    void (*free)(smneo_transport *self); /* releases the transport itself */
    void *payload;
};

#define SMNEO_TRANSPORT_VERSION 1

typedef struct smneo_curl_options {
    int version;               /* SMNEO_CURL_OPTIONS_VERSION */
    long connect_timeout_ms;   /* 0: 60000 */
    long read_timeout_ms;      /* 0: 60000 (no data for this long aborts) */
    int verify_tls;            /* 1 (default): verify peer and host */
    const char *ca_bundle;     /* NULL: AWS_CA_BUNDLE, then the system store */
    int max_connections;       /* pooled keep-alive connections (0: 16) */
} smneo_curl_options;

#define SMNEO_CURL_OPTIONS_VERSION 1
#define SMNEO_CURL_OPTIONS_INIT {SMNEO_CURL_OPTIONS_VERSION, 0, 0, 1, NULL, 0}

/* The libcurl transport: keep-alive connection pool shared by threads,
 * proxies from the environment (HTTPS_PROXY, NO_PROXY, ...). Caller-owned;
 * release with t->free(t) or smneo_transport_free(t). */
SMNEO_EXTERN(int) smneo_curl_transport_new(smneo_transport **out, const smneo_curl_options *opts,
                                           smneo_error *err);
SMNEO_EXTERN(void) smneo_transport_free(smneo_transport *t);

/* Sends one request with a transport (convenience). */
SMNEO_EXTERN(int) smneo_transport_send(smneo_transport *t, const smneo_request *req, smneo_response **out,
                                       smneo_error *err);

#ifdef __cplusplus
}
#endif
#endif
