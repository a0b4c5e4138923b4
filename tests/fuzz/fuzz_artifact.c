/* libFuzzer target for the artifact reader: inspect (with a framework's
 * layout checks) and safe extraction of arbitrary bytes.
 * Input: byte 0 picks the framework (or none), the rest is the archive.
 * Invariants checked: no crash / sanitizer report; extraction either
 * succeeds inside its own directory or leaves nothing behind. */
#include <dirent.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "smneo.h"

static char dir[256];
static char file[300];
static char dest[300];

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int count_entries(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        n += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
    closedir(d);
    return n;
}

static void cleanup(void)
{
    if (dir[0])
        nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const fw[] = {NULL,     "PYTORCH", "TENSORFLOW", "KERAS",   "MXNET",
                                     "ONNX",   "TFLITE",  "XGBOOST",    "DARKNET", "SKLEARN"};
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/smneo-fuzz-artifact-%ld-XXXXXX", (long)getpid());
        if (!mkdtemp(dir))
            abort();
        snprintf(file, sizeof file, "%s/in.tar.gz", dir);
        snprintf(dest, sizeof dest, "%s/out", dir);
        atexit(cleanup);
    }
    if (size < 1)
        return 0;
    FILE *f = fopen(file, "wb");
    if (!f)
        abort();
    fwrite(data + 1, 1, size - 1, f);
    fclose(f);

    smneo_inspect_options io = SMNEO_INSPECT_OPTIONS_INIT;
    io.framework = fw[data[0] % 10];
    io.compiler_options = data[0] & 0x80 ? "{\"class_labels\": \"labels.txt\"}" : NULL;
    io.max_entries = 1000;
    smneo_error err = SMNEO_ERROR_INIT;
    smneo_artifact_inspection *in = NULL;
    if (smneo_artifact_inspect(&in, file, &io, &err) == 0) {
        size_t n = smneo_artifact_inspection_member_count(in);
        for (size_t i = 0; i < n; i++) {
            const smneo_artifact_member *m = smneo_artifact_inspection_member_at(in, i);
            if (!m || !m->name || !smneo_member_type_name(m->type))
                abort();
        }
        const smneo_issues *is = smneo_artifact_inspection_issues(in);
        for (size_t i = 0; i < smneo_issues_count(is); i++)
            if (!smneo_issues_at(is, i)->message)
                abort();
    }
    smneo_artifact_inspection_free(in);
    smneo_error_clear(&err);

    smneo_extract_options eo = SMNEO_EXTRACT_OPTIONS_INIT;
    eo.max_bytes = 4 << 20;
    eo.max_entries = 1000;
    int rc = smneo_artifact_extract(file, dest, &eo, &err);
    /* On failure only the input file may remain in dir. */
    if (rc != 0 && count_entries(dir) != 1)
        abort();
    if (rc != 0 && !err.message)
        abort();
    smneo_error_clear(&err);
    nftw(dest, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}
