/* core/src/credentials_http.c: the credential providers that ask over HTTP (as requests the resolution
 * machine hands out): the container endpoint, IMDS, STS AssumeRole and AssumeRoleWithWebIdentity, IAM
 * Identity Center (SSO) */

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

#define IMDS_TIMEOUT_MS 1000

#define CONTAINER_HOST_URL "http://169.254.170.2"
#define IMDS_DEFAULT_URL "http://169.254.169.254"
#define IMDS_DEFAULT_URL_IPV6 "http://[fd00:ec2::254]"

/* Host of an http(s) URL into buf (IPv6 without brackets). */
static void url_host(const char *url, char *buf, size_t size)
{
    buf[0] = '\0';
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    const char *at = NULL;
    for (const char *q = p; *q && *q != '/' && *q != '?' && *q != '#'; q++)
        if (*q == '@')
            at = q;
    if (at)
        p = at + 1;
    size_t n;
    if (*p == '[') {
        p++;
        n = strcspn(p, "]");
    } else {
        n = strcspn(p, ":/?#");
    }
    if (n >= size)
        n = size - 1;
    memcpy(buf, p, n);
    buf[n] = '\0';
}

/* One dotted-decimal part: 1-3 digits, no leading zero (so that "0127" is
 * not read as octal by a resolver), at most 255. */
static const char *ipv4_part(const char *p, int *v)
{
    if (!isdigit((unsigned char)*p) || (p[0] == '0' && isdigit((unsigned char)p[1])))
        return NULL;
    int n = 0, k = 0;
    while (isdigit((unsigned char)*p) && k < 4) {
        n = n * 10 + (*p++ - '0');
        k++;
    }
    if (k > 3 || n > 255)
        return NULL;
    *v = n;
    return p;
}

static int is_loopback(const char *host)
{
    if (!strcmp(host, "::1") || !strcmp(host, "0:0:0:0:0:0:0:1"))
        return 1;
    /* 127.0.0.0/8 in strict dotted decimal */
    int part[4];
    const char *p = host;
    for (int i = 0; i < 4; i++) {
        p = ipv4_part(p, &part[i]);
        if (!p || (i < 3 && *p++ != '.'))
            return 0;
    }
    return *p == '\0' && part[0] == 127;
}

int smneo__cred_container_request(smneo_chain_resolution *r, smneo_request **req_out, smneo_error *err)
{
    const char *rel = smneo__getenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    const char *full = smneo__getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
    free(r->url);
    r->url = NULL;
    if (rel) {
        r->url = smneo__aprintf("%s%s%s", CONTAINER_HOST_URL, rel[0] == '/' ? "" : "/", rel);
    } else {
        if (smneo__url_has_userinfo(full))
            return smneo__userinfo_error(err, SMNEO_ECREDENTIALS, "AWS_CONTAINER_CREDENTIALS_FULL_URI");
        char host[256];
        url_host(full, host, sizeof host);
        int https = !strncasecmp(full, "https://", 8);
        if (!https && strncasecmp(full, "http://", 7) != 0)
            return smneo__error(err, SMNEO_ECREDENTIALS,
                                "AWS_CONTAINER_CREDENTIALS_FULL_URI '%s' is not an http:// or https:// URL", full);
        if (!https && !is_loopback(host) && strcmp(host, "169.254.170.2") != 0 &&
            strcmp(host, "169.254.170.23") != 0 && strcasecmp(host, "fd00:ec2::23") != 0 &&
            strcasecmp(host, "localhost") != 0)
            return smneo__error(err, SMNEO_ECREDENTIALS,
                                "AWS_CONTAINER_CREDENTIALS_FULL_URI: host '%s' is not allowed over plain http: use "
                                "https, a loopback address, localhost, 169.254.170.2, 169.254.170.23 or "
                                "fd00:ec2::23",
                                host);
        r->url = smneo__strdup(full);
    }
    if (!r->url)
        return smneo__error(err, SMNEO_ENOMEM, "out of memory");
    /* Authorization: the token file (read on every fetch) wins over the token. */
    char *token = NULL;
    const char *token_file = smneo__getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
    if (token_file) {
        FILE *f = fopen(token_file, "rb");
        if (!f)
            return smneo__error(err, SMNEO_ECREDENTIALS,
                                "cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE %s: %s", token_file,
                                strerror(errno));
        smneo_buf b = SMNEO_BUF_SECRET_INIT;
        char chunk[1024];
        size_t got;
        while ((got = fread(chunk, 1, sizeof chunk, f)) > 0 && b.len < 65536)
            smneo__buf_append(&b, chunk, got);
        smneo__wipe(chunk, sizeof chunk);
        fclose(f);
        /* A trailing newline (echo > file) is forgiven; other SDKs trim too. */
        while (b.len && (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == '\r'))
            b.data[--b.len] = '\0';
        /* The header ends at a NUL: zero what follows, so that wiping the
         * token (to its first NUL) wipes all of it. */
        if (b.data)
            smneo__wipe(b.data + strlen(b.data), b.len - strlen(b.data));
        token = smneo__buf_detach(&b, NULL);
        if (!token)
            return smneo__error(err, SMNEO_ENOMEM, "out of memory");
    } else if (smneo__getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN")) {
        token = smneo__strdup(smneo__getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN"));
        if (!token)
            return smneo__error(err, SMNEO_ENOMEM, "out of memory");
    }
    if (token && strpbrk(token, "\r\n")) {
        smneo__free_secret(token);
        return smneo__error(err, SMNEO_ECREDENTIALS,
                            "the container authorization token (%s) contains a line break, which is not a legal "
                            "header value",
                            token_file ? "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE" : "AWS_CONTAINER_AUTHORIZATION_TOKEN");
    }
    smneo_request *req = NULL;
    int rc = smneo_request_new(&req, "GET", r->url);
    if (rc == SMNEO_EINVAL) {
        smneo__free_secret(token);
        return smneo__error(err, SMNEO_ECREDENTIALS,
                            "the container credentials URL (%s) contains a control character: fix the variable",
                            rel ? "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI" : "AWS_CONTAINER_CREDENTIALS_FULL_URI");
    }
    if (rc == 0)
        rc = smneo_request_add_header(req, "Accept", "application/json");
    if (rc == 0 && token)
        rc = smneo_request_add_header(req, "Authorization", token);
    smneo__free_secret(token);
    if (rc) {
        smneo_request_free(req);
        return smneo__error(err, rc, "out of memory");
    }
    *req_out = req;
    return 0;
}

/* Parses {AccessKeyId, SecretAccessKey, Token, Expiration} (container and
 * IMDS). All four are required, as botocore 1.43 requires them (its
 * container provider reads each key of the answer; its IMDS fetcher drops an
 * answer that lacks one): a container answer without them is an error, an
 * IMDS one is no credentials (the callers decide). Returns 0 with *out, or -1
 * with what was wrong in *why. */
int smneo__cred_parse_http_creds(smneo_credentials **out, const char *body, size_t len, const char *source, int64_t now,
                            const char **why)
{
    *out = NULL;
    cJSON *j = smneo__cred_parse_answer(body, len);
    if (!cJSON_IsObject(j)) {
        smneo__cred_json_wipe_delete(j);
        *why = "the answer is not a JSON object (or has text after it)";
        return -1;
    }
    const char *ak = smneo__cred_json_string(j, "AccessKeyId"), *sk = smneo__cred_json_string(j, "SecretAccessKey");
    const char *tok = smneo__cred_json_string(j, "Token"), *exp = smneo__cred_json_string(j, "Expiration");
    int64_t expiration = 0;
    int rc = -1;
    if (!ak || !*ak || !sk || !*sk)
        *why = "the answer has no AccessKeyId/SecretAccessKey";
    else if (!tok)
        *why = "the answer has no Token (a session token is required with these temporary credentials, "
               "as botocore requires it)";
    else if (!exp)
        *why = "the answer has no Expiration (required, as botocore requires it)";
    else if (smneo__cred_control_char_field(ak, sk, tok))
        *why = "the answer's credentials contain control characters (e.g. a line break)";
    else if (smneo__cred_parse_iso8601(exp, &expiration) != 0)
        *why = "the answer's Expiration is not an ISO 8601 time";
    else if (expiration && expiration <= now)
        *why = "the credentials in the answer have already expired";
    else if (smneo__cred_make_creds(out, ak, sk, tok, expiration, source) != 0)
        *why = "out of memory";
    else
        rc = 0;
    smneo__cred_json_wipe_delete(j);
    return rc;
}

int smneo__cred_imds_setup(smneo_chain_resolution *r, smneo_error *err)
{
    const char *base = smneo__getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
    char *cfg_base = NULL, *mode = NULL, *v1 = NULL;
    if (!base) {
        smneo_config_get(&cfg_base, r->profile, "ec2_metadata_service_endpoint", NULL);
        base = cfg_base;
    }
    if (!base) {
        const char *m = smneo__getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE");
        if (!m) {
            smneo_config_get(&mode, r->profile, "ec2_metadata_service_endpoint_mode", NULL);
            m = mode;
        }
        base = (m && !strcasecmp(m, "ipv6")) ? IMDS_DEFAULT_URL_IPV6 : IMDS_DEFAULT_URL;
    }
    const char *v1s = smneo__getenv("AWS_EC2_METADATA_V1_DISABLED");
    if (!v1s) {
        smneo_config_get(&v1, r->profile, "ec2_metadata_v1_disabled", NULL);
        v1s = v1;
    }
    r->imds_v1_disabled = smneo__parse_bool(v1s) == 1;
    /* botocore's metadata_service_timeout (seconds) and
     * metadata_service_num_attempts: environment, then profile; 1 and 1. */
    static const struct {
        const char *env, *key;
        int scale, dflt;
    } knobs[] = {{"AWS_METADATA_SERVICE_TIMEOUT", "metadata_service_timeout", 1000, IMDS_TIMEOUT_MS},
                 {"AWS_METADATA_SERVICE_NUM_ATTEMPTS", "metadata_service_num_attempts", 1, 1}};
    int knob_rc = 0;
    for (int i = 0; i < 2 && !knob_rc; i++) {
        char *cfgv = NULL;
        const char *v = smneo__getenv(knobs[i].env);
        if (!v) {
            smneo_config_get(&cfgv, r->profile, knobs[i].key, NULL);
            v = cfgv;
        }
        int value = knobs[i].dflt;
        if (v) {
            char *end;
            long n = strtol(v, &end, 10);
            if (end == v || *end || n < 1 || n > 3600)
                knob_rc = smneo__error(err, SMNEO_ECREDENTIALS, "%s=\"%s\" is not valid: use a whole number of %s "
                                       "from 1 to 3600", cfgv ? knobs[i].key : knobs[i].env, v,
                                       i ? "attempts" : "seconds");
            value = (int)n * knobs[i].scale;
        }
        free(cfgv);
        if (i == 0)
            r->imds_timeout_ms = value;
        else
            r->imds_attempts = value;
    }
    if (knob_rc) {
        free(cfg_base);
        free(mode);
        free(v1);
        return knob_rc;
    }
    size_t n = strlen(base);
    while (n && base[n - 1] == '/')
        n--;
    r->imds_base = smneo__strndup(base, n);
    int ok = r->imds_base && (!strncasecmp(r->imds_base, "http://", 7) || !strncasecmp(r->imds_base, "https://", 8));
    int rc = 0;
    if (!r->imds_base)
        rc = smneo__error(err, SMNEO_ENOMEM, "out of memory");
    else if (smneo__url_has_userinfo(r->imds_base))
        rc = smneo__userinfo_error(err, SMNEO_ECREDENTIALS,
                                   "AWS_EC2_METADATA_SERVICE_ENDPOINT or ec2_metadata_service_endpoint");
    else if (!ok)
        rc = smneo__error(err, SMNEO_ECREDENTIALS,
                          "the EC2 metadata endpoint '%s' (AWS_EC2_METADATA_SERVICE_ENDPOINT or "
                          "ec2_metadata_service_endpoint) is not an http:// or https:// URL",
                          r->imds_base);
    free(cfg_base);
    free(mode);
    free(v1);
    return rc;
}

/* The token goes back in a header: printable ASCII only (trailing
 * whitespace is trimmed). Anything else is treated as no token. */
int smneo__cred_imds_token_usable(const char *body, size_t len)
{
    while (len && isspace((unsigned char)body[len - 1]))
        len--;
    if (!len)
        return 0;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)body[i] < 0x20 || (unsigned char)body[i] >= 0x7f)
            return 0;
    return 1;
}

int smneo__cred_imds_request(smneo_chain_resolution *r, smneo_request **req_out, const char *method, const char *path)
{
    /* A new request (not a resend of the outstanding one): count again. */
    if (path != r->imds_path) {
        char *p = smneo__strdup(path);
        if (!p)
            return SMNEO_ENOMEM;
        free(r->imds_path);
        r->imds_path = p;
        path = p;
        snprintf(r->imds_method, sizeof r->imds_method, "%s", method);
        r->imds_tries = 0;
    }
    r->imds_tries++;
    char *url = smneo__aprintf("%s/%s", r->imds_base, path);
    if (!url)
        return SMNEO_ENOMEM;
    smneo_request *req = NULL;
    int rc = smneo_request_new(&req, method, url);
    free(url);
    if (rc)
        return rc;
    if (!strcmp(method, "PUT"))
        rc = smneo_request_add_header(req, "X-aws-ec2-metadata-token-ttl-seconds", "21600");
    else if (r->imds_token)
        rc = smneo_request_add_header(req, "X-aws-ec2-metadata-token", r->imds_token);
    if (rc) {
        smneo_request_free(req);
        return rc;
    }
    r->timeout_ms = r->imds_timeout_ms ? r->imds_timeout_ms : IMDS_TIMEOUT_MS;
    r->awaiting = 1;
    *req_out = req;
    return 0;
}

/* An IMDS answer that botocore's fetcher tries again (a transport error or
 * HTTP 5xx) while attempts remain: resend the same request. 1 with it. */
int smneo__cred_imds_resend(smneo_chain_resolution *r, smneo_request **req_out)
{
    if (!(r->transport_error || r->resp_status >= 500) || r->imds_tries >= r->imds_attempts || !r->imds_path)
        return 0;
    smneo__cred_clear_response(r);
    return smneo__cred_imds_request(r, req_out, r->imds_method, r->imds_path) == 0;
}

/* ---- assume role ---------------------------------------------------------- */

/* STS's region: the chain's (the client's), else the usual lookup, else
 * the global endpoint (botocore's STS client without a region). */
char *smneo__cred_sts_region(smneo_chain_resolution *r)
{
    if (r->chain->region)
        return smneo__strdup(r->chain->region);
    char *region = NULL;
    smneo_error e = SMNEO_ERROR_INIT;
    if (smneo_region_resolve(&region, NULL, r->profile, &e) != 0)
        region = smneo__strdup("aws-global");
    smneo_error_clear(&e);
    return region;
}

int smneo__cred_add_string(cJSON *o, const char *name, const char *value)
{
    return value && !cJSON_AddStringToObject(o, name, value) ? SMNEO_ENOMEM : 0;
}

/* Who configured a step, for messages: "profile 'x'", or the environment. */
void smneo__cred_step_who(const struct role_step *st, char *buf, size_t size)
{
    if (st->from_env)
        snprintf(buf, size, "web identity from AWS_WEB_IDENTITY_TOKEN_FILE (profile '%s')", st->profile);
    else
        snprintf(buf, size, "profile '%s'", st->profile);
}

/* Reads the web identity token file, again at every refresh (it rotates).
 * The content is sent as is, as botocore reads it. */
int smneo__cred_read_token_file(char **out, const struct role_step *st, smneo_error *err)
{
    char who[320];
    smneo__cred_step_who(st, who, sizeof who);
    *out = NULL;
    FILE *f = fopen(st->token_file, "rb");
    if (!f)
        return smneo__error(err, SMNEO_ECREDENTIALS, "%s (role %s): cannot read the web identity token file %s: %s",
                            who, st->role_arn, st->token_file, strerror(errno));
    smneo_buf b = SMNEO_BUF_SECRET_INIT;
    char chunk[4096];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0 && b.len <= 65536)
        smneo__buf_append(&b, chunk, got);
    smneo__wipe(chunk, sizeof chunk);
    int bad = ferror(f);
    fclose(f);
    if (bad || b.len > 65536 || !b.len || b.failed || strlen(b.data) != b.len) {
        smneo__buf_free(&b);
        return smneo__error(err, SMNEO_ECREDENTIALS,
                            "%s (role %s): the web identity token file %s is %s", who, st->role_arn, st->token_file,
                            bad ? "unreadable" : b.len ? "not a token (larger than 64 KiB or holding NUL bytes)"
                                                       : "empty");
    }
    *out = smneo__buf_detach(&b, NULL);
    return *out ? 0 : smneo__error(err, SMNEO_ENOMEM, "out of memory");
}

/* ---- IAM Identity Center (SSO) ------------------------------------------------ */

/* "aws sso login --sso-session NAME" or "--profile NAME": what to run. */
static void sso_login_hint(const struct role_step *st, char *buf, size_t size)
{
    if (st->sso_session)
        snprintf(buf, size, "aws sso login --sso-session %s", st->sso_session);
    else
        snprintf(buf, size, "aws sso login --profile %s", st->profile);
}

/* Loads the cached token (st->sso_token). 0, or an error naming the file and
 * the login command. */
static int sso_load_token(struct role_step *st, smneo_error *err)
{
    char hint[300];
    sso_login_hint(st, hint, sizeof hint);
    const char *name = st->sso_session ? st->sso_session : st->sso_start_url;
    FILE *f = fopen(st->sso_cache_path, "rb");
    if (!f)
        return smneo__error(err, SMNEO_ESSOTOKEN,
                            "profile '%s': no SSO token for %s in the cache (%s: %s): run `%s`", st->profile, name,
                            st->sso_cache_path, strerror(errno), hint);
    smneo_buf b = SMNEO_BUF_SECRET_INIT;
    char chunk[4096];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0 && b.len <= 1024 * 1024)
        smneo__buf_append(&b, chunk, got);
    smneo__wipe(chunk, sizeof chunk);
    fclose(f);
    cJSON *j = b.data ? smneo__cred_parse_answer(b.data, b.len) : NULL;
    smneo__buf_free(&b);
    int64_t exp = 0;
    if (!cJSON_IsObject(j) || !smneo__cred_json_string(j, "accessToken") || !smneo__cred_json_string(j, "expiresAt") ||
        smneo__cred_parse_iso8601(smneo__cred_json_string(j, "expiresAt"), &exp) != 0) {
        smneo__cred_json_wipe_delete(j);
        return smneo__error(err, SMNEO_ESSOTOKEN,
                            "profile '%s': the cached SSO token for %s (%s) is invalid (no accessToken or expiresAt): "
                            "run `%s`",
                            st->profile, name, st->sso_cache_path, hint);
    }
    smneo__json_wipe_delete(st->sso_token);
    st->sso_token = j;
    return 0;
}

static int64_t sso_token_expiry(const struct role_step *st)
{
    int64_t exp = 0;
    const char *s = smneo__cred_json_string(st->sso_token, "expiresAt");
    return s && smneo__cred_parse_iso8601(s, &exp) == 0 ? exp : 0;
}

/* botocore refreshes an sso-session token with less than 15 minutes left,
 * when the cache holds the refresh token and a registration still valid. */
static int sso_can_refresh(const struct role_step *st, int64_t now)
{
    const cJSON *t = st->sso_token;
    int64_t reg = 0;
    const char *r = smneo__cred_json_string(t, "registrationExpiresAt");
    return st->sso_session && smneo__cred_json_string(t, "refreshToken") && smneo__cred_json_string(t, "clientId") &&
           smneo__cred_json_string(t, "clientSecret") && r && smneo__cred_parse_iso8601(r, &reg) == 0 && reg > now;
}

static int sso_build(smneo_chain_resolution *r, struct role_step *st, const char *service, const char *opname,
                     cJSON *params, smneo_request **req_out, smneo_error *err)
{
    const smneo_operation *op = smneo_service_operation(smneo_model_service(service), opname);
    free(r->sts_url);
    r->sts_url = NULL;
    smneo_endpoint_options eo = SMNEO_ENDPOINT_OPTIONS_INIT;
    eo.service = service;
    eo.region = st->sso_region;
    eo.profile = r->profile;
    smneo_error e = SMNEO_ERROR_INIT;
    int rc = op ? smneo_endpoint_resolve(&r->sts_url, &eo, &e) : SMNEO_ENOMEM;
    char *json = rc ? NULL : cJSON_PrintUnformatted(params);
    smneo__json_wipe_delete(params);
    if (rc || !json) {
        rc = smneo__error(err, rc == SMNEO_ENOMEM || !json ? SMNEO_ENOMEM : SMNEO_ECREDENTIALS,
                          "profile '%s': no %s endpoint: %s", st->profile, service, e.message ? e.message : "");
        smneo_error_clear(&e);
        free(json);
        return rc;
    }
    /* Both operations are unauthenticated: sent unsigned. */
    smneo__cred_clear_pending(r);
    r->pend_op = op;
    r->pend_json = json;
    r->pend_region = smneo__strdup(st->sso_region);
    r->pend_signed = r->pend_sts = 0;
    rc = r->pend_region ? smneo__cred_pending_build(r, req_out, &e) : SMNEO_ENOMEM;
    if (rc) {
        /* Never e.message: validation quotes values, and these are tokens. */
        rc = smneo__error(err, SMNEO_ECREDENTIALS, "profile '%s': cannot build the %s request (%s is not valid)",
                          st->profile, opname, e.field ? e.field : "a parameter");
        smneo_error_clear(&e);
    }
    return rc;
}

/* The next SSO request: CreateToken when the sso-session token needs and
 * allows a refresh, else GetRoleCredentials. */
int smneo__cred_sso_request(smneo_chain_resolution *r, smneo_request **req_out, smneo_error *err)
{
    struct role_step *st = &r->roles[r->role_next];
    char hint[300];
    sso_login_hint(st, hint, sizeof hint);
    if (st->sso_phase == 0) {
        int rc = sso_load_token(st, err);
        if (rc)
            return rc;
        int64_t left = sso_token_expiry(st) - smneo__now();
        if (left < STS_REFRESH_ADVISORY_S && sso_can_refresh(st, smneo__now())) {
            cJSON *p = cJSON_CreateObject();
            if (!p || !cJSON_AddStringToObject(p, "clientId", smneo__cred_json_string(st->sso_token, "clientId")) ||
                !cJSON_AddStringToObject(p, "clientSecret", smneo__cred_json_string(st->sso_token, "clientSecret")) ||
                !cJSON_AddStringToObject(p, "grantType", "refresh_token") ||
                !cJSON_AddStringToObject(p, "refreshToken", smneo__cred_json_string(st->sso_token, "refreshToken"))) {
                smneo__json_wipe_delete(p);
                return smneo__error(err, SMNEO_ENOMEM, "out of memory");
            }
            st->sso_phase = 1;
            return sso_build(r, st, "sso-oidc", "CreateToken", p, req_out, err);
        }
        st->sso_phase = 2;
    }
    /* GetRoleCredentials: an expired token is refused here, as botocore. */
    if (sso_token_expiry(st) <= smneo__now()) {
        if (st->sso_session)
            return smneo__error(err, SMNEO_ESSOTOKEN,
                                "profile '%s': the SSO token of sso-session '%s' has expired and could not be "
                                "refreshed: run `%s`",
                                st->profile, st->sso_session, hint);
        return smneo__error(err, SMNEO_ESSOUNAUTHORIZED,
                            "profile '%s': the SSO session for %s has expired: run `%s`", st->profile,
                            st->sso_start_url, hint);
    }
    cJSON *p = cJSON_CreateObject();
    if (!p || !cJSON_AddStringToObject(p, "roleName", st->sso_role_name) ||
        !cJSON_AddStringToObject(p, "accountId", st->sso_account_id) ||
        !cJSON_AddStringToObject(p, "accessToken", smneo__cred_json_string(st->sso_token, "accessToken"))) {
        smneo__json_wipe_delete(p);
        return smneo__error(err, SMNEO_ENOMEM, "out of memory");
    }
    st->sso_phase = 2;
    return sso_build(r, st, "sso", "GetRoleCredentials", p, req_out, err);
}

static void utc_text(char out[32], int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Writes the refreshed token back to the cache: a temporary file in the
 * same directory (0600), then rename, so that a reader never sees half. */
/* Writes text to path through a temporary file in the same directory
 * (created 0600 by mkstemp, fsync'ed, renamed over path), so a reader never
 * sees half of it. 0 or -1. */
int smneo__cred_write_file_atomic(const char *path, const char *text)
{
    char *tmp = smneo__aprintf("%s.XXXXXX", path);
    if (!tmp)
        return -1;
    int rc = -1;
    int fd = mkstemp(tmp);
    if (fd >= 0) {
        size_t n = strlen(text), off = 0;
        while (off < n) {
            ssize_t w = write(fd, text + off, n - off);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                break;
            off += (size_t)w;
        }
        int ok = off == n && fsync(fd) == 0;
        if (close(fd) == 0 && ok && rename(tmp, path) == 0)
            rc = 0;
        if (rc)
            unlink(tmp);
    }
    free(tmp);
    return rc;
}

static int sso_save_token(const struct role_step *st, const cJSON *token)
{
    char *text = cJSON_Print(token);
    if (!text)
        return -1;
    int rc = smneo__cred_write_file_atomic(st->sso_cache_path, text);
    smneo__wipe(text, strlen(text));
    cJSON_free(text);
    return rc;
}

/* Reads an SSO answer. Returns 0 with *out (GetRoleCredentials), 2 when the
 * CreateToken answer was taken (GetRoleCredentials is next), or -1 having
 * finished the resolution with the error. */
int smneo__cred_sso_answer(smneo_chain_resolution *r, smneo_credentials **out)
{
    struct role_step *st = &r->roles[r->role_next];
    char hint[300];
    sso_login_hint(st, hint, sizeof hint);
    *out = NULL;
    int create = st->sso_phase == 1;
    const smneo_operation *op = create ? smneo_service_operation(smneo_model_service("sso-oidc"), "CreateToken")
                                       : smneo_service_operation(smneo_model_service("sso"), "GetRoleCredentials");
    smneo_result *res = NULL;
    smneo_error e = SMNEO_ERROR_INIT;
    int rc = SMNEO_ECONNECT;
    if (!r->transport_error) {
        smneo_response *resp = NULL;
        rc = smneo__cred_fed_response(r, &resp);
        if (rc == 0)
            rc = smneo__protocol_parse_owned(&res, op, resp, &e);
    }
    int transport = r->transport_error;
    smneo__cred_clear_response(r);
    if (create) {
        /* A failed refresh is not an error yet (botocore logs it): the old
         * token is used while it lasts. */
        const cJSON *root = rc == 0 ? smneo__result_root_node(res) : NULL;
        const char *at = smneo__cred_json_string(root, "accessToken");
        const cJSON *in = cJSON_GetObjectItemCaseSensitive(root, "expiresIn");
        if (at && cJSON_IsNumber(in)) {
            char exp[32];
            utc_text(exp, smneo__now() + (int64_t)in->valuedouble);
            cJSON *t = cJSON_CreateObject();
            const char *rt = smneo__cred_json_string(root, "refreshToken");
            if (t && cJSON_AddStringToObject(t, "startUrl", st->sso_start_url) &&
                cJSON_AddStringToObject(t, "region", st->sso_region) && cJSON_AddStringToObject(t, "accessToken", at) &&
                cJSON_AddStringToObject(t, "expiresAt", exp) &&
                cJSON_AddStringToObject(t, "clientId", smneo__cred_json_string(st->sso_token, "clientId")) &&
                cJSON_AddStringToObject(t, "clientSecret", smneo__cred_json_string(st->sso_token, "clientSecret")) &&
                cJSON_AddStringToObject(t, "registrationExpiresAt",
                                        smneo__cred_json_string(st->sso_token, "registrationExpiresAt")) &&
                (!rt || cJSON_AddStringToObject(t, "refreshToken", rt))) {
                if (sso_save_token(st, t) != 0)
                    smneo_log(SMNEO_LOG_WARN, "profile '%s': the refreshed SSO token could not be written to %s",
                              st->profile, st->sso_cache_path);
                smneo__json_wipe_delete(st->sso_token);
                st->sso_token = t;
            } else {
                smneo__json_wipe_delete(t);
            }
        } else {
            smneo_log(SMNEO_LOG_WARN, "profile '%s': refreshing the SSO token of sso-session '%s' failed (%s)",
                      st->profile, st->sso_session,
                      transport ? smneo__cred_transport_name(transport) : e.service_code ? e.service_code : "bad answer");
        }
        smneo_result_free(res);
        smneo_error_clear(&e);
        st->sso_phase = 2;
        return 2;
    }
    if (rc) {
        free(r->result_code);
        free(r->result_request_id);
        r->result_code = smneo__strdup(e.service_code);
        r->result_request_id = smneo__strdup(e.request_id);
        r->result_status = e.http_status;
        if (transport)
            smneo__cred_finish_fmt(r, SMNEO_ECREDENTIALS, "profile '%s': the SSO portal at %s: %s", st->profile, r->sts_url,
                       smneo__cred_transport_name(transport));
        else if (e.service_code && !strcmp(e.service_code, "UnauthorizedException"))
            smneo__cred_finish_fmt(r, SMNEO_ESSOUNAUTHORIZED,
                       "profile '%s': the SSO session has expired or is otherwise invalid (the portal refused its "
                       "token): run `%s`",
                       st->profile, hint);
        else
            smneo__cred_finish_fmt(r, SMNEO_ECREDENTIALS, "profile '%s' could not get the SSO role %s: %s: %s", st->profile,
                       st->role_arn, e.service_code ? e.service_code : "error", e.message ? e.message : "");
        smneo_error_clear(&e);
        return -1;
    }
    /* The portal's expiration is in milliseconds. */
    static const char *const names[5] = {"roleCredentials", "accessKeyId", "secretAccessKey", "sessionToken",
                                         "expiration"};
    const char *why = smneo__cred_answer_creds(out, smneo__result_root_node(res), names, 1000,
                                   r->role_next == 0 ? "sso" : "assume-role");
    smneo_result_free(res); /* wiped */
    if (why) {
        smneo__cred_finish_fmt(r, SMNEO_ECREDENTIALS, "profile '%s' could not get the SSO role %s: %s", st->profile,
                   st->role_arn, why);
        return -1;
    }
    return 0;
}

/* After an STS, SSO or OIDC answer: 1 when it failed in a way botocore's
 * client for that service retries (its retry mode and attempts: connection
 * errors, throttling, 5xx; STS's IDPCommunicationError as _retry.json and
 * retries/special.py add it) and attempts are left. Then the answer is
 * dropped and r->delay_ms holds the backoff before the resend. */
int smneo__cred_retry_due(smneo_chain_resolution *r)
{
    if (!r->pend_op || !r->fed || r->attempt >= r->retry.max_attempts)
        return 0;
    smneo_error e = SMNEO_ERROR_INIT;
    int rc = r->transport_error;
    if (!rc) {
        if (r->resp_status < 300)
            return 0;
        smneo_response *resp = NULL;
        smneo_result *res = NULL;
        rc = smneo__cred_fed_response(r, &resp);
        if (rc == 0)
            rc = smneo__protocol_parse_owned(&res, r->pend_op, resp, &e); /* takes resp */
        smneo_result_free(res);
        if (rc == 0 || rc == SMNEO_ENOMEM) {
            smneo_error_clear(&e);
            return 0;
        }
    }
    const char *code = r->transport_error ? NULL : e.service_code;
    int idp = r->pend_sts && code && !strcmp(code, "IDPCommunicationError") &&
              (r->retry.mode != SMNEO__RETRY_LEGACY || e.http_status == 400);
    int retry = idp || smneo__retry_retryable(r->retry.mode, rc, &e, 0);
    if (retry) {
        int throttled = code && smneo__is_throttling(code);
        double d = smneo__retry_backoff(&r->retry, throttled, r->attempt, smneo__jitter(&r->rng), NULL) *
                   (r->retry.backoff_scale > 0 ? r->retry.backoff_scale : 1.0);
        r->delay_ms = (long)(d * 1000);
        const char *why = r->transport_error ? smneo__cred_transport_name(r->transport_error) : code ? code : "HTTP error";
        smneo_log(SMNEO_LOG_INFO, "profile '%s': %s attempt %d failed (%s, HTTP %d), retrying in %.3f s",
                  r->roles[r->role_next].profile, r->pend_op->name, r->attempt, why, r->resp_status, d);
        r->attempt++;
        smneo__cred_clear_response(r);
    }
    smneo_error_clear(&e);
    return retry;
}

/* roles[role_next] gave c: the next role is signed with it (ST_ASSUME),
 * or the resolution is finished with it (returns 1). */
int smneo__cred_role_assumed(smneo_chain_resolution *r, smneo_credentials *c)
{
    smneo_credentials_free(r->source);
    r->source = NULL;
    if (r->role_next == 0) {
        smneo__cred_finish(r, 0, c, NULL);
        return 1;
    }
    r->source = c;
    r->role_next--;
    r->stage = ST_ASSUME;
    return 0;
}
