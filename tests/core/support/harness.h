/* Minimal test harness for the C suites: CHECK macros and a summary line
 * ("N passed, N failed") that CI reads. */
#ifndef SMNEO_TEST_HARNESS_H
#define SMNEO_TEST_HARNESS_H

#include <stdio.h>
#include <string.h>

extern int smneo_test_passed;
extern int smneo_test_failed;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (cond) {                                                                  \
            smneo_test_passed++;                                                     \
        } else {                                                                     \
            smneo_test_failed++;                                                     \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                            \
    } while (0)

#define CHECK_MSG(cond, ...)                                                         \
    do {                                                                             \
        if (cond) {                                                                  \
            smneo_test_passed++;                                                     \
        } else {                                                                     \
            smneo_test_failed++;                                                     \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                            \
            fputc('\n', stderr);                                                     \
        }                                                                            \
    } while (0)

#define CHECK_INT(a, b)                                                                          \
    do {                                                                                         \
        long long va_ = (long long)(a), vb_ = (long long)(b);                                    \
        CHECK_MSG(va_ == vb_, "%s = %lld, expected %lld", #a, va_, vb_);                         \
    } while (0)

#define CHECK_STR(a, b)                                                                          \
    do {                                                                                         \
        const char *sa_ = (a), *sb_ = (b);                                                       \
        CHECK_MSG(sa_ && sb_ && strcmp(sa_, sb_) == 0, "%s = \"%s\", expected \"%s\"", #a,        \
                  sa_ ? sa_ : "(null)", sb_ ? sb_ : "(null)");                                   \
    } while (0)

/* Runs a test function and reports its name when it fails. */
#define RUN(fn)                                                                      \
    do {                                                                             \
        int before_ = smneo_test_failed;                                             \
        fn();                                                                        \
        if (smneo_test_failed != before_)                                            \
            fprintf(stderr, "FAILED: %s\n", #fn);                                    \
    } while (0)

/* Prints the summary; returns the process exit code. */
int smneo_test_summary(const char *suite);

/* Path of a fixture: $SMNEO_FIXTURES/rel (static buffer, overwritten by the next call). */
const char *smneo_test_fixture(const char *rel);
/* Reads a whole file (caller frees); NULL on error. len may be NULL. */
char *smneo_test_read_file(const char *path, size_t *len);
/* Writes len bytes to path (created or truncated); 0, or -1 with the reason on stderr. */
int smneo_test_write_file(const char *path, const void *data, size_t len);
/* Makes a fresh temporary directory (caller frees the string; removes nothing). */
char *smneo_test_tmpdir(void);
/* Appends text to a heap string *(char **)payload (visitor helpers); returns 0. */
int smneo_test_append(void *payload, const char *text);
/* rm -rf of a directory made by smneo_test_tmpdir. */
void smneo_test_rmtree(const char *path);

#endif
