/* libFuzzer target for the protocol layer's handling of untrusted bytes:
 * response bodies (smneo_protocol_parse for each operation, the result
 * walked with a checking visitor and printed with smneo_value_to_json),
 * params JSON (smneo_protocol_serialize, smneo_validate, smneo_protocol_build:
 * no header may carry CR/LF), and the step machines fed hostile responses
 * (paginators with a fuzzed resume token and pages, the waiter), and the
 * debug log's redaction of the same bodies (JSON, XML, form or text).
 *
 * Input layout: byte 0 picks the mode, byte 1 the operation / status, byte 2
 * header and option variations; the rest is the body / params / token.
 * Build and run: tests/fuzz/run_core.sh protocol [seconds]. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>

#include "smneo/client.h"
#include "smneo/log.h"
#include "smneo/protocol.h"
#include "smneo/validate.h"
#include "smneo/value.h"

static const char *const OPS[] = {"CreateCompilationJob", "DescribeCompilationJob", "ListCompilationJobs",
                                  "StopCompilationJob",   "DeleteCompilationJob",   "ListPipelineExecutionSteps"};
static const int STATUSES[] = {200, 200, 200, 201, 204, 299, 400, 403, 404, 409, 413, 429,
                               500, 502, 503, 504, 302, 199, 300, 0,   -1,  999, 100, 1000000};

static smneo_client *g_client; /* no transport: only stepped */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    /* Nothing from the machine's environment or files reaches the target. */
    setenv("AWS_CONFIG_FILE", "/nonexistent/smneo-fuzz/config", 1);
    setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/smneo-fuzz/credentials", 1);
    setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
    unsetenv("AWS_PROFILE");
    unsetenv("AWS_ENDPOINT_URL");
    unsetenv("AWS_ENDPOINT_URL_SAGEMAKER");
    unsetenv("AWS_MAX_ATTEMPTS");
    unsetenv("AWS_RETRY_MODE");
    smneo_client_options o = SMNEO_CLIENT_OPTIONS_INIT;
    o.region = "us-west-2";
    o.endpoint_url = "http://127.0.0.1:9";
    o.access_key_id = "AKIDEXAMPLE";
    o.secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    o.no_transport = 1;
    o.max_attempts = 3;
    o.retry_backoff_scale = 0.001;
    o.validation = SMNEO_VALIDATION_OFF; /* resume tokens and pages are what we fuzz */
    smneo_error err = SMNEO_ERROR_INIT;
    if (smneo_client_new(&g_client, &o, &err) != 0) {
        fprintf(stderr, "fuzz_protocol: client: %s\n", err.message ? err.message : "?");
        abort();
    }
    return 0;
}

/* ---- a visitor that checks the event stream is well formed ---------------- */

#define MAX_DEPTH 4096
typedef struct checker {
    size_t remaining[MAX_DEPTH]; /* children still expected at each level */
    char kind[MAX_DEPTH];        /* 'o' or 'a' */
    int depth;
    int expect_value;            /* inside an object: a key was seen */
    size_t events;
} checker;

static void value_seen(checker *c)
{
    if (c->depth == 0)
        return;
    if (c->kind[c->depth - 1] == 'o') {
        if (!c->expect_value)
            abort(); /* a value without its key */
        c->expect_value = 0;
    }
    if (c->remaining[c->depth - 1] == 0)
        abort(); /* more children than announced */
    c->remaining[c->depth - 1]--;
    c->events++;
}

static int open_level(checker *c, char kind, size_t count)
{
    value_seen(c);
    if (c->depth >= MAX_DEPTH)
        abort(); /* cJSON's nesting limit keeps documents far below this */
    c->kind[c->depth] = kind;
    c->remaining[c->depth] = count;
    c->depth++;
    return 0;
}

static int close_level(checker *c, char kind)
{
    if (c->depth == 0 || c->kind[c->depth - 1] != kind || c->remaining[c->depth - 1] != 0 || c->expect_value)
        abort();
    c->depth--;
    return 0;
}

static int v_begin_object(void *p, const smneo_shape *s, size_t n) { (void)s; return open_level(p, 'o', n); }
static int v_end_object(void *p) { return close_level(p, 'o'); }
static int v_begin_array(void *p, const smneo_shape *s, size_t n) { (void)s; return open_level(p, 'a', n); }
static int v_end_array(void *p) { return close_level(p, 'a'); }
static int v_key(void *p, const char *k, size_t len)
{
    checker *c = p;
    if (!k || strlen(k) != len || c->depth == 0 || c->kind[c->depth - 1] != 'o' || c->expect_value)
        abort();
    c->expect_value = 1;
    return 0;
}
static int v_string(void *p, const char *s, size_t len)
{
    if (!s || strlen(s) != len)
        abort();
    value_seen(p);
    return 0;
}
static int v_integer(void *p, int64_t v) { (void)v; value_seen(p); return 0; }
static int v_number(void *p, double v) { (void)v; value_seen(p); return 0; }
static int v_boolean(void *p, int v)
{
    if (v != 0 && v != 1)
        abort();
    value_seen(p);
    return 0;
}
static int v_timestamp(void *p, double v) { (void)v; value_seen(p); return 0; }
static int v_null(void *p) { value_seen(p); return 0; }

static const smneo_visitor VISITOR = {v_begin_object, v_end_object, v_begin_array, v_end_array, v_key, v_string,
                                      v_integer,      v_number,     v_boolean,     v_timestamp, v_null};

static void check_value(const smneo_value *v)
{
    checker *c = calloc(1, sizeof *c);
    if (!c)
        return;
    if (smneo_value_walk(v, &VISITOR, c) != 0 || c->depth != 0)
        abort();
    free(c);
    char *json = NULL;
    if (smneo_value_to_json(&json, v) != 0)
        abort();
    cJSON *back = cJSON_Parse(json); /* what we print must read back */
    if (!back)
        abort();
    cJSON_Delete(back);
    free(json);
    smneo_value m;
    static const char *const names[] = {"CompilationJobStatus", "CompilationJobSummaries", "NextToken",
                                        "PipelineExecutionSteps", "FailureReason", "CreationTime"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (smneo_value_get(&m, v, names[i]) == 0) {
            (void)smneo_value_string(&m);
            char *t = NULL;
            if (smneo_value_to_json(&t, &m) != 0)
                abort();
            free(t);
        }
}

static void check_error(int rc, const smneo_error *e)
{
    if (rc >= 0 || e->code != rc || !e->message)
        abort();
}

static int no_crlf(const char *s)
{
    return !strpbrk(s, "\r\n");
}

static void check_request(const smneo_request *req)
{
    if (!req)
        abort();
    for (size_t i = 0; i < req->header_count; i++)
        if (!no_crlf(req->headers[i].name) || !no_crlf(req->headers[i].value) || !req->headers[i].name[0])
            abort(); /* a header carrying CR/LF: injection */
    if (!no_crlf(req->url) || !no_crlf(req->path))
        abort();
}

/* ---- modes ---------------------------------------------------------------- */

static smneo_response *make_response(int status, uint8_t hsel, const char *body, size_t len)
{
    smneo_response *r = NULL;
    if (smneo_response_new(&r, status))
        return NULL;
    /* Header values come from the body's first bytes (may hold anything). */
    size_t hl = len < 24 ? len : 24;
    if (hsel & 1)
        smneo_response_add_header(r, "x-amzn-RequestId", 16, body, hl);
    if (hsel & 2)
        smneo_response_add_header(r, "x-amzn-ErrorType", 16, body, hl);
    if (hsel & 4)
        smneo_response_add_header(r, "Content-Type", 12, "application/x-amz-json-1.1", 26);
    if (hsel & 8)
        smneo_response_add_header(r, "x-amz-request-id", 16, "", 0);
    if (len)
        smneo_response_append_body(r, body, len);
    return r;
}

static void log_sink(int level, const char *message, void *payload)
{
    (void)level;
    *(size_t *)payload += strlen(message);
}

/* The debug log redacts the body as a response and as a request body. */
static void fuzz_redaction(const smneo_response *resp, uint8_t hsel)
{
    size_t logged = 0;
    smneo_log_set_callback(log_sink, &logged);
    smneo_log_response(resp);
    smneo_log_set_callback(NULL, NULL);
    if (!logged)
        abort(); /* a response is always logged, at least its status */
    smneo_request *req = NULL;
    if (smneo_request_new(&req, "POST", "https://sts.amazonaws.com/?X-Amz-Signature=x&a=b#f") != 0)
        abort();
    if (hsel & 32)
        smneo_request_add_header(req, "Content-Type", "application/x-www-form-urlencoded");
    smneo_request_add_header(req, "Authorization", resp->body_len ? resp->body : "");
    smneo_request_set_body(req, resp->body, resp->body_len);
    char *text = NULL;
    if (smneo_request_redacted(&text, req) != 0 || !text)
        abort();
    free(text);
    smneo_request_free(req);
}

static void fuzz_parse(uint8_t sel, uint8_t hsel, const char *body, size_t len)
{
    int status = STATUSES[sel % (sizeof STATUSES / sizeof *STATUSES)];
    smneo_response *resp = make_response(status, hsel, body, len);
    if (!resp)
        return;
    for (size_t i = 0; i < 6; i++) {
        smneo_result *res = NULL;
        smneo_error err = SMNEO_ERROR_INIT;
        int rc = smneo_protocol_parse(&res, OPS[i], resp, &err);
        if (rc == 0) {
            if (!res || status < 200 || status >= 300)
                abort(); /* only a 2xx is a result */
            smneo_value root;
            smneo_result_root(&root, res);
            check_value(&root);
            (void)smneo_result_request_id(res);
            if (smneo_result_status(res) != status)
                abort();
        } else {
            if (res)
                abort();
            check_error(rc, &err);
            if (rc == SMNEO_ENOMEM || rc == SMNEO_EINVAL)
                abort(); /* a response is never an API misuse */
            if (status >= 200 && status < 300 && rc != SMNEO_EPROTOCOL)
                abort(); /* a bad 2xx body is a protocol error */
            if ((status < 200 || status >= 300) && (!err.service_code || !err.service_code[0]))
                abort(); /* an error always names its code (at least the status) */
        }
        smneo_result_free(res);
        smneo_error_clear(&err);
    }
    if (hsel & 16)
        fuzz_redaction(resp, hsel);
    smneo_response_free(resp);
}

static void fuzz_params(uint8_t sel, uint8_t hsel, const char *params, size_t len)
{
    const char *op = OPS[sel % 6];
    smneo_error err = SMNEO_ERROR_INIT;
    char *body = NULL;
    size_t blen = 0;
    int rc = smneo_protocol_serialize(&body, &blen, op, params, len, &err);
    if (rc == 0) {
        cJSON *j = cJSON_ParseWithLength(body, blen);
        if (!cJSON_IsObject(j) || strlen(body) != blen)
            abort(); /* the body is one JSON object, no NUL inside */
        cJSON_Delete(j);
    } else {
        check_error(rc, &err);
    }
    free(body);
    smneo_error_clear(&err);

    smneo_issues *issues = NULL;
    smneo_validate_options vo = SMNEO_VALIDATE_OPTIONS_INIT;
    vo.allow_unknown_enum_values = hsel & 1;
    rc = smneo_validate(&issues, op, params, len, &vo, &err);
    if (rc == 0)
        for (size_t i = 0; i < smneo_issues_count(issues); i++) {
            const smneo_issue *it = smneo_issues_at(issues, i);
            if (!it->path || !it->rule || !it->message || !it->message[0])
                abort();
        }
    smneo_issues_free(issues);
    smneo_error_clear(&err);

    smneo_credentials creds = {0};
    creds.access_key_id = "AKIDEXAMPLE";
    creds.secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    creds.session_token = (hsel & 2) ? "token" : NULL;
    smneo_build_options bo = SMNEO_BUILD_OPTIONS_INIT;
    bo.region = "us-east-1";
    bo.endpoint_url = "https://api.sagemaker.us-east-1.amazonaws.com";
    bo.timestamp = 1700000000;
    bo.validation = (hsel >> 2) % 3;
    smneo_request *req = NULL;
    rc = smneo_protocol_build(&req, op, params, len, &creds, &bo, &err);
    if (rc == 0) {
        check_request(req);
        char want[96];
        snprintf(want, sizeof want, "SageMaker.%s", op);
        const char *t = smneo_request_header(req, "X-Amz-Target");
        if (!t || strcmp(t, want) != 0)
            abort();
    } else {
        check_error(rc, &err);
    }
    smneo_request_free(req);
    smneo_error_clear(&err);
}

/* Drives a call: every SEND is answered with the fuzzed response (and, from
 * byte sel, sometimes a transport error); bounded number of steps. */
static void drive(smneo_call *call, uint8_t sel, uint8_t hsel, const char *body, size_t len)
{
    int answered = 0;
    for (int i = 0; i < 64; i++) {
        smneo_step st;
        smneo_call_next(&st, call);
        if (st.kind == SMNEO_STEP_DONE)
            break;
        if (st.kind == SMNEO_STEP_SEND) {
            check_request(st.request);
            if (answered++ >= 6) { /* enough pages: stop like a caller would */
                smneo_call_cancel(call);
                continue;
            }
            if ((sel >> 4) == 15 && answered == 1) {
                smneo_call_feed(call, NULL, SMNEO_ECONNECT, "connection refused");
                continue;
            }
            smneo_call_feed(call, make_response(STATUSES[sel % 6], hsel, body, len), 0, NULL);
        } else if (st.kind == SMNEO_STEP_EVENT) {
            smneo_value item;
            if (st.event == SMNEO_EVENT_ITEM && smneo_call_item(&item, call) == 0 && item.node)
                check_value(&item);
            const smneo_result *page = smneo_call_page(call);
            if ((st.event == SMNEO_EVENT_PAGE || st.event == SMNEO_EVENT_STATUS) && page) {
                smneo_value root;
                smneo_result_root(&root, page);
                check_value(&root);
            }
        } else if (st.kind != SMNEO_STEP_SLEEP) {
            abort();
        }
    }
    smneo_result *res = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    int rc = smneo_call_result(&res, call, &err);
    if (rc < 0)
        check_error(rc, &err);
    smneo_result_free(res);
    smneo_error_clear(&err);
    (void)smneo_call_resume_token(call);
}

static void fuzz_paginate(uint8_t sel, uint8_t hsel, const char *text, size_t len)
{
    /* The text is "<resume token>\n<page body>". */
    const char *nl = memchr(text, '\n', len);
    size_t tlen = nl ? (size_t)(nl - text) : len;
    const char *body = nl ? nl + 1 : text + len;
    size_t blen = nl ? len - tlen - 1 : 0;
    char *token = NULL;
    if (sel & 0x40) { /* botocore's format: base64 of the JSON the fuzzer wrote */
        token = malloc(4 * ((tlen + 2) / 3) + 1);
        if (token)
            EVP_EncodeBlock((unsigned char *)token, (const unsigned char *)text, (int)tlen);
        tlen = token ? strlen(token) : 0;
    } else {
        token = strndup(text, tlen);
    }
    if (!token)
        return;
    smneo_paginate_options po = SMNEO_PAGINATE_OPTIONS_INIT;
    po.starting_token = tlen ? token : NULL;
    po.max_items = (hsel & 0x30) >> 4; /* 0 (all) .. 3 */
    po.page_size = (hsel & 0xc0) >> 6;
    po.pages = hsel & 1;
    int pipeline = (sel >> 3) & 1; /* bits 0-2 status, 3 operation, 4-5 transport error, 6 base64 */
    const char *op = pipeline ? "ListPipelineExecutionSteps" : "ListCompilationJobs";
    const char *params = pipeline ? "{\"PipelineExecutionArn\":\"arn:aws:sagemaker:us-west-2:123456789012:"
                                    "pipeline/p/execution/e\"}"
                                  : "{}";
    smneo_call *call = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    int rc = smneo_paginate_new(&call, g_client, op, params, strlen(params), &po, &err);
    if (rc == 0)
        drive(call, sel, (uint8_t)(hsel >> 1), body, blen);
    else
        check_error(rc, &err);
    smneo_call_free(call);
    smneo_error_clear(&err);
    free(token);
}

static void fuzz_wait(uint8_t sel, uint8_t hsel, const char *body, size_t len)
{
    smneo_wait_options wo = SMNEO_WAIT_OPTIONS_INIT;
    wo.delay = 0.001;
    wo.max_delay = 0.002;
    smneo_call *call = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    int rc = smneo_wait_new(&call, g_client, "job-1", &wo, &err);
    if (rc == 0)
        drive(call, sel, hsel, body, len);
    else
        check_error(rc, &err);
    smneo_call_free(call);
    smneo_error_clear(&err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    uint8_t mode = data[0] % 5, sel = data[1], hsel = data[2];
    size_t n = size - 3;
    /* An exact-size copy: the core must not read past len. */
    char *text = malloc(n ? n : 1);
    if (!text)
        return 0;
    memcpy(text, data + 3, n);
    switch (mode) {
    case 0:
    case 1: fuzz_parse(sel, hsel, text, n); break;
    case 2: fuzz_params(sel, hsel, text, n); break;
    case 3: fuzz_paginate(sel, hsel, text, n); break;
    default: fuzz_wait(sel, hsel, text, n); break;
    }
    free(text);
    return 0;
}
