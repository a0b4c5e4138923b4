/* Artifact tests: pack / inspect / extract / digest / verify, cross-checked
 * with GNU tar, gzip, b2sum and Python's hashlib. Archives are generated at
 * run time in a temporary directory. SMNEO_SLOW_TESTS=1 adds the >8 GiB
 * sparse-file pack (pax size header). */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <libdeflate.h>

#include "harness.h"
#include "smneo.h"

static char *T; /* the test's temporary directory */

static char *P(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *P(const char *fmt, ...)
{
    static char bufs[8][4096];
    static int k;
    char rel[3000];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rel, sizeof rel, fmt, ap);
    va_end(ap);
    char *b = bufs[k++ % 8];
    snprintf(b, 4096, "%s/%s", T, rel);
    return b;
}

static void write_bytes(const char *path, const void *data, size_t len)
{
    char dir[4096];
    int n = snprintf(dir, sizeof dir, "mkdir -p \"$(dirname '%s')\"", path);
    if (n < 0 || (size_t)n >= sizeof dir || system(dir) != 0)
        abort();
    if (smneo_test_write_file(path, data, len) != 0)
        abort();
}
static void write_str(const char *path, const char *s) { write_bytes(path, s, strlen(s)); }

static void write_random(const char *path, size_t len, unsigned seed)
{
    unsigned char *b = malloc(len);
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        b[i] = (unsigned char)(i % 7 == 0 ? 0 : x); /* compressible a little */
    }
    write_bytes(path, b, len);
    free(b);
}

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int r = system(cmd);
    return r == -1 ? -1 : WEXITSTATUS(r);
}

/* Output of a shell command (first line, trimmed). Static buffer. */
static const char *sh_out(const char *cmd)
{
    static char out[8192];
    out[0] = 0;
    FILE *f = popen(cmd, "r");
    if (!f)
        return out;
    size_t n = fread(out, 1, sizeof out - 1, f);
    out[n] = 0;
    pclose(f);
    char *nl = strchr(out, '\n');
    if (nl)
        *nl = 0;
    return out;
}

static int files_equal(const char *a, const char *b) { return sh("cmp -s '%s' '%s'", a, b) == 0; }

static int exists(const char *p)
{
    struct stat st;
    return lstat(p, &st) == 0;
}

/* Number of entries in a directory (excluding . and ..). */
static int count_dir(const char *p)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "ls -A '%s' | wc -l", p);
    return atoi(sh_out(cmd));
}

static int has_issue(const smneo_artifact_inspection *in, const char *rule, const char *path)
{
    const smneo_issues *is = smneo_artifact_inspection_issues(in);
    for (size_t i = 0; i < smneo_issues_count(is); i++) {
        const smneo_issue *x = smneo_issues_at(is, i);
        if (strcmp(x->rule, rule) == 0 && (!path || strcmp(x->path, path) == 0))
            return 1;
    }
    return 0;
}

static void dump_issues(const smneo_artifact_inspection *in)
{
    const smneo_issues *is = smneo_artifact_inspection_issues(in);
    for (size_t i = 0; i < smneo_issues_count(is); i++) {
        const smneo_issue *x = smneo_issues_at(is, i);
        fprintf(stderr, "  issue %s %s [%s] %s\n", x->severity ? "warning" : "error", x->rule, x->path, x->message);
    }
}

static int pack_dir(const char *src, const char *dest, int threads, smneo_error *err)
{
    smneo_pack_options o = SMNEO_PACK_OPTIONS_INIT;
    o.threads = threads;
    o.source_date_epoch = 0;
    smneo_artifact_pack_result *r = NULL;
    int rc = smneo_artifact_pack(&r, src, dest, &o, err);
    smneo_artifact_pack_result_free(r);
    return rc;
}

/* ---- crafted archives (libarchive writer) ---- */
typedef struct craft {
    const char *name;
    unsigned type; /* AE_IF* */
    const char *data;
    const char *link; /* symlink target */
    const char *hardlink;
    size_t zeros; /* for big zero files */
} craft;

static void make_archive(const char *path, const craft *c, size_t n, int gzip, int zip)
{
    struct archive *a = archive_write_new();
    if (zip) {
        archive_write_set_format_zip(a);
        archive_write_set_options(a, "zip:compression=store");
    } else {
        archive_write_set_format_pax_restricted(a);
    }
    if (gzip) {
        archive_write_add_filter_gzip(a);
        archive_write_set_filter_option(a, "gzip", "compression-level", "9");
    }
    if (archive_write_open_filename(a, path) != ARCHIVE_OK)
        abort();
    static char zbuf[1 << 16];
    for (size_t i = 0; i < n; i++) {
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, c[i].name);
        archive_entry_set_filetype(e, c[i].type);
        archive_entry_set_perm(e, 0644);
        if (c[i].link)
            archive_entry_set_symlink(e, c[i].link);
        if (c[i].hardlink)
            archive_entry_set_hardlink(e, c[i].hardlink);
        if (c[i].type == AE_IFCHR)
            archive_entry_set_rdev(e, 0x0103);
        size_t sz = c[i].data ? strlen(c[i].data) : c[i].zeros;
        if (c[i].type == AE_IFREG && !c[i].hardlink)
            archive_entry_set_size(e, (la_int64_t)sz);
        archive_write_header(a, e);
        if (c[i].data)
            archive_write_data(a, c[i].data, sz);
        for (size_t k = 0; k < c[i].zeros; k += sizeof zbuf)
            archive_write_data(a, zbuf, c[i].zeros - k < sizeof zbuf ? c[i].zeros - k : sizeof zbuf);
        archive_entry_free(e);
    }
    archive_write_close(a);
    archive_write_free(a);
}

/* ---- tests ---- */

static void make_tree(const char *root)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/a.txt", root);
    write_str(p, "hello\n");
    snprintf(p, sizeof p, "%s/code/inference.py", root);
    write_str(p, "def model_fn(d):\n    return None\n");
    snprintf(p, sizeof p, "%s/code/run.sh", root);
    write_str(p, "#!/bin/sh\necho run\n");
    chmod(p, 0700);
    snprintf(p, sizeof p, "%s/weights/big.bin", root);
    write_random(p, 3 * 1024 * 1024 + 123, 7);
    snprintf(p, sizeof p, "mkdir -p '%s/empty' && ln -s ../a.txt '%s/code/link.txt'", root, root);
    if (sh("%s", p) != 0)
        abort();
}

static void test_roundtrip(void)
{
    make_tree(P("rt/src"));
    smneo_pack_options o = SMNEO_PACK_OPTIONS_INIT;
    o.threads = 2;
    smneo_error err = SMNEO_ERROR_INIT;
    smneo_artifact_pack_result *r = NULL;
    int rc = smneo_artifact_pack(&r, P("rt/src"), P("rt/model.tar.gz"), &o, &err);
    CHECK_MSG(rc == 0, "pack: %s", err.message);
    if (rc)
        return;
    CHECK_STR(smneo_artifact_pack_result_path(r), P("rt/model.tar.gz"));
    struct stat st;
    stat(P("rt/model.tar.gz"), &st);
    CHECK_INT(smneo_artifact_pack_result_size(r), st.st_size);
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "b2sum '%s' | cut -d' ' -f1", P("rt/model.tar.gz"));
    CHECK_STR(smneo_artifact_pack_result_digest(r), sh_out(cmd));
    smneo_artifact_pack_result_free(r);

    CHECK_INT(sh("gzip -t '%s'", P("rt/model.tar.gz")), 0);
    snprintf(cmd, sizeof cmd, "tar -tzf '%s' | tr '\\n' ' '", P("rt/model.tar.gz"));
    CHECK_STR(sh_out(cmd), "a.txt code/ code/inference.py code/link.txt code/run.sh empty/ weights/ weights/big.bin ");
    snprintf(cmd, sizeof cmd, "tar -tvzf '%s' | awk '{print $1, $2}' | sort | uniq -c | tr -s ' \\n' ' '",
             P("rt/model.tar.gz"));
    CHECK_STR(sh_out(cmd), " 4 -rw-r--r-- 0/0 1 -rwxr-xr-x 0/0 3 drwxr-xr-x 0/0 ");
    /* Python's tarfile reads it too. */
    CHECK_INT(sh("python3 -c 'import sys,tarfile; t=tarfile.open(sys.argv[1]); sys.exit(len(t.getnames())!=8)' '%s'",
                 P("rt/model.tar.gz")), 0);

    /* GNU tar extracts the same bytes; so do we. */
    sh("mkdir -p '%s' && tar -xzf '%s' -C '%s'", P("rt/gnu"), P("rt/model.tar.gz"), P("rt/gnu"));
    rc = smneo_artifact_extract(P("rt/model.tar.gz"), P("rt/ours"), NULL, &err);
    CHECK_MSG(rc == 0, "extract: %s", err.message);
    CHECK_INT(sh("diff -r '%s' '%s' >/dev/null", P("rt/gnu"), P("rt/ours")), 0);
    CHECK(files_equal(P("rt/src/weights/big.bin"), P("rt/ours/weights/big.bin")));
    CHECK(files_equal(P("rt/src/a.txt"), P("rt/ours/code/link.txt"))); /* link stored as a file */
    CHECK(exists(P("rt/ours/empty")));
    CHECK(access(P("rt/ours/code/run.sh"), X_OK) == 0);
    /* No temporary left beside the destination or the archive. */
    CHECK_INT(count_dir(P("rt")), 4);

    smneo_artifact_inspection *in = NULL;
    rc = smneo_artifact_inspect(&in, P("rt/model.tar.gz"), NULL, &err);
    CHECK_MSG(rc == 0, "inspect: %s", err.message);
    if (!rc) {
        CHECK_INT(smneo_artifact_inspection_member_count(in), 8);
        CHECK_INT(smneo_artifact_inspection_single_gzip_member(in), 1);
        CHECK_INT(smneo_issues_count(smneo_artifact_inspection_issues(in)), 0);
        const smneo_artifact_member *m = smneo_artifact_inspection_member_at(in, 7);
        CHECK_STR(m->name, "weights/big.bin");
        CHECK_INT(m->size, 3 * 1024 * 1024 + 123);
        CHECK_STR(smneo_member_type_name(m->type), "file");
        CHECK_STR(smneo_member_type_name(smneo_artifact_inspection_member_at(in, 1)->type), "directory");
        CHECK(smneo_artifact_inspection_member_at(in, 8) == NULL);
    }
    smneo_artifact_inspection_free(in);

    /* pack_files: a list relative to a base directory. */
    const char *paths[] = {"./weights//", "a.txt"};
    rc = smneo_artifact_pack_files(&r, P("rt/src"), paths, 2, P("rt/list.tar.gz"), &o, &err);
    CHECK_MSG(rc == 0, "pack_files: %s", err.message);
    smneo_artifact_pack_result_free(r);
    snprintf(cmd, sizeof cmd, "tar -tzf '%s' | tr '\\n' ' '", P("rt/list.tar.gz"));
    CHECK_STR(sh_out(cmd), "a.txt weights/ weights/big.bin ");
    const char *bad[] = {"../rt/src/a.txt"};
    r = NULL;
    CHECK_INT(smneo_artifact_pack_files(&r, P("rt/src"), bad, 1, P("rt/bad.tar.gz"), &o, &err), SMNEO_EINVAL);
    CHECK(r == NULL);
    CHECK(!exists(P("rt/bad.tar.gz")));
    smneo_error_clear(&err);
}

static void set_times(const char *root, time_t t)
{
    sh("find '%s' -exec touch -h -d @%ld {} +", root, (long)t);
}

static void test_reproducible(void)
{
    make_tree(P("rep/src"));
    smneo_error err = SMNEO_ERROR_INIT;
    set_times(P("rep/src"), 1000000000);
    CHECK_INT(pack_dir(P("rep/src"), P("rep/one.tar.gz"), 2, &err), 0);
    set_times(P("rep/src"), 1700000000);
    chmod(P("rep/src/a.txt"), 0600);
    CHECK_INT(pack_dir(P("rep/src"), P("rep/two.tar.gz"), 2, &err), 0);
    CHECK(files_equal(P("rep/one.tar.gz"), P("rep/two.tar.gz")));
    CHECK_INT(pack_dir(P("rep/src"), P("rep/t1.tar.gz"), 1, &err), 0);
    CHECK_INT(pack_dir(P("rep/src"), P("rep/t3.tar.gz"), 3, &err), 0);
    CHECK(files_equal(P("rep/one.tar.gz"), P("rep/t1.tar.gz")));
    CHECK(files_equal(P("rep/one.tar.gz"), P("rep/t3.tar.gz")));
    /* Small blocks: many blocks, still identical across thread counts. */
    smneo_pack_options o = SMNEO_PACK_OPTIONS_INIT;
    o.block_size = 65536;
    o.threads = 1;
    smneo_artifact_pack_result *r = NULL;
    CHECK_INT(smneo_artifact_pack(&r, P("rep/src"), P("rep/s1.tar.gz"), &o, &err), 0);
    smneo_artifact_pack_result_free(r);
    o.threads = 4;
    CHECK_INT(smneo_artifact_pack(&r, P("rep/src"), P("rep/s4.tar.gz"), &o, &err), 0);
    smneo_artifact_pack_result_free(r);
    CHECK(files_equal(P("rep/s1.tar.gz"), P("rep/s4.tar.gz")));
    CHECK_INT(sh("gzip -t '%s'", P("rep/s4.tar.gz")), 0);
    CHECK_INT(sh("tar -xzf '%s' -O weights/big.bin | cmp -s - '%s'", P("rep/s4.tar.gz"), P("rep/src/weights/big.bin")),
              0);

    /* gzip header: MTIME 0, no name (FLG 0), OS 255. */
    size_t n = 0;
    unsigned char *g = (unsigned char *)smneo_test_read_file(P("rep/one.tar.gz"), &n);
    CHECK(n > 18 && g[0] == 0x1f && g[1] == 0x8b && g[2] == 8 && g[3] == 0);
    CHECK(n > 18 && g[4] == 0 && g[5] == 0 && g[6] == 0 && g[7] == 0 && g[9] == 255);
    free(g);
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "tar --full-time -tvzf '%s' a.txt | awk '{print $4, $5}'", P("rep/one.tar.gz"));
    CHECK_STR(sh_out(cmd), "1970-01-01 00:00:00");

    /* SOURCE_DATE_EPOCH: option, then environment. */
    o = (smneo_pack_options)SMNEO_PACK_OPTIONS_INIT;
    o.source_date_epoch = 86400;
    CHECK_INT(smneo_artifact_pack(&r, P("rep/src"), P("rep/e.tar.gz"), &o, &err), 0);
    smneo_artifact_pack_result_free(r);
    snprintf(cmd, sizeof cmd, "TZ=UTC tar --full-time -tvzf '%s' a.txt | awk '{print $4, $5}'", P("rep/e.tar.gz"));
    CHECK_STR(sh_out(cmd), "1970-01-02 00:00:00");
    o.source_date_epoch = -1;
    setenv("SOURCE_DATE_EPOCH", "172800", 1);
    CHECK_INT(smneo_artifact_pack(&r, P("rep/src"), P("rep/e2.tar.gz"), &o, &err), 0);
    smneo_artifact_pack_result_free(r);
    snprintf(cmd, sizeof cmd, "TZ=UTC tar --full-time -tvzf '%s' a.txt | awk '{print $4, $5}'", P("rep/e2.tar.gz"));
    CHECK_STR(sh_out(cmd), "1970-01-03 00:00:00");
    setenv("SOURCE_DATE_EPOCH", "yesterday", 1);
    r = NULL;
    CHECK_INT(smneo_artifact_pack(&r, P("rep/src"), P("rep/e3.tar.gz"), &o, &err), SMNEO_EINVAL);
    CHECK(err.message && strstr(err.message, "SOURCE_DATE_EPOCH"));
    unsetenv("SOURCE_DATE_EPOCH");

    /* Bad options. */
    o = (smneo_pack_options)SMNEO_PACK_OPTIONS_INIT;
    o.compress_level = 10;
    CHECK_INT(smneo_artifact_pack(&r, P("rep/src"), P("rep/x.tar.gz"), &o, &err), SMNEO_EINVAL);
    o = (smneo_pack_options)SMNEO_PACK_OPTIONS_INIT;
    o.version = 99;
    CHECK_INT(smneo_artifact_pack(&r, P("rep/src"), P("rep/x.tar.gz"), &o, &err), SMNEO_EINVAL);
    CHECK_INT(smneo_artifact_pack(&r, P("rep/nonexistent"), P("rep/x.tar.gz"), NULL, &err), SMNEO_EINVAL);
    CHECK_INT(smneo_artifact_pack(&r, P("rep/src"), P("rep/src/code"), NULL, &err), SMNEO_EINVAL);
    CHECK(err.message && strstr(err.message, "is a directory"));
    CHECK(!exists(P("rep/x.tar.gz")));
    smneo_error_clear(&err);
}

static void test_long_names(void)
{
    char name[200], rel[1200];
    memset(name, 'n', 120);
    name[120] = 0;
    snprintf(rel, sizeof rel, "ln/src/deep/%s/%s/weights.bin", name, name);
    write_str(P("%s", rel), "weights");
    snprintf(rel, sizeof rel, "ln/src/%s.txt", name);
    write_str(P("%s", rel), "long");
    smneo_error err = SMNEO_ERROR_INIT;
    CHECK_INT(pack_dir(P("ln/src"), P("ln/m.tar.gz"), 2, &err), 0);
    char cmd[4200], want[1000];
    snprintf(cmd, sizeof cmd, "tar -tzf '%s' | grep weights.bin", P("ln/m.tar.gz"));
    snprintf(want, sizeof want, "deep/%s/%s/weights.bin", name, name);
    CHECK_STR(sh_out(cmd), want);
    CHECK_INT(smneo_artifact_extract(P("ln/m.tar.gz"), P("ln/out"), NULL, &err), 0);
    CHECK(files_equal(P("ln/src/%s", want), P("ln/out/%s", want)));
    smneo_error_clear(&err);
}

static int cancel_after(uint64_t done, uint64_t total, void *payload)
{
    int *calls = payload;
    (*calls)++;
    return done > 0 || *calls > 3;
}

static int count_progress(uint64_t done, uint64_t total, void *payload)
{
    uint64_t *last = payload;
    if (done < last[0] || done > total)
        last[1] = 1; /* not monotonic or over the total */
    last[0] = done;
    last[2] = total;
    return 0;
}

/* Cancels once done reaches stop[0]; stop[1] keeps the last done seen. */
static int cancel_past(uint64_t done, uint64_t total, void *payload)
{
    uint64_t *stop = payload;
    (void)total;
    stop[1] = done;
    return done >= stop[0];
}

static void test_pack_refusals_and_cancel(void)
{
    smneo_error err = SMNEO_ERROR_INIT;
    write_str(P("pr/src/a.txt"), "a");
    write_str(P("pr/outside.txt"), "secret");
    sh("ln -s ../outside.txt '%s'", P("pr/src/escape"));
    CHECK_INT(pack_dir(P("pr/src"), P("pr/m.tar.gz"), 2, &err), SMNEO_EINVAL);
    CHECK(err.message && strstr(err.message, "escape") && strstr(err.message, "outside"));
    CHECK(!exists(P("pr/m.tar.gz")));
    CHECK_INT(count_dir(P("pr")), 2);
    unlink(P("pr/src/escape"));
    sh("ln -s nowhere '%s'", P("pr/src/dangling"));
    CHECK_INT(pack_dir(P("pr/src"), P("pr/m.tar.gz"), 2, &err), SMNEO_EINVAL);
    unlink(P("pr/src/dangling"));
    sh("mkfifo '%s'", P("pr/src/fifo"));
    CHECK_INT(pack_dir(P("pr/src"), P("pr/m.tar.gz"), 2, &err), SMNEO_EINVAL);
    CHECK(err.message && strstr(err.message, "fifo"));
    unlink(P("pr/src/fifo"));
    sh("ln -s .. '%s'", P("pr/src/up"));
    CHECK_INT(pack_dir(P("pr/src"), P("pr/m.tar.gz"), 2, &err), SMNEO_EINVAL);
    unlink(P("pr/src/up"));
    sh("mkdir -p '%s' && ln -s .. '%s'", P("pr/src/sub"), P("pr/src/sub/loop"));
    CHECK_INT(pack_dir(P("pr/src"), P("pr/m.tar.gz"), 2, &err), SMNEO_EINVAL);
    CHECK(err.message && strstr(err.message, "loop"));
    sh("rm -rf '%s'", P("pr/src/sub"));
    /* A symlink to a directory inside the source is stored as that directory. */
    sh("mkdir -p '%s' && echo w > '%s' && ln -s real '%s'", P("pr/src/real"), P("pr/src/real/w.txt"),
       P("pr/src/alias"));
    CHECK_INT(pack_dir(P("pr/src"), P("pr/m.tar.gz"), 2, &err), 0);
    char lc[4200];
    snprintf(lc, sizeof lc, "tar -tzf '%s' | tr '\\n' ' '", P("pr/m.tar.gz"));
    CHECK_STR(sh_out(lc), "a.txt alias/ alias/w.txt real/ real/w.txt ");
    sh("rm -rf '%s' '%s' '%s'", P("pr/src/real"), P("pr/src/alias"), P("pr/m.tar.gz"));

    /* Cancel from the progress callback: nothing left behind. */
    write_random(P("pr/src/w.bin"), 4 << 20, 3);
    smneo_pack_options o = SMNEO_PACK_OPTIONS_INIT;
    int calls = 0;
    o.progress = cancel_after;
    o.payload = &calls;
    smneo_artifact_pack_result *r = NULL;
    CHECK_INT(smneo_artifact_pack(&r, P("pr/src"), P("pr/m.tar.gz"), &o, &err), SMNEO_ECANCELLED);
    CHECK(r == NULL);
    CHECK_INT(count_dir(P("pr")), 2);
    /* Progress is monotonic and ends at the total. */
    uint64_t st[3] = {0, 0, 0};
    o.progress = count_progress;
    o.payload = st;
    CHECK_INT(smneo_artifact_pack(&r, P("pr/src"), P("pr/m.tar.gz"), &o, &err), 0);
    smneo_artifact_pack_result_free(r);
    CHECK_INT(st[1], 0);
    CHECK_INT(st[0], (4 << 20) + 1);
    CHECK_INT(st[2], (4 << 20) + 1);
    /* Re-packing over an existing archive inside the source skips it. */
    CHECK_INT(pack_dir(P("pr/src"), P("pr/src/model.tar.gz"), 2, &err), 0);
    CHECK_INT(pack_dir(P("pr/src"), P("pr/src/model.tar.gz"), 2, &err), 0);
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "tar -tzf '%s' | tr '\\n' ' '", P("pr/src/model.tar.gz"));
    CHECK_STR(sh_out(cmd), "a.txt w.bin ");
    smneo_error_clear(&err);
}

static void test_big_sparse(void)
{
    if (!getenv("SMNEO_SLOW_TESTS")) {
        printf("test_big_sparse skipped (set SMNEO_SLOW_TESTS=1)\n");
        return;
    }
    uint64_t size = ((uint64_t)8 << 30) + 4097;
    sh("mkdir -p '%s'", P("big/src"));
    int fd = open(P("big/src/huge.bin"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0 && ftruncate(fd, (off_t)size) == 0 && pwrite(fd, "end", 3, (off_t)size - 3) == 3);
    close(fd);
    smneo_pack_options o = SMNEO_PACK_OPTIONS_INIT;
    o.compress_level = 1;
    o.threads = 2;
    smneo_error err = SMNEO_ERROR_INIT;
    smneo_artifact_pack_result *r = NULL;
    struct timeval t0, t1;
    gettimeofday(&t0, NULL);
    int rc = smneo_artifact_pack(&r, P("big/src"), P("big/m.tar.gz"), &o, &err);
    gettimeofday(&t1, NULL);
    CHECK_MSG(rc == 0, "pack: %s", err.message);
    printf("test_big_sparse: packed 8 GiB in %.1f s, %llu bytes\n",
           (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_usec - t0.tv_usec) / 1e6,
           (unsigned long long)smneo_artifact_pack_result_size(r));
    smneo_artifact_pack_result_free(r);
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "tar -tvzf '%s' huge.bin | awk '{print $3}'", P("big/m.tar.gz"));
    CHECK_STR(sh_out(cmd), "8589938689");
    unlink(P("big/src/huge.bin"));
    unlink(P("big/m.tar.gz"));
    smneo_error_clear(&err);
}

/* Each refused archive: SMNEO_EUNSAFE naming the entry, nothing left. */
static void refuse(const char *tag, const craft *c, size_t n, const char *expect_in_msg, int code)
{
    char arch[4096], parent[4096], dest[4200];
    snprintf(arch, sizeof arch, "%s", P("bad-%s.tar.gz", tag));
    snprintf(parent, sizeof parent, "%s", P("refuse-%s", tag));
    snprintf(dest, sizeof dest, "%s/dest", parent);
    make_archive(arch, c, n, 1, 0);
    sh("mkdir -p '%s'", parent);
    smneo_error err = SMNEO_ERROR_INIT;
    int rc = smneo_artifact_extract(arch, dest, NULL, &err);
    CHECK_MSG(rc == code, "%s: rc %d (%s)", tag, rc, err.message ? err.message : "");
    CHECK_MSG(err.message && strstr(err.message, expect_in_msg), "%s: message \"%s\" lacks \"%s\"", tag,
              err.message ? err.message : "", expect_in_msg);
    CHECK_MSG(count_dir(parent) == 0, "%s: something was left in %s", tag, parent);
    CHECK(!exists(P("evil")) && !exists(P("escaped")));
    smneo_error_clear(&err);
}

static void test_extract_refusals(void)
{
    craft dotdot[] = {{"ok.txt", AE_IFREG, "ok", 0, 0, 0}, {"sub/../../evil", AE_IFREG, "x", 0, 0, 0}};
    refuse("dotdot", dotdot, 2, "sub/../../evil", SMNEO_EUNSAFE);
    craft abs_[] = {{"ok.txt", AE_IFREG, "ok", 0, 0, 0}, {"/tmp/evil-abs", AE_IFREG, "x", 0, 0, 0}};
    refuse("abs", abs_, 2, "/tmp/evil-abs", SMNEO_EUNSAFE);
    craft sl[] = {{"ok.txt", AE_IFREG, "ok", 0, 0, 0}, {"etc", AE_IFLNK, 0, "/etc", 0, 0}};
    refuse("symlink-abs", sl, 2, "etc", SMNEO_EUNSAFE);
    craft sl2[] = {{"d/link", AE_IFLNK, 0, "../../escaped", 0, 0}};
    refuse("symlink-up", sl2, 1, "d/link", SMNEO_EUNSAFE);
    /* Lexically inside, physically outside: d/s -> .. (the root), x -> d/s/.. */
    craft chain[] = {{"d/", AE_IFDIR, 0, 0, 0, 0}, {"d/s", AE_IFLNK, 0, "..", 0, 0}, {"x", AE_IFLNK, 0, "d/s/..", 0, 0}};
    refuse("symlink-chain", chain, 3, "x", SMNEO_EUNSAFE);
    /* Writing through a symlink (inside) to reach elsewhere. */
    craft through[] = {{"l", AE_IFLNK, 0, ".", 0, 0}, {"l/f.txt", AE_IFREG, "x", 0, 0, 0}};
    refuse("through-symlink", through, 2, "l/f.txt", SMNEO_EUNSAFE);
    craft hl[] = {{"ok.txt", AE_IFREG, "ok", 0, 0, 0}, {"h", AE_IFREG, 0, 0, "../escaped", 0}};
    refuse("hardlink", hl, 2, "h", SMNEO_EUNSAFE);
    craft hl2[] = {{"h", AE_IFREG, 0, 0, "/etc/passwd", 0}};
    refuse("hardlink-abs", hl2, 1, "h", SMNEO_EUNSAFE);
    craft dev[] = {{"ok.txt", AE_IFREG, "ok", 0, 0, 0}, {"null", AE_IFCHR, 0, 0, 0, 0}};
    refuse("device", dev, 2, "null", SMNEO_EUNSAFE);
    craft fifo[] = {{"pipe", AE_IFIFO, 0, 0, 0, 0}};
    refuse("fifo", fifo, 1, "pipe", SMNEO_EUNSAFE);
    /* Gzip bomb: 48 MiB of zeros in ~50 KiB. */
    craft bomb[] = {{"zeros.bin", AE_IFREG, 0, 0, 0, (size_t)48 << 20}};
    refuse("bomb", bomb, 1, "ratio", SMNEO_EUNSAFE);

    /* Limits through options. */
    craft three[] = {{"a", AE_IFREG, "aaaa", 0, 0, 0}, {"b", AE_IFREG, "bbbb", 0, 0, 0}, {"c", AE_IFREG, "cccc", 0, 0, 0}};
    make_archive(P("three.tar.gz"), three, 3, 1, 0);
    sh("mkdir -p '%s'", P("lim"));
    smneo_extract_options o = SMNEO_EXTRACT_OPTIONS_INIT;
    smneo_error err = SMNEO_ERROR_INIT;
    o.max_entries = 2;
    CHECK_INT(smneo_artifact_extract(P("three.tar.gz"), P("lim/d1"), &o, &err), SMNEO_EUNSAFE);
    CHECK(err.message && strstr(err.message, "max_entries"));
    o.max_entries = 0;
    o.max_bytes = 10;
    CHECK_INT(smneo_artifact_extract(P("three.tar.gz"), P("lim/d1"), &o, &err), SMNEO_EUNSAFE);
    CHECK(err.message && strstr(err.message, "max_bytes") && strstr(err.message, "c"));
    CHECK_INT(count_dir(P("lim")), 0);
    /* The bomb extracts when the caller lifts the ratio limit. */
    o = (smneo_extract_options)SMNEO_EXTRACT_OPTIONS_INIT;
    o.max_ratio = -1;
    CHECK_INT(smneo_artifact_extract(P("bad-bomb.tar.gz"), P("lim/bomb"), &o, &err), 0);
    struct stat st;
    CHECK(stat(P("lim/bomb/zeros.bin"), &st) == 0 && st.st_size == (48 << 20));
    sh("rm -rf '%s'", P("lim/bomb"));

    /* Destination rules. */
    sh("mkdir -p '%s' && touch '%s'", P("lim/full"), P("lim/full/x"));
    CHECK_INT(smneo_artifact_extract(P("three.tar.gz"), P("lim/full"), NULL, &err), SMNEO_EINVAL);
    CHECK_INT(count_dir(P("lim/full")), 1);
    sh("mkdir -p '%s'", P("lim/empty"));
    CHECK_INT(smneo_artifact_extract(P("three.tar.gz"), P("lim/empty"), NULL, &err), 0);
    CHECK_INT(count_dir(P("lim/empty")), 3);
    CHECK_INT(smneo_artifact_extract(P("three.tar.gz"), P("nodir/x/y"), NULL, &err), SMNEO_EINVAL);
    /* Safe links are fine. */
    craft okl[] = {{"d/", AE_IFDIR, 0, 0, 0, 0}, {"d/f", AE_IFREG, "f", 0, 0, 0}, {"d/l", AE_IFLNK, 0, "f", 0, 0},
                   {"top", AE_IFLNK, 0, "d/f", 0, 0}, {"h", AE_IFREG, 0, 0, "d/f", 0}, {"./", AE_IFDIR, 0, 0, 0, 0}};
    make_archive(P("oklinks.tar.gz"), okl, 6, 1, 0);
    CHECK_INT(smneo_artifact_extract(P("oklinks.tar.gz"), P("lim/links"), NULL, &err), 0);
    char *s = smneo_test_read_file(P("lim/links/top"), NULL);
    CHECK(s && strcmp(s, "f") == 0);
    free(s);
    s = smneo_test_read_file(P("lim/links/h"), NULL);
    CHECK(s && strcmp(s, "f") == 0);
    free(s);
    smneo_error_clear(&err);
}

static void test_corrupt_and_multimember(void)
{
    make_tree(P("cm/src"));
    smneo_error err = SMNEO_ERROR_INIT;
    CHECK_INT(pack_dir(P("cm/src"), P("cm/m.tar.gz"), 2, &err), 0);
    struct stat st;
    stat(P("cm/m.tar.gz"), &st);
    sh("head -c %ld '%s' > '%s'", (long)st.st_size / 2, P("cm/m.tar.gz"), P("cm/trunc.tar.gz"));
    smneo_artifact_inspection *in = NULL;
    CHECK_INT(smneo_artifact_inspect(&in, P("cm/trunc.tar.gz"), NULL, &err), SMNEO_EARCHIVE);
    CHECK(err.message && strstr(err.message, "truncated"));
    CHECK(in == NULL);
    sh("mkdir -p '%s'", P("cm/x"));
    CHECK_INT(smneo_artifact_extract(P("cm/trunc.tar.gz"), P("cm/x/d"), NULL, &err), SMNEO_EARCHIVE);
    CHECK_INT(count_dir(P("cm/x")), 0);
    /* Corrupt bytes in the middle. */
    sh("cp '%s' '%s' && printf 'XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX' | dd of='%s' bs=1 seek=%ld conv=notrunc 2>/dev/null",
       P("cm/m.tar.gz"), P("cm/bad.tar.gz"), P("cm/bad.tar.gz"), (long)st.st_size / 2);
    CHECK_INT(smneo_artifact_extract(P("cm/bad.tar.gz"), P("cm/x/d"), NULL, &err), SMNEO_EARCHIVE);
    CHECK_INT(count_dir(P("cm/x")), 0);
    /* Not an archive at all. */
    write_str(P("cm/text.tar.gz"), "this is not an archive, just some text that is long enough to look at.\n");
    CHECK_INT(smneo_artifact_inspect(&in, P("cm/text.tar.gz"), NULL, &err), SMNEO_EARCHIVE);
    CHECK_INT(smneo_artifact_inspect(&in, P("cm/missing.tar.gz"), NULL, &err), SMNEO_EIO);

    /* Two gzip members holding one tar. */
    sh("cd '%s' && tar -cf ../plain.tar . && head -c 5000 ../plain.tar | gzip -n > ../multi.tar.gz && "
       "tail -c +5001 ../plain.tar | gzip -n >> ../multi.tar.gz",
       P("cm/src"));
    CHECK_INT(smneo_artifact_inspect(&in, P("cm/multi.tar.gz"), NULL, &err), 0);
    if (in) {
        CHECK_INT(smneo_artifact_inspection_single_gzip_member(in), 0);
        CHECK(has_issue(in, "artifact.gzip.multi-member", ""));
        CHECK_INT(smneo_artifact_inspection_member_count(in), 9); /* "./" too */
    }
    smneo_artifact_inspection_free(in);
    in = NULL;
    CHECK_INT(smneo_artifact_extract(P("cm/multi.tar.gz"), P("cm/multi"), NULL, &err), 0);
    CHECK(files_equal(P("cm/src/weights/big.bin"), P("cm/multi/weights/big.bin")));
    /* Plain tar: listed, flagged. */
    CHECK_INT(smneo_artifact_inspect(&in, P("cm/plain.tar"), NULL, &err), 0);
    if (in) {
        CHECK_INT(smneo_artifact_inspection_single_gzip_member(in), 0);
        CHECK(has_issue(in, "artifact.gzip.missing", ""));
    }
    smneo_artifact_inspection_free(in);
    in = NULL;
    /* A second tar appended inside one gzip member. */
    sh("cat '%s' '%s' | gzip -n > '%s'", P("cm/plain.tar"), P("cm/plain.tar"), P("cm/two.tar.gz"));
    CHECK_INT(smneo_artifact_inspect(&in, P("cm/two.tar.gz"), NULL, &err), 0);
    if (in) {
        CHECK_INT(smneo_artifact_inspection_single_gzip_member(in), 0);
        CHECK(has_issue(in, "artifact.tar.trailing-data", ""));
    }
    smneo_artifact_inspection_free(in);
    in = NULL;
    /* An archive with unsafe names is listed with findings, not refused. */
    craft evil[] = {{"../evil", AE_IFREG, "x", 0, 0, 0}, {"l", AE_IFLNK, 0, "/etc/passwd", 0, 0},
                    {"fifo", AE_IFIFO, 0, 0, 0, 0}};
    make_archive(P("cm/evil.tar.gz"), evil, 3, 1, 0);
    CHECK_INT(smneo_artifact_inspect(&in, P("cm/evil.tar.gz"), NULL, &err), 0);
    if (in) {
        CHECK(has_issue(in, "artifact.path.unsafe", "../evil"));
        CHECK(has_issue(in, "artifact.link.outside", "l"));
        CHECK(has_issue(in, "artifact.member.special", "fifo"));
        CHECK_STR(smneo_artifact_inspection_member_at(in, 1)->linkname, "/etc/passwd");
        CHECK_STR(smneo_member_type_name(smneo_artifact_inspection_member_at(in, 1)->type), "symlink");
    }
    smneo_artifact_inspection_free(in);
    in = NULL;
    /* Cancel from the progress callback: inspect and extract. */
    smneo_inspect_options ic = SMNEO_INSPECT_OPTIONS_INIT;
    int calls = 0;
    ic.progress = cancel_after;
    ic.payload = &calls;
    CHECK_INT(smneo_artifact_inspect(&in, P("cm/m.tar.gz"), &ic, &err), SMNEO_ECANCELLED);
    CHECK(in == NULL && calls > 0);
    smneo_extract_options ec = SMNEO_EXTRACT_OPTIONS_INIT;
    calls = 0;
    ec.progress = cancel_after;
    ec.payload = &calls;
    CHECK_INT(smneo_artifact_extract(P("cm/m.tar.gz"), P("cm/x/d"), &ec, &err), SMNEO_ECANCELLED);
    CHECK_INT(count_dir(P("cm/x")), 0);
    /* Progress of extract ends at the archive size. */
    uint64_t pr[3] = {0, 0, 0};
    ec.progress = count_progress;
    ec.payload = pr;
    CHECK_INT(smneo_artifact_extract(P("cm/m.tar.gz"), P("cm/x/ok"), &ec, &err), 0);
    CHECK_INT(pr[1], 0);
    CHECK_INT(pr[0], st.st_size);
    CHECK_INT(pr[2], st.st_size);
    smneo_inspect_options io = SMNEO_INSPECT_OPTIONS_INIT;
    io.max_entries = 2;
    CHECK_INT(smneo_artifact_inspect(&in, P("cm/evil.tar.gz"), &io, &err), SMNEO_EUNSAFE);
    smneo_error_clear(&err);
}

/* ---- layout checks ---- */

/* Packs the listed files (name, content) into an archive and inspects it for
 * `fw`. Returns the inspection (caller frees) or NULL. */
typedef struct fake {
    const char *name;
    const char *data;
    size_t len; /* 0: strlen */
} fake;

static smneo_artifact_inspection *layout(const char *tag, const fake *f, size_t n, const char *fw,
                                         const char *copts)
{
    char dir[4096], arch[4096];
    snprintf(dir, sizeof dir, "%s", P("lay/%s", tag));
    snprintf(arch, sizeof arch, "%s", P("lay/%s.tar.gz", tag));
    sh("mkdir -p '%s'", dir);
    for (size_t i = 0; i < n; i++) {
        char p[4200];
        snprintf(p, sizeof p, "%s/%s", dir, f[i].name);
        if (f[i].data)
            write_bytes(p, f[i].data, f[i].len ? f[i].len : strlen(f[i].data));
        else
            sh("mkdir -p '%s'", p);
    }
    smneo_error err = SMNEO_ERROR_INIT;
    if (pack_dir(dir, arch, 1, &err) != 0) {
        fprintf(stderr, "%s: pack failed: %s\n", tag, err.message);
        smneo_error_clear(&err);
        return NULL;
    }
    smneo_inspect_options o = SMNEO_INSPECT_OPTIONS_INIT;
    o.framework = fw;
    o.compiler_options = copts;
    smneo_artifact_inspection *in = NULL;
    if (smneo_artifact_inspect(&in, arch, &o, &err) != 0)
        fprintf(stderr, "%s: inspect failed: %s\n", tag, err.message);
    smneo_error_clear(&err);
    return in;
}

/* Valid layout: no issues at all. */
#define VALID(tag, files, fw, copts)                                                            \
    do {                                                                                        \
        smneo_artifact_inspection *in_ = layout(tag, files, sizeof files / sizeof files[0], fw, copts); \
        CHECK_MSG(in_ && smneo_issues_count(smneo_artifact_inspection_issues(in_)) == 0, "%s", tag); \
        if (in_ && smneo_issues_count(smneo_artifact_inspection_issues(in_)))                    \
            dump_issues(in_);                                                                   \
        smneo_artifact_inspection_free(in_);                                                    \
    } while (0)

/* Invalid layout: this finding (rule, path) with this severity. */
#define INVALID(tag, files, fw, copts, rule_, path_, sev_)                                         \
    do {                                                                                        \
        smneo_artifact_inspection *in_ = layout(tag, files, sizeof files / sizeof files[0], fw, copts); \
        CHECK_MSG(in_ && has_issue(in_, rule_, path_), "%s: no %s at \"%s\"", tag, rule_, path_);  \
        if (in_) {                                                                              \
            const smneo_issues *is_ = smneo_artifact_inspection_issues(in_);                    \
            for (size_t k_ = 0; k_ < smneo_issues_count(is_); k_++) {                           \
                const smneo_issue *x_ = smneo_issues_at(is_, k_);                              \
                if (strcmp(x_->rule, rule_) == 0)                                                \
                    CHECK_MSG((int)x_->severity == (sev_) && strlen(x_->message) > 20, "%s", tag); \
            }                                                                                   \
        }                                                                                       \
        smneo_artifact_inspection_free(in_);                                                    \
    } while (0)

static char *zip_bytes(const char *const *names, size_t n, size_t *len)
{
    craft c[8];
    for (size_t i = 0; i < n; i++)
        c[i] = (craft){names[i], AE_IFREG, "payload", 0, 0, 0};
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", P("zip-%zu-%s.zip", n, names[0][0] == 'a' ? "a" : "b"));
    make_archive(tmp, c, n, 0, 1);
    return smneo_test_read_file(tmp, len);
}

static void test_layouts(void)
{
    size_t zl1 = 0, zl2 = 0;
    const char *ts_names[] = {"archive/constants.pkl", "archive/code/__torch__/model.py", "archive/data.pkl"};
    const char *sd_names[] = {"bundle/data.pkl", "bundle/data/0", "bundle/version"};
    char *ts = zip_bytes(ts_names, 3, &zl1);
    char *sd = zip_bytes(sd_names, 3, &zl2);
    CHECK(ts && sd);
    if (!ts || !sd) {
        free(ts);
        free(sd);
        return;
    }
    fake pt_ok[] = {{"model.pth", ts, zl1}, {"code/inference.py", "x", 0}};
    VALID("pt-ok", pt_ok, "PYTORCH", NULL);
    fake pt_ok2[] = {{"model.pt", ts, zl1}};
    VALID("pt-ok2", pt_ok2, "pytorch", NULL);
    fake pt_pickle[] = {{"model.pth", "\x80\x02\x8a\x0alegacy pickle", 0}};
    INVALID("pt-pickle", pt_pickle, "PYTORCH", NULL, "artifact.pytorch.state-dict", "model.pth", SMNEO_SEVERITY_ERROR);
    fake pt_save[] = {{"model.pth", sd, zl2}};
    INVALID("pt-save", pt_save, "PYTORCH", NULL, "artifact.pytorch.state-dict", "model.pth", SMNEO_SEVERITY_ERROR);
    fake pt_none[] = {{"model.bin", "x", 0}};
    INVALID("pt-none", pt_none, "PYTORCH", NULL, "artifact.pytorch.no-model", "", SMNEO_SEVERITY_ERROR);
    fake pt_two[] = {{"a.pth", ts, zl1}, {"b.pt", ts, zl1}};
    INVALID("pt-two", pt_two, "PYTORCH", NULL, "artifact.pytorch.multiple-models", "", SMNEO_SEVERITY_ERROR);

    fake tf_saved[] = {{"1/saved_model.pb", "pb", 0}, {"1/variables/variables.index", "i", 0},
                       {"1/variables/variables.data-00000-of-00001", "d", 0}};
    VALID("tf-saved", tf_saved, "TENSORFLOW", NULL);
    fake tf_frozen[] = {{"frozen.pb", "pb", 0}};
    VALID("tf-frozen", tf_frozen, "TENSORFLOW", NULL);
    fake tf_novars[] = {{"saved_model.pb", "pb", 0}};
    INVALID("tf-novars", tf_novars, "TENSORFLOW", NULL, "artifact.tensorflow.no-variables", "saved_model.pb",
            SMNEO_SEVERITY_WARNING);
    fake tf_none[] = {{"model.h5", "x", 0}};
    INVALID("tf-none", tf_none, "TENSORFLOW", NULL, "artifact.tensorflow.no-model", "", SMNEO_SEVERITY_ERROR);
    fake tf_two[] = {{"a.pb", "x", 0}, {"b.pbtxt", "x", 0}};
    INVALID("tf-two", tf_two, "TENSORFLOW", NULL, "artifact.tensorflow.multiple-models", "", SMNEO_SEVERITY_ERROR);

    fake k_ok[] = {{"model.h5", "\x89HDF\r\n\x1a\n rest of the file", 0}};
    VALID("keras-ok", k_ok, "KERAS", NULL);
    char ub[600];
    memset(ub, 'u', sizeof ub);
    memcpy(ub + 512, "\x89HDF\r\n\x1a\n", 8);
    fake k_ub[] = {{"model.h5", ub, sizeof ub}};
    VALID("keras-userblock", k_ub, "KERAS", NULL);
    fake k_bad[] = {{"model.h5", "not hdf5 at all", 0}};
    INVALID("keras-bad", k_bad, "KERAS", NULL, "artifact.keras.not-hdf5", "model.h5", SMNEO_SEVERITY_ERROR);
    fake k_v3[] = {{"model.keras", ts, zl1}};
    INVALID("keras-v3", k_v3, "KERAS", NULL, "artifact.keras.no-model", "model.keras", SMNEO_SEVERITY_ERROR);
    fake k_none[] = {{"model.txt", "x", 0}};
    INVALID("keras-none", k_none, "KERAS", NULL, "artifact.keras.no-model", "", SMNEO_SEVERITY_ERROR);

    fake mx_ok[] = {{"resnet-symbol.json", "{}", 0}, {"resnet-0000.params", "p", 0}};
    VALID("mx-ok", mx_ok, "MXNET", NULL);
    fake mx_nosym[] = {{"resnet-0000.params", "p", 0}};
    INVALID("mx-nosym", mx_nosym, "MXNET", NULL, "artifact.mxnet.no-symbol", "", SMNEO_SEVERITY_ERROR);
    fake mx_nopar[] = {{"resnet-symbol.json", "{}", 0}};
    INVALID("mx-nopar", mx_nopar, "MXNET", NULL, "artifact.mxnet.no-params", "", SMNEO_SEVERITY_ERROR);
    fake mx_prefix[] = {{"resnet-symbol.json", "{}", 0}, {"other-0000.params", "p", 0}};
    INVALID("mx-prefix", mx_prefix, "MXNET", NULL, "artifact.mxnet.prefix-mismatch", "resnet-symbol.json",
            SMNEO_SEVERITY_WARNING);

    fake onnx_ok[] = {{"model.onnx", "\x08\x07\x12\x07pytorch", 0}};
    VALID("onnx-ok", onnx_ok, "ONNX", NULL);
    fake onnx_none[] = {{"model.pb", "x", 0}};
    INVALID("onnx-none", onnx_none, "ONNX", NULL, "artifact.onnx.no-model", "", SMNEO_SEVERITY_ERROR);
    fake onnx_bad[] = {{"model.onnx", "garbage", 0}};
    INVALID("onnx-bad", onnx_bad, "ONNX", NULL, "artifact.onnx.not-protobuf", "model.onnx", SMNEO_SEVERITY_WARNING);

    fake tfl_ok[] = {{"model.tflite", "\x1c\x00\x00\x00TFL3 flatbuffer", 12 + 3}};
    VALID("tflite-ok", tfl_ok, "TFLITE", NULL);
    fake tfl_bad[] = {{"model.tflite", "\x1c\x00\x00\x00XXXX flatbuffer", 15}};
    INVALID("tflite-bad", tfl_bad, "TFLITE", NULL, "artifact.tflite.identifier", "model.tflite", SMNEO_SEVERITY_ERROR);
    fake tfl_none[] = {{"model.onnx", "x", 0}};
    INVALID("tflite-none", tfl_none, "TFLITE", NULL, "artifact.tflite.no-model", "", SMNEO_SEVERITY_ERROR);

    {
        smneo_error e2 = SMNEO_ERROR_INIT;
        smneo_inspect_options to = SMNEO_INSPECT_OPTIONS_INIT;
        smneo_artifact_inspection *ti = NULL;
        to.framework = "TFLITE";
        to.target = "ml_c5";
        CHECK_INT(smneo_artifact_inspect(&ti, P("lay/tflite-ok.tar.gz"), &to, &e2), 0);
        CHECK(ti && has_issue(ti, "artifact.target.tflite-cloud", ""));
        smneo_artifact_inspection_free(ti);
        ti = NULL;
        to.target = "rasp3b";
        CHECK_INT(smneo_artifact_inspect(&ti, P("lay/tflite-ok.tar.gz"), &to, &e2), 0);
        CHECK(ti && smneo_issues_count(smneo_artifact_inspection_issues(ti)) == 0);
        smneo_artifact_inspection_free(ti);
    }
    fake xgb_ok[] = {{"xgboost.model", "binf", 0}};
    VALID("xgb-ok", xgb_ok, "XGBOOST", NULL);
    fake xgb_none[] = {{"README", "x", 0}};
    INVALID("xgb-none", xgb_none, "XGBOOST", NULL, "artifact.xgboost.no-model", "", SMNEO_SEVERITY_ERROR);

    fake dn_ok[] = {{"yolov3.cfg", "[net]", 0}, {"yolov3.weights", "w", 0}};
    VALID("darknet-ok", dn_ok, "DARKNET", NULL);
    fake dn_now[] = {{"yolov3.cfg", "[net]", 0}};
    INVALID("darknet-now", dn_now, "DARKNET", NULL, "artifact.darknet.no-weights", "", SMNEO_SEVERITY_ERROR);
    fake dn_nocfg[] = {{"yolov3.weights", "w", 0}};
    INVALID("darknet-nocfg", dn_nocfg, "DARKNET", NULL, "artifact.darknet.no-cfg", "", SMNEO_SEVERITY_ERROR);

    fake cl_ok[] = {{"model.pth", ts, zl1}, {"labels.txt", "cat\ndog\n", 0}};
    VALID("coreml-ok", cl_ok, "PYTORCH", "{\"class_labels\": \"labels.txt\"}");
    fake cl_missing[] = {{"model.pth", ts, zl1}};
    INVALID("coreml-missing", cl_missing, "PYTORCH", "{\"class_labels\": \"labels.txt\"}", "artifact.coreml.class-labels",
            "", SMNEO_SEVERITY_ERROR);

    fake empty_[] = {{"emptydir", NULL, 0}};
    INVALID("empty", empty_, NULL, NULL, "artifact.empty", "", SMNEO_SEVERITY_ERROR);

    /* Option errors. */
    smneo_error err = SMNEO_ERROR_INIT;
    smneo_inspect_options o = SMNEO_INSPECT_OPTIONS_INIT;
    smneo_artifact_inspection *in = NULL;
    o.framework = "CAFFE";
    CHECK_INT(smneo_artifact_inspect(&in, P("lay/pt-ok.tar.gz"), &o, &err), SMNEO_EINVAL);
    CHECK(err.message && strstr(err.message, "CAFFE") && strstr(err.message, "PYTORCH"));
    o.framework = NULL;
    o.compiler_options = "{not json";
    CHECK_INT(smneo_artifact_inspect(&in, P("lay/pt-ok.tar.gz"), &o, &err), SMNEO_EINVAL);
    o.compiler_options = "{\"class_labels\": 3}";
    CHECK_INT(smneo_artifact_inspect(&in, P("lay/pt-ok.tar.gz"), &o, &err), SMNEO_EINVAL);
    CHECK(in == NULL);
    smneo_error_clear(&err);
    free(ts);
    free(sd);
}

static void test_digest(void)
{
    write_random(P("dg/file.bin"), 5 * 1024 * 1024 + 17, 11);
    write_str(P("dg/empty"), "");
    smneo_error err = SMNEO_ERROR_INIT;
    char *hex = NULL;
    char cmd[4200];
    const char *f = P("dg/file.bin");

    CHECK_INT(smneo_artifact_digest(&hex, f, NULL, NULL, &err), 0);
    snprintf(cmd, sizeof cmd, "b2sum '%s' | cut -d' ' -f1", f);
    CHECK_STR(hex, sh_out(cmd));
    snprintf(cmd, sizeof cmd,
             "python3 -c 'import hashlib,sys; print(hashlib.blake2b(open(sys.argv[1],\"rb\").read()).hexdigest())' '%s'",
             f);
    CHECK_STR(hex, sh_out(cmd));
    char b512[129];
    snprintf(b512, sizeof b512, "%s", hex ? hex : "");
    free(hex);

    CHECK_INT(smneo_artifact_digest(&hex, f, "BLAKE2b-256", NULL, &err), 0);
    snprintf(cmd, sizeof cmd, "b2sum -l 256 '%s' | cut -d' ' -f1", f);
    CHECK_STR(hex, sh_out(cmd));
    char b256[65];
    snprintf(b256, sizeof b256, "%s", hex ? hex : "");
    free(hex);

    CHECK_INT(smneo_artifact_digest(&hex, f, "blake2s-256", NULL, &err), 0);
    snprintf(cmd, sizeof cmd,
             "python3 -c 'import hashlib,sys; print(hashlib.blake2s(open(sys.argv[1],\"rb\").read()).hexdigest())' '%s'",
             f);
    CHECK_STR(hex, sh_out(cmd));
    char s256[65];
    snprintf(s256, sizeof s256, "%s", hex ? hex : "");
    free(hex);

    CHECK_INT(smneo_artifact_digest(&hex, f, "sha256", NULL, &err), 0);
    snprintf(cmd, sizeof cmd, "sha256sum '%s' | cut -d' ' -f1", f);
    CHECK_STR(hex, sh_out(cmd));
    char sha[65];
    snprintf(sha, sizeof sha, "%s", hex ? hex : "");
    free(hex);

    CHECK_INT(smneo_artifact_digest(&hex, P("dg/empty"), "blake2b", NULL, &err), 0);
    CHECK_STR(hex, "786a02f742015903c6c6fd852552d272912f4740e15847618a86e217f71f5419d25e1031afee585313896444934eb04b903a6"
                   "85b1448b755d56f701afe9be2ce");
    free(hex);
    hex = NULL;
    CHECK_INT(smneo_artifact_digest(&hex, f, "md5", NULL, &err), SMNEO_EINVAL);
    CHECK(err.message && strstr(err.message, "md5"));
    CHECK(hex == NULL);
    CHECK_INT(smneo_artifact_digest(&hex, P("dg/missing"), NULL, NULL, &err), SMNEO_EIO);

    /* verify */
    char buf[300];
    CHECK_INT(smneo_artifact_verify(f, b512, NULL, &err), 0);
    for (char *p = b512; *p; p++)
        if (*p >= 'a' && *p <= 'f')
            *p = (char)(*p - 32);
    CHECK_INT(smneo_artifact_verify(f, b512, NULL, &err), 0); /* upper case */
    CHECK_INT(smneo_artifact_verify(f, b256, NULL, &err), 0);
    CHECK_INT(smneo_artifact_verify(f, s256, NULL, &err), 0);
    snprintf(buf, sizeof buf, "blake2b:%s", b512);
    CHECK_INT(smneo_artifact_verify(f, buf, NULL, &err), 0);
    snprintf(buf, sizeof buf, "blake2b-256:%s", b256);
    CHECK_INT(smneo_artifact_verify(f, buf, NULL, &err), 0);
    snprintf(buf, sizeof buf, "blake2s-256:%s", b256); /* right digest, wrong algorithm */
    CHECK_INT(smneo_artifact_verify(f, buf, NULL, &err), SMNEO_EDIGEST);
    snprintf(buf, sizeof buf, "sha256:%s\n", sha);
    CHECK_INT(smneo_artifact_verify(f, buf, NULL, &err), 0);
    /* Mismatches. */
    b512[5] = b512[5] == '0' ? '1' : '0';
    CHECK_INT(smneo_artifact_verify(f, b512, NULL, &err), SMNEO_EDIGEST);
    CHECK(err.message && strstr(err.message, "mismatch"));
    b256[0] = b256[0] == '0' ? '1' : '0';
    CHECK_INT(smneo_artifact_verify(f, b256, NULL, &err), SMNEO_EDIGEST);
    /* Uninterpretable. */
    CHECK_INT(smneo_artifact_verify(f, "abc", NULL, &err), SMNEO_EINVAL);
    CHECK(err.message && strstr(err.message, "cannot interpret"));
    snprintf(buf, sizeof buf, "md5:%.32s", sha);
    CHECK_INT(smneo_artifact_verify(f, buf, NULL, &err), SMNEO_EINVAL);
    CHECK(err.message && strstr(err.message, "md5"));
    snprintf(buf, sizeof buf, "blake2b-256:%s", s256);
    buf[20] = 'z';
    CHECK_INT(smneo_artifact_verify(f, buf, NULL, &err), SMNEO_EINVAL);
    snprintf(buf, sizeof buf, "sha256:%.60s", sha);
    CHECK_INT(smneo_artifact_verify(f, buf, NULL, &err), SMNEO_EINVAL);
    CHECK_INT(smneo_artifact_verify(f, ":abc", NULL, &err), SMNEO_EINVAL);
    CHECK_INT(smneo_artifact_verify(P("dg/missing"), s256, NULL, &err), SMNEO_EIO);
    /* Cancel. */
    int calls = 0;
    smneo_digest_options o = SMNEO_DIGEST_OPTIONS_INIT;
    o.progress = cancel_after;
    o.payload = &calls;
    CHECK_INT(smneo_artifact_digest(&hex, f, NULL, &o, &err), SMNEO_ECANCELLED);
    smneo_error_clear(&err);

    /* A file of 16 MiB or more is read ahead by a second thread: the same
     * digests, progress in order up to the size, a cancel midway. */
    const char *big = P("dg/big.bin");
    write_random(big, 16 * 1024 * 1024 + 5, 12);
    uint64_t last[3] = {0, 0, 0};
    smneo_digest_options po = SMNEO_DIGEST_OPTIONS_INIT;
    po.progress = count_progress;
    po.payload = last;
    CHECK_INT(smneo_artifact_digest(&hex, big, NULL, &po, &err), 0);
    snprintf(cmd, sizeof cmd, "b2sum '%s' | cut -d' ' -f1", big);
    CHECK_STR(hex, sh_out(cmd));
    CHECK(last[1] == 0 && last[0] == last[2] && last[2] == 16 * 1024 * 1024 + 5);
    char want[200];
    snprintf(want, sizeof want, "blake2b:%s", hex ? hex : "");
    free(hex);
    hex = NULL;
    CHECK_INT(smneo_artifact_verify(big, want, NULL, &err), 0);
    snprintf(cmd, sizeof cmd, "sha256sum '%s' | cut -d' ' -f1", big);
    snprintf(want, sizeof want, "sha256:%s", sh_out(cmd));
    CHECK_INT(smneo_artifact_verify(big, want, NULL, &err), 0);
    want[10] = want[10] == '0' ? '1' : '0';
    CHECK_INT(smneo_artifact_verify(big, want, NULL, &err), SMNEO_EDIGEST);
    smneo_error_clear(&err);
    uint64_t stop_at[2] = {3 * 1024 * 1024, 0};
    po.progress = cancel_past;
    po.payload = stop_at;
    CHECK_INT(smneo_artifact_digest(&hex, big, NULL, &po, &err), SMNEO_ECANCELLED);
    CHECK(hex == NULL && stop_at[1] >= 3 * 1024 * 1024 && stop_at[1] < 16 * 1024 * 1024);
    smneo_error_clear(&err);
}

/* The shared fixtures every layer reads: tests/fixtures/artifacts/cases.json. */
static void test_fixture_cases(void)
{
    char *text = smneo_test_read_file(smneo_test_fixture("artifacts/cases.json"), NULL);
    CHECK(text != NULL);
    cJSON *cases = text ? cJSON_Parse(text) : NULL;
    free(text);
    CHECK(cJSON_IsArray(cases) && cJSON_GetArraySize(cases) >= 8);
    cJSON *c;
    int k = 0;
    cJSON_ArrayForEach(c, cases)
    {
        const char *file = cJSON_GetObjectItem(c, "file")->valuestring;
        char path[4096];
        snprintf(path, sizeof path, "%s", smneo_test_fixture("artifacts/"));
        strncat(path, file, sizeof path - strlen(path) - 1);
        cJSON *fw = cJSON_GetObjectItem(c, "framework");
        cJSON *members = cJSON_GetObjectItem(c, "members");
        smneo_inspect_options o = SMNEO_INSPECT_OPTIONS_INIT;
        o.framework = cJSON_IsString(fw) ? fw->valuestring : NULL;
        smneo_error err = SMNEO_ERROR_INIT;
        smneo_artifact_inspection *in = NULL;
        int rc = smneo_artifact_inspect(&in, path, &o, &err);
        if (!cJSON_IsArray(members)) {
            CHECK_MSG(rc == SMNEO_EARCHIVE, "%s: inspect rc %d", file, rc);
        } else {
            CHECK_MSG(rc == 0, "%s: inspect: %s", file, err.message);
            CHECK_MSG(in && (int)smneo_artifact_inspection_member_count(in) == cJSON_GetArraySize(members), "%s",
                      file);
            for (int i = 0; in && i < cJSON_GetArraySize(members); i++) {
                cJSON *m = cJSON_GetArrayItem(members, i);
                const smneo_artifact_member *am = smneo_artifact_inspection_member_at(in, (size_t)i);
                CHECK_MSG(am && strcmp(am->name, cJSON_GetArrayItem(m, 0)->valuestring) == 0 &&
                              strcmp(smneo_member_type_name(am->type), cJSON_GetArrayItem(m, 1)->valuestring) == 0 &&
                              am->size == (uint64_t)cJSON_GetArrayItem(m, 2)->valuedouble,
                          "%s: member %d", file, i);
            }
            CHECK_MSG(in && smneo_artifact_inspection_single_gzip_member(in) ==
                                cJSON_IsTrue(cJSON_GetObjectItem(c, "single_gzip_member")),
                      "%s: single_gzip_member", file);
            cJSON *rules = cJSON_GetObjectItem(c, "rules");
            const smneo_issues *is = in ? smneo_artifact_inspection_issues(in) : NULL;
            CHECK_MSG((int)smneo_issues_count(is) == cJSON_GetArraySize(rules), "%s: %zu issues", file,
                      smneo_issues_count(is));
            cJSON *r;
            cJSON_ArrayForEach(r, rules) CHECK_MSG(in && has_issue(in, r->valuestring, NULL), "%s: no %s", file,
                                                   r->valuestring);
            if (in && (int)smneo_issues_count(is) != cJSON_GetArraySize(rules))
                dump_issues(in);
        }
        smneo_artifact_inspection_free(in);
        const char *want = cJSON_GetObjectItem(c, "extract")->valuestring;
        int code = strcmp(want, "OK") == 0 ? 0 : strcmp(want, "EUNSAFE") == 0 ? SMNEO_EUNSAFE : SMNEO_EARCHIVE;
        char parent[4096];
        snprintf(parent, sizeof parent, "%s", P("fx%d", k++));
        sh("mkdir -p '%s'", parent);
        char dest[4200];
        snprintf(dest, sizeof dest, "%s/out", parent);
        rc = smneo_artifact_extract(path, dest, NULL, &err);
        CHECK_MSG(rc == code, "%s: extract rc %d, expected %s (%s)", file, rc, want, err.message ? err.message : "");
        CHECK_MSG(count_dir(parent) == (code == 0 ? 1 : 0), "%s: leftovers", file);
        smneo_error_clear(&err);
    }
    cJSON_Delete(cases);
}

/* Each block is compressed on its own and the pieces are joined into one
 * deflate stream (artifact_gzip.c): content of every kind (text, zeros,
 * float-like weights, random bytes that end up in stored blocks) at several
 * levels, many blocks, the same bytes whatever the thread count, readable
 * by gzip and tar, one gzip member. */
static void test_block_joins(void)
{
    size_t len = 40 * 65536 + 4321;
    unsigned char *b = malloc(len);
    uint32_t x = 12345;
    for (size_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        switch ((i / 40000) % 4) {
        case 0: b[i] = (unsigned char)"layer.weight bias running_mean\n"[(i + i / 977) % 31]; break;
        case 1: b[i] = 0; break;
        case 2: b[i] = (unsigned char)(i % 4 == 3 ? 0x3c + (x & 1) : x); break; /* float32-ish */
        default: b[i] = (unsigned char)x; break;
        }
    }
    write_bytes(P("join/src/mixed.bin"), b, len);
    free(b);
    smneo_error err = SMNEO_ERROR_INIT;
    static const int levels[] = {1, 6, 9};
    for (size_t l = 0; l < sizeof levels / sizeof *levels; l++) {
        char one[4200], three[4200];
        snprintf(one, sizeof one, "%s/l%d-t1.tar.gz", P("join"), levels[l]);
        snprintf(three, sizeof three, "%s/l%d-t3.tar.gz", P("join"), levels[l]);
        smneo_pack_options o = SMNEO_PACK_OPTIONS_INIT;
        o.compress_level = levels[l];
        o.block_size = 65536;
        o.threads = 1;
        smneo_artifact_pack_result *r = NULL;
        CHECK_INT(smneo_artifact_pack(&r, P("join/src"), one, &o, &err), 0);
        smneo_artifact_pack_result_free(r);
        o.threads = 3;
        CHECK_INT(smneo_artifact_pack(&r, P("join/src"), three, &o, &err), 0);
        smneo_artifact_pack_result_free(r);
        CHECK_MSG(files_equal(one, three), "level %d: 1 and 3 threads differ", levels[l]);
        CHECK_MSG(sh("gzip -t '%s'", one) == 0, "level %d: gzip -t", levels[l]);
        CHECK_MSG(sh("tar -xzf '%s' -O mixed.bin | cmp -s - '%s'", one, P("join/src/mixed.bin")) == 0,
                  "level %d: content differs", levels[l]);
        smneo_artifact_inspection *in = NULL;
        CHECK_INT(smneo_artifact_inspect(&in, one, NULL, &err), 0);
        CHECK_INT(smneo_artifact_inspection_single_gzip_member(in), 1);
        smneo_artifact_inspection_free(in);
    }
    smneo_error_clear(&err);
}

/* Golden bytes: a fixed tree gives a fixed tar stream (any platform) and,
 * with the libdeflate this was recorded with, fixed compressed bytes. A
 * change here changes every user's digests: update docs/artifacts.md (and
 * CHANGELOG.md) if intended. */
static void test_golden(void)
{
    write_str(P("gold/src/model.pth"), "weights");
    write_str(P("gold/src/code/inference.py"), "def model_fn(model_dir):\n    return None\n");
    char *big = malloc(300000);
    for (size_t i = 0; i < 300000; i++)
        big[i] = (char)("neo"[i % 3] + (i / 1000) % 7);
    write_bytes(P("gold/src/data/blob.bin"), big, 300000);
    free(big);
    smneo_pack_options o = SMNEO_PACK_OPTIONS_INIT;
    o.block_size = 65536; /* several blocks */
    o.threads = 2;
    smneo_error err = SMNEO_ERROR_INIT;
    smneo_artifact_pack_result *r = NULL;
    CHECK_INT(smneo_artifact_pack(&r, P("gold/src"), P("gold/m.tar.gz"), &o, &err), 0);
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "gzip -dc '%s' | b2sum | cut -c1-32", P("gold/m.tar.gz"));
    CHECK_STR(sh_out(cmd), "483bcae52921b3d17123eb105df2ec37");
    if (r && strcmp(LIBDEFLATE_VERSION_STRING, "1.14") == 0)
        CHECK_STR(smneo_artifact_pack_result_digest(r), "a1fd1dba6d753003374504e531253cbb2a1b57a25b9378aa5bd3db422da3401a657f377250d92330437c8fe08dceb2849fb31773ea34cbf0054ca51be86e0365");
    else
        printf("test_golden: libdeflate %s, compressed digest not compared\n", LIBDEFLATE_VERSION_STRING);
    smneo_artifact_pack_result_free(r);
    smneo_error_clear(&err);
}

int main(void)
{
    T = smneo_test_tmpdir();
    if (!T) {
        perror("tmpdir");
        return 1;
    }
    RUN(test_roundtrip);
    RUN(test_reproducible);
    RUN(test_long_names);
    RUN(test_pack_refusals_and_cancel);
    RUN(test_extract_refusals);
    RUN(test_corrupt_and_multimember);
    RUN(test_layouts);
    RUN(test_digest);
    RUN(test_fixture_cases);
    RUN(test_block_joins);
    RUN(test_golden);
    RUN(test_big_sparse);
    if (smneo_test_failed == 0)
        smneo_test_rmtree(T);
    else
        fprintf(stderr, "left %s for inspection\n", T);
    free(T);
    return smneo_test_summary("test_artifact");
}
