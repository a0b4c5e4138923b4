/* smneo/auth.h: credentials, the credential chain, region lookup, SigV4.
 *
 * Secrets are never written into error messages, logs or debug output. */
#ifndef SMNEO_AUTH_H
#define SMNEO_AUTH_H

#include "http.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A set of credentials. Caller-owned when returned through `out`. */
typedef struct smneo_credentials {
    char *access_key_id;
    char *secret_access_key;
    char *session_token;   /* NULL when not temporary */
    int64_t expiration;    /* epoch seconds; 0 = does not expire */
    char *source;          /* where they came from: "explicit", "environment",
                              "shared-credentials-file", "config-file",
                              "credential_process", "container", "imds",
                              "assume-role", "web-identity", "sso",
                              "ec2-credentials-file", "boto-config" */
} smneo_credentials;

SMNEO_EXTERN(int) smneo_credentials_new(smneo_credentials **out, const char *access_key_id,
                                        const char *secret_access_key, const char *session_token);
SMNEO_EXTERN(int) smneo_credentials_copy(smneo_credentials **out, const smneo_credentials *c);
/* Wipes the secret strings before freeing. NULL is a no-op. */
SMNEO_EXTERN(void) smneo_credentials_free(smneo_credentials *c);

/* ---- SigV4 -------------------------------------------------------------- */

typedef struct smneo_sigv4_options {
    int version;                 /* SMNEO_SIGV4_OPTIONS_VERSION */
    const char *region;
    const char *service;         /* "sagemaker", "s3" */
    int64_t timestamp;           /* epoch seconds of the signature (X-Amz-Date) */
    int no_normalize_path;       /* 1: sign the path as given; 0: RFC 3986 remove_dot_segments +
                                    collapse "//" (never for S3) */
    int sign_body_header;        /* 1: add x-amz-content-sha256 (S3) */
    int omit_session_token;      /* 1: add X-Amz-Security-Token after signing (not signed) */
    const char *payload_hash;    /* precomputed hex hash, or "UNSIGNED-PAYLOAD"; NULL: hash body */
} smneo_sigv4_options;

#define SMNEO_SIGV4_OPTIONS_VERSION 1
#define SMNEO_SIGV4_OPTIONS_INIT {.version = SMNEO_SIGV4_OPTIONS_VERSION}
/* Zeroes *opts (the size of that version) and sets its version; SMNEO_EINVAL for a version
 * outside 1 to SMNEO_SIGV4_OPTIONS_VERSION. For programs that cannot use the macro (FFI). */
SMNEO_EXTERN(int) smneo_sigv4_options_init(smneo_sigv4_options *opts, int version);

/* Signs `req` in place: adds X-Amz-Date (and X-Amz-Security-Token, and
 * x-amz-content-sha256 when asked) and Authorization. The request's Host
 * header is used if present, otherwise req->host is added as "Host". */
SMNEO_EXTERN(int) smneo_sigv4_sign(smneo_request *req, const smneo_credentials *creds,
                                   const smneo_sigv4_options *opts, smneo_error *err);

/* The intermediate artefacts (for tests and debugging): each *out is a
 * caller-owned heap string (free with free()). Any out pointer may be NULL. */
SMNEO_EXTERN(int) smneo_sigv4_debug(char **canonical_request, char **string_to_sign,
                                    char **authorization, const smneo_request *req,
                                    const smneo_credentials *creds, const smneo_sigv4_options *opts, smneo_error *err);

/* ---- Credential chain and region ---------------------------------------- */

typedef struct smneo_credential_chain smneo_credential_chain;

/* Asked for the current MFA code when an assume-role profile sets
 * mfa_serial (botocore's mfa prompter): write the code, NUL-terminated, into
 * out (size bytes) and return 0; a non-zero return cancels the resolution
 * (SMNEO_ECREDENTIALS, naming the profile and the role). mfa_serial is the device's ARN, profile the profile
 * that names it. Called from inside smneo_chain_resolution_step, on the
 * thread that drives it. */
typedef int (*smneo_mfa_cb)(char *out, size_t size, const char *mfa_serial, const char *profile, void *payload);

typedef struct smneo_chain_options {
    int version;                 /* SMNEO_CHAIN_OPTIONS_VERSION (1 and 2 accepted) */
    const char *profile;         /* NULL: AWS_DEFAULT_PROFILE, AWS_PROFILE, then "default" */
    const char *access_key_id;   /* explicit keys (both or neither) */
    const char *secret_access_key;
    const char *session_token;
    /* version 2 */
    const char *region;          /* STS's region for assumed roles (the client's, as botocore);
                                    NULL: AWS_REGION, AWS_DEFAULT_REGION, the profile, else
                                    STS's global endpoint */
    smneo_mfa_cb mfa_cb;         /* NULL: an mfa_serial profile is an error naming it */
    void *payload;
} smneo_chain_options;

#define SMNEO_CHAIN_OPTIONS_VERSION 2
#define SMNEO_CHAIN_OPTIONS_INIT {.version = SMNEO_CHAIN_OPTIONS_VERSION}
/* Zeroes *opts (the size of that version) and sets its version; SMNEO_EINVAL for a version
 * outside 1 to SMNEO_CHAIN_OPTIONS_VERSION. For programs that cannot use the macro (FFI). */
SMNEO_EXTERN(int) smneo_chain_options_init(smneo_chain_options *opts, int version);

/* The chain resolves lazily and caches; temporary credentials are refreshed
 * before they expire. Safe to share between threads. */
SMNEO_EXTERN(int) smneo_credential_chain_new(smneo_credential_chain **out, const smneo_chain_options *opts,
                                             smneo_error *err);
SMNEO_EXTERN(void) smneo_credential_chain_free(smneo_credential_chain *chain);

/* The AWS CLI's assumed-role cache (botocore's JSONFileCache, which the CLI
 * keeps in ~/.aws/cli/cache): each AssumeRole answer (and the
 * AssumeRoleWithWebIdentity answer of a chain whose own source is web
 * identity, as the AWS CLI caches it) is written to
 * dir/<SHA-1 of the role's AssumeRole arguments>.json (0600, through a
 * temporary file renamed over it) and read back instead of calling STS
 * while more than 15 minutes are left, so smneo and the AWS CLI share it
 * (an MFA role asks for a code once while it lasts). dir NULL: no cache
 * (the default; the smneo CLI sets ~/.aws/cli/cache). */
SMNEO_EXTERN(int) smneo_credential_chain_set_role_cache(smneo_credential_chain *chain, const char *dir,
                                                        smneo_error *err);
/* The profile the chain reads: the profile option, else
 * AWS_DEFAULT_PROFILE, AWS_PROFILE, "default". Borrowed. */
SMNEO_EXTERN(const char *) smneo_credential_chain_profile(const smneo_credential_chain *chain);
/* 1 when credentials of this source (smneo_credentials.source) are read
 * from a profile of the config or credentials file, so the profile is worth
 * naming beside it ("shared-credentials-file", "config-file",
 * "credential_process", "assume-role", "web-identity", "sso"); else 0
 * (NULL included). */
SMNEO_EXTERN(int) smneo_credential_source_from_profile(const char *source);

/* Sharing credentials between processes (smneo.resty's lua_shared_dict):
 * peek copies the credentials the chain holds into *out (NULL when none) and
 * returns 2 when they are fresh, 1 when they are inside their refresh window
 * but still usable, 0 when stale or absent (or a negative error); seed gives
 * the chain credentials resolved elsewhere, kept as if it had resolved them
 * (source and expiration included: the same refresh windows apply). */
SMNEO_EXTERN(int) smneo_credential_chain_peek(smneo_credentials **out, smneo_credential_chain *chain);
SMNEO_EXTERN(int) smneo_credential_chain_seed(smneo_credential_chain *chain, const smneo_credentials *c,
                                              smneo_error *err);

/* Sans-I/O resolution. A provider that needs HTTP (container, IMDS) asks for
 * it: smneo_credential_chain_step fills *req_out with a request to send and
 * returns 1; the caller sends it and feeds the answer (or a transport error
 * code with resp == NULL) with smneo_credential_chain_feed, and calls step
 * again. Returns 0 when *creds_out holds credentials (caller-owned copy), or
 * a negative error. A chain being resolved by one thread makes others wait
 * for it inside step (they see the result when it is ready). */
typedef struct smneo_chain_resolution smneo_chain_resolution;
/* now: epoch seconds used for expiry checks (0: the current time). */
SMNEO_EXTERN(int) smneo_chain_resolution_new(smneo_chain_resolution **out, smneo_credential_chain *chain,
                                             int64_t now);
SMNEO_EXTERN(void) smneo_chain_resolution_free(smneo_chain_resolution *res);
SMNEO_EXTERN(int) smneo_chain_resolution_step(smneo_request **req_out, smneo_credentials **creds_out,
                                              smneo_chain_resolution *res, smneo_error *err);
SMNEO_EXTERN(int) smneo_chain_resolution_feed(smneo_chain_resolution *res, const smneo_response *resp,
                                              int transport_error);
/* The timeout the request just handed out by step deserves, in
 * milliseconds (IMDS 1000, container 2000); 0 when none is outstanding. */
SMNEO_EXTERN(int) smneo_chain_resolution_timeout_ms(const smneo_chain_resolution *res);
/* How long to wait before sending the request just handed out by step, in
 * milliseconds: 0 for a first attempt; a retry's backoff when an STS, SSO or
 * SSO-OIDC request is sent again after a retryable failure (throttling, 5xx,
 * a connection error, STS's IDPCommunicationError; botocore's retry mode and
 * attempts from AWS_RETRY_MODE / AWS_MAX_ATTEMPTS or the profile). A driver
 * that ignores it retries without a backoff. */
SMNEO_EXTERN(long) smneo_chain_resolution_delay_ms(const smneo_chain_resolution *res);

/* Blocking convenience: drives a resolution with transport t. With t NULL a
 * private libcurl transport with the short timeouts above is created when an
 * HTTP provider (container, IMDS) is reached. *out caller-owned. */
struct smneo_transport;
SMNEO_EXTERN(int) smneo_credential_chain_get(smneo_credentials **out, smneo_credential_chain *chain,
                                             struct smneo_transport *t, smneo_error *err);

/* Region: explicit, AWS_REGION, AWS_DEFAULT_REGION, then the profile's
 * `region` in the config file. *out is caller-owned (free()). SMNEO_ENOREGION
 * with a message listing where it looked. */
SMNEO_EXTERN(int) smneo_region_resolve(char **out, const char *explicit_region, const char *profile,
                                       smneo_error *err);

/* Reads one setting of a profile from the config file (AWS_CONFIG_FILE or
 * ~/.aws/config; "[default]" or "[profile NAME]"), overridden by the same
 * profile's "[NAME]" section of the credentials file as botocore merges them.
 * profile NULL: AWS_DEFAULT_PROFILE, AWS_PROFILE, then "default". *out caller-owned, NULL when
 * absent; returns 0 either way (unless a file exists but cannot be read). */
SMNEO_EXTERN(int) smneo_config_get(char **out, const char *profile, const char *key, smneo_error *err);

#ifdef __cplusplus
}
#endif
#endif
