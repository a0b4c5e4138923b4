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

/* ---- configuration ------------------------------------------------------ */

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
        mode = cfg = smneo__profile_setting(c->profile, "defaults_mode");
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
        appid = cfg = smneo__profile_setting(c->profile, "sdk_ua_app_id");
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
        v = cfg = smneo__profile_setting(c->profile, "s3.addressing_style");
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
            char *ca = o->ca_bundle || smneo__getenv("AWS_CA_BUNDLE") ? NULL : smneo__profile_setting(c->profile, "ca_bundle");
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

void smneo__client_build_options(smneo_build_options *bo, const smneo_client *c, const smneo_operation *op, int64_t ts)
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
    smneo__client_build_options(&bo, c, NULL, timestamp);
    rc = smneo_protocol_build(out, operation, params, len, creds, &bo, err);
    smneo_credentials_free(creds);
    return rc;
}
