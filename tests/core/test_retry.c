/* Retry settings as botocore 1.43 resolves them (mode, attempts, defaults
 * mode, AWS_NEW_RETRIES_2026 costs), MaxAttemptsReached, the User-Agent
 * settings, and the adaptive mode's rate limiter replayed against a
 * sequence recorded from botocore's own classes
 * (tests/fixtures/retries/adaptive.json, tools/gen_ratelimit_fixture.py). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "aws_env.h"
#include "client_internal.h"
#include "harness.h"
#include "ratelimit.h"
#include "smneo.h"

static char *home;

static smneo_client *client_with(const char *mode, int max_attempts, int botocore_defaults, smneo_error *err)
{
    smneo_client_options o = SMNEO_CLIENT_OPTIONS_INIT;
    o.region = "us-east-1";
    o.endpoint_url = "http://127.0.0.1:9";
    o.access_key_id = "AKIDTEST";
    o.secret_access_key = "secret";
    o.retry_mode = mode;
    o.max_attempts = max_attempts;
    o.no_transport = 1;
    o.retry_defaults = botocore_defaults ? SMNEO_RETRY_DEFAULTS_BOTOCORE : SMNEO_RETRY_DEFAULTS_SMNEO;
    smneo_client *c = NULL;
    if (smneo_client_new(&c, &o, err))
        return NULL;
    return c;
}

static void expect(const char *mode, int max_attempts, int botocore_defaults, const char *want_mode, int want_attempts)
{
    smneo_error err = SMNEO_ERROR_INIT;
    smneo_client *c = client_with(mode, max_attempts, botocore_defaults, &err);
    CHECK_MSG(c != NULL, "client_new failed: %s", err.message ? err.message : "?");
    if (c) {
        CHECK_STR(smneo_client_retry_mode(c), want_mode);
        CHECK_INT(smneo_client_max_attempts(c), want_attempts);
    }
    smneo_client_free(c);
    smneo_error_clear(&err);
}

static void test_resolution(void)
{
    /* Defaults: smneo's standard/3; botocore's legacy/5, or standard/3 with
     * AWS_NEW_RETRIES_2026=true (any case); "false" keeps legacy. */
    expect(NULL, 0, 0, "standard", 3);
    expect(NULL, 0, 1, "legacy", 5);
    setenv("AWS_NEW_RETRIES_2026", "TRUE", 1);
    expect(NULL, 0, 1, "standard", 3);
    setenv("AWS_NEW_RETRIES_2026", "false", 1);
    expect(NULL, 0, 1, "legacy", 5);
    unsetenv("AWS_NEW_RETRIES_2026");
    /* A defaults mode other than legacy makes standard the default mode. */
    setenv("AWS_DEFAULTS_MODE", "Standard", 1);
    expect(NULL, 0, 1, "standard", 3);
    setenv("AWS_DEFAULTS_MODE", "legacy", 1);
    expect(NULL, 0, 1, "legacy", 5);
    /* ... but the environment and the profile still win over it. */
    setenv("AWS_DEFAULTS_MODE", "in-region", 1);
    setenv("AWS_RETRY_MODE", "legacy", 1);
    expect(NULL, 0, 1, "legacy", 5);
    unsetenv("AWS_DEFAULTS_MODE");
    /* Option > AWS_RETRY_MODE > profile; attempts likewise. */
    setenv("AWS_CONFIG_FILE", aws_write(home, ".aws/config", "[default]\nretry_mode = adaptive\nmax_attempts = 7\n"),
           1);
    expect(NULL, 0, 1, "legacy", 7);
    expect("standard", 0, 1, "standard", 7);
    unsetenv("AWS_RETRY_MODE");
    expect(NULL, 0, 0, "adaptive", 7);
    setenv("AWS_MAX_ATTEMPTS", "2", 1);
    expect(NULL, 0, 0, "adaptive", 2);
    expect(NULL, 9, 0, "adaptive", 9);
    unsetenv("AWS_MAX_ATTEMPTS");
    unsetenv("AWS_CONFIG_FILE");
    aws_remove(home, ".aws/config");

    /* Bad values name their source. */
    smneo_error err = SMNEO_ERROR_INIT;
    setenv("AWS_RETRY_MODE", "fast", 1);
    CHECK(client_with(NULL, 0, 1, &err) == NULL);
    CHECK(err.message && strstr(err.message, "AWS_RETRY_MODE") && strstr(err.message, "adaptive"));
    smneo_error_clear(&err);
    unsetenv("AWS_RETRY_MODE");
    setenv("AWS_MAX_ATTEMPTS", "three", 1);
    CHECK(client_with(NULL, 0, 1, &err) == NULL);
    CHECK(err.message && strstr(err.message, "AWS_MAX_ATTEMPTS"));
    smneo_error_clear(&err);
    setenv("AWS_MAX_ATTEMPTS", "0", 1); /* botocore: InvalidMaxRetryAttemptsError */
    CHECK(client_with(NULL, 0, 1, &err) == NULL);
    CHECK(err.message && strstr(err.message, "AWS_MAX_ATTEMPTS=\"0\""));
    smneo_error_clear(&err);
    unsetenv("AWS_MAX_ATTEMPTS");
    setenv("AWS_DEFAULTS_MODE", "speedy", 1);
    CHECK(client_with(NULL, 0, 1, &err) == NULL);
    CHECK(err.message && strstr(err.message, "AWS_DEFAULTS_MODE") && strstr(err.message, "cross-region"));
    smneo_error_clear(&err);
    unsetenv("AWS_DEFAULTS_MODE");
}

static void test_defaults_mode(void)
{
    smneo_error err = SMNEO_ERROR_INIT;
    smneo_client *c = client_with(NULL, 0, 1, &err);
    CHECK_STR(smneo_client_defaults_mode(c), "legacy");
    smneo_client_free(c);
    /* auto without AWS_EXECUTION_ENV: standard (no instance metadata asked). */
    setenv("AWS_DEFAULTS_MODE", "auto", 1);
    c = client_with(NULL, 0, 1, &err);
    CHECK_STR(smneo_client_defaults_mode(c), "standard");
    smneo_client_free(c);
    setenv("AWS_EXECUTION_ENV", "AWS_Lambda_python3.11", 1);
    setenv("AWS_REGION", "us-east-1", 1);
    c = client_with(NULL, 0, 1, &err);
    CHECK_STR(smneo_client_defaults_mode(c), "in-region");
    smneo_client_free(c);
    setenv("AWS_REGION", "eu-west-1", 1);
    c = client_with(NULL, 0, 1, &err);
    CHECK_STR(smneo_client_defaults_mode(c), "cross-region");
    smneo_client_free(c);
    unsetenv("AWS_EXECUTION_ENV");
    unsetenv("AWS_REGION");
    unsetenv("AWS_DEFAULTS_MODE");
}

static smneo_error service_error(const char *code, int status)
{
    smneo_error e = SMNEO_ERROR_INIT;
    e.code = SMNEO_ESERVICE;
    e.service_code = (char *)code;
    e.http_status = status;
    int retryable = 0;
    smneo_protocol_error_class(&retryable, code, status);
    e.retryable = retryable;
    return e;
}

static void test_conditions_and_costs(void)
{
    smneo_error err = SMNEO_ERROR_INIT;
    uint64_t rng = 42;
    int cost = 0;
    double d = 0;
    /* Legacy: 509 and a 400 Throttling are retried, TooManyRequestsException
     * (a 400) is not, as _retry.json; no quota is spent. */
    smneo_client *c = client_with("legacy", 0, 1, &err);
    smneo_error e = service_error("Whatever", 509);
    CHECK(smneo__retry_next(c, SMNEO_ESERVICE, &e, 1, &rng, &cost, &d, NULL));
    e = service_error("TooManyRequestsException", 400);
    CHECK(!smneo__retry_next(c, SMNEO_ETHROTTLED, &e, 1, &rng, &cost, &d, NULL));
    e = service_error("BadDigest", 400);
    CHECK(!smneo__retry_next(c, SMNEO_ESERVICE, &e, 1, &rng, &cost, &d, NULL));
    CHECK(smneo__retry_next_s3(c, SMNEO_ESERVICE, &e, 1, &rng, &cost, &d, 1, NULL));
    e = service_error("Throttling", 400);
    CHECK(smneo__retry_next(c, SMNEO_ETHROTTLED, &e, 4, &rng, &cost, &d, NULL));
    CHECK(d <= 8.0); /* rand * 2^(4-1) */
    CHECK(!smneo__retry_next(c, SMNEO_ETHROTTLED, &e, 5, &rng, &cost, &d, NULL));
    CHECK_INT(smneo__client_quota(c), 500);
    smneo_error tls_legacy = SMNEO_ERROR_INIT;
    tls_legacy.code = SMNEO_ETLS; /* _retry.json's GENERAL_CONNECTION_ERROR includes SSLError */
    CHECK(smneo__retry_next(c, SMNEO_ETLS, &tls_legacy, 1, &rng, &cost, &d, NULL));
    /* MaxAttemptsReached: legacy sets it only for a retryable error. */
    CHECK(smneo_client_max_attempts_reached(c, 5, &e));
    CHECK(!smneo_client_max_attempts_reached(c, 5, NULL));
    smneo_error v = service_error("ValidationException", 400);
    CHECK(!smneo_client_max_attempts_reached(c, 5, &v));
    smneo_client_free(c);

    /* Standard: 5 per retry, 10 after a timeout, refunded on success. */
    c = client_with("standard", 0, 1, &err);
    e = service_error("TooManyRequestsException", 400);
    CHECK(smneo__retry_next(c, SMNEO_ETHROTTLED, &e, 1, &rng, &cost, &d, NULL));
    CHECK_INT(cost, 5);
    CHECK_INT(smneo__client_quota(c), 495);
    smneo__retry_succeeded(c, &cost);
    CHECK_INT(smneo__client_quota(c), 500);
    smneo_error t = SMNEO_ERROR_INIT;
    t.code = SMNEO_ETIMEOUT;
    CHECK(smneo__retry_next(c, SMNEO_ETIMEOUT, &t, 1, &rng, &cost, &d, NULL));
    CHECK_INT(cost, 10);
    e = service_error("Whatever", 509); /* not retryable in standard mode */
    CHECK(!smneo__retry_next(c, SMNEO_ESERVICE, &e, 1, &rng, &cost, &d, NULL));
    /* A TLS failure (a certificate that does not verify too) is a connection
     * error: retried, as botocore's SSLError (a ConnectionError). */
    smneo_error tls = SMNEO_ERROR_INIT;
    tls.code = SMNEO_ETLS;
    CHECK(smneo__retry_next(c, SMNEO_ETLS, &tls, 1, &rng, &cost, &d, NULL));
    /* The quota runs out: a due retry is not made, and that is reported
     * (botocore's RetryQuotaReached); a retry that is not due is not. */
    int reached = 0, retries = 0;
    e = service_error("ThrottlingException", 400);
    while (retries < 200 && smneo__retry_next(c, SMNEO_ETHROTTLED, &e, 1, &rng, &cost, &d, &reached))
        retries++;
    CHECK(retries < 200);
    CHECK_INT(reached, 1);
    CHECK(smneo__client_quota(c) < 5);
    CHECK(!smneo__retry_next(c, SMNEO_ETHROTTLED, &e, 3, &rng, &cost, &d, &reached)); /* last attempt */
    CHECK_INT(reached, 0);
    /* Standard sets MaxAttemptsReached on any answer at the last attempt. */
    CHECK(smneo_client_max_attempts_reached(c, 3, NULL));
    CHECK(smneo_client_max_attempts_reached(c, 3, &v));
    CHECK(!smneo_client_max_attempts_reached(c, 2, NULL));
    smneo_client_free(c);

    /* AWS_NEW_RETRIES_2026: throttling 5, others 14 (timeouts too); a
     * non-throttling backoff is 0.05 * 2^(n-1); x-amz-retry-after counts. */
    setenv("AWS_NEW_RETRIES_2026", "true", 1);
    c = client_with(NULL, 0, 1, &err);
    CHECK_STR(smneo_client_retry_mode(c), "standard");
    e = service_error("ThrottlingException", 400);
    CHECK(smneo__retry_next(c, SMNEO_ETHROTTLED, &e, 1, &rng, &cost, &d, NULL));
    CHECK_INT(cost, 5);
    CHECK(smneo__retry_next(c, SMNEO_ETIMEOUT, &t, 1, &rng, &cost, &d, NULL));
    CHECK_INT(cost, 14);
    e = service_error("InternalFailure", 500);
    for (int i = 0; i < 20; i++) {
        CHECK(smneo__retry_next(c, SMNEO_ESERVICE, &e, 2, &rng, &cost, &d, NULL));
        CHECK(d <= 0.1);
    }
    smneo_response *resp = NULL;
    smneo_response_new(&resp, 500);
    smneo_response_add_header(resp, "x-amz-retry-after", 17, "1500", 4);
    e.response = resp;
    CHECK(smneo__retry_next(c, SMNEO_ESERVICE, &e, 1, &rng, &cost, &d, NULL));
    CHECK(d >= 1.5 && d <= 1.55);
    smneo_response_free(resp);
    smneo_client_free(c);
    unsetenv("AWS_NEW_RETRIES_2026");
}

static void test_user_agent(void)
{
    smneo_client_options o = SMNEO_CLIENT_OPTIONS_INIT;
    o.region = "us-east-1";
    o.endpoint_url = "http://127.0.0.1:9";
    o.access_key_id = "AKIDTEST";
    o.secret_access_key = "secret";
    o.no_transport = 1;
    o.user_agent_extra = "extra/1";
    setenv("AWS_SDK_UA_APP_ID", "my app", 1);
    smneo_client *c = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    CHECK_INT(smneo_client_new(&c, &o, &err), 0);
    smneo_request *req = NULL;
    CHECK_INT(smneo_client_build_request(&req, c, "ListCompilationJobs", "{}", 2, 0, &err), 0);
    const char *ua = req ? smneo_request_header(req, "User-Agent") : NULL;
    CHECK(ua && !strncmp(ua, "smneo/", 6) && strstr(ua, " app/my-app extra/1"));
    smneo_request_free(req);
    smneo_client_free(c);
    unsetenv("AWS_SDK_UA_APP_ID");
    /* user_agent replaces the string; the app id is then left out. */
    o.user_agent = "custom/2";
    o.user_agent_appid = "ignored";
    CHECK_INT(smneo_client_new(&c, &o, &err), 0);
    CHECK_INT(smneo_client_build_request(&req, c, "ListCompilationJobs", "{}", 2, 0, &err), 0);
    CHECK_STR(req ? smneo_request_header(req, "User-Agent") : NULL, "custom/2 extra/1");
    smneo_request_free(req);
    smneo_client_free(c);
}

static double num(const cJSON *o, const char *k) { return cJSON_GetObjectItem(o, k)->valuedouble; }

static void test_ratelimit_replay(void)
{
    char *text = smneo_test_read_file(smneo_test_fixture("retries/adaptive.json"), NULL);
    cJSON *doc = cJSON_Parse(text);
    CHECK(doc != NULL);
    smneo_ratelimit r;
    smneo__ratelimit_init(&r, num(doc, "start"));
    const cJSON *st;
    int n = 0, waits = 0;
    cJSON_ArrayForEach(st, cJSON_GetObjectItem(doc, "steps"))
    {
        double t = num(st, "t");
        const char *ev = cJSON_GetObjectItem(st, "event")->valuestring;
        if (!strcmp(ev, "send")) {
            double w = smneo__ratelimit_acquire(&r, t);
            CHECK_MSG(fabs(w - num(st, "wait")) < 1e-9, "step %d: wait %.12f, botocore %.12f", n, w, num(st, "wait"));
            waits += w > 0;
        } else {
            smneo__ratelimit_update(&r, !strcmp(ev, "throttle"), t);
            double want = num(st, "rate");
            CHECK_MSG(fabs(smneo__ratelimit_rate(&r) - want) < 1e-9 * (1 + fabs(want)), "step %d: rate %.12f, botocore %.12f",
                      n, smneo__ratelimit_rate(&r), want);
            CHECK_INT(smneo__ratelimit_enabled(&r), cJSON_IsTrue(cJSON_GetObjectItem(st, "enabled")));
        }
        n++;
    }
    CHECK(n > 50);
    CHECK(waits > 3); /* the sequence does make the client wait */
    smneo__ratelimit_destroy(&r);
    cJSON_Delete(doc);
    free(text);
}

/* The call machine in adaptive mode: after a throttling answer the client
 * waits for tokens (SLEEP steps before a SEND); no sockets, no clock read. */
static void test_adaptive_machine(void)
{
    smneo_error err = SMNEO_ERROR_INIT;
    smneo_client *c = client_with("adaptive", 1, 0, &err);
    int sleeps_before_send = 0;
    for (int call_no = 0; call_no < 4; call_no++) {
        smneo_call *call = NULL;
        CHECK_INT(smneo_call_new(&call, c, "ListCompilationJobs", "{}", 2, &err), 0);
        smneo_step s;
        int sleeps = 0;
        for (;;) {
            smneo_call_next(&s, call);
            if (s.kind == SMNEO_STEP_SLEEP) {
                sleeps++;
                if (sleeps > 1)
                    break; /* enough: it waits for a token */
                continue;
            }
            if (s.kind != SMNEO_STEP_SEND)
                break;
            smneo_response *resp = NULL;
            smneo_response_new(&resp, 400);
            smneo_response_add_header(resp, "Content-Type", 12, "application/x-amz-json-1.1", 26);
            const char *body = "{\"__type\":\"ThrottlingException\",\"message\":\"Rate exceeded\"}";
            smneo_response_append_body(resp, body, strlen(body));
            smneo_call_feed(call, resp, 0, NULL);
        }
        sleeps_before_send += sleeps > 0;
        smneo_call_free(call);
    }
    CHECK(smneo__ratelimit_enabled(smneo__client_ratelimit(c)));
    CHECK(sleeps_before_send >= 1);
    smneo_client_free(c);
    /* Other modes never wait for tokens. */
    c = client_with("standard", 1, 0, &err);
    CHECK(smneo__client_rate_acquire(c) == 0);
    smneo_client_free(c);
}

int main(void)
{
    home = smneo_test_tmpdir();
    aws_env_reset(home);
    aws_env_isolate();
    unsetenv("AWS_CONFIG_FILE");
    RUN(test_resolution);
    RUN(test_defaults_mode);
    RUN(test_conditions_and_costs);
    RUN(test_user_agent);
    RUN(test_ratelimit_replay);
    RUN(test_adaptive_machine);
    smneo_test_rmtree(home);
    free(home);
    return smneo_test_summary("test_retry");
}
