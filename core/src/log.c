/* Debug logging: off by default; SMNEO_DEBUG=1 logs to stderr, a callback
 * receives messages instead when installed. Requests and responses are
 * logged with signatures, tokens and other secrets redacted: headers, query
 * parameters, form fields, JSON members and XML elements with secret names. */
#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"
#include "smneo/log.h"

#define REDACTED "<redacted>"
#define MAX_LOGGED_BODY 8192

static pthread_mutex_t sink_mu = PTHREAD_MUTEX_INITIALIZER;
static smneo_log_cb sink_fn = NULL;
static void *sink_payload = NULL;

void smneo_log_set_callback(smneo_log_cb fn, void *payload)
{
    pthread_mutex_lock(&sink_mu);
    sink_fn = fn;
    sink_payload = fn ? payload : NULL;
    pthread_mutex_unlock(&sink_mu);
}

static int env_enabled(void) { return smneo__parse_bool(smneo__getenv("SMNEO_DEBUG")) == 1; }

int smneo_log_enabled(void)
{
    pthread_mutex_lock(&sink_mu);
    int has_sink = sink_fn != NULL;
    pthread_mutex_unlock(&sink_mu);
    return has_sink || env_enabled();
}

static const char *level_name(int level)
{
    switch (level) {
    case SMNEO_LOG_DEBUG: return "debug";
    case SMNEO_LOG_INFO: return "info";
    case SMNEO_LOG_WARN: return "warn";
    default: return "log";
    }
}

static void deliver(int level, const char *msg)
{
    pthread_mutex_lock(&sink_mu);
    smneo_log_cb fn = sink_fn;
    void *payload = sink_payload;
    pthread_mutex_unlock(&sink_mu);
    if (fn) {
        fn(level, msg, payload);
    } else if (env_enabled()) {
        flockfile(stderr);
        fprintf(stderr, "smneo[%s] %s\n", level_name(level), msg);
        funlockfile(stderr);
    }
}

void smneo_log(int level, const char *fmt, ...)
{
    if (!fmt || !smneo_log_enabled())
        return;
    va_list ap;
    va_start(ap, fmt);
    char *msg = NULL;
    int n = vasprintf(&msg, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    deliver(level, msg);
    free(msg);
}

/* ---- redaction -------------------------------------------------------------- */

/* 1 when a header, query parameter, form field, JSON member or XML element
 * of this name carries a secret, whatever the service. Names are compared
 * case-insensitively with '-', '_', '.' and spaces dropped, against
 * patterns rather than a list: x-amz-security-token, x-amz-sso_bearer_token,
 * SessionToken, WebIdentityToken, TokenCode, accessToken, refreshToken,
 * idToken, clientSecret, SecretAccessKey, Password, SAMLAssertion,
 * CanonicalRequest, StringToSign, SignatureProvided, ... Pagination and
 * idempotency tokens (NextToken, ClientToken) are not secrets and stay. */
static int secret_name(const char *name, size_t len)
{
    char n[256];
    if (len >= sizeof n)
        return 1; /* no real name is this long: redact rather than guess */
    size_t k = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c != '-' && c != '_' && c != '.' && c != ' ')
            n[k++] = (char)tolower(c);
    }
    n[k] = '\0';
    static const char *const anywhere[] = {"secret",    "password",     "passwd",           "passphrase",
                                           "privatekey", "apikey",      "sessionkey",       "cookie",
                                           "assertion",  "authorization", "canonicalrequest", "stringtosign",
                                           "signature",  "devicecode",  "codeverifier"};
    for (size_t i = 0; i < sizeof anywhere / sizeof anywhere[0]; i++)
        if (strstr(n, anywhere[i]))
            return 1;
    static const char *const suffixes[] = {"customerkey", "mfa"}; /* SSE-C keys, x-amz-mfa */
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        size_t sl = strlen(suffixes[i]);
        if (k >= sl && !strcmp(n + k - sl, suffixes[i]))
            return 1;
    }
    if (!strstr(n, "token"))
        return 0;
    static const char *const not_secret[] = {"nexttoken", "pagetoken", "paginationtoken", "continuationtoken",
                                             "startingtoken", "clienttoken", "ttlseconds"};
    for (size_t i = 0; i < sizeof not_secret / sizeof not_secret[0]; i++) {
        size_t sl = strlen(not_secret[i]);
        if (k >= sl && !strcmp(n + k - sl, not_secret[i]))
            return 0;
    }
    return 1;
}

/* The same check on a percent-encoded name (query parameters, form fields). */
static int secret_encoded_name(const char *name, size_t len)
{
    char d[256];
    if (len >= sizeof d)
        return 1;
    size_t k = 0;
    for (size_t i = 0; i < len; i++) {
        int hi, lo;
        if (name[i] == '%' && i + 2 < len && (hi = smneo__hexval(name[i + 1])) >= 0 &&
            (lo = smneo__hexval(name[i + 2])) >= 0) {
            d[k++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            d[k++] = name[i] == '+' ? ' ' : name[i];
        }
    }
    return secret_name(d, k);
}

/* Authorization: keep the scheme, credential scope and signed headers of a
 * SigV4 value and redact the signature; keep only the scheme of a known
 * scheme ("Bearer <redacted>"); redact the whole of anything else (a bare
 * token such as an EKS Pod Identity token has no scheme at all). */
static void put_authorization(smneo_buf *b, const char *v)
{
    const char *sig = strstr(v, "Signature=");
    if (!strncmp(v, "AWS4-", 5) && sig && strchr(v, ' ') && strchr(v, ' ') < sig) {
        smneo__buf_append(b, v, (size_t)(sig - v) + 10);
        smneo__buf_puts(b, REDACTED);
        return;
    }
    static const char *const schemes[] = {"AWS4-HMAC-SHA256", "AWS4-ECDSA-P256-SHA256", "AWS", "Basic", "Bearer",
                                          "Digest", "DPoP", "HOBA", "Mutual", "Negotiate", "NTLM", "OAuth",
                                          "SCRAM-SHA-1", "SCRAM-SHA-256", "vapid"};
    size_t n = strcspn(v, " ");
    if (v[n] == ' ') {
        for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++) {
            if (strlen(schemes[i]) == n && !strncasecmp(v, schemes[i], n)) {
                smneo__buf_append(b, v, n);
                smneo__buf_puts(b, " " REDACTED);
                return;
            }
        }
    }
    smneo__buf_puts(b, REDACTED);
}

/* Copies "name=value&..." (a query string or a form body) with the values
 * of secret fields redacted. */
static void put_pairs(smneo_buf *b, const char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        const char *amp = memchr(s + i, '&', len - i);
        size_t end = amp ? (size_t)(amp - s) : len;
        const char *eq = memchr(s + i, '=', end - i);
        if (eq && secret_encoded_name(s + i, (size_t)(eq - s) - i)) {
            smneo__buf_append(b, s + i, (size_t)(eq - s) - i + 1);
            smneo__buf_puts(b, REDACTED);
        } else {
            smneo__buf_append(b, s + i, end - i);
        }
        i = end;
        if (amp) {
            smneo__buf_putc(b, '&');
            i++;
        }
    }
}

/* Copies a URL with userinfo and secret query parameters redacted. */
static void put_url(smneo_buf *b, const char *url)
{
    const char *p = strstr(url, "://");
    const char *start = p ? p + 3 : url;
    size_t auth_len = strcspn(start, "/?#");
    const char *at = memchr(start, '@', auth_len);
    if (at) {
        smneo__buf_append(b, url, (size_t)(start - url));
        smneo__buf_puts(b, REDACTED "@");
        url = at + 1;
    }
    const char *q = strchr(url, '?');
    if (!q) {
        smneo__buf_puts(b, url);
        return;
    }
    smneo__buf_append(b, url, (size_t)(q - url) + 1);
    size_t qlen = strcspn(q + 1, "#");
    put_pairs(b, q + 1, qlen);
    smneo__buf_puts(b, q + 1 + qlen);
}

static void put_headers(smneo_buf *b, const smneo_header *h, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        smneo__buf_printf(b, "%s: ", h[i].name);
        if (!strcasecmp(h[i].name, "Authorization"))
            put_authorization(b, h[i].value);
        else if (secret_name(h[i].name, strlen(h[i].name)))
            smneo__buf_puts(b, REDACTED);
        else
            smneo__buf_puts(b, h[i].value);
        smneo__buf_putc(b, '\n');
    }
}

/* Index just past the JSON string starting at s[i] == '"'. */
static size_t skip_string(const char *s, size_t len, size_t i)
{
    for (i++; i < len; i++) {
        if (s[i] == '\\')
            i++;
        else if (s[i] == '"')
            return i + 1;
    }
    return len;
}

/* Index just past the JSON value starting at s[i] (any type). */
static size_t skip_value(const char *s, size_t len, size_t i)
{
    if (i < len && s[i] == '"')
        return skip_string(s, len, i);
    if (i < len && (s[i] == '{' || s[i] == '[')) {
        int depth = 0;
        while (i < len) {
            if (s[i] == '"') {
                i = skip_string(s, len, i);
                continue;
            }
            if (s[i] == '{' || s[i] == '[')
                depth++;
            else if ((s[i] == '}' || s[i] == ']') && --depth == 0)
                return i + 1;
            i++;
        }
        return len;
    }
    while (i < len && s[i] != ',' && s[i] != '}' && s[i] != ']' && !isspace((unsigned char)s[i]))
        i++;
    return i;
}

/* Copies a JSON text, replacing the values of secret members (objects and
 * arrays under a secret name as a whole). Not a validator: malformed input
 * is copied as well as it can be. */
static void put_json_redacted(smneo_buf *b, const char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        if (s[i] != '"') {
            smneo__buf_putc(b, s[i++]);
            continue;
        }
        size_t end = skip_string(s, len, i);
        smneo__buf_append(b, s + i, end - i);
        size_t j = end;
        while (j < len && isspace((unsigned char)s[j]))
            j++;
        int is_key = j < len && s[j] == ':';
        if (!is_key || end - i < 2 || !secret_name(s + i + 1, end - i - 2)) {
            i = end;
            continue;
        }
        /* Copy ':' and spaces, then replace the value. */
        j++;
        while (j < len && isspace((unsigned char)s[j]))
            j++;
        smneo__buf_append(b, s + end, j - end);
        if (j < len) {
            smneo__buf_puts(b, "\"" REDACTED "\"");
            j = skip_value(s, len, j);
        }
        i = j;
    }
}

/* Position of needle in s[from..len), or len. */
static size_t find(const char *s, size_t len, size_t from, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = from; i + n <= len; i++)
        if (s[i] == needle[0] && !memcmp(s + i, needle, n))
            return i;
    return len;
}

/* Index just past the first '>' after s[i] == '<', or len. Quotes are not
 * honoured: a '>' in an attribute value only cuts the tag short, it never
 * hides the tags that follow. */
static size_t tag_end(const char *s, size_t len, size_t i)
{
    size_t e = find(s, len, i, ">");
    return e < len ? e + 1 : len;
}

static int starts(const char *s, size_t len, size_t i, const char *prefix)
{
    size_t n = strlen(prefix);
    return len - i >= n && !memcmp(s + i, prefix, n);
}

static int is_name_end(char c) { return c == '>' || c == '/' || isspace((unsigned char)c); }

/* Start of the end tag matching an element named name (qualified) whose
 * content starts at s[i]; elements of the same name nest. len if none. */
static size_t find_close(const char *s, size_t len, size_t i, const char *name, size_t nlen)
{
    int depth = 1;
    while ((i = find(s, len, i, "<")) < len) {
        if (starts(s, len, i, "<![CDATA[")) {
            i = find(s, len, i, "]]>");
            continue;
        }
        if (starts(s, len, i, "<!--")) {
            i = find(s, len, i, "-->");
            continue;
        }
        int close = i + 1 < len && s[i + 1] == '/';
        size_t p = i + 1 + (size_t)close;
        size_t e = tag_end(s, len, i);
        if (p + nlen < len && !memcmp(s + p, name, nlen) && is_name_end(s[p + nlen])) {
            if (close && --depth == 0)
                return i;
            if (!close && !(e >= 2 && e <= len && s[e - 2] == '/'))
                depth++;
        }
        i = e;
    }
    return len;
}

/* Copies an XML text with the content of secret elements (SecretAccessKey,
 * SessionToken, CanonicalRequest, StringToSign, ...) redacted, at any depth.
 * Not a validator: malformed or cut input is copied as well as it can be,
 * and a secret element that is never closed is redacted to the end. */
static void put_xml_redacted(smneo_buf *b, const char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        size_t lt = find(s, len, i, "<");
        smneo__buf_append(b, s + i, lt - i);
        if (lt == len)
            break;
        size_t e;
        if (starts(s, len, lt, "<![CDATA["))
            e = find(s, len, lt, "]]>") + 3;
        else if (starts(s, len, lt, "<!--"))
            e = find(s, len, lt, "-->") + 3;
        else
            e = tag_end(s, len, lt);
        if (e > len)
            e = len;
        smneo__buf_append(b, s + lt, e - lt);
        i = e;
        /* End tags, declarations, comments, self-closing and cut tags: copied. */
        if (lt + 1 >= len || s[lt + 1] == '/' || s[lt + 1] == '?' || s[lt + 1] == '!' || e == len ||
            (e >= 2 && s[e - 2] == '/'))
            continue;
        size_t nlen = 0;
        while (lt + 1 + nlen < e && !is_name_end(s[lt + 1 + nlen]))
            nlen++;
        const char *name = s + lt + 1;
        const char *colon = memchr(name, ':', nlen);
        const char *local = colon ? colon + 1 : name;
        if (!secret_name(local, nlen - (size_t)(local - name)))
            continue;
        smneo__buf_puts(b, REDACTED);
        i = find_close(s, len, e, name, nlen);
    }
}

static int is_text(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 && c != '\n' && c != '\r' && c != '\t')
            return 0;
    }
    return 1;
}

/* A form-encoded body: declared so, or a single line of name=value pairs. */
static int is_form(const char *s, size_t len, const char *content_type)
{
    if (content_type && !strncasecmp(content_type, "application/x-www-form-urlencoded", 33))
        return 1;
    if (!len || !memchr(s, '=', len) || s[0] == '=')
        return 0;
    for (size_t i = 0; i < len; i++)
        if (isspace((unsigned char)s[i]))
            return 0;
    return 1;
}

static void put_body(smneo_buf *b, const char *body, size_t len, int force_redact, const char *content_type)
{
    if (!body || !len)
        return;
    smneo__buf_putc(b, '\n');
    size_t k = 0;
    while (k < len && isspace((unsigned char)body[k]))
        k++;
    if (force_redact) {
        smneo__buf_printf(b, REDACTED " (%zu bytes)\n", len);
        return;
    }
    if (!is_text(body, len)) {
        smneo__buf_printf(b, "<%zu bytes of binary data>\n", len);
        return;
    }
    /* Redact the whole body first (a secret may lie past the cut). */
    smneo_buf tmp = SMNEO_BUF_INIT;
    if (k < len && (body[k] == '{' || body[k] == '['))
        put_json_redacted(&tmp, body, len);
    else if (k < len && body[k] == '<')
        put_xml_redacted(&tmp, body, len);
    else if (is_form(body, len, content_type))
        put_pairs(&tmp, body, len);
    else
        smneo__buf_append(&tmp, body, len);
    if (tmp.failed) {
        b->failed = 1;
    } else if (tmp.len > MAX_LOGGED_BODY) {
        smneo__buf_append(b, tmp.data, MAX_LOGGED_BODY);
        smneo__buf_printf(b, "... (%zu bytes in all)\n", len);
    } else {
        smneo__buf_append(b, tmp.data, tmp.len);
        smneo__buf_putc(b, '\n');
    }
    smneo__buf_free(&tmp);
}

int smneo_request_redacted(char **out, const smneo_request *req)
{
    if (!out || !req)
        return SMNEO_EINVAL;
    *out = NULL;
    smneo_buf b = SMNEO_BUF_INIT;
    smneo__buf_printf(&b, "%s ", req->method ? req->method : "?");
    put_url(&b, req->url ? req->url : "?");
    smneo__buf_putc(&b, '\n');
    put_headers(&b, req->headers, req->header_count);
    put_body(&b, req->body, req->body_len, 0, smneo_request_header(req, "Content-Type"));
    *out = smneo__buf_detach(&b, NULL);
    return *out ? 0 : SMNEO_ENOMEM;
}

static char *response_redacted(const smneo_response *resp)
{
    smneo_buf b = SMNEO_BUF_INIT;
    smneo__buf_printf(&b, "HTTP %d\n", resp->status);
    put_headers(&b, resp->headers, resp->header_count);
    /* The IMDSv2 token answer carries the token as its plain-text body. */
    int token_body = smneo_response_header(resp, "X-aws-ec2-metadata-token-ttl-seconds") != NULL;
    put_body(&b, resp->body, resp->body_len, token_body, smneo_response_header(resp, "Content-Type"));
    return smneo__buf_detach(&b, NULL);
}

void smneo_log_request(const smneo_request *req)
{
    if (!req || !smneo_log_enabled())
        return;
    char *text = NULL;
    if (smneo_request_redacted(&text, req) == 0) {
        smneo_log(SMNEO_LOG_DEBUG, "request: %s", text);
        free(text);
    }
}

void smneo_log_response(const smneo_response *resp)
{
    if (!resp || !smneo_log_enabled())
        return;
    char *text = response_redacted(resp);
    if (text) {
        smneo_log(SMNEO_LOG_DEBUG, "response: %s", text);
        free(text);
    }
}
