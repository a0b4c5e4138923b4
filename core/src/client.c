/* The client: configuration, and calls as state machines (single calls with
 * retries, paginators, the compilation-job waiter) plus blocking drivers. */
#include <ctype.h>
#include <math.h>
#include <stddef.h>
#include <strings.h>
#include <pthread.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>

#include "client_internal.h"
#include "config_internal.h"
#include "credentials_internal.h"
#include "internal.h"
#include "options_internal.h"
#include "protocol_internal.h"
#include "ratelimit.h"
#include "smneo/client.h"
#include "smneo/log.h"
#include "smneo/validate.h"
#include "value_internal.h"

enum { RETRY_STANDARD = SMNEO__RETRY_STANDARD, RETRY_LEGACY = SMNEO__RETRY_LEGACY, RETRY_ADAPTIVE = SMNEO__RETRY_ADAPTIVE };
/* The retry quota (botocore's retries/quota.py and standard.py): a retry
 * costs 5 (10 after a timeout); with AWS_NEW_RETRIES_2026=true a throttling
 * retry costs 5 and any other 14. A success gives the last cost back, or 1. */
enum { QUOTA_MAX = 500, QUOTA_COST = 5, QUOTA_COST_TIMEOUT = 10, QUOTA_COST_V2 = 14, QUOTA_COST_THROTTLE = 5,
       QUOTA_REFUND = 1 };
enum { MAX_SLEEP_STEP_MS = 200 };

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
};

/* ---- configuration ------------------------------------------------------ */

static char *profile_setting(const char *profile, const char *key)
{
    char *v = NULL;
    smneo_config_get(&v, profile, key, NULL);
    return v;
}

/* botocore's sdk-default-configuration.json: the modes and the connect
 * timeout each sets (legacy sets nothing). */
static const struct {
    const char *name;
    long connect_timeout_ms;
} DEFAULTS_MODES[] = {{"legacy", 0}, {"standard", 3100}, {"in-region", 1100}, {"cross-region", 3100},
                      {"mobile", 30000}, {"auto", 0}};

/* AWS_DEFAULTS_MODE as botocore resolves it: the option (Config's
 * defaults_mode), the environment, the profile, "legacy"; case-insensitive.
 * "auto" becomes in-region/cross-region when AWS_EXECUTION_ENV is set and
 * AWS_REGION (or AWS_DEFAULT_REGION) is, else "standard" (smneo does not ask
 * the instance metadata service for its region, as botocore does). */
static int resolve_defaults_mode(smneo_client *c, const smneo_client_options *o, long *connect_ms,
                                 smneo_error *err)
{
    char *cfg = NULL;
    const char *mode = o->defaults_mode ? o->defaults_mode : smneo__getenv("AWS_DEFAULTS_MODE");
    if (!mode)
        mode = cfg = profile_setting(c->profile, "defaults_mode");
    if (!mode)
        mode = "legacy";
    size_t i, n = sizeof DEFAULTS_MODES / sizeof DEFAULTS_MODES[0];
    for (i = 0; i < n; i++)
        if (!strcasecmp(mode, DEFAULTS_MODES[i].name))
            break;
    if (i == n) {
        smneo__error(err, SMNEO_EINVAL,
                     "defaults_mode \"%s\" is not valid (from %s): use legacy, standard, in-region, cross-region, "
                     "mobile or auto",
                     mode, cfg ? "the profile's defaults_mode" : o->defaults_mode ? "defaults_mode"
                                                                                                 : "AWS_DEFAULTS_MODE");
        free(cfg);
        return SMNEO_EINVAL;
    }
    free(cfg);
    const char *name = DEFAULTS_MODES[i].name;
    if (!strcmp(name, "auto")) {
        const char *here = NULL;
        if (smneo__getenv("AWS_EXECUTION_ENV")) {
            here = smneo__getenv("AWS_REGION");
            if (!here)
                here = smneo__getenv("AWS_DEFAULT_REGION");
        }
        name = !here ? "standard" : c->region && !strcmp(here, c->region) ? "in-region" : "cross-region";
        for (i = 0; i < n && strcmp(DEFAULTS_MODES[i].name, name); i++)
            ;
    }
    snprintf(c->defaults_mode, sizeof c->defaults_mode, "%s", name);
    *connect_ms = DEFAULTS_MODES[i].connect_timeout_ms;
    return 0;
}

/* User-Agent as botocore builds it (useragent.py): a user_agent replaces the
 * whole string (then only user_agent_extra follows); otherwise
 * "smneo/<version>", then "app/<id>" (user_agent_appid, AWS_SDK_UA_APP_ID or
 * the profile's sdk_ua_app_id, with characters outside botocore's set made
 * "-"), then user_agent_extra verbatim. */
static int make_user_agent(smneo_client *c, const smneo_client_options *o, smneo_error *err)
{
    const char *ua = o->user_agent;
    const char *extra = o->user_agent_extra;
    const char *appid = o->user_agent_appid;
    char *cfg = NULL;
    if (!ua && !appid && !(appid = smneo__getenv("AWS_SDK_UA_APP_ID")))
        appid = cfg = profile_setting(c->profile, "sdk_ua_app_id");
    if (!ua && !appid && !extra)
        return 0;
    char base[64];
    snprintf(base, sizeof base, "smneo/%s", smneo_version());
    size_t n = strlen(ua ? ua : base) + (appid ? strlen(appid) + 5 : 0) + (extra ? strlen(extra) + 1 : 0) + 1;
    char *s = malloc(n);
    if (!s) {
        free(cfg);
        return smneo__error(err, SMNEO_ENOMEM, "out of memory");
    }
    strcpy(s, ua ? ua : base);
    if (!ua && appid) {
        char *p = s + strlen(s);
        memcpy(p, " app/", 5);
        p += 5;
        for (const char *q = appid; *q; q++)
            *p++ = (isalnum((unsigned char)*q) && (unsigned char)*q < 0x80) || strchr("!$%&'*+-.^_`|~,#", *q) ? *q : '-';
        *p = 0;
    }
    if (extra) {
        strcat(s, " ");
        strcat(s, extra);
    }
    free(cfg);
    c->user_agent = s;
    return 0;
}

/* S3 addressing as botocore's Config(s3={"addressing_style": ..}) and the
 * profile's "s3 =\n  addressing_style = ..." nested key. */
static int resolve_s3_style(smneo_client *c, const smneo_client_options *o, smneo_error *err)
{
    char *cfg = NULL;
    const char *v = o->s3_addressing_style;
    if (!v)
        v = cfg = profile_setting(c->profile, "s3.addressing_style");
    int rc = 0;
    if (!v || !strcmp(v, "auto"))
        c->s3_style = SMNEO__S3_STYLE_AUTO;
    else if (!strcmp(v, "virtual"))
        c->s3_style = SMNEO__S3_STYLE_VIRTUAL;
    else if (!strcmp(v, "path"))
        c->s3_style = SMNEO__S3_STYLE_PATH;
    else
        rc = smneo__error(err, SMNEO_EINVAL, "s3 addressing_style \"%s\" (from %s) is not valid: use auto, virtual "
                          "or path", v, cfg ? "the profile" : "s3_addressing_style");
    free(cfg);
    return rc;
}

int smneo__client_s3_style(const smneo_client *c) { return c ? c->s3_style : SMNEO__S3_STYLE_AUTO; }

static int retry_mode_of(const char *mode)
{
    return !strcmp(mode, "standard") ? RETRY_STANDARD
           : !strcmp(mode, "legacy") ? RETRY_LEGACY
           : !strcmp(mode, "adaptive") ? RETRY_ADAPTIVE
                                       : -1;
}

/* Mode and attempts as botocore 1.43 resolves them (configprovider.py,
 * args.py): the option, AWS_RETRY_MODE, the profile's retry_mode, "standard"
 * under a defaults mode other than legacy, then the binding's default
 * (botocore_defaults: legacy, or standard with AWS_NEW_RETRIES_2026=true;
 * otherwise standard). Attempts: the option (total attempts),
 * AWS_MAX_ATTEMPTS, the profile's max_attempts, then 5 in legacy mode and 3
 * in the others. The credential chain resolves its STS/SSO requests' policy
 * here too, without the client's options (botocore's nested clients read the
 * session's configuration only). */
int smneo__retry_resolve(smneo__retry_policy *p, const char *mode_opt, int attempts_opt, int botocore_defaults,
                         int defaults_mode_legacy, const char *profile, smneo_error *err)
{
    const char *nr = smneo__getenv("AWS_NEW_RETRIES_2026");
    p->new_retries = nr && !strcasecmp(nr, "true");
    if (!(p->backoff_scale > 0))
        p->backoff_scale = 1.0;
    char *cfg = NULL;
    const char *src = "retry_mode";
    const char *mode = mode_opt;
    if (!mode && (mode = smneo__getenv("AWS_RETRY_MODE")) != NULL)
        src = "AWS_RETRY_MODE";
    if (!mode && (mode = cfg = profile_setting(profile, "retry_mode")) != NULL)
        src = "the profile's retry_mode";
    if (!mode && !defaults_mode_legacy)
        mode = "standard";
    if (!mode)
        mode = botocore_defaults && !p->new_retries ? "legacy" : "standard";
    p->mode = retry_mode_of(mode);
    if (p->mode < 0) {
        smneo__error(err, SMNEO_EINVAL, "%s \"%s\" is not valid: use \"standard\", \"legacy\" or \"adaptive\"", src,
                     mode);
        free(cfg);
        return SMNEO_EINVAL;
    }
    free(cfg);
    cfg = NULL;
    int n = attempts_opt;
    src = "max_attempts";
    if (n == 0) {
        const char *env = smneo__getenv("AWS_MAX_ATTEMPTS");
        src = "AWS_MAX_ATTEMPTS";
        if (!env) {
            env = cfg = profile_setting(profile, "max_attempts");
            src = "the profile's max_attempts";
        }
        if (env) {
            char *end;
            long v = strtol(env, &end, 10);
            while (*end == ' ' || *end == '\t' || *end == '\n')
                end++;
            if (end == env || *end || v < 1 || v > 100) {
                smneo__error(err, SMNEO_EINVAL, "%s=\"%s\" is not valid: use a whole number from 1 to 100", src,
                             env);
                free(cfg);
                return SMNEO_EINVAL;
            }
            n = (int)v; /* botocore refuses 0 there too (InvalidMaxRetryAttemptsError) */
        }
        free(cfg);
    }
    if (n < 0 || n > 100)
        return smneo__error(err, SMNEO_EINVAL, "max_attempts=%d is not valid: use 1 to 100", n);
    p->max_attempts = n ? n : (p->mode == SMNEO__RETRY_LEGACY ? 5 : 3);
    return 0;
}

static int resolve_retry(smneo_client *c, const smneo_client_options *o, smneo_error *err)
{
    smneo__retry_policy p = {0};
    int botocore_defaults = o->retry_defaults == SMNEO_RETRY_DEFAULTS_BOTOCORE;
    int legacy_defaults = !strcmp(c->defaults_mode, "legacy");
    int rc = smneo__retry_resolve(&p, o->retry_mode, o->max_attempts, botocore_defaults, legacy_defaults, c->profile,
                                  err);
    if (rc)
        return rc;
    c->retry_mode = p.mode;
    c->max_attempts = p.max_attempts;
    c->new_retries = p.new_retries;
    /* The chain's STS/SSO requests: the same without the client's options. */
    c->cred_retry.backoff_scale = o->retry_backoff_scale;
    return smneo__retry_resolve(&c->cred_retry, NULL, 0, botocore_defaults, legacy_defaults, c->profile, err);
}

int smneo_client_new(smneo_client **out, const smneo_client_options *o, smneo_error *err)
{
    if (!out)
        return smneo__error(err, SMNEO_EINVAL, "out is NULL");
    *out = NULL;
    smneo_client_options full;
    int orc = smneo__options_copy(&full, o, &smneo__client_options_layout, err);
    if (orc)
        return orc;
    o = &full;
    if (o->retry_defaults != SMNEO_RETRY_DEFAULTS_SMNEO &&
        o->retry_defaults != SMNEO_RETRY_DEFAULTS_BOTOCORE)
        return smneo__error(err, SMNEO_EINVAL, "retry_defaults must be SMNEO_RETRY_DEFAULTS_SMNEO or "
                            "SMNEO_RETRY_DEFAULTS_BOTOCORE");
    if (o->validation < SMNEO_VALIDATION_STRICT || o->validation > SMNEO_VALIDATION_OFF)
        return smneo__error(err, SMNEO_EINVAL, "validation must be off, warn or strict");
    smneo_client *c = calloc(1, sizeof *c);
    if (!c)
        return smneo__error(err, SMNEO_ENOMEM, "out of memory");
    pthread_mutex_init(&c->quota_lock, NULL);
    smneo__ratelimit_init(&c->limiter, smneo__monotonic_ms() / 1000.0);
    c->quota = QUOTA_MAX;
    long defaults_connect_ms = 0;
    c->validation = o->validation;
    c->allow_unknown_enum_values = o->allow_unknown_enum_values;
    c->backoff_scale = o->retry_backoff_scale > 0 ? o->retry_backoff_scale : 1.0;
    int rc = 0;
    if (o->profile && !(c->profile = smneo__strdup(o->profile)))
        rc = smneo__error(err, SMNEO_ENOMEM, "out of memory");
    if (!rc)
        rc = smneo_region_resolve(&c->region, o->region, c->profile, err);
    if (!rc)
        rc = resolve_defaults_mode(c, o, &defaults_connect_ms, err);
    if (!rc)
        rc = resolve_retry(c, o, err);
    if (!rc)
        rc = make_user_agent(c, o, err);
    if (!rc)
        rc = resolve_s3_style(c, o, err);
    if (!rc) {
        smneo_endpoint_options eo = SMNEO_ENDPOINT_OPTIONS_INIT;
        eo.region = c->region;
        eo.endpoint_url = o->endpoint_url;
        eo.use_fips = o->use_fips;
        eo.use_dualstack = o->use_dualstack;
        eo.profile = c->profile;
        eo.ignore_configured = o->ignore_configured_endpoint_urls;
        eo.use_http = o->use_http;
        rc = smneo_endpoint_resolve(&c->endpoint, &eo, err);
        if (!rc) {
            eo.service = "s3";
            eo.endpoint_url = o->s3_endpoint_url;
            /* The local endpoint serves S3 too: follow an explicit URL. */
            if (!eo.endpoint_url && o->endpoint_url && !smneo__getenv("AWS_ENDPOINT_URL_S3"))
                eo.endpoint_url = o->endpoint_url;
            rc = smneo_endpoint_resolve(&c->s3_endpoint, &eo, err);
        }
        if (!rc) {
            eo.service = "logs";
            eo.endpoint_url = NULL;
            /* The local endpoint serves CloudWatch Logs too: follow an explicit URL. */
            if (o->endpoint_url && !smneo__getenv("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS"))
                eo.endpoint_url = o->endpoint_url;
            rc = smneo_endpoint_resolve(&c->logs_endpoint, &eo, err);
        }
        if (!rc) {
            /* Only the default bucket needs it: a region STS cannot serve with
             * these settings is that feature's error (NULL here), not the client's. */
            eo.service = "sts";
            eo.endpoint_url = NULL;
            /* The local endpoint serves STS too: follow an explicit URL. */
            if (o->endpoint_url && !smneo__getenv("AWS_ENDPOINT_URL_STS"))
                eo.endpoint_url = o->endpoint_url;
            smneo_error sts_err = SMNEO_ERROR_INIT;
            if (smneo_endpoint_resolve(&c->sts_endpoint, &eo, &sts_err) != 0)
                c->sts_endpoint = NULL;
            smneo_error_clear(&sts_err);
        }
    }
    if (!rc) {
        smneo_chain_options co = SMNEO_CHAIN_OPTIONS_INIT;
        co.profile = c->profile;
        co.access_key_id = o->access_key_id;
        co.secret_access_key = o->secret_access_key;
        co.session_token = o->session_token;
        co.region = c->region; /* STS in the client's region, as botocore */
        co.mfa_cb = o->mfa_cb;
        co.payload = o->payload;
        rc = smneo_credential_chain_new(&c->chain, &co, err);
        if (!rc)
            smneo__chain_set_retry(c->chain, &c->cred_retry);
    }
    if (!rc) {
        if (o->transport) {
            c->transport = o->transport;
        } else if (!o->no_transport) {
            smneo_curl_options to;
            rc = smneo__options_copy(&to, o->transport_options, &smneo__curl_options_layout, err);
            if (rc)
                goto done;
            to.connect_timeout_ms = o->connect_timeout_ms ? o->connect_timeout_ms : defaults_connect_ms;
            to.read_timeout_ms = o->read_timeout_ms;
            to.no_verify_tls = o->no_verify_tls;
            char *ca = o->ca_bundle || smneo__getenv("AWS_CA_BUNDLE") ? NULL : profile_setting(c->profile, "ca_bundle");
            to.ca_bundle = o->ca_bundle ? o->ca_bundle : ca;
            rc = smneo_curl_transport_new(&c->transport, &to, err);
            free(ca);
            c->own_transport = rc == 0;
            if (!rc && smneo__timed_transports_new(&c->timed))
                rc = smneo__error(err, SMNEO_ENOMEM, "out of memory");
        }
    }
done:
    if (rc) {
        smneo_client_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

void smneo_client_free(smneo_client *c)
{
    if (!c)
        return;
    if (c->own_transport)
        smneo_transport_free(c->transport);
    smneo__timed_transports_free(c->timed);
    smneo_credential_chain_free(c->chain);
    free(c->region);
    free(c->endpoint);
    free(c->s3_endpoint);
    free(c->logs_endpoint);
    free(c->sts_endpoint);
    free(c->profile);
    free(c->user_agent);
    pthread_mutex_destroy(&c->quota_lock);
    smneo__ratelimit_destroy(&c->limiter);
    free(c);
}

const char *smneo_client_region(const smneo_client *c) { return c ? c->region : NULL; }
const char *smneo_client_endpoint(const smneo_client *c) { return c ? c->endpoint : NULL; }
const char *smneo__client_s3_endpoint(const smneo_client *c) { return c ? c->s3_endpoint : NULL; }
int smneo_client_max_attempts(const smneo_client *c) { return c ? c->max_attempts : 0; }
const char *smneo_client_retry_mode(const smneo_client *c)
{
    return !c                                ? NULL
           : c->retry_mode == RETRY_LEGACY   ? "legacy"
           : c->retry_mode == RETRY_ADAPTIVE ? "adaptive"
                                             : "standard";
}
const char *smneo_client_defaults_mode(const smneo_client *c) { return c ? c->defaults_mode : NULL; }
smneo_transport *smneo__client_transport(const smneo_client *c) { return c ? c->transport : NULL; }
smneo_transport *smneo_client_transport(const smneo_client *c) { return c ? c->transport : NULL; }
smneo_credential_chain *smneo__client_chain(const smneo_client *c) { return c ? c->chain : NULL; }

smneo_credential_chain *smneo_client_credential_chain(const smneo_client *c) { return c ? c->chain : NULL; }

const char *smneo__client_logs_endpoint(const smneo_client *c) { return c ? c->logs_endpoint : NULL; }
const char *smneo__client_sts_endpoint(const smneo_client *c) { return c ? c->sts_endpoint : NULL; }

static void build_options(smneo_build_options *bo, const smneo_client *c, const smneo_operation *op, int64_t ts)
{
    smneo_build_options d = SMNEO_BUILD_OPTIONS_INIT;
    *bo = d;
    bo->region = c->region;
    const char *svc = op && op->service ? op->service->name : NULL;
    bo->endpoint_url = svc && !strcmp(svc, "logs")  ? c->logs_endpoint
                       : svc && !strcmp(svc, "sts") ? c->sts_endpoint
                                                    : c->endpoint;
    bo->timestamp = ts;
    bo->validation = c->validation;
    bo->allow_unknown_enum_values = c->allow_unknown_enum_values;
    bo->user_agent = c->user_agent;
}

int smneo_client_build_request(smneo_request **out, smneo_client *c, const char *operation, const char *params,
                               size_t len, int64_t timestamp, smneo_error *err)
{
    if (!out || !c)
        return smneo__error(err, SMNEO_EINVAL, "out and client must not be NULL");
    *out = NULL;
    smneo_credentials *creds = NULL;
    /* A NULL transport makes the chain use short timeouts for IMDS/container. */
    int rc = smneo__credential_chain_get(&creds, c->chain, c->own_transport ? NULL : c->transport, c->timed, err);
    if (rc)
        return rc;
    smneo_build_options bo;
    build_options(&bo, c, NULL, timestamp);
    rc = smneo_protocol_build(out, operation, params, len, creds, &bo, err);
    smneo_credentials_free(creds);
    return rc;
}

/* ---- retry policy ------------------------------------------------------- */

static int transport_code(int code)
{
    return code == SMNEO_ECONNECT || code == SMNEO_ECLOSED || code == SMNEO_EDNS || code == SMNEO_ETIMEOUT || code == SMNEO_ETLS;
}

/* Is this failure retryable under the client's mode? Legacy: botocore's
 * _retry.json (connection errors; 429, 500, 502, 503, 504, 509; a 400 with a
 * throttling code; for S3 a 400 RequestTimeout or BadDigest). Standard and
 * adaptive: retries/standard.py (connection errors; 500, 502, 503, 504; the
 * transient and throttling codes), e->retryable from the protocol layer.
 * Connection errors include TLS failures (SMNEO_ETLS, a certificate that
 * does not verify included) in every mode, as botocore's SSLError is a
 * ConnectionError that _retry.json and standard.py both retry. */
int smneo__retry_retryable(int mode, int rc, const smneo_error *e, int s3)
{
    if (transport_code(rc))
        return 1;
    if (mode == RETRY_LEGACY) {
        int s = e->http_status;
        const char *code = e->service_code;
        if (s == 429 || s == 500 || s == 502 || s == 503 || s == 504 || s == 509)
            return 1;
        return s == 400 && code &&
               (!strcmp(code, "Throttling") || !strcmp(code, "ThrottlingException") ||
                !strcmp(code, "ThrottledException") || !strcmp(code, "RequestThrottledException") ||
                !strcmp(code, "ProvisionedThroughputExceededException") ||
                (s3 && (!strcmp(code, "RequestTimeout") || !strcmp(code, "BadDigest"))));
    }
    return rc != SMNEO_EPROTOCOL && e->retryable;
}

static int should_retry(const smneo_client *c, int rc, const smneo_error *e, int s3)
{
    return smneo__retry_retryable(c->retry_mode, rc, e, s3);
}

static int is_throttling(int rc, const smneo_error *e)
{
    return !transport_code(rc) && e && smneo__is_throttling(e->service_code);
}

static int quota_acquire(smneo_client *c, int cost)
{
    if (c->retry_mode == RETRY_LEGACY)
        return 1;
    pthread_mutex_lock(&c->quota_lock);
    int ok = c->quota >= cost;
    if (ok)
        c->quota -= cost;
    pthread_mutex_unlock(&c->quota_lock);
    return ok;
}

static void quota_release(smneo_client *c, int amount)
{
    if (c->retry_mode == RETRY_LEGACY)
        return;
    pthread_mutex_lock(&c->quota_lock);
    c->quota += amount;
    if (c->quota > QUOTA_MAX)
        c->quota = QUOTA_MAX;
    pthread_mutex_unlock(&c->quota_lock);
}

int smneo__client_quota(smneo_client *c)
{
    pthread_mutex_lock(&c->quota_lock);
    int q = c->quota;
    pthread_mutex_unlock(&c->quota_lock);
    return q;
}

/* ---- the call machine --------------------------------------------------- */

enum { KIND_CALL, KIND_PAGINATE, KIND_WAIT };
enum {
    ST_REQUEST,     /* build (after credentials) and send the current request */
    ST_AWAIT,       /* a SEND is outstanding */
    ST_SLEEP,       /* sleeping until wake_ms, then ST_REQUEST */
    ST_ITEMS,       /* paginator: hand out items / the page */
    ST_AFTER_EVENT, /* waiter: decide after a status event */
    ST_CHECK,       /* a create met ResourceInUse after a resend: describe the resource */
    ST_DONE
};
enum { AWAIT_NONE, AWAIT_CREDS, AWAIT_SERVICE, AWAIT_CHECK };

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
};

double smneo__jitter(uint64_t *state)
{
    /* xorshift64*: jitter only, not security. */
    uint64_t x = *state ? *state : 88172645463325252ULL;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return (double)((x * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}

/* The delay before attempt + 1 (seconds, before the policy's scale): legacy
 * rand * 2^(n-1) without a cap (_retry.json); standard rand * min(2^(n-1),
 * 20); with AWS_NEW_RETRIES_2026 a non-throttling error backs off 20 times
 * less and the service's x-amz-retry-after (ms) is followed within
 * [t, t + 5 s]. r: uniform in [0, 1). */
double smneo__retry_backoff(const smneo__retry_policy *p, int throttled, int attempt, double r,
                            const char *retry_after)
{
    double d;
    if (p->mode == RETRY_LEGACY) {
        d = r * pow(2.0, attempt - 1);
    } else if (!p->new_retries) {
        double t = pow(2.0, attempt - 1);
        d = r * (t < 20 ? t : 20);
    } else {
        double t = (throttled ? 1.0 : 0.05) * pow(2.0, attempt - 1);
        d = r * (t < 20 ? t : 20);
        if (retry_after) {
            char *end;
            long long ms = strtoll(retry_after, &end, 10);
            if (end != retry_after && !*end && ms >= 0) {
                double v = ms / 1000.0;
                if (v > d + 5)
                    v = d + 5;
                if (v > d)
                    d = v;
            }
        }
    }
    return d;
}

/* The retry decision shared by the call machine and S3 transfers. */
int smneo__retry_next_s3(smneo_client *c, int rc, const smneo_error *e, int attempt, uint64_t *rng, int *quota_cost,
                         double *delay_s, int s3, int *quota_reached)
{
    if (quota_reached)
        *quota_reached = 0;
    if (!should_retry(c, rc, e, s3) || attempt >= c->max_attempts)
        return 0;
    int throttled = is_throttling(rc, e);
    int cost = c->retry_mode == RETRY_LEGACY ? 0
               : c->new_retries              ? (throttled ? QUOTA_COST_THROTTLE : QUOTA_COST_V2)
               : rc == SMNEO_ETIMEOUT        ? QUOTA_COST_TIMEOUT
                                             : QUOTA_COST;
    if (cost && !quota_acquire(c, cost)) {
        if (quota_reached)
            *quota_reached = 1; /* botocore's RetryQuotaReached */
        return 0;
    }
    *quota_cost = cost;
    smneo__retry_policy p = {c->retry_mode, c->max_attempts, c->new_retries, 1.0};
    const char *ra = e && e->response ? smneo_response_header(e->response, "x-amz-retry-after") : NULL;
    double d = smneo__retry_backoff(&p, throttled, attempt, smneo__jitter(rng), ra);
    *delay_s = d * c->backoff_scale;
    return 1;
}

int smneo__retry_next(smneo_client *c, int rc, const smneo_error *e, int attempt, uint64_t *rng, int *quota_cost,
                      double *delay_s, int *quota_reached)
{
    return smneo__retry_next_s3(c, rc, e, attempt, rng, quota_cost, delay_s, 0, quota_reached);
}

void smneo__retry_succeeded(smneo_client *c, int *quota_cost)
{
    quota_release(c, *quota_cost ? *quota_cost : QUOTA_REFUND);
    *quota_cost = 0;
}

int smneo_client_max_attempts_reached(const smneo_client *c, int attempts, const smneo_error *err)
{
    if (!c) /* one response parsed alone: one attempt of one, botocore's legacy rule */
        return attempts >= 1 && err && err->code && err->retryable;
    if (attempts < c->max_attempts)
        return 0;
    if (c->retry_mode != RETRY_LEGACY)
        return 1; /* botocore's MaxAttemptsChecker runs on every answer */
    return err && err->code && should_retry(c, err->code, err, 0);
}

void smneo__client_rate_update(smneo_client *c, int rc, const smneo_error *e)
{
    if (c->retry_mode == RETRY_ADAPTIVE)
        smneo__ratelimit_update(&c->limiter, rc && is_throttling(rc, e), smneo__monotonic_ms() / 1000.0);
}

double smneo__client_rate_acquire(smneo_client *c)
{
    return c->retry_mode == RETRY_ADAPTIVE ? smneo__ratelimit_acquire(&c->limiter, smneo__monotonic_ms() / 1000.0)
                                           : 0;
}

smneo_ratelimit *smneo__client_ratelimit(smneo_client *c) { return &c->limiter; }

int smneo__client_credentials(smneo_credentials **out, smneo_client *c, smneo_error *err)
{
    /* A NULL transport makes the chain use short timeouts for IMDS/container. */
    return smneo__credential_chain_get(out, c->chain, c->own_transport ? NULL : c->transport, c->timed, err);
}

static void finish(smneo_call *call, int rc)
{
    call->state = ST_DONE;
    call->rc = rc;
    call->awaiting = AWAIT_NONE;
    smneo_request_free(call->req);
    call->req = NULL;
}

static void finish_error(smneo_call *call, int code, const char *fmt, const char *arg)
{
    smneo__error(&call->err, code, fmt, arg);
    call->err.attempts = call->attempt;
    finish(call, code);
}

static int reserialize(smneo_call *call)
{
    free(call->body);
    call->body = NULL;
    return smneo__serialize_node(&call->body, &call->body_len, call->op, call->params);
}

static int call_alloc_op(smneo_call **out, smneo_client *c, const smneo_operation *op, const char *params,
                         size_t len, int kind, smneo_error *err)
{
    *out = NULL;
    if (!c)
        return smneo__error(err, SMNEO_EINVAL, "client is NULL");
    cJSON *p;
    int rc = smneo__parse_params(&p, params, len, err);
    if (rc)
        return rc;
    smneo_issues *kept = NULL;
    rc = smneo__validate_gate(op, p, c->validation, c->allow_unknown_enum_values, &kept, err);
    if (rc) {
        cJSON_Delete(p);
        return rc;
    }
    smneo_call *call = calloc(1, sizeof *call);
    if (!call) {
        cJSON_Delete(p);
        smneo_issues_free(kept);
        return smneo__error(err, SMNEO_ENOMEM, "out of memory");
    }
    call->issues = kept;
    call->client = c;
    call->op = op;
    call->kind = kind;
    call->params = p;
    call->state = ST_REQUEST;
    call->rng = (uint64_t)smneo__monotonic_ms() * 0x9E3779B97F4A7C15ULL ^ (uint64_t)(uintptr_t)call;
    if (!call->rng)
        call->rng = 88172645463325252ULL;
    if (kind != KIND_PAGINATE && reserialize(call)) {
        smneo_call_free(call);
        return smneo__error(err, SMNEO_ENOMEM, "out of memory");
    }
    *out = call;
    return 0;
}

static int call_alloc(smneo_call **out, smneo_client *c, const char *operation, const char *params, size_t len,
                      int kind, smneo_error *err)
{
    *out = NULL;
    if (!c)
        return smneo__error(err, SMNEO_EINVAL, "client is NULL");
    const smneo_operation *op = smneo_model_operation(operation);
    if (!op)
        return smneo__error(err, SMNEO_EINVAL, "unknown operation \"%s\"", operation ? operation : "(null)");
    return call_alloc_op(out, c, op, params, len, kind, err);
}

int smneo__call_op_new(smneo_call **out, smneo_client *c, const smneo_operation *op, const char *params, size_t len,
                       smneo_error *err)
{
    if (!out || !op)
        return smneo__error(err, SMNEO_EINVAL, "out and operation must not be NULL");
    return call_alloc_op(out, c, op, params, len, KIND_CALL, err);
}

int smneo_call_new(smneo_call **out, smneo_client *c, const char *operation, const char *params, size_t len,
                   smneo_error *err)
{
    if (!out)
        return smneo__error(err, SMNEO_EINVAL, "out is NULL");
    return call_alloc(out, c, operation, params, len, KIND_CALL, err);
}

void smneo_call_free(smneo_call *call)
{
    if (!call)
        return;
    cJSON_Delete(call->params);
    free(call->body);
    smneo_request_free(call->req);
    smneo_chain_resolution_free(call->credres);
    smneo_credentials_free(call->creds);
    smneo_result_free(call->page);
    smneo_result_free(call->final);
    smneo_issues_free(call->issues);
    smneo_error_clear(&call->err);
    free(call->request_token);
    free(call->resume_token);
    free(call->last_status);
    free(call);
}

/* ---- paginator ---------------------------------------------------------- */

/* Resume tokens use botocore's format: base64 of
 * {"NextToken": "...", "boto_truncate_amount": N} so they interoperate. */
static char *encode_resume_token(const char *next_token, int64_t truncate)
{
    smneo_buf b = SMNEO_BUF_INIT;
    smneo__buf_puts(&b, "{\"NextToken\": ");
    if (next_token)
        smneo__json_escape(&b, next_token, strlen(next_token));
    else
        smneo__buf_puts(&b, "null");
    if (truncate > 0)
        smneo__buf_printf(&b, ", \"boto_truncate_amount\": %lld", (long long)truncate);
    smneo__buf_putc(&b, '}');
    size_t n;
    char *json = smneo__buf_detach(&b, &n);
    if (!json)
        return NULL;
    char *out = malloc(4 * ((n + 2) / 3) + 1);
    if (out)
        EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)json, (int)n);
    free(json);
    return out;
}

static int decode_resume_token(const char *tok, char **next_token, int64_t *truncate)
{
    *next_token = NULL;
    *truncate = 0;
    size_t n = strlen(tok);
    int ok = 0;
    if (n % 4 == 0 && n > 0) {
        unsigned char *raw = malloc(n / 4 * 3 + 1);
        int len = raw ? EVP_DecodeBlock(raw, (const unsigned char *)tok, (int)n) : -1;
        if (len > 0) {
            while (len > 0 && raw[len - 1] == 0)
                len--; /* EVP_DecodeBlock keeps padding bytes as NULs */
            cJSON *j = cJSON_ParseWithLength((const char *)raw, (size_t)len);
            const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "NextToken");
            const cJSON *a = cJSON_GetObjectItemCaseSensitive(j, "boto_truncate_amount");
            if (cJSON_IsObject(j) && (cJSON_IsString(t) || cJSON_IsNull(t))) {
                ok = 1;
                if (cJSON_IsString(t))
                    *next_token = smneo__strdup(t->valuestring);
                /* < 2^53: an item count; larger (1e300) would not fit the cast. */
                if (cJSON_IsNumber(a) && a->valuedouble > 0 && a->valuedouble < 9007199254740992.0)
                    *truncate = (int64_t)a->valuedouble;
            }
            cJSON_Delete(j);
        }
        free(raw);
    }
    if (!ok) /* a plain service token */
        *next_token = smneo__strdup(tok);
    return *next_token || ok ? 0 : SMNEO_ENOMEM;
}

static int set_param_string(cJSON *params, const char *key, const char *value)
{
    cJSON_DeleteItemFromObjectCaseSensitive(params, key);
    if (!value)
        return 0;
    return cJSON_AddStringToObject(params, key, value) ? 0 : SMNEO_ENOMEM;
}

int smneo_paginate_new(smneo_call **out, smneo_client *c, const char *operation, const char *params, size_t len,
                       const smneo_paginate_options *o, smneo_error *err)
{
    if (!out)
        return smneo__error(err, SMNEO_EINVAL, "out is NULL");
    *out = NULL;
    const smneo_operation *op = smneo_model_operation(operation);
    if (op && !op->output_token)
        return smneo__error(err, SMNEO_EINVAL, "%s cannot be paginated: use ListCompilationJobs or "
                            "ListPipelineExecutionSteps", op->name);
    smneo_paginate_options full;
    int orc = smneo__options_copy(&full, o, &smneo__paginate_options_layout, err);
    if (orc)
        return orc;
    o = &full;
    if (o->max_items < 0 || o->page_size < 0)
        return smneo__error(err, SMNEO_EINVAL, "max_items and page_size must not be negative");
    smneo_call *call;
    int rc = call_alloc(&call, c, operation, params, len, KIND_PAGINATE, err);
    if (rc)
        return rc;
    call->popts = *o;
    call->popts.starting_token = NULL;
    if (o->page_size > 0) {
        cJSON_DeleteItemFromObjectCaseSensitive(call->params, op->limit_key);
        if (!cJSON_AddNumberToObject(call->params, op->limit_key, o->page_size))
            rc = SMNEO_ENOMEM;
    }
    const cJSON *given = cJSON_GetObjectItemCaseSensitive(call->params, op->input_token);
    const char *start = o->starting_token ? o->starting_token : cJSON_IsString(given) ? given->valuestring : NULL;
    if (!rc && start) {
        char *tok = NULL;
        rc = decode_resume_token(start, &tok, &call->skip_first);
        if (!rc)
            rc = set_param_string(call->params, op->input_token, tok);
        if (!rc && tok && !(call->request_token = smneo__strdup(tok)))
            rc = SMNEO_ENOMEM;
        free(tok);
    }
    if (!rc)
        rc = reserialize(call);
    if (rc) {
        smneo_call_free(call);
        return smneo__error(err, SMNEO_ENOMEM, "out of memory");
    }
    *out = call;
    return 0;
}

static const cJSON *page_items(const smneo_call *call)
{
    const cJSON *root = smneo__result_root_node(call->page);
    const cJSON *items = cJSON_GetObjectItemCaseSensitive(root, call->op->result_key);
    return cJSON_IsArray(items) ? items : NULL;
}

static const char *page_next_token(const smneo_call *call)
{
    const cJSON *root = smneo__result_root_node(call->page);
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(root, call->op->output_token);
    return cJSON_IsString(t) && *t->valuestring ? t->valuestring : NULL;
}

/* After a page arrives: prepare item iteration. */
static void paginate_page(smneo_call *call)
{
    /* A resume token's boto_truncate_amount: drop those items from the page
     * itself (botocore slices the first page's list), so pages mode does
     * not hand them out again; they still count in the next resume token. */
    cJSON *items = (cJSON *)page_items(call);
    call->page_skipped = 0;
    while (items && items->child && call->page_skipped < call->skip_first) {
        cJSON_Delete(cJSON_DetachItemViaPointer(items, items->child));
        call->page_skipped++;
    }
    call->skip_first = 0;
    call->next_item = items ? items->child : NULL;
    call->page_pending = call->popts.pages;
    call->state = ST_ITEMS;
}

/* The page is used up (or max_items reached): fetch the next or finish. */
static void paginate_advance(smneo_call *call, int64_t consumed_in_page)
{
    const char *next = page_next_token(call);
    int64_t max = call->popts.max_items;
    if (max > 0 && call->emitted >= max) {
        /* Stopped by max_items: leave a resume token where we stopped. */
        free(call->resume_token);
        call->resume_token = call->next_item ? encode_resume_token(call->request_token, consumed_in_page)
                           : next             ? encode_resume_token(next, 0)
                                              : NULL;
        finish(call, SMNEO_ITEROVER);
        return;
    }
    if (!next) {
        finish(call, SMNEO_ITEROVER);
        return;
    }
    /* As botocore: the token received equal to the one received before it
     * (the token just sent, unless that one was the caller's starting
     * token) would fetch the same page forever; stopping there would hand
     * out a truncated listing as if it were complete. botocore compares the
     * whole set of tokens; the model's paginators have one. */
    if (call->token_from_page && call->request_token && !strcmp(next, call->request_token)) {
        smneo_buf b = SMNEO_BUF_INIT;
        smneo__buf_printf(&b, "Error during pagination: The same next token was received twice: {'%s': ",
                          call->op->input_token);
        smneo__py_repr(&b, next);
        smneo__buf_putc(&b, '}');
        char *msg = smneo__buf_detach(&b, NULL);
        finish_error(call, msg ? SMNEO_EPAGINATION : SMNEO_ENOMEM, "%s", msg ? msg : "out of memory");
        free(msg);
        return;
    }
    char *copy = smneo__strdup(next);
    if (!copy || set_param_string(call->params, call->op->input_token, copy) || reserialize(call)) {
        free(copy);
        finish_error(call, SMNEO_ENOMEM, "%s", "out of memory");
        return;
    }
    free(call->request_token);
    call->request_token = copy;
    call->token_from_page = 1;
    call->attempt = 0;
    call->hooked = 0;
    call->state = ST_REQUEST;
}

/* ---- waiter ------------------------------------------------------------- */

int smneo_wait_new(smneo_call **out, smneo_client *c, const char *job_name, const smneo_wait_options *o,
                   smneo_error *err)
{
    if (!out)
        return smneo__error(err, SMNEO_EINVAL, "out is NULL");
    *out = NULL;
    if (!job_name || !*job_name)
        return smneo__error(err, SMNEO_EINVAL, "the waiter needs a CompilationJobName");
    smneo_wait_options full;
    int orc = smneo__options_copy(&full, o, &smneo__wait_options_layout, err);
    if (orc)
        return orc;
    o = &full;
    if (o->delay < 0 || o->max_delay < 0 || o->timeout < 0 || isnan(o->delay) || isnan(o->max_delay) ||
        isnan(o->timeout))
        return smneo__error(err, SMNEO_EINVAL, "delay, max_delay and timeout must be non-negative numbers");
    smneo_jsonw *w = NULL;
    if (smneo_jsonw_new(&w) || smneo_jsonw_begin_object(w) ||
        smneo_jsonw_key(w, "CompilationJobName", strlen("CompilationJobName")) ||
        smneo_jsonw_string(w, job_name, strlen(job_name)) || smneo_jsonw_end_object(w)) {
        smneo_jsonw_free(w);
        return smneo__error(err, SMNEO_ENOMEM, "out of memory");
    }
    size_t len;
    const char *json = smneo_jsonw_data(&len, w);
    smneo_call *call;
    int rc = call_alloc(&call, c, "DescribeCompilationJob", json, len, KIND_WAIT, err);
    smneo_jsonw_free(w);
    if (rc)
        return rc;
    call->delay = o->delay > 0 ? o->delay : 5;
    call->max_delay = o->max_delay > 0 ? o->max_delay : 60;
    if (call->max_delay < call->delay)
        call->max_delay = call->delay;
    call->timeout = o->timeout;
    call->start_ms = smneo__monotonic_ms();
    *out = call;
    return 0;
}

static const char *job_status(const smneo_result *r)
{
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(smneo__result_root_node(r), "CompilationJobStatus");
    return cJSON_IsString(s) ? s->valuestring : NULL;
}

/* Decide what follows a description (after its status event, if any). */
static void wait_decide(smneo_call *call)
{
    const char *status = job_status(call->page);
    if (status && !strcmp(status, "COMPLETED")) {
        call->final = call->page;
        call->page = NULL;
        finish(call, 0);
        return;
    }
    if (status && (!strcmp(status, "FAILED") || !strcmp(status, "STOPPED"))) {
        int failed = !strcmp(status, "FAILED");
        const cJSON *reason =
            cJSON_GetObjectItemCaseSensitive(smneo__result_root_node(call->page), "FailureReason");
        if (failed)
            smneo__error(&call->err, SMNEO_EJOBFAILED, "%s",
                         cJSON_IsString(reason) ? reason->valuestring : "the compilation job failed");
        else
            smneo__error(&call->err, SMNEO_EJOBSTOPPED, "the compilation job was stopped");
        call->err.attempts = call->attempt;
        call->final = call->page; /* the description stays reachable */
        call->page = NULL;
        finish(call, failed ? SMNEO_EJOBFAILED : SMNEO_EJOBSTOPPED);
        return;
    }
    double d = call->delay * pow(2.0, call->polls - 1);
    if (d > call->max_delay)
        d = call->max_delay;
    int64_t wake = smneo__monotonic_ms() + (int64_t)(d * 1000);
    if (call->timeout > 0) {
        int64_t deadline = call->start_ms + (int64_t)(call->timeout * 1000);
        if (smneo__monotonic_ms() >= deadline) {
            smneo__error(&call->err, SMNEO_EWAITTIMEOUT,
                         "the compilation job did not finish within the waiter's timeout (last status %s)",
                         status ? status : "unknown");
            finish(call, SMNEO_EWAITTIMEOUT);
            return;
        }
        if (wake > deadline)
            wake = deadline;
    }
    call->wake_ms = wake;
    call->attempt = 0;
    call->hooked = 0;
    call->state = ST_SLEEP;
}

/* ---- driving ------------------------------------------------------------ */

static int creds_fresh(const smneo_credentials *c)
{
    return c && (!c->expiration || c->expiration - smneo__now() > 60);
}

/* Hands out call->req as a SEND step awaiting `awaiting`. Returns 1. */
static int send_step(smneo_call *call, smneo_step *out, int awaiting)
{
    call->awaiting = awaiting;
    call->state = ST_AWAIT;
    out->kind = SMNEO_STEP_SEND;
    out->request = call->req;
    return 1;
}

void smneo_client_set_request_hook(smneo_client *c, smneo_request_hook_cb cb, void *payload)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->quota_lock);
    c->hook = cb;
    c->hook_payload = cb ? payload : NULL;
    pthread_mutex_unlock(&c->quota_lock);
}

static void handle_success(smneo_call *call, smneo_result *r);

/* The request hook's answer: the final answer of the logical request, as
 * one attempt that was never sent (no retry, no quota, no rate update). */
static void take_answer(smneo_call *call, smneo_response *resp)
{
    smneo_result *r = NULL;
    call->attempt = 1;
    int rc = smneo__protocol_parse_owned(&r, call->op, resp, &call->err);
    if (rc == 0) {
        smneo_error_clear(&call->err);
        handle_success(call, r);
        return;
    }
    call->err.attempts = call->attempt;
    finish(call, rc);
}

/* Asks the client's request hook (once per logical request, before
 * credentials). Returns 1 when the request goes on, 0 when the hook answered
 * or cancelled it. */
static int ask_hook(smneo_call *call)
{
    if (call->hooked)
        return 1;
    call->hooked = 1;
    smneo_client *c = call->client;
    pthread_mutex_lock(&c->quota_lock);
    smneo_request_hook_cb cb = c->hook;
    void *payload = c->hook_payload;
    pthread_mutex_unlock(&c->quota_lock);
    if (!cb)
        return 1;
    smneo_response *answer = NULL;
    smneo_value params = {call->params, call->op->input};
    if (cb(&answer, call->op, &params, payload)) {
        smneo_response_free(answer);
        smneo__error(&call->err, SMNEO_ECANCELLED, "%s: cancelled by the client's request hook", call->op->name);
        finish(call, SMNEO_ECANCELLED);
        return 0;
    }
    if (!answer)
        return 1;
    take_answer(call, answer);
    return 0;
}

/* ST_REQUEST: the request hook, credentials, then build+sign. Returns 1 with
 * a SEND step. */
static int make_request(smneo_call *call, smneo_step *out)
{
    if (!ask_hook(call))
        return 0;
    if (!creds_fresh(call->creds)) {
        smneo_credentials_free(call->creds);
        call->creds = NULL;
        if (!call->credres && smneo_chain_resolution_new(&call->credres, call->client->chain, smneo__now())) {
            finish_error(call, SMNEO_ENOMEM, "%s", "out of memory");
            return 0;
        }
        smneo_request *req = NULL;
        int rc = smneo_chain_resolution_step(&req, &call->creds, call->credres, &call->err);
        if (rc == 1) {
            call->req = req;
            long delay = smneo_chain_resolution_delay_ms(call->credres);
            if (delay > 0) {
                /* An STS/SSO retry: sleep its backoff, then send it. */
                call->cred_pending = 1;
                call->wake_ms = smneo__monotonic_ms() + delay;
                call->state = ST_SLEEP;
                return 0;
            }
            out->timeout_ms = smneo_chain_resolution_timeout_ms(call->credres);
            return send_step(call, out, AWAIT_CREDS);
        }
        smneo_chain_resolution_free(call->credres);
        call->credres = NULL;
        if (rc < 0) {
            finish(call, rc);
            return 0;
        }
    }
    /* Adaptive mode: wait for a token of the client's rate limiter. */
    double wait = smneo__client_rate_acquire(call->client);
    if (wait > 0) {
        call->wake_ms = smneo__monotonic_ms() + (int64_t)ceil(wait * 1000);
        call->state = ST_SLEEP;
        return 0;
    }
    smneo_build_options bo;
    build_options(&bo, call->client, call->op, 0);
    int rc = smneo__build_signed(&call->req, call->op, call->params, call->body, call->body_len, call->creds, &bo,
                                 &call->err);
    if (rc) {
        finish(call, rc);
        return 0;
    }
    return send_step(call, out, AWAIT_SERVICE);
}

/* ST_CHECK: describe what the create met, with the credentials it was just
 * sent with. Returns 1 with a SEND step; 0 when no request could be made
 * (the create's ResourceInUse stands). */
static int make_check_request(smneo_call *call, smneo_step *out)
{
    cJSON *params = NULL;
    char *body = NULL;
    size_t len = 0;
    smneo_error e = SMNEO_ERROR_INIT;
    int rc = smneo__create_describe_params(&params, call->check_op, call->params);
    if (rc == 0)
        rc = smneo__serialize_node(&body, &len, call->check_op, params);
    cJSON_Delete(params);
    if (rc == 0) {
        smneo_build_options bo;
        build_options(&bo, call->client, call->check_op, 0);
        rc = smneo__build_signed(&call->req, call->check_op, NULL, body, len, call->creds, &bo, &e);
    }
    free(body);
    smneo_error_clear(&e);
    if (rc) {
        finish(call, SMNEO_EINUSE);
        return 0;
    }
    return send_step(call, out, AWAIT_CHECK);
}

void smneo_call_next(smneo_step *out, smneo_call *call)
{
    memset(out, 0, sizeof *out);
    if (!call) {
        out->kind = SMNEO_STEP_DONE;
        return;
    }
    for (;;) {
        if (call->cancelled && call->state != ST_DONE) {
            smneo__error(&call->err, SMNEO_ECANCELLED, "cancelled by the caller");
            finish(call, SMNEO_ECANCELLED);
        }
        switch (call->state) {
        case ST_DONE:
            out->kind = SMNEO_STEP_DONE;
            return;
        case ST_REQUEST:
            if (make_request(call, out))
                return;
            continue;
        case ST_CHECK:
            if (make_check_request(call, out))
                return;
            continue;
        case ST_AWAIT:
            /* The caller asked again without feeding: resend the same request. */
            out->kind = SMNEO_STEP_SEND;
            out->request = call->req;
            if (call->awaiting == AWAIT_CREDS)
                out->timeout_ms = smneo_chain_resolution_timeout_ms(call->credres);
            return;
        case ST_SLEEP: {
            int64_t left = call->wake_ms - smneo__monotonic_ms();
            if (left > 0) {
                out->kind = SMNEO_STEP_SLEEP;
                out->sleep_ms = left > MAX_SLEEP_STEP_MS ? MAX_SLEEP_STEP_MS : (long)left;
                return;
            }
            if (call->cred_pending) {
                call->cred_pending = 0;
                out->timeout_ms = smneo_chain_resolution_timeout_ms(call->credres);
                send_step(call, out, AWAIT_CREDS);
                return;
            }
            if (call->kind == KIND_WAIT && call->timeout > 0 &&
                smneo__monotonic_ms() >= call->start_ms + (int64_t)(call->timeout * 1000)) {
                smneo__error(&call->err, SMNEO_EWAITTIMEOUT,
                             "the compilation job did not finish within the waiter's timeout (last status %s)",
                             call->last_status ? call->last_status : "unknown");
                finish(call, SMNEO_EWAITTIMEOUT);
                continue;
            }
            call->state = ST_REQUEST;
            continue;
        }
        case ST_ITEMS: {
            if (call->page_pending) {
                call->page_pending = 0;
                out->kind = SMNEO_STEP_EVENT;
                out->event = SMNEO_EVENT_PAGE;
                /* Count the page's items towards max_items. */
                int64_t n = 0;
                for (const cJSON *it = call->next_item; it; it = it->next)
                    n++;
                int64_t max = call->popts.max_items;
                if (max > 0 && call->emitted + n > max) {
                    /* Truncate the page in place, as botocore does. */
                    int64_t keep = max - call->emitted;
                    const cJSON *it = call->next_item;
                    for (int64_t i = 1; it && i < keep; i++)
                        it = it->next;
                    cJSON *items = (cJSON *)page_items(call);
                    cJSON *cut = it ? it->next : NULL;
                    int64_t consumed = call->page_skipped + keep; /* of this page, as botocore counts */
                    free(call->resume_token);
                    call->resume_token = encode_resume_token(call->request_token, consumed);
                    while (cut) {
                        cJSON *nx = cut->next;
                        cJSON_Delete(cJSON_DetachItemViaPointer(items, cut));
                        cut = nx;
                    }
                    call->emitted = max;
                    call->next_item = NULL;
                    call->popts.pages = 2; /* marker: stop after this page */
                } else {
                    call->emitted += n;
                    call->next_item = NULL;
                }
                return;
            }
            if (call->popts.pages == 2) {
                finish(call, SMNEO_ITEROVER);
                continue;
            }
            int64_t max = call->popts.max_items;
            if (!call->popts.pages && call->next_item && !(max > 0 && call->emitted >= max)) {
                call->item = call->next_item;
                call->next_item = call->next_item->next;
                call->emitted++;
                out->kind = SMNEO_STEP_EVENT;
                out->event = SMNEO_EVENT_ITEM;
                return;
            }
            /* Count how many items of this page were handed out (for a resume token). */
            int64_t consumed = call->page_skipped;
            const cJSON *items = page_items(call);
            for (const cJSON *it = items ? items->child : NULL; it && it != call->next_item; it = it->next)
                consumed++;
            paginate_advance(call, consumed);
            continue;
        }
        case ST_AFTER_EVENT:
            if (call->page_pending) {
                call->page_pending = 0;
                out->kind = SMNEO_STEP_EVENT;
                out->event = SMNEO_EVENT_STATUS;
                return;
            }
            wait_decide(call);
            continue;
        }
    }
}

static void handle_success(smneo_call *call, smneo_result *r)
{
    smneo__result_set_attempts(r, call->attempt);
    if (call->kind == KIND_CALL) {
        call->final = r;
        finish(call, 0);
        return;
    }
    smneo_result_free(call->page);
    call->page = r;
    if (call->kind == KIND_PAGINATE) {
        paginate_page(call);
        return;
    }
    call->polls++;
    const char *status = job_status(r);
    if (status && (!call->last_status || strcmp(status, call->last_status))) {
        free(call->last_status);
        call->last_status = smneo__strdup(status);
        call->state = ST_AFTER_EVENT;
        call->awaiting = AWAIT_NONE;
        call->item = NULL;
        /* The EVENT is reported by the next smneo_call_next via this flag. */
        call->page_pending = 1;
        return;
    }
    wait_decide(call);
}

/* The answer to ST_CHECK's description: the create's result when the
 * resource is the one an earlier copy of the request made, else the
 * create's ResourceInUse as it came. */
static void check_answered(smneo_call *call, smneo_response *resp)
{
    smneo_result *d = NULL, *r = NULL;
    smneo_error e = SMNEO_ERROR_INIT;
    int rc = resp ? smneo__protocol_parse_owned(&d, call->check_op, resp, &e) : SMNEO_ECONNECT;
    int ours = rc == 0 && smneo__create_is_ours(call->op, call->params, smneo__result_root_node(d));
    if (ours && smneo__create_result(&r, call->op, d) != 0)
        r = NULL;
    smneo_log(SMNEO_LOG_INFO, "%s: %s", call->op->name,
              r      ? "ResourceInUse is the resource an earlier copy of this request created (same settings): "
                       "success"
              : ours ? "out of memory answering with the resource an earlier copy of this request created"
              : rc   ? "ResourceInUse stands: the resource could not be described to compare it"
                     : "ResourceInUse stands: the existing resource has other settings");
    smneo_result_free(d);
    smneo_error_clear(&e);
    if (!r) {
        finish(call, SMNEO_EINUSE);
        return;
    }
    smneo__retry_succeeded(call->client, &call->quota_cost);
    smneo_error_clear(&call->err);
    handle_success(call, r);
}

void smneo_call_feed(smneo_call *call, smneo_response *resp, int transport_error, const char *msg)
{
    if (!call || call->state != ST_AWAIT) {
        smneo_response_free(resp);
        return;
    }
    smneo_request_free(call->req);
    call->req = NULL;
    if (call->awaiting == AWAIT_CREDS) {
        call->awaiting = AWAIT_NONE;
        smneo_chain_resolution_feed(call->credres, resp, resp ? 0 : (transport_error ? transport_error : SMNEO_ECONNECT));
        smneo_response_free(resp);
        call->state = ST_REQUEST;
        return;
    }
    if (call->awaiting == AWAIT_CHECK) {
        call->awaiting = AWAIT_NONE;
        check_answered(call, resp);
        return;
    }
    call->awaiting = AWAIT_NONE;
    /* Every copy the transport sent counts (libcurl's own resend on a dead
     * keep-alive connection included), as botocore counts the retry that
     * follows a closed connection. */
    call->attempt += resp && resp->sends > 1 ? resp->sends : 1;
    int rc;
    smneo_result *r = NULL;
    if (!resp) {
        rc = transport_error < 0 ? transport_error : SMNEO_ECONNECT;
        smneo__error(&call->err, rc, "%s", msg ? msg : "the request could not be sent");
        call->err.retryable = transport_code(rc);
    } else {
        rc = smneo__protocol_parse_owned(&r, call->op, resp, &call->err);
    }
    smneo__client_rate_update(call->client, rc, &call->err);
    if (rc == 0) {
        smneo__retry_succeeded(call->client, &call->quota_cost);
        smneo_error_clear(&call->err);
        handle_success(call, r);
        return;
    }
    call->err.attempts = call->attempt;
    if (rc == SMNEO_EINUSE && call->kind == KIND_CALL && call->attempt > 1 &&
        (call->check_op = smneo__create_describe_op(call->op)) != NULL) {
        /* A create sent more than once (a retry after a lost answer, or the
         * transport's resend) may meet the resource its first copy made. */
        smneo_log(SMNEO_LOG_INFO, "%s: ResourceInUse after %d attempts: describing it to see whether an "
                  "earlier attempt created it", call->op->name, call->attempt);
        call->state = ST_CHECK;
        return;
    }
    {
        double d;
        if (smneo__retry_next(call->client, rc, &call->err, call->attempt, &call->rng, &call->quota_cost, &d,
                              &call->quota_reached)) {
            smneo_log(SMNEO_LOG_INFO, "%s: attempt %d failed (%s), retrying in %.3f s", call->op->name,
                      call->attempt, call->err.service_code ? call->err.service_code : smneo_strerror(rc), d);
            smneo_error_clear(&call->err);
            call->wake_ms = smneo__monotonic_ms() + (int64_t)(d * 1000);
            call->state = ST_SLEEP;
            return;
        }
    }
    finish(call, rc);
}

int smneo_call_retry_quota_reached(const smneo_call *call)
{
    return call && call->state == ST_DONE && call->rc != 0 && call->quota_reached;
}

int smneo_call_item(smneo_value *out, const smneo_call *call)
{
    if (!out || !call || !call->item)
        return SMNEO_EINVAL;
    const smneo_member *m = smneo_shape_member(call->op->output, call->op->result_key);
    out->node = call->item;
    out->shape = m && m->shape->member ? m->shape->member : NULL;
    return 0;
}

const smneo_result *smneo_call_page(const smneo_call *call) { return call ? call->page : NULL; }

void smneo_call_cancel(smneo_call *call)
{
    if (call)
        call->cancelled = 1;
}

int smneo_call_result(smneo_result **out, smneo_call *call, smneo_error *err)
{
    if (out)
        *out = NULL;
    if (!call || call->state != ST_DONE)
        return smneo__error(err, SMNEO_EINVAL, "the call has not finished");
    if (call->final && call->issues) {
        smneo__result_set_issues(call->final, call->issues);
        call->issues = NULL;
    }
    if (call->rc == 0 || call->rc == SMNEO_ITEROVER) {
        if (out) {
            *out = call->final;
            call->final = NULL;
        }
        return 0;
    }
    if (err) {
        smneo_error_clear(err);
        *err = call->err; /* hand the details over */
        memset(&call->err, 0, sizeof call->err);
        err->code = call->rc;
    }
    /* FAILED / STOPPED: the final description is still available. */
    if (out && (call->rc == SMNEO_EJOBFAILED || call->rc == SMNEO_EJOBSTOPPED)) {
        *out = call->final;
        call->final = NULL;
    }
    return call->rc;
}

const smneo_issues *smneo_call_issues(const smneo_call *call) { return call ? call->issues : NULL; }

const char *smneo_call_resume_token(const smneo_call *call) { return call ? call->resume_token : NULL; }

/* ---- blocking drivers ------------------------------------------------------ */

void smneo_call_send(smneo_call *call, const smneo_step *step)
{
    if (!call || !step || step->kind != SMNEO_STEP_SEND)
        return;
    smneo_client *c = call->client;
    smneo_response *resp = NULL;
    smneo_error terr = SMNEO_ERROR_INIT;
    int rc;
    if (step->timeout_ms > 0 && c->own_transport) /* a credential request: its own timeouts */
        rc = smneo__send_timed(&resp, c->timed, step->request, step->timeout_ms, &terr);
    else if (c->transport)
        rc = smneo_transport_send(&resp, c->transport, step->request, &terr);
    else
        rc = smneo__error(&terr, SMNEO_EINVAL, "the client has no transport: drive the call with steps");
    smneo_call_feed(call, rc ? NULL : resp, rc, terr.message);
    smneo_error_clear(&terr);
}

void smneo_call_run(smneo_step *out, smneo_call *call)
{
    for (;;) {
        smneo_call_next(out, call);
        if (out->kind == SMNEO_STEP_SEND) {
            smneo_call_send(call, out);
            continue;
        }
        if (out->kind == SMNEO_STEP_SLEEP) {
            smneo__sleep_ms(out->sleep_ms);
            continue;
        }
        return;
    }
}

int smneo_client_call(smneo_result **out, smneo_client *c, const char *operation, const char *params, size_t len,
                      smneo_error *err)
{
    if (!out)
        return smneo__error(err, SMNEO_EINVAL, "out is NULL");
    *out = NULL;
    smneo_call *call;
    int rc = smneo_call_new(&call, c, operation, params, len, err);
    if (rc)
        return rc;
    smneo_step step;
    smneo_call_run(&step, call);
    rc = smneo_call_result(out, call, err);
    smneo_call_free(call);
    return rc;
}

struct smneo_iter {
    smneo_call *call;
};

int smneo_iter_new(smneo_iter **out, smneo_client *c, const char *operation, const char *params, size_t len,
                   const smneo_paginate_options *o, smneo_error *err)
{
    if (!out)
        return smneo__error(err, SMNEO_EINVAL, "out is NULL");
    *out = NULL;
    smneo_paginate_options po;
    int orc = smneo__options_copy(&po, o, &smneo__paginate_options_layout, err);
    if (orc)
        return orc;
    po.pages = 0;
    smneo_iter *it = calloc(1, sizeof *it);
    if (!it)
        return smneo__error(err, SMNEO_ENOMEM, "out of memory");
    int rc = smneo_paginate_new(&it->call, c, operation, params, len, &po, err);
    if (rc) {
        free(it);
        return rc;
    }
    *out = it;
    return 0;
}

int smneo_iter_next(smneo_value *out, smneo_iter *it, smneo_error *err)
{
    if (!out || !it)
        return smneo__error(err, SMNEO_EINVAL, "out and iterator must not be NULL");
    smneo_step step;
    smneo_call_run(&step, it->call);
    if (step.kind == SMNEO_STEP_EVENT)
        return smneo_call_item(out, it->call);
    int rc = smneo_call_result(NULL, it->call, err);
    return rc ? rc : SMNEO_ITEROVER;
}

void smneo_iter_free(smneo_iter *it)
{
    if (!it)
        return;
    smneo_call_free(it->call);
    free(it);
}

int smneo_client_wait(smneo_result **out, smneo_client *c, const char *job_name, const smneo_wait_options *o,
                      smneo_error *err)
{
    if (out)
        *out = NULL;
    smneo_call *call;
    int rc = smneo_wait_new(&call, c, job_name, o, err);
    if (rc)
        return rc;
    for (;;) {
        smneo_step step;
        smneo_call_run(&step, call);
        if (step.kind == SMNEO_STEP_DONE)
            break;
        if (step.event == SMNEO_EVENT_STATUS && o && o->callback) {
            smneo_value v;
            smneo_result_root(&v, smneo_call_page(call));
            if (o->callback(&v, o->payload))
                smneo_call_cancel(call);
        }
    }
    rc = smneo_call_result(out, call, err);
    smneo_call_free(call);
    return rc;
}
