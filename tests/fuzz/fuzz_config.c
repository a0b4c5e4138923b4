/* libFuzzer target for the credential and configuration parsers:
 * - mode 0: the shared config/credentials INI parser (smneo__ini_parse) and
 *   lookups in what it returns;
 * - mode 1: a container credentials answer, fed to the sans-I/O resolution
 *   machine (AWS_CONTAINER_CREDENTIALS_FULL_URI points at 127.0.0.1; no
 *   socket is opened: the machine asks, we answer);
 * - mode 2: IMDSv2 answers (token, role name, credentials: the input split
 *   at 0xff bytes);
 * - mode 3: what a credential_process prints (the process is /bin/cat of a
 *   file holding the input);
 * - mode 4: the input as the config file (and, after a 0xff byte, the
 *   credentials file) read by the chain, the endpoint resolver and
 *   smneo_client_new. Inputs mentioning "process" are skipped: the fuzzer
 *   must never make us run a command it wrote.
 * Byte 1 picks the HTTP status / profile, byte 2 variations.
 * Build and run: tests/fuzz/run_core.sh config [seconds]. */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config_internal.h"
#include "smneo/auth.h"
#include "smneo/client.h"
#include "smneo/protocol.h"
#include "smneo/endpoint.h"

static char g_dir[256];
static char g_config[300], g_creds[300], g_out[300];

static void clear_env(void)
{
    static const char *const vars[] = {"AWS_ACCESS_KEY_ID",
                                       "AWS_SECRET_ACCESS_KEY",
                                       "AWS_SESSION_TOKEN",
                                       "AWS_PROFILE",
                                       "AWS_DEFAULT_PROFILE",
                                       "AWS_REGION",
                                       "AWS_DEFAULT_REGION",
                                       "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                                       "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                                       "AWS_CONTAINER_AUTHORIZATION_TOKEN",
                                       "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
                                       "AWS_EC2_METADATA_SERVICE_ENDPOINT",
                                       "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE",
                                       "AWS_EC2_METADATA_V1_DISABLED",
                                       "AWS_ENDPOINT_URL",
                                       "AWS_ENDPOINT_URL_SAGEMAKER",
                                       "AWS_MAX_ATTEMPTS",
                                       "AWS_RETRY_MODE",
                                       "AWS_USE_FIPS_ENDPOINT",
                                       "AWS_USE_DUALSTACK_ENDPOINT",
                                       "AWS_CA_BUNDLE",
                                       "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
                                       NULL};
    for (const char *const *v = vars; *v; v++)
        unsetenv(*v);
    setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
    setenv("AWS_CONFIG_FILE", g_config, 1);
    setenv("AWS_SHARED_CREDENTIALS_FILE", g_creds, 1);
}

static void write_file(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        abort();
    if (len && fwrite(data, 1, len, f) != len)
        abort();
    fclose(f);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    snprintf(g_dir, sizeof g_dir, "%s/smneo-fuzz-config-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(g_dir))
        abort();
    snprintf(g_config, sizeof g_config, "%s/config", g_dir);
    snprintf(g_creds, sizeof g_creds, "%s/credentials", g_dir);
    snprintf(g_out, sizeof g_out, "%s/process-output", g_dir);
    return 0;
}

static int no_crlf(const char *s) { return !strpbrk(s, "\r\n"); }

static void check_request(const smneo_request *req)
{
    for (size_t i = 0; i < req->header_count; i++)
        if (!no_crlf(req->headers[i].name) || !no_crlf(req->headers[i].value))
            abort();
    if (!no_crlf(req->url))
        abort();
}

static void check_creds(const smneo_credentials *c)
{
    if (!c || !c->access_key_id || !c->access_key_id[0] || !c->secret_access_key || !c->secret_access_key[0] ||
        !c->source)
        abort();
}

/* ---- mode 0: INI ------------------------------------------------------------ */

static void fuzz_ini(uint8_t sel, const char *text, size_t len)
{
    smneo__ini *ini = NULL;
    if (smneo__ini_parse(&ini, text, len) != 0)
        return;
    static const char *const sections[] = {"default", "profile default", "profile p", "p", "services s", "", "sso-session s"};
    static const char *const keys[] = {"aws_access_key_id", "aws_secret_access_key", "region", "s3.addressing_style",
                                       "endpoint_url", "credential_process", "", "sagemaker.endpoint_url"};
    for (size_t i = 0; i < sizeof sections / sizeof *sections; i++)
        for (size_t k = 0; k < sizeof keys / sizeof *keys; k++) {
            const char *v = smneo__ini_get(ini, sections[i], keys[k]);
            if (v)
                (void)strlen(v);
        }
    /* A section and key taken from the input itself. */
    char sec[32], key[32];
    size_t n = len < sizeof sec - 1 ? len : sizeof sec - 1;
    memcpy(sec, text, n);
    sec[n] = 0;
    memcpy(key, text + (len - n), n);
    key[n] = 0;
    (void)smneo__ini_get(ini, sec, key);
    (void)sel;
    smneo__ini_free(ini);
}

/* ---- the resolution machine, answered with fuzzed responses ------------------ */

static int status_of(uint8_t sel)
{
    static const int st[] = {200, 200, 200, 200, 400, 401, 403, 404, 500, 503, 0, 302};
    return st[sel % (sizeof st / sizeof *st)];
}

/* Runs a resolution; each request is answered with the next part (parts are
 * separated by 0xff), or a transport error when sel says so. */
static void resolve(uint8_t sel, const char *text, size_t len)
{
    smneo_credential_chain *chain = NULL;
    smneo_chain_options co = SMNEO_CHAIN_OPTIONS_INIT;
    smneo_error err = SMNEO_ERROR_INIT;
    if (smneo_credential_chain_new(&chain, &co, &err) != 0) {
        if (err.code >= 0 || !err.message)
            abort();
        smneo_error_clear(&err);
        return;
    }
    smneo_chain_resolution *res = NULL;
    if (smneo_chain_resolution_new(&res, chain, 1700000000) != 0)
        abort();
    const char *p = text, *end = text + len;
    int rc = 0;
    for (int i = 0; i < 8; i++) {
        smneo_request *req = NULL;
        smneo_credentials *creds = NULL;
        rc = smneo_chain_resolution_step(&req, &creds, res, &err);
        if (rc == 1) {
            if (!req || creds)
                abort();
            check_request(req);
            smneo_request_free(req);
            const char *sep = memchr(p, 0xff, (size_t)(end - p));
            const char *part_end = sep ? sep : end;
            if (((sel >> 5) & 7) == 7 && i == 1) {
                smneo_chain_resolution_feed(res, NULL, SMNEO_ETIMEOUT);
            } else {
                smneo_response *resp = NULL;
                if (smneo_response_new(&resp, status_of((uint8_t)(sel + i))) != 0)
                    abort();
                if (part_end > p)
                    smneo_response_append_body(resp, p, (size_t)(part_end - p));
                if (smneo_chain_resolution_feed(res, resp, 0) != 0)
                    abort();
                smneo_response_free(resp);
            }
            p = sep ? sep + 1 : end;
            continue;
        }
        if (rc == 0) {
            check_creds(creds);
            if (creds->expiration && creds->expiration <= 1700000000)
                abort(); /* expired credentials are never handed out */
        } else if (rc > 0 || !err.message || err.code != rc) {
            abort();
        }
        smneo_credentials_free(creds);
        break;
    }
    smneo_error_clear(&err);
    smneo_chain_resolution_free(res);
    smneo_credential_chain_free(chain);
}

static void fuzz_container(uint8_t sel, uint8_t var, const char *text, size_t len)
{
    clear_env();
    write_file(g_config, "", 0);
    write_file(g_creds, "", 0);
    if (var & 1)
        setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:9/creds", 1);
    else
        setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://[::1]:9/v2/credentials?id=1", 1);
    if (var & 2)
        setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "Basic abc", 1);
    resolve(sel, text, len);
}

static void fuzz_imds(uint8_t sel, uint8_t var, const char *text, size_t len)
{
    clear_env();
    write_file(g_config, "", 0);
    write_file(g_creds, "", 0);
    setenv("AWS_EC2_METADATA_DISABLED", "false", 1);
    setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", (var & 1) ? "http://127.0.0.1:9" : "http://[::1]:9/", 1);
    if (var & 2)
        setenv("AWS_EC2_METADATA_V1_DISABLED", "true", 1);
    resolve(sel, text, len);
}

static void fuzz_process(uint8_t sel, const char *text, size_t len)
{
    clear_env();
    char cfg[700];
    int n = snprintf(cfg, sizeof cfg, "[default]\ncredential_process = /bin/cat \"%s\"\n", g_out);
    write_file(g_config, cfg, (size_t)n);
    write_file(g_creds, "", 0);
    write_file(g_out, text, len);
    resolve(sel, "", 0);
}

static int mentions_process(const char *text, size_t len)
{
    static const char word[] = "process";
    for (size_t i = 0; i + 7 <= len; i++) {
        size_t k = 0;
        while (k < 7 && tolower((unsigned char)text[i + k]) == word[k])
            k++;
        if (k == 7)
            return 1;
    }
    return 0;
}

static void fuzz_files(uint8_t sel, uint8_t var, const char *text, size_t len)
{
    if (mentions_process(text, len))
        return;
    clear_env();
    const char *sep = memchr(text, 0xff, len);
    write_file(g_config, text, sep ? (size_t)(sep - text) : len);
    write_file(g_creds, sep ? sep + 1 : "", sep ? len - (size_t)(sep - text) - 1 : 0);
    static const char *const profiles[] = {NULL, "default", "p", "q", ""};
    const char *profile = profiles[sel % 5];
    if (profile)
        setenv("AWS_PROFILE", profile, 1);
    resolve(0, "", 0);

    smneo_error err = SMNEO_ERROR_INIT;
    smneo_endpoint_options eo = SMNEO_ENDPOINT_OPTIONS_INIT;
    eo.region = (var & 1) ? "us-west-2" : NULL;
    eo.profile = profile;
    char *url = NULL;
    int rc = smneo_endpoint_resolve(&url, &eo, &err);
    if (rc == 0 && (!url || !no_crlf(url)))
        abort();
    if (rc < 0 && (!err.message || err.code != rc))
        abort();
    free(url);
    smneo_error_clear(&err);

    smneo_client_options o = SMNEO_CLIENT_OPTIONS_INIT;
    o.profile = profile;
    o.no_transport = 1;
    if (var & 2) {
        o.access_key_id = "AKIDEXAMPLE";
        o.secret_access_key = "secret";
    }
    smneo_client *c = NULL;
    rc = smneo_client_new(&c, &o, &err);
    if (rc == 0) {
        if (!smneo_client_region(c) || !smneo_client_endpoint(c) || smneo_client_max_attempts(c) < 1 ||
            !smneo_client_retry_mode(c))
            abort();
    } else if (!err.message || err.code != rc) {
        abort();
    }
    smneo_client_free(c);
    smneo_error_clear(&err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    uint8_t mode = data[0] % 5, sel = data[1], var = data[2];
    size_t n = size - 3;
    char *text = malloc(n ? n : 1); /* exact size: no reading past len */
    if (!text)
        return 0;
    memcpy(text, data + 3, n);
    switch (mode) {
    case 0: fuzz_ini(sel, text, n); break;
    case 1: fuzz_container(sel, var, text, n); break;
    case 2: fuzz_imds(sel, var, text, n); break;
    case 3: fuzz_process(sel, text, n); break;
    default: fuzz_files(sel, var, text, n); break;
    }
    free(text);
    return 0;
}
