/* cli/cmd_compile_many.c: `smneo compile` with several --model and
 * --target/--platform: the cross product as smneo_compile_many, one live line
 * per job on a terminal, a final table (or {"Jobs": [...]} with --output
 * json), exit 0 only when every job completed, 5 when any did not, 130 after
 * Ctrl-C (the jobs it started are stopped unless --keep-jobs-on-cancel). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static size_t count_of(const cli_args *a, const char *name)
{
    size_t n = 0;
    for (size_t i = 0; i < a->count; i++)
        n += !strcmp(a->names[i], name);
    return n;
}

int cli_compile_is_many(const cli_args *a)
{
    static const char *const only_many[] = {"max-concurrent", "state-file", "retry-failed", "keep-jobs-on-cancel",
                                            "matrix"};
    for (size_t i = 0; i < sizeof only_many / sizeof only_many[0]; i++)
        if (cli_has(a, only_many[i]))
            return 1;
    return count_of(a, "model") + (cli_has(a, "model") ? 0 : a->npos) > 1 ||
           count_of(a, "target") + count_of(a, "platform") > 1;
}

/* ---- the live display -------------------------------------------------------------- */

typedef struct line {
    char status[32];
    char job[72];
    double started, ended; /* cli_now() at CREATED/REATTACHED and at DONE; 0: not yet */
} line;

typedef struct view {
    const smneo_compile_options *jobs;
    const char *const *targets;
    line *lines;
    size_t n, drawn;
    int tty, quiet, json;
    double last_draw;
} view;

static void draw(view *v, int force)
{
    if (v->quiet || !v->tty)
        return;
    double now = cli_now();
    if (!force && now - v->last_draw < 0.2)
        return;
    v->last_draw = now;
    if (v->drawn)
        fprintf(stderr, "\033[%zuA", v->drawn);
    for (size_t i = 0; i < v->n; i++) {
        const line *l = &v->lines[i];
        double el = l->started ? (l->ended ? l->ended : now) - l->started : 0;
        const char *model = v->jobs[i].model                       ? v->jobs[i].model
                            : v->jobs[i].model_package_version_arn ? v->jobs[i].model_package_version_arn
                                                                   : "";
        size_t ml = strlen(model);
        char *text = NULL;
        if (asprintf(&text, "%s%-*s %-16.16s %-12s %6.0fs  %s", ml > 28 ? "..." : "", ml > 28 ? 25 : 28,
                     ml > 28 ? model + ml - 25 : model, v->targets[i],
                     l->status[0] ? l->status : "WAITING", el, l->job) < 0)
            text = NULL;
        char *safe = cli_escape(text ? text : "");
        fprintf(stderr, "\r\033[K%s\n", safe ? safe : "");
        free(safe);
        free(text);
    }
    v->drawn = v->n;
    fflush(stderr);
}

/* Off a terminal: a line per status change. */
static void note(view *v, size_t i, const char *what)
{
    if (v->quiet || v->tty)
        return;
    const char *model = v->jobs[i].model ? v->jobs[i].model : v->jobs[i].model_package_version_arn;
    cli_line(stderr, "[%zu] %s %s: %s", i + 1, model ? model : "", v->targets[i], what);
}

static int on_event(size_t job, const smneo_compile_event *ev, void *payload)
{
    view *v = payload;
    const char *msg = ev->message ? ev->message : "";
    if (job < v->n) {
        line *l = &v->lines[job];
        switch (ev->kind) {
        case SMNEO_COMPILE_EVENT_CREATED:
        case SMNEO_COMPILE_EVENT_REATTACHED:
            snprintf(l->job, sizeof l->job, "%s", msg);
            snprintf(l->status, sizeof l->status, "%s",
                     ev->kind == SMNEO_COMPILE_EVENT_CREATED ? "CREATED" : "REATTACHED");
            l->started = cli_now();
            note(v, job, l->status);
            break;
        case SMNEO_COMPILE_EVENT_STATUS:
            if (strcmp(l->status, msg)) {
                snprintf(l->status, sizeof l->status, "%s", msg);
                note(v, job, msg);
            }
            break;
        case SMNEO_COMPILE_EVENT_QUEUED:
            snprintf(l->status, sizeof l->status, "QUEUED");
            note(v, job, "queued: the account's concurrent-job limit was met");
            break;
        case SMNEO_COMPILE_EVENT_SKIPPED:
            snprintf(l->job, sizeof l->job, "%s", msg);
            snprintf(l->status, sizeof l->status, "SKIPPED");
            note(v, job, "completed before (state file): skipped");
            break;
        case SMNEO_COMPILE_EVENT_WARNING:
            if (!v->tty && !v->quiet)
                cli_line(stderr, "[%zu] warning: %s", job + 1, msg);
            break;
        case SMNEO_COMPILE_EVENT_LOG: {
            /* --logs: the job's line, prefixed by its number, above the live lines */
            if (v->tty && !v->quiet && v->drawn) {
                fprintf(stderr, "\033[%zuA\033[J", v->drawn);
                fflush(stderr);
                v->drawn = 0;
            }
            char prefix[32];
            snprintf(prefix, sizeof prefix, "[%zu] ", job + 1);
            smneo_log_event le = {(int64_t)ev->done, msg, strlen(msg), NULL};
            FILE *f = v->json ? stderr : stdout;
            cli_print_job_log_line(f, prefix, &le);
            fflush(f);
            draw(v, 1);
            break;
        }
        case SMNEO_COMPILE_EVENT_DONE:
            if (!strcmp(l->status, "SKIPPED"))
                break;
            if (strcmp(l->status, msg))
                note(v, job, *msg ? msg : "not started");
            snprintf(l->status, sizeof l->status, "%s", *msg ? msg : "NOT STARTED");
            l->ended = cli_now();
            draw(v, 1);
            break;
        default:
            break;
        }
    }
    draw(v, 0);
    return cli_interrupted ? 1 : 0;
}

/* ---- the command ---------------------------------------------------------------------- */

static cJSON *row_json(const smneo_compile_many_result *res, size_t i)
{
    const smneo_compile_row *r = smneo_compile_many_result_row(res, i);
    const smneo_diagnosis *dg = smneo_compile_many_result_diagnosis(res, i);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "Model", r->model ? r->model : "");
    cJSON_AddStringToObject(o, "Target", r->target ? r->target : "");
    if (r->job_name)
        cJSON_AddStringToObject(o, "CompilationJobName", r->job_name);
    else
        cJSON_AddNullToObject(o, "CompilationJobName");
    cJSON_AddStringToObject(o, "CompilationJobStatus", r->status ? r->status : "");
    cJSON_AddNumberToObject(o, "DurationSeconds", (double)(long long)(r->duration * 10 + 0.5) / 10);
    if (r->artifact_path)
        cJSON_AddStringToObject(o, "ArtifactPath", r->artifact_path);
    else
        cJSON_AddNullToObject(o, "ArtifactPath");
    cJSON_AddBoolToObject(o, "DigestVerified", r->digest_verified);
    if (r->failure_reason)
        cJSON_AddStringToObject(o, "FailureReason", r->failure_reason);
    else
        cJSON_AddNullToObject(o, "FailureReason");
    if (dg)
        cJSON_AddItemToObject(o, "Diagnosis", cli_diagnosis_json(dg));
    else
        cJSON_AddNullToObject(o, "Diagnosis");
    return o;
}

/* a without --model/--target/--platform, then the job's own. */
static void job_args(cli_args *out, const cli_args *a, const char *target_flag, const char *target)
{
    *out = *a;
    out->count = 0;
    for (size_t i = 0; i < a->count; i++) {
        if (!strcmp(a->names[i], "model") || !strcmp(a->names[i], "target") || !strcmp(a->names[i], "platform"))
            continue;
        out->names[out->count] = a->names[i];
        out->values[out->count++] = a->values[i];
    }
    if (target_flag) {
        out->names[out->count] = target_flag;
        out->values[out->count++] = target;
    }
    out->npos = 0;
}

/* ---- --matrix FILE: a JSON list of jobs in compile()'s terms ---------------------- */

/* compile()'s keyword -> the flag it becomes (NULL: handled apart); its type
 * comes from the core's table of compile()'s keywords (smneo_compile_option_at). */
static const struct {
    const char *key, *flag;
} MATRIX_KEYS[] = {
    {"model", NULL},
    {"framework", "framework"},
    {"target_device", "target"},
    {"target_os", NULL},
    {"target_arch", NULL},
    {"target_accelerator", NULL},
    {"data_input_config", "input-shape"},
    {"compiler_options", "compiler-options"},
    {"framework_version", "framework-version"},
    {"role_arn", "role"},
    {"s3_bucket", "bucket"},
    {"s3_prefix", "prefix"},
    {"job_name", "job-name"},
    {"output_dir", "output-dir"},
    {"extract", "extract"},
    {"kms_key_id", "kms-key-id"},
    {"tags", "tags"},
    {"vpc_config", "vpc-config"},
    {"model_package_version_arn", "model-package-version-arn"},
    {"max_runtime_seconds", "max-runtime"},
    {"max_wait_seconds", "max-wait"},
    {"max_pending_seconds", "max-pending"},
};
enum { N_MATRIX_KEYS = sizeof MATRIX_KEYS / sizeof MATRIX_KEYS[0] };

/* The type of compile()'s keyword key (the core's table). */
static smneo_compile_option_type option_type(const char *key)
{
    const smneo_compile_option_info *o;
    for (size_t i = 0; (o = smneo_compile_option_at(i)); i++)
        if (!strcmp(o->name, key))
            return o->type;
    return SMNEO_COMPILE_OPTION_STRING;
}

/* A string kept alive in keep (the matrix's string store); NULL when out of memory. */
static const char *kept(cJSON *keep, const char *text)
{
    cJSON *s = cJSON_CreateString(text);
    if (!s)
        return NULL;
    cJSON_AddItemToArray(keep, s);
    return s->valuestring;
}

static int add_flag(cli_args *ja, const char *name, const char *value)
{
    if (!value)
        return cli_fail(EXIT_OTHER, "out of memory");
    if (ja->count >= sizeof ja->names / sizeof ja->names[0])
        return cli_fail(EXIT_USAGE, "--matrix: too many options for one job");
    ja->names[ja->count] = name;
    ja->values[ja->count++] = value;
    return 0;
}

/* Reads --matrix FILE ("-": stdin) into *doc, a non-empty array of objects. 0 or the exit code. */
static int read_matrix(cJSON **doc, const char *path)
{
    *doc = NULL;
    size_t len = 0;
    char *text = NULL;
    if (!strcmp(path, "-")) {
        text = cli_read_all(stdin, &len);
    } else {
        FILE *f = fopen(path, "rb");
        if (!f)
            return cli_fail(EXIT_USAGE, "--matrix: cannot open %s: %s", path, strerror(errno));
        text = cli_read_all(f, &len);
        fclose(f);
    }
    if (!text)
        return cli_fail(EXIT_OTHER, "--matrix: out of memory");
    const char *end = NULL;
    *doc = cJSON_ParseWithOpts(text, &end, 1);
    if (!*doc) {
        size_t at = end && end >= text ? (size_t)(end - text) : 0;
        free(text);
        return cli_fail(EXIT_USAGE, "--matrix %s: not valid JSON (near byte %zu): give a list of jobs such as "
                        "[{\"model\": \"resnet/\", \"target_device\": \"ml_c5\"}]", path, at);
    }
    free(text);
    if (!cJSON_IsArray(*doc) || cJSON_GetArraySize(*doc) == 0)
        return cli_fail(EXIT_USAGE, "--matrix %s: give a non-empty JSON list of jobs (objects of compile()'s "
                        "keywords: model, framework, target_device or target_os/target_arch, ...)", path);
    return 0;
}

/* One matrix job into ja (a's shared flags, then the job's own), its model
 * and its target's text. 0 or the exit code (reported, naming the job). */
static int matrix_job(cli_args *ja, const char **model, const char **target, const cli_args *a, const cJSON *job,
                      size_t i, cJSON *keep)
{
    if (!cJSON_IsObject(job))
        return cli_fail(EXIT_USAGE, "--matrix: job %zu is not an object of compile()'s keywords", i);
    job_args(ja, a, NULL, NULL);
    const char *os = NULL, *arch = NULL, *acc = NULL;
    *model = NULL;
    for (const cJSON *m = job->child; m; m = m->next) {
        size_t k = 0;
        while (k < N_MATRIX_KEYS && strcmp(MATRIX_KEYS[k].key, m->string))
            k++;
        if (k == N_MATRIX_KEYS) {
            char known[600] = "";
            for (size_t q = 0; q < N_MATRIX_KEYS; q++)
                snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", q ? ", " : "",
                         MATRIX_KEYS[q].key);
            return cli_fail(EXIT_USAGE, "--matrix: job %zu: unknown key \"%s\": use compile()'s keywords: %s", i,
                            m->string, known);
        }
        smneo_compile_option_type kind = option_type(MATRIX_KEYS[k].key);
        const char *v = NULL;
        if (kind == SMNEO_COMPILE_OPTION_FLAG) {
            if (!cJSON_IsBool(m))
                return cli_fail(EXIT_USAGE, "--matrix: job %zu: %s must be true or false", i, m->string);
            if (cJSON_IsTrue(m) && add_flag(ja, MATRIX_KEYS[k].flag, "1"))
                return EXIT_USAGE;
            continue;
        }
        if (kind == SMNEO_COMPILE_OPTION_INTEGER) {
            if (!cJSON_IsNumber(m) || m->valuedouble < 1 || m->valuedouble > 0x7fffffff ||
                m->valuedouble != (double)(long long)m->valuedouble)
                return cli_fail(EXIT_USAGE, "--matrix: job %zu: %s must be a whole number of seconds (1 or more)",
                                i, m->string);
            char num[32];
            snprintf(num, sizeof num, "%lld", (long long)m->valuedouble);
            v = kept(keep, num);
        } else if (cJSON_IsString(m)) {
            v = m->valuestring;
        } else if (kind == SMNEO_COMPILE_OPTION_JSON && (cJSON_IsObject(m) || cJSON_IsArray(m))) {
            char *text = cJSON_PrintUnformatted(m);
            v = text ? kept(keep, text) : NULL;
            free(text);
        } else {
            return cli_fail(EXIT_USAGE, "--matrix: job %zu: %s must be a string%s", i, m->string,
                            kind == SMNEO_COMPILE_OPTION_JSON ? " or JSON (an object or a list)" : "");
        }
        if (!v)
            return cli_fail(EXIT_OTHER, "out of memory");
        if (!strcmp(m->string, "model"))
            *model = v;
        else if (!strcmp(m->string, "target_os"))
            os = v;
        else if (!strcmp(m->string, "target_arch"))
            arch = v;
        else if (!strcmp(m->string, "target_accelerator"))
            acc = v;
        else if (add_flag(ja, MATRIX_KEYS[k].flag, v))
            return EXIT_USAGE;
    }
    if (os || arch || acc) {
        if (!os || !arch)
            return cli_fail(EXIT_USAGE, "--matrix: job %zu: a platform needs target_os and target_arch (e.g. "
                            "\"LINUX\" and \"ARM64\")", i);
        char plat[256];
        snprintf(plat, sizeof plat, "%s/%s%s%s", os, arch, acc ? "/" : "", acc ? acc : "");
        if (add_flag(ja, "platform", kept(keep, plat)))
            return EXIT_USAGE;
    }
    if (!*model && !cli_get(ja, "model-package-version-arn"))
        return cli_fail(EXIT_USAGE, "--matrix: job %zu has no model: give \"model\" (or "
                        "\"model_package_version_arn\")", i);
    const char *t = cli_get(ja, "target");
    const char *p = cli_get(ja, "platform");
    *target = t ? t : p;
    if (!*target)
        return cli_fail(EXIT_USAGE, "--matrix: job %zu has no target: give \"target_device\" or \"target_os\" and "
                        "\"target_arch\"", i);
    return 0;
}

int cmd_compile_many(cli_args *a)
{
    size_t nmodels = 0, ntargets = 0;
    const char *models[128], *targets[128], *flags[128];
    for (size_t i = 0; i < a->npos && nmodels < 128; i++)
        models[nmodels++] = a->pos[i];
    for (size_t i = 0; i < a->count; i++) {
        if (!strcmp(a->names[i], "model") && nmodels < 128)
            models[nmodels++] = a->values[i];
        if ((!strcmp(a->names[i], "target") || !strcmp(a->names[i], "platform")) && ntargets < 128) {
            flags[ntargets] = a->names[i];
            targets[ntargets++] = a->values[i];
        }
    }
    const char *matrix = cli_get(a, "matrix");
    cJSON *mdoc = NULL;
    if (matrix) {
        if (nmodels || ntargets)
            return cli_fail(EXIT_USAGE, "--matrix gives the jobs: put each job's model and target in FILE, not in "
                            "--model, --target or --platform (the other flags apply to every job)");
        int mc = read_matrix(&mdoc, matrix);
        if (mc) {
            cJSON_Delete(mdoc);
            return mc;
        }
        ntargets = 1;
        nmodels = (size_t)cJSON_GetArraySize(mdoc);
    }
    if (!nmodels)
        return cli_fail(EXIT_USAGE, "compile needs --model: a model directory or a .tar.gz archive (repeat it "
                        "for several models)");
    if (!ntargets)
        return cli_fail(EXIT_USAGE, "compile needs --target DEVICE or --platform OS/ARCH[/ACCELERATOR] (repeat "
                        "them for several targets)");
    smneo_compile_many_options mo = SMNEO_COMPILE_MANY_OPTIONS_INIT;
    const char *s = cli_get(a, "max-concurrent");
    if (s) {
        char *end = NULL;
        long v = strtol(s, &end, 10);
        if (!end || end == s || *end || v < 1 || v > 10000)
            return cli_fail(EXIT_USAGE, "--max-concurrent \"%s\": give a number of jobs, 1 or more", s);
        mo.max_concurrent = (unsigned)v;
    }
    mo.state_file = cli_get(a, "state-file");
    mo.retry_failed = cli_has(a, "retry-failed");
    mo.keep_jobs_on_cancel = cli_has(a, "keep-jobs-on-cancel");

    size_t n = nmodels * ntargets;
    cli_compile_job *cj = calloc(n, sizeof *cj);
    smneo_compile_options *jobs = calloc(n, sizeof *jobs);
    const smneo_compile_options **ptrs = calloc(n, sizeof *ptrs);
    const char **target_of = calloc(n, sizeof *target_of);
    line *lines = calloc(n, sizeof *lines);
    cli_args *ja = malloc(sizeof *ja);
    int code = cj && jobs && ptrs && target_of && lines && ja ? 0 : cli_fail(EXIT_OTHER, "out of memory");
    size_t made = 0;
    cJSON *keep = matrix ? cJSON_CreateArray() : NULL;
    if (matrix && !keep && !code)
        code = cli_fail(EXIT_OTHER, "out of memory");
    /* --matrix: every job read and checked before anything starts */
    const cJSON *mj = mdoc ? mdoc->child : NULL;
    for (size_t m = 0; matrix && !code && m < nmodels; m++, mj = mj->next) {
        const char *model = NULL, *target = NULL;
        code = matrix_job(ja, &model, &target, a, mj, m, keep);
        if (code)
            break;
        code = cli_compile_job_init(&cj[made], ja, model);
        jobs[made] = cj[made].o;
        ptrs[made] = &jobs[made];
        target_of[made] = target;
        made++;
    }
    for (size_t m = 0; !matrix && !code && m < nmodels; m++)
        for (size_t t = 0; !code && t < ntargets; t++) {
            job_args(ja, a, flags[t], targets[t]);
            code = cli_compile_job_init(&cj[made], ja, models[m]);
            jobs[made] = cj[made].o;
            ptrs[made] = &jobs[made];
            target_of[made] = targets[t];
            made++;
        }
    if (!code) {
        cli_client cc;
        code = cli_client_open(&cc, a);
        if (code == 0) {
            view v = {jobs, target_of, lines, n, 0, isatty(STDERR_FILENO), a->quiet, a->json, 0};
            mo.callback = on_event;
            mo.payload = &v;
            smneo_compile_many_result *res = NULL;
            smneo_error err = SMNEO_ERROR_INIT;
            int rc = smneo_compile_many(&res, cc.client, ptrs, n, &mo, &err);
            draw(&v, 1);
            if (res) {
                cJSON *rows = cJSON_CreateArray();
                for (size_t i = 0; i < smneo_compile_many_result_count(res); i++)
                    cJSON_AddItemToArray(rows, row_json(res, i));
                if (a->json) {
                    cJSON *doc = cJSON_CreateObject();
                    cJSON_AddItemToObject(doc, "Jobs", rows);
                    cli_print_json(doc);
                    cJSON_Delete(doc);
                } else {
                    static const char *const cols[] = {"Model", "Target", "CompilationJobName",
                                                       "CompilationJobStatus", "DurationSeconds", "DigestVerified",
                                                       "ArtifactPath", "FailureReason", "Diagnosis.Id", NULL};
                    static const char *const heads[] = {"MODEL", "TARGET", "JOB", "STATUS", "SECONDS", "VERIFIED",
                                                        "ARTIFACT", "FAILURE", "DIAGNOSIS", NULL};
                    cli_print_table(rows, cols, heads);
                    cJSON_Delete(rows);
                }
            }
            if (rc == SMNEO_ECANCELLED && cli_interrupted)
                code = cli_fail(EXIT_INTERRUPTED, "interrupted: %s; %s", err.message ? err.message : "cancelled",
                                mo.keep_jobs_on_cancel ? "the running jobs were left running"
                                                       : "the running jobs are being stopped");
            else if (rc == SMNEO_EJOBFAILED || rc == SMNEO_ECANCELLED)
                code = cli_fail(EXIT_JOB, "%s", err.message ? err.message : "some jobs did not complete");
            else if (rc)
                code = cli_error(&err, rc, "compile");
            smneo_compile_many_result_free(res);
            smneo_error_clear(&err);
            cli_client_close(&cc);
        }
    }
    for (size_t i = 0; cj && i < made; i++)
        cli_compile_job_clear(&cj[i]);
    free(cj);
    free(jobs);
    free(ptrs);
    free(target_of);
    free(lines);
    free(ja);
    cJSON_Delete(keep);
    cJSON_Delete(mdoc);
    return code;
}
