/* Private: S3 helpers exposed for tests and tests/fuzz/fuzz_s3xml.c. Not installed. */
#ifndef SMNEO_S3_INTERNAL_H
#define SMNEO_S3_INTERNAL_H

#include <stddef.h>

#include "smneo/client.h"
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

#include "client_internal.h"
#include "internal.h"
#include "smneo/s3.h"

/* The text of the first <tag>...</tag> (or <tag attr...>) in an S3 XML
 * body of len bytes (no NUL needed), with the five XML entities and ASCII
 * numeric references decoded. Caller frees; NULL when absent. */
char *smneo__s3_xml_text(const char *body, size_t len, const char *tag);

/* The default bucket as a step machine behind a smneo_call (s3_bucket.c):
 * SEND and SLEEP steps, then DONE (no WORK, no EVENT); the parent machines
 * forward its steps. Without bucket: STS GetCallerIdentity for the account,
 * the name sagemaker-{region}-{account}, then (unless name_only) HeadBucket
 * with the expected owner and CreateBucket when missing. With bucket and
 * account (a name found before): HeadBucket and CreateBucket only.
 * smneo_s3_default_bucket drives it with the client's transport;
 * smneo_compile_many finds the name (no side effect) before it validates
 * its jobs and creates the bucket after. */
int smneo__s3_bucket_new(smneo_call **out, smneo_client *c, int name_only, const char *bucket,
                         const char *account, smneo_error *err);
/* After DONE: 0 with the name and account (caller frees; either may be
 * NULL), or the error's code with err filled. */
int smneo__s3_bucket_result(char **bucket, char **account, smneo_call *call, smneo_error *err);

#define MIB (1024ULL * 1024ULL)
#define MAX_SINGLE_PUT (5ULL * 1024 * MIB)

/* Largest body moved through memory for a transport without send_stream. */
#define MEMORY_FALLBACK_LIMIT (16 * MIB)

typedef struct s3_target {
    smneo_client *client;
    smneo_transport *transport;
    const char *region;
    char *bucket;
    char *key;
    char *base;     /* "scheme://authority[/path][/bucket]" */
    char *path;     /* base's path part plus "/encoded-key" is the object's path */
    int https;
    int streams;    /* the transport has send_stream */
} s3_target;

typedef struct s3_xfer {
    pthread_mutex_t mu;
    smneo_s3_progress_cb fn;
    void *payload;
    uint64_t total;
    uint64_t done;      /* bytes moved (less those of failed attempts) */
    uint64_t reported;  /* highest value handed to fn */
    int cancelled;      /* fn asked to stop */
    int stop;           /* cancelled, or a sibling part failed */
} s3_xfer;

enum { IO_SHRUNK = -1 };

typedef struct file_source {
    int fd;
    const char *path;
    uint64_t start, length, pos;
    s3_xfer *x;
    int io_errno; /* errno of a failed read, IO_SHRUNK, or 0 */
} file_source;

typedef struct s3_req {
    const char *op;                /* "PutObject": for messages and logs */
    const char *method;
    const char *query;             /* encoded, without '?', or NULL */
    const char *const *headers;    /* name, value pairs; NULL-terminated */
    const char *body;              /* in-memory body */
    size_t body_len;
    const smneo_body_source *src;  /* streamed body */
    const char *payload_hash;      /* hex SHA-256 of src (plain HTTP) */
    const smneo_body_sink *sink;
    int (*rewind)(void *payload, smneo_error *err); /* before each attempt */
    void *rewind_payload;
    const int *io_errno;           /* the source's / sink's errno, if any */
    const char *io_path;
    int io_writing;
    int error_in_200;              /* CompleteMultipartUpload: a 200 may carry <Error> */
    s3_xfer *x;                    /* cancel / stop (NULL: never stopped) */
} s3_req;

typedef struct mp_part {
    uint64_t offset, length;
    char *etag; /* as returned (quotes included) */
} mp_part;

/* Percent-encodes s (RFC 3986 unreserved kept; '/' kept when keep_slash). */
int smneo__s3_put_pct(smneo_buf *b, const char *s, int keep_slash);
void smneo__s3_target_clear(s3_target *t);
int smneo__s3_target_init(s3_target *t, smneo_client *c, const char *uri, smneo_error *err);
/* need_transport 0: for a step machine, whose driver sends (t->transport may be NULL). */
int smneo__s3_target_init_for(s3_target *t, smneo_client *c, const char *uri, int need_transport, smneo_error *err);
void smneo__s3_xfer_init(s3_xfer *x, const smneo_s3_options *o, uint64_t total);
void smneo__s3_xfer_destroy(s3_xfer *x);
/* Calls the callback (under the lock: calls never overlap). */
void smneo__s3_xfer_report_locked(s3_xfer *x, int force);
/* Adds (or with neg, removes) bytes; returns 1 when the transfer must stop. */
int smneo__s3_xfer_add(s3_xfer *x, uint64_t n, int neg);
int smneo__s3_xfer_start(s3_xfer *x);
int smneo__s3_xfer_stopped(s3_xfer *x);
int smneo__s3_xfer_cancelled(s3_xfer *x);
/* Finds <tag>...</tag> (also <tag attr...>) in body; decodes the five XML
 * entities and numeric references. Caller frees; NULL when absent. */
char *smneo__s3_xml_find(const char *body, size_t len, const char *tag);
/* Sends r with the client's retry policy. 0 and the 2xx response in *out
 * (caller-owned), or an error with err filled. */
int smneo__s3_perform(const s3_target *t, const s3_req *r, smneo_response **out, smneo_error *err);
/* Builds and signs r's request with creds (caller-owned *out). */
int smneo__s3_build(smneo_request **out, const s3_target *t, const s3_req *r, const smneo_credentials *creds,
                    smneo_error *err);
/* Fills err from an S3 error response (non-2xx); takes ownership of resp. */
int smneo__s3_response_error(smneo_response *resp, const s3_target *t, const char *op, smneo_error *err);
/* An ETag without its quotes (caller frees; NULL for NULL). */
char *smneo__s3_unquote(const char *v);
int smneo__s3_check_options(smneo_s3_options *o, const smneo_s3_options *given, smneo_error *err);
int smneo__s3_head_target(smneo_s3_object *out, char **raw_etag, const s3_target *t, smneo_error *err);
/* A target for bucket-level requests (HeadBucket, ListObjectsV2): the
 * bucket's path without a key. */
int smneo__s3_bucket_target_init(s3_target *t, smneo_client *c, const char *bucket, smneo_error *err);
/* need_transport 0: for a step machine, whose driver sends. */
int smneo__s3_bucket_target_init_for(s3_target *t, smneo_client *c, const char *bucket, int need_transport,
                                     smneo_error *err);
/* failed_operation names a request: not for a local or cancelled failure. */
void smneo__s3_not_a_request(const smneo_s3_options *o, int rc);

/* Credentials for a step machine's requests (the client's chain, its
 * container, IMDS, STS and SSO requests handed out as SENDs). */
typedef struct s3_creds {
    smneo_credentials *creds;
    smneo_chain_resolution *res;
    smneo_request *req;   /* the credential request to send (or in flight) */
    long timeout_ms;      /* req's own timeout */
    int pending;          /* req waits for its backoff until wake_ms */
    int64_t wake_ms;
} s3_creds;
/* 0: fresh credentials in c->creds; 1: send c->req now (then
 * smneo__s3_creds_feed); 2: c->req waits for its backoff (until
 * c->wake_ms); else the error's code, err filled (none found, out of
 * memory). */
int smneo__s3_creds_step(s3_creds *c, smneo_client *client, smneo_error *err);
/* The answer to c->req (resp NULL: the transport's error code); takes resp. */
void smneo__s3_creds_feed(s3_creds *c, smneo_response *resp, int transport_error);
void smneo__s3_creds_clear(s3_creds *c);

/* The upload machine (s3_upload.c) behind a smneo_s3_transfer (s3_download.c
 * dispatches the smneo_s3_transfer_ calls of an upload to these). */
typedef struct s3_up s3_up;
int smneo__s3_up_new(s3_up **out, smneo_client *c, const char *path, const char *s3_uri,
                     const smneo_s3_options *opts, int need_transport, smneo_error *err);
void smneo__s3_up_free(s3_up *u);
void smneo__s3_up_next(smneo_s3_step *out, s3_up *u);
int64_t smneo__s3_up_read(s3_up *u, int id, char *buf, size_t n);
void smneo__s3_up_feed(s3_up *u, int id, smneo_response *resp, int transport_error, const char *transport_message);
int smneo__s3_up_progress(uint64_t *done, uint64_t *total, s3_up *u);
void smneo__s3_up_cancel(s3_up *u);
void smneo__s3_up_set_work_steps(s3_up *u, int on);
void smneo__s3_up_work(s3_up *u);
int smneo__s3_up_result(s3_up *u, smneo_error *err);
const char *smneo__s3_up_failed_operation(const s3_up *u);
/* For the compile machine (compile.c), which nests transfers:
 * A HeadObject of s3_uri alone as a transfer (its SEND and SLEEP steps, one
 * SEND at a time, retried as a download's HEAD; DONE after it: 0, or
 * SMNEO_ENOTFOUND for a missing object). */
int smneo__s3_head_new(smneo_s3_transfer **out, smneo_client *c, const char *s3_uri, smneo_error *err);
/* After such a HEAD's DONE with 0: its x-amz-meta-smneo-blake2b (borrowed) or NULL. */
const char *smneo__s3_transfer_head_blake2b(const smneo_s3_transfer *x);
/* 1 once the transfer's DONE was handed out (it never steps again). */
int smneo__s3_transfer_finished(const smneo_s3_transfer *x);
/* fn sees every progress event the driver takes (an upload's EVENT steps and
 * smneo_s3_transfer_progress), on the driving thread. */
void smneo__s3_transfer_observe(smneo_s3_transfer *x, void (*fn)(void *payload, uint64_t done, uint64_t total),
                                void *payload);
/* A transfer that drives u (owns it); NULL when out of memory. */
smneo_s3_transfer *smneo__s3_transfer_wrap(s3_up *u);

#endif
