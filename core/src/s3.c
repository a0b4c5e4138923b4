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

#define MIB (1024ULL * 1024ULL)
#define DEFAULT_PART_SIZE (64 * MIB)
#define DEFAULT_THRESHOLD (64 * MIB)
#define MIN_PART_SIZE (5 * MIB)
#define MAX_PARTS 10000
#define MAX_SINGLE_PUT (5ULL * 1024 * MIB)
#define MAX_CONCURRENCY 64
/* Largest body moved through memory for a transport without send_stream. */
#define MEMORY_FALLBACK_LIMIT (16 * MIB)
#define PROGRESS_STEP (256 * 1024)

static const char XMLNS[] = "http://s3.amazonaws.com/doc/2006-03-01/";

/* ---- small helpers -------------------------------------------------------- */

static int is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
           c == '.' || c == '~';
}

/* Percent-encodes s (RFC 3986 unreserved kept; '/' kept when keep_slash). */
static int put_pct(smneo_buf *b, const char *s, int keep_slash)
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

typedef struct s3_target {
    smneo_client *client;
    smneo_transport *transport;
    const char *region;
    char *bucket;
    char *key;
    char *base;     /* "scheme://authority[/path][/bucket]" */
    char *path;     /* base's path part plus "/encoded-key" is the object's path */
    int https;
    int streams;    /* the transport has send_stream */
} s3_target;

static void target_clear(s3_target *t)
{
    free(t->bucket);
    free(t->key);
    free(t->base);
    free(t->path);
    memset(t, 0, sizeof *t);
}

/* DNS-compatible bucket names may go into the host name. */
static int virtual_ok(const char *b) { return valid_bucket(b) && !strchr(b, '.'); }

static int target_init(s3_target *t, smneo_client *c, const char *uri, smneo_error *err)
{
    memset(t, 0, sizeof *t);
    if (!c)
        return smneo__error(err, SMNEO_EINVAL, "client is NULL");
    if (!uri)
        return smneo__error(err, SMNEO_EINVAL, "the S3 URI is NULL");
    t->client = c;
    t->transport = smneo__client_transport(c);
    t->region = smneo_client_region(c);
    if (!t->transport)
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
        put_pct(&path, t->bucket, 0);
        t->base = smneo__aprintf("%.*s://%.*s", (int)(auth - 3 - ep), ep, (int)alen, auth);
    }
    smneo__buf_putc(&path, '/');
    put_pct(&path, t->key, 1);
    t->path = smneo__buf_detach(&path, NULL);
    if (!t->base || !t->path) {
        target_clear(t);
        return smneo__error(err, SMNEO_ENOMEM, "out of memory");
    }
    return 0;
}

/* ---- progress, cancel and stop ----------------------------------------------- */

typedef struct s3_xfer {
    pthread_mutex_t mu;
    smneo_s3_progress_cb fn;
    void *payload;
    uint64_t total;
    uint64_t done;      /* bytes moved (less those of failed attempts) */
    uint64_t reported;  /* highest value handed to fn */
    int cancelled;      /* fn asked to stop */
    int stop;           /* cancelled, or a sibling part failed */
} s3_xfer;

static void xfer_init(s3_xfer *x, const smneo_s3_options *o, uint64_t total)
{
    memset(x, 0, sizeof *x);
    pthread_mutex_init(&x->mu, NULL);
    x->fn = o->progress;
    x->payload = o->payload;
    x->total = total;
}

static void xfer_destroy(s3_xfer *x) { pthread_mutex_destroy(&x->mu); }

/* Calls the callback (under the lock: calls never overlap). */
static void xfer_report_locked(s3_xfer *x, int force)
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
static int xfer_add(s3_xfer *x, uint64_t n, int neg)
{
    if (!x)
        return 0;
    pthread_mutex_lock(&x->mu);
    if (neg)
        x->done = n > x->done ? 0 : x->done - n;
    else
        x->done += n;
    if (!neg)
        xfer_report_locked(x, 0);
    int stop = x->stop;
    pthread_mutex_unlock(&x->mu);
    return stop;
}

static int xfer_start(s3_xfer *x)
{
    pthread_mutex_lock(&x->mu);
    xfer_report_locked(x, 1);
    int stop = x->stop;
    pthread_mutex_unlock(&x->mu);
    return stop;
}

static int xfer_stopped(s3_xfer *x)
{
    if (!x)
        return 0;
    pthread_mutex_lock(&x->mu);
    int s = x->stop;
    pthread_mutex_unlock(&x->mu);
    return s;
}

static int xfer_cancelled(s3_xfer *x)
{
    if (!x)
        return 0;
    pthread_mutex_lock(&x->mu);
    int s = x->cancelled;
    pthread_mutex_unlock(&x->mu);
    return s;
}

/* ---- file source and sink ------------------------------------------------------ */

enum { IO_SHRUNK = -1 };

typedef struct file_source {
    int fd;
    const char *path;
    uint64_t start, length, pos;
    s3_xfer *x;
    int io_errno; /* errno of a failed read, IO_SHRUNK, or 0 */
} file_source;

static size_t file_read(void *payload, char *buf, size_t n)
{
    file_source *fs = payload;
    if (xfer_stopped(fs->x))
        return (size_t)-1;
    uint64_t left = fs->length - fs->pos;
    if ((uint64_t)n > left)
        n = (size_t)left;
    if (n == 0)
        return 0;
    ssize_t r;
    do
        r = pread(fs->fd, buf, n, (off_t)(fs->start + fs->pos));
    while (r < 0 && errno == EINTR);
    if (r < 0) {
        fs->io_errno = errno;
        return (size_t)-1;
    }
    if (r == 0) {
        fs->io_errno = IO_SHRUNK;
        return (size_t)-1;
    }
    fs->pos += (uint64_t)r;
    if (xfer_add(fs->x, (uint64_t)r, 0))
        return (size_t)-1;
    return (size_t)r;
}

static int file_source_rewind(void *payload, smneo_error *err)
{
    (void)err;
    file_source *fs = payload;
    xfer_add(fs->x, fs->pos, 1);
    fs->pos = 0;
    fs->io_errno = 0;
    return 0;
}

/* Hex SHA-256 of a file region (plain HTTP signs the real payload hash). */
static int sha256_region(char out[65], int fd, const char *path, uint64_t start, uint64_t len, s3_xfer *x,
                         smneo_error *err)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    size_t cap = 1024 * 1024;
    char *buf = malloc(cap);
    int rc = 0;
    if (!ctx || !buf || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
        rc = smneo__error(err, SMNEO_ENOMEM, "out of memory hashing '%s'", path);
        goto done;
    }
    uint64_t pos = 0;
    while (pos < len) {
        if (xfer_stopped(x)) {
            rc = SMNEO_ECANCELLED;
            goto done;
        }
        size_t n = len - pos < cap ? (size_t)(len - pos) : cap;
        ssize_t r;
        do
            r = pread(fd, buf, n, (off_t)(start + pos));
        while (r < 0 && errno == EINTR);
        if (r <= 0) {
            rc = smneo__error(err, SMNEO_EIO, "cannot read '%s': %s", path,
                              r < 0 ? strerror(errno) : "the file became shorter while it was being uploaded");
            goto done;
        }
        EVP_DigestUpdate(ctx, buf, (size_t)r);
        pos += (uint64_t)r;
    }
    unsigned char md[32];
    unsigned int mdlen = 0;
    if (EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 || mdlen != 32) {
        rc = smneo__error(err, SMNEO_ERROR, "SHA-256 failed in libcrypto");
        goto done;
    }
    smneo__hex(out, md, 32);
done:
    EVP_MD_CTX_free(ctx);
    free(buf);
    return rc;
}

typedef struct file_sink {
    int fd;
    const char *path;
    uint64_t written;
    s3_xfer *x;
    int io_errno;
} file_sink;

static int file_write(void *payload, const char *data, size_t n)
{
    file_sink *fk = payload;
    if (xfer_stopped(fk->x))
        return 1;
    size_t off = 0;
    while (off < n) {
        ssize_t w = pwrite(fk->fd, data + off, n - off, (off_t)(fk->written + off));
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            fk->io_errno = w < 0 ? errno : EIO;
            return 1;
        }
        off += (size_t)w;
    }
    fk->written += n;
    return xfer_add(fk->x, n, 0);
}

static int file_sink_rewind(void *payload, smneo_error *err)
{
    file_sink *fk = payload;
    xfer_add(fk->x, fk->written, 1);
    fk->written = 0;
    fk->io_errno = 0;
    if (ftruncate(fk->fd, 0) != 0)
        return smneo__error(err, SMNEO_EIO, "cannot truncate '%s': %s", fk->path, strerror(errno));
    return 0;
}

/* ---- one request, with retries ----------------------------------------------- */

typedef struct s3_req {
    const char *op;                /* "PutObject": for messages and logs */
    const char *method;
    const char *query;             /* encoded, without '?', or NULL */
    const char *const *headers;    /* name, value pairs; NULL-terminated */
    const char *body;              /* in-memory body */
    size_t body_len;
    const smneo_body_source *src;  /* streamed body */
    const char *payload_hash;      /* hex SHA-256 of src (plain HTTP) */
    const smneo_body_sink *sink;
    int (*rewind)(void *payload, smneo_error *err); /* before each attempt */
    void *rewind_payload;
    const int *io_errno;           /* the source's / sink's errno, if any */
    const char *io_path;
    int io_writing;
    int error_in_200;              /* CompleteMultipartUpload: a 200 may carry <Error> */
    s3_xfer *x;                    /* cancel / stop (NULL: never stopped) */
} s3_req;

/* Finds <tag>...</tag> (also <tag attr...>) in body; decodes the five XML
 * entities and numeric references. Caller frees; NULL when absent. */
static char *xml_text(const char *body, size_t len, const char *tag)
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

char *smneo__s3_xml_text(const char *body, size_t len, const char *tag) { return xml_text(body, len, tag); }

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
static int response_error(smneo_response *resp, const s3_target *t, const char *op, smneo_error *err)
{
    char *code = xml_text(resp->body, resp->body_len, "Code");
    char *msg = xml_text(resp->body, resp->body_len, "Message");
    char *rid = xml_text(resp->body, resp->body_len, "RequestId");
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

/* One attempt: credentials, build, sign, send. */
static int attempt_once(const s3_target *t, const s3_req *r, smneo_response **out, smneo_error *err)
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
    smneo_credentials *creds = NULL;
    rc = smneo__client_credentials(&creds, t->client, err);
    if (rc) {
        smneo_request_free(req);
        return rc;
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
        if (xfer_stopped(x))
            return 1;
        int64_t left = until - smneo__monotonic_ms();
        if (left <= 0)
            return 0;
        smneo__sleep_ms(left > 100 ? 100 : (long)left);
    }
}

static int stopped_error(const s3_req *r, smneo_error *err)
{
    if (xfer_cancelled(r->x))
        return smneo__error(err, SMNEO_ECANCELLED, "cancelled by the progress callback");
    return smneo__error(err, SMNEO_ECANCELLED, "stopped because another part of the transfer failed");
}

/* Sends r with the client's retry policy. 0 and the 2xx response in *out
 * (caller-owned), or an error with err filled. */
static int perform(const s3_target *t, const s3_req *r, smneo_response **out, smneo_error *err)
{
    *out = NULL;
    uint64_t rng = (uint64_t)smneo__monotonic_ms() * 0x9E3779B97F4A7C15ULL ^ (uint64_t)(uintptr_t)r;
    int quota_cost = 0;
    for (int attempt = 1;; attempt++) {
        if (xfer_stopped(r->x))
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
            rc = response_error(resp, t, r->op, &e);
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

static int check_options(smneo_s3_options *o, const smneo_s3_options *given, smneo_error *err)
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

/* Headers for PutObject / CreateMultipartUpload: a NULL-terminated name,
 * value array (caller frees the array and the x-amz-meta- names with
 * free_object_headers), or NULL when out of memory. */
static const char **object_headers(const smneo_s3_options *o)
{
    size_t nmeta = 0;
    for (const char *const *m = o->metadata; m && m[0]; m += 2)
        nmeta++;
    const char **h = calloc(9 + 2 * nmeta, sizeof *h);
    if (!h)
        return NULL;
    size_t i = 0;
    /* the caller's metadata first: free_object_headers frees those names */
    for (const char *const *m = o->metadata; m && m[0]; m += 2) {
        char *name = smneo__aprintf("x-amz-meta-%s", m[0]);
        if (!name) {
            for (size_t k = 0; k < i; k += 2)
                free((char *)h[k]);
            free(h);
            return NULL;
        }
        h[i++] = name;
        h[i++] = m[1];
    }
    h[i++] = "Content-Type";
    h[i++] = o->content_type ? o->content_type : "application/octet-stream";
    if (o->content_digest) {
        h[i++] = "x-amz-meta-smneo-blake2b";
        h[i++] = o->content_digest;
    }
    const char *sse = o->server_side_encryption ? o->server_side_encryption : o->sse_kms_key_id ? "aws:kms" : NULL;
    if (sse) {
        h[i++] = "x-amz-server-side-encryption";
        h[i++] = sse;
    }
    if (o->sse_kms_key_id) {
        h[i++] = "x-amz-server-side-encryption-aws-kms-key-id";
        h[i++] = o->sse_kms_key_id;
    }
    h[i] = NULL;
    return h;
}

static void free_object_headers(const char **h, const smneo_s3_options *o)
{
    size_t i = 0;
    for (const char *const *m = o->metadata; h && m && m[0]; m += 2, i += 2)
        free((char *)h[i]);
    free(h);
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

static char *unquote(const char *v)
{
    if (!v)
        return NULL;
    size_t n = strlen(v);
    if (n >= 2 && v[0] == '"' && v[n - 1] == '"')
        return smneo__strndup(v + 1, n - 2);
    return smneo__strdup(v);
}

static int head_target(smneo_s3_object *out, char **raw_etag, const s3_target *t, smneo_error *err)
{
    memset(out, 0, sizeof *out);
    s3_req r;
    memset(&r, 0, sizeof r);
    r.op = "HeadObject";
    r.method = "HEAD";
    smneo_response *resp = NULL;
    int rc = perform(t, &r, &resp, err);
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
    out->etag = unquote(etag);
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
    int rc = target_init(&t, c, s3_uri, err);
    if (rc)
        return rc;
    rc = head_target(out, NULL, &t, err);
    target_clear(&t);
    return rc;
}

/* ---- upload ---------------------------------------------------------------------- */

static int put_single(const s3_target *t, int fd, const char *path, uint64_t size, const smneo_s3_options *o,
                      s3_xfer *x, smneo_error *err)
{
    char hash[65] = "";
    if (!t->https) {
        int rc = sha256_region(hash, fd, path, 0, size, x, err);
        if (rc == SMNEO_ECANCELLED)
            return smneo__error(err, SMNEO_ECANCELLED, "cancelled by the progress callback");
        if (rc)
            return rc;
    }
    const char **h = object_headers(o);
    if (!h)
        return smneo__error(err, SMNEO_ENOMEM, "out of memory");
    file_source fs = {fd, path, 0, size, 0, x, 0};
    smneo_body_source src = {size, file_read, &fs};
    s3_req r;
    memset(&r, 0, sizeof r);
    r.op = "PutObject";
    r.method = "PUT";
    r.headers = h;
    r.src = &src;
    r.payload_hash = hash;
    r.rewind = file_source_rewind;
    r.rewind_payload = &fs;
    r.io_errno = &fs.io_errno;
    r.io_path = path;
    r.x = x;
    smneo_response *resp = NULL;
    int rc = perform(t, &r, &resp, err);
    free_object_headers(h, o);
    if (rc && o->failed_operation)
        *o->failed_operation = r.op;
    smneo_response_free(resp);
    return rc;
}

typedef struct mp_part {
    uint64_t offset, length;
    char *etag; /* as returned (quotes included) */
} mp_part;

typedef struct mp_job {
    const s3_target *t;
    int fd;
    const char *path;
    s3_xfer *x;
    const char *upload_query; /* "uploadId=..." */
    mp_part *parts;
    int nparts;
    int next;     /* next part index to take (under x->mu) */
    int rc;       /* first failure */
    smneo_error err;
} mp_job;

static int upload_part(mp_job *j, int i, smneo_error *err)
{
    mp_part *p = &j->parts[i];
    char hash[65] = "";
    if (!j->t->https) {
        int rc = sha256_region(hash, j->fd, j->path, p->offset, p->length, j->x, err);
        if (rc)
            return rc;
    }
    char *query = smneo__aprintf("partNumber=%d&%s", i + 1, j->upload_query);
    if (!query)
        return smneo__error(err, SMNEO_ENOMEM, "out of memory");
    file_source fs = {j->fd, j->path, p->offset, p->length, 0, j->x, 0};
    smneo_body_source src = {p->length, file_read, &fs};
    s3_req r;
    memset(&r, 0, sizeof r);
    r.op = "UploadPart";
    r.method = "PUT";
    r.query = query;
    r.src = &src;
    r.payload_hash = hash;
    r.rewind = file_source_rewind;
    r.rewind_payload = &fs;
    r.io_errno = &fs.io_errno;
    r.io_path = j->path;
    r.x = j->x;
    smneo_response *resp = NULL;
    int rc = perform(j->t, &r, &resp, err);
    free(query);
    if (rc)
        return rc;
    const char *etag = smneo_response_header(resp, "ETag");
    if (!etag || !*etag) {
        rc = smneo__error(err, SMNEO_EPROTOCOL, "S3 UploadPart %d for s3://%s/%s: the response has no ETag", i + 1,
                          j->t->bucket, j->t->key);
    } else if (!(p->etag = smneo__strdup(etag))) {
        rc = smneo__error(err, SMNEO_ENOMEM, "out of memory");
    }
    smneo_response_free(resp);
    return rc;
}

static void *part_worker(void *arg)
{
    mp_job *j = arg;
    for (;;) {
        pthread_mutex_lock(&j->x->mu);
        int i = j->x->stop || j->next >= j->nparts ? -1 : j->next++;
        pthread_mutex_unlock(&j->x->mu);
        if (i < 0)
            break;
        smneo_error e = SMNEO_ERROR_INIT;
        int rc = upload_part(j, i, &e);
        if (rc) {
            pthread_mutex_lock(&j->x->mu);
            /* The first failure wins; a sibling stopped by it is not news. */
            if (!j->rc && !(rc == SMNEO_ECANCELLED && j->x->stop && !j->x->cancelled)) {
                j->rc = rc;
                j->err = e;
                memset(&e, 0, sizeof e);
            }
            j->x->stop = 1;
            pthread_mutex_unlock(&j->x->mu);
            smneo_error_clear(&e);
            break;
        }
    }
    return NULL;
}

static int create_upload(char **upload_id, const s3_target *t, const smneo_s3_options *o, smneo_error *err)
{
    const char **h = object_headers(o);
    if (!h)
        return smneo__error(err, SMNEO_ENOMEM, "out of memory");
    s3_req r;
    memset(&r, 0, sizeof r);
    r.op = "CreateMultipartUpload";
    r.method = "POST";
    r.query = "uploads";
    r.headers = h;
    smneo_response *resp = NULL;
    int rc = perform(t, &r, &resp, err);
    free_object_headers(h, o);
    if (rc) {
        if (o->failed_operation)
            *o->failed_operation = r.op;
        return rc;
    }
    *upload_id = xml_text(resp->body, resp->body_len, "UploadId");
    smneo_response_free(resp);
    if (!*upload_id || !**upload_id) {
        free(*upload_id);
        *upload_id = NULL;
        return smneo__error(err, SMNEO_EPROTOCOL, "S3 CreateMultipartUpload for s3://%s/%s: the response has no "
                            "UploadId", t->bucket, t->key);
    }
    return 0;
}

static void abort_upload(const s3_target *t, const char *upload_query)
{
    s3_req r;
    memset(&r, 0, sizeof r);
    r.op = "AbortMultipartUpload";
    r.method = "DELETE";
    r.query = upload_query;
    smneo_response *resp = NULL;
    smneo_error e = SMNEO_ERROR_INIT;
    if (perform(t, &r, &resp, &e) != 0)
        smneo_log(SMNEO_LOG_WARN, "could not abort the multipart upload of s3://%s/%s (%s): its parts may remain "
                  "until a lifecycle rule removes them", t->bucket, t->key, e.message ? e.message : "");
    smneo_response_free(resp);
    smneo_error_clear(&e);
}

static int complete_upload(const s3_target *t, const char *upload_query, const mp_part *parts, int n,
                           smneo_error *err)
{
    smneo_buf b = SMNEO_BUF_INIT;
    smneo__buf_printf(&b, "<CompleteMultipartUpload xmlns=\"%s\">", XMLNS);
    for (int i = 0; i < n; i++) {
        smneo__buf_puts(&b, "<Part><ETag>");
        for (const char *q = parts[i].etag; *q; q++) {
            if (*q == '"')
                smneo__buf_puts(&b, "&quot;");
            else if (*q == '&')
                smneo__buf_puts(&b, "&amp;");
            else if (*q == '<')
                smneo__buf_puts(&b, "&lt;");
            else if (*q == '>')
                smneo__buf_puts(&b, "&gt;");
            else
                smneo__buf_putc(&b, *q);
        }
        smneo__buf_printf(&b, "</ETag><PartNumber>%d</PartNumber></Part>", i + 1);
    }
    smneo__buf_puts(&b, "</CompleteMultipartUpload>");
    size_t len = 0;
    char *body = smneo__buf_detach(&b, &len);
    if (!body)
        return smneo__error(err, SMNEO_ENOMEM, "out of memory");
    const char *h[] = {"Content-Type", "application/xml", NULL};
    s3_req r;
    memset(&r, 0, sizeof r);
    r.op = "CompleteMultipartUpload";
    r.method = "POST";
    r.query = upload_query;
    r.headers = h;
    r.body = body;
    r.body_len = len;
    r.error_in_200 = 1;
    smneo_response *resp = NULL;
    int rc = perform(t, &r, &resp, err);
    free(body);
    smneo_response_free(resp);
    if (rc == SMNEO_ENOTFOUND && err && err->attempts > 1) {
        /* A retried Complete whose first attempt went through (its answer
         * was lost) meets NoSuchUpload: the object is there with n parts. */
        smneo_s3_object obj;
        char suffix[16];
        snprintf(suffix, sizeof suffix, "-%d", n);
        if (head_target(&obj, NULL, t, NULL) == 0 && obj.etag && strlen(obj.etag) > strlen(suffix) &&
            !strcmp(obj.etag + strlen(obj.etag) - strlen(suffix), suffix)) {
            smneo_error_clear(err);
            rc = 0;
        }
        smneo_s3_object_clear(&obj);
    }
    return rc;
}

static int put_multipart(const s3_target *t, int fd, const char *path, uint64_t size, const smneo_s3_options *o,
                         s3_xfer *x, smneo_error *err)
{
    uint64_t part = o->part_size;
    if ((size + part - 1) / part > MAX_PARTS) {
        part = (size + MAX_PARTS - 1) / MAX_PARTS;
        part = (part + MIB - 1) / MIB * MIB;
        smneo_log(SMNEO_LOG_INFO, "S3 upload of %s: part size raised to %llu bytes (at most %d parts)", path,
                  (unsigned long long)part, MAX_PARTS);
    }
    int n = (int)((size + part - 1) / part);
    mp_job j;
    memset(&j, 0, sizeof j);
    j.t = t;
    j.fd = fd;
    j.path = path;
    j.x = x;
    j.nparts = n;
    j.parts = calloc((size_t)n, sizeof *j.parts);
    if (!j.parts)
        return smneo__error(err, SMNEO_ENOMEM, "out of memory");
    for (int i = 0; i < n; i++) {
        j.parts[i].offset = (uint64_t)i * part;
        j.parts[i].length = i == n - 1 ? size - j.parts[i].offset : part;
    }
    char *upload_id = NULL;
    char *query = NULL;
    int rc = create_upload(&upload_id, t, o, err);
    if (rc)
        goto done;
    smneo_buf q = SMNEO_BUF_INIT;
    smneo__buf_puts(&q, "uploadId=");
    put_pct(&q, upload_id, 0);
    query = smneo__buf_detach(&q, NULL);
    if (!query) {
        rc = smneo__error(err, SMNEO_ENOMEM, "out of memory");
        goto done; /* the upload id cannot be sent: nothing to abort with */
    }
    j.upload_query = query;
    int nthreads = o->concurrency < n ? o->concurrency : n;
    pthread_t *th = calloc((size_t)nthreads, sizeof *th);
    int started = 0;
    for (int i = 0; th && i < nthreads - 1; i++) {
        if (pthread_create(&th[i], NULL, part_worker, &j) != 0)
            break;
        started++;
    }
    part_worker(&j); /* this thread works too */
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    free(th);
    rc = j.rc;
    if (!rc && xfer_cancelled(x))
        rc = smneo__error(&j.err, SMNEO_ECANCELLED, "cancelled by the progress callback");
    if (!rc) {
        for (int i = 0; i < n && !rc; i++)
            if (!j.parts[i].etag) /* cannot happen without an error, but never complete with a hole */
                rc = smneo__error(&j.err, SMNEO_ERROR, "part %d of s3://%s/%s was not uploaded", i + 1, t->bucket,
                                  t->key);
    }
    if (!rc) {
        rc = complete_upload(t, query, j.parts, n, err);
        if (rc && o->failed_operation)
            *o->failed_operation = "CompleteMultipartUpload";
    } else if (err) {
        if (o->failed_operation)
            *o->failed_operation = "UploadPart";
        smneo_error_clear(err);
        *err = j.err;
        memset(&j.err, 0, sizeof j.err);
    }
    if (rc) {
        abort_upload(t, query);
        if (err && err->message) {
            char *m = smneo__aprintf("%s; the multipart upload was aborted", err->message);
            if (m) {
                free(err->message);
                err->message = m;
            }
        }
    }
done:
    smneo_error_clear(&j.err);
    for (int i = 0; i < n; i++)
        free(j.parts[i].etag);
    free(j.parts);
    free(upload_id);
    free(query);
    return rc;
}

/* failed_operation names a request: not for a local or cancelled failure. */
static void not_a_request(const smneo_s3_options *o, int rc)
{
    if (o->failed_operation && (rc == SMNEO_EIO || rc == SMNEO_ECANCELLED || rc == SMNEO_ENOMEM || rc == SMNEO_EINVAL))
        *o->failed_operation = NULL;
}

int smneo_s3_upload(smneo_client *c, const char *path, const char *s3_uri, const smneo_s3_options *opts,
                    smneo_error *err)
{
    smneo_s3_options o;
    int rc = check_options(&o, opts, err);
    if (rc)
        return rc;
    if (!path)
        return smneo__error(err, SMNEO_EINVAL, "smneo_s3_upload: path is NULL");
    s3_target t;
    rc = target_init(&t, c, s3_uri, err);
    if (rc)
        return rc;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0) {
        rc = smneo__error(err, SMNEO_EIO, "cannot open '%s' for upload: %s", path, strerror(errno));
        target_clear(&t);
        return rc;
    }
    if (fstat(fd, &st) != 0) {
        rc = smneo__error(err, SMNEO_EIO, "cannot upload '%s': %s", path, strerror(errno));
        close(fd);
        target_clear(&t);
        return rc;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = smneo__error(err, SMNEO_EINVAL, "cannot upload '%s': it is not a regular file", path);
        close(fd);
        target_clear(&t);
        return rc;
    }
    uint64_t size = (uint64_t)st.st_size;
    if (!t.streams && size > MEMORY_FALLBACK_LIMIT) {
        rc = smneo__error(err, SMNEO_EUNSUPPORTED, "cannot upload '%s' (%llu bytes): the client's transport cannot "
                          "stream request bodies (no send_stream), so only files up to %llu bytes can be sent; use "
                          "the libcurl transport or one with send_stream", path, (unsigned long long)size,
                          (unsigned long long)MEMORY_FALLBACK_LIMIT);
        close(fd);
        target_clear(&t);
        return rc;
    }
    s3_xfer x;
    xfer_init(&x, &o, size);
    if (xfer_start(&x))
        rc = smneo__error(err, SMNEO_ECANCELLED, "cancelled by the progress callback");
    else if (size > o.multipart_threshold || size > MAX_SINGLE_PUT)
        rc = put_multipart(&t, fd, path, size, &o, &x, err);
    else
        rc = put_single(&t, fd, path, size, &o, &x, err);
    not_a_request(&o, rc);
    if (!rc) {
        pthread_mutex_lock(&x.mu);
        x.done = size;
        if (x.reported < size || size == 0)
            xfer_report_locked(&x, 1);
        pthread_mutex_unlock(&x.mu);
    }
    xfer_destroy(&x);
    close(fd);
    target_clear(&t);
    return rc;
}

/* ---- download -------------------------------------------------------------------- */

/* Creates tmpl (ending in XXXXXX, replaced by random characters) exclusively,
 * with `mode` less the umask as open(2) applies it: the permissions any new
 * file gets (mkstemp's are 0600, and fchmod would ignore the umask). The fd,
 * or -1 with errno. */
static int create_unique(char *tmpl, mode_t mode)
{
    static const char chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    size_t n = strlen(tmpl);
    if (n < 6 || strcmp(tmpl + n - 6, "XXXXXX") != 0) {
        errno = EINVAL;
        return -1;
    }
    for (int attempt = 0; attempt < 100; attempt++) {
        unsigned char rnd[6];
        if (getentropy(rnd, sizeof rnd) != 0)
            return -1;
        for (size_t i = 0; i < 6; i++)
            tmpl[n - 6 + i] = chars[rnd[i] % (sizeof chars - 1)];
        int fd = open(tmpl, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
        if (fd >= 0 || errno != EEXIST)
            return fd;
    }
    errno = EEXIST;
    return -1;
}

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

int smneo_s3_download(smneo_client *c, const char *s3_uri, const char *path, const smneo_s3_options *opts,
                      smneo_error *err)
{
    smneo_s3_options o;
    int rc = check_options(&o, opts, err);
    if (rc)
        return rc;
    if (!path || !*path)
        return smneo__error(err, SMNEO_EINVAL, "smneo_s3_download: path is NULL or empty");
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return smneo__error(err, SMNEO_EINVAL, "cannot download to '%s': it is a directory; give a file path", path);
    s3_target t;
    rc = target_init(&t, c, s3_uri, err);
    if (rc)
        return rc;
    smneo_s3_object obj;
    char *raw_etag = NULL;
    rc = head_target(&obj, &raw_etag, &t, err);
    if (rc) {
        if (o.failed_operation)
            *o.failed_operation = "HeadObject";
        not_a_request(&o, rc);
        target_clear(&t);
        return rc;
    }
    if (!t.streams && obj.size > MEMORY_FALLBACK_LIMIT) {
        rc = smneo__error(err, SMNEO_EUNSUPPORTED, "cannot download s3://%s/%s (%llu bytes): the client's "
                          "transport cannot stream response bodies (no send_stream), so only objects up to %llu "
                          "bytes can be received; use the libcurl transport or one with send_stream", t.bucket,
                          t.key, (unsigned long long)obj.size, (unsigned long long)MEMORY_FALLBACK_LIMIT);
        goto out;
    }
    /* The temporary file goes beside the destination so rename is atomic. */
    const char *slash = strrchr(path, '/');
    char *dir = slash ? (slash == path ? smneo__strdup("/") : smneo__strndup(path, (size_t)(slash - path)))
                      : smneo__strdup(".");
    char *tmp = smneo__aprintf("%s/.%s.smneo-XXXXXX", dir ? dir : ".", slash ? slash + 1 : path);
    if (!dir || !tmp) {
        free(dir);
        free(tmp);
        rc = smneo__error(err, SMNEO_ENOMEM, "out of memory");
        goto out;
    }
    /* A replaced file's mode is not carried over (a setuid bit on a file the
     * server wrote is what no one wants): 0644 less the umask, always. */
    int fd = create_unique(tmp, 0644);
    if (fd < 0) {
        rc = smneo__error(err, SMNEO_EIO, "cannot create a temporary file in '%s' for the download: %s", dir,
                          strerror(errno));
        free(dir);
        free(tmp);
        goto out;
    }
    s3_xfer x;
    xfer_init(&x, &o, obj.size);
    file_sink fk = {fd, tmp, 0, &x, 0};
    smneo_body_sink sink = {file_write, &fk};
    const char *h[] = {"If-Match", raw_etag, NULL};
    s3_req r;
    memset(&r, 0, sizeof r);
    r.op = "GetObject";
    r.method = "GET";
    r.headers = raw_etag ? h : NULL;
    r.sink = &sink;
    r.rewind = file_sink_rewind;
    r.rewind_payload = &fk;
    r.io_errno = &fk.io_errno;
    r.io_path = tmp;
    r.io_writing = 1;
    r.x = &x;
    smneo_response *resp = NULL;
    if (xfer_start(&x))
        rc = smneo__error(err, SMNEO_ECANCELLED, "cancelled by the progress callback");
    else
        rc = perform(&t, &r, &resp, err);
    if (rc && o.failed_operation)
        *o.failed_operation = r.op;
    not_a_request(&o, rc);
    if (rc == SMNEO_ESERVICE && err && err->http_status == 412)
        rc = smneo__error(err, SMNEO_ESERVICE, "s3://%s/%s changed while it was being downloaded: try again",
                          t.bucket, t.key);
    smneo_response_free(resp);
    if (!rc && fk.written != obj.size)
        rc = smneo__error(err, SMNEO_EPROTOCOL, "S3 GetObject for s3://%s/%s: received %llu bytes, expected %llu",
                          t.bucket, t.key, (unsigned long long)fk.written, (unsigned long long)obj.size);
    if (!rc && fsync(fd) != 0)
        rc = smneo__error(err, SMNEO_EIO, "cannot write '%s': %s", tmp, strerror(errno));
    if (close(fd) != 0 && !rc)
        rc = smneo__error(err, SMNEO_EIO, "cannot write '%s': %s", tmp, strerror(errno));
    if (!rc && rename(tmp, path) != 0)
        rc = smneo__error(err, SMNEO_EIO, "cannot rename '%s' to '%s': %s", tmp, path, strerror(errno));
    if (rc) {
        unlink(tmp);
        if (rc == SMNEO_ECANCELLED && err && err->message) {
            char *m = smneo__aprintf("%s; the partial download was removed", err->message);
            if (m) {
                free(err->message);
                err->message = m;
            }
        }
    } else {
        fsync_dir(dir);
        pthread_mutex_lock(&x.mu);
        if (x.reported < obj.size || obj.size == 0)
            xfer_report_locked(&x, 1);
        pthread_mutex_unlock(&x.mu);
    }
    xfer_destroy(&x);
    free(dir);
    free(tmp);
out:
    free(raw_etag);
    smneo_s3_object_clear(&obj);
    target_clear(&t);
    return rc;
}

/* ---- the default bucket ------------------------------------------------------------ */

/* A target for bucket-level requests (HeadBucket, CreateBucket): the
 * object path without its key. */
static int bucket_target_init(s3_target *t, smneo_client *c, const char *bucket, smneo_error *err)
{
    char *uri = smneo__aprintf("s3://%s/x", bucket);
    if (!uri)
        return smneo__error(err, SMNEO_ENOMEM, "out of memory");
    int rc = target_init(t, c, uri, err);
    free(uri);
    if (rc)
        return rc;
    size_t n = strlen(t->path); /* ends in "/x" */
    t->path[n - 2] = '\0';
    if (!*t->path) {
        free(t->path);
        t->path = smneo__strdup("/");
        if (!t->path) {
            target_clear(t);
            return smneo__error(err, SMNEO_ENOMEM, "out of memory");
        }
    }
    return 0;
}

/* The caller's account from STS GetCallerIdentity (caller frees). */
static int caller_account(char **out, smneo_client *c, smneo_error *err)
{
    *out = NULL;
    const smneo_operation *op = smneo_service_operation(smneo_model_service("sts"), "GetCallerIdentity");
    if (!op)
        return smneo__error(err, SMNEO_ERROR, "STS GetCallerIdentity is not in the model");
    smneo_call *call = NULL;
    int rc = smneo__call_op_new(&call, c, op, NULL, 0, err);
    smneo_result *res = NULL;
    if (!rc) {
        smneo_step step;
        smneo_call_run(&step, call);
        rc = smneo_call_result(&res, call, err);
    }
    smneo_call_free(call);
    if (rc)
        return rc;
    smneo_value root, v;
    smneo_result_root(&root, res);
    const char *account = smneo_value_get(&v, &root, "Account") == 0 ? smneo_value_string(&v) : NULL;
    if (account)
        *out = smneo__strdup(account);
    smneo_result_free(res);
    if (!account)
        return smneo__error(err, SMNEO_EPROTOCOL, "STS GetCallerIdentity answered without an Account");
    return *out ? 0 : smneo__error(err, SMNEO_ENOMEM, "out of memory");
}

/* A new message for err, keeping what S3 said (code, request id, status,
 * response). Returns code. */
static int reword(smneo_error *err, int code, const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static int reword(smneo_error *err, int code, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    char *m = smneo__strdup(buf);
    if (m) {
        free(err->message);
        err->message = m;
    }
    err->code = code;
    return code;
}

int smneo__s3_default_bucket_name(char **bucket, char **account, smneo_client *c, smneo_error *err)
{
    *bucket = NULL;
    *account = NULL;
    const char *region = smneo_client_region(c);
    if (!smneo__client_sts_endpoint(c))
        return smneo__error(err, SMNEO_EINVAL, "no STS endpoint for region %s with this client's settings: the "
                            "default bucket needs the account from STS GetCallerIdentity; give the bucket "
                            "(s3_bucket, --bucket)", region ? region : "(none)");
    int rc = caller_account(account, c, err);
    if (rc) {
        if (err && err->message) {
            char *m = smneo__aprintf("the default bucket needs the account: STS GetCallerIdentity failed: %s",
                                     err->message);
            if (m) {
                free(err->message);
                err->message = m;
            }
        }
        return rc;
    }
    *bucket = smneo__aprintf("sagemaker-%s-%s", region ? region : "", *account);
    if (!*bucket) {
        free(*account);
        *account = NULL;
        return smneo__error(err, SMNEO_ENOMEM, "out of memory");
    }
    return 0;
}

int smneo__s3_default_bucket_ensure(smneo_client *c, const char *bucket, const char *account, smneo_error *err)
{
    const char *region = smneo_client_region(c);
    int rc;
    s3_target t;
    memset(&t, 0, sizeof t);
    rc = bucket_target_init(&t, c, bucket, err);
    if (rc)
        goto out;
    /* HeadBucket with the expected owner, as the SageMaker Python SDK checks it */
    const char *hh[] = {"x-amz-expected-bucket-owner", account, NULL};
    s3_req r;
    memset(&r, 0, sizeof r);
    r.op = "HeadBucket";
    r.method = "HEAD";
    r.headers = hh;
    smneo_response *resp = NULL;
    rc = perform(&t, &r, &resp, err);
    smneo_response_free(resp);
    resp = NULL;
    if (rc == SMNEO_ENOTFOUND) {
        smneo_log(SMNEO_LOG_INFO, "S3: creating the default bucket %s in %s", bucket, region);
        char *body = region && strcmp(region, "us-east-1")
                         ? smneo__aprintf("<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/"
                                          "2006-03-01/\"><LocationConstraint>%s</LocationConstraint>"
                                          "</CreateBucketConfiguration>", region)
                         : NULL;
        memset(&r, 0, sizeof r);
        r.op = "CreateBucket";
        r.method = "PUT";
        r.body = body;
        r.body_len = body ? strlen(body) : 0;
        smneo_error_clear(err);
        rc = perform(&t, &r, &resp, err);
        smneo_response_free(resp);
        free(body);
        /* created meanwhile by another run of ours: fine */
        if (rc && err && err->service_code &&
            (!strcmp(err->service_code, "BucketAlreadyOwnedByYou") ||
             (!strcmp(err->service_code, "OperationAborted") && err->message &&
              strstr(err->message, "conflicting conditional operation")))) {
            smneo_error_clear(err);
            rc = 0;
        } else if (rc && err && err->service_code && !strcmp(err->service_code, "BucketAlreadyExists")) {
            rc = reword(err, SMNEO_ESERVICE, "the default bucket %s belongs to another account (CreateBucket: "
                        "BucketAlreadyExists): smneo does not upload to it; give a bucket of account %s "
                        "(s3_bucket, --bucket)", bucket, account);
        }
    } else if (rc && err && err->http_status == 403) {
        rc = reword(err, SMNEO_EAUTH, "the default bucket %s is not owned by account %s (HeadBucket with "
                    "ExpectedBucketOwner answered 403 Forbidden): smneo does not upload to it; give a bucket of "
                    "yours (s3_bucket, --bucket)", bucket, account);
    }
out:
    target_clear(&t);
    return rc;
}

int smneo_s3_default_bucket(char **out, smneo_client *c, smneo_error *err)
{
    if (!out)
        return smneo__error(err, SMNEO_EINVAL, "smneo_s3_default_bucket: out is NULL");
    *out = NULL;
    if (!c)
        return smneo__error(err, SMNEO_EINVAL, "smneo_s3_default_bucket: client is NULL");
    char *bucket = NULL, *account = NULL;
    int rc = smneo__s3_default_bucket_name(&bucket, &account, c, err);
    if (!rc)
        rc = smneo__s3_default_bucket_ensure(c, bucket, account, err);
    free(account);
    if (!rc)
        *out = bucket;
    else
        free(bucket);
    return rc;
}
