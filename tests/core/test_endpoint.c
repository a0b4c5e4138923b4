/* Endpoint resolution: the partition table (values obtained from botocore
 * 1.43's SageMaker endpoint rule set at development time), FIPS/dual-stack
 * settings and configured endpoint URLs. */
#include <stdlib.h>
#include <string.h>

#include "aws_env.h"
#include "harness.h"
#include "smneo/client.h"
#include "smneo/protocol.h"
#include "smneo/endpoint.h"

static char *tmp;

/* region, use_fips, use_dualstack, URL as botocore 1.43 resolves it. */
static const struct {
    const char *region;
    int fips, dual;
    const char *url;
} TABLE[] = {
    {"us-east-1", 0, 0, "https://api.sagemaker.us-east-1.amazonaws.com"},
    {"us-east-1", 0, 1, "https://api.sagemaker.us-east-1.api.aws"},
    {"us-east-1", 1, 0, "https://api-fips.sagemaker.us-east-1.amazonaws.com"},
    {"us-east-1", 1, 1, "https://api.sagemaker-fips.us-east-1.api.aws"},
    {"us-west-2", 0, 0, "https://api.sagemaker.us-west-2.amazonaws.com"},
    {"us-west-2", 0, 1, "https://api.sagemaker.us-west-2.api.aws"},
    {"us-west-2", 1, 0, "https://api-fips.sagemaker.us-west-2.amazonaws.com"},
    {"us-west-2", 1, 1, "https://api.sagemaker-fips.us-west-2.api.aws"},
    {"eu-central-1", 0, 0, "https://api.sagemaker.eu-central-1.amazonaws.com"},
    {"eu-central-1", 0, 1, "https://api.sagemaker.eu-central-1.api.aws"},
    {"eu-central-1", 1, 0, "https://api-fips.sagemaker.eu-central-1.amazonaws.com"},
    {"eu-central-1", 1, 1, "https://api.sagemaker-fips.eu-central-1.api.aws"},
    {"cn-north-1", 0, 0, "https://api.sagemaker.cn-north-1.amazonaws.com.cn"},
    {"cn-north-1", 0, 1, "https://api.sagemaker.cn-north-1.api.amazonwebservices.com.cn"},
    {"cn-north-1", 1, 0, "https://api.sagemaker-fips.cn-north-1.amazonaws.com.cn"},
    {"cn-north-1", 1, 1, "https://api.sagemaker-fips.cn-north-1.api.amazonwebservices.com.cn"},
    {"cn-northwest-1", 0, 0, "https://api.sagemaker.cn-northwest-1.amazonaws.com.cn"},
    {"cn-northwest-1", 0, 1, "https://api.sagemaker.cn-northwest-1.api.amazonwebservices.com.cn"},
    {"cn-northwest-1", 1, 0, "https://api.sagemaker-fips.cn-northwest-1.amazonaws.com.cn"},
    {"cn-northwest-1", 1, 1, "https://api.sagemaker-fips.cn-northwest-1.api.amazonwebservices.com.cn"},
    {"us-gov-west-1", 0, 0, "https://api.sagemaker.us-gov-west-1.amazonaws.com"},
    {"us-gov-west-1", 0, 1, "https://api.sagemaker.us-gov-west-1.api.aws"},
    {"us-gov-west-1", 1, 0, "https://api-fips.sagemaker.us-gov-west-1.amazonaws.com"},
    {"us-gov-west-1", 1, 1, "https://api.sagemaker-fips.us-gov-west-1.api.aws"},
    {"us-gov-east-1", 0, 0, "https://api.sagemaker.us-gov-east-1.amazonaws.com"},
    {"us-gov-east-1", 0, 1, "https://api.sagemaker.us-gov-east-1.api.aws"},
    {"us-gov-east-1", 1, 0, "https://api-fips.sagemaker.us-gov-east-1.amazonaws.com"},
    {"us-gov-east-1", 1, 1, "https://api.sagemaker-fips.us-gov-east-1.api.aws"},
    {"us-iso-east-1", 0, 0, "https://api.sagemaker.us-iso-east-1.c2s.ic.gov"},
    {"us-iso-east-1", 0, 1, "https://api.sagemaker.us-iso-east-1.api.aws.ic.gov"},
    {"us-iso-east-1", 1, 0, "https://api.sagemaker-fips.us-iso-east-1.c2s.ic.gov"},
    {"us-iso-east-1", 1, 1, "https://api.sagemaker-fips.us-iso-east-1.api.aws.ic.gov"},
    {"us-isob-east-1", 0, 0, "https://api.sagemaker.us-isob-east-1.sc2s.sgov.gov"},
    {"us-isob-east-1", 0, 1, "https://api.sagemaker.us-isob-east-1.api.aws.scloud"},
    {"us-isob-east-1", 1, 0, "https://api.sagemaker-fips.us-isob-east-1.sc2s.sgov.gov"},
    {"us-isob-east-1", 1, 1, "https://api.sagemaker-fips.us-isob-east-1.api.aws.scloud"},
    {"eu-isoe-west-1", 0, 0, "https://api.sagemaker.eu-isoe-west-1.cloud.adc-e.uk"},
    {"eu-isoe-west-1", 1, 0, "https://api.sagemaker-fips.eu-isoe-west-1.cloud.adc-e.uk"},
    {"us-isof-south-1", 0, 0, "https://api.sagemaker.us-isof-south-1.csp.hci.ic.gov"},
    {"us-isof-south-1", 1, 0, "https://api.sagemaker-fips.us-isof-south-1.csp.hci.ic.gov"},
    {"eusc-de-east-1", 0, 0, "https://api.sagemaker.eusc-de-east-1.amazonaws.eu"},
    {"eusc-de-east-1", 0, 1, "https://api.sagemaker.eusc-de-east-1.api.amazonwebservices.eu"},
    {"eusc-de-east-1", 1, 0, "https://api.sagemaker-fips.eusc-de-east-1.amazonaws.eu"},
    {"eusc-de-east-1", 1, 1, "https://api.sagemaker-fips.eusc-de-east-1.api.amazonwebservices.eu"},
    {"ap-southeast-7", 0, 0, "https://api.sagemaker.ap-southeast-7.amazonaws.com"},
    {"ap-southeast-7", 0, 1, "https://api.sagemaker.ap-southeast-7.api.aws"},
    {"ap-southeast-7", 1, 0, "https://api-fips.sagemaker.ap-southeast-7.amazonaws.com"},
    {"ap-southeast-7", 1, 1, "https://api.sagemaker-fips.ap-southeast-7.api.aws"},
    {"xx-foo-9", 0, 0, "https://api.sagemaker.xx-foo-9.amazonaws.com"},
    {"xx-foo-9", 0, 1, "https://api.sagemaker.xx-foo-9.api.aws"},
    {"xx-foo-9", 1, 0, "https://api-fips.sagemaker.xx-foo-9.amazonaws.com"},
    {"xx-foo-9", 1, 1, "https://api.sagemaker-fips.xx-foo-9.api.aws"},
    {"mars-1", 0, 0, "https://api.sagemaker.mars-1.amazonaws.com"},
    {"mars-1", 0, 1, "https://api.sagemaker.mars-1.api.aws"},
    {"mars-1", 1, 0, "https://api-fips.sagemaker.mars-1.amazonaws.com"},
    {"mars-1", 1, 1, "https://api.sagemaker-fips.mars-1.api.aws"},
    {"fips-us-east-1", 0, 0, "https://api-fips.sagemaker.us-east-1.amazonaws.com"},
    {"fips-us-east-1", 0, 1, "https://api.sagemaker-fips.us-east-1.api.aws"},
    {"fips-us-east-1", 1, 0, "https://api-fips.sagemaker.us-east-1.amazonaws.com"},
    {"fips-us-east-1", 1, 1, "https://api.sagemaker-fips.us-east-1.api.aws"},
    {"us-east-1-fips", 0, 0, "https://api-fips.sagemaker.us-east-1.amazonaws.com"},
    {"us-east-1-fips", 0, 1, "https://api.sagemaker-fips.us-east-1.api.aws"},
    {"us-east-1-fips", 1, 0, "https://api-fips.sagemaker.us-east-1.amazonaws.com"},
    {"us-east-1-fips", 1, 1, "https://api.sagemaker-fips.us-east-1.api.aws"},
    {"aws-global", 0, 0, "https://api.sagemaker.aws-global.amazonaws.com"},
    {"aws-global", 0, 1, "https://api.sagemaker.aws-global.api.aws"},
    {"aws-global", 1, 0, "https://api-fips.sagemaker.aws-global.amazonaws.com"},
    {"aws-global", 1, 1, "https://api.sagemaker-fips.aws-global.api.aws"},
};

static char *resolve(const char *region, int fips, int dual, const char *service, int *rc_out)
{
    smneo_endpoint_options o = SMNEO_ENDPOINT_OPTIONS_INIT;
    o.region = region;
    o.use_fips = fips < 0 ? 0 : fips ? 1 : -1; /* -1 here: from the environment */
    o.use_dualstack = dual < 0 ? 0 : dual ? 1 : -1;
    o.service = service;
    char *url = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    int rc = smneo_endpoint_resolve(&url, &o, &err);
    if (rc_out)
        *rc_out = rc;
    smneo_error_clear(&err);
    return url;
}

static void test_partition_table(void)
{
    aws_env_reset(tmp);
    for (size_t i = 0; i < sizeof TABLE / sizeof TABLE[0]; i++) {
        int rc;
        char *url = resolve(TABLE[i].region, TABLE[i].fips, TABLE[i].dual, NULL, &rc);
        CHECK_MSG(rc == 0 && url && !strcmp(url, TABLE[i].url), "%s fips=%d dual=%d: got %s, want %s",
                  TABLE[i].region, TABLE[i].fips, TABLE[i].dual, url ? url : "(null)", TABLE[i].url);
        free(url);
    }
}

static void test_s3(void)
{
    aws_env_reset(tmp);
    char *u = resolve("eu-west-1", 0, 0, "s3", NULL);
    CHECK_STR(u, "https://s3.eu-west-1.amazonaws.com");
    free(u);
    u = resolve("us-east-1", 0, 0, "s3", NULL);
    CHECK_STR(u, "https://s3.us-east-1.amazonaws.com");
    free(u);
    u = resolve("cn-north-1", 0, 0, "s3", NULL);
    CHECK_STR(u, "https://s3.cn-north-1.amazonaws.com.cn");
    free(u);
    u = resolve("eu-west-1", 1, 0, "s3", NULL);
    CHECK_STR(u, "https://s3-fips.eu-west-1.amazonaws.com");
    free(u);
    u = resolve("eu-west-1", 0, 1, "s3", NULL);
    CHECK_STR(u, "https://s3.dualstack.eu-west-1.amazonaws.com");
    free(u);
    u = resolve("us-gov-west-1", 1, 1, "s3", NULL);
    CHECK_STR(u, "https://s3-fips.dualstack.us-gov-west-1.amazonaws.com");
    free(u);
    /* AWS_ENDPOINT_URL_S3 applies to s3 only, AWS_ENDPOINT_URL_SAGEMAKER to sagemaker only. */
    setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9000/", 1);
    setenv("AWS_ENDPOINT_URL_SAGEMAKER", "http://127.0.0.1:9001", 1);
    u = resolve("eu-west-1", -1, -1, "s3", NULL);
    CHECK_STR(u, "http://127.0.0.1:9000");
    free(u);
    u = resolve("eu-west-1", -1, -1, "sagemaker", NULL);
    CHECK_STR(u, "http://127.0.0.1:9001");
    free(u);
    unsetenv("AWS_ENDPOINT_URL_S3");
    unsetenv("AWS_ENDPOINT_URL_SAGEMAKER");
    int rc;
    u = resolve("eu-west-1", -1, -1, "ec2", &rc);
    CHECK_INT(rc, SMNEO_EINVAL);
    CHECK(u == NULL);
}

static void test_flags_from_env_and_profile(void)
{
    aws_env_reset(tmp);
    aws_write(tmp, ".aws/config",
              "[default]\nuse_fips_endpoint = true\n[profile ds]\nuse_dualstack_endpoint = true\n");
    char *u = resolve("us-west-2", -1, -1, NULL, NULL);
    CHECK_STR(u, "https://api-fips.sagemaker.us-west-2.amazonaws.com");
    free(u);
    /* An explicit 0 beats the profile. */
    u = resolve("us-west-2", 0, -1, NULL, NULL);
    CHECK_STR(u, "https://api.sagemaker.us-west-2.amazonaws.com");
    free(u);
    /* The environment beats the profile. */
    setenv("AWS_USE_FIPS_ENDPOINT", "false", 1);
    u = resolve("us-west-2", -1, -1, NULL, NULL);
    CHECK_STR(u, "https://api.sagemaker.us-west-2.amazonaws.com");
    free(u);
    setenv("AWS_USE_FIPS_ENDPOINT", "true", 1);
    setenv("AWS_PROFILE", "ds", 1);
    u = resolve("us-west-2", -1, -1, NULL, NULL);
    CHECK_STR(u, "https://api.sagemaker-fips.us-west-2.api.aws");
    free(u);
    setenv("AWS_USE_DUALSTACK_ENDPOINT", "false", 1);
    u = resolve("us-west-2", -1, -1, NULL, NULL);
    CHECK_STR(u, "https://api-fips.sagemaker.us-west-2.amazonaws.com");
    free(u);
    unsetenv("AWS_USE_FIPS_ENDPOINT");
    unsetenv("AWS_USE_DUALSTACK_ENDPOINT");
    unsetenv("AWS_PROFILE");
    aws_remove(tmp, ".aws/config");
}

static char *resolve_cfg(const char *profile, const char *endpoint_url)
{
    smneo_endpoint_options o = SMNEO_ENDPOINT_OPTIONS_INIT;
    o.region = "us-west-2";
    o.profile = profile;
    o.endpoint_url = endpoint_url;
    char *url = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    smneo_endpoint_resolve(&url, &o, &err);
    smneo_error_clear(&err);
    return url;
}

/* The order botocore 1.43 gives (checked with a script at development time):
 * explicit, AWS_ENDPOINT_URL_SAGEMAKER, AWS_ENDPOINT_URL, the services
 * section, the profile's endpoint_url; FIPS does not apply to them. */
static void test_configured_endpoints(void)
{
    aws_env_reset(tmp);
    aws_write(tmp, ".aws/config",
              "[default]\nendpoint_url = http://profile-global:1\nservices = mysvc\nuse_fips_endpoint = true\n"
              "[services mysvc]\nsagemaker =\n  endpoint_url = http://services-section:2/\n"
              "[profile plain]\nuse_dualstack_endpoint = true\nendpoint_url = http://plain:7\n"
              "[profile ign]\nignore_configured_endpoint_urls = true\nendpoint_url = http://x:3\n"
              "[profile broken]\nservices = missing\n");
    char *u = resolve_cfg(NULL, NULL);
    CHECK_STR(u, "http://services-section:2");
    free(u);
    u = resolve_cfg("plain", NULL);
    CHECK_STR(u, "http://plain:7");
    free(u);
    setenv("AWS_ENDPOINT_URL", "http://env-global:4/", 1);
    u = resolve_cfg(NULL, NULL);
    CHECK_STR(u, "http://env-global:4");
    free(u);
    setenv("AWS_ENDPOINT_URL_SAGEMAKER", "http://env-svc:5", 1);
    u = resolve_cfg(NULL, NULL);
    CHECK_STR(u, "http://env-svc:5");
    free(u);
    u = resolve_cfg(NULL, "https://explicit:6///");
    CHECK_STR(u, "https://explicit:6");
    free(u);
    setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true", 1);
    u = resolve_cfg(NULL, NULL);
    CHECK_STR(u, "https://api-fips.sagemaker.us-west-2.amazonaws.com");
    free(u);
    /* ...but never the explicit option. */
    u = resolve_cfg(NULL, "http://explicit:6");
    CHECK_STR(u, "http://explicit:6");
    free(u);
    unsetenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
    unsetenv("AWS_ENDPOINT_URL_SAGEMAKER");
    unsetenv("AWS_ENDPOINT_URL");
    u = resolve_cfg("ign", NULL);
    CHECK_STR(u, "https://api.sagemaker.us-west-2.amazonaws.com");
    free(u);

    /* A services setting naming a missing section is an error, as in botocore. */
    smneo_endpoint_options o = SMNEO_ENDPOINT_OPTIONS_INIT;
    o.region = "us-west-2";
    o.profile = "broken";
    smneo_error err = SMNEO_ERROR_INIT;
    CHECK(smneo_endpoint_resolve(&u, &o, &err) < 0);
    CHECK(err.message && strstr(err.message, "[services missing]"));
    smneo_error_clear(&err);

    /* Bad URLs name their source. */
    setenv("AWS_ENDPOINT_URL", "localhost:8080", 1);
    o.profile = NULL;
    CHECK_INT(smneo_endpoint_resolve(&u, &o, &err), SMNEO_EINVAL);
    CHECK(err.message && strstr(err.message, "AWS_ENDPOINT_URL"));
    smneo_error_clear(&err);
    unsetenv("AWS_ENDPOINT_URL");
    aws_remove(tmp, ".aws/config");
}

static void test_bad_regions(void)
{
    aws_env_reset(tmp);
    const char *bad[] = {"us-east-1/evil", "-us-east-1", "us_east_1", "us-east-1.", "a b", "us-east-1-",
                         "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklm"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc;
        char *u = resolve(bad[i], -1, -1, NULL, &rc);
        CHECK_MSG(rc == SMNEO_EINVAL && u == NULL, "region '%s' accepted as %s", bad[i], u ? u : "(null)");
        free(u);
    }
    smneo_endpoint_options o = SMNEO_ENDPOINT_OPTIONS_INIT;
    char *u = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    CHECK_INT(smneo_endpoint_resolve(&u, &o, &err), SMNEO_ENOREGION);
    CHECK(err.message && strstr(err.message, "region"));
    smneo_error_clear(&err);
    o.version = 99;
    CHECK_INT(smneo_endpoint_resolve(&u, &o, &err), SMNEO_EINVAL);
    smneo_error_clear(&err);
}

#define PW "Sup3rPW"

/* The refusal of a URL with user information: names the source, never
 * quotes the URL (the password would be in the message). */
static void check_userinfo_error(int rc, int want, smneo_error *err, const char *source)
{
    CHECK_INT(rc, want);
    CHECK_MSG(err->message && strstr(err->message, "user information") && strstr(err->message, source),
              "message: %s", err->message ? err->message : "(null)");
    CHECK_MSG(err->message && !strstr(err->message, PW) && !strstr(err->message, "alice"), "echoed: %s",
              err->message ? err->message : "(null)");
    smneo_error_clear(err);
}

/* Issue 18: userinfo in an endpoint URL went out in the Host header (and was
 * signed); every source of an endpoint URL refuses it. */
static void test_userinfo_refused(void)
{
    aws_env_reset(tmp);
    smneo_endpoint_options o = SMNEO_ENDPOINT_OPTIONS_INIT;
    o.region = "us-west-2";
    smneo_error err = SMNEO_ERROR_INIT;
    char *u = NULL;
    o.endpoint_url = "http://alice:" PW "@127.0.0.1:8080";
    check_userinfo_error(smneo_endpoint_resolve(&u, &o, &err), SMNEO_EINVAL, &err, "the endpoint_url option");
    o.endpoint_url = "https://" PW "@example.com/path";
    check_userinfo_error(smneo_endpoint_resolve(&u, &o, &err), SMNEO_EINVAL, &err, "the endpoint_url option");
    o.endpoint_url = NULL;
    o.service = "s3";
    setenv("AWS_ENDPOINT_URL_S3", "http://alice:" PW "@127.0.0.1:9000/", 1);
    check_userinfo_error(smneo_endpoint_resolve(&u, &o, &err), SMNEO_EINVAL, &err, "AWS_ENDPOINT_URL_S3");
    unsetenv("AWS_ENDPOINT_URL_S3");
    o.service = NULL;
    aws_write(tmp, ".aws/config", "[default]\nendpoint_url = http://alice:" PW "@profile:1\n");
    check_userinfo_error(smneo_endpoint_resolve(&u, &o, &err), SMNEO_EINVAL, &err, "endpoint_url of profile");
    aws_remove(tmp, ".aws/config");
    CHECK(u == NULL);

    /* '@' after the host (in the path or query) is not user information. */
    o.endpoint_url = "http://127.0.0.1:8080/a@b?c=d@e";
    CHECK_INT(smneo_endpoint_resolve(&u, &o, &err), 0);
    CHECK_STR(u, "http://127.0.0.1:8080/a@b?c=d@e");
    free(u);

    /* A client refuses it for SageMaker and for S3. */
    smneo_client *c = NULL;
    smneo_client_options co = SMNEO_CLIENT_OPTIONS_INIT;
    co.region = "us-west-2";
    co.no_transport = 1;
    co.access_key_id = "AKID";
    co.secret_access_key = "SECRET";
    co.endpoint_url = "http://alice:" PW "@127.0.0.1:8080";
    check_userinfo_error(smneo_client_new(&c, &co, &err), SMNEO_EINVAL, &err, "endpoint_url");
    co.endpoint_url = "http://127.0.0.1:8080";
    co.s3_endpoint_url = "http://alice:" PW "@127.0.0.1:9000";
    check_userinfo_error(smneo_client_new(&c, &co, &err), SMNEO_EINVAL, &err, "the endpoint_url option for S3");
    CHECK(c == NULL);

    /* Building by hand from an endpoint the resolver never saw. */
    smneo_credentials creds = {0};
    creds.access_key_id = "AKID";
    creds.secret_access_key = "SECRET";
    smneo_build_options bo = SMNEO_BUILD_OPTIONS_INIT;
    bo.region = "us-west-2";
    bo.endpoint_url = "http://alice:" PW "@127.0.0.1:8080";
    smneo_request *req = NULL;
    check_userinfo_error(smneo_protocol_build(&req, "ListCompilationJobs", "{}", 2, &creds, &bo, &err),
                         SMNEO_EINVAL, &err, "smneo_build_options.endpoint_url");
    CHECK(req == NULL);
    /* And the request constructor itself (transports, STS, anything else). */
    CHECK_INT(smneo_request_new(&req, "GET", "http://alice:" PW "@127.0.0.1/"), SMNEO_EINVAL);
    CHECK_INT(smneo_request_new(&req, "GET", "alice@127.0.0.1/"), SMNEO_EINVAL);
    CHECK_INT(smneo_request_new(&req, "GET", "http://127.0.0.1/a@b"), 0);
    CHECK_STR(req ? req->host : NULL, "127.0.0.1");
    smneo_request_free(req);
}

/* STS, the SSO portal and SSO-OIDC, as botocore 1.43 resolves them (a
 * script printed client.meta.endpoint_url for each at development time). */
static const struct {
    const char *service, *region;
    int fips, dual;
    const char *url;
} SERVICES_TABLE[] = {
    {"sts", "us-east-1", 0, 0, "https://sts.us-east-1.amazonaws.com"},
    {"sts", "us-east-1", 1, 0, "https://sts-fips.us-east-1.amazonaws.com"},
    {"sts", "us-east-1", 0, 1, "https://sts.us-east-1.api.aws"},
    {"sts", "us-east-1", 1, 1, "https://sts-fips.us-east-1.api.aws"},
    {"sts", "aws-global", 0, 0, "https://sts.amazonaws.com"},
    {"sts", "aws-global", 1, 0, "https://sts-fips.aws-global.amazonaws.com"},
    {"sts", "cn-north-1", 0, 0, "https://sts.cn-north-1.amazonaws.com.cn"},
    {"sts", "cn-north-1", 0, 1, "https://sts.cn-north-1.api.amazonwebservices.com.cn"},
    {"sts", "us-gov-west-1", 1, 0, "https://sts.us-gov-west-1.amazonaws.com"},
    {"sts", "us-gov-west-1", 1, 1, "https://sts-fips.us-gov-west-1.api.aws"},
    {"sts", "us-iso-east-1", 0, 0, "https://sts.us-iso-east-1.c2s.ic.gov"},
    {"sso", "eu-west-1", 0, 0, "https://portal.sso.eu-west-1.amazonaws.com"},
    {"sso", "us-west-2", 1, 0, "https://portal.sso-fips.us-west-2.amazonaws.com"},
    {"sso", "us-west-2", 1, 1, "https://portal.sso-fips.us-west-2.api.aws"},
    {"sso", "us-gov-west-1", 1, 0, "https://portal.sso-fips.us-gov-west-1.amazonaws.com"},
    {"sso", "cn-north-1", 0, 0, "https://portal.sso.cn-north-1.amazonaws.com.cn"},
    {"sso-oidc", "eu-west-1", 0, 0, "https://oidc.eu-west-1.amazonaws.com"},
    {"sso-oidc", "eu-west-1", 1, 0, "https://oidc-fips.eu-west-1.amazonaws.com"},
    {"sso-oidc", "us-gov-west-1", 1, 0, "https://oidc-fips.us-gov-west-1.amazonaws.com"},
    {"sso-oidc", "aws-global", 0, 0, "https://oidc.aws-global.amazonaws.com"},
};

static void expect_url(const char *region, const char *service, const char *want)
{
    char *u = resolve(region, 0, 0, service, NULL);
    CHECK_MSG(u && !strcmp(u, want), "%s %s: %s, expected %s", service, region, u ? u : "(null)", want);
    free(u);
}

static void test_credential_services(void)
{
    aws_env_reset(tmp);
    for (size_t i = 0; i < sizeof SERVICES_TABLE / sizeof SERVICES_TABLE[0]; i++) {
        char *u = resolve(SERVICES_TABLE[i].region, SERVICES_TABLE[i].fips, SERVICES_TABLE[i].dual,
                          SERVICES_TABLE[i].service, NULL);
        CHECK_STR(u, SERVICES_TABLE[i].url);
        free(u);
    }
    /* sts_regional_endpoints = legacy: the legacy regions use the global
     * endpoint, the others stay regional (botocore's UseGlobalEndpoint). */
    setenv("AWS_STS_REGIONAL_ENDPOINTS", "legacy", 1);
    expect_url("us-west-2", "sts", "https://sts.amazonaws.com");
    expect_url("ap-east-1", "sts", "https://sts.ap-east-1.amazonaws.com");
    unsetenv("AWS_STS_REGIONAL_ENDPOINTS");
    aws_write(tmp, ".aws/config", "[default]\nsts_regional_endpoints = legacy\nservices = local\n"
                                  "[services local]\nsso_oidc =\n  endpoint_url = http://oidc-local:3\n");
    expect_url("eu-west-1", "sts", "https://sts.amazonaws.com");
    /* Each service's own variable and [services] key, as botocore names them. */
    expect_url("eu-west-1", "sso-oidc", "http://oidc-local:3");
    setenv("AWS_ENDPOINT_URL_STS", "http://sts-local:1/", 1);
    setenv("AWS_ENDPOINT_URL_SSO", "http://sso-local:2", 1);
    expect_url("eu-west-1", "sts", "http://sts-local:1");
    expect_url("eu-west-1", "sso", "http://sso-local:2");
    /* the others' variables are not SageMaker's */
    expect_url("eu-west-1", "sagemaker", "https://api.sagemaker.eu-west-1.amazonaws.com");
    unsetenv("AWS_ENDPOINT_URL_STS");
    unsetenv("AWS_ENDPOINT_URL_SSO");
    int rc = 0;
    char *u = resolve("eu-west-1", 0, 0, "nosuch", &rc);
    CHECK(u == NULL && rc == SMNEO_EINVAL);
}

int main(void)
{
    tmp = smneo_test_tmpdir();
    if (!tmp)
        return 1;
    RUN(test_partition_table);
    RUN(test_s3);
    RUN(test_flags_from_env_and_profile);
    RUN(test_configured_endpoints);
    RUN(test_bad_regions);
    RUN(test_userinfo_refused);
    RUN(test_credential_services);
    smneo_test_rmtree(tmp);
    free(tmp);
    return smneo_test_summary("test_endpoint");
}
