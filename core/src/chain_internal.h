/* Private to the credential chain's files (credentials.c: the chain and its resolution machine;
 * credential_process.c; credentials_http.c: the HTTP providers). Not installed. */
#ifndef SMNEO_CHAIN_INTERNAL_H
#define SMNEO_CHAIN_INTERNAL_H

#include <pthread.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "internal.h"
#include "smneo/auth.h"
#include "smneo/protocol.h"

/* botocore's windows for credentials from STS (and SSO): 15 and 10 minutes. */
#define STS_REFRESH_ADVISORY_S 900

struct smneo_credential_chain {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    char *profile;                     /* explicit profile option or NULL */
    char *region;                      /* STS's region (the client's), or NULL */
    smneo_mfa_cb mfa_cb;
    void *payload;
    smneo_credentials *explicit_creds; /* explicit keys, or NULL */
    smneo_credentials *cached;         /* last resolved credentials */
    int resolving;                     /* a registered resolution is running */
    pthread_t resolver;
    /* How STS, SSO and SSO-OIDC requests are retried: set by the client
     * (smneo__chain_set_retry), else resolved at the first resolution from
     * the environment and the profile with smneo's defaults. */
    smneo__retry_policy retry;
    int retry_set;
    char *role_cache;                  /* the AWS CLI's assumed-role cache directory, or NULL */
};

/* Appends one "where we looked" entry. */
typedef struct looked {
    smneo_buf b;
} looked;

enum stage {
    ST_START,
    ST_STATIC,
    ST_ASSUME,
    ST_ASSUME_WAIT,
    ST_ASSUME_RETRY,
    ST_CONTAINER,
    ST_CONTAINER_WAIT,
    ST_IMDS,
    ST_IMDS_TOKEN_WAIT,
    ST_IMDS_ROLE,
    ST_IMDS_ROLE_WAIT,
    ST_IMDS_CREDS_WAIT,
    ST_NONE,
    ST_DONE
};

struct smneo_chain_resolution {
    smneo_credential_chain *chain;
    int64_t now;
    enum stage stage;
    int registered;   /* we hold chain->resolving */
    int awaiting;     /* a request was handed out and not fed yet */
    int fed;          /* a response (or transport error) was fed */
    int resp_status;
    char *resp_body;  /* may hold secrets: wiped */
    size_t resp_len;
    char *resp_error_type; /* x-amzn-ErrorType (REST-JSON's error code), or NULL */
    char *resp_request_id; /* x-amzn-RequestId, or NULL */
    int transport_error;
    int timeout_ms;
    char *profile;    /* resolved profile name */
    char *url;        /* URL of the outstanding request (container / IMDS base) */
    char *imds_base;
    char *imds_token; /* secret */
    char *role;
    int imds_v1_disabled;
    int imds_timeout_ms;   /* AWS_METADATA_SERVICE_TIMEOUT / metadata_service_timeout (s), default 1 */
    int imds_attempts;     /* AWS_METADATA_SERVICE_NUM_ATTEMPTS / metadata_service_num_attempts, default 1 */
    int imds_tries;        /* attempts made for the outstanding IMDS request */
    char imds_method[8];
    char *imds_path;
    looked where;
    int result_rc;
    char *result_msg;
    char *result_code;       /* the service's error code (STS), or NULL */
    int result_status;       /* its HTTP status */
    char *result_request_id;
    smneo_credentials *result;
    /* assume role: roles[0] is the profile asked for, roles[nroles - 1] the
     * deepest; they are assumed from the deepest up (role_next counts down). */
    struct role_step {
        char *profile, *role_arn, *external_id, *session_name, *mfa_serial;
        long duration;    /* 0: not set */
        char *token_file; /* web identity: AssumeRoleWithWebIdentity with this file's token */
        int from_env;     /* web identity configured by AWS_WEB_IDENTITY_TOKEN_FILE / AWS_ROLE_ARN */
        /* SSO: GetRoleCredentials with the cached token (refreshed through
         * SSO-OIDC CreateToken for an sso-session) */
        int sso;
        char *sso_session, *sso_start_url, *sso_region, *sso_account_id, *sso_role_name;
        char *sso_cache_path;
        cJSON *sso_token;  /* the cache file's token (secret: wiped) */
        int sso_phase;     /* 0: load the token; 1: CreateToken sent; 2: GetRoleCredentials to send/sent */
    } *roles;
    size_t nroles, role_next;
    char *credential_source; /* the deepest role's credential_source, or NULL */
    int for_role;            /* container / IMDS are fetching a role's source credentials */
    smneo_credentials *source; /* the credentials the next AssumeRole is signed with */
    char *sts_url;
    /* The outstanding STS/SSO/OIDC request, kept to be sent again on a
     * retryable failure (the same parameters: an MFA code is asked once). */
    const smneo_operation *pend_op;
    char *pend_json;          /* its parameters (may hold secrets: wiped) */
    char *pend_region;        /* the signing region */
    int pend_signed;          /* 1: signed with r->source (AssumeRole) */
    int pend_sts;             /* 1: an STS request (IDPCommunicationError is retried) */
    int attempt;              /* attempts made of it */
    long delay_ms;            /* wait before sending the request handed out (a retry) */
    uint64_t rng;             /* jitter */
    smneo__retry_policy retry;
    int retry_ok;             /* retry resolved */
};

/* Keys and tokens end up in headers (X-Amz-Security-Token, the IMDS token):
 * a control character (CR/LF above all) from a hostile or broken source
 * would split the header. Returns the name of the first bad field, or NULL. */
const char *smneo__cred_control_char_field(const char *ak, const char *sk, const char *token);
int smneo__cred_make_creds(smneo_credentials **out, const char *ak, const char *sk, const char *token, int64_t expiration,
                      const char *source);
/* ISO 8601 / RFC 3339: YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM|+HHMM).
 * A missing zone means UTC. Returns 0 and epoch seconds, or -1. */
int smneo__cred_parse_iso8601(const char *s, int64_t *out);
const char *smneo__cred_json_string(const cJSON *obj, const char *name);
/* Deletes a cJSON tree after wiping its strings (they hold secrets). */
void smneo__cred_json_wipe_delete(cJSON *j);
/* An answer (container, IMDS, smneo__cred_credential_process) as one JSON value, as
 * botocore's json.loads reads it: only whitespace may follow it. A refused
 * tree is wiped before it is freed. */
cJSON *smneo__cred_parse_answer(const char *text, size_t len);
int smneo__cred_credential_process(smneo_credentials **out, const char *profile, const char *command, int64_t now,
                              smneo_error *err);
void smneo__cred_clear_response(smneo_chain_resolution *r);
void smneo__cred_clear_pending(smneo_chain_resolution *r);
/* Ends the resolution with credentials (rc 0, takes creds) or an error. */
int smneo__cred_finish(smneo_chain_resolution *r, int rc, smneo_credentials *creds, const char *msg);
int smneo__cred_finish_fmt(smneo_chain_resolution *r, int code, const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 3, 4)))
#endif
    ;
int smneo__cred_container_request(smneo_chain_resolution *r, smneo_request **req_out, smneo_error *err);
/* Parses {AccessKeyId, SecretAccessKey, Token, Expiration} (container and
 * IMDS). Returns 0 with *out, or -1 with what was wrong in *why. */
int smneo__cred_parse_http_creds(smneo_credentials **out, const char *body, size_t len, const char *source, int64_t now,
                            const char **why);
int smneo__cred_imds_setup(smneo_chain_resolution *r, smneo_error *err);
/* The token goes back in a header: printable ASCII only (trailing
 * whitespace is trimmed). Anything else is treated as no token. */
int smneo__cred_imds_token_usable(const char *body, size_t len);
int smneo__cred_imds_request(smneo_chain_resolution *r, smneo_request **req_out, const char *method, const char *path);
/* An IMDS answer that botocore's fetcher tries again (a transport error or
 * HTTP 5xx) while attempts remain: resend the same request. 1 with it. */
int smneo__cred_imds_resend(smneo_chain_resolution *r, smneo_request **req_out);
const char *smneo__cred_transport_name(int code);
/* STS's region: the chain's (the client's), else the usual lookup, else
 * the global endpoint (botocore's STS client without a region). */
char *smneo__cred_sts_region(smneo_chain_resolution *r);
int smneo__cred_add_string(cJSON *o, const char *name, const char *value);
/* Who configured a step, for messages: "profile 'x'", or the environment. */
void smneo__cred_step_who(const struct role_step *st, char *buf, size_t size);
/* Reads the web identity token file, again at every refresh (it rotates).
 * The content is sent as is, as botocore reads it. */
int smneo__cred_read_token_file(char **out, const struct role_step *st, smneo_error *err);
/* Builds the outstanding request (again, for a retry: signed anew). */
int smneo__cred_pending_build(smneo_chain_resolution *r, smneo_request **req_out, smneo_error *e);
/* Temporary credentials from an STS or SSO answer: names[] are the
 * wrapper, key id, secret, token and expiration members; the expiration is
 * divided by exp_unit. NULL with *out, or what was wrong. */
const char *smneo__cred_answer_creds(smneo_credentials **out, const cJSON *root, const char *const names[5],
                                double exp_unit, const char *source);
/* The fed answer as a response for the protocol parser (status, the
 * headers it reads, body). */
int smneo__cred_fed_response(smneo_chain_resolution *r, smneo_response **out);
/* The next SSO request: CreateToken when the sso-session token needs and
 * allows a refresh, else GetRoleCredentials. */
int smneo__cred_sso_request(smneo_chain_resolution *r, smneo_request **req_out, smneo_error *err);
int smneo__cred_write_file_atomic(const char *path, const char *text);
/* Reads an SSO answer. Returns 0 with *out (GetRoleCredentials), 2 when the
 * CreateToken answer was taken (GetRoleCredentials is next), or -1 having
 * finished the resolution with the error. */
int smneo__cred_sso_answer(smneo_chain_resolution *r, smneo_credentials **out);
/* After an STS, SSO or OIDC answer: 1 when it failed in a way botocore's
 * client for that service retries (its retry mode and attempts: connection
 * errors, throttling, 5xx; STS's IDPCommunicationError as _retry.json and
 * retries/special.py add it) and attempts are left. Then the answer is
 * dropped and r->delay_ms holds the backoff before the resend. */
int smneo__cred_retry_due(smneo_chain_resolution *r);
/* roles[role_next] gave c: the next role is signed with it (ST_ASSUME),
 * or the resolution is finished with it (returns 1). */
int smneo__cred_role_assumed(smneo_chain_resolution *r, smneo_credentials *c);

#endif
