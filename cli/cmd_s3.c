/* cli/cmd_s3.c: `smneo s3 cp SRC DST`, a file to S3 or back, on the core's
 * S3 transfer (smneo/s3.h): multipart and parallel parts for large files, a
 * download into a temporary file renamed at the end, progress on stderr. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
    char *uri = NULL, *path = NULL;
    struct stat st;
    if (upload) {
        if (stat(src, &st) == 0 && S_ISDIR(st.st_mode))
            return cli_fail(EXIT_USAGE, "%s is a directory: give a file (copying directories is not supported)", src);
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
