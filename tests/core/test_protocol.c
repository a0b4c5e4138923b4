/* Protocol layer: serialization, signed build, response and error parsing,
 * all without a socket. */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "harness.h"
#include "smneo.h"

static char *fixture(const char *name)
{
    char rel[256];
    snprintf(rel, sizeof rel, "protocol/%s", name);
    char *s = smneo_test_read_file(smneo_test_fixture(rel), NULL);
    if (s) { /* strip the trailing newline */
        size_t n = strlen(s);
        while (n && (s[n - 1] == '\n' || s[n - 1] == '\r'))
            s[--n] = '\0';
    }
    return s;
}

static void test_serialize_order(void)
{
    char *params = fixture("create_request.json");
    char *expected = fixture("create_body.json");
    char *body = NULL;
    size_t len = 0;
    CHECK_INT(smneo_protocol_serialize(&body, &len, "CreateCompilationJob", params, strlen(params), NULL), 0);
    CHECK_STR(body, expected); /* members in the shape's order, whatever the caller's */
    CHECK_INT(len, strlen(expected));
    free(body);
    free(params);
    free(expected);
}

static void ser(const char *op, const char *params, const char *expected)
{
    char *body = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    int rc = smneo_protocol_serialize(&body, NULL, op, params, params ? strlen(params) : 0, &err);
    CHECK_MSG(rc == 0, "%s: %s", op, err.message ? err.message : "");
    CHECK_STR(body, expected);
    free(body);
    smneo_error_clear(&err);
}

static void test_serialize_values(void)
{
    /* Timestamps become integer epoch seconds, as botocore sends them. */
    ser("ListCompilationJobs", "{\"CreationTimeAfter\":1700000000.9,\"MaxResults\":5}",
        "{\"MaxResults\":5,\"CreationTimeAfter\":1700000000}");
    ser("ListCompilationJobs", "{\"CreationTimeAfter\":\"2023-11-14T22:13:20.7Z\"}", "{\"CreationTimeAfter\":1700000000}");
    ser("ListCompilationJobs", "{\"CreationTimeBefore\":\"2023-11-15T00:13:20+02:00\"}",
        "{\"CreationTimeBefore\":1700000000}");
    /* No params, or only nulls: an empty object. */
    ser("ListCompilationJobs", NULL, "{}");
    ser("ListCompilationJobs", "{\"NameContains\":null}", "{}");
    /* Members the model does not know are not sent. */
    ser("DescribeCompilationJob", "{\"CompilationJobName\":\"a\",\"Bogus\":1}", "{\"CompilationJobName\":\"a\"}");
    /* Escapes survive. */
    ser("DescribeCompilationJob", "{\"CompilationJobName\":\"q\\\"\\\\\\n\\u0001\"}",
        "{\"CompilationJobName\":\"q\\\"\\\\\\n\\u0001\"}");
    /* Every operation serializes. */
    ser("StopCompilationJob", "{\"CompilationJobName\":\"j\"}", "{\"CompilationJobName\":\"j\"}");
    ser("DeleteCompilationJob", "{\"CompilationJobName\":\"j\"}", "{\"CompilationJobName\":\"j\"}");
    ser("ListPipelineExecutionSteps",
        "{\"SortOrder\":\"Ascending\",\"MaxResults\":10,\"NextToken\":\"t\",\"PipelineExecutionArn\":\"arn:x\"}",
        "{\"PipelineExecutionArn\":\"arn:x\",\"NextToken\":\"t\",\"MaxResults\":10,\"SortOrder\":\"Ascending\"}");
    ser("list_compilation_jobs", "{\"SortOrder\":\"Descending\",\"SortBy\":\"Name\",\"StatusEquals\":\"COMPLETED\"}",
        "{\"StatusEquals\":\"COMPLETED\",\"SortBy\":\"Name\",\"SortOrder\":\"Descending\"}");

    char *body = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    CHECK_INT(smneo_protocol_serialize(&body, NULL, "NoSuchOperation", "{}", 2, &err), SMNEO_EINVAL);
    CHECK(err.message && strstr(err.message, "NoSuchOperation"));
    CHECK_INT(smneo_protocol_serialize(&body, NULL, "ListCompilationJobs", "[1]", 3, &err), SMNEO_EINVAL);
    CHECK_INT(smneo_protocol_serialize(&body, NULL, "ListCompilationJobs", "{\"a\":", 5, &err), SMNEO_EINVAL);
    smneo_error_clear(&err);
}

static const char *header(const smneo_request *r, const char *name) { return smneo_request_header(r, name); }

static void test_build(void)
{
    smneo_credentials *creds = NULL;
    CHECK_INT(smneo_credentials_new(&creds, "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", NULL), 0);
    smneo_build_options bo = SMNEO_BUILD_OPTIONS_INIT;
    bo.region = "us-east-1";
    bo.endpoint_url = "https://api.sagemaker.us-east-1.amazonaws.com";
    bo.timestamp = 1700000000;
    bo.validation = SMNEO_VALIDATION_OFF;
    smneo_request *req = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    const char *params = "{\"CompilationJobName\":\"resnet50\"}";
    int rc = smneo_protocol_build(&req, "DescribeCompilationJob", params, strlen(params), creds, &bo, &err);
    CHECK_MSG(rc == 0, "%s", err.message ? err.message : "");
    if (req) {
        CHECK_STR(req->method, "POST");
        CHECK_STR(req->url, "https://api.sagemaker.us-east-1.amazonaws.com/");
        CHECK_STR(header(req, "Host"), "api.sagemaker.us-east-1.amazonaws.com");
        CHECK_STR(header(req, "X-Amz-Target"), "SageMaker.DescribeCompilationJob");
        CHECK_STR(header(req, "Content-Type"), "application/x-amz-json-1.1");
        CHECK_STR(header(req, "X-Amz-Date"), "20231114T221320Z");
        CHECK_STR(header(req, "Content-Length"), "33");
        CHECK(header(req, "X-Amz-Security-Token") == NULL);
        const char *auth = header(req, "Authorization");
        CHECK(auth && !strncmp(auth, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20231114/us-east-1/sagemaker/aws4_request, "
                                     "SignedHeaders=", 92));
        CHECK(auth && strstr(auth, "x-amz-target") && !strstr(auth, "user-agent"));
        CHECK(header(req, "User-Agent") && !strncmp(header(req, "User-Agent"), "smneo/", 6));
        CHECK_INT(req->body_len, strlen(params));
        CHECK(req->body && !memcmp(req->body, params, req->body_len));
        /* Header names are cased as AWS documents them. */
        int saw_date = 0;
        for (size_t i = 0; i < req->header_count; i++)
            saw_date |= !strcmp(req->headers[i].name, "X-Amz-Date");
        CHECK(saw_date);
    }
    smneo_request_free(req);
    req = NULL;

    /* A session token travels in X-Amz-Security-Token; default ports vanish from Host. */
    smneo_credentials *temp = NULL;
    CHECK_INT(smneo_credentials_new(&temp, "ASIAEXAMPLE", "secret", "token/with+chars="), 0);
    bo.endpoint_url = "https://localhost:443/";
    rc = smneo_protocol_build(&req, "ListCompilationJobs", NULL, 0, temp, &bo, &err);
    CHECK_INT(rc, 0);
    if (req) {
        CHECK_STR(header(req, "X-Amz-Security-Token"), "token/with+chars=");
        CHECK_STR(header(req, "Host"), "localhost");
        CHECK_STR(req->url, "https://localhost:443/");
        CHECK_INT(req->body_len, 2);
    }
    smneo_request_free(req);
    req = NULL;
    bo.endpoint_url = "http://127.0.0.1:8080";
    rc = smneo_protocol_build(&req, "ListCompilationJobs", NULL, 0, temp, &bo, &err);
    CHECK_INT(rc, 0);
    if (req)
        CHECK_STR(header(req, "Host"), "127.0.0.1:8080");
    smneo_request_free(req);
    req = NULL;

    /* Same input and timestamp: byte-identical requests. */
    smneo_request *a = NULL, *b = NULL;
    const char *p1 = "{\"MaxResults\":5,\"NameContains\":\"x\"}";
    const char *p2 = "{\"NameContains\":\"x\",\"MaxResults\":5}";
    CHECK_INT(smneo_protocol_build(&a, "ListCompilationJobs", p1, strlen(p1), creds, &bo, &err), 0);
    CHECK_INT(smneo_protocol_build(&b, "ListCompilationJobs", p2, strlen(p2), creds, &bo, &err), 0);
    if (a && b) {
        CHECK_INT(a->body_len, b->body_len);
        CHECK(!memcmp(a->body, b->body, a->body_len));
        CHECK_STR(header(a, "Authorization"), header(b, "Authorization"));
    }
    smneo_request_free(a);
    smneo_request_free(b);

    /* Misuse is reported, not crashed on. */
    CHECK_INT(smneo_protocol_build(&req, "DescribeCompilationJob", params, strlen(params), NULL, &bo, &err),
              SMNEO_ENOCREDENTIALS);
    bo.region = NULL;
    CHECK_INT(smneo_protocol_build(&req, "DescribeCompilationJob", params, strlen(params), creds, &bo, &err),
              SMNEO_EINVAL);
    smneo_error_clear(&err);
    smneo_credentials_free(creds);
    smneo_credentials_free(temp);
}

static void test_build_validation(void)
{
    smneo_credentials *creds = NULL;
    smneo_credentials_new(&creds, "AKID", "secret", NULL);
    smneo_build_options bo = SMNEO_BUILD_OPTIONS_INIT;
    bo.region = "us-east-1";
    bo.endpoint_url = "https://example.com";
    bo.timestamp = 1700000000;
    smneo_request *req = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    const char *bad = "{\"CompilationJobName\":\"bad name!\",\"Bogus\":1}";
    CHECK_INT(smneo_protocol_build(&req, "DescribeCompilationJob", bad, strlen(bad), creds, &bo, &err),
              SMNEO_EVALIDATION);
    CHECK(req == NULL);
    CHECK(smneo_issues_error_count(err.issues) >= 2);
    /* With validation off (or warn) content rules do not stop the request... */
    const char *odd = "{\"CompilationJobName\":\"bad name!\"}";
    bo.validation = SMNEO_VALIDATION_OFF;
    CHECK_INT(smneo_protocol_build(&req, "DescribeCompilationJob", odd, strlen(odd), creds, &bo, &err), 0);
    if (req)
        CHECK(strstr(req->body, "bad name!") != NULL);
    smneo_request_free(req);
    req = NULL;
    /* ...but a member the model does not know, or a value of the wrong type,
     * is never dropped or sent as garbage: it is refused in every mode. */
    const int modes[] = {SMNEO_VALIDATION_OFF, SMNEO_VALIDATION_WARN};
    for (int m = 0; m < 2; m++) {
        bo.validation = modes[m];
        CHECK_INT(smneo_protocol_build(&req, "DescribeCompilationJob", bad, strlen(bad), creds, &bo, &err),
                  SMNEO_EVALIDATION);
        CHECK_INT(smneo_issues_count(err.issues), 1);
        CHECK_STR(smneo_issues_at(err.issues, 0)->rule, "unknown-member");
        CHECK_STR(smneo_issues_at(err.issues, 0)->path, "Bogus");
        const char *wrong = "{\"CompilationJobName\":[\"a\"]}";
        CHECK_INT(smneo_protocol_build(&req, "DescribeCompilationJob", wrong, strlen(wrong), creds, &bo, &err),
                  SMNEO_EVALIDATION);
        CHECK_STR(err.field, "CompilationJobName");
        CHECK(req == NULL);
    }
    smneo_request_free(req);
    smneo_error_clear(&err);
    smneo_credentials_free(creds);
}

/* A visitor that records the event sequence as text. */
static int v_bo(void *p, const smneo_shape *s, size_t n) { (void)s; (void)n; return smneo_test_append(p, "{"); }
static int v_eo(void *p) { return smneo_test_append(p, "}"); }
static int v_ba(void *p, const smneo_shape *s, size_t n) { (void)s; (void)n; return smneo_test_append(p, "["); }
static int v_ea(void *p) { return smneo_test_append(p, "]"); }
static int v_key(void *p, const char *k, size_t n) { (void)n; smneo_test_append(p, k); return smneo_test_append(p, "="); }
static int v_str(void *p, const char *s, size_t n) { (void)n; smneo_test_append(p, "s:"); smneo_test_append(p, s); return smneo_test_append(p, ";"); }
static int v_int(void *p, int64_t v) { char b[32]; snprintf(b, sizeof b, "i:%lld;", (long long)v); return smneo_test_append(p, b); }
static int v_num(void *p, double v) { char b[48]; snprintf(b, sizeof b, "n:%g;", v); return smneo_test_append(p, b); }
static int v_bool(void *p, int v) { return smneo_test_append(p, v ? "b:1;" : "b:0;"); }
static int v_ts(void *p, double v) { char b[48]; snprintf(b, sizeof b, "t:%.3f;", v); return smneo_test_append(p, b); }
static int v_null(void *p) { return smneo_test_append(p, "null;"); }
static const smneo_visitor RECORDER = {v_bo, v_eo, v_ba, v_ea, v_key, v_str, v_int, v_num, v_bool, v_ts, v_null};

static smneo_response *response(int status, const char *body)
{
    smneo_response *r = NULL;
    smneo_response_new(&r, status);
    smneo_response_add_header(r, "x-amzn-RequestId", 16, "req-1234", 8);
    smneo_response_add_header(r, "Content-Type", 12, "application/x-amz-json-1.1", 26);
    if (body)
        smneo_response_append_body(r, body, strlen(body));
    return r;
}

static void test_parse_success(void)
{
    char *body = fixture("describe_completed.json");
    smneo_response *resp = response(200, body);
    smneo_result *res = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    CHECK_INT(smneo_protocol_parse(&res, "DescribeCompilationJob", resp, &err), 0);
    CHECK_STR(smneo_result_request_id(res), "req-1234");
    CHECK_INT(smneo_result_status(res), 200);
    CHECK_INT(smneo_result_attempts(res), 1);
    smneo_value root;
    smneo_result_root(&root, res);
    char *trace = NULL;
    CHECK_INT(smneo_value_walk(&root, &RECORDER, &trace), 0);
    /* Timestamps are recognised from the shape table (fractions kept);
     * integers stay integers; JSON-in-strings stay strings. */
    CHECK(trace && strstr(trace, "CompilationStartTime=t:1700000010.123;"));
    CHECK(trace && strstr(trace, "CreationTime=t:1700000000.000;"));
    CHECK(trace && strstr(trace, "MaxRuntimeInSeconds=i:900;"));
    CHECK(trace && strstr(trace, "SecurityGroupIds=[s:sg-1;]"));
    CHECK(trace && strstr(trace, "DataInputConfig=s:{\"data\":[1,3,224,224]};"));
    free(trace);
    smneo_value st;
    CHECK_INT(smneo_value_get(&st, &root, "CompilationJobStatus"), 0);
    CHECK_STR(smneo_value_string(&st), "COMPLETED");
    CHECK_INT(smneo_value_get(&st, &root, "Nope"), SMNEO_EABSENT);
    smneo_result_free(res);
    smneo_response_free(resp);
    free(body);

    /* Operations without output accept an empty body. */
    resp = response(200, "");
    CHECK_INT(smneo_protocol_parse(&res, "StopCompilationJob", resp, &err), 0);
    smneo_result_root(&root, res);
    char *json = NULL;
    smneo_value_to_json(&json, &root);
    CHECK_STR(json, "{}");
    free(json);
    smneo_result_free(res);
    smneo_response_free(resp);

    /* Members the model does not have (newer than the table) and null
     * members are dropped at every level, as botocore's parsers drop them;
     * list entries stay. A member of another type than its shape's is kept. */
    resp = response(200, "{\"CompilationJobSummaries\":[{\"CompilationJobName\":\"a\",\"New\":1,"
                         "\"CompilationJobArn\":null}],\"BrandNew\":{\"x\":1.5},\"NextToken\":null}");
    CHECK_INT(smneo_protocol_parse(&res, "ListCompilationJobs", resp, &err), 0);
    smneo_result_root(&root, res);
    trace = NULL;
    smneo_value_walk(&root, &RECORDER, &trace);
    CHECK_STR(trace, "{CompilationJobSummaries=[{CompilationJobName=s:a;}]}");
    free(trace);
    json = NULL;
    smneo_value_to_json(&json, &root);
    CHECK_STR(json, "{\"CompilationJobSummaries\":[{\"CompilationJobName\":\"a\"}]}");
    free(json);
    smneo_result_free(res);
    smneo_response_free(resp);
    resp = response(200, "{\"Other\":1}");
    CHECK_INT(smneo_protocol_parse(&res, "StopCompilationJob", resp, &err), 0); /* no output shape: {} */
    smneo_result_root(&root, res);
    json = NULL;
    smneo_value_to_json(&json, &root);
    CHECK_STR(json, "{}");
    free(json);
    smneo_result_free(res);
    smneo_response_free(resp);
    smneo_error_clear(&err);
}

static void parse_error_case(int status, const char *body, int expect_rc, const char *code, const char *message,
                             int retryable)
{
    smneo_response *resp = response(status, body);
    smneo_result *res = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    int rc = smneo_protocol_parse(&res, "DescribeCompilationJob", resp, &err);
    CHECK_INT(rc, expect_rc);
    CHECK(res == NULL);
    if (code)
        CHECK_STR(err.service_code, code);
    if (message)
        CHECK_STR(err.message, message);
    CHECK_INT(err.http_status, status);
    CHECK_STR(err.request_id, "req-1234");
    CHECK_INT(err.retryable, retryable);
    CHECK(err.response != NULL);
    smneo_error_clear(&err);
    smneo_response_free(resp);
}

static void test_parse_errors(void)
{
    parse_error_case(400, "{\"__type\":\"ResourceNotFound\",\"message\":\"Could not find job x\"}", SMNEO_ENOTFOUND,
                     "ResourceNotFound", "Could not find job x", 0);
    parse_error_case(400, "{\"__type\":\"com.amazon.coral.service#ThrottlingException:http://x\",\"Message\":\"Rate\"}",
                     SMNEO_ETHROTTLED, "ThrottlingException", "Rate", 1);
    parse_error_case(400, "{\"__type\":\"ResourceInUse\",\"message\":\"exists\"}", SMNEO_EINUSE, "ResourceInUse",
                     "exists", 0);
    parse_error_case(400, "{\"__type\":\"ResourceLimitExceeded\"}", SMNEO_ELIMIT, "ResourceLimitExceeded", NULL, 0);
    parse_error_case(400, "{\"__type\":\"ValidationException\",\"message\":\"bad\"}", SMNEO_ESERVICE,
                     "ValidationException", "bad", 0);
    parse_error_case(403, "{\"__type\":\"InvalidSignatureException\",\"message\":\"sig\"}", SMNEO_EAUTH,
                     "InvalidSignatureException", "sig", 0);
    /* Non-JSON error bodies: the status is the code, retryable for 5xx. */
    parse_error_case(503, "<html>busy</html>", SMNEO_ESERVICE, "503", "Service Unavailable", 1);
    parse_error_case(500, "", SMNEO_ESERVICE, "500", "Internal Server Error", 1);
    /* The message as botocore's parsers.py: below 500 an empty body gives an
     * empty message and any other text is the message; from 500 up only an
     * empty (or whitespace) body or one starting with <html> is generic. */
    parse_error_case(429, "", SMNEO_ESERVICE, "429", "", 0);
    parse_error_case(413, "<html><body>Too big</body></html>", SMNEO_ESERVICE, "413",
                     "<html><body>Too big</body></html>", 0);
    parse_error_case(502, "not json", SMNEO_ESERVICE, "502", "not json", 1);
    parse_error_case(504, " \r\n", SMNEO_ESERVICE, "504", "Gateway Timeout", 1);
    parse_error_case(404, "{}", SMNEO_ESERVICE, "404", "", 0);
    parse_error_case(400, "{\"__type\":\"RequestTimeoutException\"}", SMNEO_ESERVICE, "RequestTimeoutException",
                     NULL, 1);
    /* A 2xx that is not a JSON object is a protocol error, never a crash. */
    parse_error_case(200, "{\"CompilationJobName\":\"trunc", SMNEO_EPROTOCOL, NULL, NULL, 0);
    parse_error_case(200, "[1,2]", SMNEO_EPROTOCOL, NULL, NULL, 0);
    parse_error_case(200, "\xff\xfe garbage", SMNEO_EPROTOCOL, NULL, NULL, 0);

    int retry = -1;
    CHECK_INT(smneo_protocol_error_class(&retry, "SlowDown", 503), SMNEO_ETHROTTLED);
    CHECK_INT(retry, 1);
    CHECK_INT(smneo_protocol_error_class(&retry, NULL, 502), SMNEO_ESERVICE);
    CHECK_INT(retry, 1);
    CHECK_INT(smneo_protocol_error_class(&retry, "AccessDeniedException", 400), SMNEO_EAUTH);
    CHECK_INT(retry, 0);
}

static int parse_body(const char *body, size_t len, smneo_error *err)
{
    smneo_response *resp = response(200, NULL);
    smneo_response_append_body(resp, body, len);
    smneo_result *res = NULL;
    int rc = smneo_protocol_parse(&res, "DescribeCompilationJob", resp, err);
    CHECK(rc == 0 ? res != NULL : res == NULL);
    smneo_result_free(res);
    smneo_response_free(resp);
    return rc;
}

/* Text after the object: a protocol error, whitespace is not
 * (tests/fixtures/protocol/response_framing.json, shared with Python). */
static void test_parse_framing(void)
{
    char *text = fixture("response_framing.json");
    cJSON *fx = text ? cJSON_Parse(text) : NULL;
    const cJSON *cases = cJSON_GetObjectItemCaseSensitive(fx, "cases");
    CHECK(cJSON_GetArraySize(cases) >= 10);
    const cJSON *c;
    cJSON_ArrayForEach(c, cases)
    {
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "name"));
        const char *body = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "body"));
        int ok = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "ok"));
        smneo_error err = SMNEO_ERROR_INIT;
        int rc = parse_body(body, strlen(body), &err);
        CHECK_MSG(rc == (ok ? 0 : SMNEO_EPROTOCOL), "%s: rc %d (%s)", name, rc, err.message ? err.message : "");
        if (!ok) {
            CHECK_MSG(err.response != NULL && err.http_status == 200, "%s", name);
            CHECK_STR(err.request_id, "req-1234");
        }
        smneo_error_clear(&err);
    }
    cJSON_Delete(fx);
    free(text);

    /* The message says where the extra text starts. */
    smneo_error err = SMNEO_ERROR_INIT;
    static const char two[] = "{\"CompilationJobName\":\"a\"} {\"CompilationJobName\":\"b\"}";
    CHECK_INT(parse_body(two, strlen(two), &err), SMNEO_EPROTOCOL);
    CHECK_STR(err.message, "malformed DescribeCompilationJob response: text after the JSON object (at byte 26 of 53)");
    smneo_error_clear(&err);
    /* A NUL byte after the object (cJSON would stop reading there). */
    static const char nul[] = "{\"CompilationJobName\":\"a\"}\0";
    CHECK_INT(parse_body(nul, sizeof nul - 1, &err), SMNEO_EPROTOCOL);
    smneo_error_clear(&err);
    /* An error body with text after its object is not read for a code, as
     * botocore's json.loads fails on it: the status is the code. */
    parse_error_case(400, "{\"__type\":\"ResourceInUse\",\"message\":\"exists\"} x", SMNEO_ESERVICE, "400",
                     "{\"__type\":\"ResourceInUse\",\"message\":\"exists\"} x", 0);
}

static void test_error_walk(void)
{
    /* Modeled members of the error shape come through, others do not. */
    smneo_response *resp = response(400, "{\"__type\":\"ResourceNotFound\",\"Message\":\"gone\",\"extra\":1}");
    smneo_result *res = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    CHECK_INT(smneo_protocol_parse(&res, "DescribeCompilationJob", resp, &err), SMNEO_ENOTFOUND);
    char *trace = NULL;
    CHECK_INT(smneo_error_walk(&err, &RECORDER, &trace), 0);
    CHECK_STR(trace, "{Message=s:gone;}");
    free(trace);
    smneo_error_clear(&err);
    smneo_response_free(resp);
    /* An error without a modeled shape has nothing to walk. */
    resp = response(400, "{\"__type\":\"ValidationException\",\"Message\":\"bad\"}");
    CHECK_INT(smneo_protocol_parse(&res, "DescribeCompilationJob", resp, &err), SMNEO_ESERVICE);
    trace = NULL;
    CHECK_INT(smneo_error_walk(&err, &RECORDER, &trace), SMNEO_EABSENT);
    CHECK(trace == NULL);
    smneo_error_clear(&err);
    smneo_response_free(resp);
}

static void test_jsonw(void)
{
    smneo_jsonw *w = NULL;
    CHECK_INT(smneo_jsonw_new(&w), 0);
    smneo_jsonw_begin_object(w);
    smneo_jsonw_key(w, "a", 1);
    smneo_jsonw_begin_array(w);
    smneo_jsonw_int(w, -3);
    smneo_jsonw_double(w, 0.1);
    smneo_jsonw_double(w, 1700000000.5);
    smneo_jsonw_bool(w, 1);
    smneo_jsonw_null(w);
    smneo_jsonw_string(w, "x\"y", 3);
    smneo_jsonw_begin_object(w);
    smneo_jsonw_end_object(w);
    smneo_jsonw_end_array(w);
    smneo_jsonw_key(w, "b", 1);
    smneo_jsonw_raw(w, "[1]", 3);
    smneo_jsonw_end_object(w);
    size_t n;
    CHECK_STR(smneo_jsonw_data(&n, w), "{\"a\":[-3,0.1,1700000000.5,true,null,\"x\\\"y\",{}],\"b\":[1]}");
    CHECK_INT(smneo_jsonw_double(w, 0.0 / 0.0), SMNEO_EINVAL);
    smneo_jsonw_reset(w);
    smneo_jsonw_string(w, "", 0);
    CHECK_STR(smneo_jsonw_data(NULL, w), "\"\"");
    smneo_jsonw_free(w);
    smneo_jsonw_free(NULL);
}

static void test_model(void)
{
    CHECK_INT(smneo_model_operation_count(), 6);
    const smneo_operation *op = smneo_model_operation("create_compilation_job");
    CHECK(op && !strcmp(op->name, "CreateCompilationJob"));
    CHECK(op && op->input->member_count == 8 && !strcmp(op->input->members[0].name, "CompilationJobName"));
    const smneo_shape *td = smneo_model_shape("TargetDevice");
    int has_cv2 = 0;
    for (size_t i = 0; td && i < td->enum_count; i++)
        has_cv2 |= !strcmp(td->enums[i], "amba_cv2");
    CHECK(has_cv2);
    op = smneo_model_operation("ListPipelineExecutionSteps");
    CHECK(op && op->result_key && !strcmp(op->result_key, "PipelineExecutionSteps"));
    CHECK(op && op->paging == SMNEO_PAGING_TOKEN && op->iter_name && !strcmp(op->iter_name, "iter_pipeline_execution_steps"));
    CHECK(smneo_model_operation("Nope") == NULL);
    CHECK(smneo_model_operation("GetLogEvents") == NULL); /* the shortcuts are SageMaker's */
    CHECK(smneo_model_operation("DescribeCompilationJob")->iter_name == NULL);
}

/* The services and what their protocols need, as botocore's models say. */
static void test_model_services(void)
{
    CHECK_INT(smneo_model_service_count(), 5);
    CHECK(smneo_model_service(NULL) == NULL && smneo_model_service("s3") == NULL);
    CHECK(smneo_model_service_at(5) == NULL);
    for (size_t i = 0; i < smneo_model_service_count(); i++) {
        const smneo_service *svc = smneo_model_service_at(i);
        CHECK(smneo_model_service(svc->name) == svc);
        for (size_t k = 0; k < smneo_service_operation_count(svc); k++) {
            const smneo_operation *op = smneo_service_operation_at(svc, k);
            CHECK(op->service == svc && smneo_service_operation(svc, op->python_name) == op);
            CHECK(op->http_method && op->request_uri && op->input);
        }
        for (size_t k = 1; k < svc->shape_count; k++) /* sorted: the lookup is a binary search */
            CHECK(strcmp(svc->shapes[k - 1]->name, svc->shapes[k]->name) < 0);
    }
    const smneo_service *sm = smneo_model_service("sagemaker");
    CHECK(sm && smneo_model_operation("DescribeCompilationJob")->service == sm);
    CHECK(sm && sm->protocol == SMNEO_PROTOCOL_JSON);
    CHECK_STR(sm->signing_name, "sagemaker");
    CHECK_STR(sm->target_prefix, "SageMaker");
    CHECK_STR(sm->endpoint_prefix, "api.sagemaker");
    CHECK_STR(sm->json_version, "1.1");
    CHECK_STR(sm->endpoint_env, "AWS_ENDPOINT_URL_SAGEMAKER");
    CHECK(smneo_service_shape(sm, "TargetDevice") == smneo_model_shape("TargetDevice"));

    const smneo_service *logs = smneo_model_service("logs");
    CHECK(logs && logs->protocol == SMNEO_PROTOCOL_JSON);
    CHECK_STR(logs->target_prefix, "Logs_20140328");
    CHECK_STR(logs->signing_name, "logs"); /* no signingName: the endpoint prefix, as botocore */
    CHECK_STR(logs->api_version, "2014-03-28");
    CHECK_STR(logs->endpoint_env, "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS");
    CHECK_STR(logs->config_key, "cloudwatch_logs");
    const smneo_operation *op = smneo_service_operation(logs, "get_log_events");
    CHECK(op && op->paging == SMNEO_PAGING_SAME_TOKEN && op->iter_name == NULL);
    CHECK(op && !strcmp(op->input_token, "nextToken") && !strcmp(op->output_token, "nextForwardToken"));
    op = smneo_service_operation(logs, "FilterLogEvents");
    CHECK(op && op->paging == SMNEO_PAGING_TOKEN && op->result_key_count == 2);
    CHECK(op && !strcmp(op->result_keys[1], "searchedLogStreams") && !strcmp(op->result_key, "events"));
    CHECK(op && !strcmp(op->limit_key, "limit"));
    CHECK(smneo_service_operation(logs, "DescribeLogStreams") != NULL);
    CHECK(smneo_service_operation(logs, "CreateCompilationJob") == NULL);

    const smneo_service *sts = smneo_model_service("sts");
    CHECK(sts && sts->protocol == SMNEO_PROTOCOL_QUERY && sts->json_version == NULL && sts->target_prefix == NULL);
    CHECK_STR(sts->signing_name, "sts");
    CHECK_STR(sts->global_endpoint, "sts.amazonaws.com");
    CHECK_STR(sts->xml_namespace, "https://sts.amazonaws.com/doc/2011-06-15/");
    op = smneo_service_operation(sts, "AssumeRole");
    CHECK(op && op->auth == SMNEO_AUTH_SIGV4);
    CHECK_STR(op ? op->result_wrapper : NULL, "AssumeRoleResult");
    op = smneo_service_operation(sts, "AssumeRoleWithWebIdentity");
    CHECK(op && op->auth == SMNEO_AUTH_NONE); /* sent unsigned */
    const smneo_member *m = op ? smneo_shape_member(op->input, "WebIdentityToken") : NULL;
    CHECK(m && m->required && m->shape->sensitive);
    op = smneo_service_operation(sts, "GetCallerIdentity");
    CHECK(op && op->auth == SMNEO_AUTH_SIGV4 && op->input->member_count == 0);
    /* Query error codes differ from shape names. */
    const smneo_shape *e = smneo_service_error_shape(sts, "MalformedPolicyDocument");
    CHECK(e && !strcmp(e->name, "MalformedPolicyDocumentException") && e->error_status == 400);
    CHECK(smneo_service_error_shape(sts, "ExpiredTokenException") != NULL);
    CHECK(smneo_service_error_shape(sts, "Nope") == NULL);
    /* Shape names repeat across services: each service has its own. */
    const smneo_shape *t1 = smneo_service_shape(sm, "Tag"), *t2 = smneo_service_shape(sts, "Tag");
    CHECK(t1 && t2 && t1 != t2);

    const smneo_service *sso = smneo_model_service("sso");
    CHECK(sso && sso->protocol == SMNEO_PROTOCOL_REST_JSON);
    CHECK_STR(sso->signing_name, "awsssoportal");
    CHECK_STR(sso->endpoint_prefix, "portal.sso");
    op = smneo_service_operation(sso, "GetRoleCredentials");
    CHECK(op && op->auth == SMNEO_AUTH_NONE);
    CHECK_STR(op ? op->http_method : NULL, "GET");
    CHECK_STR(op ? op->request_uri : NULL, "/federation/credentials");
    m = op ? smneo_shape_member(op->input, "accessToken") : NULL;
    CHECK(m && m->location == SMNEO_LOCATION_HEADER && m->shape->sensitive);
    CHECK_STR(m ? m->location_name : NULL, "x-amz-sso_bearer_token");
    m = op ? smneo_shape_member(op->input, "roleName") : NULL;
    CHECK(m && m->location == SMNEO_LOCATION_QUERYSTRING);
    CHECK_STR(m ? m->location_name : NULL, "role_name");
    e = smneo_service_error_shape(sso, "UnauthorizedException");
    CHECK(e && e->error_status == 401);

    const smneo_service *oidc = smneo_model_service("sso-oidc");
    CHECK(oidc && oidc->protocol == SMNEO_PROTOCOL_REST_JSON);
    CHECK_STR(oidc->signing_name, "sso-oauth");
    CHECK_STR(oidc->endpoint_env, "AWS_ENDPOINT_URL_SSO_OIDC");
    op = smneo_service_operation(oidc, "CreateToken");
    CHECK(op && op->auth == SMNEO_AUTH_NONE && !strcmp(op->http_method, "POST") && !strcmp(op->request_uri, "/token"));
    m = op ? smneo_shape_member(op->input, "clientSecret") : NULL;
    CHECK(m && m->required && m->shape->sensitive && m->location == SMNEO_LOCATION_BODY);
    m = op && op->output ? smneo_shape_member(op->output, "refreshToken") : NULL;
    CHECK(m && m->shape->sensitive);
    e = smneo_service_error_shape(oidc, "InternalServerException");
    CHECK(e && e->fault && e->error_status == 500);
}

/* A CloudWatch Logs request goes through the same JSON path as SageMaker's,
 * with the service's target prefix and signing name: compared with what
 * botocore serializes and signs (tests/fixtures/protocol). */
static void test_logs_build(void)
{
    char *text = fixture("logs_get_log_events.json");
    cJSON *fx = text ? cJSON_Parse(text) : NULL;
    CHECK(fx != NULL);
    if (!fx) {
        free(text);
        return;
    }
#define FX(obj, key) cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(obj, key))
    const cJSON *exp = cJSON_GetObjectItemCaseSensitive(fx, "expected");
    const cJSON *hdrs = cJSON_GetObjectItemCaseSensitive(exp, "headers");
    char *params = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(fx, "params"));
    smneo_credentials *creds = NULL;
    CHECK_INT(smneo_credentials_new(&creds, FX(fx, "access_key_id"), FX(fx, "secret_access_key"), NULL), 0);
    smneo_build_options bo = SMNEO_BUILD_OPTIONS_INIT;
    bo.region = FX(fx, "region");
    bo.endpoint_url = FX(fx, "endpoint_url");
    bo.timestamp = (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(fx, "timestamp"));
    const smneo_operation *op = smneo_service_operation(smneo_model_service(FX(fx, "service")), FX(fx, "operation"));
    smneo_request *req = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    int rc = smneo_protocol_build_operation(&req, op, params, strlen(params), creds, &bo, &err);
    CHECK_MSG(rc == 0, "%s", err.message ? err.message : "");
    if (req) {
        CHECK_STR(req->method, FX(exp, "method"));
        CHECK_STR(req->url, FX(exp, "url"));
        const char *body = FX(exp, "body");
        CHECK(req->body_len == strlen(body) && !memcmp(req->body, body, req->body_len));
        size_t n = 0;
        for (const cJSON *h = hdrs ? hdrs->child : NULL; h; h = h->next, n++)
            CHECK_STR(header(req, h->string), h->valuestring);
        CHECK_INT(req->header_count, n + 1); /* and User-Agent, unsigned */
        CHECK(header(req, "User-Agent") != NULL);
    }
    smneo_request_free(req);
    req = NULL;
    /* Validation uses the Logs model: limit's minimum is 1. */
    const char *bad = "{\"logStreamName\":\"s\",\"limit\":0}";
    CHECK_INT(smneo_protocol_build_operation(&req, op, bad, strlen(bad), creds, &bo, &err), SMNEO_EVALIDATION);
    CHECK(err.field && !strcmp(err.field, "limit"));
    smneo_error_clear(&err);
    /* By name, the protocol functions look in the client's service only. */
    CHECK_INT(smneo_protocol_build(&req, "GetLogEvents", params, strlen(params), creds, &bo, &err), SMNEO_EINVAL);
    CHECK(err.message && strstr(err.message, "CreateCompilationJob"));
    smneo_error_clear(&err);
    CHECK_INT(smneo_protocol_build_operation(&req, NULL, NULL, 0, creds, &bo, &err), SMNEO_EINVAL);
    smneo_error_clear(&err);

    /* Its answers parse with the Logs shapes; its errors map as SageMaker's. */
    smneo_response *resp = NULL;
    const char *ok = "{\"events\":[{\"timestamp\":1700000000000,\"message\":\"compiling\","
                     "\"ingestionTime\":1700000000100}],\"nextForwardToken\":\"f/1\",\"nextBackwardToken\":\"b/1\"}";
    CHECK_INT(smneo_response_new(&resp, 200), 0);
    CHECK_INT(smneo_response_append_body(resp, ok, strlen(ok)), 0);
    smneo_result *res = NULL;
    CHECK_INT(smneo_protocol_parse_operation(&res, op, resp, &err), 0);
    if (res) {
        smneo_value root, tok, events;
        smneo_result_root(&root, res);
        CHECK(root.shape == op->output);
        CHECK_INT(smneo_value_get(&tok, &root, "nextForwardToken"), 0);
        CHECK_STR(smneo_value_string(&tok), "f/1");
        CHECK_INT(smneo_value_get(&events, &root, "events"), 0);
        CHECK(events.shape && events.shape->type == SMNEO_SHAPE_LIST);
    }
    smneo_result_free(res);
    smneo_response_free(resp);
    const char *nf = "{\"__type\":\"ResourceNotFoundException\",\"message\":\"The specified log stream does not exist.\"}";
    CHECK_INT(smneo_response_new(&resp, 400), 0);
    CHECK_INT(smneo_response_append_body(resp, nf, strlen(nf)), 0);
    res = NULL;
    CHECK_INT(smneo_protocol_parse_operation(&res, op, resp, &err), SMNEO_ENOTFOUND);
    CHECK_STR(err.service_code, "ResourceNotFoundException");
    smneo_error_clear(&err);
    smneo_response_free(resp);
#undef FX
    smneo_credentials_free(creds);
    cJSON_free(params);
    cJSON_Delete(fx);
    free(text);
}

/* STS (AWS Query), SSO and SSO-OIDC (REST-JSON) against botocore's own
 * serialization and parsing, recorded in protocol/multi.json (checked
 * against botocore by tests/python/test_protocol_fixtures.py). */
static void test_multi_protocol(void)
{
    char *text = fixture("multi.json");
    cJSON *doc = text ? cJSON_Parse(text) : NULL;
    CHECK(doc != NULL);
    smneo_credentials *creds = NULL;
    smneo_credentials_new(&creds, "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", NULL);
    smneo_build_options bo = SMNEO_BUILD_OPTIONS_INIT;
    bo.region = "us-east-1";
    bo.endpoint_url = "https://example.com";
    bo.timestamp = 1700000000;
    int n = 0;
    cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(doc, "requests"))
    {
        const char *svc = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "service"));
        const char *opname = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "operation"));
        const smneo_operation *op = smneo_service_operation(smneo_model_service(svc), opname);
        CHECK_MSG(op != NULL, "%s %s", svc, opname);
        if (!op)
            continue;
        char *params = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(c, "params"));
        smneo_request *req = NULL;
        smneo_error err = SMNEO_ERROR_INIT;
        int signed_ = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "signed"));
        /* Unauthenticated operations are built without credentials at all. */
        int rc = smneo_protocol_build_operation(&req, op, params, strlen(params), signed_ ? creds : NULL, &bo, &err);
        CHECK_MSG(rc == 0, "%s: %s", opname, err.message ? err.message : "");
        smneo_error_clear(&err);
        if (req) {
            n++;
            CHECK_STR(req->method, cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "method")));
            CHECK_STR(req->path, cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "path")));
            const char *ct = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "content_type"));
            if (ct)
                CHECK_STR(smneo_request_header(req, "Content-Type"), ct);
            else
                CHECK(smneo_request_header(req, "Content-Type") == NULL);
            cJSON *h;
            cJSON_ArrayForEach(h, cJSON_GetObjectItemCaseSensitive(c, "headers"))
                CHECK_STR(smneo_request_header(req, h->string), h->valuestring);
            CHECK_MSG((smneo_request_header(req, "Authorization") != NULL) == signed_, "%s signed", opname);
            CHECK((smneo_request_header(req, "X-Amz-Date") != NULL) == signed_);
            const cJSON *bj = cJSON_GetObjectItemCaseSensitive(c, "body_json");
            if (bj) {
                cJSON *got = cJSON_ParseWithLength(req->body ? req->body : "", req->body_len);
                CHECK_MSG(got && cJSON_Compare(got, bj, 1), "%s body %.*s", opname, (int)req->body_len, req->body);
                cJSON_Delete(got);
            } else {
                const char *body = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "body"));
                CHECK_MSG(body && req->body_len == strlen(body) && (!req->body_len || !memcmp(req->body, body, req->body_len)),
                          "%s body %.*s, expected %s", opname, (int)req->body_len, req->body ? req->body : "", body);
            }
        }
        smneo_request_free(req);
        cJSON_free(params);
    }
    CHECK_INT(n, 6);
    n = 0;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(doc, "responses"))
    {
        const char *svc = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "service"));
        const char *opname = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "operation"));
        const smneo_operation *op = smneo_service_operation(smneo_model_service(svc), opname);
        smneo_response *resp = NULL;
        smneo_response_new(&resp, (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(c, "status")));
        cJSON *h;
        cJSON_ArrayForEach(h, cJSON_GetObjectItemCaseSensitive(c, "headers"))
            smneo_response_add_header(resp, h->string, strlen(h->string), h->valuestring, strlen(h->valuestring));
        const char *body = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "body"));
        smneo_response_append_body(resp, body, strlen(body));
        smneo_result *res = NULL;
        smneo_error err = SMNEO_ERROR_INIT;
        int rc = smneo_protocol_parse_operation(&res, op, resp, &err);
        const cJSON *want = cJSON_GetObjectItemCaseSensitive(c, "result");
        const cJSON *werr = cJSON_GetObjectItemCaseSensitive(c, "error");
        if (want) {
            CHECK_MSG(rc == 0, "%s: %s", opname, err.message ? err.message : "");
            smneo_value root;
            smneo_result_root(&root, res);
            char *json = NULL;
            if (res)
                smneo_value_to_json(&json, &root);
            cJSON *got = json ? cJSON_Parse(json) : NULL;
            CHECK_MSG(got && cJSON_Compare(got, want, 1), "%s result %s", opname, json ? json : "(none)");
            cJSON_Delete(got);
            free(json);
        } else {
            CHECK_MSG(rc < 0, "%s error", opname);
            const char *code = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(werr, "code"));
            const char *msg = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(werr, "message"));
            CHECK_STR(err.service_code, code);
            if (*msg) /* botocore leaves SSO-OIDC's empty; smneo uses its error_description */
                CHECK_STR(err.message, msg);
            else
                CHECK(err.message && *err.message);
            CHECK(err.request_id != NULL);
        }
        n++;
        smneo_error_clear(&err);
        smneo_result_free(res);
        smneo_response_free(resp);
    }
    CHECK_INT(n, 9);
    smneo_credentials_free(creds);
    cJSON_Delete(doc);
    free(text);
}

static void test_query_hostile(void)
{
    /* Malformed XML answers are protocol errors, never crashes. */
    const smneo_operation *op = smneo_service_operation(smneo_model_service("sts"), "GetCallerIdentity");
    static const char *const bad[] = {
        "", "<", "<a>", "<a></b>", "<a><b></a></b>", "<a>&bogus;</a>", "<a>&#0;</a>", "<a>&#xD800;</a>",
        "<a/><b/>", "<a x=1/>", "<!-- x", "<a><![CDATA[x</a>", "text", "<a>x</a>trailing"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        smneo_response *resp = NULL;
        smneo_response_new(&resp, 200);
        smneo_response_append_body(resp, bad[i], strlen(bad[i]));
        smneo_result *res = NULL;
        smneo_error err = SMNEO_ERROR_INIT;
        CHECK_MSG(smneo_protocol_parse_operation(&res, op, resp, &err) == SMNEO_EPROTOCOL, "%s", bad[i]);
        smneo_error_clear(&err);
        smneo_result_free(res);
        smneo_response_free(resp);
    }
    /* Deep nesting is refused, not recursed into without bound. */
    {
        char deep[4000];
        size_t k = 0;
        for (int i = 0; i < 300; i++)
            k += (size_t)snprintf(deep + k, sizeof deep - k, "<a>");
        smneo_response *resp = NULL;
        smneo_response_new(&resp, 200);
        smneo_response_append_body(resp, deep, k);
        smneo_result *res = NULL;
        CHECK_INT(smneo_protocol_parse_operation(&res, op, resp, NULL), SMNEO_EPROTOCOL);
        smneo_response_free(resp);
    }
    /* An error answer that is not an XML error document: the status is the code. */
    smneo_response *resp = NULL;
    smneo_response_new(&resp, 503);
    smneo_response_append_body(resp, "upstream down", 13);
    smneo_result *res = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    CHECK(smneo_protocol_parse_operation(&res, op, resp, &err) < 0);
    CHECK_STR(err.service_code, "503");
    CHECK(err.retryable);
    smneo_error_clear(&err);
    smneo_response_free(resp);
    /* A signed operation still needs credentials. */
    smneo_build_options bo = SMNEO_BUILD_OPTIONS_INIT;
    bo.region = "us-east-1";
    bo.endpoint_url = "https://example.com";
    smneo_request *req = NULL;
    CHECK_INT(smneo_protocol_build_operation(&req, op, NULL, 0, NULL, &bo, NULL), SMNEO_ENOCREDENTIALS);
    /* A header value with a line break is refused (SSO's bearer token). */
    const smneo_operation *grc = smneo_service_operation(smneo_model_service("sso"), "GetRoleCredentials");
    const char *p = "{\"roleName\":\"r\",\"accountId\":\"123456789012\",\"accessToken\":\"a\\r\\nX: y\"}";
    CHECK_INT(smneo_protocol_build_operation(&req, grc, p, strlen(p), NULL, &bo, &err), SMNEO_EVALIDATION);
    CHECK(err.message && !strstr(err.message, "X: y")); /* the token is not quoted */
    smneo_error_clear(&err);
    CHECK(req == NULL);
}

int main(void)
{
    RUN(test_model);
    RUN(test_model_services);
    RUN(test_logs_build);
    RUN(test_jsonw);
    RUN(test_serialize_order);
    RUN(test_serialize_values);
    RUN(test_build);
    RUN(test_build_validation);
    RUN(test_parse_success);
    RUN(test_parse_errors);
    RUN(test_parse_framing);
    RUN(test_error_walk);
    RUN(test_multi_protocol);
    RUN(test_query_hostile);
    return smneo_test_summary("test_protocol");
}
