/* JSON writer for bindings and the typed, shape-driven walk over results. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "internal.h"
#include "value_internal.h"

/* ---- writer ------------------------------------------------------------- */

struct smneo_jsonw {
    smneo_buf buf;
    unsigned char *first; /* per nesting level: 1 until the first element */
    size_t depth, cap;
    int after_key;
};

int smneo_jsonw_new(smneo_jsonw **out)
{
    if (!out)
        return SMNEO_EINVAL;
    *out = calloc(1, sizeof **out);
    return *out ? 0 : SMNEO_ENOMEM;
}

void smneo_jsonw_free(smneo_jsonw *w)
{
    if (!w)
        return;
    smneo__buf_free(&w->buf);
    free(w->first);
    free(w);
}

void smneo_jsonw_reset(smneo_jsonw *w)
{
    if (!w)
        return;
    w->buf.len = 0;
    w->buf.failed = 0;
    if (w->buf.data)
        w->buf.data[0] = '\0';
    w->depth = 0;
    w->after_key = 0;
}

/* Separator before a value or key at the current level. */
static int sep(smneo_jsonw *w)
{
    if (w->after_key) {
        w->after_key = 0;
        return 0;
    }
    if (w->depth == 0)
        return 0;
    if (w->first[w->depth - 1]) {
        w->first[w->depth - 1] = 0;
        return 0;
    }
    return smneo__buf_putc(&w->buf, ',');
}

static int push(smneo_jsonw *w, char c)
{
    if (sep(w))
        return SMNEO_ENOMEM;
    if (w->depth == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 16;
        unsigned char *f = realloc(w->first, cap);
        if (!f)
            return SMNEO_ENOMEM;
        w->first = f;
        w->cap = cap;
    }
    w->first[w->depth++] = 1;
    return smneo__buf_putc(&w->buf, c);
}

static int pop(smneo_jsonw *w, char c)
{
    if (w->depth == 0 || w->after_key)
        return SMNEO_EINVAL;
    w->depth--;
    return smneo__buf_putc(&w->buf, c);
}

int smneo_jsonw_begin_object(smneo_jsonw *w) { return w ? push(w, '{') : SMNEO_EINVAL; }
int smneo_jsonw_end_object(smneo_jsonw *w) { return w ? pop(w, '}') : SMNEO_EINVAL; }
int smneo_jsonw_begin_array(smneo_jsonw *w) { return w ? push(w, '[') : SMNEO_EINVAL; }
int smneo_jsonw_end_array(smneo_jsonw *w) { return w ? pop(w, ']') : SMNEO_EINVAL; }

int smneo__json_escape(smneo_buf *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    smneo__buf_putc(b, '"');
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        smneo__buf_append(b, s + start, i - start);
        start = i + 1;
        switch (c) {
        case '"': smneo__buf_append(b, "\\\"", 2); break;
        case '\\': smneo__buf_append(b, "\\\\", 2); break;
        case '\n': smneo__buf_append(b, "\\n", 2); break;
        case '\r': smneo__buf_append(b, "\\r", 2); break;
        case '\t': smneo__buf_append(b, "\\t", 2); break;
        case '\b': smneo__buf_append(b, "\\b", 2); break;
        case '\f': smneo__buf_append(b, "\\f", 2); break;
        default: {
            char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            smneo__buf_append(b, u, 6);
        }
        }
    }
    smneo__buf_append(b, s + start, len - start);
    return smneo__buf_putc(b, '"');
}

int smneo_jsonw_key(smneo_jsonw *w, const char *key, size_t len)
{
    if (!w || !key || w->depth == 0 || w->after_key)
        return SMNEO_EINVAL;
    if (sep(w) || smneo__json_escape(&w->buf, key, len) || smneo__buf_putc(&w->buf, ':'))
        return SMNEO_ENOMEM;
    w->after_key = 1;
    return 0;
}

int smneo_jsonw_string(smneo_jsonw *w, const char *s, size_t len)
{
    if (!w || (!s && len))
        return SMNEO_EINVAL;
    if (sep(w))
        return SMNEO_ENOMEM;
    return smneo__json_escape(&w->buf, s ? s : "", len) ? SMNEO_ENOMEM : 0;
}

int smneo_jsonw_int(smneo_jsonw *w, int64_t v)
{
    if (!w)
        return SMNEO_EINVAL;
    if (sep(w))
        return SMNEO_ENOMEM;
    return smneo__buf_printf(&w->buf, "%lld", (long long)v) ? SMNEO_ENOMEM : 0;
}

int smneo__json_double(smneo_buf *b, double v)
{
    char tmp[40];
    if (v == floor(v) && fabs(v) < 1e15) {
        snprintf(tmp, sizeof tmp, "%.1f", v);
    } else {
        snprintf(tmp, sizeof tmp, "%.17g", v);
        /* Prefer the shortest representation that reads back exactly. */
        for (int prec = 1; prec < 17; prec++) {
            char t2[40];
            snprintf(t2, sizeof t2, "%.*g", prec, v);
            if (strtod(t2, NULL) == v) {
                memcpy(tmp, t2, sizeof t2);
                break;
            }
        }
    }
    return smneo__buf_puts(b, tmp);
}

int smneo_jsonw_double(smneo_jsonw *w, double v)
{
    if (!w || isnan(v) || isinf(v))
        return SMNEO_EINVAL;
    if (sep(w))
        return SMNEO_ENOMEM;
    return smneo__json_double(&w->buf, v) ? SMNEO_ENOMEM : 0;
}

int smneo_jsonw_bool(smneo_jsonw *w, int v)
{
    if (!w)
        return SMNEO_EINVAL;
    if (sep(w))
        return SMNEO_ENOMEM;
    return smneo__buf_puts(&w->buf, v ? "true" : "false") ? SMNEO_ENOMEM : 0;
}

int smneo_jsonw_null(smneo_jsonw *w)
{
    if (!w)
        return SMNEO_EINVAL;
    if (sep(w))
        return SMNEO_ENOMEM;
    return smneo__buf_puts(&w->buf, "null") ? SMNEO_ENOMEM : 0;
}

int smneo_jsonw_raw(smneo_jsonw *w, const char *json, size_t len)
{
    if (!w || !json)
        return SMNEO_EINVAL;
    if (sep(w))
        return SMNEO_ENOMEM;
    return smneo__buf_append(&w->buf, json, len) ? SMNEO_ENOMEM : 0;
}

const char *smneo_jsonw_data(size_t *len, const smneo_jsonw *w)
{
    if (!w || w->buf.failed) {
        if (len)
            *len = 0;
        return NULL;
    }
    if (len)
        *len = w->buf.len;
    return w->buf.data ? w->buf.data : "";
}

/* ---- timestamps --------------------------------------------------------- */

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

/* Epoch seconds written as text ("1577836800", " 1.5e9 "), as botocore's
 * parse_timestamp takes them (float(value)): [+-]digits[.digits][e[+-]digits]
 * with optional surrounding spaces; no hex, inf or nan. */
int smneo__parse_epoch_text(const char *s, double *out)
{
    if (!s)
        return -1;
    const char *p = s;
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    const char *start = p;
    if (*p == '+' || *p == '-')
        p++;
    int mantissa = 0;
    while (*p >= '0' && *p <= '9')
        p++, mantissa++;
    if (*p == '.') {
        p++;
        while (*p >= '0' && *p <= '9')
            p++, mantissa++;
    }
    if (!mantissa)
        return -1;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        if (!(*p >= '0' && *p <= '9'))
            return -1;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    const char *end = p;
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    if (*p)
        return -1;
    char buf[64];
    if ((size_t)(end - start) >= sizeof buf)
        return -1;
    memcpy(buf, start, (size_t)(end - start));
    buf[end - start] = '\0';
    double v = strtod(buf, NULL);
    if (!isfinite(v))
        return -1;
    *out = v;
    return 0;
}

int smneo__parse_iso8601(const char *s, double *out)
{
    /* YYYY-MM-DD[Thh:mm[:ss[.fff]]][Z|(+|-)hh[:]mm]; a space may replace 'T'. */
    int y, mo, d, h = 0, mi = 0, n = 0;
    double sec = 0;
    if (!s || sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3 || n != 10)
        return -1;
    const char *p = s + n;
    if (*p == 'T' || *p == 't' || *p == ' ') {
        p++;
        int k = 0;
        if (sscanf(p, "%2d:%2d%n", &h, &mi, &k) != 2 || k != 5)
            return -1;
        p += k;
        if (*p == ':') {
            char *end;
            sec = strtod(p + 1, &end);
            if (end == p + 1 || !(sec >= 0 && sec < 61)) /* also NaN ("nan") */
                return -1;
            p = end;
        }
    }
    double offset = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om = 0, k = 0;
        int sign = *p == '-' ? -1 : 1;
        if (sscanf(p + 1, "%2d:%2d%n", &oh, &om, &k) == 2 && k == 5)
            p += 1 + k;
        else if (sscanf(p + 1, "%2d%2d%n", &oh, &om, &k) == 2 && k == 4)
            p += 1 + k;
        else
            return -1;
        offset = sign * (oh * 3600.0 + om * 60.0);
    }
    if (*p != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59)
        return -1;
    *out = (double)days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400.0 + h * 3600.0 + mi * 60.0 + sec - offset;
    return 0;
}

/* ---- typed walk --------------------------------------------------------- */

static const smneo_shape *child_shape(const smneo_shape *parent, const cJSON *child)
{
    if (!parent)
        return NULL;
    switch (parent->type) {
    case SMNEO_SHAPE_STRUCTURE: {
        const smneo_member *m = smneo_shape_member(parent, child->string);
        return m ? m->shape : NULL;
    }
    case SMNEO_SHAPE_LIST: return parent->member;
    case SMNEO_SHAPE_MAP: return parent->value;
    default: return NULL;
    }
}

static size_t count_children(const cJSON *n)
{
    size_t c = 0;
    for (const cJSON *ch = n->child; ch; ch = ch->next)
        c++;
    return c;
}

#define EMIT(cb, ...) ((vis->cb) ? vis->cb(__VA_ARGS__) : 0)

static int walk(const cJSON *n, const smneo_shape *shape, const smneo_visitor *vis, void *p)
{
    int rc;
    if (cJSON_IsObject(n)) {
        if ((rc = EMIT(begin_object, p, shape, count_children(n))))
            return rc;
        int structure = shape && shape->type == SMNEO_SHAPE_STRUCTURE;
        size_t next = 0;
        for (const cJSON *ch = n->child; ch; ch = ch->next) {
            if ((rc = EMIT(key, p, ch->string, strlen(ch->string))))
                return rc;
            const smneo_shape *cs;
            if (structure) {
                const smneo_member *m = smneo__shape_member_next(shape, ch->string, &next);
                cs = m ? m->shape : NULL;
            } else {
                cs = child_shape(shape, ch);
            }
            if ((rc = walk(ch, cs, vis, p)))
                return rc;
        }
        return EMIT(end_object, p);
    }
    if (cJSON_IsArray(n)) {
        if ((rc = EMIT(begin_array, p, shape, count_children(n))))
            return rc;
        for (const cJSON *ch = n->child; ch; ch = ch->next)
            if ((rc = walk(ch, child_shape(shape, ch), vis, p)))
                return rc;
        return EMIT(end_array, p);
    }
    if (cJSON_IsString(n)) {
        if (shape && shape->type == SMNEO_SHAPE_TIMESTAMP) {
            double t;
            if (smneo__parse_iso8601(n->valuestring, &t) == 0)
                return EMIT(timestamp, p, t);
        }
        return EMIT(string, p, n->valuestring, strlen(n->valuestring));
    }
    if (cJSON_IsNumber(n)) {
        double v = n->valuedouble;
        if (shape && shape->type == SMNEO_SHAPE_TIMESTAMP)
            return EMIT(timestamp, p, v);
        if (shape && (shape->type == SMNEO_SHAPE_DOUBLE || shape->type == SMNEO_SHAPE_FLOAT))
            return EMIT(number, p, v);
        if (v == floor(v) && fabs(v) < 9.007199254740992e15)
            return EMIT(integer, p, (int64_t)v);
        return EMIT(number, p, v);
    }
    if (cJSON_IsBool(n))
        return EMIT(boolean, p, cJSON_IsTrue(n));
    return EMIT(null, p);
}

int smneo_value_walk(const smneo_value *v, const smneo_visitor *vis, void *payload)
{
    if (!v || !v->node || !vis)
        return SMNEO_EINVAL;
    return walk((const cJSON *)v->node, v->shape, vis, payload);
}

int smneo_value_to_json(char **out, const smneo_value *v)
{
    if (!out || !v || !v->node)
        return SMNEO_EINVAL;
    *out = cJSON_PrintUnformatted((const cJSON *)v->node);
    return *out ? 0 : SMNEO_ENOMEM;
}

int smneo_value_get(smneo_value *out, const smneo_value *v, const char *name)
{
    if (!out || !v || !v->node || !name)
        return SMNEO_EINVAL;
    const cJSON *n = (const cJSON *)v->node;
    if (!cJSON_IsObject(n))
        return SMNEO_EABSENT;
    const cJSON *ch = cJSON_GetObjectItemCaseSensitive(n, name);
    if (!ch)
        return SMNEO_EABSENT;
    out->node = ch;
    out->shape = child_shape(v->shape, ch);
    return 0;
}

const char *smneo_value_string(const smneo_value *v)
{
    if (!v || !v->node || !cJSON_IsString((const cJSON *)v->node))
        return NULL;
    return ((const cJSON *)v->node)->valuestring;
}
