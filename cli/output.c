/* cli/output.c: results as pretty JSON (for harnesses: the API's member
 * names, in response order, timestamps as ISO 8601 like the AWS CLI) or as
 * readable key/value lines and column tables (for people). Every string the
 * CLI prints goes through escape() below first: member names, service
 * answers and error messages may carry terminal control sequences. */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

/* ---- untrusted text ------------------------------------------------------------ */

/* Length of the UTF-8 sequence at p (1-4) with its code point in *cp, or 0
 * when p does not start a well-formed one (overlong, surrogate, > U+10FFFF,
 * cut short). */
static size_t utf8_char(const unsigned char *p, uint32_t *cp)
{
    unsigned c = p[0];
    size_t n;
    uint32_t v, min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2, v = c & 0x1f, min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3, v = c & 0x0f, min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4, v = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80) /* also stops at the terminating NUL */
            return 0;
        v = (v << 6) | (p[i] & 0x3f);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return 0;
    *cp = v;
    return n;
}

/* Code points a terminal acts on or that change how a line reads: C0, DEL,
 * C1 (U+0080..U+009F, CSI among them), the line and paragraph separators and
 * the bidirectional marks, embeddings, overrides and isolates. */
static int unsafe_cp(uint32_t c)
{
    return c < 0x20 || (c >= 0x7f && c <= 0x9f) || c == 0x061c || c == 0x200e || c == 0x200f ||
           (c >= 0x2028 && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069);
}

enum { ESC_TEXT, ESC_LINES, ESC_JSON };

/* The one escaping function. ESC_TEXT: \n \r \t, \xNN for other ASCII
 * controls and for bytes that are not UTF-8, \uNNNN for the other code
 * points above; everything else as is. ESC_LINES: the same, but line breaks
 * stay (the debug log's multi-line requests and responses). ESC_JSON: the
 * body of a JSON string (RFC 8259): \" \\ \b \f \n \r \t, \u00NN /
 * \uNNNN for the code points above, and U+FFFD (\ufffd) for bytes that are
 * not UTF-8, so the output is always valid JSON. */
static void escape(FILE *out, const char *s, int mode)
{
    int json = mode == ESC_JSON;
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    while (*p) {
        uint32_t c = 0;
        size_t n = utf8_char(p, &c);
        if (n == 0) {
            if (json)
                fputs("\\ufffd", out);
            else
                fprintf(out, "\\x%02x", *p);
            p++;
            continue;
        }
        if (c == '\n' && mode == ESC_LINES) {
            fputc('\n', out);
            p++;
            continue;
        }
        const char *short_form = c == '\n' ? "\\n" : c == '\r' ? "\\r" : c == '\t' ? "\\t" : NULL;
        if (json && !short_form)
            short_form = c == '"' ? "\\\"" : c == '\\' ? "\\\\" : c == '\b' ? "\\b" : c == '\f' ? "\\f" : NULL;
        if (short_form)
            fputs(short_form, out);
        else if (!unsafe_cp(c))
            fwrite(p, 1, n, out);
        else if (!json && c < 0x80)
            fprintf(out, "\\x%02x", (unsigned)c);
        else
            fprintf(out, "\\u%04x", (unsigned)c);
        p += n;
    }
}

char *cli_escape(const char *s)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    if (!m)
        return NULL;
    escape(m, s, ESC_TEXT);
    if (fclose(m) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

void cli_vline(FILE *f, const char *fmt, va_list ap)
{
    char *text = NULL;
    if (vasprintf(&text, fmt, ap) < 0)
        text = NULL;
    escape(f, text ? text : "(out of memory)", ESC_TEXT);
    fputc('\n', f);
    free(text);
}

void cli_log(int level, const char *message, void *payload)
{
    static const char *const levels[] = {"debug", "info", "warn"};
    flockfile(stderr);
    fprintf(stderr, "smneo[%s] ", level >= 0 && level <= 2 ? levels[level] : "log");
    escape(stderr, message, ESC_LINES); /* response headers and bodies are the server's */
    fputc('\n', stderr);
    funlockfile(stderr);
}

void cli_line(FILE *f, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cli_vline(f, fmt, ap);
    va_end(ap);
}

char *cli_iso8601(double t)
{
    char buf[64];
    double whole = floor(t);
    long usec = (long)llround((t - whole) * 1e6);
    if (usec >= 1000000) {
        whole += 1;
        usec -= 1000000;
    }
    time_t secs = (time_t)whole;
    struct tm tm;
    gmtime_r(&secs, &tm);
    size_t n = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    if (usec)
        snprintf(buf + n, sizeof buf - n, ".%06ld+00:00", usec);
    else
        snprintf(buf + n, sizeof buf - n, "+00:00");
    char *s = malloc(strlen(buf) + 1);
    if (s)
        strcpy(s, buf);
    return s;
}

/* ---- smneo_value -> cJSON through the typed walk ------------------------------ */

typedef struct builder {
    cJSON *stack[64];
    int depth;
    cJSON *root;
    char *key;
    int failed;
} builder;

static int add(builder *b, cJSON *item)
{
    if (!item) {
        b->failed = 1;
        return 1;
    }
    if (b->depth == 0) {
        if (b->root)
            cJSON_Delete(b->root);
        b->root = item;
    } else {
        cJSON *top = b->stack[b->depth - 1];
        if (cJSON_IsObject(top))
            cJSON_AddItemToObject(top, b->key ? b->key : "", item);
        else
            cJSON_AddItemToArray(top, item);
    }
    free(b->key);
    b->key = NULL;
    return 0;
}

static int push(builder *b, cJSON *item)
{
    if (b->depth >= 64) {
        cJSON_Delete(item);
        b->failed = 1;
        return 1;
    }
    if (add(b, item))
        return 1;
    b->stack[b->depth++] = item;
    return 0;
}

static int v_begin_object(void *p, const smneo_shape *s, size_t n) { return push(p, cJSON_CreateObject()); }
static int v_begin_array(void *p, const smneo_shape *s, size_t n) { return push(p, cJSON_CreateArray()); }
static int v_end(void *p)
{
    builder *b = p;
    if (b->depth > 0)
        b->depth--;
    return 0;
}
static int v_key(void *p, const char *k, size_t len)
{
    builder *b = p;
    free(b->key);
    b->key = malloc(len + 1);
    if (!b->key) {
        b->failed = 1;
        return 1;
    }
    memcpy(b->key, k, len);
    b->key[len] = 0;
    return 0;
}
static int v_string(void *p, const char *s, size_t len)
{
    char *t = malloc(len + 1);
    if (!t)
        return add(p, NULL);
    memcpy(t, s, len);
    t[len] = 0;
    cJSON *item = cJSON_CreateString(t);
    free(t);
    return add(p, item);
}
static int v_integer(void *p, int64_t v) { return add(p, cJSON_CreateNumber((double)v)); }
static int v_number(void *p, double v) { return add(p, cJSON_CreateNumber(v)); }
static int v_boolean(void *p, int v) { return add(p, cJSON_CreateBool(v)); }
static int v_null(void *p) { return add(p, cJSON_CreateNull()); }
static int v_timestamp(void *p, double t)
{
    char *s = cli_iso8601(t);
    cJSON *item = s ? cJSON_CreateString(s) : NULL;
    free(s);
    return add(p, item);
}

cJSON *cli_value_to_cjson(const smneo_value *v)
{
    static const smneo_visitor vis = {v_begin_object, v_end,     v_begin_array, v_end,       v_key,  v_string,
                                      v_integer,      v_number,  v_boolean,     v_timestamp, v_null};
    builder b;
    memset(&b, 0, sizeof b);
    int rc = smneo_value_walk(v, &vis, &b);
    free(b.key);
    if (rc != 0 || b.failed) {
        cJSON_Delete(b.root);
        return NULL;
    }
    return b.root;
}

/* ---- JSON: 4-space indent, like the AWS CLI --------------------------------------- */

static void indent(int n)
{
    for (int i = 0; i < n; i++)
        fputs("    ", stdout);
}

static void print_string(const char *s)
{
    fputc('"', stdout);
    escape(stdout, s, ESC_JSON);
    fputc('"', stdout);
}

static void print_scalar(const cJSON *v)
{
    if (cJSON_IsString(v)) {
        print_string(v->valuestring);
        return;
    }
    char *s = cJSON_PrintUnformatted(v);
    fputs(s ? s : "null", stdout);
    free(s);
}

static void print_json(const cJSON *v, int level)
{
    if (cJSON_IsObject(v) || cJSON_IsArray(v)) {
        int obj = cJSON_IsObject(v);
        if (!v->child) {
            fputs(obj ? "{}" : "[]", stdout);
            return;
        }
        fputs(obj ? "{\n" : "[\n", stdout);
        for (const cJSON *c = v->child; c; c = c->next) {
            indent(level + 1);
            if (obj) {
                print_string(c->string);
                fputs(": ", stdout);
            }
            print_json(c, level + 1);
            fputs(c->next ? ",\n" : "\n", stdout);
        }
        indent(level);
        fputs(obj ? "}" : "]", stdout);
        return;
    }
    print_scalar(v);
}

void cli_print_json(const cJSON *doc)
{
    print_json(doc, 0);
    fputc('\n', stdout);
}

/* ---- table: flattened key/value lines ------------------------------------------------ */

/* A scalar as table text: strings escaped, the rest as JSON. */
static char *scalar_text(const cJSON *v)
{
    if (cJSON_IsString(v))
        return cli_escape(v->valuestring);
    return cJSON_PrintUnformatted(v);
}

typedef struct kv {
    char **keys, **vals;
    size_t n, cap;
} kv;

static void kv_add(kv *t, const char *key, char *val)
{
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 32;
        char **k = realloc(t->keys, cap * sizeof *k);
        if (k)
            t->keys = k;
        char **v = realloc(t->vals, cap * sizeof *v);
        if (v)
            t->vals = v;
        if (!k || !v) {
            free(val);
            return;
        }
        t->cap = cap;
    }
    t->keys[t->n] = cli_escape(key); /* member names come from the service too */
    if (!t->keys[t->n]) {
        free(val);
        return;
    }
    t->vals[t->n++] = val;
}

static void flatten(kv *t, const cJSON *v, const char *prefix)
{
    if (cJSON_IsObject(v) || cJSON_IsArray(v)) {
        int i = 0;
        if (!v->child) {
            char *s = malloc(3);
            if (s)
                strcpy(s, cJSON_IsObject(v) ? "{}" : "[]");
            if (s)
                kv_add(t, *prefix ? prefix : "(empty)", s);
            return;
        }
        for (const cJSON *c = v->child; c; c = c->next, i++) {
            char *path = NULL;
            int n;
            if (cJSON_IsObject(v))
                n = asprintf(&path, "%s%s%s", prefix, *prefix ? "." : "", c->string ? c->string : "");
            else
                n = asprintf(&path, "%s[%d]", prefix, i);
            if (n < 0)
                return;
            flatten(t, c, path);
            free(path);
        }
        return;
    }
    char *s = scalar_text(v);
    if (s)
        kv_add(t, *prefix ? prefix : "value", s);
}

void cli_print(const cli_args *a, const cJSON *doc)
{
    if (a->json) {
        cli_print_json(doc);
        return;
    }
    kv t = {NULL, NULL, 0, 0};
    flatten(&t, doc, "");
    size_t w = 0;
    for (size_t i = 0; i < t.n; i++)
        if (strlen(t.keys[i]) > w)
            w = strlen(t.keys[i]);
    for (size_t i = 0; i < t.n; i++) {
        printf("%-*s  %s\n", (int)w, t.keys[i], t.vals[i]);
        free(t.keys[i]);
        free(t.vals[i]);
    }
    free(t.keys);
    free(t.vals);
}

/* ---- column tables ---------------------------------------------------------------------- */

static const cJSON *dig(const cJSON *v, const char *path)
{
    char part[128];
    while (v && *path) {
        const char *dot = strchr(path, '.');
        size_t len = dot ? (size_t)(dot - path) : strlen(path);
        if (len >= sizeof part)
            return NULL;
        memcpy(part, path, len);
        part[len] = 0;
        v = cJSON_GetObjectItemCaseSensitive(v, part);
        path += len + (dot ? 1 : 0);
    }
    return v;
}

void cli_print_table(const cJSON *rows, const char *const *columns, const char *const *headers)
{
    size_t ncol = 0;
    while (columns[ncol])
        ncol++;
    size_t nrow = (size_t)cJSON_GetArraySize(rows);
    size_t width[16] = {0};
    if (ncol > 16)
        ncol = 16;
    char **cells = calloc((nrow + 1) * ncol + 1, sizeof *cells);
    if (!cells)
        return;
    for (size_t c = 0; c < ncol; c++) {
        cells[c] = malloc(strlen(headers[c]) + 1);
        if (cells[c])
            strcpy(cells[c], headers[c]);
    }
    size_t r = 1;
    for (const cJSON *row = rows->child; row; row = row->next, r++)
        for (size_t c = 0; c < ncol; c++) {
            const cJSON *v = dig(row, columns[c]);
            cells[r * ncol + c] = v && !cJSON_IsNull(v) ? scalar_text(v) : NULL;
        }
    for (size_t i = 0; i < (nrow + 1) * ncol; i++) {
        size_t len = cells[i] ? strlen(cells[i]) : 1;
        if (len > width[i % ncol])
            width[i % ncol] = len;
    }
    for (size_t i = 0; i < (nrow + 1) * ncol; i++) {
        size_t c = i % ncol;
        if (c + 1 < ncol)
            printf("%-*s  ", (int)width[c], cells[i] ? cells[i] : "-");
        else
            printf("%s\n", cells[i] ? cells[i] : "-");
        free(cells[i]);
    }
    free(cells);
}

/* ---- validation issues ----------------------------------------------------------------------- */

cJSON *cli_issues_json(const smneo_issues *issues)
{
    cJSON *arr = cJSON_CreateArray();
    size_t n = issues ? smneo_issues_count(issues) : 0;
    for (size_t i = 0; arr && i < n; i++) {
        const smneo_issue *it = smneo_issues_at(issues, i);
        cJSON *o = cJSON_CreateObject();
        if (!o)
            break;
        cJSON_AddStringToObject(o, "Severity", it->severity == SMNEO_SEVERITY_ERROR ? "error" : "warning");
        cJSON_AddStringToObject(o, "Path", it->path ? it->path : "");
        cJSON_AddStringToObject(o, "Rule", it->rule ? it->rule : "");
        cJSON_AddStringToObject(o, "Message", it->message ? it->message : "");
        cJSON_AddItemToArray(arr, o);
    }
    return arr;
}

void cli_print_issues(const smneo_issues *issues)
{
    size_t n = issues ? smneo_issues_count(issues) : 0;
    for (size_t i = 0; i < n; i++) {
        const smneo_issue *it = smneo_issues_at(issues, i);
        cli_line(stderr, "  %s: %s%s%s [%s]", it->severity == SMNEO_SEVERITY_ERROR ? "error" : "warning",
                 it->path && *it->path ? it->path : "", it->path && *it->path ? ": " : "", it->message,
                 it->rule ? it->rule : "");
    }
}
