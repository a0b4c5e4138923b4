/* core/src/json.c: the JSON helpers: the strict and exact parses, the NUL finder, integral numbers,
 * and the tolerant reading of the JSON-in-a-string members (CompilerOptions, DataInputConfig). The Neo
 * documentation writes those in Python style ({'mattr': ['+neon']}); the service accepts that, so we
 * read it too (the caller warns) instead of refusing a request that would work. */

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "internal.h"
#include "json_internal.h"

/* ---- the fast path of the strict parse ----------------------------------
 *
 * cJSON spends most of a call's parse (a 1.3 KB answer: about a quarter of a
 * whole call's instructions) in per-byte bounds checks, a second pass over
 * every string and strtod. This parser reads the plain JSON that services
 * send in one pass into the same cJSON tree (nodes and strings from cJSON's
 * allocator, linked as cJSON links them, so cJSON_Delete and every reader
 * see no difference; a string value's text shares its node's block, marked
 * cJSON_IsReference so that cJSON_Delete frees the block once). It accepts only what it can read exactly as cJSON
 * does: whitespace of space, tab, CR and LF; strings without control bytes
 * or \u escapes; numbers in JSON's grammar of at most 19 significant digits
 * that are exactly m * 10^e with m <= 2^53 and |e| <= 22 (one correctly
 * rounded operation, as strtod rounds); nesting up to 200 levels. Anything
 * else (and every error) gives up, and cJSON parses the text from the start,
 * so what is accepted or refused, and where, stays cJSON's. tests/core/test_json.c
 * compares the two on the fixtures and on edge cases. */

#define FAST_MAX_DEPTH 200

typedef struct {
    const char *p, *end;
    int depth;
} fast_reader;

static void fast_space(fast_reader *r)
{
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\n' || *r->p == '\r' || *r->p == '\t'))
        r->p++;
}

/* Strings given up on are wiped: a partial tree may hold a secret.
 * explicit_bzero, as smneo__wipe does with OPENSSL_cleanse: json.c is also
 * built without libcrypto (tests/fuzz/run_artifact.sh). */
static void wipe_text(char *s)
{
    if (s)
        explicit_bzero(s, strlen(s));
}

static void fast_wipe_free(cJSON *n)
{
    for (cJSON *c = n; c; c = c->next) {
        if (c->child)
            fast_wipe_free(c->child);
        wipe_text(c->valuestring);
        if (!(c->type & cJSON_StringIsConst))
            wipe_text(c->string); /* a model's member name is not ours to touch */
    }
}

static void fast_drop(cJSON *n)
{
    if (n) {
        cJSON *next = n->next;
        n->next = NULL;
        fast_wipe_free(n);
        n->next = next;
        cJSON_Delete(n);
    }
}

/* The first quote, backslash or control byte in [q, end), or end: sixteen
 * bytes at a time with SSE2, eight with a word's arithmetic, then bytes. */
static const char *fast_special(const char *q, const char *end)
{
#if defined(__SSE2__)
    const __m128i quote16 = _mm_set1_epi8('"'), slash16 = _mm_set1_epi8('\\'), ctl16 = _mm_set1_epi8(0x1f);
    while (end - q >= 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)q);
        __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, quote16), _mm_cmpeq_epi8(x, slash16)),
                                   _mm_cmpeq_epi8(_mm_min_epu8(x, ctl16), x)); /* x <= 0x1f */
        unsigned bits = (unsigned)_mm_movemask_epi8(hit);
        if (bits)
            return q + __builtin_ctz(bits);
        q += 16;
    }
#endif
    while (end - q >= 8) {
        uint64_t x;
        memcpy(&x, q, 8);
        const uint64_t ones = UINT64_C(0x0101010101010101), highs = UINT64_C(0x8080808080808080);
        uint64_t quote = x ^ (ones * '"'), slash = x ^ (ones * '\\');
        /* the lowest flagged byte is exact (false flags only sit above a true one) */
        uint64_t hit = ((quote - ones) & ~quote & highs) | ((slash - ones) & ~slash & highs) |
                       ((x - ones * 0x20) & ~x & highs);
        if (hit) {
#if defined(__GNUC__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
            return q + (__builtin_ctzll(hit) >> 3);
#else
            break;
#endif
        }
        q += 8;
    }
    for (; q < end; q++) {
        unsigned char c = (unsigned char)*q;
        if (c == '"' || c == '\\' || c < 0x20)
            return q;
    }
    return end;
}

/* At the opening quote: scans the string to its closing quote (left in
 * *end), its decoded length in *n; 0, or -1 when cJSON must decide. */
static int fast_scan(const fast_reader *r, const char **end, size_t *n_out, int *escaped_out)
{
    const char *start = r->p + 1, *q = start;
    size_t escapes = 0;
    for (;;) {
        q = fast_special(q, r->end);
        if (q >= r->end)
            return -1;
        unsigned char c = (unsigned char)*q;
        if (c == '"')
            break;
        if (c < 0x20)
            return -1;
        /* a backslash */
        if (q + 1 >= r->end || !strchr("\"\\/bfnrt", q[1]) || !q[1])
            return -1; /* \u and bad escapes: cJSON decides */
        q += 2;
        escapes++;
    }
    *end = q;
    *n_out = (size_t)(q - start) - escapes;
    *escaped_out = escapes != 0;
    return 0;
}

/* Writes the scanned string [r->p + 1, end) decoded into out (n + 1 bytes)
 * and moves past its closing quote. */
static void fast_copy(fast_reader *r, char *out, const char *end, size_t n, int escaped)
{
    const char *start = r->p + 1;
    if (!escaped) {
        memcpy(out, start, n);
    } else {
        char *w = out;
        for (const char *i = start; i < end; i++) {
            if (*i != '\\') {
                *w++ = *i;
                continue;
            }
            switch (*++i) {
            case 'b': *w++ = '\b'; break;
            case 'f': *w++ = '\f'; break;
            case 'n': *w++ = '\n'; break;
            case 'r': *w++ = '\r'; break;
            case 't': *w++ = '\t'; break;
            default: *w++ = *i; break; /* " \\ / */
            }
        }
    }
    out[n] = '\0';
    r->p = end + 1;
}

/* At the opening quote: the string's text (from cJSON's allocator), or NULL. */
static char *fast_string(fast_reader *r)
{
    const char *end;
    size_t n;
    int escaped;
    if (fast_scan(r, &end, &n, &escaped))
        return NULL;
    char *out = cJSON_malloc(n + 1);
    if (out)
        fast_copy(r, out, end, n, escaped);
    return out;
}

/* At the opening quote: a string node whose text lives in the node's own
 * block (one allocation instead of two). cJSON_IsReference tells
 * cJSON_Delete not to free valuestring separately; readers test the type's
 * low byte (cJSON_IsString), and cJSON_Duplicate copies the text and drops
 * the flag. */
static cJSON *fast_string_node(fast_reader *r)
{
    const char *end;
    size_t n;
    int escaped;
    if (fast_scan(r, &end, &n, &escaped) || n > SIZE_MAX - sizeof(cJSON) - 1)
        return NULL;
    cJSON *v = cJSON_malloc(sizeof(cJSON) + n + 1);
    if (!v)
        return NULL;
    memset(v, 0, sizeof *v);
    v->type = cJSON_String | cJSON_IsReference;
    v->valuestring = (char *)(v + 1);
    fast_copy(r, v->valuestring, end, n, escaped);
    return v;
}

static int fast_digit(const fast_reader *r, const char *q)
{
    return q < r->end && *q >= '0' && *q <= '9';
}

static cJSON *fast_number(fast_reader *r)
{
    static const double tens[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                  1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    const char *q = r->p;
    int negative = q < r->end && *q == '-';
    q += negative;
    if (!fast_digit(r, q))
        return NULL;
    uint64_t m = 0;
    int digits = 0, e10 = 0;
    if (*q == '0') {
        q++;
        if (fast_digit(r, q))
            return NULL; /* a leading zero: cJSON (strtod) decides */
    }
    for (; fast_digit(r, q); q++) {
        if (++digits > 19)
            return NULL;
        m = m * 10 + (uint64_t)(*q - '0');
    }
    if (q < r->end && *q == '.') {
        q++;
        if (!fast_digit(r, q))
            return NULL;
        for (; fast_digit(r, q); q++, e10--) {
            if (++digits > 19)
                return NULL;
            m = m * 10 + (uint64_t)(*q - '0');
        }
    }
    if (q < r->end && (*q == 'e' || *q == 'E')) {
        q++;
        int sign = 1, e = 0;
        if (q < r->end && (*q == '+' || *q == '-'))
            sign = *q++ == '-' ? -1 : 1;
        if (!fast_digit(r, q))
            return NULL;
        for (; fast_digit(r, q); q++)
            if ((e = e * 10 + (*q - '0')) > 400)
                return NULL;
        e10 += sign * e;
    }
    /* cJSON hands strtod at most 63 characters of [0-9+-eE.] */
    if (q - r->p > 63 || (q < r->end && strchr("0123456789+-eE.", *q) && *q))
        return NULL;
    if (m > (UINT64_C(1) << 53) || e10 < -22 || e10 > 22)
        return NULL;
    double v = (double)m;
    v = e10 < 0 ? v / tens[-e10] : v * tens[e10];
    r->p = q;
    return cJSON_CreateNumber(negative ? -v : v);
}

static cJSON *fast_value(fast_reader *r, const smneo_shape *shape);

/* At an object key's opening quote, in a structure of `shape`: the model's
 * own name for it (static text, moved past), or NULL (then the key is read
 * as any string). *hint: where to look first (answers list members mostly
 * in model order). */
static const smneo_member *fast_member(fast_reader *r, const smneo_shape *shape, size_t *hint)
{
    const char *end;
    size_t n;
    int escaped;
    if (fast_scan(r, &end, &n, &escaped) || escaped)
        return NULL;
    const char *key = r->p + 1;
    size_t count = shape->member_count;
    for (size_t k = 0, i = *hint < count ? *hint : 0; k < count; k++, i = i + 1 < count ? i + 1 : 0) {
        const smneo_member *m = &shape->members[i];
        if (m->name[0] == key[0] && !strncmp(m->name, key, n) && m->name[n] == '\0') {
            *hint = i + 1;
            r->p = end + 1;
            return m;
        }
    }
    return NULL;
}

/* At '[' or '{': the array or object, its children linked as cJSON links
 * them (the first child's prev is the last). */
static cJSON *fast_container(fast_reader *r, int object, const smneo_shape *shape)
{
    /* the shape of the children, when known: a structure's by member, a
     * list's element, a map's value */
    int structure = shape && object && shape->type == SMNEO_SHAPE_STRUCTURE && shape->member_count;
    const smneo_shape *child = !shape                                          ? NULL
                               : !object && shape->type == SMNEO_SHAPE_LIST    ? shape->member
                               : object && shape->type == SMNEO_SHAPE_MAP      ? shape->value
                                                                               : NULL;
    size_t hint = 0;
    if (++r->depth > FAST_MAX_DEPTH)
        return NULL;
    cJSON *c = object ? cJSON_CreateObject() : cJSON_CreateArray();
    if (!c)
        return NULL;
    r->p++;
    fast_space(r);
    char close = object ? '}' : ']';
    if (r->p < r->end && *r->p == close) {
        r->p++;
        r->depth--;
        return c;
    }
    cJSON *last = NULL;
    for (;;) {
        char *key = NULL;
        const smneo_member *m = NULL;
        if (object) {
            if (r->p >= r->end || *r->p != '"')
                goto fail;
            if (structure && (m = fast_member(r, shape, &hint)) != NULL) {
                /* the node's key is the model's static name (cJSON_StringIsConst:
                 * never freed, and cJSON_Duplicate may share it) */
                key = (char *)(uintptr_t)m->name;
                child = m->shape;
            } else if (!(key = fast_string(r))) {
                goto fail;
            } else if (structure) {
                child = NULL; /* a member the model does not know */
            }
            fast_space(r);
            if (r->p >= r->end || *r->p != ':') {
                if (!m) {
                    wipe_text(key);
                    cJSON_free(key);
                }
                goto fail;
            }
            r->p++;
            fast_space(r);
        }
        cJSON *v = fast_value(r, child);
        if (!v) {
            if (key && !m) {
                wipe_text(key);
                cJSON_free(key);
            }
            goto fail;
        }
        v->string = key;
        if (m)
            v->type |= cJSON_StringIsConst;
        if (last) {
            last->next = v;
            v->prev = last;
        } else {
            c->child = v;
        }
        last = v;
        fast_space(r);
        if (r->p < r->end && *r->p == ',') {
            r->p++;
            fast_space(r);
            continue;
        }
        if (r->p < r->end && *r->p == close) {
            r->p++;
            break;
        }
        goto fail;
    }
    c->child->prev = last;
    r->depth--;
    return c;
fail:
    if (c->child)
        c->child->prev = last;
    fast_drop(c);
    return NULL;
}

static cJSON *fast_value(fast_reader *r, const smneo_shape *shape)
{
    if (r->p >= r->end)
        return NULL;
    size_t left = (size_t)(r->end - r->p);
    switch (*r->p) {
    case '{': return fast_container(r, 1, shape);
    case '[': return fast_container(r, 0, shape);
    case '"': return fast_string_node(r);
    case 't':
        if (left >= 4 && !memcmp(r->p, "true", 4)) {
            cJSON *v = cJSON_CreateTrue();
            if (v)
                v->valueint = 1; /* as cJSON's parse sets it */
            r->p += 4;
            return v;
        }
        return NULL;
    case 'f':
        if (left >= 5 && !memcmp(r->p, "false", 5)) {
            r->p += 5;
            return cJSON_CreateFalse();
        }
        return NULL;
    case 'n':
        if (left >= 4 && !memcmp(r->p, "null", 4)) {
            r->p += 4;
            return cJSON_CreateNull();
        }
        return NULL;
    default: return fast_number(r);
    }
}

/* The whole of [text, text+len) as one JSON value, or NULL: not read here
 * (cJSON is asked then). */
cJSON *smneo__parse_json_fast(const char *text, size_t len)
{
    return smneo__parse_json_fast_shaped(text, len, NULL);
}

cJSON *smneo__parse_json_fast_shaped(const char *text, size_t len, const smneo_shape *shape)
{
    fast_reader r = {text, text + len, 0};
    fast_space(&r);
    cJSON *v = fast_value(&r, shape);
    if (!v)
        return NULL;
    fast_space(&r);
    if (r.p != r.end) {
        fast_drop(v);
        return NULL;
    }
    return v;
}

cJSON *smneo__parse_json_strict(const char *text, size_t len, size_t *errpos, int *trailing)
{
    return smneo__parse_json_strict_shaped(text, len, NULL, errpos, trailing);
}

cJSON *smneo__parse_json_strict_shaped(const char *text, size_t len, const smneo_shape *shape, size_t *errpos,
                                       int *trailing)
{
    if (trailing)
        *trailing = 0;
    size_t lead = smneo__json_space_len(text, len);
    if (lead < len && (unsigned char)text[lead] <= 0x20) {
        if (errpos)
            *errpos = lead; /* a control byte cJSON would skip as whitespace */
        return NULL;
    }
    cJSON *fast = text ? smneo__parse_json_fast_shaped(text, len, shape) : NULL;
    if (fast)
        return fast;
    const char *end = NULL;
    cJSON *v = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (v && end && end >= text && end <= text + len) {
        size_t at = (size_t)(end - text);
        if (at + smneo__json_space_len(end, len - at) != len) {
            if (errpos)
                *errpos = at;
            if (trailing)
                *trailing = 1;
            cJSON_Delete(v);
            return NULL;
        }
    }
    if (!v && errpos)
        *errpos = (end && end >= text && end <= text + len) ? (size_t)(end - text) : 0;
    return v;
}

/* cJSON parse of exactly [text, text+len): trailing non-space is an error. */
cJSON *smneo__parse_json_exact(const char *text, size_t len, size_t *errpos)
{
    return smneo__parse_json_strict(text, len, errpos, NULL);
}

long smneo__json_find_nul(const char *text, size_t len)
{
    int in_string = 0;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (c == '\0')
            return (long)i;
        if (!in_string) {
            in_string = c == '"';
            continue;
        }
        if (c == '"') {
            in_string = 0;
        } else if (c == '\\' && i + 1 < len) {
            if (text[i + 1] == 'u' && i + 5 < len && !memcmp(text + i + 2, "0000", 4))
                return (long)i;
            i++; /* the escaped character: \\ and \" do not end or start anything */
        }
    }
    return -1;
}

/* Python literal -> JSON text. Returns NULL when the text is not convertible
 * (unterminated string); *errpos is then where the problem starts. */
static char *python_to_json(const char *text, size_t len, size_t *errpos)
{
    smneo_buf b = SMNEO_BUF_INIT;
    size_t i = 0;
    while (i < len) {
        char c = text[i];
        if (c == '"' || c == '\'') {
            size_t start = i;
            char q = c;
            smneo__buf_putc(&b, '"');
            i++;
            int closed = 0;
            while (i < len) {
                char d = text[i];
                if (d == '\\' && i + 1 < len) {
                    char e = text[i + 1];
                    if (e == '\'') {
                        smneo__buf_putc(&b, '\'');
                    } else {
                        smneo__buf_putc(&b, '\\');
                        smneo__buf_putc(&b, e);
                    }
                    i += 2;
                    continue;
                }
                if (d == q) {
                    closed = 1;
                    i++;
                    break;
                }
                if (d == '"') /* a double quote inside a single-quoted string */
                    smneo__buf_puts(&b, "\\\"");
                else
                    smneo__buf_putc(&b, d);
                i++;
            }
            if (!closed) {
                if (errpos)
                    *errpos = start;
                smneo__buf_free(&b);
                return NULL;
            }
            smneo__buf_putc(&b, '"');
            continue;
        }
        if (isalpha((unsigned char)c) || c == '_') {
            size_t s = i;
            while (i < len && (isalnum((unsigned char)text[i]) || text[i] == '_'))
                i++;
            size_t n = i - s;
            if (n == 4 && !memcmp(text + s, "True", 4))
                smneo__buf_puts(&b, "true");
            else if (n == 5 && !memcmp(text + s, "False", 5))
                smneo__buf_puts(&b, "false");
            else if (n == 4 && !memcmp(text + s, "None", 4))
                smneo__buf_puts(&b, "null");
            else
                smneo__buf_append(&b, text + s, n);
            continue;
        }
        if (c == ',') { /* Python allows a trailing comma */
            size_t j = i + 1;
            while (j < len && isspace((unsigned char)text[j]))
                j++;
            if (j < len && (text[j] == '}' || text[j] == ']')) {
                i++;
                continue;
            }
        }
        smneo__buf_putc(&b, c);
        i++;
    }
    size_t outlen;
    char *out = smneo__buf_detach(&b, &outlen);
    if (!out && errpos)
        *errpos = 0;
    return out;
}

cJSON *smneo__parse_loose_json(const char *text, size_t len, int *python_style, size_t *errpos)
{
    if (python_style)
        *python_style = 0;
    if (!text)
        return NULL;
    size_t pos = 0;
    cJSON *v = smneo__parse_json_exact(text, len, &pos);
    if (v)
        return v;
    size_t ppos = pos;
    char *conv = python_to_json(text, len, &ppos);
    if (!conv) {
        if (errpos)
            *errpos = ppos < pos ? ppos : pos;
        return NULL;
    }
    if ((strlen(conv) == len && !memcmp(conv, text, len)) || strlen(conv) == 0) {
        free(conv);
        if (errpos)
            *errpos = pos;
        return NULL;
    }
    v = smneo__parse_json_exact(conv, strlen(conv), NULL);
    free(conv);
    if (!v) {
        if (errpos)
            *errpos = pos;
        return NULL;
    }
    if (python_style)
        *python_style = 1;
    return v;
}

int smneo__json_int(const cJSON *v, int64_t *out)
{
    if (!cJSON_IsNumber(v))
        return 0;
    double d = v->valuedouble;
    if (!isfinite(d) || floor(d) != d || d < -9223372036854775808.0 || d >= 9223372036854775808.0)
        return 0;
    *out = (int64_t)d;
    return 1;
}
