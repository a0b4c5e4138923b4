/* Reading a (gzip-compressed) tar: our own inflate loop feeds libarchive's tar
 * reader, so we can count gzip members, tell truncation from corruption,
 * measure the compression ratio as we go (gzip bombs) and report progress. */
#include <archive.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "artifact_internal.h"
#include "internal.h"

#define INBUF (256u * 1024u)
#define OUTBUF (256u * 1024u)

int smneo__path_unsafe(const char *name)
{
    if (!name || !*name || name[0] == '/')
        return 1;
    const char *p = name;
    while (*p) {
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return 1;
        if (!e)
            break;
        p = e + 1;
    }
    return 0;
}

/* Reads more of the file, keeping unread input. Returns -1 on I/O error. */
static int fill(smneo__areader *r)
{
    z_stream *z = r->z;
    if (r->eof)
        return 0;
    if (z->avail_in && z->next_in != r->inbuf)
        memmove(r->inbuf, z->next_in, z->avail_in);
    z->next_in = r->inbuf;
    if (z->avail_in == INBUF)
        return 0;
    for (;;) {
        ssize_t n = read(r->fd, r->inbuf + z->avail_in, INBUF - z->avail_in);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            r->io_errno = errno;
            return -1;
        }
        if (n == 0)
            r->eof = 1;
        z->avail_in += (uInt)n;
        r->in_bytes += (uint64_t)n; /* counts read; unread input subtracted in stats */
        return 0;
    }
}

const char *smneo__path_problem(const char *name)
{
    if (!name || !*name)
        return "an empty name";
    return name[0] == '/' ? "an absolute path" : "a \"..\" component";
}

int smneo__areader_count_bytes(uint64_t *total, uint64_t size, uint64_t max_bytes, const char *name,
                               smneo_error *err)
{
    if (size > max_bytes || *total + size > max_bytes)
        return smneo__error(err, SMNEO_EUNSAFE,
                            "refused: entry %s (%llu bytes) takes the total over max_bytes (%llu); raise max_bytes "
                            "if the archive is trusted",
                            name, (unsigned long long)size, (unsigned long long)max_bytes);
    *total += size;
    return 0;
}

static uint64_t consumed(const smneo__areader *r)
{
    const z_stream *z = r->z;
    return r->in_bytes - z->avail_in;
}

static int check_progress(smneo__areader *r, struct archive *a)
{
    uint64_t in = consumed(r);
    if (r->max_out && r->out_bytes > r->max_out) {
        r->bytes_hit = 1;
        archive_set_error(a, EFBIG, "more data than max_bytes");
        return -1;
    }
    if (r->max_ratio > 0 && r->out_bytes > SMNEO_ARTIFACT_RATIO_GRACE_BYTES &&
        (double)r->out_bytes > r->max_ratio * (double)(in ? in : 1)) {
        r->ratio_hit = 1;
        archive_set_error(a, ERANGE, "compression ratio over the limit");
        return -1;
    }
    if (r->progress && r->progress(in, r->file_size, r->payload)) {
        r->cancelled = 1;
        archive_set_error(a, ECANCELED, "cancelled");
        return -1;
    }
    return 0;
}

static la_ssize_t read_cb(struct archive *a, void *client, const void **buff)
{
    smneo__areader *r = client;
    z_stream *z = r->z;
    *buff = r->outbuf;
    r->last_len = 0;
    if (r->end)
        return 0;
    if (!r->gzip) {
        if (z->avail_in == 0 && fill(r) < 0) {
            archive_set_error(a, r->io_errno, "read error");
            return -1;
        }
        if (z->avail_in == 0) {
            r->end = 1;
            return 0;
        }
        size_t n = z->avail_in < OUTBUF ? z->avail_in : OUTBUF;
        memcpy(r->outbuf, z->next_in, n);
        z->next_in += n;
        z->avail_in -= (uInt)n;
        r->out_bytes += n;
        r->last_len = n;
        if (check_progress(r, a))
            return -1;
        return (la_ssize_t)n;
    }
    z->next_out = r->outbuf;
    z->avail_out = OUTBUF;
    while (z->avail_out == OUTBUF) {
        if (z->avail_in == 0) {
            if (fill(r) < 0) {
                archive_set_error(a, r->io_errno, "read error");
                return -1;
            }
            if (z->avail_in == 0 && r->eof) {
                r->truncated = 1;
                archive_set_error(a, EIO, "truncated gzip stream");
                return -1;
            }
        }
        int rc = inflate(z, Z_NO_FLUSH);
        if (rc == Z_STREAM_END) {
            /* Another member follows? Need two bytes to tell. */
            if (z->avail_in < 2 && fill(r) < 0) {
                archive_set_error(a, r->io_errno, "read error");
                return -1;
            }
            if (z->avail_in == 0) {
                r->end = 1;
                break;
            }
            if (z->avail_in >= 2 && z->next_in[0] == 0x1f && z->next_in[1] == 0x8b) {
                r->members++;
                inflateReset(z);
                continue;
            }
            r->trailing_garbage = 1;
            r->end = 1;
            break;
        }
        if (rc == Z_BUF_ERROR && z->avail_in == 0)
            continue; /* needs more input */
        if (rc != Z_OK) {
            r->corrupt = 1;
            snprintf(r->zmsg, sizeof r->zmsg, "%s", z->msg ? z->msg : "inflate failed");
            archive_set_error(a, EIO, "corrupt gzip stream: %s", r->zmsg);
            return -1;
        }
    }
    size_t n = OUTBUF - z->avail_out;
    r->out_bytes += n;
    r->last_len = n;
    if (check_progress(r, a))
        return -1;
    return (la_ssize_t)n;
}

int smneo__areader_open(smneo__areader *r, const char *path, smneo_error *err)
{
    r->path = path;
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0)
        return smneo__error(err, errno == ENOENT ? SMNEO_EIO : SMNEO_EIO, "cannot open %s: %s", path,
                            strerror(errno));
    struct stat st;
    if (fstat(r->fd, &st) == 0)
        r->file_size = (uint64_t)st.st_size;
    r->z = calloc(1, sizeof(z_stream));
    r->inbuf = malloc(INBUF);
    r->outbuf = malloc(OUTBUF);
    if (!r->z || !r->inbuf || !r->outbuf)
        return smneo__error(err, SMNEO_ENOMEM, "out of memory");
    z_stream *z = r->z;
    z->next_in = r->inbuf;
    if (fill(r) < 0)
        return smneo__error(err, SMNEO_EIO, "cannot read %s: %s", path, strerror(r->io_errno));
    while (z->avail_in < 2 && !r->eof)
        if (fill(r) < 0)
            return smneo__error(err, SMNEO_EIO, "cannot read %s: %s", path, strerror(r->io_errno));
    if (z->avail_in >= 2 && z->next_in[0] == 0x1f && z->next_in[1] == 0x8b) {
        r->gzip = 1;
        r->members = 1;
        if (inflateInit2(z, 16 + 15) != Z_OK)
            return smneo__error(err, SMNEO_ENOMEM, "cannot initialise zlib");
    }
    r->a = archive_read_new();
    if (!r->a)
        return smneo__error(err, SMNEO_ENOMEM, "out of memory");
    archive_read_support_format_tar(r->a);
    if (archive_read_open(r->a, r, NULL, read_cb, NULL) != ARCHIVE_OK)
        return smneo__areader_fail(r, err, "cannot read the archive");
    return 0;
}

int smneo__areader_fail(smneo__areader *r, smneo_error *err, const char *what)
{
    if (r->cancelled)
        return smneo__error(err, SMNEO_ECANCELLED, "%s: cancelled by the progress callback", r->path);
    if (r->ratio_hit)
        return smneo__error(err, SMNEO_EUNSAFE,
                            "%s: refused: compression ratio over %.0f (%llu bytes from %llu): a gzip bomb? "
                            "Raise max_ratio if the archive is trusted",
                            r->path, r->max_ratio, (unsigned long long)r->out_bytes,
                            (unsigned long long)consumed(r));
    if (r->bytes_hit)
        return smneo__error(err, SMNEO_EUNSAFE,
                            "%s: refused: more than max_bytes (%llu) of data, counting what follows the end of the "
                            "tar archive; raise max_bytes if the archive is trusted",
                            r->path, (unsigned long long)r->max_bytes);
    if (r->io_errno)
        return smneo__error(err, SMNEO_EIO, "cannot read %s: %s", r->path, strerror(r->io_errno));
    if (r->truncated)
        return smneo__error(err, SMNEO_EARCHIVE, "%s: truncated: the gzip stream ends early (%llu bytes read); "
                            "download or copy the archive again", r->path, (unsigned long long)r->file_size);
    if (r->corrupt)
        return smneo__error(err, SMNEO_EARCHIVE, "%s: corrupt gzip data (%s)", r->path, r->zmsg);
    const char *m = r->a ? archive_error_string(r->a) : NULL;
    return smneo__error(err, SMNEO_EARCHIVE, "%s: %s: %s%s", r->path, what, m ? m : "not a tar archive",
                        r->gzip ? "" : " (the file is not gzip-compressed either)");
}

int smneo__areader_drain(smneo__areader *r, int *nonzero, smneo_error *err)
{
    *nonzero = 0;
    /* Bytes libarchive took from our last chunk but did not consume. */
    uint64_t used = (uint64_t)archive_filter_bytes(r->a, 0);
    if (used < r->out_bytes) {
        uint64_t rest = r->out_bytes - used;
        if (rest <= r->last_len) {
            for (size_t i = r->last_len - (size_t)rest; i < r->last_len; i++)
                if (r->outbuf[i]) {
                    *nonzero = 1;
                    break;
                }
        }
    }
    for (;;) {
        const void *b;
        la_ssize_t n = read_cb(r->a, r, &b);
        if (n < 0)
            return smneo__areader_fail(r, err, "cannot read the archive");
        if (n == 0)
            return 0;
        const unsigned char *p = b;
        for (la_ssize_t i = 0; i < n && !*nonzero; i++)
            if (p[i])
                *nonzero = 1;
    }
}

void smneo__areader_close(smneo__areader *r)
{
    if (r->a)
        archive_read_free(r->a);
    r->a = NULL;
    if (r->z) {
        if (r->gzip)
            inflateEnd(r->z);
        free(r->z);
        r->z = NULL;
    }
    free(r->inbuf);
    free(r->outbuf);
    r->inbuf = r->outbuf = NULL;
    if (r->fd >= 0)
        close(r->fd);
    r->fd = -1;
}
