/* smneo/s3.h: S3 transfer for model archives (upload, download, head).
 *
 * Requests are signed with SigV4 for service "s3": the payload hash is
 * UNSIGNED-PAYLOAD over HTTPS and the real SHA-256 over plain HTTP. Custom
 * endpoints (the local endpoint, moto) use path-style URLs
 * (http://host:port/bucket/key); AWS endpoints use virtual-hosted style
 * (https://bucket.s3.region.amazonaws.com/key). The S3 endpoint is the
 * client's (smneo_client_options.s3_endpoint_url, AWS_ENDPOINT_URL_S3, the
 * client's endpoint_url when one was given, else AWS).
 *
 * Files stream both ways: memory does not grow with the file size. Uploads
 * above the threshold use multipart upload with parts sent over parallel
 * connections, each part retried on its own, and the upload aborted on
 * failure. Downloads write a temporary file beside the destination and
 * rename it at the end. */
#ifndef SMNEO_S3_H
#define SMNEO_S3_H

#include "client.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Progress: bytes done of total. Return non-zero to cancel (SMNEO_ECANCELLED;
 * a multipart upload is aborted, a partial download removed). */
typedef int (*smneo_s3_progress_cb)(uint64_t done, uint64_t total, void *payload);

typedef struct smneo_s3_options {
    int version;                 /* SMNEO_S3_OPTIONS_VERSION */
    uint64_t multipart_threshold;/* 0: 64 MiB; files larger use multipart */
    uint64_t part_size;          /* 0: 64 MiB (minimum 5 MiB) */
    int concurrency;             /* parallel part uploads; 0: 4 */
    const char *sse_kms_key_id;  /* upload with SSE-KMS using this key; NULL: none */
    const char *content_digest;  /* stored as x-amz-meta-smneo-blake2b (upload) */
    smneo_s3_progress_cb progress;
    void *payload;
    /* version 2 (upload only; NULL: as in version 1): */
    const char *content_type;    /* Content-Type; NULL: application/octet-stream */
    const char *const *metadata; /* NULL-terminated name, value pairs, sent as
                                  * x-amz-meta-NAME: VALUE (printable ASCII) */
    const char *server_side_encryption; /* "AES256", "aws:kms" or "aws:kms:dsse";
                                  * NULL: "aws:kms" when sse_kms_key_id is set, else none */
    /* version 2, upload and download: when not NULL, set on a failure to the
     * S3 operation whose request failed ("HeadObject", "GetObject",
     * "PutObject", "CreateMultipartUpload", "UploadPart",
     * "CompleteMultipartUpload"; a static string), or to NULL when no
     * request failed (bad options, a local file error, a cancel before any
     * request). Unchanged on success. */
    const char **failed_operation;
} smneo_s3_options;

/* Versions 1 and 2 are accepted; a version-1 struct ends before content_type. */
#define SMNEO_S3_OPTIONS_VERSION 2
#define SMNEO_S3_OPTIONS_INIT {.version = SMNEO_S3_OPTIONS_VERSION}
/* Zeroes *opts (the size of that version) and sets its version; SMNEO_EINVAL for a version
 * outside 1 to SMNEO_S3_OPTIONS_VERSION. For programs that cannot use the macro (FFI). */
SMNEO_EXTERN(int) smneo_s3_options_init(smneo_s3_options *opts, int version);

typedef struct smneo_s3_object {
    uint64_t size;
    char *etag;          /* as S3 returns it, quotes removed */
    char *blake2b;       /* x-amz-meta-smneo-blake2b, or NULL */
    char *content_type;
} smneo_s3_object;

/* Splits "s3://bucket/key" (or "https://bucket.s3..." / path-style https URLs)
 * into caller-owned bucket and key (free()). SMNEO_EINVAL with a clear
 * message otherwise. */
SMNEO_EXTERN(int) smneo_s3_parse_uri(char **bucket, char **key, const char *uri, smneo_error *err);

/* Uploads a local file to s3://bucket/key. */
SMNEO_EXTERN(int) smneo_s3_upload(smneo_client *c, const char *path, const char *s3_uri,
                                  const smneo_s3_options *opts, smneo_error *err);
/* Downloads s3://bucket/key to path (temporary file + rename). The file's
 * mode is 0644 less the umask, also when it replaces one (whose mode, setuid
 * and setgid bits included, is not kept). A missing object is
 * SMNEO_ENOTFOUND with the message "... not found at s3://...". */
SMNEO_EXTERN(int) smneo_s3_download(smneo_client *c, const char *s3_uri, const char *path,
                                    const smneo_s3_options *opts, smneo_error *err);
/* ---- Transfers as steps ------------------------------------------------------
 * A download is a sans-I/O machine like a call (client.h): the driver asks
 * smneo_s3_transfer_next what to do and hands answers back. Retries (with
 * the client's retry policy and quota), resuming, credential requests
 * (container, IMDS, STS: SEND steps too), the temporary file and its rename
 * all live in the machine; smneo_s3_download is its driver over libcurl, and
 * any other driver (cosockets, an event loop, a test double) gets the same
 * behaviour.
 *   SEND   send step.request (borrowed until the feed). When step.sink is 1,
 *          hand a 2xx answer's body to smneo_s3_transfer_write(x, step.id,
 *          ...) piece by piece as it arrives (a non-zero return: stop
 *          receiving), then smneo_s3_transfer_feed(x, step.id, resp, ...)
 *          with the response (its body empty) or the transport's error. A
 *          body cut midway is a transport error (SMNEO_ECLOSED): the retry
 *          resumes with Range: bytes=N-. step.timeout_ms > 0 marks a
 *          credential request (give up after that long).
 *          A SEND whose request has body NULL and body_len > 0 streams
 *          its body from the transfer: the driver sends body_len bytes
 *          (the request's Content-Length) taken, in order, from
 *          smneo_s3_transfer_read(x, step.id, buf, n); a driver that must
 *          send the body again (a redirect, a rewind) feeds a transport
 *          error instead and the machine retries with a new SEND. Download
 *          requests never have one; upload parts will.
 *   WAIT   several SENDs are in flight (parallel upload parts) and none can
 *          start before one of them is fed: wait for any answer, feed it,
 *          then step again. A driver that sends one SEND at a time (feeding
 *          each before the next step) never gets WAIT.
 *   SLEEP  sleep step.sleep_ms (at most 200 ms at a time).
 *   EVENT  progress: step.done of step.total bytes. The driver calls the
 *          user's callback here, on the driving thread; to cancel, call
 *          smneo_s3_transfer_cancel (the result is SMNEO_ECANCELLED
 *          "cancelled by the progress callback", the partial file removed).
 *   WORK   only after smneo_s3_transfer_set_work_steps(x, 1): CPU-bound
 *          work of the transfer (the SHA-256 of an upload part's or
 *          PutObject's payload, which plain HTTP signs; over HTTPS the
 *          payload is UNSIGNED-PAYLOAD, as botocore sends it, and there is
 *          none). Run it with smneo_s3_transfer_work where it fits (inline,
 *          a worker thread), then step again; stepping without running it
 *          gives the same WORK again. One WORK at a time: while it runs on
 *          another thread, the driving thread may go on with the SENDs in
 *          flight (smneo_s3_transfer_read, _write, _feed, _progress,
 *          _cancel) but must not call smneo_s3_transfer_next or _free
 *          until it has returned.
 *   DONE   smneo_s3_transfer_result gives 0 or the error.
 * step.id names each SEND (unique within the transfer); a feed, write or
 * read with an id not in flight is ignored. Several SENDs may be in flight
 * at once (step again after a SEND without feeding it: the next step is
 * another SEND, a WAIT, or an EVENT/SLEEP); a download has one at a time.
 *
 * Nesting in another machine (compile): the parent keeps the transfer, and
 * whenever it would step it calls smneo_s3_transfer_next and forwards SEND,
 * SLEEP and EVENT steps as its own (translating the ids if it has requests
 * of its own in flight), turns WAIT into its own wait (or into work of its
 * own), routes the driver's write/read/feed for those ids back with
 * smneo_s3_transfer_write/_read/_feed, and on DONE takes
 * smneo_s3_transfer_result and smneo_s3_transfer_failed_operation.
 * Ownership: smneo_s3_download_new or smneo_s3_upload_new /
 * smneo_s3_transfer_free (freeing an unfinished download removes its
 * temporary file; freeing an unfinished upload sends nothing more: a
 * multipart upload begun is left to a lifecycle rule, so cancel and drive
 * to DONE instead). A transfer belongs to one
 * thread at a time. */
typedef struct smneo_s3_transfer smneo_s3_transfer;

typedef struct smneo_s3_step {
    smneo_step_kind kind;          /* SMNEO_STEP_SEND, _WAIT, _SLEEP, _EVENT, _WORK (opted in) or _DONE */
    int id;                        /* SEND: names the request in _write and _feed */
    const smneo_request *request;  /* SEND: borrowed until its feed */
    long timeout_ms;               /* SEND: give up after this long (0: the driver's own timeouts) */
    int sink;                      /* SEND: 1 when a 2xx body goes to smneo_s3_transfer_write */
    long sleep_ms;                 /* SLEEP */
    uint64_t done, total;          /* EVENT: progress; other steps: bytes so far and the size once known */
} smneo_s3_step;

/* A download of s3_uri to path, as smneo_s3_download does it (options'
 * progress callback and payload are not called by the machine: the driver
 * calls its own on EVENT steps). Bad options or path: an error here and no
 * transfer. */
SMNEO_EXTERN(int) smneo_s3_download_new(smneo_s3_transfer **out, smneo_client *c, const char *s3_uri,
                                        const char *path, const smneo_s3_options *opts, smneo_error *err);
/* An upload of path to s3_uri, as smneo_s3_upload does it: one PutObject
 * up to the threshold, else CreateMultipartUpload, UploadPart for each part
 * (up to opts->concurrency in flight: several SENDs before a WAIT, each part
 * retried on its own), CompleteMultipartUpload, and AbortMultipartUpload
 * after a failure or a cancel. Parts and PutObject stream their body with
 * smneo_s3_transfer_read. Progress counts the bytes read; the final event
 * (total of total) comes once S3 has answered every part, before
 * CompleteMultipartUpload, so a cancel there still aborts the upload. Bad
 * options or file: an error here and no transfer. */
SMNEO_EXTERN(int) smneo_s3_upload_new(smneo_s3_transfer **out, smneo_client *c, const char *path,
                                      const char *s3_uri, const smneo_s3_options *opts, smneo_error *err);
SMNEO_EXTERN(void) smneo_s3_transfer_free(smneo_s3_transfer *x);
/* Never fails: errors surface as DONE. */
SMNEO_EXTERN(void) smneo_s3_transfer_next(smneo_s3_step *out, smneo_s3_transfer *x);
/* Part of the 2xx body of SEND id. 0 to go on; non-zero when the driver
 * must stop receiving (a write error or a cancel) and feed. */
SMNEO_EXTERN(int) smneo_s3_transfer_write(smneo_s3_transfer *x, int id, const char *data, size_t n);
/* The next bytes of the body of SEND id (a request with body NULL and
 * body_len > 0): up to n bytes copied into buf, the count returned; 0 once
 * body_len bytes were given (the body's end) or for an id that has no such
 * body in flight; -1 when the file cannot be read (abort the send and feed a
 * transport error: the transfer fails with that file error). Each SEND's
 * body starts at its first read. On the driving thread, like every
 * smneo_s3_transfer_ call. */
SMNEO_EXTERN(int64_t) smneo_s3_transfer_read(smneo_s3_transfer *x, int id, char *buf, size_t n);
/* The answer to SEND id: takes ownership of resp; resp NULL with the
 * transport's error code (SMNEO_ECONNECT, SMNEO_ECLOSED, SMNEO_ETIMEOUT...)
 * and message when it failed. */
SMNEO_EXTERN(void) smneo_s3_transfer_feed(smneo_s3_transfer *x, int id, smneo_response *resp,
                                          int transport_error, const char *transport_message);
/* A progress event due now (1, with *done and *total) or not (0): for a
 * driver that wants progress while a body streams inside one blocking send;
 * an event taken here is not repeated by smneo_s3_transfer_next. */
SMNEO_EXTERN(int) smneo_s3_transfer_progress(uint64_t *done, uint64_t *total, smneo_s3_transfer *x);
/* The next step is DONE with SMNEO_ECANCELLED (after the feed of a SEND in
 * flight; a write returns non-zero meanwhile). */
SMNEO_EXTERN(void) smneo_s3_transfer_cancel(smneo_s3_transfer *x);
/* Opts in (on 1) or out (0, the default) of WORK steps: with them, an
 * upload over plain HTTP hands each payload hash out as a WORK step instead
 * of computing it inside smneo_s3_transfer_next on the driving thread (a
 * part of 64 MiB is a few hundred ms of CPU). Before the first step; a
 * download, or an upload over HTTPS, has no work either way. 0, or
 * SMNEO_EINVAL for x NULL. */
SMNEO_EXTERN(int) smneo_s3_transfer_set_work_steps(smneo_s3_transfer *x, int on);
/* Runs the pending WORK step (the last step was SMNEO_STEP_WORK; otherwise
 * does nothing). Blocking, on any thread; never calls back into the driver.
 * A cancel (smneo_s3_transfer_cancel, allowed meanwhile) or a failure fed
 * meanwhile makes it stop early. Its error, if any (the file cannot be
 * read), surfaces at the next step. */
SMNEO_EXTERN(void) smneo_s3_transfer_work(smneo_s3_transfer *x);
/* After DONE: 0, or the error code with err filled (the error moves to err:
 * a second call gives the code alone). */
SMNEO_EXTERN(int) smneo_s3_transfer_result(smneo_s3_transfer *x, smneo_error *err);
/* After DONE with an error: the S3 operation whose request failed
 * ("HeadObject", "GetObject", "PutObject", "CreateMultipartUpload",
 * "UploadPart", "CompleteMultipartUpload"; static), or NULL for a local failure or a
 * cancel. */
SMNEO_EXTERN(const char *) smneo_s3_transfer_failed_operation(const smneo_s3_transfer *x);

/* HEAD: 0 and *out filled (caller releases with smneo_s3_object_clear), or
 * SMNEO_ENOTFOUND when the object does not exist. */
SMNEO_EXTERN(int) smneo_s3_head(smneo_s3_object *out, smneo_client *c, const char *s3_uri, smneo_error *err);
SMNEO_EXTERN(void) smneo_s3_object_clear(smneo_s3_object *obj);

/* Listing the objects under a prefix (ListObjectsV2), page by page as the
 * loop reaches them, so memory stays that of one page whatever the number
 * of objects:
 *
 *     smneo_s3_list *it = NULL;
 *     smneo_s3_listed obj;
 *     int rc = smneo_s3_list_new(&it, c, "s3://bucket/models/", 0, &err);
 *     while (rc == 0 && (rc = smneo_s3_list_next(&obj, it, &err)) == 0)
 *         use(obj.key, obj.size);
 *     smneo_s3_list_free(it);   // rc: SMNEO_ITEROVER at the end, or the error
 *
 * The prefix is the URI's key as given, a plain string prefix ("models/"
 * lists under models/; "models" also lists models-old/...); s3://bucket or
 * s3://bucket/ lists the whole bucket. page_size is ListObjectsV2's max-keys
 * (1 to 1000; 0: S3's default, 1000); each next page is asked for with the
 * continuation token of the one before. The strings of *out are borrowed
 * until the next call. A missing bucket is SMNEO_ENOTFOUND; an error is
 * ListObjectsV2's (smneo_error_operation). *out is caller-owned
 * (smneo_s3_list_free). */
typedef struct smneo_s3_list smneo_s3_list;
typedef struct smneo_s3_listed {
    const char *key;  /* the object's whole key */
    uint64_t size;
    const char *etag; /* quotes removed; NULL when S3 gave none */
} smneo_s3_listed;
SMNEO_EXTERN(int) smneo_s3_list_new(smneo_s3_list **out, smneo_client *c, const char *s3_uri, unsigned page_size,
                                    smneo_error *err);
SMNEO_EXTERN(int) smneo_s3_list_next(smneo_s3_listed *out, smneo_s3_list *it, smneo_error *err);
SMNEO_EXTERN(void) smneo_s3_list_free(smneo_s3_list *it);

/* The bucket compile uses when given none, as the SageMaker Python SDK
 * chooses it: "sagemaker-{region}-{account}", the account from STS
 * GetCallerIdentity. HeadBucket with ExpectedBucketOwner = the account
 * checks it; a missing bucket is created in the client's region
 * (CreateBucket with a LocationConstraint, except in us-east-1). A bucket of
 * that name owned by another account is an error (SMNEO_EAUTH for HeadBucket's
 * 403, SMNEO_ESERVICE for CreateBucket's BucketAlreadyExists): nothing is
 * uploaded to it. *out is caller-owned (free()). Blocking: it drives, with
 * the client's transport, the step machine whose SEND steps the compile
 * machines (compile.h) forward when given no bucket. */
SMNEO_EXTERN(int) smneo_s3_default_bucket(char **out, smneo_client *c, smneo_error *err);

#ifdef __cplusplus
}
#endif
#endif
