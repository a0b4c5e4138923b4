/* core/src/s3_upload.c: S3 uploads: one PUT, or a multipart upload with parallel parts above the
 * threshold */

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "client_internal.h"
#include "internal.h"
#include "options_internal.h"
#include "s3_internal.h"
#include "smneo/log.h"
#include "smneo/s3.h"

#define MAX_PARTS 10000

static const char XMLNS[] = "http://s3.amazonaws.com/doc/2006-03-01/";

/* ---- file source and sink ------------------------------------------------------ */

/* Hex SHA-256 of a file region (plain HTTP signs the real payload hash). */
static int sha256_region(char out[65], int fd, const char *path, uint64_t start, uint64_t len, const int *halt,
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
        if (halt && __atomic_load_n(halt, __ATOMIC_RELAXED)) {
            rc = smneo__error(err, SMNEO_ECANCELLED, "cancelled by the progress callback");
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

/* ---- the upload machine ------------------------------------------------------------ */

#define PROGRESS_EVERY (256 * 1024)

/* The phases: one PUT; or Create, the parts, Complete (and, when Complete's
 * retry meets NoSuchUpload, a HEAD to see whether the first attempt went
 * through), Abort after a failure or a cancel. */
enum { P_PUT, P_CREATE, P_PARTS, P_COMPLETE, P_VERIFY, P_ABORT, P_DONE };
/* A slot's state: nothing, a request to build, a SEND handed out, a retry's
 * backoff, its payload hash handed out as a WORK step. */
enum { S_FREE, S_READY, S_FLIGHT, S_SLEEP, S_WORK };
/* The WORK step (work steps opted in): none, handed out, run. */
enum { W_NONE, W_HANDED, W_RAN };

typedef struct up_slot {
    int state;
    int id;
    int part;            /* the part index (P_PARTS), else -1 */
    const char *op;
    smneo_request *req;
    int attempt, quota_cost;
    uint64_t offset, length, sent; /* the streamed body (PutObject, UploadPart): file region, bytes read */
    int io_errno;
    int64_t wake_ms;
    char hash[65];       /* the payload's SHA-256 (plain HTTP), "" until computed */
} up_slot;

struct s3_up {
    smneo_client *client;
    s3_target t;
    smneo_s3_options o;
    char *path;
    int fd;
    uint64_t size, part_size;
    int phase;
    int nparts, next_part, answered; /* parts: count, next to start, answered 2xx */
    mp_part *parts;
    char *upload_id, *upload_query;
    int nslots;
    up_slot *slots;       /* slots[0]: the requests that are not parts */
    int seq;
    /* credentials: one resolution at a time, its requests on their own id */
    s3_creds cr;
    int cred_id, cred_flight;  /* cr.req handed out as SEND cred_id */
    uint64_t rng;
    uint64_t moved, reported; /* bytes read by attempts that did not fail; highest reported */
    int started, final_due, final_given;
    int cancelled;
    int rc;               /* the failure (the first one wins), kept while the rest winds down */
    smneo_error err;
    const char *failed_op;
    int complete_attempts; /* Complete's attempts, for the NoSuchUpload check */
    /* Work steps (smneo_s3_transfer_set_work_steps): the payload hashes of
     * plain HTTP as WORK steps, one at a time. The work touches only the
     * slot work_slot (S_WORK: no read or feed reaches it), fd and path, and
     * reads halt, so the driver may go on with the other SENDs meanwhile. */
    int work_steps;
    int work_state, work_slot, work_rc;
    smneo_error work_err;
    int halt;             /* set (atomically) by a cancel or a failure: the work stops early */
};

static int up_inflight(const s3_up *u)
{
    int n = u->cred_flight;
    for (int i = 0; i < u->nslots; i++)
        n += u->slots[i].state == S_FLIGHT;
    return n;
}

/* Abort, or the HEAD after a retried Complete met NoSuchUpload: requests of
 * their own after a failure. */
static int up_closing(const s3_up *u)
{
    return u->phase == P_ABORT || u->phase == P_VERIFY;
}

static void up_slot_clear(up_slot *s)
{
    smneo_request_free(s->req);
    memset(s, 0, sizeof *s);
    s->part = -1;
}

/* The first failure wins: later ones (a sibling stopped by it) are dropped. */
static void up_fail_err(s3_up *u, int rc, const char *failed_op, smneo_error *e)
{
    if (u->rc) {
        smneo_error_clear(e);
        return;
    }
    u->rc = rc;
    __atomic_store_n(&u->halt, 1, __ATOMIC_RELAXED);
    u->failed_op = failed_op;
    smneo_error_clear(&u->err);
    u->err = *e;
    memset(e, 0, sizeof *e);
}

static void up_fail(s3_up *u, int rc, const char *failed_op, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void up_fail(s3_up *u, int rc, const char *failed_op, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char m[2048];
    vsnprintf(m, sizeof m, fmt, ap);
    va_end(ap);
    smneo_error e = SMNEO_ERROR_INIT;
    smneo__error(&e, rc, "%s", m);
    up_fail_err(u, rc, failed_op, &e);
}

static void up_finish(s3_up *u)
{
    u->phase = P_DONE;
    for (int i = 0; i < u->nslots; i++)
        up_slot_clear(&u->slots[i]);
    if (u->fd >= 0) {
        close(u->fd);
        u->fd = -1;
    }
    if (!u->rc) {
        u->final_due = !u->final_given;
        return;
    }
    if (u->rc && u->upload_query && u->err.message) {
        char *m = smneo__aprintf("%s; the multipart upload was aborted", u->err.message);
        if (m) {
            free(u->err.message);
            u->err.message = m;
        }
    }
    int local = u->rc == SMNEO_EIO || u->rc == SMNEO_ECANCELLED || u->rc == SMNEO_ENOMEM || u->rc == SMNEO_EINVAL;
    if (local)
        u->failed_op = NULL;
}

/* After a failure or a cancel, once nothing is in flight: Abort the
 * multipart upload when there is one, else done. */
static void up_wind_down(s3_up *u)
{
    for (int i = 0; i < u->nslots; i++)
        if (u->slots[i].state == S_READY || u->slots[i].state == S_SLEEP)
            up_slot_clear(&u->slots[i]);
    if (up_inflight(u))
        return;
    if (u->upload_query && u->phase != P_ABORT) {
        u->phase = P_ABORT;
        up_slot *s = &u->slots[0];
        up_slot_clear(s);
        s->state = S_READY;
        s->op = "AbortMultipartUpload";
        s->attempt = 1;
        return;
    }
    if (u->phase != P_ABORT)
        up_finish(u);
}

static void up_slot_start(s3_up *u, up_slot *s, const char *op, int part)
{
    up_slot_clear(s);
    s->state = S_READY;
    s->op = op;
    s->part = part;
    s->attempt = 1;
    if (part >= 0) {
        s->offset = u->parts[part].offset;
        s->length = u->parts[part].length;
    } else if (!strcmp(op, "PutObject")) {
        s->length = u->size;
    }
    (void)u;
}

static char *complete_body(const mp_part *parts, int n, size_t *len)
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
    return smneo__buf_detach(&b, len);
}

/* Builds and signs slot s's request with the credentials at hand. */
static int up_build(s3_up *u, up_slot *s, smneo_error *err)
{
    s3_req r;
    memset(&r, 0, sizeof r);
    r.op = s->op;
    char hash[65] = "";
    char *query = NULL, *body = NULL;
    const char **oh = NULL;
    const char *xml[] = {"Content-Type", "application/xml", NULL};
    smneo_body_source src = {s->length, NULL, NULL};
    int rc = 0;
    if (!strcmp(s->op, "PutObject") || !strcmp(s->op, "UploadPart")) {
        r.method = "PUT";
        if (s->hash[0])
            memcpy(hash, s->hash, sizeof hash);
        else if (!u->t.https && (rc = sha256_region(hash, u->fd, u->path, s->offset, s->length, NULL, err)) != 0)
            return rc;
        r.src = &src; /* signs the payload hash; the body streams from smneo_s3_transfer_read */
        r.payload_hash = hash;
        if (s->part >= 0) {
            if (!(query = smneo__aprintf("partNumber=%d&%s", s->part + 1, u->upload_query)))
                return smneo__error(err, SMNEO_ENOMEM, "out of memory");
            r.query = query;
        } else if (!(oh = object_headers(&u->o))) {
            return smneo__error(err, SMNEO_ENOMEM, "out of memory");
        }
    } else if (!strcmp(s->op, "CreateMultipartUpload")) {
        r.method = "POST";
        r.query = "uploads";
        if (!(oh = object_headers(&u->o)))
            return smneo__error(err, SMNEO_ENOMEM, "out of memory");
    } else if (!strcmp(s->op, "CompleteMultipartUpload")) {
        r.method = "POST";
        r.query = u->upload_query;
        r.headers = xml;
        if (!(body = complete_body(u->parts, u->nparts, &r.body_len)))
            return smneo__error(err, SMNEO_ENOMEM, "out of memory");
        r.body = body;
    } else if (!strcmp(s->op, "HeadObject")) {
        r.method = "HEAD";
    } else { /* AbortMultipartUpload */
        r.method = "DELETE";
        r.query = u->upload_query;
    }
    if (oh)
        r.headers = oh;
    rc = smneo__s3_build(&s->req, &u->t, &r, u->cr.creds, err);
    if (!rc && r.src)
        s->req->body_len = (size_t)s->length; /* body NULL: streamed */
    free(query);
    free(body);
    free_object_headers(oh, &u->o);
    return rc;
}

/* Credentials for the next request: 0 when fresh ones are at hand, 2 with
 * out filled with a credential request's SEND, 1 while one is in flight or
 * waits for its backoff, -1 after a failure (u->rc set). */
static int up_credentials(smneo_s3_step *out, s3_up *u, const char *op)
{
    if (u->cred_flight)
        return 1;
    smneo_error e = SMNEO_ERROR_INIT;
    int c = smneo__s3_creds_step(&u->cr, u->client, &e);
    if (c == 0 || c == 2)
        return c ? 1 : 0;
    if (c == 1) {
        u->cred_flight = 1;
        u->cred_id = ++u->seq;
        out->kind = SMNEO_STEP_SEND;
        out->id = u->cred_id;
        out->request = u->cr.req;
        out->timeout_ms = u->cr.timeout_ms;
        return 2;
    }
    up_fail_err(u, c, c == SMNEO_ENOMEM ? NULL : op, &e); /* no credentials: the request they were for failed */
    return -1;
}

/* Part index i: its region of the file. */
static int up_plan(s3_up *u)
{
    uint64_t part = u->part_size;
    int n = (int)((u->size + part - 1) / part);
    u->parts = calloc((size_t)n, sizeof *u->parts);
    if (!u->parts)
        return 1;
    u->nparts = n;
    for (int i = 0; i < n; i++) {
        u->parts[i].offset = (uint64_t)i * part;
        u->parts[i].length = i == n - 1 ? u->size - u->parts[i].offset : part;
    }
    return 0;
}

int smneo__s3_up_progress(uint64_t *done, uint64_t *total, s3_up *u)
{
    if (!u || u->rc || u->cancelled)
        return 0;
    uint64_t d = u->moved;
    for (int i = 0; i < u->nslots; i++)
        d += u->slots[i].sent;
    /* The last byte counts once S3 answered every part (or the PUT): the
     * final event comes before CompleteMultipartUpload, so a cancel there
     * (Ctrl-C while the last part was in flight) still aborts the upload. */
    if (d >= u->size)
        d = u->size ? u->size - 1 : 0;
    if (d < u->reported)
        d = u->reported;
    int due;
    if (!u->started)
        due = u->started = 1;
    else if (u->final_due)
        due = 1, u->final_due = 0, u->final_given = 1, d = u->size;
    else
        due = d > u->reported && d - u->reported >= PROGRESS_EVERY;
    if (!due)
        return 0;
    u->reported = d;
    if (done)
        *done = d;
    if (total)
        *total = u->size;
    return 1;
}

void smneo__s3_up_next(smneo_s3_step *out, s3_up *u)
{
    memset(out, 0, sizeof *out);
    for (;;) {
        out->total = u->size;
        if (u->work_state == W_RAN) { /* the hash computed (or its error): the slot's request can be built */
            up_slot *w = &u->slots[u->work_slot];
            u->work_state = W_NONE;
            if (u->work_rc) {
                up_slot_clear(w);
                up_fail_err(u, u->work_rc, NULL, &u->work_err);
            } else {
                w->state = S_READY;
            }
        } else if (u->work_state == W_HANDED) {
            if (u->rc || u->cancelled) { /* not run, and no longer needed */
                up_slot_clear(&u->slots[u->work_slot]);
                u->work_state = W_NONE;
            } else {
                out->kind = SMNEO_STEP_WORK; /* the driver has not run it yet */
                out->done = u->reported;
                return;
            }
        }
        if (u->phase == P_DONE) {
            if (smneo__s3_up_progress(&out->done, &out->total, u)) {
                out->kind = SMNEO_STEP_EVENT;
                return;
            }
            out->kind = SMNEO_STEP_DONE;
            out->done = u->rc ? u->reported : u->size;
            return;
        }
        if (u->cancelled && !u->rc)
            up_fail(u, SMNEO_ECANCELLED, NULL, "cancelled by the progress callback");
        if (u->rc && !up_closing(u)) {
            up_wind_down(u);
            if (u->phase == P_DONE)
                continue;
        }
        if (smneo__s3_up_progress(&out->done, &out->total, u)) {
            out->kind = SMNEO_STEP_EVENT;
            return;
        }
        out->done = u->reported;
        if (u->phase == P_PARTS && !u->rc) {
            /* retries first, then the next part in a free slot: parts go out in order */
            int ready = 0;
            int64_t t = smneo__monotonic_ms();
            for (int i = 0; i < u->nslots; i++)
                ready |= u->slots[i].state == S_READY || (u->slots[i].state == S_SLEEP && u->slots[i].wake_ms <= t);
            for (int i = 0; !ready && i < u->nslots && u->next_part < u->nparts; i++)
                if (u->slots[i].state == S_FREE) {
                    up_slot_start(u, &u->slots[i], "UploadPart", u->next_part++);
                    ready = 1;
                }
            if (u->answered == u->nparts) {
                u->phase = P_COMPLETE;
                u->final_due = 1;
                up_slot_start(u, &u->slots[0], "CompleteMultipartUpload", -1);
                continue;
            }
        }
        /* a slot to build and hand out */
        int64_t now = smneo__monotonic_ms(), wake = -1;
        int again = 0;
        for (int i = 0; i < u->nslots; i++) {
            up_slot *s = &u->slots[i];
            if (s->state == S_SLEEP) {
                if (s->wake_ms > now) {
                    if (wake < 0 || s->wake_ms < wake)
                        wake = s->wake_ms;
                    continue;
                }
                s->state = S_READY;
            }
            if (s->state != S_READY)
                continue;
            if (u->work_steps && !u->t.https && !s->hash[0] && s->op &&
                (!strcmp(s->op, "UploadPart") || !strcmp(s->op, "PutObject"))) {
                s->state = S_WORK; /* its payload hash first, where the driver runs work */
                u->work_state = W_HANDED;
                u->work_slot = i;
                out->kind = SMNEO_STEP_WORK;
                return;
            }
            int c = up_credentials(out, u, s->op);
            if (c == 2)
                return;
            if (c < 0) {
                if (up_closing(u))
                    up_finish(u); /* no credentials to abort with (up_finish says what failed) */
                again = 1;
                break;
            }
            if (c > 0) {
                if (u->cr.pending && (wake < 0 || u->cr.wake_ms < wake))
                    wake = u->cr.wake_ms;
                break;
            }
            smneo_error e = SMNEO_ERROR_INIT;
            int rc = up_build(u, s, &e);
            if (rc) {
                up_fail_err(u, rc, NULL, &e);
                if (up_closing(u))
                    up_finish(u);
                again = 1;
                break;
            }
            s->state = S_FLIGHT;
            s->id = ++u->seq;
            s->sent = 0;
            s->io_errno = 0;
            out->kind = SMNEO_STEP_SEND;
            out->id = s->id;
            out->request = s->req;
            return;
        }
        if (again)
            continue; /* a failure while building: wind down */
        if (wake >= 0 && (now = smneo__monotonic_ms()) < wake) {
            out->kind = SMNEO_STEP_SLEEP;
            out->sleep_ms = wake - now > 200 ? 200 : (long)(wake - now);
            return;
        }
        if (wake >= 0)
            continue;
        if (up_inflight(u)) {
            out->kind = SMNEO_STEP_WAIT;
            return;
        }
        /* nothing in flight, nothing to build: cannot happen, but never spin */
        if (!u->rc)
            up_fail(u, SMNEO_ERROR, NULL, "S3 upload of '%s': the transfer stalled", u->path);
        else if (up_closing(u))
            up_finish(u);
    }
}

static up_slot *up_slot_of(s3_up *u, int id)
{
    for (int i = 0; i < u->nslots; i++)
        if (u->slots[i].state == S_FLIGHT && u->slots[i].id == id)
            return &u->slots[i];
    return NULL;
}

int64_t smneo__s3_up_read(s3_up *u, int id, char *buf, size_t n)
{
    up_slot *s = up_slot_of(u, id);
    if (!s || !s->req || !s->req->body_len || s->req->body)
        return 0;
    if (u->cancelled || u->rc)
        return -1; /* stop sending: the transfer is winding down */
    uint64_t left = s->length - s->sent;
    if ((uint64_t)n > left)
        n = (size_t)left;
    if (n == 0)
        return 0;
    ssize_t r;
    do
        r = pread(u->fd, buf, n, (off_t)(s->offset + s->sent));
    while (r < 0 && errno == EINTR);
    if (r <= 0) {
        s->io_errno = r < 0 ? errno : IO_SHRUNK;
        return -1;
    }
    s->sent += (uint64_t)r;
    return (int64_t)r;
}

/* A 2xx answer to slot s. */
static void up_answered(s3_up *u, up_slot *s, smneo_response *resp)
{
    smneo__retry_succeeded(u->client, &s->quota_cost);
    if (!strcmp(s->op, "PutObject")) {
        u->moved += s->sent;
        up_slot_clear(s);
        up_finish(u);
    } else if (!strcmp(s->op, "UploadPart")) {
        const char *etag = smneo_response_header(resp, "ETag");
        if (!etag || !*etag) {
            up_fail(u, SMNEO_EPROTOCOL, "UploadPart", "S3 UploadPart %d for s3://%s/%s: the response has no ETag",
                    s->part + 1, u->t.bucket, u->t.key);
        } else if (!(u->parts[s->part].etag = smneo__strdup(etag))) {
            up_fail(u, SMNEO_ENOMEM, NULL, "out of memory");
        } else {
            u->answered++;
        }
        u->moved += s->sent;
        up_slot_clear(s);
    } else if (!strcmp(s->op, "CreateMultipartUpload")) {
        u->upload_id = smneo__s3_xml_find(resp->body, resp->body_len, "UploadId");
        up_slot_clear(s);
        if (!u->upload_id || !*u->upload_id) {
            free(u->upload_id);
            u->upload_id = NULL;
            up_fail(u, SMNEO_EPROTOCOL, "CreateMultipartUpload", "S3 CreateMultipartUpload for s3://%s/%s: the "
                    "response has no UploadId", u->t.bucket, u->t.key);
            return;
        }
        smneo_buf q = SMNEO_BUF_INIT;
        smneo__buf_puts(&q, "uploadId=");
        smneo__s3_put_pct(&q, u->upload_id, 0);
        if (!(u->upload_query = smneo__buf_detach(&q, NULL))) {
            up_fail(u, SMNEO_ENOMEM, NULL, "out of memory"); /* the id cannot be sent: nothing to abort with */
            return;
        }
        u->phase = P_PARTS;
    } else if (!strcmp(s->op, "CompleteMultipartUpload") || !strcmp(s->op, "HeadObject")) {
        if (!strcmp(s->op, "HeadObject")) {
            /* after NoSuchUpload on a retried Complete: the object with n parts means it went through */
            const char *etag = smneo_response_header(resp, "ETag");
            char suffix[16];
            snprintf(suffix, sizeof suffix, "-%d", u->nparts);
            char *e = smneo__s3_unquote(etag);
            int ok = e && strlen(e) > strlen(suffix) && !strcmp(e + strlen(e) - strlen(suffix), suffix);
            free(e);
            up_slot_clear(s);
            if (!ok) { /* the NoSuchUpload stands (kept in u->err): abort */
                u->phase = P_COMPLETE;
                return;
            }
            smneo_error_clear(&u->err);
            u->rc = 0;
            u->failed_op = NULL;
        }
        up_slot_clear(s);
        free(u->upload_query); /* nothing to abort any more */
        u->upload_query = NULL;
        up_finish(u);
    } else { /* AbortMultipartUpload */
        up_slot_clear(s);
        up_finish(u);
    }
}

void smneo__s3_up_feed(s3_up *u, int id, smneo_response *resp, int transport_error, const char *transport_message)
{
    if (u->cred_flight && id == u->cred_id) {
        u->cred_flight = 0;
        smneo__s3_creds_feed(&u->cr, resp, transport_error);
        return;
    }
    up_slot *s = up_slot_of(u, id);
    if (!s) {
        smneo_response_free(resp);
        return;
    }
    smneo_request_free(s->req);
    s->req = NULL;
    int aborting = !strcmp(s->op, "AbortMultipartUpload");
    int complete = !strcmp(s->op, "CompleteMultipartUpload");
    if (u->cancelled && !u->rc) /* whatever came back: the caller asked to stop */
        up_fail(u, SMNEO_ECANCELLED, NULL, "cancelled by the progress callback");
    if (u->rc && !up_closing(u)) { /* winding down: this answer no longer matters */
        smneo_response_free(resp);
        up_slot_clear(s);
        return;
    }
    if (resp && resp->status >= 200 && resp->status < 300 && complete && resp->body && resp->body_len &&
        memmem(resp->body, resp->body_len, "<Error>", 7))
        resp->status = 500; /* a 200 carrying <Error>: S3 says to retry */
    if (resp && resp->status >= 200 && resp->status < 300) {
        up_answered(u, s, resp);
        smneo_response_free(resp);
        return;
    }
    smneo_error e = SMNEO_ERROR_INIT;
    int rc;
    if (resp) {
        rc = smneo__s3_response_error(resp, &u->t, s->op, &e);
    } else if (s->io_errno) {
        rc = smneo__error(&e, SMNEO_EIO, "cannot read '%s': %s", u->path,
                          s->io_errno == IO_SHRUNK ? "the file became shorter while it was being uploaded"
                                                   : strerror(s->io_errno));
    } else {
        rc = transport_error ? transport_error : SMNEO_ECONNECT;
        smneo__error(&e, rc, "S3 %s for s3://%s/%s: %s", s->op, u->t.bucket, u->t.key,
                     transport_message && *transport_message ? transport_message : smneo_strerror(rc));
    }
    e.code = rc;
    e.attempts = s->attempt;
    s->sent = 0; /* a failed attempt's bytes do not count */
    double delay = 0;
    if (rc != SMNEO_ECANCELLED && rc != SMNEO_EIO && rc != SMNEO_EUNSUPPORTED &&
        smneo__retry_next_s3(u->client, rc, &e, s->attempt, &u->rng, &s->quota_cost, &delay, 1, NULL)) {
        smneo_log(SMNEO_LOG_INFO, "S3 %s s3://%s/%s: attempt %d failed (%s), retrying in %.3f s", s->op,
                  u->t.bucket, u->t.key, s->attempt, e.service_code ? e.service_code : smneo_strerror(rc), delay);
        smneo_error_clear(&e);
        s->attempt++;
        s->state = S_SLEEP;
        s->wake_ms = smneo__monotonic_ms() + (int64_t)(delay * 1000);
        return;
    }
    if (aborting) {
        smneo_log(SMNEO_LOG_WARN, "could not abort the multipart upload of s3://%s/%s (%s): its parts may remain "
                  "until a lifecycle rule removes them", u->t.bucket, u->t.key, e.message ? e.message : "");
        smneo_error_clear(&e);
        up_slot_clear(s);
        up_finish(u);
        return;
    }
    if (complete && rc == SMNEO_ENOTFOUND && s->attempt > 1) {
        /* A retried Complete whose first attempt went through (its answer
         * was lost) meets NoSuchUpload: the object is there with n parts. */
        up_fail_err(u, rc, s->op, &e);
        u->phase = P_VERIFY;
        up_slot_start(u, s, "HeadObject", -1);
        return;
    }
    const char *op = s->op;
    if (!strcmp(op, "HeadObject")) { /* the NoSuchUpload stands: abort as after any Complete failure */
        smneo_error_clear(&e);
        up_slot_clear(s);
        u->phase = P_COMPLETE;
        return;
    }
    up_slot_clear(s);
    up_fail_err(u, rc, op, &e);
}

void smneo__s3_up_cancel(s3_up *u)
{
    u->cancelled = 1;
    __atomic_store_n(&u->halt, 1, __ATOMIC_RELAXED);
}

void smneo__s3_up_set_work_steps(s3_up *u, int on)
{
    u->work_steps = on != 0;
}

void smneo__s3_up_work(s3_up *u)
{
    if (u->work_state != W_HANDED)
        return;
    up_slot *s = &u->slots[u->work_slot];
    smneo_error_clear(&u->work_err);
    u->work_rc = sha256_region(s->hash, u->fd, u->path, s->offset, s->length, &u->halt, &u->work_err);
    if (u->work_rc)
        s->hash[0] = 0;
    u->work_state = W_RAN;
}

int smneo__s3_up_result(s3_up *u, smneo_error *err)
{
    if (u->phase != P_DONE)
        return smneo__error(err, SMNEO_EINVAL, "smneo_s3_transfer_result: the transfer has not finished (drive "
                            "it with smneo_s3_transfer_next until DONE)");
    if (u->rc && err) {
        smneo_error_clear(err);
        *err = u->err; /* moved: a second call gives the code alone */
        memset(&u->err, 0, sizeof u->err);
    }
    return u->rc;
}

const char *smneo__s3_up_failed_operation(const s3_up *u)
{
    return u->phase == P_DONE && u->rc ? u->failed_op : NULL;
}

void smneo__s3_up_free(s3_up *u)
{
    if (!u)
        return;
    for (int i = 0; i < u->nslots; i++)
        up_slot_clear(&u->slots[i]);
    free(u->slots);
    smneo__s3_creds_clear(&u->cr);
    if (u->fd >= 0)
        close(u->fd);
    for (int i = 0; i < u->nparts; i++)
        free(u->parts[i].etag);
    free(u->parts);
    free(u->upload_id);
    free(u->upload_query);
    smneo__s3_target_clear(&u->t);
    smneo_error_clear(&u->err);
    smneo_error_clear(&u->work_err);
    free(u->path);
    free(u);
}

int smneo__s3_up_streams(const s3_up *u)
{
    return u->t.streams;
}

uint64_t smneo__s3_up_size(const s3_up *u)
{
    return u->size;
}

/* Checks the options and the file; opens it. */
int smneo__s3_up_new(s3_up **out, smneo_client *c, const char *path, const char *s3_uri,
                     const smneo_s3_options *opts, int need_transport, smneo_error *err)
{
    *out = NULL;
    smneo_s3_options o;
    int rc = smneo__s3_check_options(&o, opts, err);
    if (rc)
        return rc;
    if (!path)
        return smneo__error(err, SMNEO_EINVAL, "smneo_s3_upload: path is NULL");
    s3_up *u = calloc(1, sizeof *u);
    if (!u || !(u->path = smneo__strdup(path))) {
        free(u);
        return smneo__error(err, SMNEO_ENOMEM, "out of memory");
    }
    u->fd = -1;
    rc = smneo__s3_target_init_for(&u->t, c, s3_uri, need_transport, err);
    if (rc) {
        free(u->path);
        free(u);
        return rc;
    }
    u->client = c;
    u->o = o;
    u->fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (u->fd < 0) {
        rc = smneo__error(err, SMNEO_EIO, "cannot open '%s' for upload: %s", path, strerror(errno));
    } else if (fstat(u->fd, &st) != 0) {
        rc = smneo__error(err, SMNEO_EIO, "cannot upload '%s': %s", path, strerror(errno));
    } else if (!S_ISREG(st.st_mode)) {
        rc = smneo__error(err, SMNEO_EINVAL, "cannot upload '%s': it is not a regular file", path);
    }
    if (rc) {
        smneo__s3_up_free(u);
        return rc;
    }
    u->size = (uint64_t)st.st_size;
    u->rng = (uint64_t)smneo__monotonic_ms() * 0x9E3779B97F4A7C15ULL ^ (uint64_t)(uintptr_t)u;
    int multipart = u->size > o.multipart_threshold || u->size > MAX_SINGLE_PUT;
    u->nslots = 1;
    if (multipart) {
        uint64_t part = o.part_size;
        if ((u->size + part - 1) / part > MAX_PARTS) {
            part = (u->size + MAX_PARTS - 1) / MAX_PARTS;
            part = (part + MIB - 1) / MIB * MIB;
            smneo_log(SMNEO_LOG_INFO, "S3 upload of %s: part size raised to %llu bytes (at most %d parts)", path,
                      (unsigned long long)part, MAX_PARTS);
        }
        u->part_size = part;
        if (up_plan(u)) {
            smneo__s3_up_free(u);
            return smneo__error(err, SMNEO_ENOMEM, "out of memory");
        }
        u->nslots = o.concurrency < u->nparts ? o.concurrency : u->nparts;
        if (u->nslots < 1)
            u->nslots = 1;
    }
    u->slots = calloc((size_t)u->nslots, sizeof *u->slots);
    if (!u->slots) {
        smneo__s3_up_free(u);
        return smneo__error(err, SMNEO_ENOMEM, "out of memory");
    }
    for (int i = 0; i < u->nslots; i++)
        up_slot_clear(&u->slots[i]);
    u->phase = multipart ? P_CREATE : P_PUT;
    up_slot_start(u, &u->slots[0], multipart ? "CreateMultipartUpload" : "PutObject", -1);
    *out = u;
    return 0;
}

/* failed_operation names a request: not for a local or cancelled failure. */
void smneo__s3_not_a_request(const smneo_s3_options *o, int rc)
{
    if (o->failed_operation && (rc == SMNEO_EIO || rc == SMNEO_ECANCELLED || rc == SMNEO_ENOMEM || rc == SMNEO_EINVAL))
        *o->failed_operation = NULL;
}

/* ---- smneo_s3_upload: the machine driven over the client's transport ---------------
 * The driving thread steps the machine; each SEND goes to a sender thread
 * (one per request in flight, as many as parts run in parallel), which
 * streams the body with smneo_s3_transfer_read and hands the answer back.
 * Every smneo_s3_transfer_ call happens under d->mu (one thread at a time),
 * the progress callback too (calls never overlap, as before). */

typedef struct up_job {
    int id;
    const smneo_request *req;
    long timeout_ms;
    smneo_response *resp;
    int rc;
    char *message;
    struct up_job *next;
} up_job;

typedef struct up_driver {
    pthread_mutex_t mu;
    pthread_cond_t work, done;
    smneo_s3_transfer *x;
    smneo_client *c;
    smneo_transport *tr;
    smneo_s3_options o;
    up_job *todo, *answered;
    int idle, quit, nthreads, cap;
    pthread_t *threads;
} up_driver;

typedef struct up_read {
    up_driver *d;
    int id;
} up_read;

/* Under d->mu: the progress callback when an event is due. */
static void up_report_locked(up_driver *d)
{
    uint64_t done, total;
    if (d->o.progress && smneo_s3_transfer_progress(&done, &total, d->x) &&
        d->o.progress(done, total, d->o.payload) != 0)
        smneo_s3_transfer_cancel(d->x);
}

static size_t up_body_read(void *payload, char *buf, size_t n)
{
    up_read *r = payload;
    pthread_mutex_lock(&r->d->mu);
    int64_t got = smneo_s3_transfer_read(r->d->x, r->id, buf, n);
    if (got > 0)
        up_report_locked(r->d);
    pthread_mutex_unlock(&r->d->mu);
    return got < 0 ? (size_t)-1 : (size_t)got;
}

static void *up_sender(void *arg)
{
    up_driver *d = arg;
    pthread_mutex_lock(&d->mu);
    for (;;) {
        while (!d->todo && !d->quit)
            pthread_cond_wait(&d->work, &d->mu);
        if (!d->todo)
            break;
        up_job *j = d->todo;
        d->todo = j->next;
        d->idle--;
        pthread_mutex_unlock(&d->mu);
        smneo_error terr = SMNEO_ERROR_INIT;
        up_read rd = {d, j->id};
        smneo_body_source src = {j->req->body_len, up_body_read, &rd};
        int streamed = !j->req->body && j->req->body_len > 0;
        if (j->timeout_ms > 0 && d->c->own_transport) /* a credential request: its own timeouts */
            j->rc = smneo__send_timed(&j->resp, d->c->timed, j->req, j->timeout_ms, &terr);
        else if (d->tr)
            j->rc = smneo_transport_send_stream(&j->resp, d->tr, j->req, streamed ? &src : NULL, NULL,
                                                &terr);
        else
            j->rc = smneo__error(&terr, SMNEO_EINVAL, "the client has no transport: drive the transfer with "
                                 "smneo_s3_upload_new and steps");
        if (j->rc) {
            smneo_response_free(j->resp);
            j->resp = NULL;
            j->message = terr.message;
            terr.message = NULL;
        }
        smneo_error_clear(&terr);
        pthread_mutex_lock(&d->mu);
        j->next = d->answered;
        d->answered = j;
        d->idle++;
        pthread_cond_signal(&d->done);
    }
    pthread_mutex_unlock(&d->mu);
    return NULL;
}

/* Under d->mu: a SEND to a sender thread (a new one when none is idle). */
static int up_dispatch(up_driver *d, const smneo_s3_step *st)
{
    up_job *j = calloc(1, sizeof *j);
    if (!j)
        return 1;
    j->id = st->id;
    j->req = st->request;
    j->timeout_ms = st->timeout_ms;
    int queued = 0;
    for (up_job *q = d->todo; q; q = q->next)
        queued++;
    if (d->idle <= queued) { /* every idle sender has a job waiting already */
        if (d->nthreads == d->cap) {
            int cap = d->cap ? d->cap * 2 : 4;
            pthread_t *t = realloc(d->threads, (size_t)cap * sizeof *t);
            if (!t) {
                free(j);
                return 1;
            }
            d->threads = t;
            d->cap = cap;
        }
        if (pthread_create(&d->threads[d->nthreads], NULL, up_sender, d) != 0) {
            free(j);
            return 1;
        }
        d->nthreads++;
        d->idle++;
    }
    up_job **tail = &d->todo;
    while (*tail)
        tail = &(*tail)->next;
    *tail = j;
    pthread_cond_signal(&d->work);
    return 0;
}

/* Under d->mu: feeds the answers that came back. */
static void up_feed_answered(up_driver *d)
{
    while (d->answered) {
        up_job *j = d->answered;
        d->answered = j->next;
        smneo_s3_transfer_feed(d->x, j->id, j->resp, j->rc, j->message);
        free(j->message);
        free(j);
    }
}

static void up_timedwait(up_driver *d, long ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&d->done, &d->mu, &ts);
}

int smneo_s3_upload(smneo_client *c, const char *path, const char *s3_uri, const smneo_s3_options *opts,
                    smneo_error *err)
{
    s3_up *u = NULL;
    int rc = smneo__s3_up_new(&u, c, path, s3_uri, opts, 1, err);
    if (rc)
        return rc;
    if (!u->t.streams && u->size > MEMORY_FALLBACK_LIMIT) {
        rc = smneo__error(err, SMNEO_EUNSUPPORTED, "cannot upload '%s' (%llu bytes): the client's transport cannot "
                          "stream request bodies (no send_stream), so only files up to %llu bytes can be sent; use "
                          "the libcurl transport or one with send_stream", path, (unsigned long long)u->size,
                          (unsigned long long)MEMORY_FALLBACK_LIMIT);
        smneo__s3_up_free(u);
        return rc;
    }
    up_driver d;
    memset(&d, 0, sizeof d);
    d.x = smneo__s3_transfer_wrap(u);
    if (!d.x) {
        smneo__s3_up_free(u);
        return smneo__error(err, SMNEO_ENOMEM, "out of memory");
    }
    d.c = c;
    d.tr = u->t.transport;
    d.o = u->o;
    pthread_mutex_init(&d.mu, NULL);
    pthread_cond_init(&d.work, NULL);
    pthread_cond_init(&d.done, NULL);
    pthread_mutex_lock(&d.mu);
    for (;;) {
        up_feed_answered(&d);
        smneo_s3_step st;
        smneo_s3_transfer_next(&st, d.x);
        if (st.kind == SMNEO_STEP_DONE)
            break;
        switch (st.kind) {
        case SMNEO_STEP_SEND:
            if (up_dispatch(&d, &st)) /* no thread for it: as a failed connection */
                smneo_s3_transfer_feed(d.x, st.id, NULL, SMNEO_ENOMEM, "cannot start a thread for the request");
            break;
        case SMNEO_STEP_WAIT:
            if (!d.answered)
                pthread_cond_wait(&d.done, &d.mu);
            break;
        case SMNEO_STEP_SLEEP:
            if (!d.answered) /* answers may come meanwhile: feed them at once */
                up_timedwait(&d, st.sleep_ms);
            break;
        case SMNEO_STEP_EVENT:
            if (d.o.progress && d.o.progress(st.done, st.total, d.o.payload) != 0)
                smneo_s3_transfer_cancel(d.x);
            break;
        default:
            break;
        }
    }
    d.quit = 1;
    pthread_cond_broadcast(&d.work);
    pthread_mutex_unlock(&d.mu);
    for (int i = 0; i < d.nthreads; i++)
        pthread_join(d.threads[i], NULL);
    free(d.threads);
    rc = smneo_s3_transfer_result(d.x, err);
    if (rc && d.o.failed_operation)
        *d.o.failed_operation = smneo_s3_transfer_failed_operation(d.x);
    smneo_s3_transfer_free(d.x);
    pthread_cond_destroy(&d.work);
    pthread_cond_destroy(&d.done);
    pthread_mutex_destroy(&d.mu);
    return rc;
}

int smneo_s3_upload_new(smneo_s3_transfer **out, smneo_client *c, const char *path, const char *s3_uri,
                        const smneo_s3_options *opts, smneo_error *err)
{
    if (!out)
        return smneo__error(err, SMNEO_EINVAL, "smneo_s3_upload_new: out is NULL");
    *out = NULL;
    s3_up *u = NULL;
    int rc = smneo__s3_up_new(&u, c, path, s3_uri, opts, 0, err);
    if (rc)
        return rc;
    if (!(*out = smneo__s3_transfer_wrap(u))) {
        smneo__s3_up_free(u);
        return smneo__error(err, SMNEO_ENOMEM, "out of memory");
    }
    return 0;
}
