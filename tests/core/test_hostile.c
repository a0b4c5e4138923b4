/* Hostile inputs, deterministic: what the fuzzers (tests/fuzz/fuzz_protocol.c,
 * fuzz_config.c) look for, pinned as exact behaviour. Deep nesting, huge
 * strings, invalid UTF-8, NUL characters, extreme numbers and timestamps,
 * CR/LF aimed at headers, truncated bodies for every operation, absurd
 * error codes, hostile credential answers, archives (gzip bombs for inspect,
 * a hard link carrying data, an empty name, setuid bits). No crash is not
 * enough: every case checks the code, the message or the bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "aws_env.h"
#include "config_internal.h"
#include "harness.h"
#include "smneo.h"

static const char *const OPS[] = {"CreateCompilationJob", "DescribeCompilationJob", "ListCompilationJobs",
                                  "StopCompilationJob",   "DeleteCompilationJob",   "ListPipelineExecutionSteps"};

static char *repeat(const char *piece, size_t times, const char *prefix, const char *suffix)
{
    size_t pl = strlen(piece), a = strlen(prefix), b = strlen(suffix);
    char *s = malloc(a + pl * times + b + 1);
    if (!s)
        abort();
    memcpy(s, prefix, a);
    for (size_t i = 0; i < times; i++)
        memcpy(s + a + i * pl, piece, pl);
    memcpy(s + a + pl * times, suffix, b + 1);
    return s;
}

static smneo_response *response(int status, const char *body, size_t len)
{
    smneo_response *r = NULL;
    if (smneo_response_new(&r, status) || (len && smneo_response_append_body(r, body, len)))
        abort();
    return r;
}

/* Parses body for op; returns the code and fills *out_err (caller clears). */
static int parse(const char *op, int status, const char *body, size_t len, smneo_result **res, smneo_error *err)
{
    smneo_response *r = response(status, body, len);
    int rc = smneo_protocol_parse(res, op, r, err);
    smneo_response_free(r);
    return rc;
}

static int serialize(const char *op, const char *params, size_t len, char **body, smneo_error *err)
{
    size_t blen = 0;
    int rc = smneo_protocol_serialize(body, &blen, op, params, len, err);
    if (rc == 0 && strlen(*body) != blen)
        abort();
    return rc;
}

/* First issue with that rule (and path, when given), or NULL. */
static const smneo_issue *find_issue(const smneo_issues *is, const char *rule, const char *path)
{
    for (size_t i = 0; i < smneo_issues_count(is); i++) {
        const smneo_issue *it = smneo_issues_at(is, i);
        if (!strcmp(it->rule, rule) && (!path || !strcmp(it->path, path)))
            return it;
    }
    return NULL;
}

static smneo_issues *validate(const char *op, const char *params)
{
    smneo_issues *is = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    int rc = smneo_validate(&is, op, params, strlen(params), NULL, &err);
    if (rc == SMNEO_EVALIDATION) { /* a fatal issue travels with err */
        is = err.issues;
        err.issues = NULL;
    }
    smneo_error_clear(&err);
    return is;
}

/* ---- nesting --------------------------------------------------------------- */

typedef struct depth_probe {
    int depth, max;
} depth_probe;
static int dp_open(void *p, const smneo_shape *s, size_t n)
{
    (void)s;
    (void)n;
    depth_probe *d = p;
    if (++d->depth > d->max)
        d->max = d->depth;
    return 0;
}
static int dp_close(void *p)
{
    ((depth_probe *)p)->depth--;
    return 0;
}

static void test_deep_nesting(void)
{
    /* 100000 '[': refused by cJSON's nesting limit (1000), never a stack overflow. */
    char *deep = repeat("[", 100000, "", "");
    size_t deep_len = strlen(deep);
    for (size_t i = 0; i < 6; i++) {
        smneo_result *res = NULL;
        smneo_error err = SMNEO_ERROR_INIT;
        CHECK_INT(parse(OPS[i], 200, deep, deep_len, &res, &err), SMNEO_EPROTOCOL);
        CHECK(res == NULL);
        CHECK(err.message && strstr(err.message, "not a JSON object"));
        smneo_error_clear(&err);
        CHECK_INT(parse(OPS[i], 400, deep, deep_len, &res, &err), SMNEO_ESERVICE);
        CHECK_STR(err.service_code, "400");
        smneo_error_clear(&err);
    }
    char *body = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    CHECK_INT(serialize("CreateCompilationJob", deep, deep_len, &body, &err), SMNEO_EINVAL);
    CHECK(err.message && strstr(err.message, "not valid JSON"));
    smneo_error_clear(&err);
    smneo_issues *is = validate("CreateCompilationJob", deep);
    CHECK(find_issue(is, "json", "") != NULL);
    smneo_issues_free(is);
    free(deep);

    /* 998 levels inside a list member: within the limit. Validation says
     * "wrong type" at the first level (it follows the shape, not the data);
     * with validation off the value is sent exactly as given. */
    char *nested = repeat("[", 998, "", "");
    char *closing = repeat("]", 998, "", "");
    size_t nl = strlen(nested);
    char *params = malloc(2 * nl + 64);
    sprintf(params, "{\"Tags\":%s%s}", nested, closing);
    CHECK_INT(serialize("CreateCompilationJob", params, strlen(params), &body, &err), 0);
    CHECK_STR(body, params);
    free(body);
    is = validate("CreateCompilationJob", params);
    CHECK(find_issue(is, "type", "Tags[0]") != NULL);
    smneo_issues_free(is);

    /* A response nested 998 deep under a string member (kept as it came, as
     * botocore keeps a value of another type than its shape's): parsed,
     * walked (depth 999 with the root) and printed back exactly. */
    sprintf(params, "{\"FailureReason\":%s%s}", nested, closing);
    smneo_result *res = NULL;
    CHECK_INT(parse("DescribeCompilationJob", 200, params, strlen(params), &res, &err), 0);
    smneo_value root;
    smneo_result_root(&root, res);
    depth_probe dp = {0, 0};
    smneo_visitor vis = {dp_open, dp_close, dp_open, dp_close, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
    CHECK_INT(smneo_value_walk(&root, &vis, &dp), 0);
    CHECK_INT(dp.max, 999);
    CHECK_INT(dp.depth, 0);
    char *json = NULL;
    CHECK_INT(smneo_value_to_json(&json, &root), 0);
    CHECK_STR(json, params);
    free(json);
    smneo_result_free(res);
    free(params);
    free(nested);
    free(closing);
}

/* ---- sizes and bytes ---------------------------------------------------------- */

static void test_huge_strings(void)
{
    /* 4 MiB job name: validation names the field and the limit; the
     * serializer still writes every byte (validation off). */
    size_t n = 4u << 20;
    char *name = repeat("a", n, "{\"CompilationJobName\":\"", "\"}");
    smneo_issues *is = validate("DescribeCompilationJob", name);
    const smneo_issue *it = find_issue(is, "length", "CompilationJobName");
    CHECK(it != NULL);
    CHECK(it && strstr(it->message, "CompilationJobName"));
    smneo_issues_free(is);
    char *body = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    CHECK_INT(serialize("DescribeCompilationJob", name, strlen(name), &body, &err), 0);
    CHECK_STR(body, name);
    free(body);

    /* A 4 MiB error message comes back whole. */
    char *errbody = repeat("m", n, "{\"__type\":\"ValidationException\",\"message\":\"", "\"}");
    smneo_result *res = NULL;
    CHECK_INT(parse("DescribeCompilationJob", 400, errbody, strlen(errbody), &res, &err), SMNEO_ESERVICE);
    CHECK_STR(err.service_code, "ValidationException");
    CHECK(err.message && strlen(err.message) == n);
    smneo_error_clear(&err);
    free(errbody);
    free(name);
}

static void test_invalid_utf8(void)
{
    const char *params = "{\"CompilationJobName\":\"ab\xff\xfe\"}";
    smneo_issues *is = validate("DescribeCompilationJob", params);
    CHECK(find_issue(is, "encoding", "CompilationJobName") != NULL);
    smneo_issues_free(is);
    /* STRICT build refuses it before anything is signed. */
    smneo_credentials creds = {"AKIDEXAMPLE", "secret", NULL, 0, NULL};
    smneo_build_options bo = SMNEO_BUILD_OPTIONS_INIT;
    bo.region = "us-east-1";
    bo.endpoint_url = "https://api.sagemaker.us-east-1.amazonaws.com";
    bo.timestamp = 1700000000;
    smneo_request *req = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    CHECK_INT(smneo_protocol_build(&req, "DescribeCompilationJob", params, strlen(params), &creds, &bo, &err),
              SMNEO_EVALIDATION);
    CHECK(req == NULL);
    CHECK_STR(err.field, "CompilationJobName");
    smneo_error_clear(&err);

    /* A response with invalid UTF-8 in a string: delivered byte for byte. */
    const char *rb = "{\"FailureReason\":\"x\xc3(\xff\"}";
    smneo_result *res = NULL;
    CHECK_INT(parse("DescribeCompilationJob", 200, rb, strlen(rb), &res, &err), 0);
    smneo_value root, m;
    smneo_result_root(&root, res);
    CHECK_INT(smneo_value_get(&m, &root, "FailureReason"), 0);
    CHECK_STR(smneo_value_string(&m), "x\xc3(\xff");
    smneo_result_free(res);
}

static void test_nul_characters(void)
{
    /* cJSON would cut "a\u0000b" to "a" and a key "CompilationJobName\u0000x"
     * to "CompilationJobName": refused with a message naming the byte. */
    static const char *const bad[] = {
        "{\"CompilationJobName\":\"a\\u0000b\"}",
        "{\"CompilationJobName\\u0000x\":\"a\"}",
        "{\"Tags\":[{\"Key\":\"k\",\"Value\":\"\\\\\\u0000\"}]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char *body = NULL;
        smneo_error err = SMNEO_ERROR_INIT;
        CHECK_INT(serialize("CreateCompilationJob", bad[i], strlen(bad[i]), &body, &err), SMNEO_EINVAL);
        CHECK(body == NULL);
        CHECK_MSG(err.message && strstr(err.message, "NUL"), "%s", err.message ? err.message : "(null)");
        smneo_error_clear(&err);
        smneo_issues *is = validate("CreateCompilationJob", bad[i]);
        CHECK(find_issue(is, "encoding", "") != NULL);
        smneo_issues_free(is);
    }
    /* A raw 0 byte inside the text (length given explicitly). */
    const char raw[] = "{\"CompilationJobName\":\"a\0b\"}";
    char *body = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    CHECK_INT(serialize("DescribeCompilationJob", raw, sizeof raw - 1, &body, &err), SMNEO_EINVAL);
    CHECK(err.message && strstr(err.message, "at byte 24"));
    smneo_error_clear(&err);
    /* An escaped backslash followed by "u0000" is six ordinary characters. */
    const char *ok = "{\"CompilationJobName\":\"a\\\\u0000\"}";
    CHECK_INT(serialize("DescribeCompilationJob", ok, strlen(ok), &body, &err), 0);
    CHECK_STR(body, ok);
    free(body);
    /* Trailing garbage after the object is not silently ignored. */
    const char *trailing = "{\"CompilationJobName\":\"a\"} {\"x\":1}";
    CHECK_INT(serialize("DescribeCompilationJob", trailing, strlen(trailing), &body, &err), SMNEO_EINVAL);
    CHECK(err.message && strstr(err.message, "not valid JSON"));
    smneo_error_clear(&err);
}

/* ---- numbers and timestamps -------------------------------------------------- */

static void ser_eq(const char *op, const char *params, const char *expected)
{
    char *body = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    int rc = serialize(op, params, strlen(params), &body, &err);
    CHECK_MSG(rc == 0, "%s: %s", params, err.message ? err.message : "");
    CHECK_STR(body, expected);
    free(body);
    smneo_error_clear(&err);
}

static void issue_at(const char *op, const char *params, const char *rule, const char *path)
{
    smneo_issues *is = validate(op, params);
    CHECK_MSG(find_issue(is, rule, path) != NULL, "%s: no %s issue at %s", params, rule, path);
    smneo_issues_free(is);
}

static void no_issue(const char *op, const char *params)
{
    smneo_issues *is = validate(op, params);
    CHECK_MSG(smneo_issues_error_count(is) == 0, "%s: %zu errors, first %s", params, smneo_issues_error_count(is),
              smneo_issues_count(is) ? smneo_issues_at(is, 0)->message : "");
    smneo_issues_free(is);
}

static void test_numbers(void)
{
    const char *L = "ListCompilationJobs";
    /* Integers: 1e400 (inf for cJSON), -0, 2^53+1, fractions. */
    issue_at(L, "{\"MaxResults\":1e400}", "type", "MaxResults");
    issue_at(L, "{\"MaxResults\":-1e400}", "type", "MaxResults");
    issue_at(L, "{\"MaxResults\":-0}", "range", "MaxResults");
    issue_at(L, "{\"MaxResults\":9007199254740993}", "range", "MaxResults");
    issue_at(L, "{\"MaxResults\":1.5}", "type", "MaxResults");
    ser_eq(L, "{\"MaxResults\":-0}", "{\"MaxResults\":0}");
    ser_eq(L, "{\"MaxResults\":1e1}", "{\"MaxResults\":10}");
    /* Timestamps: out of any calendar (the cast used to be undefined
     * behaviour), NaN seconds, the edges of year 9999, negative epochs. */
    issue_at(L, "{\"CreationTimeAfter\":1e400}", "type", "CreationTimeAfter");
    issue_at(L, "{\"CreationTimeAfter\":1e300}", "range", "CreationTimeAfter");
    issue_at(L, "{\"CreationTimeAfter\":-1e19}", "range", "CreationTimeAfter");
    issue_at(L, "{\"CreationTimeAfter\":253402300800}", "range", "CreationTimeAfter");
    issue_at(L, "{\"CreationTimeAfter\":\"2020-01-01T00:00:nan\"}", "type", "CreationTimeAfter");
    no_issue(L, "{\"CreationTimeAfter\":\"9999-12-31T23:59:59Z\"}");
    no_issue(L, "{\"CreationTimeAfter\":-1}");
    no_issue(L, "{\"CreationTimeAfter\":\"0001-01-01T00:00:00Z\"}");
    ser_eq(L, "{\"CreationTimeAfter\":\"9999-12-31T23:59:59Z\"}", "{\"CreationTimeAfter\":253402300799}");
    ser_eq(L, "{\"CreationTimeAfter\":\"1969-12-31T23:59:59.5Z\"}", "{\"CreationTimeAfter\":-1}");
    ser_eq(L, "{\"CreationTimeAfter\":-0.5}", "{\"CreationTimeAfter\":-1}");
    /* With validation off, what cannot be an int64 is sent as given, not cast. */
    ser_eq(L, "{\"CreationTimeAfter\":1e300}", "{\"CreationTimeAfter\":1e+300}");
    ser_eq(L, "{\"CreationTimeAfter\":\"2020-01-01T00:00:nan\"}",
           "{\"CreationTimeAfter\":\"2020-01-01T00:00:nan\"}");

    /* A response timestamp "nan" is not a timestamp: delivered as a string. */
    const char *rb = "{\"CreationTime\":\"2020-01-01T00:00:nan\",\"CompilationJobName\":\"j\"}";
    smneo_result *res = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    CHECK_INT(parse("DescribeCompilationJob", 200, rb, strlen(rb), &res, &err), 0);
    smneo_value root, m;
    smneo_result_root(&root, res);
    CHECK_INT(smneo_value_get(&m, &root, "CreationTime"), 0);
    CHECK_STR(smneo_value_string(&m), "2020-01-01T00:00:nan");
    smneo_result_free(res);
}

/* ---- headers ---------------------------------------------------------------- */

static void test_header_injection(void)
{
    /* Param values never reach a header: X-Amz-Target comes from the
     * operation, the body carries the escaped value. */
    const char *params = "{\"CompilationJobName\":\"a\\r\\nX-Evil: 1\\r\\n\"}";
    smneo_credentials creds = {"AKIDEXAMPLE", "secret", "tok", 0, NULL};
    smneo_build_options bo = SMNEO_BUILD_OPTIONS_INIT;
    bo.region = "us-east-1";
    bo.endpoint_url = "https://api.sagemaker.us-east-1.amazonaws.com";
    bo.timestamp = 1700000000;
    bo.validation = SMNEO_VALIDATION_OFF;
    smneo_request *req = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    CHECK_INT(smneo_protocol_build(&req, "DescribeCompilationJob", params, strlen(params), &creds, &bo, &err), 0);
    if (req) {
        for (size_t i = 0; i < req->header_count; i++) {
            CHECK(!strpbrk(req->headers[i].name, "\r\n"));
            CHECK_MSG(!strpbrk(req->headers[i].value, "\r\n"), "header %s", req->headers[i].name);
            CHECK(!strstr(req->headers[i].value, "X-Evil"));
        }
        CHECK_STR(smneo_request_header(req, "X-Amz-Target"), "SageMaker.DescribeCompilationJob");
        CHECK_STR(req->body, "{\"CompilationJobName\":\"a\\r\\nX-Evil: 1\\r\\n\"}");
    }
    smneo_request_free(req);
    /* An unknown operation name (the one thing that reaches X-Amz-Target) is refused. */
    CHECK_INT(smneo_protocol_build(&req, "DescribeCompilationJob\r\nX-Evil: 1", "{}", 2, &creds, &bo, &err),
              SMNEO_EINVAL);
    smneo_error_clear(&err);
}

/* Options that reach the request line or a header (endpoint URL, user
 * agent) and the transport itself refuse line breaks. */
static void test_request_injection(void)
{
    smneo_credentials creds = {"AKIDEXAMPLE", "secret", NULL, 0, NULL};
    smneo_build_options bo = SMNEO_BUILD_OPTIONS_INIT;
    bo.region = "us-east-1";
    bo.endpoint_url = "https://h.example\r\nX-Evil: 1/";
    bo.timestamp = 1700000000;
    smneo_request *req = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    CHECK_INT(smneo_protocol_build(&req, "ListCompilationJobs", "{}", 2, &creds, &bo, &err), SMNEO_EINVAL);
    CHECK(req == NULL);
    CHECK(err.message && strstr(err.message, "control character"));
    smneo_error_clear(&err);
    bo.endpoint_url = "https://h.example/";
    bo.user_agent = "ua\r\nX-Evil: 1";
    CHECK_INT(smneo_protocol_build(&req, "ListCompilationJobs", "{}", 2, &creds, &bo, &err), SMNEO_EINVAL);
    CHECK(req == NULL);
    CHECK(err.message && strstr(err.message, "user_agent"));
    smneo_error_clear(&err);
    /* Issue 18: every control character, not only CR/LF (the docs said so). */
    const char *bad_ua[] = {"ua\x01x", "ua\tx", "ua\x7f", "ua\x1b]0;title\a", "\nua"};
    for (size_t i = 0; i < sizeof bad_ua / sizeof bad_ua[0]; i++) {
        bo.user_agent = bad_ua[i];
        CHECK_INT(smneo_protocol_build(&req, "ListCompilationJobs", "{}", 2, &creds, &bo, &err), SMNEO_EINVAL);
        CHECK(req == NULL);
        CHECK_MSG(err.message && strstr(err.message, "user_agent contains a control character"), "%zu: %s", i,
                  err.message ? err.message : "(null)");
        smneo_error_clear(&err);
    }
    bo.user_agent = "my-app/1.0 (linux; x86_64) \xc3\xa9";
    CHECK_INT(smneo_protocol_build(&req, "ListCompilationJobs", "{}", 2, &creds, &bo, &err), 0);
    CHECK_STR(smneo_request_header(req, "User-Agent"), "my-app/1.0 (linux; x86_64) \xc3\xa9");
    smneo_request_free(req);
    req = NULL;

    CHECK_INT(smneo_request_new(&req, "GET", "http://127.0.0.1:9/\nx"), SMNEO_EINVAL);
    CHECK_INT(smneo_request_new(&req, "GET /x HTTP/1.1\r\n", "http://127.0.0.1:9/"), SMNEO_EINVAL);
    CHECK_INT(smneo_request_new(&req, "", "http://127.0.0.1:9/"), SMNEO_EINVAL);
    CHECK(req == NULL);

    /* A header holding a line break (built by hand) is never sent: the
     * transport refuses it before connecting (port 9 would refuse). */
    CHECK_INT(smneo_request_new(&req, "GET", "http://127.0.0.1:9/"), 0);
    smneo_request_add_header(req, "X-Ok", "fine");
    smneo_request_add_header(req, "X-Bad", "a\r\nX-Evil: 1");
    smneo_transport *t = NULL;
    CHECK_INT(smneo_curl_transport_new(&t, NULL, &err), 0);
    smneo_response *resp = NULL;
    CHECK_INT(smneo_transport_send(&resp, t, req, &err), SMNEO_EINVAL);
    CHECK(resp == NULL);
    CHECK(err.message && strstr(err.message, "X-Bad") && !strstr(err.message, "Evil"));
    smneo_error_clear(&err);
    smneo_transport_free(t);
    smneo_request_free(req);
}

/* ---- responses ------------------------------------------------------------- */

static void test_truncated_bodies(void)
{
    static const char *const bodies[] = {
        "{\"CompilationJobArn\":\"arn:aws:sagemaker:us-west-2:123456789012:compilation-job/j\"}",
        "{\"CompilationJobName\":\"j\",\"CompilationJobStatus\":\"COMPLETED\",\"CreationTime\":1700000000.5,"
        "\"ModelArtifacts\":{\"S3ModelArtifacts\":\"s3://b/o/m.tar.gz\"},\"FailureReason\":\"\\u00e9\\\"\"}",
        "{\"CompilationJobSummaries\":[{\"CompilationJobName\":\"a\",\"CreationTime\":1.5}],\"NextToken\":\"t\"}",
        "{}",
        "{}",
        "{\"PipelineExecutionSteps\":[{\"StepName\":\"s\",\"Metadata\":{\"Lambda\":{\"OutputParameters\":"
        "[{\"Name\":\"n\",\"Value\":\"v\"}]}}}],\"NextToken\":\"x\"}",
    };
    for (size_t i = 0; i < 6; i++) {
        size_t n = strlen(bodies[i]);
        for (size_t cut = 1; cut < n; cut++) {
            smneo_result *res = NULL;
            smneo_error err = SMNEO_ERROR_INIT;
            int rc = parse(OPS[i], 200, bodies[i], cut, &res, &err);
            CHECK_MSG(rc == SMNEO_EPROTOCOL, "%s cut at %zu: rc %d", OPS[i], cut, rc);
            CHECK(res == NULL);
            CHECK_INT(err.http_status, 200);
            CHECK(err.response != NULL && err.response->body_len == cut);
            smneo_error_clear(&err);
        }
        smneo_result *res = NULL;
        CHECK_INT(parse(OPS[i], 200, bodies[i], n, &res, NULL), 0);
        smneo_result_free(res);
    }
}

static void error_code(const char *body, int status, int want_rc, const char *want_code, int want_retry)
{
    smneo_result *res = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    CHECK_INT(parse("DescribeCompilationJob", status, body, strlen(body), &res, &err), want_rc);
    CHECK_STR(err.service_code, want_code);
    CHECK_INT(err.retryable, want_retry);
    CHECK(err.message != NULL);
    smneo_error_clear(&err);
}

static void test_error_codes(void)
{
    char *hashes = repeat("#", 10000, "{\"__type\":\"", "\"}");
    error_code(hashes, 400, SMNEO_ESERVICE, "400", 0); /* nothing after the last '#' */
    free(hashes);
    char *throttle = repeat("#", 10000, "{\"__type\":\"", "ThrottlingException:http://x\"}");
    error_code(throttle, 400, SMNEO_ETHROTTLED, "ThrottlingException", 1);
    free(throttle);
    char *colons = repeat(":", 10000, "{\"__type\":\"", "\"}");
    error_code(colons, 503, SMNEO_ESERVICE, "503", 1);
    free(colons);
    error_code("{\"__type\":\"\"}", 404, SMNEO_ESERVICE, "404", 0);
    error_code("{\"__type\":17,\"code\":[1]}", 500, SMNEO_ESERVICE, "500", 1);
    error_code("[\"__type\"]", 400, SMNEO_ESERVICE, "400", 0);
    error_code("{\"__type\":\"a#ResourceNotFound\",\"message\":null}", 400, SMNEO_ENOTFOUND, "ResourceNotFound", 0);
    /* A header code of nothing but its suffix. */
    smneo_response *r = response(400, "not json", 8);
    smneo_response_add_header(r, "x-amzn-ErrorType", 16, ":http://x", 9);
    smneo_result *res = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    CHECK_INT(smneo_protocol_parse(&res, "DescribeCompilationJob", r, &err), SMNEO_ESERVICE);
    CHECK_STR(err.service_code, "400");
    smneo_error_clear(&err);
    smneo_response_free(r);
    /* Statuses outside HTTP. */
    error_code("", 0, SMNEO_ESERVICE, "0", 0);
    error_code("", -1, SMNEO_ESERVICE, "-1", 0);
    error_code("", 2147483647, SMNEO_ESERVICE, "2147483647", 0);
}

/* ---- credential answers ------------------------------------------------------ */

/* One container fetch answered with body; returns the resolution's code. */
static int container_answer(const char *body, smneo_credentials **creds, smneo_error *err)
{
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:9/creds", 1);
    smneo_credential_chain *chain = NULL;
    smneo_chain_options co = SMNEO_CHAIN_OPTIONS_INIT;
    if (smneo_credential_chain_new(&chain, &co, err))
        abort();
    smneo_chain_resolution *r = NULL;
    if (smneo_chain_resolution_new(&r, chain, 1700000000))
        abort();
    smneo_request *req = NULL;
    int rc = smneo_chain_resolution_step(&req, creds, r, err);
    CHECK_INT(rc, 1);
    smneo_request_free(req);
    if (rc == 1) {
        smneo_response *resp = response(200, body, strlen(body));
        smneo_chain_resolution_feed(r, resp, 0);
        smneo_response_free(resp);
        rc = smneo_chain_resolution_step(&req, creds, r, err);
    }
    smneo_chain_resolution_free(r);
    smneo_credential_chain_free(chain);
    unsetenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
    return rc;
}

static void test_credential_answers(void)
{
    char *home = smneo_test_tmpdir();
    aws_env_reset(home);
    setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
    /* A session token with a line break would split X-Amz-Security-Token. */
    smneo_credentials *c = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    CHECK_INT(container_answer("{\"AccessKeyId\":\"AKID\",\"SecretAccessKey\":\"S\","
                               "\"Token\":\"t\\r\\nX-Evil: 1\",\"Expiration\":\"2099-01-01T00:00:00Z\"}", &c, &err), SMNEO_ECREDENTIALS);
    CHECK(c == NULL);
    CHECK(err.message && strstr(err.message, "control characters"));
    CHECK(err.message && !strstr(err.message, "X-Evil")); /* secrets are not quoted */
    smneo_error_clear(&err);
    CHECK_INT(container_answer("{\"AccessKeyId\":\"AK\\tID\",\"SecretAccessKey\":\"S\",\"Token\":\"T\","
                               "\"Expiration\":\"2099-01-01T00:00:00Z\"}", &c, &err), SMNEO_ECREDENTIALS);
    CHECK(err.message && strstr(err.message, "control characters"));
    smneo_error_clear(&err);
    /* botocore 1.43 requires Token and Expiration in a container answer (it
     * reads each key; IMDS drops such an answer): so does the core. */
    CHECK_INT(container_answer("{\"AccessKeyId\":\"AKID\",\"SecretAccessKey\":\"S\",\"Expiration\":\"2099-01-01T00:00:00Z\"}", &c, &err),
              SMNEO_ECREDENTIALS);
    CHECK(c == NULL && err.message && strstr(err.message, "no Token"));
    smneo_error_clear(&err);
    CHECK_INT(container_answer("{\"AccessKeyId\":\"AKID\",\"SecretAccessKey\":\"S\",\"Token\":\"T\"}", &c, &err),
              SMNEO_ECREDENTIALS);
    CHECK(c == NULL && err.message && strstr(err.message, "no Expiration"));
    smneo_error_clear(&err);
    /* Deeply nested, truncated, absurd expirations. */
    char *deep = repeat("[", 100000, "", "");
    CHECK_INT(container_answer(deep, &c, &err), SMNEO_ECREDENTIALS);
    CHECK(err.message && strstr(err.message, "not a JSON object"));
    smneo_error_clear(&err);
    free(deep);
    CHECK_INT(container_answer("{\"AccessKeyId\":\"AKID\",\"SecretAcc", &c, &err), SMNEO_ECREDENTIALS);
    smneo_error_clear(&err);
    CHECK_INT(container_answer("{\"AccessKeyId\":\"AKID\",\"SecretAccessKey\":\"S\","
                               "\"Token\":\"T\",\"Expiration\":\"9999-99-99T99:99:99Z\"}", &c, &err), SMNEO_ECREDENTIALS);
    CHECK(err.message && strstr(err.message, "ISO 8601"));
    smneo_error_clear(&err);
    CHECK_INT(container_answer("{\"AccessKeyId\":\"AKID\",\"SecretAccessKey\":\"S\","
                               "\"Token\":\"T\",\"Expiration\":\"9999-12-31T23:59:59Z\"}", &c, &err), 0);
    CHECK(c && c->expiration == 253402300799LL);
    smneo_credentials_free(c);
    c = NULL;
    /* Text after the object is refused (as json.loads does), whitespace is not. */
    CHECK_INT(container_answer("{\"AccessKeyId\":\"AKID\",\"SecretAccessKey\":\"S\"}"
                               "{\"AccessKeyId\":\"AKID2\",\"SecretAccessKey\":\"S2\"}", &c, &err),
              SMNEO_ECREDENTIALS);
    CHECK(c == NULL);
    CHECK(err.message && strstr(err.message, "text after it") && !strstr(err.message, "AKID"));
    smneo_error_clear(&err);
    CHECK_INT(container_answer("{\"AccessKeyId\":\"AKID\",\"SecretAccessKey\":\"S\",\"Token\":\"T\","
                               "\"Expiration\":\"2099-01-01T00:00:00Z\"}\r\n \t", &c, &err), 0);
    smneo_credentials_free(c);
    c = NULL;
    /* The good case still works. */
    CHECK_INT(container_answer("{\"AccessKeyId\":\"AKID\",\"SecretAccessKey\":\"S\",\"Token\":\"T\","
                               "\"Expiration\":\"2099-01-01T00:00:00Z\"}", &c, &err), 0);
    CHECK(c && !strcmp(c->session_token, "T") && !strcmp(c->source, "container"));
    smneo_credentials_free(c);
    smneo_test_rmtree(home);
    free(home);
}

/* IMDS: a token with a line break is never sent back as a header. */
static void test_imds_token(void)
{
    char *home = smneo_test_tmpdir();
    aws_env_reset(home);
    setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:9", 1);
    smneo_credential_chain *chain = NULL;
    smneo_chain_options co = SMNEO_CHAIN_OPTIONS_INIT;
    smneo_error err = SMNEO_ERROR_INIT;
    CHECK_INT(smneo_credential_chain_new(&chain, &co, &err), 0);
    smneo_chain_resolution *r = NULL;
    CHECK_INT(smneo_chain_resolution_new(&r, chain, 1700000000), 0);
    static const char *const answers[] = {
        "tok\r\nX-Evil: 1\n",
        "role\r\nsecond line",
        "{\"Code\":\"Success\",\"AccessKeyId\":\"AKID\",\"SecretAccessKey\":\"S\",\"Token\":\"T\",\"Expiration\":\"2099-01-01T00:00:00Z\"}",
    };
    smneo_credentials *c = NULL;
    int rc = 0, asked = 0;
    for (int i = 0; i < 5; i++) {
        smneo_request *req = NULL;
        rc = smneo_chain_resolution_step(&req, &c, r, &err);
        if (rc != 1)
            break;
        for (size_t h = 0; h < req->header_count; h++)
            CHECK_MSG(!strpbrk(req->headers[h].value, "\r\n"), "header %s", req->headers[h].name);
        if (asked == 1) /* the role request goes without the broken token (IMDSv1) */
            CHECK(smneo_request_header(req, "X-aws-ec2-metadata-token") == NULL);
        if (asked == 2)
            CHECK(strstr(req->url, "/security-credentials/role") != NULL);
        smneo_request_free(req);
        smneo_response *resp = response(200, answers[asked], strlen(answers[asked]));
        smneo_chain_resolution_feed(r, resp, 0);
        smneo_response_free(resp);
        asked++;
    }
    CHECK_INT(rc, 0);
    CHECK_INT(asked, 3);
    CHECK(c && !strcmp(c->access_key_id, "AKID"));
    smneo_credentials_free(c);
    smneo_error_clear(&err);
    smneo_chain_resolution_free(r);
    smneo_credential_chain_free(chain);
    smneo_test_rmtree(home);
    free(home);
}

/* ---- shared config files ---------------------------------------------------- */

/* A config file of 200000 continuation lines or keys: parsing used to copy
 * the whole value for every continuation line and scan every key for every
 * new key (minutes for a 1 MB file); now linear. Not timed: a quadratic
 * parser would run into the ctest timeout. */
static void test_ini_hostile(void)
{
    size_t lines = 200000;
    char *cont = repeat("  b\n", lines, "[default]\nregion = us-west-2\nk = a\n", "other = z\n");
    smneo__ini *ini = NULL;
    CHECK_INT(smneo__ini_parse(&ini, cont, strlen(cont)), 0);
    const char *v = smneo__ini_get(ini, "default", "k");
    CHECK(v && strlen(v) == 1 + 2 * lines);
    CHECK(v && !strncmp(v, "a\nb\nb", 5) && !strcmp(v + strlen(v) - 2, "\nb"));
    CHECK_STR(smneo__ini_get(ini, "default", "other"), "z");
    smneo__ini_free(ini);
    free(cont);

    char *keys = malloc(lines * 24 + 64);
    size_t n = (size_t)sprintf(keys, "[default]\n");
    for (size_t i = 0; i < lines; i++)
        n += (size_t)sprintf(keys + n, "key%zu = v%zu\n", i, i);
    n += (size_t)sprintf(keys + n, "key7 = last\n");
    CHECK_INT(smneo__ini_parse(&ini, keys, n), 0);
    CHECK_STR(smneo__ini_get(ini, "default", "key0"), "v0");
    CHECK_STR(smneo__ini_get(ini, "default", "key199999"), "v199999");
    CHECK_STR(smneo__ini_get(ini, "default", "key7"), "last"); /* the last value wins */
    smneo__ini_free(ini);
    free(keys);

    /* Duplicates and continuations: the continuation belongs to the last
     * occurrence; whitespace-only continuation lines add nothing. */
    const char *dup = "[p]\nk = 1\nk = 2\n  x  \n  \v\n\ty\ns =\n  a = 1\n  a = 2\n";
    CHECK_INT(smneo__ini_parse(&ini, dup, strlen(dup)), 0);
    CHECK_STR(smneo__ini_get(ini, "p", "k"), "2\nx\ny");
    CHECK_STR(smneo__ini_get(ini, "p", "s.a"), "2");
    smneo__ini_free(ini);
}

/* ---- paginator resume tokens --------------------------------------------------- */

/* Items a paginator delivers from one page after resuming from token. */
static int resume_items(const char *token, char **first_body)
{
    smneo_client_options o = SMNEO_CLIENT_OPTIONS_INIT;
    o.region = "us-west-2";
    o.endpoint_url = "http://127.0.0.1:9";
    o.access_key_id = "AKIDEXAMPLE";
    o.secret_access_key = "secret";
    o.no_transport = 1;
    smneo_client *c = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    if (smneo_client_new(&c, &o, &err))
        abort();
    smneo_paginate_options po = SMNEO_PAGINATE_OPTIONS_INIT;
    po.starting_token = token;
    smneo_call *call = NULL;
    CHECK_INT(smneo_paginate_new(&call, c, "ListCompilationJobs", "{}", 2, &po, &err), 0);
    const char *page = "{\"CompilationJobSummaries\":[{\"CompilationJobName\":\"a\"},{\"CompilationJobName\":\"b\"},"
                       "{\"CompilationJobName\":\"c\"}]}";
    int items = 0;
    for (int i = 0; call && i < 20; i++) {
        smneo_step st;
        smneo_call_next(&st, call);
        if (st.kind == SMNEO_STEP_DONE)
            break;
        if (st.kind == SMNEO_STEP_SEND) {
            if (!*first_body)
                *first_body = strndup(st.request->body, st.request->body_len);
            smneo_call_feed(call, response(200, page, strlen(page)), 0, NULL);
        } else if (st.kind == SMNEO_STEP_EVENT && st.event == SMNEO_EVENT_ITEM) {
            items++;
        }
    }
    CHECK_INT(smneo_call_result(NULL, call, &err), 0);
    smneo_call_free(call);
    smneo_client_free(c);
    smneo_error_clear(&err);
    return items;
}

static void test_resume_tokens(void)
{
    /* botocore's format: base64 of {"NextToken": "t", "boto_truncate_amount": N}. */
    char *body = NULL;
    CHECK_INT(resume_items("eyJOZXh0VG9rZW4iOiAidCIsICJib3RvX3RydW5jYXRlX2Ftb3VudCI6IDF9", &body), 2);
    CHECK(body && strstr(body, "\"NextToken\":\"t\""));
    free(body);
    body = NULL;
    /* An amount of 1e300 used to be cast to int64 (undefined behaviour): ignored. */
    CHECK_INT(resume_items("eyJOZXh0VG9rZW4iOiAidCIsICJib3RvX3RydW5jYXRlX2Ftb3VudCI6IDFlMzAwfQ==", &body), 3);
    CHECK(body && strstr(body, "\"NextToken\":\"t\""));
    free(body);
    body = NULL;
    /* Not base64 JSON: a plain service token, sent as given (escaped). */
    CHECK_INT(resume_items("tok\"en\r\n", &body), 3);
    CHECK(body && strstr(body, "\"NextToken\":\"tok\\\"en\\r\\n\""));
    free(body);
}

/* ---- archives ---------------------------------------------------------------- */

/* A gzip file holding a tar with one file of `size` zero bytes, then
 * `trailing` zero bytes after the end-of-archive blocks. Level 9 packs zeros
 * about 1000:1: a small gzip bomb, made in a fraction of a second. */
static void write_zero_bomb(const char *path, uint64_t size, uint64_t trailing)
{
    unsigned char h[512];
    memset(h, 0, sizeof h);
    snprintf((char *)h, 100, "zeros.bin");
    memcpy(h + 100, "0000644", 8);
    memcpy(h + 108, "0000000", 8);
    memcpy(h + 116, "0000000", 8);
    snprintf((char *)h + 124, 12, "%011llo", (unsigned long long)size);
    memcpy(h + 136, "00000000000", 12);
    h[156] = '0';
    memcpy(h + 257, "ustar", 6);
    memcpy(h + 263, "00", 2);
    memset(h + 148, ' ', 8);
    unsigned sum = 0;
    for (size_t i = 0; i < sizeof h; i++)
        sum += h[i];
    snprintf((char *)h + 148, 8, "%06o", sum);
    h[155] = ' ';
    FILE *f = fopen(path, "wb");
    z_stream z;
    memset(&z, 0, sizeof z);
    if (!f || deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        abort();
    static unsigned char zeros[1 << 16], out[1 << 16];
    uint64_t left = (size + 511) / 512 * 512 + 1024 + trailing;
    int first = 1, flush = Z_NO_FLUSH;
    while (flush != Z_FINISH) {
        if (first) {
            z.next_in = h, z.avail_in = sizeof h, first = 0;
        } else {
            uInt n = left < sizeof zeros ? (uInt)left : (uInt)sizeof zeros;
            z.next_in = zeros, z.avail_in = n, left -= n;
            flush = left ? Z_NO_FLUSH : Z_FINISH;
        }
        do {
            z.next_out = out, z.avail_out = sizeof out;
            deflate(&z, flush);
            fwrite(out, 1, sizeof out - z.avail_out, f);
        } while (z.avail_out == 0);
    }
    deflateEnd(&z);
    fclose(f);
}

static int inspect_rc(const char *path, int version, uint64_t max_bytes, double max_ratio, smneo_error *err)
{
    smneo_inspect_options o = SMNEO_INSPECT_OPTIONS_INIT;
    o.version = version;
    o.max_bytes = max_bytes;
    o.max_ratio = max_ratio;
    smneo_artifact_inspection *in = NULL;
    int rc = smneo_artifact_inspect(&in, path, &o, err);
    CHECK((rc == 0) == (in != NULL));
    smneo_artifact_inspection_free(in);
    return rc;
}

static void test_inspect_limits(void)
{
    char *dir = smneo_test_tmpdir();
    char bomb[4096], tail[4096], dest[4096];
    snprintf(bomb, sizeof bomb, "%s/bomb.tar.gz", dir);
    snprintf(tail, sizeof tail, "%s/tail.tar.gz", dir);
    snprintf(dest, sizeof dest, "%s/out", dir);
    write_zero_bomb(bomb, 24u << 20, 0);
    smneo_error err = SMNEO_ERROR_INIT;
    /* inspect used to decompress a bomb in full: now the ratio limit of
     * extract applies, past the same 16 MiB of grace. */
    CHECK_INT(inspect_rc(bomb, SMNEO_INSPECT_OPTIONS_VERSION, 0, 0, &err), SMNEO_EUNSAFE);
    CHECK_MSG(err.message && strstr(err.message, "compression ratio over 200") && strstr(err.message, "max_ratio"),
              "%s", err.message ? err.message : "(null)");
    smneo_error_clear(&err);
    CHECK_INT(smneo_artifact_extract(bomb, dest, NULL, &err), SMNEO_EUNSAFE);
    CHECK(err.message && strstr(err.message, "compression ratio over 200"));
    smneo_error_clear(&err);
    /* max_bytes: refused on the member's declared size, before its data is read. */
    CHECK_INT(inspect_rc(bomb, SMNEO_INSPECT_OPTIONS_VERSION, 1u << 20, -1, &err), SMNEO_EUNSAFE);
    CHECK_MSG(err.message && strstr(err.message, "zeros.bin (25165824 bytes) takes the total over max_bytes (1048576)"),
              "%s", err.message ? err.message : "(null)");
    smneo_error_clear(&err);
    /* Limits raised for a trusted archive: listed. */
    CHECK_INT(inspect_rc(bomb, SMNEO_INSPECT_OPTIONS_VERSION, 0, -1, &err), 0);
    CHECK_INT(inspect_rc(bomb, SMNEO_INSPECT_OPTIONS_VERSION, 0, 2000, &err), 0);
    /* Version 1 options (no max_bytes, max_ratio) still work, with the
     * defaults: the fields past the version-1 struct are not read. */
    CHECK_INT(inspect_rc(bomb, 1, 1, -1, &err), SMNEO_EUNSAFE);
    CHECK(err.message && strstr(err.message, "compression ratio"));
    smneo_error_clear(&err);
    CHECK_INT(inspect_rc(bomb, 3, 0, 0, &err), SMNEO_EINVAL);
    smneo_error_clear(&err);

    /* Zeros after the end of the tar count against max_bytes too (the ratio
     * limit off): what inspect reads to look for appended data is bounded. */
    write_zero_bomb(tail, 1000, 8u << 20);
    CHECK_INT(inspect_rc(tail, SMNEO_INSPECT_OPTIONS_VERSION, 1u << 20, -1, &err), SMNEO_EUNSAFE);
    CHECK_MSG(err.message && strstr(err.message, "more than max_bytes (1048576)") &&
                  strstr(err.message, "follows the end of the tar"),
              "%s", err.message ? err.message : "(null)");
    smneo_error_clear(&err);
    CHECK_INT(inspect_rc(tail, SMNEO_INSPECT_OPTIONS_VERSION, 16u << 20, -1, &err), 0);
    smneo_test_rmtree(dir);
    free(dir);
}

/* Extracts fixture `name` to dest, <*tmp>/out (*tmp: a fresh directory the
 * caller removes and frees); returns the code. */
static int extract_fixture(const char *name, char **tmp, char *dest, size_t destsz, smneo_error *err)
{
    *tmp = smneo_test_tmpdir();
    snprintf(dest, destsz, "%s/out", *tmp);
    char path[4096];
    snprintf(path, sizeof path, "%s", smneo_test_fixture(name));
    return smneo_artifact_extract(path, dest, NULL, err);
}

static void test_hostile_archives(void)
{
    char *tmp = NULL, dest[4200];
    smneo_error err = SMNEO_ERROR_INIT;
    /* A pax hard link carrying data used to leave the linked file zero-filled
     * and report success: refused, nothing written. */
    CHECK_INT(extract_fixture("artifacts/hardlink-data.tar.gz", &tmp, dest, sizeof dest, &err), SMNEO_EUNSAFE);
    CHECK_MSG(err.message && strstr(err.message, "hard link b.txt (to a.txt) carries 7 bytes of data"), "%s",
              err.message ? err.message : "(null)");
    struct stat st;
    CHECK(lstat(dest, &st) != 0);
    smneo_error_clear(&err);
    smneo_test_rmtree(tmp);
    free(tmp);

    /* An empty name is said to be one, not a ".." component. */
    CHECK_INT(extract_fixture("artifacts/empty-name.tar.gz", &tmp, dest, sizeof dest, &err), SMNEO_EUNSAFE);
    CHECK_MSG(err.message && strstr(err.message, "entry 1 of the archive has an empty name") &&
                  !strstr(err.message, ".."),
              "%s", err.message ? err.message : "(null)");
    smneo_error_clear(&err);
    smneo_artifact_inspection *in = NULL;
    CHECK_INT(smneo_artifact_inspect(&in, smneo_test_fixture("artifacts/empty-name.tar.gz"), NULL, &err), 0);
    const smneo_issues *is = smneo_artifact_inspection_issues(in);
    CHECK(is && smneo_issues_count(is) == 1 && strstr(smneo_issues_at(is, 0)->message, "member 1 has an empty name"));
    smneo_artifact_inspection_free(in);
    smneo_test_rmtree(tmp);
    free(tmp);

    /* setuid, setgid and sticky bits never reach the disk; the umask applies. */
    mode_t old = umask(022);
    CHECK_INT(extract_fixture("artifacts/setuid.tar.gz", &tmp, dest, sizeof dest, &err), 0);
    umask(old);
    static const struct {
        const char *rel;
        mode_t mode;
    } want[] = {{"bin", 0755}, {"bin/tool", 0755}, {"sticky", 0755}};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        char p[4400];
        snprintf(p, sizeof p, "%s/%s", dest, want[i].rel);
        CHECK_MSG(lstat(p, &st) == 0 && (st.st_mode & 07777) == want[i].mode, "%s: mode %o", want[i].rel,
                  (unsigned)(st.st_mode & 07777));
    }
    smneo_test_rmtree(tmp);
    free(tmp);
}

int main(void)
{
    RUN(test_deep_nesting);
    RUN(test_huge_strings);
    RUN(test_invalid_utf8);
    RUN(test_nul_characters);
    RUN(test_numbers);
    RUN(test_header_injection);
    RUN(test_request_injection);
    RUN(test_truncated_bodies);
    RUN(test_error_codes);
    RUN(test_credential_answers);
    RUN(test_imds_token);
    RUN(test_resume_tokens);
    RUN(test_ini_hostile);
    RUN(test_inspect_limits);
    RUN(test_hostile_archives);
    return smneo_test_summary("test_hostile");
}
