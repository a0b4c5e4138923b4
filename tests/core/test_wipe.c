/* Secrets are wiped before their memory is freed (issue 18): every block
 * libsmneo allocates and that held a session token, a secret key, a container
 * authorization token or an IMDS token is overwritten before free(), and
 * never grown with realloc() (which may leave the old block behind). Linked
 * with tests/core/support/freecheck.c through -Wl,--wrap (CMakeLists.txt),
 * which reports any free()/realloc()/curl_slist_free_all() of a block still
 * holding one of the watched strings. Paths covered: a signed call through
 * the libcurl transport with the debug log on (headers, the header list given
 * to libcurl, the signer's buffers, error and success responses), container
 * and IMDS credentials from a local server, the shared credentials file,
 * credential_process, and a form body holding a web identity token. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "aws_env.h"
#include "freecheck.h"
#include "harness.h"
#include "httpserver.h"
#include "smneo/auth.h"
#include "smneo/client.h"
#include "smneo/log.h"
#include "smneo/transport.h"

#define TOKEN "WIPECHECK-SessionToken-5f3a9c1e7b2d4086aa51"
#define SECRET "WIPECHECK-SecretKey-0b8e44d29c7f1a3e6d05"
#define IMDS_TOKEN "WIPECHECK-ImdsToken-77c2e9a1f04b3d5e8a62"

static char *tmp;
static int log_leaks;

static void log_sink(int level, const char *message, void *payload)
{
    (void)level;
    (void)payload;
    if (strstr(message, TOKEN) || strstr(message, SECRET) || strstr(message, IMDS_TOKEN))
        log_leaks++;
}

static void set_body(test_http_response *resp, const char *body)
{
    resp->body = strdup(body);
    resp->body_len = strlen(body);
}

static const char *creds_json(void)
{
    return "{\"Code\":\"Success\",\"AccessKeyId\":\"ASIAWIPE\",\"SecretAccessKey\":\"" SECRET "\",\"Token\":\"" TOKEN
           "\",\"Expiration\":\"2099-01-01T00:00:00Z\"}";
}

/* The other end of every scenario (runs on the server's threads, which are
 * not checked). */
static void handler(const test_http_request *req, test_http_response *resp, void *payload)
{
    (void)payload;
    resp->status = 200;
    const char *auth = test_http_header(req, "authorization");
    const char *target = test_http_header(req, "x-amz-target");
    if (target && strstr(target, "DescribeCompilationJob")) {
        /* An error whose body echoes the token (as S3's CanonicalRequest does),
         * then a success holding it in a member. */
        const char *name = strstr(req->body ? req->body : "", "\"err\"") ? "err" : "ok";
        if (!strcmp(name, "err")) {
            resp->status = 400;
            set_body(resp, "{\"__type\":\"ValidationException\",\"message\":\"bad\","
                           "\"CanonicalRequest\":\"POST\\n/\\nx-amz-security-token:" TOKEN "\"}");
        } else {
            set_body(resp, "{\"CompilationJobName\":\"ok\",\"CompilationJobStatus\":\"FAILED\","
                           "\"SessionToken\":\"" TOKEN "\"}");
        }
        snprintf(resp->headers, sizeof resp->headers, "Content-Type: application/x-amz-json-1.1\r\n");
    } else if (!strcmp(req->path, "/container/creds")) {
        if (auth && !strncmp(auth, TOKEN, strlen(TOKEN)))
            set_body(resp, creds_json());
        else
            resp->status = 401;
    } else if (!strcmp(req->method, "PUT") && !strcmp(req->path, "/latest/api/token")) {
        set_body(resp, IMDS_TOKEN);
        snprintf(resp->headers, sizeof resp->headers, "X-aws-ec2-metadata-token-ttl-seconds: 21600\r\n");
    } else if (!strcmp(req->path, "/latest/meta-data/iam/security-credentials/")) {
        set_body(resp, "role1");
    } else if (!strcmp(req->path, "/latest/meta-data/iam/security-credentials/role1")) {
        const char *t = test_http_header(req, "x-aws-ec2-metadata-token");
        if (t && !strcmp(t, IMDS_TOKEN))
            set_body(resp, creds_json());
        else
            resp->status = 401;
    } else if (!strcmp(req->path, "/") && req->body && strstr(req->body, "Action=AssumeRole")) {
        /* STS (AWS Query): credentials holding the watched secret and token. */
        const char *op = strstr(req->body, "Action=AssumeRoleWithWebIdentity") ? "AssumeRoleWithWebIdentity"
                                                                              : "AssumeRole";
        char xml[1024];
        snprintf(xml, sizeof xml,
                 "<%sResponse><%sResult><Credentials><AccessKeyId>ASIAWIPE</AccessKeyId><SecretAccessKey>" SECRET
                 "</SecretAccessKey><SessionToken>" TOKEN "</SessionToken><Expiration>2099-01-01T00:00:00Z"
                 "</Expiration></Credentials></%sResult></%sResponse>",
                 op, op, op, op);
        set_body(resp, xml);
    } else if (!strcmp(req->path, "/sts")) {
        set_body(resp, "<AssumeRoleWithWebIdentityResponse><Credentials><SessionToken>" TOKEN
                       "</SessionToken></Credentials></AssumeRoleWithWebIdentityResponse>");
    } else {
        resp->status = 404;
    }
}

/* Arms the check around one scenario and reports what leaked. */
#define BEGIN()                   \
    do {                          \
        freecheck_reset();        \
        log_leaks = 0;            \
        freecheck_arm(1);         \
    } while (0)
#define END(what)                                                                                          \
    do {                                                                                                   \
        freecheck_arm(0);                                                                                  \
        CHECK_MSG(freecheck_leaks() == 0, "%s: %d block(s) freed holding a secret; first: %s", what,      \
                  freecheck_leaks(), freecheck_first());                                                   \
        CHECK_MSG(log_leaks == 0, "%s: %d log message(s) held a secret", what, log_leaks);               \
    } while (0)

/* Stores into a block the optimiser may not drop (it would: a store right
 * before free() is dead to it). */
static char *filled(size_t size, const char *a, const char *b)
{
    char *p = malloc(size);
    snprintf(p, size, "%s%s", a, b);
    __asm__ volatile("" : : "r"(p) : "memory");
    return p;
}

/* The wrapper itself sees an unwiped block, a realloc of one and libcurl's
 * header copies (so that the scenarios below can fail). */
static void test_wrapper_sees_leaks(void)
{
    freecheck_reset();
    freecheck_arm(FREECHECK_QUIET);
    free(filled(100, "x-amz-security-token: ", TOKEN));
    int after_free = freecheck_leaks();
    char *p = realloc(filled(100, "", SECRET), 5000);
    int after_realloc = freecheck_leaks();
    explicit_bzero(p, 5000);
    free(p);
    struct curl_slist *l = curl_slist_append(NULL, "X-Amz-Security-Token: " TOKEN);
    curl_slist_free_all(l);
    int after_slist = freecheck_leaks();
    p = filled(100, "", TOKEN);
    explicit_bzero(p, 100);
    free(p);
    freecheck_arm(0);
    CHECK_INT(after_free, 1);
    CHECK_INT(after_realloc, 2);
    CHECK_INT(after_slist, 3);
    CHECK_INT(freecheck_leaks(), 3); /* a wiped block is not reported */
    CHECK(strstr(freecheck_first(), "x-amz-security-token: <SECRET>") != NULL);
    freecheck_reset();
}

/* A signed call with a session token through the libcurl transport, the
 * debug log on: an error response that echoes the token, then a success. */
static void test_signed_call(const char *url)
{
    smneo_client_options o = SMNEO_CLIENT_OPTIONS_INIT;
    o.region = "us-east-1";
    o.endpoint_url = url;
    o.access_key_id = "ASIAWIPE";
    o.secret_access_key = SECRET;
    o.session_token = TOKEN;
    o.max_attempts = 1;
    smneo_log_set_callback(log_sink, NULL);
    BEGIN();
    smneo_client *c = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    int rc = smneo_client_new(&c, &o, &err);
    smneo_result *res = NULL;
    int rc_err = c ? smneo_client_call(&res, c, "DescribeCompilationJob", "{\"CompilationJobName\":\"err\"}", 28, &err)
                   : -1;
    int has_response = err.response != NULL;
    smneo_error_clear(&err);
    int rc_ok = c ? smneo_client_call(&res, c, "DescribeCompilationJob", "{\"CompilationJobName\":\"ok\"}", 27, &err)
                  : -1;
    smneo_result_free(res);
    smneo_error_clear(&err);
    smneo_client_free(c);
    END("signed call");
    smneo_log_set_callback(NULL, NULL);
    CHECK_INT(rc, 0);
    CHECK_INT(rc_err, SMNEO_ESERVICE);
    CHECK(has_response);
    CHECK_INT(rc_ok, 0);
}

static void get_chain_credentials(const char *what, int want_rc)
{
    smneo_credential_chain *chain = NULL;
    smneo_credentials *c = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    BEGIN();
    smneo_credential_chain_new(&chain, NULL, NULL);
    int rc = smneo_credential_chain_get(&c, chain, NULL, &err);
    int token_ok = c && c->session_token && !strcmp(c->session_token, TOKEN);
    smneo_credentials_free(c);
    smneo_credential_chain_free(chain);
    END(what);
    CHECK_MSG(rc == want_rc, "%s: rc %d (%s)", what, rc, err.message ? err.message : "");
    CHECK_MSG(want_rc != 0 || token_ok, "%s: credentials not read", what);
    smneo_error_clear(&err);
}

/* Container credentials: a bare authorization token from the environment,
 * then a long one from a file (read in several chunks). */
static void test_container(const char *url)
{
    aws_env_reset(tmp);
    setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
    char full[256];
    snprintf(full, sizeof full, "%s/container/creds", url);
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", full, 1);
    setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", TOKEN, 1);
    smneo_log_set_callback(log_sink, NULL);
    get_chain_credentials("container, token from the environment", 0);
    unsetenv("AWS_CONTAINER_AUTHORIZATION_TOKEN");
    static char long_token[3000];
    snprintf(long_token, sizeof long_token, "%s", TOKEN);
    memset(long_token + strlen(TOKEN), 'k', 2500);
    long_token[strlen(TOKEN) + 2500] = '\0';
    setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", aws_write(tmp, "token", long_token), 1);
    get_chain_credentials("container, token from a file", 0);
    smneo_log_set_callback(NULL, NULL);
    aws_env_reset(tmp);
}

/* IMDSv2: the token answer, the token header, the credentials answer. */
static void test_imds(const char *url)
{
    aws_env_reset(tmp);
    setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", url, 1);
    smneo_log_set_callback(log_sink, NULL);
    get_chain_credentials("IMDS", 0);
    smneo_log_set_callback(NULL, NULL);
    aws_env_reset(tmp);
}

/* The shared credentials file (long enough to be read in several chunks)
 * and credential_process (output long enough to grow its buffer). */
static void test_files_and_process(void)
{
    aws_env_reset(tmp);
    setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
    size_t lines = 200;
    char *text = malloc(512 + lines * 64);
    int n = snprintf(text, 512, "[default]\naws_access_key_id = ASIAWIPE\naws_secret_access_key = %s\n"
                     "aws_session_token = %s\n",
                     SECRET, TOKEN);
    for (size_t i = 0; i < lines; i++)
        n += snprintf(text + n, 64, "# padding line %06zu ..............................\n", i);
    aws_write(tmp, ".aws/credentials", text);
    free(text);
    get_chain_credentials("shared credentials file", 0);
    aws_remove(tmp, ".aws/credentials");

    /* Longer than two reads of the pipe, so that the output buffer grows
     * while holding the token. */
    char json[10240];
    snprintf(json, sizeof json,
             "{\"Version\": 1, \"SessionToken\": \"%s\", \"SecretAccessKey\": \"%s\", \"AccessKeyId\": \"ASIAWIPE\", "
             "\"Padding\": \"%09000d\"}",
             TOKEN, SECRET, 0);
    const char *out = aws_write(tmp, "process.json", json);
    char config[4200];
    snprintf(config, sizeof config, "[default]\ncredential_process = cat %s\n", out);
    aws_write(tmp, ".aws/config", config);
    get_chain_credentials("credential_process", 0);
    aws_remove(tmp, ".aws/config");
    aws_env_reset(tmp);
}

/* A request body holding a web identity token (STS's form), sent and freed;
 * its XML answer holds a session token. */
static void test_form_body(const char *url)
{
    char sts[256];
    snprintf(sts, sizeof sts, "%s/sts", url);
    smneo_transport *t = NULL;
    smneo_log_set_callback(log_sink, NULL);
    BEGIN();
    smneo_curl_transport_new(&t, NULL, NULL);
    smneo_request *r = NULL;
    smneo_request_new(&r, "POST", sts);
    smneo_request_add_header(r, "Content-Type", "application/x-www-form-urlencoded");
    const char *body = "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&WebIdentityToken=" TOKEN;
    smneo_request_set_body(r, body, strlen(body));
    smneo_request_set_body(r, body, strlen(body)); /* replacing a body wipes the old one */
    smneo_response *resp = NULL;
    int rc = smneo_transport_send(&resp, t, r, NULL);
    int status = resp ? resp->status : 0;
    smneo_response_free(resp);
    smneo_request_free(r);
    smneo_transport_free(t);
    END("form body");
    smneo_log_set_callback(NULL, NULL);
    CHECK_INT(rc, 0);
    CHECK_INT(status, 200);
}

/* Web identity (the token file's token) and then an assumed role over it:
 * the token, the parameters, the form bodies, the XML answers, their parsed
 * trees and the credentials are all wiped. */
static void test_sts_chain(const char *url)
{
    aws_env_reset(tmp);
    const char *token = aws_write(tmp, "web-token", TOKEN);
    char cfg[1024];
    snprintf(cfg, sizeof cfg,
             "[profile wi]\nweb_identity_token_file = %s\nrole_arn = arn:aws:iam::123456789012:role/W\n"
             "[profile over]\nrole_arn = arn:aws:iam::123456789012:role/O\nsource_profile = wi\n",
             token);
    aws_write(tmp, ".aws/config", cfg);
    setenv("AWS_ENDPOINT_URL_STS", url, 1);
    setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
    smneo_log_set_callback(log_sink, NULL);
    smneo_credentials *c = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    BEGIN();
    smneo_chain_options o = SMNEO_CHAIN_OPTIONS_INIT;
    o.profile = "over";
    o.region = "us-east-1";
    smneo_credential_chain *ch = NULL;
    int rc = smneo_credential_chain_new(&ch, &o, &err);
    if (rc == 0)
        rc = smneo_credential_chain_get(&c, ch, NULL, &err);
    int ok = c && c->secret_access_key && !strcmp(c->secret_access_key, SECRET) && !strcmp(c->source, "assume-role");
    smneo_credentials_free(c);
    smneo_credential_chain_free(ch);
    smneo_error_clear(&err);
    END("web identity and assumed role");
    smneo_log_set_callback(NULL, NULL);
    CHECK_INT(rc, 0);
    CHECK(ok);
    unsetenv("AWS_ENDPOINT_URL_STS");
}

int main(int argc, char **argv)
{
    (void)argc;
    freecheck_prepare(argv);
    freecheck_watch(TOKEN);
    freecheck_watch(SECRET);
    freecheck_watch(IMDS_TOKEN);
    tmp = smneo_test_tmpdir();
    if (!tmp)
        return 1;
    aws_env_reset(tmp);
    test_http_server *srv = test_http_server_start(handler, NULL);
    if (!srv)
        return 1;
    const char *url = test_http_server_url(srv);
    RUN(test_wrapper_sees_leaks);
    test_signed_call(url);
    test_container(url);
    test_imds(url);
    RUN(test_files_and_process);
    test_form_body(url);
    test_sts_chain(url);
    test_http_server_stop(srv);
    smneo_test_rmtree(tmp);
    free(tmp);
    return smneo_test_summary("test_wipe");
}
