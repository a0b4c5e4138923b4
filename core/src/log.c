/* Debug logging: off by default; SMNEO_DEBUG=1 logs to stderr, a callback
 * receives messages instead when installed. Requests and responses are
 * logged with signatures, tokens and secret-looking JSON members redacted. */
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
static smneo_log_fn sink_fn = NULL;
static void *sink_payload = NULL;

void smneo_log_set_callback(smneo_log_fn fn, void *payload)
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
    smneo_log_fn fn = sink_fn;
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

/* Header names whose whole value is a secret. */
static int secret_header(const char *name)
{
    static const char *const names[] = {"X-Amz-Security-Token", "X-aws-ec2-metadata-token", "Proxy-Authorization",
                                        "Cookie", "Set-Cookie", "X-Amz-Server-Side-Encryption-Customer-Key",
                                        "X-Amz-Copy-Source-Server-Side-Encryption-Customer-Key"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcasecmp(name, names[i]))
            return 1;
    return 0;
}

/* JSON member names whose value is a secret: *secret*, *password*,
 * *privatekey*, *token (but not the pagination NextToken). */
static int secret_member(const char *name, size_t len)
{
    char low[128];
    if (len >= sizeof low)
        len = sizeof low - 1;
    for (size_t i = 0; i < len; i++)
        low[i] = (char)tolower((unsigned char)name[i]);
    low[len] = '\0';
    if (strstr(low, "secret") || strstr(low, "password") || strstr(low, "privatekey"))
        return 1;
    if (len >= 5 && !strcmp(low + len - 5, "token"))
        return strcmp(low, "nexttoken") != 0;
    return 0;
}

/* Authorization: keep the scheme, credential scope and signed headers of a
 * SigV4 value, redact the signature; redact everything after the scheme of
 * any other scheme. */
static void put_authorization(smneo_buf *b, const char *v)
{
    if (!strncmp(v, "AWS4-", 5)) {
        const char *sig = strstr(v, "Signature=");
        if (!sig) {
            smneo__buf_puts(b, v);
            return;
        }
        smneo__buf_append(b, v, (size_t)(sig - v) + 10);
        smneo__buf_puts(b, REDACTED);
        const char *rest = strchr(sig, ',');
        if (rest)
            smneo__buf_puts(b, rest);
        return;
    }
    size_t scheme = strcspn(v, " ");
    smneo__buf_append(b, v, scheme);
    smneo__buf_puts(b, v[scheme] ? " " REDACTED : REDACTED);
}

/* Copies a URL with userinfo and signature/token query parameters redacted. */
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
    const char *s = q + 1;
    while (*s) {
        size_t len = strcspn(s, "&#");
        size_t name = strcspn(s, "=&#");
        int secret = (name == 15 && !strncasecmp(s, "X-Amz-Signature", 15)) ||
                     (name == 20 && !strncasecmp(s, "X-Amz-Security-Token", 20));
        if (secret && name < len) {
            smneo__buf_append(b, s, name + 1);
            smneo__buf_puts(b, REDACTED);
        } else {
            smneo__buf_append(b, s, len);
        }
        s += len;
        if (*s == '&') {
            smneo__buf_putc(b, '&');
            s++;
        } else if (*s == '#') {
            smneo__buf_puts(b, s);
            break;
        }
    }
}

static void put_headers(smneo_buf *b, const smneo_header *h, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        smneo__buf_printf(b, "%s: ", h[i].name);
        if (!strcasecmp(h[i].name, "Authorization"))
            put_authorization(b, h[i].value);
        else if (secret_header(h[i].name))
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

/* Copies a JSON text, replacing the values of secret-looking members. Not a
 * validator: malformed input is copied as well as it can be. */
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
        if (!is_key || end - i < 2 || !secret_member(s + i + 1, end - i - 2)) {
            i = end;
            continue;
        }
        /* Copy ':' and spaces, then replace a scalar value. */
        j++;
        while (j < len && isspace((unsigned char)s[j]))
            j++;
        smneo__buf_append(b, s + end, j - end);
        if (j < len && s[j] == '"') {
            smneo__buf_puts(b, "\"" REDACTED "\"");
            i = skip_string(s, len, j);
        } else if (j < len && s[j] != '{' && s[j] != '[') {
            smneo__buf_puts(b, "\"" REDACTED "\"");
            while (j < len && s[j] != ',' && s[j] != '}' && s[j] != ']' && !isspace((unsigned char)s[j]))
                j++;
            i = j;
        } else {
            i = j; /* objects and arrays: their members are scanned in turn */
        }
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

static void put_body(smneo_buf *b, const char *body, size_t len, int force_redact)
{
    if (!body || !len)
        return;
    smneo__buf_putc(b, '\n');
    size_t k = 0;
    while (k < len && isspace((unsigned char)body[k]))
        k++;
    if (force_redact) {
        smneo__buf_printf(b, REDACTED " (%zu bytes)\n", len);
    } else if (k < len && (body[k] == '{' || body[k] == '[')) {
        /* Redact the whole JSON first (a secret may lie past the cut). */
        smneo_buf tmp = SMNEO_BUF_INIT;
        put_json_redacted(&tmp, body, len);
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
    } else if (!is_text(body, len)) {
        smneo__buf_printf(b, "<%zu bytes of binary data>\n", len);
    } else if (len > MAX_LOGGED_BODY) {
        smneo__buf_append(b, body, MAX_LOGGED_BODY);
        smneo__buf_printf(b, "... (%zu bytes in all)\n", len);
    } else {
        smneo__buf_append(b, body, len);
        smneo__buf_putc(b, '\n');
    }
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
    put_body(&b, req->body, req->body_len, 0);
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
    put_body(&b, resp->body, resp->body_len, token_body);
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
