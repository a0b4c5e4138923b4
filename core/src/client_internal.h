/* Private client hooks for other core modules (S3 transfers). Not installed. */
#ifndef SMNEO_CLIENT_INTERNAL_H
#define SMNEO_CLIENT_INTERNAL_H

#include <stdint.h>

#include <cjson/cJSON.h>

#include "smneo/auth.h"
#include "smneo/client.h"
#include <pthread.h>

#include "internal.h"
#include "ratelimit.h"
#include "transport_internal.h"

/* The resolved S3 endpoint URL, e.g. "https://s3.us-east-1.amazonaws.com" or
 * the local endpoint's URL (borrowed). */
const char *smneo__client_s3_endpoint(const smneo_client *c);
/* The resolved CloudWatch Logs endpoint URL (borrowed). */
const char *smneo__client_logs_endpoint(const smneo_client *c);
/* The resolved STS endpoint URL (borrowed), or NULL when STS has none for
 * the client's region and settings. */
const char *smneo__client_sts_endpoint(const smneo_client *c);
/* A single call (with retries) of an operation of any service the client
 * has an endpoint for (SageMaker, CloudWatch Logs, STS): smneo_call_new by
 * operation descriptor. */
int smneo__call_op_new(smneo_call **out, smneo_client *c, const smneo_operation *op, const char *params, size_t len,
                       smneo_error *err);
/* The client's transport (borrowed; NULL with no_transport). */
smneo_transport *smneo__client_transport(const smneo_client *c);
smneo_credential_chain *smneo__client_chain(const smneo_client *c);
/* Current credentials from the client's chain (caller-owned *out). */
int smneo__client_credentials(smneo_credentials **out, smneo_client *c, smneo_error *err);

/* The client's retry policy (mode, max_attempts, retry quota, backoff).
 * After a failed attempt number `attempt` (1-based) with code rc and details
 * e: returns 1 and the delay before the next attempt when it should be
 * retried (a retry cost is taken from the quota and remembered in
 * *quota_cost), else 0. rng: caller's jitter state (any seed). */
int smneo__retry_next(smneo_client *c, int rc, const smneo_error *e, int attempt, uint64_t *rng, int *quota_cost,
                      double *delay_s, int *quota_reached);
/* The same for S3 requests (s3 = 1: legacy mode also retries a 400
 * RequestTimeout or BadDigest, as botocore's _retry.json for s3).
 * *quota_reached (may be NULL) is 1 when a retry was due but the retry
 * quota had too little left (botocore's RetryQuotaReached), else 0. */
int smneo__retry_next_s3(smneo_client *c, int rc, const smneo_error *e, int attempt, uint64_t *rng, int *quota_cost,
                         double *delay_s, int s3, int *quota_reached);
/* Adaptive mode: seconds to wait for a send token (0: go), and the rate
 * update after each answer (rc 0 for a success). No-ops in other modes. */
double smneo__client_rate_acquire(smneo_client *c);
void smneo__client_rate_update(smneo_client *c, int rc, const smneo_error *e);
struct smneo_ratelimit;
struct smneo_ratelimit *smneo__client_ratelimit(smneo_client *c);
/* How S3 transfers address a bucket (resolved once per client). */
enum { SMNEO__S3_STYLE_AUTO = 0, SMNEO__S3_STYLE_VIRTUAL = 1, SMNEO__S3_STYLE_PATH = 2 };
int smneo__client_s3_style(const smneo_client *c);
/* The retry quota left (tests). */
int smneo__client_quota(smneo_client *c);
/* After a successful attempt: gives back the retry cost (or the refund). */
void smneo__retry_succeeded(smneo_client *c, int *quota_cost);

/* A create that meets its own resource (client_create.c). The describe
 * operation paired with a create ("CreateX" -> "DescribeX"), or NULL. */
const smneo_operation *smneo__create_describe_op(const smneo_operation *create);
/* The describe's parameters (its required members, from the create's);
 * SMNEO_EINVAL when the create's parameters lack one. */
int smneo__create_describe_params(cJSON **out, const smneo_operation *describe, const cJSON *params);
/* 1 when the description holds every value the create's parameters give
 * (members the describe output does not model, such as Tags, and members
 * left out are not compared; enum values case-insensitively) and the
 * members the create answers with; else 0. */
int smneo__create_is_ours(const smneo_operation *create, const cJSON *params, const cJSON *description);
/* The create's result made of the description (its output members), with
 * the description's response. */
int smneo__create_result(smneo_result **out, const smneo_operation *create, smneo_result *description);

enum { RETRY_STANDARD = SMNEO__RETRY_STANDARD, RETRY_LEGACY = SMNEO__RETRY_LEGACY, RETRY_ADAPTIVE = SMNEO__RETRY_ADAPTIVE };

/* The retry quota (botocore's retries/quota.py and standard.py): a retry
 * costs 5 (10 after a timeout); with AWS_NEW_RETRIES_2026=true a throttling
 * retry costs 5 and any other 14. A success gives the last cost back, or 1. */
enum { QUOTA_MAX = 500, QUOTA_COST = 5, QUOTA_COST_TIMEOUT = 10, QUOTA_COST_V2 = 14, QUOTA_COST_THROTTLE = 5,
       QUOTA_REFUND = 1 };

struct smneo_client {
    char *region;
    char *endpoint;
    char *s3_endpoint;
    char *logs_endpoint;
    char *sts_endpoint;  /* GetCallerIdentity (the default bucket's account) */
    char *profile;
    smneo_credential_chain *chain;
    smneo_transport *transport;
    int own_transport;
    smneo__timed_transports *timed; /* credential requests with their own timeouts */
    int max_attempts;
    int retry_mode;
    int new_retries;                 /* AWS_NEW_RETRIES_2026=true: botocore's 2026 costs and backoff */
    char defaults_mode[16];          /* resolved AWS_DEFAULTS_MODE ("auto" resolved too) */
    double backoff_scale;
    smneo__retry_policy cred_retry;  /* the chain's STS/SSO requests (environment and profile only) */
    int validation;
    int allow_unknown_enum_values;
    char *user_agent;                /* NULL: the protocol's default */
    int s3_style;                    /* S3_STYLE_* */
    pthread_mutex_t quota_lock;
    int quota;
    smneo_ratelimit limiter;         /* adaptive mode */
    smneo_request_hook_cb hook;      /* smneo_client_set_request_hook (under quota_lock) */
    void *hook_payload;
    smneo_response_hook_cb response_hook; /* smneo_client_set_response_hook (under quota_lock) */
    void *response_hook_payload;
    smneo_params_hook_cb params_hook; /* smneo_client_set_params_hook (under quota_lock) */
    void *params_hook_payload;
};

enum { KIND_CALL, KIND_PAGINATE, KIND_WAIT, KIND_MACHINE };

/* A machine of a higher layer behind a smneo_call (KIND_MACHINE: the compile
 * machine, compile.c): call.c dispatches to it through these, so the client
 * layer needs nothing of the layers above it. */
typedef struct smneo__call_ops {
    void (*next)(smneo_step *out, void *impl);
    void (*feed)(void *impl, smneo_response *resp, int transport_error, const char *message);
    void (*work)(void *impl);
    void (*cancel)(void *impl);
    void (*free)(void *impl);
} smneo__call_ops;

enum {
    ST_REQUEST,     /* build (after credentials) and send the current request */
    ST_AWAIT,       /* a SEND is outstanding */
    ST_SLEEP,       /* sleeping until wake_ms, then ST_REQUEST */
    ST_ITEMS,       /* paginator: hand out items / the page */
    ST_AFTER_EVENT, /* waiter: decide after a status event */
    ST_CHECK,       /* a create met ResourceInUse after a resend: describe the resource */
    ST_DONE
};

struct smneo_call {
    smneo_client *client;
    const smneo_operation *op;
    int kind;
    int state;
    int awaiting;
    int cancelled;
    cJSON *params;
    char *body;
    size_t body_len;
    smneo_request *req;
    smneo_chain_resolution *credres;
    smneo_credentials *creds;
    int attempt;       /* attempts made for the current logical request */
    int hooked;        /* the request hook saw the current logical request */
    smneo_response_hook_cb response_hook; /* the client's, taken with the request hook */
    void *response_hook_payload;
    int quota_reached; /* the last failure was not retried: the retry quota is exhausted */
    int quota_cost;    /* cost of the last acquired retry (0: none) */
    int64_t wake_ms;
    int cred_pending;  /* call->req is a credential request to send after the sleep */
    uint64_t rng;
    smneo_result *page;      /* last successful response */
    int rc;                  /* final code once ST_DONE */
    smneo_error err;         /* final error */
    smneo_result *final;     /* final result (KIND_CALL, KIND_WAIT) */
    smneo_issues *issues;    /* validation issues that did not stop the call */
    const smneo_operation *check_op; /* ST_CHECK: the describe of a create */
    /* paginator */
    smneo_paginate_options popts;
    int64_t emitted;
    const cJSON *item;
    const cJSON *next_item;
    int page_pending;        /* pages mode: a page to hand out */
    char *request_token;     /* NextToken used for the current page */
    int token_from_page;     /* request_token came from the previous page (not the caller) */
    char *resume_token;
    int64_t skip_first;      /* items to skip on the first page (resume) */
    int64_t page_skipped;    /* of the current page: items dropped for skip_first */
    /* waiter */
    double delay, max_delay, timeout;
    int64_t start_ms;
    int polls;
    char *last_status;
    /* KIND_MACHINE: everything else above is unused */
    const smneo__call_ops *ops;
    void *impl;
};

void smneo__client_build_options(smneo_build_options *bo, const smneo_client *c, const smneo_operation *op, int64_t ts);
int smneo__transport_code(int code);
void smneo__call_finish(smneo_call *call, int rc);
void smneo__call_finish_error(smneo_call *call, int code, const char *fmt, const char *arg);
int smneo__call_reserialize(smneo_call *call);
int smneo__call_alloc(smneo_call **out, smneo_client *c, const char *operation, const char *params, size_t len,
                      int kind, smneo_error *err);
/* Resume tokens use botocore's format: base64 of
 * {"NextToken": "...", "boto_truncate_amount": N} so they interoperate. */
char *smneo__paginate_encode_token(const char *next_token, int64_t truncate);
const cJSON *smneo__paginate_items(const smneo_call *call);
/* After a page arrives: prepare item iteration. */
void smneo__paginate_page(smneo_call *call);
/* The page is used up (or max_items reached): fetch the next or finish. */
void smneo__paginate_advance(smneo_call *call, int64_t consumed_in_page);
const char *smneo__wait_job_status(const smneo_result *r);
/* Decide what follows a description (after its status event, if any). */
void smneo__wait_decide(smneo_call *call);

#endif
