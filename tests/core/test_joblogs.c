/* smneo_joblogs (smneo/joblogs.h) against smneo.local: a completed job's
 * log equals the server's own merged view (with pages of 2 events, so
 * every stream takes several GetLogEvents), start_time, tail, streams that
 * only share the prefix left out, follow from before the first line (the
 * "no log yet" warning) to the job's end, a FAILED job's log, AccessDenied
 * on Logs as a warning, an unknown job, cancel between polls, bad options. */
#include <cjson/cJSON.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "localserver.h"
#include "smneo.h"

static smneo_test_server local;
static smneo_client *lc;

static int post(const char *path, const char *body)
{
    char url[512];
    snprintf(url, sizeof url, "%s%s", local.url, path);
    return smneo_test_http("POST", url, body, 0, NULL);
}

static void clear_faults(void)
{
    char url[512];
    snprintf(url, sizeof url, "%s/_smneo/faults", local.url);
    smneo_test_http("DELETE", url, NULL, 0, NULL);
}

static int create_job(const char *job)
{
    char json[1024];
    snprintf(json, sizeof json,
             "{\"CompilationJobName\":\"%s\",\"RoleArn\":\"arn:aws:iam::123456789012:role/NeoRole\","
             "\"InputConfig\":{\"S3Uri\":\"s3://models/in/model.tar.gz\",\"Framework\":\"PYTORCH\","
             "\"DataInputConfig\":\"{\\\"input0\\\": [1,3,224,224]}\"},"
             "\"OutputConfig\":{\"S3OutputLocation\":\"s3://models/out\",\"TargetDevice\":\"ml_c5\"},"
             "\"StoppingCondition\":{\"MaxRuntimeInSeconds\":900}}",
             job);
    smneo_result *r = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    int rc = smneo_client_call(&r, lc, "CreateCompilationJob", json, strlen(json), &err);
    if (rc)
        fprintf(stderr, "create %s: %s\n", job, err.message ? err.message : "?");
    smneo_result_free(r);
    smneo_error_clear(&err);
    return rc;
}

static int wait_job(const char *job)
{
    smneo_wait_options wo = SMNEO_WAIT_OPTIONS_INIT;
    wo.delay = 0.05;
    wo.max_delay = 0.1;
    wo.timeout = 60;
    smneo_result *r = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    int rc = smneo_client_wait(&r, lc, job, &wo, &err);
    smneo_result_free(r);
    smneo_error_clear(&err);
    return rc;
}

/* The server's merged view of the job's log (GET /_smneo/logs). */
static cJSON *server_log(const char *job)
{
    char url[512], *body = NULL;
    snprintf(url, sizeof url, "%s/_smneo/logs?job=%s", local.url, job);
    int st = smneo_test_http("GET", url, NULL, 0, &body);
    cJSON *doc = st == 200 && body ? cJSON_Parse(body) : NULL;
    free(body);
    cJSON *events = cJSON_DetachItemFromObjectCaseSensitive(doc, "events");
    cJSON_Delete(doc);
    return events;
}

typedef struct collected {
    cJSON *events; /* [{"stream","timestamp","message"}] */
    int rc;
    smneo_error err;
    char warnings[2048];
    char status[32];
} collected;

static void collect(collected *c, const char *job, const smneo_joblogs_options *o)
{
    memset(c, 0, sizeof *c);
    c->events = cJSON_CreateArray();
    smneo_joblogs *l = NULL;
    c->rc = smneo_joblogs_new(&l, lc, job, o, &c->err);
    if (c->rc)
        return;
    smneo_log_event ev;
    while ((c->rc = smneo_joblogs_next(&ev, l, &c->err)) == 0) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "stream", ev.stream);
        cJSON_AddNumberToObject(e, "timestamp", (double)ev.timestamp);
        cJSON_AddStringToObject(e, "message", ev.message);
        cJSON_AddItemToArray(c->events, e);
        if (ev.message_len != strlen(ev.message))
            c->rc = -1000;
    }
    for (size_t i = 0; i < smneo_joblogs_warning_count(l); i++) {
        strncat(c->warnings, smneo_joblogs_warning_at(l, i), sizeof c->warnings - strlen(c->warnings) - 2);
        strcat(c->warnings, "\n");
    }
    if (smneo_joblogs_status(l))
        snprintf(c->status, sizeof c->status, "%s", smneo_joblogs_status(l));
    smneo_joblogs_free(l);
}

static void collected_free(collected *c)
{
    cJSON_Delete(c->events);
    smneo_error_clear(&c->err);
}

static int same_events(const cJSON *a, const cJSON *b)
{
    return cJSON_Compare(a, b, 1);
}

static void test_completed_log(void)
{
    CHECK_INT(create_job("jl-ok"), 0);
    CHECK_INT(wait_job("jl-ok"), 0);
    /* a stream that only shares the prefix is another job's */
    CHECK_INT(post("/_smneo/logs", "{\"group\":\"/aws/sagemaker/CompilationJobs\",\"stream\":\"jl-okay\","
                                   "\"events\":[{\"timestamp\":1,\"message\":\"not ours\"}]}"),
              200);
    CHECK_INT(post("/_smneo/settings", "{\"logs_page_limit\": 2}"), 200);
    cJSON *want = server_log("jl-ok");
    CHECK(cJSON_GetArraySize(want) >= 5);
    collected c;
    collect(&c, "jl-ok", NULL);
    CHECK_INT(c.rc, SMNEO_ITEROVER);
    char *got = cJSON_PrintUnformatted(c.events), *exp = cJSON_PrintUnformatted(want);
    CHECK_MSG(same_events(c.events, want), "got %s\nwant %s", got, exp);
    CHECK(strstr(got, "not ours") == NULL);
    CHECK(strstr(got, "jl-ok/") != NULL); /* stage streams merged in */
    CHECK_STR(c.warnings, "");
    free(got);
    free(exp);
    collected_free(&c);

    /* tail: the last 3 of the merged log */
    smneo_joblogs_options o = SMNEO_JOBLOGS_OPTIONS_INIT;
    o.tail = 3;
    collect(&c, "jl-ok", &o);
    CHECK_INT(c.rc, SMNEO_ITEROVER);
    CHECK_INT(cJSON_GetArraySize(c.events), 3);
    int n = cJSON_GetArraySize(want);
    for (int i = 0; i < 3 && cJSON_GetArraySize(c.events) == 3; i++)
        CHECK(cJSON_Compare(cJSON_GetArrayItem(c.events, i), cJSON_GetArrayItem(want, n - 3 + i), 1));
    collected_free(&c);

    /* start_time: only events at or after it */
    int64_t mid = (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetArrayItem(want, n / 2), "timestamp"));
    smneo_joblogs_options so = SMNEO_JOBLOGS_OPTIONS_INIT;
    so.start_time = mid;
    collect(&c, "jl-ok", &so);
    CHECK_INT(c.rc, SMNEO_ITEROVER);
    int expect = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, want) expect += cJSON_GetNumberValue(cJSON_GetObjectItem(e, "timestamp")) >= (double)mid;
    CHECK_INT(cJSON_GetArraySize(c.events), expect);
    CHECK(expect < n);
    cJSON_ArrayForEach(e, c.events) CHECK(cJSON_GetNumberValue(cJSON_GetObjectItem(e, "timestamp")) >= (double)mid);
    collected_free(&c);
    CHECK_INT(post("/_smneo/settings", "{\"logs_page_limit\": null}"), 200);
    cJSON_Delete(want);
}

static void test_follow(void)
{
    CHECK_INT(post("/_smneo/settings", "{\"job_duration\": 1.5}"), 200);
    CHECK_INT(post("/_smneo/faults", "{\"kind\":\"fail\",\"job\":\"jl-follow\",\"failure\":\"pytorch-model-count\"}"),
              200);
    CHECK_INT(create_job("jl-follow"), 0);
    smneo_joblogs_options o = SMNEO_JOBLOGS_OPTIONS_INIT;
    o.follow = 1;
    o.delay = 0.05;
    o.max_delay = 0.2;
    collected c;
    collect(&c, "jl-follow", &o);
    CHECK_INT(post("/_smneo/settings", "{\"job_duration\": 0.2}"), 200);
    CHECK_INT(c.rc, SMNEO_ITEROVER);
    CHECK_STR(c.status, "FAILED");
    /* it started before the job wrote anything */
    CHECK_MSG(strstr(c.warnings, "no log yet") != NULL, "warnings: %s", c.warnings);
    cJSON *want = server_log("jl-follow");
    char *got = cJSON_PrintUnformatted(c.events), *exp = cJSON_PrintUnformatted(want);
    /* every line, each once, in the order written (the job writes in time order) */
    CHECK_MSG(same_events(c.events, want), "got %s\nwant %s", got, exp);
    CHECK(strstr(got, "Compilation job jl-follow failed") != NULL);
    free(got);
    free(exp);
    cJSON_Delete(want);
    collected_free(&c);
}

static void test_denied_and_missing(void)
{
    CHECK_INT(post("/_smneo/faults", "{\"kind\":\"fail\",\"job\":\"jl-denied\",\"failure\":\"pytorch-model-count\"}"),
              200);
    CHECK_INT(create_job("jl-denied"), 0);
    CHECK_INT(wait_job("jl-denied"), SMNEO_EJOBFAILED);
    CHECK_INT(post("/_smneo/faults", "{\"kind\":\"deny\",\"target\":\"logs\",\"rate\":1}"), 200);
    collected c;
    collect(&c, "jl-denied", NULL);
    CHECK_INT(c.rc, SMNEO_ITEROVER);
    CHECK_INT(cJSON_GetArraySize(c.events), 0);
    CHECK_MSG(strstr(c.warnings, "AccessDeniedException") && strstr(c.warnings, "logs:GetLogEvents"), "warnings: %s",
              c.warnings);
    collected_free(&c);
    /* the refusal of GetLogEvents alone, after the streams were listed */
    clear_faults();
    CHECK_INT(post("/_smneo/faults", "{\"kind\":\"deny\",\"target\":\"logs\",\"operation\":\"GetLogEvents\","
                                     "\"rate\":1}"),
              200);
    smneo_joblogs_options o = SMNEO_JOBLOGS_OPTIONS_INIT;
    o.follow = 1;
    o.delay = 0.05;
    collect(&c, "jl-denied", &o);
    CHECK_INT(c.rc, SMNEO_ITEROVER);
    CHECK(strstr(c.warnings, "AccessDeniedException") != NULL);
    collected_free(&c);
    clear_faults();

    /* no such job: no log, a warning, no error */
    collect(&c, "jl-no-such-job", NULL);
    CHECK_INT(c.rc, SMNEO_ITEROVER);
    CHECK_INT(cJSON_GetArraySize(c.events), 0);
    CHECK(strstr(c.warnings, "no log yet") != NULL);
    collected_free(&c);
    /* following it: the job's own error ends it */
    smneo_joblogs_options f = SMNEO_JOBLOGS_OPTIONS_INIT;
    f.follow = 1;
    f.delay = 0.05;
    collect(&c, "jl-no-such-job", &f);
    CHECK(c.rc != SMNEO_ITEROVER && c.rc < 0);
    CHECK(c.err.message != NULL);
    collected_free(&c);
}

/* Step-driven: a SLEEP between polls, then cancel. */
static void test_steps_and_cancel(void)
{
    CHECK_INT(post("/_smneo/settings", "{\"job_duration\": 30}"), 200);
    CHECK_INT(create_job("jl-cancel"), 0);
    CHECK_INT(post("/_smneo/settings", "{\"job_duration\": 0.2}"), 200);
    smneo_joblogs_options o = SMNEO_JOBLOGS_OPTIONS_INIT;
    o.follow = 1;
    o.delay = 10;
    smneo_joblogs *l = NULL;
    CHECK_INT(smneo_joblogs_new(&l, lc, "jl-cancel", &o, NULL), 0);
    int sends = 0, status = 0, slept = 0;
    smneo_step st;
    for (;;) {
        smneo_joblogs_step(&st, l);
        if (st.kind == SMNEO_STEP_SEND) {
            CHECK(st.request != NULL);
            sends++;
            smneo_joblogs_send(l, &st);
        } else if (st.kind == SMNEO_STEP_EVENT) {
            status += st.event == SMNEO_EVENT_STATUS;
        } else if (st.kind == SMNEO_STEP_SLEEP) {
            CHECK(st.sleep_ms > 0 && st.sleep_ms <= 200);
            slept = 1;
            smneo_joblogs_cancel(l);
        } else {
            break;
        }
    }
    CHECK(slept);
    CHECK(sends >= 2);
    CHECK_INT(status, 1);
    CHECK_STR(smneo_joblogs_status(l), "STARTING");
    CHECK(smneo_joblogs_description(l) != NULL);
    smneo_error err = SMNEO_ERROR_INIT;
    CHECK_INT(smneo_joblogs_result(l, &err), SMNEO_ECANCELLED);
    smneo_error_clear(&err);
    smneo_joblogs_free(l);
}

static void test_bad_options(void)
{
    smneo_joblogs *l = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    CHECK_INT(smneo_joblogs_new(&l, lc, "", NULL, &err), SMNEO_EINVAL);
    CHECK(err.message && strstr(err.message, "CompilationJobName"));
    smneo_error_clear(&err);
    smneo_joblogs_options o = SMNEO_JOBLOGS_OPTIONS_INIT;
    o.follow = 1;
    o.tail = 5;
    CHECK_INT(smneo_joblogs_new(&l, lc, "x", &o, &err), SMNEO_EINVAL);
    CHECK(err.message && strstr(err.message, "tail"));
    smneo_error_clear(&err);
    o.tail = 0;
    o.delay = -1;
    CHECK_INT(smneo_joblogs_new(&l, lc, "x", &o, &err), SMNEO_EINVAL);
    smneo_error_clear(&err);
    o.delay = 0;
    o.version = 2;
    CHECK_INT(smneo_joblogs_new(&l, lc, "x", &o, &err), SMNEO_EINVAL);
    smneo_error_clear(&err);
    CHECK(l == NULL);
    smneo_joblogs_free(NULL);
    CHECK_INT(smneo_joblogs_result(NULL, NULL), SMNEO_EINVAL);
}

/* The Logs endpoints botocore 1.43's rules give (region, FIPS, dual-stack). */
static void test_endpoint(void)
{
    static const struct {
        const char *region;
        int fips, dual;
        const char *url;
    } cases[] = {
        {"eu-west-1", 0, 0, "https://logs.eu-west-1.amazonaws.com"},
        {"eu-west-1", 1, 0, "https://logs-fips.eu-west-1.amazonaws.com"},
        {"eu-west-1", 0, 1, "https://logs.eu-west-1.api.aws"},
        {"eu-west-1", 1, 1, "https://logs-fips.eu-west-1.api.aws"},
        {"cn-north-1", 0, 0, "https://logs.cn-north-1.amazonaws.com.cn"},
        {"cn-north-1", 1, 0, "https://logs-fips.cn-north-1.amazonaws.com.cn"},
        {"cn-north-1", 0, 1, "https://logs.cn-north-1.api.amazonwebservices.com.cn"},
        {"us-gov-west-1", 0, 0, "https://logs.us-gov-west-1.amazonaws.com"},
        {"us-gov-west-1", 1, 0, "https://logs.us-gov-west-1.amazonaws.com"},
        {"us-gov-west-1", 1, 1, "https://logs-fips.us-gov-west-1.api.aws"},
    };
    smneo_endpoint_options eo = SMNEO_ENDPOINT_OPTIONS_INIT;
    eo.service = "logs";
    char *url = NULL;
    unsetenv("AWS_ENDPOINT_URL");
    setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true", 1);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        eo.region = cases[i].region;
        eo.use_fips = cases[i].fips ? 1 : -1;
        eo.use_dualstack = cases[i].dual ? 1 : -1;
        CHECK_INT(smneo_endpoint_resolve(&url, &eo, NULL), 0);
        CHECK_STR(url, cases[i].url);
        free(url);
        url = NULL;
    }
    unsetenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
    eo.region = "eu-west-1";
    eo.use_fips = -1;
    eo.use_dualstack = -1;
    setenv("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS", "http://127.0.0.1:9", 1);
    CHECK_INT(smneo_endpoint_resolve(&url, &eo, NULL), 0);
    CHECK_STR(url, "http://127.0.0.1:9");
    free(url);
    unsetenv("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS");
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    RUN(test_endpoint);
    static const char *const args[] = {"--job-duration", "0.2", NULL};
    if (smneo_test_local_start(&local, args) != 0) {
        CHECK_MSG(0, "could not start python3 -m smneo.local (PYTHONPATH=%s/python)", smneo_test_source_dir());
        return smneo_test_summary("joblogs");
    }
    lc = smneo_test_client(local.url, NULL);
    CHECK_INT(smneo_test_create_bucket(local.url, "models"), 200);
    char *dir = smneo_test_tmpdir(), archive[4096], model[4096];
    snprintf(archive, sizeof archive, "%s/model.tar.gz", dir);
    snprintf(model, sizeof model, "%s/examples/model", smneo_test_source_dir());
    smneo_pack_options po = SMNEO_PACK_OPTIONS_INIT;
    smneo_artifact_pack_result *pr = NULL;
    CHECK_INT(smneo_artifact_pack(&pr, model, archive, &po, NULL), 0);
    smneo_artifact_pack_result_free(pr);
    CHECK_INT(smneo_s3_upload(lc, archive, "s3://models/in/model.tar.gz", NULL, NULL), 0);
    smneo_test_rmtree(dir);
    free(dir);
    RUN(test_completed_log);
    RUN(test_follow);
    RUN(test_denied_and_missing);
    RUN(test_steps_and_cancel);
    RUN(test_bad_options);
    smneo_client_free(lc);
    smneo_test_server_stop(&local);
    return smneo_test_summary("joblogs");
}
