/* smneo/client.h: the client, calls as steps, paginators and the waiter.
 *
 * A call is a small state machine. smneo_call_next says what to do next:
 *   SMNEO_STEP_SEND   send step.request (borrowed until the next feed) and
 *                     hand the answer back with smneo_call_feed;
 *   SMNEO_STEP_SLEEP  sleep step.sleep_ms (never more than 200 ms at once, so
 *                     a binding can deliver Ctrl-C between sleeps);
 *   SMNEO_STEP_EVENT  something for the caller: a paginator item or page, or
 *                     a waiter status change (step.event says which);
 *   SMNEO_STEP_WORK   CPU-bound or blocking work of the machine (pack, digest,
 *                     extract, layout checks, a transfer): run it with
 *                     smneo_call_work where it fits (inline, an executor, a
 *                     worker thread), then ask for the next step;
 *   SMNEO_STEP_DONE   finished: smneo_call_result gives the result or error.
 * Retries (with the client-wide retry quota), pagination, waiting and
 * credential fetching (container / IMDS requests are SEND steps too) all
 * live in the machine, so every driver - libcurl here, cosockets in
 * OpenResty, a test double - shares one implementation.
 *
 * Ownership: smneo_client_new/_free; smneo_call_*_new/_free. Results and
 * values handed out by a call are borrowed and live until the next step (or
 * until smneo_call_free), except smneo_call_result's *out, which the caller
 * owns. A client may be used from several threads at once; a call belongs to
 * one thread at a time. */
#ifndef SMNEO_CLIENT_H
#define SMNEO_CLIENT_H

#include "protocol.h"
#include "transport.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct smneo_client smneo_client;

typedef struct smneo_client_options {
    int version;                   /* SMNEO_CLIENT_OPTIONS_VERSION */
    const char *region;            /* NULL: AWS_REGION, AWS_DEFAULT_REGION, profile */
    const char *endpoint_url;      /* NULL: resolved (see smneo_endpoint_resolve) */
    const char *profile;           /* NULL: AWS_DEFAULT_PROFILE, AWS_PROFILE, then "default" */
    const char *access_key_id;     /* explicit credentials (both or neither) */
    const char *secret_access_key;
    const char *session_token;
    int max_attempts;              /* total attempts; 0: AWS_MAX_ATTEMPTS, profile max_attempts, then 3
                                      (5 in legacy mode) */
    const char *retry_mode;        /* "standard", "legacy" or "adaptive"; NULL: AWS_RETRY_MODE, profile
                                      retry_mode, "standard" under a defaults mode other than legacy,
                                      then the retry_defaults' mode */
    long connect_timeout_ms;       /* 0: the defaults mode's (3100 in standard...), else 60000 */
    long read_timeout_ms;          /* 0: 60000 */
    int no_verify_tls;             /* 1: do not verify the peer and host (0: verify) */
    const char *ca_bundle;         /* NULL: AWS_CA_BUNDLE / profile ca_bundle / system */
    int validation;                /* smneo_validation_mode (0: STRICT) */
    int allow_unknown_enum_values;
    smneo_transport *transport;    /* NULL: libcurl. Borrowed: must outlive the client */
    int use_fips;                  /* 0: env/config; 1: on; -1: off */
    int use_dualstack;             /* 0: env/config; 1: on; -1: off */
    const char *s3_endpoint_url;   /* NULL: AWS_ENDPOINT_URL_S3, endpoint_url, AWS */
    int no_transport;              /* 1: create no libcurl transport (step-driven use only) */
    double retry_backoff_scale;    /* multiplies retry delays (0: 1.0); tests use small values */
    /* version 2 */
    int retry_defaults;            /* SMNEO_RETRY_DEFAULTS_*: the mode when nothing sets one */
    const char *defaults_mode;     /* NULL: AWS_DEFAULTS_MODE, profile defaults_mode, "legacy"; or
                                      standard, in-region, cross-region, mobile, auto (botocore's) */
    const char *user_agent;        /* NULL: "smneo/<version>"; set: replaces the whole User-Agent */
    const char *user_agent_extra;  /* appended to the User-Agent */
    const char *user_agent_appid;  /* NULL: AWS_SDK_UA_APP_ID, profile sdk_ua_app_id; adds "app/<id>" */
    const smneo_curl_options *transport_options; /* NULL: defaults; proxies, client certificate, pool
                                      size, keep-alive for the libcurl transport (its timeouts, verify_tls
                                      and ca_bundle come from the fields above) */
    int ignore_configured_endpoint_urls; /* 0: AWS_IGNORE_CONFIGURED_ENDPOINT_URLS / profile; 1: yes; -1: no */
    int use_http;                  /* 1: http:// for resolved endpoints (boto3's use_ssl=False) */
    const char *s3_addressing_style; /* S3 transfers: "auto", "virtual" or "path"; NULL: the profile's
                                      s3 addressing_style, then "auto" (virtual-hosted on AWS for a
                                      DNS-compatible bucket without dots, else path) */
    /* version 3 */
    smneo_mfa_cb mfa_cb;           /* MFA codes for assume-role profiles (smneo/auth.h) */
    void *payload;
} smneo_client_options;

/* Which retry mode a client takes when no option, environment variable or
 * profile key sets one. */
typedef enum {
    SMNEO_RETRY_DEFAULTS_SMNEO = 0,   /* "standard" (3 attempts): C, Lua, the CLI */
    SMNEO_RETRY_DEFAULTS_BOTOCORE = 1 /* as botocore 1.43: "legacy" (5 attempts), or "standard" when
                                         AWS_NEW_RETRIES_2026=true: the Python binding */
} smneo_retry_defaults;

#define SMNEO_CLIENT_OPTIONS_VERSION 3
#define SMNEO_CLIENT_OPTIONS_INIT {.version = SMNEO_CLIENT_OPTIONS_VERSION}
/* Zeroes *opts (the size of that version) and sets its version; SMNEO_EINVAL for a version
 * outside 1 to SMNEO_CLIENT_OPTIONS_VERSION. For programs that cannot use the macro (FFI). */
SMNEO_EXTERN(int) smneo_client_options_init(smneo_client_options *opts, int version);

SMNEO_EXTERN(int) smneo_client_new(smneo_client **out, const smneo_client_options *opts, smneo_error *err);
SMNEO_EXTERN(void) smneo_client_free(smneo_client *c);
SMNEO_EXTERN(const char *) smneo_client_region(const smneo_client *c);
SMNEO_EXTERN(const char *) smneo_client_endpoint(const smneo_client *c);
SMNEO_EXTERN(int) smneo_client_max_attempts(const smneo_client *c);
/* The client's transport (borrowed; NULL with no_transport). */
SMNEO_EXTERN(smneo_transport *) smneo_client_transport(const smneo_client *c);
SMNEO_EXTERN(const char *) smneo_client_retry_mode(const smneo_client *c);
/* The client's credential chain (borrowed; lives as long as the client): for
 * smneo_credential_chain_get, _set_role_cache and _profile. */
SMNEO_EXTERN(smneo_credential_chain *) smneo_client_credential_chain(const smneo_client *c);
/* The resolved defaults mode: "legacy", "standard", "in-region", ... */
SMNEO_EXTERN(const char *) smneo_client_defaults_mode(const smneo_client *c);
/* 1 when botocore would set ResponseMetadata.MaxAttemptsReached for a call
 * that made `attempts` attempts and ended with err (NULL or code 0 for a
 * success): in standard and adaptive modes whenever attempts reached
 * max_attempts; in legacy mode only for a retryable error. With c NULL, for
 * a response parsed alone (smneo_protocol_parse: one attempt, no retry, as
 * boto3 with total_max_attempts=1): 1 for a retryable error. The bindings
 * ask this function; none decides MaxAttemptsReached itself. */
SMNEO_EXTERN(int) smneo_client_max_attempts_reached(const smneo_client *c, int attempts, const smneo_error *err);

/* Builds a signed request with the client's credentials, region, endpoint and
 * validation mode (resolving credentials may block on container/IMDS). */
SMNEO_EXTERN(int) smneo_client_build_request(smneo_request **out, smneo_client *c, const char *operation,
                                             const char *params_json, size_t len, int64_t timestamp,
                                             smneo_error *err);

/* ---- Request hook ----------------------------------------------------------- */
/* Called once for every operation request a call, a paginator page, a waiter
 * poll or compile() is about to make, before credentials are resolved and the
 * request is built, signed and sent: with the operation and its parameters
 * (borrowed, valid during the call; the input shape's value, already
 * validated). Return 0 to let the request go on; or 0 with *out set to an
 * answer (the hook gives up ownership): the call takes it as the final answer
 * of that request and parses it as the service's, but it is never signed,
 * sent or retried (botocore's before-call short-circuit, which its Stubber
 * uses; no credentials are needed). A non-zero return cancels the call
 * (SMNEO_ECANCELLED). Runs on the thread that drives the call, inside
 * smneo_call_next. A test double that answers whole operations (the
 * bindings' stubbers) belongs here; one that answers HTTP requests is a
 * transport. */
typedef int (*smneo_request_hook_cb)(smneo_response **out, const smneo_operation *operation,
                                     const smneo_value *params, void *payload);
/* Sets (or with cb NULL removes) the client's request hook. Requests that
 * start after it is set see it; payload is borrowed. */
SMNEO_EXTERN(void) smneo_client_set_request_hook(smneo_client *c, smneo_request_hook_cb cb, void *payload);

/* ---- Parameters hook --------------------------------------------------------- */
/* Called just before the request hook, for the same requests, with the same
 * operation and parameters: botocore's provide-client-params and
 * before-parameter-build, whose handlers may change the parameters. Leave
 * *out NULL to keep them, or set it to the replacement parameters as a JSON
 * object (NUL-terminated, allocated with malloc: the core frees it). The
 * replacement is validated as the call's parameters were (an invalid one
 * ends the call with SMNEO_EVALIDATION) and is the request's from then on
 * (its retries; a paginator's later pages and a waiter's later polls start
 * from it). A non-zero return cancels the call (SMNEO_ECANCELLED). */
typedef int (*smneo_params_hook_cb)(char **out, const smneo_operation *operation, const smneo_value *params,
                                    void *payload);
/* Sets (or with cb NULL removes) the client's parameters hook. Requests that
 * start after it is set see it; payload is borrowed. */
SMNEO_EXTERN(void) smneo_client_set_params_hook(smneo_client *c, smneo_params_hook_cb cb, void *payload);

/* ---- Response hook ---------------------------------------------------------- */
/* Called after each attempt the client sent for an operation request (a
 * call, a paginator page, a waiter poll, compile()'s calls; not a request
 * hook's answer, credential requests or the ResourceInUse check), once the
 * response is parsed and the core decided whether to retry: with the
 * operation, the attempt's number (1 = the first), result (the parsed
 * success, borrowed; NULL for an error) or err (the error, borrowed: its
 * response is the HTTP response, NULL after a transport error; NULL for a
 * success), and *out holding the core's decision: the delay in seconds
 * before the next attempt, or -1 for none (a success, or an error not
 * retried). The hook may change *out: a delay >= 0 makes another attempt
 * after it (even after a success or past max_attempts; such a retry takes no
 * retry quota), -1 ends the request with this attempt's answer. This is
 * botocore's response-received and needs-retry in one. A non-zero return
 * cancels the call (SMNEO_ECANCELLED). Runs on the thread that feeds the
 * response (inside smneo_call_feed). */
typedef int (*smneo_response_hook_cb)(double *out, const smneo_operation *operation, int attempt,
                                      const smneo_result *result, const smneo_error *err, void *payload);
/* Sets (or with cb NULL removes) the client's response hook. Requests that
 * start after it is set see it; payload is borrowed. */
SMNEO_EXTERN(void) smneo_client_set_response_hook(smneo_client *c, smneo_response_hook_cb cb, void *payload);

/* ---- Steps ------------------------------------------------------------------ */
typedef enum {
    SMNEO_STEP_SEND = 1,
    SMNEO_STEP_SLEEP = 2,
    SMNEO_STEP_EVENT = 3,
    SMNEO_STEP_DONE = 4,
    SMNEO_STEP_WORK = 5,  /* the compile machine (compile.h): run smneo_call_work; an S3
                           * transfer with work steps (s3.h): smneo_s3_transfer_work */
    SMNEO_STEP_WAIT = 6,  /* S3 transfers only (s3.h): nothing to do until a
                           * SEND in flight is answered; a call never gives it */
    SMNEO_STEP_TRANSFER = 7 /* the compile machine with transfer steps on
                           * (compile.h, smneo_call_set_transfer_steps): drive
                           * smneo_call_transfer(call) to DONE, then step again */
} smneo_step_kind;

typedef enum {
    SMNEO_EVENT_ITEM = 1,    /* paginator item: smneo_call_item */
    SMNEO_EVENT_PAGE = 2,    /* paginator page: smneo_call_page */
    SMNEO_EVENT_STATUS = 3,  /* waiter status change: smneo_call_page is the description */
    SMNEO_EVENT_LOG = 4,     /* job log reader (joblogs.h): smneo_joblogs_event */
    SMNEO_EVENT_WARNING = 5, /* job log reader: smneo_joblogs_warning */
    SMNEO_EVENT_COMPILE = 6  /* compile machine (compile.h): smneo_call_compile_event */
} smneo_event_kind;

typedef struct smneo_step {
    smneo_step_kind kind;
    const smneo_request *request; /* SEND */
    long sleep_ms;                /* SLEEP */
    smneo_event_kind event;       /* EVENT */
    long timeout_ms;              /* SEND: give up after this long (0: the
                                     transport's own timeouts); set for
                                     credential requests (IMDS, container) */
} smneo_step;

typedef struct smneo_call smneo_call;

/* One operation call (with retries). A create (CreateCompilationJob) whose
 * request went out more than once and then meets ResourceInUse takes one
 * more SEND, a describe: when the existing resource has every setting the
 * request gave, the call succeeds with a result made of the description
 * (the job's ARN); otherwise the ResourceInUse stands. */
SMNEO_EXTERN(int) smneo_call_new(smneo_call **out, smneo_client *c, const char *operation,
                                 const char *params_json, size_t len, smneo_error *err);

typedef struct smneo_paginate_options {
    int version;               /* SMNEO_PAGINATE_OPTIONS_VERSION */
    int64_t max_items;         /* 0: all */
    int page_size;             /* 0: service default (sets MaxResults) */
    const char *starting_token;/* resume token from a previous truncated run */
    int pages;                 /* 1: EVENT_PAGE per page; 0: EVENT_ITEM per item */
} smneo_paginate_options;

#define SMNEO_PAGINATE_OPTIONS_VERSION 1
#define SMNEO_PAGINATE_OPTIONS_INIT {.version = SMNEO_PAGINATE_OPTIONS_VERSION}
/* Zeroes *opts (the size of that version) and sets its version; SMNEO_EINVAL for a version
 * outside 1 to SMNEO_PAGINATE_OPTIONS_VERSION. For programs that cannot use the macro (FFI). */
SMNEO_EXTERN(int) smneo_paginate_options_init(smneo_paginate_options *opts, int version);

/* A paginated run over ListCompilationJobs / ListPipelineExecutionSteps.
 * Memory stays constant whatever the number of pages. A page whose next
 * token equals the token received before it (the one just sent) ends the run
 * with SMNEO_EPAGINATION after that page, as botocore's PaginationError. */
SMNEO_EXTERN(int) smneo_paginate_new(smneo_call **out, smneo_client *c, const char *operation,
                                     const char *params_json, size_t len, const smneo_paginate_options *opts,
                                     smneo_error *err);

typedef int (*smneo_status_cb)(const smneo_value *description, void *payload);

typedef struct smneo_wait_options {
    int version;               /* SMNEO_WAIT_OPTIONS_VERSION */
    double delay;              /* first delay in seconds (0: 5) */
    double max_delay;          /* cap in seconds (0: 60) */
    double timeout;            /* overall timeout in seconds (0: none) */
    smneo_status_cb callback;  /* blocking smneo_client_wait only: called on each
                                  status change; non-zero cancels */
    void *payload;
} smneo_wait_options;

#define SMNEO_WAIT_OPTIONS_VERSION 1
#define SMNEO_WAIT_OPTIONS_INIT {.version = SMNEO_WAIT_OPTIONS_VERSION}
/* Zeroes *opts (the size of that version) and sets its version; SMNEO_EINVAL for a version
 * outside 1 to SMNEO_WAIT_OPTIONS_VERSION. For programs that cannot use the macro (FFI). */
SMNEO_EXTERN(int) smneo_wait_options_init(smneo_wait_options *opts, int version);

/* Polls DescribeCompilationJob until COMPLETED (result: the description),
 * FAILED (SMNEO_EJOBFAILED, FailureReason in err->message), STOPPED
 * (SMNEO_EJOBSTOPPED), timeout (SMNEO_EWAITTIMEOUT) or cancel
 * (SMNEO_ECANCELLED). Emits EVENT_STATUS on every status change. */
SMNEO_EXTERN(int) smneo_wait_new(smneo_call **out, smneo_client *c, const char *job_name,
                                 const smneo_wait_options *opts, smneo_error *err);

SMNEO_EXTERN(void) smneo_call_free(smneo_call *call);
/* Never fails: errors surface as DONE. */
SMNEO_EXTERN(void) smneo_call_next(smneo_step *out, smneo_call *call);
/* Hands back the answer to the last SEND. Takes ownership of resp. When the
 * transport failed, pass resp == NULL with its error code and message. A
 * transport that sent the request more than once to get resp says so in
 * resp->sends: every copy counts as an attempt. */
SMNEO_EXTERN(void) smneo_call_feed(smneo_call *call, smneo_response *resp, int transport_error,
                                   const char *transport_message);
/* After DONE with an error: 1 when the last failed request was not retried
 * because the client's retry quota (standard and adaptive modes) had too
 * little left, although a retry was due (botocore's
 * ResponseMetadata.RetryQuotaReached); else 0. */
SMNEO_EXTERN(int) smneo_call_retry_quota_reached(const smneo_call *call);
/* After an EVENT: the current item / page / description (borrowed). */
SMNEO_EXTERN(int) smneo_call_item(smneo_value *out, const smneo_call *call);
SMNEO_EXTERN(const smneo_result *) smneo_call_page(const smneo_call *call);
/* Cancels: the next step is DONE with SMNEO_ECANCELLED. For a compile
 * machine (compile.h) the flow ends as its callback's cancel would end it
 * (the job is stopped unless keep_job_on_cancel); that one call may come from
 * another thread while a WORK step runs, and makes the work stop early. */
SMNEO_EXTERN(void) smneo_call_cancel(smneo_call *call);
/* After DONE: 0 and the result (caller-owned; NULL for a paginator), or the
 * error code with err filled. */
SMNEO_EXTERN(int) smneo_call_result(smneo_result **out, smneo_call *call, smneo_error *err);
/* Validation issues that did not stop the call (warnings; every issue in
 * validation "warn"), borrowed, NULL when none; for paginators, which have no
 * final result to carry them. Once smneo_call_result has handed a final
 * result over, they travel with it (smneo_result_issues) and this is NULL. */
SMNEO_EXTERN(const smneo_issues *) smneo_call_issues(const smneo_call *call);
/* Resume token after a paginator stopped at max_items (borrowed or NULL). */
SMNEO_EXTERN(const char *) smneo_call_resume_token(const smneo_call *call);

/* Performs one SEND step with the client's transport (credential requests
 * with a short-timeout one) and feeds the answer back: what smneo_call_run
 * does for SEND. Blocking; a binding releases its interpreter lock around
 * it. Does nothing for other steps. */
SMNEO_EXTERN(void) smneo_call_send(smneo_call *call, const smneo_step *step);

/* Runs the pending WORK step (the last step was SMNEO_STEP_WORK; otherwise
 * does nothing). Blocking, on any thread: the work never calls back into
 * the driver (what it has to say comes as EVENT steps after it) and never
 * touches the interpreter of a binding, which can release its lock around it.
 * While it runs, no other function may be called on the call except
 * smneo_call_cancel, which makes the work stop early. */
SMNEO_EXTERN(void) smneo_call_work(smneo_call *call);

/* Drives the machine with the client's transport (sleeping for SLEEP steps,
 * running WORK steps inline) until an EVENT or DONE, which it returns in *out
 * (or a TRANSFER step of a compile machine that opted in: compile.h). */
SMNEO_EXTERN(void) smneo_call_run(smneo_step *out, smneo_call *call);

/* ---- Blocking conveniences (drive the machines above with the transport) --- */
SMNEO_EXTERN(int) smneo_client_call(smneo_result **out, smneo_client *c, const char *operation,
                                    const char *params_json, size_t len, smneo_error *err);

typedef struct smneo_iter smneo_iter;
SMNEO_EXTERN(int) smneo_iter_new(smneo_iter **out, smneo_client *c, const char *operation,
                                 const char *params_json, size_t len, const smneo_paginate_options *opts,
                                 smneo_error *err);
/* 0 and the next item (borrowed until the next call), SMNEO_ITEROVER, or an error. */
SMNEO_EXTERN(int) smneo_iter_next(smneo_value *out, smneo_iter *it, smneo_error *err);
SMNEO_EXTERN(void) smneo_iter_free(smneo_iter *it);

SMNEO_EXTERN(int) smneo_client_wait(smneo_result **out, smneo_client *c, const char *job_name,
                                    const smneo_wait_options *opts, smneo_error *err);

#ifdef __cplusplus
}
#endif
#endif
