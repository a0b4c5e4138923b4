/* Small private helpers: buffers, strings, errors, clocks. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>

#include "internal.h"

int smneo__buf_grow(smneo_buf *b, size_t extra)
{
    if (b->failed)
        return SMNEO_ENOMEM;
    if (b->len + extra + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra + 1) {
        if (cap > SIZE_MAX / 2) {
            b->failed = 1;
            return SMNEO_ENOMEM;
        }
        cap *= 2;
    }
    char *p;
    if (b->borrowed) {
        /* the caller's storage is left where it is (wiped if secret) */
        p = malloc(cap);
        if (p) {
            memcpy(p, b->data, b->len + 1);
            if (b->secret)
                OPENSSL_cleanse(b->data, b->cap);
            b->borrowed = 0;
        }
    } else if (b->secret && b->data) {
        /* realloc could leave the old block behind unwiped */
        p = malloc(cap);
        if (p) {
            memcpy(p, b->data, b->len);
            OPENSSL_cleanse(b->data, b->cap);
            free(b->data);
        }
    } else {
        p = realloc(b->data, cap);
    }
    if (!p) {
        b->failed = 1;
        return SMNEO_ENOMEM;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

int smneo__buf_append(smneo_buf *b, const void *data, size_t len)
{
    if (smneo__buf_grow(b, len) != 0)
        return SMNEO_ENOMEM;
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return 0;
}

int smneo__buf_puts(smneo_buf *b, const char *s) { return smneo__buf_append(b, s, strlen(s)); }

int smneo__buf_putc_slow(smneo_buf *b, char c) { return smneo__buf_append(b, &c, 1); }

int smneo__buf_printf(smneo_buf *b, const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || smneo__buf_grow(b, (size_t)n) != 0) {
        va_end(ap2);
        if (n < 0)
            b->failed = 1;
        return SMNEO_ENOMEM;
    }
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    b->len += (size_t)n;
    return 0;
}

void smneo__buf_init_on(smneo_buf *b, char *storage, size_t cap, int secret)
{
    b->data = storage;
    b->data[0] = '\0';
    b->len = 0;
    b->cap = cap;
    b->failed = 0;
    b->secret = secret;
    b->borrowed = 1;
}

char *smneo__buf_detach(smneo_buf *b, size_t *len)
{
    char *d = NULL;
    if (!b->failed && b->borrowed) {
        d = smneo__strndup(b->data, b->len);
        if (d && len)
            *len = b->len;
    } else if (!b->failed) {
        if (!b->data)
            smneo__buf_grow(b, 0);
        if (!b->failed) {
            d = b->data;
            b->data[b->len] = '\0';
            if (len)
                *len = b->len;
            b->data = NULL;
        }
    }
    smneo__buf_free(b);
    return d;
}

void smneo__buf_free(smneo_buf *b)
{
    if (b->secret && b->data)
        OPENSSL_cleanse(b->data, b->cap);
    if (!b->borrowed)
        free(b->data);
    b->data = NULL;
    b->borrowed = 0;
    b->len = b->cap = 0;
    b->failed = 0;
}

char *smneo__strdup(const char *s)
{
    if (!s)
        return NULL;
    return smneo__strndup(s, strlen(s));
}

char *smneo__strndup(const char *s, size_t n)
{
    if (!s)
        return NULL;
    char *p = malloc(n + 1);
    if (!p)
        return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *smneo__aprintf(const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        va_end(ap2);
        return NULL;
    }
    char *p = malloc((size_t)n + 1);
    if (p)
        vsnprintf(p, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    return p;
}

int smneo__strcaseeq(const char *a, const char *b)
{
    return a && b && strcasecmp(a, b) == 0;
}

void smneo__free_secret(char *s)
{
    if (!s)
        return;
    OPENSSL_cleanse(s, strlen(s)); /* not optimised away, unlike memset */
    free(s);
}

const char *smneo_version(void) { return SMNEO_VERSION; }

size_t smneo__json_space_len(const char *text, size_t len)
{
    size_t i = 0;
    while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r'))
        i++;
    return i;
}

const char *smneo__getenv(const char *name)
{
    const char *v = getenv(name);
    return (v && *v) ? v : NULL;
}

int smneo__parse_bool(const char *s)
{
    if (!s)
        return -1;
    if (!strcasecmp(s, "true") || !strcmp(s, "1") || !strcasecmp(s, "yes"))
        return 1;
    if (!strcasecmp(s, "false") || !strcmp(s, "0") || !strcasecmp(s, "no"))
        return 0;
    return -1;
}

int64_t smneo__now(void) { return (int64_t)time(NULL); }

int64_t smneo__monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void smneo__sleep_ms(long ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

void smneo__hex(char *out, const unsigned char *in, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * len] = '\0';
}

int smneo__hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int smneo__py_repr(smneo_buf *b, const char *s)
{
    char q = strchr(s, '\'') && !strchr(s, '"') ? '"' : '\'';
    smneo__buf_putc(b, q);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '\\' || *p == (unsigned char)q) {
            smneo__buf_putc(b, '\\');
            smneo__buf_putc(b, (char)*p);
        } else if (*p == '\n') {
            smneo__buf_puts(b, "\\n");
        } else if (*p == '\r') {
            smneo__buf_puts(b, "\\r");
        } else if (*p == '\t') {
            smneo__buf_puts(b, "\\t");
        } else if (*p < 0x20 || *p == 0x7f) {
            smneo__buf_printf(b, "\\x%02x", *p);
        } else {
            smneo__buf_putc(b, (char)*p);
        }
    }
    return smneo__buf_putc(b, q);
}
