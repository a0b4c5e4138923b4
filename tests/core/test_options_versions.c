/* Options structs of an older version (docs/c-api.md, "Options structs and
 * their versions"): a program built against version 1 of a struct passes a
 * smaller struct; the library reads only what that version has and uses the
 * defaults for the rest. The structs below are version 1 as its header
 * declared it, each allocated at exactly its own size, so that a read past
 * its end is a heap overflow under ASan and valgrind. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "smneo.h"

/* smneo_client_options version 1. */
typedef struct client_options_v1 {
    int version;
    const char *region, *endpoint_url, *profile, *access_key_id, *secret_access_key, *session_token;
    int max_attempts;
    const char *retry_mode;
    long connect_timeout_ms, read_timeout_ms;
    int no_verify_tls;
    const char *ca_bundle;
    int validation, allow_unknown_enum_values;
    smneo_transport *transport;
    int use_fips, use_dualstack;
    const char *s3_endpoint_url;
    int no_transport;
    double retry_backoff_scale;
} client_options_v1;
_Static_assert(sizeof(client_options_v1) == offsetof(smneo_client_options, retry_defaults),
               "version 1 ends where version 2 begins");

/* smneo_endpoint_options version 1. */
typedef struct endpoint_options_v1 {
    int version;
    const char *region, *endpoint_url;
    int use_fips, use_dualstack;
    const char *profile, *service;
} endpoint_options_v1;
_Static_assert(sizeof(endpoint_options_v1) == offsetof(smneo_endpoint_options, ignore_configured),
               "version 1 ends where version 2 begins");

/* smneo_chain_options version 1. */
typedef struct chain_options_v1 {
    int version;
    const char *profile, *access_key_id, *secret_access_key, *session_token;
} chain_options_v1;
_Static_assert(sizeof(chain_options_v1) == offsetof(smneo_chain_options, region), "version 1 ends at session_token");

static void test_client_version_1(void)
{
    client_options_v1 *o = malloc(sizeof *o);
    CHECK(o != NULL);
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->version = 1;
    o->region = "eu-west-1";
    o->access_key_id = "AKIDEXAMPLE";
    o->secret_access_key = "secret";
    o->no_transport = 1;
    setenv("AWS_CONFIG_FILE", "/nonexistent/smneo-test-config", 1);
    setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/smneo-test-credentials", 1);
    unsetenv("AWS_RETRY_MODE");
    unsetenv("AWS_DEFAULTS_MODE");
    unsetenv("AWS_MAX_ATTEMPTS");
    unsetenv("AWS_ENDPOINT_URL");
    unsetenv("AWS_ENDPOINT_URL_SAGEMAKER");
    smneo_client *c = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    CHECK_INT(smneo_client_new(&c, (const smneo_client_options *)o, &err), 0);
    if (c) {
        /* The version-2 members take their defaults: retry_defaults SMNEO
         * (standard, 3 attempts), no defaults_mode (legacy). */
        CHECK_STR(smneo_client_retry_mode(c), "standard");
        CHECK_INT(smneo_client_max_attempts(c), 3);
        CHECK_STR(smneo_client_defaults_mode(c), "legacy");
        CHECK_STR(smneo_client_region(c), "eu-west-1");
        CHECK_STR(smneo_client_endpoint(c), "https://api.sagemaker.eu-west-1.amazonaws.com");
    }
    smneo_client_free(c);
    smneo_error_clear(&err);
    free(o);
}

static void test_endpoint_version_1(void)
{
    endpoint_options_v1 *o = malloc(sizeof *o);
    CHECK(o != NULL);
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->version = 1;
    o->region = "us-west-2";
    o->use_fips = 1;
    char *url = NULL;
    CHECK_INT(smneo_endpoint_resolve(&url, (const smneo_endpoint_options *)o, NULL), 0);
    CHECK_STR(url, "https://api-fips.sagemaker.us-west-2.amazonaws.com");
    free(url);
    free(o);
}

static void test_chain_version_1(void)
{
    chain_options_v1 *o = malloc(sizeof *o);
    CHECK(o != NULL);
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->version = 1;
    o->access_key_id = "AKIDEXAMPLE";
    o->secret_access_key = "secret";
    smneo_credential_chain *chain = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    CHECK_INT(smneo_credential_chain_new(&chain, (const smneo_chain_options *)o, &err), 0);
    smneo_credential_chain_free(chain);
    smneo_error_clear(&err);
    free(o);
}

/* Version 0 and a version newer than the library are refused, naming the
 * struct and the range accepted. */
static void test_out_of_range(void)
{
    smneo_client_options o = SMNEO_CLIENT_OPTIONS_INIT;
    o.no_transport = 1;
    o.region = "eu-west-1";
    smneo_client *c = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    static const int bad[] = {0, SMNEO_CLIENT_OPTIONS_VERSION + 1, -1};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        o.version = bad[i];
        CHECK_INT(smneo_client_new(&c, &o, &err), SMNEO_EINVAL);
        CHECK(c == NULL);
        CHECK(err.message && strstr(err.message, "smneo_client_options") && strstr(err.message, "accepts 1 to"));
        smneo_error_clear(&err);
    }
    smneo_paginate_options po = SMNEO_PAGINATE_OPTIONS_INIT;
    po.version = SMNEO_PAGINATE_OPTIONS_VERSION + 1;
    smneo_iter *it = NULL;
    o.version = SMNEO_CLIENT_OPTIONS_VERSION;
    CHECK_INT(smneo_client_new(&c, &o, &err), 0);
    CHECK_INT(smneo_iter_new(&it, c, "ListCompilationJobs", NULL, 0, &po, &err), SMNEO_EINVAL);
    CHECK(err.message && strstr(err.message, "smneo_paginate_options"));
    smneo_error_clear(&err);
    smneo_wait_options wo = SMNEO_WAIT_OPTIONS_INIT;
    wo.version = 0;
    smneo_call *call = NULL;
    CHECK_INT(smneo_wait_new(&call, c, "job", &wo, &err), SMNEO_EINVAL);
    CHECK(err.message && strstr(err.message, "smneo_wait_options"));
    smneo_error_clear(&err);
    smneo_client_free(c);
}

/* _INIT is the version and zeros; smneo_x_options_init does the same for
 * FFI users, zeroing only the size of the version asked for. */
static void test_init_functions(void)
{
    smneo_client_options a = SMNEO_CLIENT_OPTIONS_INIT, b;
    memset(&b, 0xab, sizeof b);
    CHECK_INT(smneo_client_options_init(&b, SMNEO_CLIENT_OPTIONS_VERSION), 0);
    CHECK(memcmp(&a, &b, sizeof a) == 0);
    CHECK_INT(a.version, SMNEO_CLIENT_OPTIONS_VERSION);

    client_options_v1 *v1 = malloc(sizeof *v1);
    CHECK(v1 != NULL);
    if (v1) {
        memset(v1, 0xab, sizeof *v1);
        CHECK_INT(smneo_client_options_init((smneo_client_options *)v1, 1), 0); /* no write past version 1 */
        CHECK_INT(v1->version, 1);
        CHECK(v1->region == NULL && v1->no_transport == 0 && v1->retry_backoff_scale == 0);
        free(v1);
    }
    CHECK_INT(smneo_client_options_init(&b, 0), SMNEO_EINVAL);
    CHECK_INT(smneo_client_options_init(&b, SMNEO_CLIENT_OPTIONS_VERSION + 1), SMNEO_EINVAL);
    CHECK_INT(smneo_client_options_init(NULL, 1), SMNEO_EINVAL);

    smneo_pack_options p;
    CHECK_INT(smneo_pack_options_init(&p, 1), 0);
    smneo_pack_options pi = SMNEO_PACK_OPTIONS_INIT;
    CHECK(memcmp(&p, &pi, sizeof p) == 0);
    smneo_wait_options w;
    CHECK_INT(smneo_wait_options_init(&w, SMNEO_WAIT_OPTIONS_VERSION), 0);
    CHECK(w.callback == NULL && w.delay == 0);
    smneo_endpoint_options e;
    CHECK_INT(smneo_endpoint_options_init(&e, 1), 0);
    CHECK_INT(e.version, 1);
}

int main(void)
{
    RUN(test_client_version_1);
    RUN(test_endpoint_version_1);
    RUN(test_chain_version_1);
    RUN(test_out_of_range);
    RUN(test_init_functions);
    return smneo_test_summary("test_options_versions");
}
