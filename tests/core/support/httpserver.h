/* A small threaded HTTP/1.1 server on 127.0.0.1 for the C tests: each
 * request is answered by a handler callback; keep-alive supported. */
#ifndef SMNEO_TEST_HTTPSERVER_H
#define SMNEO_TEST_HTTPSERVER_H

#include <stddef.h>

typedef struct test_http_request {
    const char *method;
    const char *path;          /* path and query as received */
    const char *const *header_names;
    const char *const *header_values;
    size_t header_count;
    const char *body;
    size_t body_len;
} test_http_request;

typedef struct test_http_response {
    int status;                /* 0: close the connection without answering */
    char headers[2048];        /* extra header lines, each ending in "\r\n" */
    char *body;                /* malloc'd by the handler; freed by the server */
    size_t body_len;
    long delay_ms;             /* sleep before answering (timeouts) */
    int truncate;              /* send only half of the body, then close */
} test_http_response;

typedef void (*test_http_handler)(const test_http_request *req, test_http_response *resp, void *payload);

typedef struct test_http_server test_http_server;

/* Starts listening on 127.0.0.1 with an ephemeral port. NULL on failure. */
test_http_server *test_http_server_start(test_http_handler handler, void *payload);
/* "http://127.0.0.1:PORT" (borrowed). */
const char *test_http_server_url(const test_http_server *s);
int test_http_server_port(const test_http_server *s);
/* Number of requests handled so far. */
int test_http_server_requests(const test_http_server *s);
/* Number of TCP connections accepted so far (keep-alive checks). */
int test_http_server_connections(const test_http_server *s);
void test_http_server_stop(test_http_server *s);

/* Header lookup in a request (case-insensitive), NULL if absent. */
const char *test_http_header(const test_http_request *req, const char *name);

#endif
