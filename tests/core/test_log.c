/* Debug logging: off by default, SMNEO_DEBUG and the callback sink, and
 * redaction of signatures, tokens and secret JSON members, also through the
 * libcurl transport. */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "httpserver.h"
#include "smneo/log.h"
#include "smneo/transport.h"

#define SIGNATURE "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
#define SESSION_TOKEN "IQoJb3JpZ2luX2VjEXAMPLESESSIONTOKENvalue"

typedef struct sink {
    pthread_mutex_t mu;
    char *all; /* every message, concatenated */
    int count;
} sink;

static void collect(int level, const char *message, void *payload)
{
    (void)level;
    sink *s = payload;
    pthread_mutex_lock(&s->mu);
    size_t old = s->all ? strlen(s->all) : 0;
    s->all = realloc(s->all, old + strlen(message) + 2);
    memcpy(s->all + old, message, strlen(message));
    s->all[old + strlen(message)] = '\n';
    s->all[old + strlen(message) + 1] = '\0';
    s->count++;
    pthread_mutex_unlock(&s->mu);
}

static void server_handler(const test_http_request *req, test_http_response *resp, void *payload)
{
    (void)req;
    (void)payload;
    const char *body = "{\"Credentials\":{\"AccessKeyId\":\"ASIARESPONSEKEY\",\"SecretAccessKey\":\"RESPONSESECRET\","
                       "\"SessionToken\":\"RESPONSETOKEN\"},\"JobName\":\"j1\"}";
    resp->body = strdup(body);
    resp->body_len = strlen(body);
    snprintf(resp->headers, sizeof resp->headers, "Content-Type: application/x-amz-json-1.1\r\n");
}

static smneo_request *signed_request(const char *base)
{
    char url[256];
    snprintf(url, sizeof url, "%s/", base);
    smneo_request *r = NULL;
    smneo_request_new(&r, "POST", url);
    smneo_request_add_header(r, "Host", r->host);
    smneo_request_add_header(r, "X-Amz-Target", "SageMaker.CreateCompilationJob");
    smneo_request_add_header(r, "Content-Type", "application/x-amz-json-1.1");
    smneo_request_add_header(r, "X-Amz-Date", "20260101T000000Z");
    smneo_request_add_header(r, "X-Amz-Security-Token", SESSION_TOKEN);
    smneo_request_add_header(r, "Authorization",
                             "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/sagemaker/aws4_request, "
                             "SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=" SIGNATURE);
    const char *body = "{\"CompilationJobName\":\"j1\",\"Password\":\"hunter2\",\"Nested\":{\"SecretAccessKey\":"
                       "\"wJalrXUtnFEMIEXAMPLEKEY\",\"Token\": 12345,\"Items\":[{\"AuthToken\":\"tok\\\"en\"}]},"
                       "\"NextToken\":\"page-2\"}";
    smneo_request_set_body(r, body, strlen(body));
    return r;
}

/* Redirects stderr to a temporary file while fn runs; returns what was written. */
static char *capture_stderr(void (*fn)(void *), void *arg)
{
    char path[] = "/tmp/smneo-log-XXXXXX";
    int fd = mkstemp(path);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    fn(arg);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    close(fd);
    char *text = smneo_test_read_file(path, NULL);
    unlink(path);
    return text;
}

static void send_one(void *arg)
{
    const char *base = arg;
    smneo_transport *t = NULL;
    smneo_curl_transport_new(&t, NULL, NULL);
    smneo_request *r = signed_request(base);
    smneo_response *resp = NULL;
    int rc = smneo_transport_send(t, r, &resp, NULL);
    CHECK_INT(rc, 0);
    smneo_response_free(resp);
    smneo_request_free(r);
    smneo_transport_free(t);
    smneo_log(SMNEO_LOG_INFO, "hello %d", 42);
}

static void test_off_by_default(void)
{
    test_http_server *s = test_http_server_start(server_handler, NULL);
    unsetenv("SMNEO_DEBUG");
    smneo_log_set_callback(NULL, NULL);
    CHECK_INT(smneo_log_enabled(), 0);
    char *err = capture_stderr(send_one, (void *)test_http_server_url(s));
    CHECK_MSG(err && err[0] == '\0', "stderr got: %s", err ? err : "(null)");
    free(err);

    setenv("SMNEO_DEBUG", "0", 1);
    CHECK_INT(smneo_log_enabled(), 0);
    err = capture_stderr(send_one, (void *)test_http_server_url(s));
    CHECK_MSG(err && err[0] == '\0', "stderr got: %s", err ? err : "(null)");
    free(err);
    unsetenv("SMNEO_DEBUG");
    test_http_server_stop(s);
}

static void check_redacted(const char *text)
{
    CHECK(text != NULL);
    if (!text)
        return;
    CHECK_MSG(!strstr(text, SIGNATURE), "signature leaked:\n%s", text);
    CHECK_MSG(!strstr(text, SESSION_TOKEN), "session token leaked:\n%s", text);
    CHECK_MSG(!strstr(text, "hunter2") && !strstr(text, "wJalrXUtnFEMI") && !strstr(text, "12345") &&
                  !strstr(text, "tok\\\"en"),
              "body secret leaked:\n%s", text);
    CHECK_MSG(!strstr(text, "RESPONSESECRET") && !strstr(text, "RESPONSETOKEN"), "response secret leaked:\n%s",
              text);
    /* What is useful for debugging stays. */
    CHECK(strstr(text, "POST http://127.0.0.1:") != NULL);
    CHECK(strstr(text, "Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/sagemaker/"
                       "aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, "
                       "Signature=<redacted>\n") != NULL);
    CHECK(strstr(text, "X-Amz-Security-Token: <redacted>\n") != NULL);
    CHECK(strstr(text, "X-Amz-Target: SageMaker.CreateCompilationJob\n") != NULL);
    CHECK(strstr(text, "\"Password\":\"<redacted>\"") != NULL);
    CHECK(strstr(text, "\"Nested\":{\"SecretAccessKey\":\"<redacted>\",\"Token\": \"<redacted>\","
                       "\"Items\":[{\"AuthToken\":\"<redacted>\"}]}") != NULL);
    CHECK(strstr(text, "\"NextToken\":\"page-2\"") != NULL);
    CHECK(strstr(text, "\"CompilationJobName\":\"j1\"") != NULL);
}

static void test_callback_through_transport(void)
{
    test_http_server *s = test_http_server_start(server_handler, NULL);
    unsetenv("SMNEO_DEBUG");
    sink k = {PTHREAD_MUTEX_INITIALIZER, NULL, 0};
    smneo_log_set_callback(collect, &k);
    CHECK_INT(smneo_log_enabled(), 1);
    /* With a callback nothing goes to stderr. */
    char *err = capture_stderr(send_one, (void *)test_http_server_url(s));
    CHECK_MSG(err && err[0] == '\0', "stderr got: %s", err ? err : "(null)");
    free(err);
    smneo_log_set_callback(NULL, NULL);
    CHECK_INT(k.count, 3); /* request, response, hello */
    check_redacted(k.all);
    CHECK(k.all && strstr(k.all, "HTTP 200\n"));
    CHECK(k.all && strstr(k.all, "\"AccessKeyId\":\"ASIARESPONSEKEY\""));
    CHECK(k.all && strstr(k.all, "\"SessionToken\":\"<redacted>\""));
    CHECK(k.all && strstr(k.all, "hello 42\n"));
    free(k.all);

    /* Removed: nothing more arrives. */
    k.all = NULL;
    k.count = 0;
    smneo_log(SMNEO_LOG_WARN, "after removal");
    CHECK_INT(k.count, 0);
    test_http_server_stop(s);
}

static void test_env_to_stderr(void)
{
    test_http_server *s = test_http_server_start(server_handler, NULL);
    setenv("SMNEO_DEBUG", "1", 1);
    CHECK_INT(smneo_log_enabled(), 1);
    char *err = capture_stderr(send_one, (void *)test_http_server_url(s));
    unsetenv("SMNEO_DEBUG");
    CHECK(err && strstr(err, "smneo[debug] request: POST http://127.0.0.1:"));
    CHECK(err && strstr(err, "smneo[info] hello 42\n"));
    check_redacted(err);
    free(err);
    test_http_server_stop(s);
}

static void test_redacted_text(void)
{
    smneo_request *r = NULL;
    smneo_request_new(&r, "GET",
                      "https://user:pw@bucket.s3.amazonaws.com/key?X-Amz-Credential=AKID%2Fscope&"
                      "X-Amz-Signature=abcdef0123&x-amz-security-token=TOK&part=1");
    smneo_request_add_header(r, "Authorization", "Bearer sekrit-bearer");
    smneo_request_add_header(r, "x-aws-ec2-metadata-token", "imds-token");
    smneo_request_add_header(r, "Accept", "*/*");
    char *text = NULL;
    CHECK_INT(smneo_request_redacted(&text, r), 0);
    CHECK_STR(text, "GET https://<redacted>@bucket.s3.amazonaws.com/key?X-Amz-Credential=AKID%2Fscope&"
                    "X-Amz-Signature=<redacted>&x-amz-security-token=<redacted>&part=1\n"
                    "Authorization: Bearer <redacted>\n"
                    "x-aws-ec2-metadata-token: <redacted>\n"
                    "Accept: */*\n");
    free(text);

    /* Binary bodies are summarised, not dumped. */
    smneo_request_set_body(r, "\x01\x02\x03", 3);
    CHECK_INT(smneo_request_redacted(&text, r), 0);
    CHECK(text && strstr(text, "\n\n<3 bytes of binary data>\n"));
    free(text);
    smneo_request_free(r);

    /* The IMDSv2 token answer: the body is the token. */
    sink k = {PTHREAD_MUTEX_INITIALIZER, NULL, 0};
    smneo_log_set_callback(collect, &k);
    smneo_response *resp = NULL;
    smneo_response_new(&resp, 200);
    smneo_response_add_header(resp, "X-aws-ec2-metadata-token-ttl-seconds", 36, "21600", 5);
    smneo_response_append_body(resp, "AQAEAimdsTOKENvalue==", 21);
    smneo_log_response(resp);
    smneo_response_free(resp);
    smneo_log_set_callback(NULL, NULL);
    CHECK(k.all && !strstr(k.all, "AQAEAimdsTOKENvalue") && strstr(k.all, "<redacted> (21 bytes)"));
    free(k.all);

    CHECK_INT(smneo_request_redacted(NULL, NULL), SMNEO_EINVAL);
}

int main(void)
{
    RUN(test_off_by_default);
    RUN(test_callback_through_transport);
    RUN(test_env_to_stderr);
    RUN(test_redacted_text);
    return smneo_test_summary("test_log");
}
