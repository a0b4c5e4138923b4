/* Lazy loading of libcurl and libarchive, for a front that does not link them.
 *
 * libcurl and libarchive bring large dependency trees (OpenSSL's libssl,
 * GSSAPI, LDAP, nghttp2, libssh2, libpsl, libidn2; libxml2 with ICU,
 * liblzma, libzstd, ...) whose loading and relocation is most of a short
 * process's start. A front that links this file instead of the two libraries
 * (the Python extension, the CLI) gets the functions the core calls from
 * them as stand-ins defined here, hidden: on the first call into a library
 * every one of its functions is resolved, under one pthread_once, from a
 * small module of the front's that links the library (smneo__lazy_open, in
 * the front: python/smneo/_lazy.c, cli/lazy.c). A process that never sends a
 * request, or never touches an archive, never loads them.
 *
 * When a module cannot be loaded, the entry points fail the way the library
 * would (curl_global_init returns CURLE_FAILED_INIT, archive_*_new NULL) and
 * curl_easy_strerror / archive_error_string carry the front's message, so
 * the core's ordinary error paths report it. Layout: docs/architecture.md,
 * "Lazy loading". */
#define CURL_DISABLE_TYPECHECK 1
#include <archive.h>
#include <archive_entry.h>
#include <curl/curl.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lazy_deps.h"

typedef struct {
    const char *lib; /* "curl", "archive" */
    pthread_once_t once;
    void *handle;
    int ok; /* every function resolved */
    char error[512];
} dep;

void *smneo__lazy_dlopen(const char *path, const char *what, char *error, size_t size)
{
    void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        const char *why = dlerror();
        snprintf(error, size, "smneo could not load %s (reinstall smneo): %s", what, why ? why : "unknown error");
    }
    return handle;
}

static void open_dep(dep *d)
{
    d->error[0] = '\0';
    d->handle = smneo__lazy_open(d->lib, d->error, sizeof d->error);
    if (!d->handle && !d->error[0])
        snprintf(d->error, sizeof d->error, "smneo could not load lib%s", d->lib);
}

/* The real function `name` from the loaded module's dependency tree, or NULL
 * with d->error set. */
static void *resolve(dep *d, const char *name)
{
    if (!d->handle)
        return NULL;
    void *f = dlsym(d->handle, name);
    if (!f && !d->error[0])
        snprintf(d->error, sizeof d->error, "smneo could not load lib%s: no symbol %s in the library", d->lib, name);
    return f;
}

/* Every function of a library is resolved at its first use, under one
 * pthread_once: the X-macro lists below are the functions the core calls
 * (nm -u on the core's objects); a missing one fails the link. LAZY_LIBRARY
 * writes everything for the library named LIB (curl, archive): its record
 * LIB_dep, a pointer p_<name> per function, LIB_load()
 * and the stand-ins of the non-variadic functions. */
#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define STR_(a) #a
#define STR(a) STR_(a)
#define LOAD() CAT(LIB, _load)()

#define DECLARE_PTR(ret, name, params, args, fail) static __typeof__(&name) p_##name;
#define DECLARE_PTR_V(name, params, args) static __typeof__(&name) p_##name;
#define RESOLVE(ret, name, params, args, fail) ok = (p_##name = (__typeof__(&name))resolve(d, #name)) && ok;
#define RESOLVE_V(name, params, args) ok = (p_##name = (__typeof__(&name))resolve(d, #name)) && ok;
#define STUB(ret, name, params, args, fail)                                                                     \
    ret name params                                                                                            \
    {                                                                                                          \
        if (!LOAD())                                                                                           \
            return fail;                                                                                       \
        return p_##name args;                                                                                  \
    }
#define STUB_V(name, params, args)                                                                             \
    void name params                                                                                           \
    {                                                                                                          \
        if (LOAD())                                                                                            \
            p_##name args;                                                                                     \
    }
/* a variadic stand-in: `call` forwards the va_list `ap` started after `last` */
#define STUB_VA(ret, name, params, last, fail, call)                                                           \
    ret name params                                                                                            \
    {                                                                                                          \
        if (!LOAD())                                                                                           \
            return fail;                                                                                       \
        va_list ap;                                                                                            \
        va_start(ap, last);                                                                                    \
        ret rc = call;                                                                                         \
        va_end(ap);                                                                                            \
        return rc;                                                                                             \
    }

#define LAZY_LIBRARY(FUNCTIONS, VARIADIC)                                                                      \
    static dep CAT(LIB, _dep) = {STR(LIB), PTHREAD_ONCE_INIT, NULL, 0, ""};                                \
    FUNCTIONS(DECLARE_PTR, DECLARE_PTR_V)                                                                      \
    VARIADIC(DECLARE_PTR, DECLARE_PTR_V)                                                                       \
    static void CAT(LIB, _open)(void)                                                                          \
    {                                                                                                          \
        dep *d = &CAT(LIB, _dep);                                                                              \
        open_dep(d);                                                                                           \
        int ok = 1;                                                                                            \
        FUNCTIONS(RESOLVE, RESOLVE_V)                                                                          \
        VARIADIC(RESOLVE, RESOLVE_V)                                                                           \
        d->ok = ok;                                                                                            \
    }                                                                                                          \
    static int CAT(LIB, _load)(void)                                                                           \
    {                                                                                                          \
        pthread_once(&CAT(LIB, _dep).once, CAT(LIB, _open));                                                   \
        return CAT(LIB, _dep).ok;                                                                              \
    }                                                                                                          \
    FUNCTIONS(STUB, STUB_V)

/* ---- libcurl --------------------------------------------------------------- */

#define CURL_FUNCTIONS(X, XV)                                                                                  \
    X(CURLcode, curl_global_init, (long flags), (flags), CURLE_FAILED_INIT)                                    \
    X(const char *, curl_easy_strerror, (CURLcode code), (code), curl_dep.error)                               \
    X(CURL *, curl_easy_init, (void), (), NULL)                                                                \
    XV(curl_easy_cleanup, (CURL * h), (h))                                                                     \
    XV(curl_easy_reset, (CURL * h), (h))                                                                       \
    X(CURLM *, curl_multi_init, (void), (), NULL)                                                              \
    X(CURLMcode, curl_multi_add_handle, (CURLM * m, CURL * h), (m, h), CURLM_INTERNAL_ERROR)                   \
    X(CURLMcode, curl_multi_remove_handle, (CURLM * m, CURL * h), (m, h), CURLM_INTERNAL_ERROR)                \
    X(CURLMcode, curl_multi_cleanup, (CURLM * m), (m), CURLM_INTERNAL_ERROR)                                   \
    X(CURLMsg *, curl_multi_info_read, (CURLM * m, int *left), (m, left), NULL)                                \
    X(CURLMcode, curl_multi_perform, (CURLM * m, int *running), (m, running), CURLM_INTERNAL_ERROR)            \
    X(CURLMcode, curl_multi_poll, (CURLM * m, struct curl_waitfd * fds, unsigned int nfds, int ms, int *ret),  \
      (m, fds, nfds, ms, ret), CURLM_INTERNAL_ERROR)                                                           \
    X(CURLMcode, curl_multi_socket_action, (CURLM * m, curl_socket_t s, int ev, int *running),                 \
      (m, s, ev, running), CURLM_INTERNAL_ERROR)                                                               \
    X(CURLSH *, curl_share_init, (void), (), NULL)                                                             \
    X(CURLSHcode, curl_share_cleanup, (CURLSH * sh), (sh), CURLSHE_INVALID)                                    \
    X(struct curl_slist *, curl_slist_append, (struct curl_slist * l, const char *s), (l, s), NULL)            \
    XV(curl_slist_free_all, (struct curl_slist * l), (l))
/* the variadic ones, forwarded by hand below */
#define CURL_VARIADIC(X, XV)                                                                                   \
    X(CURLcode, curl_easy_setopt, (), (), 0)                                                                   \
    X(CURLcode, curl_easy_getinfo, (), (), 0)                                                                  \
    X(CURLMcode, curl_multi_setopt, (), (), 0)                                                                 \
    X(CURLSHcode, curl_share_setopt, (), (), 0)

#define LIB curl
LAZY_LIBRARY(CURL_FUNCTIONS, CURL_VARIADIC)

/* An option's argument type is in its number (curl.h: CURLOPTTYPE_*), the
 * same for easy and multi options: a long, a pointer (object or function)
 * or a curl_off_t. */
#define FORWARD_OPTION(fn, handle, option, ap)                                                                 \
    ((option) < CURLOPTTYPE_OBJECTPOINT ? fn(handle, option, va_arg(ap, long))                                 \
     : (option) < CURLOPTTYPE_OFF_T     ? fn(handle, option, va_arg(ap, void *))                               \
     : (option) < CURLOPTTYPE_BLOB      ? fn(handle, option, va_arg(ap, curl_off_t))                           \
                                        : fn(handle, option, va_arg(ap, void *)))

STUB_VA(CURLcode, curl_easy_setopt, (CURL * h, CURLoption option, ...), option, CURLE_FAILED_INIT,
        FORWARD_OPTION(p_curl_easy_setopt, h, option, ap))
STUB_VA(CURLMcode, curl_multi_setopt, (CURLM * m, CURLMoption option, ...), option, CURLM_INTERNAL_ERROR,
        FORWARD_OPTION(p_curl_multi_setopt, m, option, ap))
/* every CURLINFO takes a pointer */
STUB_VA(CURLcode, curl_easy_getinfo, (CURL * h, CURLINFO info, ...), info, CURLE_FAILED_INIT,
        p_curl_easy_getinfo(h, info, va_arg(ap, void *)))
/* SHARE and UNSHARE take a curl_lock_data (an int through varargs), the rest
 * a pointer */
STUB_VA(CURLSHcode, curl_share_setopt, (CURLSH * sh, CURLSHoption option, ...), option, CURLSHE_INVALID,
        option == CURLSHOPT_SHARE || option == CURLSHOPT_UNSHARE
            ? p_curl_share_setopt(sh, option, va_arg(ap, int))
            : p_curl_share_setopt(sh, option, va_arg(ap, void *)))
#undef LIB

/* ---- libarchive ------------------------------------------------------------ */

#define ARCHIVE_FUNCTIONS(X, XV)                                                                               \
    X(struct archive *, archive_read_new, (void), (), NULL)                                                    \
    X(struct archive *, archive_write_new, (void), (), NULL)                                                   \
    X(struct archive *, archive_write_disk_new, (void), (), NULL)                                              \
    X(struct archive_entry *, archive_entry_new, (void), (), NULL)                                             \
    X(int, archive_read_free, (struct archive * a), (a), ARCHIVE_FATAL)                                        \
    X(int, archive_write_free, (struct archive * a), (a), ARCHIVE_FATAL)                                       \
    XV(archive_entry_free, (struct archive_entry * e), (e))                                                    \
    X(int, archive_errno, (struct archive * a), (a), 0)                                                        \
    X(const char *, archive_error_string, (struct archive * a), (a), archive_dep.error)                         \
    X(la_int64_t, archive_filter_bytes, (struct archive * a, int n), (a, n), -1)                               \
    X(int, archive_read_support_format_tar, (struct archive * a), (a), ARCHIVE_FATAL)                          \
    X(int, archive_read_open,                                                                                  \
      (struct archive * a, void *data, archive_open_callback *o, archive_read_callback *r,                      \
       archive_close_callback *c),                                                                             \
      (a, data, o, r, c), ARCHIVE_FATAL)                                                                       \
    X(int, archive_read_next_header, (struct archive * a, struct archive_entry * *e), (a, e), ARCHIVE_FATAL)   \
    X(int, archive_read_data_block, (struct archive * a, const void **buf, size_t *size, la_int64_t *offset),  \
      (a, buf, size, offset), ARCHIVE_FATAL)                                                                   \
    X(int, archive_read_data_skip, (struct archive * a), (a), ARCHIVE_FATAL)                                   \
    X(int, archive_write_set_format_pax_restricted, (struct archive * a), (a), ARCHIVE_FATAL)                  \
    X(int, archive_write_set_bytes_in_last_block, (struct archive * a, int n), (a, n), ARCHIVE_FATAL)          \
    X(int, archive_write_open2,                                                                                \
      (struct archive * a, void *data, archive_open_callback *o, archive_write_callback *w,                    \
       archive_close_callback *c, archive_free_callback *f),                                                   \
      (a, data, o, w, c, f), ARCHIVE_FATAL)                                                                    \
    X(int, archive_write_header, (struct archive * a, struct archive_entry * e), (a, e), ARCHIVE_FATAL)        \
    X(la_ssize_t, archive_write_data, (struct archive * a, const void *buf, size_t n), (a, buf, n), -1)        \
    X(la_ssize_t, archive_write_data_block, (struct archive * a, const void *buf, size_t n, la_int64_t off),   \
      (a, buf, n, off), -1)                                                                                    \
    X(int, archive_write_finish_entry, (struct archive * a), (a), ARCHIVE_FATAL)                               \
    X(int, archive_write_close, (struct archive * a), (a), ARCHIVE_FATAL)                                      \
    X(int, archive_write_disk_set_options, (struct archive * a, int flags), (a, flags), ARCHIVE_FATAL)         \
    X(struct archive_entry *, archive_entry_clear, (struct archive_entry * e), (e), NULL)                       \
    X(mode_t, archive_entry_filetype, (struct archive_entry * e), (e), 0)                                      \
    X(const char *, archive_entry_hardlink, (struct archive_entry * e), (e), NULL)                             \
    X(const char *, archive_entry_pathname, (struct archive_entry * e), (e), NULL)                             \
    X(const char *, archive_entry_symlink, (struct archive_entry * e), (e), NULL)                              \
    X(la_int64_t, archive_entry_size, (struct archive_entry * e), (e), 0)                                      \
    X(int, archive_entry_size_is_set, (struct archive_entry * e), (e), 0)                                      \
    XV(archive_entry_set_filetype, (struct archive_entry * e, unsigned int t), (e, t))                         \
    XV(archive_entry_set_gid, (struct archive_entry * e, la_int64_t g), (e, g))                                \
    XV(archive_entry_set_uid, (struct archive_entry * e, la_int64_t u), (e, u))                                \
    XV(archive_entry_set_hardlink, (struct archive_entry * e, const char *s), (e, s))                          \
    XV(archive_entry_set_pathname, (struct archive_entry * e, const char *s), (e, s))                          \
    XV(archive_entry_set_mtime, (struct archive_entry * e, time_t t, long ns), (e, t, ns))                     \
    XV(archive_entry_set_perm, (struct archive_entry * e, mode_t m), (e, m))                                   \
    XV(archive_entry_set_size, (struct archive_entry * e, la_int64_t n), (e, n))
#define ARCHIVE_VARIADIC(X, XV) XV(archive_set_error, (), ())

#define LIB archive
LAZY_LIBRARY(ARCHIVE_FUNCTIONS, ARCHIVE_VARIADIC)

/* formatted here, handed on as "%s" */
void archive_set_error(struct archive *a, int code, const char *fmt, ...)
{
    if (!archive_load())
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    p_archive_set_error(a, code, "%s", msg);
}
#undef LIB
