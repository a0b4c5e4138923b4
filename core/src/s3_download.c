/* core/src/s3_download.c: S3 downloads to a temporary file renamed at the end */

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

static int file_write(void *payload, const char *data, size_t n)
{
    file_sink *fk = payload;
    if (smneo__s3_xfer_stopped(fk->x))
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
    return smneo__s3_xfer_add(fk->x, n, 0);
}

/* Before each GetObject attempt. A retry after some bytes arrived resumes:
 * it asks for the rest with Range: bytes=N- (and If-Match, so an object that
 * changed meanwhile is a 412, never spliced). Without an ETag to match there
 * is nothing to resume safely: it starts over. */
typedef struct get_attempt {
    file_sink fk;
    const char *h[5];     /* If-Match, etag, Range, range, NULL */
    char range[48];
    int resumed;          /* attempts that resumed (for the log) */
} get_attempt;

static int get_attempt_rewind(void *payload, smneo_error *err)
{
    get_attempt *g = payload;
    file_sink *fk = &g->fk;
    fk->io_errno = 0;
    /* All of it arrived before the failure: a range from its end would be
     * unsatisfiable (416), so that one starts over too. */
    if (fk->written > 0 && fk->written < fk->x->total && g->h[0]) {
        snprintf(g->range, sizeof g->range, "bytes=%llu-", (unsigned long long)fk->written);
        g->h[2] = "Range";
        g->h[3] = g->range;
        g->resumed++;
        smneo_log(SMNEO_LOG_INFO, "S3 GetObject for '%s': resuming at byte %llu", fk->path,
                  (unsigned long long)fk->written);
        return 0;
    }
    g->h[2] = NULL;
    smneo__s3_xfer_add(fk->x, fk->written, 1);
    fk->written = 0;
    if (ftruncate(fk->fd, 0) != 0)
        return smneo__error(err, SMNEO_EIO, "cannot truncate '%s': %s", fk->path, strerror(errno));
    return 0;
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
    int rc = smneo__s3_check_options(&o, opts, err);
    if (rc)
        return rc;
    if (!path || !*path)
        return smneo__error(err, SMNEO_EINVAL, "smneo_s3_download: path is NULL or empty");
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return smneo__error(err, SMNEO_EINVAL, "cannot download to '%s': it is a directory; give a file path", path);
    s3_target t;
    rc = smneo__s3_target_init(&t, c, s3_uri, err);
    if (rc)
        return rc;
    smneo_s3_object obj;
    char *raw_etag = NULL;
    rc = smneo__s3_head_target(&obj, &raw_etag, &t, err);
    if (rc) {
        if (o.failed_operation)
            *o.failed_operation = "HeadObject";
        smneo__s3_not_a_request(&o, rc);
        smneo__s3_target_clear(&t);
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
    smneo__s3_xfer_init(&x, &o, obj.size);
    get_attempt g;
    memset(&g, 0, sizeof g);
    g.fk = (file_sink){fd, tmp, 0, &x, 0};
    file_sink *fk = &g.fk;
    smneo_body_sink sink = {file_write, fk};
    if (raw_etag) {
        g.h[0] = "If-Match";
        g.h[1] = raw_etag;
    }
    s3_req r;
    memset(&r, 0, sizeof r);
    r.op = "GetObject";
    r.method = "GET";
    r.headers = g.h;
    r.sink = &sink;
    r.rewind = get_attempt_rewind;
    r.rewind_payload = &g;
    r.io_errno = &fk->io_errno;
    r.io_path = tmp;
    r.io_writing = 1;
    r.x = &x;
    smneo_response *resp = NULL;
    if (smneo__s3_xfer_start(&x))
        rc = smneo__error(err, SMNEO_ECANCELLED, "cancelled by the progress callback");
    else
        rc = smneo__s3_perform(&t, &r, &resp, err);
    if (rc && o.failed_operation)
        *o.failed_operation = r.op;
    smneo__s3_not_a_request(&o, rc);
    if (rc == SMNEO_ESERVICE && err && err->http_status == 412)
        rc = smneo__error(err, SMNEO_ESERVICE, "s3://%s/%s changed while it was being downloaded: try again",
                          t.bucket, t.key);
    if (!rc && g.h[2]) {
        /* A resumed GET must answer with the rest, not the whole object. */
        const char *cr = smneo_response_header(resp, "Content-Range");
        size_t pl = strlen(g.range) - strlen("bytes=") - 1; /* "N" */
        if (resp->status != 206 || !cr || strncmp(cr, "bytes ", 6) != 0 || strncmp(cr + 6, g.range + 6, pl) != 0 ||
            cr[6 + pl] != '-')
            rc = smneo__error(err, SMNEO_EPROTOCOL, "S3 GetObject for s3://%s/%s: the resumed request (Range: %s) "
                              "was answered with HTTP %d%s%s instead of the rest of the object", t.bucket, t.key,
                              g.range, resp->status, cr ? ", Content-Range " : "", cr ? cr : "");
    }
    smneo_response_free(resp);
    if (!rc && fk->written != obj.size)
        rc = smneo__error(err, SMNEO_EPROTOCOL, "S3 GetObject for s3://%s/%s: received %llu bytes, expected %llu",
                          t.bucket, t.key, (unsigned long long)fk->written, (unsigned long long)obj.size);
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
            smneo__s3_xfer_report_locked(&x, 1);
        pthread_mutex_unlock(&x.mu);
    }
    smneo__s3_xfer_destroy(&x);
    free(dir);
    free(tmp);
out:
    free(raw_etag);
    smneo_s3_object_clear(&obj);
    smneo__s3_target_clear(&t);
    return rc;
}
