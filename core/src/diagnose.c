/* Why did a compilation job fail? Matches a job's description and compile
 * log against the catalogue of known Neo failures (diagnose_table.c,
 * generated from model/neo-failures.json). See docs/diagnosis.md.
 *
 * Matching: the first entry, in catalogue order, whose patterns find the
 * FailureReason wins, unless it is generic; then the first entry whose
 * patterns find a log line (lines read newest first); then an entry that a
 * validation error of the job's own parameters points at; then a generic
 * match; else "unknown". Patterns are PCRE2, compiled once on the first call
 * (JIT when available) in byte mode, with a match limit, so any bytes are
 * safe subjects and no line can make matching super-linear. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <cjson/cJSON.h>
#include <pcre2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diagnose_internal.h"
#include "internal.h"
#include "smneo/validate.h"

#define MAX_LINES 20000          /* newest lines read */
#define MAX_MATCH_BYTES 16384    /* of each line / of FailureReason */
#define MAX_EVIDENCE_BYTES 1024  /* shown */
#define MAX_REASON_BYTES 4096
#define MAX_NAME_BYTES 256
#define MATCH_LIMIT 200000

/* ------------------------------------------------------------------ compiled catalogue */

typedef struct compiled_entry {
    pcre2_code **pat;  /* FailureReason and log */
    size_t npat;
    pcre2_code **log;  /* log only */
    size_t nlog;
} compiled_entry;

static compiled_entry *compiled;
static pcre2_code *any_log; /* every pattern of every entry: a cheap first pass over lines */
static pcre2_match_context *mctx;
static int init_rc;
static char init_message[512];
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static size_t list_len(const char *const *l)
{
    size_t n = 0;
    while (l && l[n])
        n++;
    return n;
}

static pcre2_code *compile_one(const char *pattern, const char *id)
{
    int errcode;
    PCRE2_SIZE erroff;
    pcre2_code *c = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, 0, &errcode, &erroff, NULL);
    if (!c) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(errcode, msg, sizeof msg);
        snprintf(init_message, sizeof init_message, "catalogue entry %s: pattern \"%s\" does not compile at %zu: %s",
                 id, pattern, (size_t)erroff, (const char *)msg);
        init_rc = errcode == PCRE2_ERROR_NOMEMORY ? SMNEO_ENOMEM : SMNEO_ERROR;
        return NULL;
    }
    (void)pcre2_jit_compile(c, PCRE2_JIT_COMPLETE); /* optional speed-up */
    return c;
}

static int compile_list(pcre2_code ***out, size_t *n, const char *const *list, const char *id)
{
    *n = list_len(list);
    *out = *n ? calloc(*n, sizeof **out) : NULL;
    if (*n && !*out) {
        init_rc = SMNEO_ENOMEM;
        return -1;
    }
    for (size_t i = 0; i < *n; i++)
        if (!((*out)[i] = compile_one(list[i], id)))
            return -1;
    return 0;
}

static void compile_catalogue(void)
{
    compiled = calloc(smneo__failure_count, sizeof *compiled);
    mctx = pcre2_match_context_create(NULL);
    smneo_buf all = SMNEO_BUF_INIT;
    if (!compiled || !mctx) {
        init_rc = SMNEO_ENOMEM;
        snprintf(init_message, sizeof init_message, "out of memory");
        return;
    }
    pcre2_set_match_limit(mctx, MATCH_LIMIT);
    pcre2_set_depth_limit(mctx, MATCH_LIMIT);
    for (size_t i = 0; i < smneo__failure_count; i++) {
        const smneo__failure *f = &smneo__failures[i];
        if (compile_list(&compiled[i].pat, &compiled[i].npat, f->patterns, f->pub.id) ||
            compile_list(&compiled[i].log, &compiled[i].nlog, f->log_patterns, f->pub.id))
            return;
        for (int k = 0; k < 2; k++)
            for (const char *const *p = k ? f->log_patterns : f->patterns; p && *p; p++)
                smneo__buf_printf(&all, "%s(?:%s)", all.len ? "|" : "", *p);
    }
    char *text = smneo__buf_detach(&all, NULL);
    if (!text) {
        init_rc = SMNEO_ENOMEM;
        snprintf(init_message, sizeof init_message, "out of memory");
        return;
    }
    any_log = compile_one(text, "(all patterns)");
    free(text);
}

/* Frees the compiled patterns at exit so leak checkers stay quiet. */
__attribute__((destructor)) static void release_catalogue(void)
{
    for (size_t i = 0; compiled && i < smneo__failure_count; i++) {
        for (size_t k = 0; k < compiled[i].npat; k++)
            pcre2_code_free(compiled[i].pat ? compiled[i].pat[k] : NULL);
        for (size_t k = 0; k < compiled[i].nlog; k++)
            pcre2_code_free(compiled[i].log ? compiled[i].log[k] : NULL);
        free(compiled[i].pat);
        free(compiled[i].log);
    }
    free(compiled);
    compiled = NULL;
    pcre2_code_free(any_log);
    any_log = NULL;
    pcre2_match_context_free(mctx);
    mctx = NULL;
}

static int ensure_compiled(smneo_error *err)
{
    pthread_once(&init_once, compile_catalogue);
    if (init_rc)
        return smneo__error(err, init_rc, "smneo_explain: %s", init_message);
    return 0;
}

int smneo__diagnose_self_check(const char **message)
{
    pthread_once(&init_once, compile_catalogue);
    if (message)
        *message = init_rc ? init_message : NULL;
    return init_rc ? -1 : 0;
}

/* Subjects are matched in a copy with zeroed room around it: PCRE2's JIT
 * reads whole vector words, which may reach a few bytes past the end of the
 * subject (harmless, but not for valgrind, nor with a line at the end of a
 * mapped page). */
#define PAD 64

typedef struct matcher {
    pcre2_match_data *md;
    char *buf;      /* PAD + MAX_MATCH_BYTES + PAD bytes, zeroed when made */
    size_t len;     /* of the subject loaded at buf + PAD */
} matcher;

static void load(matcher *m, const char *s, size_t len)
{
    m->len = len > MAX_MATCH_BYTES ? MAX_MATCH_BYTES : len;
    memcpy(m->buf + PAD, s, m->len);
    memset(m->buf + PAD + m->len, 0, PAD);
}

/* 1 when the pattern occurs in the loaded subject. A match-limit hit counts
 * as no match. */
static int found(const pcre2_code *c, const matcher *m)
{
    return pcre2_match(c, (PCRE2_SPTR)(m->buf + PAD), m->len, 0, 0, m->md, mctx) >= 0;
}

static int entry_finds(size_t i, const matcher *m, int log)
{
    for (size_t k = 0; k < compiled[i].npat; k++)
        if (found(compiled[i].pat[k], m))
            return 1;
    for (size_t k = 0; log && k < compiled[i].nlog; k++)
        if (found(compiled[i].log[k], m))
            return 1;
    return 0;
}

/* ------------------------------------------------------------------ catalogue API */

size_t smneo_diagnosis_catalogue_count(void) { return smneo__failure_count; }

const smneo_failure_entry *smneo_diagnosis_catalogue_at(size_t i)
{
    return i < smneo__failure_count ? &smneo__failures[i].pub : NULL;
}

const char *smneo_failure_category_name(smneo_failure_category c)
{
    switch (c) {
    case SMNEO_FAILURE_USER: return "user";
    case SMNEO_FAILURE_LOAD: return "load";
    case SMNEO_FAILURE_COMPILATION: return "compilation";
    case SMNEO_FAILURE_SYSTEM: return "system";
    default: return "none";
    }
}

const char *smneo_evidence_kind_name(smneo_evidence_kind k)
{
    switch (k) {
    case SMNEO_EVIDENCE_FAILURE_REASON: return "FailureReason";
    case SMNEO_EVIDENCE_LOG: return "log";
    case SMNEO_EVIDENCE_VALIDATION: return "validation";
    default: return NULL;
    }
}

/* ------------------------------------------------------------------ text from the input */

/* Decodes one UTF-8 sequence at s (n bytes left): its length and code point,
 * or 0 when the bytes are not well-formed UTF-8 (overlong forms, surrogates
 * and values above U+10FFFF included). */
static size_t utf8_decode(const unsigned char *s, size_t n, unsigned *cp)
{
    unsigned c = s[0];
    size_t len;
    unsigned min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if (c >= 0xC2 && c <= 0xDF) {
        len = 2, min = 0x80, c &= 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3, min = 0x800, c &= 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4, min = 0x10000, c &= 0x07;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
        return 0;
    *cp = c;
    return len;
}

/* A printable, valid UTF-8 copy of s[0..len): invalid bytes, control
 * characters (C0 but tab, DEL, C1), the Unicode line and paragraph
 * separators and the bidirectional marks, embeddings, overrides and isolates
 * become U+FFFD, tabs and line breaks a space, leading and trailing spaces
 * go; cut at a character boundary with "..." beyond max bytes. NULL on
 * allocation failure. */
static char *printable(const char *s, size_t len, size_t max)
{
    const unsigned char *p = (const unsigned char *)s;
    while (len && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
        p++, len--;
    while (len && (p[len - 1] == ' ' || p[len - 1] == '\t' || p[len - 1] == '\r' || p[len - 1] == '\n'))
        len--;
    smneo_buf b = SMNEO_BUF_INIT;
    smneo__buf_grow(&b, len < max ? len : max);
    for (size_t i = 0; i < len;) {
        unsigned cp;
        size_t n = utf8_decode(p + i, len - i, &cp);
        size_t add = n ? n : 1;
        const char *rep = NULL;
        if (!n || cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp < 0xA0) || cp == 0x061C || cp == 0x200E ||
            cp == 0x200F || (cp >= 0x2028 && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069))
            rep = (n && (cp == '\t' || cp == '\n' || cp == '\r')) ? " " : "\xEF\xBF\xBD";
        size_t out = rep ? strlen(rep) : n;
        if (b.len + out > max) {
            smneo__buf_puts(&b, "...");
            break;
        }
        if (rep)
            smneo__buf_puts(&b, rep);
        else
            smneo__buf_append(&b, p + i, n);
        i += add;
    }
    return smneo__buf_detach(&b, NULL);
}

/* ------------------------------------------------------------------ the diagnosis */

struct smneo_diagnosis {
    const smneo__failure *entry; /* NULL for "unknown" and "not-failed" */
    const char *id;
    smneo_failure_category category;
    const char *title, *cause, *fix, *rule, *source;
    char *owned_cause;           /* "not-failed": names the status */
    char *evidence;
    smneo_evidence_kind evidence_kind;
    size_t evidence_line;
    char *job_name, *status, *reason;
    smneo_issues *issues;
};

static const char UNKNOWN_TITLE[] = "smneo does not recognise this failure";
static const char UNKNOWN_CAUSE[] =
    "Neither the FailureReason nor the compile log matches a failure smneo knows. AWS counts every error that is "
    "not a user error (permissions, loading, compilation) as a system error, so this may be a problem inside the "
    "service, or a user error smneo has no entry for yet.";
static const char UNKNOWN_FIX[] =
    "Read the FailureReason and the compile log (CloudWatch Logs group /aws/sagemaker/CompilationJobs, the streams "
    "whose names start with the job's name) for the first error. If nothing there points at the model or the "
    "request, create the job again in a few minutes; if it fails the same way, contact AWS Support with the job's "
    "ARN.";
static const char NOTHING_CAUSE[] = "Nothing to go on: neither a FailureReason nor log lines were given.";
static const char NOTHING_FIX[] =
    "Pass the job's description (DescribeCompilationJob's result) and the lines of its compile log.";
static const char NOT_FAILED_TITLE[] = "The job did not fail";

static void use_entry(smneo_diagnosis *d, const smneo__failure *f)
{
    d->entry = f;
    d->id = f->pub.id;
    d->category = f->pub.category;
    d->title = f->pub.title;
    d->cause = f->pub.cause;
    d->fix = f->pub.fix;
    d->rule = f->pub.rule;
    d->source = f->pub.source;
}

static const char *json_str(const cJSON *obj, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int entry_fits_target(const smneo__failure *f, const cJSON *desc)
{
    if (!f->targets)
        return 1;
    const cJSON *oc = cJSON_GetObjectItemCaseSensitive(desc, "OutputConfig");
    if (!cJSON_IsObject(oc))
        return 1; /* nothing says otherwise */
    const char *dev = json_str(oc, "TargetDevice");
    for (const char *const *t = f->targets; dev && *t; t++)
        if (strncmp(dev, *t, strlen(*t)) == 0)
            return 1;
    return 0;
}

/* The errors of the Neo rules that the description's own parameters break. */
static int validate_description(smneo_issues *keep, const cJSON *desc)
{
    static const char *const members[] = {"CompilationJobName", "RoleArn", "ModelPackageVersionArn", "InputConfig",
                                          "OutputConfig", "VpcConfig", "StoppingCondition", NULL};
    /* only a whole description: a partial one would break rules by its gaps */
    if (!cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(desc, "OutputConfig")) ||
        !(cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(desc, "InputConfig")) ||
          cJSON_IsString(cJSON_GetObjectItemCaseSensitive(desc, "ModelPackageVersionArn"))))
        return 0;
    cJSON *params = cJSON_CreateObject();
    if (!params)
        return SMNEO_ENOMEM;
    for (const char *const *m = members; *m; m++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(desc, *m);
        if (v && !cJSON_IsNull(v)) {
            cJSON *copy = cJSON_Duplicate(v, 1);
            if (!copy || !cJSON_AddItemToObject(params, *m, copy)) {
                cJSON_Delete(copy);
                cJSON_Delete(params);
                return SMNEO_ENOMEM;
            }
        }
    }
    char *json = cJSON_PrintUnformatted(params);
    cJSON_Delete(params);
    if (!json)
        return SMNEO_ENOMEM;
    smneo_validate_options vo = SMNEO_VALIDATE_OPTIONS_INIT;
    vo.allow_unknown_enum_values = 1;
    smneo_issues *all = NULL;
    int rc = smneo_validate(&all, "CreateCompilationJob", json, strlen(json), &vo, NULL);
    free(json);
    int out = 0;
    for (size_t i = 0; rc == 0 && i < smneo_issues_count(all) && !out; i++) {
        const smneo_issue *is = smneo_issues_at(all, i);
        if (is->severity != SMNEO_SEVERITY_ERROR || strncmp(is->rule, "neo.", 4) != 0)
            continue;
        /* messages may quote the description's values: keep them printable */
        char *path = printable(is->path, strlen(is->path), MAX_EVIDENCE_BYTES);
        char *msg = printable(is->message, strlen(is->message), MAX_EVIDENCE_BYTES);
        out = path && msg ? smneo_issues_add(keep, is->severity, path, is->rule, "%s", msg) : SMNEO_ENOMEM;
        free(path);
        free(msg);
    }
    smneo_issues_free(all);
    return rc == SMNEO_ENOMEM ? rc : out;
}

/* The entry a validation error points at (its rule or a related rule). */
static const smneo__failure *entry_for_rule(const char *rule, const cJSON *desc)
{
    for (size_t i = 0; i < smneo__failure_count; i++) {
        const smneo__failure *f = &smneo__failures[i];
        int hit = f->pub.rule && strcmp(f->pub.rule, rule) == 0;
        for (const char *const *r = f->related_rules; r && *r && !hit; r++)
            hit = strcmp(*r, rule) == 0;
        if (hit && entry_fits_target(f, desc))
            return f;
    }
    return NULL;
}

static const char *not_failed_fix(const char *status)
{
    if (!strcmp(status, "COMPLETED"))
        return "Nothing to fix: the compiled model is at OutputConfig.S3OutputLocation.";
    if (!strcmp(status, "STOPPING") || !strcmp(status, "STOPPED"))
        return "The job was stopped (StopCompilationJob, or its StoppingCondition ran out): create it again to "
               "compile the model.";
    return "Wait for the job to end (smneo wait JOB), and explain it again if it fails.";
}

typedef struct match {
    const smneo__failure *entry;
    size_t line; /* log matches */
} match;

int smneo_explain(smneo_diagnosis **out, const char *description_json, size_t len, const char *const *log_lines,
                  const size_t *line_lens, size_t n_lines, smneo_error *err)
{
    if (!out)
        return smneo__error(err, SMNEO_EINVAL, "smneo_explain: out is NULL");
    *out = NULL;
    if (n_lines && !log_lines)
        return smneo__error(err, SMNEO_EINVAL, "smneo_explain: log_lines is NULL but n_lines is %zu", n_lines);
    for (size_t i = 0; i < n_lines; i++)
        if (!log_lines[i])
            return smneo__error(err, SMNEO_EINVAL, "smneo_explain: log line %zu is NULL", i);
    int rc = ensure_compiled(err);
    if (rc)
        return rc;
    cJSON *desc = NULL;
    if (description_json) {
        desc = cJSON_ParseWithLength(description_json, len);
        if (!cJSON_IsObject(desc)) {
            cJSON_Delete(desc);
            return smneo__error(err, SMNEO_EINVAL,
                                "smneo_explain: the description is not a JSON object: pass DescribeCompilationJob's "
                                "result (or NULL to explain log lines alone)");
        }
    }
    smneo_diagnosis *d = calloc(1, sizeof *d);
    matcher m = {pcre2_match_data_create(1, NULL), calloc(1, PAD + MAX_MATCH_BYTES + PAD), 0};
    rc = d && m.md && m.buf && smneo_issues_new(&d->issues) == 0 ? 0 : SMNEO_ENOMEM;
    if (d)
        d->evidence_line = (size_t)-1;

    const char *name = json_str(desc, "CompilationJobName");
    const char *status = json_str(desc, "CompilationJobStatus");
    const char *reason = json_str(desc, "FailureReason");
    if (reason && !*reason)
        reason = NULL;
    if (!rc && name && !(d->job_name = printable(name, strlen(name), MAX_NAME_BYTES)))
        rc = SMNEO_ENOMEM;
    if (!rc && status && !(d->status = printable(status, strlen(status), MAX_NAME_BYTES)))
        rc = SMNEO_ENOMEM;
    if (!rc && reason && !(d->reason = printable(reason, strlen(reason), MAX_REASON_BYTES)))
        rc = SMNEO_ENOMEM;
    if (rc)
        goto done;

    if (status && strcmp(status, "FAILED") != 0) {
        d->id = "not-failed";
        d->category = SMNEO_FAILURE_NONE;
        d->title = NOT_FAILED_TITLE;
        d->owned_cause = smneo__aprintf("The job's status is %s: only a FAILED job has a failure to explain.",
                                        d->status);
        d->cause = d->owned_cause;
        d->fix = not_failed_fix(status);
        rc = d->owned_cause ? 0 : SMNEO_ENOMEM;
        goto done;
    }

    /* 1. FailureReason */
    match by_reason = {NULL, 0};
    if (reason)
        load(&m, reason, strlen(reason));
    for (size_t i = 0; reason && i < smneo__failure_count && !by_reason.entry; i++)
        if (entry_fits_target(&smneo__failures[i], desc) && entry_finds(i, &m, 0))
            by_reason.entry = &smneo__failures[i];

    /* 2. the log, newest lines first: the first entry (in catalogue order)
     * that finds a line wins, with its newest line. A line that no pattern
     * finds is skipped after one search. */
    match by_log = {NULL, 0};
    size_t best = smneo__failure_count, first = n_lines > MAX_LINES ? n_lines - MAX_LINES : 0;
    for (size_t i = n_lines; i-- > first && !(by_reason.entry && !by_reason.entry->generic) && best > 0;) {
        load(&m, log_lines[i], line_lens ? line_lens[i] : strlen(log_lines[i]));
        if (!found(any_log, &m))
            continue;
        for (size_t e = 0; e < best; e++) {
            if (entry_fits_target(&smneo__failures[e], desc) && entry_finds(e, &m, 1)) {
                best = e;
                by_log.entry = &smneo__failures[e];
                by_log.line = i;
            }
        }
    }

    /* 3. the job's own parameters */
    if ((rc = validate_description(d->issues, desc)) != 0)
        goto done;
    const smneo__failure *by_rule = NULL;
    const smneo_issue *rule_issue = NULL;
    for (size_t i = 0; i < smneo_issues_count(d->issues) && !by_rule; i++) {
        rule_issue = smneo_issues_at(d->issues, i);
        by_rule = entry_for_rule(rule_issue->rule, desc);
    }

    const char *evidence = NULL;
    size_t evidence_len = 0;
    if (by_reason.entry && !by_reason.entry->generic) {
        use_entry(d, by_reason.entry);
    } else if (by_log.entry && !by_log.entry->generic) {
        use_entry(d, by_log.entry);
    } else if (by_rule) {
        use_entry(d, by_rule);
    } else if (by_reason.entry) {
        use_entry(d, by_reason.entry);
    } else if (by_log.entry) {
        use_entry(d, by_log.entry);
    } else {
        d->id = "unknown";
        d->category = SMNEO_FAILURE_SYSTEM;
        d->title = UNKNOWN_TITLE;
        int nothing = !reason && n_lines == 0;
        d->cause = nothing ? NOTHING_CAUSE : UNKNOWN_CAUSE;
        d->fix = nothing ? NOTHING_FIX : UNKNOWN_FIX;
        if (reason) {
            d->evidence_kind = SMNEO_EVIDENCE_FAILURE_REASON;
            evidence = reason;
            evidence_len = strlen(reason);
        }
    }
    if (d->entry == by_reason.entry && d->entry) {
        d->evidence_kind = SMNEO_EVIDENCE_FAILURE_REASON;
        evidence = reason;
        evidence_len = strlen(reason);
    } else if (d->entry && d->entry == by_log.entry) {
        d->evidence_kind = SMNEO_EVIDENCE_LOG;
        d->evidence_line = by_log.line;
        evidence = log_lines[by_log.line];
        evidence_len = line_lens ? line_lens[by_log.line] : strlen(evidence);
        if (evidence_len > MAX_MATCH_BYTES)
            evidence_len = MAX_MATCH_BYTES;
    } else if (d->entry && d->entry == by_rule) {
        d->evidence_kind = SMNEO_EVIDENCE_VALIDATION;
        char *text = rule_issue->path[0] ? smneo__aprintf("%s: %s [%s]", rule_issue->path, rule_issue->message,
                                                          rule_issue->rule)
                                         : smneo__aprintf("%s [%s]", rule_issue->message, rule_issue->rule);
        if (!text) {
            rc = SMNEO_ENOMEM;
            goto done;
        }
        d->evidence = printable(text, strlen(text), MAX_EVIDENCE_BYTES);
        free(text);
        rc = d->evidence ? 0 : SMNEO_ENOMEM;
        goto done;
    }
    if (evidence && !(d->evidence = printable(evidence, evidence_len, MAX_EVIDENCE_BYTES)))
        rc = SMNEO_ENOMEM;

done:
    pcre2_match_data_free(m.md);
    free(m.buf);
    cJSON_Delete(desc);
    if (rc) {
        smneo_diagnosis_free(d);
        return smneo__error(err, rc, "smneo_explain: out of memory");
    }
    *out = d;
    return 0;
}

void smneo_diagnosis_free(smneo_diagnosis *d)
{
    if (!d)
        return;
    free(d->owned_cause);
    free(d->evidence);
    free(d->job_name);
    free(d->status);
    free(d->reason);
    smneo_issues_free(d->issues);
    free(d);
}

/* ------------------------------------------------------------------ accessors */

const char *smneo_diagnosis_id(const smneo_diagnosis *d) { return d ? d->id : "unknown"; }
int smneo_diagnosis_matched(const smneo_diagnosis *d) { return d && d->entry; }
const smneo_failure_entry *smneo_diagnosis_entry(const smneo_diagnosis *d)
{
    return d && d->entry ? &d->entry->pub : NULL;
}
smneo_failure_category smneo_diagnosis_category(const smneo_diagnosis *d)
{
    return d ? d->category : SMNEO_FAILURE_NONE;
}
const char *smneo_diagnosis_title(const smneo_diagnosis *d) { return d ? d->title : UNKNOWN_TITLE; }
const char *smneo_diagnosis_cause(const smneo_diagnosis *d) { return d ? d->cause : UNKNOWN_CAUSE; }
const char *smneo_diagnosis_fix(const smneo_diagnosis *d) { return d ? d->fix : UNKNOWN_FIX; }
const char *smneo_diagnosis_rule(const smneo_diagnosis *d) { return d ? d->rule : NULL; }
const char *smneo_diagnosis_source(const smneo_diagnosis *d) { return d ? d->source : NULL; }
const char *smneo_diagnosis_evidence(const smneo_diagnosis *d) { return d ? d->evidence : NULL; }
smneo_evidence_kind smneo_diagnosis_evidence_kind(const smneo_diagnosis *d)
{
    return d ? d->evidence_kind : SMNEO_EVIDENCE_NONE;
}
size_t smneo_diagnosis_evidence_line(const smneo_diagnosis *d) { return d ? d->evidence_line : (size_t)-1; }
const char *smneo_diagnosis_job_name(const smneo_diagnosis *d) { return d ? d->job_name : NULL; }
const char *smneo_diagnosis_status(const smneo_diagnosis *d) { return d ? d->status : NULL; }
const char *smneo_diagnosis_failure_reason(const smneo_diagnosis *d) { return d ? d->reason : NULL; }
const smneo_issues *smneo_diagnosis_issues(const smneo_diagnosis *d) { return d ? d->issues : NULL; }

/* ------------------------------------------------------------------ text */

static const char *category_phrase(smneo_failure_category c)
{
    switch (c) {
    case SMNEO_FAILURE_USER: return "a user error";
    case SMNEO_FAILURE_LOAD: return "a load error";
    case SMNEO_FAILURE_COMPILATION: return "a compilation error";
    case SMNEO_FAILURE_SYSTEM: return "a system error";
    default: return "nothing to explain";
    }
}

int smneo_diagnosis_format(char **out, const smneo_diagnosis *d)
{
    if (!out || !d)
        return SMNEO_EINVAL;
    *out = NULL;
    smneo_buf b = SMNEO_BUF_INIT;
    if (d->job_name)
        smneo__buf_printf(&b, "Job %s: %s\n", d->job_name, d->status ? d->status : "(status unknown)");
    else if (d->status)
        smneo__buf_printf(&b, "Status: %s\n", d->status);
    if (d->reason && d->evidence_kind != SMNEO_EVIDENCE_FAILURE_REASON)
        smneo__buf_printf(&b, "FailureReason: %s\n", d->reason);
    smneo__buf_printf(&b, "Diagnosis: %s (%s): %s\n", d->id, category_phrase(d->category), d->title);
    smneo__buf_printf(&b, "Cause: %s\n", d->cause);
    smneo__buf_printf(&b, "Fix: %s\n", d->fix);
    if (d->rule)
        smneo__buf_printf(&b, "Rule: %s (%s)\n", d->rule,
                          strncmp(d->rule, "artifact.", 9) == 0
                              ? "`smneo inspect ARCHIVE --framework NAME` checks it before you upload"
                              : "`smneo validate` checks it before the job is created");
    switch (d->evidence_kind) {
    case SMNEO_EVIDENCE_FAILURE_REASON:
        smneo__buf_printf(&b, "Evidence (FailureReason): %s\n", d->evidence);
        break;
    case SMNEO_EVIDENCE_LOG:
        smneo__buf_printf(&b, "Evidence (log line %zu): %s\n", d->evidence_line + 1, d->evidence);
        break;
    case SMNEO_EVIDENCE_VALIDATION:
        smneo__buf_printf(&b, "Evidence (the job's parameters): %s\n", d->evidence);
        break;
    default:
        break;
    }
    if (d->source)
        smneo__buf_printf(&b, "Source: %s\n", d->source);
    size_t n = smneo_issues_count(d->issues);
    if (n && d->evidence_kind != SMNEO_EVIDENCE_VALIDATION) {
        smneo__buf_printf(&b, "The job's parameters also break %s:\n", n == 1 ? "a validation rule" : "validation rules");
        for (size_t i = 0; i < n; i++) {
            const smneo_issue *is = smneo_issues_at(d->issues, i);
            smneo__buf_printf(&b, "  %s%s%s [%s]\n", is->path, is->path[0] ? ": " : "", is->message, is->rule);
        }
    } else if (n > 1) {
        smneo__buf_puts(&b, "The job's parameters break these validation rules:\n");
        for (size_t i = 0; i < n; i++) {
            const smneo_issue *is = smneo_issues_at(d->issues, i);
            smneo__buf_printf(&b, "  %s%s%s [%s]\n", is->path, is->path[0] ? ": " : "", is->message, is->rule);
        }
    }
    if (!b.failed && b.len && b.data[b.len - 1] == '\n')
        b.len--; /* lines, without a final newline */
    *out = smneo__buf_detach(&b, NULL);
    return *out ? 0 : SMNEO_ENOMEM;
}
