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
    int rc = smneo_transport_send(&resp, t, r, NULL);
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
    smneo_request_new(&r, "GET", "https://bucket.s3.amazonaws.com/");
    /* smneo_request_new refuses user information; a request built by hand
     * may still carry it, and the log never shows it. */
    free(r->url);
    r->url = strdup("https://user:pw@bucket.s3.amazonaws.com/key?X-Amz-Credential=AKID%2Fscope&"
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

/* The text a response is logged as (through the callback sink). */
static char *logged_response(int status, const char *content_type, const char *body)
{
    sink k = {PTHREAD_MUTEX_INITIALIZER, NULL, 0};
    smneo_log_set_callback(collect, &k);
    smneo_response *resp = NULL;
    smneo_response_new(&resp, status);
    if (content_type)
        smneo_response_add_header(resp, "Content-Type", 12, content_type, strlen(content_type));
    smneo_response_append_body(resp, body, strlen(body));
    smneo_log_response(resp);
    smneo_response_free(resp);
    smneo_log_set_callback(NULL, NULL);
    return k.all;
}

/* The text a request is logged as; headers are name, value pairs ending in NULL. */
static char *logged_request(const char *url, const char *body, const char *const *headers)
{
    smneo_request *r = NULL;
    CHECK_INT(smneo_request_new(&r, "POST", url), 0);
    if (!r)
        return NULL;
    for (const char *const *h = headers; h && h[0]; h += 2)
        smneo_request_add_header(r, h[0], h[1]);
    if (body)
        smneo_request_set_body(r, body, strlen(body));
    char *text = NULL;
    CHECK_INT(smneo_request_redacted(&text, r), 0);
    smneo_request_free(r);
    return text;
}

#define CHECK_GONE(text, secret) \
    CHECK_MSG((text) && !strstr((text), (secret)), "%s leaked:\n%s", secret, (text) ? (text) : "(null)")
#define CHECK_HAS(text, part) \
    CHECK_MSG((text) && strstr((text), (part)), "missing %s in:\n%s", part, (text) ? (text) : "(null)")

/* Issue 18: a bare container token, headers of any service, query parameters. */
static void test_redacted_headers(void)
{
    const char *h[] = {"Authorization", "eyJhbGciOiJFUzM4NCJ9.BAREPODTOKEN.sig",
                       "x-amz-sso_bearer_token", "SSOBEARERTOKEN",
                       "X-AMZ-SSO-BEARER-TOKEN", "SSOBEARER2",
                       "X-aws-ec2-metadata-token-ttl-seconds", "21600",
                       "x-amz-mfa", "arn:aws:iam::123456789012:mfa/u 123456",
                       "Cookie", "session=COOKIEVALUE",
                       "X-Api-Key", "APIKEYVALUE",
                       "Accept", "application/json",
                       NULL};
    char *text = logged_request("https://portal.sso.us-east-1.amazonaws.com/federation/credentials?account_id=1"
                                "&role_name=r&access_token=QUERYTOKEN&X-Amz-Signature=QUERYSIG#frag",
                                NULL, h);
    CHECK_HAS(text, "Authorization: <redacted>\n");
    CHECK_GONE(text, "BAREPODTOKEN");
    CHECK_GONE(text, "eyJhbGci");
    CHECK_HAS(text, "x-amz-sso_bearer_token: <redacted>\n");
    CHECK_HAS(text, "X-AMZ-SSO-BEARER-TOKEN: <redacted>\n");
    CHECK_HAS(text, "X-aws-ec2-metadata-token-ttl-seconds: 21600\n");
    CHECK_HAS(text, "x-amz-mfa: <redacted>\n");
    CHECK_HAS(text, "Cookie: <redacted>\n");
    CHECK_HAS(text, "X-Api-Key: <redacted>\n");
    CHECK_HAS(text, "Accept: application/json\n");
    CHECK_HAS(text, "?account_id=1&role_name=r&access_token=<redacted>&X-Amz-Signature=<redacted>#frag\n");
    free(text);

    /* A known scheme keeps its name; an unknown first word is not trusted. */
    const char *schemes[][2] = {{"Bearer abc.def", "Authorization: Bearer <redacted>\n"},
                                {"basic dXNlcjpwdw==", "Authorization: basic <redacted>\n"},
                                {"tok en-with-space", "Authorization: <redacted>\n"},
                                {"AWS4-HMAC-SHA256 Credential=AKID/x, Signature",
                                 "Authorization: AWS4-HMAC-SHA256 <redacted>\n"}};
    for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++) {
        const char *hh[] = {"Authorization", schemes[i][0], NULL};
        text = logged_request("http://127.0.0.1/", NULL, hh);
        CHECK_MSG(text && strstr(text, schemes[i][1]), "%s -> %s", schemes[i][0], text ? text : "(null)");
        free(text);
    }
}

/* Form-encoded bodies (the STS Query protocol): AssumeRoleWithWebIdentity's
 * WebIdentityToken, AssumeRole's MFA TokenCode, also without a content type
 * and with a percent-encoded name. */
static void test_redacted_form(void)
{
    const char *form[] = {"Content-Type", "application/x-www-form-urlencoded; charset=utf-8", NULL};
    char *text = logged_request("https://sts.amazonaws.com/",
                                "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A1%3A"
                                "role%2Fr&RoleSessionName=s1&WebIdentityToken=eyJWEBIDENTITY.TOKEN&DurationSeconds=900",
                                form);
    CHECK_GONE(text, "eyJWEBIDENTITY");
    CHECK_HAS(text, "\nAction=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A1%3A"
                    "role%2Fr&RoleSessionName=s1&WebIdentityToken=<redacted>&DurationSeconds=900\n");
    free(text);
    text = logged_request("https://sts.amazonaws.com/",
                          "Action=AssumeRole&RoleArn=a&RoleSessionName=s&SerialNumber=arn%3Amfa&TokenCode=246810"
                          "&Token%43ode=135791&SAMLAssertion=PHNhbWw%2B",
                          NULL);
    CHECK_GONE(text, "246810");
    CHECK_GONE(text, "135791");
    CHECK_GONE(text, "PHNhbWw");
    CHECK_HAS(text, "SerialNumber=arn%3Amfa&TokenCode=<redacted>&Token%43ode=<redacted>&SAMLAssertion=<redacted>\n");
    free(text);
}

/* JSON bodies of SSO and SSO-OIDC, names in any case and containers under
 * a secret name. */
static void test_redacted_json_services(void)
{
    char *text = logged_response(200, "application/json",
                                 "{\"roleCredentials\":{\"accessKeyId\":\"ASIASSO\",\"secretAccessKey\":\"SSOSECRET\","
                                 "\"sessionToken\":\"SSOSESSION\",\"expiration\":1767225600000}}");
    CHECK_GONE(text, "SSOSECRET");
    CHECK_GONE(text, "SSOSESSION");
    CHECK_HAS(text, "\"accessKeyId\":\"ASIASSO\"");
    CHECK_HAS(text, "\"expiration\":1767225600000");
    free(text);
    text = logged_response(200, "application/json",
                           "{\"accessToken\":\"OIDCACCESS\",\"tokenType\":\"Bearer\",\"expiresIn\":28800,"
                           "\"refreshToken\":\"OIDCREFRESH\",\"idToken\":\"OIDCID\",\"clientSecret\":\"OIDCCLIENT\","
                           "\"clientSecretExpiresAt\":1767225600,\"CLIENT_SECRET\":\"UPPER\","
                           "\"deviceCode\":\"DEVCODE\","
                           "\"codeVerifier\":\"VERIFIER\",\"clientSecrets\":[\"ARR1\",{\"x\":\"ARR2\"}],"
                           "\"nextToken\":\"page-3\",\"clientToken\":\"idem-1\"}");
    const char *gone[] = {"OIDCACCESS", "OIDCREFRESH", "OIDCID", "OIDCCLIENT", "UPPER", "DEVCODE", "VERIFIER",
                          "ARR1", "ARR2"};
    for (size_t i = 0; i < sizeof gone / sizeof gone[0]; i++)
        CHECK_GONE(text, gone[i]);
    CHECK_HAS(text, "\"expiresIn\":28800");
    CHECK_HAS(text, "\"clientSecrets\":\"<redacted>\",\"nextToken\":\"page-3\",\"clientToken\":\"idem-1\"}");
    free(text);
}

/* XML bodies: STS <Credentials>, S3's SignatureDoesNotMatch with the
 * canonical request (which holds the session token), namespaces, CDATA,
 * a secret past the cut and an element never closed. */
static void test_redacted_xml(void)
{
    char *text = logged_response(
        200, "text/xml",
        "<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"
        "  <AssumeRoleWithWebIdentityResult>\n    <Credentials>\n      <AccessKeyId>ASIASTS</AccessKeyId>\n"
        "      <SecretAccessKey>STSSECRET</SecretAccessKey>\n"
        "      <sts:SessionToken a=\"1\">STSTOKEN</sts:SessionToken>\n"
        "      <Expiration>2026-01-01T00:00:00Z</Expiration>\n    </Credentials>\n"
        "    <SubjectFromWebIdentityToken>system:serviceaccount:ns:sa</SubjectFromWebIdentityToken>\n"
        "  </AssumeRoleWithWebIdentityResult>\n</AssumeRoleWithWebIdentityResponse>");
    CHECK_GONE(text, "STSSECRET");
    CHECK_GONE(text, "STSTOKEN");
    CHECK_HAS(text, "<AccessKeyId>ASIASTS</AccessKeyId>\n      <SecretAccessKey><redacted></SecretAccessKey>\n"
                    "      <sts:SessionToken a=\"1\"><redacted></sts:SessionToken>\n"
                    "      <Expiration>2026-01-01T00:00:00Z</Expiration>");
    free(text);

    text = logged_response(
        403, "application/xml",
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SignatureDoesNotMatch</Code><Message>The request "
        "signature we calculated does not match</Message><AWSAccessKeyId>ASIAS3</AWSAccessKeyId><StringToSign>"
        "AWS4-HMAC-SHA256\n20260101T000000Z\n20260101/us-east-1/s3/aws4_request\nSTSHASH</StringToSign>"
        "<SignatureProvided>S3SIGNATURE</SignatureProvided><StringToSignBytes>41 57 53</StringToSignBytes>"
        "<CanonicalRequest>GET\n/key\n\nhost:b.s3.amazonaws.com\nx-amz-security-token:S3SESSIONTOKEN\n\nhost;"
        "x-amz-security-token\nUNSIGNED-PAYLOAD</CanonicalRequest><CanonicalRequestBytes>47 45 54 0a 53 33"
        "</CanonicalRequestBytes><RequestId>RID1</RequestId><Empty/><!-- <SessionToken> --></Error>");
    const char *gone[] = {"S3SESSIONTOKEN", "S3SIGNATURE", "STSHASH", "41 57 53", "47 45 54"};
    for (size_t i = 0; i < sizeof gone / sizeof gone[0]; i++)
        CHECK_GONE(text, gone[i]);
    CHECK_HAS(text, "<Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does "
                    "not match</Message><AWSAccessKeyId>ASIAS3</AWSAccessKeyId><StringToSign><redacted>"
                    "</StringToSign><SignatureProvided><redacted></SignatureProvided>");
    CHECK_HAS(text, "<CanonicalRequest><redacted></CanonicalRequest><CanonicalRequestBytes><redacted>"
                    "</CanonicalRequestBytes><RequestId>RID1</RequestId><Empty/><!-- <SessionToken> --></Error>");
    free(text);

    /* A CDATA section holding a fake end tag, nested same-name elements. */
    text = logged_response(200, NULL,
                           "<r><SessionToken><![CDATA[CD1</SessionToken>CD2]]>CD3</SessionToken>"
                           "<Token><Token>IN1</Token>IN2</Token><ok>yes</ok></r>");
    CHECK_GONE(text, "CD1");
    CHECK_GONE(text, "CD2");
    CHECK_GONE(text, "CD3");
    CHECK_GONE(text, "IN1");
    CHECK_GONE(text, "IN2");
    CHECK_HAS(text, "<r><SessionToken><redacted></SessionToken><Token><redacted></Token><ok>yes</ok></r>");
    free(text);

    /* Never closed (cut short): redacted to the end. */
    text = logged_response(200, NULL, "<r><SessionToken>CUTTOKEN<more>x</more>");
    CHECK_GONE(text, "CUTTOKEN");
    CHECK_HAS(text, "<r><SessionToken><redacted>\n");
    free(text);

    /* A secret past the 8 KiB cut is redacted before the cut is made. */
    size_t pad = 9000;
    char *big = malloc(pad + 128);
    memcpy(big, "<r><Pad>", 8);
    memset(big + 8, 'p', pad);
    strcpy(big + 8 + pad, "</Pad><SessionToken>LATETOKEN</SessionToken></r>");
    text = logged_response(200, NULL, big);
    CHECK_GONE(text, "LATETOKEN");
    CHECK_HAS(text, "bytes in all)");
    free(text);
    free(big);
}

int main(void)
{
    RUN(test_off_by_default);
    RUN(test_callback_through_transport);
    RUN(test_env_to_stderr);
    RUN(test_redacted_text);
    RUN(test_redacted_headers);
    RUN(test_redacted_form);
    RUN(test_redacted_json_services);
    RUN(test_redacted_xml);
    return smneo_test_summary("test_log");
}
