/* Private helpers shared by the core's modules. Not installed. */
#ifndef SMNEO_INTERNAL_H
#define SMNEO_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "smneo/common.h"

/* Growable byte buffer; data is always NUL-terminated when non-NULL. */
typedef struct smneo_buf {
    char *data;
    size_t len;
    size_t cap;
    int failed; /* an allocation failed: later appends are no-ops */
    int secret; /* may hold a secret: grown by copy and wipe (never realloc),
                   wiped when freed; detached data must be freed wiped */
    int borrowed; /* data is the caller's storage (smneo__buf_init_on): never
                     freed or realloc'd; outgrowing it moves to the heap */
} smneo_buf;

#define SMNEO_BUF_INIT {NULL, 0, 0, 0, 0, 0}
#define SMNEO_BUF_SECRET_INIT {NULL, 0, 0, 0, 1, 0}

/* An empty buffer writing into the caller's `storage` (cap bytes, usually
 * on the stack) until it needs more, then on the heap as any other: for
 * per-call scratch text, no allocation in the common case. secret: as
 * SMNEO_BUF_SECRET_INIT (the storage is wiped when freed). */
void smneo__buf_init_on(smneo_buf *b, char *storage, size_t cap, int secret);
int smneo__buf_grow(smneo_buf *b, size_t extra);
int smneo__buf_append(smneo_buf *b, const void *data, size_t len);
int smneo__buf_puts(smneo_buf *b, const char *s);
int smneo__buf_putc_slow(smneo_buf *b, char c);
/* One byte: stored in place when there is room (the common case, inline). */
static inline int smneo__buf_putc(smneo_buf *b, char c)
{
    if (!b->failed && b->len + 2 <= b->cap) {
        b->data[b->len++] = c;
        b->data[b->len] = '\0';
        return 0;
    }
    return smneo__buf_putc_slow(b, c);
}
int smneo__buf_printf(smneo_buf *b, const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Hands the data over (caller frees); the buffer is reset. NULL if failed. */
char *smneo__buf_detach(smneo_buf *b, size_t *len);
/* Appends s quoted as Python's repr() of a str prints it (single quotes
 * unless s holds one and no double quote; control characters as \n, \t,
 * \xNN), for messages worded as botocore's. */
int smneo__py_repr(smneo_buf *b, const char *s);
void smneo__buf_free(smneo_buf *b);

char *smneo__strdup(const char *s);            /* NULL -> NULL */
char *smneo__strndup(const char *s, size_t n);
char *smneo__aprintf(const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 1, 2)))
#endif
    ;
int smneo__strcaseeq(const char *a, const char *b);
/* Overwrites then frees a secret string. */
void smneo__free_secret(char *s);

/* 1 when url's authority (after "scheme://", up to the first '/', '?' or
 * '#') holds user information ("user:password@host"). */
int smneo__url_has_userinfo(const char *url);
/* Sets err for an endpoint URL with user information, naming where the URL
 * came from (source) and never quoting it: the password would be in the
 * message. Returns code. */
int smneo__userinfo_error(smneo_error *err, int code, const char *source);

/* Sets err (if non-NULL): clears it first, sets code and a formatted message.
 * Returns code, so `return smneo__error(err, SMNEO_EINVAL, "...")` works. */
int smneo__error(smneo_error *err, int code, const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 3, 4)))
#endif
    ;
int smneo__verror(smneo_error *err, int code, const char *fmt, va_list ap);

/* Environment lookup: NULL when unset or empty. */
const char *smneo__getenv(const char *name);
/* Length of the JSON whitespace text starts with: space, tab, LF, CR only
 * (RFC 8259, Python's json.loads); cJSON itself skips any byte up to 0x20. */
size_t smneo__json_space_len(const char *text, size_t len);
/* "true"/"1"/"yes" (case-insensitive) -> 1, "false"/"0"/"no" -> 0, else -1. */
int smneo__parse_bool(const char *s);

/* Clocks. */
int64_t smneo__now(void);           /* wall clock, epoch seconds */
int64_t smneo__monotonic_ms(void);  /* monotonic milliseconds */
void smneo__sleep_ms(long ms);

/* Hex encoding (lowercase). out must hold 2*len+1 bytes. */
void smneo__hex(char *out, const unsigned char *in, size_t len);
/* Value of one hex digit (either case) 0-15, or -1 for any other character. */
int smneo__hexval(int c);

/* Retry policies (client.c): the client's, and the credential chain's for
 * its STS, SSO and SSO-OIDC requests. */
enum { SMNEO__RETRY_STANDARD = 0, SMNEO__RETRY_LEGACY = 1, SMNEO__RETRY_ADAPTIVE = 2 };
typedef struct smneo__retry_policy {
    int mode;             /* SMNEO__RETRY_* */
    int max_attempts;     /* total attempts */
    int new_retries;      /* AWS_NEW_RETRIES_2026=true */
    double backoff_scale; /* multiplies delays (tests); 0: 1.0 */
} smneo__retry_policy;
/* Resolves mode and attempts from the options (NULL/0: unset), the
 * environment and the profile (client.c documents the order). */
int smneo__retry_resolve(smneo__retry_policy *p, const char *mode_opt, int attempts_opt, int botocore_defaults,
                         int defaults_mode_legacy, const char *profile, smneo_error *err);
/* 1 when a failure (rc, and e's http_status, service_code, retryable) is
 * retryable in the mode (s3: S3's extra legacy codes). */
int smneo__retry_retryable(int mode, int rc, const smneo_error *e, int s3);
/* Seconds to wait before attempt + 1 (unscaled); r uniform in [0, 1). */
double smneo__retry_backoff(const smneo__retry_policy *p, int throttled, int attempt, double r,
                            const char *retry_after);
/* Uniform jitter in [0, 1) from a xorshift state (any seed; not security). */
double smneo__jitter(uint64_t *state);

#endif
