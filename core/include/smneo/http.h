/* smneo/http.h: plain HTTP request/response values shared by the protocol
 * layer, the signer and transports. No I/O here. */
#ifndef SMNEO_HTTP_H
#define SMNEO_HTTP_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct smneo_header {
    char *name;
    char *value;
} smneo_header;

/* A complete HTTP request ready to be sent. Owned by whoever created it with
 * smneo_request_new / a builder; release with smneo_request_free. All strings
 * are NUL-terminated heap copies. */
typedef struct smneo_request {
    char *method;        /* "POST" */
    char *url;           /* "https://api.sagemaker.us-east-1.amazonaws.com/" */
    char *host;          /* Host header value */
    char *path;          /* "/" (path and query as sent) */
    smneo_header *headers; /* in the order they should be sent */
    size_t header_count;
    char *body;          /* may contain NULs; body_len is authoritative */
    size_t body_len;
} smneo_request;

/* A received response. Created by transports (or bindings) with
 * smneo_response_new and filled with the helpers below; released with
 * smneo_response_free. */
typedef struct smneo_response {
    int status;
    smneo_header *headers;
    size_t header_count;
    char *body;
    size_t body_len;
    /* How many times the transport sent the request to get this answer: 2
     * when it sent it again by itself on a fresh connection because a reused
     * keep-alive one closed without an answer (libcurl does that once, and
     * so does smneo.resty). The first copy may have been run by the server,
     * so the call machine counts every send as an attempt. 0 (not known) and
     * 1 both mean once. */
    int sends;
    /* The API name of the operation whose request got this answer, set by
     * the library on the response an error carries (smneo_error.response):
     * "CreateCompilationJob", "PutObject", "GetCallerIdentity"; a static
     * string, NULL when not known. smneo_error_operation reads it. */
    const char *operation;
} smneo_response;

/* SMNEO_EINVAL for an empty method, a method with a space, a control
 * character in either, or a URL with user information ("user:pw@host"). */
SMNEO_EXTERN(int) smneo_request_new(smneo_request **out, const char *method, const char *url);
SMNEO_EXTERN(void) smneo_request_free(smneo_request *req);
/* Appends a header (copies both strings). */
SMNEO_EXTERN(int) smneo_request_add_header(smneo_request *req, const char *name, const char *value);
/* Replaces the value of the first header named `name` (case-insensitive) or appends. */
SMNEO_EXTERN(int) smneo_request_set_header(smneo_request *req, const char *name, const char *value);
/* Case-insensitive lookup; borrowed value or NULL. */
SMNEO_EXTERN(const char *) smneo_request_header(const smneo_request *req, const char *name);
/* Takes a copy of body[0..len). */
SMNEO_EXTERN(int) smneo_request_set_body(smneo_request *req, const char *body, size_t len);
/* Deep copy. */
SMNEO_EXTERN(int) smneo_request_clone(smneo_request **out, const smneo_request *req);

SMNEO_EXTERN(int) smneo_response_new(smneo_response **out, int status);
SMNEO_EXTERN(void) smneo_response_free(smneo_response *resp);
SMNEO_EXTERN(int) smneo_response_add_header(smneo_response *resp, const char *name, size_t name_len,
                                            const char *value, size_t value_len);
/* Appends to the body. The body is copied into a new block each time (the
 * old one is wiped, as bodies may hold secrets): give it in one piece or a
 * few large ones, not byte by byte. Request and response bodies and header
 * values are wiped when freed. */
SMNEO_EXTERN(int) smneo_response_append_body(smneo_response *resp, const char *data, size_t len);
SMNEO_EXTERN(const char *) smneo_response_header(const smneo_response *resp, const char *name);

#ifdef __cplusplus
}
#endif
#endif
