/* The free() wrapper of freecheck.h. Only linked into a test binary that
 * uses it (and links with the --wrap options). */
#include "freecheck.h"

#include <curl/curl.h>
#include <errno.h>
#include <execinfo.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define FREECHECK_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FREECHECK_ASAN 1
#endif
#endif

void __real_free(void *p);
void *__real_realloc(void *p, size_t n);
void __real_curl_slist_free_all(struct curl_slist *list);

static const char *watched[8];
static size_t watched_count;
static _Thread_local int armed;
static int leaks;
static char first[512];

void freecheck_prepare(char **argv)
{
    void *frames[4];
    backtrace(frames, 4); /* loads what backtrace needs now, not inside free() */
#ifndef FREECHECK_ASAN
    const char *t = getenv("GLIBC_TUNABLES");
    if (t && strstr(t, "glibc.malloc.perturb"))
        return;
    char value[1024];
    snprintf(value, sizeof value, "%s%sglibc.malloc.tcache_count=0:glibc.malloc.perturb=165", t ? t : "",
             t ? ":" : "");
    setenv("GLIBC_TUNABLES", value, 1);
    execv("/proc/self/exe", argv);
    fprintf(stderr, "freecheck: cannot re-execute with GLIBC_TUNABLES (%s): stale heap bytes may be reported\n",
            strerror(errno));
#else
    (void)argv;
#endif
}

void freecheck_watch(const char *secret)
{
    if (watched_count < sizeof watched / sizeof watched[0])
        watched[watched_count++] = secret;
}

void freecheck_arm(int on) { armed = on; }

int freecheck_leaks(void) { return __atomic_load_n(&leaks, __ATOMIC_SEQ_CST); }

const char *freecheck_first(void) { return first; }

void freecheck_reset(void)
{
    __atomic_store_n(&leaks, 0, __ATOMIC_SEQ_CST);
    first[0] = '\0';
}

/* Records a leak of watched[w] at p[at] in a block of size n: the bytes
 * around it (the secret itself shown as <SECRET>) and a backtrace. */
static void record(const char *op, const unsigned char *p, size_t n, size_t at, size_t w)
{
    if (__atomic_fetch_add(&leaks, 1, __ATOMIC_SEQ_CST) != 0)
        return;
    int quiet = armed == FREECHECK_QUIET;
    size_t wl = strlen(watched[w]);
    size_t from = at > 48 ? at - 48 : 0, to = at + wl + 48 < n ? at + wl + 48 : n;
    size_t o = (size_t)snprintf(first, sizeof first, "%s of a %zu-byte block holding secret #%zu: \"", op, n, w);
    for (size_t i = from; i < to && o + 16 < sizeof first; i++) {
        if (i == at) {
            o += (size_t)snprintf(first + o, sizeof first - o, "<SECRET>");
            i += wl - 1;
        } else if (p[i] >= 0x20 && p[i] < 0x7f) {
            first[o++] = (char)p[i];
        } else {
            o += (size_t)snprintf(first + o, sizeof first - o, "\\x%02x", p[i]);
        }
    }
    snprintf(first + o, sizeof first - o, "\"");
    if (quiet)
        return;
    fprintf(stderr, "freecheck: %s (backtrace: addr2line -e <test binary> -f <offsets>)\n", first);
    void *frames[16];
    int k = backtrace(frames, 16);
    backtrace_symbols_fd(frames, k, 2);
}

static void check(const char *op, const void *p, size_t n)
{
    for (size_t w = 0; w < watched_count; w++) {
        const unsigned char *hit = memmem(p, n, watched[w], strlen(watched[w]));
        if (hit) {
            record(op, p, n, (size_t)(hit - (const unsigned char *)p), w);
            return;
        }
    }
}

void __wrap_free(void *p)
{
    if (p && armed)
        check("free", p, malloc_usable_size(p));
    __real_free(p);
}

/* realloc may move the block and free the old one unwiped: a block holding
 * a secret must be grown by copying and wiping instead. */
void *__wrap_realloc(void *p, size_t n)
{
    if (p && armed)
        check("realloc", p, malloc_usable_size(p));
    return __real_realloc(p, n);
}

/* libcurl copies each header line into the list and frees the copies. */
void __wrap_curl_slist_free_all(struct curl_slist *list)
{
    if (armed)
        for (struct curl_slist *l = list; l; l = l->next)
            if (l->data)
                check("curl_slist_free_all", l->data, strlen(l->data));
    __real_curl_slist_free_all(list);
}
