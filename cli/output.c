/* cli/output.c: results as pretty JSON (for harnesses: the API's member
 * names, in response order, timestamps as ISO 8601 like the AWS CLI) or as
 * readable key/value lines and column tables (for people). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

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

static void print_scalar(const cJSON *v)
{
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
                cJSON *k = cJSON_CreateString(c->string ? c->string : "");
                print_scalar(k);
                cJSON_Delete(k);
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

static char *scalar_text(const cJSON *v)
{
    if (cJSON_IsString(v)) {
        char *s = malloc(strlen(v->valuestring) + 1);
        if (s)
            strcpy(s, v->valuestring);
        return s;
    }
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
    size_t len = strlen(key);
    t->keys[t->n] = malloc(len + 1);
    if (!t->keys[t->n]) {
        free(val);
        return;
    }
    memcpy(t->keys[t->n], key, len + 1);
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
        fprintf(stderr, "  %s: %s%s%s [%s]\n", it->severity == SMNEO_SEVERITY_ERROR ? "error" : "warning",
                it->path && *it->path ? it->path : "", it->path && *it->path ? ": " : "", it->message,
                it->rule ? it->rule : "");
    }
}
