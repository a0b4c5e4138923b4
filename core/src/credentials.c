/* The credential chain, in botocore's order:
 *
 *   explicit keys -> environment -> assume role (role_arn with source_profile
 *   or credential_source) -> (profile kinds we refuse: web identity, SSO) ->
 *   shared credentials file -> smneo__cred_credential_process -> config file ->
 *   container credentials -> EC2 instance metadata (IMDSv2)
 *
 * Resolution is a sans-I/O state machine: the static providers run inside
 * step (they read files and may run smneo__cred_credential_process), the HTTP providers
 * hand a request to the caller and continue when the response is fed back.
 * The chain caches the result; temporary credentials are re-resolved when
 * less than REFRESH_ADVISORY_S remain, and kept if that fails while more
 * than REFRESH_MANDATORY_S remain. */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config_internal.h"
#include "credentials_internal.h"
#include "crypto.h"
#include "internal.h"
#include "options_internal.h"
#include "protocol_internal.h"
#include "smneo/auth.h"
#include "smneo/log.h"
#include "smneo/model.h"
#include "smneo/protocol.h"
#include "smneo/transport.h"

#include <openssl/evp.h>
#include "chain_internal.h"

#define REFRESH_ADVISORY_S 300 /* refresh when fewer seconds than this remain */
#define REFRESH_MANDATORY_S 60 /* keep stale-ish credentials only above this */
#define STS_REFRESH_MANDATORY_S 600
#define STS_TIMEOUT_MS 60000   /* botocore's default connect/read timeouts */
#define MAX_ROLE_CHAIN 64
#define MFA_CODE_MAX 64
#define WAIT_FOR_OTHER_S 10    /* wait this long for another thread's resolution */
#define CONTAINER_TIMEOUT_MS 2000
#define IMDS_TOKEN_PATH "latest/api/token"
#define IMDS_CREDS_PATH "latest/meta-data/iam/security-credentials/"

extern char **environ;

/* ---- the chain -------------------------------------------------------------- */

int smneo_credential_chain_set_role_cache(smneo_credential_chain *c, const char *dir, smneo_error *err)
{
    if (!c)
        return smneo__error(err, SMNEO_EINVAL, "smneo_credential_chain_set_role_cache: chain is NULL");
    if (dir && !*dir)
        return smneo__error(err, SMNEO_EINVAL, "the role cache directory is empty: give a path, or NULL for none");
    char *copy = NULL;
    if (dir && !(copy = smneo__strdup(dir)))
        return smneo__error(err, SMNEO_ENOMEM, "out of memory");
    pthread_mutex_lock(&c->lock);
    free(c->role_cache);
    c->role_cache = copy;
    pthread_mutex_unlock(&c->lock);
    return 0;
}

const char *smneo_credential_chain_profile(const smneo_credential_chain *c)
{
    return c ? smneo__profile_name(c->profile) : NULL;
}

int smneo_credential_source_from_profile(const char *source)
{
    static const char *const names[] = {"shared-credentials-file", "config-file", "credential_process",
                                        "assume-role", "web-identity", "sso"};
    for (size_t i = 0; source && i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(source, names[i]))
            return 1;
    return 0;
}

void smneo__chain_set_retry(smneo_credential_chain *c, const smneo__retry_policy *p)
{
    pthread_mutex_lock(&c->lock);
    c->retry = *p;
    c->retry_set = 1;
    pthread_mutex_unlock(&c->lock);
}

/* The chain's retry policy (resolved once). */
static int chain_retry(smneo__retry_policy *out, smneo_credential_chain *c, smneo_error *err)
{
    pthread_mutex_lock(&c->lock);
    int set = c->retry_set;
    *out = c->retry;
    pthread_mutex_unlock(&c->lock);
    if (set)
        return 0;
    smneo__retry_policy p = {0};
    int rc = smneo__retry_resolve(&p, NULL, 0, 0, 1, c->profile, err);
    if (rc)
        return rc;
    smneo__chain_set_retry(c, &p);
    *out = p;
    return 0;
}

int smneo_credential_chain_new(smneo_credential_chain **out, const smneo_chain_options *opts, smneo_error *err)
{
    if (!out)
        return smneo__error(err, SMNEO_EINVAL, "smneo_credential_chain_new: out is NULL");
    *out = NULL;
    smneo_chain_options full;
    int orc = smneo__options_copy(&full, opts, &smneo__chain_options_layout, err);
    if (orc)
        return orc;
    opts = &full;
    int has_ak = opts->access_key_id && *opts->access_key_id;
    int has_sk = opts->secret_access_key && *opts->secret_access_key;
    if (has_ak != has_sk)
        return smneo__error(err, SMNEO_EINVAL,
                            "explicit credentials need both access_key_id and secret_access_key: "
                            "%s was given without %s",
                            has_ak ? "access_key_id" : "secret_access_key",
                            has_ak ? "secret_access_key" : "access_key_id");
    if (!has_ak && opts->session_token && *opts->session_token)
        return smneo__error(err, SMNEO_EINVAL,
                            "session_token was given without access_key_id and secret_access_key");
    smneo_credential_chain *c = calloc(1, sizeof *c);
    if (!c)
        return smneo__error(err, SMNEO_ENOMEM, "out of memory");
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->cond, NULL);
    int rc = 0;
    if (opts->profile && *opts->profile && !(c->profile = smneo__strdup(opts->profile)))
        rc = SMNEO_ENOMEM;
    if (rc == 0 && opts->region && *opts->region && !(c->region = smneo__strdup(opts->region)))
        rc = SMNEO_ENOMEM;
    c->mfa_cb = opts->mfa_cb;
    c->payload = opts->payload;
    if (rc == 0 && has_ak) {
        rc = smneo_credentials_new(&c->explicit_creds, opts->access_key_id, opts->secret_access_key,
                                   opts->session_token);
        if (rc == 0) {
            free(c->explicit_creds->source);
            c->explicit_creds->source = smneo__strdup("explicit");
            if (!c->explicit_creds->source)
                rc = SMNEO_ENOMEM;
        }
    }
    if (rc) {
        smneo_credential_chain_free(c);
        return smneo__error(err, rc, "out of memory");
    }
    *out = c;
    return 0;
}

void smneo_credential_chain_free(smneo_credential_chain *c)
{
    if (!c)
        return;
    free(c->profile);
    free(c->role_cache);
    free(c->region);
    smneo_credentials_free(c->explicit_creds);
    smneo_credentials_free(c->cached);
    pthread_cond_destroy(&c->cond);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

/* ---- small helpers ------------------------------------------------------------ */

/* Keys and tokens end up in headers (X-Amz-Security-Token, the IMDS token):
 * a control character (CR/LF above all) from a hostile or broken source
 * would split the header. Returns the name of the first bad field, or NULL. */
const char *smneo__cred_control_char_field(const char *ak, const char *sk, const char *token)
{
    const char *v[3] = {ak, sk, token};
    static const char *const names[3] = {"AccessKeyId", "SecretAccessKey", "Token"};
    for (int i = 0; i < 3; i++)
        for (const unsigned char *p = (const unsigned char *)v[i]; p && *p; p++)
            if (*p < 0x20 || *p == 0x7f)
                return names[i];
    return NULL;
}

int smneo__cred_make_creds(smneo_credentials **out, const char *ak, const char *sk, const char *token, int64_t expiration,
                      const char *source)
{
    int rc = smneo_credentials_new(out, ak, sk, token);
    if (rc)
        return rc;
    free((*out)->source);
    (*out)->source = smneo__strdup(source);
    (*out)->expiration = expiration;
    if (!(*out)->source) {
        smneo_credentials_free(*out);
        *out = NULL;
        return SMNEO_ENOMEM;
    }
    return 0;
}

static int days_from_civil(int y, int m, int d, int64_t *out)
{
    /* Howard Hinnant's algorithm; proleptic Gregorian calendar. */
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    *out = era * 146097 + doe - 719468;
    return 0;
}

static int digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return -1;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

/* ISO 8601 / RFC 3339: YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM|+HHMM).
 * A missing zone means UTC. Returns 0 and epoch seconds, or -1. */
int smneo__cred_parse_iso8601(const char *s, int64_t *out)
{
    int Y, M, D, h, m, sec = 0;
    const char *p = s;
    if (digits(&p, 4, &Y) || *p++ != '-' || digits(&p, 2, &M) || *p++ != '-' || digits(&p, 2, &D))
        return -1;
    if (*p != 'T' && *p != 't' && *p != ' ')
        return -1;
    p++;
    if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &m))
        return -1;
    if (*p == ':') {
        p++;
        if (digits(&p, 2, &sec))
            return -1;
        if (*p == '.' || *p == ',') {
            p++;
            if (!isdigit((unsigned char)*p))
                return -1;
            while (isdigit((unsigned char)*p))
                p++;
        }
    }
    int64_t offset = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p++ == '-' ? -1 : 1, oh, om = 0;
        if (digits(&p, 2, &oh))
            return -1;
        if (*p == ':')
            p++;
        if (*p && digits(&p, 2, &om))
            return -1;
        offset = sign * (oh * 3600 + om * 60);
    }
    if (*p != '\0' || M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60)
        return -1;
    int64_t days;
    days_from_civil(Y, M, D, &days);
    *out = days * 86400 + h * 3600 + m * 60 + sec - offset;
    return 0;
}

static void look(looked *l, const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void look(looked *l, const char *fmt, ...)
{
    if (l->b.len)
        smneo__buf_puts(&l->b, "; ");
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n >= 0 && (s = malloc((size_t)n + 1)) != NULL) {
        va_start(ap, fmt);
        vsnprintf(s, (size_t)n + 1, fmt, ap);
        va_end(ap);
        smneo__buf_puts(&l->b, s);
        free(s);
    }
}

/* ---- the resolution machine ------------------------------------------------------ */

int smneo_chain_resolution_new(smneo_chain_resolution **out, smneo_credential_chain *chain, int64_t now)
{
    if (!out || !chain)
        return SMNEO_EINVAL;
    *out = NULL;
    smneo_chain_resolution *r = calloc(1, sizeof *r);
    if (!r)
        return SMNEO_ENOMEM;
    r->chain = chain;
    r->now = now ? now : smneo__now();
    r->stage = ST_START;
    *out = r;
    return 0;
}

static void unregister(smneo_chain_resolution *r)
{
    if (!r->registered)
        return;
    pthread_mutex_lock(&r->chain->lock);
    r->chain->resolving = 0;
    pthread_cond_broadcast(&r->chain->cond);
    pthread_mutex_unlock(&r->chain->lock);
    r->registered = 0;
}

void smneo__cred_clear_response(smneo_chain_resolution *r)
{
    if (r->resp_body)
        smneo__wipe(r->resp_body, r->resp_len); /* the body may hold NULs: its length, not strlen */
    free(r->resp_body);
    r->resp_body = NULL;
    r->resp_len = 0;
    free(r->resp_error_type);
    free(r->resp_request_id);
    r->resp_error_type = r->resp_request_id = NULL;
    r->resp_status = 0;
    r->transport_error = 0;
    r->fed = 0;
}

void smneo__cred_clear_pending(smneo_chain_resolution *r)
{
    smneo__free_secret(r->pend_json);
    free(r->pend_region);
    r->pend_json = r->pend_region = NULL;
    r->pend_op = NULL;
}

void smneo_chain_resolution_free(smneo_chain_resolution *r)
{
    if (!r)
        return;
    unregister(r);
    smneo__cred_clear_response(r);
    free(r->profile);
    free(r->url);
    free(r->imds_base);
    free(r->imds_path);
    smneo__free_secret(r->imds_token);
    free(r->role);
    smneo__buf_free(&r->where.b);
    free(r->result_msg);
    free(r->result_code);
    free(r->result_request_id);
    smneo_credentials_free(r->result);
    for (size_t i = 0; i < r->nroles; i++) {
        free(r->roles[i].profile);
        free(r->roles[i].role_arn);
        free(r->roles[i].external_id);
        free(r->roles[i].session_name);
        free(r->roles[i].mfa_serial);
        free(r->roles[i].token_file);
        free(r->roles[i].sso_session);
        free(r->roles[i].sso_start_url);
        free(r->roles[i].sso_region);
        free(r->roles[i].sso_account_id);
        free(r->roles[i].sso_role_name);
        free(r->roles[i].sso_cache_path);
        smneo__json_wipe_delete(r->roles[i].sso_token);
    }
    free(r->roles);
    free(r->credential_source);
    smneo_credentials_free(r->source);
    free(r->sts_url);
    smneo__cred_clear_pending(r);
    free(r);
}

int smneo_chain_resolution_timeout_ms(const smneo_chain_resolution *r)
{
    return r && r->awaiting ? r->timeout_ms : 0;
}

long smneo_chain_resolution_delay_ms(const smneo_chain_resolution *r)
{
    return r && r->awaiting && r->stage == ST_ASSUME_WAIT ? r->delay_ms : 0;
}

/* Usable from the cache at time now: 2 = fresh, 1 = in the refresh window
 * but still usable, 0 = stale or absent. */
static int from_sts(const smneo_credentials *c)
{
    return c->source &&
           (!strcmp(c->source, "assume-role") || !strcmp(c->source, "web-identity") || !strcmp(c->source, "sso"));
}

static int cache_state(const smneo_credentials *c, int64_t now)
{
    if (!c)
        return 0;
    /* STS's credentials refresh in botocore's 15/10-minute windows; the
     * others (smneo__cred_credential_process, container, IMDS) in 5/1. */
    int64_t advisory = from_sts(c) ? STS_REFRESH_ADVISORY_S : REFRESH_ADVISORY_S;
    int64_t mandatory = from_sts(c) ? STS_REFRESH_MANDATORY_S : REFRESH_MANDATORY_S;
    if (!c->expiration || c->expiration - now > advisory)
        return 2;
    if (c->expiration - now > mandatory)
        return 1;
    return 0;
}

int smneo_credential_chain_peek(smneo_credentials **out, smneo_credential_chain *chain)
{
    if (!out || !chain)
        return SMNEO_EINVAL;
    *out = NULL;
    pthread_mutex_lock(&chain->lock);
    int state = cache_state(chain->cached, smneo__now());
    int rc = chain->cached ? smneo_credentials_copy(out, chain->cached) : 0;
    pthread_mutex_unlock(&chain->lock);
    return rc ? rc : state;
}

int smneo_credential_chain_seed(smneo_credential_chain *chain, const smneo_credentials *c, smneo_error *err)
{
    if (!chain || !c || !c->access_key_id || !*c->access_key_id || !c->secret_access_key || !*c->secret_access_key)
        return smneo__error(err, SMNEO_EINVAL, "smneo_credential_chain_seed: a chain and credentials with both keys "
                                               "are required");
    if (smneo__cred_control_char_field(c->access_key_id, c->secret_access_key, c->session_token))
        return smneo__error(err, SMNEO_EINVAL, "smneo_credential_chain_seed: the %s has control characters",
                            smneo__cred_control_char_field(c->access_key_id, c->secret_access_key, c->session_token));
    smneo_credentials *copy = NULL;
    if (smneo__cred_make_creds(&copy, c->access_key_id, c->secret_access_key, c->session_token, c->expiration,
                   c->source ? c->source : "explicit"))
        return smneo__error(err, SMNEO_ENOMEM, "out of memory");
    pthread_mutex_lock(&chain->lock);
    smneo_credentials_free(chain->cached);
    chain->cached = copy;
    pthread_mutex_unlock(&chain->lock);
    return 0;
}

/* Ends the resolution with credentials (rc 0, takes creds) or an error. */
int smneo__cred_finish(smneo_chain_resolution *r, int rc, smneo_credentials *creds, const char *msg)
{
    smneo_credential_chain *ch = r->chain;
    pthread_mutex_lock(&ch->lock);
    if (rc == 0 && creds) {
        smneo_credentials *copy = NULL;
        if (smneo_credentials_copy(&copy, creds) == 0) {
            smneo_credentials_free(ch->cached);
            ch->cached = copy;
        }
    } else if (cache_state(ch->cached, r->now) >= 1) {
        /* Refresh failed inside the advisory window: keep the old ones. */
        if (smneo_credentials_copy(&creds, ch->cached) == 0)
            rc = 0;
    }
    if (r->registered) {
        ch->resolving = 0;
        r->registered = 0;
        pthread_cond_broadcast(&ch->cond);
    }
    pthread_mutex_unlock(&ch->lock);
    r->stage = ST_DONE;
    r->result_rc = rc;
    if (rc == 0) {
        r->result = creds;
    } else {
        smneo_credentials_free(creds);
        r->result_msg = smneo__strdup(msg);
    }
    return rc;
}

static int finish_err(smneo_chain_resolution *r, smneo_error *e)
{
    int rc = smneo__cred_finish(r, e->code ? e->code : SMNEO_ERROR, NULL, e->message);
    smneo_error_clear(e);
    return rc;
}

int smneo__cred_finish_fmt(smneo_chain_resolution *r, int code, const char *fmt, ...)
{
    smneo_error e = SMNEO_ERROR_INIT;
    va_list ap;
    va_start(ap, fmt);
    smneo__verror(&e, code, fmt, ap);
    va_end(ap);
    return finish_err(r, &e);
}

/* Keys of profile kinds we do not support yet, with the feature's name. */
static const struct {
    const char *key;
    const char *feature;
} UNSUPPORTED_KEYS[] = {
    {"login_session", "a login session (aws login: login_session)"},
};

/* Web identity as botocore's AssumeRoleWithWebIdentityProvider reads it:
 * each of web_identity_token_file, role_arn and role_session_name from its
 * environment variable (AWS_WEB_IDENTITY_TOKEN_FILE, AWS_ROLE_ARN,
 * AWS_ROLE_SESSION_NAME; only with use_env), else the profile's key. Adds a
 * step when a token file is configured; 0 (nothing added) when not. */
static int plan_web_identity(smneo_chain_resolution *r, const smneo__awsconfig *cfg, const char *profile,
                             int use_env, smneo_error *err)
{
    static const char *const keys[3][2] = {{"web_identity_token_file", "AWS_WEB_IDENTITY_TOKEN_FILE"},
                                           {"role_arn", "AWS_ROLE_ARN"},
                                           {"role_session_name", "AWS_ROLE_SESSION_NAME"}};
    const char *v[3];
    int env_used = 0;
    for (int i = 0; i < 3; i++) {
        const char *e = use_env ? smneo__getenv(keys[i][1]) : NULL;
        v[i] = e ? e : smneo__profile_get(cfg, profile, keys[i][0]);
        env_used |= e != NULL && i == 0;
    }
    if (!v[0] || !*v[0])
        return 0;
    if (!v[1] || !*v[1])
        return smneo__error(err, SMNEO_ECREDENTIALS,
                            "web identity is configured (%s = %s) but no role is: set role_arn in profile '%s' or "
                            "AWS_ROLE_ARN",
                            env_used ? "AWS_WEB_IDENTITY_TOKEN_FILE" : "web_identity_token_file", v[0], profile);
    struct role_step *n = realloc(r->roles, (r->nroles + 1) * sizeof *n);
    if (!n)
        return smneo__error(err, SMNEO_ENOMEM, "out of memory");
    r->roles = n;
    struct role_step *st = &n[r->nroles++];
    memset(st, 0, sizeof *st);
    st->from_env = env_used;
    st->profile = smneo__strdup(profile);
    st->token_file = smneo__strdup(v[0]);
    st->role_arn = smneo__strdup(v[1]);
    st->session_name = smneo__strdup(v[2]);
    if (!st->profile || !st->token_file || !st->role_arn || (v[2] && !st->session_name))
        return smneo__error(err, SMNEO_ENOMEM, "out of memory");
    return 0;
}

/* IAM Identity Center as botocore's SSOProvider reads it: a profile with
 * sso_role_name or sso_account_id; with sso_session, the [sso-session NAME]
 * section supplies sso_start_url and sso_region (a value set in both must
 * agree). Adds a step; 0 (nothing added) for a profile without SSO. */
static int plan_sso(smneo_chain_resolution *r, const smneo__awsconfig *cfg, const char *profile, smneo_error *err)
{
    if (!smneo__profile_get(cfg, profile, "sso_role_name") && !smneo__profile_get(cfg, profile, "sso_account_id"))
        return 0;
    static const char *const keys[4] = {"sso_role_name", "sso_account_id", "sso_start_url", "sso_region"};
    const char *v[4];
    const char *session = smneo__profile_get(cfg, profile, "sso_session");
    char *section = session ? smneo__aprintf("sso-session %s", session) : NULL;
    if (session && !section)
        return smneo__error(err, SMNEO_ENOMEM, "out of memory");
    if (session && !smneo__config_has_section(cfg, section)) {
        int rc = smneo__error(err, SMNEO_ECREDENTIALS,
                              "profile '%s' names sso_session = %s, but the config file has no [sso-session %s] "
                              "section: add it (aws configure sso-session) or fix the name",
                              profile, session, session);
        free(section);
        return rc;
    }
    smneo_buf missing = SMNEO_BUF_INIT;
    for (int i = 0; i < 4; i++) {
        v[i] = smneo__profile_get(cfg, profile, keys[i]);
        const char *sv = section ? smneo__config_section_get(cfg, section, keys[i]) : NULL;
        if (sv && v[i] && strcmp(sv, v[i]) != 0) {
            int rc = smneo__error(err, SMNEO_ECREDENTIALS,
                                  "%s differs between profile '%s' (%s) and [sso-session %s] (%s): keep one", keys[i],
                                  profile, v[i], session, sv);
            free(section);
            smneo__buf_free(&missing);
            return rc;
        }
        if (sv)
            v[i] = sv;
        if (!v[i])
            smneo__buf_printf(&missing, "%s%s", missing.len ? ", " : "", keys[i]);
    }
    free(section);
    if (missing.len) {
        int rc = smneo__error(err, SMNEO_ECREDENTIALS,
                              "profile '%s' is configured for SSO but is missing %s%s", profile, missing.data,
                              session ? " (in the profile or its sso-session)" : "");
        smneo__buf_free(&missing);
        return rc;
    }
    smneo__buf_free(&missing);
    /* The token cache: ~/.aws/sso/cache/<sha1 of the session name, or of the
     * start URL for a legacy profile>.json */
    const char *home = smneo__getenv("HOME");
    const char *key = session ? session : v[2];
    unsigned char md[20];
    unsigned int mdlen = 0;
    char hex[41];
    if (!EVP_Digest(key, strlen(key), md, &mdlen, EVP_sha1(), NULL) || mdlen != 20)
        return smneo__error(err, SMNEO_ERROR, "SHA-1 is not available for the SSO token cache name");
    smneo__hex(hex, md, 20);
    struct role_step *n = realloc(r->roles, (r->nroles + 1) * sizeof *n);
    if (!n)
        return smneo__error(err, SMNEO_ENOMEM, "out of memory");
    r->roles = n;
    struct role_step *st = &n[r->nroles++];
    memset(st, 0, sizeof *st);
    st->sso = 1;
    st->profile = smneo__strdup(profile);
    st->role_arn = smneo__aprintf("%s in account %s", v[0], v[1]); /* for messages */
    st->sso_role_name = smneo__strdup(v[0]);
    st->sso_account_id = smneo__strdup(v[1]);
    st->sso_start_url = smneo__strdup(v[2]);
    st->sso_region = smneo__strdup(v[3]);
    st->sso_session = smneo__strdup(session);
    st->sso_cache_path = smneo__aprintf("%s/.aws/sso/cache/%s.json", home ? home : "", hex);
    if (!st->profile || !st->role_arn || !st->sso_role_name || !st->sso_account_id || !st->sso_start_url ||
        !st->sso_region || (session && !st->sso_session) || !st->sso_cache_path)
        return smneo__error(err, SMNEO_ENOMEM, "out of memory");
    return 0;
}

/* A profile kind smneo does not support yet: SMNEO_EUNSUPPORTED naming it. */
static int unsupported_profile(const smneo__awsconfig *cfg, const char *profile, const char *why, smneo_error *err)
{
    for (size_t i = 0; i < sizeof UNSUPPORTED_KEYS / sizeof UNSUPPORTED_KEYS[0]; i++)
        if (smneo__profile_get(cfg, profile, UNSUPPORTED_KEYS[i].key))
            return smneo__error(err, SMNEO_EUNSUPPORTED,
                                "profile '%s'%s uses %s, which smneo does not support yet; use a profile with "
                                "aws_access_key_id/aws_secret_access_key, or credential_process = aws configure "
                                "export-credentials --profile %s --format process",
                                profile, why, UNSUPPORTED_KEYS[i].feature, profile);
    return 0;
}

/* Keys of one profile: the credentials file, then smneo__cred_credential_process, then
 * the config file. 0 with *out set or NULL (none), or an error. */
static int profile_keys(smneo_chain_resolution *r, const smneo__awsconfig *cfg, const char *profile,
                        smneo_credentials **out, smneo_error *err)
{
    static const char *const sources[2] = {"shared-credentials-file", "config-file"};
    int rc = 0;
    *out = NULL;
    for (int pass = 0; pass < 3 && rc == 0 && !*out; pass++) {
        if (pass == 1) {
            const char *cmd = smneo__profile_get(cfg, profile, "credential_process");
            if (cmd && *cmd)
                rc = smneo__cred_credential_process(out, profile, cmd, r->now, err);
            else
                look(&r->where, "credential_process (not set in profile '%s')", profile);
            continue;
        }
        const char *(*get)(const smneo__awsconfig *, const char *, const char *) =
            pass == 0 ? smneo__credfile_profile_get : smneo__config_profile_get;
        const char *path = pass == 0 ? cfg->credentials_path : cfg->config_path;
        const char *ak = get(cfg, profile, "aws_access_key_id");
        const char *sk = get(cfg, profile, "aws_secret_access_key");
        if (ak && *ak && sk && *sk) {
            const char *tok = get(cfg, profile, "aws_session_token");
            if (!tok || !*tok)
                tok = get(cfg, profile, "aws_security_token");
            if (smneo__cred_make_creds(out, ak, sk, tok, 0, sources[pass / 2]))
                rc = smneo__error(err, SMNEO_ENOMEM, "out of memory");
        } else if ((ak && *ak) || (sk && *sk)) {
            rc = smneo__error(err, SMNEO_ECREDENTIALS,
                              "profile '%s' in %s sets %s but not %s: set both", profile,
                              path ? path : "(none)", (ak && *ak) ? "aws_access_key_id" : "aws_secret_access_key",
                              (ak && *ak) ? "aws_secret_access_key" : "aws_access_key_id");
        } else {
            look(&r->where, "profile '%s' in the %s file %s (no aws_access_key_id)", profile,
                 pass == 0 ? "credentials" : "config", path ? path : "(none)");
        }
    }
    return rc;
}

/* botocore's tests: an assume-role profile (role_arn, not web identity) and
 * static keys (either key present). */
static int has_role_config(const smneo__awsconfig *cfg, const char *profile)
{
    return smneo__profile_get(cfg, profile, "role_arn") && !smneo__profile_get(cfg, profile, "web_identity_token_file");
}

static int has_static_keys(const smneo__awsconfig *cfg, const char *profile)
{
    return smneo__profile_get(cfg, profile, "aws_access_key_id") ||
           smneo__profile_get(cfg, profile, "aws_secret_access_key");
}

static int add_role(smneo_chain_resolution *r, const smneo__awsconfig *cfg, const char *profile)
{
    struct role_step *n = realloc(r->roles, (r->nroles + 1) * sizeof *n);
    if (!n)
        return SMNEO_ENOMEM;
    r->roles = n;
    struct role_step *st = &n[r->nroles];
    memset(st, 0, sizeof *st);
    r->nroles++;
    const char *sess = smneo__profile_get(cfg, profile, "role_session_name");
    const char *ext = smneo__profile_get(cfg, profile, "external_id");
    const char *mfa = smneo__profile_get(cfg, profile, "mfa_serial");
    const char *dur = smneo__profile_get(cfg, profile, "duration_seconds");
    st->profile = smneo__strdup(profile);
    st->role_arn = smneo__strdup(smneo__profile_get(cfg, profile, "role_arn"));
    st->session_name = smneo__strdup(sess);
    st->external_id = smneo__strdup(ext);
    st->mfa_serial = smneo__strdup(mfa);
    if (dur) {
        /* botocore: int(value), ignored when it is not an integer. */
        char *end;
        long v = strtol(dur, &end, 10);
        while (*end && isspace((unsigned char)*end))
            end++;
        if (end != dur && !*end)
            st->duration = v;
    }
    if (!st->profile || !st->role_arn || (sess && !st->session_name) || (ext && !st->external_id) ||
        (mfa && !st->mfa_serial))
        return SMNEO_ENOMEM;
    return 0;
}

/* "a -> b -> c" from the visited profiles. */
static char *visited_text(char **visited, size_t n, const char *then)
{
    smneo_buf b = SMNEO_BUF_INIT;
    for (size_t i = 0; i < n; i++)
        smneo__buf_printf(&b, "%s'%s'", i ? " -> " : "", visited[i]);
    if (then)
        smneo__buf_printf(&b, " -> '%s'", then);
    smneo__buf_grow(&b, 0);
    return smneo__buf_detach(&b, NULL);
}

/* Walks role_arn / source_profile from profile as botocore's
 * AssumeRoleProvider does: each profile with a role is a role to assume; the
 * walk ends at a profile with static keys or no role (its own credentials:
 * the files or smneo__cred_credential_process), or at a credential_source. A profile seen
 * twice is a cycle, except a profile whose source_profile is itself and which
 * has static keys. Sets r->roles and either *out... r->source (source
 * credentials known now) or r->credential_source (container / IMDS). */
static int plan_roles(smneo_chain_resolution *r, const smneo__awsconfig *cfg, const char *profile,
                      smneo_credentials **out, smneo_error *err)
{
    *out = NULL;
    char *visited[MAX_ROLE_CHAIN + 1];
    size_t nvisited = 0;
    visited[nvisited++] = (char *)profile;
    const char *cur = profile;
    int rc = 0;
    for (;;) {
        if (add_role(r, cfg, cur))
            return smneo__error(err, SMNEO_ENOMEM, "out of memory");
        const char *sp = smneo__profile_get(cfg, cur, "source_profile");
        const char *cs = smneo__profile_get(cfg, cur, "credential_source");
        const char *arn = smneo__profile_get(cfg, cur, "role_arn");
        if (sp && cs)
            return smneo__error(err, SMNEO_ECREDENTIALS,
                                "profile '%s' (role %s) sets both source_profile and credential_source: keep one",
                                cur, arn);
        if (!sp && !cs)
            return smneo__error(err, SMNEO_ECREDENTIALS,
                                "profile '%s' sets role_arn = %s but neither source_profile nor credential_source: "
                                "add one to say which credentials assume the role",
                                cur, arn);
        if (cs) {
            if (strcmp(cs, "Environment") && strcmp(cs, "Ec2InstanceMetadata") && strcmp(cs, "EcsContainer"))
                return smneo__error(err, SMNEO_ECREDENTIALS,
                                    "profile '%s' (role %s): credential_source = %s is not valid: use Environment, "
                                    "Ec2InstanceMetadata or EcsContainer",
                                    cur, arn, cs);
            if (!(r->credential_source = smneo__strdup(cs)))
                return smneo__error(err, SMNEO_ENOMEM, "out of memory");
            if (!strcmp(cs, "Environment")) {
                const char *ak = smneo__getenv("AWS_ACCESS_KEY_ID"), *sk = smneo__getenv("AWS_SECRET_ACCESS_KEY");
                if (!ak || !sk)
                    return smneo__error(err, SMNEO_ECREDENTIALS,
                                        "profile '%s' (role %s) sets credential_source = Environment, but "
                                        "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not both set",
                                        cur, arn);
                const char *tok = smneo__getenv("AWS_SESSION_TOKEN");
                if (!tok)
                    tok = smneo__getenv("AWS_SECURITY_TOKEN");
                if (smneo__cred_make_creds(&r->source, ak, sk, tok, 0, "environment"))
                    return smneo__error(err, SMNEO_ENOMEM, "out of memory");
            }
            return 0;
        }
        if (!smneo__profile_exists(cfg, sp))
            return smneo__error(err, SMNEO_ECREDENTIALS,
                                "the source_profile '%s' of profile '%s' (role %s) does not exist: create it or fix "
                                "the name",
                                sp, cur, arn);
        int seen = 0;
        for (size_t i = 0; i < nvisited; i++)
            seen |= !strcmp(visited[i], sp);
        if (seen && (strcmp(sp, cur) != 0 || !has_static_keys(cfg, sp))) {
            char *path = visited_text(visited, nvisited, sp);
            rc = smneo__error(err, SMNEO_ECREDENTIALS,
                              "the profiles form a cycle through source_profile: %s; profile '%s' is visited twice. "
                              "End the chain at a profile with keys or a credential_source",
                              path ? path : "", sp);
            free(path);
            return rc;
        }
        if (nvisited >= MAX_ROLE_CHAIN)
            return smneo__error(err, SMNEO_ECREDENTIALS, "profile '%s': more than %d roles chained through "
                                "source_profile", profile, MAX_ROLE_CHAIN);
        visited[nvisited++] = (char *)sp;
        if (!has_static_keys(cfg, sp) && smneo__profile_get(cfg, sp, "web_identity_token_file"))
            return plan_web_identity(r, cfg, sp, 0, err); /* a web identity source: assumed first */
        if (!has_static_keys(cfg, sp) &&
            (smneo__profile_get(cfg, sp, "sso_role_name") || smneo__profile_get(cfg, sp, "sso_account_id")))
            return plan_sso(r, cfg, sp, err); /* an SSO source: its role credentials first */
        if (has_static_keys(cfg, sp) || !has_role_config(cfg, sp)) {
            /* The source profile's own credentials (never the environment). */
            char *why = smneo__aprintf(" (the source_profile of '%s')", cur);
            rc = unsupported_profile(cfg, sp, why ? why : "", err);
            free(why);
            if (rc == 0)
                rc = profile_keys(r, cfg, sp, &r->source, err);
            if (rc == 0 && !r->source)
                rc = smneo__error(err, SMNEO_ECREDENTIALS,
                                  "the source_profile '%s' of profile '%s' (role %s) has no credentials: give it "
                                  "aws_access_key_id/aws_secret_access_key, a credential_process or a role",
                                  sp, cur, arn);
            return rc;
        }
        cur = sp;
    }
}

/* Runs explicit, environment, files and smneo__cred_credential_process. Returns 0 with
 * *out set (found) or NULL (continue), or a negative error (err set). */
static int profile_providers(smneo_chain_resolution *r, smneo_credentials **out, smneo_error *err)
{
    smneo_credential_chain *ch = r->chain;
    *out = NULL;
    if (ch->explicit_creds)
        return smneo_credentials_copy(out, ch->explicit_creds) ? smneo__error(err, SMNEO_ENOMEM, "out of memory")
                                                                : 0;
    /* An explicit profile option skips the environment keys (botocore). */
    if (ch->profile) {
        look(&r->where, "environment variables (skipped: a profile was named explicitly)");
    } else {
        const char *ak = smneo__getenv("AWS_ACCESS_KEY_ID"), *sk = smneo__getenv("AWS_SECRET_ACCESS_KEY");
        if (ak && sk) {
            const char *tok = smneo__getenv("AWS_SESSION_TOKEN");
            if (!tok)
                tok = smneo__getenv("AWS_SECURITY_TOKEN");
            return smneo__cred_make_creds(out, ak, sk, tok, 0, "environment") ? smneo__error(err, SMNEO_ENOMEM, "out of memory")
                                                                   : 0;
        }
        if (ak || sk)
            return smneo__error(err, SMNEO_ECREDENTIALS,
                                "%s is set but %s is not: set both or unset both", ak ? "AWS_ACCESS_KEY_ID"
                                : "AWS_SECRET_ACCESS_KEY", ak ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
        look(&r->where, "environment variables (AWS_ACCESS_KEY_ID not set)");
    }
    smneo__awsconfig *cfg = NULL;
    int rc = smneo__awsconfig_load(&cfg, err);
    if (rc)
        return rc;
    const char *profile = smneo__profile_name(ch->profile);
    r->profile = smneo__strdup(profile);
    if (!r->profile) {
        smneo__awsconfig_free(cfg);
        return smneo__error(err, SMNEO_ENOMEM, "out of memory");
    }
    const char *origin = smneo__profile_origin(ch->profile);
    int named = origin != NULL;
    char *files = smneo__awsconfig_describe(cfg);
    if (!files) {
        smneo__awsconfig_free(cfg);
        return smneo__error(err, SMNEO_ENOMEM, "out of memory");
    }
    if (!smneo__profile_exists(cfg, profile)) {
        if (named) {
            rc = smneo__error(err, SMNEO_ECREDENTIALS,
                              "profile '%s' (%s) was not found in %s: create it or name an existing profile",
                              profile, origin, files);
            free(files);
            smneo__awsconfig_free(cfg);
            return rc;
        }
        /* Web identity from the environment needs no profile. */
        rc = plan_web_identity(r, cfg, profile, !ch->profile, err);
        if (!r->nroles && !rc)
            look(&r->where, "profile '%s' in %s (no such profile)", profile, files);
        free(files);
        smneo__awsconfig_free(cfg);
        return rc;
    }
    /* botocore's order: assume role, web identity (the environment's
     * variables unless a profile was named explicitly, else the profile's
     * keys), then the profile's own keys. */
    if (has_role_config(cfg, profile))
        rc = plan_roles(r, cfg, profile, out, err);
    else if ((rc = plan_web_identity(r, cfg, profile, !ch->profile, err)) != 0 || r->nroles)
        ;
    else if ((rc = plan_sso(r, cfg, profile, err)) != 0 || r->nroles)
        ;
    else if ((rc = unsupported_profile(cfg, profile, "", err)) == 0)
        rc = profile_keys(r, cfg, profile, out, err);
    free(files);
    smneo__awsconfig_free(cfg);
    return rc;
}

/* botocore's OriginalEC2Provider: AWS_CREDENTIAL_FILE, the EC2 API tools'
 * file of "key=value" lines (AWSAccessKeyId, AWSSecretKey; no session
 * token). A file that cannot be opened is an error (botocore's
 * ConfigNotFound); a file without AWSAccessKeyId is passed over. */
static int ec2_credential_file(smneo_chain_resolution *r, smneo_credentials **out, smneo_error *err)
{
    const char *var = smneo__getenv("AWS_CREDENTIAL_FILE");
    if (!var) {
        look(&r->where, "AWS_CREDENTIAL_FILE (not set)");
        return 0;
    }
    char *path = smneo__expand_user(var);
    if (!path)
        return smneo__error(err, SMNEO_ENOMEM, "out of memory");
    smneo_buf b = SMNEO_BUF_SECRET_INIT;
    int rc = 0;
    if (smneo__read_secret_file(&b, path) != 0) {
        rc = errno == ENOMEM ? smneo__error(err, SMNEO_ENOMEM, "out of memory")
                             : smneo__error(err, SMNEO_ECREDENTIALS,
                                            "AWS_CREDENTIAL_FILE names %s, which cannot be read (%s): fix the path "
                                            "or unset AWS_CREDENTIAL_FILE",
                                            path, strerror(errno));
        free(path);
        return rc;
    }
    /* Lines with '=': key and value stripped, the last one wins. Pointers
     * into b's data, NUL-terminated in place. */
    char *ak = NULL, *sk = NULL;
    char *text = b.data ? b.data : "";
    for (char *line = text; *line;) {
        char *end = line + strcspn(line, "\n");
        char *next = *end ? end + 1 : end;
        *end = '\0';
        char *eq = strchr(line, '=');
        if (eq) {
            *eq = '\0';
            char *k = line, *v = eq + 1;
            while (*k && isspace((unsigned char)*k))
                k++;
            for (char *e = k + strlen(k); e > k && isspace((unsigned char)e[-1]); e--)
                e[-1] = '\0';
            while (*v && isspace((unsigned char)*v))
                v++;
            for (char *e = v + strlen(v); e > v && isspace((unsigned char)e[-1]); e--)
                e[-1] = '\0';
            if (!strcmp(k, "AWSAccessKeyId"))
                ak = v;
            else if (!strcmp(k, "AWSSecretKey"))
                sk = v;
        }
        line = next;
    }
    if (!ak)
        look(&r->where, "AWS_CREDENTIAL_FILE %s (no AWSAccessKeyId)", path);
    else if (!sk)
        rc = smneo__error(err, SMNEO_ECREDENTIALS, "AWS_CREDENTIAL_FILE %s has AWSAccessKeyId but no AWSSecretKey",
                          path);
    else if (smneo__cred_control_char_field(ak, sk, NULL))
        rc = smneo__error(err, SMNEO_ECREDENTIALS, "AWS_CREDENTIAL_FILE %s: the %s has control characters", path,
                          smneo__cred_control_char_field(ak, sk, NULL));
    else if (smneo__cred_make_creds(out, ak, sk, NULL, 0, "ec2-credentials-file"))
        rc = smneo__error(err, SMNEO_ENOMEM, "out of memory");
    smneo__buf_free(&b); /* wiped */
    free(path);
    return rc;
}

/* botocore's BotoProvider: the [Credentials] section of BOTO_CONFIG, else of
 * /etc/boto.cfg, then ~/.boto (the first file that exists and has
 * aws_access_key_id). */
static int boto2_config(smneo_chain_resolution *r, smneo_credentials **out, smneo_error *err)
{
    const char *env = smneo__getenv("BOTO_CONFIG");
    const char *names[2] = {env ? env : "/etc/boto.cfg", env ? NULL : "~/.boto"};
    for (int i = 0; i < 2 && names[i]; i++) {
        char *path = smneo__expand_user(names[i]);
        if (!path)
            return smneo__error(err, SMNEO_ENOMEM, "out of memory");
        smneo__ini *ini = NULL;
        int exists = 0;
        int rc = smneo__ini_load(&ini, &exists, path, "boto", err);
        const char *ak = ini ? smneo__ini_get(ini, "Credentials", "aws_access_key_id") : NULL;
        const char *sk = ini ? smneo__ini_get(ini, "Credentials", "aws_secret_access_key") : NULL;
        if (!rc && ak) {
            if (!sk)
                rc = smneo__error(err, SMNEO_ECREDENTIALS,
                                  "the boto config file %s has aws_access_key_id but no aws_secret_access_key in "
                                  "[Credentials]",
                                  path);
            else if (smneo__cred_control_char_field(ak, sk, NULL))
                rc = smneo__error(err, SMNEO_ECREDENTIALS, "the boto config file %s: the %s has control characters",
                                  path, smneo__cred_control_char_field(ak, sk, NULL));
            else if (smneo__cred_make_creds(out, ak, sk, NULL, 0, "boto-config"))
                rc = smneo__error(err, SMNEO_ENOMEM, "out of memory");
        } else if (!rc) {
            look(&r->where, "boto config %s (%s)", path, exists ? "no [Credentials] keys" : "not found");
        }
        smneo__ini_free(ini);
        free(path);
        if (rc || *out)
            return rc;
    }
    return 0;
}

/* The providers that need no network: the profile's (and the environment
 * before it), then botocore's legacy ones. */
static int static_providers(smneo_chain_resolution *r, smneo_credentials **out, smneo_error *err)
{
    int rc = profile_providers(r, out, err);
    if (rc || *out || r->nroles)
        return rc;
    rc = ec2_credential_file(r, out, err);
    if (rc || *out)
        return rc;
    return boto2_config(r, out, err);
}

const char *smneo__cred_transport_name(int code)
{
    switch (code) {
    case SMNEO_ECONNECT: return "connection failed";
    case SMNEO_ECLOSED: return "connection closed without a complete response";
    case SMNEO_EDNS: return "name resolution failed";
    case SMNEO_ETLS: return "TLS failed";
    case SMNEO_ETIMEOUT: return "timed out";
    case SMNEO_EUNSUPPORTED: return "no HTTP transport";
    default: return "transport error";
    }
}

static int emit(smneo_chain_resolution *r, smneo_credentials **creds_out, smneo_error *err)
{
    if (r->result_rc == 0) {
        int rc = smneo_credentials_copy(creds_out, r->result);
        return rc ? smneo__error(err, rc, "out of memory") : 0;
    }
    int rc = smneo__error(err, r->result_rc, "%s", r->result_msg ? r->result_msg : "credential resolution failed");
    if (err && r->result_code) {
        err->service_code = smneo__strdup(r->result_code);
        err->http_status = r->result_status;
        err->request_id = smneo__strdup(r->result_request_id);
    }
    return rc;
}

/* ---- the AWS CLI's assumed-role cache ------------------------------------- */

/* A string as Python's json.dumps writes it (ensure_ascii: \uXXXX for
 * anything outside ASCII, surrogate pairs above U+FFFF). */
static void py_json_string(smneo_buf *b, const char *s)
{
    smneo__buf_append(b, "\"", 1);
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned c = *p, cp = c;
        int n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
        if (n > 1) {
            cp = c & (0x7f >> n);
            for (int k = 1; k < n; k++) {
                if ((p[k] & 0xc0) != 0x80) {
                    n = 1, cp = 0xfffd;
                    break;
                }
                cp = (cp << 6) | (p[k] & 0x3f);
            }
        }
        p += n;
        char esc[16];
        if (cp == '"' || cp == '\\') {
            esc[0] = '\\', esc[1] = (char)cp, esc[2] = 0;
        } else if (cp == '\n' || cp == '\r' || cp == '\t' || cp == '\b' || cp == '\f') {
            esc[0] = '\\';
            esc[1] = cp == '\n' ? 'n' : cp == '\r' ? 'r' : cp == '\t' ? 't' : cp == '\b' ? 'b' : 'f';
            esc[2] = 0;
        } else if (cp < 0x20 || (cp >= 0x7f && cp <= 0xffff)) {
            snprintf(esc, sizeof esc, "\\u%04x", cp);
        } else if (cp > 0xffff) {
            cp -= 0x10000;
            snprintf(esc, sizeof esc, "\\u%04x\\u%04x", 0xd800 + (cp >> 10), 0xdc00 + (cp & 0x3ff));
        } else {
            esc[0] = (char)cp, esc[1] = 0;
        }
        smneo__buf_append(b, esc, strlen(esc));
    }
    smneo__buf_append(b, "\"", 1);
}

/* DIR/<key>.json for an AssumeRole step, as botocore's
 * AssumeRoleCredentialFetcher names it: the SHA-1 of json.dumps(args,
 * sort_keys=True) of its AssumeRole arguments without the token code (and
 * without a generated session name). AssumeRoleWithWebIdentity the same way
 * (RoleArn and the RoleSessionName given; never the token), but only when
 * web identity is the chain's own source (the profile's or the
 * environment's): the AWS CLI sets its cache on the assume-role and
 * assume-role-with-web-identity providers, and a web identity profile that
 * is a role's source_profile is resolved without one. NULL without a cache. */
static char *role_cache_path(const smneo_chain_resolution *r, const struct role_step *st)
{
    pthread_mutex_lock(&r->chain->lock);
    char *dir = r->chain->role_cache ? smneo__strdup(r->chain->role_cache) : NULL;
    pthread_mutex_unlock(&r->chain->lock);
    if (!dir || (st->token_file && st != &r->roles[0]) || st->sso)
        return free(dir), NULL;
    smneo_buf b = SMNEO_BUF_INIT;
    const char *sep = "{";
    char num[32];
    /* sorted: DurationSeconds, ExternalId, RoleArn, RoleSessionName, SerialNumber */
    if (st->duration) {
        snprintf(num, sizeof num, "%ld", st->duration);
        smneo__buf_append(&b, sep, strlen(sep));
        smneo__buf_append(&b, "\"DurationSeconds\": ", 19);
        smneo__buf_append(&b, num, strlen(num));
        sep = ", ";
    }
    const char *names[4] = {"ExternalId", "RoleArn", "RoleSessionName", "SerialNumber"};
    const char *values[4] = {st->external_id, st->role_arn, st->session_name, st->mfa_serial};
    for (int i = 0; i < 4; i++) {
        if (!values[i])
            continue;
        smneo__buf_append(&b, sep, strlen(sep));
        py_json_string(&b, names[i]);
        smneo__buf_append(&b, ": ", 2);
        py_json_string(&b, values[i]);
        sep = ", ";
    }
    smneo__buf_append(&b, "}", 1);
    unsigned char md[20];
    unsigned int mdlen = 0;
    char hex[41];
    char *path = NULL;
    if (!b.failed && EVP_Digest(b.data, b.len, md, &mdlen, EVP_sha1(), NULL) && mdlen == 20) {
        smneo__hex(hex, md, 20);
        path = smneo__aprintf("%s/%s.json", dir, hex);
    }
    smneo__buf_free(&b);
    free(dir);
    return path;
}

/* Credentials cached for a step with more than botocore's 15 minutes left,
 * or NULL (no cache, no file, a file that is not a cached answer). */
static smneo_credentials *role_cache_read(const smneo_chain_resolution *r, const struct role_step *st)
{
    char *path = role_cache_path(r, st);
    if (!path)
        return NULL;
    smneo_buf b = SMNEO_BUF_SECRET_INIT;
    smneo_credentials *out = NULL;
    if (smneo__read_secret_file(&b, path) == 0 && b.data) {
        cJSON *root = cJSON_ParseWithLength(b.data, b.len);
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(root, "Credentials");
        const char *ak = smneo__cred_json_string(c, "AccessKeyId"), *sk = smneo__cred_json_string(c, "SecretAccessKey");
        const char *tok = smneo__cred_json_string(c, "SessionToken"), *exp = smneo__cred_json_string(c, "Expiration");
        char when[64];
        int64_t t = 0;
        /* botocore writes strftime('%Y-%m-%dT%H:%M:%S%Z'): "...UTC"; ISO 8601 too. */
        if (exp && strlen(exp) < sizeof when - 1) {
            snprintf(when, sizeof when, "%s", exp);
            size_t n = strlen(when);
            if (n > 3 && !strcmp(when + n - 3, "UTC"))
                strcpy(when + n - 3, "Z");
        }
        if (ak && *ak && sk && *sk && tok && *tok && exp && smneo__cred_parse_iso8601(when, &t) == 0 &&
            t - smneo__now() >= STS_REFRESH_ADVISORY_S && !smneo__cred_control_char_field(ak, sk, tok)) {
            if (smneo__cred_make_creds(&out, ak, sk, tok, t, st->token_file ? "web-identity" : "assume-role"))
                out = NULL;
            else
                smneo_log(SMNEO_LOG_DEBUG, "profile '%s': role %s from the cache %s", st->profile, st->role_arn,
                          path);
        }
        smneo__cred_json_wipe_delete(root);
    }
    smneo__buf_free(&b);
    free(path);
    return out;
}

/* Writes an AssumeRole answer (the result's members, Expiration as botocore
 * serialises it, Credentials.AccountId from the assumed role's ARN) to the
 * cache. Failures are logged: the credentials are still used. */
static void role_cache_write(const smneo_chain_resolution *r, const struct role_step *st, const cJSON *answer)
{
    char *path = role_cache_path(r, st);
    if (!path)
        return;
    cJSON *doc = cJSON_Duplicate(answer, 1);
    cJSON *c = cJSON_GetObjectItemCaseSensitive(doc, "Credentials");
    const cJSON *exp = cJSON_GetObjectItemCaseSensitive(c, "Expiration");
    char *text = NULL;
    if (doc && cJSON_IsNumber(exp)) {
        time_t tt = (time_t)exp->valuedouble;
        struct tm tm;
        char when[40];
        gmtime_r(&tt, &tm);
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SUTC", &tm);
        cJSON_ReplaceItemInObjectCaseSensitive(c, "Expiration", cJSON_CreateString(when));
        const char *arn = smneo__cred_json_string(cJSON_GetObjectItemCaseSensitive(doc, "AssumedRoleUser"), "Arn");
        char account[64] = "";
        /* arn:PARTITION:sts::ACCOUNT:assumed-role/... */
        const char *p = arn;
        for (int i = 0; p && i < 4; i++)
            p = strchr(p, ':') ? strchr(p, ':') + 1 : NULL;
        if (p && strchr(p, ':') && (size_t)(strchr(p, ':') - p) < sizeof account)
            snprintf(account, sizeof account, "%.*s", (int)(strchr(p, ':') - p), p);
        if (*account)
            cJSON_AddStringToObject(c, "AccountId", account);
        text = cJSON_PrintUnformatted(doc);
    }
    int ok = 0;
    if (text) {
        struct stat sb;
        char *dir = smneo__strndup(path, (size_t)(strrchr(path, '/') - path));
        /* the directory as os.makedirs makes it (each missing level) */
        for (char *q = dir ? dir + 1 : NULL; q && *q; q++) {
            if (*q == '/') {
                *q = '\0';
                if (stat(dir, &sb) != 0)
                    mkdir(dir, 0700);
                *q = '/';
            }
        }
        if (dir && stat(dir, &sb) != 0)
            mkdir(dir, 0700);
        free(dir);
        ok = smneo__cred_write_file_atomic(path, text) == 0;
        smneo__wipe(text, strlen(text));
        cJSON_free(text);
    }
    if (!ok)
        smneo_log(SMNEO_LOG_WARN, "profile '%s': the assumed role's credentials could not be cached in %s",
                  st->profile, path);
    smneo__json_wipe_delete(doc);
    free(path);
}

/* Builds the outstanding request (again, for a retry: signed anew). */
int smneo__cred_pending_build(smneo_chain_resolution *r, smneo_request **req_out, smneo_error *e)
{
    smneo_build_options bo = SMNEO_BUILD_OPTIONS_INIT;
    bo.endpoint_url = r->sts_url;
    bo.region = r->pend_region;
    bo.timestamp = smneo__now();
    return smneo_protocol_build_operation(req_out, r->pend_op, r->pend_json, strlen(r->pend_json),
                                          r->pend_signed ? r->source : NULL, &bo, e);
}

/* The request of roles[role_next]: AssumeRole signed with r->source, or
 * AssumeRoleWithWebIdentity (unsigned) with the token file's token. */
static int assume_request(smneo_chain_resolution *r, smneo_request **req_out, smneo_error *err)
{
    struct role_step *st = &r->roles[r->role_next];
    int web = st->token_file != NULL;
    char who[320];
    smneo__cred_step_who(st, who, sizeof who);
    const smneo_operation *op =
        smneo_service_operation(smneo_model_service("sts"), web ? "AssumeRoleWithWebIdentity" : "AssumeRole");
    char *region = smneo__cred_sts_region(r);
    if (!region || !op) {
        free(region);
        return smneo__error(err, SMNEO_ENOMEM, "out of memory");
    }
    free(r->sts_url);
    r->sts_url = NULL;
    smneo_endpoint_options eo = SMNEO_ENDPOINT_OPTIONS_INIT;
    eo.service = "sts";
    eo.region = region;
    eo.profile = r->profile;
    smneo_error e = SMNEO_ERROR_INIT;
    int rc = smneo_endpoint_resolve(&r->sts_url, &eo, &e);
    if (rc) {
        rc = smneo__error(err, SMNEO_ECREDENTIALS, "%s (role %s): no STS endpoint: %s", who, st->role_arn,
                          e.message ? e.message : "");
        smneo_error_clear(&e);
        free(region);
        return rc;
    }
    /* Parameters as botocore's AssumeRoleCredentialFetcher sends them. */
    cJSON *p = cJSON_CreateObject();
    char code[MFA_CODE_MAX] = "";
    char generated[64];
    rc = p ? 0 : SMNEO_ENOMEM;
    if (!rc)
        rc = smneo__cred_add_string(p, "RoleArn", st->role_arn);
    if (!rc && st->session_name) {
        rc = smneo__cred_add_string(p, "RoleSessionName", st->session_name);
    } else if (!rc) {
        snprintf(generated, sizeof generated, "botocore-session-%lld", (long long)smneo__now());
        rc = smneo__cred_add_string(p, "RoleSessionName", generated);
    }
    char *token = NULL;
    if (!rc && web) {
        rc = smneo__cred_read_token_file(&token, st, err);
        if (rc) {
            smneo__json_wipe_delete(p);
            free(region);
            return rc;
        }
        rc = smneo__cred_add_string(p, "WebIdentityToken", token);
        smneo__free_secret(token);
    }
    if (!rc)
        rc = smneo__cred_add_string(p, "ExternalId", st->external_id);
    if (!rc && st->duration && !cJSON_AddNumberToObject(p, "DurationSeconds", (double)st->duration))
        rc = SMNEO_ENOMEM;
    if (!rc && st->mfa_serial) {
        if (!r->chain->mfa_cb) {
            cJSON_Delete(p);
            free(region);
            return smneo__error(err, SMNEO_ECREDENTIALS,
                                "profile '%s' (role %s) sets mfa_serial = %s, but no MFA code callback was given: "
                                "pass mfa_token_callback (Python), mfa_token (Lua) or smneo_chain_options.mfa_cb (C)",
                                st->profile, st->role_arn, st->mfa_serial);
        }
        int cb = r->chain->mfa_cb(code, sizeof code, st->mfa_serial, st->profile, r->chain->payload);
        code[sizeof code - 1] = '\0';
        if (cb) {
            smneo__wipe(code, sizeof code);
            cJSON_Delete(p);
            free(region);
            return smneo__error(err, SMNEO_ECREDENTIALS,
                                "profile '%s' (role %s): the MFA code callback gave no code for %s (it returned "
                                "non-zero)",
                                st->profile, st->role_arn, st->mfa_serial);
        }
        rc = smneo__cred_add_string(p, "SerialNumber", st->mfa_serial);
        if (!rc)
            rc = smneo__cred_add_string(p, "TokenCode", code);
        smneo__wipe(code, sizeof code);
    }
    char *json = rc ? NULL : cJSON_PrintUnformatted(p);
    smneo__json_wipe_delete(p);
    if (!json) {
        free(region);
        return smneo__error(err, SMNEO_ENOMEM, "out of memory");
    }
    /* STS's global endpoint signs for us-east-1. */
    smneo__cred_clear_pending(r);
    r->pend_op = op;
    r->pend_json = json;
    r->pend_region = smneo__strdup(!strcmp(region, "aws-global") ? "us-east-1" : region);
    r->pend_signed = !web; /* AssumeRoleWithWebIdentity is unauthenticated: sent unsigned. */
    r->pend_sts = 1;
    free(region);
    rc = r->pend_region ? smneo__cred_pending_build(r, req_out, &e) : SMNEO_ENOMEM;
    if (rc) {
        /* Validation messages quote values: never the token's. */
        const char *detail = e.message ? e.message : "";
        if (e.field && !strcmp(e.field, "WebIdentityToken"))
            detail = "the token in the file is not one STS accepts (1 to 20000 characters)";
        rc = smneo__error(err, rc == SMNEO_EVALIDATION ? SMNEO_ECREDENTIALS : rc,
                          "%s (role %s): cannot build the %s request: %s", who, st->role_arn, op->name, detail);
        smneo_error_clear(&e);
    }
    return rc;
}

/* Temporary credentials from an STS or SSO answer: names[] are the
 * wrapper, key id, secret, token and expiration members; the expiration is
 * divided by exp_unit. NULL with *out, or what was wrong. */
const char *smneo__cred_answer_creds(smneo_credentials **out, const cJSON *root, const char *const names[5],
                                double exp_unit, const char *source)
{
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(root, names[0]);
    const char *ak = smneo__cred_json_string(c, names[1]), *sk = smneo__cred_json_string(c, names[2]), *tok = smneo__cred_json_string(c, names[3]);
    const cJSON *exp = cJSON_GetObjectItemCaseSensitive(c, names[4]);
    if (!ak || !*ak || !sk || !*sk || !tok || !*tok)
        return "the answer has no complete credentials";
    if (smneo__cred_control_char_field(ak, sk, tok))
        return "the answer's credentials contain control characters";
    if (!cJSON_IsNumber(exp))
        return "the answer's expiration is missing or not a time";
    if (smneo__cred_make_creds(out, ak, sk, tok, (int64_t)(exp->valuedouble / exp_unit), source))
        return "out of memory";
    return NULL;
}

/* The fed answer as a response for the protocol parser (status, the
 * headers it reads, body). */
int smneo__cred_fed_response(smneo_chain_resolution *r, smneo_response **out)
{
    smneo_response *resp = NULL;
    int rc = smneo_response_new(&resp, r->resp_status);
    if (rc == 0 && r->resp_error_type)
        rc = smneo_response_add_header(resp, "x-amzn-ErrorType", 16, r->resp_error_type, strlen(r->resp_error_type));
    if (rc == 0 && r->resp_request_id)
        rc = smneo_response_add_header(resp, "x-amzn-RequestId", 16, r->resp_request_id, strlen(r->resp_request_id));
    if (rc == 0 && r->resp_len)
        rc = smneo_response_append_body(resp, r->resp_body, r->resp_len);
    if (rc) {
        smneo_response_free(resp);
        resp = NULL;
    }
    *out = resp;
    return rc;
}

/* Reads the answer to AssumeRole: 0 with *out, or -1 having finished the
 * resolution with the error (naming the profile and the role). */
static int assume_answer(smneo_chain_resolution *r, smneo_credentials **out)
{
    struct role_step *st = &r->roles[r->role_next];
    int web = st->token_file != NULL;
    char who[320];
    smneo__cred_step_who(st, who, sizeof who);
    *out = NULL;
    if (r->transport_error) {
        smneo__cred_finish_fmt(r, SMNEO_ECREDENTIALS, "%s could not assume role %s: STS at %s: %s", who, st->role_arn,
                   r->sts_url, smneo__cred_transport_name(r->transport_error));
        return -1;
    }
    const smneo_operation *op =
        smneo_service_operation(smneo_model_service("sts"), web ? "AssumeRoleWithWebIdentity" : "AssumeRole");
    smneo_response *resp = NULL;
    smneo_result *res = NULL;
    smneo_error e = SMNEO_ERROR_INIT;
    int rc = smneo__cred_fed_response(r, &resp);
    if (rc == 0)
        rc = smneo__protocol_parse_owned(&res, op, resp, &e); /* takes resp */
    smneo__cred_clear_response(r);
    if (rc) {
        /* The service's words (never a secret: STS does not echo them). */
        free(r->result_code);
        free(r->result_request_id);
        r->result_code = smneo__strdup(e.service_code);
        r->result_request_id = smneo__strdup(e.request_id);
        r->result_status = e.http_status;
        if (e.service_code)
            smneo__cred_finish_fmt(r, SMNEO_ECREDENTIALS, "%s could not assume role %s: STS %s failed: %s: %s", who,
                       st->role_arn, op->name, e.service_code, e.message ? e.message : "");
        else
            smneo__cred_finish_fmt(r, SMNEO_ECREDENTIALS, "%s could not assume role %s: %s", who, st->role_arn,
                       e.message ? e.message : "STS failed");
        smneo_error_clear(&e);
        return -1;
    }
    static const char *const names[5] = {"Credentials", "AccessKeyId", "SecretAccessKey", "SessionToken",
                                         "Expiration"};
    const char *why = smneo__cred_answer_creds(out, smneo__result_root_node(res), names, 1,
                                   web && r->role_next == 0 ? "web-identity" : "assume-role");
    if (!why)
        role_cache_write(r, st, smneo__result_root_node(res));
    smneo_result_free(res); /* wiped: its output holds the credentials */
    if (why) {
        smneo__cred_finish_fmt(r, SMNEO_ECREDENTIALS, "%s could not assume role %s: %s", who, st->role_arn, why);
        return -1;
    }
    return 0;
}

/* A request was handed out: wait for its answer (step returns 1). */
static int await_answer(smneo_chain_resolution *r, int timeout_ms, enum stage next)
{
    r->timeout_ms = timeout_ms;
    r->awaiting = 1;
    r->stage = next;
    return 1;
}

int smneo_chain_resolution_step(smneo_request **req_out, smneo_credentials **creds_out, smneo_chain_resolution *r,
                                smneo_error *err)
{
    if (!r || !req_out || !creds_out)
        return smneo__error(err, SMNEO_EINVAL, "smneo_chain_resolution_step: res, req_out and creds_out are required");
    *req_out = NULL;
    *creds_out = NULL;
    if (r->awaiting)
        return smneo__error(err, SMNEO_EINVAL,
                            "smneo_chain_resolution_step: feed the response of the last request first");
    smneo_credential_chain *ch = r->chain;
    smneo_error e = SMNEO_ERROR_INIT;
    for (;;) {
        switch (r->stage) {
        case ST_DONE:
            return emit(r, creds_out, err);

        case ST_START: {
            pthread_mutex_lock(&ch->lock);
            struct timespec deadline;
            clock_gettime(CLOCK_REALTIME, &deadline);
            deadline.tv_sec += WAIT_FOR_OTHER_S;
            for (;;) {
                int st = cache_state(ch->cached, r->now);
                if (st == 2 || (st == 1 && ch->resolving)) {
                    smneo_credentials *c = NULL;
                    int rc = smneo_credentials_copy(&c, ch->cached);
                    pthread_mutex_unlock(&ch->lock);
                    if (rc)
                        return smneo__error(err, rc, "out of memory");
                    r->stage = ST_DONE;
                    r->result = c;
                    return emit(r, creds_out, err);
                }
                /* Another thread is resolving: wait for it. The same thread
                 * (coroutines driving two machines) must not wait on itself. */
                if (!ch->resolving || pthread_equal(ch->resolver, pthread_self()))
                    break;
                if (pthread_cond_timedwait(&ch->cond, &ch->lock, &deadline) == ETIMEDOUT) {
                    /* The other resolution is stuck or was abandoned
                     * without being freed: take over. */
                    ch->resolving = 0;
                    break;
                }
            }
            if (!ch->resolving) {
                ch->resolving = 1;
                ch->resolver = pthread_self();
                r->registered = 1;
            }
            pthread_mutex_unlock(&ch->lock);
            r->stage = ST_STATIC;
            break;
        }

        case ST_STATIC: {
            smneo_credentials *c = NULL;
            int rc = static_providers(r, &c, &e);
            if (rc)
                return finish_err(r, &e), emit(r, creds_out, err);
            if (c) {
                smneo__cred_finish(r, 0, c, NULL);
                return emit(r, creds_out, err);
            }
            if (r->nroles) {
                /* An assumed role: its source credentials are here, or come
                 * from the container or instance metadata providers. */
                r->role_next = r->nroles - 1;
                if (r->source || r->roles[r->nroles - 1].token_file || r->roles[r->nroles - 1].sso) {
                    r->stage = ST_ASSUME; /* a web identity step needs no source */
                } else {
                    r->for_role = 1;
                    r->stage = !strcmp(r->credential_source, "EcsContainer") ? ST_CONTAINER : ST_IMDS;
                }
                break;
            }
            r->stage = ST_CONTAINER;
            break;
        }

        case ST_ASSUME: {
            if (!r->retry_ok) {
                if (chain_retry(&r->retry, ch, &e) != 0)
                    return finish_err(r, &e), emit(r, creds_out, err);
                r->retry_ok = 1;
                r->rng = (uint64_t)smneo__monotonic_ms() ^ (uint64_t)(uintptr_t)r;
            }
            smneo_credentials *cached = role_cache_read(r, &r->roles[r->role_next]);
            if (cached) { /* the AWS CLI's cache has this role: no AssumeRole (and no MFA code) */
                if (smneo__cred_role_assumed(r, cached))
                    return emit(r, creds_out, err);
                break;
            }
            int rc = r->roles[r->role_next].sso ? smneo__cred_sso_request(r, req_out, &e) : assume_request(r, req_out, &e);
            if (rc)
                return finish_err(r, &e), emit(r, creds_out, err);
            r->attempt = 1;
            r->delay_ms = 0;
            return await_answer(r, STS_TIMEOUT_MS, ST_ASSUME_WAIT);
        }

        case ST_ASSUME_RETRY:
            if (smneo__cred_pending_build(r, req_out, &e) != 0) {
                e.code = e.code == SMNEO_ENOMEM ? SMNEO_ENOMEM : SMNEO_ECREDENTIALS;
                return finish_err(r, &e), emit(r, creds_out, err);
            }
            return await_answer(r, STS_TIMEOUT_MS, ST_ASSUME_WAIT);

        case ST_ASSUME_WAIT: {
            if (smneo__cred_retry_due(r)) {
                r->stage = ST_ASSUME_RETRY;
                break;
            }
            smneo_credentials *c = NULL;
            int sso = r->roles[r->role_next].sso;
            int got = sso ? smneo__cred_sso_answer(r, &c) : assume_answer(r, &c);
            if (got == 2) { /* the SSO token was refreshed: GetRoleCredentials next */
                r->stage = ST_ASSUME;
                break;
            }
            if (got != 0)
                return emit(r, creds_out, err); /* finished with the error */
            if (smneo__cred_role_assumed(r, c))
                return emit(r, creds_out, err);
            break;
        }

        case ST_CONTAINER:
            if (!smneo__getenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") &&
                !smneo__getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI")) {
                if (r->for_role) {
                    smneo__cred_finish_fmt(r, SMNEO_ECREDENTIALS,
                               "profile '%s' (role %s) sets credential_source = EcsContainer, but neither "
                               "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI nor AWS_CONTAINER_CREDENTIALS_FULL_URI is set",
                               r->roles[r->nroles - 1].profile, r->roles[r->nroles - 1].role_arn);
                    return emit(r, creds_out, err);
                }
                look(&r->where, "container credentials (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and _FULL_URI "
                                "not set)");
                r->stage = ST_IMDS;
                break;
            }
            if (smneo__cred_container_request(r, req_out, &e) != 0)
                return finish_err(r, &e), emit(r, creds_out, err);
            return await_answer(r, CONTAINER_TIMEOUT_MS, ST_CONTAINER_WAIT);

        case ST_CONTAINER_WAIT: {
            /* The container URI was configured explicitly: failures are errors. */
            if (r->transport_error) {
                smneo__cred_finish_fmt(r, SMNEO_ECREDENTIALS, "container credentials from %s: %s", r->url,
                           smneo__cred_transport_name(r->transport_error));
                return emit(r, creds_out, err);
            }
            if (r->resp_status != 200) {
                smneo__cred_finish_fmt(r, SMNEO_ECREDENTIALS, "container credentials from %s: HTTP status %d", r->url,
                           r->resp_status);
                return emit(r, creds_out, err);
            }
            smneo_credentials *c = NULL;
            const char *why = NULL;
            if (smneo__cred_parse_http_creds(&c, r->resp_body, r->resp_len, "container", r->now, &why) != 0) {
                smneo__cred_finish_fmt(r, SMNEO_ECREDENTIALS, "container credentials from %s: %s", r->url, why);
                return emit(r, creds_out, err);
            }
            smneo__cred_clear_response(r);
            if (r->for_role) {
                r->source = c;
                r->stage = ST_ASSUME;
                break;
            }
            smneo__cred_finish(r, 0, c, NULL);
            return emit(r, creds_out, err);
        }

        case ST_IMDS: {
            const char *dis = getenv("AWS_EC2_METADATA_DISABLED");
            if (dis && !strcasecmp(dis, "true")) {
                look(&r->where, "EC2 instance metadata (disabled by AWS_EC2_METADATA_DISABLED)");
                r->stage = ST_NONE;
                break;
            }
            if (!r->profile)
                r->profile = smneo__strdup(smneo__profile_name(ch->profile));
            if (smneo__cred_imds_setup(r, &e) != 0)
                return finish_err(r, &e), emit(r, creds_out, err);
            if (smneo__cred_imds_request(r, req_out, "PUT", IMDS_TOKEN_PATH) != 0)
                return smneo__cred_finish_fmt(r, SMNEO_ENOMEM, "out of memory"), emit(r, creds_out, err);
            r->stage = ST_IMDS_TOKEN_WAIT;
            return 1;
        }

        case ST_IMDS_TOKEN_WAIT:
            if (smneo__cred_imds_resend(r, req_out))
                return 1;
            /* botocore: 200 -> token; 400 -> bad request; connection
             * failures and other statuses -> try IMDSv1. We skip v1 when the
             * host could not be reached at all (it would fail the same way)
             * but try it after a timeout (a hop limit of 1 in a container
             * drops the PUT's answer). */
            if (!r->transport_error && r->resp_status == 200 && r->resp_len > 0 &&
                smneo__cred_imds_token_usable(r->resp_body, r->resp_len)) {
                size_t n = r->resp_len;
                while (n && isspace((unsigned char)r->resp_body[n - 1]))
                    n--;
                r->imds_token = smneo__strndup(r->resp_body, n);
                if (!r->imds_token)
                    return smneo__cred_finish_fmt(r, SMNEO_ENOMEM, "out of memory"), emit(r, creds_out, err);
            } else if (!r->transport_error && r->resp_status == 400) {
                look(&r->where, "EC2 instance metadata (%s: the token request was refused with HTTP 400)",
                     r->imds_base);
                r->stage = ST_NONE;
                smneo__cred_clear_response(r);
                break;
            } else if (r->transport_error && r->transport_error != SMNEO_ETIMEOUT) {
                look(&r->where, "EC2 instance metadata (%s: %s)", r->imds_base, smneo__cred_transport_name(r->transport_error));
                r->stage = ST_NONE;
                smneo__cred_clear_response(r);
                break;
            } else if (r->imds_v1_disabled) {
                look(&r->where, "EC2 instance metadata (%s: no IMDSv2 token and IMDSv1 is disabled)",
                     r->imds_base);
                r->stage = ST_NONE;
                smneo__cred_clear_response(r);
                break;
            }
            smneo__cred_clear_response(r);
            r->stage = ST_IMDS_ROLE;
            break;

        case ST_IMDS_ROLE:
            if (smneo__cred_imds_request(r, req_out, "GET", IMDS_CREDS_PATH) != 0)
                return smneo__cred_finish_fmt(r, SMNEO_ENOMEM, "out of memory"), emit(r, creds_out, err);
            r->stage = ST_IMDS_ROLE_WAIT;
            return 1;

        case ST_IMDS_ROLE_WAIT: {
            if (smneo__cred_imds_resend(r, req_out))
                return 1;
            if (r->transport_error || r->resp_status != 200 || r->resp_len == 0) {
                if (r->transport_error)
                    look(&r->where, "EC2 instance metadata (%s: %s)", r->imds_base,
                         smneo__cred_transport_name(r->transport_error));
                else if (r->resp_status != 200)
                    look(&r->where, "EC2 instance metadata (%s: no IAM role, HTTP %d)", r->imds_base,
                         r->resp_status);
                else
                    look(&r->where, "EC2 instance metadata (%s: no IAM role attached)", r->imds_base);
                smneo__cred_clear_response(r);
                r->stage = ST_NONE;
                break;
            }
            /* The first line is the role name. */
            size_t n = strcspn(r->resp_body, "\r\n");
            while (n && isspace((unsigned char)r->resp_body[n - 1]))
                n--;
            r->role = smneo__strndup(r->resp_body, n);
            smneo__cred_clear_response(r);
            if (!r->role)
                return smneo__cred_finish_fmt(r, SMNEO_ENOMEM, "out of memory"), emit(r, creds_out, err);
            /* It becomes a path segment: no separators, spaces or control characters. */
            if (!*r->role || strpbrk(r->role, "/?#%\\ ") || !smneo__cred_imds_token_usable(r->role, strlen(r->role))) {
                look(&r->where, "EC2 instance metadata (%s: unusable role name)", r->imds_base);
                r->stage = ST_NONE;
                break;
            }
            char *path = smneo__aprintf("%s%s", IMDS_CREDS_PATH, r->role);
            int rc = path ? smneo__cred_imds_request(r, req_out, "GET", path) : SMNEO_ENOMEM;
            free(path);
            if (rc)
                return smneo__cred_finish_fmt(r, SMNEO_ENOMEM, "out of memory"), emit(r, creds_out, err);
            r->stage = ST_IMDS_CREDS_WAIT;
            return 1;
        }

        case ST_IMDS_CREDS_WAIT: {
            if (smneo__cred_imds_resend(r, req_out))
                return 1;
            smneo_credentials *c = NULL;
            const char *why = NULL;
            if (r->transport_error)
                why = smneo__cred_transport_name(r->transport_error);
            else if (r->resp_status != 200)
                why = "HTTP error";
            else if (smneo__cred_parse_http_creds(&c, r->resp_body, r->resp_len, "imds", r->now, &why) == 0) {
                smneo__cred_clear_response(r);
                if (r->for_role) {
                    r->source = c;
                    r->stage = ST_ASSUME;
                    break;
                }
                smneo__cred_finish(r, 0, c, NULL);
                return emit(r, creds_out, err);
            }
            if (r->resp_status && r->resp_status != 200)
                look(&r->where, "EC2 instance metadata (%s, role %s: HTTP %d)", r->imds_base, r->role,
                     r->resp_status);
            else
                look(&r->where, "EC2 instance metadata (%s, role %s: %s)", r->imds_base, r->role, why);
            smneo__cred_clear_response(r);
            r->stage = ST_NONE;
            break;
        }

        case ST_NONE: {
            const char *w = r->where.b.data ? r->where.b.data : "";
            if (r->for_role) {
                smneo__cred_finish_fmt(r, SMNEO_ECREDENTIALS,
                           "profile '%s' (role %s) sets credential_source = %s, which gave no credentials: %s",
                           r->roles[r->nroles - 1].profile, r->roles[r->nroles - 1].role_arn, r->credential_source,
                           w);
                return emit(r, creds_out, err);
            }
            smneo__cred_finish_fmt(r, SMNEO_ENOCREDENTIALS,
                       "no AWS credentials found; looked at: %s. Set AWS_ACCESS_KEY_ID and "
                       "AWS_SECRET_ACCESS_KEY, or configure a profile in the shared files",
                       w);
            return emit(r, creds_out, err);
        }
        }
    }
}

int smneo_chain_resolution_feed(smneo_chain_resolution *r, const smneo_response *resp, int transport_error)
{
    if (!r || !r->awaiting)
        return SMNEO_EINVAL;
    if (!resp && transport_error >= 0)
        return SMNEO_EINVAL;
    smneo__cred_clear_response(r);
    r->awaiting = 0;
    r->fed = 1;
    if (!resp) {
        r->transport_error = transport_error;
        return 0;
    }
    r->resp_status = resp->status;
    r->resp_error_type = smneo__strdup(smneo_response_header(resp, "x-amzn-ErrorType"));
    r->resp_request_id = smneo__strdup(smneo_response_header(resp, "x-amzn-RequestId"));
    r->resp_body = smneo__strndup(resp->body ? resp->body : "", resp->body ? resp->body_len : 0);
    r->resp_len = resp->body ? resp->body_len : 0;
    if (!r->resp_body) {
        r->resp_len = 0;
        r->transport_error = SMNEO_ENOMEM;
        return SMNEO_ENOMEM;
    }
    return 0;
}

/* ---- blocking convenience --------------------------------------------------- */

int smneo__credential_chain_get(smneo_credentials **out, smneo_credential_chain *chain, smneo_transport *t,
                                smneo__timed_transports *tt, smneo_error *err)
{
    if (!out || !chain)
        return smneo__error(err, SMNEO_EINVAL, "smneo_credential_chain_get: out and chain are required");
    *out = NULL;
    smneo_chain_resolution *r = NULL;
    int rc = smneo_chain_resolution_new(&r, chain, 0);
    if (rc)
        return smneo__error(err, rc, "out of memory");
    for (;;) {
        smneo_request *req = NULL;
        rc = smneo_chain_resolution_step(&req, out, r, err);
        if (rc != 1)
            break;
        long delay = smneo_chain_resolution_delay_ms(r); /* a retry's backoff */
        if (delay > 0)
            smneo__sleep_ms(delay);
        /* No transport given: libcurl ones with the request's timeouts
         * (short for IMDS and the container, STS's for roles). */
        smneo_response *resp = NULL;
        smneo_error terr = SMNEO_ERROR_INIT;
        int trc = t ? smneo_transport_send(&resp, t, req, &terr)
                    : smneo__send_timed(&resp, tt, req, smneo_chain_resolution_timeout_ms(r), &terr);
        smneo_error_clear(&terr);
        smneo_request_free(req);
        if (trc == 0)
            smneo_chain_resolution_feed(r, resp, 0);
        else
            smneo_chain_resolution_feed(r, NULL, trc < 0 ? trc : SMNEO_ECONNECT);
        smneo_response_free(resp);
    }
    smneo_chain_resolution_free(r);
    return rc;
}

int smneo_credential_chain_get(smneo_credentials **out, smneo_credential_chain *chain, smneo_transport *t,
                               smneo_error *err)
{
    smneo__timed_transports *tt = NULL;
    if (!t && smneo__timed_transports_new(&tt))
        return smneo__error(err, SMNEO_ENOMEM, "out of memory");
    int rc = smneo__credential_chain_get(out, chain, t, tt, err);
    smneo__timed_transports_free(tt);
    return rc;
}
