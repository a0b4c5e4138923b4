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
/* HEAD: 0 and *out filled (caller releases with smneo_s3_object_clear), or
 * SMNEO_ENOTFOUND when the object does not exist. */
SMNEO_EXTERN(int) smneo_s3_head(smneo_s3_object *out, smneo_client *c, const char *s3_uri, smneo_error *err);
SMNEO_EXTERN(void) smneo_s3_object_clear(smneo_s3_object *obj);

/* The bucket compile uses when given none, as the SageMaker Python SDK
 * chooses it: "sagemaker-{region}-{account}", the account from STS
 * GetCallerIdentity. HeadBucket with ExpectedBucketOwner = the account
 * checks it; a missing bucket is created in the client's region
 * (CreateBucket with a LocationConstraint, except in us-east-1). A bucket of
 * that name owned by another account is an error (SMNEO_EAUTH for HeadBucket's
 * 403, SMNEO_ESERVICE for CreateBucket's BucketAlreadyExists): nothing is
 * uploaded to it. *out is caller-owned (free()). */
SMNEO_EXTERN(int) smneo_s3_default_bucket(char **out, smneo_client *c, smneo_error *err);

#ifdef __cplusplus
}
#endif
#endif
