/* smneo_compile_many against smneo.local (started here with a limit of 5
 * concurrent jobs and fast jobs): 3 models x 4 targets (the limit met and
 * absorbed, never more than 5 running, each model uploaded once), one target
 * failing while the rest complete, a cancel halfway then a rerun with the
 * state file that finishes without duplicates, a job left running on a cancel
 * reattached, and a validation mistake in the last job refused before any
 * job starts; and compile's CreateCompilationJob options (VpcConfig,
 * ModelPackageVersionArn, the StoppingCondition limits). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "harness.h"
#include "localserver.h"
#include "smneo.h"

#define ROLE "arn:aws:iam::123456789012:role/service-role/NeoRole"
#define BUCKET "smneo-many-test"
#define NMODELS 3
#define NTARGETS 4
#define NJOBS (NMODELS * NTARGETS)

static smneo_test_server local;
static smneo_client *lc;
static char *work;
static char *models[NMODELS];
static const char *const targets[NTARGETS] = {"ml_c5", "ml_m5", "ml_c4", "ml_p3"};

/* dir/<name>/xgboost.model; `tag` makes the content unique per test. */
static char *make_model(const char *name, const char *tag)
{
    char *m = NULL;
    if (asprintf(&m, "%s/%s-%s", work, name, tag) < 0)
        return NULL;
    mkdir(m, 0755);
    char p[1024], body[128];
    snprintf(p, sizeof p, "%s/xgboost.model", m);
    snprintf(body, sizeof body, "booster %s %s\n", name, tag);
    CHECK_INT(smneo_test_write_file(p, body, strlen(body)), 0);
    return m;
}

static void make_models(const char *tag)
{
    static const char *const names[NMODELS] = {"churn", "fraud", "ranker"};
    for (int i = 0; i < NMODELS; i++) {
        free(models[i]);
        models[i] = make_model(names[i], tag);
    }
}

static const smneo_compile_options *ptrs[NJOBS];

static void matrix(smneo_compile_options *jobs, const char *prefix, const char *outdir)
{
    for (int i = 0; i < NJOBS; i++) {
        smneo_compile_options d = SMNEO_COMPILE_OPTIONS_INIT;
        jobs[i] = d;
        jobs[i].model = models[i / NTARGETS];
        jobs[i].framework = "XGBOOST";
        jobs[i].target_device = targets[i % NTARGETS];
        jobs[i].role_arn = ROLE;
        jobs[i].s3_bucket = BUCKET;
        jobs[i].s3_prefix = prefix;
        jobs[i].output_dir = outdir;
        jobs[i].delay = 0.1;
        jobs[i].max_delay = 0.2;
        jobs[i].timeout = 120;
        ptrs[i] = &jobs[i];
    }
}

/* ---- what the callback saw --------------------------------------------------- */

typedef struct rec {
    int running, max_running, created, queued, done, completed, uploads, reused, skipped, reattached;
    int stopping, waiting;
    int cancel_after_completed; /* cancel once this many jobs completed (0: never) */
    int bad_index;
} rec;

static int on_event(size_t job, const smneo_compile_event *ev, void *payload)
{
    rec *r = payload;
    if (job != SMNEO_COMPILE_MANY_ALL && job >= NJOBS)
        r->bad_index++;
    switch (ev->kind) {
    case SMNEO_COMPILE_EVENT_CREATED:
    case SMNEO_COMPILE_EVENT_REATTACHED:
        r->created += ev->kind == SMNEO_COMPILE_EVENT_CREATED;
        r->reattached += ev->kind == SMNEO_COMPILE_EVENT_REATTACHED;
        if (++r->running > r->max_running)
            r->max_running = r->running;
        break;
    case SMNEO_COMPILE_EVENT_QUEUED:
        r->queued++;
        break;
    case SMNEO_COMPILE_EVENT_UPLOADED:
        if (strstr(ev->message, "(already there)"))
            r->reused++;
        else
            r->uploads++;
        break;
    case SMNEO_COMPILE_EVENT_SKIPPED:
        r->skipped++;
        break;
    case SMNEO_COMPILE_EVENT_STOPPING:
        r->stopping++;
        break;
    case SMNEO_COMPILE_EVENT_WAITING:
        r->waiting++;
        break;
    case SMNEO_COMPILE_EVENT_DONE:
        r->done++;
        if (!strcmp(ev->message, "COMPLETED"))
            r->completed++;
        break;
    default:
        break;
    }
    if (ev->kind == SMNEO_COMPILE_EVENT_DONE && r->running > 0 && strcmp(ev->message, ""))
        r->running--;
    return r->cancel_after_completed && r->completed >= r->cancel_after_completed;
}

/* CreateCompilationJob requests the server accepted (status 200) since `since` (epoch seconds). */
static int creates_accepted(double since, int *limited)
{
    char *body = NULL;
    char url[512];
    snprintf(url, sizeof url, "%s/_smneo/requests?service=sagemaker", local.url);
    CHECK_INT(smneo_test_http("GET", url, NULL, 0, &body), 200);
    cJSON *doc = cJSON_Parse(body ? body : "");
    free(body);
    int n = 0;
    if (limited)
        *limited = 0;
    cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItem(doc, "requests"))
    {
        const cJSON *op = cJSON_GetObjectItem(it, "operation");
        const cJSON *t = cJSON_GetObjectItem(it, "time");
        if (!cJSON_IsString(op) || strcmp(op->valuestring, "CreateCompilationJob") || !cJSON_IsNumber(t) ||
            t->valuedouble < since)
            continue;
        int status = cJSON_GetObjectItem(it, "status")->valueint;
        if (status == 200)
            n++;
        const cJSON *e = cJSON_GetObjectItem(it, "error");
        if (limited && cJSON_IsString(e) && !strcmp(e->valuestring, "ResourceLimitExceeded"))
            (*limited)++;
    }
    cJSON_Delete(doc);
    return n;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9 - 0.001;
}

static int file_exists(const char *p)
{
    struct stat st;
    return p && stat(p, &st) == 0;
}

/* ---- tests -------------------------------------------------------------------- */

static void test_matrix_under_the_limit(void)
{
    make_models("limit");
    char *outdir = NULL;
    CHECK(asprintf(&outdir, "%s/out-limit", work) > 0);
    smneo_compile_options jobs[NJOBS];
    matrix(jobs, "limit", outdir);
    rec r;
    memset(&r, 0, sizeof r);
    smneo_compile_many_options mo = SMNEO_COMPILE_MANY_OPTIONS_INIT;
    mo.max_concurrent = NJOBS; /* more than the account allows */
    mo.callback = on_event;
    mo.payload = &r;
    double since = now_s();
    smneo_compile_many_result *res = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    int rc = smneo_compile_many(&res, lc, ptrs, NJOBS, &mo, &err);
    CHECK_MSG(rc == 0, "rc %d: %s", rc, err.message ? err.message : "");
    CHECK_INT((int)smneo_compile_many_result_count(res), NJOBS);
    for (size_t i = 0; res && i < NJOBS; i++) {
        const smneo_compile_row *row = smneo_compile_many_result_row(res, i);
        CHECK_STR(row->status, "COMPLETED");
        CHECK_INT(row->error, 0);
        CHECK_STR(row->model, models[i / NTARGETS]);
        CHECK_STR(row->target, targets[i % NTARGETS]);
        CHECK(row->digest_verified == 1);
        CHECK_MSG(file_exists(row->artifact_path), "artifact %s", row->artifact_path ? row->artifact_path : "");
        CHECK(row->artifact_path && row->job_name && strstr(row->artifact_path, row->job_name));
        for (size_t k = 0; k < i; k++)
            CHECK(strcmp(row->job_name, smneo_compile_many_result_row(res, k)->job_name) != 0);
    }
    CHECK(smneo_compile_many_result_row(res, NJOBS) == NULL);
    int limited = 0;
    CHECK_INT(creates_accepted(since, &limited), NJOBS);
    CHECK_MSG(limited > 0 && r.queued == limited, "ResourceLimitExceeded %d, queued events %d", limited, r.queued);
    CHECK_MSG(r.max_running <= 5, "max running %d", r.max_running);
    CHECK_INT(r.max_running, 5);
    CHECK_INT(r.created, NJOBS);
    CHECK_INT(r.uploads, NMODELS);
    CHECK_INT(r.reused, NJOBS - NMODELS);
    CHECK_INT(r.completed, NJOBS);
    CHECK(r.waiting > 0);
    CHECK_INT(r.bad_index, 0);
    smneo_compile_many_result_free(res);
    smneo_error_clear(&err);
    free(outdir);
}

static void test_one_target_fails(void)
{
    make_models("fail");
    char url[512];
    snprintf(url, sizeof url, "%s/_smneo/faults", local.url);
    CHECK_INT(smneo_test_http("POST", url,
                              "{\"kind\":\"fail\",\"device\":\"ml_c4\",\"rate\":1,\"failure\":\"not-tar-gz\"}", 0,
                              NULL),
              200);
    char *outdir = NULL;
    CHECK(asprintf(&outdir, "%s/out-fail", work) > 0);
    smneo_compile_options jobs[NJOBS];
    matrix(jobs, "fail", outdir);
    rec r;
    memset(&r, 0, sizeof r);
    smneo_compile_many_options mo = SMNEO_COMPILE_MANY_OPTIONS_INIT;
    mo.max_concurrent = 5;
    mo.callback = on_event;
    mo.payload = &r;
    char *state = NULL;
    CHECK(asprintf(&state, "%s/fail-state.json", work) > 0);
    mo.state_file = state;
    smneo_compile_many_result *res = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    int rc = smneo_compile_many(&res, lc, ptrs, NJOBS, &mo, &err);
    CHECK_INT(rc, SMNEO_EJOBFAILED);
    CHECK_MSG(err.message && strstr(err.message, "3 of 12 compilation jobs did not complete"), "%s",
              err.message ? err.message : "");
    smneo_evidence_kind first_kind[NJOBS] = {0};
    for (size_t i = 0; res && i < NJOBS; i++) {
        const smneo_compile_row *row = smneo_compile_many_result_row(res, i);
        if (!strcmp(targets[i % NTARGETS], "ml_c4")) {
            CHECK_STR(row->status, "FAILED");
            CHECK_INT(row->error, SMNEO_EJOBFAILED);
            CHECK_MSG(row->failure_reason && strstr(row->failure_reason, "Unable to untar input model"), "%s",
                      row->failure_reason ? row->failure_reason : "(null)");
            CHECK(row->artifact_path == NULL);
            /* the diagnosis, as compile() makes it (the reason and the log's lines) */
            const smneo_diagnosis *d = smneo_compile_many_result_diagnosis(res, i);
            CHECK_STR(d ? smneo_diagnosis_id(d) : "(none)", "not-tar-gz");
            CHECK(d && smneo_diagnosis_fix(d) && strstr(smneo_diagnosis_fix(d), "smneo pack"));
            if (d)
                first_kind[i] = smneo_diagnosis_evidence_kind(d);
        } else {
            CHECK_STR(row->status, "COMPLETED");
            CHECK(file_exists(row->artifact_path));
            CHECK(smneo_compile_many_result_diagnosis(res, i) == NULL);
        }
    }
    CHECK_INT(r.queued, 0); /* 5 at once is what the account allows */
    CHECK_INT(smneo_test_http("DELETE", url, NULL, 0, NULL), 200);
    smneo_compile_many_result_free(res);
    smneo_error_clear(&err);

    /* a rerun with the state file keeps the failed rows (no retry_failed),
     * nothing created again, and gives them the same diagnosis, made of the
     * description and log lines the state file kept */
    double since = now_s();
    res = NULL;
    rc = smneo_compile_many(&res, lc, ptrs, NJOBS, &mo, &err);
    CHECK_INT(rc, SMNEO_EJOBFAILED);
    CHECK_INT(creates_accepted(since, NULL), 0);
    for (size_t i = 0; res && i < NJOBS; i++) {
        const smneo_diagnosis *d = smneo_compile_many_result_diagnosis(res, i);
        if (!strcmp(targets[i % NTARGETS], "ml_c4")) {
            CHECK_STR(smneo_compile_many_result_row(res, i)->status, "FAILED");
            CHECK_STR(d ? smneo_diagnosis_id(d) : "(none)", "not-tar-gz");
            CHECK(d && smneo_diagnosis_evidence_kind(d) == first_kind[i]);
        } else {
            CHECK(d == NULL);
        }
    }
    smneo_compile_many_result_free(res);
    smneo_error_clear(&err);
    free(state);
    free(outdir);
}

static void test_cancel_then_resume(void)
{
    make_models("resume");
    char *outdir = NULL, *state = NULL;
    CHECK(asprintf(&outdir, "%s/out-resume", work) > 0);
    CHECK(asprintf(&state, "%s/resume-state.json", work) > 0);
    smneo_compile_options jobs[NJOBS];
    matrix(jobs, "resume", outdir);
    rec r;
    memset(&r, 0, sizeof r);
    r.cancel_after_completed = NJOBS / 2;
    smneo_compile_many_options mo = SMNEO_COMPILE_MANY_OPTIONS_INIT;
    mo.max_concurrent = 5;
    mo.state_file = state;
    mo.callback = on_event;
    mo.payload = &r;
    double since = now_s();
    smneo_compile_many_result *res = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    int rc = smneo_compile_many(&res, lc, ptrs, NJOBS, &mo, &err);
    CHECK_INT(rc, SMNEO_ECANCELLED);
    int completed = 0, stopped = 0, unstarted = 0;
    for (size_t i = 0; res && i < NJOBS; i++) {
        const smneo_compile_row *row = smneo_compile_many_result_row(res, i);
        if (!strcmp(row->status, "COMPLETED")) {
            completed++;
        } else if (row->stopped_by_smneo) {
            stopped++;
            CHECK_STR(row->status, "STOPPING");
            CHECK_INT(row->error, SMNEO_ECANCELLED);
        } else {
            CHECK_STR(row->status, "");
            CHECK(row->job_name == NULL);
            unstarted++;
        }
    }
    CHECK_INT(completed, NJOBS / 2);
    CHECK(stopped > 0);
    CHECK_INT(r.stopping, stopped);
    CHECK_INT(completed + stopped + unstarted, NJOBS);
    CHECK_INT(creates_accepted(since, NULL), completed + stopped);
    smneo_compile_many_result_free(res);
    smneo_error_clear(&err);

    /* the state file says where each job stands */
    size_t len = 0;
    char *text = smneo_test_read_file(state, &len);
    CHECK(text != NULL);
    cJSON *doc = cJSON_Parse(text ? text : "");
    free(text);
    CHECK_INT(cJSON_GetArraySize(cJSON_GetObjectItem(doc, "Jobs")), NJOBS);
    int recorded_stops = 0;
    cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItem(doc, "Jobs")) recorded_stops +=
        cJSON_IsTrue(cJSON_GetObjectItem(it, "StoppedBySmneo"));
    CHECK_INT(recorded_stops, stopped);
    cJSON_Delete(doc);

    /* the rerun finishes what was left, and only that */
    memset(&r, 0, sizeof r);
    since = now_s();
    rc = smneo_compile_many(&res, lc, ptrs, NJOBS, &mo, &err);
    CHECK_MSG(rc == 0, "rc %d: %s", rc, err.message ? err.message : "");
    CHECK_INT(r.skipped, completed);
    CHECK_INT(r.created, NJOBS - completed);
    CHECK_INT(creates_accepted(since, NULL), NJOBS - completed);
    for (size_t i = 0; res && i < NJOBS; i++) {
        const smneo_compile_row *row = smneo_compile_many_result_row(res, i);
        CHECK_STR(row->status, "COMPLETED");
        CHECK(file_exists(row->artifact_path));
    }
    smneo_compile_many_result_free(res);

    /* a third run has nothing left to do */
    memset(&r, 0, sizeof r);
    since = now_s();
    rc = smneo_compile_many(&res, lc, ptrs, NJOBS, &mo, &err);
    CHECK_INT(rc, 0);
    CHECK_INT(r.skipped, NJOBS);
    CHECK_INT(creates_accepted(since, NULL), 0);
    for (size_t i = 0; res && i < NJOBS; i++)
        CHECK(smneo_compile_many_result_row(res, i)->skipped == 1);
    smneo_compile_many_result_free(res);
    smneo_error_clear(&err);
    free(state);
    free(outdir);
}

static void test_reattach_after_keep(void)
{
    make_models("keep");
    char *outdir = NULL, *state = NULL;
    CHECK(asprintf(&outdir, "%s/out-keep", work) > 0);
    CHECK(asprintf(&state, "%s/keep-state.json", work) > 0);
    smneo_compile_options all[NJOBS]; /* the first NTARGETS: one model for each target */
    matrix(all, "keep", outdir);
    rec r;
    memset(&r, 0, sizeof r);
    smneo_compile_many_options mo = SMNEO_COMPILE_MANY_OPTIONS_INIT;
    mo.state_file = state;
    mo.keep_jobs_on_cancel = 1;
    mo.callback = on_event;
    mo.payload = &r;
    r.cancel_after_completed = 1;
    double since = now_s();
    smneo_compile_many_result *res = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    int rc = smneo_compile_many(&res, lc, ptrs, NTARGETS, &mo, &err);
    CHECK_INT(rc, SMNEO_ECANCELLED);
    CHECK_INT(r.stopping, 0);
    int first = creates_accepted(since, NULL);
    CHECK(first > 1);
    smneo_compile_many_result_free(res);

    memset(&r, 0, sizeof r);
    since = now_s();
    rc = smneo_compile_many(&res, lc, ptrs, NTARGETS, &mo, &err);
    CHECK_MSG(rc == 0, "rc %d: %s", rc, err.message ? err.message : "");
    CHECK_INT(r.reattached + r.skipped + r.created, NTARGETS);
    CHECK_INT(r.reattached, first - 1);
    CHECK_INT(creates_accepted(since, NULL), NTARGETS - first);
    smneo_compile_many_result_free(res);
    smneo_error_clear(&err);
    free(state);
    free(outdir);
}

static void test_mistake_in_last_job(void)
{
    make_models("mistake");
    smneo_compile_options jobs[NJOBS];
    matrix(jobs, "mistake", work);
    jobs[NJOBS - 1].target_device = "ml_c99";
    rec r;
    memset(&r, 0, sizeof r);
    smneo_compile_many_options mo = SMNEO_COMPILE_MANY_OPTIONS_INIT;
    mo.callback = on_event;
    mo.payload = &r;
    double since = now_s();
    smneo_compile_many_result *res = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    int rc = smneo_compile_many(&res, lc, ptrs, NJOBS, &mo, &err);
    CHECK_INT(rc, SMNEO_EVALIDATION);
    CHECK(res == NULL);
    CHECK_MSG(err.message && strstr(err.message, "job 11 (") == err.message && strstr(err.message, "ml_c99"), "%s",
              err.message ? err.message : "");
    CHECK_INT(r.uploads, 0);
    CHECK_INT(creates_accepted(since, NULL), 0);
    smneo_error_clear(&err);

    smneo_compile_many_options bad = SMNEO_COMPILE_MANY_OPTIONS_INIT;
    bad.version = 7;
    CHECK_INT(smneo_compile_many(&res, lc, ptrs, NJOBS, &bad, &err), SMNEO_EINVAL);
    CHECK(err.message && strstr(err.message, "SMNEO_COMPILE_MANY_OPTIONS_INIT"));
    smneo_error_clear(&err);

    char *state = NULL;
    CHECK(asprintf(&state, "%s/not-state.json", work) > 0);
    CHECK_INT(smneo_test_write_file(state, "[1, 2]", 6), 0);
    mo.state_file = state;
    CHECK_INT(smneo_compile_many(&res, lc, ptrs, 1, &mo, &err), SMNEO_EINVAL);
    CHECK(err.message && strstr(err.message, "not a smneo compile_many state"));
    smneo_error_clear(&err);
    free(state);
}

/* An S3 error while uploading the models is reported under the S3 request
 * that failed (smneo_error_operation), not CreateCompilationJob; no job starts. */
static void test_s3_error_names_its_operation(void)
{
    make_models("s3err");
    smneo_compile_options jobs[NJOBS];
    matrix(jobs, "s3err", work);
    for (int i = 0; i < NJOBS; i++)
        jobs[i].s3_bucket = "no-such-bucket";
    double since = now_s();
    smneo_compile_many_result *res = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    int rc = smneo_compile_many(&res, lc, ptrs, NJOBS, NULL, &err);
    CHECK_INT(rc, SMNEO_ENOTFOUND);
    CHECK_STR(smneo_error_operation(&err) ? smneo_error_operation(&err) : "(null)", "PutObject");
    CHECK_STR(err.service_code ? err.service_code : "(null)", "NoSuchBucket");
    CHECK_INT(creates_accepted(since, NULL), 0);
    smneo_compile_many_result_free(res);
    smneo_error_clear(&err);

    /* the same from compile(): one job */
    smneo_compile_result *one = NULL;
    rc = smneo_compile(&one, lc, &jobs[0], &err);
    CHECK_INT(rc, SMNEO_ENOTFOUND);
    CHECK_STR(smneo_error_operation(&err) ? smneo_error_operation(&err) : "(null)", "PutObject");
    smneo_compile_result_free(one);
    smneo_error_clear(&err);

    /* a cleared error (or none) names no operation */
    CHECK(smneo_error_operation(&err) == NULL);
    CHECK(smneo_error_operation(NULL) == NULL);
}

/* S3 requests of an operation the server answered since `since`. */
static int s3_ops(const char *operation, double since)
{
    char *body = NULL;
    char url[512];
    snprintf(url, sizeof url, "%s/_smneo/requests?service=s3", local.url);
    CHECK_INT(smneo_test_http("GET", url, NULL, 0, &body), 200);
    cJSON *doc = cJSON_Parse(body ? body : "");
    free(body);
    int n = 0;
    cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItem(doc, "requests"))
    {
        const cJSON *op = cJSON_GetObjectItem(it, "operation");
        const cJSON *t = cJSON_GetObjectItem(it, "time");
        n += cJSON_IsString(op) && !strcmp(op->valuestring, operation) && cJSON_IsNumber(t) && t->valuedouble >= since;
    }
    cJSON_Delete(doc);
    return n;
}

/* Without a bucket: sagemaker-REGION-ACCOUNT, created once for every job
 * (and not again by a second call), and the jobs' input in it. */
static void test_default_bucket_once(void)
{
    make_models("defbucket");
    smneo_compile_options jobs[NJOBS];
    matrix(jobs, "defbucket", work);
    for (int i = 0; i < NJOBS; i++)
        jobs[i].s3_bucket = NULL;
    double since = now_s();
    for (int round = 0; round < 2; round++) {
        smneo_compile_many_result *res = NULL;
        smneo_error err = SMNEO_ERROR_INIT;
        int rc = smneo_compile_many(&res, lc, ptrs, NTARGETS, NULL, &err); /* one model, four targets */
        CHECK_MSG(rc == 0, "%d %s", rc, err.message ? err.message : "");
        for (size_t i = 0; res && i < NTARGETS; i++)
            CHECK_STR(smneo_compile_many_result_row(res, i)->status, "COMPLETED");
        smneo_compile_many_result_free(res);
        smneo_error_clear(&err);
    }
    CHECK_INT(s3_ops("CreateBucket", since), 1);
    smneo_error err = SMNEO_ERROR_INIT;
    smneo_s3_list *it = NULL;
    CHECK_INT(smneo_s3_list_new(&it, lc, "s3://sagemaker-us-east-1-123456789012/", 0, &err), 0);
    smneo_s3_listed l;
    int n = 0;
    while (smneo_s3_list_next(&l, it, &err) == 0)
        n += strstr(l.key, "model.tar.gz") != NULL;
    CHECK(n >= 1); /* the model, uploaded once into the default bucket */
    smneo_s3_list_free(it);
    smneo_error_clear(&err);
}

/* Other jobs of the account fill the quota when the call starts: the jobs
 * wait for them and then run at the concurrency asked, not one at a time. */
static void test_quota_filled_by_others(void)
{
    make_models("others");
    smneo_compile_options one = SMNEO_COMPILE_OPTIONS_INIT;
    one.model = models[0];
    one.framework = "XGBOOST";
    one.target_device = "ml_c5";
    one.role_arn = ROLE;
    one.s3_bucket = BUCKET;
    one.output_dir = work;
    one.delay = 0.1;
    one.max_delay = 0.2;
    smneo_compile_result *cr = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    CHECK_INT(smneo_compile(&cr, lc, &one, &err), 0);
    const char *input = smneo_compile_result_input_uri(cr);
    for (int i = 0; i < 5 && input; i++) {
        char params[1024];
        snprintf(params, sizeof params,
                 "{\"CompilationJobName\": \"someone-else-%d\", \"RoleArn\": \"%s\", \"InputConfig\": "
                 "{\"S3Uri\": \"%s\", \"Framework\": \"XGBOOST\"}, \"OutputConfig\": {\"S3OutputLocation\": "
                 "\"s3://%s/others/out\", \"TargetDevice\": \"ml_c5\"}, \"StoppingCondition\": "
                 "{\"MaxRuntimeInSeconds\": 900}}",
                 i, ROLE, input, BUCKET);
        smneo_result *res = NULL;
        CHECK_INT(smneo_client_call(&res, lc, "CreateCompilationJob", params, strlen(params), &err), 0);
        smneo_result_free(res);
    }
    smneo_compile_result_free(cr);
    smneo_compile_options jobs[NJOBS];
    matrix(jobs, "others", work);
    rec r;
    memset(&r, 0, sizeof r);
    smneo_compile_many_options mo = SMNEO_COMPILE_MANY_OPTIONS_INIT;
    mo.max_concurrent = NTARGETS;
    mo.callback = on_event;
    mo.payload = &r;
    smneo_compile_many_result *res = NULL;
    int rc = smneo_compile_many(&res, lc, ptrs, NTARGETS, &mo, &err);
    CHECK_MSG(rc == 0, "rc %d: %s", rc, err.message ? err.message : "");
    CHECK(r.queued > 0);
    CHECK_INT(r.max_running, NTARGETS);
    CHECK_INT(r.completed, NTARGETS);
    smneo_compile_many_result_free(res);
    smneo_error_clear(&err);
}

/* The last accepted CreateCompilationJob's params (caller deletes). */
static cJSON *last_create_params(void)
{
    char *body = NULL;
    char url[512];
    snprintf(url, sizeof url, "%s/_smneo/requests?service=sagemaker", local.url);
    CHECK_INT(smneo_test_http("GET", url, NULL, 0, &body), 200);
    cJSON *doc = cJSON_Parse(body ? body : "");
    free(body);
    cJSON *found = NULL, *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItem(doc, "requests"))
    {
        const cJSON *op = cJSON_GetObjectItem(it, "operation");
        if (cJSON_IsString(op) && !strcmp(op->valuestring, "CreateCompilationJob"))
            found = cJSON_GetObjectItem(it, "params");
    }
    cJSON *copy = found ? cJSON_Duplicate(found, 1) : NULL;
    cJSON_Delete(doc);
    return copy;
}

/* VpcConfig, ModelPackageVersionArn and the three StoppingCondition limits
 * reach CreateCompilationJob; a version-1 options struct still works. */
static void test_every_create_option(void)
{
    make_models("options");
    smneo_compile_options o = SMNEO_COMPILE_OPTIONS_INIT;
    o.model = models[0];
    o.framework = "XGBOOST";
    o.target_device = "ml_c5";
    o.role_arn = ROLE;
    o.s3_bucket = BUCKET;
    o.output_dir = work;
    o.delay = 0.1;
    o.max_delay = 0.2;
    o.max_runtime_seconds = 600;
    o.max_wait_seconds = 1800;
    o.max_pending_seconds = 7200;
    o.vpc_config_json = "{\"SecurityGroupIds\": [\"sg-0123\"], \"Subnets\": [\"subnet-0a\", \"subnet-0b\"]}";
    smneo_compile_result *res = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    int rc = smneo_compile(&res, lc, &o, &err);
    CHECK_MSG(rc == 0, "rc %d: %s", rc, err.message ? err.message : "");
    cJSON *p = last_create_params();
    char *text = p ? cJSON_PrintUnformatted(cJSON_GetObjectItem(p, "StoppingCondition")) : NULL;
    CHECK_STR(text, "{\"MaxRuntimeInSeconds\":600,\"MaxWaitTimeInSeconds\":1800,\"MaxPendingTimeInSeconds\":7200}");
    free(text);
    text = p ? cJSON_PrintUnformatted(cJSON_GetObjectItem(p, "VpcConfig")) : NULL;
    CHECK_STR(text, "{\"SecurityGroupIds\":[\"sg-0123\"],\"Subnets\":[\"subnet-0a\",\"subnet-0b\"]}");
    free(text);
    cJSON_Delete(p);
    smneo_compile_result_free(res);
    smneo_error_clear(&err);

    /* a model package instead of a model: nothing packed or uploaded (smneo.local fails such jobs) */
    smneo_compile_options m = SMNEO_COMPILE_OPTIONS_INIT;
    m.model_package_version_arn = "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn-models/3";
    m.target_device = "ml_c5";
    m.role_arn = ROLE;
    m.s3_bucket = BUCKET;
    m.delay = 0.1;
    m.max_delay = 0.2;
    rc = smneo_compile(&res, lc, &m, &err);
    CHECK_INT(rc, SMNEO_EJOBFAILED);
    CHECK(res && strncmp(smneo_compile_result_job_name(res), "churn-models-", 13) == 0);
    CHECK(res && smneo_compile_result_input_uri(res) == NULL);
    p = last_create_params();
    const cJSON *arn = cJSON_GetObjectItem(p, "ModelPackageVersionArn");
    CHECK(cJSON_IsString(arn) && !strcmp(arn->valuestring, m.model_package_version_arn));
    CHECK(cJSON_GetObjectItem(p, "InputConfig") == NULL);
    cJSON_Delete(p);
    smneo_compile_result_free(res);
    res = NULL;
    smneo_error_clear(&err);
    m.model = models[0];
    CHECK_INT(smneo_compile(&res, lc, &m, &err), SMNEO_EINVAL);
    CHECK(err.message && strstr(err.message, "model_package_version_arn"));
    smneo_error_clear(&err);
    m.model = NULL;
    m.vpc_config_json = "[1]";
    CHECK_INT(smneo_compile(&res, lc, &m, &err), SMNEO_EINVAL);
    CHECK(err.message && strstr(err.message, "vpc_config_json must be a JSON object"));
    smneo_error_clear(&err);

    /* a version-1 struct: the version-2 members are not read */
    o.version = 1;
    o.max_wait_seconds = -5; /* would be refused if it were read */
    rc = smneo_compile(&res, lc, &o, &err);
    CHECK_MSG(rc == 0, "rc %d: %s", rc, err.message ? err.message : "");
    p = last_create_params();
    CHECK(cJSON_GetObjectItem(p, "VpcConfig") == NULL);
    CHECK(cJSON_GetObjectItem(cJSON_GetObjectItem(p, "StoppingCondition"), "MaxWaitTimeInSeconds") == NULL);
    cJSON_Delete(p);
    smneo_compile_result_free(res);
    smneo_error_clear(&err);
}

/* follow_logs in a job of compile_many: each job's log lines come as LOG
 * events with that job's index (its own lines only, to its end line), read
 * by the job's waiter in its poll rounds; a job without follow_logs gets
 * none. */
typedef struct logrec {
    char names[NJOBS][128];
    int lines[NJOBS], ended[NJOBS], foreign[NJOBS], no_ts, failed_line;
} logrec;

static int on_log(size_t job, const smneo_compile_event *ev, void *payload)
{
    logrec *r = payload;
    if (job >= NJOBS)
        return 0;
    if (ev->kind == SMNEO_COMPILE_EVENT_CREATED)
        snprintf(r->names[job], sizeof r->names[job], "%s", ev->message);
    if (ev->kind != SMNEO_COMPILE_EVENT_LOG)
        return 0;
    r->lines[job]++;
    if (ev->done == 0)
        r->no_ts++;
    for (size_t k = 0; k < NJOBS; k++)
        if (k != job && r->names[k][0] && strstr(ev->message, r->names[k]))
            r->foreign[job]++;
    char end[200];
    snprintf(end, sizeof end, "Compilation job %s ", r->names[job]);
    if (r->names[job][0] && strstr(ev->message, end) &&
        (strstr(ev->message, " completed") || strstr(ev->message, " failed:")))
        r->ended[job]++;
    if (strstr(ev->message, "frobnicate"))
        r->failed_line += (int)job == 1 ? 1 : 1000;
    return 0;
}

static void test_follow_logs_per_job(void)
{
    make_models("logs");
    char url[512];
    snprintf(url, sizeof url, "%s/_smneo/faults", local.url);
    CHECK_INT(smneo_test_http("POST", url,
                              "{\"kind\":\"fail\",\"device\":\"ml_m5\",\"rate\":1,\"failure\":\"unsupported-operator\","
                              "\"params\":{\"operators\":\"aten::frobnicate\"}}",
                              0, NULL),
              200);
    char *outdir = NULL;
    CHECK(asprintf(&outdir, "%s/out-logs", work) > 0);
    smneo_compile_options jobs[NJOBS];
    matrix(jobs, "logs", outdir);
    size_t n = NTARGETS; /* the first model on every target */
    for (size_t i = 0; i < n; i++)
        jobs[i].follow_logs = i != 3; /* the last one without */
    logrec r;
    memset(&r, 0, sizeof r);
    smneo_compile_many_options mo = SMNEO_COMPILE_MANY_OPTIONS_INIT;
    mo.max_concurrent = 4;
    mo.callback = on_log;
    mo.payload = &r;
    smneo_compile_many_result *res = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    int rc = smneo_compile_many(&res, lc, ptrs, n, &mo, &err);
    CHECK_INT(rc, SMNEO_EJOBFAILED);
    for (size_t i = 0; res && i < n; i++) {
        const smneo_compile_row *row = smneo_compile_many_result_row(res, i);
        CHECK_STR(row->status, i == 1 ? "FAILED" : "COMPLETED");
        if (i == 3) {
            CHECK_INT(r.lines[i], 0);
            continue;
        }
        CHECK_MSG(r.lines[i] >= 3, "job %zu: %d LOG events", i, r.lines[i]);
        CHECK_MSG(r.ended[i] == 1, "job %zu: its end line %d times", i, r.ended[i]);
        CHECK_INT(r.foreign[i], 0);
    }
    CHECK_INT(r.no_ts, 0);
    CHECK_MSG(r.failed_line >= 1 && r.failed_line < 1000, "%d", r.failed_line); /* the failing job's lines alone */
    const smneo_diagnosis *d = res ? smneo_compile_many_result_diagnosis(res, 1) : NULL;
    CHECK_STR(d ? smneo_diagnosis_id(d) : "(none)", "operator-not-implemented");
    CHECK_INT(smneo_test_http("DELETE", url, NULL, 0, NULL), 200);
    smneo_compile_many_result_free(res);
    smneo_error_clear(&err);
    free(outdir);
}

/* ---- the step machine (smneo_compile_many_new) --------------------------------------- */

static int never_called(size_t job, const smneo_compile_event *ev, void *payload)
{
    (void)job;
    (void)ev;
    ++*(int *)payload;
    return 0;
}

typedef struct steps_seen {
    char kinds[3][512]; /* each job's event kinds, in order, comma-separated */
    int all_waiting, bad_index, works, sends;
} steps_seen;

/* Drives the machine as a non-blocking driver would: WORK inline here, SEND
 * through the client's transport, SLEEP; cancels after the first CREATED
 * when asked. */
static int drive_many(smneo_call *call, steps_seen *seen, int cancel_at_created, smneo_compile_many_result **res,
                      smneo_error *err)
{
    int cancelled = 0;
    for (;;) {
        smneo_step st;
        smneo_call_next(&st, call);
        if (st.kind == SMNEO_STEP_WORK) {
            seen->works++;
            smneo_call_work(call);
        } else if (st.kind == SMNEO_STEP_SEND) {
            seen->sends++;
            smneo_call_send(call, &st);
        } else if (st.kind == SMNEO_STEP_SLEEP) {
            CHECK(st.sleep_ms >= 0 && st.sleep_ms <= 200);
            struct timespec ts = {0, st.sleep_ms * 1000000L};
            nanosleep(&ts, NULL);
        } else if (st.kind == SMNEO_STEP_EVENT) {
            CHECK_INT(st.event, SMNEO_EVENT_COMPILE);
            smneo_compile_event ev;
            size_t job = 0;
            CHECK_INT(smneo_call_compile_many_event(&ev, &job, call), 0);
            if (job == SMNEO_COMPILE_MANY_ALL) {
                seen->all_waiting += ev.kind == SMNEO_COMPILE_EVENT_WAITING;
                continue;
            }
            if (job >= 3) {
                seen->bad_index++;
                continue;
            }
            if (ev.kind == SMNEO_COMPILE_EVENT_STATUS)
                CHECK(ev.description != NULL);
            if (ev.kind == SMNEO_COMPILE_EVENT_PACK || ev.kind == SMNEO_COMPILE_EVENT_UPLOAD ||
                ev.kind == SMNEO_COMPILE_EVENT_DOWNLOAD || ev.kind == SMNEO_COMPILE_EVENT_WAITING ||
                ev.kind == SMNEO_COMPILE_EVENT_WARNING)
                continue;
            char *k = seen->kinds[job];
            const char *name = smneo_compile_event_name((int)ev.kind);
            size_t n = strlen(k);
            /* a run of one kind once (STATUS) */
            const char *last = strrchr(k, ',');
            last = last ? last + 1 : k;
            if (strcmp(last, name))
                snprintf(k + n, 512 - n, "%s%s", n ? "," : "", name);
            if (cancel_at_created && !cancelled && ev.kind == SMNEO_COMPILE_EVENT_CREATED) {
                cancelled = 1;
                smneo_call_cancel(call);
            }
        } else {
            break;
        }
    }
    CHECK_INT(smneo_call_compile_many_event(&(smneo_compile_event){0}, &(size_t){0}, call), SMNEO_EINVAL);
    int rc = smneo_call_compile_many_result(res, call, err);
    smneo_compile_many_result *again = NULL;
    CHECK_INT(smneo_call_compile_many_result(&again, call, NULL), SMNEO_EINVAL);
    return rc;
}

static void test_machine_steps(void)
{
    make_models("steps");
    char url[512];
    snprintf(url, sizeof url, "%s/_smneo/faults", local.url);
    CHECK_INT(smneo_test_http("POST", url,
                              "{\"kind\":\"fail\",\"device\":\"ml_c4\",\"rate\":1,\"failure\":\"not-tar-gz\"}", 0,
                              NULL),
              200);
    char *outdir = NULL;
    CHECK(asprintf(&outdir, "%s/out-steps", work) > 0);
    static const char *const three[3] = {"ml_c5", "ml_c4", "ml_m5"};
    smneo_compile_options jobs[3];
    const smneo_compile_options *jp[3];
    char model[1024], prefix[32];
    snprintf(model, sizeof model, "%s", models[0]);
    snprintf(prefix, sizeof prefix, "steps");
    for (int i = 0; i < 3; i++) {
        smneo_compile_options d = SMNEO_COMPILE_OPTIONS_INIT;
        jobs[i] = d;
        jobs[i].model = model;
        jobs[i].framework = "XGBOOST";
        jobs[i].target_device = three[i];
        jobs[i].role_arn = ROLE;
        jobs[i].s3_bucket = BUCKET;
        jobs[i].s3_prefix = prefix;
        jobs[i].output_dir = outdir;
        jobs[i].delay = 0.1;
        jobs[i].max_delay = 0.2;
        jobs[i].timeout = 120;
        jp[i] = &jobs[i];
    }
    int calls = 0;
    smneo_compile_many_options mo = SMNEO_COMPILE_MANY_OPTIONS_INIT;
    mo.max_concurrent = 2;
    mo.callback = never_called; /* the machine's events are EVENT steps */
    mo.payload = &calls;
    smneo_call *call = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    CHECK_INT(smneo_compile_many_new(&call, lc, jp, 3, &mo, &err), 0);
    /* the strings were copied: the caller's buffers may change */
    memset(model, 'x', 40);
    memset(prefix, 'y', 5);
    steps_seen seen;
    memset(&seen, 0, sizeof seen);
    smneo_compile_many_result *res = NULL;
    int rc = drive_many(call, &seen, 0, &res, &err);
    smneo_call_free(call);
    CHECK_INT(rc, SMNEO_EJOBFAILED);
    CHECK_MSG(err.message && strstr(err.message, "1 of 3 compilation jobs did not complete"), "%s",
              err.message ? err.message : "");
    CHECK_INT(calls, 0);
    CHECK_INT(seen.bad_index, 0);
    CHECK(seen.works >= 4); /* prepare, upload, then each job's download or log tail */
    CHECK(seen.sends >= 6);
    CHECK(seen.all_waiting > 0);
    /* each job's events in order; the model packed and uploaded once (job 0) */
    CHECK_STR(seen.kinds[0], "PACKED,UPLOADED,CREATED,STATUS,VERIFIED,DONE");
    CHECK_STR(seen.kinds[1], "UPLOADED,CREATED,STATUS,DONE");
    CHECK_STR(seen.kinds[2], "UPLOADED,CREATED,STATUS,VERIFIED,DONE");
    for (size_t i = 0; res && i < 3; i++) {
        const smneo_compile_row *row = smneo_compile_many_result_row(res, i);
        CHECK_STR(row->model, models[0]);
        if (i == 1) {
            CHECK_STR(row->status, "FAILED");
            const smneo_diagnosis *d = smneo_compile_many_result_diagnosis(res, i);
            CHECK_STR(d ? smneo_diagnosis_id(d) : "(none)", "not-tar-gz");
        } else {
            CHECK_STR(row->status, "COMPLETED");
            CHECK(file_exists(row->artifact_path));
            CHECK(row->digest_verified);
        }
    }
    smneo_compile_many_result_free(res);
    smneo_error_clear(&err);

    /* a cancel after the first CREATED: that job is stopped, the others never start */
    snprintf(model, sizeof model, "%s", models[1]);
    snprintf(prefix, sizeof prefix, "steps");
    CHECK_INT(smneo_compile_many_new(&call, lc, jp, 3, &mo, &err), 0);
    memset(&seen, 0, sizeof seen);
    res = NULL;
    rc = drive_many(call, &seen, 1, &res, &err);
    smneo_call_free(call);
    CHECK_INT(rc, SMNEO_ECANCELLED);
    CHECK_INT(calls, 0);
    CHECK_STR(seen.kinds[0], "PACKED,UPLOADED,CREATED,STOPPING,DONE");
    CHECK_STR(seen.kinds[1], "UPLOADED,DONE");
    CHECK(res != NULL);
    for (size_t i = 0; res && i < 3; i++) {
        const smneo_compile_row *row = smneo_compile_many_result_row(res, i);
        CHECK_INT(row->error, SMNEO_ECANCELLED);
        CHECK_STR(row->status, i == 0 ? "STOPPING" : "");
        CHECK_INT(row->stopped_by_smneo, i == 0);
    }
    smneo_compile_many_result_free(res);
    smneo_error_clear(&err);
    CHECK_INT(smneo_test_http("DELETE", url, NULL, 0, NULL), 200);
    free(outdir);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    work = smneo_test_tmpdir();
    static const char *const local_args[] = {"--job-duration", "0.5", "--max-concurrent-jobs", "5", NULL};
    if (smneo_test_local_start(&local, local_args) != 0) {
        CHECK_MSG(0, "could not start python3 -m smneo.local (PYTHONPATH=%s/python)", smneo_test_source_dir());
        smneo_test_server_stop(&local);
        return smneo_test_summary("compile_many");
    }
    lc = smneo_test_client(local.url, NULL);
    CHECK_INT(smneo_test_create_bucket(local.url, BUCKET), 200);
    RUN(test_matrix_under_the_limit);
    RUN(test_one_target_fails);
    RUN(test_cancel_then_resume);
    RUN(test_reattach_after_keep);
    RUN(test_mistake_in_last_job);
    RUN(test_s3_error_names_its_operation);
    RUN(test_default_bucket_once);
    RUN(test_every_create_option);
    RUN(test_quota_filled_by_others);
    RUN(test_follow_logs_per_job);
    RUN(test_machine_steps);
    smneo_client_free(lc);
    smneo_test_server_stop(&local);
    for (int i = 0; i < NMODELS; i++)
        free(models[i]);
    smneo_test_rmtree(work);
    free(work);
    return smneo_test_summary("compile_many");
}
