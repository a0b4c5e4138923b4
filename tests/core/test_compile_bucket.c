/* The default bucket inside the compile machines (smneo_compile_new,
 * smneo_compile_many_new): STS GetCallerIdentity, HeadBucket and CreateBucket
 * are SEND steps the driver performs, never requests made inside a WORK
 * step. The machines run on a client with no transport (no_transport = 1):
 * every request goes out through this file's driver, which records them, so
 * a WORK step that sent anything itself would fail for want of a transport. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"
#include "localserver.h"
#include "smneo.h"

#define DEFAULT_BUCKET "sagemaker-us-east-1-123456789012"
#define PACKAGE "arn:aws:sagemaker:us-east-1:123456789012:model-package/bucket-steps/1"

static smneo_test_server local;
static smneo_transport *tr;

/* The request's operation, as this test tells them apart. */
static const char *op_of(const smneo_request *req)
{
    const char *target = smneo_request_header(req, "X-Amz-Target");
    if (target && strchr(target, '.'))
        return strchr(target, '.') + 1;
    if (req->body && req->body_len && memmem(req->body, req->body_len, "Action=GetCallerIdentity", 24))
        return "GetCallerIdentity";
    int bucket_path = strstr(req->path, "/" DEFAULT_BUCKET) && !strstr(req->path, "/" DEFAULT_BUCKET "/");
    if (bucket_path && !strcmp(req->method, "HEAD"))
        return "HeadBucket";
    if (bucket_path && !strcmp(req->method, "PUT"))
        return "CreateBucket";
    return "?";
}

/* Drives the machine until it sends `until` (not sent: the machine is freed
 * before it goes out) or ends. Records "Op:status" per SEND and "WORK" per
 * WORK step in *log, comma-separated. */
static void drive(smneo_call *call, const char *until, char *log, size_t cap)
{
    log[0] = '\0';
    for (int n = 0; n < 200; n++) {
        smneo_step st;
        smneo_call_next(&st, call);
        size_t len = strlen(log);
        if (st.kind == SMNEO_STEP_SEND) {
            const char *op = op_of(st.request);
            if (!strcmp(op, until)) {
                snprintf(log + len, cap - len, "%s", op);
                return;
            }
            smneo_response *resp = NULL;
            smneo_error err = SMNEO_ERROR_INIT;
            int rc = smneo_transport_send(&resp, tr, st.request, &err);
            snprintf(log + len, cap - len, "%s:%d,", op, rc ? -rc : resp->status);
            smneo_call_feed(call, rc ? NULL : resp, rc, err.message);
            smneo_error_clear(&err);
        } else if (st.kind == SMNEO_STEP_WORK) {
            snprintf(log + len, cap - len, "WORK,");
            smneo_call_work(call);
        } else if (st.kind == SMNEO_STEP_SLEEP) {
            struct timespec ts = {st.sleep_ms / 1000, (st.sleep_ms % 1000) * 1000000L};
            nanosleep(&ts, NULL);
        } else if (st.kind == SMNEO_STEP_DONE) {
            snprintf(log + len, cap - len, "DONE");
            return;
        }
    }
}

static void options(smneo_compile_options *o, const char *job)
{
    smneo_compile_options init = SMNEO_COMPILE_OPTIONS_INIT;
    *o = init;
    o->model_package_version_arn = PACKAGE; /* nothing to pack or upload: the WORK steps are local */
    o->target_device = "ml_c5";
    o->role_arn = "arn:aws:iam::123456789012:role/neo";
    o->job_name = job;
    /* no s3_bucket: the default one */
}

static smneo_client *stepped_client(void)
{
    smneo_client_options o = SMNEO_CLIENT_OPTIONS_INIT;
    o.region = "us-east-1";
    o.endpoint_url = local.url;
    o.access_key_id = "test";
    o.secret_access_key = "test";
    o.retry_backoff_scale = 0.01;
    o.no_transport = 1;
    smneo_client *c = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    CHECK_MSG(smneo_client_new(&c, &o, &err) == 0, "client: %s", err.message ? err.message : "");
    smneo_error_clear(&err);
    return c;
}

/* compile: the bucket's three requests first, then the WORK steps, then the
 * create (not sent). */
static void test_compile_sends_the_bucket_requests(void)
{
    smneo_client *c = stepped_client();
    smneo_compile_options o;
    options(&o, "bucket-steps");
    smneo_call *call = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    CHECK_INT(smneo_compile_new(&call, c, &o, &err), 0);
    char log[1024];
    drive(call, "CreateCompilationJob", log, sizeof log);
    CHECK_STR(log, "GetCallerIdentity:200,HeadBucket:404,CreateBucket:200,WORK,WORK,CreateCompilationJob");
    smneo_call_free(call);
    smneo_client_free(c);
}

/* compile_many: the name before the jobs are validated (the preparation
 * WORK), HeadBucket after it, before the upload WORK; the bucket is there
 * now: no CreateBucket. */
static void test_compile_many_sends_the_bucket_requests(void)
{
    smneo_client *c = stepped_client();
    smneo_compile_options a, b;
    options(&a, "bucket-many-a");
    options(&b, "bucket-many-b");
    b.target_device = "ml_m5";
    const smneo_compile_options *jobs[] = {&a, &b};
    smneo_call *call = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    CHECK_INT(smneo_compile_many_new(&call, c, jobs, 2, NULL, &err), 0);
    char log[1024];
    drive(call, "CreateCompilationJob", log, sizeof log);
    CHECK_STR(log, "GetCallerIdentity:200,WORK,HeadBucket:200,WORK,CreateCompilationJob");
    smneo_call_free(call);

    /* a job that fails validation: nothing but the name was asked, no HeadBucket */
    b.target_device = "not-a-device";
    CHECK_INT(smneo_compile_many_new(&call, c, jobs, 2, NULL, &err), 0);
    drive(call, "HeadBucket", log, sizeof log);
    CHECK_STR(log, "GetCallerIdentity:200,WORK,DONE");
    smneo_compile_many_result *res = NULL;
    CHECK(smneo_call_compile_many_result(&res, call, &err) != 0);
    CHECK_MSG(err.message && strstr(err.message, "job 1"), "message: %s", err.message ? err.message : "");
    smneo_compile_many_result_free(res);
    smneo_error_clear(&err);
    smneo_call_free(call);
    smneo_client_free(c);
}

/* smneo_s3_default_bucket drives the same machine: with no transport it
 * says so at its first request. */
static void test_blocking_needs_a_transport(void)
{
    smneo_client *c = stepped_client();
    char *b = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    CHECK(smneo_s3_default_bucket(&b, c, &err) != 0);
    CHECK(b == NULL);
    CHECK_MSG(err.message && strstr(err.message, "GetCallerIdentity") && strstr(err.message, "no transport"),
              "message: %s", err.message ? err.message : "");
    smneo_error_clear(&err);
    smneo_client_free(c);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    if (smneo_test_local_start(&local, NULL) != 0) {
        CHECK_MSG(0, "could not start python3 -m smneo.local (PYTHONPATH=%s/python)", smneo_test_source_dir());
        smneo_test_server_stop(&local);
        return smneo_test_summary("compile_bucket");
    }
    smneo_error err = SMNEO_ERROR_INIT;
    CHECK_INT(smneo_curl_transport_new(&tr, NULL, &err), 0);
    smneo_error_clear(&err);
    RUN(test_compile_sends_the_bucket_requests);
    RUN(test_compile_many_sends_the_bucket_requests);
    RUN(test_blocking_needs_a_transport);
    smneo_transport_free(tr);
    smneo_test_server_stop(&local);
    return smneo_test_summary("compile_bucket");
}
