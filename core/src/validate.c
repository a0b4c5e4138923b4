/* Validation, part 1: the entry point and the generic checks driven by the
 * shape table (required, types, unknown members, lengths, ranges, list
 * lengths, patterns, enums). The Neo rules live in validate_neo.c.
 *
 * Rule ids are stable and listed in docs/validation.md. */
#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "options_internal.h"
#include "validate_internal.h"
#include "value_internal.h"

/* ------------------------------------------------------------------ issues */

void smneo__v_add(smneo__vctx *ctx, smneo_severity sev, const char *path, const char *rule, const char *fmt, ...)
{
    if (ctx->oom)
        return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (smneo_issues_add(ctx->issues, sev, path ? path : "", rule, "%s", buf) != 0)
        ctx->oom = 1;
}

/* Paths are built for every node visited, so without printf. */
char *smneo__path_member(smneo__vctx *ctx, const char *parent, const char *member)
{
    size_t lp = parent ? strlen(parent) : 0, lm = strlen(member);
    char *p = malloc(lp + lm + 2);
    if (!p) {
        ctx->oom = 1;
        return NULL;
    }
    size_t o = 0;
    if (lp) {
        memcpy(p, parent, lp);
        p[lp] = '.';
        o = lp + 1;
    }
    memcpy(p + o, member, lm + 1);
    return p;
}

char *smneo__path_index(smneo__vctx *ctx, const char *parent, size_t i)
{
    char num[24];
    size_t n = 0;
    do {
        num[n++] = (char)('0' + i % 10);
        i /= 10;
    } while (i);
    size_t lp = parent ? strlen(parent) : 0;
    char *p = malloc(lp + n + 3);
    if (!p) {
        ctx->oom = 1;
        return NULL;
    }
    if (lp)
        memcpy(p, parent, lp);
    p[lp] = '[';
    for (size_t k = 0; k < n; k++)
        p[lp + 1 + k] = num[n - 1 - k];
    p[lp + 1 + n] = ']';
    p[lp + 2 + n] = 0;
    return p;
}

/* ------------------------------------------------------------------ text */

size_t smneo__utf8_length(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = 0, i = 0;
    while (i < len) {
        unsigned char c = p[i];
        size_t k;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            n++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            k = 1;
            cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            k = 2;
            cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            k = 3;
            cp = c & 0x07;
        } else {
            return (size_t)-1;
        }
        if (len - i <= k)
            return (size_t)-1;
        for (size_t j = 1; j <= k; j++) {
            if ((p[i + j] & 0xC0) != 0x80)
                return (size_t)-1;
            cp = (cp << 6) | (p[i + j] & 0x3F);
        }
        /* overlong forms, surrogates, beyond U+10FFFF */
        if ((k == 1 && cp < 0x80) || (k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) || cp > 0x10FFFF ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return (size_t)-1;
        i += k + 1;
        n++;
    }
    return n;
}

/* A short printable rendering of a user value for messages: at most ~60
 * bytes, cut on a UTF-8 boundary, control characters shown as '?'. */
static void shorten(char *out, size_t outsz, const char *s)
{
    size_t o = 0, i = 0, limit = outsz > 8 ? outsz - 4 : 0;
    const unsigned char *p = (const unsigned char *)s;
    while (p[i] && o < limit) {
        size_t k = 1;
        if (p[i] >= 0xC0)
            while ((p[i + k] & 0xC0) == 0x80 && k < 4)
                k++;
        if (o + k > limit)
            break;
        for (size_t j = 0; j < k; j++)
            out[o++] = (p[i] < 0x20 || p[i] == 0x7F) ? '?' : (char)p[i + j];
        i += k;
    }
    if (p[i] && outsz > 4) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = 0;
}

size_t smneo__edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 256 || lb > 256)
        return (size_t)-1;
    size_t row[257];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t prev = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t cur = row[j];
            int same = tolower((unsigned char)a[i - 1]) == tolower((unsigned char)b[j - 1]);
            size_t best = prev + (same ? 0 : 1);
            if (row[j] + 1 < best)
                best = row[j] + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            prev = cur;
        }
    }
    return row[lb];
}

const char *smneo__closest_any(const char *s, const char *const *cands, size_t n)
{
    const char *best = NULL;
    size_t bestd = (size_t)-1;
    for (size_t i = 0; i < n; i++) {
        size_t d = smneo__edit_distance(s, cands[i]);
        if (!best || d < bestd) {
            best = cands[i];
            bestd = d;
        }
    }
    return best;
}

const char *smneo__closest(const char *s, const char *const *cands, size_t n)
{
    size_t ls = strlen(s);
    for (size_t i = 0; i < n; i++)
        if (smneo__strcaseeq(s, cands[i]))
            return cands[i];
    const char *best = smneo__closest_any(s, cands, n);
    if (!best)
        return NULL;
    size_t d = smneo__edit_distance(s, best);
    size_t lb = strlen(best);
    size_t shorter = ls < lb ? ls : lb;
    /* close enough: at most 2 edits and less than a third of the word */
    if (d != (size_t)-1 && d <= 2 && d * 3 <= shorter)
        return best;
    return NULL;
}

/* ------------------------------------------------------------------ regex */

#define REGEX_CACHE_MAX 64
static struct {
    const char *key; /* the pattern text (tables are static; own copies for others) */
    const char *seen; /* the caller's pointer it was first asked with (the model's tables: stable) */
    char *owned;
    pcre2_code *code;
} regex_cache[REGEX_CACHE_MAX];
static size_t regex_cache_n;
/* Match data blocks (one ovector pair: only whether it matched is read),
 * reused across matches instead of made and freed for each. */
#define REGEX_MD_POOL 8
static pcre2_match_data *regex_md_pool[REGEX_MD_POOL];
static size_t regex_md_n;
static size_t regex_compiles; /* for the tests: patterns are compiled once */
static pthread_mutex_t regex_lock = PTHREAD_MUTEX_INITIALIZER;

static pcre2_code *regex_compile(const char *pattern)
{
    int errcode;
    PCRE2_SIZE erroff;
    /* Anchored at both ends: the service matches the whole value. */
    char *wrapped = smneo__aprintf("^(?:%s)$", pattern);
    if (!wrapped)
        return NULL;
    pcre2_code *code = pcre2_compile((PCRE2_SPTR)wrapped, PCRE2_ZERO_TERMINATED,
                                     PCRE2_UTF | PCRE2_UCP | PCRE2_DOLLAR_ENDONLY, &errcode, &erroff, NULL);
    free(wrapped);
    if (code)
        (void)pcre2_jit_compile(code, PCRE2_JIT_COMPLETE); /* optional speed-up */
    return code;
}

/* Returns a cached compiled pattern; *tmp is set when the cache was full and
 * the caller must free the code. */
static pcre2_code *regex_get(const char *pattern, int *tmp)
{
    *tmp = 0;
    pcre2_code *code = NULL;
    pthread_mutex_lock(&regex_lock);
    for (size_t i = 0; i < regex_cache_n; i++) { /* the model's patterns: found by address, checked */
        if (regex_cache[i].seen == pattern && !strcmp(regex_cache[i].key, pattern)) {
            code = regex_cache[i].code;
            break;
        }
    }
    for (size_t i = 0; !code && i < regex_cache_n; i++) {
        if (!strcmp(regex_cache[i].key, pattern)) {
            code = regex_cache[i].code;
            break;
        }
    }
    if (!code) {
        code = regex_compile(pattern);
        regex_compiles++;
        if (code && regex_cache_n < REGEX_CACHE_MAX) {
            char *own = smneo__strdup(pattern);
            if (own) {
                regex_cache[regex_cache_n].key = own;
                regex_cache[regex_cache_n].seen = pattern;
                regex_cache[regex_cache_n].owned = own;
                regex_cache[regex_cache_n].code = code;
                regex_cache_n++;
            } else {
                *tmp = 1;
            }
        } else if (code) {
            *tmp = 1;
        }
    }
    pthread_mutex_unlock(&regex_lock);
    return code;
}

int smneo__regex_full_match(const char *pattern, const char *subject, size_t len)
{
    int tmp;
    pcre2_code *code = regex_get(pattern, &tmp);
    if (!code)
        return -1;
    pcre2_match_data *md = NULL;
    pthread_mutex_lock(&regex_lock);
    if (regex_md_n)
        md = regex_md_pool[--regex_md_n];
    pthread_mutex_unlock(&regex_lock);
    if (!md)
        md = pcre2_match_data_create(1, NULL);
    int rc = -1;
    if (md) {
        /* 0 (the ovector too small for the groups) is a match too */
        int r = pcre2_match(code, (PCRE2_SPTR)subject, len, 0, 0, md, NULL);
        rc = r >= 0 ? 1 : (r == PCRE2_ERROR_NOMATCH ? 0 : -1);
        pthread_mutex_lock(&regex_lock);
        if (regex_md_n < REGEX_MD_POOL) {
            regex_md_pool[regex_md_n++] = md;
            md = NULL;
        }
        pthread_mutex_unlock(&regex_lock);
        pcre2_match_data_free(md);
    }
    if (tmp)
        pcre2_code_free(code);
    return rc;
}

size_t smneo__regex_compile_count(void)
{
    pthread_mutex_lock(&regex_lock);
    size_t n = regex_compiles;
    pthread_mutex_unlock(&regex_lock);
    return n;
}

/* Frees the cache at exit so leak checkers stay quiet. */
__attribute__((destructor)) static void regex_cache_release(void)
{
    pthread_mutex_lock(&regex_lock);
    for (size_t i = 0; i < regex_cache_n; i++) {
        pcre2_code_free(regex_cache[i].code);
        free(regex_cache[i].owned);
    }
    regex_cache_n = 0;
    for (size_t i = 0; i < regex_md_n; i++)
        pcre2_match_data_free(regex_md_pool[i]);
    regex_md_n = 0;
    pthread_mutex_unlock(&regex_lock);
}

/* ------------------------------------------------------------------ numbers, time */

static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return 0;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 1;
}

/* ISO 8601: YYYY-MM-DD, optionally [T ]HH:MM[:SS[.fff]] and Z / +HH:MM / +HHMM. */
static int parse_iso8601(const char *s, double *out)
{
    int Y, M, D, h = 0, m = 0, sec = 0;
    double frac = 0;
    if (strlen(s) < 10 || !digits(s, 4, &Y) || s[4] != '-' || !digits(s + 5, 2, &M) || s[7] != '-' ||
        !digits(s + 8, 2, &D))
        return -1;
    const char *p = s + 10;
    int tz = 0;
    if (*p == 'T' || *p == 't' || *p == ' ') {
        p++;
        if (!digits(p, 2, &h) || p[2] != ':' || !digits(p + 3, 2, &m))
            return -1;
        p += 5;
        if (*p == ':') {
            if (!digits(p + 1, 2, &sec))
                return -1;
            p += 3;
            if (*p == '.' || *p == ',') {
                p++;
                double scale = 0.1;
                if (!isdigit((unsigned char)*p))
                    return -1;
                while (isdigit((unsigned char)*p)) {
                    frac += (*p - '0') * scale;
                    scale /= 10;
                    p++;
                }
            }
        }
        if (*p == 'Z' || *p == 'z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            int sign = *p == '-' ? -1 : 1, th, tm = 0;
            p++;
            if (!digits(p, 2, &th))
                return -1;
            p += 2;
            if (*p == ':')
                p++;
            if (isdigit((unsigned char)*p)) {
                if (!digits(p, 2, &tm))
                    return -1;
                p += 2;
            }
            if (th > 23 || tm > 59)
                return -1;
            tz = sign * (th * 3600 + tm * 60);
        }
    }
    if (*p)
        return -1;
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (M < 1 || M > 12 || D < 1 || D > mdays[M - 1] || h > 23 || m > 59 || sec > 60)
        return -1;
    int leap = (Y % 4 == 0 && Y % 100 != 0) || Y % 400 == 0;
    if (M == 2 && D == 29 && !leap)
        return -1;
    struct tm t;
    memset(&t, 0, sizeof t);
    t.tm_year = Y - 1900;
    t.tm_mon = M - 1;
    t.tm_mday = D;
    t.tm_hour = h;
    t.tm_min = m;
    t.tm_sec = sec;
    *out = (double)timegm(&t) - tz + frac;
    return 0;
}

int smneo__timestamp_value(const cJSON *v, double *out)
{
    if (cJSON_IsNumber(v) && isfinite(v->valuedouble)) {
        *out = v->valuedouble;
        return 0;
    }
    if (cJSON_IsString(v) && v->valuestring)
        return parse_iso8601(v->valuestring, out) == 0 || smneo__parse_epoch_text(v->valuestring, out) == 0 ? 0 : -1;
    return -1;
}

/* ------------------------------------------------------------------ generic checks */

static const char *json_kind(const cJSON *v)
{
    if (cJSON_IsNull(v))
        return "null";
    if (cJSON_IsBool(v))
        return "a boolean";
    if (cJSON_IsNumber(v))
        return "a number";
    if (cJSON_IsString(v))
        return "a string";
    if (cJSON_IsArray(v))
        return "a list";
    if (cJSON_IsObject(v))
        return "an object";
    return "an invalid value";
}

static const char *display(const char *path) { return (path && *path) ? path : "the parameters"; }

/* A hint per shape for pattern failures: what a valid value looks like. */
static const char *pattern_hint(const smneo_shape *s)
{
    static const struct {
        const char *shape, *hint;
    } hints[] = {
        {"EntityName", "use 1 to 63 letters, digits and hyphens, starting and ending with a letter or digit "
                       "(e.g. my-compilation-job-1)"},
        {"RoleArn", "use an IAM role ARN such as arn:aws:iam::123456789012:role/SageMakerRole"},
        {"S3Uri", "use s3://bucket/key (or an https:// URL of the object)"},
        {"ModelPackageArn", "use a versioned model package ARN such as "
                            "arn:aws:sagemaker:us-west-2:123456789012:model-package/my-package/1"},
        {"TagKey", "use letters, digits, spaces and _ . : / = + - @ only"},
        {"TagValue", "use letters, digits, spaces and _ . : / = + - @ only"},
        {"NeoVpcSecurityGroupId", "use a security group id such as sg-0123456789abcdef0"},
        {"NeoVpcSubnetId", "use a subnet id such as subnet-0123456789abcdef0"},
        {"FrameworkVersion", "use a version such as 1.15 or 2.4.2"},
        {"KmsKeyId", "use a key id, a key ARN, alias/Name or an alias ARN"},
        {"NameContains", "use letters, digits and hyphens only"},
        {"PipelineExecutionArn", "use an ARN such as "
                                 "arn:aws:sagemaker:us-west-2:123456789012:pipeline/my-pipeline/execution/abc123"},
        {"CompilerOptions", "write the JSON on one line (line breaks are not accepted)"},
        {"NextToken", "pass the NextToken of the previous response unchanged"},
    };
    for (size_t i = 0; i < sizeof hints / sizeof hints[0]; i++)
        if (!strcmp(hints[i].shape, s->name))
            return hints[i].hint;
    return NULL;
}

static const char *type_word(smneo_shape_type t)
{
    switch (t) {
    case SMNEO_SHAPE_STRUCTURE: return "an object (structure)";
    case SMNEO_SHAPE_LIST: return "a list";
    case SMNEO_SHAPE_MAP: return "an object (map)";
    case SMNEO_SHAPE_STRING: return "a string";
    case SMNEO_SHAPE_INTEGER:
    case SMNEO_SHAPE_LONG: return "an integer";
    case SMNEO_SHAPE_BOOLEAN: return "a boolean (true or false)";
    case SMNEO_SHAPE_TIMESTAMP: return "a timestamp (epoch seconds or an ISO 8601 string such as 2024-01-31T12:00:00Z)";
    case SMNEO_SHAPE_DOUBLE:
    case SMNEO_SHAPE_FLOAT: return "a number";
    case SMNEO_SHAPE_BLOB: return "a base64 string";
    }
    return "a value";
}

static void check_value(smneo__vctx *ctx, const smneo_shape *s, const cJSON *v, const char *path);

static void type_error(smneo__vctx *ctx, const smneo_shape *s, const cJSON *v, const char *path)
{
    char hint[96] = "";
    if (cJSON_IsNull(v)) {
        snprintf(hint, sizeof hint, " (omit the member instead of passing null)");
    } else if (cJSON_IsString(v) && v->valuestring && *v->valuestring) {
        /* a number or boolean written as a string: say how to write it */
        const char *str = v->valuestring;
        char *end;
        int numeric = s->type == SMNEO_SHAPE_INTEGER || s->type == SMNEO_SHAPE_LONG || s->type == SMNEO_SHAPE_DOUBLE ||
                      s->type == SMNEO_SHAPE_FLOAT;
        if (numeric && strlen(str) < 40) {
            (void)strtod(str, &end);
            if (*end == 0 && !isspace((unsigned char)*str))
                snprintf(hint, sizeof hint, " (write the number without quotes: %s)", str);
        } else if (s->type == SMNEO_SHAPE_BOOLEAN && (!strcmp(str, "true") || !strcmp(str, "false"))) {
            snprintf(hint, sizeof hint, " (write %s without quotes)", str);
        }
    }
    V_ERR(ctx, path, "type", "%s must be %s, not %s%s", display(path), type_word(s->type), json_kind(v), hint);
}

/* An unknown member: suggest a near miss among the members, or a member of a
 * nested structure that has exactly this name (e.g. TargetDevice at the root). */
static void unknown_member(smneo__vctx *ctx, const smneo_shape *s, const char *name, const char *path)
{
    const char *names[64];
    size_t n = 0;
    for (size_t i = 0; i < s->member_count && n < 64; i++)
        names[n++] = s->members[i].name;
    const char *near = smneo__closest(name, names, n);
    const char *where = (path && *path) ? path : "the parameters";
    char shown[80];
    shorten(shown, sizeof shown, name);
    char *mp = smneo__path_member(ctx, path, name);
    if (!mp)
        return;
    if (near) {
        V_ERR(ctx, mp, "unknown-member", "unknown member \"%s\" in %s: did you mean %s?", shown, where, near);
        free(mp);
        return;
    }
    for (size_t i = 0; i < s->member_count; i++) {
        const smneo_shape *c = s->members[i].shape;
        if (c->type != SMNEO_SHAPE_STRUCTURE)
            continue;
        for (size_t j = 0; j < c->member_count; j++) {
            if (smneo__strcaseeq(c->members[j].name, name)) {
                V_ERR(ctx, mp, "unknown-member", "unknown member \"%s\" in %s: did you mean %s%s%s.%s?", shown, where,
                      (path && *path) ? path : "", (path && *path) ? "." : "", s->members[i].name,
                      c->members[j].name);
                free(mp);
                return;
            }
        }
    }
    /* list the valid members */
    smneo_buf b = SMNEO_BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        if (i)
            smneo__buf_puts(&b, ", ");
        smneo__buf_puts(&b, names[i]);
    }
    V_ERR(ctx, mp, "unknown-member", "unknown member \"%s\" in %s: remove it (valid members: %s)", shown, where,
          b.data ? b.data : "none");
    smneo__buf_free(&b);
    free(mp);
}

static void check_structure(smneo__vctx *ctx, const smneo_shape *s, const cJSON *v, const char *path)
{
    for (size_t i = 0; i < s->member_count; i++) {
        const smneo_member *m = &s->members[i];
        if (m->required && !cJSON_GetObjectItemCaseSensitive(v, m->name)) {
            char *mp = smneo__path_member(ctx, path, m->name);
            if (!mp)
                return;
            V_ERR(ctx, mp, "required", "%s is required: add it to %s", m->name, display(path));
            free(mp);
        }
    }
    for (const cJSON *c = v->child; c && !ctx->oom; c = c->next) {
        const char *key = c->string ? c->string : "";
        const smneo_member *m = smneo_shape_member(s, key);
        if (!m) {
            unknown_member(ctx, s, key, path);
            continue;
        }
        char *mp = smneo__path_member(ctx, path, key);
        if (!mp)
            return;
        check_value(ctx, m->shape, c, mp);
        free(mp);
    }
}

static void check_string(smneo__vctx *ctx, const smneo_shape *s, const char *str, const char *path)
{
    size_t bytes = strlen(str);
    char shown[80]; /* filled only for a message */
    if (ctx->response) { /* botocore: the length's minimum only */
        size_t n = smneo__utf8_length(str, bytes);
        if (s->has_min && n != (size_t)-1 && (int64_t)n < s->min)
            V_ERR(ctx, path, "length", "%s is %zu characters long: use at least %lld", display(path), n,
                  (long long)s->min);
        return;
    }
    if (s->enums) {
        for (size_t i = 0; i < s->enum_count; i++)
            if (!strcmp(s->enums[i], str))
                return;
        if (ctx->allow_unknown_enum_values)
            return;
        const char *near = smneo__closest_any(str, s->enums, s->enum_count);
        shorten(shown, sizeof shown, str);
        V_ERR(ctx, path, "enum", "%s \"%s\" is not a known %s value: did you mean %s? (if the service has added it "
              "since, set allow_unknown_enum_values)", display(path), shown, s->name, near ? near : "?");
        return;
    }
    size_t chars = smneo__utf8_length(str, bytes);
    if (chars == (size_t)-1) {
        V_ERR(ctx, path, "encoding", "%s is not valid UTF-8: pass text, not raw bytes", display(path));
        return;
    }
    int length_ok = 1;
    if (s->has_min && (int64_t)chars < s->min) {
        length_ok = 0;
        if (chars == 0)
            V_ERR(ctx, path, "length", "%s must not be empty (at least %lld character%s)", display(path),
                  (long long)s->min, s->min == 1 ? "" : "s");
        else
            V_ERR(ctx, path, "length", "%s is %zu characters long: use at least %lld", display(path), chars,
                  (long long)s->min);
    }
    if (s->has_max && (int64_t)chars > s->max) {
        length_ok = 0;
        V_ERR(ctx, path, "length", "%s is %zu characters long: use at most %lld", display(path), chars,
              (long long)s->max);
    }
    /* the pattern, unless the length is already wrong (one error per problem) */
    if (s->pattern && length_ok) {
        int r = smneo__regex_full_match(s->pattern, str, bytes);
        if (r == 0) {
            const char *hint = pattern_hint(s);
            if (bytes == 0)
                V_ERR(ctx, path, "pattern", "%s must not be empty (pattern %s)%s%s", display(path), s->pattern,
                      hint ? ": " : "", hint ? hint : "");
            else {
                shorten(shown, sizeof shown, str);
                V_ERR(ctx, path, "pattern", "%s \"%s\" does not match the pattern %s%s%s", display(path), shown,
                      s->pattern, hint ? ": " : "", hint ? hint : "");
            }
        }
    }
}

static void check_number(smneo__vctx *ctx, const smneo_shape *s, const cJSON *v, const char *path)
{
    int is_int = s->type == SMNEO_SHAPE_INTEGER || s->type == SMNEO_SHAPE_LONG;
    int64_t iv = 0;
    if (is_int) {
        if (!cJSON_IsNumber(v)) {
            type_error(ctx, s, v, path);
            return;
        }
        if (!smneo__json_int(v, &iv)) {
            V_ERR(ctx, path, "type", "%s must be a whole number, not %g", display(path), v->valuedouble);
            return;
        }
        if (s->type == SMNEO_SHAPE_INTEGER && !ctx->response && (iv < INT32_MIN || iv > INT32_MAX)) {
            V_ERR(ctx, path, "range", "%s is %lld: it must fit a 32-bit integer", display(path), (long long)iv);
            return;
        }
        if (s->has_min && iv < s->min)
            V_ERR(ctx, path, "range", "%s is %lld: use at least %lld", display(path), (long long)iv,
                  (long long)s->min);
        if (s->has_max && iv > s->max && !ctx->response)
            V_ERR(ctx, path, "range", "%s is %lld: use at most %lld", display(path), (long long)iv,
                  (long long)s->max);
        return;
    }
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) {
        type_error(ctx, s, v, path);
        return;
    }
    if (s->has_min && v->valuedouble < (double)s->min)
        V_ERR(ctx, path, "range", "%s is %g: use at least %lld", display(path), v->valuedouble, (long long)s->min);
    if (s->has_max && v->valuedouble > (double)s->max && !ctx->response)
        V_ERR(ctx, path, "range", "%s is %g: use at most %lld", display(path), v->valuedouble, (long long)s->max);
}

static void check_value(smneo__vctx *ctx, const smneo_shape *s, const cJSON *v, const char *path)
{
    if (ctx->oom)
        return;
    switch (s->type) {
    case SMNEO_SHAPE_STRUCTURE:
        if (!cJSON_IsObject(v)) {
            type_error(ctx, s, v, path);
            return;
        }
        check_structure(ctx, s, v, path);
        return;
    case SMNEO_SHAPE_LIST: {
        if (!cJSON_IsArray(v)) {
            type_error(ctx, s, v, path);
            return;
        }
        size_t n = (size_t)cJSON_GetArraySize(v);
        if (s->has_min && (int64_t)n < s->min)
            V_ERR(ctx, path, "list-length", "%s has %zu item%s: give at least %lld", display(path), n,
                  n == 1 ? "" : "s", (long long)s->min);
        if (s->has_max && (int64_t)n > s->max && !ctx->response)
            V_ERR(ctx, path, "list-length", "%s has %zu items: give at most %lld", display(path), n,
                  (long long)s->max);
        size_t i = 0;
        for (const cJSON *c = v->child; c && !ctx->oom; c = c->next, i++) {
            char *ip = smneo__path_index(ctx, path, i);
            if (!ip)
                return;
            check_value(ctx, s->member, c, ip);
            free(ip);
        }
        return;
    }
    case SMNEO_SHAPE_MAP: {
        if (!cJSON_IsObject(v)) {
            type_error(ctx, s, v, path);
            return;
        }
        size_t n = (size_t)cJSON_GetArraySize(v);
        if (s->has_min && (int64_t)n < s->min && !ctx->response)
            V_ERR(ctx, path, "list-length", "%s has %zu entries: give at least %lld", display(path), n,
                  (long long)s->min);
        if (s->has_max && (int64_t)n > s->max && !ctx->response)
            V_ERR(ctx, path, "list-length", "%s has %zu entries: give at most %lld", display(path), n,
                  (long long)s->max);
        for (const cJSON *c = v->child; c && !ctx->oom; c = c->next) {
            char *kp = smneo__path_member(ctx, path, c->string ? c->string : "");
            if (!kp)
                return;
            if (s->key && s->key->type == SMNEO_SHAPE_STRING)
                check_string(ctx, s->key, c->string ? c->string : "", kp);
            if (s->value)
                check_value(ctx, s->value, c, kp);
            free(kp);
        }
        return;
    }
    case SMNEO_SHAPE_STRING:
    case SMNEO_SHAPE_BLOB:
        if (!cJSON_IsString(v) || !v->valuestring) {
            type_error(ctx, s, v, path);
            return;
        }
        check_string(ctx, s, v->valuestring, path);
        return;
    case SMNEO_SHAPE_INTEGER:
    case SMNEO_SHAPE_LONG:
    case SMNEO_SHAPE_DOUBLE:
    case SMNEO_SHAPE_FLOAT:
        check_number(ctx, s, v, path);
        return;
    case SMNEO_SHAPE_BOOLEAN:
        if (!cJSON_IsBool(v))
            type_error(ctx, s, v, path);
        return;
    case SMNEO_SHAPE_TIMESTAMP: {
        double t;
        if (smneo__timestamp_value(v, &t) != 0) {
            if (cJSON_IsString(v)) {
                char shown[80];
                shorten(shown, sizeof shown, v->valuestring ? v->valuestring : "");
                V_ERR(ctx, path, "type", "%s \"%s\" is not a valid ISO 8601 timestamp: use e.g. "
                      "2024-01-31T12:00:00Z or epoch seconds", display(path), shown);
            } else {
                type_error(ctx, s, v, path);
            }
        } else if (t < -62135596800.0 || t > 253402300799.0) {
            /* botocore cannot represent these either (Python datetime). */
            V_ERR(ctx, path, "range", "%s (%.17g epoch seconds) is outside the years 1 to 9999: use a time "
                  "between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z", display(path), t);
        }
        return;
    }
    }
}

/* ------------------------------------------------------------------ entry point */

int smneo_validate(smneo_issues **out, const char *operation, const char *params_json, size_t len,
                   const smneo_validate_options *opts, smneo_error *err)
{
    if (!out)
        return smneo__error(err, SMNEO_EINVAL, "smneo_validate: out is NULL");
    *out = NULL;
    smneo_validate_options full;
    int orc = smneo__options_copy(&full, opts, &smneo__validate_options_layout, err);
    if (orc)
        return orc;
    opts = &full;
    const smneo_operation *op = smneo_model_operation(operation);
    if (!op) {
        const char *names[32];
        size_t n = smneo_model_operation_count();
        if (n > 32)
            n = 32;
        for (size_t i = 0; i < n; i++)
            names[i] = smneo_model_operation_at(i)->name;
        const char *near = operation ? smneo__closest_any(operation, names, n) : NULL;
        return smneo__error(err, SMNEO_EINVAL, "unknown operation \"%s\"%s%s%s", operation ? operation : "(null)",
                            near ? ": did you mean " : "", near ? near : "", near ? "?" : "");
    }
    if (!params_json && len)
        return smneo__error(err, SMNEO_EINVAL, "smneo_validate: params_json is NULL");

    smneo_issues *issues = NULL;
    int rc = smneo_issues_new(&issues);
    if (rc)
        return smneo__error(err, rc, "out of memory");
    smneo__vctx ctx = {issues, opts ? opts->allow_unknown_enum_values : 0, 0, 0};

    cJSON *root = params_json ? smneo__parse_json_exact(params_json, len, NULL) : NULL;
    if (!root || !cJSON_IsObject(root)) {
        if (!root)
            V_ERR(&ctx, "", "json", "the parameters are not valid JSON: pass a JSON object such as "
                  "{\"CompilationJobName\": \"my-job\"}");
        else
            V_ERR(&ctx, "", "type", "the parameters must be a JSON object, not %s", json_kind(root));
        cJSON_Delete(root);
        if (ctx.oom) {
            smneo_issues_free(issues);
            return smneo__error(err, SMNEO_ENOMEM, "out of memory");
        }
        /* As every SMNEO_EVALIDATION: the issue goes with the error (err->issues,
         * owned by err); without an err struct the caller gets it in *out. */
        rc = smneo__error(err, SMNEO_EVALIDATION, "%s: %s", op->name, smneo_issues_at(issues, 0)->message);
        if (err) {
            err->field = smneo__strdup("");
            err->issues = issues;
        } else {
            *out = issues;
        }
        return rc;
    }

    long nul = smneo__json_find_nul(params_json, len);
    if (nul >= 0) /* cJSON cut the string there: what we check is not what was given */
        V_ERR(&ctx, "", "encoding", "the parameters hold a NUL character (\\u0000) at byte %ld: names and "
              "values sent to the service cannot contain NUL; remove it", nul);
    check_value(&ctx, op->input, root, "");
    if (!ctx.oom)
        smneo__validate_neo(&ctx, op, root);
    cJSON_Delete(root);
    if (ctx.oom) {
        smneo_issues_free(issues);
        return smneo__error(err, SMNEO_ENOMEM, "out of memory while validating");
    }
    *out = issues;
    return 0;
}

int smneo_validate_response(smneo_issues **out, const char *operation, const char *json, size_t len,
                            smneo_error *err)
{
    if (!out)
        return smneo__error(err, SMNEO_EINVAL, "smneo_validate_response: out is NULL");
    *out = NULL;
    const smneo_operation *op = operation ? smneo_model_operation(operation) : NULL;
    if (!op)
        return smneo__error(err, SMNEO_EINVAL, "unknown operation \"%s\"", operation ? operation : "(null)");
    cJSON *root = json ? smneo__parse_json_exact(json, len, NULL) : NULL;
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return smneo__error(err, SMNEO_EINVAL, "%s: the response must be a JSON object", op->name);
    }
    smneo_issues *issues = NULL;
    if (smneo_issues_new(&issues)) {
        cJSON_Delete(root);
        return smneo__error(err, SMNEO_ENOMEM, "out of memory");
    }
    smneo__vctx ctx = {issues, 1, 0, 1};
    cJSON_DeleteItemFromObjectCaseSensitive(root, "ResponseMetadata");
    if (op->output)
        check_value(&ctx, op->output, root, "");
    else if (root->child)
        V_ERR(&ctx, "", "unknown-member", "%s returns nothing: the response should only contain ResponseMetadata",
              op->name);
    cJSON_Delete(root);
    if (ctx.oom) {
        smneo_issues_free(issues);
        return smneo__error(err, SMNEO_ENOMEM, "out of memory while validating");
    }
    *out = issues;
    return 0;
}

int smneo__validate_node(smneo_issues **out, const smneo_operation *op, const cJSON *root,
                         int allow_unknown_enum_values)
{
    *out = NULL;
    smneo_issues *issues = NULL;
    if (smneo_issues_new(&issues))
        return SMNEO_ENOMEM;
    smneo__vctx ctx = {issues, allow_unknown_enum_values, 0, 0};
    check_value(&ctx, op->input, root, "");
    if (!ctx.oom)
        smneo__validate_neo(&ctx, op, root);
    if (ctx.oom) {
        smneo_issues_free(issues);
        return SMNEO_ENOMEM;
    }
    *out = issues;
    return 0;
}
