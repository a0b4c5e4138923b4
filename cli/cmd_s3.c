/* cli/cmd_s3.c: `smneo s3 cp SRC DST`, a file to S3 or back, on the core's
 * S3 transfer (smneo/s3.h): multipart and parallel parts for large files, a
 * download into a temporary file renamed at the end, progress on stderr. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>

#include "cli.h"

static int is_s3(const char *s) { return !strncmp(s, "s3://", 5); }

static int on_bytes(uint64_t done, uint64_t total, void *payload)
{
    cli_progress_bytes((const char *)payload, done, total);
    return cli_interrupted ? 1 : 0;
}

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

/* --metadata '{"k":"v"}' as a NULL-terminated name, value array borrowing
 * from *doc. 0, or the usage exit code (reported). */
static int read_metadata(const char *text, cJSON **doc, const char ***out)
{
    *out = NULL;
    *doc = cli_json_flag("metadata", text);
    if (!*doc)
        return EXIT_USAGE;
    if (!cJSON_IsObject(*doc))
        return cli_fail(EXIT_USAGE, "--metadata must be a JSON object of strings, e.g. '{\"stage\":\"prod\"}'");
    size_t n = (size_t)cJSON_GetArraySize(*doc), i = 0;
    const char **pairs = calloc(2 * n + 1, sizeof *pairs);
    if (!pairs)
        return cli_fail(EXIT_OTHER, "out of memory");
    for (const cJSON *m = (*doc)->child; m; m = m->next) {
        if (!cJSON_IsString(m)) {
            free(pairs);
            return cli_fail(EXIT_USAGE, "--metadata: the value of \"%s\" must be a string", m->string);
        }
        pairs[i++] = m->string;
        pairs[i++] = m->valuestring;
    }
    *out = pairs;
    return 0;
}

/* ---- --recursive: a directory to a prefix and back ------------------------------------ */

typedef struct rcopy {
    cli_args *a;
    smneo_client *client;
    smneo_s3_options *o;
    cJSON *files;     /* [{Source, Destination, Bytes}] for --output json */
    unsigned count;
    int code;         /* the exit code of the first failure; 0 so far */
} rcopy;

/* One file either way; reports it, or its error (stops the copy). */
static int copy_one(rcopy *r, int upload, const char *local, const char *s3uri, const char *rel)
{
    if (cli_interrupted)
        return r->code = cli_fail(EXIT_INTERRUPTED, "s3 cp: interrupted after %u file%s", r->count,
                                  r->count == 1 ? "" : "s");
    char label[512];
    snprintf(label, sizeof label, "%s %s", upload ? "upload" : "download", rel);
    r->o->payload = label;
    const char *failed_op = NULL;
    r->o->failed_operation = &failed_op;
    smneo_error err = SMNEO_ERROR_INIT;
    int rc = upload ? smneo_s3_upload(r->client, local, s3uri, r->o, &err)
                    : smneo_s3_download(r->client, s3uri, local, r->o, &err);
    cli_progress_end();
    if (rc == SMNEO_ECANCELLED && cli_interrupted) {
        r->code = cli_fail(EXIT_INTERRUPTED, "s3 cp: interrupted during %s after %u file%s%s", rel, r->count,
                           r->count == 1 ? "" : "s", upload ? "" : " (nothing was written for it)");
    } else if (rc) {
        char what[600];
        if (smneo_error_operation(&err) || !failed_op)
            snprintf(what, sizeof what, "s3 cp %s", rel);
        else
            snprintf(what, sizeof what, "s3 cp %s (%s)", rel, failed_op);
        r->code = cli_error(&err, rc, what);
    } else {
        struct stat st;
        long long size = stat(local, &st) == 0 ? (long long)st.st_size : -1;
        r->count++;
        if (r->a->json) {
            cJSON *f = cJSON_CreateObject();
            cJSON_AddStringToObject(f, "Source", upload ? local : s3uri);
            cJSON_AddStringToObject(f, "Destination", upload ? s3uri : local);
            cJSON_AddNumberToObject(f, "Bytes", (double)size);
            cJSON_AddItemToArray(r->files, f);
        } else {
            cli_line(stdout, "%s: %s to %s", upload ? "upload" : "download", upload ? local : s3uri,
                     upload ? s3uri : local);
        }
    }
    smneo_error_clear(&err);
    return r->code;
}

static int skip_dots(const struct dirent *d) { return strcmp(d->d_name, ".") && strcmp(d->d_name, ".."); }

/* Uploads the regular files under dir/rel (sorted by name; symbolic links
 * are not followed) to prefix + rel (prefix: "s3://bucket/key-prefix/"). */
static int walk_up(rcopy *r, const char *dir, const char *rel, const char *prefix)
{
    char *here = NULL;
    if (asprintf(&here, "%s%s%s", dir, *rel ? "/" : "", rel) < 0)
        return r->code = cli_fail(EXIT_OTHER, "out of memory");
    struct dirent **names = NULL;
    int n = scandir(here, &names, skip_dots, alphasort);
    if (n < 0) {
        r->code = cli_fail(EXIT_OTHER, "s3 cp: cannot read the directory %s: %s", here, strerror(errno));
        free(here);
        return r->code;
    }
    for (int i = 0; i < n; i++) {
        char *sub = NULL, *path = NULL, *uri = NULL;
        if (!r->code && (asprintf(&sub, "%s%s%s", rel, *rel ? "/" : "", names[i]->d_name) < 0 ||
                         asprintf(&path, "%s/%s", here, names[i]->d_name) < 0))
            r->code = cli_fail(EXIT_OTHER, "out of memory");
        struct stat st;
        if (!r->code && lstat(path, &st) == 0) {
            if (S_ISDIR(st.st_mode))
                walk_up(r, dir, sub, prefix);
            else if (S_ISREG(st.st_mode) && asprintf(&uri, "%s%s", prefix, sub) >= 0)
                copy_one(r, 1, path, uri, sub);
        }
        free(sub);
        free(path);
        free(uri);
        free(names[i]);
    }
    free(names);
    free(here);
    return r->code;
}

/* A key's part below the prefix is a safe relative path: no empty, "." or
 * ".." segment, not absolute. */
static int safe_rel(const char *rel)
{
    if (!*rel || *rel == '/')
        return 0;
    for (const char *p = rel; *p;) {
        size_t n = strcspn(p, "/");
        if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
            return 0;
        p += n;
        if (*p == '/')
            p++;
        if (!*p && p[-1] == '/')
            return 0;
    }
    return 1;
}

/* mkdir -p of path's parent directories */
static int make_parents(char *path)
{
    for (char *p = strchr(path + 1, '/'); p; p = strchr(p + 1, '/')) {
        *p = '\0';
        int rc = mkdir(path, 0777);
        int e = errno;
        *p = '/';
        if (rc != 0 && e != EEXIST)
            return -1;
    }
    return 0;
}

static int down_all(rcopy *r, const char *bucket_uri, const char *prefix, const char *dst, unsigned page_size)
{
    smneo_s3_list *it = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    char *uri = NULL;
    if (asprintf(&uri, "%s%s", bucket_uri, prefix) < 0)
        return r->code = cli_fail(EXIT_OTHER, "out of memory");
    int rc = smneo_s3_list_new(&it, r->client, uri, page_size, &err);
    smneo_s3_listed obj;
    while (rc == 0 && !r->code && (rc = smneo_s3_list_next(&obj, it, &err)) == 0) {
        const char *rel = obj.key + strlen(prefix);
        size_t kn = strlen(obj.key);
        if (!*rel || obj.key[kn - 1] == '/') /* the prefix itself, a "folder" marker */
            continue;
        if (!safe_rel(rel)) {
            r->code = cli_fail(EXIT_OTHER, "s3 cp: refusing s3://%s: its key below %s would be written outside %s",
                               obj.key, uri, dst);
            break;
        }
        char *path = NULL, *src = NULL;
        if (asprintf(&path, "%s/%s", dst, rel) < 0 || asprintf(&src, "%s%s", bucket_uri, obj.key) < 0) {
            r->code = cli_fail(EXIT_OTHER, "out of memory");
        } else if (make_parents(path) != 0) {
            r->code = cli_fail(EXIT_OTHER, "s3 cp: cannot make the directories of %s: %s", path, strerror(errno));
        } else {
            copy_one(r, 0, path, src, rel);
        }
        free(path);
        free(src);
    }
    if (rc != 0 && rc != SMNEO_ITEROVER && !r->code)
        r->code = cli_error(&err, rc, "s3 cp --recursive");
    smneo_error_clear(&err);
    smneo_s3_list_free(it);
    free(uri);
    return r->code;
}

static int cp_recursive(cli_args *a, const char *src, const char *dst, int upload)
{
    unsigned page_size = 0;
    const char *ps = cli_get(a, "page-size");
    if (ps) {
        char *end = NULL;
        unsigned long v = strtoul(ps, &end, 10);
        if (upload || !*ps || *end || v < 1 || v > 1000)
            return cli_fail(EXIT_USAGE, upload ? "--page-size applies to --recursive downloads only"
                                               : "--page-size must be a number from 1 to 1000 (S3's keys a page)");
        page_size = (unsigned)v;
    }
    const char *s3 = upload ? dst : src, *local = upload ? src : dst;
    struct stat st;
    if (upload && (stat(local, &st) != 0 || !S_ISDIR(st.st_mode)))
        return cli_fail(EXIT_USAGE, "--recursive copies a directory: %s is not one", local);
    if (!upload && stat(local, &st) == 0 && !S_ISDIR(st.st_mode))
        return cli_fail(EXIT_USAGE, "--recursive downloads into a directory: %s is a file", local);
    /* s3://bucket/prefix: the objects under prefix/, as `aws s3 cp --recursive` takes it */
    const char *bucket = s3 + 5, *slash = strchr(bucket, '/');
    if (!*bucket || bucket == slash)
        return cli_fail(EXIT_USAGE, "%s names no bucket: give s3://BUCKET[/PREFIX]", s3);
    const char *key = slash ? slash + 1 : "";
    size_t kn = strlen(key);
    char *bucket_uri = NULL, *prefix = NULL, *top = NULL;
    if (asprintf(&bucket_uri, "s3://%.*s/", (int)(slash ? (size_t)(slash - bucket) : strlen(bucket)), bucket) < 0 ||
        asprintf(&prefix, "%s%s", key, kn && key[kn - 1] != '/' ? "/" : "") < 0 ||
        asprintf(&top, "%s", local) < 0)
        return cli_fail(EXIT_OTHER, "out of memory");
    for (size_t n = strlen(top); n > 1 && top[n - 1] == '/'; n--)
        top[n - 1] = '\0';

    smneo_s3_options o = SMNEO_S3_OPTIONS_INIT;
    o.content_type = cli_get(a, "content-type");
    o.server_side_encryption = cli_get(a, "sse");
    o.sse_kms_key_id = cli_get(a, "sse-kms-key-id");
    o.progress = on_bytes;
    cJSON *meta_doc = NULL;
    const char **meta = NULL;
    int code = 0;
    const char *mt = cli_get(a, "metadata");
    if (mt && (code = read_metadata(mt, &meta_doc, &meta)) != 0)
        goto out;
    o.metadata = meta;
    cli_client cc;
    if ((code = cli_client_open(&cc, a)) != 0)
        goto out;
    rcopy r = {a, cc.client, &o, cJSON_CreateArray(), 0, 0};
    if (!upload && mkdir(top, 0777) != 0 && errno != EEXIST)
        r.code = cli_fail(EXIT_OTHER, "s3 cp: cannot make the directory %s: %s", top, strerror(errno));
    else if (upload) {
        char *to = NULL;
        if (asprintf(&to, "%s%s", bucket_uri, prefix) < 0)
            r.code = cli_fail(EXIT_OTHER, "out of memory");
        else
            walk_up(&r, top, "", to);
        free(to);
    }
    else
        down_all(&r, bucket_uri, prefix, top, page_size);
    code = r.code;
    if (!code && a->json) {
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddStringToObject(doc, "Operation", upload ? "upload" : "download");
        cJSON_AddStringToObject(doc, "Source", src);
        cJSON_AddStringToObject(doc, "Destination", dst);
        cJSON_AddItemToObject(doc, "Files", r.files);
        r.files = NULL;
        cli_print_json(doc);
        cJSON_Delete(doc);
    }
    cJSON_Delete(r.files);
    cli_client_close(&cc);
out:
    free(meta);
    cJSON_Delete(meta_doc);
    free(bucket_uri);
    free(prefix);
    free(top);
    return code;
}

static int cp(cli_args *a, const char *src, const char *dst)
{
    int upload = !is_s3(src) && is_s3(dst), download = is_s3(src) && !is_s3(dst);
    if (!upload && !download)
        return cli_fail(EXIT_USAGE, "smneo s3 cp copies a local file to s3://BUCKET/KEY or back: one of SRC and DST "
                                    "must be an s3:// URI and the other a local path (got \"%s\" and \"%s\")",
                        src, dst);
    if (download && (cli_has(a, "content-type") || cli_has(a, "metadata") || cli_has(a, "sse") ||
                     cli_has(a, "sse-kms-key-id")))
        return cli_fail(EXIT_USAGE, "--content-type, --metadata, --sse and --sse-kms-key-id apply to uploads only");
    if (cli_has(a, "recursive"))
        return cp_recursive(a, src, dst, upload);
    if (cli_has(a, "page-size"))
        return cli_fail(EXIT_USAGE, "--page-size applies to --recursive downloads only");
    char *uri = NULL, *path = NULL;
    struct stat st;
    if (upload) {
        if (stat(src, &st) == 0 && S_ISDIR(st.st_mode))
            return cli_fail(EXIT_USAGE, "%s is a directory: give a file, or --recursive to copy the directory", src);
        /* s3://bucket/prefix/ or s3://bucket: the file's name is appended, as `aws s3 cp` does */
        size_t n = strlen(dst);
        int has_slash = strchr(dst + 5, '/') != NULL;
        if (!has_slash || dst[n - 1] == '/') {
            if (asprintf(&uri, "%s%s%s", dst, has_slash ? "" : "/", base_name(src)) < 0)
                return cli_fail(EXIT_OTHER, "out of memory");
        }
    } else {
        /* a directory (or a path ending in /) gets the key's last part as its name */
        size_t n = strlen(dst);
        if ((n && dst[n - 1] == '/') || (stat(dst, &st) == 0 && S_ISDIR(st.st_mode))) {
            const char *name = base_name(src + 5);
            if (!*name)
                return cli_fail(EXIT_USAGE, "%s names no object (it ends in /): give the object's key", src);
            if (asprintf(&path, "%s%s%s", dst, n && dst[n - 1] == '/' ? "" : "/", name) < 0)
                return cli_fail(EXIT_OTHER, "out of memory");
        }
    }
    const char *s3uri = upload ? (uri ? uri : dst) : src;
    const char *local = upload ? src : (path ? path : dst);

    smneo_s3_options o = SMNEO_S3_OPTIONS_INIT;
    o.content_type = cli_get(a, "content-type");
    o.server_side_encryption = cli_get(a, "sse");
    o.sse_kms_key_id = cli_get(a, "sse-kms-key-id");
    cJSON *meta_doc = NULL;
    const char **meta = NULL;
    int code = 0;
    const char *mt = cli_get(a, "metadata");
    if (mt && (code = read_metadata(mt, &meta_doc, &meta)) != 0)
        goto out;
    o.metadata = meta;
    const char *failed_op = NULL;
    o.failed_operation = &failed_op;
    o.progress = on_bytes;
    char label[512];
    snprintf(label, sizeof label, "%s %s", upload ? "upload" : "download", base_name(local));
    o.payload = label;

    cli_client cc;
    if ((code = cli_client_open(&cc, a)) != 0)
        goto out;
    smneo_error err = SMNEO_ERROR_INIT;
    int rc = upload ? smneo_s3_upload(cc.client, local, s3uri, &o, &err)
                    : smneo_s3_download(cc.client, s3uri, local, &o, &err);
    cli_progress_end();
    if (rc == SMNEO_ECANCELLED && cli_interrupted) {
        code = cli_fail(EXIT_INTERRUPTED, "s3 cp: interrupted%s", upload ? "" : " (nothing was written)");
    } else if (rc) {
        char what[64];
        /* cli_error names the request when the service answered; failed_op
         * also names one that got no answer (a connection failure) */
        if (smneo_error_operation(&err))
            snprintf(what, sizeof what, "s3 cp");
        else
            snprintf(what, sizeof what, "s3 cp (%s)", failed_op ? failed_op : upload ? "upload" : "download");
        code = cli_error(&err, rc, what);
    } else {
        long long size = stat(local, &st) == 0 ? (long long)st.st_size : -1;
        if (a->json) {
            cJSON *doc = cJSON_CreateObject();
            if (doc) {
                cJSON_AddStringToObject(doc, "Operation", upload ? "upload" : "download");
                cJSON_AddStringToObject(doc, "Source", upload ? local : s3uri);
                cJSON_AddStringToObject(doc, "Destination", upload ? s3uri : local);
                cJSON_AddNumberToObject(doc, "Bytes", (double)size);
                cli_print_json(doc);
                cJSON_Delete(doc);
            }
        } else {
            cli_line(stdout, "%s: %s to %s", upload ? "upload" : "download", upload ? local : s3uri,
                     upload ? s3uri : local);
        }
    }
    smneo_error_clear(&err);
    cli_client_close(&cc);
out:
    free(meta);
    cJSON_Delete(meta_doc);
    free(uri);
    free(path);
    return code;
}

int cmd_s3(cli_args *a)
{
    if (a->npos == 0 || strcmp(a->pos[0], "cp") != 0)
        return cli_fail(EXIT_USAGE, "usage: smneo s3 cp SRC DST (the only s3 command is cp)");
    if (a->npos != 3)
        return cli_fail(EXIT_USAGE, "usage: smneo s3 cp SRC DST: give one source and one destination");
    return cp(a, a->pos[1], a->pos[2]);
}
