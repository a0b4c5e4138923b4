/* cli/cmd_compile.c: `smneo compile`, the one-call flow (smneo/compile.h)
 * with progress, Ctrl-C stopping the job, and the result as JSON or lines. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

typedef struct run {
    char job[128];
    char status[64];
    int verified_event;
    int json; /* --output json: stdout is for the result document */
    int log_lines;
} run;

static int on_event(const smneo_compile_event *ev, void *payload)
{
    run *r = payload;
    const char *msg = ev->message ? ev->message : "";
    switch (ev->kind) {
    case SMNEO_COMPILE_EVENT_PACKED:
        cli_progress_note("packed %s", msg);
        break;
    case SMNEO_COMPILE_EVENT_UPLOAD:
        cli_progress_bytes("uploading", ev->done, ev->total);
        break;
    case SMNEO_COMPILE_EVENT_UPLOADED:
        cli_progress_note("uploaded %s", msg);
        break;
    case SMNEO_COMPILE_EVENT_CREATED:
        snprintf(r->job, sizeof r->job, "%s", msg);
        cli_progress_note("created compilation job %s", msg);
        break;
    case SMNEO_COMPILE_EVENT_STATUS:
        snprintf(r->status, sizeof r->status, "%s", msg);
        cli_progress_status(r->job, msg, ev->elapsed);
        break;
    case SMNEO_COMPILE_EVENT_WAITING:
        if (r->status[0])
            cli_progress_status(r->job, r->status, ev->elapsed);
        break;
    case SMNEO_COMPILE_EVENT_DOWNLOAD:
        cli_progress_bytes("downloading", ev->done, ev->total);
        break;
    case SMNEO_COMPILE_EVENT_VERIFIED:
        r->verified_event = 1;
        cli_progress_note("verified digest %s", msg);
        break;
    case SMNEO_COMPILE_EVENT_WARNING:
        cli_progress_note("warning: %s", msg);
        break;
    case SMNEO_COMPILE_EVENT_STOPPING:
        cli_progress_note("interrupted: stopping compilation job %s", msg);
        break;
    case SMNEO_COMPILE_EVENT_PACK:
        cli_progress_bytes("packing", ev->done, ev->total);
        break;
    case SMNEO_COMPILE_EVENT_LOG: {
        smneo_log_event le = {(int64_t)ev->done, msg, strlen(msg), NULL};
        cli_progress_end();
        cli_print_log_line(r->json ? stderr : stdout, &le);
        r->log_lines++;
        break;
    }
    default: /* events newer than this tool */
        break;
    }
    return cli_interrupted ? 1 : 0;
}

static const char *str_at(const cJSON *p, const char *a, const char *b)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(p, a);
    if (b)
        v = cJSON_GetObjectItemCaseSensitive(v, b);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int parse_seconds(const char *flag, const char *text, double *out)
{
    char *end = NULL;
    double v = strtod(text, &end);
    if (!end || end == text || *end || v < 0)
        return cli_fail(EXIT_USAGE, "--%s \"%s\": give a number of seconds", flag, text);
    *out = v;
    return 0;
}

static cJSON *result_doc(const smneo_compile_result *res)
{
    cJSON *doc = cJSON_CreateObject();
    smneo_value root, v, d;
    smneo_result_root(&root, smneo_compile_result_job(res));
    cJSON *job = cli_value_to_cjson(&root);
    cJSON_AddStringToObject(doc, "CompilationJobName", smneo_compile_result_job_name(res));
    const char *st = smneo_value_get(&v, &root, "CompilationJobStatus") == 0 ? smneo_value_string(&v) : NULL;
    cJSON_AddStringToObject(doc, "CompilationJobStatus", st ? st : "");
    const char *in = smneo_compile_result_input_uri(res);
    if (in)
        cJSON_AddStringToObject(doc, "InputS3Uri", in);
    const char *art = smneo_compile_result_artifact_path(res), *ex = smneo_compile_result_extracted_dir(res);
    if (art)
        cJSON_AddStringToObject(doc, "ArtifactPath", art);
    if (ex)
        cJSON_AddStringToObject(doc, "ExtractedDir", ex);
    const char *digest = smneo_value_get(&v, &root, "ModelDigests") == 0 &&
                                 smneo_value_get(&d, &v, "ArtifactDigest") == 0
                             ? smneo_value_string(&d)
                             : NULL;
    if (digest)
        cJSON_AddStringToObject(doc, "ArtifactDigest", digest);
    cJSON_AddBoolToObject(doc, "DigestVerified", smneo_compile_result_digest_verified(res));
    const char *fr = smneo_value_get(&v, &root, "FailureReason") == 0 ? smneo_value_string(&v) : NULL;
    if (fr && *fr)
        cJSON_AddStringToObject(doc, "FailureReason", fr);
    cJSON_AddItemToObject(doc, "Warnings", cli_issues_json(smneo_compile_result_issues(res)));
    const smneo_diagnosis *dg = smneo_compile_result_diagnosis(res);
    if (dg) { /* FAILED: the log's last lines and the diagnosis */
        cJSON *logs = cJSON_AddArrayToObject(doc, "Logs");
        for (size_t i = 0; logs && i < smneo_compile_result_log_count(res); i++) {
            smneo_log_event ev;
            if (smneo_compile_result_log_at(&ev, res, i))
                continue;
            cJSON *e = cJSON_CreateObject();
            char *iso = cli_iso8601((double)ev.timestamp / 1000.0);
            cJSON_AddStringToObject(e, "timestamp", iso ? iso : "");
            free(iso);
            cJSON_AddStringToObject(e, "logStreamName", ev.stream);
            cJSON_AddStringToObject(e, "message", ev.message);
            cJSON_AddItemToArray(logs, e);
        }
        cJSON_AddItemToObject(doc, "Diagnosis", cli_diagnosis_json(dg));
    }
    if (job)
        cJSON_AddItemToObject(doc, "Job", job);
    return doc;
}

cJSON *cli_diagnosis_json(const smneo_diagnosis *dg)
{
    cJSON *d = cJSON_CreateObject();
    if (!d)
        return NULL;
    cJSON_AddStringToObject(d, "Id", smneo_diagnosis_id(dg));
    cJSON_AddStringToObject(d, "Category", smneo_failure_category_name(smneo_diagnosis_category(dg)));
    cJSON_AddStringToObject(d, "Title", smneo_diagnosis_title(dg));
    cJSON_AddStringToObject(d, "Cause", smneo_diagnosis_cause(dg));
    cJSON_AddStringToObject(d, "Fix", smneo_diagnosis_fix(dg));
    if (smneo_diagnosis_rule(dg))
        cJSON_AddStringToObject(d, "Rule", smneo_diagnosis_rule(dg));
    if (smneo_diagnosis_evidence(dg))
        cJSON_AddStringToObject(d, "Evidence", smneo_diagnosis_evidence(dg));
    return d;
}

static void print_summary(const cJSON *doc)
{
    static const char *const keys[] = {"CompilationJobName", "CompilationJobStatus", "InputS3Uri", "ArtifactPath",
                                       "ExtractedDir", "ArtifactDigest", "DigestVerified", "FailureReason", NULL};
    for (const char *const *k = keys; *k; k++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, *k);
        if (cJSON_IsString(v))
            cli_line(stdout, "%-21s %s", *k, v->valuestring);
        else if (cJSON_IsBool(v))
            cli_line(stdout, "%-21s %s", *k, cJSON_IsTrue(v) ? "true" : "false");
    }
    const cJSON *job = cJSON_GetObjectItemCaseSensitive(doc, "Job");
    const cJSON *s3 = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(job, "ModelArtifacts"),
                                                       "S3ModelArtifacts");
    if (cJSON_IsString(s3))
        cli_line(stdout, "%-21s %s", "S3ModelArtifacts", s3->valuestring);
}

int cli_compile_job_init(cli_compile_job *j, const cli_args *a, const char *model)
{
    memset(j, 0, sizeof *j);
    int code;
    cJSON *p = j->params = cli_create_params(a, &code);
    if (!p)
        return code;
    smneo_compile_options d = SMNEO_COMPILE_OPTIONS_INIT;
    smneo_compile_options *o = &j->o;
    *o = d;
    o->model = model;
    o->framework = str_at(p, "InputConfig", "Framework");
    o->data_input_config = str_at(p, "InputConfig", "DataInputConfig");
    o->framework_version = str_at(p, "InputConfig", "FrameworkVersion");
    o->target_device = str_at(p, "OutputConfig", "TargetDevice");
    const cJSON *tp = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(p, "OutputConfig"),
                                                       "TargetPlatform");
    o->target_os = str_at(tp, "Os", NULL);
    o->target_arch = str_at(tp, "Arch", NULL);
    o->target_accelerator = str_at(tp, "Accelerator", NULL);
    o->compiler_options = str_at(p, "OutputConfig", "CompilerOptions");
    o->kms_key_id = str_at(p, "OutputConfig", "KmsKeyId");
    o->role_arn = str_at(p, "RoleArn", NULL);
    o->job_name = str_at(p, "CompilationJobName", NULL);
    o->s3_bucket = cli_get(a, "bucket");
    o->s3_prefix = cli_get(a, "prefix");
    o->output_dir = cli_get(a, "output-dir");
    o->extract = cli_has(a, "extract");
    o->keep_job_on_cancel = cli_has(a, "keep-job-on-interrupt");
    o->follow_logs = cli_has(a, "logs");
    const cJSON *sc = cJSON_GetObjectItemCaseSensitive(p, "StoppingCondition");
    const cJSON *mr = cJSON_GetObjectItemCaseSensitive(sc, "MaxRuntimeInSeconds");
    const cJSON *mw = cJSON_GetObjectItemCaseSensitive(sc, "MaxWaitTimeInSeconds");
    const cJSON *mp = cJSON_GetObjectItemCaseSensitive(sc, "MaxPendingTimeInSeconds");
    if (cJSON_IsNumber(mr))
        o->max_runtime_seconds = (int)mr->valuedouble;
    if (cJSON_IsNumber(mw))
        o->max_wait_seconds = (int)mw->valuedouble;
    if (cJSON_IsNumber(mp))
        o->max_pending_seconds = (int)mp->valuedouble;
    o->model_package_version_arn = str_at(p, "ModelPackageVersionArn", NULL);
    const cJSON *vpc = cJSON_GetObjectItemCaseSensitive(p, "VpcConfig");
    if (vpc)
        o->vpc_config_json = j->vpc = cJSON_PrintUnformatted(vpc);
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(p, "Tags");
    if (t)
        o->tags_json = j->tags = cJSON_PrintUnformatted(t);
    /* --cli-input-json may name the output location: s3://bucket/prefix. */
    const char *out_loc = str_at(p, "OutputConfig", "S3OutputLocation");
    if (!o->s3_bucket && out_loc && smneo_s3_parse_uri(&j->bucket, &j->prefix, out_loc, NULL) == 0) {
        o->s3_bucket = j->bucket;
        if (!o->s3_prefix && j->prefix && *j->prefix)
            o->s3_prefix = j->prefix;
    }
    const char *missing = !o->framework && !o->model_package_version_arn ? "--framework (e.g. PYTORCH)"
                          : !o->role_arn ? "--role (the IAM role ARN SageMaker assumes)"
                          : !o->target_device && !o->target_os ? "--target DEVICE or --platform OS/ARCH[/ACCELERATOR]"
                                                               : NULL;
    const char *s;
    code = 0;
    if (!missing && (s = cli_get(a, "timeout")) && parse_seconds("timeout", s, &o->timeout))
        code = EXIT_USAGE;
    else if (!missing && (s = cli_get(a, "delay")) && parse_seconds("delay", s, &o->delay))
        code = EXIT_USAGE;
    else if (!missing && (s = cli_get(a, "max-delay")) && parse_seconds("max-delay", s, &o->max_delay))
        code = EXIT_USAGE;
    else if (missing)
        code = cli_fail(EXIT_USAGE, "compile needs %s", missing);
    return code;
}

void cli_compile_job_clear(cli_compile_job *j)
{
    free(j->tags);
    free(j->vpc);
    free(j->bucket);
    free(j->prefix);
    cJSON_Delete(j->params);
    memset(j, 0, sizeof *j);
}

int cmd_compile(cli_args *a)
{
    if (cli_compile_is_many(a))
        return cmd_compile_many(a);
    const char *model = cli_get(a, "model");
    if (!model && a->npos == 1)
        model = a->pos[0];
    else if (a->npos > (cli_has(a, "model") ? 0u : 1u))
        return cli_fail(EXIT_USAGE, "compile takes one model (unexpected \"%s\"): see smneo compile --help",
                        a->pos[a->npos - 1]);
    if (!model && !cli_has(a, "model-package-version-arn"))
        return cli_fail(EXIT_USAGE, "compile needs --model: a model directory or a .tar.gz archive (or "
                        "--model-package-version-arn)");
    cli_compile_job job;
    int code = cli_compile_job_init(&job, a, model);
    if (code) {
        cli_compile_job_clear(&job);
        return code;
    }
    if (str_at(job.params, "InputConfig", "S3Uri"))
        cli_progress_note("note: InputConfig.S3Uri is not used by compile: it uploads --model itself");
    smneo_compile_options o = job.o;
    run r;
    memset(&r, 0, sizeof r);
    r.json = a->json;
    o.callback = on_event;
    o.payload = &r;

    cli_client cc;
    code = cli_client_open(&cc, a);
    if (code == 0) {
        smneo_compile_result *res = NULL;
        smneo_error err = SMNEO_ERROR_INIT;
        int rc = smneo_compile(&res, cc.client, &o, &err);
        cli_progress_end();
        if (res) {
            cJSON *doc = result_doc(res);
            if (a->json)
                cli_print_json(doc);
            else
                print_summary(doc);
            cJSON_Delete(doc);
        }
        if (rc == SMNEO_ECANCELLED && cli_interrupted)
            code = cli_fail(EXIT_INTERRUPTED, "interrupted: %s", err.message ? err.message : "cancelled");
        else if (rc)
            code = cli_error(&err, rc, rc == SMNEO_EJOBFAILED || rc == SMNEO_EJOBSTOPPED ? NULL : "compile");
        if (rc == SMNEO_EJOBFAILED && res && !a->json) {
            size_t n = smneo_compile_result_log_count(res);
            smneo_log_event *lines = n ? calloc(n, sizeof *lines) : NULL;
            for (size_t i = 0; lines && i < n; i++)
                smneo_compile_result_log_at(&lines[i], res, i);
            const smneo_issues *is = smneo_compile_result_issues(res);
            const char *no_log = NULL; /* the log's warning, shown even with --quiet */
            for (size_t i = 0; is && i < smneo_issues_count(is); i++)
                if (!strcmp(smneo_issues_at(is, i)->rule, "logs.unreadable"))
                    no_log = smneo_issues_at(is, i)->message;
            cli_report_failure(stderr, smneo_compile_result_job_name(res), lines, lines ? n : 0,
                               smneo_compile_result_diagnosis(res), o.follow_logs && r.log_lines > 0, no_log);
            free(lines);
        }
        smneo_compile_result_free(res);
        smneo_error_clear(&err);
        cli_client_close(&cc);
    }
    cli_compile_job_clear(&job);
    return code;
}
