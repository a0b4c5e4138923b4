/* The client against a real HTTP server on 127.0.0.1: every operation,
 * retries and the retry quota, paginators, the waiter, threads, and the
 * step API driven by hand. */
#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "aws_env.h"
#include "client_internal.h"
#include "harness.h"
#include "httpserver.h"
#include "smneo.h"

/* ---- a scripted fake SageMaker ------------------------------------------ */

typedef struct fake {
    pthread_mutex_t lock;
    int fail_remaining;       /* answer the next N requests with fail_status/fail_code */
    int fail_status;
    const char *fail_code;
    int jobs;                 /* ListCompilationJobs: this many jobs */
    const char *stuck_token;  /* a NextToken answered with itself (the same page again) */
    cJSON *job;               /* CreateCompilationJob: the job made (its parameters), or NULL */
    int creates_lost;         /* the next N creates make the job, then close without answering */
    const char *job_role;     /* describe the job with this RoleArn (someone else's job) */
    int describe_status;      /* describe the job with this HTTP status (an error) when non-zero */
    const char *const *statuses; /* DescribeCompilationJob: status sequence (last repeats) */
    int status_count;
    int describes;
    char last_target[128];
    char last_body[2048];
    char last_auth[512];
    atomic_int requests;
} fake;

static char *dupstr(const char *s) { return strdup(s); }

static void reply(test_http_response *resp, int status, char *body)
{
    resp->status = status;
    snprintf(resp->headers, sizeof resp->headers,
             "Content-Type: application/x-amz-json-1.1\r\nx-amzn-RequestId: rid-%d\r\n", status);
    resp->body = body;
    resp->body_len = strlen(body);
}

/* CreateCompilationJob makes f->job (a lost answer when creates_lost); a
 * create or describe of its name meets it. Returns 1 when it answered. */
static int own_job(fake *f, const char *op, const cJSON *in, test_http_response *resp)
{
    int answered = 1;
    pthread_mutex_lock(&f->lock);
    const cJSON *job_name = cJSON_GetObjectItem(f->job, "CompilationJobName");
    const cJSON *in_name = cJSON_GetObjectItem(in, "CompilationJobName");
    int same_name = cJSON_IsString(in_name) && cJSON_IsString(job_name) &&
                    !strcmp(in_name->valuestring, job_name->valuestring);
    if (!strcmp(op, "DescribeCompilationJob") && same_name) {
        f->describes++;
        if (f->describe_status) {
            reply(resp, f->describe_status, dupstr("{\"__type\":\"InternalFailure\",\"message\":\"injected\"}"));
        } else {
            cJSON *d = cJSON_Duplicate(f->job, 1);
            cJSON_DeleteItemFromObject(d, "Tags"); /* not described, as the service */
            cJSON_AddStringToObject(d, "CompilationJobArn", "arn:aws:sagemaker:us-east-1:123456789012:compilation-job/own");
            cJSON_AddStringToObject(d, "CompilationJobStatus", "STARTING");
            if (f->job_role)
                cJSON_ReplaceItemInObject(d, "RoleArn", cJSON_CreateString(f->job_role));
            reply(resp, 200, cJSON_PrintUnformatted(d));
            cJSON_Delete(d);
        }
    } else if (!strcmp(op, "CreateCompilationJob") && same_name) {
        reply(resp, 400, dupstr("{\"__type\":\"ResourceInUse\",\"message\":\"Resource Already Exists: Compilation "
                                "job with name own already exists. Choose a different name.\"}"));
    } else if (!strcmp(op, "CreateCompilationJob") && f->creates_lost > 0) {
        cJSON_Delete(f->job);
        f->job = cJSON_Duplicate(in, 1);
        f->creates_lost--;
        resp->status = 0; /* made, but the answer is lost */
    } else {
        answered = 0;
    }
    pthread_mutex_unlock(&f->lock);
    return answered;
}

static void handle(const test_http_request *req, test_http_response *resp, void *payload)
{
    fake *f = payload;
    atomic_fetch_add(&f->requests, 1);
    const char *target = test_http_header(req, "X-Amz-Target");
    pthread_mutex_lock(&f->lock);
    snprintf(f->last_target, sizeof f->last_target, "%s", target ? target : "");
    snprintf(f->last_body, sizeof f->last_body, "%.*s", (int)req->body_len, req->body);
    const char *auth = test_http_header(req, "Authorization");
    snprintf(f->last_auth, sizeof f->last_auth, "%s", auth ? auth : "");
    if (f->fail_remaining > 0) {
        f->fail_remaining--;
        char buf[256];
        snprintf(buf, sizeof buf, "{\"__type\":\"%s\",\"message\":\"injected\"}", f->fail_code ? f->fail_code : "X");
        pthread_mutex_unlock(&f->lock);
        if (f->fail_status == 0) {
            resp->status = 0; /* close without answering */
            return;
        }
        reply(resp, f->fail_status, dupstr(buf));
        return;
    }
    pthread_mutex_unlock(&f->lock);
    cJSON *in = cJSON_ParseWithLength(req->body, req->body_len);
    if (!target || !in) {
        reply(resp, 400, dupstr("{\"__type\":\"SerializationException\",\"message\":\"bad body\"}"));
        cJSON_Delete(in);
        return;
    }
    const char *op = strchr(target, '.') ? strchr(target, '.') + 1 : target;
    if (own_job(f, op, in, resp)) {
        /* answered: the job CreateCompilationJob made */
    } else if (!strcmp(op, "DescribeCompilationJob")) {
        const cJSON *name = cJSON_GetObjectItem(in, "CompilationJobName");
        if (!cJSON_IsString(name) || !strcmp(name->valuestring, "missing")) {
            reply(resp, 400, dupstr("{\"__type\":\"ResourceNotFound\",\"message\":\"Could not find compilation job\"}"));
        } else {
            pthread_mutex_lock(&f->lock);
            int i = f->describes++;
            const char *st = "COMPLETED";
            if (f->status_count)
                st = f->statuses[i < f->status_count ? i : f->status_count - 1];
            pthread_mutex_unlock(&f->lock);
            char buf[1024];
            snprintf(buf, sizeof buf,
                     "{\"CompilationJobName\":\"%s\",\"CompilationJobStatus\":\"%s\",\"CreationTime\":1700000000.25,"
                     "\"FailureReason\":\"%s\",\"StoppingCondition\":{\"MaxRuntimeInSeconds\":900}}",
                     name->valuestring, st, !strcmp(st, "FAILED") ? "ClientError: No pth file found" : "");
            reply(resp, 200, dupstr(buf));
        }
    } else if (!strcmp(op, "ListCompilationJobs") || !strcmp(op, "ListPipelineExecutionSteps")) {
        int pipeline = !strcmp(op, "ListPipelineExecutionSteps");
        const cJSON *tok = cJSON_GetObjectItem(in, "NextToken");
        const cJSON *max = cJSON_GetObjectItem(in, "MaxResults");
        int start = cJSON_IsString(tok) ? atoi(tok->valuestring + 4) : 0;
        int n = cJSON_IsNumber(max) ? max->valueint : 10;
        cJSON *out = cJSON_CreateObject();
        cJSON *arr = cJSON_AddArrayToObject(out, pipeline ? "PipelineExecutionSteps" : "CompilationJobSummaries");
        int i;
        for (i = start; i < f->jobs && i < start + n; i++) {
            cJSON *item = cJSON_CreateObject();
            char nm[32];
            snprintf(nm, sizeof nm, "job-%03d", i);
            cJSON_AddStringToObject(item, pipeline ? "StepName" : "CompilationJobName", nm);
            cJSON_AddNumberToObject(item, pipeline ? "StartTime" : "CreationTime", 1700000000 + i);
            cJSON_AddItemToArray(arr, item);
        }
        if (f->stuck_token && cJSON_IsString(tok) && !strcmp(tok->valuestring, f->stuck_token)) {
            cJSON_AddStringToObject(out, "NextToken", f->stuck_token);
        } else if (i < f->jobs) {
            char t[32];
            snprintf(t, sizeof t, "tok-%d", i);
            cJSON_AddStringToObject(out, "NextToken", t);
        }
        char *s = cJSON_PrintUnformatted(out);
        cJSON_Delete(out);
        reply(resp, 200, s);
    } else if (!strcmp(op, "CreateCompilationJob")) {
        reply(resp, 200, dupstr("{\"CompilationJobArn\":\"arn:aws:sagemaker:us-east-1:123456789012:compilation-job/j\"}"));
    } else if (!strcmp(op, "StopCompilationJob") || !strcmp(op, "DeleteCompilationJob")) {
        reply(resp, 200, dupstr(""));
    } else {
        reply(resp, 400, dupstr("{\"__type\":\"UnknownOperationException\"}"));
    }
    cJSON_Delete(in);
}

static smneo_client *make_client(test_http_server *srv, int max_attempts, const char *mode)
{
    smneo_client_options o = SMNEO_CLIENT_OPTIONS_INIT;
    o.region = "us-east-1";
    o.endpoint_url = test_http_server_url(srv);
    o.access_key_id = "AKIDTEST";
    o.secret_access_key = "secret-test-key";
    o.max_attempts = max_attempts;
    o.retry_mode = mode;
    o.retry_backoff_scale = 0.001;
    o.read_timeout_ms = 5000;
    smneo_client *c = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    int rc = smneo_client_new(&c, &o, &err);
    CHECK_MSG(rc == 0, "client: %s", err.message ? err.message : "");
    smneo_error_clear(&err);
    return c;
}

static void reset(fake *f)
{
    pthread_mutex_lock(&f->lock);
    f->fail_remaining = 0;
    f->describes = 0;
    f->statuses = NULL;
    f->status_count = 0;
    f->stuck_token = NULL;
    cJSON_Delete(f->job);
    f->job = NULL;
    f->creates_lost = 0;
    f->job_role = NULL;
    f->describe_status = 0;
    pthread_mutex_unlock(&f->lock);
    atomic_store(&f->requests, 0);
}

static const char *VALID_CREATE =
    "{\"CompilationJobName\":\"resnet50\",\"RoleArn\":\"arn:aws:iam::123456789012:role/SageMakerRole\","
    "\"InputConfig\":{\"S3Uri\":\"s3://bucket/model.tar.gz\",\"DataInputConfig\":\"{\\\"input0\\\":[1,3,224,224]}\","
    "\"Framework\":\"PYTORCH\",\"FrameworkVersion\":\"1.8\"},"
    "\"OutputConfig\":{\"S3OutputLocation\":\"s3://bucket/out\",\"TargetDevice\":\"ml_c5\"},"
    "\"StoppingCondition\":{\"MaxRuntimeInSeconds\":900}}";

static void test_operations(fake *f, test_http_server *srv)
{
    smneo_client *c = make_client(srv, 0, NULL);
    if (!c)
        return;
    CHECK_STR(smneo_client_region(c), "us-east-1");
    CHECK(smneo_client_transport(c) != NULL);
    CHECK_STR(smneo_client_retry_mode(c), "standard");
    CHECK_INT(smneo_client_max_attempts(c), 3);
    smneo_result *r = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    const char *d = "{\"CompilationJobName\":\"resnet50\"}";
    CHECK_INT(smneo_client_call(&r, c, "DescribeCompilationJob", d, strlen(d), &err), 0);
    CHECK_STR(f->last_target, "SageMaker.DescribeCompilationJob");
    CHECK_STR(f->last_body, d);
    CHECK(!strncmp(f->last_auth, "AWS4-HMAC-SHA256 Credential=AKIDTEST/", 37));
    CHECK(strstr(f->last_auth, "secret-test-key") == NULL);
    CHECK_STR(smneo_result_request_id(r), "rid-200");
    CHECK_INT(smneo_result_attempts(r), 1);
    smneo_value root, v;
    smneo_result_root(&root, r);
    CHECK_INT(smneo_value_get(&v, &root, "CompilationJobStatus"), 0);
    CHECK_STR(smneo_value_string(&v), "COMPLETED");
    smneo_result_free(r);

    CHECK_INT(smneo_client_call(&r, c, "CreateCompilationJob", VALID_CREATE, strlen(VALID_CREATE), &err), 0);
    CHECK_STR(f->last_target, "SageMaker.CreateCompilationJob");
    CHECK(strstr(f->last_body, "\"TargetDevice\":\"ml_c5\"") != NULL);
    smneo_result_free(r);
    CHECK_INT(smneo_client_call(&r, c, "StopCompilationJob", d, strlen(d), &err), 0);
    CHECK_STR(f->last_target, "SageMaker.StopCompilationJob");
    smneo_result_free(r);
    CHECK_INT(smneo_client_call(&r, c, "DeleteCompilationJob", d, strlen(d), &err), 0);
    CHECK_STR(f->last_target, "SageMaker.DeleteCompilationJob");
    smneo_result_free(r);
    f->jobs = 3;
    CHECK_INT(smneo_client_call(&r, c, "ListCompilationJobs", "{}", 2, &err), 0);
    CHECK_STR(f->last_target, "SageMaker.ListCompilationJobs");
    smneo_result_free(r);
    const char *lp = "{\"PipelineExecutionArn\":\"arn:aws:sagemaker:us-east-1:123456789012:pipeline/p/execution/e\"}";
    CHECK_INT(smneo_client_call(&r, c, "ListPipelineExecutionSteps", lp, strlen(lp), &err), 0);
    CHECK_STR(f->last_target, "SageMaker.ListPipelineExecutionSteps");
    smneo_result_free(r);

    /* Service errors are typed and carry code, message, status, request id. */
    const char *missing = "{\"CompilationJobName\":\"missing\"}";
    CHECK_INT(smneo_client_call(&r, c, "DescribeCompilationJob", missing, strlen(missing), &err), SMNEO_ENOTFOUND);
    CHECK_STR(err.service_code, "ResourceNotFound");
    CHECK_STR(err.request_id, "rid-400");
    CHECK_INT(err.http_status, 400);
    CHECK_INT(err.attempts, 1);
    smneo_error_clear(&err);

    /* Warnings never block; they come with the result. */
    const char *warn = "{\"CompilationJobName\":\"j\",\"RoleArn\":\"arn:aws:iam::123456789012:role/SageMakerRole\","
                       "\"InputConfig\":{\"S3Uri\":\"s3://bucket/model.tar.gz\",\"Framework\":\"PYTORCH\"},"
                       "\"OutputConfig\":{\"S3OutputLocation\":\"s3://bucket/out\",\"TargetDevice\":\"ml_c5\"},"
                       "\"StoppingCondition\":{\"MaxRuntimeInSeconds\":900}}";
    smneo_issues *check = NULL;
    smneo_validate(&check, "CreateCompilationJob", warn, strlen(warn), NULL, NULL);
    CHECK(smneo_issues_count(check) > 0 && smneo_issues_error_count(check) == 0);
    CHECK_INT(smneo_client_call(&r, c, "CreateCompilationJob", warn, strlen(warn), &err), 0);
    CHECK_INT(smneo_issues_count(smneo_result_issues(r)), smneo_issues_count(check));
    smneo_issues_free(check);
    smneo_result_free(r);
    CHECK_INT(smneo_client_call(&r, c, "DescribeCompilationJob", d, strlen(d), &err), 0);
    CHECK(smneo_result_issues(r) == NULL);
    smneo_result_free(r);

    /* Strict validation refuses before anything is sent. */
    reset(f);
    CHECK_INT(smneo_client_call(&r, c, "DescribeCompilationJob", "{}", 2, &err), SMNEO_EVALIDATION);
    CHECK(smneo_issues_count(err.issues) >= 1);
    CHECK_INT(atomic_load(&f->requests), 0);
    smneo_error_clear(&err);
    smneo_client_free(c);
}

static void test_retries(fake *f, test_http_server *srv)
{
    smneo_client *c = make_client(srv, 0, NULL);
    if (!c)
        return;
    smneo_result *r = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    const char *d = "{\"CompilationJobName\":\"resnet50\"}";

    /* Two 503s then success: three attempts, reported with the result. */
    reset(f);
    f->fail_remaining = 2;
    f->fail_status = 503;
    f->fail_code = "ServiceUnavailable";
    CHECK_INT(smneo_client_call(&r, c, "DescribeCompilationJob", d, strlen(d), &err), 0);
    CHECK_INT(smneo_result_attempts(r), 3);
    CHECK_INT(atomic_load(&f->requests), 3);
    smneo_result_free(r);

    /* Throttling on every attempt: gives up after max_attempts (3). */
    reset(f);
    f->fail_remaining = 10;
    f->fail_status = 400;
    f->fail_code = "ThrottlingException";
    CHECK_INT(smneo_client_call(&r, c, "DescribeCompilationJob", d, strlen(d), &err), SMNEO_ETHROTTLED);
    CHECK_INT(err.attempts, 3);
    CHECK_INT(err.retryable, 1);
    CHECK_INT(atomic_load(&f->requests), 3);
    smneo_error_clear(&err);

    /* A client error is not retried. */
    reset(f);
    f->fail_remaining = 10;
    f->fail_code = "ValidationException";
    CHECK_INT(smneo_client_call(&r, c, "DescribeCompilationJob", d, strlen(d), &err), SMNEO_ESERVICE);
    CHECK_INT(atomic_load(&f->requests), 1);
    smneo_error_clear(&err);

    /* A connection closed without an answer is retried. */
    reset(f);
    f->fail_remaining = 1;
    f->fail_status = 0;
    CHECK_INT(smneo_client_call(&r, c, "DescribeCompilationJob", d, strlen(d), &err), 0);
    /* (libcurl itself re-sends once on a reused connection found dead, so
     * the retry may happen below us: the server sees both requests.) */
    CHECK_INT(atomic_load(&f->requests), 2);
    smneo_result_free(r);
    r = NULL;

    /* Closed on every attempt: retried like a refused connect, then
     * SMNEO_ECLOSED after max_attempts (3), not ECONNECT. */
    reset(f);
    f->fail_remaining = 100;
    f->fail_status = 0;
    CHECK_INT(smneo_client_call(&r, c, "DescribeCompilationJob", d, strlen(d), &err), SMNEO_ECLOSED);
    CHECK_INT(err.attempts, 3);
    CHECK(err.retryable);
    CHECK(err.message && strstr(err.message, "without sending a response"));
    CHECK(atomic_load(&f->requests) >= 3);
    CHECK(r == NULL);
    smneo_error_clear(&err);
    smneo_client_free(c);

    /* Legacy mode: botocore's 5 attempts and status list (429 retried). */
    c = make_client(srv, 0, "legacy");
    CHECK_INT(smneo_client_max_attempts(c), 5);
    reset(f);
    f->fail_remaining = 10;
    f->fail_status = 429;
    f->fail_code = "TooManyRequests";
    CHECK(smneo_client_call(&r, c, "DescribeCompilationJob", d, strlen(d), &err) != 0);
    CHECK_INT(atomic_load(&f->requests), 5);
    smneo_error_clear(&err);
    smneo_client_free(c);

    /* AWS_MAX_ATTEMPTS and AWS_RETRY_MODE are honoured (test_retry.c has the rest). */
    setenv("AWS_MAX_ATTEMPTS", "2", 1);
    c = make_client(srv, 0, NULL);
    CHECK_INT(smneo_client_max_attempts(c), 2);
    smneo_client_free(c);
    unsetenv("AWS_MAX_ATTEMPTS");
    setenv("AWS_RETRY_MODE", "adaptive", 1);
    smneo_client_options o = SMNEO_CLIENT_OPTIONS_INIT;
    o.region = "us-east-1";
    o.endpoint_url = test_http_server_url(srv);
    o.access_key_id = "AKIDTEST";
    o.secret_access_key = "secret";
    CHECK_INT(smneo_client_new(&c, &o, &err), 0);
    CHECK_STR(smneo_client_retry_mode(c), "adaptive");
    CHECK_INT(smneo_client_max_attempts(c), 3);
    smneo_client_free(c);
    unsetenv("AWS_RETRY_MODE");

    /* The retry quota (500, 5 per retry) runs out: then no more retries. */
    c = make_client(srv, 2, NULL);
    reset(f);
    f->fail_remaining = 100000;
    f->fail_status = 500;
    f->fail_code = "InternalFailure";
    for (int i = 0; i < 100; i++) {
        CHECK_INT(smneo_client_call(&r, c, "DescribeCompilationJob", d, strlen(d), &err), SMNEO_ESERVICE);
        smneo_error_clear(&err);
    }
    CHECK_INT(atomic_load(&f->requests), 200); /* each call retried once */
    CHECK_INT(smneo_client_call(&r, c, "DescribeCompilationJob", d, strlen(d), &err), SMNEO_ESERVICE);
    CHECK_INT(err.attempts, 1); /* quota exhausted: no retry */
    CHECK_INT(atomic_load(&f->requests), 201);
    smneo_error_clear(&err);
    /* Successes refund the quota (1 each): retries come back. */
    reset(f);
    for (int i = 0; i < 5; i++) {
        CHECK_INT(smneo_client_call(&r, c, "DescribeCompilationJob", d, strlen(d), &err), 0);
        smneo_result_free(r);
    }
    f->fail_remaining = 1;
    CHECK_INT(smneo_client_call(&r, c, "DescribeCompilationJob", d, strlen(d), &err), 0);
    CHECK_INT(smneo_result_attempts(r), 2);
    smneo_result_free(r);
    smneo_client_free(c);
}

static void test_connection_refused(void)
{
    /* Start and stop a server to get a port nobody listens on. */
    fake dummy;
    memset(&dummy, 0, sizeof dummy);
    pthread_mutex_init(&dummy.lock, NULL);
    test_http_server *srv = test_http_server_start(handle, &dummy);
    smneo_client *c = make_client(srv, 2, NULL);
    test_http_server_stop(srv);
    smneo_result *r = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    const char *d = "{\"CompilationJobName\":\"x\"}";
    CHECK_INT(smneo_client_call(&r, c, "DescribeCompilationJob", d, strlen(d), &err), SMNEO_ECONNECT);
    CHECK_INT(err.attempts, 2);
    CHECK(err.message != NULL);
    smneo_error_clear(&err);
    smneo_client_free(c);
    pthread_mutex_destroy(&dummy.lock);
}

/* The settings comparison a create that met its own job relies on. */
static void test_create_is_ours(void)
{
    const smneo_operation *op = smneo_model_operation("CreateCompilationJob");
    CHECK(smneo__create_describe_op(op) == smneo_model_operation("DescribeCompilationJob"));
    CHECK(smneo__create_describe_op(smneo_model_operation("StopCompilationJob")) == NULL);
    cJSON *params = cJSON_Parse(
        "{\"CompilationJobName\":\"j\",\"RoleArn\":\"arn:aws:iam::123456789012:role/r\","
        "\"InputConfig\":{\"S3Uri\":\"s3://b/p/m.tar.gz\",\"Framework\":\"PYTORCH\"},"
        "\"OutputConfig\":{\"S3OutputLocation\":\"s3://b/o\",\"TargetPlatform\":{\"Os\":\"LINUX\",\"Arch\":\"ARM64\"},"
        "\"CompilerOptions\":\"{\\\"mattr\\\": [\\\"+neon\\\"]}\"},"
        "\"VpcConfig\":{\"SecurityGroupIds\":[\"sg-1\"],\"Subnets\":[\"subnet-1\",\"subnet-2\"]},"
        "\"Tags\":[{\"Key\":\"team\",\"Value\":\"ml\"}]}");
    const char *base = "{\"CompilationJobName\":\"j\",\"CompilationJobArn\":\"arn:x\",\"CompilationJobStatus\":\"STARTING\","
                       "\"RoleArn\":\"%s\",\"InputConfig\":{\"S3Uri\":\"%s\",\"Framework\":\"%s\"},"
                       "\"OutputConfig\":{\"S3OutputLocation\":\"s3://b/o\",%s,\"CompilerOptions\":\"%s\"},"
                       "\"VpcConfig\":{\"SecurityGroupIds\":[\"sg-1\"],\"Subnets\":[%s]},"
                       "\"StoppingCondition\":{\"MaxRuntimeInSeconds\":900}}";
    static const char ROLE[] = "arn:aws:iam::123456789012:role/r", URI[] = "s3://b/p/m.tar.gz",
                      ARM[] = "\"TargetPlatform\":{\"Os\":\"LINUX\",\"Arch\":\"ARM64\"}",
                      OPTS[] = "{\\\"mattr\\\": [\\\"+neon\\\"]}", NETS[] = "\"subnet-1\",\"subnet-2\"";
    struct {
        const char *role, *uri, *fw, *target, *opts, *nets;
        int ours;
    } cases[] = {
        /* Equal (Tags are not described; StoppingCondition, not asked for, is the service's default). */
        {ROLE, URI, "PYTORCH", ARM, OPTS, NETS, 1},
        {ROLE, URI, "pytorch", ARM, OPTS, NETS, 1}, /* enum values case-insensitively */
        /* A platform member the request left out is not compared (the service fills in defaults). */
        {ROLE, URI, "PYTORCH", "\"TargetPlatform\":{\"Os\":\"LINUX\",\"Arch\":\"ARM64\",\"Accelerator\":\"NVIDIA\"}",
         OPTS, NETS, 1},
        {"arn:aws:iam::123456789012:role/other", URI, "PYTORCH", ARM, OPTS, NETS, 0},
        {ROLE, "s3://b/p/x.tar.gz", "PYTORCH", ARM, OPTS, NETS, 0},
        {ROLE, "S3://b/p/m.tar.gz", "PYTORCH", ARM, OPTS, NETS, 0}, /* plain strings exactly */
        {ROLE, URI, "ONNX", ARM, OPTS, NETS, 0},
        {ROLE, URI, "PYTORCH", "\"TargetDevice\":\"ml_c5\"", OPTS, NETS, 0},
        {ROLE, URI, "PYTORCH", "\"TargetPlatform\":{\"Os\":\"LINUX\",\"Arch\":\"X86_64\"}", OPTS, NETS, 0},
        {ROLE, URI, "PYTORCH", ARM, "{}", NETS, 0},
        {ROLE, URI, "PYTORCH", ARM, OPTS, "\"subnet-2\",\"subnet-1\"", 0},
        {ROLE, URI, "PYTORCH", ARM, OPTS, "\"subnet-1\"", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char json[2048];
        snprintf(json, sizeof json, base, cases[i].role, cases[i].uri, cases[i].fw, cases[i].target, cases[i].opts,
                 cases[i].nets);
        cJSON *desc = cJSON_Parse(json);
        CHECK_MSG(desc != NULL, "case %zu: %s", i, json);
        CHECK_MSG(smneo__create_is_ours(op, params, desc) == cases[i].ours, "case %zu", i);
        cJSON_Delete(desc);
    }
    /* Without the ARN the create answers with, nothing to answer: not ours. */
    char json[2048];
    snprintf(json, sizeof json, base, ROLE, URI, "PYTORCH", ARM, OPTS, NETS);
    cJSON *desc = cJSON_Parse(json);
    CHECK(smneo__create_is_ours(op, params, desc) == 1);
    cJSON_DeleteItemFromObject(desc, "CompilationJobArn");
    CHECK(smneo__create_is_ours(op, params, desc) == 0);
    cJSON_Delete(desc);
    /* The describe asks by the create's CompilationJobName. */
    cJSON *dp = NULL;
    CHECK_INT(smneo__create_describe_params(&dp, smneo_model_operation("DescribeCompilationJob"), params), 0);
    char *dps = dp ? cJSON_PrintUnformatted(dp) : NULL;
    CHECK_STR(dps, "{\"CompilationJobName\":\"j\"}");
    free(dps);
    cJSON_Delete(dp);
    cJSON_Delete(params);
}

/* A create sent more than once meets its own job: recognised by the call
 * machine (a describe), answered with the job's ARN and the real attempts. */
static void test_create_meets_itself(fake *f, test_http_server *srv)
{
    smneo_client *c = make_client(srv, 0, NULL);
    if (!c)
        return;
    smneo_result *r = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    smneo_value root, arn;

    /* The retry strategy: the first answer is lost after the job was made. */
    reset(f);
    f->creates_lost = 1;
    int conns;
    CHECK_INT(smneo_client_call(&r, c, "CreateCompilationJob", VALID_CREATE, strlen(VALID_CREATE), &err), 0);
    CHECK_MSG(r != NULL, "%s", err.message ? err.message : "");
    smneo_result_root(&root, r);
    CHECK_INT(smneo_value_get(&arn, &root, "CompilationJobArn"), 0);
    CHECK_STR(smneo_value_string(&arn), "arn:aws:sagemaker:us-east-1:123456789012:compilation-job/own");
    CHECK_INT(smneo_result_attempts(r), 2);
    CHECK_INT(smneo_result_status(r), 200);
    CHECK_INT(atomic_load(&f->requests), 3); /* create, create, describe */
    CHECK(strstr(f->last_target, "DescribeCompilationJob") && !strcmp(f->last_body, "{\"CompilationJobName\":\"resnet50\"}"));
    smneo_result_free(r);
    r = NULL;

    /* libcurl's own resend: the create goes out on a reused keep-alive
     * connection that the server closes after making the job; libcurl sends
     * it again on a new connection by itself, and the second copy meets the
     * job. With max_attempts 1 the retry strategy cannot be the one. */
    reset(f);
    smneo_client *once = make_client(srv, 1, NULL);
    const char *d = "{\"CompilationJobName\":\"warm-up\"}";
    CHECK_INT(smneo_client_call(&r, once, "DescribeCompilationJob", d, strlen(d), &err), 0); /* a connection to reuse */
    smneo_result_free(r);
    r = NULL;
    f->creates_lost = 1;
    conns = test_http_server_connections(srv);
    CHECK_INT(smneo_client_call(&r, once, "CreateCompilationJob", VALID_CREATE, strlen(VALID_CREATE), &err), 0);
    CHECK_MSG(r != NULL, "%s", err.message ? err.message : "");
    CHECK_INT(smneo_result_attempts(r), 2); /* both copies count */
    CHECK_INT(atomic_load(&f->requests), 4);
    CHECK_INT(test_http_server_connections(srv), conns + 1); /* the resend's connection, then reused */
    smneo_result_free(r);
    r = NULL;
    /* The same on a fresh connection: libcurl does not resend, one attempt. */
    smneo_client_free(once);
    once = make_client(srv, 1, NULL);
    reset(f);
    f->creates_lost = 1;
    CHECK_INT(smneo_client_call(&r, once, "CreateCompilationJob", VALID_CREATE, strlen(VALID_CREATE), &err), SMNEO_ECLOSED);
    CHECK_INT(err.attempts, 1);
    CHECK_INT(atomic_load(&f->requests), 1);
    smneo_error_clear(&err);
    smneo_client_free(once);

    /* Someone else's job with that name: the conflict is reported, after the look. */
    reset(f);
    f->creates_lost = 1;
    f->job_role = "arn:aws:iam::123456789012:role/SomeoneElse";
    CHECK_INT(smneo_client_call(&r, c, "CreateCompilationJob", VALID_CREATE, strlen(VALID_CREATE), &err), SMNEO_EINUSE);
    CHECK(r == NULL);
    CHECK_STR(err.service_code, "ResourceInUse");
    CHECK(err.message && strstr(err.message, "Resource Already Exists") == err.message);
    CHECK_INT(err.http_status, 400);
    CHECK_INT(err.attempts, 2);
    CHECK_INT(f->describes, 1);
    smneo_error_clear(&err);

    /* The description fails: the conflict stands, as it came. */
    reset(f);
    f->creates_lost = 1;
    f->describe_status = 500;
    CHECK_INT(smneo_client_call(&r, c, "CreateCompilationJob", VALID_CREATE, strlen(VALID_CREATE), &err), SMNEO_EINUSE);
    CHECK_STR(err.service_code, "ResourceInUse");
    CHECK_INT(f->describes, 1); /* no retry of the look itself */
    smneo_error_clear(&err);

    /* A first attempt that meets the name: not ours, nothing described (as boto3). */
    reset(f);
    f->job = cJSON_Parse(VALID_CREATE);
    CHECK_INT(smneo_client_call(&r, c, "CreateCompilationJob", VALID_CREATE, strlen(VALID_CREATE), &err), SMNEO_EINUSE);
    CHECK_INT(err.attempts, 1);
    CHECK_INT(atomic_load(&f->requests), 1);
    CHECK_INT(f->describes, 0);
    smneo_error_clear(&err);
    reset(f);
    smneo_client_free(c);
}

static void test_paginators(fake *f, test_http_server *srv)
{
    smneo_client *c = make_client(srv, 0, NULL);
    if (!c)
        return;
    reset(f);
    f->jobs = 25;
    smneo_paginate_options po = SMNEO_PAGINATE_OPTIONS_INIT;
    po.page_size = 4;
    smneo_iter *it = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    CHECK_INT(smneo_iter_new(&it, c, "ListCompilationJobs", "{\"SortBy\":\"Name\"}", 17, &po, &err), 0);
    smneo_value v;
    int n = 0, ordered = 1, rc;
    while ((rc = smneo_iter_next(&v, it, &err)) == 0) {
        smneo_value name;
        char want[32];
        snprintf(want, sizeof want, "job-%03d", n);
        ordered &= smneo_value_get(&name, &v, "CompilationJobName") == 0 && !strcmp(smneo_value_string(&name), want);
        n++;
    }
    CHECK_INT(rc, SMNEO_ITEROVER);
    CHECK_INT(n, 25);
    CHECK(ordered);
    CHECK_INT(atomic_load(&f->requests), 7);
    CHECK(strstr(f->last_body, "\"MaxResults\":4") && strstr(f->last_body, "\"SortBy\":\"Name\""));
    smneo_iter_free(it);

    /* max_items stops mid-page and leaves a botocore-style resume token. */
    po.max_items = 10;
    smneo_call *call = NULL;
    CHECK_INT(smneo_paginate_new(&call, c, "ListCompilationJobs", NULL, 0, &po, &err), 0);
    smneo_step step;
    n = 0;
    for (;;) {
        smneo_call_run(&step, call);
        if (step.kind != SMNEO_STEP_EVENT)
            break;
        CHECK_INT(step.event, SMNEO_EVENT_ITEM);
        n++;
    }
    CHECK_INT(n, 10);
    CHECK_INT(smneo_call_result(NULL, call, &err), 0);
    const char *tok = smneo_call_resume_token(call);
    CHECK(tok != NULL);
    char *token = tok ? strdup(tok) : NULL;
    smneo_call_free(call);

    /* Resuming from it yields exactly the rest. */
    smneo_paginate_options po2 = SMNEO_PAGINATE_OPTIONS_INIT;
    po2.page_size = 4;
    po2.starting_token = token;
    CHECK_INT(smneo_iter_new(&it, c, "ListCompilationJobs", NULL, 0, &po2, &err), 0);
    n = 0;
    int first_ok = 0;
    while (smneo_iter_next(&v, it, &err) == 0) {
        smneo_value name;
        if (n == 0)
            first_ok = smneo_value_get(&name, &v, "CompilationJobName") == 0 &&
                       !strcmp(smneo_value_string(&name), "job-010");
        n++;
    }
    CHECK(first_ok);
    CHECK_INT(n, 15);
    smneo_iter_free(it);
    free(token);

    /* Pages mode: one event per page, the last page truncated to max_items. */
    po.max_items = 6;
    po.pages = 1;
    const char *lp = "{\"PipelineExecutionArn\":\"arn:aws:sagemaker:us-east-1:123456789012:pipeline/p/execution/e\"}";
    CHECK_INT(smneo_paginate_new(&call, c, "ListPipelineExecutionSteps", lp, strlen(lp), &po, &err), 0);
    int pages = 0, items = 0;
    for (;;) {
        smneo_call_run(&step, call);
        if (step.kind != SMNEO_STEP_EVENT)
            break;
        CHECK_INT(step.event, SMNEO_EVENT_PAGE);
        pages++;
        smneo_value root, arr;
        smneo_result_root(&root, smneo_call_page(call));
        char *json = NULL;
        if (smneo_value_get(&arr, &root, "PipelineExecutionSteps") == 0 && smneo_value_to_json(&json, &arr) == 0) {
            for (char *p = json; (p = strstr(p, "StepName")); p++)
                items++;
        }
        free(json);
    }
    CHECK_INT(pages, 2);
    CHECK_INT(items, 6);
    CHECK(smneo_call_resume_token(call) != NULL);
    smneo_call_free(call);

    /* A paginator keeps its warnings on the call (no final result to carry them). */
    const char *backwards = "{\"CreationTimeAfter\":1700000100,\"CreationTimeBefore\":1700000000}";
    CHECK_INT(smneo_paginate_new(&call, c, "ListCompilationJobs", backwards, strlen(backwards), NULL, &err), 0);
    CHECK(smneo_issues_count(smneo_call_issues(call)) >= 1);
    smneo_call_free(call);
    CHECK_INT(smneo_paginate_new(&call, c, "ListCompilationJobs", NULL, 0, NULL, &err), 0);
    CHECK(smneo_call_issues(call) == NULL);
    smneo_call_free(call);

    /* Operations that do not paginate are refused. */
    CHECK_INT(smneo_paginate_new(&call, c, "DescribeCompilationJob", NULL, 0, NULL, &err), SMNEO_EINVAL);
    smneo_error_clear(&err);

    /* The service answers a token with itself: botocore's PaginationError
     * after the page (its items are handed out), never a silent stop. */
    reset(f);
    f->jobs = 25;
    f->stuck_token = "tok-8";
    po = (smneo_paginate_options)SMNEO_PAGINATE_OPTIONS_INIT;
    po.page_size = 4;
    CHECK_INT(smneo_iter_new(&it, c, "ListCompilationJobs", NULL, 0, &po, &err), 0);
    n = 0;
    while ((rc = smneo_iter_next(&v, it, &err)) == 0)
        n++;
    CHECK_INT(rc, SMNEO_EPAGINATION);
    CHECK_STR(smneo_strerror(rc), "PaginationError");
    CHECK_STR(err.message, "Error during pagination: The same next token was received twice: {'NextToken': 'tok-8'}");
    CHECK_INT(n, 12);
    CHECK_INT(atomic_load(&f->requests), 3);
    smneo_error_clear(&err);
    smneo_iter_free(it);
    /* Started from that token (not received from a page): like botocore, the
     * first repeat is followed once, the second raises. */
    reset(f);
    f->jobs = 25;
    f->stuck_token = "tok-8";
    po.starting_token = "tok-8";
    CHECK_INT(smneo_iter_new(&it, c, "ListCompilationJobs", NULL, 0, &po, &err), 0);
    n = 0;
    while ((rc = smneo_iter_next(&v, it, &err)) == 0)
        n++;
    CHECK_INT(rc, SMNEO_EPAGINATION);
    CHECK_INT(n, 8);
    CHECK_INT(atomic_load(&f->requests), 2);
    smneo_error_clear(&err);
    smneo_iter_free(it);
    /* Pages mode and max_items on the page boundary (checked first, as
     * botocore: a resume token, no error). */
    reset(f);
    f->jobs = 25;
    f->stuck_token = "tok-4";
    po.starting_token = NULL;
    po.pages = 1;
    CHECK_INT(smneo_paginate_new(&call, c, "ListCompilationJobs", NULL, 0, &po, &err), 0);
    pages = 0;
    for (;;) {
        smneo_call_run(&step, call);
        if (step.kind != SMNEO_STEP_EVENT)
            break;
        pages++;
    }
    CHECK_INT(pages, 2);
    CHECK_INT(smneo_call_result(NULL, call, &err), SMNEO_EPAGINATION);
    CHECK_INT(err.code, SMNEO_EPAGINATION);
    smneo_error_clear(&err);
    smneo_call_free(call);
    reset(f);
    f->jobs = 25;
    f->stuck_token = "tok-4";
    po.max_items = 8;
    CHECK_INT(smneo_paginate_new(&call, c, "ListCompilationJobs", NULL, 0, &po, &err), 0);
    smneo_call_run(&step, call);
    smneo_call_run(&step, call);
    smneo_call_run(&step, call);
    CHECK_INT(step.kind, SMNEO_STEP_DONE);
    CHECK_INT(smneo_call_result(NULL, call, &err), 0);
    CHECK(smneo_call_resume_token(call) != NULL);
    smneo_call_free(call);

    /* Many pages in constant memory (valgrind/ASan would see growth as leaks). */
    reset(f);
    f->jobs = 1000;
    po = (smneo_paginate_options)SMNEO_PAGINATE_OPTIONS_INIT;
    po.page_size = 10;
    CHECK_INT(smneo_iter_new(&it, c, "ListCompilationJobs", NULL, 0, &po, &err), 0);
    n = 0;
    while (smneo_iter_next(&v, it, &err) == 0)
        n++;
    CHECK_INT(n, 1000);
    CHECK_INT(atomic_load(&f->requests), 100);
    smneo_iter_free(it);
    smneo_client_free(c);
}

typedef struct seen {
    char statuses[256];
    int cancel_at;
    int calls;
} seen;

static int on_status(const smneo_value *desc, void *payload)
{
    seen *s = payload;
    smneo_value st;
    if (smneo_value_get(&st, desc, "CompilationJobStatus") == 0) {
        strcat(s->statuses, smneo_value_string(&st));
        strcat(s->statuses, ",");
    }
    return ++s->calls == s->cancel_at;
}

static void test_waiter(fake *f, test_http_server *srv)
{
    smneo_client *c = make_client(srv, 0, NULL);
    if (!c)
        return;
    smneo_wait_options wo = SMNEO_WAIT_OPTIONS_INIT;
    wo.delay = 0.01;
    wo.max_delay = 0.02;
    wo.callback = on_status;
    smneo_result *r = NULL;
    smneo_error err = SMNEO_ERROR_INIT;

    static const char *const progress[] = {"STARTING", "INPROGRESS", "INPROGRESS", "INPROGRESS", "COMPLETED"};
    reset(f);
    f->statuses = progress;
    f->status_count = 5;
    seen s = {"", 0, 0};
    wo.payload = &s;
    CHECK_INT(smneo_client_wait(&r, c, "resnet50", &wo, &err), 0);
    CHECK_STR(s.statuses, "STARTING,INPROGRESS,COMPLETED,");
    CHECK_INT(atomic_load(&f->requests), 5);
    smneo_value root, st;
    smneo_result_root(&root, r);
    CHECK(smneo_value_get(&st, &root, "CompilationJobStatus") == 0 && !strcmp(smneo_value_string(&st), "COMPLETED"));
    smneo_result_free(r);

    static const char *const failed[] = {"INPROGRESS", "FAILED"};
    reset(f);
    f->statuses = failed;
    f->status_count = 2;
    memset(&s, 0, sizeof s);
    CHECK_INT(smneo_client_wait(&r, c, "resnet50", &wo, &err), SMNEO_EJOBFAILED);
    CHECK_STR(err.message, "ClientError: No pth file found");
    CHECK(r != NULL); /* the final description stays available */
    smneo_result_free(r);
    smneo_error_clear(&err);

    static const char *const stopped[] = {"STOPPING", "STOPPED"};
    reset(f);
    f->statuses = stopped;
    f->status_count = 2;
    CHECK_INT(smneo_client_wait(&r, c, "resnet50", &wo, &err), SMNEO_EJOBSTOPPED);
    smneo_result_free(r);
    smneo_error_clear(&err);

    /* Cancel from the callback. */
    static const char *const slow[] = {"STARTING", "INPROGRESS"};
    reset(f);
    f->statuses = slow;
    f->status_count = 2;
    memset(&s, 0, sizeof s);
    s.cancel_at = 2;
    wo.payload = &s;
    CHECK_INT(smneo_client_wait(&r, c, "resnet50", &wo, &err), SMNEO_ECANCELLED);
    CHECK_STR(s.statuses, "STARTING,INPROGRESS,");
    smneo_error_clear(&err);

    /* Overall timeout. */
    reset(f);
    f->statuses = slow;
    f->status_count = 2;
    wo.callback = NULL;
    wo.timeout = 0.15;
    CHECK_INT(smneo_client_wait(&r, c, "resnet50", &wo, &err), SMNEO_EWAITTIMEOUT);
    smneo_error_clear(&err);

    /* A missing job is the service's error, not a wait forever. */
    CHECK_INT(smneo_client_wait(&r, c, "missing", &wo, &err), SMNEO_ENOTFOUND);
    smneo_error_clear(&err);

    /* Control comes back at least every 200 ms while waiting. */
    reset(f);
    f->statuses = slow;
    f->status_count = 2;
    wo.delay = 1;
    wo.max_delay = 2;
    wo.timeout = 1.5;
    smneo_call *call = NULL;
    CHECK_INT(smneo_wait_new(&call, c, "resnet50", &wo, &err), 0);
    smneo_step step;
    int sleeps = 0, max_sleep = 0, events = 0;
    for (;;) {
        smneo_call_next(&step, call);
        if (step.kind == SMNEO_STEP_SEND) {
            smneo_response *resp = NULL;
            smneo_error terr = SMNEO_ERROR_INIT;
            /* Drive by hand with a fresh transport to show the machine does not need the client's. */
            smneo_transport *t = NULL;
            smneo_curl_transport_new(&t, NULL, NULL);
            int trc = smneo_transport_send(&resp, t, step.request, &terr);
            smneo_call_feed(call, trc ? NULL : resp, trc, terr.message);
            smneo_error_clear(&terr);
            smneo_transport_free(t);
        } else if (step.kind == SMNEO_STEP_SLEEP) {
            sleeps++;
            if (step.sleep_ms > max_sleep)
                max_sleep = (int)step.sleep_ms;
            struct timespec ts = {0, step.sleep_ms * 1000000L};
            nanosleep(&ts, NULL);
        } else if (step.kind == SMNEO_STEP_EVENT) {
            CHECK_INT(step.event, SMNEO_EVENT_STATUS);
            events++;
        } else {
            break;
        }
    }
    CHECK(sleeps >= 7);
    CHECK(max_sleep <= 200 && max_sleep > 0);
    CHECK_INT(events, 2);
    CHECK_INT(smneo_call_result(NULL, call, &err), SMNEO_EWAITTIMEOUT);
    smneo_error_clear(&err);
    smneo_call_free(call);
    smneo_client_free(c);
}

/* The step machine needs no transport at all: feed canned responses. */
static void test_steps_by_hand(void)
{
    smneo_client_options o = SMNEO_CLIENT_OPTIONS_INIT;
    o.region = "eu-west-1";
    o.access_key_id = "AKID";
    o.secret_access_key = "secret";
    o.no_transport = 1;
    o.retry_backoff_scale = 0.001;
    smneo_client *c = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    CHECK_INT(smneo_client_new(&c, &o, &err), 0);
    CHECK_STR(smneo_client_endpoint(c), "https://api.sagemaker.eu-west-1.amazonaws.com");
    smneo_call *call = NULL;
    const char *d = "{\"CompilationJobName\":\"j\"}";
    CHECK_INT(smneo_call_new(&call, c, "DescribeCompilationJob", d, strlen(d), &err), 0);
    smneo_step step;
    smneo_call_next(&step, call);
    CHECK_INT(step.kind, SMNEO_STEP_SEND);
    CHECK_STR(step.request->url, "https://api.sagemaker.eu-west-1.amazonaws.com/");
    /* A throttle, then a transport failure, then success. */
    smneo_response *resp = NULL;
    smneo_response_new(&resp, 400);
    smneo_response_append_body(resp, "{\"__type\":\"Throttling\"}", 23);
    smneo_call_feed(call, resp, 0, NULL);
    do
        smneo_call_next(&step, call);
    while (step.kind == SMNEO_STEP_SLEEP);
    CHECK_INT(step.kind, SMNEO_STEP_SEND);
    smneo_call_feed(call, NULL, SMNEO_ETIMEOUT, "read timed out");
    do
        smneo_call_next(&step, call);
    while (step.kind == SMNEO_STEP_SLEEP);
    CHECK_INT(step.kind, SMNEO_STEP_SEND);
    smneo_response_new(&resp, 200);
    smneo_response_append_body(resp, "{\"CompilationJobStatus\":\"INPROGRESS\"}", 37);
    smneo_call_feed(call, resp, 0, NULL);
    smneo_call_next(&step, call);
    CHECK_INT(step.kind, SMNEO_STEP_DONE);
    smneo_result *r = NULL;
    CHECK_INT(smneo_call_result(&r, call, &err), 0);
    CHECK_INT(smneo_result_attempts(r), 3);
    smneo_result_free(r);
    smneo_call_free(call);

    /* smneo_call_send does a SEND with the client's transport; here there is
     * none, so the call ends with a clear error instead of a crash. */
    CHECK(smneo_client_transport(c) == NULL);
    CHECK_INT(smneo_call_new(&call, c, "DescribeCompilationJob", d, strlen(d), &err), 0);
    smneo_call_next(&step, call);
    CHECK_INT(step.kind, SMNEO_STEP_SEND);
    smneo_call_send(call, &step);
    smneo_call_next(&step, call);
    CHECK_INT(step.kind, SMNEO_STEP_DONE); /* not a network failure: not retried */
    CHECK_INT(smneo_call_result(&r, call, &err), SMNEO_EINVAL);
    CHECK(err.message && strstr(err.message, "no transport"));
    smneo_error_clear(&err);
    smneo_call_free(call);

    /* Without a transport the blocking API says so instead of crashing. */
    CHECK(smneo_client_call(&r, c, "DescribeCompilationJob", d, strlen(d), &err) != 0);
    CHECK(err.message != NULL);
    smneo_error_clear(&err);
    smneo_client_free(c);
    smneo_client_free(NULL);
    smneo_call_free(NULL);
}

typedef struct worker {
    smneo_client *client;
    int ok;
} worker;

static void *thread_main(void *arg)
{
    worker *w = arg;
    const char *d = "{\"CompilationJobName\":\"resnet50\"}";
    for (int i = 0; i < 50; i++) {
        smneo_result *r = NULL;
        if (smneo_client_call(&r, w->client, "DescribeCompilationJob", d, strlen(d), NULL) == 0)
            w->ok++;
        smneo_result_free(r);
    }
    return NULL;
}

static void test_threads(fake *f, test_http_server *srv)
{
    reset(f);
    smneo_client *c = make_client(srv, 0, NULL);
    if (!c)
        return;
    pthread_t th[8];
    worker w[8];
    for (int i = 0; i < 8; i++) {
        w[i].client = c;
        w[i].ok = 0;
        pthread_create(&th[i], NULL, thread_main, &w[i]);
    }
    int ok = 0;
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        ok += w[i].ok;
    }
    CHECK_INT(ok, 400);
    smneo_client_free(c);
}

/* ---- the shared build_request fixtures --------------------------------- */

/* Every tests/fixtures/build_request/NAME.json, read by the C, Python and Lua suites:
 * a client from the fixture's options builds the operation at its timestamp,
 * and method, URL, headers (but those the fixture ignores) and body are the
 * recorded ones. */
static int ignored_header(const cJSON *ignore, const char *name)
{
    const cJSON *h;
    cJSON_ArrayForEach(h, ignore) if (cJSON_IsString(h) && !strcasecmp(h->valuestring, name)) return 1;
    return 0;
}

static void check_build_request_fixture(const char *path)
{
    char *text = smneo_test_read_file(path, NULL);
    cJSON *fx = text ? cJSON_Parse(text) : NULL;
    CHECK_MSG(fx != NULL, "%s does not parse", path);
    if (!fx) {
        free(text);
        return;
    }
#define FX(obj, key) cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(obj, key))
    const cJSON *copts = cJSON_GetObjectItemCaseSensitive(fx, "client");
    const cJSON *exp = cJSON_GetObjectItemCaseSensitive(fx, "expected");
    const cJSON *ignore = cJSON_GetObjectItemCaseSensitive(fx, "ignore_headers");
    /* Every client option a fixture gives is one this test passes on. */
    const cJSON *k;
    cJSON_ArrayForEach(k, copts)
    {
        static const char *const known[] = {"region_name", "endpoint_url", "aws_access_key_id",
                                            "aws_secret_access_key", "aws_session_token"};
        int ok = 0;
        for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
            ok |= !strcmp(k->string, known[i]);
        CHECK_MSG(ok, "%s: client option %s is not passed on by test_client.c", path, k->string);
    }
    smneo_client_options o = SMNEO_CLIENT_OPTIONS_INIT;
    o.region = FX(copts, "region_name");
    o.endpoint_url = FX(copts, "endpoint_url");
    o.access_key_id = FX(copts, "aws_access_key_id");
    o.secret_access_key = FX(copts, "aws_secret_access_key");
    o.session_token = FX(copts, "aws_session_token");
    smneo_client *c = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    CHECK_MSG(smneo_client_new(&c, &o, &err) == 0, "%s: %s", path, err.message ? err.message : "");
    char *params = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(fx, "params"));
    smneo_request *req = NULL;
    int64_t ts = (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(fx, "timestamp"));
    if (c && params) {
        int rc = smneo_client_build_request(&req, c, FX(fx, "operation"), params, strlen(params), ts, &err);
        CHECK_MSG(rc == 0, "%s: %s", path, err.message ? err.message : "");
    }
    if (req) {
        CHECK_STR(req->method, FX(exp, "method"));
        CHECK_STR(req->url, FX(exp, "url"));
        const char *body = FX(exp, "body");
        CHECK_MSG(body && req->body_len == strlen(body) && !memcmp(req->body, body, req->body_len), "%s: body %.*s",
                  path, (int)req->body_len, req->body ? req->body : "");
        const cJSON *want = cJSON_GetObjectItemCaseSensitive(exp, "headers");
        size_t n = 0;
        for (const cJSON *h = want ? want->child : NULL; h; h = h->next) {
            if (ignored_header(ignore, h->string))
                continue;
            n++;
            const char *got = smneo_request_header(req, h->string);
            CHECK_MSG(got && !strcmp(got, h->valuestring), "%s: %s is %s, not %s", path, h->string,
                      got ? got : "(absent)", h->valuestring);
        }
        size_t sent = 0;
        for (size_t i = 0; i < req->header_count; i++)
            sent += !ignored_header(ignore, req->headers[i].name);
        CHECK_MSG(sent == n, "%s: %zu headers sent, %zu recorded", path, sent, n);
    }
#undef FX
    smneo_request_free(req);
    cJSON_free(params);
    smneo_error_clear(&err);
    smneo_client_free(c);
    cJSON_Delete(fx);
    free(text);
}

static void test_build_request_fixtures(void)
{
    const char *dir = smneo_test_fixture("build_request");
    char *names[64];
    size_t n = 0;
    DIR *d = opendir(dir);
    CHECK_MSG(d != NULL, "cannot open %s", dir);
    for (struct dirent *e; d && (e = readdir(d)) != NULL && n < 64;) {
        size_t len = strlen(e->d_name);
        if (len > 5 && !strcmp(e->d_name + len - 5, ".json") && asprintf(&names[n], "%s/%s", dir, e->d_name) > 0)
            n++;
    }
    if (d)
        closedir(d);
    CHECK_MSG(n >= 6, "%zu fixtures in %s", n, dir);
    for (size_t i = 0; i < n; i++) {
        check_build_request_fixture(names[i]);
        free(names[i]);
    }
}

/* The request hook: asked once per logical request (each page), before
 * credentials; its answer is final (a throttle is not retried); 0 without an
 * answer lets the request go on; non-zero cancels. */
typedef struct hook_state {
    int calls;
    char seen[4][128];
    int mode; /* 0: answer pages, 1: throttle, 2: pass, 3: cancel */
} hook_state;

static smneo_response *json_response(int status, const char *body)
{
    smneo_response *r = NULL;
    smneo_response_new(&r, status);
    smneo_response_add_header(r, "Content-Type", 12, "application/x-amz-json-1.1", 26);
    smneo_response_append_body(r, body, strlen(body));
    return r;
}

static int hook(smneo_response **out, const smneo_operation *op, const smneo_value *params, void *payload)
{
    hook_state *h = payload;
    char *json = NULL;
    smneo_value_to_json(&json, params);
    if (h->calls < 4)
        snprintf(h->seen[h->calls], sizeof h->seen[0], "%s %s", op->name, json ? json : "?");
    free(json);
    h->calls++;
    if (h->mode == 0)
        *out = json_response(200, h->calls == 1 ? "{\"CompilationJobSummaries\":[{\"CompilationJobName\":\"a\"}],"
                                                  "\"NextToken\":\"t\"}"
                                                : "{\"CompilationJobSummaries\":[{\"CompilationJobName\":\"b\"}]}");
    else if (h->mode == 1)
        *out = json_response(400, "{\"__type\":\"ThrottlingException\",\"message\":\"slow down\"}");
    return h->mode == 3;
}

static void test_request_hook(void)
{
    smneo_client_options o = SMNEO_CLIENT_OPTIONS_INIT;
    o.region = "us-east-1";
    o.no_transport = 1;
    o.max_attempts = 3;
    /* no credentials at all (aws_env_isolate) */
    smneo_client *c = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    CHECK_INT(smneo_client_new(&c, &o, &err), 0);
    hook_state h;
    memset(&h, 0, sizeof h);
    smneo_client_set_request_hook(c, hook, &h);

    /* Pages: each page asks the hook once, with that page's token; no SEND. */
    smneo_paginate_options po = SMNEO_PAGINATE_OPTIONS_INIT;
    smneo_call *call = NULL;
    CHECK_INT(smneo_paginate_new(&call, c, "ListCompilationJobs", "{}", 2, &po, &err), 0);
    smneo_step step;
    int items = 0, sends = 0;
    for (;;) {
        smneo_call_next(&step, call);
        sends += step.kind == SMNEO_STEP_SEND;
        if (step.kind != SMNEO_STEP_EVENT)
            break;
        items++;
    }
    CHECK_INT(step.kind, SMNEO_STEP_DONE);
    CHECK_INT(sends, 0);
    CHECK_INT(items, 2);
    CHECK_INT(h.calls, 2);
    CHECK_STR(h.seen[0], "ListCompilationJobs {}");
    CHECK_STR(h.seen[1], "ListCompilationJobs {\"NextToken\":\"t\"}");
    CHECK_INT(smneo_call_result(NULL, call, &err), 0);
    smneo_call_free(call);

    /* A throttle from the hook is final: one attempt, not retried. */
    h.mode = 1;
    h.calls = 0;
    const char *d = "{\"CompilationJobName\":\"j\"}";
    smneo_result *r = NULL;
    CHECK_INT(smneo_call_new(&call, c, "DescribeCompilationJob", d, strlen(d), &err), 0);
    smneo_call_next(&step, call);
    CHECK_INT(step.kind, SMNEO_STEP_DONE);
    CHECK_INT(smneo_call_result(&r, call, &err), SMNEO_ETHROTTLED);
    CHECK_STR(err.service_code, "ThrottlingException");
    CHECK_INT(err.attempts, 1);
    CHECK_INT(h.calls, 1);
    smneo_error_clear(&err);
    smneo_call_free(call);

    /* No answer: the request goes on (here: credentials are needed, and
     * there are none). */
    h.mode = 2;
    CHECK_INT(smneo_call_new(&call, c, "DescribeCompilationJob", d, strlen(d), &err), 0);
    do
        smneo_call_next(&step, call);
    while (step.kind == SMNEO_STEP_SEND && (smneo_call_feed(call, NULL, SMNEO_ECONNECT, "no IMDS here"), 1));
    CHECK_INT(step.kind, SMNEO_STEP_DONE);
    CHECK_INT(smneo_call_result(&r, call, &err), SMNEO_ENOCREDENTIALS);
    smneo_error_clear(&err);
    smneo_call_free(call);

    /* Non-zero cancels; a removed hook is not asked. */
    h.mode = 3;
    CHECK_INT(smneo_call_new(&call, c, "DescribeCompilationJob", d, strlen(d), &err), 0);
    smneo_call_next(&step, call);
    CHECK_INT(step.kind, SMNEO_STEP_DONE);
    CHECK_INT(smneo_call_result(&r, call, &err), SMNEO_ECANCELLED);
    smneo_error_clear(&err);
    smneo_call_free(call);
    smneo_client_set_request_hook(c, NULL, NULL);
    h.calls = 0;
    CHECK_INT(smneo_call_new(&call, c, "DescribeCompilationJob", d, strlen(d), &err), 0);
    smneo_call_next(&step, call);
    CHECK_INT(h.calls, 0);
    smneo_call_free(call);
    smneo_client_free(c);
}

/* The response hook: after each attempt, with the core's decision (a delay
 * for a throttle, -1 for a success or a final error) which it may change; the
 * parameters hook: its replacement is validated and sent (and kept by the
 * retries). */
typedef struct response_state {
    int calls;
    int attempts[4];
    double core[4];
    int codes[4];
    double answer; /* -2: keep the core's decision */
    int params_calls;
    const char *replace;
} response_state;

static int on_response(double *out, const smneo_operation *op, int attempt, const smneo_result *result,
                       const smneo_error *err, void *payload)
{
    response_state *s = payload;
    (void)op;
    if (s->calls < 4) {
        s->attempts[s->calls] = attempt;
        s->core[s->calls] = *out;
        s->codes[s->calls] = result ? smneo_result_status(result) : err->http_status;
    }
    s->calls++;
    if (s->answer != -2 && attempt == 1)
        *out = s->answer;
    return 0;
}

static int on_params(char **out, const smneo_operation *op, const smneo_value *params, void *payload)
{
    response_state *s = payload;
    (void)op;
    (void)params;
    s->params_calls++;
    if (s->replace) {
        *out = malloc(strlen(s->replace) + 1);
        strcpy(*out, s->replace);
    }
    return 0;
}

/* Drives a call, answering its SENDs with `throttles` throttles, then
 * successes. Returns the result code; *sent counts the SENDs, body gets the
 * last one's body. */
static int drive_answers(smneo_call *call, int throttles, int *sent, char *body, size_t size)
{
    smneo_step step;
    *sent = 0;
    for (;;) {
        smneo_call_next(&step, call);
        if (step.kind == SMNEO_STEP_SEND) {
            snprintf(body, size, "%.*s", (int)step.request->body_len, step.request->body);
            smneo_call_feed(call, (*sent)++ < throttles
                                      ? json_response(400, "{\"__type\":\"ThrottlingException\",\"message\":\"x\"}")
                                      : json_response(200, "{\"CompilationJobName\":\"j\"}"),
                            0, NULL);
        } else if (step.kind != SMNEO_STEP_SLEEP) {
            break;
        }
    }
    smneo_error err = SMNEO_ERROR_INIT;
    smneo_result *r = NULL;
    int rc = smneo_call_result(&r, call, &err);
    smneo_result_free(r);
    smneo_error_clear(&err);
    return rc;
}

static void test_response_and_params_hooks(void)
{
    smneo_client_options o = SMNEO_CLIENT_OPTIONS_INIT;
    o.region = "us-east-1";
    o.no_transport = 1;
    o.max_attempts = 2;
    o.retry_mode = "standard";
    o.retry_backoff_scale = 0.001;
    o.access_key_id = "AKIDEXAMPLE";
    o.secret_access_key = "secret";
    smneo_client *c = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    CHECK_INT(smneo_client_new(&c, &o, &err), 0);
    response_state s;
    memset(&s, 0, sizeof s);
    s.answer = -2;
    smneo_client_set_response_hook(c, on_response, &s);
    const char *d = "{\"CompilationJobName\":\"j\"}";
    smneo_call *call = NULL;
    char body[256];
    int sent;

    /* The core's decisions, kept: a throttle retried (a delay), then a success (-1). */
    CHECK_INT(smneo_call_new(&call, c, "DescribeCompilationJob", d, strlen(d), &err), 0);
    CHECK_INT(drive_answers(call, 1, &sent, body, sizeof body), 0);
    smneo_call_free(call);
    CHECK_INT(sent, 2);
    CHECK_INT(s.calls, 2);
    CHECK_INT(s.attempts[0], 1);
    CHECK_INT(s.attempts[1], 2);
    CHECK(s.core[0] >= 0);
    CHECK(s.core[1] == -1);
    CHECK_INT(s.codes[0], 400);
    CHECK_INT(s.codes[1], 200);

    /* -1 ends the request at the throttle, the core's retry not made. */
    memset(&s, 0, sizeof s);
    s.answer = -1;
    CHECK_INT(smneo_call_new(&call, c, "DescribeCompilationJob", d, strlen(d), &err), 0);
    CHECK_INT(drive_answers(call, 1, &sent, body, sizeof body), SMNEO_ETHROTTLED);
    smneo_call_free(call);
    CHECK_INT(sent, 1);

    /* A delay after a success sends the request again. */
    memset(&s, 0, sizeof s);
    s.answer = 0;
    CHECK_INT(smneo_call_new(&call, c, "DescribeCompilationJob", d, strlen(d), &err), 0);
    CHECK_INT(drive_answers(call, 0, &sent, body, sizeof body), 0);
    smneo_call_free(call);
    CHECK_INT(sent, 2);
    CHECK(s.core[0] == -1);

    /* The parameters hook's replacement is sent, by every attempt. */
    memset(&s, 0, sizeof s);
    s.answer = -2;
    s.replace = "{\"CompilationJobName\":\"k\"}";
    smneo_client_set_params_hook(c, on_params, &s);
    CHECK_INT(smneo_call_new(&call, c, "DescribeCompilationJob", d, strlen(d), &err), 0);
    CHECK_INT(drive_answers(call, 1, &sent, body, sizeof body), 0);
    smneo_call_free(call);
    CHECK_INT(sent, 2);
    CHECK_INT(s.params_calls, 1);
    CHECK_STR(body, "{\"CompilationJobName\":\"k\"}");

    /* An invalid replacement is a validation error naming the field; nothing is sent. */
    s.replace = "{\"CompilationJobName\":7}";
    CHECK_INT(smneo_call_new(&call, c, "DescribeCompilationJob", d, strlen(d), &err), 0);
    smneo_step step;
    smneo_call_next(&step, call);
    CHECK_INT(step.kind, SMNEO_STEP_DONE);
    CHECK_INT(smneo_call_result(NULL, call, &err), SMNEO_EVALIDATION);
    CHECK(err.message && strstr(err.message, "CompilationJobName"));
    smneo_error_clear(&err);
    smneo_call_free(call);
    smneo_client_set_params_hook(c, NULL, NULL);
    smneo_client_set_response_hook(c, NULL, NULL);
    smneo_client_free(c);
}

int main(void)
{
    /* Keep the developer's own AWS settings out of the way. */
    aws_env_isolate();
    fake f;
    memset(&f, 0, sizeof f);
    pthread_mutex_init(&f.lock, NULL);
    test_http_server *srv = test_http_server_start(handle, &f);
    CHECK(srv != NULL);
    if (srv) {
        test_operations(&f, srv);
        test_retries(&f, srv);
        test_create_meets_itself(&f, srv);
        test_paginators(&f, srv);
        test_waiter(&f, srv);
        test_threads(&f, srv);
        test_http_server_stop(srv);
    }
    RUN(test_build_request_fixtures);
    RUN(test_connection_refused);
    RUN(test_steps_by_hand);
    RUN(test_request_hook);
    RUN(test_response_and_params_hooks);
    RUN(test_create_is_ours);
    pthread_mutex_destroy(&f.lock);
    return smneo_test_summary("test_client");
}
