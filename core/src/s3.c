/* S3 transfer: PutObject, multipart upload, GetObject and HeadObject,
 * streamed from and to files (see smneo/s3.h and docs/s3.md).
 *
 * Requests are built here, signed with SigV4 for "s3" and sent with the
 * client's transport (send_stream when it has one). Each request is retried
 * on its own with the client's retry policy; a multipart upload sends its
 * parts from `concurrency` threads, each reading its part from the file with
 * pread, so memory does not grow with the file or part size. */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "client_internal.h"
#include "internal.h"
#include "options_internal.h"
#include "s3_internal.h"
#include "smneo/log.h"
#include "smneo/s3.h"
#define DEFAULT_PART_SIZE (64 * MIB)
#define DEFAULT_THRESHOLD (64 * MIB)
#define MIN_PART_SIZE (5 * MIB)
#define MAX_CONCURRENCY 64
#define PROGRESS_STEP (256 * 1024)

/* ---- small helpers -------------------------------------------------------- */

static int is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
           c == '.' || c == '~';
}

/* Percent-encodes s (RFC 3986 unreserved kept; '/' kept when keep_slash). */
int smneo__s3_put_pct(smneo_buf *b, const char *s, int keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (is_unreserved(*p) || (keep_slash && *p == '/')) {
            smneo__buf_putc(b, (char)*p);
        } else {
            char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            smneo__buf_append(b, e, 3);
        }
    }
    return b->failed ? SMNEO_ENOMEM : 0;
}

/* Percent-decodes s[0..n). NULL on a bad escape, %00 or no memory. */
static char *pct_decode(const char *s, size_t n)
{
    char *out = malloc(n + 1), *o = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            int hi = i + 1 < n ? smneo__hexval(s[i + 1]) : -1;
            int lo = i + 2 < n ? smneo__hexval(s[i + 2]) : -1;
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
                free(out);
                return NULL;
            }
            *o++ = (char)(hi * 16 + lo);
            i += 2;
        } else {
            *o++ = s[i];
        }
    }
    *o = '\0';
    return out;
}

static int ends_with_ci(const char *s, size_t n, const char *suffix)
{
    size_t k = strlen(suffix);
    return n >= k && !strncasecmp(s + n - k, suffix, k);
}

static int is_aws_host(const char *host, size_t n)
{
    return ends_with_ci(host, n, ".amazonaws.com") || ends_with_ci(host, n, ".amazonaws.com.cn");
}

/* Bucket names as S3 accepts them today: 3-63 of [a-z0-9.-], starting and
 * ending with a letter or digit. */
static int valid_bucket(const char *b)
{
    size_t n = strlen(b);
    if (n < 3 || n > 63)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = b[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-'))
            return 0;
    }
    return b[0] != '.' && b[0] != '-' && b[n - 1] != '.' && b[n - 1] != '-';
}

/* ---- URI parsing ------------------------------------------------------------ */

int smneo_s3_parse_uri(char **bucket, char **key, const char *uri, smneo_error *err)
{
    if (!bucket || !key || !uri)
        return smneo__error(err, SMNEO_EINVAL, "smneo_s3_parse_uri: bucket, key and uri must not be NULL");
    *bucket = *key = NULL;
    char *b = NULL, *k = NULL;
    if (!strncasecmp(uri, "s3://", 5)) {
        const char *rest = uri + 5;
        const char *slash = strchr(rest, '/');
        b = slash ? smneo__strndup(rest, (size_t)(slash - rest)) : smneo__strdup(rest);
        k = smneo__strdup(slash ? slash + 1 : "");
    } else if (!strncasecmp(uri, "https://", 8) || !strncasecmp(uri, "http://", 7)) {
        const char *auth = strstr(uri, "://") + 3;
        size_t alen = strcspn(auth, "/?#");
        const char *path = auth + alen;
        size_t plen = *path == '/' ? strcspn(path, "?#") : 0;
        const char *host = auth;
        size_t hlen = alen;
        const char *at = memchr(host, '@', hlen);
        if (at) {
            hlen -= (size_t)(at + 1 - host);
            host = at + 1;
        }
        if (hlen && host[0] != '[') {
            const char *colon = memchr(host, ':', hlen);
            if (colon)
                hlen = (size_t)(colon - host);
        }
        /* Virtual-hosted AWS: bucket.s3.region.amazonaws.com,
         * bucket.s3-region.amazonaws.com, bucket.s3.amazonaws.com. */
        const char *vh = NULL;
        if (is_aws_host(host, hlen)) {
            for (size_t i = 0; i + 4 <= hlen; i++) {
                if (host[i] == '.' && (host[i + 1] == 's' || host[i + 1] == 'S') && host[i + 2] == '3' &&
                    (host[i + 3] == '.' || host[i + 3] == '-')) {
                    vh = host + i;
                    break;
                }
            }
        }
        if (vh) {
            b = smneo__strndup(host, (size_t)(vh - host));
            k = plen > 1 ? pct_decode(path + 1, plen - 1) : smneo__strdup("");
            if (!k && b) {
                free(b);
                return smneo__error(err, SMNEO_EINVAL, "S3 URL '%s' has an invalid percent-escape in its key", uri);
            }
        } else {
            const char *seg = plen ? path + 1 : path;
            size_t slen = plen ? plen - 1 : 0;
            const char *slash = memchr(seg, '/', slen);
            size_t blen = slash ? (size_t)(slash - seg) : slen;
            b = pct_decode(seg, blen);
            k = slash ? pct_decode(slash + 1, slen - blen - 1) : smneo__strdup("");
            if ((!b || !k) && (b || k)) {
                free(b);
                free(k);
                return smneo__error(err, SMNEO_EINVAL, "S3 URL '%s' has an invalid percent-escape", uri);
            }
        }
    } else {
        return smneo__error(err, SMNEO_EINVAL, "'%s' is not an S3 URI: use s3://bucket/key (or an https:// S3 URL)",
                            uri);
    }
    if (!b || !k) {
        free(b);
        free(k);
        return smneo__error(err, SMNEO_ENOMEM, "out of memory");
    }
    int rc = 0;
    if (!*b)
        rc = smneo__error(err, SMNEO_EINVAL, "S3 URI '%s' has no bucket: use s3://bucket/key", uri);
    else if (!valid_bucket(b))
        rc = smneo__error(err, SMNEO_EINVAL, "S3 URI '%s': bucket name '%s' is not valid: use 3 to 63 lowercase "
                          "letters, digits, dots and hyphens, starting and ending with a letter or digit", uri, b);
    else if (!*k)
        rc = smneo__error(err, SMNEO_EINVAL, "S3 URI '%s' has no object key: use s3://%s/key", uri, b);
    else if (strlen(k) > 1024)
        rc = smneo__error(err, SMNEO_EINVAL, "S3 URI '%s': the object key is longer than 1024 bytes", uri);
    if (rc) {
        free(b);
        free(k);
        return rc;
    }
    *bucket = b;
    *key = k;
    return 0;
}

/* ---- the target: where requests for one object go ------------------------------ */

void smneo__s3_target_clear(s3_target *t)
{
    free(t->bucket);
    free(t->key);
    free(t->base);
    free(t->path);
    memset(t, 0, sizeof *t);
}

/* DNS-compatible bucket names may go into the host name. */
static int virtual_ok(const char *b) { return valid_bucket(b) && !strchr(b, '.'); }

int smneo__s3_target_init(s3_target *t, smneo_client *c, const char *uri, smneo_error *err)
{
    return smneo__s3_target_init_for(t, c, uri, 1, err);
}

int smneo__s3_target_init_for(s3_target *t, smneo_client *c, const char *uri, int need_transport, smneo_error *err)
{
    memset(t, 0, sizeof *t);
    if (!c)
        return smneo__error(err, SMNEO_EINVAL, "client is NULL");
    if (!uri)
        return smneo__error(err, SMNEO_EINVAL, "the S3 URI is NULL");
    t->client = c;
    t->transport = smneo__client_transport(c);
    t->region = smneo_client_region(c);
    if (!t->transport && need_transport)
        return smneo__error(err, SMNEO_EINVAL, "the client has no transport (no_transport=1): S3 transfers need "
                            "one");
    const char *ep = smneo__client_s3_endpoint(c);
    if (!ep || !strstr(ep, "://"))
        return smneo__error(err, SMNEO_EINVAL, "the client has no valid S3 endpoint URL");
    int rc = smneo_s3_parse_uri(&t->bucket, &t->key, uri, err);
    if (rc)
        return rc;
    t->https = !strncasecmp(ep, "https://", 8);
    t->streams = smneo_transport_can_stream(t->transport);
    const char *auth = strstr(ep, "://") + 3;
    size_t alen = strcspn(auth, "/?#");
    const char *bpath = auth + alen;
    size_t bplen = *bpath == '/' ? strcspn(bpath, "?#") : 0;
    while (bplen && bpath[bplen - 1] == '/')
        bplen--;
    const char *host = auth;
    size_t hlen = alen;
    const char *at = memchr(host, '@', hlen);
    if (at) {
        hlen -= (size_t)(at + 1 - host);
        host = at + 1;
    }
    if (hlen && host[0] != '[') {
        const char *colon = memchr(host, ':', hlen);
        if (colon)
            hlen = (size_t)(colon - host);
    }
    smneo_buf path = SMNEO_BUF_INIT;
    smneo__buf_append(&path, bpath, bplen);
    int style = smneo__client_s3_style(c);
    int vhost = style == SMNEO__S3_STYLE_VIRTUAL ? valid_bucket(t->bucket)
                : style == SMNEO__S3_STYLE_PATH  ? 0
                                                 : is_aws_host(host, hlen) && virtual_ok(t->bucket);
    if (vhost) {
        t->base = smneo__aprintf("%.*s://%s.%.*s", (int)(auth - 3 - ep), ep, t->bucket, (int)alen, auth);
    } else {
        smneo__buf_putc(&path, '/');
        smneo__s3_put_pct(&path, t->bucket, 0);
        t->base = smneo__aprintf("%.*s://%.*s", (int)(auth - 3 - ep), ep, (int)alen, auth);
    }
    smneo__buf_putc(&path, '/');
    smneo__s3_put_pct(&path, t->key, 1);
    t->path = smneo__buf_detach(&path, NULL);
    if (!t->base || !t->path) {
        smneo__s3_target_clear(t);
        return smneo__error(err, SMNEO_ENOMEM, "out of memory");
    }
    return 0;
}

/* ---- progress, cancel and stop ----------------------------------------------- */

void smneo__s3_xfer_init(s3_xfer *x, const smneo_s3_options *o, uint64_t total)
{
    memset(x, 0, sizeof *x);
    pthread_mutex_init(&x->mu, NULL);
    x->fn = o->progress;
    x->payload = o->payload;
    x->total = total;
}

void smneo__s3_xfer_destroy(s3_xfer *x) { pthread_mutex_destroy(&x->mu); }

/* Calls the callback (under the lock: calls never overlap). */
void smneo__s3_xfer_report_locked(s3_xfer *x, int force)
{
    if (!x->fn || x->cancelled)
        return;
    uint64_t d = x->done > x->total ? x->total : x->done;
    if (!force && (d <= x->reported || (d - x->reported < PROGRESS_STEP && d != x->total)))
        return;
    if (d < x->reported)
        d = x->reported;
    x->reported = d;
    if (x->fn(d, x->total, x->payload) != 0) {
        x->cancelled = 1;
        x->stop = 1;
    }
}

/* Adds (or with neg, removes) bytes; returns 1 when the transfer must stop. */
int smneo__s3_xfer_add(s3_xfer *x, uint64_t n, int neg)
{
    if (!x)
        return 0;
    pthread_mutex_lock(&x->mu);
    if (neg)
        x->done = n > x->done ? 0 : x->done - n;
    else
        x->done += n;
    if (!neg)
        smneo__s3_xfer_report_locked(x, 0);
    int stop = x->stop;
    pthread_mutex_unlock(&x->mu);
    return stop;
}

int smneo__s3_xfer_start(s3_xfer *x)
{
    pthread_mutex_lock(&x->mu);
    smneo__s3_xfer_report_locked(x, 1);
    int stop = x->stop;
    pthread_mutex_unlock(&x->mu);
    return stop;
}

int smneo__s3_xfer_stopped(s3_xfer *x)
{
    if (!x)
        return 0;
    pthread_mutex_lock(&x->mu);
    int s = x->stop;
    pthread_mutex_unlock(&x->mu);
    return s;
}

int smneo__s3_xfer_cancelled(s3_xfer *x)
{
    if (!x)
        return 0;
    pthread_mutex_lock(&x->mu);
    int s = x->cancelled;
    pthread_mutex_unlock(&x->mu);
    return s;
}

/* ---- one request, with retries ----------------------------------------------- */

/* Finds <tag>...</tag> (also <tag attr...>) in body; decodes the five XML
 * entities and numeric references. Caller frees; NULL when absent. */
char *smneo__s3_xml_find(const char *body, size_t len, const char *tag)
{
    if (!body)
        return NULL;
    size_t tl = strlen(tag);
    const char *end = body + len;
    for (const char *p = body; p + tl + 2 <= end; p++) {
        if (p[0] != '<' || memcmp(p + 1, tag, tl) != 0 || (p[tl + 1] != '>' && p[tl + 1] != ' '))
            continue;
        const char *gt = memchr(p, '>', (size_t)(end - p));
        if (!gt)
            return NULL;
        if (gt[-1] == '/')
            return smneo__strdup("");
        const char *s = gt + 1;
        const char *e = s;
        while (e + tl + 3 <= end && !(e[0] == '<' && e[1] == '/' && !memcmp(e + 2, tag, tl) && e[tl + 2] == '>'))
            e++;
        if (e + tl + 3 > end)
            return NULL;
        smneo_buf b = SMNEO_BUF_INIT;
        for (const char *q = s; q < e; q++) {
            if (*q != '&') {
                smneo__buf_putc(&b, *q);
                continue;
            }
            const char *semi = memchr(q, ';', (size_t)(e - q));
            size_t n = semi ? (size_t)(semi - q - 1) : 0;
            const char *name = q + 1;
            long cp = -1;
            if (n == 3 && !memcmp(name, "amp", 3))
                cp = '&';
            else if (n == 2 && !memcmp(name, "lt", 2))
                cp = '<';
            else if (n == 2 && !memcmp(name, "gt", 2))
                cp = '>';
            else if (n == 4 && !memcmp(name, "quot", 4))
                cp = '"';
            else if (n == 4 && !memcmp(name, "apos", 4))
                cp = '\'';
            else if (n >= 2 && name[0] == '#')
                cp = name[1] == 'x' ? strtol(name + 2, NULL, 16) : strtol(name + 1, NULL, 10);
            if (cp > 0 && cp < 128) {
                smneo__buf_putc(&b, (char)cp);
                q = semi;
            } else {
                smneo__buf_putc(&b, '&');
            }
        }
        return smneo__buf_detach(&b, NULL);
    }
    return NULL;
}

char *smneo__s3_xml_text(const char *body, size_t len, const char *tag) { return smneo__s3_xml_find(body, len, tag); }

static int has_error_element(const smneo_response *resp)
{
    if (!resp->body || !resp->body_len)
        return 0;
    const char *end = resp->body + resp->body_len;
    for (const char *p = resp->body; p + 7 <= end; p++)
        if (!memcmp(p, "<Error>", 7))
            return 1;
    return 0;
}

static int is_notfound_code(const char *code)
{
    return code && (!strcmp(code, "NoSuchKey") || !strcmp(code, "NoSuchBucket") || !strcmp(code, "NotFound") ||
                    !strcmp(code, "NoSuchUpload"));
}

/* Fills err from an S3 error response; takes ownership of resp. */
int smneo__s3_response_error(smneo_response *resp, const s3_target *t, const char *op, smneo_error *err)
{
    resp->operation = op; /* smneo_error_operation */
    char *code = smneo__s3_xml_find(resp->body, resp->body_len, "Code");
    char *msg = smneo__s3_xml_find(resp->body, resp->body_len, "Message");
    char *rid = smneo__s3_xml_find(resp->body, resp->body_len, "RequestId");
    /* No <Code> (a HEAD's error has no body): the status, as botocore's code */
    if (!code)
        code = smneo__aprintf("%d", resp->status);
    int retryable = 0;
    int rc = smneo_protocol_error_class(&retryable, code, resp->status);
    if (is_notfound_code(code) || (resp->status == 404 && rc == SMNEO_ESERVICE))
        rc = SMNEO_ENOTFOUND;
    if (rc == SMNEO_ENOTFOUND) {
        const char *what = !strcmp(code, "NoSuchUpload") ? "multipart upload"
                           : !strcmp(code, "NoSuchBucket") ? "bucket" : "object";
        smneo__error(err, rc, "%s not found at s3://%s/%s (%s%s%s)", what, t->bucket, t->key, code,
                     msg ? ": " : "", msg ? msg : "");
    } else {
        const char *hint = "";
        if (rc == SMNEO_EAUTH)
            hint = "; check the credentials, the clock and the region";
        else if (resp->status == 301 || (code && !strcmp(code, "PermanentRedirect")))
            hint = "; the bucket is in another region: set the client's region to the bucket's";
        smneo__error(err, rc, "S3 %s for s3://%s/%s failed: %s (%s, HTTP %d)%s", op, t->bucket, t->key,
                     msg ? msg : "no error message", code ? code : "?", resp->status, hint);
    }
    if (err) {
        const char *hrid = smneo_response_header(resp, "x-amz-request-id");
        err->service_code = code;
        code = NULL;
        err->request_id = smneo__strdup(hrid ? hrid : rid);
        err->http_status = resp->status;
        err->retryable = retryable;
        err->attempts = 1;
        err->response = resp;
        resp = NULL;
    }
    free(code);
    free(msg);
    free(rid);
    smneo_response_free(resp);
    return rc;
}

/* Builds and signs r's request with creds (caller-owned *out). */
int smneo__s3_build(smneo_request **out, const s3_target *t, const s3_req *r, const smneo_credentials *creds,
                    smneo_error *err)
{
    *out = NULL;
    char *url = r->query ? smneo__aprintf("%s%s?%s", t->base, t->path, r->query)
                         : smneo__aprintf("%s%s", t->base, t->path);
    smneo_request *req = NULL;
    if (!url || smneo_request_new(&req, r->method, url) != 0) {
        free(url);
        return smneo__error(err, SMNEO_ENOMEM, "out of memory");
    }
    free(url);
    int rc = 0;
    for (const char *const *h = r->headers; h && h[0] && !rc; h += 2)
        rc = smneo_request_add_header(req, h[0], h[1]);
    if (!rc && r->body)
        rc = smneo_request_set_body(req, r->body, r->body_len);
    if (rc) {
        smneo_request_free(req);
        return smneo__error(err, SMNEO_ENOMEM, "out of memory");
    }
    smneo_sigv4_options so = SMNEO_SIGV4_OPTIONS_INIT;
    so.region = t->region;
    so.service = "s3";
    so.timestamp = smneo__now();
    so.no_normalize_path = 1;
    so.sign_body_header = 1;
    if (t->https)
        so.payload_hash = "UNSIGNED-PAYLOAD";
    else if (r->src)
        so.payload_hash = r->payload_hash;
    rc = smneo_sigv4_sign(req, creds, &so, err);
    if (rc) {
        smneo_request_free(req);
        return rc;
    }
    *out = req;
    return 0;
}

/* One attempt: credentials, build, sign, send. */
static int attempt_once(const s3_target *t, const s3_req *r, smneo_response **out, smneo_error *err)
{
    *out = NULL;
    smneo_credentials *creds = NULL;
    int rc = smneo__client_credentials(&creds, t->client, err);
    if (rc)
        return rc;
    smneo_request *req = NULL;
    rc = smneo__s3_build(&req, t, r, creds, err);
    smneo_credentials_free(creds);
    if (!rc)
        rc = smneo_transport_send_stream(out, t->transport, req, r->src, r->sink, err);
    smneo_request_free(req);
    return rc;
}

static int sleep_unless_stopped(s3_xfer *x, double seconds)
{
    int64_t until = smneo__monotonic_ms() + (int64_t)(seconds * 1000);
    for (;;) {
        if (smneo__s3_xfer_stopped(x))
            return 1;
        int64_t left = until - smneo__monotonic_ms();
        if (left <= 0)
            return 0;
        smneo__sleep_ms(left > 100 ? 100 : (long)left);
    }
}

static int stopped_error(const s3_req *r, smneo_error *err)
{
    if (smneo__s3_xfer_cancelled(r->x))
        return smneo__error(err, SMNEO_ECANCELLED, "cancelled by the progress callback");
    return smneo__error(err, SMNEO_ECANCELLED, "stopped because another part of the transfer failed");
}

/* Sends r with the client's retry policy. 0 and the 2xx response in *out
 * (caller-owned), or an error with err filled. */
int smneo__s3_perform(const s3_target *t, const s3_req *r, smneo_response **out, smneo_error *err)
{
    *out = NULL;
    uint64_t rng = (uint64_t)smneo__monotonic_ms() * 0x9E3779B97F4A7C15ULL ^ (uint64_t)(uintptr_t)r;
    int quota_cost = 0;
    for (int attempt = 1;; attempt++) {
        if (smneo__s3_xfer_stopped(r->x))
            return stopped_error(r, err);
        if (r->rewind) {
            int rc = r->rewind(r->rewind_payload, err);
            if (rc)
                return rc;
        }
        smneo_response *resp = NULL;
        smneo_error e = SMNEO_ERROR_INIT;
        int rc = attempt_once(t, r, &resp, &e);
        if (rc == 0) {
            if (resp->status >= 200 && resp->status < 300 && !(r->error_in_200 && has_error_element(resp))) {
                smneo__retry_succeeded(t->client, &quota_cost);
                *out = resp;
                return 0;
            }
            if (resp->status >= 200 && resp->status < 300) /* <Error> in a 200: S3 says to retry */
                resp->status = 500;
            rc = smneo__s3_response_error(resp, t, r->op, &e);
        } else if (rc == SMNEO_ECANCELLED) {
            if (r->io_errno && *r->io_errno) {
                int en = *r->io_errno;
                rc = smneo__error(&e, SMNEO_EIO, "cannot %s '%s': %s", r->io_writing ? "write" : "read", r->io_path,
                                  en == IO_SHRUNK ? "the file became shorter while it was being uploaded"
                                                  : strerror(en));
            } else {
                rc = stopped_error(r, &e);
            }
        } else if (rc != SMNEO_ENOMEM && rc != SMNEO_EINVAL && e.message && rc != SMNEO_ECREDENTIALS &&
                   rc != SMNEO_ENOCREDENTIALS) {
            /* Transport failure: say which request it was. */
            char *m = smneo__aprintf("S3 %s for s3://%s/%s: %s", r->op, t->bucket, t->key, e.message);
            if (m) {
                free(e.message);
                e.message = m;
            }
        }
        e.code = rc;
        e.attempts = attempt;
        double delay = 0;
        if (rc != SMNEO_ECANCELLED && rc != SMNEO_EIO &&
            smneo__retry_next_s3(t->client, rc, &e, attempt, &rng, &quota_cost, &delay, 1, NULL)) {
            smneo_log(SMNEO_LOG_INFO, "S3 %s s3://%s/%s: attempt %d failed (%s), retrying in %.3f s", r->op,
                      t->bucket, t->key, attempt, e.service_code ? e.service_code : smneo_strerror(rc), delay);
            smneo_error_clear(&e);
            if (sleep_unless_stopped(r->x, delay))
                return stopped_error(r, err);
            continue;
        }
        if (err) {
            smneo_error_clear(err);
            *err = e;
        } else {
            smneo_error_clear(&e);
        }
        return rc;
    }
}

/* ---- credentials for the step machines ---------------------------------------------- */

int smneo__s3_creds_step(s3_creds *c, smneo_client *client, smneo_error *err)
{
    if (c->creds && (!c->creds->expiration || c->creds->expiration - smneo__now() > 60))
        return 0;
    if (c->pending) { /* an STS/SSO retry: sent once its backoff has passed */
        if (smneo__monotonic_ms() < c->wake_ms)
            return 2;
        c->pending = 0;
        return 1;
    }
    smneo_credentials_free(c->creds);
    c->creds = NULL;
    if (!c->res && smneo_chain_resolution_new(&c->res, smneo__client_chain(client), smneo__now()))
        return smneo__error(err, SMNEO_ENOMEM, "out of memory");
    smneo_request *req = NULL;
    int rc = smneo_chain_resolution_step(&req, &c->creds, c->res, err);
    if (rc == 1) {
        c->req = req;
        c->timeout_ms = smneo_chain_resolution_timeout_ms(c->res);
        long delay = smneo_chain_resolution_delay_ms(c->res);
        if (delay > 0) {
            c->pending = 1;
            c->wake_ms = smneo__monotonic_ms() + delay;
            return 2;
        }
        return 1;
    }
    smneo_chain_resolution_free(c->res);
    c->res = NULL;
    return rc < 0 ? rc : 0;
}

void smneo__s3_creds_feed(s3_creds *c, smneo_response *resp, int transport_error)
{
    smneo_request_free(c->req);
    c->req = NULL;
    smneo_chain_resolution_feed(c->res, resp, resp ? 0 : (transport_error ? transport_error : SMNEO_ECONNECT));
    smneo_response_free(resp);
}

void smneo__s3_creds_clear(s3_creds *c)
{
    smneo_request_free(c->req);
    smneo_credentials_free(c->creds);
    smneo_chain_resolution_free(c->res);
    memset(c, 0, sizeof *c);
}

/* ---- options ------------------------------------------------------------------- */

static int printable(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
            return 0;
    return 1;
}

static int token_char(int ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

int smneo__s3_check_options(smneo_s3_options *o, const smneo_s3_options *given, smneo_error *err)
{
    int rc = smneo__options_copy(o, given, &smneo__s3_options_layout, err);
    if (rc)
        return rc;
    if (o->failed_operation)
        *o->failed_operation = NULL;
    if (!o->multipart_threshold)
        o->multipart_threshold = DEFAULT_THRESHOLD;
    if (!o->part_size)
        o->part_size = DEFAULT_PART_SIZE;
    if (o->part_size < MIN_PART_SIZE)
        return smneo__error(err, SMNEO_EINVAL, "smneo_s3_options.part_size %llu is below S3's minimum part size: "
                            "use at least 5 MiB (5242880), or 0 for 64 MiB", (unsigned long long)o->part_size);
    if (o->part_size > MAX_SINGLE_PUT)
        return smneo__error(err, SMNEO_EINVAL, "smneo_s3_options.part_size is above S3's maximum of 5 GiB");
    if (o->concurrency < 0 || o->concurrency > MAX_CONCURRENCY)
        return smneo__error(err, SMNEO_EINVAL, "smneo_s3_options.concurrency %d is not valid: use 1 to %d, or 0 "
                            "for 4", o->concurrency, MAX_CONCURRENCY);
    if (!o->concurrency)
        o->concurrency = 4;
    if (o->sse_kms_key_id && (!*o->sse_kms_key_id || !printable(o->sse_kms_key_id)))
        return smneo__error(err, SMNEO_EINVAL, "smneo_s3_options.sse_kms_key_id must be a non-empty key id, ARN "
                            "or alias of printable ASCII characters");
    if (o->content_digest && (!*o->content_digest || !printable(o->content_digest)))
        return smneo__error(err, SMNEO_EINVAL, "smneo_s3_options.content_digest must be non-empty printable ASCII "
                            "(a hex digest)");
    if (o->content_type && (!*o->content_type || !printable(o->content_type)))
        return smneo__error(err, SMNEO_EINVAL, "smneo_s3_options.content_type must be a non-empty media type of "
                            "printable ASCII characters, such as \"application/gzip\"");
    const char *sse = o->server_side_encryption;
    if (sse && strcmp(sse, "AES256") && strcmp(sse, "aws:kms") && strcmp(sse, "aws:kms:dsse"))
        return smneo__error(err, SMNEO_EINVAL, "smneo_s3_options.server_side_encryption \"%s\" is not valid: use "
                            "\"AES256\", \"aws:kms\" or \"aws:kms:dsse\"", printable(sse) ? sse : "?");
    if (sse && !strcmp(sse, "AES256") && o->sse_kms_key_id)
        return smneo__error(err, SMNEO_EINVAL, "smneo_s3_options.sse_kms_key_id needs server_side_encryption "
                            "\"aws:kms\" (or \"aws:kms:dsse\"), not \"AES256\"");
    for (const char *const *m = o->metadata; m && m[0]; m += 2) {
        int ok = *m[0] != '\0';
        for (const char *p = m[0]; ok && *p; p++)
            ok = token_char((unsigned char)*p);
        if (!ok)
            return smneo__error(err, SMNEO_EINVAL, "smneo_s3_options.metadata: the name \"%s\" is not valid: use "
                                "letters, digits and -_.", printable(m[0]) ? m[0] : "?");
        if (!m[1] || !printable(m[1]))
            return smneo__error(err, SMNEO_EINVAL, "smneo_s3_options.metadata: the value of \"%s\" must be "
                                "printable ASCII (S3 sends metadata as HTTP headers)", m[0]);
    }
    return 0;
}

/* ---- HEAD ------------------------------------------------------------------------ */

void smneo_s3_object_clear(smneo_s3_object *obj)
{
    if (!obj)
        return;
    free(obj->etag);
    free(obj->blake2b);
    free(obj->content_type);
    memset(obj, 0, sizeof *obj);
}

char *smneo__s3_unquote(const char *v)
{
    if (!v)
        return NULL;
    size_t n = strlen(v);
    if (n >= 2 && v[0] == '"' && v[n - 1] == '"')
        return smneo__strndup(v + 1, n - 2);
    return smneo__strdup(v);
}

int smneo__s3_head_target(smneo_s3_object *out, char **raw_etag, const s3_target *t, smneo_error *err)
{
    memset(out, 0, sizeof *out);
    s3_req r;
    memset(&r, 0, sizeof r);
    r.op = "HeadObject";
    r.method = "HEAD";
    smneo_response *resp = NULL;
    int rc = smneo__s3_perform(t, &r, &resp, err);
    if (rc)
        return rc;
    const char *len = smneo_response_header(resp, "Content-Length");
    char *end = NULL;
    unsigned long long size = len ? strtoull(len, &end, 10) : 0;
    if (!len || !*len || *end) {
        smneo_response_free(resp);
        return smneo__error(err, SMNEO_EPROTOCOL, "S3 HeadObject for s3://%s/%s: the response has no valid "
                            "Content-Length", t->bucket, t->key);
    }
    out->size = size;
    const char *etag = smneo_response_header(resp, "ETag");
    out->etag = smneo__s3_unquote(etag);
    out->blake2b = smneo__strdup(smneo_response_header(resp, "x-amz-meta-smneo-blake2b"));
    out->content_type = smneo__strdup(smneo_response_header(resp, "Content-Type"));
    if (raw_etag)
        *raw_etag = smneo__strdup(etag);
    smneo_response_free(resp);
    return 0;
}

int smneo_s3_head(smneo_s3_object *out, smneo_client *c, const char *s3_uri, smneo_error *err)
{
    if (!out)
        return smneo__error(err, SMNEO_EINVAL, "smneo_s3_head: out is NULL");
    memset(out, 0, sizeof *out);
    s3_target t;
    int rc = smneo__s3_target_init(&t, c, s3_uri, err);
    if (rc)
        return rc;
    rc = smneo__s3_head_target(out, NULL, &t, err);
    smneo__s3_target_clear(&t);
    return rc;
}

/* ---- bucket-level targets ------------------------------------------------------------ */

/* A target for bucket-level requests (HeadBucket, CreateBucket): the
 * object path without its key. */
int smneo__s3_bucket_target_init_for(s3_target *t, smneo_client *c, const char *bucket, int need_transport,
                                     smneo_error *err)
{
    char *uri = smneo__aprintf("s3://%s/x", bucket);
    if (!uri)
        return smneo__error(err, SMNEO_ENOMEM, "out of memory");
    int rc = smneo__s3_target_init_for(t, c, uri, need_transport, err);
    free(uri);
    if (rc)
        return rc;
    size_t n = strlen(t->path); /* ends in "/x" */
    t->path[n - 2] = '\0';
    if (!*t->path) {
        free(t->path);
        t->path = smneo__strdup("/");
        if (!t->path) {
            smneo__s3_target_clear(t);
            return smneo__error(err, SMNEO_ENOMEM, "out of memory");
        }
    }
    return 0;
}

int smneo__s3_bucket_target_init(s3_target *t, smneo_client *c, const char *bucket, smneo_error *err)
{
    return smneo__s3_bucket_target_init_for(t, c, bucket, 1, err);
}

