/* core/src/s3_download.c: S3 downloads to a temporary file renamed at the end: the download step
 * machine (smneo_s3_download_new, smneo_s3_transfer_*) and smneo_s3_download, its driver over the
 * client's transport */

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client_internal.h"
#include "internal.h"
#include "options_internal.h"
#include "s3_internal.h"
#include "smneo/log.h"
#include "smneo/s3.h"

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


/* ---- the download machine --------------------------------------------------------- */

#define PROGRESS_EVERY (256 * 1024)

enum { X_REQUEST, X_AWAIT, X_SLEEP, X_FINISH, X_DONE };

struct smneo_s3_transfer {
    s3_up *up;                   /* an upload (s3_upload.c): the calls go there */
    smneo_client *client;
    s3_target t;
    smneo_s3_options o;
    char *path, *dir, *tmp;
    int fd;
    int state;
    int64_t wake_ms;
    const char *op;              /* the request in progress: HeadObject or GetObject */
    smneo_request *req;          /* the SEND handed out */
    int id, seq;
    int sink;                    /* the SEND's 2xx body goes to smneo_s3_transfer_write */
    long timeout_ms;
    int awaiting_creds;          /* the SEND handed out is cr.req */
    s3_creds cr;
    int attempt, quota_cost;
    uint64_t rng;
    int have_size;
    uint64_t size;
    char *raw_etag;
    uint64_t written;
    int io_errno;
    int ranged;                  /* the GET in flight asked for Range: bytes=range_from- */
    uint64_t range_from;
    uint64_t reported;
    int started, final_due;
    int cancelled;
    int rc;
    smneo_error err;
    const char *failed_op;
    int head_only;               /* smneo__s3_head_new: DONE after the HEAD */
    char *head_blake2b;          /* ... and its x-amz-meta-smneo-blake2b */
    int finished;                /* an upload's DONE was handed out */
    void (*observe)(void *payload, uint64_t done, uint64_t total); /* progress seen by a parent */
    void *observe_payload;
};

static void x_finish(smneo_s3_transfer *x, int rc, const char *failed_op)
{
    x->rc = rc;
    x->failed_op = failed_op;
    x->state = X_DONE;
    smneo_request_free(x->req);
    x->req = NULL;
    if (x->fd >= 0) {
        close(x->fd);
        x->fd = -1;
        if (rc && x->tmp)
            unlink(x->tmp);
    }
    if (rc == SMNEO_ECANCELLED && x->tmp && x->err.message) {
        char *m = smneo__aprintf("%s; the partial download was removed", x->err.message);
        if (m) {
            free(x->err.message);
            x->err.message = m;
        }
    }
}

static void x_fail(smneo_s3_transfer *x, int code, const char *failed_op, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void x_fail(smneo_s3_transfer *x, int code, const char *failed_op, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char m[2048];
    vsnprintf(m, sizeof m, fmt, ap);
    va_end(ap);
    smneo__error(&x->err, code, "%s", m);
    x_finish(x, code, failed_op);
}

/* After the HEAD: the temporary file beside the destination (rename is
 * atomic there). A replaced file's mode is not carried over (a setuid bit on
 * a file the server wrote is what no one wants): 0644 less the umask. */
static int x_open_tmp(smneo_s3_transfer *x)
{
    const char *slash = strrchr(x->path, '/');
    x->dir = slash ? (slash == x->path ? smneo__strdup("/") : smneo__strndup(x->path, (size_t)(slash - x->path)))
                   : smneo__strdup(".");
    x->tmp = smneo__aprintf("%s/.%s.smneo-XXXXXX", x->dir ? x->dir : ".", slash ? slash + 1 : x->path);
    if (!x->dir || !x->tmp) {
        x_fail(x, SMNEO_ENOMEM, NULL, "out of memory");
        return 1;
    }
    x->fd = create_unique(x->tmp, 0644);
    if (x->fd < 0) {
        int en = errno;
        free(x->tmp);
        x->tmp = NULL;
        x_fail(x, SMNEO_EIO, NULL, "cannot create a temporary file in '%s' for the download: %s", x->dir,
               strerror(en));
        return 1;
    }
    return 0;
}

/* The current request (HEAD, or the GET with If-Match and, resuming, Range),
 * signed with fresh credentials: a SEND, or credential requests first. */
static void x_request(smneo_s3_step *out, smneo_s3_transfer *x)
{
    int c = smneo__s3_creds_step(&x->cr, x->client, &x->err);
    if (c == 2) { /* an STS/SSO retry's backoff */
        x->wake_ms = x->cr.wake_ms;
        x->state = X_SLEEP;
        return;
    }
    if (c == 1) {
        x->awaiting_creds = 1;
        x->sink = 0;
        x->timeout_ms = x->cr.timeout_ms;
        x->id = ++x->seq;
        x->state = X_AWAIT;
        return;
    }
    if (c) { /* no credentials: the request they were for failed, as smneo_s3_download says */
        x_finish(x, c, c == SMNEO_ENOMEM ? NULL : x->op);
        return;
    }
    const char *h[5] = {NULL};
    char range[48];
    int get = !strcmp(x->op, "GetObject");
    x->ranged = 0;
    if (get && x->raw_etag) {
        h[0] = "If-Match";
        h[1] = x->raw_etag;
        if (x->written > 0) {
            snprintf(range, sizeof range, "bytes=%llu-", (unsigned long long)x->written);
            h[2] = "Range";
            h[3] = range;
            x->ranged = 1;
            x->range_from = x->written;
        }
    }
    s3_req r;
    memset(&r, 0, sizeof r);
    r.op = x->op;
    r.method = get ? "GET" : "HEAD";
    r.headers = h;
    int rc = smneo__s3_build(&x->req, &x->t, &r, x->cr.creds, &x->err);
    if (rc) {
        x_finish(x, rc, NULL);
        return;
    }
    x->awaiting_creds = 0;
    x->sink = get;
    x->timeout_ms = 0;
    x->id = ++x->seq;
    x->state = X_AWAIT;
    (void)out;
}

/* A retry of a GET that got part of the body resumes (Range: bytes=N- with
 * the same If-Match, so a changed object is a 412, never spliced); without an
 * ETag, or with every byte received (a range from the end would be a 416), it
 * starts over. */
static int x_prepare_retry(smneo_s3_transfer *x)
{
    x->io_errno = 0;
    if (!x->sink || x->written == 0)
        return 0;
    if (x->raw_etag && x->written < x->size) {
        smneo_log(SMNEO_LOG_INFO, "S3 GetObject for s3://%s/%s: resuming at byte %llu", x->t.bucket, x->t.key,
                  (unsigned long long)x->written);
        return 0;
    }
    x->written = 0;
    if (ftruncate(x->fd, 0) != 0) {
        x_fail(x, SMNEO_EIO, NULL, "cannot truncate '%s': %s", x->tmp, strerror(errno));
        return 1;
    }
    return 0;
}

/* The GET answered 2xx: the right bytes, then fsync and rename. */
static void x_complete(smneo_s3_transfer *x, smneo_response *resp)
{
    if (x->ranged) {
        char want[32];
        int wl = snprintf(want, sizeof want, "bytes %llu-", (unsigned long long)x->range_from);
        const char *cr = smneo_response_header(resp, "Content-Range");
        if (resp->status != 206 || !cr || strncmp(cr, want, (size_t)wl) != 0) {
            x_fail(x, SMNEO_EPROTOCOL, "GetObject", "S3 GetObject for s3://%s/%s: the resumed request (Range: "
                   "bytes=%llu-) was answered with HTTP %d%s%s instead of the rest of the object", x->t.bucket,
                   x->t.key, (unsigned long long)x->range_from, resp->status, cr ? ", Content-Range " : "",
                   cr ? cr : "");
            return;
        }
    }
    if (x->written != x->size) {
        x_fail(x, SMNEO_EPROTOCOL, "GetObject", "S3 GetObject for s3://%s/%s: received %llu bytes, expected %llu",
               x->t.bucket, x->t.key, (unsigned long long)x->written, (unsigned long long)x->size);
        return;
    }
    if (fsync(x->fd) != 0) {
        x_fail(x, SMNEO_EIO, NULL, "cannot write '%s': %s", x->tmp, strerror(errno));
        return;
    }
    int fd = x->fd;
    x->fd = -1;
    if (close(fd) != 0) {
        int en = errno;
        unlink(x->tmp);
        x_fail(x, SMNEO_EIO, NULL, "cannot write '%s': %s", x->tmp, strerror(en));
        return;
    }
    if (rename(x->tmp, x->path) != 0) {
        int en = errno;
        unlink(x->tmp);
        x_fail(x, SMNEO_EIO, NULL, "cannot rename '%s' to '%s': %s", x->tmp, x->path, strerror(en));
        return;
    }
    fsync_dir(x->dir);
    x->final_due = x->reported < x->size || x->size == 0;
    x->state = X_FINISH;
}

int smneo_s3_download_new(smneo_s3_transfer **out, smneo_client *c, const char *s3_uri, const char *path,
                          const smneo_s3_options *opts, smneo_error *err)
{
    if (!out)
        return smneo__error(err, SMNEO_EINVAL, "smneo_s3_download_new: out is NULL");
    *out = NULL;
    smneo_s3_options o;
    int rc = smneo__s3_check_options(&o, opts, err);
    if (rc)
        return rc;
    if (!path || !*path)
        return smneo__error(err, SMNEO_EINVAL, "smneo_s3_download: path is NULL or empty");
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return smneo__error(err, SMNEO_EINVAL, "cannot download to '%s': it is a directory; give a file path", path);
    smneo_s3_transfer *x = calloc(1, sizeof *x);
    if (!x || !(x->path = smneo__strdup(path))) {
        free(x);
        return smneo__error(err, SMNEO_ENOMEM, "out of memory");
    }
    rc = smneo__s3_target_init_for(&x->t, c, s3_uri, 0, err);
    if (rc) {
        free(x->path);
        free(x);
        return rc;
    }
    x->client = c;
    x->o = o;
    x->fd = -1;
    x->op = "HeadObject";
    x->attempt = 1;
    x->rng = (uint64_t)smneo__monotonic_ms() * 0x9E3779B97F4A7C15ULL ^ (uint64_t)(uintptr_t)x;
    *out = x;
    return 0;
}

int smneo__s3_head_new(smneo_s3_transfer **out, smneo_client *c, const char *s3_uri, smneo_error *err)
{
    *out = NULL;
    smneo_s3_transfer *x = calloc(1, sizeof *x);
    if (!x)
        return smneo__error(err, SMNEO_ENOMEM, "out of memory");
    int rc = smneo__s3_target_init_for(&x->t, c, s3_uri, 0, err);
    if (rc) {
        free(x);
        return rc;
    }
    x->client = c;
    x->fd = -1;
    x->op = "HeadObject";
    x->head_only = 1;
    x->attempt = 1;
    x->rng = (uint64_t)smneo__monotonic_ms() * 0x9E3779B97F4A7C15ULL ^ (uint64_t)(uintptr_t)x;
    *out = x;
    return 0;
}

const char *smneo__s3_transfer_head_blake2b(const smneo_s3_transfer *x)
{
    return x && x->head_only && x->state == X_DONE && !x->rc ? x->head_blake2b : NULL;
}

int smneo__s3_transfer_finished(const smneo_s3_transfer *x)
{
    return x && (x->up ? x->finished : x->state == X_DONE);
}

void smneo__s3_transfer_observe(smneo_s3_transfer *x, void (*fn)(void *payload, uint64_t done, uint64_t total),
                                void *payload)
{
    if (x) {
        x->observe = fn;
        x->observe_payload = payload;
    }
}

smneo_s3_transfer *smneo__s3_transfer_wrap(s3_up *u)
{
    smneo_s3_transfer *x = calloc(1, sizeof *x);
    if (x) {
        x->up = u;
        x->fd = -1;
    }
    return x;
}

void smneo_s3_transfer_free(smneo_s3_transfer *x)
{
    if (!x)
        return;
    if (x->up) {
        smneo__s3_up_free(x->up);
        free(x);
        return;
    }
    if (x->state != X_DONE)
        x_finish(x, SMNEO_ECANCELLED, NULL);
    smneo_request_free(x->req);
    smneo__s3_creds_clear(&x->cr);
    smneo__s3_target_clear(&x->t);
    smneo_error_clear(&x->err);
    free(x->raw_etag);
    free(x->head_blake2b);
    free(x->path);
    free(x->dir);
    free(x->tmp);
    free(x);
}

int smneo_s3_transfer_progress(uint64_t *done, uint64_t *total, smneo_s3_transfer *x)
{
    if (x && x->up) {
        uint64_t d = 0, t = 0;
        int due = smneo__s3_up_progress(&d, &t, x->up);
        if (due && x->observe)
            x->observe(x->observe_payload, d, t);
        if (due && done)
            *done = d;
        if (due && total)
            *total = t;
        return due;
    }
    if (!x || !x->have_size || (x->state == X_DONE && x->rc))
        return 0;
    uint64_t d = x->written > x->size ? x->size : x->written;
    if (d < x->reported)
        d = x->reported;
    int due;
    if (!x->started)
        due = x->started = 1;
    else if (x->state == X_FINISH)
        due = x->final_due, x->final_due = 0, d = x->size;
    else
        due = d > x->reported && (d - x->reported >= PROGRESS_EVERY || d == x->size);
    if (!due)
        return 0;
    x->reported = d;
    if (done)
        *done = d;
    if (total)
        *total = x->size;
    return 1;
}

void smneo_s3_transfer_next(smneo_s3_step *out, smneo_s3_transfer *x)
{
    memset(out, 0, sizeof *out);
    if (!x) {
        out->kind = SMNEO_STEP_DONE;
        return;
    }
    if (x->up) {
        smneo__s3_up_next(out, x->up);
        if (out->kind == SMNEO_STEP_EVENT && x->observe)
            x->observe(x->observe_payload, out->done, out->total);
        if (out->kind == SMNEO_STEP_DONE)
            x->finished = 1;
        return;
    }
    for (;;) {
        if (x->state != X_DONE && x->state != X_AWAIT && x->cancelled) {
            smneo_error_clear(&x->err);
            smneo__error(&x->err, SMNEO_ECANCELLED, "cancelled by the progress callback");
            x_finish(x, SMNEO_ECANCELLED, NULL);
        }
        if (x->state != X_DONE && smneo_s3_transfer_progress(&out->done, &out->total, x)) {
            out->kind = SMNEO_STEP_EVENT;
            return;
        }
        out->done = x->written > x->size ? x->size : x->written;
        out->total = x->size;
        switch (x->state) {
        case X_REQUEST:
            x_request(out, x);
            continue;
        case X_AWAIT:
            out->kind = SMNEO_STEP_SEND;
            out->id = x->id;
            out->request = x->awaiting_creds ? x->cr.req : x->req;
            out->timeout_ms = x->timeout_ms;
            out->sink = x->sink;
            return;
        case X_SLEEP: {
            int64_t left = x->wake_ms - smneo__monotonic_ms();
            if (left > 0) {
                out->kind = SMNEO_STEP_SLEEP;
                out->sleep_ms = left > 200 ? 200 : (long)left;
                return;
            }
            x->state = X_REQUEST;
            continue;
        }
        case X_FINISH:
            x->state = X_DONE;
            continue;
        default:
            out->kind = SMNEO_STEP_DONE;
            return;
        }
    }
}

int smneo_s3_transfer_write(smneo_s3_transfer *x, int id, const char *data, size_t n)
{
    if (!x || x->up || x->state != X_AWAIT || id != x->id || !x->sink)
        return 1;
    size_t off = 0;
    while (off < n) {
        ssize_t w = pwrite(x->fd, data + off, n - off, (off_t)(x->written + off));
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            x->io_errno = w < 0 ? errno : EIO;
            x->written += off;
            return 1;
        }
        off += (size_t)w;
    }
    x->written += n;
    return x->cancelled;
}

/* A download's requests (HeadObject, GetObject) have no body to stream: the
 * end at once, whatever the id; an upload's parts stream from the file. */
int64_t smneo_s3_transfer_read(smneo_s3_transfer *x, int id, char *buf, size_t n)
{
    return x && x->up && buf ? smneo__s3_up_read(x->up, id, buf, n) : 0;
}

void smneo_s3_transfer_feed(smneo_s3_transfer *x, int id, smneo_response *resp, int transport_error,
                            const char *transport_message)
{
    if (x && x->up) {
        smneo__s3_up_feed(x->up, id, resp, transport_error, transport_message);
        return;
    }
    if (!x || x->state != X_AWAIT || id != x->id) {
        smneo_response_free(resp);
        return;
    }
    if (x->awaiting_creds) {
        x->awaiting_creds = 0;
        smneo__s3_creds_feed(&x->cr, resp, transport_error);
        x->state = X_REQUEST;
        return;
    }
    smneo_request_free(x->req);
    x->req = NULL;
    smneo_error e = SMNEO_ERROR_INIT;
    int rc;
    if (x->cancelled) { /* whatever came back: the caller asked to stop */
        smneo_response_free(resp);
        resp = NULL;
    }
    if (resp && resp->status >= 200 && resp->status < 300) {
        smneo__retry_succeeded(x->client, &x->quota_cost);
        if (x->sink) {
            x_complete(x, resp);
            smneo_response_free(resp);
            return;
        }
        /* HeadObject: size and ETag, then the GET into a temporary file */
        const char *len = smneo_response_header(resp, "Content-Length");
        char *end = NULL;
        unsigned long long size = len ? strtoull(len, &end, 10) : 0;
        if (!len || !*len || *end) {
            smneo_response_free(resp);
            x_fail(x, SMNEO_EPROTOCOL, "HeadObject", "S3 HeadObject for s3://%s/%s: the response has no valid "
                   "Content-Length", x->t.bucket, x->t.key);
            return;
        }
        const char *etag = smneo_response_header(resp, "ETag");
        x->raw_etag = etag ? smneo__strdup(etag) : NULL;
        if (x->head_only) {
            const char *b2 = smneo_response_header(resp, "x-amz-meta-smneo-blake2b");
            x->head_blake2b = b2 ? smneo__strdup(b2) : NULL;
            smneo_response_free(resp);
            x->size = size;
            x_finish(x, 0, NULL);
            return;
        }
        smneo_response_free(resp);
        x->size = size;
        x->have_size = 1;
        if (x_open_tmp(x))
            return;
        x->op = "GetObject";
        x->attempt = 1;
        x->quota_cost = 0;
        x->state = X_REQUEST;
        return;
    }
    if (resp) {
        rc = smneo__s3_response_error(resp, &x->t, x->op, &e);
    } else if (x->io_errno) {
        rc = smneo__error(&e, SMNEO_EIO, "cannot write '%s': %s", x->tmp, strerror(x->io_errno));
    } else if (x->cancelled) {
        rc = smneo__error(&e, SMNEO_ECANCELLED, "cancelled by the progress callback");
    } else {
        rc = transport_error ? transport_error : SMNEO_ECONNECT;
        smneo__error(&e, rc, "S3 %s for s3://%s/%s: %s", x->op, x->t.bucket, x->t.key,
                     transport_message && *transport_message ? transport_message : smneo_strerror(rc));
    }
    e.code = rc;
    e.attempts = x->attempt;
    double delay = 0;
    if (rc != SMNEO_ECANCELLED && rc != SMNEO_EIO && rc != SMNEO_EUNSUPPORTED &&
        smneo__retry_next_s3(x->client, rc, &e, x->attempt, &x->rng, &x->quota_cost, &delay, 1, NULL)) {
        smneo_log(SMNEO_LOG_INFO, "S3 %s s3://%s/%s: attempt %d failed (%s), retrying in %.3f s", x->op,
                  x->t.bucket, x->t.key, x->attempt, e.service_code ? e.service_code : smneo_strerror(rc), delay);
        smneo_error_clear(&e);
        x->attempt++;
        if (x_prepare_retry(x))
            return;
        x->wake_ms = smneo__monotonic_ms() + (int64_t)(delay * 1000);
        x->state = X_SLEEP;
        return;
    }
    smneo_error_clear(&x->err);
    x->err = e;
    if (rc == SMNEO_ESERVICE && e.http_status == 412) {
        smneo__error(&x->err, SMNEO_ESERVICE, "s3://%s/%s changed while it was being downloaded: try again",
                     x->t.bucket, x->t.key);
    }
    int local = rc == SMNEO_EIO || rc == SMNEO_ECANCELLED || rc == SMNEO_ENOMEM || rc == SMNEO_EINVAL;
    x_finish(x, rc, local ? NULL : x->op);
}

void smneo_s3_transfer_cancel(smneo_s3_transfer *x)
{
    if (x && x->up)
        smneo__s3_up_cancel(x->up);
    else if (x)
        x->cancelled = 1;
}

int smneo_s3_transfer_set_work_steps(smneo_s3_transfer *x, int on)
{
    if (!x)
        return SMNEO_EINVAL;
    if (x->up)
        smneo__s3_up_set_work_steps(x->up, on);
    return 0;
}

void smneo_s3_transfer_work(smneo_s3_transfer *x)
{
    if (x && x->up)
        smneo__s3_up_work(x->up);
}

int smneo_s3_transfer_result(smneo_s3_transfer *x, smneo_error *err)
{
    if (!x)
        return smneo__error(err, SMNEO_EINVAL, "smneo_s3_transfer_result: the transfer is NULL");
    if (x->up)
        return smneo__s3_up_result(x->up, err);
    if (x->state != X_DONE)
        return smneo__error(err, SMNEO_EINVAL, "smneo_s3_transfer_result: the transfer has not finished (drive "
                            "it with smneo_s3_transfer_next until DONE)");
    if (x->rc && err) {
        smneo_error_clear(err);
        *err = x->err; /* moved: a second call gives the code alone */
        memset(&x->err, 0, sizeof x->err);
    }
    return x->rc;
}

const char *smneo_s3_transfer_failed_operation(const smneo_s3_transfer *x)
{
    if (x && x->up)
        return smneo__s3_up_failed_operation(x->up);
    return x && x->state == X_DONE && x->rc ? x->failed_op : NULL;
}

/* ---- the blocking driver over the client's transport ------------------------------ */

typedef struct drive_sink {
    smneo_s3_transfer *x;
    int id;
} drive_sink;

static int drive_write(void *payload, const char *data, size_t n)
{
    drive_sink *ds = payload;
    smneo_s3_transfer *x = ds->x;
    if (smneo_s3_transfer_write(x, ds->id, data, n))
        return 1;
    uint64_t d, t;
    /* Progress during the body, on this (the driving) thread. */
    if (x->o.progress && smneo_s3_transfer_progress(&d, &t, x) && x->o.progress(d, t, x->o.payload) != 0) {
        smneo_s3_transfer_cancel(x);
        return 1;
    }
    return 0;
}

int smneo_s3_download(smneo_client *c, const char *s3_uri, const char *path, const smneo_s3_options *opts,
                      smneo_error *err)
{
    smneo_s3_transfer *x = NULL;
    int rc = smneo_s3_download_new(&x, c, s3_uri, path, opts, err);
    if (rc)
        return rc;
    smneo_transport *tr = x->t.transport;
    int streams = x->t.streams;
    for (;;) {
        smneo_s3_step st;
        smneo_s3_transfer_next(&st, x);
        if (st.kind == SMNEO_STEP_DONE)
            break;
        if (st.kind == SMNEO_STEP_SLEEP) {
            smneo__sleep_ms(st.sleep_ms);
        } else if (st.kind == SMNEO_STEP_EVENT) {
            if (x->o.progress && x->o.progress(st.done, st.total, x->o.payload) != 0)
                smneo_s3_transfer_cancel(x);
        } else if (st.sink && !streams && st.total > MEMORY_FALLBACK_LIMIT) {
            x_fail(x, SMNEO_EUNSUPPORTED, NULL, "cannot download s3://%s/%s (%llu bytes): the client's "
                                    "transport cannot stream response bodies (no send_stream), so only objects up "
                                    "to %llu bytes can be received; use the libcurl transport or one with "
                                    "send_stream", x->t.bucket, x->t.key, (unsigned long long)st.total,
                                    (unsigned long long)MEMORY_FALLBACK_LIMIT);
        } else {
            smneo_response *resp = NULL;
            smneo_error terr = SMNEO_ERROR_INIT;
            drive_sink ds = {x, st.id};
            smneo_body_sink sink = {drive_write, &ds};
            int trc;
            if (st.timeout_ms > 0 && c->own_transport) /* a credential request: its own timeouts */
                trc = smneo__send_timed(&resp, c->timed, st.request, st.timeout_ms, &terr);
            else if (tr)
                trc = smneo_transport_send_stream(&resp, tr, st.request, NULL, st.sink ? &sink : NULL, &terr);
            else
                trc = smneo__error(&terr, SMNEO_EINVAL, "the client has no transport: drive the transfer with "
                                   "smneo_s3_download_new and steps");
            smneo_s3_transfer_feed(x, st.id, trc ? NULL : resp, trc, terr.message);
            if (trc)
                smneo_response_free(resp);
            smneo_error_clear(&terr);
        }
    }
    rc = smneo_s3_transfer_result(x, err);
    smneo_s3_options o;
    smneo__s3_check_options(&o, opts, NULL);
    if (rc && o.failed_operation)
        *o.failed_operation = smneo_s3_transfer_failed_operation(x);
    smneo_s3_transfer_free(x);
    return rc;
}
