/* core/src/retry.c: the client's retry policy as botocore 1.43's: which errors are retried, the retry
 * quota, the back-off delays, MaxAttemptsReached and adaptive mode's rate limiter hooks */

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
    if (!mode && (mode = cfg = smneo__profile_setting(profile, "retry_mode")) != NULL)
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
            env = cfg = smneo__profile_setting(profile, "max_attempts");
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

/* ---- retry policy ------------------------------------------------------- */

int smneo__transport_code(int code)
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
    if (smneo__transport_code(rc))
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
    return !smneo__transport_code(rc) && e && smneo__is_throttling(e->service_code);
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
