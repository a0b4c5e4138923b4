/* Reproducible model.tar.gz packing.
 *
 * The tree is scanned first (so the total for progress is known and entries
 * can be sorted), then written by libarchive in "restricted pax" form: plain
 * ustar headers, with a pax extended header only where ustar cannot hold a
 * value (long names, sizes over 8 GiB). Every variable field is fixed: mtime
 * (0 or SOURCE_DATE_EPOCH), uid/gid 0, no user/group names, mode 0644/0755,
 * no atime/ctime, no sparse entries. The tar stream goes straight into the
 * parallel gzip writer (artifact_gzip.c), which also hashes the output. */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "artifact_internal.h"
#include "options_internal.h"
#include "internal.h"

struct smneo_artifact_pack_result {
    char *path;
    uint64_t size;
    char digest[129];
};

typedef struct pentry {
    char *name; /* archive name; directories end with '/' (sort key) */
    char *src;  /* path to read */
    int dir;
    int exec;
    uint64_t size;
} pentry;

typedef struct scan {
    pentry *v;
    size_t n, cap;
    char *root_real; /* realpath of the source root (symlink containment) */
    dev_t skip_dev;  /* the destination file, when it lies inside the source */
    ino_t skip_ino;
    int skip;
    smneo_error *err;
} scan;

static int add_entry(scan *s, const char *name, const char *src, int dir, const struct stat *st)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        pentry *p = realloc(s->v, cap * sizeof *p);
        if (!p)
            return smneo__error(s->err, SMNEO_ENOMEM, "out of memory");
        s->v = p;
        s->cap = cap;
    }
    pentry *e = &s->v[s->n];
    e->name = dir ? smneo__aprintf("%s/", name) : smneo__strdup(name);
    e->src = smneo__strdup(src);
    if (!e->name || !e->src) {
        free(e->name);
        free(e->src);
        return smneo__error(s->err, SMNEO_ENOMEM, "out of memory");
    }
    e->dir = dir;
    e->exec = dir || (st->st_mode & 0111) != 0;
    e->size = dir ? 0 : (uint64_t)st->st_size;
    s->n++;
    return 0;
}

static int inside(const char *root, const char *p)
{
    size_t n = strlen(root);
    if (strcmp(root, "/") == 0)
        return 1;
    return strncmp(root, p, n) == 0 && (p[n] == 0 || p[n] == '/');
}

static int walk(scan *s, const char *src, const char *name, int depth);

/* One path: src on disk, name in the archive (never empty here). */
static int visit(scan *s, const char *src, const char *name, int depth)
{
    struct stat st;
    if (lstat(src, &st) != 0)
        return smneo__error(s->err, SMNEO_EIO, "cannot stat %s: %s", src, strerror(errno));
    if (s->skip && st.st_dev == s->skip_dev && st.st_ino == s->skip_ino)
        return 0; /* the archive being replaced */
    if (S_ISLNK(st.st_mode)) {
        char *real = realpath(src, NULL);
        if (!real) {
            char target[PATH_MAX];
            ssize_t n = readlink(src, target, sizeof target - 1);
            target[n > 0 ? n : 0] = 0;
            return smneo__error(s->err, SMNEO_EINVAL,
                                "symlink %s -> %s is dangling: fix or remove it before packing", name, target);
        }
        if (!inside(s->root_real, real)) {
            int rc = smneo__error(s->err, SMNEO_EINVAL,
                                  "symlink %s points outside the source directory (to %s): copy the file into "
                                  "the source or remove the link",
                                  name, real);
            free(real);
            return rc;
        }
        if (stat(src, &st) != 0) {
            free(real);
            return smneo__error(s->err, SMNEO_EIO, "cannot stat %s: %s", src, strerror(errno));
        }
        if (S_ISDIR(st.st_mode)) {
            /* A link to its own ancestor would recurse forever. */
            char *parent_real = realpath(src, NULL);
            char *dup = smneo__strdup(src);
            char *pr = dup ? realpath(dirname(dup), NULL) : NULL;
            int loop = pr && inside(real, pr);
            free(parent_real);
            free(pr);
            free(dup);
            if (loop) {
                int rc = smneo__error(s->err, SMNEO_EINVAL,
                                      "symlink %s points to a directory containing it (a loop): remove it", name);
                free(real);
                return rc;
            }
        }
        free(real);
    }
    if (S_ISREG(st.st_mode))
        return add_entry(s, name, src, 0, &st);
    if (S_ISDIR(st.st_mode)) {
        int rc = add_entry(s, name, src, 1, &st);
        return rc ? rc : walk(s, src, name, depth + 1);
    }
    return smneo__error(s->err, SMNEO_EINVAL,
                        "%s is a special file (device, FIFO or socket): only regular files and directories can "
                        "be packed",
                        name);
}

static int walk(scan *s, const char *src, const char *name, int depth)
{
    if (depth > 256)
        return smneo__error(s->err, SMNEO_EINVAL, "%s: directory nesting deeper than 256 levels", src);
    DIR *d = opendir(src);
    if (!d)
        return smneo__error(s->err, SMNEO_EIO, "cannot open directory %s: %s", src, strerror(errno));
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (errno = 0, de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        char *csrc = smneo__aprintf("%s/%s", src, de->d_name);
        char *cname = name ? smneo__aprintf("%s/%s", name, de->d_name) : smneo__strdup(de->d_name);
        if (!csrc || !cname)
            rc = smneo__error(s->err, SMNEO_ENOMEM, "out of memory");
        else
            rc = visit(s, csrc, cname, depth);
        free(csrc);
        free(cname);
    }
    if (rc == 0 && errno != 0)
        rc = smneo__error(s->err, SMNEO_EIO, "cannot read directory %s: %s", src, strerror(errno));
    closedir(d);
    return rc;
}

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const pentry *)a)->name, ((const pentry *)b)->name);
}

static void scan_free(scan *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->v[i].name);
        free(s->v[i].src);
    }
    free(s->v);
    free(s->root_real);
}

/* ---- writing ---- */

typedef struct wctx {
    smneo__pgz *z;
    smneo_error *err;
    int failed;
    int rc;
} wctx;

static la_ssize_t write_cb(struct archive *a, void *client, const void *buf, size_t len)
{
    wctx *w = client;
    if (w->failed)
        return -1;
    int rc = smneo__pgz_write(w->z, buf, len, w->err);
    if (rc) {
        w->failed = 1;
        w->rc = rc;
        archive_set_error(a, EIO, "compression failed");
        return -1;
    }
    return (la_ssize_t)len;
}

void smneo_artifact_pack_result_free(smneo_artifact_pack_result *r)
{
    if (!r)
        return;
    free(r->path);
    free(r);
}
const char *smneo_artifact_pack_result_path(const smneo_artifact_pack_result *r) { return r ? r->path : NULL; }
uint64_t smneo_artifact_pack_result_size(const smneo_artifact_pack_result *r) { return r ? r->size : 0; }
const char *smneo_artifact_pack_result_digest(const smneo_artifact_pack_result *r) { return r ? r->digest : NULL; }

/* Copies the caller's options (any version) into *full, which the pack then reads. */
static int resolve_options(smneo_pack_options *full, const smneo_pack_options *opts, int *level, int *threads,
                           int64_t *epoch, size_t *block, smneo_error *err)
{
    int rc = smneo__options_copy(full, opts, &smneo__pack_options_layout, err);
    if (rc)
        return rc;
    opts = full;
    *level = opts->compress_level <= 0 ? 6 : opts->compress_level;
    if (*level > 9)
        return smneo__error(err, SMNEO_EINVAL, "compress_level must be 1..9, got %d", opts->compress_level);
    *threads = opts->threads;
    if (*threads < 0)
        return smneo__error(err, SMNEO_EINVAL, "threads must be >= 0 (0: one per CPU), got %d", opts->threads);
    if (*threads == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        *threads = n < 1 ? 1 : n > 8 ? 8 : (int)n;
    }
    if (*threads > 64)
        return smneo__error(err, SMNEO_EINVAL, "threads must be at most 64, got %d", opts->threads);
    *epoch = opts->source_date_epoch;
    if (*epoch <= 0) {
        *epoch = 0;
        const char *e = smneo__getenv("SOURCE_DATE_EPOCH");
        if (e) {
            char *end;
            errno = 0;
            long long v = strtoll(e, &end, 10);
            if (errno || *end || v < 0)
                return smneo__error(err, SMNEO_EINVAL,
                                    "SOURCE_DATE_EPOCH must be a non-negative integer (seconds), got \"%s\"", e);
            *epoch = v;
        }
    }
    *block = opts->block_size ? opts->block_size : ((size_t)1 << 20);
    if (*block < 65536 || *block > ((size_t)1 << 30))
        return smneo__error(err, SMNEO_EINVAL, "block_size must be between 64 KiB and 1 GiB, got %zu",
                            opts->block_size);
    return 0;
}

static int write_entries(struct archive *a, wctx *w, scan *s, int64_t epoch, const smneo_pack_options *opts,
                         smneo_error *err)
{
    uint64_t total = 0, done = 0;
    for (size_t i = 0; i < s->n; i++)
        total += s->v[i].size;
    size_t cap = (size_t)1 << 20;
    unsigned char *buf = malloc(cap);
    struct archive_entry *e = archive_entry_new();
    int rc = 0;
    if (!buf || !e) {
        rc = smneo__error(err, SMNEO_ENOMEM, "out of memory");
        goto out;
    }
    if (opts && opts->progress && opts->progress(0, total, opts->payload)) {
        rc = smneo__error(err, SMNEO_ECANCELLED, "packing cancelled by the progress callback");
        goto out;
    }
    for (size_t i = 0; i < s->n && rc == 0; i++) {
        pentry *p = &s->v[i];
        int fd = -1;
        archive_entry_clear(e);
        if (p->dir) {
            size_t n = strlen(p->name);
            p->name[n - 1] = 0; /* libarchive adds the '/' itself */
            archive_entry_set_pathname(e, p->name);
            p->name[n - 1] = '/';
            archive_entry_set_filetype(e, AE_IFDIR);
            archive_entry_set_perm(e, 0755);
        } else {
            /* O_NONBLOCK: if the file was replaced by a FIFO since the scan,
             * open must not hang; the fstat below refuses it. */
            fd = open(p->src, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
            if (fd < 0) {
                rc = smneo__error(err, SMNEO_EIO, "cannot open %s: %s", p->src, strerror(errno));
                break;
            }
            struct stat fst;
            if (fstat(fd, &fst) != 0 || !S_ISREG(fst.st_mode)) {
                close(fd);
                rc = smneo__error(err, SMNEO_EIO, "%s is no longer a regular file: pack again", p->src);
                break;
            }
#ifdef POSIX_FADV_SEQUENTIAL
            posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
            archive_entry_set_pathname(e, p->name);
            archive_entry_set_filetype(e, AE_IFREG);
            archive_entry_set_perm(e, p->exec ? 0755 : 0644);
            archive_entry_set_size(e, (la_int64_t)p->size);
        }
        archive_entry_set_mtime(e, (time_t)epoch, 0);
        archive_entry_set_uid(e, 0);
        archive_entry_set_gid(e, 0);
        if (archive_write_header(a, e) < ARCHIVE_WARN) {
            rc = w->rc ? w->rc
                       : smneo__error(err, SMNEO_EIO, "cannot write the tar header for %s: %s", p->name,
                                      archive_error_string(a));
            if (fd >= 0)
                close(fd);
            break;
        }
        uint64_t left = p->size;
        while (fd >= 0 && left) {
            size_t want = left < cap ? (size_t)left : cap;
            ssize_t n = read(fd, buf, want);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                rc = n < 0 ? smneo__error(err, SMNEO_EIO, "cannot read %s: %s", p->src, strerror(errno))
                           : smneo__error(err, SMNEO_EIO, "%s shrank while it was being packed: pack again",
                                          p->src);
                break;
            }
            if (archive_write_data(a, buf, (size_t)n) != n) {
                rc = w->rc ? w->rc
                           : smneo__error(err, SMNEO_EIO, "cannot write %s into the archive: %s", p->name,
                                          archive_error_string(a));
                break;
            }
            left -= (uint64_t)n;
            done += (uint64_t)n;
            if (opts && opts->progress && opts->progress(done, total, opts->payload)) {
                rc = smneo__error(err, SMNEO_ECANCELLED, "packing cancelled by the progress callback");
                break;
            }
        }
        if (fd >= 0 && rc == 0) {
            /* Grown since the scan? The header already holds the old size. */
            char one;
            ssize_t n = read(fd, &one, 1);
            if (n > 0)
                rc = smneo__error(err, SMNEO_EIO, "%s grew while it was being packed: pack again", p->src);
        }
        if (fd >= 0)
            close(fd);
    }
out:
    free(buf);
    archive_entry_free(e);
    return rc;
}

static int fsync_dir_of(const char *path)
{
    char *dup = smneo__strdup(path);
    if (!dup)
        return -1;
    int fd = open(dirname(dup), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(dup);
    if (fd < 0)
        return -1;
    int r = fsync(fd);
    close(fd);
    return r;
}

/* Writes the scanned entries to dest via a temporary file. */
static int pack_scanned(smneo_artifact_pack_result **out, scan *s, const char *dest, const smneo_pack_options *opts,
                        int level, int threads, int64_t epoch, size_t block, smneo_error *err)
{
    qsort(s->v, s->n, sizeof *s->v, cmp_entry);
    for (size_t i = 1; i < s->n; i++)
        if (strcmp(s->v[i - 1].name, s->v[i].name) == 0)
            return smneo__error(err, SMNEO_EINVAL, "%s is listed twice: give each path once", s->v[i].name);

    char *dup = smneo__strdup(dest);
    char *dup2 = smneo__strdup(dest);
    char *tmp = dup && dup2 ? smneo__aprintf("%s/.%s.smneo-XXXXXX", dirname(dup), basename(dup2)) : NULL;
    free(dup);
    free(dup2);
    if (!tmp)
        return smneo__error(err, SMNEO_ENOMEM, "out of memory");
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        int rc = smneo__error(err, SMNEO_EIO, "cannot create a temporary file beside %s: %s", dest, strerror(errno));
        free(tmp);
        return rc;
    }
    fchmod(fd, 0644);
    smneo_artifact_pack_result *res = calloc(1, sizeof *res);
    wctx w = {NULL, err, 0, 0};
    struct archive *a = NULL;
    int rc = res ? 0 : smneo__error(err, SMNEO_ENOMEM, "out of memory");
    if (!rc)
        rc = smneo__pgz_new(&w.z, fd, level, threads, block, err);
    if (!rc) {
        a = archive_write_new();
        if (!a || archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
            archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK ||
            archive_write_open2(a, &w, NULL, write_cb, NULL, NULL) != ARCHIVE_OK)
            rc = smneo__error(err, SMNEO_ERROR, "cannot set up the tar writer: %s",
                              a ? archive_error_string(a) : "out of memory");
    }
    if (!rc)
        rc = write_entries(a, &w, s, epoch, opts, err);
    if (!rc && archive_write_close(a) != ARCHIVE_OK)
        rc = w.rc ? w.rc : smneo__error(err, SMNEO_EIO, "cannot finish the tar stream: %s", archive_error_string(a));
    if (a) {
        w.failed = 1; /* nothing more may reach the compressor */
        archive_write_free(a);
    }
    if (!rc)
        rc = smneo__pgz_finish(w.z, &res->size, res->digest, err);
    smneo__pgz_free(w.z);
    if (!rc && fsync(fd) != 0)
        rc = smneo__error(err, SMNEO_EIO, "cannot sync %s: %s", tmp, strerror(errno));
    if (close(fd) != 0 && !rc)
        rc = smneo__error(err, SMNEO_EIO, "cannot write %s: %s", tmp, strerror(errno));
    if (!rc && rename(tmp, dest) != 0)
        rc = smneo__error(err, SMNEO_EIO, "cannot rename the archive to %s: %s", dest, strerror(errno));
    if (rc) {
        unlink(tmp);
        free(tmp);
        smneo_artifact_pack_result_free(res);
        return rc;
    }
    fsync_dir_of(dest);
    free(tmp);
    res->path = smneo__strdup(dest);
    if (!res->path) {
        smneo_artifact_pack_result_free(res);
        return smneo__error(err, SMNEO_ENOMEM, "out of memory");
    }
    *out = res;
    return 0;
}

static int scan_init(scan *s, const char *root, const char *dest, smneo_error *err)
{
    memset(s, 0, sizeof *s);
    s->err = err;
    s->root_real = realpath(root, NULL);
    if (!s->root_real)
        return smneo__error(err, errno == ENOENT ? SMNEO_EINVAL : SMNEO_EIO, "cannot resolve %s: %s", root,
                            strerror(errno));
    struct stat st;
    if (stat(dest, &st) == 0) {
        s->skip = 1;
        s->skip_dev = st.st_dev;
        s->skip_ino = st.st_ino;
    }
    return 0;
}

int smneo_artifact_pack(smneo_artifact_pack_result **out, const char *source, const char *dest,
                        const smneo_pack_options *opts, smneo_error *err)
{
    if (!out || !source || !dest)
        return smneo__error(err, SMNEO_EINVAL, "out, source and dest are required");
    *out = NULL;
    int level = 0, threads = 0;
    int64_t epoch = 0;
    size_t block = 0;
    smneo_pack_options full;
    int rc = resolve_options(&full, opts, &level, &threads, &epoch, &block, err);
    if (rc)
        return rc;
    opts = &full;
    struct stat st;
    if (stat(source, &st) != 0 || !S_ISDIR(st.st_mode))
        return smneo__error(err, SMNEO_EINVAL, "source %s is not a directory: give the model directory", source);
    if (stat(dest, &st) == 0 && S_ISDIR(st.st_mode))
        return smneo__error(err, SMNEO_EINVAL, "dest %s is a directory: give the archive's file name, e.g. %s/model.tar.gz",
                            dest, dest);
    scan s;
    rc = scan_init(&s, source, dest, err);
    if (!rc)
        rc = walk(&s, source, NULL, 0);
    if (!rc)
        rc = pack_scanned(out, &s, dest, opts, level, threads, epoch, block, err);
    scan_free(&s);
    return rc;
}

int smneo_artifact_pack_files(smneo_artifact_pack_result **out, const char *base_dir, const char *const *paths,
                              size_t npaths, const char *dest, const smneo_pack_options *opts, smneo_error *err)
{
    if (!out || !dest || (!paths && npaths))
        return smneo__error(err, SMNEO_EINVAL, "out, paths and dest are required");
    *out = NULL;
    if (!base_dir)
        base_dir = ".";
    int level = 0, threads = 0;
    int64_t epoch = 0;
    size_t block = 0;
    smneo_pack_options full;
    int rc = resolve_options(&full, opts, &level, &threads, &epoch, &block, err);
    if (rc)
        return rc;
    opts = &full;
    for (size_t i = 0; i < npaths; i++) {
        if (!paths[i] || smneo__path_unsafe(paths[i]))
            return smneo__error(err, SMNEO_EINVAL,
                                "paths[%zu] \"%s\" must be relative to base_dir without \"..\" components", i,
                                paths[i] ? paths[i] : "(null)");
    }
    struct stat dst;
    if (stat(dest, &dst) == 0 && S_ISDIR(dst.st_mode))
        return smneo__error(err, SMNEO_EINVAL, "dest %s is a directory: give the archive's file name, e.g. %s/model.tar.gz",
                            dest, dest);
    scan s;
    rc = scan_init(&s, base_dir, dest, err);
    for (size_t i = 0; rc == 0 && i < npaths; i++) {
        /* Normalise "./a//b/" to "a/b". */
        smneo_buf nb = SMNEO_BUF_INIT;
        const char *p = paths[i];
        while (*p) {
            const char *e = strchr(p, '/');
            size_t n = e ? (size_t)(e - p) : strlen(p);
            if (n && !(n == 1 && p[0] == '.')) {
                if (nb.len)
                    smneo__buf_putc(&nb, '/');
                smneo__buf_append(&nb, p, n);
            }
            p += n + (e ? 1 : 0);
        }
        char *name = smneo__buf_detach(&nb, NULL);
        if (!name || !*name) {
            free(name);
            rc = smneo__error(err, SMNEO_EINVAL, "paths[%zu] \"%s\" names no file", i, paths[i]);
            break;
        }
        char *src = smneo__aprintf("%s/%s", base_dir, name);
        rc = src ? visit(&s, src, name, 0) : smneo__error(err, SMNEO_ENOMEM, "out of memory");
        free(src);
        free(name);
    }
    if (!rc)
        rc = pack_scanned(out, &s, dest, opts, level, threads, epoch, block, err);
    scan_free(&s);
    return rc;
}
