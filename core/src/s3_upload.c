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

static size_t file_read(void *payload, char *buf, size_t n)
{
    file_source *fs = payload;
    if (smneo__s3_xfer_stopped(fs->x))
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
    if (smneo__s3_xfer_add(fs->x, (uint64_t)r, 0))
        return (size_t)-1;
    return (size_t)r;
}

static int file_source_rewind(void *payload, smneo_error *err)
{
    (void)err;
    file_source *fs = payload;
    smneo__s3_xfer_add(fs->x, fs->pos, 1);
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
        if (smneo__s3_xfer_stopped(x)) {
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
    int rc = smneo__s3_perform(t, &r, &resp, err);
    free_object_headers(h, o);
    if (rc && o->failed_operation)
        *o->failed_operation = r.op;
    smneo_response_free(resp);
    return rc;
}

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
    int rc = smneo__s3_perform(j->t, &r, &resp, err);
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
    int rc = smneo__s3_perform(t, &r, &resp, err);
    free_object_headers(h, o);
    if (rc) {
        if (o->failed_operation)
            *o->failed_operation = r.op;
        return rc;
    }
    *upload_id = smneo__s3_xml_find(resp->body, resp->body_len, "UploadId");
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
    if (smneo__s3_perform(t, &r, &resp, &e) != 0)
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
    int rc = smneo__s3_perform(t, &r, &resp, err);
    free(body);
    smneo_response_free(resp);
    if (rc == SMNEO_ENOTFOUND && err && err->attempts > 1) {
        /* A retried Complete whose first attempt went through (its answer
         * was lost) meets NoSuchUpload: the object is there with n parts. */
        smneo_s3_object obj;
        char suffix[16];
        snprintf(suffix, sizeof suffix, "-%d", n);
        if (smneo__s3_head_target(&obj, NULL, t, NULL) == 0 && obj.etag && strlen(obj.etag) > strlen(suffix) &&
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
    smneo__s3_put_pct(&q, upload_id, 0);
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
    if (!rc && smneo__s3_xfer_cancelled(x))
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
void smneo__s3_not_a_request(const smneo_s3_options *o, int rc)
{
    if (o->failed_operation && (rc == SMNEO_EIO || rc == SMNEO_ECANCELLED || rc == SMNEO_ENOMEM || rc == SMNEO_EINVAL))
        *o->failed_operation = NULL;
}

int smneo_s3_upload(smneo_client *c, const char *path, const char *s3_uri, const smneo_s3_options *opts,
                    smneo_error *err)
{
    smneo_s3_options o;
    int rc = smneo__s3_check_options(&o, opts, err);
    if (rc)
        return rc;
    if (!path)
        return smneo__error(err, SMNEO_EINVAL, "smneo_s3_upload: path is NULL");
    s3_target t;
    rc = smneo__s3_target_init(&t, c, s3_uri, err);
    if (rc)
        return rc;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0) {
        rc = smneo__error(err, SMNEO_EIO, "cannot open '%s' for upload: %s", path, strerror(errno));
        smneo__s3_target_clear(&t);
        return rc;
    }
    if (fstat(fd, &st) != 0) {
        rc = smneo__error(err, SMNEO_EIO, "cannot upload '%s': %s", path, strerror(errno));
        close(fd);
        smneo__s3_target_clear(&t);
        return rc;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = smneo__error(err, SMNEO_EINVAL, "cannot upload '%s': it is not a regular file", path);
        close(fd);
        smneo__s3_target_clear(&t);
        return rc;
    }
    uint64_t size = (uint64_t)st.st_size;
    if (!t.streams && size > MEMORY_FALLBACK_LIMIT) {
        rc = smneo__error(err, SMNEO_EUNSUPPORTED, "cannot upload '%s' (%llu bytes): the client's transport cannot "
                          "stream request bodies (no send_stream), so only files up to %llu bytes can be sent; use "
                          "the libcurl transport or one with send_stream", path, (unsigned long long)size,
                          (unsigned long long)MEMORY_FALLBACK_LIMIT);
        close(fd);
        smneo__s3_target_clear(&t);
        return rc;
    }
    s3_xfer x;
    smneo__s3_xfer_init(&x, &o, size);
    if (smneo__s3_xfer_start(&x))
        rc = smneo__error(err, SMNEO_ECANCELLED, "cancelled by the progress callback");
    else if (size > o.multipart_threshold || size > MAX_SINGLE_PUT)
        rc = put_multipart(&t, fd, path, size, &o, &x, err);
    else
        rc = put_single(&t, fd, path, size, &o, &x, err);
    smneo__s3_not_a_request(&o, rc);
    if (!rc) {
        pthread_mutex_lock(&x.mu);
        x.done = size;
        if (x.reported < size || size == 0)
            smneo__s3_xfer_report_locked(&x, 1);
        pthread_mutex_unlock(&x.mu);
    }
    smneo__s3_xfer_destroy(&x);
    close(fd);
    smneo__s3_target_clear(&t);
    return rc;
}
