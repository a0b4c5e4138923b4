/* core/src/json.c: the JSON helpers: the strict and exact parses, the NUL finder, integral numbers,
 * and the tolerant reading of the JSON-in-a-string members (CompilerOptions, DataInputConfig). The Neo
 * documentation writes those in Python style ({'mattr': ['+neon']}); the service accepts that, so we
 * read it too (the caller warns) instead of refusing a request that would work. */

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "json_internal.h"

cJSON *smneo__parse_json_strict(const char *text, size_t len, size_t *errpos, int *trailing)
{
    if (trailing)
        *trailing = 0;
    size_t lead = smneo__json_space_len(text, len);
    if (lead < len && (unsigned char)text[lead] <= 0x20) {
        if (errpos)
            *errpos = lead; /* a control byte cJSON would skip as whitespace */
        return NULL;
    }
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
