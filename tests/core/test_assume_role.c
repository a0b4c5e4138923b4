/* Assumed roles through the credential chain against smneo.local's STS:
 * chains of profiles, credential_source, external id / session name /
 * duration reaching STS, MFA through the callback, cycles, AccessDenied
 * (one call, profile and role named, no secret), refresh windows. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include <cjson/cJSON.h>

#include "aws_env.h"
#include "harness.h"
#include "httpserver.h"
#include "localserver.h"
#include "smneo.h"

static char *tmp;
static smneo_test_server srv;

#define ROLE(n) "arn:aws:iam::123456789012:role/" n

static void env_for_local(void)
{
    aws_env_reset(tmp);
    setenv("AWS_ENDPOINT_URL", srv.url, 1);
    setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
}

static void admin(const char *method, const char *path, const char *body)
{
    char url[512];
    snprintf(url, sizeof url, "%s%s", srv.url, path);
    int st = smneo_test_http(method, url, body, 0, NULL);
    CHECK_MSG(st == 200, "%s %s -> %d", method, path, st);
}

/* The requests of one service smneo.local answered since the last clear. */
static cJSON *requests_of(const char *service)
{
    char url[512], *body = NULL;
    snprintf(url, sizeof url, "%s/_smneo/requests?service=%s", srv.url, service);
    smneo_test_http("GET", url, NULL, 0, &body);
    cJSON *doc = body ? cJSON_Parse(body) : NULL;
    free(body);
    cJSON *reqs = cJSON_DetachItemFromObject(doc, "requests");
    cJSON_Delete(doc);
    return reqs;
}

static const char *param(const cJSON *req, const char *name)
{
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(req, "params"), name));
}

static int resolve(smneo_credentials **out, const char *profile, smneo_mfa_cb cb, void *payload, smneo_error *err)
{
    smneo_chain_options o = SMNEO_CHAIN_OPTIONS_INIT;
    o.profile = profile;
    o.region = "us-east-1";
    o.mfa_cb = cb;
    o.payload = payload;
    smneo_credential_chain *ch = NULL;
    int rc = smneo_credential_chain_new(&ch, &o, err);
    if (rc == 0)
        rc = smneo_credential_chain_get(out, ch, NULL, err);
    smneo_credential_chain_free(ch);
    return rc;
}

/* GetCallerIdentity signed with c: the ARN STS says they belong to. */
static char *whoami(const smneo_credentials *c)
{
    const smneo_operation *op = smneo_service_operation(smneo_model_service("sts"), "GetCallerIdentity");
    smneo_build_options bo = SMNEO_BUILD_OPTIONS_INIT;
    bo.region = "us-east-1";
    bo.endpoint_url = srv.url;
    smneo_request *req = NULL;
    smneo_transport *t = NULL;
    smneo_response *resp = NULL;
    smneo_result *res = NULL;
    char *arn = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    if (smneo_protocol_build_operation(&req, op, NULL, 0, c, &bo, &err) == 0 &&
        smneo_curl_transport_new(&t, NULL, &err) == 0 && smneo_transport_send(&resp, t, req, &err) == 0 &&
        smneo_protocol_parse_operation(&res, op, resp, &err) == 0) {
        smneo_value root, v;
        smneo_result_root(&root, res);
        if (smneo_value_get(&v, &root, "Arn") == 0 && smneo_value_string(&v))
            arn = strdup(smneo_value_string(&v));
    }
    CHECK_MSG(arn != NULL, "GetCallerIdentity: %s", err.message ? err.message : "");
    smneo_error_clear(&err);
    smneo_result_free(res);
    smneo_response_free(resp);
    smneo_transport_free(t);
    smneo_request_free(req);
    return arn;
}

static void test_chain_of_three(void)
{
    env_for_local();
    aws_write(tmp, ".aws/credentials", "[base]\naws_access_key_id = test\naws_secret_access_key = test\n");
    aws_write(tmp, ".aws/config",
              "[profile top]\nrole_arn = " ROLE("Top") "\nsource_profile = mid\nrole_session_name = top-session\n"
              "external_id = ext-123\nduration_seconds = 1800\n"
              "[profile mid]\nrole_arn = " ROLE("Mid") "\nsource_profile = low\n"
              "[profile low]\nrole_arn = " ROLE("Low") "\nsource_profile = base\nrole_session_name = low-s\n");
    admin("POST", "/_smneo/identity", "{\"roles\":{\"" ROLE("Top") "\":{\"external_id\":\"ext-123\"}}}");
    admin("DELETE", "/_smneo/requests", NULL);
    smneo_credentials *c = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    int rc = resolve(&c, "top", NULL, NULL, &err);
    CHECK_MSG(rc == 0, "%s", err.message ? err.message : "");
    smneo_error_clear(&err);
    if (!c)
        return;
    CHECK_STR(c->source, "assume-role");
    CHECK(!strncmp(c->access_key_id, "ASIA", 4) && c->session_token && c->expiration > 0);
    char *arn = whoami(c);
    CHECK_STR(arn, "arn:aws:sts::123456789012:assumed-role/Top/top-session");
    free(arn);
    cJSON *reqs = requests_of("sts");
    /* Three AssumeRole calls, the deepest role first, each signed with the
     * previous one's credentials; then the GetCallerIdentity. */
    CHECK_INT(cJSON_GetArraySize(reqs), 4);
    const cJSON *r0 = cJSON_GetArrayItem(reqs, 0), *r1 = cJSON_GetArrayItem(reqs, 1), *r2 = cJSON_GetArrayItem(reqs, 2);
    CHECK_STR(param(r0, "RoleArn"), ROLE("Low"));
    CHECK_STR(param(r0, "RoleSessionName"), "low-s");
    CHECK_STR(param(r1, "RoleArn"), ROLE("Mid"));
    CHECK(param(r1, "RoleSessionName") && !strncmp(param(r1, "RoleSessionName"), "botocore-session-", 17));
    CHECK_STR(param(r2, "RoleArn"), ROLE("Top"));
    CHECK_STR(param(r2, "ExternalId"), "ext-123");
    CHECK_STR(param(r2, "DurationSeconds"), "1800"); /* the form's text, as recorded */
    const cJSON *signer0 = cJSON_GetObjectItemCaseSensitive(r0, "signer");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(signer0, "access_key_id")), "test");
    CHECK_INT(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(r2, "status")), 200);
    cJSON_Delete(reqs);
    smneo_credentials_free(c);
}

static void test_credential_source_environment(void)
{
    env_for_local();
    aws_write(tmp, ".aws/config", "[profile envrole]\nrole_arn = " ROLE("FromEnv") "\ncredential_source = Environment\n");
    smneo_credentials *c = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    /* No keys in the environment: an error naming the profile and the role. */
    CHECK_INT(resolve(&c, "envrole", NULL, NULL, &err), SMNEO_ECREDENTIALS);
    CHECK(err.message && strstr(err.message, "'envrole'") && strstr(err.message, ROLE("FromEnv")));
    smneo_error_clear(&err);
    setenv("AWS_ACCESS_KEY_ID", "test", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "test", 1);
    CHECK_INT(resolve(&c, "envrole", NULL, NULL, &err), 0);
    char *arn = c ? whoami(c) : NULL;
    CHECK(arn && strstr(arn, "assumed-role/FromEnv/botocore-session-"));
    free(arn);
    smneo_credentials_free(c);
    c = NULL;
    aws_write(tmp, ".aws/config", "[profile bad]\nrole_arn = " ROLE("X") "\ncredential_source = Laptop\n"
                                  "[profile both]\nrole_arn = " ROLE("X") "\ncredential_source = Environment\n"
                                  "source_profile = bad\n[profile none]\nrole_arn = " ROLE("X") "\n");
    CHECK_INT(resolve(&c, "bad", NULL, NULL, &err), SMNEO_ECREDENTIALS);
    CHECK(err.message && strstr(err.message, "Laptop") && strstr(err.message, "Ec2InstanceMetadata"));
    smneo_error_clear(&err);
    CHECK_INT(resolve(&c, "both", NULL, NULL, &err), SMNEO_ECREDENTIALS);
    CHECK(err.message && strstr(err.message, "both source_profile and credential_source"));
    smneo_error_clear(&err);
    CHECK_INT(resolve(&c, "none", NULL, NULL, &err), SMNEO_ECREDENTIALS);
    CHECK(err.message && strstr(err.message, "neither source_profile nor credential_source"));
    smneo_error_clear(&err);
    /* EcsContainer without its variables, Ec2InstanceMetadata disabled. */
    aws_write(tmp, ".aws/config", "[profile ecs]\nrole_arn = " ROLE("X") "\ncredential_source = EcsContainer\n"
                                  "[profile ec2]\nrole_arn = " ROLE("X") "\ncredential_source = Ec2InstanceMetadata\n");
    CHECK_INT(resolve(&c, "ecs", NULL, NULL, &err), SMNEO_ECREDENTIALS);
    CHECK(err.message && strstr(err.message, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"));
    smneo_error_clear(&err);
    CHECK_INT(resolve(&c, "ec2", NULL, NULL, &err), SMNEO_ECREDENTIALS);
    CHECK(err.message && strstr(err.message, "Ec2InstanceMetadata") && strstr(err.message, "'ec2'"));
    smneo_error_clear(&err);
}

static void container_answer(const test_http_request *req, test_http_response *resp, void *payload)
{
    (void)req, (void)payload;
    resp->status = 200;
    resp->body = strdup("{\"AccessKeyId\":\"test\",\"SecretAccessKey\":\"test\",\"Token\":\"\","
                        "\"Expiration\":\"2099-01-01T00:00:00Z\"}");
    resp->body_len = strlen(resp->body);
}

/* credential_source = EcsContainer: the container provider's keys sign
 * the AssumeRole (the container endpoint is a small local server). */
static void test_credential_source_container(void)
{
    env_for_local();
    test_http_server *hs = test_http_server_start(container_answer, NULL);
    CHECK(hs != NULL);
    if (!hs)
        return;
    char full[256];
    snprintf(full, sizeof full, "%s/creds", test_http_server_url(hs));
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", full, 1);
    aws_write(tmp, ".aws/config", "[profile ecs]\nrole_arn = " ROLE("FromEcs") "\ncredential_source = EcsContainer\n");
    smneo_credentials *c = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    int rc = resolve(&c, "ecs", NULL, NULL, &err);
    CHECK_MSG(rc == 0, "%s", err.message ? err.message : "");
    smneo_error_clear(&err);
    CHECK_INT(test_http_server_requests(hs), 1);
    char *arn = c ? whoami(c) : NULL;
    CHECK(arn && strstr(arn, "assumed-role/FromEcs/"));
    free(arn);
    smneo_credentials_free(c);
    unsetenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
    test_http_server_stop(hs);
}

static int mfa_calls;
static int mfa_cb(char *out, size_t size, const char *serial, const char *profile, void *payload)
{
    mfa_calls++;
    CHECK_STR(serial, "arn:aws:iam::123456789012:mfa/dev");
    CHECK_STR(profile, "mfa");
    snprintf(out, size, "%s", (const char *)payload);
    return 0;
}

static int mfa_cancel(char *out, size_t size, const char *serial, const char *profile, void *payload)
{
    (void)out, (void)size, (void)serial, (void)profile, (void)payload;
    return 1;
}

static void test_mfa(void)
{
    env_for_local();
    aws_write(tmp, ".aws/credentials", "[base]\naws_access_key_id = test\naws_secret_access_key = test\n");
    aws_write(tmp, ".aws/config", "[profile mfa]\nrole_arn = " ROLE("Mfa") "\nsource_profile = base\n"
                                  "mfa_serial = arn:aws:iam::123456789012:mfa/dev\n");
    admin("POST", "/_smneo/identity",
          "{\"roles\":{\"" ROLE("Mfa") "\":{\"mfa_serial\":\"arn:aws:iam::123456789012:mfa/dev\",\"mfa_code\":\"424242\"}}}");
    smneo_credentials *c = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    CHECK_INT(resolve(&c, "mfa", NULL, NULL, &err), SMNEO_ECREDENTIALS);
    CHECK(err.message && strstr(err.message, "'mfa'") && strstr(err.message, "mfa_serial") &&
          strstr(err.message, "callback"));
    smneo_error_clear(&err);
    CHECK_INT(resolve(&c, "mfa", mfa_cancel, NULL, &err), SMNEO_ECREDENTIALS);
    CHECK(err.message && strstr(err.message, "gave no code") && strstr(err.message, "'mfa'"));
    smneo_error_clear(&err);
    mfa_calls = 0;
    CHECK_INT(resolve(&c, "mfa", mfa_cb, "000000", &err), SMNEO_ECREDENTIALS);
    CHECK_STR(err.service_code, "AccessDenied"); /* the wrong code */
    smneo_error_clear(&err);
    CHECK_INT(resolve(&c, "mfa", mfa_cb, "424242", &err), 0);
    CHECK_INT(mfa_calls, 2);
    CHECK(c && !strncmp(c->access_key_id, "ASIA", 4));
    smneo_credentials_free(c);
}

static void test_cycle(void)
{
    env_for_local();
    aws_write(tmp, ".aws/config", "[profile a]\nrole_arn = " ROLE("A") "\nsource_profile = b\n"
                                  "[profile b]\nrole_arn = " ROLE("B") "\nsource_profile = c\n"
                                  "[profile c]\nrole_arn = " ROLE("C") "\nsource_profile = a\n"
                                  "[profile self]\nrole_arn = " ROLE("S") "\nsource_profile = self\n"
                                  "[profile selfkeys]\nrole_arn = " ROLE("S") "\nsource_profile = selfkeys\n"
                                  "aws_access_key_id = test\naws_secret_access_key = test\n"
                                  "[profile ghost]\nrole_arn = " ROLE("G") "\nsource_profile = nobody\n");
    admin("DELETE", "/_smneo/requests", NULL);
    smneo_credentials *c = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    CHECK_INT(resolve(&c, "a", NULL, NULL, &err), SMNEO_ECREDENTIALS);
    CHECK_MSG(err.message && strstr(err.message, "cycle") && strstr(err.message, "'a' -> 'b' -> 'c' -> 'a'"), "%s",
              err.message ? err.message : "");
    smneo_error_clear(&err);
    CHECK_INT(resolve(&c, "self", NULL, NULL, &err), SMNEO_ECREDENTIALS);
    CHECK(err.message && strstr(err.message, "'self' -> 'self'"));
    smneo_error_clear(&err);
    CHECK_INT(resolve(&c, "ghost", NULL, NULL, &err), SMNEO_ECREDENTIALS);
    CHECK(err.message && strstr(err.message, "'nobody'") && strstr(err.message, "does not exist"));
    smneo_error_clear(&err);
    cJSON *reqs = requests_of("sts");
    CHECK_INT(cJSON_GetArraySize(reqs), 0); /* refused before any call */
    cJSON_Delete(reqs);
    /* A profile that is its own source with keys: botocore allows it. */
    CHECK_INT(resolve(&c, "selfkeys", NULL, NULL, &err), 0);
    CHECK(c && !strcmp(c->source, "assume-role"));
    smneo_credentials_free(c);
    smneo_error_clear(&err);
}

static void test_access_denied(void)
{
    env_for_local();
    aws_write(tmp, ".aws/credentials", "[base]\naws_access_key_id = test\naws_secret_access_key = test\n");
    aws_write(tmp, ".aws/config", "[profile denied]\nrole_arn = " ROLE("Denied") "\nsource_profile = base\n");
    admin("POST", "/_smneo/identity", "{\"roles\":{\"" ROLE("Denied") "\":{\"deny\":true}}}");
    admin("DELETE", "/_smneo/requests", NULL);
    smneo_credentials *c = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    CHECK_INT(resolve(&c, "denied", NULL, NULL, &err), SMNEO_ECREDENTIALS);
    CHECK_STR(err.service_code, "AccessDenied");
    CHECK_INT(err.http_status, 403);
    CHECK(err.message && strstr(err.message, "'denied'") && strstr(err.message, ROLE("Denied")));
    CHECK(err.message && !strstr(err.message, "test:")); /* nothing of the source keys */
    smneo_error_clear(&err);
    cJSON *reqs = requests_of("sts");
    CHECK_INT(cJSON_GetArraySize(reqs), 1); /* exactly one STS call: AccessDenied is not retried */
    cJSON_Delete(reqs);
    /* An unreachable STS: the error names the profile, the role and the endpoint. */
    setenv("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:1", 1);
    CHECK_INT(resolve(&c, "denied", NULL, NULL, &err), SMNEO_ECREDENTIALS);
    CHECK(err.message && strstr(err.message, "'denied'") && strstr(err.message, "http://127.0.0.1:1"));
    smneo_error_clear(&err);
}

/* A new chain for o, resolved twice: the two results and the number of
 * STS requests they made. */
static int resolve_twice(const smneo_chain_options *o, smneo_credentials **c1, smneo_credentials **c2)
{
    smneo_credential_chain *ch = NULL;
    admin("DELETE", "/_smneo/requests", NULL);
    CHECK_INT(smneo_credential_chain_new(&ch, o, NULL), 0);
    CHECK_INT(smneo_credential_chain_get(c1, ch, NULL, NULL), 0);
    CHECK_INT(smneo_credential_chain_get(c2, ch, NULL, NULL), 0);
    smneo_credential_chain_free(ch);
    cJSON *reqs = requests_of("sts");
    int n = cJSON_GetArraySize(reqs);
    cJSON_Delete(reqs);
    return n;
}

static void test_refresh_windows(void)
{
    env_for_local();
    aws_write(tmp, ".aws/credentials", "[base]\naws_access_key_id = test\naws_secret_access_key = test\n");
    aws_write(tmp, ".aws/config", "[profile r]\nrole_arn = " ROLE("Refresh") "\nsource_profile = base\n");
    smneo_chain_options o = SMNEO_CHAIN_OPTIONS_INIT;
    o.profile = "r";
    o.region = "us-east-1";
    /* Valid for an hour: the second resolution uses the cache. */
    admin("POST", "/_smneo/identity", "{\"credential_duration\":3600}");
    smneo_credentials *c1 = NULL, *c2 = NULL;
    CHECK_INT(resolve_twice(&o, &c1, &c2), 1);
    CHECK(c1 && c2 && !strcmp(c1->access_key_id, c2->access_key_id));
    smneo_credentials_free(c1);
    smneo_credentials_free(c2);
    /* Two minutes left (inside botocore's 10-minute mandatory window): the
     * next resolution assumes the role again. */
    admin("POST", "/_smneo/identity", "{\"credential_duration\":120}");
    c1 = c2 = NULL;
    CHECK_INT(resolve_twice(&o, &c1, &c2), 2);
    CHECK(c1 && c2 && strcmp(c1->access_key_id, c2->access_key_id) != 0);
    smneo_credentials_free(c1);
    smneo_credentials_free(c2);
    /* Twelve minutes left (advisory window, above the mandatory one): a
     * failed refresh keeps the still-valid credentials. */
    smneo_credential_chain *ch = NULL;
    CHECK_INT(smneo_credential_chain_new(&ch, &o, NULL), 0);
    admin("POST", "/_smneo/identity", "{\"credential_duration\":720}");
    c1 = c2 = NULL;
    CHECK_INT(smneo_credential_chain_get(&c1, ch, NULL, NULL), 0);
    setenv("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:1", 1);
    CHECK_INT(smneo_credential_chain_get(&c2, ch, NULL, NULL), 0);
    CHECK(c1 && c2 && !strcmp(c1->access_key_id, c2->access_key_id));
    unsetenv("AWS_ENDPOINT_URL_STS");
    smneo_credentials_free(c1);
    smneo_credentials_free(c2);
    smneo_credential_chain_free(ch);
    admin("POST", "/_smneo/identity", "{\"credential_duration\":null}");
}

/* Eight threads sharing a chain whose credentials come from STS: one
 * AssumeRole, every thread gets its credentials. */
static smneo_credential_chain *shared_chain;
static void *get_from_thread(void *arg)
{
    smneo_credentials *c = NULL;
    int rc = smneo_credential_chain_get(&c, shared_chain, NULL, NULL);
    *(int *)arg = rc == 0 && c && !strcmp(c->source, "assume-role");
    smneo_credentials_free(c);
    return NULL;
}

static void test_threads_refresh_once(void)
{
    env_for_local();
    aws_write(tmp, ".aws/credentials", "[base]\naws_access_key_id = test\naws_secret_access_key = test\n");
    aws_write(tmp, ".aws/config", "[profile t]\nrole_arn = " ROLE("Threads") "\nsource_profile = base\n");
    smneo_chain_options o = SMNEO_CHAIN_OPTIONS_INIT;
    o.profile = "t";
    o.region = "us-east-1";
    CHECK_INT(smneo_credential_chain_new(&shared_chain, &o, NULL), 0);
    admin("DELETE", "/_smneo/requests", NULL);
    pthread_t th[8];
    int ok[8] = {0};
    for (int i = 0; i < 8; i++)
        pthread_create(&th[i], NULL, get_from_thread, &ok[i]);
    for (int i = 0; i < 8; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < 8; i++)
        CHECK(ok[i]);
    cJSON *reqs = requests_of("sts");
    CHECK_INT(cJSON_GetArraySize(reqs), 1);
    cJSON_Delete(reqs);
    smneo_credential_chain_free(shared_chain);
    shared_chain = NULL;
}

/* A client whose profile assumes a role: its SageMaker calls are signed with
 * the role's credentials. */
static void test_client_uses_role(void)
{
    env_for_local();
    aws_write(tmp, ".aws/credentials", "[base]\naws_access_key_id = test\naws_secret_access_key = test\n");
    aws_write(tmp, ".aws/config", "[profile neo]\nrole_arn = " ROLE("Neo") "\nsource_profile = base\nregion = us-west-2\n");
    smneo_client_options co = SMNEO_CLIENT_OPTIONS_INIT;
    co.profile = "neo";
    co.retry_backoff_scale = 0.01;
    smneo_client *cl = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    CHECK_INT(smneo_client_new(&cl, &co, &err), 0);
    smneo_result *res = NULL;
    int rc = cl ? smneo_client_call(&res, cl, "ListCompilationJobs", "{}", 2, &err) : -1;
    CHECK_MSG(rc == 0, "%s", err.message ? err.message : "");
    smneo_error_clear(&err);
    smneo_result_free(res);
    smneo_client_free(cl);
    char url[512], *body = NULL;
    snprintf(url, sizeof url, "%s/_smneo/requests?service=sagemaker", srv.url);
    smneo_test_http("GET", url, NULL, 0, &body);
    CHECK(body && strstr(body, "assumed-role/Neo/"));
    cJSON *doc = body ? cJSON_Parse(body) : NULL;
    const cJSON *reqs = cJSON_GetObjectItemCaseSensitive(doc, "requests");
    const cJSON *last = cJSON_GetArrayItem(reqs, cJSON_GetArraySize(reqs) - 1);
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(last, "region")), "us-west-2");
    cJSON_Delete(doc);
    free(body);
    /* A version 1 client options struct is still accepted. */
    smneo_client_options v1 = SMNEO_CLIENT_OPTIONS_INIT;
    v1.version = 1;
    v1.region = "us-east-1";
    v1.no_transport = 1;
    v1.access_key_id = v1.secret_access_key = "test";
    CHECK_INT(smneo_client_new(&cl, &v1, NULL), 0);
    smneo_client_free(cl);
}

#define JWT_A "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJjaS1hIiwiYXVkIjoic3RzLmFtYXpvbmF3cy5jb20ifQ.c2ln"
#define JWT_B "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJjaS1iIiwiYXVkIjoic3RzLmFtYXpvbmF3cy5jb20ifQ.c2ln"

/* Web identity from the environment: AssumeRoleWithWebIdentity, unsigned,
 * the token file read again at every refresh. */
static void test_web_identity_env(void)
{
    env_for_local();
    const char *token = aws_write(tmp, "token", JWT_A);
    setenv("AWS_WEB_IDENTITY_TOKEN_FILE", token, 1);
    setenv("AWS_ROLE_ARN", ROLE("Web"), 1);
    setenv("AWS_ROLE_SESSION_NAME", "ci-job", 1);
    admin("POST", "/_smneo/identity", "{\"credential_duration\":120}");
    admin("DELETE", "/_smneo/requests", NULL);
    smneo_chain_options o = SMNEO_CHAIN_OPTIONS_INIT;
    o.region = "us-east-1";
    smneo_credential_chain *ch = NULL;
    CHECK_INT(smneo_credential_chain_new(&ch, &o, NULL), 0);
    smneo_credentials *c1 = NULL, *c2 = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    int rc = smneo_credential_chain_get(&c1, ch, NULL, &err);
    CHECK_MSG(rc == 0, "%s", err.message ? err.message : "");
    smneo_error_clear(&err);
    CHECK(c1 && !strcmp(c1->source, "web-identity") && c1->session_token);
    char *arn = c1 ? whoami(c1) : NULL;
    CHECK_STR(arn, "arn:aws:sts::123456789012:assumed-role/Web/ci-job");
    free(arn);
    /* The token rotates; two minutes left: the refresh reads the new one. */
    aws_write(tmp, "token", JWT_B);
    CHECK_INT(smneo_credential_chain_get(&c2, ch, NULL, NULL), 0);
    CHECK(c1 && c2 && strcmp(c1->access_key_id, c2->access_key_id) != 0);
    cJSON *reqs = requests_of("sts");
    CHECK_INT(cJSON_GetArraySize(reqs), 3); /* web identity, GetCallerIdentity, web identity */
    const cJSON *w1 = cJSON_GetArrayItem(reqs, 0), *w2 = cJSON_GetArrayItem(reqs, 2);
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(w1, "operation")), "AssumeRoleWithWebIdentity");
    CHECK(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(w1, "signer"))); /* unsigned */
    CHECK_STR(param(w1, "RoleArn"), ROLE("Web"));
    CHECK_STR(param(w1, "RoleSessionName"), "ci-job");
    CHECK(param(w1, "WebIdentityToken") && param(w2, "WebIdentityToken") &&
          strcmp(param(w1, "WebIdentityToken"), param(w2, "WebIdentityToken")) != 0);
    cJSON_Delete(reqs);
    smneo_credentials_free(c1);
    smneo_credentials_free(c2);
    smneo_credential_chain_free(ch);
    admin("POST", "/_smneo/identity", "{\"credential_duration\":null}");

    /* An explicit profile ignores the environment's web identity (botocore). */
    aws_write(tmp, ".aws/credentials", "[keys]\naws_access_key_id = test\naws_secret_access_key = test\n");
    smneo_credentials *c = NULL;
    CHECK_INT(resolve(&c, "keys", NULL, NULL, NULL), 0);
    CHECK(c && !strcmp(c->source, "shared-credentials-file"));
    smneo_credentials_free(c);
    c = NULL;
    /* No role: an error naming the setting; a missing file: named, its path. */
    unsetenv("AWS_ROLE_ARN");
    CHECK_INT(resolve(&c, NULL, NULL, NULL, &err), SMNEO_ECREDENTIALS);
    CHECK(err.message && strstr(err.message, "AWS_ROLE_ARN") && strstr(err.message, "role_arn"));
    smneo_error_clear(&err);
    setenv("AWS_ROLE_ARN", ROLE("Web"), 1);
    setenv("AWS_WEB_IDENTITY_TOKEN_FILE", "/nonexistent/token", 1);
    CHECK_INT(resolve(&c, NULL, NULL, NULL, &err), SMNEO_ECREDENTIALS);
    CHECK(err.message && strstr(err.message, "/nonexistent/token") && strstr(err.message, ROLE("Web")));
    smneo_error_clear(&err);
    /* STS refuses the token: its code, the role, never the token. */
    setenv("AWS_WEB_IDENTITY_TOKEN_FILE", token, 1);
    admin("POST", "/_smneo/identity", "{\"web_identity\":{\"accept\":\"none\",\"error\":\"InvalidIdentityToken\"}}");
    CHECK_INT(resolve(&c, NULL, NULL, NULL, &err), SMNEO_ECREDENTIALS);
    CHECK_STR(err.service_code, "InvalidIdentityToken");
    CHECK(err.message && strstr(err.message, ROLE("Web")) && !strstr(err.message, "eyJ"));
    smneo_error_clear(&err);
    admin("POST", "/_smneo/identity", "{\"web_identity\":{\"accept\":\"jwt\",\"error\":null}}");
}

/* Web identity from a profile's keys, and as the source of a role. */
static void test_web_identity_profile(void)
{
    env_for_local();
    const char *token = aws_write(tmp, "token", JWT_A);
    char cfg[2048];
    snprintf(cfg, sizeof cfg,
             "[profile wi]\nweb_identity_token_file = %s\nrole_arn = " ROLE("WebProfile") "\n"
             "role_session_name = from-profile\n"
             "[profile over-wi]\nrole_arn = " ROLE("OverWeb") "\nsource_profile = wi\nrole_session_name = over\n",
             token);
    aws_write(tmp, ".aws/config", cfg);
    admin("DELETE", "/_smneo/requests", NULL);
    smneo_credentials *c = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    CHECK_INT(resolve(&c, "wi", NULL, NULL, &err), 0);
    char *arn = c ? whoami(c) : NULL;
    CHECK_STR(arn, "arn:aws:sts::123456789012:assumed-role/WebProfile/from-profile");
    free(arn);
    smneo_credentials_free(c);
    c = NULL;
    int rc = resolve(&c, "over-wi", NULL, NULL, &err);
    CHECK_MSG(rc == 0, "%s", err.message ? err.message : "");
    smneo_error_clear(&err);
    CHECK(c && !strcmp(c->source, "assume-role"));
    arn = c ? whoami(c) : NULL;
    CHECK_STR(arn, "arn:aws:sts::123456789012:assumed-role/OverWeb/over");
    free(arn);
    smneo_credentials_free(c);
    cJSON *reqs = requests_of("sts");
    /* wi: web identity + whoami; over-wi: web identity, AssumeRole (signed by
     * the web identity's role), whoami. */
    CHECK_INT(cJSON_GetArraySize(reqs), 5);
    const cJSON *ar = cJSON_GetArrayItem(reqs, 3);
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ar, "operation")), "AssumeRole");
    const cJSON *signer = cJSON_GetObjectItemCaseSensitive(ar, "signer");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(signer, "arn")),
              "arn:aws:sts::123456789012:assumed-role/WebProfile/from-profile");
    cJSON_Delete(reqs);
}

/* ---- IAM Identity Center -------------------------------------------------- */

#define SSO_CONFIG                                                                                         \
    "[profile sso]\nsso_session = corp\nsso_account_id = 111122223333\nsso_role_name = Admin\n"           \
    "[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = us-east-1\n"         \
    "[profile legacy]\nsso_start_url = https://legacy.awsapps.com/start\nsso_region = us-east-1\n"        \
    "sso_account_id = 111122223333\nsso_role_name = ReadOnly\n"                                             \
    "[profile over-sso]\nrole_arn = " ROLE("OverSso") "\nsource_profile = sso\nrole_session_name = over\n" \
    "[profile no-region]\nsso_start_url = https://x.awsapps.com/start\nsso_account_id = 1\nsso_role_name = R\n" \
    "[profile ghost-session]\nsso_session = nope\nsso_account_id = 1\nsso_role_name = R\n"

/* HOME/.aws/sso/cache/<sha1 of key>.json */
static char *cache_path(const char *key)
{
    unsigned char md[20];
    unsigned int n = 0;
    EVP_Digest(key, strlen(key), md, &n, EVP_sha1(), NULL);
    char hex[41];
    for (int i = 0; i < 20; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    char rel[128];
    snprintf(rel, sizeof rel, ".aws/sso/cache/%s.json", hex);
    char *path = malloc(strlen(tmp) + strlen(rel) + 2);
    sprintf(path, "%s/%s", tmp, rel);
    return path;
}

static void utc(char out[32], long long t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void write_cache(const char *key, const char *access, long long expires_in, const char *refresh)
{
    char exp[32], reg[32], doc[1024], dir[1024];
    utc(exp, (long long)time(NULL) + expires_in);
    utc(reg, (long long)time(NULL) + 86400);
    snprintf(dir, sizeof dir, "mkdir -p %s/.aws/sso/cache", tmp);
    CHECK(system(dir) == 0);
    if (refresh)
        snprintf(doc, sizeof doc,
                 "{\"startUrl\": \"https://corp.awsapps.com/start\", \"region\": \"us-east-1\", \"accessToken\": "
                 "\"%s\", \"expiresAt\": \"%s\", \"clientId\": \"cid\", \"clientSecret\": \"csecret\", "
                 "\"registrationExpiresAt\": \"%s\", \"refreshToken\": \"%s\"}",
                 access, exp, reg, refresh);
    else
        snprintf(doc, sizeof doc, "{\"startUrl\": \"x\", \"region\": \"us-east-1\", \"accessToken\": \"%s\", "
                                  "\"expiresAt\": \"%s\"}", access, exp);
    char *path = cache_path(key);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fputs(doc, f);
        fclose(f);
    }
    free(path);
}

static void test_sso(void)
{
    env_for_local();
    aws_write(tmp, ".aws/config", SSO_CONFIG);
    admin("POST", "/_smneo/identity",
          "{\"sso_tokens\":{\"tok-live\":{\"expires_in\":3600,\"user\":\"alice\"},"
          "\"tok-legacy\":{\"expires_in\":3600,\"user\":\"bob\"}}}");
    admin("DELETE", "/_smneo/requests", NULL);
    /* An sso-session profile: the token cached under sha1("corp"). */
    write_cache("corp", "tok-live", 3600, NULL);
    smneo_credentials *c = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    int rc = resolve(&c, "sso", NULL, NULL, &err);
    CHECK_MSG(rc == 0, "%s", err.message ? err.message : "");
    smneo_error_clear(&err);
    CHECK(c && !strcmp(c->source, "sso") && !strncmp(c->access_key_id, "ASIA", 4) && c->expiration > time(NULL));
    char *arn = c ? whoami(c) : NULL;
    CHECK(arn && strstr(arn, "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_") &&
          strstr(arn, "/alice"));
    free(arn);
    smneo_credentials_free(c);
    c = NULL;
    cJSON *reqs = requests_of("sso");
    CHECK_INT(cJSON_GetArraySize(reqs), 1);
    const cJSON *g = cJSON_GetArrayItem(reqs, 0);
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(g, "operation")), "GetRoleCredentials");
    CHECK_STR(param(g, "roleName"), "Admin");
    CHECK_STR(param(g, "accountId"), "111122223333");
    CHECK(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(g, "signer")));
    cJSON_Delete(reqs);
    /* A legacy profile: cached under sha1 of its start URL. */
    write_cache("https://legacy.awsapps.com/start", "tok-legacy", 3600, NULL);
    rc = resolve(&c, "legacy", NULL, NULL, &err);
    CHECK_MSG(rc == 0, "%s", err.message ? err.message : "");
    smneo_error_clear(&err);
    arn = c ? whoami(c) : NULL;
    CHECK(arn && strstr(arn, "AWSReservedSSO_ReadOnly_") && strstr(arn, "/bob"));
    free(arn);
    smneo_credentials_free(c);
    c = NULL;
    /* A role whose source_profile is the SSO profile. */
    rc = resolve(&c, "over-sso", NULL, NULL, &err);
    CHECK_MSG(rc == 0, "%s", err.message ? err.message : "");
    smneo_error_clear(&err);
    arn = c ? whoami(c) : NULL;
    CHECK_STR(arn, "arn:aws:sts::123456789012:assumed-role/OverSso/over");
    free(arn);
    smneo_credentials_free(c);
    c = NULL;

    /* Errors name the command to run. */
    write_cache("https://legacy.awsapps.com/start", "tok-legacy", -60, NULL);
    CHECK_INT(resolve(&c, "legacy", NULL, NULL, &err), SMNEO_ESSOUNAUTHORIZED);
    CHECK(err.message && strstr(err.message, "aws sso login --profile legacy") && !strstr(err.message, "tok-"));
    smneo_error_clear(&err);
    write_cache("https://legacy.awsapps.com/start", "tok-unknown", 3600, NULL);
    rc = resolve(&c, "legacy", NULL, NULL, &err);
    CHECK_MSG(rc == SMNEO_ESSOUNAUTHORIZED, "%d %s %s", rc, err.message, err.service_code); /* the portal refuses it */
    CHECK(err.message && strstr(err.message, "aws sso login --profile legacy") && !strstr(err.message, "tok-"));
    smneo_error_clear(&err);
    char *path = cache_path("corp");
    unlink(path);
    CHECK_INT(resolve(&c, "sso", NULL, NULL, &err), SMNEO_ESSOTOKEN);
    CHECK(err.message && strstr(err.message, "aws sso login --sso-session corp") && strstr(err.message, path));
    smneo_error_clear(&err);
    free(path);
    CHECK_INT(resolve(&c, "no-region", NULL, NULL, &err), SMNEO_ECREDENTIALS);
    CHECK(err.message && strstr(err.message, "'no-region'") && strstr(err.message, "sso_region"));
    smneo_error_clear(&err);
    CHECK_INT(resolve(&c, "ghost-session", NULL, NULL, &err), SMNEO_ECREDENTIALS);
    CHECK(err.message && strstr(err.message, "[sso-session nope]"));
    smneo_error_clear(&err);
}

/* An sso-session token with less than 15 minutes left is refreshed through
 * SSO-OIDC CreateToken with its refresh token; the cache file is replaced. */
static void test_sso_refresh(void)
{
    env_for_local();
    aws_write(tmp, ".aws/config", SSO_CONFIG);
    admin("POST", "/_smneo/identity",
          "{\"refresh_tokens\":{\"rt-1\":{\"client_id\":\"cid\",\"client_secret\":\"csecret\","
          "\"access_token_ttl\":28800,\"user\":\"carol\"}}}");
    admin("DELETE", "/_smneo/requests", NULL);
    write_cache("corp", "tok-old-not-known", 300, "rt-1");
    smneo_credentials *c = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    int rc = resolve(&c, "sso", NULL, NULL, &err);
    CHECK_MSG(rc == 0, "%s", err.message ? err.message : "");
    smneo_error_clear(&err);
    char *arn = c ? whoami(c) : NULL;
    CHECK(arn && strstr(arn, "/carol"));
    free(arn);
    smneo_credentials_free(c);
    c = NULL;
    cJSON *oidc = requests_of("sso-oidc");
    CHECK_INT(cJSON_GetArraySize(oidc), 1);
    const cJSON *ct = cJSON_GetArrayItem(oidc, 0);
    CHECK_STR(param(ct, "grantType"), "refresh_token");
    CHECK_STR(param(ct, "clientId"), "cid");
    cJSON_Delete(oidc);
    /* The cache holds the new token, the rotated refresh token, the client. */
    char *path = cache_path("corp");
    char *text = smneo_test_read_file(path, NULL);
    cJSON *doc = text ? cJSON_Parse(text) : NULL;
    const char *at = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc, "accessToken"));
    const char *rt = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc, "refreshToken"));
    CHECK(at && !strncmp(at, "smneo-sso-", 10));
    CHECK(rt && strcmp(rt, "rt-1") != 0);
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc, "clientSecret")), "csecret");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc, "startUrl")), "https://corp.awsapps.com/start");
    char exp_min[32];
    utc(exp_min, (long long)time(NULL) + 28000);
    const char *exp = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc, "expiresAt"));
    CHECK(exp && strcmp(exp, exp_min) > 0);
    struct stat stt;
    CHECK(stat(path, &stt) == 0 && (stt.st_mode & 0777) == 0600);
    char ls[1200];
    snprintf(ls, sizeof ls, "ls %s/.aws/sso/cache | grep -c tmp", tmp);
    FILE *pp = popen(ls, "r");
    int ntmp = -1;
    if (pp) {
        if (fscanf(pp, "%d", &ntmp) != 1)
            ntmp = -1;
        pclose(pp);
    }
    CHECK_INT(ntmp, 0); /* written to a temporary file, then renamed */
    cJSON_Delete(doc);
    free(text);
    /* An expired token whose refresh is refused: botocore's
     * TokenRetrievalError, naming the sso-session login. */
    write_cache("corp", "tok-gone", -60, "rt-revoked");
    CHECK_INT(resolve(&c, "sso", NULL, NULL, &err), SMNEO_ESSOTOKEN);
    CHECK(err.message && strstr(err.message, "aws sso login --sso-session corp") && !strstr(err.message, "rt-"));
    smneo_error_clear(&err);
    free(path);
}

/* A client call whose credentials come from profile: rc, the error. */
static int client_call(const char *profile, smneo_mfa_cb cb, void *payload, smneo_error *err)
{
    smneo_client_options co = SMNEO_CLIENT_OPTIONS_INIT;
    co.profile = profile;
    co.region = "us-east-1";
    co.retry_backoff_scale = 0.001;
    co.mfa_cb = cb;
    co.payload = payload;
    smneo_client *cl = NULL;
    int rc = smneo_client_new(&cl, &co, err);
    smneo_result *res = NULL;
    if (rc == 0)
        rc = smneo_client_call(&res, cl, "ListCompilationJobs", "{}", 2, err);
    smneo_result_free(res);
    smneo_client_free(cl);
    return rc;
}

/* The statuses of the requests of one service, e.g. "400,400,200". */
static char *statuses_of(const char *service)
{
    cJSON *reqs = requests_of(service);
    char *out = calloc(1, 256);
    const cJSON *r;
    cJSON_ArrayForEach(r, reqs)
    {
        if (out && strlen(out) < 240)
        {
            const cJSON *st = cJSON_GetObjectItemCaseSensitive(r, "status"); /* null: no answer */
            snprintf(out + strlen(out), 256 - strlen(out), "%s%d", *out ? "," : "",
                     cJSON_IsNumber(st) ? st->valueint : 0);
        }
    }
    cJSON_Delete(reqs);
    return out;
}

#define CHECK_STATUSES(service, want)          \
    do {                                       \
        char *got_ = statuses_of(service);     \
        CHECK_STR(got_, want);                 \
        free(got_);                            \
    } while (0)

/* STS, SSO and SSO-OIDC requests are retried as botocore's clients retry
 * them: throttling, 5xx and connection errors, and STS's
 * IDPCommunicationError, within the retry mode's attempts (standard: 3;
 * AWS_MAX_ATTEMPTS, AWS_RETRY_MODE); the same parameters each time (the MFA
 * code asked once); not AccessDenied, InvalidIdentityToken or the SSO
 * portal's UnauthorizedException. */
static void test_retries(void)
{
    env_for_local();
    aws_write(tmp, ".aws/credentials", "[base]\naws_access_key_id = test\naws_secret_access_key = test\n");
    const char *token = aws_write(tmp, "token", JWT_A);
    char cfg[4096];
    snprintf(cfg, sizeof cfg,
             "[profile mfa]\nrole_arn = " ROLE("Mfa") "\nsource_profile = base\n"
             "mfa_serial = arn:aws:iam::123456789012:mfa/dev\n"
             "[profile plain]\nrole_arn = " ROLE("Plain") "\nsource_profile = base\nrole_session_name = plain-s\n"
             "[profile denied]\nrole_arn = " ROLE("Denied") "\nsource_profile = base\n"
             "[profile wi]\nweb_identity_token_file = %s\nrole_arn = " ROLE("Web") "\nrole_session_name = wi-s\n"
             SSO_CONFIG,
             token);
    aws_write(tmp, ".aws/config", cfg);
    admin("POST", "/_smneo/identity",
          "{\"roles\":{\"" ROLE("Mfa") "\":{\"mfa_serial\":\"arn:aws:iam::123456789012:mfa/dev\",\"mfa_code\":"
          "\"424242\"},\"" ROLE("Denied") "\":{\"deny\":true}},"
          "\"sso_tokens\":{\"tok-live\":{\"expires_in\":3600,\"user\":\"alice\"}}}");
    smneo_error err = SMNEO_ERROR_INIT;

    /* Two throttles, then the MFA role: three AssumeRoles, one code. */
    admin("DELETE", "/_smneo/requests", NULL);
    admin("POST", "/_smneo/faults", "{\"kind\":\"throttle\",\"count\":2,\"target\":\"sts\"}");
    mfa_calls = 0;
    int rc = client_call("mfa", mfa_cb, "424242", &err);
    CHECK_MSG(rc == 0, "%s", err.message ? err.message : "");
    smneo_error_clear(&err);
    CHECK_INT(mfa_calls, 1);
    CHECK_STATUSES("sts", "400,400,200");
    cJSON *reqs = requests_of("sts");
    CHECK_STR(param(cJSON_GetArrayItem(reqs, 2), "TokenCode"), "424242");
    cJSON_Delete(reqs);

    /* 503 three times: three attempts (standard), then STS's error. */
    admin("DELETE", "/_smneo/requests", NULL);
    admin("POST", "/_smneo/faults", "{\"kind\":\"503\",\"count\":3,\"target\":\"sts\"}");
    CHECK_INT(client_call("plain", NULL, NULL, &err), SMNEO_ECREDENTIALS);
    CHECK_STR(err.service_code, "ServiceUnavailable");
    CHECK(err.message && strstr(err.message, "'plain'") && strstr(err.message, ROLE("Plain")));
    smneo_error_clear(&err);
    CHECK_STATUSES("sts", "503,503,503");
    CHECK_STATUSES("sagemaker", "");
    /* AWS_MAX_ATTEMPTS and legacy mode (5 attempts) count too. */
    admin("DELETE", "/_smneo/requests", NULL);
    admin("POST", "/_smneo/faults", "{\"kind\":\"500\",\"count\":4,\"target\":\"sts\"}");
    setenv("AWS_RETRY_MODE", "legacy", 1);
    CHECK_INT(client_call("plain", NULL, NULL, &err), 0);
    smneo_error_clear(&err);
    CHECK_STATUSES("sts", "500,500,500,500,200");
    unsetenv("AWS_RETRY_MODE");
    admin("DELETE", "/_smneo/requests", NULL);
    admin("POST", "/_smneo/faults", "{\"kind\":\"500\",\"count\":4,\"target\":\"sts\"}");
    setenv("AWS_MAX_ATTEMPTS", "2", 1);
    CHECK_INT(client_call("plain", NULL, NULL, &err), SMNEO_ECREDENTIALS);
    smneo_error_clear(&err);
    CHECK_STATUSES("sts", "500,500");
    unsetenv("AWS_MAX_ATTEMPTS");
    admin("DELETE", "/_smneo/faults", NULL);

    /* A connection closed without an answer is retried. */
    admin("DELETE", "/_smneo/requests", NULL);
    admin("POST", "/_smneo/faults", "{\"kind\":\"close\",\"count\":1,\"target\":\"sts\"}");
    CHECK_INT(client_call("plain", NULL, NULL, &err), 0);
    smneo_error_clear(&err);
    CHECK_STATUSES("sts", "0,200");

    /* AccessDenied: one call. */
    admin("DELETE", "/_smneo/requests", NULL);
    CHECK_INT(client_call("denied", NULL, NULL, &err), SMNEO_ECREDENTIALS);
    CHECK_STR(err.service_code, "AccessDenied");
    smneo_error_clear(&err);
    CHECK_STATUSES("sts", "403");

    /* Web identity: IDPCommunicationError is retried, InvalidIdentityToken
     * is not (botocore 1.43 retries only the former). */
    admin("DELETE", "/_smneo/requests", NULL);
    admin("POST", "/_smneo/identity", "{\"web_identity\":{\"accept\":\"none\",\"error\":\"IDPCommunicationError\"}}");
    CHECK_INT(client_call("wi", NULL, NULL, &err), SMNEO_ECREDENTIALS);
    CHECK_STR(err.service_code, "IDPCommunicationError");
    CHECK(err.message && !strstr(err.message, "eyJ"));
    smneo_error_clear(&err);
    CHECK_STATUSES("sts", "400,400,400");
    admin("DELETE", "/_smneo/requests", NULL);
    admin("POST", "/_smneo/identity", "{\"web_identity\":{\"accept\":\"none\",\"error\":\"InvalidIdentityToken\"}}");
    CHECK_INT(client_call("wi", NULL, NULL, &err), SMNEO_ECREDENTIALS);
    CHECK_STR(err.service_code, "InvalidIdentityToken");
    smneo_error_clear(&err);
    CHECK_STATUSES("sts", "400");
    admin("POST", "/_smneo/identity", "{\"web_identity\":{\"accept\":\"jwt\",\"error\":null}}");

    /* The SSO portal: a 500 is retried; UnauthorizedException is not. */
    write_cache("corp", "tok-live", 3600, NULL);
    admin("DELETE", "/_smneo/requests", NULL);
    admin("POST", "/_smneo/faults", "{\"kind\":\"500\",\"count\":1,\"target\":\"sso\"}");
    rc = client_call("sso", NULL, NULL, &err);
    CHECK_MSG(rc == 0, "%s", err.message ? err.message : "");
    smneo_error_clear(&err);
    CHECK_STATUSES("sso", "500,200");
    write_cache("corp", "tok-unknown", 3600, NULL);
    admin("DELETE", "/_smneo/requests", NULL);
    CHECK_INT(client_call("sso", NULL, NULL, &err), SMNEO_ESSOUNAUTHORIZED);
    smneo_error_clear(&err);
    CHECK_STATUSES("sso", "401");

    /* Sans-I/O: the first send has no delay, a resend its backoff. */
    admin("DELETE", "/_smneo/requests", NULL);
    admin("POST", "/_smneo/faults", "{\"kind\":\"throttle\",\"count\":1,\"target\":\"sts\"}");
    smneo_chain_options o = SMNEO_CHAIN_OPTIONS_INIT;
    o.profile = "plain";
    o.region = "us-east-1";
    smneo_credential_chain *ch = NULL;
    smneo_transport *t = NULL;
    CHECK_INT(smneo_credential_chain_new(&ch, &o, NULL), 0);
    CHECK_INT(smneo_curl_transport_new(&t, NULL, NULL), 0);
    smneo_chain_resolution *res = NULL;
    CHECK_INT(smneo_chain_resolution_new(&res, ch, 0), 0);
    long delays[4] = {-1, -1, -1, -1};
    int sends = 0;
    smneo_credentials *c = NULL;
    for (;;) {
        smneo_request *req = NULL;
        rc = smneo_chain_resolution_step(&req, &c, res, &err);
        if (rc != 1)
            break;
        if (sends < 4)
            delays[sends] = smneo_chain_resolution_delay_ms(res);
        sends++;
        smneo_response *resp = NULL;
        if (smneo_transport_send(&resp, t, req, NULL) == 0)
            smneo_chain_resolution_feed(res, resp, 0);
        else
            smneo_chain_resolution_feed(res, NULL, SMNEO_ECONNECT);
        smneo_response_free(resp);
        smneo_request_free(req);
    }
    CHECK_MSG(rc == 0, "%s", err.message ? err.message : "");
    smneo_error_clear(&err);
    CHECK_INT(sends, 2);
    CHECK(delays[0] == 0 && delays[1] >= 0 && delays[1] <= 1000); /* standard: rand * 2^0 s */
    CHECK_INT(smneo_chain_resolution_delay_ms(res), 0);          /* nothing outstanding */
    smneo_credentials_free(c);
    smneo_chain_resolution_free(res);
    smneo_transport_free(t);
    smneo_credential_chain_free(ch);
    /* A bad AWS_RETRY_MODE is named when a role is to be assumed. */
    setenv("AWS_RETRY_MODE", "sometimes", 1);
    c = NULL;
    CHECK_INT(resolve(&c, "plain", NULL, NULL, &err), SMNEO_EINVAL);
    CHECK(err.message && strstr(err.message, "AWS_RETRY_MODE") && strstr(err.message, "sometimes"));
    smneo_error_clear(&err);
    unsetenv("AWS_RETRY_MODE");
    admin("DELETE", "/_smneo/faults", NULL);
}

int main(void)
{
    tmp = smneo_test_tmpdir();
    if (!tmp || smneo_test_local_start(&srv, NULL) != 0) {
        fprintf(stderr, "cannot start smneo.local\n");
        return 1;
    }
    RUN(test_chain_of_three);
    RUN(test_credential_source_environment);
    RUN(test_credential_source_container);
    RUN(test_mfa);
    RUN(test_cycle);
    RUN(test_access_denied);
    RUN(test_refresh_windows);
    RUN(test_threads_refresh_once);
    RUN(test_client_uses_role);
    RUN(test_web_identity_env);
    RUN(test_web_identity_profile);
    RUN(test_sso);
    RUN(test_sso_refresh);
    RUN(test_retries);
    smneo_test_server_stop(&srv);
    smneo_test_rmtree(tmp);
    free(tmp);
    return smneo_test_summary("test_assume_role");
}
