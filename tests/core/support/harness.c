#include "harness.h"

#include <ftw.h>
#include <stdlib.h>
#include <unistd.h>

int smneo_test_passed = 0;
int smneo_test_failed = 0;

int smneo_test_summary(const char *suite)
{
    printf("%s: %d passed, %d failed\n", suite, smneo_test_passed, smneo_test_failed);
    return smneo_test_failed == 0 && smneo_test_passed > 0 ? 0 : 1;
}

const char *smneo_test_fixture(const char *rel)
{
    static char buf[4096];
    const char *root = getenv("SMNEO_FIXTURES");
    snprintf(buf, sizeof buf, "%s/%s", root ? root : "tests/fixtures", rel);
    return buf;
}

char *smneo_test_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *data = malloc(cap);
    while (data) {
        size_t r = fread(data + n, 1, cap - n - 1, f);
        n += r;
        if (r == 0)
            break;
        if (cap - n - 1 == 0) {
            char *p = realloc(data, cap * 2);
            if (!p) {
                free(data);
                data = NULL;
                break;
            }
            data = p;
            cap *= 2;
        }
    }
    fclose(f);
    if (data) {
        data[n] = '\0';
        if (len)
            *len = n;
    }
    return data;
}

int smneo_test_write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        return -1;
    }
    int ok = fwrite(data, 1, len, f) == len;
    if (fclose(f) != 0)
        ok = 0;
    if (!ok)
        perror(path);
    return ok ? 0 : -1;
}

char *smneo_test_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    char tmpl[4096];
    snprintf(tmpl, sizeof tmpl, "%s/smneo-test-XXXXXX", base ? base : "/tmp");
    if (!mkdtemp(tmpl))
        return NULL;
    return strdup(tmpl);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st; (void)flag; (void)ftw;
    return remove(path);
}

void smneo_test_rmtree(const char *path)
{
    if (path)
        nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int smneo_test_append(void *payload, const char *text)
{
    char **s = payload;
    size_t a = *s ? strlen(*s) : 0, b = strlen(text);
    char *p = realloc(*s, a + b + 1);
    if (!p)
        return 1;
    memcpy(p + a, text, b + 1);
    *s = p;
    return 0;
}
