/* cli/cmd_artifact.c: pack, inspect, extract, digest, verify (local files
 * only; smneo/artifact.h). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static int on_bytes(uint64_t done, uint64_t total, void *payload)
{
    cli_progress_bytes((const char *)payload, done, total);
    return cli_interrupted ? 1 : 0;
}

static int done_with(int rc, smneo_error *err, const char *what)
{
    int code = rc == SMNEO_ECANCELLED && cli_interrupted ? cli_fail(EXIT_INTERRUPTED, "%s: interrupted", what)
                                                          : cli_error(err, rc, what);
    smneo_error_clear(err);
    return code;
}

/* --max-bytes, --max-entries, --max-ratio (inspect and extract): the core's
 * limits; absent flags leave 0, the core's default. 0 or the usage exit code. */
static int read_limits(const cli_args *a, uint64_t *max_bytes, uint64_t *max_entries, double *max_ratio)
{
    static const char *const counts[] = {"max-bytes", "max-entries"};
    uint64_t *outs[] = {max_bytes, max_entries};
    for (size_t i = 0; i < 2; i++) {
        const char *v = cli_get(a, counts[i]);
        if (!v)
            continue;
        char *end = NULL;
        errno = 0;
        unsigned long long n = strtoull(v, &end, 10);
        if (errno || !isdigit((unsigned char)v[0]) || *end || n == 0)
            return cli_fail(EXIT_USAGE, "--%s \"%s\": give a whole number of at least 1", counts[i], v);
        *outs[i] = n;
    }
    const char *v = cli_get(a, "max-ratio");
    if (v) {
        char *end = NULL;
        errno = 0;
        double r = strtod(v, &end);
        if (errno || end == v || *end || r == 0 || r != r)
            return cli_fail(EXIT_USAGE, "--max-ratio \"%s\": give a positive number (e.g. 500), or -1 for no limit",
                            v);
        *max_ratio = r;
    }
    return 0;
}

int cmd_pack(cli_args *a)
{
    const char *src = cli_get(a, "model"), *dest = cli_get(a, "archive");
    size_t used = 0;
    if (!src && a->npos > used)
        src = a->pos[used++];
    if (!dest && a->npos > used)
        dest = a->pos[used++];
    if (!src || a->npos > used)
        return cli_fail(EXIT_USAGE, "usage: smneo pack DIR [ARCHIVE] (or --model DIR --archive ARCHIVE)");
    char *def = NULL;
    if (!dest) {
        size_t len = strlen(src);
        while (len > 1 && src[len - 1] == '/')
            len--;
        if ((len == 1 && (src[0] == '.' || src[0] == '/')) || (len == 2 && !strncmp(src, "..", 2)))
            return cli_fail(EXIT_USAGE, "give the archive to write: smneo pack %s ARCHIVE", src);
        if (asprintf(&def, "%.*s.tar.gz", (int)len, src) < 0)
            return cli_fail(EXIT_OTHER, "out of memory");
        dest = def;
    }
    smneo_pack_options po = SMNEO_PACK_OPTIONS_INIT;
    const char *lv = cli_get(a, "level"), *th = cli_get(a, "threads");
    if (lv) {
        po.compress_level = atoi(lv);
        if (po.compress_level < 1 || po.compress_level > 9) {
            free(def);
            return cli_fail(EXIT_USAGE, "--level \"%s\": give 1 (fastest) to 9 (smallest)", lv);
        }
    }
    if (th) {
        po.threads = atoi(th);
        if (po.threads < 1) {
            free(def);
            return cli_fail(EXIT_USAGE, "--threads \"%s\": give a positive number", th);
        }
    }
    po.progress = on_bytes;
    po.payload = (void *)"packing";
    smneo_artifact_pack_result *r = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    int rc = smneo_artifact_pack(&r, src, dest, &po, &err);
    cli_progress_end();
    if (rc) {
        free(def);
        return done_with(rc, &err, "pack");
    }
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "Path", smneo_artifact_pack_result_path(r));
    cJSON_AddNumberToObject(doc, "Size", (double)smneo_artifact_pack_result_size(r));
    cJSON_AddStringToObject(doc, "Digest", smneo_artifact_pack_result_digest(r));
    cJSON_AddStringToObject(doc, "Algorithm", "blake2b-512");
    cli_print(a, doc);
    cJSON_Delete(doc);
    smneo_artifact_pack_result_free(r);
    free(def);
    return EXIT_OK;
}

int cmd_inspect(cli_args *a)
{
    if (a->npos != 1)
        return cli_fail(EXIT_USAGE, "usage: smneo inspect ARCHIVE [--framework NAME] [--target NAME]");
    smneo_inspect_options io = SMNEO_INSPECT_OPTIONS_INIT;
    io.framework = cli_get(a, "framework");
    io.target = cli_get(a, "target");
    io.compiler_options = cli_get(a, "compiler-options");
    if (read_limits(a, &io.max_bytes, &io.max_entries, &io.max_ratio))
        return EXIT_USAGE;
    io.progress = on_bytes;
    io.payload = (void *)"reading";
    smneo_artifact_inspection *in = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    int rc = smneo_artifact_inspect(&in, a->pos[0], &io, &err);
    cli_progress_end();
    if (rc)
        return done_with(rc, &err, "inspect");
    const smneo_issues *issues = smneo_artifact_inspection_issues(in);
    size_t errors = smneo_issues_error_count(issues);
    size_t n = smneo_artifact_inspection_member_count(in);
    cJSON *doc = cJSON_CreateObject();
    cJSON *members = cJSON_CreateArray();
    cJSON_AddStringToObject(doc, "Path", a->pos[0]);
    if (io.framework)
        cJSON_AddStringToObject(doc, "Framework", io.framework);
    cJSON_AddBoolToObject(doc, "Valid", errors == 0);
    cJSON_AddBoolToObject(doc, "SingleGzipMember", smneo_artifact_inspection_single_gzip_member(in));
    for (size_t i = 0; i < n; i++) {
        const smneo_artifact_member *m = smneo_artifact_inspection_member_at(in, i);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "Name", m->name);
        cJSON_AddStringToObject(o, "Type", smneo_member_type_name(m->type));
        cJSON_AddNumberToObject(o, "Size", (double)m->size);
        if (m->linkname)
            cJSON_AddStringToObject(o, "LinkName", m->linkname);
        cJSON_AddItemToArray(members, o);
    }
    cJSON_AddItemToObject(doc, "Members", members);
    cJSON_AddItemToObject(doc, "Issues", cli_issues_json(issues));
    if (a->json) {
        cli_print_json(doc);
    } else {
        static const char *const cols[] = {"Type", "Size", "Name", NULL};
        static const char *const heads[] = {"TYPE", "SIZE", "NAME", NULL};
        cli_print_table(members, cols, heads);
        size_t ni = smneo_issues_count(issues);
        for (size_t i = 0; i < ni; i++) {
            const smneo_issue *it = smneo_issues_at(issues, i);
            cli_line(stdout, "%s: %s%s%s [%s]", it->severity == SMNEO_SEVERITY_ERROR ? "error" : "warning",
                     it->path, *it->path ? ": " : "", it->message, it->rule);
        }
        if (io.framework)
            cli_line(stdout, "%s layout: %s", io.framework, errors ? "errors found" : "ok");
    }
    cJSON_Delete(doc);
    smneo_artifact_inspection_free(in);
    return errors ? EXIT_VALIDATION : EXIT_OK;
}

int cmd_extract(cli_args *a)
{
    const char *dest = cli_get(a, "output-dir");
    if (a->npos < 1 || a->npos > (dest ? 1u : 2u) || (!dest && a->npos != 2))
        return cli_fail(EXIT_USAGE, "usage: smneo extract ARCHIVE DIR (or --output-dir DIR)");
    if (!dest)
        dest = a->pos[1];
    smneo_extract_options eo = SMNEO_EXTRACT_OPTIONS_INIT;
    if (read_limits(a, &eo.max_bytes, &eo.max_entries, &eo.max_ratio))
        return EXIT_USAGE;
    eo.progress = on_bytes;
    eo.payload = (void *)"extracting";
    smneo_error err = SMNEO_ERROR_INIT;
    int rc = smneo_artifact_extract(a->pos[0], dest, &eo, &err);
    cli_progress_end();
    if (rc)
        return done_with(rc, &err, "extract");
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "Archive", a->pos[0]);
    cJSON_AddStringToObject(doc, "Directory", dest);
    cli_print(a, doc);
    cJSON_Delete(doc);
    return EXIT_OK;
}

int cmd_digest(cli_args *a)
{
    if (a->npos != 1)
        return cli_fail(EXIT_USAGE, "usage: smneo digest FILE [--algorithm NAME]");
    const char *alg = cli_get(a, "algorithm");
    smneo_digest_options d = SMNEO_DIGEST_OPTIONS_INIT;
    d.progress = on_bytes;
    d.payload = (void *)"hashing";
    char *hex = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    int rc = smneo_artifact_digest(&hex, a->pos[0], alg, &d, &err);
    cli_progress_end();
    if (rc)
        return done_with(rc, &err, "digest");
    if (a->json) {
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddStringToObject(doc, "Path", a->pos[0]);
        cJSON_AddStringToObject(doc, "Algorithm", alg ? alg : "blake2b");
        cJSON_AddStringToObject(doc, "Digest", hex);
        cli_print_json(doc);
        cJSON_Delete(doc);
    } else {
        cli_line(stdout, "%s  %s", hex, a->pos[0]); /* the b2sum / sha256sum layout */
    }
    free(hex);
    return EXIT_OK;
}

int cmd_verify(cli_args *a)
{
    const char *expected = cli_get(a, "expected");
    if (a->npos < 1 || (!expected && a->npos != 2) || (expected && a->npos != 1))
        return cli_fail(EXIT_USAGE, "usage: smneo verify FILE DIGEST (or --expected DIGEST)");
    if (!expected)
        expected = a->pos[1];
    smneo_digest_options d = SMNEO_DIGEST_OPTIONS_INIT;
    d.progress = on_bytes;
    d.payload = (void *)"hashing";
    smneo_error err = SMNEO_ERROR_INIT;
    int rc = smneo_artifact_verify(a->pos[0], expected, &d, &err);
    cli_progress_end();
    if (rc && rc != SMNEO_EDIGEST)
        return done_with(rc, &err, "verify");
    if (a->json) {
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddStringToObject(doc, "Path", a->pos[0]);
        cJSON_AddStringToObject(doc, "Expected", expected);
        cJSON_AddBoolToObject(doc, "Verified", rc == 0);
        if (rc)
            cJSON_AddStringToObject(doc, "Message", err.message ? err.message : "digest mismatch");
        cli_print_json(doc);
        cJSON_Delete(doc);
    } else if (rc == 0) {
        cli_line(stdout, "%s: OK", a->pos[0]);
    } else {
        cli_line(stdout, "%s: FAILED", a->pos[0]);
    }
    int code = rc ? cli_error(&err, rc, "verify") : EXIT_OK;
    smneo_error_clear(&err);
    return code;
}
