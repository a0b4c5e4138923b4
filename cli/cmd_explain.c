/* cli/cmd_explain.c: `smneo explain` (docs/diagnosis.md): why did a
 * compilation job fail? Explains a job's description (fetched with
 * DescribeCompilationJob, or given with --description-json) and its compile
 * log (--log-file, or read from CloudWatch Logs for JOB-NAME, best-effort)
 * with smneo_explain. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* Reads FILE, or stdin for "-". NULL on error (reported). */
static char *read_source(const char *flag, const char *src, size_t *len)
{
    FILE *f = strcmp(src, "-") ? fopen(src, "rb") : stdin;
    if (!f) {
        cli_fail(EXIT_USAGE, "--%s: cannot open %s: %s", flag, src, strerror(errno));
        return NULL;
    }
    char *text = cli_read_all(f, len);
    int bad = ferror(f);
    if (f != stdin)
        fclose(f);
    if (!text || bad) {
        free(text);
        cli_fail(EXIT_OTHER, "--%s: cannot read %s", flag, src);
        return NULL;
    }
    return text;
}

/* The description: --description-json, or DescribeCompilationJob for JOB. */
static char *description(const cli_args *a, const char *job, int *code)
{
    *code = EXIT_OTHER;
    const char *src = cli_get(a, "description-json");
    if (src) {
        size_t len;
        char *text = read_source("description-json", src, &len);
        if (!text) {
            *code = EXIT_USAGE;
            return NULL;
        }
        cJSON *doc = cJSON_ParseWithLength(text, len);
        free(text);
        if (!cJSON_IsObject(doc)) {
            cJSON_Delete(doc);
            *code = cli_fail(EXIT_USAGE, "--description-json %s: not a JSON object: give the output of `smneo "
                                         "describe JOB --output json` (or of aws sagemaker describe-compilation-job)",
                             src);
            return NULL;
        }
        char *json = cJSON_PrintUnformatted(doc);
        cJSON_Delete(doc);
        if (!json)
            *code = cli_fail(EXIT_OTHER, "out of memory");
        return json;
    }
    cli_client cc;
    if ((*code = cli_client_open(&cc, a)) != 0)
        return NULL;
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "CompilationJobName", job);
    char *params = cJSON_PrintUnformatted(p);
    cJSON_Delete(p);
    smneo_result *res = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    char *json = NULL;
    int rc = params ? smneo_client_call(&res, cc.client, "DescribeCompilationJob", params, strlen(params), &err)
                    : SMNEO_ENOMEM;
    if (rc == 0) {
        smneo_value root;
        smneo_result_root(&root, res);
        rc = smneo_value_to_json(&json, &root);
    }
    if (rc)
        *code = cli_error(&err, rc, "DescribeCompilationJob");
    smneo_result_free(res);
    smneo_error_clear(&err);
    free(params);
    cli_client_close(&cc);
    return json;
}

typedef struct log_lines {
    char *text;          /* the file (plain lines are cut in place) */
    cJSON *doc;          /* or its JSON */
    const char **lines;
    size_t *lens;
    size_t n;
    int owned;           /* the lines were read from CloudWatch Logs (strdup'd) */
} log_lines;

static int add_line(log_lines *l, size_t *cap, const char *s, size_t len)
{
    if (l->n == *cap) {
        size_t c = *cap ? *cap * 2 : 256;
        const char **nl = realloc(l->lines, c * sizeof *nl);
        if (nl)
            l->lines = nl;
        size_t *ns = nl ? realloc(l->lens, c * sizeof *ns) : NULL;
        if (!ns)
            return -1;
        l->lens = ns;
        *cap = c;
    }
    l->lines[l->n] = s;
    l->lens[l->n++] = len;
    return 0;
}

/* --log-file: plain lines, or the JSON of GetLogEvents / FilterLogEvents
 * ({"events": [{"message": ...}]}) or an array of such events or strings. */
static int read_log(log_lines *l, const char *src)
{
    size_t len, cap = 0;
    if (!(l->text = read_source("log-file", src, &len)))
        return EXIT_USAGE;
    const char *p = l->text;
    while (p < l->text + len && isspace((unsigned char)*p))
        p++;
    if (p < l->text + len && (*p == '{' || *p == '[')) {
        l->doc = cJSON_ParseWithLength(l->text, len);
        const cJSON *events = cJSON_IsObject(l->doc) ? cJSON_GetObjectItemCaseSensitive(l->doc, "events") : l->doc;
        if (cJSON_IsArray(events)) {
            const cJSON *e;
            cJSON_ArrayForEach(e, events)
            {
                const cJSON *m = cJSON_IsObject(e) ? cJSON_GetObjectItemCaseSensitive(e, "message") : e;
                if (!cJSON_IsString(m))
                    return cli_fail(EXIT_USAGE, "--log-file %s: a JSON log is {\"events\": [{\"message\": ...}]} "
                                                "(aws logs get-log-events) or an array of events or strings",
                                    src);
                if (add_line(l, &cap, m->valuestring, strlen(m->valuestring)))
                    return cli_fail(EXIT_OTHER, "out of memory");
            }
            return 0;
        }
        cJSON_Delete(l->doc); /* not a JSON log: plain lines that happen to start with a bracket */
        l->doc = NULL;
    }
    for (char *s = l->text, *end = l->text + len; s < end;) {
        char *nl = memchr(s, '\n', (size_t)(end - s));
        size_t n = nl ? (size_t)(nl - s) : (size_t)(end - s);
        if (n && s[n - 1] == '\r')
            n--;
        if (add_line(l, &cap, s, n))
            return cli_fail(EXIT_OTHER, "out of memory");
        s = nl ? nl + 1 : end;
    }
    return 0;
}

/* JOB-NAME without --log-file: the job's log from CloudWatch Logs (the
 * matcher reads at most the last 20000 lines). Best-effort: what cannot be
 * read is a warning and the job is explained without it. */
static void fetch_log(log_lines *l, const cli_args *a, const char *job)
{
    cli_client cc;
    if (cli_client_open(&cc, a) != 0)
        return;
    smneo_joblogs_options o = SMNEO_JOBLOGS_OPTIONS_INIT;
    o.tail = 20000;
    smneo_joblogs *jl = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    size_t cap = 0;
    int rc = smneo_joblogs_new(&jl, cc.client, job, &o, &err);
    l->owned = 1;
    if (rc == 0) {
        smneo_log_event ev;
        while ((rc = smneo_joblogs_next(&ev, jl, &err)) == 0) {
            char *copy = strdup(ev.message);
            if (!copy || add_line(l, &cap, copy, ev.message_len)) {
                free(copy);
                break;
            }
        }
        for (size_t i = 0; i < smneo_joblogs_warning_count(jl); i++)
            cli_progress_note("warning: %s", smneo_joblogs_warning_at(jl, i));
    }
    if (rc != 0 && rc != SMNEO_ITEROVER)
        cli_progress_note("warning: the job's log could not be read: %s", err.message ? err.message : smneo_strerror(rc));
    smneo_error_clear(&err);
    smneo_joblogs_free(jl);
    cli_client_close(&cc);
}

static cJSON *diagnosis_json(const smneo_diagnosis *d)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
#define STR(k, v) ((v) ? (void)cJSON_AddStringToObject(o, k, v) : (void)cJSON_AddNullToObject(o, k))
    STR("Id", smneo_diagnosis_id(d));
    cJSON_AddBoolToObject(o, "Matched", smneo_diagnosis_matched(d));
    STR("Category", smneo_failure_category_name(smneo_diagnosis_category(d)));
    STR("Title", smneo_diagnosis_title(d));
    STR("Cause", smneo_diagnosis_cause(d));
    STR("Fix", smneo_diagnosis_fix(d));
    STR("Rule", smneo_diagnosis_rule(d));
    STR("Source", smneo_diagnosis_source(d));
    STR("Evidence", smneo_diagnosis_evidence(d));
    STR("EvidenceSource", smneo_evidence_kind_name(smneo_diagnosis_evidence_kind(d)));
    if (smneo_diagnosis_evidence_line(d) != (size_t)-1) /* 1-based: a line number of --log-file */
        cJSON_AddNumberToObject(o, "EvidenceLine", (double)smneo_diagnosis_evidence_line(d) + 1);
    else
        cJSON_AddNullToObject(o, "EvidenceLine");
    STR("JobName", smneo_diagnosis_job_name(d));
    STR("Status", smneo_diagnosis_status(d));
    STR("FailureReason", smneo_diagnosis_failure_reason(d));
#undef STR
    cJSON_AddItemToObject(o, "Issues", cli_issues_json(smneo_diagnosis_issues(d)));
    return o;
}

int cmd_explain(cli_args *a)
{
    const char *job = cli_get(a, "job-name");
    if (!job && a->npos > 0)
        job = a->pos[0];
    if (a->npos > (cli_has(a, "job-name") ? 0u : 1u))
        return cli_fail(EXIT_USAGE, "usage: smneo explain JOB-NAME, or smneo explain --description-json FILE");
    if (!job && !cli_has(a, "description-json"))
        return cli_fail(EXIT_USAGE, "smneo explain needs a job: give JOB-NAME (described for you) or "
                                    "--description-json FILE|- (the output of smneo describe JOB --output json)");
    if (job && cli_has(a, "description-json"))
        return cli_fail(EXIT_USAGE, "give either JOB-NAME or --description-json, not both");
    if (cli_has(a, "log-file") && !strcmp(cli_get(a, "log-file"), "-") && cli_has(a, "description-json") &&
        !strcmp(cli_get(a, "description-json"), "-"))
        return cli_fail(EXIT_USAGE, "--description-json and --log-file cannot both read stdin (-)");
    int code;
    char *desc = description(a, job, &code);
    if (!desc)
        return code;
    log_lines log = {NULL, NULL, NULL, NULL, 0, 0};
    code = cli_has(a, "log-file") ? read_log(&log, cli_get(a, "log-file")) : 0;
    if (!cli_has(a, "log-file") && job)
        fetch_log(&log, a, job);
    smneo_diagnosis *d = NULL;
    if (code == 0) {
        smneo_error err = SMNEO_ERROR_INIT;
        int rc = smneo_explain(&d, desc, strlen(desc), log.lines, log.lens, log.n, &err);
        if (rc)
            code = cli_error(&err, rc, "explain");
        smneo_error_clear(&err);
    }
    if (d && a->json) {
        cJSON *doc = diagnosis_json(d);
        if (doc)
            cli_print_json(doc);
        else
            code = cli_fail(EXIT_OTHER, "out of memory");
        cJSON_Delete(doc);
    } else if (d) {
        char *text = NULL;
        if (smneo_diagnosis_format(&text, d) == 0) {
            /* printable already; escaped all the same, like everything the CLI prints */
            for (char *line = text, *next; line; line = next) {
                next = strchr(line, '\n');
                if (next)
                    *next++ = '\0';
                cli_line(stdout, "%s", line);
            }
        } else
            code = cli_fail(EXIT_OTHER, "out of memory");
        free(text);
    }
    smneo_diagnosis_free(d);
    for (size_t i = 0; log.owned && i < log.n; i++)
        free((char *)log.lines[i]);
    free(log.lines);
    free(log.lens);
    cJSON_Delete(log.doc);
    free(log.text);
    free(desc);
    return code;
}
