/* AWS Signature Version 4, header signing, and the credentials value.
 *
 * The canonical request follows the AWS documentation ("Create a canonical
 * request for Signature Version 4"):
 *
 *   METHOD \n CanonicalURI \n CanonicalQuery \n CanonicalHeaders \n
 *   SignedHeaders \n PayloadHash
 *
 * Path: for every service but S3 the path as sent (already URI-encoded) is
 * encoded once more, after dot-segment removal and collapsing of empty
 * segments when normalize_path is on. S3 ("s3*" services) signs the path as
 * sent, whatever normalize_path says. Query: parameters are percent-decoded,
 * re-encoded with the RFC 3986 unreserved set and sorted by encoded name,
 * then value. Headers: lowercase names, values trimmed with runs of
 * whitespace (including folded line breaks) collapsed to one space, repeated
 * names joined with ",". Where the AWS suite leaves a choice open (trailing
 * slash after "..", empty query pairs), botocore's behaviour is followed.
 *
 * The derived signing key is cached per (secret, date, region, service); the
 * cache is indexed by a SHA-256 of those four, never by the secret itself. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "crypto.h"
#include "internal.h"
#include "options_internal.h"
#include "sigv4.h"
#include "smneo/auth.h"

#define SIGV4_ALGORITHM "AWS4-HMAC-SHA256"
#define AMZ_DATE_LEN 16 /* yyyymmddThhmmssZ */

/* ---- credentials -------------------------------------------------------- */

int smneo_credentials_new(smneo_credentials **out, const char *access_key_id, const char *secret_access_key,
                          const char *session_token)
{
    if (!out)
        return SMNEO_EINVAL;
    *out = NULL;
    if (!access_key_id || !secret_access_key)
        return SMNEO_EINVAL;
    smneo_credentials *c = calloc(1, sizeof *c);
    if (!c)
        return SMNEO_ENOMEM;
    c->access_key_id = smneo__strdup(access_key_id);
    c->secret_access_key = smneo__strdup(secret_access_key);
    /* An empty token (AWS_SESSION_TOKEN="") means "no token". */
    c->session_token = (session_token && *session_token) ? smneo__strdup(session_token) : NULL;
    c->source = smneo__strdup("explicit");
    if (!c->access_key_id || !c->secret_access_key || !c->source ||
        (session_token && *session_token && !c->session_token)) {
        smneo_credentials_free(c);
        return SMNEO_ENOMEM;
    }
    *out = c;
    return 0;
}

int smneo_credentials_copy(smneo_credentials **out, const smneo_credentials *src)
{
    if (!out)
        return SMNEO_EINVAL;
    *out = NULL;
    if (!src || !src->access_key_id || !src->secret_access_key)
        return SMNEO_EINVAL;
    smneo_credentials *c = calloc(1, sizeof *c);
    if (!c)
        return SMNEO_ENOMEM;
    c->access_key_id = smneo__strdup(src->access_key_id);
    c->secret_access_key = smneo__strdup(src->secret_access_key);
    c->session_token = smneo__strdup(src->session_token);
    c->source = smneo__strdup(src->source);
    c->expiration = src->expiration;
    if (!c->access_key_id || !c->secret_access_key || (src->session_token && !c->session_token) ||
        (src->source && !c->source)) {
        smneo_credentials_free(c);
        return SMNEO_ENOMEM;
    }
    *out = c;
    return 0;
}

void smneo_credentials_free(smneo_credentials *c)
{
    if (!c)
        return;
    smneo__free_secret(c->access_key_id);
    smneo__free_secret(c->secret_access_key);
    smneo__free_secret(c->session_token);
    free(c->source);
    free(c);
}

/* ---- derived signing key cache ------------------------------------------ */

typedef struct key_slot {
    int used;
    uint64_t tick;                          /* last use, for LRU replacement */
    unsigned char id[SMNEO_SHA256_LEN];     /* SHA-256(secret \0 date \0 region \0 service) */
    smneo__hmac_key key;                    /* the derived key, prepared for HMAC */
} key_slot;

static pthread_mutex_t g_cache_lock = PTHREAD_MUTEX_INITIALIZER;
static key_slot g_cache[SMNEO__SIGV4_CACHE_SLOTS];
static uint64_t g_cache_tick, g_cache_hits, g_cache_misses;

void smneo__sigv4_cache_stats_get(smneo__sigv4_cache_stats *out)
{
    pthread_mutex_lock(&g_cache_lock);
    out->hits = g_cache_hits;
    out->misses = g_cache_misses;
    pthread_mutex_unlock(&g_cache_lock);
}

void smneo__sigv4_cache_reset(void)
{
    pthread_mutex_lock(&g_cache_lock);
    smneo__wipe(g_cache, sizeof g_cache);
    g_cache_tick = g_cache_hits = g_cache_misses = 0;
    pthread_mutex_unlock(&g_cache_lock);
}

static int cache_lookup(const unsigned char id[SMNEO_SHA256_LEN], smneo__hmac_key *key)
{
    int found = 0;
    pthread_mutex_lock(&g_cache_lock);
    for (size_t i = 0; i < SMNEO__SIGV4_CACHE_SLOTS; i++) {
        if (g_cache[i].used && memcmp(g_cache[i].id, id, SMNEO_SHA256_LEN) == 0) {
            *key = g_cache[i].key;
            g_cache[i].tick = ++g_cache_tick;
            found = 1;
            break;
        }
    }
    if (found)
        g_cache_hits++;
    else
        g_cache_misses++;
    pthread_mutex_unlock(&g_cache_lock);
    return found;
}

static void cache_store(const unsigned char id[SMNEO_SHA256_LEN], const smneo__hmac_key *key)
{
    pthread_mutex_lock(&g_cache_lock);
    key_slot *victim = &g_cache[0];
    for (size_t i = 0; i < SMNEO__SIGV4_CACHE_SLOTS; i++) {
        key_slot *s = &g_cache[i];
        if (s->used && memcmp(s->id, id, SMNEO_SHA256_LEN) == 0) {
            victim = s; /* another thread derived it meanwhile */
            break;
        }
        if (!s->used) {
            if (victim->used)
                victim = s;
        } else if (victim->used && s->tick < victim->tick) {
            victim = s;
        }
    }
    victim->used = 1;
    victim->tick = ++g_cache_tick;
    memcpy(victim->id, id, SMNEO_SHA256_LEN);
    victim->key = *key;
    pthread_mutex_unlock(&g_cache_lock);
}

/* kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request") */
static int signing_key(smneo__hmac_key *out, const char *secret, const char *date,
                       const char *region, const char *service)
{
    size_t slen = strlen(secret), dlen = strlen(date), rlen = strlen(region), svlen = strlen(service);
    unsigned char id[SMNEO_SHA256_LEN];
    size_t idlen = slen + dlen + rlen + svlen + 3;
    char small[512];
    char *idsrc = idlen <= sizeof small ? small : malloc(idlen);
    if (!idsrc)
        return SMNEO_ENOMEM;
    char *p = idsrc;
    memcpy(p, secret, slen + 1);
    p += slen + 1;
    memcpy(p, date, dlen + 1);
    p += dlen + 1;
    memcpy(p, region, rlen + 1);
    p += rlen + 1;
    memcpy(p, service, svlen);
    int rc = smneo__sha256(id, idsrc, idlen);
    smneo__wipe(idsrc, idlen);
    if (idsrc != small)
        free(idsrc);
    if (rc)
        return rc;
    if (cache_lookup(id, out))
        return 0;

    size_t klen = slen + 4;
    char *k = malloc(klen);
    if (!k)
        return SMNEO_ENOMEM;
    memcpy(k, "AWS4", 4);
    memcpy(k + 4, secret, slen);
    unsigned char a[SMNEO_SHA256_LEN], b[SMNEO_SHA256_LEN];
    rc = smneo__hmac_sha256(a, k, klen, date, dlen);
    if (!rc)
        rc = smneo__hmac_sha256(b, a, sizeof a, region, rlen);
    if (!rc)
        rc = smneo__hmac_sha256(a, b, sizeof b, service, svlen);
    if (!rc)
        rc = smneo__hmac_sha256(b, a, sizeof a, "aws4_request", 12);
    if (!rc)
        rc = smneo__hmac_key_init(out, b, sizeof b);
    smneo__wipe(k, klen);
    free(k);
    smneo__wipe(a, sizeof a);
    smneo__wipe(b, sizeof b);
    if (!rc)
        cache_store(id, out);
    return rc;
}

/* ---- encoding helpers --------------------------------------------------- */

static const char HEXU[] = "0123456789ABCDEF";

static int is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
           c == '_' || c == '~';
}

/* RFC 3986 encoding of s[0..n): everything but the unreserved set (and '/'
 * when keep_slash) becomes %XX with uppercase hex. */
static void put_encoded(smneo_buf *b, const char *s, size_t n, int keep_slash)
{
    if (smneo__buf_grow(b, 3 * n) != 0)
        return;
    char *o = b->data + b->len;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (is_unreserved(c) || (keep_slash && c == '/')) {
            *o++ = (char)c;
        } else {
            *o++ = '%';
            *o++ = HEXU[c >> 4];
            *o++ = HEXU[c & 15];
        }
    }
    b->len = (size_t)(o - b->data);
    b->data[b->len] = '\0';
}

/* Percent-decodes s[0..n) into out (which holds at least n bytes); returns
 * the decoded length. A '%' not followed by two hex digits stays literal;
 * '+' stays '+' (AWS query encoding uses %20 for a space). */
static size_t percent_decode(char *out, const char *s, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int hi, lo;
        if (s[i] == '%' && i + 2 < n && (hi = smneo__hexval(s[i + 1])) >= 0 && (lo = smneo__hexval(s[i + 2])) >= 0) {
            out[o++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    return o;
}

/* ---- canonical URI ------------------------------------------------------ */

typedef struct segment {
    const char *p;
    size_t n;
} segment;

static int put_canonical_uri(smneo_buf *b, const char *path, size_t n, int normalize, int encode)
{
    if (n == 0) {
        smneo__buf_putc(b, '/');
        return 0;
    }
    if (!normalize) {
        if (encode)
            put_encoded(b, path, n, 1);
        else
            smneo__buf_append(b, path, n);
        return 0;
    }
    /* Dot segments removed, empty segments ("//") dropped. The result ends in
     * '/' only when the path did (so "/a/b/.." is "/a", not RFC 3986's
     * "/a/"), as botocore and the AWS SDK for Rust sign it. */
    segment small[32];
    size_t cap = n / 2 + 1, count = 0;
    segment *seg = cap <= 32 ? small : malloc(cap * sizeof *seg);
    if (!seg)
        return SMNEO_ENOMEM;
    int trailing = path[n - 1] == '/';
    size_t i = 0;
    while (i < n) {
        while (i < n && path[i] == '/')
            i++;
        size_t start = i;
        while (i < n && path[i] != '/')
            i++;
        size_t len = i - start;
        if (len == 0)
            break;
        if (len == 1 && path[start] == '.') {
            continue;
        } else if (len == 2 && path[start] == '.' && path[start + 1] == '.') {
            if (count)
                count--;
        } else {
            seg[count].p = path + start;
            seg[count].n = len;
            count++;
        }
    }
    for (size_t k = 0; k < count; k++) {
        smneo__buf_putc(b, '/');
        if (encode)
            put_encoded(b, seg[k].p, seg[k].n, 0);
        else
            smneo__buf_append(b, seg[k].p, seg[k].n);
    }
    if (count == 0 || trailing)
        smneo__buf_putc(b, '/');
    if (seg != small)
        free(seg);
    return 0;
}

/* ---- canonical query string --------------------------------------------- */

typedef struct qparam {
    size_t k, kn, v, vn; /* offsets into the encoded-text buffer */
} qparam;

static int cmp_bytes(const char *a, size_t an, const char *b, size_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);
    if (c)
        return c;
    return an < bn ? -1 : an > bn;
}

/* Insertion sort: query strings are short, and this keeps the comparator
 * free of global state. */
static void sort_params(qparam *p, size_t n, const char *t)
{
    for (size_t i = 1; i < n; i++) {
        qparam x = p[i];
        size_t j = i;
        while (j > 0) {
            qparam *y = &p[j - 1];
            int c = cmp_bytes(t + y->k, y->kn, t + x.k, x.kn);
            if (c == 0)
                c = cmp_bytes(t + y->v, y->vn, t + x.v, x.vn);
            if (c <= 0)
                break;
            p[j] = *y;
            j--;
        }
        p[j] = x;
    }
}

static int put_canonical_query(smneo_buf *out, const char *q, size_t n)
{
    if (n == 0)
        return 0;
    size_t nparams = 1;
    for (size_t i = 0; i < n; i++)
        nparams += q[i] == '&';
    qparam *params = malloc(nparams * sizeof *params);
    char *dec = malloc(n + 1);
    smneo_buf text = SMNEO_BUF_INIT;
    if (!params || !dec || smneo__buf_grow(&text, 3 * n) != 0) {
        free(params);
        free(dec);
        smneo__buf_free(&text);
        return SMNEO_ENOMEM;
    }
    size_t count = 0, i = 0;
    while (i <= n) {
        size_t start = i;
        while (i < n && q[i] != '&')
            i++;
        size_t len = i - start;
        i++; /* past '&' (or past the end) */
        /* An empty pair ("a=1&&b=2", a trailing '&') is kept as "=", as
         * botocore signs it. */
        const char *item = q + start;
        const char *eq = memchr(item, '=', len);
        size_t kl = eq ? (size_t)(eq - item) : len;
        qparam *p = &params[count++];
        size_t dn = percent_decode(dec, item, kl);
        p->k = text.len;
        put_encoded(&text, dec, dn, 0);
        p->kn = text.len - p->k;
        dn = eq ? percent_decode(dec, eq + 1, len - kl - 1) : 0;
        p->v = text.len;
        put_encoded(&text, dec, dn, 0);
        p->vn = text.len - p->v;
    }
    int rc = text.failed ? SMNEO_ENOMEM : 0;
    if (!rc) {
        sort_params(params, count, text.data);
        for (size_t k = 0; k < count; k++) {
            if (k)
                smneo__buf_putc(out, '&');
            smneo__buf_append(out, text.data + params[k].k, params[k].kn);
            smneo__buf_putc(out, '=');
            smneo__buf_append(out, text.data + params[k].v, params[k].vn);
        }
    }
    free(params);
    free(dec);
    smneo__buf_free(&text);
    return rc;
}

/* ---- canonical headers -------------------------------------------------- */

/* Headers that proxies and transports may change or drop: never signed
 * (botocore 1.43's SIGNED_HEADERS_BLACKLIST, plus Authorization itself).
 * `name` is already lowercase. */
static int unsigned_header(const char *name, size_t n)
{
    static const struct {
        const char *s;
        size_t n;
    } skip[] = {{"authorization", 13}, {"connection", 10}, {"expect", 6}, {"keep-alive", 10},
                {"proxy-authenticate", 18}, {"proxy-authorization", 19}, {"te", 2}, {"trailer", 7},
                {"transfer-encoding", 17}, {"upgrade", 7}, {"user-agent", 10}, {"x-amzn-trace-id", 15}};
    for (size_t i = 0; i < sizeof skip / sizeof skip[0]; i++)
        if (skip[i].n == n && skip[i].s[0] == name[0] && !memcmp(skip[i].s, name, n))
            return 1;
    return 0;
}

typedef struct chdr {
    size_t name, name_len, value, value_len, index;
} chdr;

static int is_ws(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f'; }

/* Stable by construction: ties are broken by the original position. */
static void sort_headers(chdr *h, size_t n, const char *t)
{
    for (size_t i = 1; i < n; i++) {
        chdr x = h[i];
        size_t j = i;
        while (j > 0) {
            chdr *y = &h[j - 1];
            int c = cmp_bytes(t + y->name, y->name_len, t + x.name, x.name_len);
            if (c < 0 || (c == 0 && y->index < x.index))
                break;
            h[j] = *y;
            j--;
        }
        h[j] = x;
    }
}

/* Appends "name:value\n" lines to `creq` and "a;b;c" to `signed_headers`.
 * wipe: the headers hold a session token; wipe the scratch copy. */
static int put_canonical_headers(smneo_buf *creq, smneo_buf *signed_headers, const smneo_request *req, int wipe)
{
    size_t total = 0;
    for (size_t i = 0; i < req->header_count; i++)
        total += strlen(req->headers[i].name) + strlen(req->headers[i].value) + 2;
    chdr small[24];
    char small_text[2048];
    chdr *h = req->header_count <= 24 ? small : malloc(req->header_count * sizeof *h);
    char *text = total + 1 <= sizeof small_text ? small_text : malloc(total + 1);
    int rc = (!h || !text) ? SMNEO_ENOMEM : 0;
    size_t n = 0, o = 0;
    for (size_t i = 0; !rc && i < req->header_count; i++) {
        const char *name = req->headers[i].name, *value = req->headers[i].value;
        chdr *e = &h[n];
        e->index = i;
        e->name = o;
        for (const char *p = name; *p; p++)
            text[o++] = (*p >= 'A' && *p <= 'Z') ? (char)(*p + 32) : *p;
        e->name_len = o - e->name;
        if (unsigned_header(text + e->name, e->name_len)) {
            o = e->name;
            continue;
        }
        n++;
        e->value = o;
        const char *p = value;
        while (is_ws(*p))
            p++;
        int pending_space = 0;
        for (; *p; p++) {
            if (is_ws(*p)) {
                pending_space = 1;
                continue;
            }
            if (pending_space) {
                text[o++] = ' ';
                pending_space = 0;
            }
            text[o++] = *p;
        }
        e->value_len = o - e->value;
    }
    /* Everything is copied once into room reserved up front: each line is
     * name, ':', value(s) with ',' between, '\n'. */
    if (!rc && (smneo__buf_grow(creq, o + 2 * n + 1) != 0 || smneo__buf_grow(signed_headers, o + n + 1) != 0))
        rc = SMNEO_ENOMEM;
    if (!rc) {
        sort_headers(h, n, text);
        char *c = creq->data + creq->len, *s = signed_headers->data + signed_headers->len;
        for (size_t i = 0; i < n; i++) {
            const chdr *e = &h[i];
            if (i > 0 && cmp_bytes(text + h[i - 1].name, h[i - 1].name_len, text + e->name, e->name_len) == 0) {
                *c++ = ',';
            } else {
                if (i > 0) {
                    *c++ = '\n';
                    *s++ = ';';
                }
                memcpy(c, text + e->name, e->name_len);
                c += e->name_len;
                *c++ = ':';
                memcpy(s, text + e->name, e->name_len);
                s += e->name_len;
            }
            memcpy(c, text + e->value, e->value_len);
            c += e->value_len;
        }
        if (n)
            *c++ = '\n';
        creq->len = (size_t)(c - creq->data);
        creq->data[creq->len] = '\0';
        signed_headers->len = (size_t)(s - signed_headers->data);
        signed_headers->data[signed_headers->len] = '\0';
    }
    if (h && h != small)
        free(h);
    if (text && wipe)
        smneo__wipe(text, o);
    if (text && text != small_text)
        free(text);
    return rc;
}

/* ---- request preparation ------------------------------------------------ */

/* Like smneo__free_secret, with a memset-speed wipe (this runs per request). */
static void free_wiped(char *s)
{
    if (s) {
        smneo__wipe(s, strlen(s));
        free(s);
    }
}

static void drop_header(smneo_header *h)
{
    smneo__wipe(h->value, strlen(h->value)); /* Authorization, a session token */
    free(h->value);
    free(h->name);
}

static void remove_headers(smneo_request *req, const char *name)
{
    size_t o = 0;
    for (size_t i = 0; i < req->header_count; i++) {
        if (!strcasecmp(req->headers[i].name, name))
            drop_header(&req->headers[i]);
        else
            req->headers[o++] = req->headers[i];
    }
    req->header_count = o;
}

/* One pass: removes the headers a signature adds (Authorization, X-Amz-Date,
 * X-Amz-Security-Token, and X-Amz-Content-Sha256 when the signer sets it),
 * as a retry re-signs the same request; reports whether Host is present. */
static int strip_signing_headers(smneo_request *req, int strip_content_sha)
{
    int has_host = 0;
    size_t o = 0;
    for (size_t i = 0; i < req->header_count; i++) {
        const char *name = req->headers[i].name;
        int drop = 0;
        switch (name[0]) {
        case 'A':
        case 'a':
            drop = !strcasecmp(name, "authorization");
            break;
        case 'H':
        case 'h':
            has_host |= !strcasecmp(name, "host");
            break;
        case 'X':
        case 'x':
            drop = !strcasecmp(name, "x-amz-date") || !strcasecmp(name, "x-amz-security-token") ||
                   (strip_content_sha && !strcasecmp(name, "x-amz-content-sha256"));
            break;
        default:
            break;
        }
        if (drop)
            drop_header(&req->headers[i]);
        else
            req->headers[o++] = req->headers[i];
    }
    req->header_count = o;
    return has_host;
}

static int has_ctl(const char *s, int allow_space)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f || (!allow_space && *p == ' '))
            return 1;
    return 0;
}

static int scope_part_ok(const char *s)
{
    if (!s || !*s)
        return 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p <= 0x20 || *p == 0x7f || *p == '/')
            return 0;
    return 1;
}

/* Checks the inputs; *full receives the caller's options (any version) as the current version. */
static int check_inputs(smneo_sigv4_options *full, const smneo_request *req, const smneo_credentials *c,
                        const smneo_sigv4_options *o, smneo_error *err)
{
    if (!req)
        return smneo__error(err, SMNEO_EINVAL, "sigv4: the request is NULL");
    if (!c)
        return smneo__error(err, SMNEO_EINVAL, "sigv4: the credentials are NULL");
    if (!o)
        return smneo__error(err, SMNEO_EINVAL, "sigv4: the options are NULL: pass SMNEO_SIGV4_OPTIONS_INIT");
    int orc = smneo__options_copy(full, o, &smneo__sigv4_options_layout, err);
    if (orc)
        return orc;
    o = full;
    if (!o->region || !*o->region)
        return smneo__error(err, SMNEO_EINVAL, "sigv4: options.region is empty: set a region such as us-east-1");
    if (!scope_part_ok(o->region))
        return smneo__error(err, SMNEO_EINVAL,
                            "sigv4: options.region \"%.64s\" contains '/', a space or a control character: "
                            "use a region name such as us-east-1",
                            o->region);
    if (!o->service || !*o->service)
        return smneo__error(err, SMNEO_EINVAL,
                            "sigv4: options.service is empty: set the signing name, e.g. \"sagemaker\"");
    if (!scope_part_ok(o->service))
        return smneo__error(err, SMNEO_EINVAL,
                            "sigv4: options.service \"%.64s\" contains '/', a space or a control character: "
                            "use a signing name such as sagemaker",
                            o->service);
    /* 0001-01-01 .. 9999-12-31: X-Amz-Date has a four-digit year. */
    if (o->timestamp < -62135596800LL || o->timestamp > 253402300799LL)
        return smneo__error(err, SMNEO_EINVAL,
                            "sigv4: options.timestamp %lld is outside years 1-9999: pass epoch seconds",
                            (long long)o->timestamp);
    if (o->payload_hash && (!*o->payload_hash || has_ctl(o->payload_hash, 0)))
        return smneo__error(err, SMNEO_EINVAL,
                            "sigv4: options.payload_hash must be a hex SHA-256 or \"UNSIGNED-PAYLOAD\" "
                            "without spaces or control characters; pass NULL to hash the body");
    if (!c->access_key_id || !*c->access_key_id)
        return smneo__error(err, SMNEO_ECREDENTIALS, "sigv4: the credentials have no access key id");
    if (!scope_part_ok(c->access_key_id) || strchr(c->access_key_id, ','))
        return smneo__error(err, SMNEO_ECREDENTIALS,
                            "sigv4: the access key id contains '/', ',', a space or a control character: "
                            "check the configured access key id");
    if (!c->secret_access_key || !*c->secret_access_key)
        return smneo__error(err, SMNEO_ECREDENTIALS, "sigv4: the credentials have no secret access key");
    if (c->session_token && has_ctl(c->session_token, 1))
        return smneo__error(err, SMNEO_ECREDENTIALS,
                            "sigv4: the session token contains a line break or control character: "
                            "check the configured session token");
    if (!req->method || !*req->method || has_ctl(req->method, 0))
        return smneo__error(err, SMNEO_EINVAL, "sigv4: the request method is missing or malformed");
    int has_host = 0;
    for (size_t i = 0; i < req->header_count; i++) {
        if (!req->headers[i].name || !req->headers[i].value || !*req->headers[i].name)
            return smneo__error(err, SMNEO_EINVAL, "sigv4: request header %zu has no name or value", i);
        if (!strcasecmp(req->headers[i].name, "host"))
            has_host = 1;
    }
    if (!has_host && (!req->host || !*req->host))
        return smneo__error(err, SMNEO_EINVAL,
                            "sigv4: the request has neither a Host header nor a host: build it from a full URL");
    if (req->body_len && !req->body)
        return smneo__error(err, SMNEO_EINVAL, "sigv4: the request has body_len %zu but no body", req->body_len);
    return 0;
}

static void put_digits(char *o, int v, int n)
{
    while (n-- > 0) {
        o[n] = (char)('0' + v % 10);
        v /= 10;
    }
}

/* Epoch seconds to yyyymmddThhmmssZ without gmtime_r (which takes glibc's
 * time zone lock): H. Hinnant's civil_from_days. ts is within years 1-9999
 * (checked by check_inputs). */
static int format_amz_date(char out[AMZ_DATE_LEN + 1], int64_t ts)
{
    int64_t days = ts >= 0 ? ts / 86400 : -((-ts + 86399) / 86400);
    int64_t secs = ts - days * 86400;
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t day = doy - (153 * mp + 2) / 5 + 1;
    int64_t month = mp < 10 ? mp + 3 : mp - 9;
    int64_t year = yoe + era * 400 + (month <= 2);
    if (year < 1 || year > 9999)
        return SMNEO_EINVAL;
    put_digits(out, (int)year, 4);
    put_digits(out + 4, (int)month, 2);
    put_digits(out + 6, (int)day, 2);
    out[8] = 'T';
    put_digits(out + 9, (int)(secs / 3600), 2);
    put_digits(out + 11, (int)(secs / 60 % 60), 2);
    put_digits(out + 13, (int)(secs % 60), 2);
    out[15] = 'Z';
    out[16] = '\0';
    return 0;
}

static int is_s3(const char *service) { return strncmp(service, "s3", 2) == 0; }

/* Adds the signing headers to `req` (replacing earlier ones), builds the
 * canonical request and string to sign, and produces the Authorization
 * value. creq_out and sts_out may be NULL. */
static int sign_prepared(smneo_request *req, const smneo_credentials *c, const smneo_sigv4_options *o,
                         char **creq_out, char **sts_out, char **auth_out, smneo_error *err)
{
    char amz_date[AMZ_DATE_LEN + 1], date[9];
    if (format_amz_date(amz_date, o->timestamp))
        return smneo__error(err, SMNEO_EINVAL, "sigv4: options.timestamp %lld cannot be formatted as a UTC date",
                            (long long)o->timestamp);
    memcpy(date, amz_date, 8);
    date[8] = '\0';

    char body_hash[2 * SMNEO_SHA256_LEN + 1];
    const char *payload_hash = o->payload_hash;
    if (!payload_hash) {
        if (smneo__sha256_hex(body_hash, req->body, req->body_len))
            return smneo__error(err, SMNEO_ERROR, "sigv4: SHA-256 of the body failed in libcrypto");
        payload_hash = body_hash;
    }
    const char *token = (c->session_token && *c->session_token) ? c->session_token : NULL;

    /* Signing headers: earlier ones (a retry re-signs) are replaced. */
    int rc = 0;
    if (!strip_signing_headers(req, o->sign_body_header))
        rc = smneo_request_add_header(req, "Host", req->host);
    if (!rc)
        rc = smneo_request_add_header(req, "X-Amz-Date", amz_date);
    if (!rc && token && !o->omit_session_token)
        rc = smneo_request_add_header(req, "X-Amz-Security-Token", token);
    if (!rc && o->sign_body_header)
        rc = smneo_request_add_header(req, "X-Amz-Content-Sha256", payload_hash);
    if (rc)
        return smneo__error(err, SMNEO_ENOMEM, "sigv4: out of memory adding the signing headers");

    /* Canonical request. */
    /* The canonical request holds the session token when it is signed; the
     * Authorization value the signature. */
    /* Scratch text on the stack (no allocation for a usual request: a heap
     * buffer of 1 KB or more made glibc trim its heap at every free). */
    char creq_room[1024], sh_room[256], sts_room[256];
    smneo_buf creq, sh, sts, auth = SMNEO_BUF_SECRET_INIT;
    smneo__buf_init_on(&creq, creq_room, sizeof creq_room, token != NULL);
    smneo__buf_init_on(&sh, sh_room, sizeof sh_room, 0);
    smneo__buf_init_on(&sts, sts_room, sizeof sts_room, 0);
    const char *what = "building the canonical request";
    smneo__buf_puts(&creq, req->method);
    smneo__buf_putc(&creq, '\n');
    const char *path = req->path ? req->path : "/";
    const char *qmark = strchr(path, '?');
    size_t plen = qmark ? (size_t)(qmark - path) : strlen(path);
    /* S3 object keys are taken literally: never normalised, never encoded twice. */
    int s3 = is_s3(o->service);
    rc = put_canonical_uri(&creq, path, plen, !o->no_normalize_path && !s3, !s3);
    smneo__buf_putc(&creq, '\n');
    if (!rc && qmark) {
        const char *q = qmark + 1;
        const char *hash = strchr(q, '#');
        rc = put_canonical_query(&creq, q, hash ? (size_t)(hash - q) : strlen(q));
    }
    smneo__buf_putc(&creq, '\n');
    if (!rc)
        rc = put_canonical_headers(&creq, &sh, req, token != NULL);
    smneo__buf_putc(&creq, '\n');
    smneo__buf_append(&creq, sh.data ? sh.data : "", sh.len);
    smneo__buf_putc(&creq, '\n');
    smneo__buf_puts(&creq, payload_hash);
    if (rc || creq.failed || sh.failed) {
        rc = SMNEO_ENOMEM;
        goto done;
    }

    /* String to sign. */
    what = "building the string to sign";
    char creq_hash[2 * SMNEO_SHA256_LEN + 1];
    if (smneo__sha256_hex(creq_hash, creq.data, creq.len)) {
        rc = SMNEO_ERROR;
        goto done;
    }
    smneo__buf_puts(&sts, SIGV4_ALGORITHM "\n");
    smneo__buf_append(&sts, amz_date, AMZ_DATE_LEN);
    smneo__buf_putc(&sts, '\n');
    size_t scope_start = sts.len;
    smneo__buf_append(&sts, date, 8);
    smneo__buf_putc(&sts, '/');
    smneo__buf_puts(&sts, o->region);
    smneo__buf_putc(&sts, '/');
    smneo__buf_puts(&sts, o->service);
    smneo__buf_puts(&sts, "/aws4_request");
    size_t scope_end = sts.len;
    smneo__buf_putc(&sts, '\n');
    smneo__buf_append(&sts, creq_hash, 2 * SMNEO_SHA256_LEN);
    if (sts.failed) {
        rc = SMNEO_ENOMEM;
        goto done;
    }

    /* Signature. */
    what = "deriving the signature";
    smneo__hmac_key key;
    unsigned char sig[SMNEO_SHA256_LEN];
    char sig_hex[2 * SMNEO_SHA256_LEN + 1];
    rc = signing_key(&key, c->secret_access_key, date, o->region, o->service);
    if (!rc)
        rc = smneo__hmac_key_mac(sig, &key, sts.data, sts.len);
    smneo__wipe(&key, sizeof key);
    if (rc)
        goto done;
    smneo__hex(sig_hex, sig, sizeof sig);
    smneo__wipe(sig, sizeof sig);

    what = "building the Authorization value";
    smneo__buf_grow(&auth, 64 + strlen(c->access_key_id) + (scope_end - scope_start) + sh.len + 64);
    smneo__buf_puts(&auth, SIGV4_ALGORITHM " Credential=");
    smneo__buf_puts(&auth, c->access_key_id);
    smneo__buf_putc(&auth, '/');
    smneo__buf_append(&auth, sts.data + scope_start, scope_end - scope_start);
    smneo__buf_puts(&auth, ", SignedHeaders=");
    smneo__buf_append(&auth, sh.data ? sh.data : "", sh.len);
    smneo__buf_puts(&auth, ", Signature=");
    smneo__buf_append(&auth, sig_hex, 2 * SMNEO_SHA256_LEN);
    smneo__wipe(sig_hex, sizeof sig_hex);
    char *a = smneo__buf_detach(&auth, NULL);
    char *cr = creq_out ? smneo__buf_detach(&creq, NULL) : NULL;
    char *st = sts_out ? smneo__buf_detach(&sts, NULL) : NULL;
    if (!a || (creq_out && !cr) || (sts_out && !st)) {
        free_wiped(a);
        free_wiped(cr);
        free(st);
        rc = SMNEO_ENOMEM;
        goto done;
    }
    *auth_out = a;
    if (creq_out)
        *creq_out = cr;
    if (sts_out)
        *sts_out = st;

done:
    smneo__buf_free(&creq); /* wiped */
    smneo__buf_free(&sh);
    smneo__buf_free(&sts);
    smneo__buf_free(&auth); /* wiped */
    if (rc)
        return smneo__error(err, rc, "sigv4: %s %s", rc == SMNEO_ENOMEM ? "out of memory" : "libcrypto failed",
                            what);
    return 0;
}

/* Appends a header whose value the request takes over (no copy). */
static int add_header_owned(smneo_request *req, const char *name, char *value)
{
    smneo_header *h = realloc(req->headers, (req->header_count + 1) * sizeof *h);
    if (!h)
        return SMNEO_ENOMEM;
    req->headers = h;
    char *n = smneo__strdup(name);
    if (!n)
        return SMNEO_ENOMEM;
    h[req->header_count].name = n;
    h[req->header_count].value = value;
    req->header_count++;
    return 0;
}

int smneo_sigv4_sign(smneo_request *req, const smneo_credentials *creds, const smneo_sigv4_options *opts,
                     smneo_error *err)
{
    smneo_sigv4_options full;
    int rc = check_inputs(&full, req, creds, opts, err);
    if (rc)
        return rc;
    opts = &full;
    char *auth = NULL;
    rc = sign_prepared(req, creds, opts, NULL, NULL, &auth, err);
    if (rc)
        return rc;
    rc = add_header_owned(req, "Authorization", auth);
    if (rc)
        free_wiped(auth);
    if (!rc && creds->session_token && *creds->session_token && opts->omit_session_token)
        rc = smneo_request_add_header(req, "X-Amz-Security-Token", creds->session_token);
    if (rc) {
        remove_headers(req, "Authorization");
        return smneo__error(err, SMNEO_ENOMEM, "sigv4: out of memory adding the Authorization header");
    }
    return 0;
}

int smneo_sigv4_debug(char **canonical_request, char **string_to_sign, char **authorization,
                      const smneo_request *req, const smneo_credentials *creds, const smneo_sigv4_options *opts, smneo_error *err)
{
    if (canonical_request)
        *canonical_request = NULL;
    if (string_to_sign)
        *string_to_sign = NULL;
    if (authorization)
        *authorization = NULL;
    smneo_sigv4_options full;
    int rc = check_inputs(&full, req, creds, opts, err);
    if (rc)
        return rc;
    opts = &full;
    smneo_request *copy = NULL;
    rc = smneo_request_clone(&copy, req);
    if (rc)
        return smneo__error(err, rc, "sigv4: could not copy the request (%s)", smneo_strerror(rc));
    char *auth = NULL;
    rc = sign_prepared(copy, creds, opts, canonical_request, string_to_sign, &auth, err);
    smneo_request_free(copy);
    if (rc)
        return rc;
    if (authorization)
        *authorization = auth;
    else
        free_wiped(auth);
    return 0;
}
