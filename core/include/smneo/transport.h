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

/* A request body produced piece by piece (streaming uploads). `read` fills
 * up to n bytes of buf and returns how many it wrote, 0 at the end, or
 * (size_t)-1 on an error (the transfer is aborted). Exactly `length` bytes
 * must be produced in all. */
typedef struct smneo_body_source {
    uint64_t length;
    size_t (*read)(void *payload, char *buf, size_t n);
    void *payload;
} smneo_body_source;

/* Receives a 2xx response body piece by piece (streaming downloads). A
 * non-zero return aborts the transfer. Bodies of other statuses are not
 * given to the sink: they are collected into the response (error details). */
typedef struct smneo_body_sink {
    int (*write)(void *payload, const char *data, size_t n);
    void *payload;
} smneo_body_sink;

/* A sender. `send` must be safe to call from several threads at once when the
 * transport is shared by a client used from several threads. On success it
 * returns 0 and a caller-owned response in *out (any HTTP status). On a
 * transport failure it returns SMNEO_ECONNECT, SMNEO_ECLOSED, SMNEO_EDNS,
 * SMNEO_ETLS or SMNEO_ETIMEOUT (err->message says what happened). */
struct smneo_transport {
    int version;               /* SMNEO_TRANSPORT_VERSION */
    int (*send)(smneo_transport *self, smneo_response **out, const smneo_request *req, smneo_error *err);
    void (*free)(smneo_transport *self); /* releases the transport itself */
    void *payload;
    /* Version 2, optional (NULL: not supported). Like send, with the body
     * read from src (NULL: req->body) and a 2xx response body written to
     * sink (NULL: collected into (*out)->body). A source or sink that stops
     * the transfer makes it fail with SMNEO_ECANCELLED. */
    int (*send_stream)(smneo_transport *self, smneo_response **out, const smneo_request *req,
                       const smneo_body_source *src, const smneo_body_sink *sink, smneo_error *err);
};

#define SMNEO_TRANSPORT_VERSION 2

typedef struct smneo_curl_options {
    int version;               /* SMNEO_CURL_OPTIONS_VERSION */
    long connect_timeout_ms;   /* 0: 60000 */
    long read_timeout_ms;      /* 0: 60000 (no data for this long aborts) */
    int no_verify_tls;         /* 1: do not verify peer and host (0: verify) */
    const char *ca_bundle;     /* NULL: AWS_CA_BUNDLE, then the system store */
    int max_connections;       /* pooled keep-alive connections (0: 16) */
    /* version 2 */
    int proxies_set;           /* 1: proxy_http/proxy_https replace the environment's proxies (and
                                  NO_PROXY); a NULL one means no proxy for that scheme */
    const char *proxy_http;    /* proxy URL for http:// requests */
    const char *proxy_https;   /* proxy URL for https:// requests (tunnelled with CONNECT) */
    const char *proxy_ca_bundle;   /* CA bundle verifying an https:// proxy */
    const char *proxy_client_cert; /* PEM client certificate for an https:// proxy */
    const char *proxy_client_key;  /* its key (NULL: in proxy_client_cert) */
    const char *client_cert;   /* PEM client certificate for mutual TLS with the endpoint */
    const char *client_key;    /* its key (NULL: in client_cert) */
    int tcp_keepalive;         /* 0: on (default); 1: on; -1: off */
} smneo_curl_options;

#define SMNEO_CURL_OPTIONS_VERSION 2
#define SMNEO_CURL_OPTIONS_INIT {.version = SMNEO_CURL_OPTIONS_VERSION}
/* Zeroes *opts (the size of that version) and sets its version; SMNEO_EINVAL for a version
 * outside 1 to SMNEO_CURL_OPTIONS_VERSION. For programs that cannot use the macro (FFI). */
SMNEO_EXTERN(int) smneo_curl_options_init(smneo_curl_options *opts, int version);

/* The libcurl transport: keep-alive connection pool shared by threads,
 * proxies from the environment (HTTPS_PROXY, NO_PROXY, ...). Caller-owned;
 * release with t->free(t) or smneo_transport_free(t). */
SMNEO_EXTERN(int) smneo_curl_transport_new(smneo_transport **out, const smneo_curl_options *opts,
                                           smneo_error *err);
SMNEO_EXTERN(void) smneo_transport_free(smneo_transport *t);

/* Sends one request with a transport (convenience). */
SMNEO_EXTERN(int) smneo_transport_send(smneo_response **out, smneo_transport *t, const smneo_request *req,
                                       smneo_error *err);

/* Sends one request with a streamed body and/or response (convenience).
 * A transport without send_stream (version 1, or NULL) gets the request with
 * the whole body read into memory, and the 2xx body is handed to the sink
 * afterwards: fine for small bodies only. */
SMNEO_EXTERN(int) smneo_transport_send_stream(smneo_response **out, smneo_transport *t,
                                              const smneo_request *req, const smneo_body_source *src,
                                              const smneo_body_sink *sink, smneo_error *err);
/* 1 when t streams natively (send_stream present). */
SMNEO_EXTERN(int) smneo_transport_can_stream(const smneo_transport *t);

#ifdef __cplusplus
}
#endif
#endif
