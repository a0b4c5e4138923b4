/* cli/cmd_api.c: the commands that are one API operation (create, describe,
 * stop, delete), a paginated run (list, steps), the waiter (wait) and
 * validation (validate); also --cli-input-json, the client and the step
 * driver shared with compile. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

/* ---- --cli-input-json -------------------------------------------------------------- */

char *cli_read_all(FILE *f, size_t *len)
{
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t r = fread(buf + n, 1, cap - n - 1, f);
        n += r;
        if (r == 0)
            break;
        if (cap - n < 2) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                return NULL;
            }
            buf = nb;
            cap *= 2;
        }
    }
    if (buf)
        buf[n] = 0;
    *len = n;
    return buf;
}

cJSON *cli_input_json(const cli_args *a)
{
    const char *src = cli_get(a, "cli-input-json");
    if (!src)
        return cJSON_CreateObject();
    char *text = NULL;
    size_t len = 0;
    const char *p = src;
    while (isspace((unsigned char)*p))
        p++;
    if (*p == '{') {
        text = strdup(src);
    } else if (!strcmp(src, "-")) {
        text = cli_read_all(stdin, &len);
    } else {
        FILE *f = fopen(src, "rb");
        if (!f) {
            cli_fail(EXIT_USAGE, "--cli-input-json: cannot open %s: %s", src, strerror(errno));
            return NULL;
        }
        text = cli_read_all(f, &len);
        fclose(f);
    }
    if (!text) {
        cli_fail(EXIT_OTHER, "--cli-input-json: out of memory");
        return NULL;
    }
    cJSON *doc = cJSON_Parse(text);
    if (!doc || !cJSON_IsObject(doc)) {
        const char *where = cJSON_GetErrorPtr();
        cli_fail(EXIT_USAGE, "--cli-input-json %s: not a JSON object%s%.20s%s",
                 !strcmp(src, "-") ? "(stdin)" : (*p == '{' ? "(inline)" : src), doc || !where ? "" : " near: ",
                 doc || !where ? "" : where, doc || !where ? "" : "...");
        cJSON_Delete(doc);
        free(text);
        return NULL;
    }
    free(text);
    return doc;
}

int cli_json_set(cJSON *obj, const char *path, cJSON *value)
{
    if (!value)
        return -1;
    char part[128];
    for (;;) {
        const char *dot = strchr(path, '.');
        size_t len = dot ? (size_t)(dot - path) : strlen(path);
        if (len >= sizeof part) {
            cJSON_Delete(value);
            return -1;
        }
        memcpy(part, path, len);
        part[len] = 0;
        if (!dot) {
            if (cJSON_GetObjectItemCaseSensitive(obj, part))
                cJSON_ReplaceItemInObjectCaseSensitive(obj, part, value);
            else
                cJSON_AddItemToObject(obj, part, value);
            return 0;
        }
        cJSON *child = cJSON_GetObjectItemCaseSensitive(obj, part);
        if (!cJSON_IsObject(child)) {
            cJSON *fresh = cJSON_CreateObject();
            if (!fresh) {
                cJSON_Delete(value);
                return -1;
            }
            if (child)
                cJSON_ReplaceItemInObjectCaseSensitive(obj, part, fresh);
            else
                cJSON_AddItemToObject(obj, part, fresh);
            child = fresh;
        }
        obj = child;
        path = dot + 1;
    }
}

cJSON *cli_json_flag(const char *flag, const char *text)
{
    cJSON *v = cJSON_Parse(text);
    if (!v) {
        const char *where = cJSON_GetErrorPtr();
        cli_fail(EXIT_USAGE, "--%s: not valid JSON%s%.20s: give it in single quotes, e.g. --%s '%s'", flag,
                 where ? " near " : "", where ? where : "", flag, "[{\"Key\":\"k\",\"Value\":\"v\"}]");
    }
    return v;
}

/* A JSON-text member (DataInputConfig, CompilerOptions): the API wants a
 * string holding JSON; an object given in --cli-input-json is turned into one. */
static void stringify_member(cJSON *parent, const char *name)
{
    cJSON *m = cJSON_GetObjectItemCaseSensitive(parent, name);
    if (m && (cJSON_IsObject(m) || cJSON_IsArray(m))) {
        char *s = cJSON_PrintUnformatted(m);
        if (s)
            cJSON_ReplaceItemInObjectCaseSensitive(parent, name, cJSON_CreateString(s));
        free(s);
    }
}

static int parse_platform(cJSON *params, const char *text)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", text);
    for (char *p = buf; *p; p++)
        *p = (char)toupper((unsigned char)*p);
    char *os = buf, *arch = strchr(buf, '/'), *acc = NULL;
    if (arch) {
        *arch++ = 0;
        acc = strchr(arch, '/');
        if (acc)
            *acc++ = 0;
    }
    if (!arch || !*os || !*arch || (acc && (!*acc || strchr(acc, '/'))))
        return cli_fail(EXIT_USAGE, "--platform \"%s\": give OS/ARCH or OS/ARCH/ACCELERATOR, e.g. LINUX/ARM64 or "
                                    "LINUX/X86_64/NVIDIA", text);
    cJSON *tp = cJSON_CreateObject();
    if (!tp)
        return EXIT_OTHER;
    cJSON_AddStringToObject(tp, "Os", os);
    cJSON_AddStringToObject(tp, "Arch", arch);
    if (acc)
        cJSON_AddStringToObject(tp, "Accelerator", acc);
    cli_json_set(params, "OutputConfig.TargetPlatform", tp);
    cJSON *oc = cJSON_GetObjectItemCaseSensitive(params, "OutputConfig");
    cJSON_DeleteItemFromObjectCaseSensitive(oc, "TargetDevice");
    return 0;
}

/* 0 and *out, or the usage exit code (reported) and *out = 0. */
static int parse_number(const char *flag, const char *text, double min, double *out)
{
    char *end = NULL;
    *out = 0;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || !end || end == text || *end || v < min)
        return cli_fail(EXIT_USAGE, "--%s \"%s\": give a number of at least %g", flag, text, min);
    *out = v;
    return 0;
}

cJSON *cli_create_params(const cli_args *a, int *code)
{
    cJSON *p = cli_input_json(a);
    *code = EXIT_USAGE;
    if (!p)
        return NULL;
    static const struct {
        const char *flag, *path;
    } strings[] = {{"job-name", "CompilationJobName"},
                   {"role", "RoleArn"},
                   {"model-s3-uri", "InputConfig.S3Uri"},
                   {"framework", "InputConfig.Framework"},
                   {"input-shape", "InputConfig.DataInputConfig"},
                   {"framework-version", "InputConfig.FrameworkVersion"},
                   {"output-s3-uri", "OutputConfig.S3OutputLocation"},
                   {"compiler-options", "OutputConfig.CompilerOptions"},
                   {"kms-key-id", "OutputConfig.KmsKeyId"},
                   {"model-package-version-arn", "ModelPackageVersionArn"}};
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++) {
        const char *v = cli_get(a, strings[i].flag);
        if (!v)
            continue;
        if (!strcmp(strings[i].flag, "framework")) {
            char up[64];
            snprintf(up, sizeof up, "%s", v);
            for (char *q = up; *q; q++)
                *q = (char)toupper((unsigned char)*q);
            cli_json_set(p, strings[i].path, cJSON_CreateString(up));
        } else {
            /* DataInputConfig and CompilerOptions are string members: the text
             * goes on unchanged, judged by the validation rules (the Python
             * style of the Neo documentation, "{'input0':[1,3,224,224]}", is
             * what the service takes too). */
            cli_json_set(p, strings[i].path, cJSON_CreateString(v));
        }
    }
    const char *target = cli_get(a, "target"), *platform = cli_get(a, "platform");
    if (target && platform) {
        cli_fail(EXIT_USAGE, "give either --target (a device) or --platform (OS/ARCH[/ACCELERATOR]), not both");
        goto fail;
    }
    if (target) {
        cli_json_set(p, "OutputConfig.TargetDevice", cJSON_CreateString(target));
        cJSON_DeleteItemFromObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(p, "OutputConfig"),
                                                "TargetPlatform");
    }
    if (platform && parse_platform(p, platform))
        goto fail;
    static const struct {
        const char *flag, *path;
    } limits[] = {{"max-runtime", "StoppingCondition.MaxRuntimeInSeconds"},
                  {"max-wait", "StoppingCondition.MaxWaitTimeInSeconds"},
                  {"max-pending", "StoppingCondition.MaxPendingTimeInSeconds"}};
    for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++) {
        const char *text = cli_get(a, limits[i].flag);
        double v;
        if (!text)
            continue;
        if (parse_number(limits[i].flag, text, 1, &v))
            goto fail;
        cli_json_set(p, limits[i].path, cJSON_CreateNumber((double)(long long)v));
    }
    const char *vpc = cli_get(a, "vpc-config");
    if (vpc) {
        cJSON *v = cli_json_flag("vpc-config", vpc);
        if (!v)
            goto fail;
        cli_json_set(p, "VpcConfig", v);
    }
    const char *tags = cli_get(a, "tags");
    if (tags) {
        cJSON *t = cli_json_flag("tags", tags);
        if (!t)
            goto fail;
        cli_json_set(p, "Tags", t);
    }
    if (!cJSON_GetObjectItemCaseSensitive(p, "StoppingCondition")) /* required by the API; compile's default */
        cli_json_set(p, "StoppingCondition.MaxRuntimeInSeconds", cJSON_CreateNumber(900));
    stringify_member(cJSON_GetObjectItemCaseSensitive(p, "InputConfig"), "DataInputConfig");
    stringify_member(cJSON_GetObjectItemCaseSensitive(p, "OutputConfig"), "CompilerOptions");
    *code = 0;
    return p;
fail:
    cJSON_Delete(p);
    return NULL;
}

/* ---- client and step driver -------------------------------------------------------- */

int cli_client_open(cli_client *cc, const cli_args *a)
{
    memset(cc, 0, sizeof *cc);
    smneo_error err = SMNEO_ERROR_INIT;
    smneo_client_options o = SMNEO_CLIENT_OPTIONS_INIT;
    o.endpoint_url = a->endpoint_url;
    o.region = a->region;
    o.profile = a->profile;
    o.mfa_cb = cli_mfa_prompt;
    o.retry_mode = a->retry_mode;
    o.max_attempts = a->max_attempts;
    int rc = smneo_client_new(&cc->client, &o, &err);
    if (rc == 0)
        cli_credential_settings(cc->client);
    if (rc != 0) {
        int code = cli_error(&err, rc, "cannot set up the client");
        smneo_error_clear(&err);
        cli_client_close(cc);
        return code;
    }
    return 0;
}

void cli_client_close(cli_client *cc)
{
    smneo_client_free(cc->client);
    cc->client = NULL;
}

typedef int (*event_fn)(smneo_call *call, const smneo_step *step, void *payload);
typedef void (*tick_fn)(void *payload);

/* Drives a call to DONE: SEND through the client (smneo_call_send: its
 * transport, with the client's TLS, proxy and timeout settings, and the
 * short timeouts of credential requests), SLEEP in slices so Ctrl-C and the
 * progress display stay live, EVENTs to `ev`. */
static void drive(smneo_call *call, event_fn ev, tick_fn tick, void *payload)
{
    for (;;) {
        smneo_step step;
        smneo_call_next(&step, call);
        switch (step.kind) {
        case SMNEO_STEP_SEND:
            smneo_call_send(call, &step);
            break;
        case SMNEO_STEP_SLEEP: {
            double until = cli_now() + (double)step.sleep_ms / 1000.0;
            for (;;) {
                if (cli_interrupted) {
                    smneo_call_cancel(call);
                    break;
                }
                double left = until - cli_now();
                if (left <= 0)
                    break;
                if (tick)
                    tick(payload);
                double slice = left < 0.1 ? left : 0.1;
                struct timespec ts = {0, (long)(slice * 1e9)};
                nanosleep(&ts, NULL);
            }
            break;
        }
        case SMNEO_STEP_EVENT:
            if (ev && ev(call, &step, payload))
                smneo_call_cancel(call);
            break;
        case SMNEO_STEP_WORK:
            smneo_call_work(call);
            break;
        case SMNEO_STEP_WAIT: /* S3 transfers only: never from a call (as DONE, not a hang) */
        case SMNEO_STEP_TRANSFER: /* a compile machine that opted in only */
        case SMNEO_STEP_DONE:
            return;
        }
        if (cli_interrupted && step.kind != SMNEO_STEP_SLEEP)
            smneo_call_cancel(call);
    }
}

/* One operation: prints the result; returns the exit code. */
static int run_operation(cli_args *a, const char *operation, const char *params, const char *done,
                         const char *job)
{
    cli_client cc;
    int code = cli_client_open(&cc, a);
    if (code)
        return code;
    smneo_error err = SMNEO_ERROR_INIT;
    smneo_call *call = NULL;
    smneo_result *res = NULL;
    int rc = smneo_call_new(&call, cc.client, operation, params, strlen(params), &err);
    if (rc == 0) {
        drive(call, NULL, NULL, NULL);
        rc = smneo_call_result(&res, call, &err);
    }
    if (rc == 0) {
        smneo_value root;
        smneo_result_root(&root, res);
        cJSON *doc = cli_value_to_cjson(&root);
        if (doc && done && !a->json)
            cli_line(stdout, "%s %s", done, job); /* the answer is {}: say what happened */
        else if (doc)
            cli_print(a, doc);
        else
            code = cli_fail(EXIT_OTHER, "out of memory");
        cJSON_Delete(doc);
    } else {
        code = cli_error(&err, rc, operation);
    }
    smneo_result_free(res);
    smneo_call_free(call);
    smneo_error_clear(&err);
    cli_client_close(&cc);
    return code;
}

/* The job name: --job-name, the argument, or CompilationJobName in
 * --cli-input-json (in that order). */
static const char *job_arg(const cli_args *a)
{
    static char from_json[256];
    const char *job = cli_get(a, "job-name");
    if (!job && a->npos > 0)
        job = a->pos[0];
    if (!job && cli_has(a, "cli-input-json")) {
        cJSON *p = cli_input_json(a);
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(p, "CompilationJobName");
        if (cJSON_IsString(n) && strlen(n->valuestring) < sizeof from_json) {
            strcpy(from_json, n->valuestring);
            job = from_json;
        }
        cJSON_Delete(p);
    }
    return job;
}

static int job_operation(cli_args *a, const char *operation, const char *cmd, const char *done)
{
    const char *job = job_arg(a);
    if (!job || a->npos > (cli_has(a, "job-name") ? 0u : 1u))
        return cli_fail(EXIT_USAGE, "usage: smneo %s JOB-NAME (or --job-name NAME)", cmd);
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "CompilationJobName", job);
    char *params = cJSON_PrintUnformatted(p);
    cJSON_Delete(p);
    if (!params)
        return cli_fail(EXIT_OTHER, "out of memory");
    int code = run_operation(a, operation, params, done, job);
    free(params);
    return code;
}

int cmd_describe(cli_args *a) { return job_operation(a, "DescribeCompilationJob", "describe", NULL); }

static int job_action(cli_args *a, const char *operation, const char *cmd, const char *done)
{
    return job_operation(a, operation, cmd, done);
}

int cmd_stop(cli_args *a) { return job_action(a, "StopCompilationJob", "stop", "stopping"); }
int cmd_delete(cli_args *a) { return job_action(a, "DeleteCompilationJob", "delete", "deleted"); }

int cmd_create(cli_args *a)
{
    if (a->npos)
        return cli_fail(EXIT_USAGE, "create takes no arguments (unexpected \"%s\"): see smneo create --help", a->pos[0]);
    int code;
    cJSON *p = cli_create_params(a, &code);
    if (!p)
        return code;
    char *params = cJSON_PrintUnformatted(p);
    cJSON_Delete(p);
    if (!params)
        return cli_fail(EXIT_OTHER, "out of memory");
    code = run_operation(a, "CreateCompilationJob", params, NULL, NULL);
    free(params);
    return code;
}

/* ---- validate ------------------------------------------------------------------------ */

int cmd_validate(cli_args *a)
{
    const char *op = cli_get(a, "operation");
    if (!op)
        op = "CreateCompilationJob";
    if (!smneo_model_operation(op))
        return cli_fail(EXIT_USAGE, "--operation \"%s\" is not an operation of the API (e.g. CreateCompilationJob, "
                                    "DescribeCompilationJob, ListCompilationJobs)", op);
    int code;
    cJSON *p;
    if (!strcmp(smneo_model_operation(op)->name, "CreateCompilationJob"))
        p = cli_create_params(a, &code);
    else if (!(p = cli_input_json(a)))
        code = EXIT_USAGE;
    if (!p)
        return code;
    char *params = cJSON_PrintUnformatted(p);
    cJSON_Delete(p);
    if (!params)
        return cli_fail(EXIT_OTHER, "out of memory");
    smneo_issues *issues = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    int rc = smneo_validate(&issues, op, params, strlen(params), NULL, &err);
    free(params);
    if (rc != 0 && !(rc == SMNEO_EVALIDATION && err.issues)) {
        code = cli_error(&err, rc, "validate");
        smneo_error_clear(&err);
        smneo_issues_free(issues);
        return code;
    }
    const smneo_issues *list = rc == 0 ? issues : err.issues;
    size_t errors = smneo_issues_error_count(list);
    if (a->json) {
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddStringToObject(doc, "Operation", smneo_model_operation(op)->name);
        cJSON_AddBoolToObject(doc, "Valid", errors == 0);
        cJSON_AddNumberToObject(doc, "ErrorCount", (double)errors);
        cJSON_AddItemToObject(doc, "Issues", cli_issues_json(list));
        cli_print_json(doc);
        cJSON_Delete(doc);
    } else {
        size_t n = smneo_issues_count(list);
        for (size_t i = 0; i < n; i++) {
            const smneo_issue *it = smneo_issues_at(list, i);
            cli_line(stdout, "%-7s %s%s%s", it->severity == SMNEO_SEVERITY_ERROR ? "error" : "warning", it->path,
                     *it->path ? ": " : "", it->message);
            cli_line(stdout, "        [%s]", it->rule);
        }
        cli_line(stdout, "%s: %zu error%s, %zu warning%s", smneo_model_operation(op)->name, errors,
                 errors == 1 ? "" : "s", n - errors, n - errors == 1 ? "" : "s");
    }
    smneo_issues_free(issues);
    smneo_error_clear(&err);
    return errors ? EXIT_VALIDATION : EXIT_OK;
}

/* ---- list / steps: every page ------------------------------------------------------------ */

typedef struct collect {
    cJSON *items;
    int failed;
} collect;

static int on_item(smneo_call *call, const smneo_step *step, void *payload)
{
    collect *c = payload;
    smneo_value v;
    if (step->event != SMNEO_EVENT_ITEM || smneo_call_item(&v, call) != 0)
        return 0;
    cJSON *item = cli_value_to_cjson(&v);
    if (!item) {
        c->failed = 1;
        return 1;
    }
    cJSON_AddItemToArray(c->items, item);
    return 0;
}

static int set_time(cJSON *p, const char *flag, const char *member, const char *text)
{
    char *end = NULL;
    double v = strtod(text, &end);
    if (end && end != text && !*end)
        cli_json_set(p, member, cJSON_CreateNumber(v));
    else if (strlen(text) >= 10 && text[4] == '-')
        cli_json_set(p, member, cJSON_CreateString(text)); /* ISO 8601: the core converts by shape */
    else
        return cli_fail(EXIT_USAGE, "--%s \"%s\": give ISO 8601 (2024-05-01T12:00:00Z) or epoch seconds", flag, text);
    return 0;
}

static int paginated(cli_args *a, const char *operation, cJSON *p, const char *result_key, const char *const *cols,
                     const char *const *heads)
{
    smneo_paginate_options po = SMNEO_PAGINATE_OPTIONS_INIT;
    const char *mi = cli_get(a, "max-items"), *ps = cli_get(a, "page-size");
    double v;
    if (mi) {
        if (parse_number("max-items", mi, 1, &v)) {
            cJSON_Delete(p);
            return EXIT_USAGE;
        }
        po.max_items = (int64_t)v;
    }
    if (ps) {
        if (parse_number("page-size", ps, 1, &v)) {
            cJSON_Delete(p);
            return EXIT_USAGE;
        }
        po.page_size = (int)v;
    }
    po.starting_token = cli_get(a, "starting-token");
    char *params = cJSON_PrintUnformatted(p);
    cJSON_Delete(p);
    if (!params)
        return cli_fail(EXIT_OTHER, "out of memory");
    cli_client cc;
    int code = cli_client_open(&cc, a);
    if (code) {
        free(params);
        return code;
    }
    smneo_error err = SMNEO_ERROR_INIT;
    smneo_call *call = NULL;
    collect c = {cJSON_CreateArray(), 0};
    int rc = smneo_paginate_new(&call, cc.client, operation, params, strlen(params), &po, &err);
    free(params);
    if (rc == 0) {
        drive(call, on_item, NULL, &c);
        rc = smneo_call_result(NULL, call, &err);
    }
    if (rc == 0 && c.failed)
        code = cli_fail(EXIT_OTHER, "out of memory");
    else if (rc == 0) {
        const char *token = smneo_call_resume_token(call);
        if (a->json) {
            cJSON *doc = cJSON_CreateObject();
            cJSON_AddItemReferenceToObject(doc, result_key, c.items);
            if (token)
                cJSON_AddStringToObject(doc, "NextToken", token);
            cli_print_json(doc);
            cJSON_Delete(doc);
        } else {
            cli_print_table(c.items, cols, heads);
            if (token)
                cli_line(stdout, "NextToken: %s", token);
        }
    } else {
        code = cli_error(&err, rc, operation);
    }
    cJSON_Delete(c.items);
    smneo_call_free(call);
    smneo_error_clear(&err);
    cli_client_close(&cc);
    return code;
}

int cmd_list(cli_args *a)
{
    if (a->npos)
        return cli_fail(EXIT_USAGE, "list takes no arguments (unexpected \"%s\"): see smneo list --help", a->pos[0]);
    cJSON *p = cli_input_json(a);
    if (!p)
        return EXIT_USAGE;
    static const struct {
        const char *flag, *member;
    } f[] = {{"name-contains", "NameContains"}, {"status-equals", "StatusEquals"}, {"sort-by", "SortBy"},
             {"sort-order", "SortOrder"}};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (cli_get(a, f[i].flag))
            cli_json_set(p, f[i].member, cJSON_CreateString(cli_get(a, f[i].flag)));
    if ((cli_get(a, "creation-time-after") &&
         set_time(p, "creation-time-after", "CreationTimeAfter", cli_get(a, "creation-time-after"))) ||
        (cli_get(a, "creation-time-before") &&
         set_time(p, "creation-time-before", "CreationTimeBefore", cli_get(a, "creation-time-before")))) {
        cJSON_Delete(p);
        return EXIT_USAGE;
    }
    static const char *const cols[] = {"CompilationJobName", "CompilationJobStatus", "CompilationTargetDevice",
                                       "CompilationTargetPlatformOs", "CompilationTargetPlatformArch", "CreationTime",
                                       NULL};
    static const char *const heads[] = {"NAME", "STATUS", "DEVICE", "OS", "ARCH", "CREATED", NULL};
    return paginated(a, "ListCompilationJobs", p, "CompilationJobSummaries", cols, heads);
}

int cmd_steps(cli_args *a)
{
    cJSON *p = cli_input_json(a);
    if (!p)
        return EXIT_USAGE;
    const char *arn = cli_get(a, "pipeline-execution-arn");
    if (!arn && a->npos == 1)
        arn = a->pos[0];
    else if (a->npos > (arn ? 0u : 1u)) {
        cJSON_Delete(p);
        return cli_fail(EXIT_USAGE, "usage: smneo steps PIPELINE-EXECUTION-ARN [options]");
    }
    if (arn)
        cli_json_set(p, "PipelineExecutionArn", cJSON_CreateString(arn));
    if (cli_get(a, "sort-order"))
        cli_json_set(p, "SortOrder", cJSON_CreateString(cli_get(a, "sort-order")));
    static const char *const cols[] = {"StepName", "StepStatus", "StartTime", "EndTime", "FailureReason", NULL};
    static const char *const heads[] = {"STEP", "STATUS", "STARTED", "ENDED", "FAILURE", NULL};
    return paginated(a, "ListPipelineExecutionSteps", p, "PipelineExecutionSteps", cols, heads);
}

/* ---- wait --------------------------------------------------------------------------------- */

typedef struct waiting {
    const char *job;
    double start;
    char status[64];
} waiting;

static void wait_tick(void *payload)
{
    waiting *w = payload;
    if (w->status[0])
        cli_progress_status(w->job, w->status, cli_now() - w->start);
}

static int on_status(smneo_call *call, const smneo_step *step, void *payload)
{
    waiting *w = payload;
    const smneo_result *page = smneo_call_page(call);
    if (step->event != SMNEO_EVENT_STATUS || !page)
        return 0;
    smneo_value root, st;
    smneo_result_root(&root, page);
    if (smneo_value_get(&st, &root, "CompilationJobStatus") == 0 && smneo_value_string(&st))
        snprintf(w->status, sizeof w->status, "%s", smneo_value_string(&st));
    cli_progress_status(w->job, w->status, cli_now() - w->start);
    return 0;
}

static void wait_log_line(const smneo_log_event *ev, void *payload)
{
    (void)payload;
    cli_progress_end();
    cli_print_log_line(stdout, ev);
    fflush(stdout);
}

static void wait_log_status(const char *status, void *payload)
{
    waiting *w = payload;
    snprintf(w->status, sizeof w->status, "%s", status ? status : "");
    cli_progress_status(w->job, w->status, cli_now() - w->start);
}

/* --logs: the job-log reader in follow mode waits (it polls the job with
 * the same backoff) and prints the lines; the final description comes from
 * one more describe. A reader that ends before the job (the log refused)
 * leaves the rest to the waiter: returns 1 then. */
static int wait_with_logs(cli_client *cc, const char *job, const smneo_wait_options *wo, waiting *w, int *rc,
                          smneo_error *err)
{
    smneo_joblogs_options lo = SMNEO_JOBLOGS_OPTIONS_INIT;
    lo.follow = 1;
    lo.delay = wo->delay;
    lo.max_delay = wo->max_delay;
    smneo_joblogs *l = NULL;
    *rc = smneo_joblogs_new(&l, cc->client, job, &lo, err);
    if (*rc == 0)
        *rc = cli_joblogs_run(l, wait_log_line, wait_log_status, w, wo->timeout > 0 ? w->start + wo->timeout : 0,
                              err);
    const char *st = l ? smneo_joblogs_status(l) : NULL;
    int ended = st && (!strcmp(st, "COMPLETED") || !strcmp(st, "FAILED") || !strcmp(st, "STOPPED"));
    smneo_joblogs_free(l);
    return *rc == 0 && !ended;
}

int cmd_wait(cli_args *a)
{
    const char *job = job_arg(a);
    if (!job || a->npos > (cli_has(a, "job-name") ? 0u : 1u))
        return cli_fail(EXIT_USAGE, "usage: smneo wait JOB-NAME [--timeout S] [--delay S] [--max-delay S]");
    smneo_wait_options wo = SMNEO_WAIT_OPTIONS_INIT;
    if ((cli_get(a, "timeout") && parse_number("timeout", cli_get(a, "timeout"), 0, &wo.timeout)) ||
        (cli_get(a, "delay") && parse_number("delay", cli_get(a, "delay"), 0.01, &wo.delay)) ||
        (cli_get(a, "max-delay") && parse_number("max-delay", cli_get(a, "max-delay"), 0.01, &wo.max_delay)))
        return EXIT_USAGE;
    cli_client cc;
    int code = cli_client_open(&cc, a);
    if (code)
        return code;
    smneo_error err = SMNEO_ERROR_INIT;
    smneo_call *call = NULL;
    smneo_result *res = NULL;
    waiting w = {job, cli_now(), ""};
    int rc = 0, streamed = cli_has(a, "logs");
    if (streamed && !wait_with_logs(&cc, job, &wo, &w, &rc, &err) && rc == 0) {
        /* the job has ended: one waiter poll gives its result */
        wo.delay = wo.max_delay = 0.01;
    } else if (streamed && rc == 0) {
        streamed = 0; /* the log was refused: wait without it */
    }
    if (rc == 0)
        rc = smneo_wait_new(&call, cc.client, job, &wo, &err);
    if (rc == 0) {
        drive(call, on_status, wait_tick, &w);
        rc = smneo_call_result(&res, call, &err);
    }
    cli_progress_end();
    if (rc == 0) {
        smneo_value root;
        smneo_result_root(&root, res);
        cJSON *doc = cli_value_to_cjson(&root);
        if (doc && a->json)
            cli_print_json(doc);
        else if (doc) {
            cJSON *st = cJSON_GetObjectItemCaseSensitive(doc, "CompilationJobStatus");
            cJSON *art = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(doc, "ModelArtifacts"),
                                                          "S3ModelArtifacts");
            cli_line(stdout, "%s %s", job, cJSON_IsString(st) ? st->valuestring : "COMPLETED");
            if (cJSON_IsString(art))
                cli_line(stdout, "artifact %s", art->valuestring);
        }
        cJSON_Delete(doc);
    } else if (rc == SMNEO_ECANCELLED && cli_interrupted) {
        code = cli_fail(EXIT_INTERRUPTED, "interrupted: stopped waiting for %s (the job goes on; `smneo stop %s` "
                                          "stops it)", job, job);
    } else {
        char what[200];
        snprintf(what, sizeof what, "compilation job %s %s", job,
                 rc == SMNEO_EJOBFAILED ? "FAILED" : rc == SMNEO_EJOBSTOPPED ? "STOPPED" : "");
        code = cli_error(&err, rc, rc == SMNEO_EJOBFAILED || rc == SMNEO_EJOBSTOPPED ? what : "wait");
        if (rc == SMNEO_EJOBFAILED && res)
            cli_explain_failed(&cc, job, res, streamed);
    }
    smneo_result_free(res);
    smneo_call_free(call);
    smneo_error_clear(&err);
    cli_client_close(&cc);
    return code;
}
