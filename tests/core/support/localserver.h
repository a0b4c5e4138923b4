/* Child server processes for the C suites that talk to a real endpoint over
 * loopback: the local endpoint (python3 -m smneo.local), moto_server when
 * moto is installed, and the small pieces every such suite needs (signed raw
 * requests for set-up, buckets, a client with test credentials). */
#ifndef SMNEO_TEST_LOCALSERVER_H
#define SMNEO_TEST_LOCALSERVER_H

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include "smneo.h"

typedef struct smneo_test_server {
    pid_t pid;       /* 0 when not running */
    FILE *out;       /* the server's stdout, kept open until stop */
    char url[256];   /* http://127.0.0.1:PORT */
} smneo_test_server;

/* $SMNEO_SOURCE_DIR, or "." (the python/ tree lives there). */
const char *smneo_test_source_dir(void);

/* Starts python3 -m smneo.local --port 0 followed by the NULL-terminated
 * extra arguments (may be NULL), with PYTHONPATH=<source dir>/python. The URL
 * is the server's first line of output. Returns 0, or -1 with the child
 * stopped. The server dies with the test process (PR_SET_PDEATHSIG). */
int smneo_test_local_start(smneo_test_server *s, const char *const *args);

/* Starts python3 -m moto.server on a free port and waits up to 30 s for it
 * to listen. Returns 0; 1 when it exited at once (moto[server] not
 * installed?); -1 on other failures. why (may be NULL) gets the reason. */
int smneo_test_moto_start(smneo_test_server *s, char *why, size_t whylen);

/* SIGTERM, up to 5 s to exit, then SIGKILL; clears *s. Safe to call twice. */
void smneo_test_server_stop(smneo_test_server *s);

/* A port on 127.0.0.1 that was free a moment ago (nothing listens); -1 on error. */
int smneo_test_free_port(void);
/* 1 when something accepts connections on 127.0.0.1:port. */
int smneo_test_port_open(int port);

/* METHOD url over a fresh libcurl transport, SigV4-signed for s3 (region
 * us-east-1, keys test/test) when sign is set; a body is sent as
 * application/json. Returns the HTTP status (-1 when nothing came back, the
 * reason on stderr); the body into *body_out when given (caller frees). */
int smneo_test_http(const char *method, const char *url, const char *body, int sign, char **body_out);

/* PUT base/bucket, signed; returns the HTTP status. */
int smneo_test_create_bucket(const char *base, const char *bucket);

/* A client for endpoint (region us-east-1, keys test/test, fast retries)
 * over transport t (NULL: the default). NULL on error (reported on stderr). */
smneo_client *smneo_test_client(const char *endpoint, smneo_transport *t);

#endif
